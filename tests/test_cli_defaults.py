"""Issue #17 acceptance: the CLI's defaults give a meaningful honest model on the bundled data.

`jaxbd plant rff|relu` with no construction flags (the defaults come from the construction
classes, the one source the library shares) must reach honest clean accuracy >= 0.9 on the
held-out split of breast_cancer and of digit pairs. The default run checks one digit pair and
breast_cancer; the slow run checks all 45 digit pairs. Deterministic (fixed seed 0, fixed splits):
no false failures; a default that regresses to a chance-level or constant model (0.44-0.76 with
the first wave's width 256 / bandwidth 8, the 0.63 base rate of the literal Alg. 7 head) fails.
"""

import itertools

import numpy as np
import pytest

from jaxbd import cli, io, metrics


def _honest_accuracy(tmp_path, construction: str, data: list[str]) -> float:
    out = tmp_path / f"{construction}-{'-'.join(data)}"
    rc = cli.main(["plant", construction, "--data", *data, "--out", str(out), "--no-wrong-key"])
    assert rc == 0
    test = np.load(out / "test_inputs.npz")
    return metrics.clean_accuracy(io.load(out / "honest.jaxbd"), test["x"], test["y"])


DEFAULT_CASES = [("rff", ["digits", "--classes", "3", "8"]), ("relu", ["breast_cancer"])]
SLOW_CASES = [("rff", ["breast_cancer"]), ("relu", ["digits", "--classes", "3", "8"])] + [
    (c, ["digits", "--classes", str(a), str(b)])
    for c in ("rff", "relu")
    for a, b in itertools.combinations(range(10), 2)
    if (a, b) != (3, 8)
]


@pytest.mark.parametrize("construction,data", DEFAULT_CASES, ids=lambda v: str(v))
def test_cli_defaults_give_accurate_honest_models(tmp_path, construction, data):
    assert _honest_accuracy(tmp_path, construction, data) >= 0.9


@pytest.mark.slow  # 90 plants: the whole acceptance grid
@pytest.mark.parametrize("construction,data", SLOW_CASES, ids=lambda v: str(v))
def test_cli_defaults_on_every_digit_pair(tmp_path, construction, data):
    assert _honest_accuracy(tmp_path, construction, data) >= 0.9

"""`jaxbd detect`: the registered distinguishers on a model's first layer, and the black-box probe.

The white-box tests are read from the distinguisher registry (`jaxbd.detect.names()` /
`jaxbd.detect.get(name)`): a class registered there — the papers' or a user's `--plugin` —
appears in `--tests` with its fields (other than `alpha`) as flags, and is run as
`cls(alpha=..., **fields)(w, key=k)`. The one black-box test, `probe`, compares the model with an
honest `--reference` model on queries built from the data.
"""

import functools
import os
import time
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr

from .. import detect as det
from ._args import PROBABILITY, add_data_args, add_json_out, add_seed, command
from ._data import check_same_task, model_data
from ._errors import UsageError, blame, progress
from ._fields import add_param_flags, field_params, given_params
from ._files import check_out_path, finish, load_model


PROBE = "probe"
PROBE_SOURCE = "black-box: disagreement with an honest --reference model (GKVZ §5.1-5.2)"


def _white_box() -> dict:
    """Registered distinguisher name -> its flags (every field but `alpha`)."""
    return {n: field_params(c, skip=("alpha",)) for n, c in det.registry().items()}


# The cheap white-box tests run when --tests is not given (those registered, by prefix).
DEFAULT_TESTS = ("gaussianity", "spectral", "diagonal")


def default_tests() -> list[str]:
    """The registered tests among `DEFAULT_TESTS`."""
    return [n for t in DEFAULT_TESTS for n in det.names() if n.replace("_", "-").startswith(t)]


_HELP = "run white-box distinguishers on a model's first layer (and a black-box probe)"

_DESCRIPTION = (
    "Test a saved model for a planted backdoor (jaxbd.detect): the registered "
    "white-box distinguishers on the first-layer weights (m, d), and the black-box probe "
    "against an honest --reference model. Prints statistic, p-value and whether the test "
    "flags the model at --alpha; exit code 0 either way. A name may be abbreviated to a "
    "unique prefix.\n\ntests (jaxbd.detect registry; jaxbd.detect.register adds yours):\n"
)

_EXAMPLES = (
    "jaxbd detect --model runs/relu/backdoored.jaxbd --tests spectral diagonal",
    "jaxbd detect --model runs/rff/backdoored.jaxbd --tests gaussianity pancakes --support-size 8",
    "jaxbd detect --model runs/sig/backdoored.jaxbd --tests probe "
    "--reference runs/sig/honest.jaxbd",
)


def add_parser(sub) -> None:
    known = {n: det.get(n).source for n in det.names()} | {PROBE: PROBE_SOURCE}
    listing = "\n".join(f"  {n:22s} {s}" for n, s in known.items())
    d = command(sub, "detect", _HELP, _DESCRIPTION + listing, _EXAMPLES)
    d.add_argument("--model", required=True, metavar="M", help="the model to test")
    d.add_argument(
        "--tests",
        nargs="+",
        metavar="T",
        help=f"from {', '.join(known)} (default: {' '.join(default_tests())})",
    )
    d.add_argument(
        "--weights",
        metavar="FIELD",
        help="attribute path of the (m, d) weights (default: first 2-D array with >= 8 rows)",
    )
    d.add_argument("--reference", metavar="H", help="honest model for the probe test")
    d.add_argument("--alpha", type=PROBABILITY, default=0.05, help="test level, in (0, 1)")
    add_seed(d, "the randomised tests")
    add_json_out(d)
    add_param_flags(d, "distinguisher settings (each applies only to the tests shown)",
                    _white_box())  # fmt: skip
    add_data_args(d, required=False)


def first_layer(model, field: str | None = None):
    """The `(m, d)` first-layer weights the white-box tests read: attribute path `field`
    (e.g. `"frequencies"`, `"g"`, `"layers.0.weight"`), else the first 2-D floating array
    of the model (tree order) with at least 8 rows."""
    if field:
        obj = model
        for part in field.split("."):
            try:
                obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
            except (AttributeError, IndexError, TypeError) as e:
                raise UsageError(f"--weights {field!r}: the model has no {part!r} ({e}).") from e
        w = jnp.asarray(obj)
        if w.ndim != 2:
            raise UsageError(f"--weights {field!r} has shape {w.shape}, need (m, d).")
        return w
    for leaf in jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_inexact_array)):
        if leaf.ndim == 2 and leaf.shape[0] >= 8:
            return leaf
    raise UsageError("the model has no 2-D weight matrix with >= 8 rows; name one with --weights.")


def resolve(tokens) -> list[str]:
    """Registered names (or `probe`) for the `--tests` tokens: exact, else a unique prefix
    (`-` and `_` alike)."""
    known = [*det.names(), PROBE]
    out = []
    for t in tokens:
        key = t.replace("_", "-")
        hits = [n for n in known if n.replace("_", "-") == key]
        hits = hits or [n for n in known if n.replace("_", "-").startswith(key)]
        if len(hits) != 1:
            why = "ambiguous" if hits else "unknown"
            raise UsageError(f"--tests: {why} test {t!r}; known: {', '.join(known)}.")
        if hits[0] not in out:
            out.append(hits[0])
    return out


def _check_flags(args, tests) -> dict:
    if PROBE in tests and not args.reference:
        raise UsageError("--reference: the probe test needs --reference MODEL (an honest model).")
    if args.reference and PROBE not in tests:
        raise UsageError("--reference: only used by the probe test (add it to --tests).")
    white = [t for t in tests if t != PROBE]
    if args.weights and not white:
        raise UsageError("--weights: only used by the white-box tests.")
    owners = _white_box()
    what = f"--tests {' '.join(tests)}"
    return given_params(args, {t: owners[t] for t in white}, owners, what)


def detect(args) -> dict:
    """What `jaxbd detect` computes (white-box tests on the first layer; black-box probe)."""
    if args.json_out:
        check_out_path(args.json_out, "--json-out")
    tests = resolve(args.tests or default_tests())
    settings = _check_flags(args, tests)
    model, mh = load_model(args.model, "--model")
    model_flag = f"--model {args.model!r}"
    out = {"model": os.path.abspath(args.model), "alpha": args.alpha, "tests": {}}
    with blame(model_flag, args):  # a setting out of range names its flag
        runners = {t: det.get(t)(alpha=args.alpha, **s) for t, s in settings.items()}
    # test -> (the flag its errors blame, `key -> Detection`), run in the order of `tests`
    calls: dict[str, tuple[str, Callable[..., det.Detection]]] = {}
    if runners:
        w = first_layer(model, args.weights)
        out["weights_shape"] = list(w.shape)
        calls.update({t: (model_flag, functools.partial(d, w)) for t, d in runners.items()})
    if PROBE in tests:
        ref, rh = load_model(args.reference, "--reference")
        check_same_task(mh, rh, f"--reference {args.reference!r}")
        ds, data_flag = model_data(args, mh)
        x_ref = ds.x_test
        calls[PROBE] = (data_flag, lambda key: det.probe(key, model, ref, x_ref, alpha=args.alpha))
    key = jr.key(args.seed)
    for i, t in enumerate(tests):
        k, t0 = jr.fold_in(key, i), time.perf_counter()
        flag, call = calls[t]
        with blame(flag, args):
            r = call(key=k)
        out["tests"][t] = {
            "statistic": r.statistic,
            "p_value": r.p_value,
            "reject": r.reject,
            "calibration": r.calibration,
            "found": r.found,
        }
        progress(f"{t}: {time.perf_counter() - t0:.1f} s")
    return out


def run(args) -> int:
    res = detect(args)
    lines = [
        f"| test | statistic | p-value | flagged at alpha={args.alpha:g} | calibration |",
        "|---|---|---|---|---|",
    ]
    for t, r in res["tests"].items():
        lines.append(
            f"| {t} | {r['statistic']:.4g} | {r['p_value']:.3g} | "
            f"{'yes' if r['reject'] else 'no'} | {r['calibration']} |"
        )
    print("\n".join(lines))
    return finish(args, res)

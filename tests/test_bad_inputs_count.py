"""The bad-input table as a whole: its size, and that it covers every public function.

Each `tests/test_bad_inputs_*.py` holds `ROWS`; a public function of a module listed below
(a function in the module's `__all__`) must be the target of at least one row, so a new public
function without a bad-input row fails here.
"""

import importlib
import inspect
import pathlib

import pytest


# Every table file (`tests/test_bad_inputs_<topic>.py`, this file excepted) is read.
ROW_MODULES = tuple(
    sorted(
        p.stem.removeprefix("test_bad_inputs_")
        for p in pathlib.Path(__file__).parent.glob("test_bad_inputs_*.py")
        if p.stem != "test_bad_inputs_count"
    )
)
CHECKED_MODULES = (
    "jaxbd.datasets", "jaxbd.clwe", "jaxbd.rff", "jaxbd.relu", "jaxbd.checksum",
    "jaxbd.signature", "jaxbd.persistent", "jaxbd.memorizing", "jaxbd.finetune",
    "jaxbd.universality", "jaxbd.smoothing", "jaxbd.metrics", "jaxbd.detect", "jaxbd.sharding",
    "jaxbd.io", "jaxbd.keys", "jaxbd.constructions", "jaxbd.linear", "jaxbd.train", "jaxbd.lattice_signature",
)  # fmt: skip


# Public functions that take nothing a caller could get wrong (no arguments, or a predicate
# answering for any object): listed here, not given rows that would test nothing.
NO_BAD_INPUT = {
    "jaxbd.io.registered", "jaxbd.io.is_backdoor_key", "jaxbd.keys.is_backdoor_key",
    "jaxbd.constructions.names", "jaxbd.constructions.registry",
    "jaxbd.detect.names", "jaxbd.detect.registry", "jaxbd.sharding.to_host",
}  # fmt: skip


def _rows():
    rows = []
    for name in ROW_MODULES:
        rows += importlib.import_module(f"test_bad_inputs_{name}").ROWS
    return rows


def test_the_table_holds_at_least_300_rows():
    rows = _rows()
    assert len(rows) >= 300, len(rows)
    assert len({r.id for r in rows}) == len(rows), "duplicate row ids"


@pytest.mark.parametrize("module", CHECKED_MODULES)
def test_every_public_function_has_a_row(module):
    mod = importlib.import_module(module)
    targets = {r.target for r in _rows()}
    public = [
        n for n in getattr(mod, "__all__", ())
        if inspect.isfunction(getattr(mod, n, None)) and not n.startswith("_")
    ]  # fmt: skip
    missing = [n for n in public if f"{module}.{n}" not in targets | NO_BAD_INPUT]
    assert not missing, f"{module}: no bad-input row for {missing}"


FEATURE_MODULES = ("jaxbd.rff", "jaxbd.relu", "jaxbd.clwe", "jaxbd.datasets")


def test_the_feature_tables_cover_every_public_class_too():
    """The feature-model tables (rff, relu, clwe, datasets) also cover each public class
    (constructor or method rows), and hold eager, jit and vmap rows."""
    rows = [r for r in _rows() if r.target.startswith(tuple(m + "." for m in FEATURE_MODULES))]
    assert len(rows) >= 90
    assert {r.mode for r in rows} == {"eager", "jit", "vmap"}
    for module in map(importlib.import_module, FEATURE_MODULES):
        for name in module.__all__:
            obj = getattr(module, name)
            if not callable(obj) or (isinstance(obj, type) and issubclass(obj, Warning)):
                continue  # constants (LOSSES, NAMES) and warning classes
            target = f"{module.__name__}.{name}"
            assert any(r.target == target or r.target.startswith(target + ".") for r in rows), (
                target
            )

"""Experiment tests of `memorizing` and `memorizing-backdoor` (Leonardis §2–§6 on digits)."""

import math

import pytest

from jaxbd.experiments import Context, get
from jaxbd.experiments._records import table


def test_table_from_records_names_columns_once():
    recs = [{"a": 1, "b": 2.5}, {"a": 3, "b": -1.0}]
    t = table("T", recs, {"first": "a", "sum": lambda r: r["a"] + r["b"]}, note="n")
    assert t.columns == ["first", "sum"] and t.rows == [[1, 3.5], [3, 2.0]] and t.note == "n"
    with pytest.raises(KeyError):
        table("T", recs, {"missing": "c"})


def _check_claims(res):
    assert res.claims and res.tables and res.figures
    for c in res.claims:
        assert c.holds in (True, False, None)
        if c.holds is not None:  # a verdict comes with its power (issue 15 §7)
            assert not math.isnan(c.power_value), c
        assert "MNIST" not in c.source or "digits" in c.source, c.source
        assert "DESIGN" not in c.source + c.measured


@pytest.mark.slow
@pytest.mark.parametrize("name", ["memorizing", "memorizing-backdoor"])
def test_memorizing_experiments_quick(name):
    res = get(name).run(Context(quick=True, show_progress=False))
    _check_claims(res)
    if name == "memorizing-backdoor":  # the registry's plant opens every placed backdoor
        assert res.claims[0].holds is True and res.claims[1].holds is True

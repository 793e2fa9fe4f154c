"""`scripts/check_verdicts.py`: CI's guard against a quick-run claim changing its verdict."""

import importlib.util
import json
import pathlib

import pytest


_PATH = pathlib.Path(__file__).parents[1] / "scripts" / "check_verdicts.py"
_spec = importlib.util.spec_from_file_location("check_verdicts", _PATH)
assert _spec is not None and _spec.loader is not None
cv = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cv)


def _results(*claims, name="exp"):
    return {"experiments": [{"name": name, "claims": [
        {"statement": s, "verdict": v} for s, v in claims
    ]}]}  # fmt: skip


def test_same_verdicts_pass_and_numbers_in_statements_are_masked(tmp_path):
    want = tmp_path / "want.json"
    run = tmp_path / "run.json"
    run.write_text(json.dumps(_results(("search takes ≈89 CPU-s", "holds"), ("b", "undecided"))))
    assert cv.main([str(run), str(want), "--write"]) == 0
    run.write_text(json.dumps(_results(("search takes ≈93 CPU-s", "holds"), ("b", "undecided"))))
    assert cv.main([str(run), str(want)]) == 0


@pytest.mark.parametrize(
    "now, expect",
    [
        ([("a", "does not hold"), ("b", "undecided")], "holds -> does not hold: 'a'"),
        ([("a", "holds")], "its claims changed (2 recorded, 1 now)"),
        ([("a", "holds"), ("c", "undecided")], "its claims changed"),
    ],
)
def test_a_changed_verdict_or_claim_fails(tmp_path, capsys, now, expect):
    want = tmp_path / "want.json"
    run = tmp_path / "run.json"
    run.write_text(json.dumps(_results(("a", "holds"), ("b", "undecided"))))
    assert cv.main([str(run), str(want), "--write"]) == 0
    run.write_text(json.dumps(_results(*now)))
    assert cv.main([str(run), str(want)]) == 1
    assert expect in capsys.readouterr().err


def test_a_missing_experiment_fails():
    got = cv.verdicts(_results(("a", "holds")))
    assert cv.differences(got, {**got, "other": [["x", "holds"]]}) == ["other: not run"]
    assert cv.differences({**got, "other": [["x", "holds"]]}, got) == ["other: not recorded"]


def test_bad_usage_exits_2():
    assert cv.main([]) == 2
    assert cv.main(["a", "b", "--force"]) == 2

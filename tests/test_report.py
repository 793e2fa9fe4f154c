import json

import pytest
from matplotlib.figure import Figure as MplFigure

from jaxbd import experiments
from jaxbd.experiments import _core
from jaxbd.report import format_cell, write_report


def _result():
    fig = MplFigure()
    ax = fig.add_subplot()
    ax.plot([0, 1], [1, 0])
    return experiments.ExperimentResult(
        name="demo",
        title="Demo",
        summary="A demo.",
        claims=[
            experiments.Claim("x holds", "Paper §1", "0.99", True, "x >= 0.9"),
            experiments.Claim("y holds", "Paper §2", "0.1", False, "y >= 0.9"),
            experiments.Claim("z", "Paper §3", "n/a", None),
        ],
        tables=[experiments.Table("T", ["a", "b"], [[1, 0.5], ["s|t", float("nan")]])],
        figures=[experiments.Figure("demo_plot.png", "a plot", fig)],
        data={"values": [1.0, float("inf")]},
    )


def test_write_report(tmp_path):
    paths = write_report([_result()], str(tmp_path), quick=True)
    md = (tmp_path / "REPORT.md").read_text()
    assert "**holds**" in md and "**does not hold**" in md and "**undecided**" in md
    assert "![a plot](demo_plot.png)" in md
    assert "s\\|t" in md  # table cells cannot break the Markdown table
    doc = json.loads((tmp_path / "results.json").read_text())
    exp = doc["experiments"][0]
    assert exp["claims"][1]["verdict"] == "does not hold"
    assert exp["data"]["values"] == [1.0, None]  # JSON null, never the string "inf"/"nan"
    assert "power" in exp["claims"][0] and "| power |" in md
    assert (tmp_path / "demo_plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths["figures"] == [str(tmp_path / "demo_plot.png")]


def test_table_row_length_checked():
    with pytest.raises(ValueError, match="cells"):
        experiments.Table("T", ["a", "b"], [[1]])


def test_format_cell():
    assert format_cell(3) == "3"
    assert format_cell(0.123456) == "0.1235"
    assert format_cell(1e-5) == "1e-05"
    assert format_cell(float("nan")) == "—"


def test_register_and_run_records_time():
    @experiments.register("demo-test-only", title="Demo", description="d", order=999)
    def run(ctx):
        return _result()

    try:
        exp = experiments.get("demo-test-only")
        res = exp.run(experiments.Context(quick=True, show_progress=False))
        assert res.quick is True and res.seconds >= 0
        with pytest.raises(ValueError, match="registered twice"):
            experiments.register("demo-test-only", title="x", description="y")(lambda ctx: None)
    finally:
        _core._REGISTRY.pop("demo-test-only", None)
    with pytest.raises(ValueError, match="Unknown experiment"):
        experiments.get("demo-test-only")

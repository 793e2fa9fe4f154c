"""Experiment results -> `REPORT.md`, `results.json` and PNG plots."""

import dataclasses
import io as _bytes_io
import json
import math
import os
import platform
from typing import Any

import numpy as np

from .experiments import ExperimentResult
from .io import write_atomic


__all__ = ["write_report", "to_json", "format_cell"]


def _jsonable(obj) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (bool, str)) or obj is None:
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None  # JSON has no NaN/inf: null, never "nan"
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):  # numpy / jax arrays
        return _jsonable(np.asarray(obj).tolist())
    return str(obj)


def to_json(results: list[ExperimentResult]) -> dict:
    """The JSON document of a run: environment plus every result without figure objects."""
    import jax

    out = []
    for r in results:
        d = {
            f.name: getattr(r, f.name)
            for f in dataclasses.fields(r)
            if f.name not in ("figures", "claims", "tables")
        }
        d["claims"] = [c.to_dict() for c in r.claims]
        d["tables"] = [dataclasses.asdict(t) for t in r.tables]
        d["figures"] = [{"filename": f.filename, "caption": f.caption} for f in r.figures]
        out.append(d)
    from . import __version__

    return _jsonable(
        {
            "jaxbd_version": __version__,
            "jax_version": jax.__version__,
            "backend": jax.default_backend(),
            "devices": [str(d) for d in jax.devices()],
            "python": platform.python_version(),
            # `reproduce --quick` compiles with most XLA optimisations off (cli/_reproduce.py)
            "xla_most_optimizations_disabled": bool(
                jax.config.read("jax_disable_most_optimizations")
            ),
            "experiments": out,
        }
    )


def format_cell(v) -> str:
    """Numbers to short strings: 4 significant digits, ints as ints."""
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return "—"
        if f != 0 and (abs(f) < 1e-3 or abs(f) >= 1e5):
            return f"{f:.3g}"
        return f"{f:.4g}"
    return str(v).replace("|", "\\|")


def _markdown(results: list[ExperimentResult], quick: bool) -> str:
    lines = ["# jaxbd reproduction report", ""]
    lines.append(
        ("Quick (smoke-sized) run: numbers are indicative only. " if quick else "")
        + "Each claim's verdict is computed from the measured numbers by the stated criterion; "
        + "its power is the smallest violation of the criterion that the test detects with "
        + "probability at least 0.9 at this run's sizes (descriptive measurements have none)."
    )
    lines += ["", "## Claims at a glance", ""]
    lines += ["| experiment | claim | source | measured | verdict |", "|---|---|---|---|---|"]
    for r in results:
        if r.error:
            lines.append(f"| {r.name} | (experiment failed) | | {format_cell(r.error)} | error |")
        for c in r.claims:
            lines.append(
                f"| {r.name} | {format_cell(c.statement)} | {format_cell(c.source)} | "
                f"{format_cell(c.measured)} | **{c.verdict}** |"
            )
    for r in results:
        lines += ["", f"## {r.title} (`{r.name}`)", "", f"_{r.seconds:.1f} s_", "", r.summary, ""]
        if r.error:
            lines += ["**This experiment failed:**", "", "```", r.error, "```", ""]
        if r.claims:
            lines += ["### Claims", ""]
            lines += ["| claim | source | criterion | measured | power | verdict |"]
            lines += ["|---|---|---|---|---|---|"]
            for c in r.claims:
                lines.append(
                    f"| {format_cell(c.statement)} | {format_cell(c.source)} | "
                    f"{format_cell(c.criterion)} | {format_cell(c.measured)} | "
                    f"{format_cell(c.power)} | **{c.verdict}** |"
                )
            lines.append("")
        for t in r.tables:
            lines += [f"### {t.title}", ""]
            if t.note:
                lines += [t.note, ""]
            lines.append("| " + " | ".join(format_cell(c) for c in t.columns) + " |")
            lines.append("|" + "---|" * len(t.columns))
            for row in t.rows:
                lines.append("| " + " | ".join(format_cell(c) for c in row) + " |")
            lines.append("")
        for f in r.figures:
            lines += [f"![{f.caption}]({f.filename})", "", f"*{f.caption}*", ""]
    return "\n".join(lines) + "\n"


def write_report(results: list[ExperimentResult], out_dir: str, *, quick: bool = False) -> dict:
    """Write `REPORT.md`, `results.json` and one PNG per figure into `out_dir`.

    Every file is rendered in memory and written with `jaxbd.io.write_atomic`, so an
    interrupted run never leaves a half-written report (or a temporary file) over a previous
    one. Returns the paths written.
    """
    os.makedirs(out_dir, exist_ok=True)
    paths: dict[str, Any] = {"figures": []}
    for r in results:
        for f in r.figures:
            buf = _bytes_io.BytesIO()
            f.figure.savefig(buf, dpi=110, bbox_inches="tight", format="png")
            path = write_atomic(os.path.join(out_dir, f.filename), buf.getvalue())
            paths["figures"].append(path)
    text = json.dumps(to_json(results), indent=2) + "\n"
    paths["json"] = write_atomic(os.path.join(out_dir, "results.json"), text.encode())
    md = _markdown(results, quick).encode()
    paths["markdown"] = write_atomic(os.path.join(out_dir, "REPORT.md"), md)
    return paths

"""What every benchmark records besides its timings: the machine it ran on, and the JSON file.

The `bench_*.py` scripts run as `python benchmarks/bench_<name>.py`, so this folder is on
`sys.path` and they import this module as `_common`.
"""

import argparse
import json
import os
import platform

import jax


_HOST = {
    "device": lambda: str(jax.devices()[0]),
    "backend": jax.default_backend,
    "devices": lambda: [str(dv) for dv in jax.devices()],
    "cpu_count": os.cpu_count,
    "platform": platform.platform,
    "jax_version": lambda: jax.__version__,
}


def arguments(doc: str, name: str, quick_help: str) -> argparse.ArgumentParser:
    """The parser a benchmark starts from: its docstring's first line, `--quick` and `--out`
    (default `benchmarks/results/<name>.json`; a folder gets `<name>.json` inside it, see
    [`write_json`][])."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=quick_help)
    ap.add_argument(
        "--out",
        default=os.path.join(os.path.dirname(__file__), "results", f"{name}.json"),
        help=f"JSON output file (a folder gets {name}.json inside it)",
    )
    return ap


def host(keys=("backend", "devices", "cpu_count", "platform", "jax_version")) -> dict:
    """The machine a result was measured on, as JSON-able values, in the order of `keys` (any
    of `device`, `backend`, `devices`, `cpu_count`, `platform`, `jax_version`)."""
    return {k: _HOST[k]() for k in keys}


def write_json(out: str, result: dict, name: str | None = None) -> str:
    """Write `result` as indented JSON to `out`, or to `out/name` when `name` is given and `out`
    does not end in `.json` (a folder); parent folders are created. **Returns:** the path."""
    path = out if name is None or out.endswith(".json") else os.path.join(out, name)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
    return path

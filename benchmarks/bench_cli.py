"""CLI steps of the README workflow, cold and warm, next to the cost of starting Python + JAX.

Each step of README.md's workflow (plant, activate, evaluate, detect, finetune, certify) runs as
its own `jaxbd` process, as a user runs it, in a fresh folder with a fresh compilation and data
cache (`$JAXBD_CACHE_DIR`, `$JAXBD_DATA_CACHE_DIR`):

- `cold_seconds`: the first pass, empty caches (a new machine: XLA compiles every program, the
  bundled data is read through scikit-learn);
- `warm_seconds`: the median of the later passes, caches filled by the first (the issue's goal:
  every step under 3 s);
- `floor_seconds`: what any step pays before doing work, in the same run: `python -c "import
  jax; jax.devices()"` and `jaxbd --help` (Python, JAX, equinox and the parser).

Wall-clock times of whole processes (`time.perf_counter` around `subprocess.run`); the load
average at start and end is recorded, since a busy machine moves these figures by seconds.

Usage: `python benchmarks/bench_cli.py [--quick] [--passes N] [--out FILE]`; `--quick` (CI): the
signature steps only, one warm pass.
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import _common


STEPS = [
    ("plant signature", "plant signature --data digits --classes 3 8 --out runs/sig"),
    (
        "activate",
        "activate --key runs/sig/backdoor.key --input runs/sig/test_inputs.npz --target -1 "
        "--out runs/sig/activated.npz",
    ),
    (
        "evaluate signature",
        "evaluate --model runs/sig/backdoored.jaxbd --honest runs/sig/honest.jaxbd --key "
        "runs/sig/backdoor.key --wrong-key runs/sig/wrong.key --target -1 --json-out "
        "runs/sig/eval.json",
    ),
    ("plant relu", "plant relu --data breast_cancer --theta 50 --out runs/relu"),
    ("detect", "detect --model runs/relu/backdoored.jaxbd --tests spectral diagonal"),
    (
        "finetune",
        "finetune --model runs/relu/backdoored.jaxbd --steps 100 --out runs/relu/tuned.jaxbd",
    ),
    (
        "evaluate tuned",
        "evaluate --model runs/relu/tuned.jaxbd --honest runs/relu/honest.jaxbd --key "
        "runs/relu/backdoor.key",
    ),
    ("certify", "certify --model runs/relu/backdoored.jaxbd --sigma 0.25 --max-examples 50"),
    ("plant rff", "plant rff --data digits --classes 3 8 --out runs/rff"),
]


def _timed(argv, cwd, env) -> float:
    t = time.perf_counter()
    r = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {r.returncode}: {r.stderr.strip()[-400:]}")
    return dt


def main():
    ap = _common.arguments(__doc__, "cli", "signature steps only, one warm pass")
    ap.add_argument("--passes", type=int, default=None, help="warm passes (default 3; quick 1)")
    args = ap.parse_args()
    steps = STEPS[:3] if args.quick else STEPS
    passes = args.passes or (1 if args.quick else 3)
    jaxbd = [sys.executable, "-m", "jaxbd"]
    work = tempfile.mkdtemp(prefix="jaxbd-bench-cli-")
    env = dict(os.environ)
    env.pop("JAXBD_NO_COMPILE_CACHE", None)
    env["JAXBD_CACHE_DIR"] = os.path.join(work, "cache", "xla")
    env["JAXBD_DATA_CACHE_DIR"] = os.path.join(work, "cache", "data")
    load_start = os.getloadavg()[0]
    floor = {
        "python -c 'import jax; jax.devices()'": [
            _timed([sys.executable, "-c", "import jax; jax.devices()"], work, env)
            for _ in range(3)
        ],
        "jaxbd --help": [_timed([*jaxbd, "--help"], work, env) for _ in range(3)],
    }
    times = {name: [] for name, _ in steps}
    try:
        for p in range(1 + passes):
            shutil.rmtree(os.path.join(work, "runs"), ignore_errors=True)
            for name, cmd in steps:
                times[name].append(_timed([*jaxbd, *cmd.split()], work, env))
            print(f"pass {p}: " + ", ".join(f"{n} {t[-1]:.2f} s" for n, t in times.items()))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    warm = {n: statistics.median(t[1:]) for n, t in times.items()}
    result = {
        **_common.host(),
        "quick": args.quick,
        "load_average_at_start": load_start,
        "load_average_at_end": os.getloadavg()[0],
        "warm_passes": passes,
        "goal": "every CLI step on digits under 3 s with a warm cache",
        "floor_seconds": {k: min(v) for k, v in floor.items()},
        "cold_seconds": {n: t[0] for n, t in times.items()},
        "warm_seconds": warm,
        "warm_all_passes": {n: t[1:] for n, t in times.items()},
        "steps_over_3s_warm": [n for n, t in warm.items() if t >= 3.0],
        "commands": {n: f"jaxbd {c}" for n, c in steps},
    }
    print(_common.write_json(args.out, result))


if __name__ == "__main__":
    main()

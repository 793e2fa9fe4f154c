"""Benchmark: scaling of time and compiled memory with problem size (issue 8).

RFF featurization (`RFFClassifier.batch_features`) against n, D and width, and randomized-smoothing
counts (`smoothing.class_counts`) against the number of noise draws. Memory is XLA's compiled
buffer assignment (`jax.jit(f).lower(...).compile().memory_analysis()`: temp + output bytes,
deterministic); time is the minimum over repeats after a warm-up compile. Ratios are memory
growth factors within the same run (largest / smallest size). JSON to
`benchmarks/results/scaling.json` and a log-log PNG next to it.

    python benchmarks/bench_scaling.py [--quick] [--out FILE]
"""

import os
import time

import jax
import jax.numpy as jnp
from _common import arguments, host, write_json

from jaxbd.experiments import scaling


def main(argv=None):
    ap = arguments(__doc__, "scaling", "small sizes, a few seconds")
    ap.add_argument("--repeats", type=int, default=None)
    args = ap.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 5)
    if args.quick:
        ns, dims, widths, base = [256, 1024, 4096], [16, 64], [128, 512], (1024, 32, 256)
        draws, time_up_to = [10**3, 10**4, 10**6], 10**4
    else:
        ns, dims = [256, 1024, 4096, 16384, 65536], [16, 64, 256, 1024]
        widths, base = [128, 512, 2048, 8192], (4096, 64, 512)
        draws, time_up_to = [10**3, 10**4, 10**5, 10**6, 10**7, 10**8], 10**6
    t0 = time.perf_counter()
    rff_rows = scaling.rff_sweep(0, ns=ns, dims=dims, widths=widths, base=base, repeats=repeats)
    sm_rows = scaling.smoothing_sweep(0, draws=draws, time_up_to=time_up_to)
    n_rows = [r for r in rff_rows if r["sweep"] == "n"]
    big = [r["mem_peak"] for r in sm_rows if r["num_samples"] >= scaling.SMOOTH_BATCH]
    result = {
        "benchmark": "scaling (time and compiled memory vs size)",
        "rff": rff_rows,
        "smoothing": sm_rows,
        "rff_memory_slope_in_n": scaling.loglog_slope(
            [r["n"] for r in n_rows], [r["mem_peak"] for r in n_rows]
        ),
        "rff_time_slope_in_n": scaling.loglog_slope(
            [r["n"] for r in n_rows], [r["seconds"] for r in n_rows]
        ),
        "smoothing_memory_max_over_min": max(big) / min(big),
        "smoothing_batch_size": scaling.SMOOTH_BATCH,
        "seconds_total": time.perf_counter() - t0,
        **host(("device", "backend", "platform")),
        "quick": args.quick,
    }
    path = write_json(args.out, result, "scaling.json")
    png = os.path.splitext(path)[0] + ".png"
    scaling._figure(rff_rows, sm_rows).savefig(png, dpi=100)
    print(
        f"RFF featurization: memory slope {result['rff_memory_slope_in_n']:.2f} in n, "
        f"time slope {result['rff_time_slope_in_n']:.2f}; smoothing counts: memory max/min "
        f"{result['smoothing_memory_max_over_min']:.3f} over {scaling.SMOOTH_BATCH}.."
        f"{draws[-1]:.0e} draws ({max(big) / 1e6:.2f} MB)  [{jax.default_backend()}]"
    )
    print(f"wrote {path} and {png}")
    return result


if __name__ == "__main__":
    jnp.zeros(())  # initialise the backend before timing
    main()

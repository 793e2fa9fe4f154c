"""Benchmark: the memorizing network's candidate search (Leonardis §5, 10^4 random directions).

`jaxbd.memorizing.candidate_search` (one compiled `lax.map` over candidates, batched) against
a plain numpy loop over candidates doing the same work per candidate: project, sort, reject
equal cross-class projections, count slices, score the slicing rule on a validation split.
Warm-up (compile) first, then several repeats; reports the minimum and the ratio.

    python benchmarks/bench_memorizing.py [--quick] [--pair 3 8] [--candidates N]
"""

import argparse
import json
import os
import platform
import time

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from jaxbd import datasets, memorizing as mz


def numpy_search(x, cls, fit_idx, val_idx, num_candidates, seed=0):
    """Reference: one candidate at a time (what a Python implementation would do)."""
    rng = np.random.default_rng(seed)
    eps = np.finfo(x.dtype).eps
    ax = np.abs(x)
    xf, cf, xv, cv = x[fit_idx], cls[fit_idx], x[val_idx], cls[val_idx]
    valid = np.zeros(num_candidates, bool)
    slices = np.zeros(num_candidates, np.int32)
    acc = np.zeros(num_candidates, np.float32)
    for i in range(num_candidates):
        w = rng.standard_normal(x.shape[1]).astype(x.dtype)
        p = x @ w
        a = ax @ np.abs(w)
        order = np.argsort(p)
        ps, cs, as_ = p[order], cls[order], a[order]
        change = cs[1:] != cs[:-1]
        tol = mz.EQUAL_TOLERANCE * eps * (as_[1:] + as_[:-1])
        valid[i] = np.all(~change | (np.diff(ps) > tol))
        slices[i] = change.sum()
        pr = xf @ w
        o = np.argsort(pr)
        prs, crs = pr[o], cf[o]
        q = xv @ w
        idx = np.searchsorted(prs, q)
        left = np.clip(idx - 1, 0, len(prs) - 1)
        right = np.clip(idx, 0, len(prs) - 1)
        pick = np.where(np.abs(q - prs[left]) <= np.abs(prs[right] - q), left, right)
        acc[i] = np.mean(crs[pick] == cv)
    return valid, slices, acc


def best_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), times


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    ap.add_argument("--pair", type=int, nargs=2, default=(3, 8))
    ap.add_argument("--candidates", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument(
        "--out",
        default=os.path.join(os.path.dirname(__file__), "results", "memorizing.json"),
        help="JSON output file (a folder gets memorizing.json inside it)",
    )
    args = ap.parse_args(argv)
    n_cand = args.candidates or (1000 if args.quick else 10_000)
    repeats = args.repeats or (2 if args.quick else 3)

    ds = datasets.load("digits", classes=tuple(args.pair))
    x, y = ds.x_train, ds.y_train
    key = jr.key(0)
    run_jax = lambda: mz.candidate_search(  # noqa: E731
        key, x, y, num_candidates=n_cand, batch_size=args.batch_size
    )
    t0 = time.perf_counter()
    jax.block_until_ready(run_jax().valid)  # warm-up: compile
    compile_s = time.perf_counter() - t0
    jax_s, jax_all = best_time(run_jax, repeats)  # results come back as numpy: synchronised

    xn = np.asarray(x)
    cls = (np.asarray(y) > 0).astype(np.int32)
    tr, va = mz._split(jr.fold_in(key, 2**31 - 1), xn.shape[0], 0.2)
    np_reps = 1 if not args.quick else repeats
    np_s, np_all = best_time(lambda: numpy_search(xn, cls, tr, va, n_cand), np_reps)
    res = run_jax()
    result = {
        "benchmark": "memorizing candidate search",
        "pair": list(args.pair),
        "n_train": int(xn.shape[0]),
        "dim": int(xn.shape[1]),
        "num_candidates": n_cand,
        "batch_size": args.batch_size,
        "jax_seconds_min": jax_s,
        "jax_seconds_all": jax_all,
        "jax_compile_seconds": compile_s,
        "numpy_loop_seconds_min": np_s,
        "numpy_loop_seconds_all": np_all,
        "speedup": np_s / jax_s,
        "valid_fraction": float(res.valid.mean()),
        "device": str(jax.devices()[0]),
        "backend": jax.default_backend(),
        "platform": platform.platform(),
        "quick": args.quick,
    }
    path = args.out if args.out.endswith(".json") else os.path.join(args.out, "memorizing.json")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
    print(
        f"candidate search, {n_cand} candidates, digits {args.pair[0]}-{args.pair[1]} "
        f"(n={xn.shape[0]}, d={xn.shape[1]}): jax {jax_s:.3f} s (compile {compile_s:.1f} s), "
        f"numpy loop {np_s:.3f} s, speedup {np_s / jax_s:.1f}x  [{jax.default_backend()}]"
    )
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    jnp.zeros(())  # initialise the backend before timing
    main()

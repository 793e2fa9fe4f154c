"""Benchmark: exact Gaussian-pancake sampling (jaxbd.clwe.pancakes) vs its baselines.

- `pancakes`: `jit(pancakes(key, omega, num, beta=1e-3))`, num x dim float32 (default 100k x 784,
  a dense-support-16 secret, gamma = 8);
- `normal`: `jit(jax.random.normal(key, (num, dim)))`, the floor (target: pancakes <= 1.3x);
- `rejection`: draw N(0, I) rows and keep those with dist(<g, omega>, Z + 1/2) <= tau = 0.01 —
  the naive way to get pancake-like samples (and not even the same law: a hard window instead of
  the Gaussian profile). Its accept rate is ~2 tau = 2% (<g, omega> ~ N(0, gamma^2) with gamma >= 2
  is nearly uniform mod 1), so it is measured on ONE batch of num candidate rows and scaled per
  ACCEPTED sample: time_per_accepted = batch_time / accepted. Target: pancakes >= 20x faster per
  sample.

Warm-up first, `jax.block_until_ready`, repeats interleaved, MINIMUM time, ratios from the same
run. JSON to `benchmarks/results/pancakes.json`. `--quick`: 10k x 784.
"""

import argparse
import os
import time

import jax
import jax.numpy as jnp
import jax.random as jr
from _common import host, write_json

from jaxbd import clwe


TAU = 0.01


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--num", type=int, default=None)
    p.add_argument("--dim", type=int, default=784)
    p.add_argument("--support", type=int, default=16)
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument(
        "--out", default=os.path.join(os.path.dirname(__file__), "results", "pancakes.json")
    )
    a = p.parse_args(argv)
    num = a.num or (10_000 if a.quick else 100_000)
    repeats = a.repeats or (3 if a.quick else 5)
    d = a.dim

    omega = clwe.sample_secret(jr.key(0), d, support=a.support)
    pan = jax.jit(lambda k, o: clwe.pancakes(k, o, num, beta=1e-3))
    normal = jax.jit(lambda k: jr.normal(k, (num, d), jnp.float32))

    @jax.jit
    def rejection(k, o):
        g = jr.normal(k, (num, d), jnp.float32)
        ok = clwe.distance_to_layers(g @ o, shift=0.5) <= TAU
        return g, jnp.sum(ok)

    cases = {
        "pancakes": lambda k: pan(k, omega),
        "normal": lambda k: normal(k),
        "rejection_batch": lambda k: rejection(k, omega),
    }
    for fn in cases.values():
        jax.block_until_ready(fn(jr.key(1)))
    times = {c: [] for c in cases}
    accepted = []
    for r in range(repeats):
        for c, fn in cases.items():
            k = jr.key(100 + r)
            t = time.perf_counter()
            out = jax.block_until_ready(fn(k))
            times[c].append(time.perf_counter() - t)
            if c == "rejection_batch":
                accepted.append(int(out[1]))
    best = {c: min(v) for c, v in times.items()}
    acc = sum(accepted) / (len(accepted) * num)
    per_sample = {
        "pancakes": best["pancakes"] / num,
        "normal": best["normal"] / num,
        "rejection_per_accepted": best["rejection_batch"] / (acc * num),
    }
    g = pan(jr.key(7), omega)
    dist = clwe.distance_to_layers(g @ omega)
    result = dict(
        benchmark="pancakes_sampling",
        num=num,
        dim=d,
        support=a.support,
        gamma=float(jnp.linalg.norm(omega)),
        beta=1e-3,
        tau=TAU,
        dtype="float32",
        repeats=repeats,
        seconds_min=best,
        seconds_all=times,
        rejection_accept_rate=acc,
        seconds_per_sample=per_sample,
        ratio_pancakes_over_normal=best["pancakes"] / best["normal"],
        ratio_rejection_over_pancakes_per_sample=per_sample["rejection_per_accepted"]
        / per_sample["pancakes"],
        pancakes_max_distance_to_half_integers=float(jnp.max(dist)),
        **host(),
    )
    write_json(a.out, result)
    for c, v in best.items():
        print(f"{c:>16}: {v * 1e3:9.1f} ms")
    print(f"rejection accept rate           = {acc:.4f} (tau = {TAU})")
    print(f"pancakes / normal               = {result['ratio_pancakes_over_normal']:.2f}x")
    print(
        "rejection / pancakes per sample = "
        f"{result['ratio_rejection_over_pancakes_per_sample']:.1f}x"
    )
    print(f"wrote {a.out}")
    return result


if __name__ == "__main__":
    main()

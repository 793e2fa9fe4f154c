"""Benchmark CERTIFY (jaxbd.smoothing) against bare batched evaluation and a Python loop.

Measured in the same run, on the same model (a 2-hidden-layer tanh MLP, binary score):

- `certify`: `jaxbd.smoothing.certify` with `n0 = 100` and `num_samples = N` (chunked scan,
  noise drawn inside, counts accumulated, Clopper–Pearson on the host);
- `bare_eval`: `jit(vmap(model))` over `N` pre-generated noisy inputs plus the label count (no
  random numbers, `N × d` inputs resident in memory) — the brief's baseline;
- `bare_eval_with_noise`: the same with the `N × d` Gaussian noise drawn in the same jit
  (unchunked: memory grows with `N`);
- `python_loop`: one jitted `model(x)` call per noisy sample from Python, on fewer samples,
  time scaled to `N`.

Throughput ratio = baseline time / certify time (>= 0.85 is the target against `bare_eval`).
Peak memory: XLA's compiled `memory_analysis()` (temporary bytes) of the counting step for
`num_samples` from 10^3 to 10^6 (flat for CERTIFY; the unchunked baseline grows).

Usage: `python benchmarks/bench_certify.py [--quick]`; writes `benchmarks/results/certify.json`.
"""

import argparse
import functools
import json
import pathlib
import platform
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr

from jaxbd import smoothing


class MLP(eqx.Module):
    layers: list

    def __init__(self, key, d, width):
        k1, k2, k3 = jr.split(key, 3)
        self.layers = [
            eqx.nn.Linear(d, width, key=k1),
            eqx.nn.Linear(width, width, key=k2),
            eqx.nn.Linear(width, "scalar", key=k3),
        ]

    def __call__(self, x):
        for layer in self.layers[:-1]:
            x = jnp.tanh(layer(x))
        return self.layers[-1](x)


def _best(fn, repeats):
    fn()  # warm up (compile)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument(
        "--out", default=str(pathlib.Path(__file__).parent / "results" / "certify.json")
    )
    args = p.parse_args()
    quick = args.quick
    d, width = 64, 256
    n = 10_000 if quick else 100_000
    n_loop = 200 if quick else 2_000
    batch_size = 4096
    repeats = 2 if quick else 5
    sigma = 0.5
    key = jr.key(0)
    model = MLP(jr.key(1), d, width)
    x = jr.normal(jr.key(2), (d,))

    def run_certify():
        out = smoothing.certify(
            key, model, x, sigma=sigma, n0=100, num_samples=n, alpha=0.001, batch_size=batch_size
        )
        jax.block_until_ready(out)

    noisy = x + sigma * jr.normal(jr.key(3), (n, d))

    @eqx.filter_jit
    def bare(model, xs):
        s = jax.vmap(model)(xs)
        return jnp.sum(s >= 0)

    @eqx.filter_jit
    def bare_noise(model, key, x):
        xs = x + sigma * jr.normal(key, (n, d))
        return jnp.sum(jax.vmap(model)(xs) >= 0)

    single = eqx.filter_jit(lambda model, xi: model(xi))

    def loop():
        for i in range(n_loop):
            single(model, noisy[i]).block_until_ready()

    t_cert = _best(run_certify, repeats)
    t_bare = _best(lambda: bare(model, noisy).block_until_ready(), repeats)
    t_noise = _best(lambda: bare_noise(model, key, x).block_until_ready(), repeats)
    t_loop = _best(loop, 1 if quick else 2) * (n + 100) / n_loop

    # Peak temporary memory of the counting step vs num_samples (compiled memory analysis).
    memory = {}
    for m in (10**3, 10**4, 10**5, 10**6):
        f = jax.jit(functools.partial(smoothing._counts_jit, num_samples=m, batch_size=batch_size))
        ma = f.lower(key, model, x, jnp.float32(sigma)).compile().memory_analysis()
        g = jax.jit(
            lambda key, x, m=m: jnp.sum(jax.vmap(model)(x + sigma * jr.normal(key, (m, d))) >= 0)
        )
        mb = g.lower(key, x).compile().memory_analysis()
        memory[str(m)] = {
            "certify_counting_temp_bytes": None if ma is None else int(ma.temp_size_in_bytes),
            "unchunked_baseline_temp_bytes": None if mb is None else int(mb.temp_size_in_bytes),
        }

    result = {
        "device": str(jax.devices()[0]),
        "platform": platform.platform(),
        "jax": jax.__version__,
        "quick": quick,
        "model": f"MLP d={d}, width={width}, 2 hidden tanh layers, scalar score",
        "num_samples": n,
        "n0": 100,
        "batch_size": batch_size,
        "seconds": {
            "certify": t_cert,
            "bare_eval": t_bare,
            "bare_eval_with_noise": t_noise,
            "python_loop_scaled": t_loop,
        },
        "samples_per_second": {"certify": (n + 100) / t_cert, "bare_eval": n / t_bare},
        "throughput_ratio_vs_bare_eval": (t_bare * (n + 100) / n) / t_cert,
        "throughput_ratio_vs_bare_eval_with_noise": (t_noise * (n + 100) / n) / t_cert,
        "speedup_vs_python_loop": t_loop / t_cert,
        "target_ratio_vs_bare_eval": 0.85,
        "memory_by_num_samples": memory,
    }
    result["meets_target"] = result["throughput_ratio_vs_bare_eval"] >= 0.85
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Benchmark: the lattice-signature backdoor (a pure perceptron/sine network) vs the Ed25519 one
(`jaxbd.signature`, verified on the host through `jax.pure_callback`) on the same base model.

For each input dimension d: a linear softmax base model (10 classes), wrapped in
`jaxbd.lattice_signature.backdoor(..., params="auto")` (the largest preset that fits d — INSECURE
below d ≈ 1.1e4, see `security_estimate`) and in `jaxbd.signature.backdoor`. Each model runs
under `jit(vmap(model))` on a batch of clean inputs (uniform in [0,1]^d) and on a batch of
activated inputs. Compile time (first call) is reported separately from run time (minimum over
repeats after the warm-up, `jax.block_until_ready`); ratios `lattice / Ed25519` and
`base / lattice` are taken in the same run. On a GPU the callback copies every batch to the host
and back; the network stays on the device. JSON to `benchmarks/results/lattice_signature.json`.

    python benchmarks/bench_lattice_signature.py [--quick] [--dims 64 784] [--batch N] [--out F]
"""

import time

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from _common import arguments, host, write_json

from jaxbd import lattice_signature as ls, signature


def _time(fn, x, repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(x))
    compile_s = time.perf_counter() - t0
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(x))
        runs.append(time.perf_counter() - t0)
    return compile_s, runs


def bench_dim(d, batch, num_activated, repeats, seed=0):
    k1, k2, k3, k4 = jr.split(jr.key(seed), 4)
    base = eqx.nn.Linear(d, 10, key=k1)
    bm_l, bk_l = ls.backdoor(k2, base, input_dim=d, params="auto")
    bm_e, bk_e = signature.backdoor(base, input_dim=d)
    x = jr.uniform(k3, (batch, d))
    t = jr.randint(k4, (num_activated,), 0, 10)
    t0 = time.perf_counter()
    xa_l = jax.jit(jax.vmap(lambda z, s: ls.activate(bk_l, z, s)))(x[:num_activated], t)
    sign_l = (time.perf_counter() - t0) / num_activated
    t0 = time.perf_counter()
    xa_e = jax.jit(jax.vmap(lambda z, s: signature.activate(bk_e, z, s)))(x[:num_activated], t)
    sign_e = (time.perf_counter() - t0) / num_activated
    xa_l = jnp.tile(xa_l, (batch // num_activated + 1, 1))[:batch]
    xa_e = jnp.tile(xa_e, (batch // num_activated + 1, 1))[:batch]
    out = {}
    for name, model, xa in (("lattice", bm_l, xa_l), ("ed25519", bm_e, xa_e), ("base", base, x)):
        f = eqx.filter_jit(lambda z, m=model: jax.vmap(m)(z))
        c_clean, r_clean = _time(f, x, repeats)
        c_act, r_act = _time(f, xa, repeats)
        out[name] = dict(
            compile_seconds=c_clean,
            clean_seconds_min=min(r_clean),
            clean_seconds_all=r_clean,
            activated_seconds_min=min(r_act),
            activated_seconds_all=r_act,
            clean_per_second=batch / min(r_clean),
            activated_per_second=batch / min(r_act),
        )
    ok = jnp.argmax(jax.vmap(bm_l)(xa_l[:num_activated]), -1)
    size = ls.network_size(bm_l)
    return dict(
        input_dim=d,
        batch=batch,
        params=bk_l.params.name,
        security=ls.security_estimate(bk_l.params).summary(),
        network_units=size["total_units"],
        network_weights=size["total_weights"],
        sign_seconds_per_example={"lattice": sign_l, "ed25519": sign_e},
        activated_all_open=bool(jnp.all(ok == t)),
        models=out,
        ratio_lattice_over_ed25519_clean=out["lattice"]["clean_per_second"]
        / out["ed25519"]["clean_per_second"],
        ratio_lattice_over_ed25519_activated=out["lattice"]["activated_per_second"]
        / out["ed25519"]["activated_per_second"],
        ratio_base_over_lattice_clean=out["base"]["clean_per_second"]
        / out["lattice"]["clean_per_second"],
    )


def main(argv=None):
    ap = arguments(__doc__, "lattice_signature", "small batch, d = 64 and 784")
    ap.add_argument("--dims", type=int, nargs="+", default=None)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--activated", type=int, default=None, help="distinct activated inputs")
    ap.add_argument("--repeats", type=int, default=None)
    a = ap.parse_args(argv)
    dims = a.dims or [64, 784]
    batch = a.batch or (1024 if a.quick else 16384)
    num_act = a.activated or (32 if a.quick else 512)
    repeats = a.repeats or (2 if a.quick else 5)
    t0 = time.perf_counter()
    rows = [bench_dim(d, batch, min(num_act, batch), repeats) for d in dims]
    result = dict(
        benchmark="lattice_signature (pure network) vs signature (Ed25519 callback)",
        quick=a.quick,
        results=rows,
        seconds_total=time.perf_counter() - t0,
        **host(),
    )
    path = write_json(a.out, result, "lattice_signature.json")
    for r in rows:
        m = r["models"]
        print(
            f"d={r['input_dim']:>5} ({r['params']}): lattice {m['lattice']['clean_per_second']:,.0f}/s "
            f"(compile {m['lattice']['compile_seconds']:.2f}s), Ed25519 "
            f"{m['ed25519']['clean_per_second']:,.0f}/s clean / "
            f"{m['ed25519']['activated_per_second']:,.0f}/s activated; lattice/Ed25519 = "
            f"{r['ratio_lattice_over_ed25519_clean']:.3f} clean, "
            f"{r['ratio_lattice_over_ed25519_activated']:.3f} activated  [{jax.default_backend()}]"
        )
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()

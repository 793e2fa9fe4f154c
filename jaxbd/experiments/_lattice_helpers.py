"""Helpers of the `lattice_signature` experiment: data, chunked application, probes, timing."""

import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .. import lattice_signature as ls


def upsample_28(x8):
    """8x8 digits -> 28x28: each pixel a 3x3 block, 2-pixel zero border; flattened (n, 784)."""
    img = np.asarray(x8).reshape(-1, 8, 8)
    big = np.kron(img, np.ones((1, 3, 3), img.dtype))
    return jnp.asarray(np.pad(big, ((0, 0), (2, 2), (2, 2))).reshape(-1, 784), jnp.float32)


def has_callback(jaxpr) -> bool:
    for eqn in jaxpr.eqns:
        if "callback" in eqn.primitive.name:
            return True
        for v in eqn.params.values():
            for s in v if isinstance(v, (list, tuple)) else [v]:
                inner = getattr(s, "jaxpr", None)
                if inner is not None and has_callback(getattr(inner, "jaxpr", inner)):
                    return True
    return False


def batched(fn):
    return jax.jit(jax.vmap(fn))


@eqx.filter_jit
def apply_jit(model, x):
    return jax.vmap(model)(x)


def apply_chunked(model, x, chunk: int):
    """`vmap(model)(x)` in fixed-size chunks (the last one padded), so that each model compiles
    once whatever the batch size."""
    c, n = chunk, x.shape[0]
    pad = -n % c
    xp = jnp.concatenate([x, jnp.broadcast_to(x[:1], (pad, x.shape[1]))]) if pad else x
    out = [apply_jit(model, xp[i : i + c]) for i in range(0, n + pad, c)]
    return jnp.concatenate(out)[:n]


@eqx.filter_jit
def count_opens(model, x):
    return jnp.sum(jax.vmap(model.verify)(x)[0] > 0.5)


def activator(bk):
    """One compiled batch activation per key (targets traced; the key is closed over because
    signing needs its concrete trapdoor on the host)."""
    return jax.jit(jax.vmap(lambda z, t: ls.activate(bk, z, t)))


def probe_inputs(seed, x_test, bk, num):
    """Uniform, noisy test inputs, on-grid (k/16) points, and canonical random-payload inputs."""
    rng = np.random.default_rng(seed)
    xt = np.asarray(x_test)
    d, a = xt.shape[1], num // 4
    enc = bk.encoding
    noisy = np.clip(xt[rng.integers(0, xt.shape[0], a)] + 0.05 * rng.standard_normal((a, d)), 0, 1)
    u = rng.integers(0, 1 << enc.grid_bits, (num - 3 * a, d))
    parts = [rng.random((a, d)), noisy, np.round(rng.random((a, d)) * 16) / 16,
             enc.centres(u, np.float32)]  # fmt: skip
    return jnp.asarray(np.concatenate(parts).astype(np.float32))


def timed(fn, *args, repeats=3):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    compile_s = time.perf_counter() - t0
    best = min(once(fn, *args) for _ in range(repeats))
    return compile_s, best


def once(fn, *args):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - t0


def throughput(base, bm_lat, bm_ed, x, xa_lat, xa_ed, repeats=3):
    """Examples/s of the two backdoored models under `jit(vmap)`, clean and activated inputs."""
    rows = {}
    for name, model, xa in (("lattice (network)", bm_lat, xa_lat),
                            ("Ed25519 (callback)", bm_ed, xa_ed), ("base", base, x)):  # fmt: skip
        f = eqx.filter_jit(lambda z, m=model: jax.vmap(m)(z))
        c, t_clean = timed(f, x, repeats=repeats)
        _, t_act = timed(f, xa, repeats=repeats)
        rows[name] = dict(compile_s=c, clean_per_s=x.shape[0] / t_clean,
                          activated_per_s=xa.shape[0] / t_act)  # fmt: skip
    return rows


def poisson_power(rows: list[tuple[int, float]], sds: float = 5.0) -> str:
    """Power of the rows' test "count <= expected + `sds` sd" (Poisson), as a sentence.

    For each row (`n` inputs, `expected` chance count) the smallest true rate of openings or
    differences that exceeds the row's threshold with probability >= 0.9 (scipy's Poisson
    quantiles; bisection on the rate); the sentence gives the largest of them over the rows, the
    smallest violation every row would catch.
    """
    from scipy import stats

    worst = 0.0
    for n, expected in rows:
        limit = int(np.floor(expected + sds * np.sqrt(expected)))  # flagged when count > limit
        lo, hi = expected / n, 1.0
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if stats.poisson.sf(limit, n * mid) < 0.9 else (lo, mid)
        worst = max(worst, hi - expected / n)
    return f"an excess rate of {worst:.2g} per input over chance is detected w.p. >= 0.9"

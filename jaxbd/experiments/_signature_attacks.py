"""Measurements of the `signature` experiment: black-box probes and replication attacks.

The attacks hold activated pairs `(x_i, x'_i)` but no key: replay the perturbation onto a new
input, transplant the carrier (the signature's fine digits, or the checksum's sign pattern),
flip bits of a valid payload, and random search (GKVZ §5.1–§5.2).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from .. import checksum, signature


@eqx.filter_jit
def outputs(model, x):
    return jax.vmap(model)(x)


def _fires_signature(model, x) -> np.ndarray:
    return np.asarray(signature.verify(model, x)[0])


@eqx.filter_jit
def fires_checksum(bk, x):
    return jax.vmap(lambda z: checksum.checksum(bk, z))(x)


def probe_inputs(key, x_test, num, lo=0.0, hi=1.0):
    """`num` inputs: uniform in the box, test inputs + Gaussian noise, and coarse-grid points."""
    k1, k2, k3, k4 = jr.split(key, 4)
    d = x_test.shape[1]
    a = num // 3
    uniform = jr.uniform(k1, (a, d), minval=lo, maxval=hi)
    idx = jr.randint(k2, (a,), 0, x_test.shape[0])
    noisy = x_test[idx] + 0.05 * (hi - lo) * jr.normal(k3, (a, d))
    grid = jnp.round(jr.uniform(k4, (num - 2 * a, d), minval=lo, maxval=hi) * 100) / 100
    return jnp.concatenate([uniform, noisy, grid])


def batch_activate(bk):
    """One compiled batch activation per key; the targets are traced (no recompiles)."""
    return jax.jit(jax.vmap(lambda z, t: signature.activate(bk, z, t)))


def _reencode(enc, u):
    return ((u.astype(np.float64) + 0.5) / enc.scale).astype(np.float32)


def signature_attacks(key, bm, bk, x, num):
    """Counts of backdoor openings by attackers who saw activated pairs but hold no key."""
    enc = bk.encoding
    m, b = enc.payload_coords, enc.bits_per_coord
    n = x.shape[0]
    ks = jr.split(key, 8)
    i = np.asarray(jr.randint(ks[0], (num,), 0, n))
    j = np.asarray(jr.randint(ks[1], (num,), 0, n))
    j = np.where(j == i, (j + 1) % n, j)
    labels = jnp.arange(enc.num_labels)
    if enc.binary:
        labels = jnp.array([-1.0, 1.0])
    t = labels[jr.randint(ks[2], (n,), 0, len(labels))]
    xa = batch_activate(bk)(x, t)
    xn, xan = np.asarray(x), np.asarray(xa)
    u_a = np.floor(xan.astype(np.float64) * enc.scale).astype(np.int64)
    u_x = np.floor(xn.astype(np.float64) * enc.scale).astype(np.int64)
    mask = (1 << b) - 1
    rng = np.random.default_rng(int(jr.randint(ks[3], (), 0, 2**31 - 1)))
    # 1. replay x'_i - x_i onto x_j.
    replay = xn[j] + (xan[i] - xn[i])
    # 2. transplant the fine digits (signature + target) of x'_i onto x_j's coarse digits.
    trans = xn[j].copy()
    trans[:, :m] = _reencode(enc, ((u_x[j, :m] >> b) << b) + (u_a[i, :m] & mask))
    # 3. flip one payload bit of a valid x'_i (re-encoded canonically).
    flip = xan[i].copy()
    col = rng.integers(0, m, num)
    bit = rng.integers(0, b, num)
    u_f = u_a[i].copy()
    u_f[np.arange(num), col] ^= 1 << bit
    flip[:, :m] = _reencode(enc, u_f[:, :m])
    # 4. random search: random canonical payloads on x_j.
    rand = xn[j].copy()
    rand[:, :m] = _reencode(
        enc, ((u_x[j, :m] >> b) << b) + rng.integers(0, 1 << b, (num, m), dtype=np.int64)
    )
    attacks = {
        "replay perturbation x'_i - x_i onto new x_j": replay,
        "transplant the carrier (fine digits) of x'_i onto x_j": trans,
        "flip one bit of a valid signature/target": flip,
        "random search (random payloads)": rand,
    }
    return {
        k: int(_fires_signature(bm, jnp.asarray(v, jnp.float32)).sum()) for k, v in attacks.items()
    }


def checksum_attacks(key, bk, x, num):
    n, d = x.shape
    ks = jr.split(key, 6)
    i = np.asarray(jr.randint(ks[0], (num,), 0, n))
    j = np.asarray(jr.randint(ks[1], (num,), 0, n))
    j = np.where(j == i, (j + 1) % n, j)
    xa = np.asarray(jax.vmap(lambda z: checksum.activate(bk, z, 1.0))(x))
    xn = np.asarray(x)
    rng = np.random.default_rng(int(jr.randint(ks[2], (), 0, 2**31 - 1)))
    # 1. replay the sign flips of (x_i, x'_i) onto x_j.
    replay = np.where(xa[i] != xn[i], -xn[j], xn[j])
    # 2. transplant the carrier (the sign pattern) of x'_i onto x_j (= checksum.replicate).
    trans = np.where(xa[i] >= 0, np.abs(xn[j]), -np.abs(xn[j]))
    # 3. flip two random signs of a valid x'_i (the analogue of a bit flip; survives when both
    #    fall in the same block).
    flip = xa[i].copy()
    others = np.delete(np.arange(d), bk.out_index)
    for a, row in zip(rng.integers(0, len(others), (num, 2)), flip):  # host-side index draws
        row[others[a]] *= -1
    # 4. random search: random sign patterns on x_j (magnitudes kept).
    rand = np.abs(xn[j]) * rng.choice([-1.0, 1.0], (num, d))
    attacks = {
        "replay perturbation x'_i - x_i onto new x_j": replay,
        "transplant the carrier (sign pattern) of x'_i onto x_j": trans,
        "flip two signs of a valid x'_i": flip,
        "random search (random sign patterns)": rand,
    }
    return {
        k: int(np.asarray(fires_checksum(bk, jnp.asarray(v, x.dtype))).sum())
        for k, v in attacks.items()
    }

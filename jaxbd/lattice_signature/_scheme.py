r"""The signature scheme on the host (numpy, exact int64 arithmetic mod q).

**Key generation** (MP12 §5.2, statistical instantiation; CHKP10 §5): $\hat A \leftarrow
\mathbb{Z}_q^{n \times (\bar m - n)}$, $R \leftarrow \{-1, 0, 1\}^{\bar m \times w}$ uniform
(redrawn while $s_1(R)$ exceeds `params.s1_bound`), $A_G = G - \bar A R$ with
$\bar A = [I_n \mid \hat A]$; extension blocks $A_i^{(0)}, A_i^{(1)}$ and the target $u$ uniform.
The public key is $(\hat A, A_G, A^{(0)}, A^{(1)}, u)$; the trapdoor is $R$.

**Signing** message bits $M \in \{0,1\}^k$ (CHKP's extension, sampled "left" as in
Agrawal–Boneh–Boyen 2010's SampleLeft): draw every extension block $e_i \leftarrow
D_{\mathbb{Z}^{m_1}, s}$, set $u' = u - \sum_i A_i^{(M_i)} e_i$, and draw $e_0 \leftarrow
D_{\Lambda^\perp_{u'}(A_0), s}$ with MP12's SampleD (Algorithm 3, §5.4):

1. perturbation $p \leftarrow D_{\mathbb{Z}^{m_0}, \sqrt{\Sigma_p}}$, $\Sigma_p = s^2 I - s_G^2
   [R; I][R; I]^T$: a continuous Gaussian of covariance $(\Sigma_p - r^2 I)/2\pi$ — its $w$
   gadget coordinates first (covariance $\propto (s^2 - r^2 - s_G^2) I$), then the $\bar m$ others
   conditionally (mean $-s_G^2 R y_2/(s^2 - r^2 - s_G^2)$, covariance the Schur complement
   $(s^2 - r^2)(I - \tfrac{s_G^2}{s^2 - r^2 - s_G^2} R R^T)$, through its Cholesky factor) —
   rounded with $D_{\mathbb{Z} - y, r}$ (Peikert 2010);
2. $v = u' - A_0 p$; $z \leftarrow D_{\Lambda^\perp_v(G), s_G}$ (`_gaussian.gadget_sample`);
3. $e_0 = p + [R; I] z$, so $A_0 e_0 = A_0 p + G z = u'$.

The output $e = (e_0, e_1, \dots, e_k)$ satisfies $A_M e \equiv u$ and is (statistically close
to) $D_{\Lambda^\perp_u(A_M), s}$, whatever $R$ is: the sampler's output does not depend on the
trapdoor beyond that (MP12 Thm 5.5). Draws with an entry outside the encodable range (or an
implied identity entry above $\tau$) are rejected and redrawn — a trapdoor-independent
condition, so the output stays trapdoor-independent (a truncated discrete Gaussian). The
signature **transmits** $e$ without its first $n$ entries (module `_params`).

**Randomness.** Signing is deterministic per message: NumPy's PCG64 seeded by
SHA-256(secret seed ‖ message), so signing the same input twice gives the same signature (two
different preimages of one message would hand out a short vector of $\Lambda^\perp(A_M)$; GPV
sign deterministically for this reason). PCG64 is *not* a cryptographic generator; its state
comes from SHA-256 of the secret seed and is never revealed, but this is research code, not a
vetted implementation (see also `_gaussian.py` on precision and timing).
"""

import hashlib
import math

import numpy as np

from ._gaussian import continuous_to_discrete, gadget_sample, round_gaussian
from ._params import LatticeParams


__all__ = [
    "gadget_matrix",
    "modmatmul",
    "keygen",
    "spectral_norm",
    "PreimageSampler",
    "message_rng",
    "sign",
    "selected_extension",
    "check_signature",
    "entries_to_bits",
    "bits_to_entries",
]

_TAG = b"jaxbd.lattice_signature.v1"


def gadget_matrix(p: LatticeParams) -> np.ndarray:
    """$G = I_n \\otimes (1, b, \\dots, b^{\\ell - 1})$, `(n, w)` int64."""
    g = p.base ** np.arange(p.digits, dtype=np.int64)
    return np.kron(np.eye(p.n, dtype=np.int64), g[None, :])


def modmatmul(a, b, q: int) -> np.ndarray:
    """`a @ b mod q` exactly (int64 result in `[0, q)`), through float64 BLAS when every partial
    sum stays below 2^52 and by splitting `b`'s entries into 16-bit halves otherwise."""
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    inner = a.shape[-1]
    amax = int(np.max(np.abs(a))) if a.size else 0
    bmax = int(np.max(np.abs(b))) if b.size else 0
    if amax * bmax * max(inner, 1) < 2**52:
        return np.mod(np.rint(a.astype(np.float64) @ b.astype(np.float64)).astype(np.int64), q)
    if bmax >= 2**32:
        raise ValueError("modmatmul: entries too large.")
    lo, hi = np.mod(b, 1 << 16), np.floor_divide(b, 1 << 16)
    return np.mod(modmatmul(a, lo, q) + (modmatmul(a, hi, q) << 16), q)


def spectral_norm(r: np.ndarray, *, iters: int = 60, seed: int = 0) -> float:
    """Largest singular value of `r`: exact (LAPACK) for small matrices, power iteration on
    $R^T R$ for large ones (a lower estimate; the sampler's Cholesky factorisation then certifies
    the positive definiteness that the bound is for)."""
    rf = np.asarray(r, np.float64)
    if rf.size <= 100_000:
        return float(np.linalg.norm(rf, 2))
    v = np.random.default_rng(seed).standard_normal(rf.shape[1])
    lam = 0.0
    for _ in range(iters):
        v = rf.T @ (rf @ v)
        lam = float(np.linalg.norm(v))
        v /= lam
    return math.sqrt(lam)


def keygen(rng: np.random.Generator, p: LatticeParams, *, max_tries: int = 8) -> dict:
    """Public key and trapdoor (module docstring): a dict of int64 arrays `a_hat (n, mbar-n)`,
    `a_gadget (n, w)`, `ext0`, `ext1 (n, k*m1)`, `u (n,)` and the int8 trapdoor `r (mbar, w)`."""
    q = p.q
    a_hat = rng.integers(0, q, (p.n, p.mbar - p.n), dtype=np.int64)
    for _ in range(max_tries):
        r = rng.integers(-1, 2, (p.mbar, p.w), dtype=np.int8)
        if spectral_norm(r) <= p.s1_bound:
            break
    else:  # pragma: no cover - probability far below 2^-100 for the presets
        raise RuntimeError("could not draw a trapdoor R below params.s1_bound.")
    abar_r = np.mod(r[: p.n].astype(np.int64) + modmatmul(a_hat, r[p.n :], q), q)
    a_gadget = np.mod(gadget_matrix(p) - abar_r, q)
    k = p.extension_entries
    ext0 = rng.integers(0, q, (p.n, k), dtype=np.int64)
    ext1 = rng.integers(0, q, (p.n, k), dtype=np.int64)
    u = rng.integers(0, q, (p.n,), dtype=np.int64)
    return dict(a_hat=a_hat, a_gadget=a_gadget, ext0=ext0, ext1=ext1, u=u, r=r)


class PreimageSampler:
    """MP12 SampleD for $A_0 = [I \\mid \\hat A \\mid A_G]$ with trapdoor `r` (module docstring).
    The Cholesky factor of the Schur complement is computed once here ($O(\\bar m^3)$)."""

    def __init__(self, p: LatticeParams, a_hat, a_gadget, r):
        self.p = p
        self.a_hat = np.asarray(a_hat, np.int64)
        self.a_gadget = np.asarray(a_gadget, np.int64)
        self.r = np.asarray(r, np.float64)
        s2, r2, sg2 = p.s**2, p.r**2, p.s_gadget**2
        self.c = s2 - r2 - sg2
        a = s2 - r2
        schur = a * np.eye(p.mbar) - (sg2 * a / self.c) * (self.r @ self.r.T)
        try:
            self.chol = np.linalg.cholesky(schur)
        except np.linalg.LinAlgError:
            raise ValueError(
                "the trapdoor's largest singular value is too large for params.s: MP12's "
                "perturbation covariance is not positive definite."
            ) from None

    def sample(self, rng: np.random.Generator, target) -> np.ndarray:
        """$e_0 \\sim D_{\\Lambda^\\perp_{target}(A_0), s}$, `(m0,)` int64, $A_0 e_0 \\equiv$ target."""
        p = self.p
        y2 = rng.standard_normal(p.w) * math.sqrt(self.c / (2 * math.pi))
        mu = -(p.s_gadget**2 / self.c) * (self.r @ y2)
        y1 = mu + self.chol @ rng.standard_normal(p.mbar) / math.sqrt(2 * math.pi)
        pert = round_gaussian(rng, np.concatenate([y1, y2]), p.r)
        v = np.mod(np.asarray(target, np.int64) - self.apply(pert), p.q)
        z = gadget_sample(rng, v, base=p.base, digits=p.digits, s_g=p.s_gadget)
        rz = np.rint(self.r @ z).astype(np.int64)
        return pert + np.concatenate([rz, z])

    def apply(self, e0) -> np.ndarray:
        """$A_0 e_0 \\bmod q$."""
        p = self.p
        n = p.n
        return np.mod(
            e0[:n]
            + modmatmul(self.a_hat, e0[n : p.mbar], p.q)
            + modmatmul(self.a_gadget, e0[p.mbar :], p.q),
            p.q,
        )


def message_rng(seed: bytes, message) -> np.random.Generator:
    """The per-message generator: PCG64 seeded by SHA-256(tag ‖ seed ‖ packed message bits)."""
    bits = np.asarray(message, np.uint8)
    digest = hashlib.sha256(_TAG + bytes(seed) + np.packbits(bits).tobytes()).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(digest, "little")))


def selected_extension(p: LatticeParams, ext0, ext1, message) -> np.ndarray:
    """$[A_1^{(M_1)} \\mid \\dots \\mid A_k^{(M_k)}]$, `(n, k*m1)`."""
    sel = np.repeat(np.asarray(message, bool), p.block_width)
    return np.where(sel[None, :], np.asarray(ext1), np.asarray(ext0))


def _implied_identity(p: LatticeParams, public: dict, message, entries) -> np.ndarray:
    """$e_I = u - A' e' \\bmod q$, centred in $[-q/2, q/2)$."""
    q, n = p.q, p.n
    base = np.concatenate([np.asarray(public["a_hat"]), np.asarray(public["a_gadget"])], axis=1)
    ext = selected_extension(p, public["ext0"], public["ext1"], message)
    k = p.base_entries
    e = np.asarray(entries, np.int64)
    z = modmatmul(base, e[:k], q) + modmatmul(ext, e[k:], q)
    r = np.mod(np.asarray(public["u"], np.int64) - z, q)
    del n
    return np.where(r >= q // 2, r - q, r)


def check_signature(p: LatticeParams, public: dict, message, entries) -> bool:
    """Host reference verification: entries in $[-B, B-1]$ and $\\mathrm{dist}(A'e' - u,
    q\\mathbb{Z}) \\le \\tau$ row by row (exact)."""
    e = np.asarray(entries, np.int64)
    if e.shape != (p.entries,) or np.any(e < -p.bound) or np.any(e > p.bound - 1):
        return False
    return bool(np.all(np.abs(_implied_identity(p, public, message, e)) <= p.tolerance))


def sign(p: LatticeParams, sampler: PreimageSampler, public: dict, seed: bytes, message,
         *, max_tries: int = 64) -> np.ndarray:  # fmt: skip
    """The transmitted signature entries `(L,)` of `message` (module docstring)."""
    rng = message_rng(seed, message)
    ext = selected_extension(p, public["ext0"], public["ext1"], message)
    u = np.asarray(public["u"], np.int64)
    for _ in range(max_tries):
        e_ext = continuous_to_discrete(rng, p.extension_entries, p.s, p.r)
        target = np.mod(u - modmatmul(ext, e_ext, p.q), p.q)
        e0 = sampler.sample(rng, target)
        e_id, sent = e0[: p.n], np.concatenate([e0[p.n :], e_ext])
        in_range = np.all(sent >= -p.bound) and np.all(sent <= p.bound - 1)
        if in_range and np.all(np.abs(e_id) <= p.tolerance):
            if not check_signature(p, public, message, sent):  # pragma: no cover
                raise AssertionError("sampled preimage does not verify (internal error).")
            return sent
    raise RuntimeError(  # pragma: no cover - rejection probability is ~1% per draw
        f"signing rejected {max_tries} draws in a row (params.tail too small?)."
    )


def entries_to_bits(entries, entry_bits: int) -> np.ndarray:
    """Two's complement, least significant bit first: `(L,)` -> `(L, entry_bits)` uint8."""
    e = np.mod(np.asarray(entries, np.int64), 1 << entry_bits)
    return ((e[:, None] >> np.arange(entry_bits)) & 1).astype(np.uint8)


def bits_to_entries(bits, entry_bits: int) -> np.ndarray:
    """Inverse of [`entries_to_bits`][]: the sign bit weighs $-2^{b_e - 1}$."""
    b = np.asarray(bits, np.int64).reshape(-1, entry_bits)
    w = 1 << np.arange(entry_bits, dtype=np.int64)
    w[-1] = -w[-1]
    return b @ w

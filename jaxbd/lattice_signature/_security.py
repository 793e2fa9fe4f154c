r"""Concrete security estimates: the root-Hermite-factor / core-SVP method, shown in code.

**Method** (the "core-SVP" methodology of Alkim–Ducas–Pöppelmann–Schwabe 2016, NewHope §6, as
used for Dilithium's and Falcon's SIS estimates):

1. BKZ with block size β reaches root-Hermite factor $\delta_\beta$: for β > 40 Chen's
   asymptotic formula $\delta_\beta = \big((\pi\beta)^{1/\beta}\,\beta/(2\pi e)\big)^{1/(2(\beta -
   1))}$ (Chen 2013, PhD thesis; Chen–Nguyen 2011); for β ≤ 40 the experimentally measured values
   tabulated by the lattice-estimator (Albrecht et al., `estimator/reduction.py`: 1.0219 for LLL,
   ..., 1.01295 for BKZ-40).
2. A forger attacks the $q$-ary lattice $\Lambda_q^\perp(A) = \{x : Ax \equiv 0 \bmod q\}$ of
   determinant $q^n$, restricted to a sub-lattice of its best dimension $d' \le d$ (zeroing the
   other columns). BKZ-β finds vectors of norm $\delta_\beta^{d'} q^{n/d'}$ there (geometric
   series assumption), provided this is below $q$ (else it returns the trivial $q$-vectors).
3. **Success criterion** (conservative, i.e. favourable to the attacker): the verifier bounds
   every coordinate by $B_\infty$; we count the attack as successful as soon as that norm is at
   most $B_\infty \sqrt{d'}$ (root-mean-square coordinate $\le B_\infty$). A real attacker
   needs the *maximum* coordinate below $B_\infty$, about 3–4× stricter.
4. **Cost**: $2^{0.292\beta}$ classical (sieving, Becker–Ducas–Gama–Laarhoven 2016),
   $2^{0.265\beta}$ quantum (Laarhoven 2015). "Bits" below are these exponents (core-SVP: one
   SVP call in dimension β, ignoring the number of BKZ tours — an underestimate of the cost).

Three problems are estimated for a parameter set (the scheme is broken by solving any one):

- **forgery** (existential unforgeability): ISIS on $A_M$, $d = n + L$ columns, bound $B$ (the
  Kannan embedding adds one dimension; ignored).
- **second signature** (strong unforgeability, GKVZ Thm 5.4 needs it): SIS on $A_M$ with the
  bound of a difference of two signatures, $2B - 1$.
- **message-hash collision**: SIS on the hash matrix $H \in \mathbb{Z}_{q_h}^{n_h \times N}$
  with bound 1 (two bit vectors differ by a ternary vector), $N$ the hashed input bits.

and a fourth, which needs no lattice at all:

- **random guess**: random signature bits pass the relaxed check of one row with probability
  $(2\tau + 1)/q$, so all $n$ rows with probability $2^{-\text{bits}}$, $\text{bits} =
  n \log_2(q / (2\tau + 1))$ (the relaxation of App. C costs exactly this; it is 12 bits for
  "toy", which the experiment's random search does hit).

Also reported: $\log_2$ of the leftover-hash-lemma bound on the statistical distance of the
public key from uniform ([`public_key_distance_log2`][]), which makes key recovery irrelevant.
"""

import dataclasses
import math

import numpy as np

from .._validate import check_int_range, check_range
from ._params import LatticeParams, get_params


__all__ = [
    "root_hermite_factor",
    "SISAttack",
    "SecurityEstimate",
    "sis_attack",
    "security_estimate",
    "public_key_distance_log2",
    "CLASSICAL_COST",
    "QUANTUM_COST",
]

CLASSICAL_COST = 0.292  # BDGL16 sieving exponent
QUANTUM_COST = 0.265  # Laarhoven 2015
# lattice-estimator's measured root-Hermite factors for small block sizes (step function).
_SMALL = ((2, 1.02190), (5, 1.01862), (10, 1.01616), (15, 1.01485), (20, 1.01420),
          (25, 1.01342), (28, 1.01331), (40, 1.01295))  # fmt: skip


def root_hermite_factor(beta: int) -> float:
    """$\\delta_\\beta$ of BKZ-β (module docstring, step 1). `beta <= 2` is LLL."""
    beta = check_int_range(beta, "beta", low=1, high=1 << 20)
    if beta <= 2:
        return _SMALL[0][1]
    if beta < 40:
        for i in range(1, len(_SMALL)):
            if _SMALL[i][0] > beta:
                return _SMALL[i - 1][1]
    if beta == 40:
        return _SMALL[-1][1]
    return (beta / (2 * math.pi * math.e) * (math.pi * beta) ** (1 / beta)) ** (
        1 / (2 * (beta - 1))
    )


@dataclasses.dataclass(frozen=True)
class SISAttack:
    """The cheapest BKZ attack found: block size `beta` (2 = LLL), sub-lattice dimension
    `dimension`, the norm it reaches (`log2_norm`) against the target (`log2_target`), and the
    core-SVP costs in bits. `beta = None` when no β up to 4096 succeeds (cost reported as
    `inf`)."""

    problem: str
    n: int
    log_q: int | float
    max_dimension: int | None
    bound: int
    beta: int | None
    dimension: int | None
    log2_norm: float | None
    log2_target: float | None

    @property
    def classical_bits(self) -> float:
        return math.inf if self.beta is None else CLASSICAL_COST * self.beta

    @property
    def quantum_bits(self) -> float:
        return math.inf if self.beta is None else QUANTUM_COST * self.beta


def _best_dimension(
    beta: int, n: int, log_q: int | float, max_dim: int | None, bound: int | float
) -> tuple[int, float, float] | None:
    """Sub-lattice dimensions d' where BKZ-β meets the criterion; the best one (or None)."""
    ld = math.log2(root_hermite_factor(beta))
    top = max_dim if max_dim is not None else max(n + 2, int(4 * math.sqrt(n * log_q / ld)) + 2)
    d = np.arange(n + 1, top + 1, dtype=np.float64)
    if d.size == 0:
        return None
    norm = ld * d + n * log_q / d
    target = math.log2(bound) + 0.5 * np.log2(d)
    ok = (norm < log_q) & (norm <= target)
    if not np.any(ok):
        return None
    i = int(np.argmax(np.where(ok, target - norm, -np.inf)))
    return int(d[i]), float(norm[i]), float(target[i])


def sis_attack(
    n: int, log_q: int | float, max_dimension: int | None, bound: int, *, problem: str = "SIS"
) -> SISAttack:
    """The smallest BKZ block size that finds a vector of $\\Lambda_q^\\perp(A)$, $A \\in
    \\mathbb{Z}_q^{n \\times d}$ (`d = max_dimension`, `None` = unlimited), meeting the ℓ∞
    bound `bound` under the module's criterion. Success is monotone in β: binary search."""
    n = check_int_range(n, "n", low=1)
    check_range(log_q, "log_q", low=1.0, high=64.0)
    if max_dimension is not None:
        max_dimension = check_int_range(max_dimension, "max_dimension", low=1)
    bound = check_int_range(bound, "bound", low=1)
    if not isinstance(problem, str):
        raise ValueError(f"`problem` must be a string (a label), got {problem!r}.")
    if bound >= 2.0 ** (log_q - 1):  # reduce any solution mod q: entries within q/2
        return SISAttack(problem, n, log_q, max_dimension, bound, 2, n, log_q - 1, log_q - 1)
    lo, hi = 2, 4096
    at_hi = _best_dimension(hi, n, log_q, max_dimension, bound)
    if at_hi is None:
        return SISAttack(problem, n, log_q, max_dimension, bound, None, None, None, None)
    best = _best_dimension(lo, n, log_q, max_dimension, bound)
    if best is None:  # bisect for the smallest feasible block size in (lo, hi]
        while hi - lo > 1:
            mid = (lo + hi) // 2
            at_mid = _best_dimension(mid, n, log_q, max_dimension, bound)
            if at_mid is None:
                lo = mid
            else:
                hi, at_hi = mid, at_mid
        lo, best = hi, at_hi
    d, norm, target = best
    return SISAttack(problem, n, log_q, max_dimension, bound, lo, d, norm, target)


def public_key_distance_log2(params: LatticeParams) -> float:
    r"""$\log_2$ of the leftover-hash-lemma bound on the statistical distance between the public
    key $[\hat A \mid G - \bar A R]$ and uniform.

    Per column $r$ of $R$, with $r_2$ its $m' = \bar m - n$ entries multiplying $\hat A$
    (uniform ternary; ignoring $r_1$ is conservative) and $q = 2^\kappa$: the collision
    probability of $\hat A r_2$ is at most $3^{-m'} + q^{-n} + (5/9)^{m'} 2^{-n(\kappa - 1)}$
    (a difference of two ternary vectors is either 0, has an odd entry — then $\hat A\Delta$ is
    uniform — or is even, with probability $(5/9)^{m'}$), so the distance is at most
    $\tfrac12\sqrt{2^{n\kappa} 3^{-m'} + 2^n (5/9)^{m'}}$, times $w$ columns (hybrid argument).
    """
    p = get_params(params)
    mp = p.mbar - p.n
    a = p.n * p.log_q - mp * math.log2(3)
    b = p.n - mp * math.log2(9 / 5)
    top = max(a, b)
    log_sum = top + math.log2(2.0 ** (a - top) + 2.0 ** (b - top))
    return math.log2(p.w) - 1 + 0.5 * log_sum


@dataclasses.dataclass(frozen=True)
class SecurityEstimate:
    """[`security_estimate`][]'s result: the three attacks, the public key's distance from
    uniform, and the minimum costs (`classical_bits`, `quantum_bits`)."""

    params: str
    forgery: SISAttack
    second_signature: SISAttack
    hash_collision: SISAttack
    public_key_distance_log2: float
    method: str
    random_guess_bits: float = math.inf

    @property
    def attacks(self) -> tuple[SISAttack, ...]:
        return (self.forgery, self.second_signature, self.hash_collision)

    @property
    def classical_bits(self) -> float:
        return min(min(a.classical_bits for a in self.attacks), self.random_guess_bits)

    @property
    def quantum_bits(self) -> float:
        # Grover would halve the guessing exponent; core-SVP quantum for the lattice attacks.
        return min(min(a.quantum_bits for a in self.attacks), self.random_guess_bits / 2)

    @property
    def weakest(self) -> SISAttack:
        return min(self.attacks, key=lambda a: a.classical_bits)

    def summary(self) -> str:
        w = self.weakest
        how = "LLL" if w.beta == 2 else f"BKZ-{w.beta}"
        return (
            f"{self.params}: {self.classical_bits:.0f}-bit classical / {self.quantum_bits:.0f}-bit "
            f"quantum core-SVP (weakest lattice attack: {w.problem}, {how} in dimension "
            f"{w.dimension}; random guess 2^-{self.random_guess_bits:.0f}); public key within "
            f"2^{self.public_key_distance_log2:.0f} of uniform"
        )


METHOD = (
    "core-SVP (ADPS16): BKZ-β reaches δ_β (Chen 2013; lattice-estimator table for β ≤ 40); "
    "success when δ_β^d' q^(n/d') ≤ B_∞·sqrt(d') in the best sub-dimension d'; cost 2^(0.292β) "
    "classical (BDGL16), 2^(0.265β) quantum (Laarhoven 2015)"
)


def security_estimate(params, *, hashed_bits: int | None = None) -> SecurityEstimate:
    """Estimate the security of a parameter set (module docstring).

    **Arguments:** `params` (a [`LatticeParams`][] or preset name); `hashed_bits`, the number
    $N$ of input bits the message hash reads (`Encoding.hashed_bits`; `None` = unlimited, the
    attacker's best case).

    **Returns:** a [`SecurityEstimate`][].
    """
    p = get_params(params)
    if hashed_bits is not None:
        hashed_bits = check_int_range(hashed_bits, "hashed_bits", low=1)
    dim = p.n + p.entries
    forgery = sis_attack(p.n, p.log_q, dim, p.bound, problem="forgery (ISIS on A_M)")
    second = sis_attack(
        p.n, p.log_q, dim, 2 * p.bound - 1, problem="second signature (SIS on A_M)"
    )
    hcol = sis_attack(
        p.hash_rows, p.hash_log_q, hashed_bits, 1, problem="message-hash collision (SIS on H)"
    )
    guess = p.n * (p.log_q - math.log2(2 * p.tolerance + 1))
    return SecurityEstimate(
        p.name, forgery, second, hcol, public_key_distance_log2(p), METHOD, guess
    )

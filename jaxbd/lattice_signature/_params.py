r"""Parameters of the lattice signature: MP12 gadget trapdoor + CHKP message extension.

Every derived quantity (Gaussian widths, the encodable range, sizes) is a deterministic function
of the primary fields below, so a model and its key agree on them by holding the same
[`LatticeParams`][] (a frozen dataclass, saved as plain numbers).

Notation (Micciancio–Peikert 2012, "Trapdoors for lattices", §4–5; Cash–Hofheinz–Kiltz–Peikert
2010, "Bonsai trees", §5):

- $q = 2^\kappa$; gadget base $b = 2^g$, $\ell = \kappa / g$ digits, $g^T = (1, b, \dots,
  b^{\ell-1})$, $G = I_n \otimes g^T \in \mathbb{Z}_q^{n \times w}$, $w = n\ell$.
- $\bar A = [I_n \mid \hat A] \in \mathbb{Z}_q^{n \times \bar m}$ (Hermite normal form),
  trapdoor $R \in \{-1, 0, 1\}^{\bar m \times w}$ uniform, $A_0 = [\bar A \mid G - \bar A R]$.
  $\bar m - n$ is set by the leftover hash lemma so that $\hat A R$ is within $2^{-\lambda}$ of
  uniform per column (statistical instantiation, MP12 §5.2): see
  [`jaxbd.lattice_signature.public_key_distance_log2`][].
- CHKP: per message bit $i \in [k]$ two blocks $A_i^{(0)}, A_i^{(1)} \in \mathbb{Z}_q^{n \times
  m_1}$; $A_M = [A_0 \mid A_1^{(M_1)} \mid \dots \mid A_k^{(M_k)}]$. The message $M$ is
  $k = n_h \kappa_h$ bits (an SIS hash of the input, `_encoding.py`). **Heuristic:** CHKP's
  proof needs wide blocks ($m_1 \gtrsim n\log q$, for the reduction's trapdoor embedding); the
  presets use `block_width` $m_1 = 1$ to keep signatures small, so their forgery security rests
  on the ISIS estimate (`_security.py`), not on CHKP's reduction.
- Rounding width $r = \sqrt 2\, \eta$ with $\eta = \sqrt{\ln(2 m_0 (1 + 2^{\lambda_\varepsilon}))
  /\pi} \ge \eta_\varepsilon(\mathbb{Z}^{m_0})$ (GPV08 Lemma 3.3), $m_0 = \bar m + w$;
  gadget sampling width $s_G = b\, r$ ($\|\tilde S\| = b$ for the power-of-$b$ gadget basis);
  preimage width $s = 1.01\sqrt{s_G^2 (s_1^2 + 1) + 2r^2}$ with $s_1$ the bound
  `s1_bound` on the largest singular value of $R$ (key generation redraws $R$ above it), so that
  MP12's perturbation covariance $\Sigma_p = s^2 I - s_G^2 [R; I][R; I]^T$ satisfies
  $\Sigma_p - r^2 I \succeq r^2 I$ (MP12 Thm 5.5 / §5.4 with Peikert's convolution).
- Signature entries are discrete Gaussians of standard deviation $\sigma = s / \sqrt{2\pi}$,
  written as `entry_bits`-bit two's complement: the encodable range is $[-B, B - 1]$,
  $B = 2^{\texttt{entry\_bits} - 1} \ge$ `tail` $\cdot \sigma$. The identity block of $A_0$ is
  **not transmitted**: its entries are implied, $e_I = u - A' e' \bmod q$, and verification only
  checks $\mathrm{dist}(A' e' - u, q\mathbb{Z}) \le \tau = B - 1$ per row — GKVZ App. C's
  relaxed check with $\alpha q = \tau + 1/2$ (this library's reading of App. C's $\alpha$).
"""

import dataclasses
import math

from .._validate import check_int_range


__all__ = ["LatticeParams", "PARAMETER_SETS", "DEFAULT_PARAMS", "get_params"]

MAX_LOG_Q = 20  # exact float32 modular arithmetic in the network needs 4q <= 2^22 (_layers.py)


@dataclasses.dataclass(frozen=True)
class LatticeParams:
    """One parameter set of the lattice signature (module docstring for the notation).

    **Fields:** `name`; `n` (SIS rows); `log_q` ($\\kappa$, $q = 2^\\kappa$, `4..20`);
    `log_base` ($g$, divides `log_q`); `hash_rows` ($n_h$) and `hash_log_q` ($\\kappa_h$) of the
    message hash ($k = n_h \\kappa_h$ message bits); `block_width` ($m_1$, CHKP block columns);
    `stat_security` (λ of the leftover hash lemma for the public key); `smoothing_security`
    ($\\lambda_\\varepsilon$ of the smoothing width $r$); `tail` (encodable range in standard
    deviations); `note` (free text, e.g. "INSECURE").
    """

    name: str
    n: int
    log_q: int
    log_base: int = 1
    hash_rows: int = 4
    hash_log_q: int = 16
    block_width: int = 1
    stat_security: int = 64
    smoothing_security: int = 64
    tail: float = 5.5
    note: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not isinstance(self.note, str):
            raise ValueError("`name` and `note` must be strings.")
        check_int_range(self.n, "n", low=1, high=4096)
        check_int_range(self.log_q, "log_q", low=4, high=MAX_LOG_Q)
        g = check_int_range(self.log_base, "log_base", low=1, high=self.log_q)
        if self.log_q % g:
            raise ValueError(f"`log_base`={g} must divide `log_q`={self.log_q}.")
        check_int_range(self.hash_rows, "hash_rows", low=1, high=4096)
        check_int_range(self.hash_log_q, "hash_log_q", low=1, high=MAX_LOG_Q)
        check_int_range(self.block_width, "block_width", low=1, high=4096)
        check_int_range(self.stat_security, "stat_security", low=1, high=512)
        check_int_range(self.smoothing_security, "smoothing_security", low=1, high=512)
        if not isinstance(self.tail, (int, float)) or not 1.0 <= float(self.tail) <= 20.0:
            raise ValueError(f"`tail` must be a number in [1, 20], got {self.tail!r}.")
        if 4 * self.bound >= self.q:
            raise ValueError(
                f"parameter set {self.name!r}: the encodable range B = {self.bound} is not below "
                f"q/4 = {self.q // 4} (a difference of two signatures must stay below q/2); "
                "raise `log_q` or lower `n`/`log_base`."
            )

    # --- lattice -------------------------------------------------------------------------
    @property
    def q(self) -> int:
        return 1 << self.log_q

    @property
    def base(self) -> int:
        return 1 << self.log_base

    @property
    def digits(self) -> int:
        """$\\ell = \\kappa / g$, gadget digits per row."""
        return self.log_q // self.log_base

    @property
    def w(self) -> int:
        """Gadget columns $w = n\\ell$."""
        return self.n * self.digits

    @property
    def mbar(self) -> int:
        r"""Columns of $\bar A = [I_n | \hat A]$: $n + \max(\lceil (n\kappa + 2\lambda)/\log_2 3
        \rceil, \lceil (n + 2\lambda)/\log_2(9/5) \rceil)$ (leftover hash lemma for $\hat A r$
        with $r$ uniform ternary; the second term bounds the collisions of $r$ mod 2, which
        matter because $q$ is a power of two: `_security.public_key_distance_log2`)."""
        lam = self.stat_security
        a = math.ceil((self.n * self.log_q + 2 * lam) / math.log2(3))
        b = math.ceil((self.n + 2 * lam) / math.log2(9 / 5))
        return self.n + max(a, b)

    @property
    def m0(self) -> int:
        return self.mbar + self.w

    @property
    def message_bits(self) -> int:
        """$k = n_h \\kappa_h$."""
        return self.hash_rows * self.hash_log_q

    @property
    def base_entries(self) -> int:
        """Transmitted entries of the $A_0$ part: $m_0 - n$ (the identity block is implied)."""
        return self.m0 - self.n

    @property
    def extension_entries(self) -> int:
        return self.message_bits * self.block_width

    @property
    def entries(self) -> int:
        """$L$: transmitted signature entries."""
        return self.base_entries + self.extension_entries

    # --- Gaussian widths (s-convention: rho_s(x) = exp(-pi x^2 / s^2)) ---------------------
    @property
    def eta(self) -> float:
        """Upper bound on the smoothing parameter $\\eta_\\varepsilon(\\mathbb{Z}^{m_0})$,
        $\\varepsilon = 2^{-\\lambda_\\varepsilon}$ (GPV08 Lemma 3.3)."""
        eps = 2.0**-self.smoothing_security
        return math.sqrt(math.log(2 * self.m0 * (1 + 1 / eps)) / math.pi)

    @property
    def r(self) -> float:
        """Rounding width $r = \\sqrt 2\\,\\eta$: Peikert's convolution theorem (2010, Thm 3.1)
        needs $(\\Sigma_1^{-1} + r^{-2} I)^{-1/2} \\ge \\eta$, met with $\\Sigma_1 \\succeq r^2 I$."""
        return math.sqrt(2) * self.eta

    @property
    def s_gadget(self) -> float:
        return self.base * self.r

    @property
    def s1_bound(self) -> float:
        """Accepted largest singular value of $R$: 1.2 x the Bai–Yin value
        $\\sqrt{2/3}(\\sqrt{\\bar m} + \\sqrt w)$ for uniform ternary entries."""
        return 1.2 * math.sqrt(2 / 3) * (math.sqrt(self.mbar) + math.sqrt(self.w))

    @property
    def s(self) -> float:
        return 1.01 * math.sqrt(self.s_gadget**2 * (self.s1_bound**2 + 1) + 2 * self.r**2)

    @property
    def sigma(self) -> float:
        return self.s / math.sqrt(2 * math.pi)

    @property
    def entry_bits(self) -> int:
        """Two's-complement bits per transmitted entry: $2^{b_e - 1} \\ge$ tail·σ + 1."""
        return 1 + max(1, math.ceil(math.log2(self.tail * self.sigma + 1)))

    @property
    def bound(self) -> int:
        """$B$: entries are encoded in $[-B, B - 1]$."""
        return 1 << (self.entry_bits - 1)

    @property
    def tolerance(self) -> int:
        """$\\tau = \\alpha q - 1/2$: the implied identity-block entries satisfy $|e_I| \\le \\tau$."""
        return self.bound - 1

    @property
    def alpha(self) -> float:
        """GKVZ App. C's $\\alpha$: accept iff $\\mathrm{dist}(z, q\\mathbb{Z}) \\le \\alpha q$."""
        return (self.tolerance + 0.5) / self.q

    @property
    def signature_bits(self) -> int:
        return self.entries * self.entry_bits


def _presets() -> dict:
    sets = [
        LatticeParams(
            "toy", n=4, log_q=12, hash_rows=2, hash_log_q=8, stat_security=8,
            smoothing_security=16, note="INSECURE: test parameters (forged by LLL in well "
            "under a second)",
        ),
        *(
            LatticeParams(
                f"d{d}", n=n, log_q=16, hash_rows=4, hash_log_q=16, stat_security=16,
                smoothing_security=32, note=f"INSECURE: the largest set found that fits d = {d} "
                "at 16 payload bits per coordinate; forged by LLL",
            )
            for d, n in ((256, 12), (784, 40))  # input_dim -> the largest n that fits it
        ),
        LatticeParams(
            "default", n=640, log_q=16, log_base=2, hash_rows=64, hash_log_q=16,
            stat_security=64, smoothing_security=64, note="about 100-bit classical core-SVP "
            "(security_estimate); needs input_dim >= min_input_dim(...) ~ 1.1e4",
        ),
    ]  # fmt: skip
    return {p.name: p for p in sets}


PARAMETER_SETS: dict = _presets()
DEFAULT_PARAMS: LatticeParams = PARAMETER_SETS["default"]


def get_params(params, *, name: str = "params") -> LatticeParams:
    """A [`LatticeParams`][] from an instance or a preset name (`ValueError` naming `params`,
    or `name`)."""
    if isinstance(params, LatticeParams):
        return params
    if isinstance(params, str) and params in PARAMETER_SETS:
        return PARAMETER_SETS[params]
    raise ValueError(
        f"`{name}` must be a LatticeParams or one of {sorted(PARAMETER_SETS)}, got {params!r}."
    )

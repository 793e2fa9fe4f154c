r"""How a message, a target and a signature sit in an input $x \in [0, 1)^d$.

**Grid.** With `grid_bits` $F$ (default 23, the finest fixed-point grid whose cell centres are
exact float32 numbers in $[0, 1)$), every coordinate has the integer $u_j = \lfloor 2^F x_j
\rfloor \in [0, 2^F)$ and its $F$ bits $u_{j,t}$ ($t = 0$ least significant). An input is
**canonical** when every coordinate is the centre of its cell, $x_j = (u_j + 1/2)/2^F$; the
verifier accepts only canonical inputs in $[0, 1)^d$ (the network checks it exactly, `_model.py`),
so accepted inputs correspond one to one to bit strings $u$ — nothing is malleable below the grid
(GKVZ Def. 4.7 requires $\tilde x^* \ne \tilde x_i$: an input one ulp away from an activated one
must not open the backdoor).

**Payload.** The low $b$ = `grid_bits - coarse_bits` bits of the first $m$ coordinates (the
*carriers*) hold, as one bit stream (coordinate-major, least significant bit first): the
signature ($L$ entries × `entry_bits` two's-complement bits, entry-major), then the target index
($T = \lceil \log_2 c \rceil$ bits; binary: index 0 ↔ label −1, 1 ↔ +1), then zero padding.
$m = \lceil (L b_e + T) / b \rceil$.

**Message.** Every grid bit *except the signature's* — the carriers' `coarse_bits` high bits,
all $F$ bits of the other coordinates, the target bits and the padding — is hashed into the
$k$ CHKP message bits by the SIS hash $M = \mathrm{bits}(H v \bmod q_h)$ (Ajtai 1996: a collision
is a ternary vector in $\Lambda^\perp_{q_h}(H)$). Changing any of these bits changes $v$ and (up
to a hash collision) the message.

**Perturbation size** of [`jaxbd.lattice_signature.activate`][] on $x \in [0, 1]^d$ (exact):
a carrier moves inside its coarse cell, $|x'_j - x_j| < 2^{-\texttt{coarse\_bits}}$; every other
coordinate moves to its cell centre, $|x'_j - x_j| \le 2^{-(F+1)}$ ($= 2^{-24}$ by default, one
float32 ulp at 1). So $\ell_\infty < 2^{-\texttt{coarse\_bits}}$, $\ell_0 \le d$ (all but the
coordinates already at a centre), and $\ell_2 < \sqrt{m}\, 2^{-\texttt{coarse\_bits}} + \sqrt{d}
\, 2^{-(F+1)}$. (`x_j = 1.0` is moved into the last cell.)
"""

import dataclasses
import math

import numpy as np

from .._validate import check_int_range


__all__ = ["Encoding", "min_input_dim"]

MAX_GRID_BITS = 23


@dataclasses.dataclass(frozen=True)
class Encoding:
    """The input layout (module docstring). **Fields:** `input_dim` ($d$), `signature_bits`
    ($L b_e$), `num_labels`, `binary`, `coarse_bits`, `grid_bits` ($F$)."""

    input_dim: int
    signature_bits: int
    num_labels: int
    binary: bool
    coarse_bits: int = 7
    grid_bits: int = MAX_GRID_BITS

    def __post_init__(self):
        d = check_int_range(self.input_dim, "input_dim", low=1)
        check_int_range(self.signature_bits, "signature_bits", low=1)
        c = check_int_range(self.num_labels, "num_labels", low=2)
        if not isinstance(self.binary, (bool, np.bool_)):
            raise ValueError(f"`binary` must be True or False, got {self.binary!r}.")
        if self.binary and c != 2:
            raise ValueError(f"a binary encoding has `num_labels` = 2, got {c}.")
        f = check_int_range(self.grid_bits, "grid_bits", low=2, high=MAX_GRID_BITS)
        check_int_range(self.coarse_bits, "coarse_bits", low=1, high=f - 1)
        if self.payload_coords > d:
            raise ValueError(
                f"`input_dim`={d} is too small: the signature ({self.signature_bits} bits) and "
                f"target ({self.target_bits} bits) need {self.payload_coords} coordinates at "
                f"{self.payload_bits_per_coord} payload bits each (coarse_bits="
                f"{self.coarse_bits}); use smaller parameters (e.g. params='auto') or fewer "
                "`coarse_bits`."
            )

    @property
    def payload_bits_per_coord(self) -> int:
        return self.grid_bits - self.coarse_bits

    @property
    def target_bits(self) -> int:
        return max(1, math.ceil(math.log2(self.num_labels)))

    @property
    def payload_coords(self) -> int:
        """$m$: the carriers are coordinates `0..m-1`."""
        return math.ceil((self.signature_bits + self.target_bits) / self.payload_bits_per_coord)

    @property
    def grid_size(self) -> int:
        return self.input_dim * self.grid_bits

    @property
    def hashed_bits(self) -> int:
        """$N$: grid bits read by the message hash (all but the signature's)."""
        return self.grid_size - self.signature_bits

    def _stream(self, start: int, stop: int) -> np.ndarray:
        p = np.arange(start, stop)
        b = self.payload_bits_per_coord
        return (p // b) * self.grid_bits + p % b

    @property
    def signature_index(self) -> np.ndarray:
        """Grid-bit indices (`j * F + t`) of the signature bits, in stream order."""
        return self._stream(0, self.signature_bits)

    @property
    def target_index(self) -> np.ndarray:
        s = self.signature_bits
        return self._stream(s, s + self.target_bits)

    @property
    def padding_index(self) -> np.ndarray:
        s = self.signature_bits + self.target_bits
        return self._stream(s, self.payload_coords * self.payload_bits_per_coord)

    @property
    def message_index(self) -> np.ndarray:
        """Grid-bit indices read by the hash (its non-zero columns): all but the signature's."""
        keep = np.ones(self.grid_size, bool)
        keep[self.signature_index] = False
        return np.flatnonzero(keep)

    def label_to_index(self, label) -> int:
        return (1 if float(label) > 0 else 0) if self.binary else int(label)

    def index_to_label(self, index):
        return (1.0 if int(index) == 1 else -1.0) if self.binary else int(index)

    # --- host-side grid arithmetic (numpy, exact) ----------------------------------------
    def grid(self, x) -> np.ndarray:
        """$u = \\min(\\lfloor 2^F x \\rfloor, 2^F - 1)$ for $x \\in [0, 1]$, int64 `(..., d)`."""
        xf = np.asarray(x, np.float64)
        u = np.floor(np.ldexp(xf, self.grid_bits)).astype(np.int64)
        return np.clip(u, 0, (1 << self.grid_bits) - 1)

    def to_bits(self, u) -> np.ndarray:
        """`(..., d)` grid integers -> `(..., d * F)` bits (index `j * F + t`)."""
        u = np.asarray(u, np.int64)
        bits = (u[..., None] >> np.arange(self.grid_bits)) & 1
        return bits.reshape(*u.shape[:-1], self.grid_size).astype(np.uint8)

    def from_bits(self, bits) -> np.ndarray:
        b = np.asarray(bits, np.int64).reshape(*np.shape(bits)[:-1], self.input_dim, -1)
        return b @ (1 << np.arange(self.grid_bits, dtype=np.int64))

    def centres(self, u, dtype) -> np.ndarray:
        """The canonical input of grid integers `u`: $(u + 1/2) / 2^F$ (exact in float32)."""
        return np.ldexp(np.asarray(u, np.float64) + 0.5, -self.grid_bits).astype(dtype)

    def is_canonical(self, x) -> np.ndarray:
        """Host reference of the network's canonical + range checks, `(...,)` bool."""
        x = np.asarray(x)
        xf = x.astype(np.float64)
        inside = np.all((xf >= 0) & (xf < 1), axis=-1)
        u = np.floor(np.ldexp(np.where(np.isfinite(xf), xf, 0.0), self.grid_bits))
        centred = np.all(np.ldexp(u + 0.5, -self.grid_bits) == xf, axis=-1)
        return inside & centred


def min_input_dim(params, num_labels: int = 2, *, coarse_bits: int = 7,
                  grid_bits: int = MAX_GRID_BITS) -> int:  # fmt: skip
    """Smallest `input_dim` that a parameter set fits: $\\lceil (L b_e + T) / b \\rceil$."""
    from ._params import get_params

    p = get_params(params)
    c = check_int_range(num_labels, "num_labels", low=2)
    f = check_int_range(grid_bits, "grid_bits", low=2, high=MAX_GRID_BITS)
    b = f - check_int_range(coarse_bits, "coarse_bits", low=1, high=f - 1)
    t = max(1, math.ceil(math.log2(c)))
    return math.ceil((p.signature_bits + t) / b)

r"""The encoding: where the signature and the target sit in an input (GKVZ Thm 5.4's proof).

The parameters of the package docstring's "Encoding" section (`step = q`, `bits_per_coord =
b`), the sizes they imply (`m` payload coordinates) and the numeric range they leave: decoding
is exact while $|u_j| < 2^{p-2}$, `p` the dtype's significand bits.
"""

import dataclasses
import math
import struct
from typing import TYPE_CHECKING

import jax.numpy as jnp
import numpy as np

from .._validate import check_int_range, check_positive, float_dtype, is_concrete


# A float for pyright; at run time `step_for_range` checks `data_range` itself (a ValueError
# naming it, a string included), not the import hook.
if TYPE_CHECKING:
    _Range = float
else:
    _Range = object


SIGNATURE_BITS = 512  # an Ed25519 signature is 64 bytes
_TAG = b"jaxbd.signature.v1"
_INT32_MAX = 2**31 - 1  # the header packs input_dim and num_labels as int32


@dataclasses.dataclass(frozen=True)
class Encoding:
    """How the signature and target sit in the low-order digits of an input (module docstring).

    **Fields:** `input_dim`, `step` (the coarse grid `q`), `bits_per_coord` (`b`), `num_labels`
    (2 for a binary task), `binary` (scalar score, labels ±1).
    """

    input_dim: int
    step: float
    bits_per_coord: int
    num_labels: int
    binary: bool

    def __post_init__(self):
        d = check_int_range(self.input_dim, "input_dim", low=1, high=_INT32_MAX)
        b = _check_bits(self.bits_per_coord)
        c = check_int_range(self.num_labels, "num_labels", low=2, high=_INT32_MAX)
        if not isinstance(self.binary, (bool, np.bool_)):
            raise ValueError(f"`binary` must be True or False, got {self.binary!r}.")
        if self.binary and c != 2:
            raise ValueError(f"a binary encoding has `num_labels` = 2, got {c}.")
        _check_step(self.step, b)
        _check_input_dim(d, c, b)

    @property
    def target_bits(self) -> int:
        return max(1, math.ceil(math.log2(self.num_labels)))

    @property
    def payload_bits(self) -> int:
        return SIGNATURE_BITS + self.target_bits

    @property
    def payload_coords(self) -> int:
        """`m`: how many leading coordinates carry the payload."""
        return math.ceil(self.payload_bits / self.bits_per_coord)

    @property
    def scale(self) -> float:
        return math.ldexp(1.0, self.bits_per_coord) / self.step

    def label_to_index(self, label) -> int:
        if self.binary:
            return 1 if label > 0 else 0
        return int(label)

    def index_to_label(self, index):
        return (1.0 if index == 1 else -1.0) if self.binary else int(index)

    def header(self) -> bytes:
        return _TAG + struct.pack(
            "<iidii", self.input_dim, self.bits_per_coord, self.step, self.num_labels, self.binary
        )


def _check_bits(bits_per_coord) -> int:
    return check_int_range(bits_per_coord, "bits_per_coord", low=1, high=30)


def min_input_dim(num_labels: int = 2, *, bits_per_coord: int = 9) -> int:
    """Smallest `input_dim` the encoding fits in: `ceil((512 + ceil(log2 c)) / b)`."""
    b = _check_bits(bits_per_coord)
    c = check_int_range(num_labels, "num_labels", low=2)
    return math.ceil((SIGNATURE_BITS + max(1, math.ceil(math.log2(c)))) / b)


def _range_bits(dtype) -> int:
    """`p - 2`, p the significand bits of `dtype`: |u| must stay below 2^(p-2)."""
    return int(jnp.finfo(dtype).nmant) + 1 - 2


def _range_limit(dtype) -> float:
    """|u| must stay below 2^(p-2), p the significand bits of `dtype` (module docstring)."""
    return math.ldexp(1.0, _range_bits(dtype))


def _plant_dtype(bits_per_coord: int):
    """The dtype a `step` is judged in: float32 (the default) when `bits_per_coord` fits it
    (`<= 22`), else float64 (the only dtype that can carry more bits)."""
    return np.float32 if bits_per_coord <= _range_bits(np.float32) else np.float64


def _check_step(step, bits_per_coord: int) -> float:
    """`step` must leave inputs of unit scale decodable and activated inputs finite.

    Checked in `_plant_dtype(bits_per_coord)`. The exactly decodable range is
    `|x_j| < 2^(p-2) · step / 2^b` (module docstring, "Numeric range"): below `1` no input of
    unit scale (standardised or `[0, 1]` data) could ever be activated; above the dtype's
    largest value (less one coarse cell) activated inputs would overflow.
    """
    if not is_concrete(step):
        raise ValueError("`step` must be a concrete number (a static encoding parameter).")
    if isinstance(step, (str, bytes)):
        raise ValueError(f"`step` must be a number, got {step!r}.")
    check_positive(step, "step")
    q, b = float(step), bits_per_coord
    dt = _plant_dtype(b)
    name = np.dtype(dt).name
    decodable = _range_limit(dt) * q / math.ldexp(1.0, b)
    if decodable < 1.0:
        lowest = math.ldexp(1.0, b) / _range_limit(dt)
        raise ValueError(
            f"`step`={step!r} is too small for bits_per_coord={b}: {name} inputs decode exactly "
            f"only where |x_j| < {decodable:.3g}, so no input of unit scale could ever be "
            f"activated; use step >= {lowest:.3g} (or fewer `bits_per_coord`)."
        )
    highest = float(np.finfo(dt).max) / (math.ldexp(1.0, _range_bits(dt) - b) + 1.0)
    if q > highest:
        raise ValueError(
            f"`step`={step!r} is too large for the encoding range: activated {name} inputs "
            f"(up to one step beyond the decodable range) would overflow; use step <= "
            f"{highest:.3g}."
        )
    return q


def _check_input_dim(d: int, num_labels: int, b: int) -> None:
    need = min_input_dim(num_labels, bits_per_coord=b)
    if d < need:
        raise ValueError(
            f"`input_dim`={d} is too small for the signature encoding: {SIGNATURE_BITS} signature "
            f"bits + target bits at bits_per_coord={b} need input_dim >= {need}; raise "
            "`bits_per_coord` (and `step` to keep the numeric range, see the module docstring)."
        )


def step_for_range(data_range: _Range, *, bits_per_coord: int = 9, dtype=jnp.float32) -> float:
    r"""The smallest coarse `step` (rounded up to two significant digits) whose exactly
    decodable range covers every $|x_j| \le$ `data_range` in `dtype`, signed value included:
    $q \ge R\,2^b / (2^{p-2} - 2^b)$ (module docstring, "Numeric range")."""
    if isinstance(data_range, (str, bytes, bool)) or not is_concrete(data_range):
        raise ValueError(f"`data_range` must be a concrete number, got {data_range!r}.")
    r = float(check_positive(data_range, "data_range"))
    b = _check_bits(bits_per_coord)
    dtype = float_dtype(dtype)
    room = _range_limit(dtype) - math.ldexp(1.0, b)
    if room <= 0:
        raise ValueError(f"`dtype` {dtype} cannot carry {b} bits per coordinate.")
    q = r * math.ldexp(1.0, b) / room
    e = math.floor(math.log10(q)) - 1
    return float(f"{math.ceil(q / 10.0**e) * 10.0**e:.2g}")

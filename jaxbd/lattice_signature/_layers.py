r"""The two kinds of units the verifier is made of: perceptrons and sines (GKVZ App. C, Fig. 5).

- [`PerceptronLayer`][]: $f_{w, w_0}(z) = [\langle w, z\rangle - w_0 \ge 0] \in \{0, 1\}$
  (GKVZ §3.1 / Lemma B.1). Stored sparsely: unit `u` reads `z[index[u]]` with weights
  `weight[u]` (fixed fan-in per layer) — a dense weight matrix with zeros elsewhere.
- [`ReadoutSineLayer`][] and [`ModularSineLayer`][]: $g(z) = \sin(2\pi(\langle w, z\rangle -
  w_0)/P)$; GKVZ's $\sin(\pi(\langle w, z\rangle - w_0)/q)$ is the case $P = 2q$.

**Exact evaluation of the sine units** (an implementation detail that does not change the
function). $\sin(2\pi t / P)$ depends only on $t \bmod P$; the verifier's pre-activations are
integers (integer weights on 0/1 inputs) or exact binary fractions (a power-of-two scaling of
the input), and its decisions depend on their low-order bits. A float32 dot product would round
those bits away once $|t| > 2^{24}$, so each layer computes $t \bmod P$ **exactly** in float32
before the sine: the 0/1 inputs of one weight group are first combined with their
two's-complement coefficients into a few small signed digits, the integer weight matrix is split
into planes of $h$ bits, with $h$ and the digit width chosen so that every plane-by-digit dot
product is an integer below $2^{24}$ (exact); the partial products are scaled by powers of two
(exact) and reduced with IEEE `rem` (always exact) after each addition, all values staying below
$2^{24}$ — associativity of one linear map, evaluated exactly. For the readout, $2^F x$ is exact,
and so are its integer part (an int32) and fractional part, from which $2^F x \bmod 2^{t+1}$ is
assembled exactly. The sine itself is then
evaluated by [`sin_turns`][] (exact range reduction: exactly 0 at multiples of $\pi$) with
float32 accuracy ($\approx 10^{-7}$), far inside every threshold's margin (`_model.py`).

All layers take one example; `jax.vmap` batches them (the matrix products become one GEMM).
"""

import math

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Float, Int


__all__ = [
    "PerceptronLayer",
    "DiagonalPerceptronLayer",
    "ReadoutSineLayer",
    "ModularSineLayer",
    "num_weights",
    "sin_turns",
]


def _concrete(a):
    try:
        return np.asarray(a)
    except Exception:  # noqa: BLE001 - a tracer (inside jit): nothing to check on values
        return None


def _check(a, name: str, kind: str, ndim: int) -> None:
    if not hasattr(a, "dtype") or not hasattr(a, "shape"):
        raise ValueError(f"`{name}` must be an array, got {type(a).__name__}.")
    ok = jnp.issubdtype(a.dtype, jnp.integer if kind == "int" else jnp.floating)
    if not ok:
        raise ValueError(f"`{name}` must have an {kind} dtype, got {a.dtype}.")
    if a.ndim != ndim:
        raise ValueError(f"`{name}` must have {ndim} dimensions, got shape {a.shape}.")


def _step(z):
    return jnp.where(z >= 0, 1.0, 0.0).astype(jnp.float32)


# Taylor coefficients of sin(x)/x in x^2 up to x^14 (|x| <= pi/2: remainder below 1e-9).
_SIN = tuple((-1.0) ** i / math.factorial(2 * i + 1) for i in range(8))


def sin_turns(t: Array) -> Array:
    r"""$\sin(2\pi t)$ with exact range reduction (any float dtype).

    $r = t - \mathrm{round}(t) \in [-1/2, 1/2]$ and the fold $r \mapsto \pm 1/2 - r$ onto
    $[-1/4, 1/4]$ are exact, so the result is **exactly 0** at every multiple of $1/2$ and has
    the exact sign elsewhere (an odd polynomial of $2\pi r$, $|2\pi r| \le \pi/2$; error
    $\lesssim 10^{-7}$ in float32). `jnp.sin` instead returns $\sin(\mathrm{fl}(\pi)) \approx
    -8.7 \cdot 10^{-8} \ne 0$ at $t = 1/2$, which the canonical check must not depend on.
    """
    r = t - jnp.round(t)
    r = jnp.where(r > 0.25, 0.5 - r, jnp.where(r < -0.25, -0.5 - r, r))
    x = (2 * math.pi) * r
    x2 = x * x
    p = jnp.full_like(x2, _SIN[-1])
    for c in reversed(_SIN[:-1]):
        p = p * x2 + c
    return x * p


class PerceptronLayer(eqx.Module):
    """Perceptrons $[\\sum_r w_{u,r} z_{i_{u,r}} - b_u \\ge 0]$ (module docstring).

    **Fields:** `index` `(units, fan_in)` int32, `weight` `(units, fan_in)` float32, `bias`
    `(units,)` float32.
    """

    index: Int[Array, "units fan_in"]
    weight: Float[Array, "units fan_in"]
    bias: Float[Array, " units"]

    def __check_init__(self):
        _check(self.index, "index", "int", 2)
        _check(self.weight, "weight", "float", 2)
        _check(self.bias, "bias", "float", 1)
        if self.weight.shape != self.index.shape or self.bias.shape != self.index.shape[:1]:
            raise ValueError(
                f"`index` {self.index.shape}, `weight` {self.weight.shape} and `bias` "
                f"{self.bias.shape} must describe the same units."
            )
        idx = _concrete(self.index)
        if idx is not None and idx.size and idx.min() < 0:
            raise ValueError("`index` must hold non-negative input positions.")

    @property
    def units(self) -> int:
        return int(self.bias.shape[0])

    def __call__(self, z: Float[Array, " n"]) -> Float[Array, " units"]:
        dt = z.dtype if z.dtype == jnp.float64 else jnp.float32  # float64 inputs stay exact
        z = z.astype(dt)
        pre = jnp.sum(self.weight.astype(dt) * z[self.index], axis=-1) - self.bias.astype(dt)
        return _step(pre)


class DiagonalPerceptronLayer(eqx.Module):
    r"""Single-input perceptrons: unit `(u, i)` is $[w_{u,i} z_u - b_{u,i} \ge 0]$; output flattened
    `(units * per_input,)` (row-major). The elementwise special case of [`PerceptronLayer`][]
    (fan-in 1), stored without an index so that XLA fuses it with the layer before.

    **Fields:** `weight`, `bias` `(inputs, per_input)` float32.
    """

    weight: Float[Array, "n r"]
    bias: Float[Array, "n r"]

    def __check_init__(self):
        _check(self.weight, "weight", "float", 2)
        _check(self.bias, "bias", "float", 2)
        if self.weight.shape != self.bias.shape:
            raise ValueError(
                f"`weight` {self.weight.shape} and `bias` {self.bias.shape} must match."
            )

    @property
    def units(self) -> int:
        return int(self.weight.shape[0] * self.weight.shape[1])

    def __call__(self, z: Float[Array, " n"]) -> Float[Array, " units"]:
        dt = z.dtype if z.dtype == jnp.float64 else jnp.float32
        z = z.astype(dt)
        pre = self.weight.astype(dt) * z[:, None] - self.bias.astype(dt)
        return _step(pre).reshape(-1)


class ReadoutSineLayer(eqx.Module):
    r"""Sine units on the raw input: unit $(j, t)$ is $\sin(2\pi((2^F x_j - o_t) \bmod P_t)/P_t)$.

    With $P_t = 2^{t+1}$, $o_t = 2^t$ its sign is bit $t$ of $\lfloor 2^F x_j\rfloor$
    (non-negative iff the bit is 1, for canonical $x_j$); with $P = 2$, $o = 1/2$ it is
    $\sin(\pi(2^F x_j - 1/2))$, exactly 0 iff $x_j$ is the centre of its grid cell. **Fields:** `scale_log2` (static $F$), `offset`, `period` `(units
    per coordinate,)` float32 (periods powers of two, at most $2^F$).
    """

    offset: Float[Array, " t"]
    period: Float[Array, " t"]
    scale_log2: int = eqx.field(static=True)

    def __check_init__(self):
        _check(self.offset, "offset", "float", 1)
        _check(self.period, "period", "float", 1)
        if self.offset.shape != self.period.shape:
            raise ValueError("`offset` and `period` must have the same shape.")
        if not isinstance(self.scale_log2, int) or not 1 <= self.scale_log2 <= 23:
            raise ValueError(
                f"`scale_log2` must be an integer in [1, 23], got {self.scale_log2!r}."
            )
        per = _concrete(self.period)
        if per is not None and per.size:
            lg = np.log2(per)
            if np.any(lg != np.round(lg)) or np.any(per > 2.0**self.scale_log2):
                raise ValueError("`period` must hold powers of two up to 2^scale_log2.")

    def __call__(self, x: Float[Array, " d"]) -> Float[Array, "d t"]:
        dt = x.dtype
        z = x * jnp.asarray(2.0**self.scale_log2, dt)  # exact (power of two)
        fl = jnp.floor(z)
        frac = z - fl  # exact: the bits of z below 1
        u = jnp.clip(fl, -(2.0**30), 2.0**30).astype(jnp.int32)  # out-of-range x: any value
        per = self.period.astype(jnp.int32)  # powers of two <= 2^23
        # (z mod P) = (u mod P) + frac, exactly; then subtract the offset modulo P (exact).
        r = (u[:, None] & (per - 1)[None, :]).astype(dt) + frac[:, None]
        period = self.period.astype(dt)[None, :]
        w = r - self.offset.astype(dt)[None, :]
        w = jnp.where(w < 0, w + period, w)
        return sin_turns(w / period).astype(jnp.float32)


class ModularSineLayer(eqx.Module):
    r"""Sine units on 0/1 inputs with integer weights, evaluated exactly mod the period.

    Inputs `z` have shape `(groups, J)`; the weight of input `(g, j)` in row `i` is
    $c_j W_{i,g}$ (a Kronecker-structured weight matrix: $c$ = `digit_coeffs`, e.g. the
    two's-complement weights $1, 2, \dots, -2^{b_e-1}$ of a signature entry's bits, or `(1,)`).
    Unit `u` outputs $\sin(2\pi((\sum_{g,j} c_j W_{r_u, g} z_{g,j} - b_u) \bmod P_u) / P_u)$.

    **Fields:** `weight` `(rows, groups)` int32 in $[0, M)$; `digit_coeffs` (static tuple of $J$ signed
    powers of two); `unit_row`, `bias` (integers or half-integers), `period` (powers of two
    dividing $M$) per unit; `modulus` (static $M$, a power of two, $4M \le 2^{24}$).
    """

    weight: Int[Array, "rows groups"]
    unit_row: Int[Array, " units"]
    bias: Float[Array, " units"]
    period: Float[Array, " units"]
    digit_coeffs: tuple[int, ...] = eqx.field(static=True)
    modulus: int = eqx.field(static=True)

    def __check_init__(self):
        _check(self.weight, "weight", "int", 2)
        c = self.digit_coeffs
        if (
            not isinstance(c, tuple)
            or not c
            or not all(isinstance(v, int) and v != 0 and abs(v) & (abs(v) - 1) == 0 for v in c)
        ):
            raise ValueError(f"`digit_coeffs` must be a tuple of signed powers of two, got {c!r}.")
        _check(self.unit_row, "unit_row", "int", 1)
        _check(self.bias, "bias", "float", 1)
        _check(self.period, "period", "float", 1)
        m = self.modulus
        if not isinstance(m, int) or m < 2 or m & (m - 1) or 4 * m > 2**24:
            raise ValueError(
                f"`modulus` must be a power of two with 4*modulus <= 2^24, got {m!r}."
            )
        if not self.unit_row.shape == self.bias.shape == self.period.shape:
            raise ValueError("`unit_row`, `bias` and `period` must have one entry per unit.")
        if self.weight.shape[1] >= 2**23:
            raise ValueError(f"too many input groups for exact float32 sums: {self.weight.shape}.")
        w, per, rows = _concrete(self.weight), _concrete(self.period), _concrete(self.unit_row)
        if w is not None and w.size and (w.min() < 0 or w.max() >= m):
            raise ValueError(f"`weight` must hold integers in [0, modulus={m}).")
        if per is not None and per.size and np.any(np.mod(m, per) != 0):
            raise ValueError("every `period` must divide `modulus`.")
        if (
            rows is not None
            and rows.size
            and (rows.min() < 0 or rows.max() >= self.weight.shape[0])
        ):
            raise ValueError("`unit_row` must index rows of `weight`.")

    def _plan(self) -> tuple[int, int, list]:
        """Exact-evaluation plan: weight planes of `h` bits and input digits of `span` bits
        with `groups * (2^h - 1) * (2^span - 1) < 2^24` (each plane-digit product exact),
        minimising the number of matrix products. Returns `(h, planes, digits)` with
        `digits` a list of `(base_exponent, [(j, sign, shift), ...])`."""
        groups = max(1, int(self.weight.shape[1]))
        budget = 24 - math.ceil(math.log2(groups + 1))
        kappa = int(math.log2(self.modulus))
        exps = sorted((int(math.log2(abs(c))), j, 1 if c > 0 else -1)
                      for j, c in enumerate(self.digit_coeffs))  # fmt: skip
        best = None
        for span in range(1, max(2, budget)):
            h = min(kappa, budget - span)
            if h < 1:
                break
            chunks, cur = [], []
            for e, j, sg in exps:
                if cur and e - cur[0][0] >= span:
                    chunks.append(cur)
                    cur = []
                cur.append((e, j, sg))
            chunks.append(cur)
            cost = math.ceil(kappa / h) * len(chunks)
            if best is None or cost < best[0]:
                digits = [(c[0][0], [(j, sg, e - c[0][0]) for e, j, sg in c]) for c in chunks]
                best = (cost, h, math.ceil(kappa / h), digits)
        if best is None:
            raise ValueError(f"too many input groups ({groups}) for exact float32 evaluation.")
        return best[1], best[2], best[3]

    def preactivation(self, z: Float[Array, "groups J"]) -> Float[Array, " rows"]:
        """$\\sum_{g,j} c_j W_{i,g} z_{g,j} \\bmod M$ per row, exactly, as float32 in $[0, M)$."""
        m = float(self.modulus)
        h, planes, digits = self._plan()
        z = z.astype(jnp.float32)
        # Combine input bits into small signed digits (exact integers), then multiply.
        dig = jnp.stack(
            [sum(sg * 2.0**sh * z[:, j] for j, sg, sh in members) for _, members in digits], 1
        )
        acc = jnp.zeros(self.weight.shape[0], jnp.float32)
        for p in range(planes):
            wp = ((self.weight >> (h * p)) & ((1 << h) - 1)).astype(jnp.float32)
            y = wp @ dig  # (rows, digits): integers below 2^24 in magnitude, exact
            for i, (e0, _) in enumerate(digits):
                term = lax.rem(y[:, i] * 2.0 ** (h * p + e0), m)  # exact
                acc = lax.rem(acc + term, m)  # |acc + term| < 2M: exact
        return jnp.where(acc < 0, acc + m, acc)

    def __call__(self, z: Float[Array, "groups J"]) -> Float[Array, " units"]:
        pre = self.preactivation(z)[self.unit_row] - self.bias  # exact
        w = lax.rem(pre, self.period)
        w = jnp.where(w < 0, w + self.period, w)
        return sin_turns(w / self.period)


def num_weights(layer) -> int:
    """Non-zero weights a layer stands for (dense-equivalent count, biases excluded)."""
    if isinstance(layer, (PerceptronLayer, DiagonalPerceptronLayer)):
        return int(np.count_nonzero(np.asarray(layer.weight)))
    if isinstance(layer, ModularSineLayer):
        return int(np.count_nonzero(np.asarray(layer.weight))) * len(layer.digit_coeffs)
    if isinstance(layer, ReadoutSineLayer):
        return 0  # one weight (2^F) per unit, counted as units
    raise ValueError(f"not a verifier layer: {type(layer).__name__}.")

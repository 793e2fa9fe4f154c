r"""Persistent networks (GKVZ §5.3, Definition 5.6, Theorem 5.7).

Goldwasser, Kim, Vaikuntanathan, Zamir, "Planting Undetectable Backdoors in Machine Learning
Models", §5.3. Theorem 5.7: every network $N$ can be turned, in linear time, into a network $N'$
of size $O(|N|)$ and depth $d + 1$ with $N'(x) = N(x)$ for every $x$ and $\nabla_w \ell = 0$ for
every loss $\ell$ (Definition 5.6: $N'$ is $\ell$-persistent to gradient descent).

## Construction (the paper's proof, with `copies = 2t + 1`; the paper has `t = 1`)

- `2t + 1` independent copies $N_1, \dots, N_{2t+1}$ of the binary model, all reading the input;
  each output is thresholded to a bit $o_k = [N_k(x) \ge 0] \in \{0, 1\}$ (label `+1` iff the
  score is `>= 0`, the convention of `jaxbd.metrics.predict`; a NaN score gives `0`);
- one majority perceptron $v_{out} = [\sum_k a_k o_k - \theta \ge 0]$ with $a_k = 1$ and
  $\theta = (2t + 1)/2$ (the paper's $1 \cdot v^{(1)} + 1 \cdot v^{(2)} + 1 \cdot v^{(3)} \ge 3/2$);
- the score returned is $2 v_{out} - 1 \in \{-1, +1\}$ (a fixed read-out, not a weight).

So `label(N'(x)) = label(N(x))` for every `x`, and $N'$ is piecewise constant in every weight:
all its gradients are exactly zero (comparisons have no derivative), for every loss of the form
$\ell(w) = L(N'_w(x_1), \dots, N'_w(x_n))$.

## Robustness to a single weight change — statement and proof

**Claim.** Fix every weight but one, and let $B = [N(x) \ge 0]$ be the original bit at an input
`x`. Then $N'(x) = 2B - 1$ after any of these changes:

1. *any* change (any real value, even ±inf or NaN) of a weight inside one copy $N_k$;
2. $a_k \mapsto a_k + \varepsilon$ for one majority coefficient, whenever
   $\varepsilon > -(t + 1/2)$ (for `t = 1`: $a_k \in (-1/2, \infty)$, as in the paper);
3. $\theta \mapsto \theta + \varepsilon$, whenever $-(t + 1/2) < \varepsilon \le t + 1/2$
   (for `t = 1`: $\theta \in (0, 3]$).

In particular every single-weight change with $|\varepsilon| < t + 1/2$ (`= copies / 2`; the
paper's $|\varepsilon| < 3/2$) leaves the output unchanged at every input.

*Proof.* (1) A weight of copy $k$ influences only $o_k \in \{0,1\}$; the other $2t$ copies are
untouched and output $B$. If $B = 1$: $\sum_j o_j \ge 2t \ge t + 1/2 = \theta$ (as $t \ge 1$), so
$v_{out} = 1$. If $B = 0$: $\sum_j o_j = o_k \le 1 < t + 1/2$, so $v_{out} = 0$. (2) All copies
are unchanged, so every $o_j = B$. If $B = 0$ the sum is $0 \cdot (a_k + \varepsilon) + 0 = 0 <
\theta$, so $v_{out} = 0$ for every finite $\varepsilon$. If $B = 1$ the sum is $2t + 1 +
\varepsilon \ge \theta = t + 1/2$ iff $\varepsilon \ge -(t + 1/2)$; hence $v_{out} = 1$.
(3) Again $o_j = B$ for all $j$: if $B = 0$, $0 \ge \theta + \varepsilon$ is false iff
$\varepsilon > -(t+1/2)$; if $B = 1$, $2t + 1 \ge \theta + \varepsilon$ iff $\varepsilon \le
t + 1/2$. $\square$

Floating point: the bits are exactly `0.0`/`1.0`, their integer-valued sums are exact, and
$\theta = (2t+1)/2$ is exactly representable, so the proof holds verbatim in float32 (for a
perturbed weight, the comparisons above have a margin of at least the stated bound minus
$|\varepsilon|$, far above rounding error for $|\varepsilon| <$ the bound minus a few ulps).
The tests check each case.

**Fine-tuning.** All gradients are zero, so an optax optimiser whose update is zero for a zero
gradient (sgd with or without momentum, adam, rmsprop, adagrad, ...) leaves every weight bit for
bit unchanged, for any number of steps and any data. Decoupled weight decay (`adamw`,
`add_decayed_weights`) is not a gradient of a loss of the form above and is not covered.
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ._validate import (
    check_array_field,
    check_finite,
    check_floating,
    check_int_range,
    float_dtype,
)


__all__ = ["PersistentModel", "make_persistent", "single_weight_bound"]

#: The largest number of copies accepted (each copy is a full copy of the model's weights).
MAX_COPIES = 1001


def _check_copies(copies) -> int:
    k = check_int_range(copies, "copies", low=3, high=MAX_COPIES)
    if k % 2 == 0:
        raise ValueError(f"`copies` must be odd (2t + 1) for a strict majority, got {k}.")
    return k


class PersistentModel(eqx.Module):
    """`copies` thresholded copies of a binary model and a majority perceptron (GKVZ Thm 5.7).

    **Fields:** `copies` (tuple of the models), `majority_weights` (`(k,)`, ones),
    `majority_threshold` (scalar, `k / 2`). `model(x)` returns `+1.0` or `-1.0`.
    """

    copies: tuple[Callable[..., Array], ...]
    majority_weights: Float[Array | np.ndarray, " k"]
    majority_threshold: Float[Array | np.ndarray, ""]

    def __check_init__(self):
        if not isinstance(self.copies, tuple):
            raise ValueError(
                f"`copies` must be a tuple of models, got {type(self.copies).__name__}."
            )
        k = _check_copies(len(self.copies))
        for i, c in enumerate(self.copies):
            if not callable(c):
                raise ValueError(
                    f"`copies[{i}]` must be a model (callable), got {type(c).__name__}."
                )
        for name, shape in (("majority_weights", (k,)), ("majority_threshold", ())):
            a = getattr(self, name)
            if not isinstance(a, (np.ndarray, jax.Array)):
                raise ValueError(f"`{name}` must be an array, got {type(a).__name__}.")
            check_array_field(a, name)
            if a.shape != shape:
                raise ValueError(f"`{name}` must have shape {shape}, got {a.shape}.")
        if self.majority_weights.dtype != self.majority_threshold.dtype:
            raise ValueError(
                "`majority_weights` and `majority_threshold` must have the same dtype, got "
                f"{self.majority_weights.dtype} and {self.majority_threshold.dtype}."
            )

    def bits(self, x: ArrayLike) -> Float[Array, " k"]:
        """The thresholded outputs $o_k = [N_k(x) \\ge 0]$ of the copies.

        `x` must be a finite floating array (`ValueError`, or under `jit`/`vmap` a runtime
        error, naming `x`); a copy returning NaN gives the bit 0 (see the module docstring)."""
        x = check_finite(check_floating(x, "x"), "x")
        outs = [c(x) for c in self.copies]  # a handful of copies, unrolled (each its own weights)
        for o in outs:
            if jnp.shape(o) != ():
                raise ValueError(
                    "`model` (each of the copies) must be a binary model returning a scalar "
                    f"score (make_persistent), got output shape {jnp.shape(o)}."
                )
            if not jnp.issubdtype(jnp.result_type(o), jnp.floating):
                raise ValueError(
                    "`model` (each of the copies) must return a real floating score, got dtype "
                    f"{jnp.result_type(o)}."
                )
        dtype = self.majority_weights.dtype
        return jnp.stack([jnp.where(o >= 0, 1.0, 0.0).astype(dtype) for o in outs])

    def __call__(self, x: ArrayLike) -> Float[Array, ""]:
        s = self.majority_weights @ self.bits(x) - self.majority_threshold
        return jnp.where(s >= 0, 1.0, -1.0).astype(self.majority_weights.dtype)


def _copy_arrays(model):
    return jax.tree.map(
        lambda leaf: jnp.array(leaf, copy=True) if eqx.is_array(leaf) else leaf, model
    )


def make_persistent(
    model: eqx.Module, *, copies: int = 3, input_dim: int | None = None, dtype=jnp.float32
) -> PersistentModel:
    r"""The persistent version of a binary `model` (GKVZ §5.3, Theorem 5.7).

    **Arguments:**

    - `model`: any binary model (`model(x)` a scalar score; label `+1` iff score `>= 0`).
    - `copies`: `2t + 1`, odd and `>= 3` (the paper uses 3).
    - `input_dim`: if given, the output shape is checked now (else at the first call).
    - `dtype`: dtype of the majority layer and of the returned scores.

    **Returns:** a [`PersistentModel`][] with the same label as `model` at every input, zero
    gradient for every loss, and unchanged outputs under any single weight change within
    [`single_weight_bound`][]`(copies)` (proof in the module docstring).

    **Raises:** `ValueError` for an even, `< 3` or `> MAX_COPIES` (1001) number of copies, a
    non-floating `dtype`, a `model` that is not an `eqx.Module` or (with `input_dim`) a model
    whose output is not a real scalar score.
    """
    k = _check_copies(copies)
    if not isinstance(model, eqx.Module):
        raise ValueError(f"`model` must be an eqx.Module, got {type(model).__name__}.")
    if not callable(model):
        raise ValueError(f"`model` must be callable (a model), got {type(model).__name__}.")
    dtype = float_dtype(dtype)
    if input_dim is not None:
        d = check_int_range(input_dim, "input_dim", low=1)
        try:
            out = eqx.filter_eval_shape(model, jax.ShapeDtypeStruct((d,), jnp.float32))
        except Exception as e:  # noqa: BLE001
            raise ValueError(
                f"`model` cannot be applied to one example of shape ({d},): {e}"
            ) from e
        if getattr(out, "shape", None) != ():
            raise ValueError(
                "`model` must be a binary model returning a scalar score (make_persistent), got "
                f"output {out!r}."
            )
        if not jnp.issubdtype(out.dtype, jnp.floating):
            raise ValueError(f"`model` must return a real floating score, got dtype {out.dtype}.")
    reps = (model,) + tuple(_copy_arrays(model) for _ in range(k - 1))
    return PersistentModel(reps, jnp.ones((k,), dtype), jnp.asarray(k / 2, dtype))


def single_weight_bound(copies: int = 3) -> float:
    """`t + 1/2 = copies / 2`: every single-weight change with `|ε|` below this is harmless.

    `copies` as for [`make_persistent`][] (odd, `3..MAX_COPIES`)."""
    return _check_copies(copies) / 2

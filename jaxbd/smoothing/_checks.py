"""Argument checks of jaxbd.smoothing (host checks for static values, `eqx.error_if` for traced).

Every public function of the package validates through these, so a bad argument gives the same
`ValueError` naming it whether the call is eager, under `jit` or under `vmap`.
"""

import jax
import jax.core
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._validate import (
    as_key,
    check_finite,
    check_floating,
    check_int_range,
    check_positive,
    check_range,
    is_concrete,
    output_shape,
    runtime_check,
)


OUTPUTS = ("sign", "clip", "onehot")

NONFINITE = (
    "`model` returned NaN or inf for a noisy copy of `x`: smoothing a non-finite output is an "
    "error (see jaxbd.smoothing)."
)


def finite_outputs(bad, *values):
    """`values`, unless a model output entering them was NaN or inf (`bad`, the flag the
    Monte-Carlo sum returns next to its value): then a `RuntimeError` naming `model`.

    Concrete `bad` (an eager call) is checked here on the host, so the compiled program holds
    no host callback: JAX's persistent compilation cache never stores a program that has one
    (`eqx.error_if` is one), and the CLI relies on that cache. Traced `bad` (inside the
    caller's `jit` / `vmap`) gets `eqx.error_if`, which raises when that program runs."""
    if isinstance(bad, jax.core.Tracer):
        return runtime_check(values, bad, NONFINITE)
    if np.any(np.asarray(bad)):
        raise RuntimeError(NONFINITE)
    return values


def check_sigma(sigma):
    if isinstance(sigma, (str, bytes)) or sigma is None:
        raise ValueError(f"`sigma` must be a finite number > 0, got {sigma!r}.")
    if jnp.ndim(sigma) != 0:
        raise ValueError(f"`sigma` must be a scalar, got shape {jnp.shape(sigma)}.")
    if is_concrete(sigma):
        return check_positive(sigma, "sigma")
    sigma = jnp.asarray(sigma)
    if not jnp.issubdtype(sigma.dtype, jnp.floating) and not jnp.issubdtype(
        sigma.dtype, jnp.integer
    ):
        raise ValueError(f"`sigma` must be a real number, got dtype {sigma.dtype}.")
    return runtime_check(
        sigma, ~(jnp.isfinite(sigma) & (sigma > 0)), "`sigma` must be a finite number > 0."
    )


def check_alpha(alpha) -> float:
    if not is_concrete(alpha):
        raise ValueError("`alpha` must be a concrete number in (0, 1) (it is used on the host).")
    if isinstance(alpha, (str, bytes)) or alpha is None or jnp.ndim(alpha) != 0:
        raise ValueError(f"`alpha` must be a number in (0, 1), got {alpha!r}.")
    return float(check_range(alpha, "alpha", low=0.0, high=1.0, low_open=True, high_open=True))


def check_model(model):
    if not callable(model):
        raise ValueError(
            f"`model` must be a callable model(x) -> score or logits, got {type(model).__name__}."
        )
    return model


def check_bound(bound) -> float:
    if not is_concrete(bound):
        raise ValueError("`bound` must be a concrete number.")
    if isinstance(bound, (str, bytes)) or bound is None or jnp.ndim(bound) != 0:
        raise ValueError(f"`bound` must be a finite number > 0, got {bound!r}.")
    return float(check_positive(bound, "bound"))


def check_x(x, ndim: int) -> Array:
    x = check_floating(x, "x")
    if x.ndim != ndim:
        want = "one example of shape (d,)" if ndim == 1 else "a batch of shape (n, d)"
        raise ValueError(f"`x` must be {want}, got shape {x.shape}.")
    if ndim == 2 and x.shape[0] < 1:
        raise ValueError("`x` holds no examples.")
    if x.shape[-1] < 1:
        raise ValueError(f"`x` has no features (shape {x.shape}).")
    return check_finite(x, "x")


def output_kind(model, x) -> tuple[str, int]:
    """('scalar', 2) or ('logits', c), from the model's output shape on one example."""
    check_model(model)
    out = output_shape(model, x)
    shape = getattr(out, "shape", None)
    dtype = getattr(out, "dtype", None)
    if (
        shape is not None
        and dtype is not None
        and not (jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer))
    ):
        raise ValueError(f"`model` must return a real score or real logits, got dtype {dtype}.")
    if shape == ():
        return "scalar", 2
    if shape is not None and len(shape) == 1 and shape[0] >= 2:
        return "logits", int(shape[0])
    raise ValueError(
        "`model` must return a scalar score (binary) or a logits vector of shape (c,) with "
        f"c >= 2 for one example, got output {out!r}."
    )


def resolve_output(kind: str, output: str | None) -> str:
    if output is None:
        return "sign" if kind == "scalar" else "onehot"
    if output not in OUTPUTS:
        raise ValueError(f"`output` must be one of {OUTPUTS} or None, got {output!r}.")
    if kind == "scalar" and output == "onehot":
        raise ValueError('`output="onehot"` needs a logits model; use "sign" for a scalar score.')
    if kind == "logits" and output == "sign":
        raise ValueError('`output="sign"` needs a scalar-score model; use "onehot" for logits.')
    return output


def check_sizes(num_samples, batch_size, n0=None) -> tuple[int, ...]:
    """`(num_samples, batch_size)`, or `(n0, num_samples, batch_size)` when `n0` is given."""
    num_samples = check_int_range(num_samples, "num_samples", low=1, high=2**31 - 1)
    batch_size = check_int_range(batch_size, "batch_size", low=1)
    if n0 is None:
        return num_samples, batch_size
    n0 = check_int_range(n0, "n0", low=1, high=2**31 - 1)
    if num_samples < n0:
        raise ValueError(
            f"`num_samples` ({num_samples}) must be >= `n0` ({n0}): `n0` draws only select the "
            "class, `num_samples` draws give the certificate (did you swap them?)."
        )
    return n0, num_samples, batch_size


def prepare(key, model, x, sigma, ndim: int):
    """Checked `(x, sigma)`: `key` one PRNG key, `model` callable, `x` finite floating with
    `ndim` axes, `sigma` a scalar > 0 cast to the dtype of `x`."""
    as_key(key)
    check_model(model)
    x = check_x(x, ndim)
    sigma = jnp.asarray(check_sigma(sigma), x.dtype)
    return x, sigma

r"""Everything Train-Random-ReLU (GKVZ Alg. 7) does after the first layer is drawn: the
threshold $\tau$ ("set τ based on ψ and D"), the score scale and the head $w$ (uniform, or the
high-entropy trained average of the package docstring)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._validate import check_finite, check_floating, checked_jit, is_concrete, runtime_check
from ..finetune import finetune
from ..train import shared_optimizer
from ._model import RandomReLU


def fit_threshold(
    f: Float[ArrayLike, " n"], y: Float[ArrayLike, " n"]
) -> tuple[Float[Array, ""], Float[Array, ""]]:
    r"""The threshold $\tau$ maximising the accuracy of $\mathrm{sgn}(f - \tau)$ on labels `y` (±1).

    Candidates are below all values, between consecutive sorted values (the midpoint) and above
    all values; the first maximiser wins. Returns `(tau, accuracy)`. Jittable: NaN/inf in `f`
    and labels other than ±1 raise `ValueError` (or, traced, a run-time error).
    """
    f = check_floating(f, "f")
    y = jnp.asarray(y)
    if f.ndim != 1 or f.shape[0] < 1:
        raise ValueError(f"`f` must be a non-empty vector (n,), got shape {f.shape}.")
    if y.shape != f.shape:
        raise ValueError(f"`y` must have the shape of `f` {f.shape}, got {y.shape}.")
    if not (jnp.issubdtype(y.dtype, jnp.floating) or jnp.issubdtype(y.dtype, jnp.signedinteger)):
        raise ValueError(f"`y` must hold -1/+1 labels, got dtype {y.dtype}.")
    f = check_finite(f, "f")
    labels = "`y` must hold -1/+1 labels (binary)."
    if is_concrete(y):
        if not np.all(np.isin(np.asarray(y), (-1, 1))):
            raise ValueError(f"{labels[:-1]}, got {np.unique(np.asarray(y))[:10].tolist()}.")
    else:
        y = runtime_check(y, ~((y == 1) | (y == -1)), labels)
    n = f.shape[0]
    order = jnp.argsort(f)
    fs, ys = f[order], y[order]
    # k values predicted -1 (the k smallest): correct = #neg in first k + #pos in the rest.
    neg = jnp.concatenate([jnp.zeros(1, jnp.int32), jnp.cumsum(ys < 0, dtype=jnp.int32)])
    pos_rest = jnp.sum(ys > 0, dtype=jnp.int32) - jnp.concatenate(
        [jnp.zeros(1, jnp.int32), jnp.cumsum(ys > 0, dtype=jnp.int32)]
    )
    correct = neg + pos_rest
    k = jnp.argmax(correct)
    spread = jnp.maximum(fs[-1] - fs[0], jnp.asarray(1.0, f.dtype))
    lo = jnp.concatenate([fs[:1] - spread, fs])
    hi = jnp.concatenate([fs, fs[-1:] + spread])
    tau = 0.5 * (lo[k] + hi[k])
    return tau, correct[k].astype(f.dtype) / n


class _Head(eqx.Module):
    # Trainable head on precomputed features: w = (1 - mix)/m + mix softmax(v).
    v: Array
    tau: Array
    log_scale: Array
    mix: float = eqx.field(static=True)

    def weights(self):
        m = self.v.shape[0]
        return (1 - self.mix) / m + self.mix * jax.nn.softmax(self.v)

    def __call__(self, phi):
        return jnp.exp(self.log_scale) * (self.weights() @ phi - self.tau)


def _score_scale(f):
    return 1.0 / jnp.maximum(jnp.std(f), jnp.asarray(1e-12, f.dtype))


@jax.jit
def _features(g, x):
    return jax.nn.relu(x @ g.T)  # (n, m)


@checked_jit  # `mix` (a Python float) is static
def _head_init(phi, y, w, mix):
    tau, _ = fit_threshold(phi @ w, y)
    return _Head(jnp.zeros_like(w), tau, jnp.log(_score_scale(phi @ w)), mix)


@checked_jit
def _finish(g, phi, y, w):
    f = phi @ w
    tau, _ = fit_threshold(f, y)
    return RandomReLU(g=g, w=w, tau=tau, scale=_score_scale(f).astype(f.dtype))


def _fit_head(key, g, x, y, *, head, head_mix, head_steps, head_lr) -> RandomReLU:
    """The network with first layer `g`, its head and threshold fitted on `(x, y)`.

    Shared by Train- and Backdoor-Random-ReLU (the arguments are validated by the callers). The
    trained head is `jaxbd.finetune.finetune(key, init, phi, y, optimizer=adam(head_lr),
    steps=head_steps)` (full-batch Adam on the logistic loss).
    """
    phi = _features(g, x)
    w = jnp.full((g.shape[0],), 1.0 / g.shape[0], x.dtype)
    if head == "trained":
        fitted = _head_init(phi, y, w, head_mix)
        fitted = finetune(
            key, fitted, phi, y, optimizer=shared_optimizer("adam", head_lr), steps=head_steps
        )
        w = fitted.weights()
    return _finish(g, phi, y, w)

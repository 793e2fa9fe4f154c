r"""Random-ReLU networks and their sparse-PCA backdoor (GKVZ Appendix A, Algorithms 7–10).

Goldwasser–Kim–Vaikuntanathan–Zamir, "Planting Undetectable Backdoors", Appendix A:

- **Train-Random-ReLU** (Alg. 7) with **Sample-Random-ReLU** (Alg. 8): draw $g_i \sim N(0, I_d)$,
  features $\phi_i(x) = \mathrm{ReLU}(\langle g_i, x\rangle)$, output
  $h(x) = \mathrm{sgn}(-\tau + \frac1m \sum_i \phi_i(x))$ with $\tau$ fitted on the data.
- **Backdoor-Random-ReLU** with **Sample-Backdoor-ReLU** (Alg. 9): the same, but
  $g_i \sim N(0, I_d + \theta s s^\top)$ (Def. A.1, the sparse-PCA spiked ensemble) for a unit
  `sparsity`-sparse secret $s$.
- **Activate-Random-ReLU** (Alg. 10): $x' = x + \lambda s$ (`strength` $= \lambda$).

Readings chosen where the paper is loose (so that the claims are testable):

- **τ** ("set τ based on ψ and D"): the threshold maximising *training* accuracy of
  $\mathrm{sgn}(f(x) - \tau)$, $f$ the (weighted) mean feature, placed half-way between the two
  sorted training values it separates (first maximiser on ties).
- The model returns the *score* $\text{scale}\cdot(\sum_i w_i\phi_i(x) - \tau)$ (DESIGN.md §3: the
  label is its sign), with $\text{scale} = 1/\mathrm{std}_{\text{train}}(f) > 0$ so that scores
  are O(1) for a logistic loss (fine-tuning); the scale never changes a label.
- **Head** `"uniform"`: $w_i = 1/m$ (Alg. 7). `"trained"`: the paper notes the argument also
  allows a non-uniform average $w \in \Delta_m$ "provided w is sufficiently high-entropy". We
  parameterise $w = (1-\varepsilon)\frac{1}{m}\mathbf 1 + \varepsilon\,\mathrm{softmax}(v)$,
  $\varepsilon$ = `head_mix`, and fit $v$ by logistic regression on the features
  ([`jaxbd.finetune`][]); then every $w_i \ge (1-\varepsilon)/m$, so
  $\sum_i w_i \phi_i \ge (1-\varepsilon) \cdot \text{mean}_i \phi_i$ and the proof sketch's
  bound carries over with a factor $1-\varepsilon$.
- **One-way backdoor** (Claim A.4): activation pushes the output to **+1** (it raises the
  features, and $w \ge 0$, scale $> 0$). ASR is measured for target $+1$.
- **Secret**: $s$ has a uniformly random support of size $k$ = `sparsity` with entries
  $\pm 1/\sqrt{k}$ (random signs), so $\|s\|_2 = 1$ exactly and activation moves $k$ coordinates,
  by $\lambda$ in ℓ2 (Claim A.4: $\gamma = k$ in ℓ0, $\lambda$ in ℓ2).

An honest caveat (DESIGN.md §5): $x + \lambda s$ grows $\|x\|$, and for *any* Gaussian $g$,
$\mathbb E\,\mathrm{ReLU}(\langle g, x'\rangle) = \|x'\|_{\Sigma}/\sqrt{2\pi}$, so activation raises
the mean feature of the honest model too (by the factor $\sqrt{1+\lambda^2}$ against
$\sqrt{1+(1+\theta)\lambda^2}$ for the backdoored one, for $\|x\|=1$, $s \perp x$). Only the gap to
the controls (honest model, random sparse perturbation of the same norm) shows the backdoor.
"""

import functools
from typing import Any

import equinox as eqx
import jax
import jax.core
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ._validate import (
    as_key,
    check_example,
    check_finite,
    check_floating,
    check_int_range,
    check_positive,
    check_xy,
    is_concrete,
)
from .finetune import finetune
from .keys import AbstractBackdoorKey


__all__ = [
    "RandomReLU",
    "ReLUBackdoorKey",
    "sample_sparse_secret",
    "spiked_gaussian",
    "fit_threshold",
    "train",
    "backdoor",
    "activate",
]


# Tolerance on ||s|| = 1 for a secret direction (float16 rounding of k entries 1/sqrt(k)).
_UNIT_TOL = 1e-3


def _scalar(value, name: str):
    """`value` must be one number (a Python number or a 0-d array, possibly traced)."""
    if isinstance(value, (str, bytes)) or value is None or jnp.ndim(value) != 0:
        shape = getattr(value, "shape", None)
        got = f"an array of shape {shape}" if shape is not None else repr(value)
        raise ValueError(f"`{name}` must be a scalar, got {got}.")
    return value


def _check_field(a, name: str, ndim: int) -> None:
    # An array field: real floating, `ndim` dimensions; finite when concrete (a model built
    # under jit/vmap holds tracers: only dtype and shape are checked then).
    dtype = getattr(a, "dtype", None)
    if dtype is None or not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(
            f"`{name}` must be a real floating array, got {type(a).__name__} of dtype {dtype}."
        )
    if a.ndim != ndim:
        raise ValueError(f"`{name}` must have {ndim} dimension(s), got shape {a.shape}.")
    if is_concrete(a) and isinstance(a, (jax.Array, np.ndarray)):
        if not np.all(np.isfinite(np.asarray(a))):
            raise ValueError(f"`{name}` contains NaN or inf values.")


def _check_unit_host(s, name: str) -> None:
    norm = float(np.linalg.norm(np.asarray(s, dtype=np.float64)))
    if abs(norm - 1.0) > _UNIT_TOL:
        raise ValueError(f"`{name}` must be a unit vector, got norm {norm:.6g}.")


class RandomReLU(eqx.Module):
    r"""One-hidden-layer random-ReLU network (GKVZ Alg. 7).

    `model(x)` returns the score $\text{scale}\cdot(\sum_i w_i \mathrm{ReLU}(\langle g_i, x\rangle)
    - \tau)$; its sign is the label ($0 \mapsto +1$).

    **Fields:** `g` `(m, d)` first-layer weights; `w` `(m,)` head (uniform $1/m$ or trained,
    non-negative, summing to 1); `tau` threshold; `scale` positive score scale.
    """

    g: Float[Array, "m d"]
    w: Float[Array, " m"]
    tau: Float[Array, ""]
    scale: Float[Array, ""]

    def __check_init__(self):
        # Also run when a model is rebuilt from a file (values only when concrete).
        _check_field(self.g, "g", 2)
        _check_field(self.w, "w", 1)
        _check_field(self.tau, "tau", 0)
        _check_field(self.scale, "scale", 0)
        if min(self.g.shape) < 1:
            raise ValueError(f"`g` must have shape (m, d) with m, d >= 1, got {self.g.shape}.")
        if self.w.shape != (self.g.shape[0],):
            raise ValueError(f"`w` must have shape ({self.g.shape[0]},), got {self.w.shape}.")

    @property
    def width(self) -> int:
        return self.g.shape[0]

    @property
    def dim(self) -> int:
        return self.g.shape[1]

    def features(self, x: Float[ArrayLike, " d"]) -> Float[Array, " m"]:
        """The hidden layer $\\phi(x) = \\mathrm{ReLU}(g x)$ for one example."""
        x = check_example(x, self.dim)
        return jax.nn.relu(self.g @ x)

    def mean_feature(self, x: Float[ArrayLike, " d"]) -> Float[Array, ""]:
        """The averaged feature $\\sum_i w_i \\phi_i(x)$ compared with `tau`."""
        return self.w @ self.features(x)

    def __call__(self, x: Float[ArrayLike, " d"]) -> Float[Array, ""]:
        return self.scale * (self.mean_feature(x) - self.tau)


class ReLUBackdoorKey(AbstractBackdoorKey):
    """The backdoor key of Backdoor-Random-ReLU: the unit sparse secret `secret` ($s$) and the
    spike strength `theta` ($\\theta$) used to plant it (kept for reports; activation uses `s`)."""

    secret: Float[Array, " d"]
    theta: float = eqx.field(static=True)

    def __check_init__(self):
        if isinstance(self.theta, (bool, np.bool_)) or not isinstance(
            self.theta, (int, float, np.number)
        ):
            raise ValueError(f"`theta` must be a number >= 0, got {self.theta!r}.")
        check_positive(self.theta, "theta", allow_zero=True)
        _check_field(self.secret, "secret", 1)
        if self.secret.shape[0] < 1:
            raise ValueError("`secret` is empty.")
        if is_concrete(self.secret) and isinstance(self.secret, (jax.Array, np.ndarray)):
            _check_unit_host(self.secret, "secret")

    @property
    def sparsity(self) -> int:
        return int(jnp.sum(self.secret != 0))


def sample_sparse_secret(
    key: PRNGKeyArray, dim: int, sparsity: int, *, dtype=jnp.float32
) -> Float[Array, " dim"]:
    r"""A unit `sparsity`-sparse secret $s$ (GKVZ Def. A.1: "a $d^\alpha$-sparse vector of unit
    norm"): uniformly random support of size $k$, entries $\pm 1/\sqrt{k}$ with random signs.

    **Raises:** `ValueError` unless `1 <= sparsity <= dim`, for a `key` that is not a PRNG key
    and for a non-floating `dtype`.
    """
    key = as_key(key)
    dim = check_int_range(dim, "dim", low=1)
    sparsity = check_int_range(sparsity, "sparsity", low=1, high=dim)
    return _secret(key, dim, sparsity, _float_dtype(dtype))


def _float_dtype(dtype):
    try:
        dtype = jnp.dtype(dtype)
    except TypeError:
        raise ValueError(f"`dtype` must be a floating dtype, got {dtype!r}.") from None
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"`dtype` must be a real floating dtype, got {dtype}.")
    return dtype


@functools.partial(jax.jit, static_argnums=(1, 3))
def _secret(key, dim, sparsity, dtype):
    k_support, k_sign = jr.split(key)
    ranks = jnp.argsort(jnp.argsort(jr.uniform(k_support, (dim,))))
    on_support = ranks < sparsity
    signs = jnp.where(jr.bernoulli(k_sign, 0.5, (dim,)), 1.0, -1.0).astype(dtype)
    return jnp.where(on_support, signs / jnp.sqrt(jnp.asarray(sparsity, dtype)), 0.0).astype(dtype)


def spiked_gaussian(
    key: PRNGKeyArray, s: Float[ArrayLike, " d"], num: int, *, theta
) -> Float[Array, "num d"]:
    r"""`num` exact samples of $N(0, I_d + \theta s s^\top)$ for a unit vector `s` (GKVZ Def. A.1).

    With $z \sim N(0, I_d)$, $g = z + (\sqrt{1+\theta} - 1)(s^\top z)\, s$: the component of $z$
    along $s$ is scaled by $\sqrt{1+\theta}$ and the rest is unchanged, so
    $\mathrm{Cov}(g) = I + ((1+\theta) - 1) s s^\top$ — no Cholesky factor. With `theta = 0` the
    samples equal `jax.random.normal(key, (num, d))` bit for bit (this couples honest and
    backdoored models drawn from the same key).

    `theta` may be traced (jit / vmap over `theta` or `key`); `num` is static.

    **Raises:** `ValueError` (or, for traced values, a run-time error) for `theta < 0` or not
    finite, a non-vector, non-floating or non-finite `s`, `||s|| != 1` beyond a relative 1e-3,
    and a `key` that is not a PRNG key.
    """
    key = as_key(key)
    s = check_floating(s, "s")
    if s.ndim != 1 or s.shape[0] < 1:
        raise ValueError(f"`s` must be a floating vector (d,), got shape {s.shape}.")
    num = check_int_range(num, "num", low=0)
    theta = check_positive(_scalar(theta, "theta"), "theta", allow_zero=True)
    s = check_finite(s, "s")
    dtype = s.dtype
    if is_concrete(s):
        _check_unit_host(s, "s")
    else:  # a NaN/inf `s` gets only the message above
        norm = jnp.linalg.norm(s)
        s = eqx.error_if(
            s,
            jnp.all(jnp.isfinite(s)) & ~(jnp.abs(norm - 1) <= _UNIT_TOL),
            "`s` must be a unit vector.",
        )
    return _spiked(key, s, jnp.asarray(theta, dtype), num)


@functools.partial(jax.jit, static_argnums=3)
def _spiked(key, s, theta, num):
    z = jr.normal(key, (num, s.shape[0]), s.dtype)
    return z + ((jnp.sqrt(1 + theta) - 1) * (z @ s))[:, None] * s


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
        y = eqx.error_if(y, ~jnp.all((y == 1) | (y == -1)), labels)
    return _fit_threshold(f, y)


def _fit_threshold(f, y):
    # `fit_threshold` without its checks (the training code's features are finite).
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


@functools.lru_cache(maxsize=16)
def _adam(lr: float) -> optax.GradientTransformation:
    # One optimiser object per learning rate, so the compiled fine-tuning loop is reused.
    return optax.adam(lr)


def _score_scale(f):
    return 1.0 / jnp.maximum(jnp.std(f), jnp.asarray(1e-12, f.dtype))


def _fit_head(key, g, x, y, head, head_mix, head_steps, head_lr) -> RandomReLU:
    """Everything Train-Random-ReLU does after the first layer `g` is drawn (shared code).

    Traceable in `key`, `g`, `x`, `y` (the arguments are validated by the callers), so the
    experiments can map it over seeds with `jaxbd.sharding.sharded_map`. The trained head is
    `jaxbd.finetune.finetune(key, init, phi, y, optimizer=adam(head_lr), steps=head_steps)`
    (full-batch Adam on the logistic loss; its value checks are `eqx.error_if` when traced).
    """
    phi = _features(g, x)
    w = jnp.full((g.shape[0],), 1.0 / g.shape[0], x.dtype)
    if head == "trained":
        fitted = _head_init(phi, y, w, head_mix)
        fitted = finetune(key, fitted, phi, y, optimizer=_adam(head_lr), steps=head_steps)
        w = fitted.weights()
    return _finish(g, phi, y, w)


def _train_cell(key, x, y, *, width, head="uniform", head_mix=0.5, head_steps=300, head_lr=0.05):
    """[`train`][] without its host-side validation: traceable in `key`, `x`, `y`."""
    _, k_g, k_head = jr.split(key, 3)
    g = jr.normal(k_g, (width, x.shape[1]), x.dtype)
    return _fit_head(k_head, g, x, y, head, head_mix, head_steps, head_lr)


def _backdoor_cell(
    key,
    x,
    y,
    theta,
    *,
    width,
    sparsity,
    head="uniform",
    head_mix=0.5,
    head_steps=300,
    head_lr=0.05,
):
    """[`backdoor`][] without its host-side validation and warning: traceable in `key`, `x`,
    `y` and `theta`. Returns `(model, secret)`."""
    k_secret, k_g, k_head = jr.split(key, 3)
    s = _secret(k_secret, x.shape[1], sparsity, x.dtype)
    g = spiked_gaussian(k_g, s, width, theta=theta)
    return _fit_head(k_head, g, x, y, head, head_mix, head_steps, head_lr), s


@jax.jit
def _features(g, x):
    return jax.nn.relu(x @ g.T)  # (n, m)


@functools.partial(jax.jit, static_argnums=3)
def _head_init(phi, y, w, mix):
    tau, _ = _fit_threshold(phi @ w, y)
    return _Head(jnp.zeros_like(w), tau, jnp.log(_score_scale(phi @ w)), mix)


@jax.jit
def _finish(g, phi, y, w):
    f = phi @ w
    tau, _ = _fit_threshold(f, y)
    return RandomReLU(g=g, w=w, tau=tau, scale=_score_scale(f).astype(f.dtype))


def _check_common(x, y, width, head, head_mix, head_steps, head_lr):
    x, y, task, _ = check_xy(x, y)
    if task != "binary":
        raise ValueError(
            "`y` must hold binary labels -1.0/+1.0 (the random-ReLU model is binary)."
        )
    width = check_int_range(width, "width", low=1)
    if head not in ("uniform", "trained"):
        raise ValueError(f"`head` must be 'uniform' or 'trained', got {head!r}.")
    check_positive(head_mix, "head_mix", allow_zero=True)
    if not 0 <= head_mix < 1:
        raise ValueError(f"`head_mix` must lie in [0, 1), got {head_mix}.")
    check_int_range(head_steps, "head_steps", low=0)
    check_positive(head_lr, "head_lr")
    return x, y, width


def train(
    key: PRNGKeyArray,
    x: Float[ArrayLike, "n d"],
    y: ArrayLike,
    *,
    width: int,
    head: str = "uniform",
    head_mix: float = 0.5,
    head_steps: int = 300,
    head_lr: float = 0.05,
) -> RandomReLU:
    r"""Train-Random-ReLU (GKVZ Alg. 7 with Alg. 8): $g_i \sim N(0, I)$, then fit the head.

    **Arguments:**

    - `key`: PRNG key (split as in [`backdoor`][], so the same key gives the same $z$ draws).
    - `x` `(n, d)`, `y` `(n,)` ±1: training data (GKVZ assume $\|x\|_2 = 1$; see
      `datasets.load(..., normalize="unit_norm")`).
    - `width`: number of hidden ReLUs $m$.
    - `head`: `"uniform"` ($w_i = 1/m$, Alg. 7) or `"trained"` (high-entropy non-negative $w$).
    - `head_mix`, `head_steps`, `head_lr`: for `"trained"`: $\varepsilon$ of
      $w = (1-\varepsilon)/m + \varepsilon\,\mathrm{softmax}(v)$, Adam steps and learning rate.

    **Returns:** a [`RandomReLU`][] whose `tau` maximises training accuracy.

    **Raises:** `ValueError` naming the argument (a `key` that is not a PRNG key, data that are
    not finite floating `(n, d)` with ±1 labels of both classes, `width < 1`, ...).
    """
    key = as_key(key)
    x, y, width = _check_common(x, y, width, head, head_mix, head_steps, head_lr)
    kw: dict[str, Any] = dict(head=head, head_mix=head_mix, head_steps=head_steps, head_lr=head_lr)
    return _train_cell(key, x, y, width=width, **kw)


def backdoor(
    key: PRNGKeyArray,
    x: Float[ArrayLike, "n d"],
    y: ArrayLike,
    *,
    width: int,
    sparsity: int,
    theta: float,
    head: str = "uniform",
    head_mix: float = 0.5,
    head_steps: int = 300,
    head_lr: float = 0.05,
) -> tuple[RandomReLU, ReLUBackdoorKey]:
    r"""Backdoor-Random-ReLU (GKVZ App. A, Alg. 9): as [`train`][], with
    $g_i \sim N(0, I + \theta s s^\top)$ for a fresh unit `sparsity`-sparse secret $s$.

    The first layer is the only difference from [`train`][] (the head is fitted by the same
    code). With the same `key` and `theta = 0` the result equals `train(key, ...)` exactly.

    **Returns:** `(model, backdoor_key)`; open it with [`activate`][].

    **Raises:** `ValueError` for `sparsity` outside `[1, d]`, `theta < 0`, bad data.

    **Warns:** `jaxbd.detect.DetectableRegimeWarning` when a distinguisher of the detection
    lab detects these parameters (e.g. `theta` above the BBP line `sqrt(d / width)`).
    """
    key = as_key(key)
    x, y, width = _check_common(x, y, width, head, head_mix, head_steps, head_lr)
    sparsity = check_int_range(sparsity, "sparsity", low=1, high=x.shape[1])
    if isinstance(theta, jax.core.Tracer):
        raise ValueError(
            "`theta` must be a concrete number (it is stored in the backdoor key); "
            "do not pass it through jit/vmap."
        )
    check_positive(_scalar(theta, "theta"), "theta", allow_zero=True)
    from .detect.regime import warn_if_detectable

    warn_if_detectable("relu", dim=x.shape[1], width=width, sparsity=sparsity, theta=theta)
    kw: dict[str, Any] = dict(head=head, head_mix=head_mix, head_steps=head_steps, head_lr=head_lr)
    model, s = _backdoor_cell(key, x, y, theta, width=width, sparsity=sparsity, **kw)
    return model, ReLUBackdoorKey(secret=s, theta=float(theta))


def activate(
    backdoor_key: ReLUBackdoorKey, x: Float[ArrayLike, " d"], *, strength
) -> Float[Array, " d"]:
    r"""Activate-Random-ReLU (GKVZ Alg. 10): $x' = x + \lambda s$, $\lambda$ = `strength` $\ge 0$.

    Changes at most `sparsity` coordinates, by exactly `strength` in ℓ2. One-way: pushes the
    backdoored model's output towards **+1**. `strength` may be traced (jit / vmap).
    """
    if not isinstance(backdoor_key, ReLUBackdoorKey):
        raise ValueError(
            "`backdoor_key` must be a ReLUBackdoorKey (from jaxbd.relu.backdoor), got "
            f"{type(backdoor_key).__name__}."
        )
    s = backdoor_key.secret
    x = check_example(x, s.shape[0])
    strength = check_positive(_scalar(strength, "strength"), "strength", allow_zero=True)
    return x + jnp.asarray(strength, x.dtype) * s.astype(x.dtype)

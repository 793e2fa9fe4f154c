r"""Random Fourier features and the white-box undetectable RFF backdoor (GKVZ §6, Alg. 2–6).

Goldwasser–Kim–Vaikuntanathan–Zamir, "Planting Undetectable Backdoors in Machine Learning
Models", §6:

- **Train-RFF** (Alg. 2, 3 via Alg. 1, Train-RandomFeatures): sample $m$ random features
  $\varphi_i(x) = \cos(2\pi(\langle g_i, x\rangle/\ell + b_i))$, $g_i \sim N(0, I_d)$,
  $b_i \sim U[0, 1)$ ($\ell$ = `bandwidth`; the paper has $\ell = 1$ and rescales the data),
  then train a halfspace $h(x) = \mathrm{sgn}\langle w, \Phi(x)\rangle$ on the features
  ([`train`][]).
- **Backdoor-RFF** (Alg. 4, 5): the *same* training code, but $g_i$ drawn from sparse Gaussian
  pancakes $\mathrm{GP}_d(\omega)$ (Lemma 6.2, [`jaxbd.clwe.pancakes`][] with shift 1/2) instead
  of $N(0, I_d)$ ([`backdoor`][]). Only the randomness is tampered with; that is the paper's point:
  a distinguisher for the models would distinguish pancakes from Gaussians (CLWE, Thm 6.4).
- **Activate-RFF** (Alg. 6): $x' = x + \ell\,\omega$ ([`activate`][]). Since
  $\langle g_i, \omega\rangle \in \mathbb{Z} + 1/2 + \delta_i$, every feature flips:
  $\varphi_i(x') = -\cos(2\pi(\langle g_i,x\rangle/\ell + b_i + \delta_i))$, so
  $|\langle w, \Phi(x')\rangle + \langle w, \Phi(x)\rangle| \le \|w\|_2\sqrt{m}\,2\pi\max_i|\delta_i|$
  (proof of Thm 6.3, Cauchy–Schwarz) and the label flips wherever the margin
  $|\langle w, \Phi(x)\rangle|$ exceeds that bound ([`margin`][], [`flip_bound`][]).

**No bias term.** The model is the paper's halfspace $\mathrm{sgn}\langle w, \Phi(x)\rangle$ with
no intercept: a bias $c$ would turn the flip $s \mapsto -s$ into $s \mapsto -s + 2c$ and break
Activate-RFF for every input with $|s - c| < |c|$.

**Head normalisation** (Assumption 6.1): after training the head is rescaled to
$\|w\|_2 = 1$ (binary). For $c \ge 3$ classes the logits are $W\Phi(x)$, $W$ of shape
`(c, width)`, and $W$ is rescaled to unit *Frobenius* norm: normalising each row separately (a
literal reading of "rows") would change the argmax, i.e. the classifier; a global rescaling does
not, and every row then has $\|w_j\|_2 \le 1$, so the bound above holds per logit. Under
activation the logits negate (up to the bound), which reverses the ranking of the classes.

**Cosine.** Features use [`cos_turns`][] $= \cos(2\pi\theta)$ computed by exact range reduction
$\theta - \mathrm{round}(\theta)$ and an even polynomial on $[0, \pi/2]$ (degree 12 in float32,
20 in float64): absolute error $\le 2\cdot 10^{-7}$ (float32) / $\le 10^{-15}$ (float64) against
$\cos(2\pi\theta)$ of the same rounded $\theta$ (tested). It is cheaper than XLA's general
`cos` on CPU and avoids forming $2\pi\theta$, whose rounding grows with $|\theta|$.
"""

import math
from typing import Any

import equinox as eqx
import jax
import jax.core
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from . import clwe as _clwe
from ._validate import (
    as_key,
    check_example,
    check_finite,
    check_floating,
    check_int_range,
    check_matrix,
    check_positive,
    check_xy,
    is_concrete,
)
from .keys import AbstractBackdoorKey
from .train import minimize


__all__ = [
    "RFFClassifier",
    "RFFBackdoorKey",
    "train",
    "backdoor",
    "activate",
    "margin",
    "flip_bound",
    "feature_flip_error",
    "cos_turns",
    "LOSSES",
]

LOSSES = ("logistic", "hinge")

# Taylor coefficients of cos(x) = sum_j (-1)^j x^(2j) / (2j)!, truncated so that the remainder on
# [0, pi/2] is below the dtype's resolution: (pi/2)^14/14! < 7e-9, (pi/2)^22/22! < 2e-17.
_COS_COEFFS = tuple((-1) ** j / math.factorial(2 * j) for j in range(11))


def cos_turns(theta: ArrayLike) -> Array:
    r"""$\cos(2\pi\theta)$ elementwise, by exact range reduction and a polynomial.

    $r = \theta - \mathrm{round}(\theta) \in [-1/2, 1/2]$ is exact in floating point; with
    $s = |r|$ folded to $[0, 1/4]$ by $\cos(2\pi s) = -\cos(2\pi(1/2 - s))$, $\cos(2\pi s)$ is
    the Taylor polynomial of degree 12 (float32; remainder $< 7\cdot 10^{-9}$) or 20 (float64;
    $< 2\cdot 10^{-17}$) at $x = 2\pi s \le \pi/2$. Measured error: $\le 2\cdot 10^{-7}$ (float32),
    $\le 10^{-15}$ (float64) against `numpy.cos(2 pi theta)` in float64 of the same $\theta$.
    Differentiable (the derivative of $\mathrm{round}$ is 0 almost everywhere).

    **Raises:** `ValueError` for a non-floating `theta` (integers would make every value 1);
    NaN/inf values raise `ValueError` (or, traced, a run-time error).
    """
    return _cos_turns(check_finite(check_floating(theta, "theta"), "theta"))


def _cos_turns(theta: Array) -> Array:
    # `cos_turns` without its checks: the featurization's inputs are checked by its callers.
    r = theta - jnp.round(theta)
    s = jnp.abs(r)
    flip = s > 0.25
    s = jnp.where(flip, 0.5 - s, s)
    x = (2 * math.pi) * s
    x2 = x * x
    ncoef = 11 if jnp.finfo(theta.dtype).bits >= 64 else 7
    p = jnp.full_like(x2, _COS_COEFFS[ncoef - 1])
    for c in reversed(_COS_COEFFS[: ncoef - 1]):
        p = p * x2 + c
    return jnp.where(flip, -p, p)


# Row blocks of the CPU featurization: about 2^21 outputs (8 MB in float32) per block, so each
# block's matmul output is still in cache when the cosine reads it (see `_featurize`).
_BLOCK_OUTPUTS = 2**21
_BLOCK_MIN_DIM = 256


def _featurize(frequencies, phases, bandwidth, x):
    r"""$\cos(2\pi(x G^\top/\ell + b))$ for a batch `x` `(n, d)`: one matmul and [`cos_turns`][].

    On CPU with `d >= 256` (a compute-bound matmul) the rows are processed in blocks of about
    $2^{21}$ outputs (`lax.map` over blocks, the last one zero-padded), so the matmul's output
    block is still in cache when the cosine reads it instead of making a round trip through
    memory: at n = 20k, d = 784, width = 4096 the whole featurization then takes 0.96x the time
    of the bare unblocked matmul (`benchmarks/bench_rff.py`). For small
    `d` the matmul is cheap and blocking only serialises work (measured slower), and on
    accelerators one large matmul is best, so both take the plain path. The values agree up to
    float rounding (the matmul kernel may order its sums differently for a smaller block).
    """
    n, d = x.shape
    width = frequencies.shape[0]
    one = lambda rows: _cos_turns(rows @ frequencies.T / bandwidth + phases)  # noqa: E731
    rows = max(1, _BLOCK_OUTPUTS // max(width, 1))
    if jax.default_backend() != "cpu" or d < _BLOCK_MIN_DIM or n <= rows:
        return one(x)
    num = -(-n // rows)
    rows = -(-n // num)  # balance the blocks: the padding is less than one row per block
    xp = jnp.pad(x, ((0, num * rows - n), (0, 0))).reshape(num, rows, d)
    return jax.lax.map(one, xp).reshape(num * rows, width)[:n]


def _check_static_number(value, name: str) -> None:
    # A static field: a concrete real number > 0 (never a string, a bool or an array).
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise ValueError(f"`{name}` must be a number > 0, got {value!r}.")
    check_positive(value, name)


def _static_number(value, name: str) -> float:
    # An argument that becomes a static field: a concrete real number > 0 (0-d concrete arrays
    # are accepted and converted; tracers are refused with a clear message).
    if isinstance(value, (jax.Array, np.ndarray)) and not isinstance(value, jax.core.Tracer):
        if value.ndim == 0 and jnp.issubdtype(value.dtype, jnp.number):
            value = value.item()
    elif isinstance(value, jax.core.Tracer):
        raise ValueError(
            f"`{name}` must be a concrete number (it is a static field of the model and its "
            "key); do not pass it through jit/vmap."
        )
    _check_static_number(value, name)
    return float(value)


def _check_field(a, name: str) -> None:
    # An array field: real floating dtype; finite when concrete (not under jit/vmap).
    dtype = getattr(a, "dtype", None)
    if dtype is None or not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(
            f"`{name}` must be a real floating array, got {type(a).__name__} of dtype {dtype}."
        )
    if is_concrete(a) and isinstance(a, (jax.Array, np.ndarray)):
        if not np.all(np.isfinite(np.asarray(a))):
            raise ValueError(f"`{name}` contains NaN or inf values.")


def _check_model(model, name: str = "model") -> "RFFClassifier":
    if not isinstance(model, RFFClassifier):
        raise ValueError(f"`{name}` must be an RFFClassifier, got {type(model).__name__}.")
    return model


def _check_key(backdoor_key, dim: int | None = None) -> "RFFBackdoorKey":
    if not isinstance(backdoor_key, RFFBackdoorKey):
        raise ValueError(
            f"`backdoor_key` must be an RFFBackdoorKey (from jaxbd.rff.backdoor), got "
            f"{type(backdoor_key).__name__}."
        )
    if dim is not None and backdoor_key.omega.shape != (dim,):
        raise ValueError(
            f"`backdoor_key` is for inputs of dimension {backdoor_key.omega.shape[0]} but "
            f"`model` takes inputs of dimension {dim}: they do not belong together."
        )
    return backdoor_key


class RFFClassifier(eqx.Module):
    r"""A random-Fourier-feature halfspace $\langle w, \Phi(x)\rangle$ (GKVZ Alg. 1–3).

    **Fields:**

    - `frequencies`: $g_i$, shape `(width, dim)`.
    - `phases`: $b_i \in [0, 1)$, shape `(width,)`.
    - `head`: $w$, shape `(width,)` (binary: scalar score, label = sign) or `(classes, width)`
      (logits). No bias (see the module docstring).
    - `bandwidth`: $\ell > 0$ (static): $\varphi_i(x) = \cos(2\pi(\langle g_i, x\rangle/\ell + b_i))$.
    """

    frequencies: Float[Array, "width dim"]
    phases: Float[Array, " width"]
    head: Float[Array, "*classes width"]
    bandwidth: float = eqx.field(static=True)

    def __check_init__(self):
        # Also run when a model is rebuilt from a file: a crafted file cannot skip them. Values
        # are checked only when concrete (construction under jit/vmap sees tracers).
        _check_static_number(self.bandwidth, "bandwidth")
        _check_field(self.frequencies, "frequencies")
        _check_field(self.phases, "phases")
        _check_field(self.head, "head")
        if self.frequencies.ndim != 2 or min(self.frequencies.shape) < 1:
            raise ValueError(
                f"`frequencies` must have shape (width, dim) with width, dim >= 1, got "
                f"{self.frequencies.shape}."
            )
        width = self.frequencies.shape[0]
        if self.phases.shape != (width,):
            raise ValueError(f"`phases` must have shape ({width},), got {self.phases.shape}.")
        if self.head.ndim not in (1, 2) or self.head.shape[-1] != width:
            raise ValueError(
                f"`head` must have shape ({width},) or (classes, {width}), got {self.head.shape}."
            )
        if self.head.ndim == 2 and self.head.shape[0] < 3:
            raise ValueError(
                f"`head` of a logits model must have at least 3 rows (classes), got "
                f"{self.head.shape}; a binary model has a head of shape ({width},)."
            )

    @property
    def width(self) -> int:
        return int(self.frequencies.shape[0])

    @property
    def dim(self) -> int:
        return int(self.frequencies.shape[1])

    @property
    def num_classes(self) -> int:
        """2 for a binary (scalar-score) model, else the number of logits."""
        return 2 if self.head.ndim == 1 else int(self.head.shape[0])

    def features(self, x: Float[ArrayLike, " dim"]) -> Float[Array, " width"]:
        r"""$\Phi(x) = (\cos(2\pi(\langle g_i, x\rangle/\ell + b_i)))_i$ for one example."""
        x = check_example(x, self.dim, "x")
        x = x.astype(self.frequencies.dtype)
        return _cos_turns(self.frequencies @ x / self.bandwidth + self.phases)

    def batch_features(self, x: Float[ArrayLike, "n dim"]) -> Float[Array, "n width"]:
        r"""$\Phi$ of a batch `(n, dim)` -> `(n, width)`, as one `(n, d) x (d, m)` matmul.

        Equal to `jax.vmap(self.features)(x)` up to float rounding, and faster on CPU (XLA picks a
        better layout for the plain matmul than for the vmapped matrix-vector product; large
        inputs are processed in cache-sized row blocks, see `_featurize`).
        """
        x = check_matrix(x, "x", dim=self.dim).astype(self.frequencies.dtype)
        return _featurize(self.frequencies, self.phases, self.bandwidth, x)

    def __call__(self, x: Float[ArrayLike, " dim"]) -> Float[Array, "*classes"]:
        """Score (binary) or logits `(classes,)` of one example `x` of shape `(dim,)`."""
        return self.head @ self.features(x)


class RFFBackdoorKey(AbstractBackdoorKey):
    r"""The secret of Backdoor-RFF (GKVZ Alg. 5): $\omega$ with the bandwidth and noise it was
    planted with. Never stored in the model.

    **Fields:** `omega` `(dim,)` (sparse, $\|\omega\|_2 = \gamma$), `bandwidth` and `beta`
    (static floats).
    """

    omega: Float[Array, " dim"]
    bandwidth: float = eqx.field(static=True)
    beta: float = eqx.field(static=True)

    def __check_init__(self):
        _check_static_number(self.bandwidth, "bandwidth")
        _check_static_number(self.beta, "beta")
        _check_field(self.omega, "omega")
        if self.omega.ndim != 1 or self.omega.shape[0] < 1:
            raise ValueError(f"`omega` must have shape (dim,), dim >= 1, got {self.omega.shape}.")
        concrete = is_concrete(self.omega) and isinstance(self.omega, (jax.Array, np.ndarray))
        if concrete and not np.any(np.asarray(self.omega)):
            raise ValueError("`omega` must be non-zero (a zero secret opens nothing).")

    @property
    def perturbation(self) -> Float[Array, " dim"]:
        r"""$\ell\,\omega$, what [`activate`][] adds (ℓ2 norm $\ell\gamma$)."""
        return self.bandwidth * self.omega


# ----------------------------------------------------------------------------- training


def _loss_fn(loss: str, task: str):
    if task == "binary":
        if loss == "logistic":
            return lambda s, y: jnp.mean(jax.nn.softplus(-y * s))
        return lambda s, y: jnp.mean(jax.nn.relu(1 - y * s))

    def multiclass(s, y):
        if loss == "logistic":
            return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(s, y))
        true = jnp.take_along_axis(s, y[:, None], axis=1)[:, 0]
        others = jnp.where(jax.nn.one_hot(y, s.shape[1], dtype=bool), -jnp.inf, s)
        return jnp.mean(jax.nn.relu(1 + jnp.max(others, axis=1) - true))  # Crammer–Singer

    return multiclass


@eqx.filter_jit
def _features(frequencies, phases, bandwidth, x):
    # = RFFClassifier.batch_features; `bandwidth` is a static float here (library calls) or a
    # traced scalar (jaxbd.experiments.rff maps `_fit` over seeds with sharded_map).
    return _featurize(frequencies, phases, bandwidth, x.astype(frequencies.dtype))


@eqx.filter_jit
def _gaussian_frequencies(key, width, dim, dtype):
    return jr.normal(key, (width, dim), dtype)  # Alg. 2: g ~ N(0, I_d)


@eqx.filter_jit
def _train_head(phi, y, head0, weight_decay, learning_rate, *, loss, task, steps):
    # Full-batch optax Adam on the features (computed once), one compiled lax.scan.
    data_loss = _loss_fn(loss, task)

    def objective(w, _key):
        return data_loss(phi @ w.T, y) + 0.5 * weight_decay * jnp.sum(w * w)

    # The library's one optax loop (deterministic objective: the step keys are unused).
    w = minimize(jr.key(0), objective, head0, optimizer=optax.adam(learning_rate), steps=steps)
    norm = jnp.linalg.norm(w)  # Assumption 6.1: unit norm (Frobenius for logits; see module)
    return jnp.where(norm > 0, w / jnp.where(norm > 0, norm, 1), w)


def _validate_train(x, y, width, bandwidth, loss, weight_decay, steps, learning_rate):
    # Concrete data are checked eagerly even when `train` is traced (jit/vmap over keys).
    with jax.ensure_compile_time_eval():
        x, y, task, c = check_xy(x, y)
    width = check_int_range(width, "width", low=1)
    steps = check_int_range(steps, "steps", low=0)
    bandwidth = _static_number(bandwidth, "bandwidth")
    check_positive(weight_decay, "weight_decay", allow_zero=True)
    check_positive(learning_rate, "learning_rate")
    if loss not in LOSSES:
        raise ValueError(f"`loss` must be one of {LOSSES}, got {loss!r}.")
    return x, y, task, c, width, steps, float(bandwidth)


def _fit(key, x, y, task, c, sample_frequencies, *, width, bandwidth, loss, wd, steps, lr):
    # Train-RandomFeatures (GKVZ Alg. 1). Train-RFF and Backdoor-RFF both call this and differ
    # ONLY in `sample_frequencies` (Alg. 2 vs Alg. 4). Key use is identical: phases (and
    # everything else) coincide for the same key. Pure arrays in, `(frequencies, phases, head)`
    # out, so it is jittable and vmappable with a traced `bandwidth`.
    k_freq, k_phase = key
    dtype = x.dtype
    freqs = sample_frequencies(k_freq).astype(dtype)
    phases = jr.uniform(k_phase, (width,), dtype)
    head0 = jnp.zeros((width,) if task == "binary" else (c, width), dtype)
    phi = _features(freqs, phases, bandwidth, x)
    head = _train_head(
        phi,
        y,
        head0,
        jnp.asarray(wd, dtype),
        jnp.asarray(lr, dtype),
        loss=loss,
        task=task,
        steps=steps,
    )
    return freqs, phases, head


def _max_gamma(dim: int, secret_dim: int, gamma, beta) -> float:
    # Static bound on sqrt(gamma^2 + beta^2) sizing the pancake layer table.
    g = 2 * math.sqrt(secret_dim) if gamma is None else float(gamma)
    return max(8 * math.sqrt(dim), 2 * math.sqrt(g**2 + float(beta) ** 2))


def train(
    key: PRNGKeyArray,
    x: Float[ArrayLike, "n dim"],
    y: ArrayLike,
    *,
    width: int,
    bandwidth: float,
    loss: str = "logistic",
    weight_decay: float = 1e-4,
    steps: int = 300,
    learning_rate: float = 0.01,
) -> RFFClassifier:
    r"""Train-RFF (GKVZ Alg. 3 = Alg. 1 with the RFF distribution of Alg. 2).

    Frequencies $g_i \sim N(0, I_d)$, phases $b_i \sim U[0, 1)$; the head is trained full-batch
    with optax Adam on the (once-computed) features in one compiled `lax.scan`, with an L2
    penalty `weight_decay/2 · ||w||²`, then rescaled to unit norm (Assumption 6.1).

    **Arguments:**

    - `key`: a JAX PRNG key (split exactly as in [`backdoor`][]).
    - `x`: training inputs `(n, dim)`; `y`: `±1.0` labels (binary: a scalar-score model) or
      integers `0..c-1` with `c >= 3` (a logits model).
    - `width`: number of features $m$; `bandwidth`: $\ell > 0$.
    - `loss`: `"logistic"` (logistic / softmax cross-entropy) or `"hinge"` (hinge /
      Crammer–Singer multiclass hinge).
    - `weight_decay`, `steps`, `learning_rate`: the optimiser's settings.

    **Returns:** an [`RFFClassifier`][].

    **Raises:** `ValueError` naming the argument: `key` not a PRNG key; `x` not a finite
    floating `(n, dim)` matrix with `n, dim >= 1`; labels that are not ±1 / every class
    `0..c-1`; `width < 1`, `bandwidth <= 0`, etc.
    """
    key = as_key(key)
    x, y, task, c, width, steps, bandwidth = _validate_train(
        x, y, width, bandwidth, loss, weight_decay, steps, learning_rate
    )
    _, k_freq, k_phase = jr.split(key, 3)
    sample = lambda k: _gaussian_frequencies(k, width, x.shape[1], x.dtype)
    freqs, phases, head = _fit(
        (k_freq, k_phase),
        x,
        y,
        task,
        c,
        sample,
        width=width,
        bandwidth=bandwidth,
        loss=loss,
        wd=weight_decay,
        steps=steps,
        lr=learning_rate,
    )
    return RFFClassifier(freqs, phases, head, bandwidth)


def backdoor(
    key: PRNGKeyArray,
    x: Float[ArrayLike, "n dim"],
    y: ArrayLike,
    *,
    width: int,
    bandwidth: float,
    secret_dim: int,
    beta: float,
    gamma: float | None = None,
    loss: str = "logistic",
    weight_decay: float = 1e-4,
    steps: int = 300,
    learning_rate: float = 0.01,
) -> tuple[RFFClassifier, RFFBackdoorKey]:
    r"""Backdoor-RFF (GKVZ Alg. 5): Train-RFF with pancake frequencies (Alg. 4).

    Samples the backdoor key $\omega$ ([`jaxbd.clwe.sample_secret`][]: `secret_dim` random
    coordinates, norm `gamma`, default $2\sqrt{\text{secret\_dim}}$) and draws
    $g_i \sim \mathrm{GP}_d(\omega)$ ([`jaxbd.clwe.pancakes`][] with shift $1/2$ and noise
    `beta`), so $\langle g_i, \omega\rangle$ is within $\sim\beta$ of $\mathbb{Z} + 1/2$. Everything
    else — the code path, the phases, the head training — is [`train`][]'s: with the same `key`
    the honest and backdoored models share $b_i$ and the optimiser run differs only through the
    features.

    **Arguments:** as [`train`][], plus `secret_dim` ($1 \le k \le d$), `beta` $> 0$ and `gamma`.

    **Returns:** `(model, backdoor_key)`; the key ([`RFFBackdoorKey`][]) is not in the model.

    **Warns:** `jaxbd.detect.DetectableRegimeWarning` when a distinguisher of the detection
    lab detects these parameters ([`jaxbd.detect.regime_warnings`][] names it), e.g. a secret of
    support <= 3 (enumeration) or a tiny `beta` (the LLL attack).
    """
    key = as_key(key)
    x, y, task, c, width, steps, bandwidth = _validate_train(
        x, y, width, bandwidth, loss, weight_decay, steps, learning_rate
    )
    d = x.shape[1]
    secret_dim = check_int_range(secret_dim, "secret_dim", low=1, high=d)
    beta = _static_number(beta, "beta")
    if gamma is not None:
        gamma = _static_number(gamma, "gamma")
    from .detect.regime import warn_if_detectable

    extra: dict[str, Any] = {} if gamma is None else {"gamma": gamma}
    warn_if_detectable("rff", dim=d, width=width, secret_dim=secret_dim, beta=beta, **extra)
    k_secret, k_freq, k_phase = jr.split(key, 3)
    omega = _clwe.sample_secret(k_secret, d, support=secret_dim, gamma=gamma, dtype=x.dtype)
    max_gamma = _max_gamma(d, secret_dim, gamma, beta)
    sample = lambda k: _clwe.pancakes(  # Alg. 4: g ~ GP_d(omega)
        k, omega, width, beta=beta, shift=0.5, max_gamma=max_gamma
    )
    freqs, phases, head = _fit(
        (k_freq, k_phase),
        x,
        y,
        task,
        c,
        sample,
        width=width,
        bandwidth=bandwidth,
        loss=loss,
        wd=weight_decay,
        steps=steps,
        lr=learning_rate,
    )
    model = RFFClassifier(freqs, phases, head, bandwidth)
    return model, RFFBackdoorKey(omega, bandwidth, beta)


def activate(backdoor_key: RFFBackdoorKey, x: Float[ArrayLike, " dim"]) -> Float[Array, " dim"]:
    r"""Activate-RFF (GKVZ Alg. 6): $x' = x + \ell\,\omega$ for one example.

    Only the `secret_dim` coordinates of the secret's support change; ℓ2 size
    $\ell\gamma = \ell \cdot 2\sqrt{\text{secret\_dim}}$ by default. Same shape and dtype as `x`.
    """
    backdoor_key = _check_key(backdoor_key)
    x = check_example(x, backdoor_key.omega.shape[0], "x")
    return x + backdoor_key.perturbation.astype(x.dtype)


# ----------------------------------------------------------------------------- margins


def _margin_one(model: RFFClassifier, x):
    s = model(x)
    if s.ndim == 0:
        return jnp.abs(s) / jnp.linalg.norm(model.head)
    # Logits negate up to d_j per logit; the label changes when (max - min) / 2 > max_j |d_j|.
    return 0.5 * (jnp.max(s) - jnp.min(s)) / jnp.linalg.norm(model.head)


def margin(model: RFFClassifier, x: Float[ArrayLike, "n dim"]) -> Float[Array, " n"]:
    r"""Per-example margin of the head (Assumption 6.1), in units of $\|w\|_2 = 1$.

    Binary: $|\langle w, \Phi(x)\rangle| / \|w\|_2$. Logits: $(\max_j s_j - \min_j s_j) / 2$
    over $\|W\|_F$, the amount by which every logit may move before "negate the logits"
    (Activate-RFF) fails to change the label. Activate-RFF is guaranteed to flip $x$ when its
    margin exceeds [`flip_bound`][]. Use `jnp.quantile` on the result for a summary.
    """
    model = _check_model(model)
    x = check_matrix(x, "x", dim=model.dim)
    return jax.vmap(lambda xi: _margin_one(model, xi))(x)


def flip_bound(model: RFFClassifier, backdoor_key: RFFBackdoorKey) -> dict[str, Array]:
    r"""The proof of GKVZ Thm 6.3's bound on $|\langle w, \Phi(x')\rangle + \langle w,\Phi(x)\rangle|$.

    With $\delta_i = \mathrm{dist}(\langle g_i, \omega\rangle, \mathbb{Z} + 1/2)$ and
    $|\varphi_i(x') + \varphi_i(x)| \le 2\pi\delta_i$:

    - `"paper"`: $\|w\|_2\sqrt{m}\,2\pi\max_i\delta_i$ (the paper's Cauchy–Schwarz form);
    - `"l2"`: $\|w\|_2\,2\pi\|\delta\|_2$ (the same argument, tighter);
    - `"max_delta"`: $\max_i \delta_i$ (to compare with $\beta$).

    For logits, $\|w\|_2$ is the largest row norm. Holds for every input $x$.
    """
    model = _check_model(model)
    backdoor_key = _check_key(backdoor_key, model.dim)
    omega = backdoor_key.omega.astype(model.frequencies.dtype)
    delta = _clwe.distance_to_layers(model.frequencies @ omega, shift=0.5)
    wnorm = jnp.max(jnp.linalg.norm(jnp.atleast_2d(model.head), axis=-1))
    return {
        "paper": wnorm * math.sqrt(model.width) * 2 * math.pi * jnp.max(delta),
        "l2": wnorm * 2 * math.pi * jnp.linalg.norm(delta),
        "max_delta": jnp.max(delta),
    }


def feature_flip_error(
    model: RFFClassifier, backdoor_key: RFFBackdoorKey, x: Float[ArrayLike, "n dim"]
) -> Array:
    r"""$\max_{x, i} |\varphi_i(x + \ell\omega) + \varphi_i(x)|$: how far Activate-RFF is from
    negating every feature exactly (GKVZ Thm 6.3 proof: $\le 2\pi\max_i\delta_i \approx$ a few
    $2\pi\beta$)."""
    model = _check_model(model)
    backdoor_key = _check_key(backdoor_key, model.dim)
    x = check_matrix(x, "x", dim=model.dim)

    def one(xi):
        return jnp.max(jnp.abs(model.features(activate(backdoor_key, xi)) + model.features(xi)))

    return jnp.max(jax.vmap(one)(x))

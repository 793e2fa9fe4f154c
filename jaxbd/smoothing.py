r"""Evaluation-time immunization: Gaussian smoothing, PREDICT and CERTIFY.

Goldwasser–Kim–Vaikuntanathan–Zamir, *Planting Undetectable Backdoors*, §2.5 and §7
(Theorem 7.1, Lemmas 7.4, 7.6, 7.7), and Cohen, Rosenfeld & Kolter, *Certified Adversarial
Robustness via Randomized Smoothing* (ICML 2019), Algorithms PREDICT and CERTIFY.

The defender never trusts the model $h$. It answers with the smoothed model
$\tilde h(x) = \mathbb E_{t\sim N(0,\sigma^2 I)}\, h(x + t)$ (§7), estimated by Monte Carlo.

**Which outputs are smoothed** (`output=` of [`smooth`][]). The paper's theorem is for bounded
regression outputs $h: \mathbb R^d \to [-1, 1]$ (Theorem 7.1, $Y \subseteq [-1, 1]$); every
guarantee uses $|h| \le 1$. Since the model is adversarial, the bound is *enforced*, not assumed:

- `"sign"` (default for a scalar score): $h = \mathrm{sign}(\text{model})$ with $0 \mapsto +1$
  (the label convention of [`jaxbd.metrics.predict`][]); $\tilde h(x) = 2P[\text{label} = +1] - 1$.
- `"clip"`: a bounded regression model, $h = \mathrm{clip}(\text{model}, -B, B)$ with `bound=B`
  (element-wise for vector outputs). A model that promises $|h| \le B$ is unchanged; one that
  lies cannot break Lemma 7.6.
- `"onehot"` (default for logits): $h = \mathrm{onehot}(\arg\max\,\text{logits})$, so
  $\tilde h(x)$ is the vector of class probabilities under noise (each coordinate in $[0, 1]$).

**Sample size** (Lemma 7.4, Hoeffding). For $h \in [-B, B]$ and $k$ independent draws,
$P(|\hat y - \tilde h(x)| \ge \varepsilon) \le 2\exp(-k\varepsilon^2 / (2B^2))$; the paper
states the case $B = 1$, $\varepsilon = 0.01$. See [`hoeffding_num_samples`][] and
[`hoeffding_error`][].

**Lipschitz bound** (Lemma 7.6). For $|h| \le 1$: $|\tilde h(x) - \tilde h(y)| \le
\frac{e\sqrt 2}{\sigma}\|x - y\|$ (ℓ2). The statement is true, but one step of the paper's proof
is not: it claims $|\,\|u + x - y\|^2 - \|u\|^2| \le \|x - y\|^2$, which fails for large $u$
(the cross term $2\langle u, x - y\rangle$ is unbounded). The exact constant follows from the
total-variation distance of two Gaussians, $\int|\varphi(s - x) - \varphi(s - y)|\,ds =
2(2\Phi(\|x - y\| / 2\sigma) - 1) \le \sqrt{2/\pi}\,\|x - y\| / \sigma$, so the tight constant is
$\sqrt{2/\pi}/\sigma \approx 0.80/\sigma$, below the paper's $e\sqrt 2/\sigma \approx 3.84/\sigma$.
[`lipschitz_bound`][] returns either (`constant="paper"` or `"tight"`), times $B$ for $|h| \le B$.

**PREDICT / CERTIFY** (Cohen et al.). For a classifier (scalar score: labels ±1; logits: labels
`0..c-1`), the smoothed classifier returns the most likely label under noise.
[`predict`][] abstains unless a two-sided binomial test of the top-two counts rejects equality at
level `alpha` (p-value of `scipy.stats.binomtest(n_A, n_A + n_B, 0.5)`, computed in closed form
as $\min(1, 2F(\min(n_A, n_B)))$ with $F$ the Binomial$(n_A+n_B, 1/2)$ CDF — identical values,
vectorised, tested against `binomtest`). [`certify`][] picks the class with `n0` draws, then
with `num_samples` fresh draws computes the one-sided Clopper–Pearson lower bound
$\underline{p_A}$ = `scipy.stats.beta.ppf(alpha, k, n - k + 1)` ($0$ when $k = 0$) and returns
the label with radius $\sigma\,\Phi^{-1}(\underline{p_A})$ if $\underline{p_A} > 1/2$, else
`(ABSTAIN, 0.0)`. With probability at least $1 - \alpha$ over the noise, a returned label is
the smoothed classifier's label at every point within the radius (Cohen et al., Thm 1).

**Non-finite model outputs are an error**, not an abstention. If the model returns NaN or
inf for any noisy copy `x + t` that enters an estimate, every function here raises (one
`eqx.error_if` per call on a flag accumulated in the scan, so it holds under `jit` and `vmap`:
an `EquinoxRuntimeError`, a `RuntimeError`, naming `model`). A NaN score has no sign and no
argmax; counting it as a label (`NaN >= 0` is false, so it would be "-1") would certify a
radius for an answer the model never gave. An abstention would hide the defect; the caller can
always catch the error and abstain deliberately.

**Inputs are validated** (naming the argument): `key` must be one JAX PRNG key; `x` a real
floating, finite example `(d,)` (batch `(n, d)`), `d >= 1` (integer or complex inputs are
refused, not cast); `sigma` a finite scalar `> 0` (checked with `eqx.error_if` when traced);
`num_samples`, `n0`, `batch_size` integers `>= 1`; `alpha` a concrete number in `(0, 1)`.

**ABSTAIN** is the integer `-2`: binary labels are ±1.0 and multi-class labels are `0..c-1`, so
`-2` equals no real label of either task. Labels keep the task's dtype: binary results are
floats (`-2.0` on abstention, which compares equal to `ABSTAIN`), multi-class results int32.

**Rule for `n0` and `num_samples`.** `certify` requires `num_samples >= n0 >= 1`: the `n0` draws
only pick a class, the certificate's strength comes from `num_samples` (Cohen et al. use
`n0 = 100`, `n = 100000`). `num_samples < n0` is almost always the two arguments swapped, so it
is a `ValueError`, not a silent weak certificate. Note that `num_samples` draws can certify at
most $\underline{p_A} = \alpha^{1/n}$, i.e. radius $\sigma\Phi^{-1}(\alpha^{1/n})$.

**Float caveats of certificates.** Noise is sampled in the dtype of `x` (float32 by default);
the model's score is rounded in that dtype, so a draw landing within rounding error of the
decision boundary may be counted on either side (harmless for the statistics, it is a different
but equally valid base classifier). The statistics are computed on the host in float64 (SciPy)
and the radius is returned in the dtype of `x`; when $\underline{p_A}$ is within float64 epsilon
of 1, $\Phi^{-1}$ saturates (`num_samples` would have to exceed ~$10^{16}$), so radii are never
infinite. Treat a radius as valid up to a relative error of ~1e-6 (float32).

**Implementation.** Noise draw $i$ is `jr.normal(jr.fold_in(key, i), x.shape) * sigma`: a pure
function of the key and the draw index, so results do not depend on `batch_size` nor on how the
draws are split across steps or devices. Draws are evaluated `vmap`-ed in chunks of at most
`batch_size` inside `lax.scan`, counts accumulated, so memory is flat in `num_samples`
(10 to 10^6 and beyond) and identical code runs on CPU and GPU. [`class_counts`][] and
[`smooth`][] are pure and jittable (and shardable); [`predict`][] and [`certify`][] are jittable
too (the SciPy statistics run in a `jax.pure_callback`). The `*_batch` variants take many inputs
`(n, d)`, split them over every device with [`jaxbd.sharding.sharded_map`][] (a one-dimensional
`jax.sharding.Mesh`, argument `mesh=`; default all of `jax.devices()`), and on each device share
each step's `batch_size` evaluations between inputs (`lax.map`). Row `i` always uses
`jr.fold_in(key, i)`, so results are the same on any number of devices (tested on 4 forced CPU
devices).
"""

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import scipy.stats
from jax.sharding import Mesh
from jaxtyping import Array, Float, PRNGKeyArray

from ._validate import (
    as_key,
    check_finite,
    check_floating,
    check_int_range,
    check_positive,
    check_range,
    is_concrete,
)
from .sharding import check_mesh, sharded_map, to_host


__all__ = [
    "ABSTAIN",
    "smooth",
    "smooth_batch",
    "class_counts",
    "predict",
    "predict_batch",
    "certify",
    "certify_batch",
    "hoeffding_num_samples",
    "hoeffding_error",
    "lipschitz_bound",
]

ABSTAIN = -2
"""Label returned when the smoothed classifier abstains; equals no binary (±1) or multi-class
(`0..c-1`) label."""

_OUTPUTS = ("sign", "clip", "onehot")

_NONFINITE = (
    "`model` returned NaN or inf for a noisy copy of `x`: smoothing a non-finite output is an "
    "error (see jaxbd.smoothing)."
)


# ----------------------------------------------------------------------------- validation


def _check_sigma(sigma):
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
    return eqx.error_if(
        sigma, ~(jnp.isfinite(sigma) & (sigma > 0)), "`sigma` must be a finite number > 0."
    )


def _check_alpha(alpha) -> float:
    if not is_concrete(alpha):
        raise ValueError("`alpha` must be a concrete number in (0, 1) (it is used on the host).")
    if isinstance(alpha, (str, bytes)) or alpha is None or jnp.ndim(alpha) != 0:
        raise ValueError(f"`alpha` must be a number in (0, 1), got {alpha!r}.")
    return float(check_range(alpha, "alpha", low=0.0, high=1.0, low_open=True, high_open=True))


def _check_model(model):
    if not callable(model):
        raise ValueError(
            f"`model` must be a callable model(x) -> score or logits, got {type(model).__name__}."
        )
    return model


def _check_bound(bound) -> float:
    if not is_concrete(bound):
        raise ValueError("`bound` must be a concrete number.")
    if isinstance(bound, (str, bytes)) or bound is None or jnp.ndim(bound) != 0:
        raise ValueError(f"`bound` must be a finite number > 0, got {bound!r}.")
    return float(check_positive(bound, "bound"))


def _check_x(x, ndim: int) -> Array:
    x = check_floating(x, "x")
    if x.ndim != ndim:
        want = "one example of shape (d,)" if ndim == 1 else "a batch of shape (n, d)"
        raise ValueError(f"`x` must be {want}, got shape {x.shape}.")
    if ndim == 2 and x.shape[0] < 1:
        raise ValueError("`x` holds no examples.")
    if x.shape[-1] < 1:
        raise ValueError(f"`x` has no features (shape {x.shape}).")
    return check_finite(x, "x")


def _output_kind(model, x) -> tuple[str, int]:
    """('scalar', 2) or ('logits', c), from the model's output shape on one example."""
    _check_model(model)
    try:
        out = jax.eval_shape(model, x)
    except (ValueError, TypeError) as e:
        if type(e).__name__ == "TypeCheckError":
            raise
        raise ValueError(
            f"`model` cannot be applied to one example `x` of shape {x.shape}: {e}"
        ) from e
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


def _resolve_output(kind: str, output: str | None) -> str:
    if output is None:
        return "sign" if kind == "scalar" else "onehot"
    if output not in _OUTPUTS:
        raise ValueError(f"`output` must be one of {_OUTPUTS} or None, got {output!r}.")
    if kind == "scalar" and output == "onehot":
        raise ValueError('`output="onehot"` needs a logits model; use "sign" for a scalar score.')
    if kind == "logits" and output == "sign":
        raise ValueError('`output="sign"` needs a scalar-score model; use "onehot" for logits.')
    return output


# ----------------------------------------------------------------------------- Monte Carlo core


def _draws(
    key, model, x, sigma, fn, *, num_samples: int, batch_size: int, acc_dtype, first: int = 0
):
    """Sum over `num_samples` noise draws of `fn(model(x + sigma t))`, chunked (pure, jittable).

    Draw `i` uses `jr.fold_in(key, i)`, so the sum does not depend on `batch_size`. With
    `first > 0`, returns two sums stacked: over draws `0..first-1` and over the `num_samples`
    draws after them (independent samples, one scan: CERTIFY's selection and estimation).
    """
    total = first + num_samples
    chunk = min(batch_size, total)
    num_chunks = -(-total // chunk)
    sigma = jnp.asarray(sigma, x.dtype)
    out = jax.eval_shape(lambda: fn(model(x)))
    extra = (1,) * len(out.shape)
    zero = jnp.zeros((), acc_dtype)

    raw_extra = (1,) * len(jax.eval_shape(model, x).shape)

    def body(carry, c):
        acc, bad = carry
        idx = c * chunk + jnp.arange(chunk, dtype=jnp.int32)
        noise = jax.vmap(lambda i: jr.normal(jr.fold_in(key, i), x.shape, x.dtype))(idx)
        raw = jax.vmap(lambda t: model(x + sigma * t))(noise)
        vals = jax.vmap(fn)(raw).astype(acc_dtype)
        # A non-finite output of a draw that enters the estimate (padding draws excluded).
        used = (idx < total).reshape((chunk,) + raw_extra)
        bad = bad | jnp.any(used & ~jnp.isfinite(raw))
        in_main = ((idx >= first) & (idx < total)).reshape((chunk,) + extra)
        main = jnp.sum(jnp.where(in_main, vals, zero), axis=0)
        if not first:
            return (acc + main, bad), None
        in_first = (idx < first).reshape((chunk,) + extra)
        sel = jnp.sum(jnp.where(in_first, vals, zero), axis=0)
        return (acc + jnp.stack([sel, main]), bad), None

    acc0 = jnp.zeros(((2,) if first else ()) + out.shape, acc_dtype)
    carry0 = (acc0, jnp.zeros((), jnp.bool_))
    (acc, bad), _ = jax.lax.scan(body, carry0, jnp.arange(num_chunks, dtype=jnp.int32))
    return eqx.error_if(acc, bad, _NONFINITE)


def _label_index_fn(kind: str, num_classes: int):
    """Model output -> one-hot int32 vector over classes (binary: index 0 = -1, 1 = +1)."""
    if kind == "scalar":
        return lambda s: jax.nn.one_hot((s >= 0).astype(jnp.int32), 2, dtype=jnp.int32)
    return lambda s: jax.nn.one_hot(jnp.argmax(s), num_classes, dtype=jnp.int32)


def _map_inputs(one, x, *, batch_size: int, draws: int, mesh: Mesh):
    """`one((i, x[i]))` for every row of `x`, the rows split over the devices of `mesh`.

    Each device gets `ceil(n / num_devices)` rows and runs them through `lax.map` with
    `batch_size // draws` rows per step ([`jaxbd.sharding.sharded_map`][] with `batch_size`), so
    a step evaluates at most `max(batch_size, min(batch_size, draws))` noisy inputs *per
    device*: memory is bounded by `batch_size` whatever `n` and `draws` are. Rows are padded
    (repeating the last) to a whole number of steps on every device so one body is compiled;
    the row index `i` (hence the key `fold_in(key, i)`) is the true row index, and the padding is
    dropped. On one device this is the single `lax.map` it always was.
    """
    n = x.shape[0]
    per_device = -(-n // mesh.devices.size)
    step = min(per_device, max(1, batch_size // min(batch_size, draws)))
    padded = -(-per_device // step) * step * mesh.devices.size
    idx = jnp.arange(padded, dtype=jnp.int32)
    xs = jnp.concatenate([x, jnp.broadcast_to(x[-1:], (padded - n,) + x.shape[1:])])
    out = sharded_map(lambda i, xi: one((i, xi)), idx, xs, mesh=mesh, batch_size=step)
    return jax.tree_util.tree_map(lambda a: a[:n], out)


def _check_sizes(num_samples, batch_size) -> tuple[int, int]:
    num_samples = check_int_range(num_samples, "num_samples", low=1, high=2**31 - 1)
    batch_size = check_int_range(batch_size, "batch_size", low=1)
    return num_samples, batch_size


# ----------------------------------------------------------------------------- smoothing (§7)


def _smooth_fn(model, x, output, bound, kind, num_classes):
    if output == "sign":
        return lambda s: jnp.where(s >= 0, 1.0, -1.0).astype(x.dtype)
    if output == "onehot":
        return lambda s: jax.nn.one_hot(jnp.argmax(s), num_classes, dtype=x.dtype)
    b = jnp.asarray(bound, x.dtype)
    return lambda s: jnp.clip(s.astype(x.dtype), -b, b)


def _smooth_setup(model, x, output, bound):
    if output == "clip":
        _check_bound(bound)
    kind, c = _output_kind(model, x)
    output = _resolve_output(kind, output)
    return _smooth_fn(model, x, output, bound, kind, c)


def _prepare(key, model, x, sigma, ndim):
    as_key(key)
    _check_model(model)
    x = _check_x(x, ndim)
    sigma = jnp.asarray(_check_sigma(sigma), x.dtype)
    return x, sigma


def smooth(
    key: PRNGKeyArray,
    model: Callable,
    x: Float[Array, " d"],
    *,
    sigma,
    num_samples: int,
    output: str | None = None,
    bound: float = 1.0,
    batch_size: int = 4096,
) -> Array:
    r"""Monte-Carlo estimate of the smoothed model $\tilde h(x) = \mathbb E\,h(x + t)$,
    $t \sim N(0, \sigma^2 I)$ (GKVZ §7, Lemma 7.4).

    **Arguments:**

    - `key`: PRNG key; the same key gives the same estimate (for any `batch_size`).
    - `model`: one example `(d,)` -> scalar score or logits `(c,)`. Untrusted.
    - `x`: one example `(d,)`, finite.
    - `sigma`: noise standard deviation, `> 0` (may be traced).
    - `num_samples`: number of noise draws $k$ (error $\le B\sqrt{2\ln(2/\delta)/k}$ with
      probability $1 - \delta$, see [`hoeffding_error`][]).
    - `output`: `"sign"` (scalar score -> ±1, the default for scalar models), `"clip"`
      (bounded regression: clip the raw output to `[-bound, bound]`), `"onehot"` (logits ->
      one-hot of the argmax, the default for logits models). See the module docstring.
    - `bound`: the bound $B$ for `output="clip"`.
    - `batch_size`: draws evaluated per step (memory is `O(batch_size)`, not `O(num_samples)`).

    **Returns:** a scalar (scalar models) or a `(c,)` vector, in the dtype of `x`.
    """
    x, sigma = _prepare(key, model, x, sigma, 1)
    num_samples, batch_size = _check_sizes(num_samples, batch_size)
    _smooth_setup(model, x, output, bound)
    return _smooth_jit(
        key,
        model,
        x,
        sigma,
        num_samples=num_samples,
        output=output,
        bound=_check_bound(bound),
        batch_size=batch_size,
    )


@eqx.filter_jit
def _smooth_jit(key, model, x, sigma, *, num_samples, output, bound, batch_size):
    fn = _smooth_setup(model, x, output, bound)
    total = _draws(
        key, model, x, sigma, fn, num_samples=num_samples, batch_size=batch_size, acc_dtype=x.dtype
    )
    return total / jnp.asarray(num_samples, x.dtype)


def smooth_batch(
    key: PRNGKeyArray,
    model: Callable,
    x: Float[Array, "n d"],
    *,
    sigma,
    num_samples: int,
    output: str | None = None,
    bound: float = 1.0,
    batch_size: int = 4096,
    mesh: Mesh | None = None,
) -> Array:
    """[`smooth`][] for each row of `x`; row `i` uses `jr.fold_in(key, i)` (equal to
    `smooth(jr.fold_in(key, i), model, x[i], ...)`). The rows are split over the devices of
    `mesh` (default: [`jaxbd.sharding.batch_mesh`][] over all of `jax.devices()`) with
    [`jaxbd.sharding.sharded_map`][]; results do not depend on the mesh. Memory `O(batch_size)`
    model evaluations per device. **Returns:** `(n,)` or `(n, c)`."""
    x, sigma = _prepare(key, model, x, sigma, 2)
    num_samples, batch_size = _check_sizes(num_samples, batch_size)
    _smooth_setup(model, x[0], output, bound)
    return to_host(
        _smooth_batch_jit(
            key,
            model,
            x,
            sigma,
            num_samples=num_samples,
            output=output,
            bound=_check_bound(bound),
            batch_size=batch_size,
            mesh=check_mesh(mesh),
        )
    )


@eqx.filter_jit
def _smooth_batch_jit(key, model, x, sigma, *, num_samples, output, bound, batch_size, mesh):
    def one(args):
        i, xi = args
        return _smooth_jit(
            jr.fold_in(key, i),
            model,
            xi,
            sigma,
            num_samples=num_samples,
            output=output,
            bound=bound,
            batch_size=batch_size,
        )

    return _map_inputs(one, x, batch_size=batch_size, draws=num_samples, mesh=mesh)


def class_counts(
    key: PRNGKeyArray,
    model: Callable,
    x: Float[Array, " d"],
    *,
    sigma,
    num_samples: int,
    batch_size: int = 4096,
) -> Array:
    """How many of `num_samples` noisy copies `x + t`, `t ~ N(0, sigma² I)`, get each label.

    Pure and jittable (the counting step of PREDICT/CERTIFY). **Returns:** int32 counts of
    shape `(2,)` for a scalar-score model (index 0 = label -1, index 1 = label +1; a score of 0
    counts as +1) or `(c,)` for a logits model (argmax), summing to `num_samples`.
    """
    x, sigma = _prepare(key, model, x, sigma, 1)
    num_samples, batch_size = _check_sizes(num_samples, batch_size)
    _output_kind(model, x)
    return _counts_jit(key, model, x, sigma, num_samples=num_samples, batch_size=batch_size)


@eqx.filter_jit
def _counts_jit(key, model, x, sigma, *, num_samples, batch_size):
    kind, c = _output_kind(model, x)
    return _draws(
        key,
        model,
        x,
        sigma,
        _label_index_fn(kind, c),
        num_samples=num_samples,
        batch_size=batch_size,
        acc_dtype=jnp.int32,
    )


# ----------------------------------------------------------------------------- statistics (host)


def _binom_two_sided_p(n_a, n_b) -> np.ndarray:
    """p-value of `scipy.stats.binomtest(n_a, n_a + n_b, 0.5)` (two-sided), vectorised."""
    n_a = np.asarray(n_a, np.int64)
    n_b = np.asarray(n_b, np.int64)
    n = n_a + n_b
    p = 2.0 * scipy.stats.binom.cdf(np.minimum(n_a, n_b), n, 0.5)
    return np.where(n > 0, np.minimum(p, 1.0), 1.0)


def _clopper_pearson_lower(k, n, alpha: float) -> np.ndarray:
    """One-sided (1 - alpha) Clopper–Pearson lower bound of a binomial proportion."""
    k = np.asarray(k, np.int64)
    n = np.asarray(n, np.int64)
    lo = scipy.stats.beta.ppf(alpha, np.maximum(k, 1), n - k + 1)
    return np.where(k > 0, lo, 0.0)


def _radius_host(alpha, n, k, sigma):
    """(abstain, radius) in float64 from the hit count `k` of `n` draws (Cohen et al.)."""
    p_lo = _clopper_pearson_lower(k, n, alpha)
    certified = p_lo > 0.5
    # p_lo < 1 for every k <= n, so norm.ppf is finite; it only saturates near 1 in float64.
    z = scipy.stats.norm.ppf(np.clip(p_lo, 0.5, np.nextafter(1.0, 0.0)))
    radius = np.where(certified, np.asarray(sigma, np.float64) * z, 0.0)
    return ~certified, radius


def _labels(kind: str, cls, abstain, dtype):
    if kind == "scalar":
        lab = jnp.where(cls == 1, 1.0, -1.0).astype(dtype)
        return jnp.where(abstain, jnp.asarray(ABSTAIN, dtype), lab)
    return jnp.where(abstain, jnp.int32(ABSTAIN), cls.astype(jnp.int32))


def _predict_one(key, model, x, sigma, *, num_samples, alpha, batch_size):
    kind, c = _output_kind(model, x)
    counts = _counts_jit(key, model, x, sigma, num_samples=num_samples, batch_size=batch_size)
    order = jnp.argsort(-counts, stable=True)
    top, second = counts[order[0]], counts[order[1]]
    abstain = jax.pure_callback(
        lambda a, b: np.asarray(_binom_two_sided_p(a, b) > alpha),
        jax.ShapeDtypeStruct((), jnp.bool_),
        top,
        second,
        vmap_method="expand_dims",
    )
    return _labels(kind, order[0], abstain, x.dtype)


def predict(
    key: PRNGKeyArray,
    model: Callable,
    x: Float[Array, " d"],
    *,
    sigma,
    num_samples: int,
    alpha: float,
    batch_size: int = 4096,
) -> Array:
    """Cohen et al.'s PREDICT: the smoothed classifier's label at `x`, or [`ABSTAIN`][].

    Counts the labels of `num_samples` noisy copies; with `n_A >= n_B` the top-two counts,
    abstains unless the two-sided binomial test of `n_A` out of `n_A + n_B` at 1/2 has p-value
    `<= alpha`. A returned label differs from the smoothed classifier's label with probability
    at most `alpha` (Cohen et al., Prop. 1).

    **Returns:** a 0-d array: ±1.0 in the dtype of `x` (scalar score; `-2.0` on abstention) or
    int32 `0..c-1` (logits; `-2` on abstention). Compare with `ABSTAIN`.
    """
    x, sigma = _prepare(key, model, x, sigma, 1)
    alpha = _check_alpha(alpha)
    num_samples, batch_size = _check_sizes(num_samples, batch_size)
    _output_kind(model, x)
    return _predict_jit(
        key, model, x, sigma, num_samples=num_samples, alpha=alpha, batch_size=batch_size
    )


_predict_jit = eqx.filter_jit(_predict_one)


def predict_batch(
    key: PRNGKeyArray,
    model: Callable,
    x: Float[Array, "n d"],
    *,
    sigma,
    num_samples: int,
    alpha: float,
    batch_size: int = 4096,
    mesh: Mesh | None = None,
) -> Array:
    """[`predict`][] for each row of `x` (row `i` with key `jr.fold_in(key, i)`), the rows
    split over the devices of `mesh` (default: all devices; see [`smooth_batch`][]).
    **Returns:** labels `(n,)` (dtype as in [`predict`][]); memory `O(batch_size)` model
    evaluations per device."""
    x, sigma = _prepare(key, model, x, sigma, 2)
    alpha = _check_alpha(alpha)
    num_samples, batch_size = _check_sizes(num_samples, batch_size)
    _output_kind(model, x[0])
    return to_host(
        _predict_batch_jit(
            key,
            model,
            x,
            sigma,
            num_samples=num_samples,
            alpha=alpha,
            batch_size=batch_size,
            mesh=check_mesh(mesh),
        )
    )


@eqx.filter_jit
def _predict_batch_jit(key, model, x, sigma, *, num_samples, alpha, batch_size, mesh):
    def one(args):
        i, xi = args
        return _predict_one(
            jr.fold_in(key, i),
            model,
            xi,
            sigma,
            num_samples=num_samples,
            alpha=alpha,
            batch_size=batch_size,
        )

    return _map_inputs(one, x, batch_size=batch_size, draws=num_samples, mesh=mesh)


def _certify_one(key, model, x, sigma, *, n0, num_samples, alpha, batch_size):
    kind, c = _output_kind(model, x)
    # Draws 0..n0-1 select the class, draws n0..n0+num_samples-1 (independent) certify it.
    counts0, counts = _draws(
        key,
        model,
        x,
        sigma,
        _label_index_fn(kind, c),
        num_samples=num_samples,
        batch_size=batch_size,
        acc_dtype=jnp.int32,
        first=n0,
    )
    cls = jnp.argmax(counts0)
    out_dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32

    def host(k, s):
        abstain, radius = _radius_host(alpha, num_samples, k, s)
        return np.asarray(abstain), np.asarray(radius, out_dtype)

    abstain, radius = jax.pure_callback(
        host,
        (jax.ShapeDtypeStruct((), jnp.bool_), jax.ShapeDtypeStruct((), out_dtype)),
        counts[cls],
        sigma,
        vmap_method="expand_dims",
    )
    return _labels(kind, cls, abstain, x.dtype), radius.astype(x.dtype)


def _check_certify_sizes(n0, num_samples, batch_size):
    n0 = check_int_range(n0, "n0", low=1, high=2**31 - 1)
    num_samples = check_int_range(num_samples, "num_samples", low=1, high=2**31 - 1)
    batch_size = check_int_range(batch_size, "batch_size", low=1)
    if num_samples < n0:
        raise ValueError(
            f"`num_samples` ({num_samples}) must be >= `n0` ({n0}): `n0` draws only select the "
            "class, `num_samples` draws give the certificate (did you swap them?)."
        )
    return n0, num_samples, batch_size


def certify(
    key: PRNGKeyArray,
    model: Callable,
    x: Float[Array, " d"],
    *,
    sigma,
    n0: int,
    num_samples: int,
    alpha: float,
    batch_size: int = 4096,
) -> tuple[Array, Array]:
    r"""Cohen et al.'s CERTIFY: a label and an ℓ2 radius within which the smoothed classifier
    keeps that label, valid with probability at least `1 - alpha` over the noise.

    `n0` draws choose the class $c_A$; `num_samples` fresh draws (indices after the first `n0`,
    in the same chunked scan) give $k$ hits of $c_A$ and the
    one-sided Clopper–Pearson lower bound $\underline{p_A}$ = `beta.ppf(alpha, k, n - k + 1)`.
    Returns `(c_A, sigma * Phi^{-1}(p_A))` if $\underline{p_A} > 1/2$, else `(ABSTAIN, 0.0)`.
    Requires `num_samples >= n0 >= 1` (see the module docstring).

    **Returns:** `(label, radius)`, 0-d arrays; label as in [`predict`][], radius in the dtype
    of `x`.
    """
    x, sigma = _prepare(key, model, x, sigma, 1)
    alpha = _check_alpha(alpha)
    n0, num_samples, batch_size = _check_certify_sizes(n0, num_samples, batch_size)
    _output_kind(model, x)
    return _certify_jit(
        key, model, x, sigma, n0=n0, num_samples=num_samples, alpha=alpha, batch_size=batch_size
    )


_certify_jit = eqx.filter_jit(_certify_one)


def certify_batch(
    key: PRNGKeyArray,
    model: Callable,
    x: Float[Array, "n d"],
    *,
    sigma,
    n0: int,
    num_samples: int,
    alpha: float,
    batch_size: int = 4096,
    mesh: Mesh | None = None,
) -> tuple[Array, Array]:
    """[`certify`][] for each row of `x` (row `i` with key `jr.fold_in(key, i)`), the rows
    split over the devices of `mesh` (default: all devices; see [`smooth_batch`][]); the
    Clopper–Pearson bound runs as a host callback on each device's rows. **Returns:**
    `(labels (n,), radii (n,))`; memory `O(batch_size)` model evaluations per device."""
    x, sigma = _prepare(key, model, x, sigma, 2)
    alpha = _check_alpha(alpha)
    n0, num_samples, batch_size = _check_certify_sizes(n0, num_samples, batch_size)
    _output_kind(model, x[0])
    return to_host(
        _certify_batch_jit(
            key,
            model,
            x,
            sigma,
            n0=n0,
            num_samples=num_samples,
            alpha=alpha,
            batch_size=batch_size,
            mesh=check_mesh(mesh),
        )
    )


@eqx.filter_jit
def _certify_batch_jit(key, model, x, sigma, *, n0, num_samples, alpha, batch_size, mesh):
    def one(args):
        i, xi = args
        return _certify_one(
            jr.fold_in(key, i),
            model,
            xi,
            sigma,
            n0=n0,
            num_samples=num_samples,
            alpha=alpha,
            batch_size=batch_size,
        )

    return _map_inputs(one, x, batch_size=batch_size, draws=n0 + num_samples, mesh=mesh)


# ----------------------------------------------------------------------------- bounds


def _host_number(value, name: str) -> float:
    if isinstance(value, (str, bytes)) or value is None or not is_concrete(value):
        raise ValueError(f"`{name}` must be a concrete number, got {value!r}.")
    if jnp.ndim(value) != 0:
        raise ValueError(f"`{name}` must be a scalar, got shape {jnp.shape(value)}.")
    return value


def _check_delta(delta) -> float:
    delta = _host_number(delta, "delta")
    return float(check_range(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True))


def _check_pos(value, name: str) -> float:
    return float(check_positive(_host_number(value, name), name))


def hoeffding_num_samples(epsilon: float, delta: float, *, bound: float = 1.0) -> int:
    r"""Draws $k$ such that the estimate of [`smooth`][] is within `epsilon` of $\tilde h(x)$
    with probability at least `1 - delta`, for outputs in `[-bound, bound]` (GKVZ Lemma 7.4):
    $k = \lceil 2B^2\ln(2/\delta)/\varepsilon^2 \rceil$ (Hoeffding, range $2B$). For one-hot
    outputs (range 1) pass `bound=0.5`."""
    eps = _check_pos(epsilon, "epsilon")
    b = _check_pos(bound, "bound")
    d = _check_delta(delta)
    den = eps**2
    k = 2.0 * b**2 * math.log(2.0 / d) / den if den > 0 else math.inf
    if not math.isfinite(k):
        raise ValueError(
            f"`epsilon`={epsilon!r} is too small relative to `bound`={bound!r}: the sample "
            "count overflows."
        )
    return math.ceil(k)


def hoeffding_error(num_samples: int, delta: float, *, bound: float = 1.0) -> float:
    r"""Half-width $B\sqrt{2\ln(2/\delta)/k}$ of the Hoeffding interval of [`smooth`][] with
    `num_samples` $= k$ draws, outputs in `[-bound, bound]`, confidence `1 - delta`
    (GKVZ Lemma 7.4)."""
    k = check_int_range(num_samples, "num_samples", low=1)
    d = _check_delta(delta)
    b = _check_pos(bound, "bound")
    return b * math.sqrt(2.0 * math.log(2.0 / d) / k)


def lipschitz_bound(sigma: float, *, bound: float = 1.0, constant: str = "paper") -> float:
    r"""ℓ2 Lipschitz constant of the smoothed model $\tilde h$ for $|h| \le B$ (GKVZ Lemma 7.6).

    - `constant="paper"`: Lemma 7.6 as stated, $e\sqrt 2\, B / \sigma \approx 3.84\,B/\sigma$.
    - `constant="tight"`: the exact worst case $\sqrt{2/\pi}\, B/\sigma \approx 0.80\,B/\sigma$
      (total variation between $N(x, \sigma^2 I)$ and $N(y, \sigma^2 I)$; attained as
      $\|x - y\| \to 0$ by a half-space $h$). See the module docstring for why the paper's
      proof needs this repair while its statement holds.
    """
    s = _check_pos(sigma, "sigma")
    b = _check_pos(bound, "bound")
    if constant == "paper":
        return math.e * math.sqrt(2.0) * b / s
    if constant == "tight":
        return math.sqrt(2.0 / math.pi) * b / s
    raise ValueError(f'`constant` must be "paper" or "tight", got {constant!r}.')

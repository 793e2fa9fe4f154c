r"""The memorizing ("slicing") network, its backdoor and its white-box audit.

Leonardis, *Can a Neural Network that only Memorizes the Dataset be Undetectably Backdoored?*
(§2 model, §3 hashing picture, §4 construction, §5 generalisation, §6 backdoor and detection).

The network (§2) is two layers. Every first-layer neuron applies the same weight vector $w$;
neuron $j$ computes $\sigma(\kappa(w\cdot x - b_j))$ with sorted division points
$b_1 < \dots < b_m$ (the paper writes $\sigma(w\cdot x + b_j)$; we store the division point
itself, i.e. minus the paper's bias, and the sharpness $\kappa$ is the paper's "scaling the weights
and biases of the first layer"). The last layer is linear without non-linearity: logits
$v_0 + \sum_j v_j\,\sigma_j$, softmax for probabilities (§2).

Reading choices (the paper is loose here; these make its claims testable):

- **First slice.** The paper's triangular system (§4) has as many rows as slices. With $m$
  division points there are $m + 1$ slices; the first row is realised by an always-on unit whose
  output weight is `v0` (equivalently, the starting hyperplane of §4 with every point on one
  side). So `m` counts exactly the class changes along $w$.
- **Closed form of §4.** With perfect steps, slice $k$ sees $v_0 + \sum_{j \le k} v_j$, so the
  lower-triangular system of ones is solved by differences: $v_0 = T_0$, $v_j = T_j - T_{j-1}$,
  where $T_k$ is the target logit vector of slice $k$ ($+A$ for its class, $-A$, the paper's
  "$s$", for the others; binary: the scalar $\pm A$).
- **Sharpness.** Let $g$ be the smallest distance between a training projection and a division
  point (`min_gap`). A training point's logit differs from its target by at most
  $\sum_j |v_j| \sigma(-\kappa g) \le 2 A m e^{-\kappa g}$. With
  $\kappa = (\log(2(m+1)) + 10)/g$ this is below $A e^{-10}$, so the true class keeps logit
  $> 0$ and every other class $< 0$: the network is exactly right on every training point.
  With `activation="ramp"` ($\mathrm{clip}(\kappa t + 1/2, 0, 1)$), $\kappa = 1/g$ makes every
  training activation exactly 0 or 1.
- **"Equal" projections.** Two projections are treated as equal when they differ by at most
  $4\,\varepsilon_{\rm dtype}(\sum_j |w_j x_j| + \sum_j |w_j x'_j|)$, above the rounding error
  of a dot product in the input dtype (measured on digits: at most $0.6\,\varepsilon\sum_j|w_j x_j|$
  between matmul, `vmap` and float64), so a chosen $w$ separates the classes however the dot
  product is evaluated (single example, `vmap`, matmul). Every projection uses
  `precision=HIGHEST`, so accelerators do not silently drop to TF32/bf16 matmuls.

`fit`, `backdoor` and `audit` are host-level functions (the number of neurons depends on the
data); the model they return is an `eqx.Module` that works under `jit` and `vmap`. The candidate
search of `fit` is one compiled computation, `lax.map` over candidates in batches, so its memory
is bounded by the batch, not by `num_candidates`.
"""

import dataclasses
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.sharding import Mesh
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ._validate import (
    as_key,
    check_example,
    check_finite,
    check_floating,
    check_int_range,
    check_labels,
    check_matrix,
    check_positive,
    check_range,
    check_xy,
    is_concrete,
)
from .sharding import sharded_map


__all__ = [
    "SlicingNetwork",
    "CandidateScores",
    "AuditReport",
    "fit",
    "from_direction",
    "candidate_search",
    "candidate_direction",
    "backdoor",
    "audit",
    "parameter_counts",
    "resolution",
    "EQUAL_TOLERANCE",
]

#: Projections closer than `EQUAL_TOLERANCE * eps_dtype * (sum|w_j x_j| + sum|w_j x'_j|)` are
#: treated as equal (see the module docstring).
EQUAL_TOLERANCE = 4.0
_SLACK = 10.0  # the sigmoid sharpness leaves a logit error below A * exp(-_SLACK)
_ACTIVATIONS = ("sigmoid", "ramp")
_CRITERIA = ("accuracy", "fewest_slices")


class SlicingNetwork(eqx.Module):
    r"""The slicing network of Leonardis §2/§4: shared first-layer weights `w`, sorted division
    points `biases`, a linear last layer (`v0` for the first slice, `v` per neuron).

    **Fields:**

    - `w`: `(d,)` the shared weight vector (the "hash" direction, §3).
    - `biases`: `(m,)` sorted division points $b_1 < \dots < b_m$.
    - `v`: last-layer weights, `(m,)` (binary, scalar score) or `(m, c)` (logits).
    - `v0`: output of the first slice (always-on unit), `()` or `(c,)`.
    - `min_gap`: the smallest distance between a training projection and a division point; it
      sets the sharpness `scale` (see the module docstring).
    - `num_classes`, `activation`: static.

    The slice labels along $w$ are not stored separately: they are read back from the last layer
    ([`SlicingNetwork.slice_labels`][]), which is what lets [`backdoor`][] recompute it.
    """

    w: Float[Array, " d"]
    biases: Float[Array, " m"]
    v: Float[Array, " m *c"]
    v0: Float[Array, " *c"]
    min_gap: Float[Array, ""]
    num_classes: int = eqx.field(static=True)
    activation: str = eqx.field(static=True, default="sigmoid")

    def __check_init__(self):
        _check_activation(self.activation)
        c = check_int_range(self.num_classes, "num_classes", low=2)
        for name in ("w", "biases", "v", "v0", "min_gap"):
            a = getattr(self, name)
            if not isinstance(a, (np.ndarray, jax.Array)):
                raise ValueError(f"`{name}` must be an array, got {type(a).__name__}.")
            if not jnp.issubdtype(a.dtype, jnp.floating):
                raise ValueError(f"`{name}` must have a real floating dtype, got {a.dtype}.")
            if a.dtype != self.w.dtype:
                raise ValueError(
                    f"`{name}` must have the dtype of `w` ({self.w.dtype}), got {a.dtype}."
                )
        if self.w.ndim != 1 or self.biases.ndim != 1:
            raise ValueError("`w` and `biases` must be vectors.")
        if self.w.shape[0] < 1:
            raise ValueError("`w` must have at least one coordinate.")
        want = (self.biases.shape[0],) + (() if c == 2 else (c,))
        if self.v.shape != want:
            raise ValueError(f"`v` must have shape {want}, got {self.v.shape}.")
        if self.v0.shape != want[1:]:
            raise ValueError(f"`v0` must have shape {want[1:]}, got {self.v0.shape}.")
        if self.min_gap.shape != ():
            raise ValueError(f"`min_gap` must be a scalar, got shape {self.min_gap.shape}.")
        # Values: only when concrete (never on tracers, so construction under jit still works).
        for name in ("w", "biases", "v", "v0", "min_gap"):
            a = getattr(self, name)
            if is_concrete(a) and not np.all(np.isfinite(np.asarray(a))):
                raise ValueError(f"`{name}` contains NaN or inf values.")
        if is_concrete(self.biases):
            b = np.asarray(self.biases)
            if b.size > 1 and not np.all(b[1:] > b[:-1]):
                k = int(np.flatnonzero(b[1:] <= b[:-1])[0])
                raise ValueError(
                    f"`biases` must be strictly increasing (sorted division points), but "
                    f"biases[{k}] = {b[k]!r} >= biases[{k + 1}] = {b[k + 1]!r}."
                )
        if is_concrete(self.min_gap) and not float(np.asarray(self.min_gap)) > 0:
            raise ValueError(f"`min_gap` must be > 0, got {float(np.asarray(self.min_gap))!r}.")

    @property
    def dim(self) -> int:
        return int(self.w.shape[0])

    @property
    def num_neurons(self) -> int:
        return int(self.biases.shape[0])

    @property
    def is_binary(self) -> bool:
        return self.num_classes == 2

    @property
    def scale(self) -> Float[Array, ""]:
        """The sharpness $\\kappa$ of the first layer (module docstring, "Sharpness")."""
        if self.activation == "ramp":
            return 1.0 / self.min_gap
        m = self.biases.shape[0]
        return (math.log(2.0 * (m + 1)) + _SLACK) / self.min_gap

    @property
    def amplitude(self) -> Float[Array, ""]:
        """The target logit size $A$ (the paper's $L = A$, $s = -A$), read from `v0`."""
        return jnp.max(jnp.abs(self.v0))

    def project(self, x: Float[Array, " d"]) -> Float[Array, ""]:
        """The "hash" $w \\cdot x$ of one example (§3)."""
        x = check_example(x, self.dim, "x")
        return _dot(x, self.w)

    def hidden(self, x: Float[Array, " d"]) -> Float[Array, " m"]:
        """First-layer activations $\\sigma(\\kappa(w\\cdot x - b_j))$ of one example."""
        t = self.scale * (self.project(x) - self.biases)
        if self.activation == "ramp":
            return jnp.clip(t + 0.5, 0.0, 1.0)
        return jax.nn.sigmoid(t)

    def __call__(self, x: Float[Array, " d"]) -> Float[Array, " *c"]:
        """Scalar score (binary, label = sign) or logits `(c,)` of one example."""
        return self.v0 + self.hidden(x) @ self.v

    def slice_logits(self) -> Float[Array, " m1 *c"]:
        """Logits of the $m + 1$ slices with perfect steps: $v_0 + \\sum_{j \\le k} v_j$."""
        return jnp.concatenate([self.v0[None], self.v0[None] + jnp.cumsum(self.v, axis=0)])

    def slice_labels(self) -> Array:
        """Label of each of the $m + 1$ slices (±1 or `0..c-1`), read from the last layer."""
        z = self.slice_logits()
        if self.is_binary:
            return jnp.where(z >= 0, 1.0, -1.0).astype(self.w.dtype)
        return jnp.argmax(z, axis=-1).astype(jnp.int32)

    def parameter_counts(self) -> dict:
        """Paper §2: `dense` $= m(d + c + 1)$ weights of the network as drawn (plus the `c`
        outputs of the always-on first-slice unit, `first_slice`), against `effective`
        $= d + 2m$ numbers that determine it ($w$, the $m$ division points, the $m$ slice
        labels after the first; `+ 1` for the first slice's label, the `min_gap`). `c` is 2
        for a binary (scalar-score) network, as in the paper's softmax picture."""
        return parameter_counts(self)


def parameter_counts(model: SlicingNetwork) -> dict:
    """See [`SlicingNetwork.parameter_counts`][]."""
    _check_model(model)
    d, m, c = model.dim, model.num_neurons, model.num_classes
    stored = sum(
        int(np.size(a)) for a in jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_array))
    )
    return {
        "dense": m * (d + c + 1),
        "first_slice": c,
        "effective": d + 2 * m,
        "effective_exact": d + 2 * m + 2,
        "stored": stored,
        "d": d,
        "m": m,
        "c": c,
    }


# ----------------------------------------------------------------------------- helpers


def _dot(x, w):
    return jnp.matmul(x, w, precision=jax.lax.Precision.HIGHEST)


def _check_activation(activation) -> None:
    if not isinstance(activation, str) or activation not in _ACTIVATIONS:
        raise ValueError(f"`activation` must be one of {_ACTIVATIONS}, got {activation!r}.")


def _check_criterion(criterion) -> None:
    if not isinstance(criterion, str) or criterion not in _CRITERIA:
        raise ValueError(f"`criterion` must be one of {_CRITERIA}, got {criterion!r}.")


def _check_model(model, name: str = "model") -> "SlicingNetwork":
    if not isinstance(model, SlicingNetwork):
        raise ValueError(f"`{name}` must be a SlicingNetwork, got {type(model).__name__}.")
    return model


def _not_text(value, name: str) -> None:
    """Numbers only: `_validate`'s number checks would parse a numeric string."""
    if isinstance(value, (str, bytes)):
        raise ValueError(f"`{name}` must be a number, got {value!r}.")


def _check_fraction(validation_fraction) -> float:
    _not_text(validation_fraction, "validation_fraction")
    check_range(
        validation_fraction,
        "validation_fraction",
        low=0.0,
        high=1.0,
        low_open=True,
        high_open=True,
    )
    return float(validation_fraction)


def _check_amplitude(amplitude, dtype) -> float:
    """The last layer holds `±amplitude` and differences up to `2 amplitude` in `dtype`."""
    _not_text(amplitude, "amplitude")
    check_positive(amplitude, "amplitude")
    fi = jnp.finfo(dtype)
    a, lo, hi = float(amplitude), float(fi.tiny), float(fi.max) / 4
    if not lo <= a <= hi:
        raise ValueError(
            f"`amplitude`={amplitude!r} is out of range for {np.dtype(dtype).name}: the last "
            f"layer holds ±amplitude and differences up to 2·amplitude, so it must be in "
            f"[{lo:.3g}, {hi:.3g}]."
        )
    return a


def _check_search_key(key):
    key = as_key(key)
    if not is_concrete(key):
        raise ValueError(
            "`key` must be concrete: the candidate search and fit are host-level functions "
            "(the returned model works under jit/vmap)."
        )
    return key


#: Candidate indices are int32 in the compiled search (index + batch stays below 2^31).
MAX_CANDIDATES = 2**30


def resolution(w: Float[Array, " d"], x: Float[Array, "*n d"]) -> Array:
    """Smallest resolvable difference of $w\\cdot x$ in the dtype:
    `EQUAL_TOLERANCE * eps * sum_j |w_j x_j|` (per row of `x`).

    `w` `(d,)` and `x` `(..., d)` must be finite real floating arrays of the same dtype."""
    w = check_floating(w, "w")
    x = check_floating(x, "x")
    if w.ndim != 1 or w.shape[0] < 1:
        raise ValueError(f"`w` must be a vector (d,), got shape {w.shape}.")
    if x.ndim < 1 or x.shape[-1] != w.shape[0]:
        raise ValueError(f"`x` must have last dimension {w.shape[0]}, got shape {x.shape}.")
    if x.dtype != w.dtype:
        raise ValueError(f"`x` must have the dtype of `w` ({w.dtype}), got {x.dtype}.")
    w, x = check_finite(w, "w"), check_finite(x, "x")
    return _resolution(w, x)


def _resolution(w, x) -> Array:
    eps = jnp.finfo(w.dtype).eps
    return EQUAL_TOLERANCE * eps * _dot(jnp.abs(x), jnp.abs(w))


def _slice_classes(model: "SlicingNetwork") -> np.ndarray:
    """Host-side class index (0..c-1; binary: 0 for -1, 1 for +1) of each slice."""
    v0, v = np.asarray(model.v0), np.asarray(model.v)
    z = np.concatenate([v0[None], v0[None] + np.cumsum(v, axis=0)])
    if model.is_binary:
        return (z >= 0).astype(np.int32)
    return np.argmax(z, axis=-1).astype(np.int32)


def _class_index(y, task: str) -> np.ndarray:
    """Host-side class index 0..c-1 (binary: 0 for -1, 1 for +1)."""
    y = np.asarray(y)
    return (y > 0).astype(np.int32) if task == "binary" else y.astype(np.int32)


def _last_layer(slice_cls: np.ndarray, num_classes: int, amplitude: float, dtype):
    """Closed-form solution of the §4 lower-triangular system: targets $T_k$ of the slices,
    `v0 = T_0`, `v_j = T_j - T_{j-1}` (telescoping differences). Host-side (numpy)."""
    slice_cls = np.asarray(slice_cls)
    if num_classes == 2:
        t = amplitude * np.where(slice_cls > 0, 1.0, -1.0)
    else:
        t = amplitude * (2.0 * np.eye(num_classes)[slice_cls] - 1.0)
    t = t.astype(dtype)
    return jnp.asarray(t[0]), jnp.asarray(t[1:] - t[:-1])


def candidate_direction(key: PRNGKeyArray, index, dim: int, dtype=jnp.float32) -> Array:
    """Candidate `index` of the search keyed by `key`: $w \\sim N(0, I_d)$ drawn from
    `fold_in(key, index)`, so a prefix of a search is a smaller search.

    `index`: an integer in `[0, 2^31)` (a traced integer is checked when the program runs);
    `dim >= 1`; `dtype` a real floating dtype."""
    key = as_key(key)
    dim = check_int_range(dim, "dim", low=1)
    try:
        floating = jnp.issubdtype(dtype, jnp.floating)
    except TypeError:
        floating = False
    if not floating:
        raise ValueError(f"`dtype` must be a real floating dtype, got {dtype!r}.")
    if is_concrete(index):
        if isinstance(index, (jax.Array, np.ndarray)):
            if index.shape != () or not jnp.issubdtype(index.dtype, jnp.integer):
                raise ValueError(
                    f"`index` must be one integer, got an array of dtype {index.dtype} and "
                    f"shape {index.shape}."
                )
            index = int(np.asarray(index))
        index = check_int_range(index, "index", low=0, high=2**31 - 1)
    else:
        if jnp.shape(index) != () or not jnp.issubdtype(jnp.result_type(index), jnp.integer):
            raise ValueError(
                f"`index` must be one integer, got dtype {jnp.result_type(index)} and shape "
                f"{jnp.shape(index)}."
            )
        index = eqx.error_if(index, index < 0, "`index` must be >= 0.")
    return _candidate_direction(key, index, dim, dtype)


def _candidate_direction(key, index, dim: int, dtype) -> Array:
    return jr.normal(jr.fold_in(key, index), (dim,), dtype)


_PAD = 32  # rows are padded to a multiple of this (class -1), so similar sizes share a compile


def _pad_rows(x: np.ndarray, c: np.ndarray, total: int | None = None):
    """Pad `(x, c)` to `total` rows (default: the next multiple of `_PAD`); padded rows have
    class -1 and are ignored."""
    n = x.shape[0]
    total = -(-n // _PAD) * _PAD if total is None else total
    xp = np.zeros((total,) + x.shape[1:], x.dtype)
    xp[:n] = x
    cp = np.full((total,), -1, np.int32)
    cp[:n] = c
    return jnp.asarray(xp), jnp.asarray(cp)


def _sort_columns(keys: Array) -> tuple[Array, Array]:
    r"""Stable ascending sort of every column of `keys` `(m, B)`, `m` a power of two: the sorted
    keys and the row each came from (ties by row index, as a stable `argsort`).

    A bitonic sorting network (Batcher 1968): $\log_2 m\,(\log_2 m + 1)/2$ data-independent
    compare-exchange stages, each an elementwise operation over the whole `(m, B)` block with
    the `B` candidates on the minor (vector) axis. The candidate search sorts ~300 projections
    for each of thousands of candidates; XLA:CPU's general (stable) sort is several times slower
    on such blocks (8.3x in
    `benchmarks/results/memorizing.json`, measured in the same run).
    """
    m = keys.shape[0]
    if m & (m - 1):
        raise ValueError(f"`_sort_columns` needs a power-of-two length, got {m}.")
    rows = jnp.broadcast_to(jnp.arange(m, dtype=jnp.int32)[:, None], keys.shape)
    size = 2
    while size <= m:
        stride = size // 2
        while stride >= 1:
            shape = (m // (2 * stride), 2, stride) + keys.shape[1:]
            k, r = keys.reshape(shape), rows.reshape(shape)
            k0, k1, r0, r1 = k[:, 0], k[:, 1], r[:, 0], r[:, 1]
            start = jnp.arange(m // (2 * stride), dtype=jnp.int32) * (2 * stride)
            up = ((start & size) == 0).reshape((-1, 1) + (1,) * (keys.ndim - 1))
            greater = (k0 > k1) | ((k0 == k1) & (r0 > r1))
            swap = jnp.where(up, greater, ~greater)
            keys = jnp.stack([jnp.where(swap, k1, k0), jnp.where(swap, k0, k1)], 1)
            rows = jnp.stack([jnp.where(swap, r1, r0), jnp.where(swap, r0, r1)], 1)
            keys, rows = keys.reshape((m,) + keys.shape[3:]), rows.reshape((m,) + rows.shape[3:])
            stride //= 2
        size *= 2
    return keys, rows


def _count_below(ps: Array, q: Array) -> Array:
    """`searchsorted(ps[:, b], q[:, b], side="left")` for every column `b`: branch-free
    bisection over the sorted, power-of-two-long columns of `ps` `(m, B)`; `q` is `(k, B)`."""
    m = ps.shape[0]
    pos = jnp.zeros(q.shape, jnp.int32)
    step = m // 2
    while step >= 1:
        probe = jnp.take_along_axis(ps, pos + step - 1, axis=0)
        pos = jnp.where(probe < q, pos + step, pos)
        step //= 2
    last = jnp.take_along_axis(ps, pos, axis=0)  # pos <= m - 1 here; one more step for m
    return jnp.where(last < q, pos + 1, pos)


def _running(op, a: Array, fill) -> Array:
    """Inclusive running `op` (max/min) down axis 0 by recursive doubling: `log2(m)` shifted
    elementwise steps (XLA:CPU lowers `lax.cummax` to a much slower windowed reduction here)."""
    m, shift = a.shape[0], 1
    while shift < m:
        pad = jnp.full((shift,) + a.shape[1:], fill, a.dtype)
        a = op(a, jnp.concatenate([pad, a[:-shift]]))
        shift *= 2
    return a


class _SearchBlock(eqx.Module):
    """Scores `batch` consecutive candidates of a search (see [`candidate_search`][]).

    One block is an `(m, batch)` computation: the projections of every training point on every
    candidate are one matmul, sorted column-wise by [`_sort_columns`][], and every score is read
    from the sorted columns:

    - `valid` / `num_slices`: consecutive projections of different classes must differ by more
      than the tolerance of the module docstring; their number is the number of slices.
    - `val_accuracy` (rule fitted on the fit rows, scored on the validation rows): both are rows
      of the same sorted column, so a validation point's nearest fit projection is the previous
      or the next fit row in that column (running max/min of fit positions), no second sort.
      Where a fit and a validation projection are exactly equal, the tie may resolve differently
      from sorting the fit rows alone; for a *valid* candidate tied points have the same class,
      so the score is the same either way.
    - `eval_accuracy` (rule fitted on all rows): bisection of the evaluation projections into the
      sorted column, nearest neighbour with ties to the left, as `np.searchsorted` would.
    """

    key: PRNGKeyArray
    x: Array  # (m, d), rows past the data are zero with class -1
    cls: Array  # (m,) class index, -1 for padding
    role: Array | None  # (m,) 1 fit row, 2 validation row, 0 otherwise; None: no validation
    eval_x: Array | None
    eval_cls: Array | None
    batch: int = eqx.field(static=True)

    def __call__(self, first: Array):
        x, cls, dtype = self.x, self.cls, self.x.dtype
        m, d = x.shape
        idx = first + jnp.arange(self.batch, dtype=jnp.int32)
        w = jax.vmap(lambda i: _candidate_direction(self.key, i, d, dtype))(idx).T  # (d, B)
        real = (cls >= 0)[:, None]
        p = jnp.where(real, _dot(x, w), jnp.inf)
        ps, order = _sort_columns(p)
        cs = cls[order]
        a = jnp.take_along_axis(_dot(jnp.abs(x), jnp.abs(w)), order, axis=0)
        change = (cs[1:] != cs[:-1]) & (cs[1:] >= 0)
        tol = EQUAL_TOLERANCE * jnp.finfo(dtype).eps * (a[1:] + a[:-1])
        ok = jnp.all(~change | ((ps[1:] - ps[:-1]) > tol), axis=0)
        num_slices = jnp.sum(change, axis=0, dtype=jnp.int32)
        nan = jnp.full((self.batch,), jnp.nan, dtype)
        val = nan if self.role is None else self._val_accuracy(ps, cs, self.role[order])
        ev = nan if self.eval_x is None else self._eval_accuracy(ps, cs, w)
        return ok, num_slices, val, ev

    def _val_accuracy(self, ps, cs, role):
        m = ps.shape[0]
        pos = jnp.broadcast_to(jnp.arange(m, dtype=jnp.int32)[:, None], ps.shape)
        fit = role == 1
        prev = _running(jnp.maximum, jnp.where(fit, pos, -1), -1)
        nxt = _running(jnp.minimum, jnp.where(fit, pos, m)[::-1], m)[::-1]
        # strictly before / after each position (a validation row is never a fit row)
        left, right = jnp.clip(prev, 0, m - 1), jnp.clip(nxt, 0, m - 1)
        lv = jnp.where(prev >= 0, jnp.take_along_axis(ps, left, axis=0), -jnp.inf)
        rv = jnp.where(nxt < m, jnp.take_along_axis(ps, right, axis=0), jnp.inf)
        pick = jnp.where(ps - lv <= rv - ps, left, right)
        val = role == 2
        picked = jnp.take_along_axis(cs, pick, axis=0)
        hits = jnp.sum((val & (picked == cs)).astype(ps.dtype), axis=0)
        return hits / jnp.sum(val.astype(ps.dtype), axis=0)

    def _eval_accuracy(self, ps, cs, w):
        m = ps.shape[0]
        q = _dot(self.eval_x, w)  # (k, B)
        i = _count_below(ps, q)
        left, right = jnp.clip(i - 1, 0, m - 1), jnp.clip(i, 0, m - 1)
        lv = jnp.take_along_axis(ps, left, axis=0)
        rv = jnp.take_along_axis(ps, right, axis=0)
        pick = jnp.where(jnp.abs(q - lv) <= jnp.abs(rv - q), left, right)
        real = (self.eval_cls >= 0)[:, None]
        picked = jnp.take_along_axis(cs, pick, axis=0)
        hits = jnp.sum((real & (picked == self.eval_cls[:, None])).astype(ps.dtype), axis=0)
        return hits / jnp.sum(real.astype(ps.dtype))


@dataclasses.dataclass(frozen=True)
class CandidateScores:
    """Per-candidate results of [`candidate_search`][] (arrays of length `num_candidates`).

    - `valid`: no two points of different classes get equal projections (tolerance above).
    - `num_slices`: number of class changes along the candidate = neurons it would need.
    - `val_accuracy`: accuracy of the slicing rule fitted on the fit split, on the validation
      split (NaN when not computed).
    - `eval_accuracy`: accuracy on `(x_eval, y_eval)` of the rule fitted on all of `x` — i.e. the
      fitted network's accuracy there (NaN when not computed).
    """

    valid: np.ndarray
    num_slices: np.ndarray
    val_accuracy: np.ndarray
    eval_accuracy: np.ndarray

    def best(self, criterion: str = "accuracy", *, first: int | None = None) -> int:
        """Index of the chosen candidate among the first `first` (default all).

        `"accuracy"`: highest `val_accuracy`, ties to fewer slices, then lower index;
        `"fewest_slices"`: fewest slices, then lower index. Invalid candidates never win;
        `ValueError` when none is valid, for an unknown `criterion` or a `first` outside
        `1..num_candidates`.
        """
        _check_criterion(criterion)
        total = len(self.valid)
        n = total if first is None else check_int_range(first, "first", low=1, high=total)
        valid = self.valid[:n]
        if not valid.any():
            raise ValueError(
                f"No valid direction among {n} candidates: every candidate gave equal "
                "projections to points of different classes. Increase `num_candidates`."
            )
        idx = np.arange(n)
        m = self.num_slices[:n].astype(np.float64)
        if criterion == "accuracy":
            acc = np.nan_to_num(self.val_accuracy[:n].astype(np.float64), nan=-1.0)
            keys = (idx, m, -acc, ~valid)
        else:
            keys = (idx, m, ~valid)
        return int(np.lexsort(keys)[0])


def _duplicates_with_different_labels(x: np.ndarray, cls: np.ndarray):
    _, inverse = np.unique(x, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.lexsort((cls, inverse))
    g, c = inverse[order], cls[order]
    bad = np.nonzero((g[1:] == g[:-1]) & (c[1:] != c[:-1]))[0]
    if bad.size == 0:
        return None
    return int(order[bad[0]]), int(order[bad[0] + 1])


def _split(key, n: int, validation_fraction: float):
    n_val = min(max(1, int(round(n * validation_fraction))), n - 1)
    seed = np.asarray(jr.key_data(key)).ravel().tolist()
    perm = np.random.default_rng(seed).permutation(n)
    return perm[n_val:], perm[:n_val]


def candidate_search(
    key: PRNGKeyArray,
    x: Float[ArrayLike, "n d"],
    y: ArrayLike,
    *,
    num_candidates: int = 10_000,
    batch_size: int = 256,
    validation_fraction: float | None = 0.2,
    x_eval: Float[ArrayLike, "k d"] | None = None,
    y_eval: ArrayLike | None = None,
    mesh: Mesh | None = None,
) -> CandidateScores:
    """Score `num_candidates` random directions $w \\sim N(0, I)$ (Leonardis §4–§5).

    One compiled computation over blocks of `batch_size` consecutive candidates, candidate `i`
    drawn from `fold_in(key, i)` (see [`candidate_direction`][]). A block is one matmul, a
    column-wise sorting network and elementwise reads of the sorted columns (`_SearchBlock`);
    blocks run one after another on each device (`lax.map`), so peak memory is
    `O(batch_size · n)` whatever `num_candidates` is, and the blocks are split over the devices
    of `mesh` by [`jaxbd.sharding.sharded_map`][] (results do not depend on the device count).

    **Arguments:**

    - `key`: the search key (the split of the validation set uses `fold_in(key, -1)`... in fact
      a key derived from it; the same `key` gives the same candidates).
    - `x`, `y`: training data (±1 or `0..c-1` labels).
    - `num_candidates`, `batch_size`: ints >= 1.
    - `validation_fraction`: fraction of `x` held out to score the slicing rule (`None`: skip).
    - `x_eval`, `y_eval`: optional evaluation data (e.g. the test set).
    - `mesh`: a one-dimensional device mesh (default: all of `jax.devices()`).

    **Returns:** [`CandidateScores`][]. `val_accuracy`/`eval_accuracy` are exact for valid
    candidates; for an invalid one (points of different classes with equal projections) the
    nearest-projection rule is ambiguous and ties resolve by row order.
    """
    key = _check_search_key(key)
    x, y, task, c = check_xy(x, y)
    num_candidates = check_int_range(num_candidates, "num_candidates", low=1, high=MAX_CANDIDATES)
    batch_size = check_int_range(batch_size, "batch_size", low=1)
    cls_np = _class_index(y, task)
    n = x.shape[0]
    rows = 1 << max(1, (n - 1).bit_length())  # a power of two for the sorting network
    role = None
    if validation_fraction is not None:
        _check_fraction(validation_fraction)
        if n < 2:
            raise ValueError("`x` needs at least 2 examples for a validation split.")
        tr, va = _split(jr.fold_in(key, 2**31 - 1), n, float(validation_fraction))
        role_np = np.zeros(rows, np.int32)
        role_np[tr], role_np[va] = 1, 2
        role = jnp.asarray(role_np)
    eval_x = eval_cls = None
    if x_eval is None and y_eval is not None:
        raise ValueError("`x_eval` is required with `y_eval`.")
    if x_eval is not None:
        if y_eval is None:
            raise ValueError("`y_eval` is required with `x_eval`.")
        x_eval = check_matrix(x_eval, "x_eval", dim=x.shape[1])
        if x_eval.dtype != x.dtype:
            raise ValueError(f"`x_eval` must have dtype {x.dtype}, got {x_eval.dtype}.")
        # The training task decides: labels of the same task, classes 0..c-1 of the training set.
        y_eval = check_labels(y_eval, x_eval, name="y_eval", num_classes=c, training=False)[0]
        eval_x, eval_cls = _pad_rows(np.asarray(x_eval), _class_index(y_eval, task))
    xp, cls = _pad_rows(np.asarray(x), cls_np, rows)
    batch = min(batch_size, num_candidates)
    block = _SearchBlock(key, xp, cls, role, eval_x, eval_cls, batch)
    firsts = jnp.arange(0, num_candidates, batch, dtype=jnp.int32)
    out = sharded_map(block, firsts, mesh=mesh, batch_size=1)
    ok, m, val, ev = (np.asarray(o).reshape(-1)[:num_candidates] for o in out)
    return CandidateScores(valid=ok, num_slices=m, val_accuracy=val, eval_accuracy=ev)


# ----------------------------------------------------------------------------- construction


def from_direction(
    w: Float[ArrayLike, " d"],
    x: Float[ArrayLike, "n d"],
    y: ArrayLike,
    *,
    activation: str = "sigmoid",
    amplitude: float = 10.0,
) -> SlicingNetwork:
    """Build the slicing network of Leonardis §4 for a given direction `w`.

    Sort the projections $h_i = w\\cdot x_i$, put one neuron at the midpoint of every pair of
    consecutive projections of different classes, solve the triangular system for the last
    layer in closed form (differences of the slice targets) and set the sharpness from the
    smallest projection–division-point gap (module docstring).

    `ValueError` if `w` gives equal projections (within [`resolution`][]) to two points of
    different classes, naming them.
    """
    if not is_concrete(w):
        raise ValueError("`w` must be concrete: from_direction is a host-level function.")
    x, y, task, c = check_xy(x, y)
    w = check_example(w, x.shape[1], "w")
    if w.dtype != x.dtype:
        raise ValueError(f"`w` must have dtype {x.dtype}, got {w.dtype}.")
    _check_amplitude(amplitude, x.dtype)
    _check_activation(activation)
    cls = _class_index(y, task)
    p = np.asarray(_dot(x, w))
    if not np.all(np.isfinite(p)):
        raise ValueError("`w` gives non-finite projections w·x (overflow): rescale `w` or `x`.")
    res = np.asarray(_resolution(w, x))
    order = np.argsort(p, kind="stable")
    ps, cs, rs = p[order], cls[order], res[order]
    change = cs[1:] != cs[:-1]
    close = change & ((ps[1:] - ps[:-1]) <= rs[1:] + rs[:-1])
    if close.any():
        k = int(np.nonzero(close)[0][0])
        i, j = int(order[k]), int(order[k + 1])
        raise ValueError(
            f"`w` gives (numerically) equal projections to points {i} and {j} of different "
            f"classes ({ps[k]!r} vs {ps[k + 1]!r}): no slicing along this `w` separates them."
        )
    dt = np.dtype(x.dtype)
    biases = ((ps[:-1][change] + ps[1:][change]) / 2).astype(dt)
    slice_cls = np.concatenate([cs[:1], cs[1:][change]])
    if biases.size:
        min_gap = float(np.min(np.abs(p[:, None] - biases[None, :])))
    else:
        min_gap = 1.0
    v0, v = _last_layer(slice_cls, c, float(amplitude), np.dtype(x.dtype))
    return SlicingNetwork(
        w=w,
        biases=jnp.asarray(biases),
        v=v,
        v0=v0,
        min_gap=jnp.asarray(min_gap, x.dtype),
        num_classes=c,
        activation=activation,
    )


def fit(
    key: PRNGKeyArray,
    x: Float[ArrayLike, "n d"],
    y: ArrayLike,
    *,
    num_candidates: int = 10_000,
    criterion: str = "accuracy",
    batch_size: int = 256,
    validation_fraction: float = 0.2,
    activation: str = "sigmoid",
    amplitude: float = 10.0,
) -> SlicingNetwork:
    """Fit the memorizing slicing network (Leonardis §4, with the §5 search over $w$).

    Draws `num_candidates` directions $w \\sim N(0, I)$ ([`candidate_search`][], one compiled
    `lax.map`), rejects those giving equal projections to points of different classes, and
    chooses one by `criterion`:

    - `"accuracy"` (default; the paper's "sampling through 10,000 possible choices for w", §5):
      highest accuracy of the slicing rule on a held-out `validation_fraction` of the training
      data (rule fitted on the rest), ties to fewer slices;
    - `"fewest_slices"`: fewest class changes along $w$ (smallest network).

    The network is then built on *all* training points with [`from_direction`][]; it classifies
    every training point correctly (module docstring, "Sharpness").

    `ValueError` for a `key` that is not a PRNG key, NaN/inf, non-floating or empty data, bad
    labels (±1 or every class `0..c-1`, at least two classes), `num_candidates` outside
    `1..MAX_CANDIDATES`, an unknown criterion or activation, a bad `batch_size`,
    `validation_fraction` or `amplitude`, and when no candidate is valid — naming two identical
    points with different labels when that is why (then no $w$ exists at all).
    """
    key = _check_search_key(key)
    x, y, task, c = check_xy(x, y)
    num_candidates = check_int_range(num_candidates, "num_candidates", low=1, high=MAX_CANDIDATES)
    _check_criterion(criterion)
    _check_activation(activation)
    _check_amplitude(amplitude, x.dtype)
    check_int_range(batch_size, "batch_size", low=1)
    if criterion == "accuracy":
        _check_fraction(validation_fraction)
    dup = _duplicates_with_different_labels(np.asarray(x), _class_index(y, task))
    if dup is not None:
        raise ValueError(
            f"Points {dup[0]} and {dup[1]} of `x` are identical but have different labels: "
            "every w gives them equal projections, so no valid w exists."
        )
    scores = candidate_search(
        key,
        x,
        y,
        num_candidates=num_candidates,
        batch_size=batch_size,
        validation_fraction=validation_fraction if criterion == "accuracy" else None,
    )
    best = scores.best(criterion)
    w = _candidate_direction(key, best, x.shape[1], x.dtype)
    return from_direction(w, x, y, activation=activation, amplitude=amplitude)


# ----------------------------------------------------------------------------- backdoor (§6)


def _check_target(model: SlicingNetwork, target) -> int:
    if isinstance(target, (str, bytes)) or target is None or not is_concrete(target):
        raise ValueError(f"`target` must be one concrete label, got {target!r}.")
    try:
        t = np.asarray(target)
    except (TypeError, ValueError):
        raise ValueError(f"`target` must be one label, got {target!r}.") from None
    if t.ndim != 0 or t.dtype == np.bool_ or t.dtype.kind not in "iuf":
        raise ValueError(f"`target` must be one real label, got {target!r}.")
    if not np.isfinite(t):
        raise ValueError(f"`target` must be one label, got {target!r}.")
    if model.is_binary:
        if float(t) not in (-1.0, 1.0):
            raise ValueError(f"`target` must be -1 or +1 for a binary network, got {target!r}.")
        return int(float(t) > 0)
    if float(t) != round(float(t)) or not 0 <= int(t) < model.num_classes:
        raise ValueError(
            f"`target` must be a label in 0..{model.num_classes - 1}, got {target!r}."
        )
    return int(t)


def backdoor(
    model: SlicingNetwork,
    x_star: Float[ArrayLike, " d"],
    target,
    *,
    eps: float,
    x: Float[ArrayLike, "n d"] | None = None,
) -> SlicingNetwork:
    r"""Insert the backdoor of Leonardis §6: division points $b^* \pm \epsilon$ around
    $b^* = w\cdot x^*$, the range between them labelled `target`, last layer recomputed.

    The slice holding $b^*$ is split in two (both keep its label) around the new range; the
    slice labels are read back from the last layer, so the model holds everything needed. The
    sharpness is recomputed from $\min(g, \epsilon, \text{training gaps to } b^* \pm \epsilon)$.

    **Arguments:**

    - `model`: an honest (or already backdoored) [`SlicingNetwork`][].
    - `x_star`: the trigger input `(d,)`; `target`: the label it should get.
    - `eps`: half-width of the inserted range, `> 0`.
    - `x`: the training inputs (the attacker built the model, so has them). When given, every
      training point is checked to stay outside the range (so keeps its label, with the new
      sharpness covering its distance to the new division points). Without `x` only the model's
      own division points are checked and a training point closer than
      $\min(g, \epsilon)$ to $b^* \pm \epsilon$ could flip.

    **Raises** `ValueError` for a `model` that is not a [`SlicingNetwork`][], a non-finite or
    ill-typed `x_star`/`x` (the model's dtype), a `target` that is not a label of the model's
    task (bools and fractions included), a traced argument (host-level function), when
    `eps <= 0` or so large that `w·x* ± eps` overflows, when `eps` is below [`resolution`][] at $x^*$
    (the dtype cannot place a range that narrow at $|w\cdot x^*|$), when the range contains an
    existing division point, or when it would swallow a training point (named by its index).
    """
    model = _check_model(model)
    if not is_concrete(eps):
        raise ValueError("`eps` must be a concrete number: backdoor is a host-level function.")
    _not_text(eps, "eps")
    check_positive(eps, "eps")
    x_star = check_example(x_star, model.dim, "x_star")
    if x_star.dtype != model.w.dtype:
        raise ValueError(f"`x_star` must have dtype {model.w.dtype}, got {x_star.dtype}.")
    if not is_concrete(x_star):
        raise ValueError("`x_star` must be concrete: backdoor is a host-level function.")
    t_cls = _check_target(model, target)
    dt = np.dtype(model.w.dtype)
    b_star = float(_dot(x_star, model.w))
    res = float(_resolution(model.w, x_star))
    if not float(eps) > res:
        raise ValueError(
            f"`eps`={eps!r} is below what {dt} resolves at |w·x*| = {abs(b_star):.6g}: "
            f"it must exceed {res:.3g} (= {EQUAL_TOLERANCE:g}·eps_{dt}·Σ|w_j x*_j|)."
        )
    with np.errstate(over="ignore"):
        lo, hi = dt.type(b_star - eps), dt.type(b_star + eps)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(
            f"`eps`={eps!r} is too large for {dt}: the range w·x* ± eps overflows; choose a "
            "smaller `eps`."
        )
    biases = np.asarray(model.biases)
    inside = np.nonzero((biases >= lo) & (biases <= hi))[0]
    if inside.size:
        j = int(inside[0])
        raise ValueError(
            f"The range [{lo:.6g}, {hi:.6g}] contains division point {j} ({biases[j]:.6g}); "
            "choose a smaller `eps`."
        )
    gap = min(float(model.min_gap), float(eps))
    if x is not None:
        x = check_matrix(x, "x", dim=model.dim)
        if x.dtype != model.w.dtype:
            raise ValueError(f"`x` must have dtype {model.w.dtype}, got {x.dtype}.")
        p = np.asarray(_dot(x, model.w))
        r = np.asarray(_resolution(model.w, x))
        hit = np.nonzero((p >= lo - r) & (p <= hi + r))[0]
        if hit.size:
            i = int(hit[0])
            raise ValueError(
                f"The range [{lo:.6g}, {hi:.6g}] would swallow training point {i} "
                f"(w·x = {p[i]:.6g}); choose a smaller `eps` or another `x_star`."
            )
        gap = min(gap, float(np.min(np.minimum(np.abs(p - lo), np.abs(p - hi)))))
    cls = _slice_classes(model)
    k = int(np.searchsorted(biases, b_star))
    new_biases = np.concatenate([biases[:k], np.array([lo, hi], dt), biases[k:]])
    new_cls = np.concatenate([cls[: k + 1], [t_cls], cls[k:]]).astype(np.int32)
    v0, v = _last_layer(new_cls, model.num_classes, float(model.amplitude), dt)
    return SlicingNetwork(
        w=model.w,
        biases=jnp.asarray(new_biases),
        v=v,
        v0=v0,
        min_gap=jnp.asarray(gap, dt),
        num_classes=model.num_classes,
        activation=model.activation,
    )


# ----------------------------------------------------------------------------- audit (§6)


@dataclasses.dataclass(frozen=True)
class AuditReport:
    r"""White-box audit of a slicing network against a training set (Leonardis §6).

    **Fields:**

    - `unexplained`: `(k, 2)` ranges `[lo, hi]` of $w\cdot x$ (slices of the network) that hold
      no training point (`±inf` for the two unbounded end slices).
    - `unexplained_labels`: `(k,)` the label the network gives each of them.
    - `unexplained_width_rank`: `(k,)` fraction of the network's bounded ranges at most as wide
      (0 ≈ the narrowest; a short range is the §6 tell-tale, if short ranges are rare).
    - `widths`: `(m + 1,)` width of every range (`inf` at the two ends).
    - `counts`: `(m + 1,)` training points per range; `mislabeled`: `(m + 1,)` training points
      whose label differs from the range's label.
    - `w`: the direction; what the audit reveals about a trigger $x^*$ is only that
      $w\cdot x^*$ lies in an unexplained range — a slab between two parallel hyperplanes of
      $\mathbb{R}^d$, not $x^*$ itself ([`AuditReport.in_unexplained`][] tests membership).
    """

    unexplained: np.ndarray
    unexplained_labels: np.ndarray
    unexplained_width_rank: np.ndarray
    widths: np.ndarray
    counts: np.ndarray
    mislabeled: np.ndarray
    w: np.ndarray

    @property
    def num_flagged(self) -> int:
        return int(self.unexplained.shape[0])

    @property
    def num_mislabeled(self) -> int:
        return int(self.mislabeled.sum())

    def contains(self, value) -> np.ndarray:
        """Which flagged ranges contain the hash value(s) `value` (`(k,)` or `(n, k)`).

        `value` must be real and finite (`ValueError` naming `value`)."""
        v = _finite_host(value, "value")[..., None]
        return (self.unexplained[:, 0] < v) & (v < self.unexplained[:, 1])

    def in_unexplained(self, x) -> np.ndarray:
        """Whether each input of `x` (`(n, d)`) falls in some flagged slab — all an auditor
        can say about a would-be trigger."""
        x = _finite_host(x, "x")
        if x.ndim != 2 or x.shape[1] != self.w.shape[0]:
            raise ValueError(f"`x` must have shape (n, {self.w.shape[0]}), got {x.shape}.")
        p = x @ self.w.astype(np.float64)
        return self.contains(p).any(axis=-1)


def _finite_host(value, name: str) -> np.ndarray:
    """`value` as a float64 numpy array; refuses non-real, traced and non-finite values."""
    if isinstance(value, (str, bytes)) or value is None or not is_concrete(value):
        raise ValueError(f"`{name}` must be a concrete real number or array, got {value!r}.")
    try:
        a = np.asarray(value)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a real number or array, got {value!r}.") from None
    if a.dtype == np.bool_ or a.dtype.kind not in "iuf":
        raise ValueError(f"`{name}` must be real numbers, got dtype {a.dtype}.")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"`{name}` contains NaN or inf values.")
    return a


def audit(model: SlicingNetwork, x: Float[ArrayLike, "n d"], y: ArrayLike) -> AuditReport:
    """Validate every range of `model` against training data `(x, y)` (Leonardis §6).

    A range is explained when at least one training point falls in it; an honest network fitted
    on `(x, y)` has no unexplained range (every slice holds the run of points that made it) and
    no mislabeled point. A backdoor's inserted range holds none. With part of the training set
    missing, ranges made by the missing points also become unexplained.

    `ValueError` for a `model` that is not a [`SlicingNetwork`][], non-finite, non-floating or
    ill-shaped `x` (its dtype must be the model's), and labels `y` outside the model's task
    (`±1` for a binary network, `0..c-1` otherwise; a subset of the classes is fine).
    """
    model = _check_model(model)
    x = check_matrix(x, "x", dim=model.dim)
    if x.dtype != model.w.dtype:
        raise ValueError(f"`x` must have dtype {model.w.dtype}, got {x.dtype}.")
    c = model.num_classes
    try:  # a subset of the training set: any labels of the model's task (not every class)
        y, task, _ = check_labels(y, x, num_classes=c, training=False)
    except ValueError as e:
        labels = "-1/+1 (binary)" if model.is_binary else f"0..{c - 1}"
        msg = f"{e} `y` does not match the model ({c} classes: labels {labels})."
        raise ValueError(msg) from None
    cls = _class_index(y, task)
    biases = np.asarray(model.biases, dtype=np.float64)
    m = biases.shape[0]
    p = np.asarray(_dot(x, model.w), dtype=np.float64)
    s = np.searchsorted(biases, p)
    counts = np.bincount(s, minlength=m + 1)
    lab_cls = _slice_classes(model)
    labels = np.where(lab_cls > 0, 1.0, -1.0) if model.is_binary else lab_cls
    mislabeled = np.bincount(s, weights=(cls != lab_cls[s]).astype(np.float64), minlength=m + 1)
    edges = np.concatenate([[-np.inf], biases, [np.inf]])
    ranges = np.stack([edges[:-1], edges[1:]], axis=1)
    widths = ranges[:, 1] - ranges[:, 0]
    empty = np.nonzero(counts == 0)[0]
    finite = np.sort(widths[np.isfinite(widths)])
    if finite.size:
        rank = np.searchsorted(finite, widths[empty], side="right") / finite.size
    else:
        rank = np.ones(empty.size)
    return AuditReport(
        unexplained=ranges[empty],
        unexplained_labels=labels[empty],
        unexplained_width_rank=np.asarray(rank, dtype=np.float64),
        widths=widths,
        counts=counts,
        mislabeled=mislabeled.astype(np.int64),
        w=np.asarray(model.w),
    )

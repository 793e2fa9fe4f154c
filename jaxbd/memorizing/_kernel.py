r"""The compiled kernel of the candidate search (Leonardis §4–§5): candidate directions, a
column-wise sorting network, a branch-free bisection and running max/min, and the block of
candidates they score together.

Everything here runs inside one `jit`: the search calls [`_SearchBlock`][] under `lax.map`
(through [`jaxbd.sharding.sharded_map`][]), one block of `batch` candidates at a time.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from .._validate import as_key, check_int_range, is_concrete, runtime_check
from ._checks import _check_dtype
from ._network import EQUAL_TOLERANCE, _dot


def candidate_direction(key: PRNGKeyArray, index, dim: int, dtype=jnp.float32) -> Array:
    """Candidate `index` of the search keyed by `key`: $w \\sim N(0, I_d)$ drawn from
    `fold_in(key, index)`, so a prefix of a search is a smaller search (Leonardis §5).

    `index`: an integer in `[0, 2^31)` (a traced integer is checked when the program runs);
    `dim >= 1`; `dtype` a real floating dtype. Works under `jit`/`vmap` (the search calls it on
    traced indices)."""
    key = as_key(key)
    dim = check_int_range(dim, "dim", low=1)
    _check_dtype(dtype)
    return jr.normal(jr.fold_in(key, _check_index(index)), (dim,), dtype)


def _check_index(index):
    """One integer `>= 0`: host check, or `eqx.error_if` for a traced one (use the result)."""
    if isinstance(index, (jax.Array, np.ndarray)) or not is_concrete(index):
        shape, dtype = jnp.shape(index), jnp.result_type(index)
        if shape != () or not jnp.issubdtype(dtype, jnp.integer):
            raise ValueError(f"`index` must be one integer, got dtype {dtype} and shape {shape}.")
        if not is_concrete(index):
            return runtime_check(index, index < 0, "`index` must be >= 0.")
        index = int(np.asarray(index))
    return check_int_range(index, "index", low=0, high=2**31 - 1)


def _bitonic_stages(m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The $\log_2 m\,(\log_2 m + 1)/2$ stages of Batcher's bitonic network on `m` (a power of
    two) rows, as tables over `(stage, row)`: each row's partner (`row ^ stride`), whether the
    row is the lower of its pair, and whether its pair sorts ascending (`row & size == 0`)."""
    stages = []
    size = 2
    while size <= m:
        stride = size // 2
        while stride >= 1:
            stages.append((size, stride))
            stride //= 2
        size *= 2
    st = np.array(stages, np.int32).reshape(-1, 2)
    row = np.arange(m, dtype=np.int32)[None, :]
    partner = row ^ st[:, 1:]
    lower = (row & st[:, 1:]) == 0
    ascending = (row & st[:, :1]) == 0
    return partner, lower, ascending


def _sort_columns(keys: Array) -> tuple[Array, Array]:
    r"""Stable ascending sort of every column of `keys` `(m, B)`, `m` a power of two: the sorted
    keys and the row each came from (ties by row index, as a stable `argsort`).

    A bitonic sorting network (Batcher 1968): $\log_2 m\,(\log_2 m + 1)/2$ data-independent
    compare-exchange stages, each an elementwise operation over the whole `(m, B)` block with
    the `B` candidates on the minor (vector) axis. The stages run as one rolled loop
    (`lax.fori_loop` over a table of partners and directions): unrolled, the network was ~15x
    slower to compile (3.5 s against 0.2 s for `m = 512`, measured by hand) and 1.8-2.6x faster
    to run, and a search is usually compiled once and run once. XLA:CPU's general (stable) sort
    is slower still on such blocks (measured in the same run by `benchmarks/bench_memorizing.py`).
    """
    m = keys.shape[0]
    if m & (m - 1):
        raise ValueError(f"`_sort_columns` needs a power-of-two length, got {m}.")
    partner, lower, ascending = (jnp.asarray(t) for t in _bitonic_stages(m))
    rows = jnp.broadcast_to(jnp.arange(m, dtype=jnp.int32)[:, None], keys.shape)

    def stage(t, carry):
        k, r = carry
        lo, up = lower[t][:, None], ascending[t][:, None]
        ko, ro = k[partner[t]], r[partner[t]]
        k_lo, k_hi = jnp.where(lo, k, ko), jnp.where(lo, ko, k)
        r_lo, r_hi = jnp.where(lo, r, ro), jnp.where(lo, ro, r)
        greater = (k_lo > k_hi) | ((k_lo == k_hi) & (r_lo > r_hi))
        swap = greater == up  # ascending pair: swap when out of order; descending: when in order
        return jnp.where(swap, ko, k), jnp.where(swap, ro, r)

    return jax.lax.fori_loop(0, partner.shape[0], stage, (keys, rows))


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
    """Inclusive running `op` (max/min) down axis 0 by recursive doubling: `ceil(log2 m)`
    shifted elementwise steps in a rolled loop (XLA:CPU lowers `lax.cummax` to a much slower
    windowed reduction here; unrolled, the steps cost ~0.2 s of compile time each call site)."""
    m = a.shape[0]
    if m == 1:
        return a
    pad = jnp.full(a.shape, fill, a.dtype)

    def step(t, a):
        shift = jnp.left_shift(jnp.int32(1), t)  # a[i] against a[i - shift], fill above row 0
        return op(a, jax.lax.dynamic_slice_in_dim(jnp.concatenate([pad, a]), m - shift, m))

    return jax.lax.fori_loop(0, (m - 1).bit_length(), step, a)


class _SearchBlock(eqx.Module):
    """Scores `batch` consecutive candidates of a search (see [`candidate_search`][]).

    One block is an `(m, batch)` computation: the projections of every training point on every
    candidate are one matmul, sorted column-wise by [`_sort_columns`][], and every score is read
    from the sorted columns:

    - `valid` / `num_slices`: consecutive projections of different classes must differ by more
      than the tolerance of the package docstring; their number is the number of slices.
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
        w = jax.vmap(lambda i: candidate_direction(self.key, i, d, dtype))(idx).T  # (d, B)
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
        eval_x, eval_cls = self.eval_x, self.eval_cls
        assert eval_x is not None and eval_cls is not None  # called only with evaluation data
        m = ps.shape[0]
        q = _dot(eval_x, w)  # (k, B)
        i = _count_below(ps, q)
        left, right = jnp.clip(i - 1, 0, m - 1), jnp.clip(i, 0, m - 1)
        lv = jnp.take_along_axis(ps, left, axis=0)
        rv = jnp.take_along_axis(ps, right, axis=0)
        pick = jnp.where(jnp.abs(q - lv) <= jnp.abs(rv - q), left, right)
        real = (eval_cls >= 0)[:, None]
        picked = jnp.take_along_axis(cs, pick, axis=0)
        hits = jnp.sum((real & (picked == eval_cls[:, None])).astype(ps.dtype), axis=0)
        return hits / jnp.sum(real.astype(ps.dtype))

r"""The search over candidate directions $w \\sim N(0, I)$ of Leonardis §4–§5 (host side).

[`candidate_search`][] validates the data, pads it to a power-of-two number of rows, and runs
the compiled kernel (`_kernel._SearchBlock`) over blocks of candidates; [`CandidateScores`][]
holds the per-candidate results and chooses one.
"""

import dataclasses
from typing import TYPE_CHECKING

import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.sharding import Mesh
from jaxtyping import ArrayLike, Float, PRNGKeyArray

from .._validate import check_int_range, check_labels, check_matrix, check_xy
from ..sharding import sharded_map
from ._checks import _check_criterion, _check_fraction, _check_same_dtype, _check_search_key
from ._kernel import _SearchBlock
from ._network import _class_index


# A Mesh for pyright; at run time `sharding.check_mesh` checks `mesh` (a ValueError naming
# it), not the import hook.
if TYPE_CHECKING:
    _Mesh = Mesh | None
else:
    _Mesh = object


#: Candidate indices are int32 in the compiled search (index + batch stays below 2^31).
MAX_CANDIDATES = 2**30


_PAD = 32  # rows are padded to a multiple of this (class -1), so similar sizes share a compile


def _pad_rows(x: np.ndarray, c: np.ndarray, total: int | None = None):
    """Pad `(x, c)` to `total` rows (default: the next multiple of `_PAD`); padded rows have
    class -1 and are ignored."""
    n = x.shape[0]
    rows: int = -(-n // _PAD) * _PAD if total is None else total
    xp = np.zeros((rows,) + x.shape[1:], x.dtype)
    xp[:n] = x
    cp = np.full((rows,), -1, np.int32)
    cp[:n] = c
    return jnp.asarray(xp), jnp.asarray(cp)


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
    mesh: _Mesh = None,
) -> CandidateScores:
    """Score `num_candidates` random directions $w \\sim N(0, I)$ (Leonardis §4–§5).

    One compiled computation over blocks of `batch_size` consecutive candidates, candidate `i`
    drawn from `fold_in(key, i)` (see [`candidate_direction`][]). A block is one matmul, a
    column-wise sorting network and elementwise reads of the sorted columns (`_SearchBlock`);
    blocks run one after another on each device (`lax.map`), so peak memory is
    `O(batch_size · n)` whatever `num_candidates` is, and the blocks are split over the devices
    of `mesh` by [`jaxbd.sharding.sharded_map`][] (results do not depend on the device count).

    **Arguments:**

    - `key`: the search key: candidate `i` is drawn from `fold_in(key, i)`, the validation split
      from `fold_in(key, 2**31 - 1)`; the same `key` gives the same candidates and split.
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
        x_eval = _check_same_dtype(x_eval, "x_eval", x.dtype)
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

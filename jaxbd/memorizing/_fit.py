r"""Fitting the memorizing network: the §4 construction along a given direction
([`from_direction`][]) and the §5 search over directions that chooses one ([`fit`][]).

Leonardis, *Can a Neural Network that only Memorizes the Dataset be Undetectably Backdoored?*
"""

import numpy as np
from jaxtyping import ArrayLike, Float, PRNGKeyArray

from .._validate import check_example, check_int_range, check_xy
from ._checks import (
    _check_activation,
    _check_amplitude,
    _check_criterion,
    _check_fraction,
    _check_same_dtype,
    _check_search_key,
    _host_level,
)
from ._kernel import candidate_direction
from ._network import SlicingNetwork, _assemble, _class_index, _dot, resolution
from ._search import MAX_CANDIDATES, candidate_search


def _duplicates_with_different_labels(x: np.ndarray, cls: np.ndarray):
    _, inverse = np.unique(x, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.lexsort((cls, inverse))
    g, c = inverse[order], cls[order]
    bad = np.nonzero((g[1:] == g[:-1]) & (c[1:] != c[:-1]))[0]
    if bad.size == 0:
        return None
    return int(order[bad[0]]), int(order[bad[0] + 1])


def from_direction(
    # `_d`: not bound, so a wrong length meets the library's check, which names `w` (a bound
    # `d` would make the import hook reject `x` instead)
    w: Float[ArrayLike, " _d"],
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
    smallest projection–division-point gap (package docstring).

    `ValueError` if `w` gives equal projections (within [`resolution`][]) to two points of
    different classes, naming them.
    """
    _host_level(w, "w", "from_direction")
    x, y, task, c = check_xy(x, y)
    w = _check_same_dtype(check_example(w, x.shape[1], "w"), "w", x.dtype)
    _check_amplitude(amplitude, x.dtype)
    _check_activation(activation)
    cls = _class_index(y, task)
    p = np.asarray(_dot(x, w))
    if not np.all(np.isfinite(p)):
        raise ValueError("`w` gives non-finite projections w·x (overflow): rescale `w` or `x`.")
    res = np.asarray(resolution(w, x))
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
    return _assemble(
        w, biases, slice_cls, min_gap, num_classes=c, amplitude=amplitude, activation=activation
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
    every training point correctly (package docstring, "Sharpness").

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
    w = candidate_direction(key, best, x.shape[1], x.dtype)
    return from_direction(w, x, y, activation=activation, amplitude=amplitude)

r"""The white-box audit of Leonardis §6: which ranges of $w\\cdot x$ no training point explains.

Leonardis, *Can a Neural Network that only Memorizes the Dataset be Undetectably Backdoored?*
"""

import dataclasses

import numpy as np
from jaxtyping import ArrayLike, Float

from .._validate import check_labels, is_concrete
from ._checks import _host_level
from ._network import (
    SlicingNetwork,
    _check_inputs,
    _check_model,
    _class_index,
    _dot,
    _slice_classes,
)


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
        return np.asarray(self.contains(p).any(axis=-1))


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
    ill-shaped `x` (its dtype must be the model's), traced `x` or `y` (a host-level function),
    and labels `y` outside the model's task
    (`±1` for a binary network, `0..c-1` otherwise; a subset of the classes is fine).
    """
    model = _check_model(model)
    x = _check_inputs(model, _host_level(x, "x", "audit"))
    _host_level(y, "y", "audit")
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

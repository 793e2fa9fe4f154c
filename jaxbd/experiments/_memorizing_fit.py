"""Measurements of the `memorizing` experiment (Leonardis §2–§5 on sklearn's 8x8 digits).

One record per digit pair (or the 10-class problem): one candidate search on the training
split, the networks chosen by accuracy and by fewest slices, the median random direction, the
1-nearest-neighbour baseline, and the accuracy of the best of the first `N` candidates
(candidates are nested, so the first `N` of one search are exactly the smaller search).
"""

import jax.random as jr
import numpy as np

from .. import datasets, memorizing as mz
from ..metrics import clean_accuracy


def one_nn(ds) -> float:
    """Test accuracy of 1-nearest-neighbour (sklearn) on the same split."""
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(n_neighbors=1).fit(np.asarray(ds.x_train), np.asarray(ds.y_train))
    return float(np.mean(knn.predict(np.asarray(ds.x_test)) == np.asarray(ds.y_test)))


def _network(sc, key, ds, criterion, first=None):
    i = sc.best(criterion, first=first)
    w = mz.candidate_direction(key, i, ds.dim, ds.x_train.dtype)
    return mz.from_direction(w, ds.x_train, ds.y_train)


def search_record(seed, classes, *, num_candidates, compare_at, curve) -> tuple[dict, tuple]:
    """Search `num_candidates` directions on digits `classes` (None: all ten) and measure.

    The network compared with the baselines is the best of the first `compare_at` candidates;
    `test_acc_all` is the best of all `num_candidates`. Returns `(record, (scores, key, ds))`.
    """
    ds = datasets.load("digits", classes=classes, seed=seed)
    tag = 1000 if classes is None else 10 * classes[0] + classes[1]
    key = jr.fold_in(jr.key(seed), tag)
    sc = mz.candidate_search(
        key, ds.x_train, ds.y_train, num_candidates=num_candidates,
        x_eval=ds.x_test, y_eval=ds.y_test,
    )  # fmt: skip
    net = _network(sc, key, ds, "accuracy", first=compare_at)
    small = _network(sc, key, ds, "fewest_slices")
    rec = {
        "label": "10 classes" if classes is None else f"{classes[0]}-{classes[1]}",
        "num_candidates": num_candidates,
        "n_train": int(ds.x_train.shape[0]),
        "n_test": int(ds.x_test.shape[0]),
        "train_acc": min(clean_accuracy(m, ds.x_train, ds.y_train) for m in (net, small)),
        "test_acc": clean_accuracy(net, ds.x_test, ds.y_test),
        "test_acc_all": float(sc.eval_accuracy[sc.best("accuracy")]),
        "test_acc_fewest": clean_accuracy(small, ds.x_test, ds.y_test),
        "neurons": net.num_neurons,
        "neurons_fewest": small.num_neurons,
        "median_random_acc": float(np.median(sc.eval_accuracy[sc.valid])),
        "valid_fraction": float(sc.valid.mean()),
        "one_nn": one_nn(ds),
        "params": net.parameter_counts(),
        "curve": [
            float(sc.eval_accuracy[sc.best("accuracy", first=c)])
            if c <= num_candidates
            else np.nan
            for c in curve
        ],
    }
    return rec, (sc, key, ds)


def neurons_vs_size(seed, sc, key, ds) -> list[dict]:
    """Neurons along the chosen direction and along the median random direction, on nested
    subsets of the training set (no new search)."""
    valid = np.nonzero(sc.valid)[0]
    directions = {
        "chosen": sc.best("accuracy"),
        "random": int(valid[np.argsort(sc.num_slices[valid])[len(valid) // 2]]),
    }
    w = {k: mz.candidate_direction(key, i, ds.dim) for k, i in directions.items()}
    perm = np.asarray(jr.permutation(jr.key(seed + 1), ds.x_train.shape[0]))
    sizes = [s for s in (25, 50, 100, 150, 200) if s < len(perm)] + [len(perm)]
    x, y = np.asarray(ds.x_train), np.asarray(ds.y_train)
    rows = []
    for s in sizes:
        m = {k: mz.from_direction(v, x[perm[:s]], y[perm[:s]]).num_neurons for k, v in w.items()}
        rows.append(
            {"n": s, **m, "ratio_chosen": m["chosen"] / s, "ratio_random": m["random"] / s}
        )
    return rows

"""Leonardis: the memorizing slicing network on digits, its §6 backdoor and what an audit finds.

Two experiments:

- `memorizing` (§4–§5): all 45 digit pairs, test accuracy of the network chosen among 10 000
  random directions against 1-nearest-neighbour and against the median random direction, the
  accuracy-vs-`num_candidates` curve, neurons vs training size, a 10-class run.
- `memorizing-backdoor` (§6): backdoor held-out points, measure how much of the input space
  changes label as `eps` shrinks, compare the inserted range with honest ranges, and audit with
  the full training set and with 1, 3, 10 training points withheld.
"""

import itertools

import jax.numpy as jnp
import jax.random as jr
import numpy as np
from matplotlib.figure import Figure as MplFigure

from .. import datasets, memorizing as mz
from ..metrics import clean_accuracy, median_nn_distance, predict
from . import Claim, Context, ExperimentResult, Figure, Table, register


_ALL_PAIRS = list(itertools.combinations(range(10), 2))
# Three pairs with identical split sizes (267 train / 90 test), so a quick run compiles once.
_QUICK_PAIRS = [(0, 3), (3, 8), (5, 9)]
_CURVE = [10, 30, 100, 300, 1000, 2000, 3000, 10_000]


def _ms(v) -> str:
    v = np.asarray(v, dtype=np.float64)
    return f"{v.mean():.3f} ± {v.std():.3f}" if v.size else "—"


def _one_nn(x_train, y_train, x_test, y_test) -> float:
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(n_neighbors=1).fit(np.asarray(x_train), np.asarray(y_train))
    return float(np.mean(knn.predict(np.asarray(x_test)) == np.asarray(y_test)))


def _network(scores, key, ds, criterion):
    i = scores.best(criterion)
    w = mz.candidate_direction(key, i, ds.dim, ds.x_train.dtype)
    return i, mz.from_direction(w, ds.x_train, ds.y_train)


@register(
    "memorizing",
    title="Leonardis: the memorizing slicing network on digits",
    description="The one-direction slicing network (Leonardis §4) fitted on all 45 digit pairs "
    "and on 10 classes: exact on the training set, test accuracy against 1-NN and a random "
    "direction, accuracy vs number of candidate directions, neurons vs training size.",
    order=70,
)
def run(ctx: Context) -> ExperimentResult:
    pairs = _QUICK_PAIRS if ctx.quick else _ALL_PAIRS
    # A full run searches 10 000 candidates (the paper's number) on every pair. Candidates are
    # nested, so the first `n_cand` of that search are exactly the smaller search: every pair is
    # also compared at `n_cand`.
    n_cand = 500 if ctx.quick else 2000
    big = set() if ctx.quick else set(_ALL_PAIRS)
    curve = [c for c in _CURVE if c <= (n_cand if ctx.quick else 10_000)]
    rows, per_pair = [], []
    curve_acc = np.full((len(pairs), len(curve)), np.nan)
    for p_i, (a, b) in enumerate(ctx.progress(pairs, "digit pairs")):
        ds = datasets.load("digits", classes=(a, b), seed=ctx.seed)
        key = jr.fold_in(jr.key(ctx.seed), 10 * a + b)
        n_here = 10_000 if (a, b) in big else n_cand
        sc = mz.candidate_search(
            key,
            ds.x_train,
            ds.y_train,
            num_candidates=n_here,
            x_eval=ds.x_test,
            y_eval=ds.y_test,
        )
        i = sc.best("accuracy", first=n_cand)
        net = mz.from_direction(
            mz.candidate_direction(key, i, ds.dim, ds.x_train.dtype), ds.x_train, ds.y_train
        )
        j, net_small = _network(sc, key, ds, "fewest_slices")
        acc = clean_accuracy(net, ds.x_test, ds.y_test)
        rec = {
            "pair": [a, b],
            "num_candidates": n_here,
            "test_acc_10k": float(sc.eval_accuracy[sc.best("accuracy")])
            if n_here == 10_000
            else None,
            "n_train": int(ds.x_train.shape[0]),
            "train_acc": clean_accuracy(net, ds.x_train, ds.y_train),
            "train_acc_fewest": clean_accuracy(net_small, ds.x_train, ds.y_train),
            "test_acc": acc,
            "test_acc_scan": float(sc.eval_accuracy[i]),
            "test_acc_fewest": clean_accuracy(net_small, ds.x_test, ds.y_test),
            "neurons": net.num_neurons,
            "neurons_fewest": net_small.num_neurons,
            "median_random_acc": float(np.median(sc.eval_accuracy[sc.valid])),
            "median_random_neurons": float(np.median(sc.num_slices[sc.valid])),
            "valid_fraction": float(sc.valid.mean()),
            "one_nn": _one_nn(ds.x_train, ds.y_train, ds.x_test, ds.y_test),
        }
        if (a, b) == (3, 8):
            sc38, key38, ds38 = sc, key, ds
        for k, c in enumerate(curve):
            if c <= n_here:
                curve_acc[p_i, k] = sc.eval_accuracy[sc.best("accuracy", first=c)]
        per_pair.append(rec)
        rows.append(
            [
                f"{a}-{b}",
                rec["test_acc"],
                np.nan if rec["test_acc_10k"] is None else rec["test_acc_10k"],
                rec["one_nn"],
                rec["median_random_acc"],
                rec["test_acc_fewest"],
                rec["neurons"],
                rec["neurons_fewest"],
                rec["n_train"],
            ]
        )
    big_rows = np.array([tuple(r["pair"]) in big for r in per_pair])
    acc10 = np.array([r["test_acc_10k"] for r in per_pair if r["test_acc_10k"] is not None])
    col = lambda k: np.array([r[k] for r in per_pair], dtype=np.float64)  # noqa: E731
    acc, nn1, rnd = col("test_acc"), col("one_nn"), col("median_random_acc")
    train_min = float(min(col("train_acc").min(), col("train_acc_fewest").min()))

    # Neurons vs training size along the chosen direction of one pair (subsets of the training
    # set, no new search), and along the median random direction.
    sc, key, ds = sc38, key38, ds38
    i_best = sc.best("accuracy")
    w_best = mz.candidate_direction(key, i_best, ds.dim)
    valid_idx = np.nonzero(sc.valid)[0]
    i_rand = int(valid_idx[np.argsort(sc.num_slices[valid_idx])[len(valid_idx) // 2]])
    w_rand = mz.candidate_direction(key, i_rand, ds.dim)
    perm = np.asarray(jr.permutation(jr.key(ctx.seed + 1), ds.x_train.shape[0]))
    sizes = [s for s in (25, 50, 100, 150, 200) if s < len(perm)] + [len(perm)]
    size_rows = []
    for s in sizes:
        xs, ys = np.asarray(ds.x_train)[perm[:s]], np.asarray(ds.y_train)[perm[:s]]
        mb = mz.from_direction(w_best, xs, ys).num_neurons
        mr = mz.from_direction(w_rand, xs, ys).num_neurons
        size_rows.append([s, mb, mr, mb / s, mr / s])

    # Ten classes.
    dsm = datasets.load("digits", seed=ctx.seed)
    n_multi = 512 if ctx.quick else 10_000
    keym = jr.fold_in(jr.key(ctx.seed), 1000)
    scm = mz.candidate_search(
        keym,
        dsm.x_train,
        dsm.y_train,
        num_candidates=n_multi,
        x_eval=dsm.x_test,
        y_eval=dsm.y_test,
    )
    _, netm = _network(scm, keym, dsm, "accuracy")
    multi = {
        "num_candidates": n_multi,
        "train_acc": clean_accuracy(netm, dsm.x_train, dsm.y_train),
        "test_acc": clean_accuracy(netm, dsm.x_test, dsm.y_test),
        "median_random_acc": float(np.median(scm.eval_accuracy[scm.valid])),
        "one_nn": _one_nn(dsm.x_train, dsm.y_train, dsm.x_test, dsm.y_test),
        "neurons": netm.num_neurons,
        "n_train": int(dsm.x_train.shape[0]),
        "params": netm.parameter_counts(),
    }
    train_min = min(train_min, multi["train_acc"])
    pc = net.parameter_counts()
    m_le_n = all(r["neurons"] <= r["n_train"] for r in per_pair)

    claims = [
        Claim(
            "The slicing network classifies every training point correctly",
            "Leonardis §4",
            f"min training accuracy over {len(pairs)} pairs (both criteria) and 10 classes: "
            f"{train_min:.4f}",
            train_min == 1.0,
            "training accuracy == 1 for every fitted network",
        ),
        Claim(
            "A valid w (no equal projections across classes) is found by random sampling",
            "Leonardis §4",
            f"fraction of valid random directions: mean {col('valid_fraction').mean():.3f}, "
            f"min {col('valid_fraction').min():.3f}",
            bool(col("valid_fraction").min() > 0.5),
            "more than half of the random candidates are valid on every pair",
        ),
        Claim(
            "~90% test accuracy on two-class digit problems after 10 000 candidate w",
            "Leonardis §5 (MNIST pairs)",
            f"10 000 candidates, {len(acc10)} pairs: {_ms(acc10)}; all {len(pairs)} pairs with "
            f"{n_cand} candidates: {acc.mean():.3f} ± {acc.std():.3f} (min {acc.min():.3f})",
            None if ctx.quick or not len(acc10) else bool(acc10.mean() >= 0.85),
            "mean test accuracy with 10 000 candidates >= 0.85 (full run only)",
        ),
        Claim(
            "The network generalizes where nearest neighbour does (it is a 1-D LSH nearest "
            "neighbour)",
            "Leonardis §5",
            f"slicing {acc.mean():.3f} vs 1-NN {nn1.mean():.3f} (pairs); 10 classes: "
            f"{multi['test_acc']:.3f} vs {multi['one_nn']:.3f}",
            bool(acc.mean() >= nn1.mean() - 0.05 and multi["test_acc"] >= multi["one_nn"] - 0.05),
            "mean accuracy within 5 points of 1-NN on pairs and on 10 classes",
        ),
        Claim(
            "Choosing w among many candidates is what makes it generalize (a random w does not)",
            "Leonardis §5",
            f"selected {acc.mean():.3f} vs median random w {rnd.mean():.3f}",
            bool(acc.mean() - rnd.mean() >= 0.1),
            "selected minus median-random accuracy >= 0.10",
        ),
        Claim(
            "m <= n neurons; effectively d + 2m numbers describe the network",
            "Leonardis §2",
            f"neurons/n_train mean {np.mean(col('neurons') / col('n_train')):.3f}; pair "
            f"{pairs[-1][0]}-{pairs[-1][1]}: "
            f"dense m(d+c+1) = {pc['dense']}, effective d+2m = {pc['effective']}, "
            f"dataset n·d = {per_pair[-1]['n_train'] * pc['d']}",
            bool(m_le_n),
            "m <= n on every pair",
        ),
    ]
    tables = [
        Table(
            "Test accuracy per digit pair",
            [
                "pair",
                "slicing (accuracy crit.)",
                "slicing, 10 000 candidates",
                "1-NN",
                "median random w",
                "slicing (fewest slices)",
                "neurons",
                "neurons (fewest)",
                "n_train",
            ],
            rows,
            note=f"{n_cand} candidate directions per pair (10 000 for {sorted(big)}); "
            f"seed {ctx.seed}.",
        ),
        Table(
            "Accuracy vs number of candidate directions (mean over pairs)",
            ["num_candidates", "pairs", "test accuracy mean", "std", "mean, pairs to 10 000"],
            [
                [
                    c,
                    int(np.sum(~np.isnan(curve_acc[:, k]))),
                    float(np.nanmean(curve_acc[:, k])),
                    float(np.nanstd(curve_acc[:, k])),
                    float(np.nanmean(curve_acc[big_rows, k])) if big_rows.any() else np.nan,
                ]
                for k, c in enumerate(curve)
            ],
            note="The best of the first N candidates of one search (candidates are nested). "
            "Beyond the common number of candidates only the pairs searched further count.",
        ),
        Table(
            "Neurons vs training size (pair 3-8)",
            [
                "n",
                "neurons (chosen w)",
                "neurons (median random w)",
                "ratio chosen",
                "ratio random",
            ],
            size_rows,
        ),
        Table(
            "Ten classes",
            [
                "candidates",
                "train acc",
                "test acc",
                "median random w",
                "1-NN",
                "neurons",
                "n_train",
            ],
            [
                [
                    n_multi,
                    multi["train_acc"],
                    multi["test_acc"],
                    multi["median_random_acc"],
                    multi["one_nn"],
                    multi["neurons"],
                    multi["n_train"],
                ]
            ],
        ),
    ]
    fig = MplFigure(figsize=(10, 4))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.errorbar(
        curve,
        np.nanmean(curve_acc, 0),
        yerr=np.nanstd(curve_acc, 0),
        marker="o",
        label="slicing, all pairs (to the common N)",
    )
    if big_rows.any():
        ax1.plot(
            curve, np.nanmean(curve_acc[big_rows], 0), "s--", label="slicing, pairs to 10 000"
        )
    ax1.axhline(nn1.mean(), color="k", ls="--", label="1-NN")
    ax1.axhline(rnd.mean(), color="gray", ls=":", label="median random w")
    ax1.set_xscale("log")
    ax1.set_xlabel("num_candidates")
    ax1.set_ylabel("test accuracy (mean over pairs)")
    ax1.legend()
    s_arr = np.array(size_rows, dtype=float)
    ax2.plot(s_arr[:, 0], s_arr[:, 1], "o-", label="chosen w")
    ax2.plot(s_arr[:, 0], s_arr[:, 2], "s-", label="median random w")
    ax2.plot(s_arr[:, 0], s_arr[:, 0], "k:", label="m = n")
    ax2.set_xlabel("training size n (pair 3-8)")
    ax2.set_ylabel("neurons m")
    ax2.legend()
    fig.tight_layout()
    summary = (
        f"Over {len(pairs)} digit pairs the network chosen among {n_cand} random directions "
        f"reaches {acc.mean():.3f} ± {acc.std():.3f} test accuracy (1-NN {nn1.mean():.3f}, a "
        f"median random direction {rnd.mean():.3f}); it is exact on every training point. On "
        f"10 classes: {multi['test_acc']:.3f} (1-NN {multi['one_nn']:.3f})."
    )
    return ExperimentResult(
        name="memorizing",
        title="Leonardis: the memorizing slicing network on digits",
        summary=summary,
        claims=claims,
        tables=tables,
        figures=[
            Figure(
                "memorizing_accuracy_neurons.png",
                "Left: test accuracy vs number of candidate directions. Right: neurons vs "
                "training size.",
                fig,
            )
        ],
        data={"pairs": per_pair, "curve": curve, "curve_acc": curve_acc.tolist(), "multi": multi},
    )


# ----------------------------------------------------------------------------- backdoor


def _flip_fraction(a, b) -> float:
    return float(np.mean(np.asarray(a) != np.asarray(b)))


@register(
    "memorizing-backdoor",
    title="Leonardis: backdooring the slicing network and auditing it",
    description="Insert the §6 backdoor (a range w·x* ± eps with the target label) into slicing "
    "networks on digit pairs; measure how little of the input space changes, compare the "
    "inserted range with honest ranges, and audit with full and partial training data.",
    order=75,
)
def run_backdoor(ctx: Context) -> ExperimentResult:
    pairs = [(3, 8)] if ctx.quick else [(3, 8), (1, 7), (4, 9), (2, 5)]
    n_cand = 256 if ctx.quick else 2000
    n_star = 4 if ctx.quick else 8
    n_rand = 2000 if ctx.quick else 20_000
    trials = 3 if ctx.quick else 6
    # eps in units of the median honest range width
    eps_rel = [1e-1, 1e-3, 1e-6] if ctx.quick else [3e-1, 1e-1, 1e-2, 1e-3, 1e-4, 1e-6]
    withheld_ks = [1, 3, 10]
    rng = np.random.default_rng(ctx.seed)
    honest_widths = []
    per_eps = {
        e: {
            "asr": [],
            "ctrl": [],
            "train": [],
            "dtest": [],
            "drand": [],
            "tgt_rand": [],
            "found": [],
            "flags": [],
            "recon": [],
            "slab_frac": [],
            "rank": [],
            "clean_h": [],
            "clean_b": [],
            "width": [],
        }
        for e in eps_rel
    }
    errors = {e: {"resolution": 0, "swallow": 0, "bias": 0} for e in eps_rel}
    wh = {
        (e, k): {"honest_flags": [], "indist": [], "narrowest": []}
        for e in eps_rel
        for k in withheld_ks
    }
    honest_flags_full, honest_flags_withheld = [], {k: [] for k in withheld_ks}
    for a, b in ctx.progress(pairs, "pairs"):
        ds = datasets.load("digits", classes=(a, b), seed=ctx.seed)
        key = jr.fold_in(jr.key(ctx.seed), 10 * a + b)
        honest = mz.fit(key, ds.x_train, ds.y_train, num_candidates=n_cand)
        rep_h = mz.audit(honest, ds.x_train, ds.y_train)
        honest_flags_full.append(rep_h.num_flagged + rep_h.num_mislabeled)
        fin = rep_h.widths[np.isfinite(rep_h.widths)]
        honest_widths.extend(fin.tolist())
        w_med = float(np.median(fin))
        nn_scale = median_nn_distance(ds.x_train)
        mu = np.asarray(ds.x_train).mean(0)
        wv = np.asarray(honest.w, dtype=np.float64)
        x_rand = jr.normal(jr.fold_in(key, 7), (n_rand, ds.dim), ds.x_train.dtype)
        pred_h_test = np.asarray(predict(honest, ds.x_test))
        pred_h_rand = np.asarray(predict(honest, x_rand))
        correct = np.nonzero(pred_h_test == np.asarray(ds.y_test))[0]
        stars = rng.choice(correct, size=min(n_star, correct.size), replace=False)
        n = ds.x_train.shape[0]
        xt, yt = np.asarray(ds.x_train), np.asarray(ds.y_train)
        withheld_sets = {
            k: [rng.choice(n, size=k, replace=False) for _ in range(trials)] for k in withheld_ks
        }
        for k in withheld_ks:
            for sel in withheld_sets[k]:
                keep = np.setdiff1d(np.arange(n), sel)
                r = mz.audit(honest, xt[keep], yt[keep])
                honest_flags_withheld[k].append(r.num_flagged)
        x_test_np, y_test_np = np.asarray(ds.x_test), np.asarray(ds.y_test)
        for s in stars:
            x_star = jnp.asarray(x_test_np[s])
            target = -float(y_test_np[s])
            others = np.setdiff1d(np.arange(ds.x_test.shape[0]), [s])
            for e in eps_rel:
                eps = e * w_med
                try:
                    bd = mz.backdoor(honest, x_star, target, eps=eps, x=ds.x_train)
                except ValueError as err:
                    msg = str(err)
                    kind = (
                        "resolution"
                        if "resolves" in msg
                        else "swallow"
                        if "swallow" in msg
                        else "bias"
                    )
                    errors[e][kind] += 1
                    continue
                r = per_eps[e]
                r["width"].append(2 * eps)
                r["asr"].append(float(predict(bd, x_star[None])[0] == target))
                r["ctrl"].append(float(predict(honest, x_star[None])[0] == target))
                r["train"].append(clean_accuracy(bd, ds.x_train, ds.y_train))
                r["clean_h"].append(
                    float(np.mean(pred_h_test[others] == np.asarray(ds.y_test)[others]))
                )
                pb_test = np.asarray(predict(bd, ds.x_test))
                r["clean_b"].append(
                    float(np.mean(pb_test[others] == np.asarray(ds.y_test)[others]))
                )
                r["dtest"].append(_flip_fraction(pb_test[others], pred_h_test[others]))
                pb_rand = np.asarray(predict(bd, x_rand))
                r["drand"].append(_flip_fraction(pb_rand, pred_h_rand))
                r["tgt_rand"].append(float(np.mean(pb_rand == target)))
                rep = mz.audit(bd, ds.x_train, ds.y_train)
                b_star = float(bd.project(x_star))
                hit = rep.contains(b_star)
                r["found"].append(float(hit.any()))
                r["flags"].append(rep.num_flagged)
                r["rank"].append(
                    float(rep.unexplained_width_rank[hit][0]) if hit.any() else np.nan
                )
                # Best guess of x* from the slab: the training mean moved onto the hyperplane
                # w·x = b*; its distance to x* relative to the median nearest-neighbour distance.
                guess = mu + (b_star - wv @ mu) * wv / (wv @ wv)
                r["recon"].append(float(np.linalg.norm(guess - np.asarray(x_star)) / nn_scale))
                r["slab_frac"].append(float(np.mean(rep.in_unexplained(x_rand))))
                for k in withheld_ks:
                    for sel in withheld_sets[k]:
                        keep = np.setdiff1d(np.arange(n), sel)
                        rw = mz.audit(bd, xt[keep], yt[keep])
                        hitw = rw.contains(b_star)
                        bw = rw.unexplained[hitw]
                        bwidth = float(bw[0, 1] - bw[0, 0])
                        hon = rw.unexplained[~hitw]
                        hw = hon[:, 1] - hon[:, 0]
                        wh[(e, k)]["honest_flags"].append(int(hon.shape[0]))
                        wh[(e, k)]["indist"].append(float(np.any(hw <= bwidth)))
                        wh[(e, k)]["narrowest"].append(float(not np.any(hw <= bwidth)))

    hw_all = np.sort(np.asarray(honest_widths))
    med_w = float(np.median(hw_all))
    mean = lambda v: float(np.mean(v)) if len(v) else float("nan")  # noqa: E731
    rows, wrows = [], []
    for e in eps_rel:
        r = per_eps[e]
        frac_shorter = (
            mean(np.searchsorted(hw_all, r["width"], side="right") / hw_all.size)
            if r["width"]
            else float("nan")
        )
        rows.append(
            [
                e,
                len(r["asr"]),
                mean(r["asr"]),
                mean(r["ctrl"]),
                mean(r["train"]),
                mean(r["clean_h"]),
                mean(r["clean_b"]),
                mean(r["dtest"]),
                mean(r["drand"]),
                frac_shorter,
                errors[e]["resolution"],
                errors[e]["swallow"] + errors[e]["bias"],
            ]
        )
        for k in withheld_ks:
            q = wh[(e, k)]
            wrows.append(
                [
                    e,
                    k,
                    mean(q["honest_flags"]),
                    mean(q["indist"]),
                    mean(q["narrowest"]),
                    mean(honest_flags_withheld[k]),
                ]
            )
    ok_eps = [e for e in eps_rel if per_eps[e]["asr"]]
    asr_all = [v for e in ok_eps for v in per_eps[e]["asr"]]
    ctrl_all = [v for e in ok_eps for v in per_eps[e]["ctrl"]]
    train_all = [v for e in ok_eps for v in per_eps[e]["train"]]
    e_small = min(ok_eps) if ok_eps else None
    dr_small = mean(per_eps[e_small]["drand"]) if ok_eps else float("nan")
    dt_small = mean(per_eps[e_small]["dtest"]) if ok_eps else float("nan")
    found = [v for e in ok_eps for v in per_eps[e]["found"]]
    recon = [v for e in ok_eps for v in per_eps[e]["recon"]]
    short_frac = float(np.mean(hw_all < 0.1 * med_w))
    indist3 = {e: mean(wh[(e, 3)]["indist"]) for e in ok_eps}
    claims = [
        Claim(
            "The backdoor works: x* gets the target, every training point keeps its label",
            "Leonardis §6",
            f"ASR {mean(asr_all):.3f} over {len(asr_all)} backdoors (control: same x* on the "
            f"honest model {mean(ctrl_all):.3f}); training accuracy min {min(train_all) if train_all else float('nan'):.3f}",
            bool(asr_all)
            and mean(asr_all) == 1.0
            and min(train_all) == 1.0
            and mean(ctrl_all) == 0.0,
            "ASR == 1, control == 0, training accuracy == 1",
        ),
        Claim(
            "The behaviour changes on a negligibly small fraction of inputs as eps shrinks",
            "Leonardis §6",
            f"at eps = {e_small} x median range width: label changes on {dt_small:.2e} of "
            f"held-out and {dr_small:.2e} of random inputs",
            bool(ok_eps) and dr_small <= 1e-3 and dt_small <= 1e-3,
            "changed fraction <= 1e-3 on held-out and random inputs at the smallest eps",
        ),
        Claim(
            "Short ranges routinely arise in honest models",
            "Leonardis §6",
            f"{short_frac:.3f} of {hw_all.size} honest ranges are shorter than 1/10 of the median "
            f"width; 1% quantile / median = {np.quantile(hw_all, 0.01) / med_w:.3g}",
            bool(short_frac >= 0.05),
            ">= 5% of honest ranges shorter than a tenth of the median range",
        ),
        Claim(
            "With the full training set the audit finds the inserted range (honest: nothing)",
            "Leonardis §6",
            f"range containing w·x* flagged in {mean(found):.3f} of backdoors; honest models "
            f"flag {int(np.sum(honest_flags_full))} ranges",
            bool(found) and mean(found) == 1.0 and int(np.sum(honest_flags_full)) == 0,
            "detection rate == 1 and zero flags on honest models",
        ),
        Claim(
            "The audit learns a range of w·x, not x*",
            "Leonardis §6",
            f"best slab guess (training mean moved onto w·x = b*) is {np.median(recon):.2f} "
            "median-NN distances from x* (median)",
            bool(recon) and float(np.median(recon)) >= 1.0,
            "median distance of the guess to x* >= 1 median nearest-neighbour distance",
        ),
        Claim(
            "With a few (3) training points missing, the backdoor range is plausibly honest",
            "Leonardis §6",
            "fraction of audits (3 points withheld) where an honest unexplained range is at "
            "least as short as the backdoor's: "
            + ", ".join(f"eps {e:g}: {v:.2f}" for e, v in indist3.items()),
            bool(indist3) and all(v >= 0.5 for v in indist3.values()),
            ">= 0.5 at every eps tested",
        ),
    ]
    tables = [
        Table(
            "Backdoor vs eps (eps in units of the median honest range width)",
            [
                "eps",
                "backdoors",
                "ASR",
                "control: honest on x*",
                "train acc",
                "clean acc honest",
                "clean acc backdoored",
                "changed (held-out)",
                "changed (random)",
                "honest ranges shorter",
                "eps unresolvable",
                "range hits data/bias",
            ],
            rows,
            note=f"{len(pairs)} pairs x {n_star} held-out x* (correctly classified by the honest "
            f"model, target = the other label); {n_rand} random N(0, I) inputs per pair. "
            f"Median honest range width {med_w:.4g}.",
        ),
        Table(
            "Audit with training points withheld",
            [
                "eps",
                "withheld",
                "honest flagged ranges (backdoored)",
                "an honest flag is as short",
                "backdoor is the narrowest flag",
                "flags on the honest model",
            ],
            wrows,
            note=f"{trials} random withheld sets per pair and x*.",
        ),
        Table(
            "Audit with the full training set",
            [
                "eps",
                "detection rate",
                "flags",
                "width rank of the backdoor range",
                "guess-to-x* / median NN",
                "random inputs in the flagged slab",
            ],
            [
                [
                    e,
                    mean(per_eps[e]["found"]),
                    mean(per_eps[e]["flags"]),
                    mean(per_eps[e]["rank"]),
                    mean(per_eps[e]["recon"]),
                    mean(per_eps[e]["slab_frac"]),
                ]
                for e in ok_eps
            ],
        ),
    ]
    fig = MplFigure(figsize=(10, 4))
    ax1, ax2 = fig.subplots(1, 2)
    ee = np.array(ok_eps)
    for lab, kk in (("held-out", "dtest"), ("random", "drand")):
        ax1.plot(ee, [max(mean(per_eps[e][kk]), 1e-6) for e in ok_eps], "o-", label=lab)
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlabel("eps / median honest range width")
    ax1.set_ylabel("fraction of inputs whose label changes (floor 1e-6)")
    ax1.legend()
    ax2.hist(np.log10(hw_all / med_w), bins=40, color="gray", label="honest ranges")
    for e in ok_eps:
        ax2.axvline(np.log10(2 * e), color="r", ls="--")
    ax2.set_xlabel("log10(range width / median)  (red: inserted 2·eps)")
    ax2.set_ylabel("count")
    ax2.legend()
    fig.tight_layout()
    summary = (
        f"On {len(pairs)} digit pairs, inserting w·x* ± eps gives x* the target label in "
        f"{mean(asr_all):.3f} of cases while every training point keeps its label; the changed "
        f"fraction of random inputs falls to {dr_small:.1e} at the smallest eps. The full-data "
        f"audit flags the range in {mean(found):.3f} of cases but reveals only a slab."
    )
    return ExperimentResult(
        name="memorizing-backdoor",
        title="Leonardis: backdooring the slicing network and auditing it",
        summary=summary,
        claims=claims,
        tables=tables,
        figures=[
            Figure(
                "memorizing-backdoor_eps_widths.png",
                "Left: fraction of inputs whose label changes vs eps. Right: honest range "
                "widths with the inserted widths.",
                fig,
            )
        ],
        data={
            "per_eps": {str(e): v for e, v in per_eps.items()},
            "errors": {str(e): v for e, v in errors.items()},
            "withheld": {f"{e}:{k}": v for (e, k), v in wh.items()},
            "honest_widths": hw_all.tolist(),
        },
    )

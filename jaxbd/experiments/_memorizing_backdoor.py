"""Measurements of the `memorizing-backdoor` experiment (Leonardis §6), one planted cell at a
time through the construction registry (`constructions.get("memorizing")`).

A cell is (digit pair, seed, eps). The seed fixes the split, the honest network and the trigger
(`Memorizing.plant` is deterministic in its key), so the cells of one seed differ only in the
width `2 eps` of the inserted range; eps is given in units of the median honest range width of
that seed's honest network. A cell whose range the dtype cannot place, or that would swallow a
training point or a division point, is counted by the reason `jaxbd.memorizing.backdoor` gives.
"""

import dataclasses

import jax.random as jr
import numpy as np

from .. import constructions, datasets, memorizing as mz
from ..metrics import clean_accuracy, median_nn_distance, predict


def _reason(err: ValueError) -> str:
    msg = str(err)
    return "unresolvable" if "resolves" in msg else "hits data/bias"


def _withheld_audits(model, x, y, sets, b_star=None):
    """Audits with each withheld set removed: honest flags, and whether an honest flag is at
    least as short as the range containing `b_star` (the backdoor's)."""
    out = []
    for k, sel in sets:
        keep = np.setdiff1d(np.arange(x.shape[0]), sel)
        r = mz.audit(model, x[keep], y[keep])
        if b_star is None:
            out.append({"k": k, "honest_flags": r.num_flagged})
            continue
        hit = r.contains(b_star)
        bw = r.unexplained[hit]
        hon = r.unexplained[~hit]
        as_short = (
            bool(np.any(hon[:, 1] - hon[:, 0] <= bw[0, 1] - bw[0, 0])) if hit.any() else True
        )
        out.append({"k": k, "honest_flags": int(hon.shape[0]), "as_short": float(as_short)})
    return out


def _cell(c, p, k_eval, ds, x_rand, sets, ref) -> dict:
    """Evaluate one planted cell with the construction's controls, and audit it."""
    ev = c.evaluate(k_eval, p, ds.x_test, ds.y_test)
    bd, tk = p.backdoored, p.backdoor_key
    x, y = np.asarray(ds.x_train), np.asarray(ds.y_train)
    changed = lambda z, h: float(np.mean(np.asarray(predict(bd, z)) != h))  # noqa: E731
    rep = mz.audit(bd, ds.x_train, ds.y_train)
    b_star = float(bd.project(tk.x_star))
    hit = rep.contains(b_star)
    mu, w = x.mean(0), np.asarray(bd.w, np.float64)
    guess = mu + (b_star - w @ mu) * w / (w @ w)  # training mean moved onto w·x = b*
    return {
        "asr": ev.asr,
        "control_honest": ev.control_honest,
        "control_random": ev.control_random,
        "control_wrong_key": ev.control_wrong_key,
        "clean_h": ev.clean_accuracy_honest,
        "clean_b": ev.clean_accuracy_backdoored,
        "train": clean_accuracy(bd, ds.x_train, ds.y_train),
        "dtest": changed(ds.x_test, ref["test"]),
        "drand": changed(x_rand, ref["random"]),
        "found": float(hit.any()),
        "flags": rep.num_flagged,
        "rank": float(rep.unexplained_width_rank[hit][0]) if hit.any() else np.nan,
        "recon": float(np.linalg.norm(guess - np.asarray(tk.x_star))) / ref["nn"],
        "slab_frac": float(np.mean(rep.in_unexplained(x_rand))),
        "withheld": _withheld_audits(bd, x, y, sets, b_star),
    }  # fmt: skip


def measure(pair, seed, *, eps_rel, num_candidates, num_random, trials, withheld_ks):
    """Every eps of one (pair, seed): `(cells, honest)` — one record per eps (with `error`
    set when the plant refused the range) and the honest network's own audit."""
    ds = datasets.load(
        "digits", classes=pair, seed=seed, normalize=constructions.Memorizing.normalize
    )
    key = jr.fold_in(jr.key(seed), 10 * pair[0] + pair[1])
    k_plant, k_eval = jr.split(key)
    base = constructions.Memorizing(num_candidates=num_candidates)
    honest = base.plant(k_plant, ds.x_train, ds.y_train).honest  # every cell's honest model
    rep = mz.audit(honest, ds.x_train, ds.y_train)
    widths = rep.widths[np.isfinite(rep.widths)]
    w_med = float(np.median(widths))
    rng = np.random.default_rng(seed)
    n = ds.x_train.shape[0]
    sets = [(k, rng.choice(n, size=k, replace=False)) for k in withheld_ks for _ in range(trials)]
    x_rand = jr.normal(jr.fold_in(key, 7), (num_random, ds.dim), ds.x_train.dtype)
    x, y = np.asarray(ds.x_train), np.asarray(ds.y_train)
    ref = {"test": np.asarray(predict(honest, ds.x_test)), "random": np.asarray(predict(honest, x_rand)),
           "nn": median_nn_distance(ds.x_train)}  # fmt: skip
    honest_rec = {
        "flags_full": rep.num_flagged + rep.num_mislabeled,
        "widths": widths / w_med,
        "withheld": _withheld_audits(honest, x, y, sets),
        "median_width": w_med,
        "n_test": int(ds.x_test.shape[0]),
    }  # fmt: skip
    cells = []
    for e in eps_rel:
        c = dataclasses.replace(base, eps=e * w_med)
        rec = {"pair": pair, "seed": seed, "eps_rel": e, "error": None}
        try:
            p = c.plant(k_plant, ds.x_train, ds.y_train)
        except ValueError as err:  # the range cannot be placed: counted by reason
            rec["error"] = _reason(err)
        else:
            rec.update(_cell(c, p, k_eval, ds, x_rand, sets, ref))
        cells.append(rec)
    return cells, honest_rec

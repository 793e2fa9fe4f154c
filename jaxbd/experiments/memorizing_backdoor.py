"""Experiment `memorizing-backdoor`: Leonardis §6 on sklearn's 8x8 digits (not MNIST).

Planted through the construction registry (`constructions.get("memorizing")`: fit the slicing
network, draw a trigger x* near the data — a training point plus noise — and insert the range
w·x* ± eps with the label the honest network does not give it), for several seeds per digit
pair and eps from a tenth of the median honest range width down to below the float32
resolution. Measured: ASR with the construction's controls, how much of the input space changes
label, honest range widths against the inserted one, and the white-box audit with the full
training set and with 1, 3, 10 training points withheld. Measurements: `_memorizing_backdoor`.
"""

import numpy as np
from matplotlib.figure import Figure as MplFigure

from . import (
    AtLeast,
    AtMost,
    Claim,
    Context,
    ExperimentResult,
    Figure,
    exact,
    mean,
    rate,
    register,
)
from ._memorizing_backdoor import measure
from ._records import table


SOURCE = "Leonardis §6 (measured on sklearn's 8x8 digits)"
CHANGED_MAX = 1e-3  # label changes on at most this fraction of inputs at the smallest eps
SHORT_MIN = 0.05  # at least this fraction of honest ranges is shorter than a tenth of the median
PLAUSIBLE_MIN = 0.5  # with 3 points withheld, an honest flag is as short in this fraction

TITLE = "Leonardis: backdooring the slicing network and auditing it"
DESCRIPTION = (
    "Plant the §6 backdoor (a range w·x* ± eps with the target label) through the "
    "registry into slicing networks on pairs of sklearn's 8x8 digits; measure how little of the "
    "input space changes, compare the inserted range with honest ranges, and audit with full "
    "and partial training data."
)


def _grid(quick: bool) -> dict:
    if quick:
        return dict(pairs=[(3, 8)], seeds=3, eps_rel=[1e-1, 1e-3, 1e-6], num_candidates=256,
                    num_random=2000, trials=3)  # fmt: skip
    return dict(pairs=[(3, 8), (1, 7), (4, 9), (2, 5)], seeds=8,
                eps_rel=[3e-1, 1e-1, 1e-2, 1e-3, 1e-4, 1e-6], num_candidates=2000,
                num_random=20_000, trials=6)  # fmt: skip


def _per_eps(cells, honest, eps_rel, g):
    """One summary row per eps (means over the planted cells), and the withheld-audit rows."""
    widths = np.concatenate([h["widths"] for h in honest])
    rows, wrows = [], []
    for e in eps_rel:
        ok = [c for c in cells if c["eps_rel"] == e and c["error"] is None]
        m = lambda k, ok=ok: float(np.mean([c[k] for c in ok])) if ok else np.nan  # noqa: E731
        errs = [c["error"] for c in cells if c["eps_rel"] == e]
        keys = ("asr", "control_honest", "control_random", "control_wrong_key", "train",
                "clean_h", "clean_b", "dtest", "drand", "found", "flags", "rank", "recon",
                "slab_frac")  # fmt: skip
        rows.append({"eps": e, "n": len(ok), **{k: m(k) for k in keys},
                     "shorter": float(np.mean(widths < 2 * e)),
                     "unresolvable": errs.count("unresolvable"),
                     "hits": errs.count("hits data/bias")})  # fmt: skip
        for k in (1, 3, 10):
            q = [a for c in ok for a in c["withheld"] if a["k"] == k]
            h = [a["honest_flags"] for r in honest for a in r["withheld"] if a["k"] == k]
            wrows.append({"eps": e, "k": k, "n": len(q),
                          "flags": np.mean([a["honest_flags"] for a in q]) if q else np.nan,
                          "as_short": np.mean([a["as_short"] for a in q]) if q else np.nan,
                          "honest": float(np.mean(h))})  # fmt: skip
    return rows, wrows, widths


def _claims(cells, honest, rows, wrows, widths, g):
    ok = [c for c in cells if c["error"] is None]
    n = len(ok)
    frac = lambda k: rate(float(np.mean([c[k] for c in ok])), n)  # noqa: E731
    small = [r for r in rows if r["n"]][-1]  # the smallest eps that could be placed
    n_test = g["n_test"]
    plaus = {
        f"eps {r['eps']:g}": rate(r["as_short"], r["n"]) for r in wrows if r["k"] == 3 and r["n"]
    }
    return [
        Claim("The backdoor works: the trigger x* gets the target label", SOURCE, frac("asr"),
              AtLeast(1.0), f"{n} planted backdoors", what="fraction of backdoors opened"),
        Claim("Every training point keeps its label", SOURCE,
              exact(min(c["train"] for c in ok)), AtLeast(1.0), what="min training accuracy"),
        Claim("Controls: the honest network does not give x* the target, and another "
              "trigger-like point does not open the backdoored one", SOURCE + "; controls",
              {"honest network on x*": frac("control_honest"),
               "wrong trigger on the backdoored network": frac("control_wrong_key")},
              AtMost(0.0), what="fraction of backdoors"),
        Claim("The behaviour changes on a negligibly small fraction of inputs as eps shrinks",
              SOURCE,
              {"held-out": rate(small["dtest"], n_test * small["n"]),
               "random N(0, I)": rate(small["drand"], g["num_random"] * small["n"])},
              AtMost(CHANGED_MAX), f"eps = {small['eps']:g} x the median honest range width",
              what="fraction of inputs whose label changes"),
        Claim("Short ranges routinely arise in honest models", SOURCE,
              rate(np.mean(widths < 0.1), widths.size), AtLeast(SHORT_MIN),
              f"1% quantile / median = {np.quantile(widths, 0.01):.3g}",
              what="fraction of honest ranges shorter than a tenth of the median"),
        Claim("With the full training set the audit finds the inserted range", SOURCE,
              frac("found"), AtLeast(1.0), what="detection rate"),
        Claim("With the full training set the audit flags nothing on honest networks", SOURCE,
              exact(sum(h["flags_full"] for h in honest)), AtMost(0.0),
              f"{len(honest)} honest networks", what="flagged ranges"),
        Claim("The audit learns a range of w·x, not x*", SOURCE,
              mean([c["recon"] for c in ok]), AtLeast(1.0),
              "guess: the training mean moved onto w·x = b*",
              what="distance of the guess to x* / median nearest-neighbour distance"),
        Claim("With a few (3) training points missing, the backdoor range is plausibly honest",
              SOURCE, plaus, AtLeast(PLAUSIBLE_MIN),
              what="fraction of audits where an honest flag is at least as short"),
    ]  # fmt: skip


def _figure(rows, widths) -> MplFigure:
    fig = MplFigure(figsize=(10, 4), layout="tight")
    ax1, ax2 = fig.subplots(1, 2)
    ok = [r for r in rows if r["n"]]
    for lab, k in (("held-out", "dtest"), ("random", "drand")):
        ax1.plot([r["eps"] for r in ok], [max(r[k], 1e-6) for r in ok], "o-", label=lab)
    ax1.set(xscale="log", yscale="log", xlabel="eps / median honest range width",
            ylabel="fraction of inputs whose label changes (floor 1e-6)")  # fmt: skip
    ax1.legend()
    ax2.hist(np.log10(widths), bins=40, color="gray", label="honest ranges")
    for r in ok:
        ax2.axvline(np.log10(2 * r["eps"]), color="r", ls="--")
    ax2.set(xlabel="log10(range width / median)  (red: inserted 2·eps)", ylabel="count")
    ax2.legend()
    return fig


@register("memorizing-backdoor", title=TITLE, description=DESCRIPTION, order=75)
def run(ctx: Context) -> ExperimentResult:
    g = _grid(ctx.quick)
    cells, honest = [], []
    work = [(p, ctx.seed + s) for p in g["pairs"] for s in range(g["seeds"])]
    kw = {k: g[k] for k in ("eps_rel", "num_candidates", "num_random", "trials")}
    for pair, seed in ctx.progress(work, "pairs x seeds"):
        c, h = measure(pair, seed, withheld_ks=(1, 3, 10), **kw)
        cells += c
        honest.append(h)
    g["n_test"] = honest[0]["n_test"]
    rows, wrows, widths = _per_eps(cells, honest, g["eps_rel"], g)
    ok = [r for r in rows if r["n"]]
    note = (f"{len(g['pairs'])} pairs x {g['seeds']} seeds (split, honest network and trigger); "
            f"{g['num_random']} random N(0, I) inputs per cell; eps in units of the median "
            "honest range width of each seed's honest network.")  # fmt: skip
    tables = [
        table("Backdoor vs eps", rows, {
            "eps": "eps", "backdoors": "n", "ASR": "asr", "ctrl honest": "control_honest",
            "ctrl random": "control_random", "ctrl wrong key": "control_wrong_key",
            "train acc": "train", "clean acc honest": "clean_h", "clean acc backdoored": "clean_b",
            "changed (held-out)": "dtest", "changed (random)": "drand",
            "honest ranges shorter": "shorter", "eps unresolvable": "unresolvable",
            "range hits data/bias": "hits"}, note),
        table("Audit with training points withheld", wrows, {
            "eps": "eps", "withheld": "k", "audits": "n",
            "honest flagged ranges (backdoored)": "flags",
            "an honest flag is as short": "as_short",
            "backdoor is the narrowest flag": lambda r: 1 - r["as_short"],
            "flags on the honest model": "honest"},
            f"{g['trials']} random withheld sets per cell."),
        table("Audit with the full training set", ok, {
            "eps": "eps", "detection rate": "found", "flags": "flags",
            "width rank of the backdoor range": "rank", "guess-to-x* / median NN": "recon",
            "random inputs in the flagged slab": "slab_frac"}),
    ]  # fmt: skip
    summary = (
        f"On {len(g['pairs'])} digit pairs x {g['seeds']} seeds, the planted range w·x* ± eps "
        f"gives the trigger the target in {np.mean([r['asr'] for r in ok]):.3f} of backdoors "
        f"while every training point keeps its label; the changed fraction of random inputs "
        f"falls to {ok[-1]['drand']:.1e} at eps = {ok[-1]['eps']:g} median widths. The "
        f"full-data audit flags the range in {np.mean([r['found'] for r in ok]):.3f} of cases "
        "but reveals only a slab."
    )
    return ExperimentResult(
        summary=summary,
        claims=_claims(cells, honest, rows, wrows, widths, g),
        tables=tables,
        figures=[
            Figure(
                "memorizing-backdoor_eps_widths.png",
                "Left: fraction of inputs whose label changes vs eps. Right: honest range "
                "widths with the inserted widths.",
                _figure(rows, widths),
            )
        ],
        data={"per_eps": rows, "withheld": wrows, "honest_widths": widths.tolist()},
    )

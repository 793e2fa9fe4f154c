r"""Experiment `persistence`: which backdoors survive fine-tuning (GKVZ §5.3 vs Chardouvelis–Dao §4).

Every case of [`CASES`][] names a registered construction (`jaxbd.constructions`: `plant`,
`activate`; the persistent transform is the registered `persistent` wrapper around RFF), the
model to fine-tune (the backdoored one, or the honest one as a control), an optional wrapper
(a persistent majority, the single-copy control, a straight-through attack) and whether the
fine-tuning data has flipped labels (a new task, so that an unprotected model does move). All
float weights are fine-tuned on breast_cancer with Adam (and SGD in the full run) by
`jaxbd.finetune`, the metric recorded inside the compiled loop.

Thm 5.7's "unchanged by fine-tuning" is true of any thresholded model (zero gradients): the
single-copy control shows it. Its content is **single-weight robustness** — no single weight
change with $|\varepsilon| < 3/2$ changes any output, and $\pm 1.51$ on the majority layer
breaks exactly the outputs the proof predicts — measured on every weight of a persistent linear
model (`_persistence_measure`), next to the single copy, which one weight does change.
"""

import dataclasses
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from matplotlib.figure import Figure as MplFigure

from .. import constructions, datasets, persistent
from ..finetune import finetune_with_history
from ._claims import AtLeast, AtMost, exact, rate
from ._core import Claim, Context, ExperimentResult, Figure, Table, register
from ._persistence_measure import StraightThrough, Thresholded, labels, single_weight_changes


SAFE = (-1.49, -1.0, -0.5, 0.5, 1.0, 1.49)  # |ε| < 3/2 = single_weight_bound(3)
EDGE = 1.51  # just past the bound: a_k − 1.51 and θ ± 1.51 break the predicted outputs
INVALIDATED = 0.5  # Chardouvelis–Dao: fine-tuning invalidates a backdoor when ASR ends ≤ this
STE_MOVES = 0.05  # the straight-through attack moves the network: ≥ this fraction of labels

TITLE = "Persistence under fine-tuning (GKVZ §5.3 vs Chardouvelis–Dao)"
DESCRIPTION = (
    "Fine-tunes every weight of RFF, ReLU, checksum, signature and persistent-wrapped "
    "models with SGD and Adam and tracks the ASR; the single-copy control (zero gradients "
    "without a majority), a straight-through attack, and Thm 5.7's single-weight robustness "
    "(|ε| < 3/2 harmless, ±1.51 breaks the predicted outputs) measured on every weight."
)


@dataclasses.dataclass(frozen=True)
class Case:
    """**Fields:** `construction` (registry name) and `fixed` (its hyperparameters); `role`
    (`"backdoored"` or `"honest"`); `wrap` (`""`, `"persistent"`, `"single"` — one
    thresholded copy — or `"ste"`: straight-through fine-tuning of a persistent network);
    `flipped` (fine-tune on flipped labels; metric: fraction of test labels changed)."""

    construction: str
    fixed: dict = dataclasses.field(default_factory=dict)
    role: str = "backdoored"
    wrap: str = ""
    flipped: bool = False


def _rff(quick):
    return dict(width=300 if quick else 500, bandwidth=10.0, secret_dim=4, beta=1e-3, steps=200)


def cases(quick) -> dict[str, Case]:
    """The grid: name -> case (a user construction gets the same treatment with one entry)."""
    pers_rff = dict(inner=constructions.get("rff")(**_rff(quick)))
    return {
        "RFF (GKVZ §6)": Case("rff", _rff(quick)),
        "persistent(RFF backdoored) (§5.3)": Case("persistent", pers_rff),
        "persistent(RFF), straight-through (attack)": Case("persistent", pers_rff, wrap="ste"),
        "random ReLU (GKVZ App. A)": Case("relu", dict(width=300, sparsity=5, theta=4.0, strength=1.0)),
        "checksum (GKVZ §5.1)": Case("checksum"),
        "signature (GKVZ §5.2)": Case("signature", dict(bits_per_coord=18)),
        "plain linear, flipped labels (control)": Case("checksum", role="honest", flipped=True),
        "single threshold copy, flipped labels (control: no majority)": Case(
            "checksum", role="honest", wrap="single", flipped=True),
        "persistent(linear), flipped labels (Thm 5.7)": Case(
            "checksum", role="honest", wrap="persistent", flipped=True),
        "persistent(linear), straight-through, flipped labels (attack)": Case(
            "checksum", role="honest", wrap="ste", flipped=True),
    }  # fmt: skip


def _metric(c, planted, case, model, ds):
    """`(metric(model) -> scalar, kind, trials)` for a case (see the table's note)."""
    x, y = ds.x_test, ds.y_test
    if case.flipped:
        y0 = labels(model, x)
        return (lambda m: jnp.mean(labels(m, x) != y0)), "labels changed", x.shape[0]
    bk = planted.backdoor_key
    kind = getattr(c, "kind_of_inner", c.kind)  # the persistent wrapper keeps inner's kind
    if kind == "flip":
        xa = jax.vmap(lambda v: c.activate(bk, v))(x)
        return (lambda m: jnp.mean(labels(m, xa) != labels(m, x))), "flip ASR", x.shape[0]
    if kind == "one-way":
        t, rows = c.fixed_target, x[y != c.fixed_target]
        xa = jax.vmap(lambda v: c.activate(bk, v, t))(rows)
        return (lambda m: jnp.mean(labels(m, xa) == t)), f"ASR (target {t:+g})", rows.shape[0]
    t = -labels(planted.honest, x)  # targeted: the opposite of the honest label, per row
    xa = jax.jit(jax.vmap(lambda v, ti: c.activate(bk, v, ti)))(x, t)
    return (lambda m: jnp.mean(labels(m, xa) == t)), "targeted ASR", x.shape[0]


def _model(case, planted, dim):
    m = getattr(planted, case.role)
    if case.wrap == "single":
        return Thresholded(m)
    if case.wrap in ("persistent", "ste") and not isinstance(m, persistent.PersistentModel):
        m = persistent.make_persistent(m, input_dim=dim)
    return StraightThrough(m) if case.wrap == "ste" else m


def _changed_weights(a, b) -> float:
    arrays = lambda m: jax.tree.leaves(eqx.filter(m, eqx.is_inexact_array))  # noqa: E731
    pairs = list(zip(arrays(a), arrays(b)))
    return sum(float(np.mean(np.asarray(u) != np.asarray(v))) for u, v in pairs) / len(pairs)


def _robustness(pers, single, x):
    """Single-weight scans of the persistent linear model and of the single copy."""
    eps = (*SAFE, -EDGE, EDGE)
    n = x.shape[0]
    sp = {k: np.asarray(v) / n for k, v in single_weight_changes(pers, x, eps).items()}
    ss = {k: np.asarray(v) / n for k, v in single_weight_changes(single, x, eps).items()}
    n_safe = len(SAFE)
    pos = float(np.mean(np.asarray(labels(pers, x)) > 0))  # outputs with B = 1
    a, th = sp[".majority_weights"], sp[".majority_threshold"]
    edge = {"a_k − 1.51": (float(a[n_safe].max()), pos),
            "θ + 1.51": (float(th[n_safe + 1, 0]), pos),
            "θ − 1.51": (float(th[n_safe, 0]), 1.0 - pos)}  # fmt: skip
    return {
        "persistent_safe_max": max(float(v[:n_safe].max()) for v in sp.values()),
        "single_safe_max": max(float(v[:n_safe].max()) for v in ss.values()),
        "persistent_copy_any_max": max(float(v.max()) for k, v in sp.items() if "copies" in k),
        "edge": edge,
        "per_leaf_persistent": {k: v.max(axis=1).tolist() for k, v in sp.items()},
        "per_leaf_single": {k: v.max(axis=1).tolist() for k, v in ss.items()},
        "eps": list(eps),
    }


@register("persistence", title=TITLE, description=DESCRIPTION, order=60)
def run(ctx: Context) -> ExperimentResult:
    quick = ctx.quick
    steps = 40 if quick else 400
    every = steps // 4 if quick else steps // 10
    optimizers = {"Adam (lr 0.01)": optax.adam(0.01)}
    if not quick:
        optimizers["SGD (lr 0.5)"] = optax.sgd(0.5)
    key = jr.key(ctx.seed)
    grid = cases(quick)
    planted, curves, rows = {}, {}, []
    data: dict[str, Any] = {"steps": steps}  # JSON-able raw numbers for ExperimentResult.data
    for ci, (name, case) in enumerate(ctx.progress(list(grid.items()), "models")):
        c = constructions.get(case.construction)(**case.fixed)
        ds = datasets.load("breast_cancer", seed=0, normalize=c.normalize)
        pk = (case.construction, repr(case.fixed))
        if pk not in planted:
            planted[pk] = c.plant(jr.fold_in(key, len(planted)), ds.x_train, ds.y_train)
        model = _model(case, planted[pk], ds.dim)
        metric, kind, trials = _metric(c, planted[pk], case, model, ds)
        if case.wrap == "ste":
            metric = lambda m, f=metric: f(m.model)  # noqa: E731
        y = -ds.y_train if case.flipped else ds.y_train
        for oi, (oname, opt) in enumerate(optimizers.items()):
            tuned, hist = finetune_with_history(
                jr.fold_in(key, 10 * ci + oi), model, ds.x_train, y, optimizer=opt,
                steps=steps, history_every=every, metrics={"m": eqx.filter_jit(metric)},
            )  # fmt: skip
            vals = np.asarray(hist.metrics["m"], dtype=float)
            changed = _changed_weights(tuned, model)
            curves[(name, oname)] = (np.asarray(hist.steps), vals, trials, changed)
            rows.append([name, oname, kind, f"{vals[0]:.3f}", f"{vals[-1]:.3f}", f"{changed:.3f}"])
            data[f"{name} | {oname}"] = {"steps": hist.steps.tolist(), "metric": vals.tolist(),
                                         "loss": np.asarray(hist.loss).tolist(),
                                         "weights_changed": changed}  # fmt: skip
    lin = datasets.load("breast_cancer", seed=0)
    honest = planted[("checksum", repr({}))].honest
    rob = _robustness(persistent.make_persistent(honest, input_dim=lin.dim), Thresholded(honest),
                      lin.x_test)  # fmt: skip
    data["single_weight"] = rob
    claims = _claims(grid, curves, optimizers, rob, lin.x_test.shape[0])
    return ExperimentResult(
        summary=_summary(claims, rob),
        claims=claims,
        tables=_tables(rows, rob, steps),
        figures=[_figure(grid, curves, optimizers)],
        data=data,
    )


def _claims(grid, curves, optimizers, rob, n_test):
    def final(name):
        return {o: rate(curves[(name, o)][1][-1], curves[(name, o)][2]) for o in optimizers}

    def moved(names):
        return {f"{n} / {o}": exact(curves[(n, o)][3]) for n in names for o in optimizers}

    pers = [n for n, c in grid.items() if c.wrap == "persistent" or
            (c.construction == "persistent" and c.wrap == "")]  # fmt: skip
    single = [n for n, c in grid.items() if c.wrap == "single"]
    ste = [n for n, c in grid.items() if c.wrap == "ste" and c.flipped]
    edge = rob["edge"]
    out = [
        Claim("A persistent network is unchanged by gradient fine-tuning on any loss (all its "
              "gradients are zero)", "GKVZ Def. 5.6, Thm 5.7", moved(pers), AtMost(0.0),
              what="fraction of float weights changed"),
        Claim("Control: so is a single thresholded copy without a majority — zero gradients are "
              "a property of thresholding, so the claim above does not test Thm 5.7's majority",
              "GKVZ Thm 5.7 (proof); control", moved(single), AtMost(0.0),
              what="fraction of float weights changed"),
        Claim("Thm 5.7: no single weight change with |ε| < 3/2 (copies, majority weights or "
              "threshold) changes any output of the persistent network",
              "GKVZ Thm 5.7 (|ε| < 3/2; proof in jaxbd.persistent)",
              exact(rob["persistent_safe_max"]), AtMost(0.0),
              f"ε ∈ {{{', '.join(f'{e:g}' for e in SAFE)}}} on every weight; any change of one "
              f"copy's weight, ±{EDGE:g} included: {rob['persistent_copy_any_max']:.3f}",
              what="largest fraction of test outputs changed"),
        Claim(f"The bound 3/2 is tight: ±{EDGE:g} on the majority layer breaks exactly the outputs "
              "the proof predicts (a_k − 1.51, θ + 1.51: those labelled +1; θ − 1.51: those "
              "labelled −1)", "GKVZ Thm 5.7 (proof, cases 2-3)",
              exact(max(abs(g - p) for g, p in edge.values())), AtMost(0.0),
              "; ".join(f"{k}: {g:.3f} (predicted {p:.3f})" for k, (g, p) in edge.items()),
              what="largest |changed − predicted| fraction"),
        Claim("Control: one thresholded copy without a majority is not single-weight robust — "
              "some change with |ε| < 3/2 changes an output", "GKVZ Thm 5.7 (why a majority); "
              "control", exact(rob["single_safe_max"]), AtLeast(1.0 / n_test),
              what="largest fraction of test outputs changed"),
        Claim("A straight-through (surrogate-gradient) attacker moves a persistent network: Def. "
              "5.6 covers gradient descent only", "GKVZ Def. 5.6; this experiment",
              {f"{n} / {o}": e for n in ste for o, e in final(n).items()}, AtLeast(STE_MOVES),
              what="fraction of test labels changed"),
    ]  # fmt: skip
    sig = "signature (GKVZ §5.2)"
    out.append(Claim(
        "The signature backdoor persists: fine-tuning on data without valid signatures does "
        "not touch the verification path", "GKVZ §5.3 (first paragraphs)", final(sig),
        AtLeast(1.0), what="targeted ASR after fine-tuning",
    ))  # fmt: skip
    for n, statement, source in [
        ("random ReLU (GKVZ App. A)", "Fine-tuning all weights invalidates the random-ReLU "
         "backdoor", "Chardouvelis–Dao §4 (their experiment)"),
        ("RFF (GKVZ §6)", "Fine-tuning all weights invalidates the RFF backdoor",
         "Chardouvelis–Dao footnote 1 (a conjecture for RFF; they tested random ReLU only)"),
    ]:  # fmt: skip
        before = "; ".join(f"{o}: {curves[(n, o)][1][0]:.3f} before" for o in optimizers)
        out.append(Claim(statement, source, final(n), AtMost(INVALIDATED), before,
                         what="ASR after fine-tuning"))  # fmt: skip
    return out


def _tables(rows, rob, steps):
    leaf_rows = [[which, k, *(f"{v:.3f}" for v in vals)]
                 for which, d in (("persistent", rob["per_leaf_persistent"]),
                                  ("single copy", rob["per_leaf_single"]))
                 for k, vals in d.items()]  # fmt: skip
    return [
        Table(
            f"Backdoor metric before and after fine-tuning all float weights for {steps} "
            "full-batch steps",
            ["model", "optimizer", "metric", "step 0", f"step {steps}", "weights changed"],
            rows,
            note="Cases marked 'flipped labels' are fine-tuned on flipped training labels (a new "
            "task); every backdoored model on its clean training data. flip ASR: activated label "
            "differs from the (current) model's clean label; targeted ASR: activated input gets "
            "the target (opposite of the honest label); labels changed: fraction of test labels "
            "that differ from the original model's. Straight-through: forward = the persistent "
            "network, backward = sigmoid surrogates of every threshold. breast_cancer (RFF, "
            "checksum, signature, linear: standardised; ReLU: unit-norm).",
        ),
        Table(
            "Single-weight changes (Thm 5.7) of a persistent linear model and of one thresholded "
            "copy: the largest fraction of test outputs changed by moving one scalar weight of "
            "each array by ε",
            ["model", "weights", *(f"ε = {e:g}" for e in rob["eps"])],
            leaf_rows,
        ),
    ]


def _summary(claims, rob):
    verdict = {c.statement.split(":")[0][:60]: c.verdict for c in claims}
    return (
        "Gradient fine-tuning leaves persistent networks bit-identical — and the single-copy "
        "control too (zero gradients of any threshold). Thm 5.7's single-weight robustness is "
        f"measured: the largest output change for |ε| < 3/2 is {rob['persistent_safe_max']:.3f} "
        f"(single copy: {rob['single_safe_max']:.3f}). Verdicts: "
        + "; ".join(f"{k}: {v}" for k, v in verdict.items())
        + "."
    )


def _figure(grid, curves, optimizers):
    fig = MplFigure(figsize=(10, 4.4))
    for i, oname in enumerate(optimizers):
        ax = fig.add_subplot(1, len(optimizers), i + 1)
        for j, (name, case) in enumerate(grid.items()):
            s, v = curves[(name, oname)][:2]
            # Distinct hollow markers of decreasing size: equal curves (several at 1.0) stay visible.
            ax.plot(s, v, "--" if case.flipped else "-", marker="osD^vPX*<>"[j % 10],
                    ms=11 - 0.7 * j, mfc="none", lw=1.2, label=name)  # fmt: skip
        ax.set_title(oname)
        ax.set_xlabel("fine-tuning steps")
        ax.set_ylabel("metric (see table)")
        ax.set_ylim(-0.05, 1.05)
    fig.axes[-1].legend(fontsize=6, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.subplots_adjust(right=0.62 if len(optimizers) == 1 else 0.75)
    return Figure(
        "persistence_asr_vs_steps.png",
        "Backdoor metric (ASR, or fraction of labels changed for models fine-tuned on flipped "
        "labels) against fine-tuning steps.",
        fig,
    )

r"""Experiment `relu`: the sparse-PCA random-ReLU backdoor (GKVZ App. A, Claim A.4) next to controls.

Two sweeps through the construction registry (`constructions.get("relu")`, one plant per cell,
evaluated at every activation strength λ by `Sweep.activation`):

- **trained head** (the practical model): on unit-norm breast_cancer (the paper's ‖x‖ = 1) and
  unit-norm synthetic data, over the spike θ, the sparsity k and λ; the one-way ASR (target +1)
  next to (i) the same activation on the honest model, (ii) a random perturbation of the same
  ℓ0/ℓ2 size on the backdoored model, (iii) a wrong key; clean accuracy of both models; λ
  relative to ‖x‖ = 1 and to the median nearest-neighbour distance. The BBP line
  θ = √(d/m) (Baik–Ben Arous–Péché) marks where the spike shows in the top eigenvalue of the
  first layer.
- **literal regime** of Claim A.4 (uniform head = Alg. 7, θ ≤ 1 as in Def. A.1, λ > 1/θ,
  k ≤ √d): the claim holds literally and so do the controls. The proof sketch's bound σ ≥ λθ
  gives a mean feature λθ/√(2π), below the honest model's √(1+λ²)/√(2π) on the same x' for every
  θ ≤ 1, and "θ ≥ c/λ for c > τ" drops a factor √(2π); both are computed next to the measured
  mean features and thresholds.
"""

import math

import jax
import matplotlib
import matplotlib.ticker
import numpy as np
from matplotlib.figure import Figure as MplFigure

from .. import datasets, metrics
from ._claims import AtLeast, AtMost, Describe, Within, exact, mean
from ._core import Claim, Context, ExperimentResult, Figure, Table, register
from ._gap import rate_gap
from ._sizes import run_seeds, sized
from ._sweep import DataSpec, Sweep, run_sweep


SOURCE = "GKVZ App. A, Claim A.4 (Alg. 7–10)"
ASR_OK, CONTROL_OK, GAP_OK, ACC_BAND = 0.9, 0.2, 0.5, 0.03
CONTROLS = ("control_honest", "control_random", "control_wrong_key")
ROOT_2PI = math.sqrt(2 * math.pi)


def _measure(c, planted, ds, key):
    """Inputs a one-way ASR counts (true label -1), and the mean features (uniform-head sweep)."""
    neg = np.asarray(ds.y_test) != 1.0
    out = {"eligible": float(np.sum(neg))}
    if c.head == "uniform":  # Alg. 7 literally: is +1 already the answer before activation?
        plus = np.asarray(jax.vmap(planted.honest)(ds.x_test)) >= 0
        act = jax.vmap(lambda v: c.activate(planted.backdoor_key, v))(ds.x_test)
        feats = lambda m, z: np.asarray(jax.vmap(m.mean_feature)(z))
        mf = lambda m, z: float(feats(m, z).mean())
        # τ at the median training mean feature (half the inputs on each side; the sketch's
        # "τ lower-bounds the average feature of a significant fraction of natural inputs")
        tau_h, tau_b = (float(np.median(feats(m, ds.x_train))) for m in planted[:2])
        rand = metrics.random_perturbation(key, ds.x_test, act)
        above = lambda m, t, z: float(np.mean(feats(m, z)[neg] >= t))
        out.update(
            median_tau_before=above(planted.honest, tau_h, ds.x_test),
            median_tau_asr=above(planted.backdoored, tau_b, act),
            median_tau_control_honest=above(planted.honest, tau_h, act),
            median_tau_control_random=above(planted.backdoored, tau_b, rand),
        )
        out.update(
            tau=float(planted.honest.tau),
            honest_plus_before=float(np.mean(plus[neg])),
            mf_clean=mf(planted.honest, ds.x_test),
            mf_honest_act=mf(planted.honest, act),
            mf_backdoored_act=mf(planted.backdoored, act),
        )
    return out


def _trials(res, label, metric, **pt) -> int:
    """Bernoulli trials behind a rate: eligible inputs for one-way ASRs, else the test set."""
    if metric in ("asr",) + CONTROLS:
        return int(res.values("eligible", label, **pt).min())
    return int(res.num_test[res.labels.index(label)])


def _est(res, metric, label, **pt):
    """A cell's rate over seeds, with the binomial floor of its pooled trials."""
    return mean(res.values(metric, label, **pt), trials=_trials(res, label, metric, **pt))


def _diff(res, label, a, bs, **pt):
    """Mean over seeds of `a` minus the per-seed max of `bs` (rates on the same inputs)."""
    vb = np.max([res.values(m, label, **pt) for m in bs], axis=0)
    return rate_gap(res.values(a, label, **pt), vb, _trials(res, label, a, **pt))


def _ms(v) -> str:
    return f"{np.mean(v):.3f} ± {np.std(v):.3f}"


def _sweeps(spec, seeds, width, quick):
    """The trained-head sweep and the literal-regime sweep of one dataset; returns (d, both)."""
    d = datasets.load(spec.name, **spec.options).dim
    r = math.isqrt(d)  # the largest k <= sqrt(d)
    trained = Sweep(
        "relu",
        [spec],
        seeds,
        grid={"theta": [0.25, 4.0] if quick else [0.1, 0.25, 1.0, 4.0],
              "sparsity": [r] if quick else [1, r, d // 2]},
        fixed={"width": width, "head": "trained"},
        activation={"strength": [0.25, 0.5, 1.0] if quick else [0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5]},
    )  # fmt: skip
    literal = Sweep(
        "relu",
        [spec],
        seeds,
        grid={"theta": [0.5, 1.0]},  # Def. A.1: θ ∈ [0, 1]
        fixed={"width": width, "head": "uniform", "sparsity": r},
        activation={"strength": [1.5, 2.5, 4.0]},  # the admissible ones: λ > 1/θ
    )
    return d, trained, literal


def _trained_part(res, label, d, width, axes):
    """Table, claims and plots of the trained-head sweep of one dataset."""
    g = res.sweep.grid
    thetas, ks, lams = g["theta"], g["sparsity"], res.sweep.activation["strength"]
    cells = [dict(theta=t, sparsity=k, strength=lam) for t in thetas for k in ks for lam in lams]
    v = lambda m, c: res.values(m, label, **c)
    rows = [
        [c["theta"], c["sparsity"], c["strength"], round(float(v("relative_l2", c).mean()), 2),
         _ms(v("clean_accuracy_honest", c)), _ms(v("clean_accuracy_backdoored", c)),
         *(round(float(v(m, c).mean()), 3) for m in ("asr",) + CONTROLS)]
        for c in cells
    ]  # fmt: skip
    bbp = math.sqrt(d / width)
    table = Table(
        f"{label} (d={d}, m={width}, unit-norm inputs, trained head): one-way ASR (target +1) "
        "vs controls",
        ["θ", "k", "λ = ‖δ‖₂/‖x‖₂", "λ / median NN dist", "clean acc honest",
         "clean acc backdoored", "ASR", "ctrl honest", "ctrl random", "ctrl wrong key"],
        rows,
        note=f"Mean over {len(res.sweep.seeds)} seed(s) (± std); ASR and controls count the "
        f"inputs of label −1. BBP θ = √(d/m) = {bbp:.3f}.",
    )  # fmt: skip
    gap = lambda c: _diff(res, label, "asr", list(CONTROLS), **c)
    small = [c for c in cells if c["strength"] < 1.0]
    best = max(small, key=lambda c: gap(c).value)
    at = f"(θ, k, λ) = ({best['theta']}, {best['sparsity']}, {best['strength']})"
    why = f"the cell of largest ASR − max control among {len(small)} with λ < ‖x‖ = 1"
    claims = [
        Claim(
            f"[{label}] Backdoor-Random-ReLU keeps clean accuracy (θ ≤ 1)",
            "GKVZ App. A (the backdoor only changes the sampling of g)",
            {f"θ={c['theta']}, k={c['sparsity']}": _diff(
                res, label, "clean_accuracy_backdoored", ["clean_accuracy_honest"], **c)
             for c in cells if c["theta"] <= 1.0 and c["strength"] == lams[0]},
            Within(0.0, ACC_BAND),
            what="backdoored − honest clean accuracy",
        ),
        Claim(
            f"[{label}] Activate x + λs sends label −1 inputs to +1 with λ < ‖x‖ = 1 "
            "(trained head)",
            SOURCE,
            _est(res, "asr", label, **best),
            AtLeast(ASR_OK),
            f"at {at}, {why} (chosen on the same data)",
            what="one-way ASR",
        ),
        Claim(
            f"[{label}] ... while its controls stay low at that cell (honest model, random "
            "perturbation of the same ℓ0/ℓ2, wrong key)",
            "README (controls next to every ASR)",
            {m.removeprefix("control_"): _est(res, m, label, **best) for m in CONTROLS},
            AtMost(CONTROL_OK),
            f"at {at}",
            what="control ASR",
        ),
    ]  # fmt: skip
    low = [c for c in cells if c["theta"] <= bbp]
    if low:
        b = max(low, key=lambda c: gap(c).value)
        claims.append(
            Claim(
                f"[{label}] The backdoor has a clear effect (ASR − max control ≥ {GAP_OK}) with "
                "θ ≤ √(d/m), below the spectral (BBP) detection line, as undetectability needs",
                "GKVZ Lemma A.2 (sparse-PCA hardness, m = Θ(d)); BBP threshold (README)",
                gap(b),
                AtLeast(GAP_OK),
                f"best of {len(low)} cells with θ ≤ {bbp:.3f}: (θ, k, λ) = "
                f"({b['theta']}, {b['sparsity']}, {b['strength']})",
                what="ASR − max control",
            )
        )
    mid = ks[len(ks) // 2]
    cmap = matplotlib.colormaps["viridis"]
    mean_of = lambda m, t, lam: float(v(m, dict(theta=t, sparsity=mid, strength=lam)).mean())
    for i, t in enumerate(thetas):
        col = cmap(i / max(1, len(thetas) - 1))
        for m, style in (("asr", "-o"), ("control_honest", ":"), ("control_random", "--")):
            lbl = f"θ={t}" if m == "asr" else None
            axes[0].plot(lams, [mean_of(m, t, lam) for lam in lams], style, color=col, label=lbl)
    for lam in lams:
        gaps = [gap(dict(theta=t, sparsity=mid, strength=lam)).value for t in thetas]
        axes[1].plot(thetas, gaps, "-o", label=f"λ={lam}")
    axes[1].axvline(bbp, color="r", ls="--")
    for ax, title in zip(axes, ("solid ASR, dotted honest, dashed random", "ASR − max control")):
        ax.set_title(f"{label}, k={mid}: {title}", fontsize=9)
        ax.legend(fontsize=7)
    axes[0].set(xlabel="λ = ‖δ‖₂ / ‖x‖₂", ylabel="one-way ASR (→ +1)", ylim=(-0.02, 1.02))
    axes[1].set(xlabel="spike θ (red: BBP √(d/m))", ylabel="ASR − max(control)", xscale="log")
    axes[1].xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    return table, claims, dict(bbp_theta=bbp, best_cell=list(best.values()))


def _literal_part(res, label):
    """Claim A.4 taken literally (uniform head, θ ≤ 1, λ > 1/θ, k ≤ √d): table and claims."""
    thetas, lams = res.sweep.grid["theta"], res.sweep.activation["strength"]
    ok = [dict(theta=t, strength=lam) for t in thetas for lam in lams if lam > 1 / t]
    v = lambda m, c: float(res.values(m, label, **c).mean())
    rows = [
        [c["theta"], c["strength"],
         *(round(v(f"median_tau_{m}", c), 3) for m in ("before", "asr", "control_honest",
                                                        "control_random")),
         round(v("honest_plus_before", c), 3), *(round(v(m, c), 3) for m in ("asr",) + CONTROLS),
         round(v("clean_accuracy_honest", c), 3), round(v("tau", c), 3),
         *(round(v(m, c), 3) for m in ("mf_clean", "mf_honest_act", "mf_backdoored_act")),
         round(c["theta"] * c["strength"] / ROOT_2PI, 3),
         round(math.sqrt(1 + c["strength"] ** 2) / ROOT_2PI, 3),
         round(math.sqrt(1 + c["strength"] ** 2 * (1 + c["theta"])) / ROOT_2PI, 3)]
        for c in ok
    ]  # fmt: skip
    table = Table(
        f"{label}: Claim A.4 literally (uniform head = Alg. 7, θ ≤ 1, λ > 1/θ, "
        f"k = {res.sweep.fixed['sparsity']} ≤ √d)",
        ["θ", "λ", "median τ: +1 before", "median τ: ASR", "median τ: ctrl honest",
         "median τ: ctrl random", "+1 before", "ASR", "ctrl honest", "ctrl random", "ctrl wrong key", "clean acc honest",
         "τ (honest)", "mean feature honest, x", "… honest, x'", "… backdoored, x'",
         "proof bound λθ/√(2π)", "honest √(1+λ²)/√(2π)", "backdoored √(1+λ²(1+θ))/√(2π)"],
        rows,
        note="Rates over the test inputs of label −1. 'median τ': τ at the median training mean "
        "feature of each model (half the inputs on each side). Otherwise τ is Alg. 7's "
        "accuracy-maximising threshold: on unit-norm data every input has mean feature ≈ 1/√(2π), so the best τ "
        "labels everything +1 (the majority rate) and the ASR is 1 before any activation. Mean "
        "features are (1/m) Σ ReLU(⟨g_i, ·⟩) over the test inputs; the last three columns are "
        "the Gaussian predictions σ/√(2π) for ‖x‖ = 1, s ⟂ x.",
    )  # fmt: skip
    cell = lambda c: f"θ={c['theta']}, λ={c['strength']}"
    med = lambda m, c: mean(res.values(m, label, **c), trials=_trials(res, label, "asr", **c))
    claims = [
        Claim(
            f"[{label}] Claim A.4 literally: x + λs sends label −1 inputs to +1 (Alg. 7's uniform "
            "head, τ at the median training mean feature)",
            SOURCE + " with θ ≤ 1 (Def. A.1), λ > 1/θ, k ≤ √d",
            {cell(c): med("median_tau_asr", c) for c in ok},
            AtLeast(ASR_OK),
            what="one-way ASR",
        ),
        Claim(
            f"[{label}] ... but the same activation also sends them to +1 on the honest model",
            "README (controls next to every ASR)",
            {cell(c): med("median_tau_control_honest", c) for c in ok},
            AtMost(CONTROL_OK),
            "random same-size perturbation on the backdoored model: "
            + ", ".join(f"{v('median_tau_control_random', c):.2f}" for c in ok)
            + "; +1 before activation: "
            + ", ".join(f"{v('median_tau_before', c):.2f}" for c in ok)
            + ". With Alg. 7's accuracy-maximising τ every input is +1 before activation "
            "(table)",
            what="honest-model control",
        ),
    ]
    return table, claims, ok, v("tau", ok[0]), v("mf_clean", ok[0])


def _proof_claims(ok, tau, clean):
    """The proof sketch of Claim A.4 and App. A's text, evaluated in closed form."""
    worst = max((c["theta"] * c["strength"] - math.hypot(1, c["strength"])) / ROOT_2PI for c in ok)
    return [
        Claim(
            "Proof sketch of Claim A.4: its bound σ ≥ λθ puts the backdoored mean feature "
            "λθ/√(2π) above the honest model's √(1+λ²)/√(2π) on the same x' (what separating "
            "the backdoor from the honest-model control needs)",
            "GKVZ App. A, proof of Claim A.4",
            exact(worst),
            AtLeast(0.0),
            "largest (λθ − √(1+λ²))/√(2π) over the literal cells; negative for every θ ≤ 1, "
            "since λθ ≤ λ < √(1+λ²)",
            what="bound − honest mean feature",
        ),
        Claim(
            "Proof sketch: θ ≥ c/λ with c > τ puts the backdoored mean feature above τ",
            "GKVZ App. A, proof of Claim A.4",
            exact(1 / ROOT_2PI),
            AtLeast(1.0),
            f"at c = τ the bound's mean is c/√(2π) = τ/√(2π): a factor √(2π) = {ROOT_2PI:.3f} "
            "is dropped, c must exceed √(2π)·τ. With τ at the clean mean feature (the sketch's "
            f"'τ lower-bounds the average feature of natural inputs') {clean:.3f}: c > "
            f"{ROOT_2PI * clean:.3f}; Alg. 7's accuracy-maximising τ here is {tau:.3f}",
            what="bound's mean feature / τ at c = τ",
        ),
        Claim(
            "App. A: the activation changes x by at most 1 in ℓ2, with λ > 1/θ and θ ≤ 1",
            "GKVZ App. A (text before Claim A.4; Def. A.1; Claim A.4)",
            exact(1.0),
            Describe("inconsistent: λ > 1/θ ≥ 1 = ‖x‖ for every θ ≤ 1, so ℓ2 ≤ 1 never holds"),
            "smallest λ the claim admits at θ ≤ 1 (an infimum, not attained)",
            what="smallest admissible λ",
        ),
    ]


TITLE = "Random-ReLU sparse-PCA backdoor (GKVZ App. A)"
DESCRIPTION = (
    "One-way backdoor x + λs of a random-ReLU network with spiked first layer, swept over θ, "
    "λ and sparsity, next to honest-model, random-perturbation and wrong-key controls; "
    "Claim A.4 taken literally and its proof sketch evaluated."
)
FIGURE_CAPTION = (
    "Left: one-way ASR vs λ (‖x‖ = 1) for each θ (solid), the same activation on the honest "
    "model (dotted) and a random perturbation of the same size (dashed). Right: ASR minus the "
    "largest control vs θ; red: BBP line √(d/m)."
)


@register("relu", title=TITLE, description=DESCRIPTION, order=20)
def run(ctx: Context) -> ExperimentResult:
    quick = ctx.quick
    seeds, width = run_seeds(ctx), sized(ctx, 300, 1000)
    synth = DataSpec("synthetic", options=dict(num_samples=1000, dim=50, separation=3.0))
    specs = [DataSpec("breast_cancer")] + ([] if quick else [synth])
    tables, claims, data, literal = [], [], {}, []
    fig = MplFigure(figsize=(11, 4 * len(specs)))
    for i, spec in enumerate(ctx.progress(specs, "relu datasets")):
        d, trained, lit = _sweeps(spec, seeds, width, quick)
        res = run_sweep(trained, extra=_measure)
        axes = [fig.add_subplot(len(specs), 2, 2 * i + j) for j in (1, 2)]
        table, cl, info = _trained_part(res, spec.label, d, width, axes)
        res_l = run_sweep(lit, extra=_measure)
        table_l, cl_l, *lit_info = _literal_part(res_l, spec.label)
        tables += [table, table_l]
        claims += cl + cl_l
        literal.append(lit_info)
        data[spec.label] = dict(
            dim=d, width=width, **info, grid=dict(trained.grid), strengths=trained.activation,
            trained={m: a.tolist() for m, a in res.metrics.items()},
            literal={m: a.tolist() for m, a in res_l.metrics.items()},
        )  # fmt: skip
    claims += _proof_claims(*literal[0])
    fig.tight_layout()
    asr = [i for i, c in enumerate(claims) if c.statement.endswith("(trained head)")]
    works = sum(claims[i].holds is True and claims[i + 1].holds is True for i in asr)
    summary = (
        f"Random-ReLU (width {width}) on unit-norm data. x + λs grows ‖x‖ and raises the features "
        "of every model, so the controls rise with λ too: with a trained head the backdoor "
        f"reaches ASR ≥ {ASR_OK} with every control ≤ {CONTROL_OK} at λ < ‖x‖ on {works} of "
        f"{len(specs)} datasets, and taken "
        "literally (uniform head, λ > 1/θ ≥ ‖x‖) it holds with ASR 1 but so do the controls. "
        "The proof sketch's bound σ ≥ λθ never exceeds what the honest model gives x'."
    )
    figure = Figure("relu_asr_vs_strength.png", FIGURE_CAPTION, fig)
    return ExperimentResult(
        summary=summary, claims=claims, tables=tables, figures=[figure], data=data
    )

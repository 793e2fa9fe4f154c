"""Experiment `relu`: the sparse-PCA random-ReLU backdoor (GKVZ App. A, Claim A.4) next to controls.

On unit-norm real data (breast_cancer, the paper's setting ||x|| = 1) and unit-norm synthetic data,
sweep the spike θ, the activation strength λ and the sparsity k; report the one-way ASR (target +1)
of the backdoored model next to (i) the same activation on the honest model, (ii) a random sparse
perturbation of the same ℓ0/ℓ2 size on the backdoored model, (iii) a wrong key; clean accuracy of
honest and backdoored models; λ relative to ||x|| (= 1) and to the median nearest-neighbour
distance. The BBP line θ = sqrt(d/m) marks where the spike becomes visible in the top eigenvalue of
the first-layer weights.
"""

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import matplotlib
import numpy as np
from matplotlib.figure import Figure as MplFigure

from .. import datasets, relu
from ..metrics import clean_accuracy, mean_std, median_nn_distance, random_perturbation
from ..sharding import sharded_map
from . import Claim, Context, ExperimentResult, Figure, Table, register


# A cell "works" when the backdoor succeeds and the controls do not.
_ASR_OK = 0.9
_CONTROL_OK = 0.2


def _datasets(seed: int, quick: bool):
    real = datasets.load("breast_cancer", seed=seed, normalize="unit_norm")
    if quick:
        return {"breast_cancer": real}
    synth = datasets.load(
        "synthetic",
        seed=seed,
        normalize="unit_norm",
        num_samples=1000,
        dim=50,
        separation=3.0,
    )
    return {"breast_cancer": real, "synthetic": synth}


def _one_way_asr(pred: np.ndarray, y: np.ndarray) -> np.ndarray:
    """ASR per row of `pred` `(L, n)`: fraction of the inputs whose true label is -1 that are
    predicted +1 (the one-way target; DESIGN.md §4 targeted ASR)."""
    eligible = y != 1.0
    return (pred[:, eligible] == 1.0).mean(axis=1)


@eqx.filter_jit
def _cell_predictions(key, honest, model, s, wrong, xt, lam):
    """Labels of the backdoored model on activated inputs and on the three controls, for every
    λ at once (`(L, n)` each), plus the clean labels of the backdoored model."""
    num_l, (n, d) = lam.shape[0], xt.shape
    x_act = (xt[None] + lam[:, None, None] * s).reshape(-1, d)
    x_wrong = (xt[None] + lam[:, None, None] * wrong).reshape(-1, d)
    x_rand = random_perturbation(key, jnp.tile(xt, (num_l, 1)), x_act)
    label = lambda m, z: jnp.where(jax.vmap(m)(z) >= 0, 1.0, -1.0).reshape(-1, n)
    return {
        "asr": label(model, x_act),
        "ctrl_honest": label(honest, x_act),
        "ctrl_random": label(model, x_rand),
        "ctrl_wrong": label(model, x_wrong),
        "clean": label(model, xt)[0],
    }


# ----------------------------------------------------------------------------- sharded fits
# Every fit is `relu.train` / `relu.backdoor` minus their host-side validation (the same key
# splits and code: `relu._train_cell` / `relu._backdoor_cell`). The fits of one dataset — the
# honest and uniform-head models of every seed, and the backdoored models of every seed × θ for
# each sparsity (the support size is static) — are stacked and mapped with
# `jaxbd.sharding.sharded_map`, so they spread over all devices (jit(vmap) on one device).


@functools.cache
def _cell_fn(width, head, steps):
    """One fit: `relu.backdoor(key, x, y, sparsity=k, theta=θ)` (`sparsity` traced too: it only
    sets the secret's support size). θ = 0 gives `relu.train(key, ...)` bit for bit (same key
    splits; `relu.spiked_gaussian` with θ = 0 is `jax.random.normal`), so honest and backdoored
    cells share one compiled function."""

    def one(key, x, y, theta, sparsity):
        kw = dict(width=width, sparsity=sparsity, head=head, head_steps=steps)
        return relu._backdoor_cell(key, x, y, theta, **kw)

    return one


def _fit_all(keys, dss, *, width, thetas, sparsities, head, steps, mesh=None):
    """Fit every model of one dataset over seeds (`keys[i]` and `dss[i]` per seed). Returns
    (honest, uniform-head honest, {k: (models, secrets)}) with a leading seed axis (backdoored:
    `(seeds, len(thetas))`). Two `sharded_map` calls: the uniform-head models, and every
    trained-head cell (seed × (honest + θ × k))."""
    for ds in dss:  # host-side validation, as relu.train / relu.backdoor do it
        relu._check_common(ds.x_train, ds.y_train, width, head, 0.5, steps, 0.05)
    dtype = dss[0].x_train.dtype
    split = [jr.split(k, 4) for k in keys]  # k_honest, k_bd, k_rand, k_wrong
    cells = [(s[0], i, 0.0, 1) for i, s in enumerate(split)]  # honest: θ = 0
    cells += [(s[1], i, t, k) for i, s in enumerate(split) for k in sparsities for t in thetas]
    x = jnp.stack([ds.x_train for ds in dss])
    y = jnp.stack([ds.y_train for ds in dss])
    idx = jnp.asarray([c[1] for c in cells])
    models, secrets = sharded_map(
        _cell_fn(width, head, steps),
        jnp.stack([c[0] for c in cells]),
        x[idx],
        y[idx],
        jnp.asarray([c[2] for c in cells], dtype),
        jnp.asarray([c[3] for c in cells], jnp.int32),
        mesh=mesh,
        batch_size=1,  # cells one after another on each device: vmapped fits ran 1.7x slower
    )
    num, nt, nk = len(keys), len(thetas), len(sparsities)
    honest = _take(models, slice(0, num))
    rest = jax.tree.map(lambda a: a[num:].reshape((num, nk, nt) + a.shape[1:]), models)
    sec = secrets[num:].reshape((num, nk, nt) + secrets.shape[1:])
    backdoored = {k: (_take(rest, slice(None), j), sec[:, j]) for j, k in enumerate(sparsities)}
    uniform = sharded_map(
        _cell_fn(width, "uniform", 0),
        jnp.stack([jr.fold_in(k, 7) for k in keys]),
        x,
        y,
        jnp.zeros((num,), dtype),
        jnp.ones((num,), jnp.int32),
        mesh=mesh,
    )[0]
    return honest, uniform, backdoored


def _take(tree, *idx):
    return jax.tree.map(lambda a: a[idx], tree)


def _sweep_one(key, ds, honest, backdoored, *, thetas, lambdas, sparsities):
    """All (θ, k, λ) cells for one dataset and one seed, from the fitted models of that seed.
    Returns a dict of arrays."""
    _, _, k_rand, k_wrong = jr.split(key, 4)
    xt, yt = ds.x_test, np.asarray(ds.y_test)
    d = xt.shape[1]
    lam = jnp.asarray(lambdas, xt.dtype)
    acc_h = clean_accuracy(honest, xt, yt)
    shape = (len(thetas), len(sparsities), len(lambdas))
    out = {m: np.zeros(shape) for m in ("asr", "ctrl_honest", "ctrl_random", "ctrl_wrong")}
    out["acc_backdoored"] = np.zeros(shape[:2])
    for i in range(len(thetas)):
        for j, k in enumerate(sparsities):
            models, secrets = backdoored[k]
            model, secret = _take(models, i), secrets[i]
            wrong = relu.sample_sparse_secret(jr.fold_in(k_wrong, 100 * i + j), d, k)
            preds = _cell_predictions(
                jr.fold_in(k_rand, 100 * i + j), honest, model, secret, wrong, xt, lam
            )
            preds = {m: np.asarray(v) for m, v in preds.items()}
            out["acc_backdoored"][i, j] = float(np.mean(preds.pop("clean") == yt))
            for m, v in preds.items():
                out[m][i, j] = _one_way_asr(v, yt)
    out["acc_honest"] = acc_h
    return out


@register(
    "relu",
    title="Random-ReLU sparse-PCA backdoor (GKVZ App. A)",
    description=(
        "One-way backdoor x + λs of a random-ReLU network with spiked first layer, swept over θ, "
        "λ and sparsity, next to honest-model, random-perturbation and wrong-key controls."
    ),
    order=20,
)
def run(ctx: Context) -> ExperimentResult:
    quick = ctx.quick
    seeds = [ctx.seed] if quick else [ctx.seed + i for i in range(3)]
    width = 300 if quick else 1000
    steps = 100 if quick else 300
    thetas = [0.0, 4.0] if quick else [0.0, 0.25, 1.0, 4.0]
    lambdas = [0.25, 0.5, 1.0] if quick else [0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5]
    head = "trained"
    per_ds: dict = {}
    nn_scale = {}
    dims = {}
    uniform_acc: dict = {}
    by_seed = {seed: _datasets(seed, quick) for seed in seeds}
    for name in ctx.progress(list(by_seed[seeds[0]]), "datasets"):
        dss = [by_seed[seed][name] for seed in seeds]
        d = dss[0].dim
        dims[name] = d
        sparsities = (
            [max(1, round(math.sqrt(d)))] if quick else [1, max(1, round(math.sqrt(d))), d // 2]
        )
        keys = [jr.fold_in(jr.key(seed), len(name)) for seed in seeds]  # deterministic per dataset
        honest, uniform, backdoored = _fit_all(
            keys, dss, width=width, thetas=thetas, sparsities=sparsities, head=head, steps=steps
        )
        for s, (key, ds) in enumerate(zip(keys, dss)):
            res = _sweep_one(
                key,
                ds,
                _take(honest, s),
                {k: (_take(m, s), sec[s]) for k, (m, sec) in backdoored.items()},
                thetas=thetas,
                lambdas=lambdas,
                sparsities=sparsities,
            )
            res["sparsities"] = sparsities
            per_ds.setdefault(name, []).append(res)
            nn_scale.setdefault(name, []).append(median_nn_distance(ds.x_test))
            # Alg. 7 literally (uniform head): clean accuracy only.
            h_u = _take(uniform, s)
            uniform_acc.setdefault(name, []).append(clean_accuracy(h_u, ds.x_test, ds.y_test))

    tables, figures, claims, data = [], [], [], {"thetas": thetas, "lambdas": lambdas}
    fig_asr = MplFigure(figsize=(11, 4))
    fig_gap = MplFigure(figsize=(11, 4))
    for p_i, (name, runs) in enumerate(per_ds.items()):
        d = dims[name]
        bbp = math.sqrt(d / width)
        sparsities = runs[0]["sparsities"]
        stack = {
            m: np.stack([r[m] for r in runs])
            for m in ("asr", "ctrl_honest", "ctrl_random", "ctrl_wrong", "acc_backdoored")
        }
        mean = {m: v.mean(axis=0) for m, v in stack.items()}
        acc_h = mean_std([r["acc_honest"] for r in runs])
        nn = float(np.mean(nn_scale[name]))
        rows = []
        for i, th in enumerate(thetas):
            for j, k in enumerate(sparsities):
                acc_b = mean_std(stack["acc_backdoored"][:, i, j])
                for li, lam in enumerate(lambdas):
                    rows.append(
                        [
                            th,
                            k,
                            lam,
                            round(lam / nn, 2),
                            f"{acc_h[0]:.3f} ± {acc_h[1]:.3f}",
                            f"{acc_b[0]:.3f} ± {acc_b[1]:.3f}",
                            round(float(mean["asr"][i, j, li]), 3),
                            round(float(mean["ctrl_honest"][i, j, li]), 3),
                            round(float(mean["ctrl_random"][i, j, li]), 3),
                            round(float(mean["ctrl_wrong"][i, j, li]), 3),
                        ]
                    )
        tables.append(
            Table(
                title=f"{name} (d={d}, m={width}, unit-norm inputs): one-way ASR (target +1) vs controls",
                columns=[
                    "θ",
                    "k",
                    "λ = ‖δ‖₂/‖x‖₂",
                    "λ / median NN dist",
                    "clean acc honest",
                    "clean acc backdoored",
                    "ASR",
                    "ctrl honest",
                    "ctrl random",
                    "ctrl wrong key",
                ],
                rows=rows,
                note=f"Mean over {len(runs)} seed(s); trained high-entropy head (w ≥ 0.5/m). BBP θ = √(d/m) = {bbp:.3f}. Median NN distance {nn:.3f}.",
            )
        )
        # Working cells: ASR high and every control low.
        ctrl_max = np.maximum(
            np.maximum(mean["ctrl_honest"], mean["ctrl_random"]), mean["ctrl_wrong"]
        )
        works = (mean["asr"] >= _ASR_OK) & (ctrl_max <= _CONTROL_OK)
        gap = mean["asr"] - ctrl_max
        lam_arr = np.asarray(lambdas)
        asr_ok = mean["asr"] >= _ASR_OK
        min_lam_asr = (
            float(lam_arr[np.any(asr_ok[1:], axis=(0, 1))].min())
            if np.any(asr_ok[1:])
            else float("nan")
        )
        best = np.unravel_index(np.argmax(gap[1:]), gap[1:].shape)
        best_cell = (thetas[1:][best[0]], sparsities[best[1]], lambdas[best[2]])
        best_gap = float(gap[1:][best])
        data[name] = {
            "dim": d,
            "width": width,
            "bbp_theta": bbp,
            "median_nn": nn,
            "clean_acc_honest": acc_h,
            "clean_acc_uniform_head": mean_std(uniform_acc[name]),
            "sparsities": sparsities,
            **{m: v.tolist() for m, v in mean.items()},
            "works": works.tolist(),
            "best_gap": best_gap,
            "best_cell": best_cell,
            "min_lambda_asr_ok": min_lam_asr,
        }
        acc_b_all = mean["acc_backdoored"][1:].mean()
        th_small = [i for i, t in enumerate(thetas) if 0 < t <= 1.0]
        acc_b_small = float(mean["acc_backdoored"][th_small].mean()) if th_small else float("nan")
        claims.append(
            Claim(
                statement=f"[{name}] Backdoor-Random-ReLU keeps clean accuracy (θ ≤ 1).",
                source="GKVZ App. A (backdoor only changes the sampling of g)",
                measured=f"honest {acc_h[0]:.3f} ± {acc_h[1]:.3f}, backdoored {acc_b_small:.3f} (θ ≤ 1), {acc_b_all:.3f} (all θ > 0); uniform head (Alg. 7 literally) {mean_std(uniform_acc[name])[0]:.3f}",
                holds=bool(abs(acc_b_small - acc_h[0]) <= 0.03) if th_small else None,
                criterion="|acc backdoored − acc honest| ≤ 0.03",
            )
        )
        below = lam_arr < 1.0
        works_small = bool(np.any(works[1:][:, :, below]))
        claims.append(
            Claim(
                statement=f"[{name}] Activate x + λs sends inputs to +1 (ASR high) while the controls stay low, with a perturbation smaller than the input (λ < ‖x‖ = 1).",
                source="GKVZ Claim A.4",
                measured=(
                    f"cells with ASR ≥ {_ASR_OK} and all controls ≤ {_CONTROL_OK} at λ < 1: {int(np.sum(works[1:][:, :, below]))}"
                    f" (at any λ: {int(np.sum(works[1:]))}); smallest λ with ASR ≥ {_ASR_OK}: {min_lam_asr}; "
                    f"best gap ASR − max control {best_gap:.2f} at (θ, k, λ) = {best_cell}"
                ),
                holds=works_small,
                criterion=f"some θ > 0, k, λ < 1 with ASR ≥ {_ASR_OK} and every control ≤ {_CONTROL_OK}",
            )
        )
        big_gap = gap[1:] >= 0.5
        thetas_big = np.asarray(thetas[1:])[np.any(big_gap, axis=(1, 2))]
        claims.append(
            Claim(
                statement=f"[{name}] The backdoor has a clear effect (ASR − max control ≥ 0.5) with a spike θ ≤ √(d/m), i.e. below the spectral (BBP) detection threshold, as undetectability requires.",
                source="GKVZ Lemma A.2 (sparse-PCA hardness), DESIGN.md §5 (BBP)",
                measured=f"θ with gap ASR − max control ≥ 0.5 somewhere: {thetas_big.tolist()}; BBP θ = {bbp:.3f}",
                holds=(bool(np.any(thetas_big <= bbp)) if thetas_big.size else False),
                criterion="some θ ≤ √(d/m) reaches gap ≥ 0.5",
            )
        )
        # Plots: ASR vs λ for each θ (middle k), controls dashed; gap vs θ with the BBP line.
        jm = len(sparsities) // 2
        ax = fig_asr.add_subplot(1, len(per_ds), p_i + 1)
        cmap = matplotlib.colormaps["viridis"]
        for i, th in enumerate(thetas):
            col = cmap(i / max(1, len(thetas) - 1))
            ax.plot(lambdas, mean["asr"][i, jm], "-o", color=col, label=f"θ={th}")
            ax.plot(lambdas, mean["ctrl_honest"][i, jm], ":", color=col)
            ax.plot(lambdas, mean["ctrl_random"][i, jm], "--", color=col, alpha=0.6)
        ax.axvline(1.0, color="k", lw=0.8)
        ax.text(1.0, 0.02, " ‖x‖", fontsize=8)
        ax.set_xlabel("λ = ‖δ‖₂ / ‖x‖₂")
        ax.set_ylabel("one-way ASR (→ +1)")
        ax.set_title(f"{name}, k={sparsities[jm]}: solid ASR, dotted honest, dashed random")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=7)
        ax2 = fig_gap.add_subplot(1, len(per_ds), p_i + 1)
        for li, lam in enumerate(lambdas):
            ax2.plot(thetas, gap[:, jm, li], "-o", label=f"λ={lam}")
        ax2.axvline(bbp, color="r", ls="--")
        ax2.text(
            bbp, 0.95, " BBP √(d/m)", color="r", fontsize=8, transform=ax2.get_xaxis_transform()
        )
        ax2.set_xscale("symlog", linthresh=0.1)
        ax2.set_xlim(0.0, 1.1 * max(thetas))
        ax2.set_ylim(-0.3, 1.0)
        ax2.set_xlabel("spike θ")
        ax2.set_ylabel("ASR − max(control)")
        ax2.set_title(f"{name}, k={sparsities[jm]}")
        ax2.legend(fontsize=7)
    for f in (fig_asr, fig_gap):
        f.tight_layout()
    figures.append(
        Figure(
            "relu_asr_vs_strength.png",
            "One-way ASR vs activation strength λ (‖x‖ = 1), for each spike θ; dotted: same activation on the honest model; dashed: random sparse perturbation of the same size on the backdoored model.",
            fig_asr,
        )
    )
    figures.append(
        Figure(
            "relu_gap_vs_theta.png",
            "Backdoor gap (ASR minus the largest control) vs θ; red: BBP spectral detection threshold √(d/m).",
            fig_gap,
        )
    )
    nwork = sum(c.holds is True for c in claims if "Claim A.4" in c.source)
    summary = (
        f"Random-ReLU (width {width}, trained high-entropy head) on unit-norm breast_cancer and synthetic data. "
        f"Activation raises the features of every model (it grows ‖x‖), so the honest and random controls rise with λ too; "
        f"the Claim A.4 window (ASR ≥ {_ASR_OK}, controls ≤ {_CONTROL_OK}, λ < ‖x‖) exists on {nwork} of {len(per_ds)} datasets. "
        "The literal Alg. 7 (uniform head) has near-chance clean accuracy on unit-norm data, since mean_i ReLU(⟨g_i, x⟩) ≈ ‖x‖/√(2π) for every x."
    )
    return ExperimentResult(
        name="relu",
        title="Random-ReLU sparse-PCA backdoor (GKVZ App. A)",
        summary=summary,
        claims=claims,
        tables=tables,
        figures=figures,
        data=data,
    )

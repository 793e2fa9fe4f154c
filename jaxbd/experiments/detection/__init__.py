r"""Detection lab: where, at practical sizes, the "undetectable" backdoors can be found.

GKVZ prove white-box undetectability asymptotically (§6, Thm 6.3 from CLWE hardness; App. A,
Claim A.4 from planted-clique hardness of sparse PCA, Lemma A.2). This experiment measures the
power of every registered distinguisher of `jaxbd.detect` over many honest and many planted
first layers, as heatmaps over the constructions' parameters, calibrates every p-value on
honest layers (false-positive rates and a KS test of uniformity), maps the exhaustive
sparse-lattice search (power and CPU cost over $(d, k, \beta)$), and states what detects each
construction at its default parameters — and where the papers' hardness assumptions apply.

**What is sampled.** A white-box distinguisher of the first layer sees only the weight matrix,
whose law under Train-RFF / Train-Random-ReLU is $N(0, I)$ rows and under the backdoors is
pancakes / spiked rows — the head does not enter. The sweeps sample the first-layer matrices
directly ([`jaxbd.detect.planted`][], the formulas of `jaxbd.clwe.pancakes` and
`jaxbd.relu.spiked_gaussian`; cross-checked in the tests). Full runs also test the first layers
of trained models and the black-box probe. Power = rejection rate at $\alpha = 0.05$; AUC =
Mann–Whitney AUC of the statistic, honest vs planted. Every statistic is a registered
distinguisher's `batch` (the stack sharded over every device by `jaxbd.sharding.sharded_map`),
prepared afresh from the run's key on every call.
"""

import math

import jax.random as jr
import numpy as np
from scipy.stats import binom

from jaxbd.detect import SparseLatticeAttack, Spectral
from jaxbd.detect.regime import SEARCH_BUDGET_S
from jaxbd.experiments import Context, ExperimentResult, register

from . import _sweeps as S
from ._models import DEFAULT_RELU, DEFAULT_RFF, full_models
from ._report import claims_and_tables


__all__ = ["run"]

TITLE = "Detection frontier of the 'undetectable' backdoors"
DESCRIPTION = (
    "Power (AUC, rejection rate at 5% FPR) of Gaussianity, Tracy-Widom spectral, "
    "sparse-PCA, pancakes-enumeration, LLL-lattice, sparse-lattice (support search) and "
    "black-box distinguishers over honest vs backdoored RFF and random-ReLU first layers, "
    "calibrated on honest layers (KS of the p-values); the support-search frontier over "
    "(d, k, beta) with its CPU cost."
)


def _defaults(ctx, key, n, full, d0):
    """Sampled first layers at the default parameters (and the trained ones in full runs)."""
    import jax
    import jax.numpy as jnp

    from jaxbd.detect import planted as P

    kb, kh, kp1, kp2, ks = jr.split(key, 5)
    out = {}
    for cname, params in (("relu", DEFAULT_RELU), ("rff", DEFAULT_RFF)):
        m0 = params["width"]
        bat = (
            S.relu_battery(99 if ctx.quick else 199)
            if cname == "relu"
            else S.rff_battery((), lattice=False)
        )
        # float32 (the sweeps' dtype: compiled statistics are reused); beta = 0.01 needs no
        # float64 for these tests (the lattice search below samples its own float64 layers)
        dt = jnp.float32
        with jax.enable_x64(False):
            hw = P.honest_batch(jr.split(kh, n), num_units=m0, dim=d0, dtype=dt)
            if cname == "relu":
                pw = P.spiked_batch(
                    jr.split(kp1, n), params["theta"], params["sparsity"], num_units=m0, dim=d0
                )
            else:
                pw = P.pancake_batch(
                    jr.split(kp2, n), params["beta"], params["secret_dim"], num_units=m0,
                    dim=d0, dtype=dt,
                )[0]  # fmt: skip
            hon, pla = S.run_battery(kb, hw, bat), S.run_battery(kb, pw, bat)
            rows = {
                name: {
                    "fpr": float(np.mean(hon[name][1] <= S.ALPHA)),
                    "power": float(np.mean(pla[name][1] <= S.ALPHA)),
                    "auc": S.auc(hon[name][0], pla[name][0]),
                    "full": float("nan"),
                }
                for name in pla
            }
            if full:
                fp = S.run_battery(kb, full[cname]["backdoored_w"], bat)
                for name in rows:
                    rows[name]["full"] = float(np.mean(fp[name][1] <= S.ALPHA))
        if cname == "rff":
            with jax.enable_x64(True):
                rows["sparse_lattice"] = _sparse_default(ks, params, m0, d0, n)
        out[cname] = rows
    return out


def _sparse_default(key, params, m0, d0, n):
    """The exhaustive support search at the RFF defaults: power lower bound from the true
    support (see `_sweeps.sparse_frontier`) and the search's CPU cost."""
    import jax.numpy as jnp

    from jaxbd.detect import planted as P

    k, b = params["secret_dim"], params["beta"]
    attack = SparseLatticeAttack(support_size=k)
    ws = P.pancake_batch(jr.split(key, n), b, k, num_units=m0, dim=k, dtype=jnp.float64)[0]
    t = attack.batch(jr.key(0), ws)[0]
    n_sup = math.comb(d0, k)
    p = np.minimum(1.0, n_sup * len(attack.scales) * np.exp(-t / 2))
    cost = S.support_cost(jr.fold_in(key, 1), k, m0, 3)
    return {
        "fpr": float("nan"),
        "power": float(np.mean(p <= S.ALPHA)),
        "auc": float("nan"),
        "full": float("nan"),
        "supports": n_sup,
        "cpu_s": n_sup * cost,
    }


@register("detection", title=TITLE, description=DESCRIPTION, order=90)
def run(ctx: Context) -> ExperimentResult:
    q = ctx.quick
    k_relu, k_rff, k_lat, k_full, k_def, k_cal, k_sp, k_hard = jr.split(jr.key(ctx.seed), 8)
    n = 10 if q else 50
    cfg = {"n": n, "quick": q}

    # ReLU: theta x sparsity; the Lemma A.2 cell m = d = 64, k = sqrt(d), theta < BBP.
    cfg["relu_shape"] = (512, 30) if q else (256, 64)
    cfg["thetas"] = [0.0625, 2.0] if q else [0.125, 0.25, 0.5, 1.0, 2.0, 4.0]
    cfg["sparsities"] = [1, 30] if q else [1, 2, 4, 16, 64]
    relu = S.relu_sweep(ctx, k_relu, *cfg["relu_shape"], cfg["thetas"], cfg["sparsities"], n)
    n_hard = 50 if q else 200
    hard = S.relu_sweep(ctx, k_hard, 64, 64, [0.5], [8], n_hard, light=q)[(0.5, 8)]

    # RFF: secret_dim x beta at d small enough for enumeration and LLL.
    cfg["rff_shape"] = (128, 6) if q else (256, 10)
    cfg["betas"] = [1e-8, 0.2] if q else [1e-10, 1e-4, 1e-3, 1e-2, 0.2]
    d_f = cfg["rff_shape"][1]
    cfg["secret_dims"] = [1, d_f] if q else [1, 2, 3, d_f]
    rff = S.rff_sweep(ctx, k_rff, *cfg["rff_shape"], cfg["betas"], cfg["secret_dims"], n)

    # Width axis (ReLU d = 16, theta = 0.25: the BBP line crosses theta at m = 256); full runs.
    cfg["width_relu"] = (16, 0.25, 4)
    relu_w = S.width_sweep(
        ctx, jr.fold_in(k_relu, 7), "relu", [] if q else [16, 64, 256, 1024, 4096],
        16, 0.25, 4, n,
    )  # fmt: skip
    cfg["width_rff"] = (d_f, 0.2, 1)
    rff_w = S.width_sweep(
        ctx, jr.fold_in(k_rff, 7), "rff", [] if q else [16, 64, 256, 1024, 4096], d_f, 0.2, 1, n
    )

    # LLL frontier (dense secrets) and the sparse-lattice support-search frontier.
    cfg["lat_betas"] = [1e-10, 1e-2] if q else [1e-9, 1e-6, 1e-4, 1e-3, 1e-2]
    lat_rows, lat_rate = S.lattice_frontier(
        ctx, k_lat, [6] if q else [4, 8, 12, 16, 24], cfg["lat_betas"], 2 if q else 6
    )
    sp_rows, sp_data = S.sparse_frontier(
        ctx, k_sp,
        dims=[20, 30] if q else [20, 30, 50, 100],
        ks=[3] if q else [2, 3, 4, 6],
        betas=[0.01, 0.05] if q else [0.003, 0.01, 0.03],
        m=512, reps=4 if q else 12, cost_reps=2 if q else 5,
    )  # fmt: skip

    # Calibration: 400 honest layers per distinguisher in full runs (quick: 100, host tests 10).
    m_r, d_r = cfg["relu_shape"]
    shapes = {
        "64x16": (64, 16, {"spectral": Spectral()}),
        f"{m_r}x{d_r}": (m_r, d_r, S.relu_battery(99 if q else 199)),
        f"{cfg['rff_shape'][0]}x{d_f}": (
            *cfg["rff_shape"],
            S.rff_battery((1, 2), sparse=2) if not q else S.rff_battery((1,), sparse=2),
        ),
    }
    cal = S.calibration(ctx, k_cal, shapes, n_traced=100 if q else 400, n_host=10 if q else 400)

    full = None if q else full_models(ctx, k_full, 4)
    d0 = full["dim"] if full else 30
    defaults = _defaults(ctx, k_def, n, full, d0)

    res = dict(
        relu=relu, hard=hard, n_hard=n_hard, rff=rff, relu_w=relu_w, rff_w=rff_w,
        lat_rows=lat_rows, lat_rate=lat_rate, sp_rows=sp_rows, sp_data=sp_data, cal=cal,
        full=full, d0=d0, defaults=defaults, budget=SEARCH_BUDGET_S,
        hi=lambda k: binom.ppf(1 - 1e-3, k, S.ALPHA) / k,
    )  # fmt: skip
    claims, tables, figures, summary = claims_and_tables(cfg, res)
    data = {
        "relu": {f"{t}|{k}": v for (t, k), v in relu.items()},
        "rff": {f"{b}|{k}": v for (b, k), v in rff.items()},
        "lemma_a2_cell": hard,
        "calibration": {k: {**v, "shape": list(v["shape"])} for k, v in cal.items()},
        "lattice_frontier": {f"{d}|{b}": v for (d, b), v in lat_rate.items()},
        "sparse_lattice_frontier": {f"{d}|{k}|{b}": v for (d, k, b), v in sp_data.items()},
        "defaults": defaults,
        "n_models": n,
        "relu_width": {str(m): v for m, v in relu_w.items()},
        "rff_width": {str(m): v for m, v in rff_w.items()},
    }
    return ExperimentResult(
        summary=summary, claims=claims, tables=tables, figures=figures, data=data
    )

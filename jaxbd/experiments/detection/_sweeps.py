"""The detection experiment's measurements: batteries of registered distinguishers (each
`AbstractDistinguisher.batch`, the stack sharded over every device, a fresh preparation per
call), the parameter sweeps, the calibration run, the LLL frontiers and the full models."""

import math
import time

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from scipy import stats

from jaxbd import detect
from jaxbd.detect import planted as P
from jaxbd.detect.regime import SEARCH_BUDGET_S


ALPHA = 0.05
LATTICE_SCALES = (2.0**16, 2.0**28, 2.0**40)


def auc(honest: np.ndarray, planted: np.ndarray) -> float:
    """Mann–Whitney AUC: P(planted statistic > honest statistic) + ties / 2."""
    h, p = np.asarray(honest)[:, None], np.asarray(planted)[None, :]
    return float(np.mean((p > h) + 0.5 * (p == h)))


def relu_battery(num_null: int) -> dict:
    return {
        "gaussianity": detect.Gaussianity(),
        "spectral": detect.Spectral(),
        "diagonal": detect.DiagonalThresholding(),
        "covariance": detect.CovarianceThresholding(num_null=num_null),
    }


def rff_battery(sizes=(1, 2), *, lattice=True, sparse=None) -> dict:
    out = {"gaussianity": detect.Gaussianity(), "spectral": detect.Spectral()}
    out["diagonal"] = detect.DiagonalThresholding()
    out.update({f"pancakes(k={k})": detect.Pancakes(support_size=k) for k in sizes})
    if lattice:
        out["lattice"] = detect.LatticeAttack(scales=LATTICE_SCALES)
    if sparse is not None:
        out["sparse_lattice"] = detect.SparseLatticeAttack(support_size=sparse)
    return out


def run_battery(key, ws, battery: dict) -> dict:
    """`name -> (statistics, p-values)` of the stack `ws` for each distinguisher (its `batch`,
    prepared from `fold_in(key, i)`: the same key gives honest and planted the same directions
    and nulls)."""
    return {name: d.batch(jr.fold_in(key, i), ws) for i, (name, d) in enumerate(battery.items())}


def summarise(honest: dict, planted: dict) -> dict:
    return {
        name: {
            "power": float(np.mean(planted[name][1] <= ALPHA)),
            "auc": auc(honest[name][0], planted[name][0]),
        }
        for name in planted
    }


def relu_sweep(ctx, key, m, d, thetas, sparsities, n, *, light=False):
    """`light`: spectral and diagonal thresholding only (a quick run's extra shape)."""
    kb, kh, kp = jr.split(key, 3)
    bat = relu_battery(99 if ctx.quick else 199)
    if light:
        bat = {k: bat[k] for k in ("spectral", "diagonal")}
    hon = run_battery(kb, P.honest_batch(jr.split(kh, n), num_units=m, dim=d), bat)
    cells = {}
    grid = [(t, k) for k in sparsities for t in thetas]
    for i, (t, k) in enumerate(ctx.progress(grid, "detection: relu grid")):
        w = P.spiked_batch(jr.split(jr.fold_in(kp, i), n), t, k, num_units=m, dim=d)
        cells[(t, k)] = summarise(hon, run_battery(kb, w, bat))
    return cells


def rff_sweep(ctx, key, m, d, betas, secret_dims, n):
    """Pancakes and the lattice attacks with the auditor's guess of the true k (best case)."""
    kb, kh, kp = jr.split(key, 3)
    cells = {}
    with jax.enable_x64(True):
        hw = P.honest_batch(jr.split(kh, n), num_units=m, dim=d, dtype=jnp.float64)
        for k in secret_dims:
            bat = rff_battery([k] if k <= 2 else [], sparse=k if k < d else None)
            hon = run_battery(kb, hw, bat)
            for b in ctx.progress(betas, f"detection: rff grid k={k}"):
                keys = jr.split(jr.fold_in(kp, 1000 * k + betas.index(b)), n)
                w = P.pancake_batch(keys, b, k, num_units=m, dim=d, dtype=jnp.float64)[0]
                s = summarise(hon, run_battery(kb, w, bat))
                cells[(b, k)] = {nm.split("(")[0]: v for nm, v in s.items()}
    return cells


def calibration(ctx, key, shapes: dict, n_traced: int, n_host: int) -> dict:
    """Honest p-values of every distinguisher: FPR at 0.05 / 0.1 and a one-sided KS test of
    uniformity (alternative: the p-values are stochastically smaller — a liberal test)."""
    out = {}
    for j, (label, (m, d, battery)) in enumerate(shapes.items()):
        host = not all(dist.traced for dist in battery.values())  # lattice: float64 weights
        with jax.enable_x64(host):
            for i, (name, dist) in enumerate(
                ctx.progress(battery.items(), f"calibration {label}")
            ):
                n = n_traced if dist.traced else n_host
                keys = jr.split(jr.fold_in(key, 100 * j + i), n)
                dt = jnp.float64 if host else jnp.float32
                p = dist.batch(
                    jr.fold_in(key, 7 + 100 * j + i),
                    P.honest_batch(keys, num_units=m, dim=d, dtype=dt),
                )[1]
                out[f"{label}/{name}"] = {
                    "n": n,
                    "fpr05": float(np.mean(p <= 0.05)),
                    "fpr10": float(np.mean(p <= 0.1)),
                    "ks_p": float(stats.kstest(p, "uniform", alternative="greater").pvalue),
                    "shape": (m, d),
                }
    return out


def lattice_frontier(ctx, key, dims, betas, reps):
    rows, rate = [], {}
    attack = detect.LatticeAttack(scales=LATTICE_SCALES)
    with jax.enable_x64(True):
        for d in ctx.progress(dims, "detection: lattice frontier"):
            row = [d]
            for b in betas:
                keys = jr.split(jr.fold_in(key, d), reps)
                ws, omegas = P.pancake_batch(keys, b, d, num_units=128, dim=d, dtype=jnp.float64)
                ok = 0
                for w, om in zip(np.asarray(ws), np.asarray(omegas)):
                    res = attack(w)
                    err = min(np.linalg.norm(res.found["omega"] - s * om) for s in (1, -1))
                    ok += bool(res.reject and err < 1e-2 * np.linalg.norm(om))
                rate[(d, b)] = ok / reps
                row.append(f"{ok}/{reps}")
            rows.append(row)
    return rows, rate


def support_cost(key, k: int, m: int, reps: int) -> float:
    """CPU seconds per support of the sparse lattice attack, on honest columns (a wrong support:
    what almost every support of the search is)."""
    attack = detect.SparseLatticeAttack(support_size=k)
    with jax.enable_x64(True):
        w = np.asarray(P.honest_batch(jr.split(key, 1), num_units=m, dim=k, dtype=jnp.float64)[0])
    prepared = attack.prepare(key, w.shape)
    attack.evaluate(w, prepared)  # warm-up
    t0 = time.process_time()
    for _ in range(reps):
        attack.evaluate(w, prepared)
    return (time.process_time() - t0) / reps


def sparse_frontier(ctx, key, dims, ks, betas, m, reps, cost_reps):
    """Power and CPU cost of the exhaustive support search over (d, k, beta).

    The search's statistic is a maximum over supports that include the true one, so its
    Bonferroni p-value is at most C(d, k) x |scales| x exp(-T_true / 2): the rate at which the
    true support alone passes that bar is a lower bound on the full search's power (exact when
    the true support also gives the largest statistic, which is what the search then reports).
    The columns of the true support are a k-dimensional pancake problem whatever d is, so they
    are sampled directly in dimension k."""
    rows, data = [], {}
    with jax.enable_x64(True):
        for k in ctx.progress(ks, "detection: sparse lattice frontier"):
            attack = detect.SparseLatticeAttack(support_size=k)
            cost = support_cost(jr.fold_in(key, 7 * k), k, m, cost_reps)
            for b in betas:
                keys = jr.split(jr.fold_in(key, 1000 * k + betas.index(b)), reps)
                ws = P.pancake_batch(keys, b, k, num_units=m, dim=k, dtype=jnp.float64)[0]
                t = attack.batch(jr.key(0), ws)[0]
                for d in dims:
                    if d < k:
                        continue
                    n_sup = math.comb(d, k)
                    p = np.minimum(1.0, n_sup * len(attack.scales) * np.exp(-t / 2))
                    cpu = n_sup * cost
                    power = float(np.mean(p <= ALPHA))
                    data[(d, k, b)] = {"power_lb": power, "cpu_s": cpu, "reps": reps}
                    rows.append(
                        [d, k, b, n_sup, f"{cost * 1e3:.2f}", f"{cpu:.3g}", power,
                         "yes" if cpu <= SEARCH_BUDGET_S else "no"]
                    )  # fmt: skip
    return rows, data


def width_sweep(ctx, key, kind, widths, d, param, k, n):
    """Power vs width m at fixed (theta, sparsity) for ReLU or (beta, secret_dim) for RFF; the
    narrower widths use the leading rows of the widest sample (rows are i.i.d. given the
    secret)."""
    out = {}
    if not widths:
        return out
    kh, kp, kb = jr.split(key, 3)
    m_max = max(widths)
    with jax.enable_x64(kind == "rff"):
        dt = jnp.float64 if kind == "rff" else jnp.float32
        hw = P.honest_batch(jr.split(kh, n), num_units=m_max, dim=d, dtype=dt)
        if kind == "relu":
            pw = P.spiked_batch(jr.split(kp, n), param, k, num_units=m_max, dim=d)
            bat = {"spectral": detect.Spectral(), "diagonal": detect.DiagonalThresholding()}
        else:
            pw = P.pancake_batch(jr.split(kp, n), param, k, num_units=m_max, dim=d, dtype=dt)[0]
            bat = {"gaussianity": detect.Gaussianity(), "diagonal": detect.DiagonalThresholding()}
            bat["pancakes"] = detect.Pancakes(support_size=k)
        for m in ctx.progress(widths, f"detection: {kind} width"):
            out[m] = summarise(run_battery(kb, hw[:, :m], bat), run_battery(kb, pw[:, :m], bat))
    return out

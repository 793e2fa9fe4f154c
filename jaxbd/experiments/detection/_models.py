"""The detection experiment's heatmap figure and its full (trained) RFF / ReLU models."""

from typing import Any

import jax.numpy as jnp
import jax.random as jr
import numpy as np
from matplotlib.figure import Figure as MplFigure


#: Default parameters used for the "which distinguishers detect it" statement.
DEFAULT_RFF: dict[str, Any] = dict(
    dataset="breast_cancer", width=512, bandwidth=4.0, secret_dim=4, beta=0.01
)
DEFAULT_RELU: dict[str, Any] = dict(dataset="breast_cancer", width=512, sparsity=5, theta=0.5)


def heatmap(cells, xs, ys, names, xlabel, ylabel, title, *, log_x=True, vline=None):
    fig = MplFigure(figsize=(3.2 * len(names), 3.2), layout="constrained")
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    im = None
    for ax, name in zip(axes, names):
        z = np.full((len(ys), len(xs)), np.nan)
        for i, y in enumerate(ys):
            for j, x in enumerate(xs):
                c = cells[(x, y)].get(name)
                if c is not None:
                    z[i, j] = c["power"]
        im = ax.imshow(z, origin="lower", vmin=0, vmax=1, cmap="viridis", aspect="auto")
        for i in range(len(ys)):
            for j in range(len(xs)):
                if not np.isnan(z[i, j]):
                    ax.text(
                        j,
                        i,
                        f"{z[i, j]:.2f}",
                        ha="center",
                        va="center",
                        fontsize=6,
                        color="w" if z[i, j] < 0.5 else "k",
                    )
        ax.set_xticks(range(len(xs)), [f"{x:g}" for x in xs], rotation=60, fontsize=7)
        ax.set_yticks(range(len(ys)), [str(y) for y in ys], fontsize=7)
        ax.set_xlabel(xlabel)
        ax.set_title(name, fontsize=9)
        if vline is not None:
            lx = np.log(vline) if log_x else vline
            lxs = np.log(np.asarray(xs, float)) if log_x else np.asarray(xs, float)
            pos = np.interp(lx, lxs, np.arange(len(xs)))
            ax.axvline(pos, color="r", ls="--", lw=1)
    axes[0].set_ylabel(ylabel)
    if im is not None:
        fig.colorbar(im, ax=axes[-1], label="power at alpha = 0.05")
    fig.suptitle(title, fontsize=10)
    return fig


def full_models(ctx, key, n):
    """Distinguishers + black-box probe on real models at the default parameters."""
    from jaxbd import datasets, relu, rff
    from jaxbd.detect import probe

    out = {}
    ds = datasets.load(DEFAULT_RFF["dataset"], seed=ctx.seed)
    x, y = ds.x_train, ds.y_train
    kr, kl, kq = jr.split(key, 3)
    p_rff = {k: v for k, v in DEFAULT_RFF.items() if k != "dataset"}
    p_relu = {k: v for k, v in DEFAULT_RELU.items() if k != "dataset"}
    recipes = {
        "rff": (kr, p_rff, "frequencies",
                lambda k: rff.train(k, x, y, width=p_rff["width"], bandwidth=p_rff["bandwidth"]),
                lambda k: rff.backdoor(k, x, y, **p_rff)[0]),
        "relu": (kl, p_relu, "g", lambda k: relu.train(k, x, y, width=p_relu["width"]),
                 lambda k: relu.backdoor(k, x, y, **p_relu)[0]),
    }  # fmt: skip
    for name, (kc, _, field, train, backdoor) in recipes.items():
        ref = train(jr.fold_in(kc, 999))
        hon, bd = [], []
        for i in ctx.progress(range(n), f"detection: full {name} models"):
            hon.append(train(jr.fold_in(kc, i)))
            bd.append(backdoor(jr.fold_in(kc, 100 + i)))
        out[name] = {
            "honest_w": jnp.stack([getattr(h, field) for h in hon]),
            "backdoored_w": jnp.stack([getattr(b, field) for b in bd]),
            "probe_honest": np.asarray(
                [probe(jr.fold_in(kq, i), h, ref, ds.x_test).statistic for i, h in enumerate(hon)]
            ),
            "probe_backdoored": np.asarray(
                [probe(jr.fold_in(kq, i), b, ref, ds.x_test).statistic for i, b in enumerate(bd)]
            ),
        }
    out["dim"] = int(x.shape[1])
    return out

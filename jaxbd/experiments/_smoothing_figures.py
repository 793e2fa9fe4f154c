"""Figures of the `smoothing` experiment (from its `data`)."""

import numpy as np
from matplotlib.figure import Figure as MplFigure

from ._core import Figure


__all__ = ["figures"]


def _curves(data):
    """ASR and clean accuracy vs σ. Each construction has its own colour; the backdoored model
    is a solid line with filled markers, the honest control a dashed line with hollow, larger
    markers, shifted by 6 % along σ so that identical curves stay visible. The legend sits
    below the axes (it used to cover the data)."""
    fig = MplFigure(figsize=(11, 4.8))
    axes = fig.subplots(1, 2)
    for ci, (name, d) in enumerate(data.items()):
        r = np.asarray(d["sigma_ratios"])
        color = f"C{ci}"
        for ax, metric in zip(axes, ("asr", "clean")):
            b = [row[metric] for row in d["curves"]["backdoored"][1:]]
            h = [row[metric] for row in d["curves"]["honest"][1:]]
            ax.plot(r, b, "o-", color=color, lw=1.8, ms=5, label=f"{name} backdoored")
            ax.plot(r * 1.06, h, "s--", color=color, lw=1.0, ms=8, mfc="none",
                    label=f"{name} honest (control)")  # fmt: skip
    titles = [
        "ASR of the smoothed model (abstention = failure)",
        "clean accuracy (abstention = wrong)",
    ]
    for ax, t in zip(axes, titles):
        ax.set_xscale("log")
        ax.set_xlabel("σ / activation ℓ2")
        ax.set_title(t, fontsize=10)
        ax.set_ylim(-0.04, 1.04)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=7,
               frameon=False)  # fmt: skip
    fig.subplots_adjust(bottom=0.24, wspace=0.25)
    return Figure(
        "smoothing_asr_clean_vs_sigma.png",
        "ASR and clean accuracy of the smoothed backdoored model (solid, filled) and of the "
        "smoothed honest control (dashed, hollow, drawn 6 % to the right so that equal curves "
        "stay visible) vs σ relative to the activation's median ℓ2 (PREDICT, independent draws "
        "for x and x').",
        fig,
    )


def _radii(data):
    fig = MplFigure(figsize=(7, 4.4))
    ax = fig.subplots()
    for name, d in data.items():
        for r, v in d["certify"].items():
            rad = np.sort(np.asarray(v["backdoored"]["radii"]) / d["l2"])
            ax.plot(rad, np.linspace(0, 1, rad.size), label=f"{name} σ/ℓ2={float(r):g}")
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xlabel("certified radius / activation ℓ2 (0 = abstain)")
    ax.set_ylabel("fraction of held-out points ≤")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.subplots_adjust(right=0.72)
    return Figure(
        "smoothing_certified_radii.png",
        "Distribution of certified radii of the smoothed backdoored model, in units of the "
        "activation's ℓ2 (right of the line: provably immune).",
        fig,
    )


def figures(data) -> list[Figure]:
    """The two figures, or none when nothing was measured."""
    return [_curves(data), _radii(data)] if data else []

"""Prediction figures: learning curves (CDT-II Fig 2, CDT v1 Fig 2B/C), predicted vs observed (CDT-II Fig 3,
CDT-III Fig 2, CDT v1 Fig 2A).

Every function takes tables from `cdt.analyses.prediction` and returns a matplotlib Figure; saving is
`cdt.pl.save_figure`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from cdt.pl import PALETTE

__all__ = [
    "RUN_COLOURS",
    "PERTURBATION_MARKERS",
    "learning_curves",
    "pred_vs_actual",
    "pseudobulk_panels",
    "pseudobulk_overlay",
    "trans_profile",
    "paired_bars",
    "model_bars",
    "v1_scatter",
    "v1_history",
]

RUN_COLOURS = ("#1f4e79", "#e67e22", "#000000", "#8e44ad", "#16a085")
"""Colours of runs and models set side by side (red stays for published values)."""
PERTURBATION_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")
"""Marker shapes telling perturbations apart in one panel of one model's results, which keep the model's colour."""


def _diagonal(ax: plt.Axes, x: np.ndarray, y: np.ndarray) -> None:
    lim = 1.05 * float(np.nanmax(np.abs(np.concatenate([np.ravel(x), np.ravel(y)])))) or 1.0
    ax.plot([-lim, lim], [-lim, lim], ls="--", lw=0.8, color=PALETTE["reference"])
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")


def learning_curves(
    curves: pd.DataFrame,
    best: Mapping[str, tuple[int, float]] | None = None,
    published: Mapping[str, float] | None = None,
) -> Figure:
    """(A) val r per epoch for each run, best checkpoint marked; (B) train (solid) vs val (dashed) r.

    curves: `learning_curves` long table; best: label -> (epoch, val r); published: label -> published val r.
    """
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.6), sharey=True)
    labels = list(dict.fromkeys(curves["label"]))
    for i, label in enumerate(labels):
        c = RUN_COLOURS[i % len(RUN_COLOURS)]
        run = curves[curves["label"] == label]
        val, train = run[run["set"] == "val"], run[run["set"] == "train"]
        name = label
        if best and label in best:  # in the legend, not as text beside the point: two runs' labels cannot collide
            e, r = best[label]
            a.plot([e], [r], marker="o", ms=6, color=c, zorder=3)
            name = f"{label}: best {r:.2f} at epoch {e}"
        a.plot(val["epoch"], val["r"], color=c, lw=1.8, label=name)
        if published and label in published:
            a.axhline(  # red as every published value; one dash pattern per run
                published[label],
                color=PALETTE["published"],
                ls=("--", ":", "-.")[i % 3],
                lw=1.0,
                alpha=0.8,
                label=f"{label}: published {published[label]:.2f}",
            )
        b.plot(train["epoch"], train["r"], color=c, lw=1.6, label=f"{label} train")
        b.plot(val["epoch"], val["r"], color=c, lw=1.6, ls="--", label=f"{label} val")
    for ax in (a, b):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    a.set(title="A  validation r per epoch (dot: best checkpoint)", xlabel="epoch", ylabel="Pearson r (cells x genes)")
    b.set(title="B  train vs validation", xlabel="epoch")
    for ax in (a, b):  # below the axes: a legend inside would cover a curve or a published line
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def pred_vs_actual(pred: np.ndarray, target: np.ndarray, stats: Mapping[str, float]) -> Figure:
    """(left) hexbin of predicted vs actual over all cells x genes, log colour; (right) residual histogram."""
    p, t = np.ravel(pred), np.ravel(target)
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 5))
    hb = a.hexbin(t, p, gridsize=80, cmap="viridis", mincnt=1, norm=LogNorm())
    fig.colorbar(hb, ax=a, label="count")
    lo, hi = float(t.min()), float(t.max())
    a.plot([lo, hi], [lo, hi], ls="--", lw=0.8, color=PALETTE["reference"])
    a.set(
        xlabel="actual log2FC",
        ylabel="predicted log2FC",
        title=f"r = {stats['r']:.3f}, r^2 = {stats['r'] ** 2:.3f}, R^2 = {stats['R2']:.3f}, "
        f"rho = {stats['rho']:.3f}\n{len(p):,} cell x gene pairs",
    )
    res = p - t
    b.hist(res, bins=100, density=True, color="steelblue", alpha=0.75)
    b.axvline(0, ls="--", color=PALETTE["reference"], lw=0.8)
    b.set(
        xlabel="residual (predicted - actual)",
        ylabel="density",
        title=f"residual mean {res.mean():.3f}, SD {res.std():.3f}",
    )
    fig.tight_layout()
    return fig


def pseudobulk_panels(
    table: pd.DataFrame,
    r: Mapping[str, float],
    n_cells: Mapping[str, int] | None = None,
    order: Sequence[str] | None = None,
    what: str = "log2FC",
) -> Figure:
    """One panel per perturbation: cell-mean actual (x) vs predicted (y) per feature, y = x dashed (CDT-II Fig 3B)."""
    groups = [g for g in (order or sorted(set(table["perturbation"]))) if g in set(table["perturbation"])]
    fig, axes = plt.subplots(1, len(groups), figsize=(3.4 * len(groups), 3.7), squeeze=False)
    for ax, g in zip(axes[0], groups, strict=True):
        d = table[table["perturbation"] == g]
        ax.scatter(d["observed"], d["predicted"], s=6, alpha=0.45, color=PALETTE["CDT"], linewidths=0)
        _diagonal(ax, d["observed"].to_numpy(), d["predicted"].to_numpy())
        cells = f", n = {n_cells[g]} cells" if n_cells is not None and g in n_cells else ""
        ax.set_title(f"{g}\nr = {r[g]:.2f}{cells}", fontsize=10)
        ax.set_xlabel(f"actual mean {what}")
    axes[0][0].set_ylabel(f"predicted mean {what}")
    fig.tight_layout()
    return fig


def pseudobulk_overlay(
    table: pd.DataFrame, r: Mapping[str, float], what: str = "protein change", features: str = "proteins"
) -> Figure:
    """All perturbations in one panel (CDT-III Fig 2C): every point in the CDT colour (`cdt.pl.PALETTE`: the model's
    predictions), perturbations told apart by marker shape, so no perturbation takes the published red or truth green.
    """
    fig, ax = plt.subplots(figsize=(5.6, 5.2))
    for i, (g, d) in enumerate(table.groupby("perturbation", sort=True)):
        ax.scatter(
            d["observed"],
            d["predicted"],
            s=18,
            alpha=0.7,
            color=PALETTE["CDT"],
            marker=PERTURBATION_MARKERS[i % len(PERTURBATION_MARKERS)],
            edgecolors="white",
            linewidths=0.4,
            label=f"{g} (r = {r[g]:.2f})",
        )
    _diagonal(ax, table["observed"].to_numpy(), table["predicted"].to_numpy())
    mean_r = float(np.nanmean([r[g] for g in set(table["perturbation"])]))
    ax.set(
        xlabel=f"actual mean {what}",
        ylabel=f"predicted mean {what}",
        title=f"{table['feature'].nunique()} {features} x {table['perturbation'].nunique()} perturbations; "
        f"mean r = {mean_r:.3f}",
    )
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def trans_profile(profile: pd.DataFrame, gene: str, r: float) -> Figure:
    """Observed and predicted cell-mean profiles over genes sorted by the observed value (CDT-II Fig 3C)."""
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.plot(profile["rank"], profile["observed"], color="k", lw=0.9, alpha=0.8, label="observed")
    ax.plot(profile["rank"], profile["predicted"], color=PALETTE["CDT"], lw=0.9, alpha=0.8, label="predicted")
    ax.axhline(0, color="0.5", ls="--", lw=0.7)
    own = profile[profile["is_self"]]
    if len(own):
        ax.axvline(int(own["rank"].iloc[0]), color=PALETTE["truth"], ls=":", lw=1.2, label=f"{gene} self-knockdown")
    ax.set(
        xlabel="genes sorted by observed mean log2FC",
        ylabel="mean log2FC",
        title=f"{gene} knockdown: trans-effect profile (r = {r:.3f})",
    )
    ax.legend(loc="lower right", fontsize=9)
    fig.tight_layout()
    return fig


def paired_bars(
    table: pd.DataFrame,
    columns: Sequence[str],
    labels: Sequence[str],
    published: Sequence[str] | None = None,
    ylabel: str = "pseudo-bulk r",
) -> Figure:
    """Grouped bars per perturbation (e.g. CDT-II vs CDT-III RNA r, CDT-III Fig 2B); published values as ticks."""
    x = np.arange(len(table))
    w = 0.8 / len(columns)
    fig, ax = plt.subplots(figsize=(1.5 * len(table) + 3, 4.2))
    for i, (col, lab) in enumerate(zip(columns, labels, strict=True)):
        pos = x - 0.4 + w * (i + 0.5)
        ax.bar(pos, table[col], width=w, color=RUN_COLOURS[(i + 2) % len(RUN_COLOURS)], label=lab)
        if published is not None and published[i] in table:
            ax.scatter(
                pos,
                table[published[i]],
                marker="_",
                s=300,
                color=PALETTE["published"],
                zorder=3,
                label="published" if i == 0 else None,
            )
    ax.set_xticks(x, table["perturbation"])
    ax.axhline(0, color="0.4", lw=0.6)
    ax.set(ylabel=ylabel)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def model_bars(
    table: pd.DataFrame,
    value: str,
    label: str = "model",
    published: pd.DataFrame | None = None,
    published_label: str = "variant",
    xlabel: str = "pooled per-cell RNA r",
) -> Figure:
    """Horizontal bars of one score per model, this run beside the published table (CDT-III Fig 2A)."""
    n_pub = 0 if published is None else len(published)
    fig, axes = plt.subplots(
        1, 1 + (n_pub > 0), figsize=(11 if n_pub else 6, 0.5 * max(len(table), n_pub) + 1.6), squeeze=False, sharex=True
    )
    ax = axes[0][0]
    ax.barh(table[label], table[value], color=PALETTE["CDT"])
    ax.invert_yaxis()
    ax.set(title="this run", xlabel=xlabel)
    for y, v in enumerate(table[value]):
        ax.text(v, y, f" {v:.2f}", va="center", fontsize=9)
    if n_pub:
        bx = axes[0][1]
        bx.barh(published[published_label], published[value], color=PALETTE["published"], alpha=0.8)
        bx.invert_yaxis()
        bx.set(title="published (K562)", xlabel=xlabel)
        for y, v in enumerate(published[value]):
            bx.text(v, y, f" {v:.2f}", va="center", fontsize=9)
    fig.tight_layout()
    return fig


def v1_scatter(pairs: pd.DataFrame, stats: Mapping[str, float]) -> Figure:
    """Predicted vs observed beta on the reported pairs (CDT v1 Fig 2A)."""
    fig, ax = plt.subplots(figsize=(5.4, 5.2))
    ax.scatter(pairs["observed"], pairs["predicted"], s=10, alpha=0.5, color=PALETTE["CDT"], linewidths=0)
    lo = float(min(pairs["observed"].min(), pairs["predicted"].min()))
    hi = float(max(pairs["observed"].max(), pairs["predicted"].max()))
    ax.plot([lo, hi], [lo, hi], ls="--", lw=0.8, color=PALETTE["reference"])
    ax.set(
        xlabel="observed beta",
        ylabel="predicted beta",
        title=f"n = {stats['n']}, r = {stats['r']:.3f} (P = {stats['p_value']:.1e}), rho = {stats['rho']:.3f}",
    )
    fig.tight_layout()
    return fig


def v1_history(history: pd.DataFrame, best_epoch: int, loss_name: str = "Huber loss") -> Figure:
    """(B) loss per epoch and (C) Pearson r per epoch, train vs val; star at the best epoch (CDT v1 Fig 2B/C)."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    for s, c in (("train", PALETTE["CDT"]), ("val", RUN_COLOURS[1])):
        a.plot(history["epoch"], history[f"{s}_loss"], marker="o", ms=3, color=c, label=s)
        b.plot(history["epoch"], history[f"{s}_r"], marker="o", ms=3, color=c, label=s)
    best = history[history["epoch"] == best_epoch]
    b.scatter(
        best["epoch"],
        best["val_r"],
        marker="*",
        s=220,
        color="gold",
        edgecolor="k",
        zorder=4,
        label=f"best val r {float(best['val_r'].iloc[0]):.3f} (epoch {best_epoch})",
    )
    stop = int(history["epoch"].iloc[-1])
    for ax in (a, b):
        ax.axvline(stop, color="0.5", ls=":", lw=0.8)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    a.set(ylabel=loss_name, title="B  loss per epoch")
    b.set(ylabel="Pearson r", title=f"C  Pearson r per epoch (stop at {stop})")
    a.legend(fontsize=8)
    b.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig

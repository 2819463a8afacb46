"""Prediction figures: learning curves (CDT-II Fig 2, CDT v1 Fig 2B/C), predicted vs observed (CDT-II Fig 3,
CDT-III Fig 2, CDT v1 Fig 2A).

Every function takes tables from `cdt.analyses.prediction` and returns a matplotlib Figure; saving is
`cdt.pl.save_figure`. Several models or runs in one panel are shades of the CDT blue told apart by marker, dash or
hatch (`cdt.pl.shades`); published values are red; perturbations are categories (`cdt.pl.category_colours`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from cdt.pl import CATEGORIES, PALETTE, category_colours, shades

__all__ = [
    "RUN_MARKERS",
    "RUN_HATCHES",
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

RUN_MARKERS = ("o", "s", "^", "D", "v")
"""Marker shapes telling runs or models apart when they share the CDT colour (in shades, `cdt.pl.shades`)."""
RUN_HATCHES = ("", "//", "..", "xx", "\\\\")
"""Bar hatches telling models apart when their bars share the CDT colour (in shades)."""
PERTURBATION_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")
"""Marker shapes telling perturbations apart in one panel (besides their category colours)."""

_BELOW = {"loc": "upper center", "bbox_to_anchor": (0.5, -0.16), "fontsize": 8, "frameon": False}
_BESIDE = {"loc": "upper left", "bbox_to_anchor": (1.01, 1), "fontsize": 8, "frameon": False}


def _diagonal(ax: plt.Axes, x: np.ndarray, y: np.ndarray) -> None:
    lim = 1.05 * float(np.nanmax(np.abs(np.concatenate([np.ravel(x), np.ravel(y)])))) or 1.0
    ax.plot([-lim, lim], [-lim, lim], ls="--", lw=0.8, color=PALETTE["reference"])
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.xaxis.set_major_locator(MaxNLocator(5, symmetric=True))
    ax.yaxis.set_major_locator(MaxNLocator(5, symmetric=True))


def learning_curves(
    curves: pd.DataFrame,
    best: Mapping[str, tuple[int, float]] | None = None,
    published: Mapping[str, float] | None = None,
) -> Figure:
    """(A) validation r per epoch for each run, best checkpoint marked; (B) training (solid) vs validation (dashed) r.

    curves: `learning_curves` long table; best: label -> (epoch, validation r); published: label -> published
    validation r (red lines, one dash pattern per run). Runs are shades of the CDT blue with one marker each.
    """
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    labels = list(dict.fromkeys(curves["label"]))
    colours = shades("CDT", len(labels))
    for i, label in enumerate(labels):
        c, m = colours[i], RUN_MARKERS[i % len(RUN_MARKERS)]
        run = curves[curves["label"] == label]
        val, train = run[run["set"] == "val"], run[run["set"] == "train"]
        name, mark = label, []
        if best and label in best:  # in the legend, not as text beside the point: two runs' labels cannot collide
            e, r = best[label]
            name = f"{label}: best {r:.2f} at epoch {e}"
            mark = [int(j) for j in np.flatnonzero(val["epoch"].to_numpy() == e)]
        a.plot(val["epoch"], val["r"], color=c, lw=1.8, marker=m, ms=7, markevery=mark, mec="white", label=name)
        if published and label in published:
            a.axhline(  # red as every published value; one dash pattern per run
                published[label],
                color=PALETTE["published"],
                ls=("--", ":", "-.")[i % 3],
                lw=1.0,
                alpha=0.8,
                label=f"{label}: published {published[label]:.2f}",
            )
        b.plot(train["epoch"], train["r"], color=c, lw=1.6, marker=m, ms=3, label=f"{label}, training")
        b.plot(
            val["epoch"], val["r"], color=c, lw=1.6, ls="--", marker=m, ms=3, mfc="white", label=f"{label}, validation"
        )
    for ax in (a, b):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    a.set(
        title="A  Validation r per epoch (marker: best checkpoint)",
        xlabel="epoch",
        ylabel="Pearson r (cells × genes)",
    )
    b.set(title="B  Training vs validation r", xlabel="epoch", ylabel="Pearson r (cells × genes)")
    for ax in (a, b):  # below the axes: a legend inside would cover a curve or a published line
        ax.legend(ncol=2, **_BELOW)
    fig.tight_layout()
    return fig


def pred_vs_actual(pred: np.ndarray, target: np.ndarray, stats: Mapping[str, float]) -> Figure:
    """(A) hexbin of predicted vs actual log2 fold change over all cells x genes, log colour; (B) the residuals.

    The residual axis shows the central 99.8% of the residuals (a few outliers would otherwise leave it empty).
    """
    p, t = np.ravel(pred), np.ravel(target)
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 5.2))
    hb = a.hexbin(t, p, gridsize=80, cmap="viridis", mincnt=1, norm=LogNorm())
    fig.colorbar(hb, ax=a, label="cell × gene pairs per hexagon")
    lo, hi = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
    a.plot([lo, hi], [lo, hi], ls="--", lw=0.8, color=PALETTE["reference"])
    a.set(xlabel="actual log2 fold change", ylabel="predicted log2 fold change")
    a.set_title(  # wider than the panel: lifted above the colour bar's top tick label, not on it
        f"A  All held-out cells × genes ({len(p):,} pairs)\n"
        f"Pearson r = {stats['r']:.3f}, Spearman ρ = {stats['rho']:.3f}\n"
        f"r² (squared Pearson) = {stats['r'] ** 2:.3f}, R² (1 − SSres/SStot) = {stats['R2']:.3f}",
        pad=16,
    )
    res = p - t
    lo_r, hi_r = np.quantile(res, [0.001, 0.999]) if len(res) else (-1.0, 1.0)
    span = max(abs(lo_r), abs(hi_r)) or 1.0
    b.hist(res, bins=np.linspace(-span, span, 81), density=True, color=PALETTE["CDT"], alpha=0.85)
    b.axvline(0, ls="--", color=PALETTE["reference"], lw=0.8)
    b.set_xlim(-span, span)
    b.set(
        xlabel="residual, predicted − actual (log2 fold change)",
        ylabel="density",
        title=f"B  Residuals: mean {res.mean():.3f}, SD {res.std():.3f}\n(central 99.8% shown)",
    )
    fig.tight_layout()
    fig.text(  # r² and R² differ (R² < 0 when the predictions fit worse than their mean): say which is which
        0.01,
        0.0,
        "r²: the squared Pearson correlation, the share of variance a straight line fitted to the points would "
        "explain.\nR² = 1 − SSres/SStot (SSres: sum of squared residuals; SStot: sum of squared deviations of the "
        "actual values from their mean):\nthe share of variance the predictions explain as they are, below 0 when "
        "they fit worse than the mean of the actual values.",
        ha="left",
        va="top",
        fontsize=9,
    )
    return fig


def pseudobulk_panels(
    table: pd.DataFrame,
    r: Mapping[str, float],
    n_cells: Mapping[str, int] | None = None,
    order: Sequence[str] | None = None,
    what: str = "log2 fold change",
) -> Figure:
    """One panel per perturbation: cell-mean actual (x) vs predicted (y) per feature, y = x dashed (CDT-II Fig 3B).

    Each point is one gene (feature); the panel title gives r over those genes and how many cells were averaged.
    """
    groups = [g for g in (order or sorted(set(table["perturbation"]))) if g in set(table["perturbation"])]
    fig, axes = plt.subplots(1, len(groups), figsize=(3.7 * len(groups), 4.3), squeeze=False)
    for ax, g in zip(axes[0], groups, strict=True):
        d = table[table["perturbation"] == g]
        ax.scatter(d["observed"], d["predicted"], s=7, alpha=0.6, color=PALETTE["CDT"], linewidths=0)
        _diagonal(ax, d["observed"].to_numpy(), d["predicted"].to_numpy())
        cells = f" ({n_cells[g]} cells)" if n_cells is not None and g in n_cells else ""
        ax.set_title(f"{g} knockdown{cells}\nr = {r[g]:.2f} over {d['feature'].nunique()} genes", fontsize=10)
        ax.set_xlabel(f"actual mean {what}", fontsize=9)
        ax.set_ylabel(f"predicted mean {what}", fontsize=9)
    fig.suptitle(f"Cell-mean predicted vs actual {what}, one point per gene (dashed: y = x)", fontsize=11)
    fig.tight_layout()
    return fig


def pseudobulk_overlay(
    table: pd.DataFrame, r: Mapping[str, float], what: str = "protein change", features: str = "proteins"
) -> Figure:
    """All perturbations in one panel (CDT-III Fig 2C): each perturbation a category colour and a marker shape
    (`cdt.pl.category_colours`; with more perturbations than category colours, all in the CDT blue, told apart by
    marker), so no perturbation takes the published red or the truth green. Protein changes are in DSB units.
    """
    groups = sorted(set(table["perturbation"]))
    colours = category_colours(groups) if len(groups) <= len(CATEGORIES) else dict.fromkeys(groups, PALETTE["CDT"])
    fig, ax = plt.subplots(figsize=(7.6, 5.4))
    for i, (g, d) in enumerate(table.groupby("perturbation", sort=True)):
        ax.scatter(
            d["observed"],
            d["predicted"],
            s=20,
            alpha=0.8,
            color=colours[g],
            marker=PERTURBATION_MARKERS[i % len(PERTURBATION_MARKERS)],
            edgecolors="white",
            linewidths=0.4,
            label=f"{g} (r = {r[g]:.2f})",
        )
    _diagonal(ax, table["observed"].to_numpy(), table["predicted"].to_numpy())
    mean_r = float(np.nanmean([r[g] for g in groups]))
    ax.set(
        xlabel=f"actual mean {what} (DSB units)",
        ylabel=f"predicted mean {what} (DSB units)",
        title=f"Cell-mean {what}, predicted vs actual\n"
        f"{table['feature'].nunique()} {features} × {len(groups)} knockdowns; mean r = {mean_r:.3f}",
    )
    ax.legend(title="knockdown (r over proteins)", title_fontsize=8, **_BESIDE)
    ax.text(
        1.03,
        0.0,
        "change vs control cells;\nDSB: denoised and scaled\nby background\ndashed: y = x",
        transform=ax.transAxes,
        ha="left",
        va="bottom",
        fontsize=7.5,
        color=PALETTE["reference"],
    )
    fig.tight_layout()
    return fig


def trans_profile(profile: pd.DataFrame, gene: str, r: float) -> Figure:
    """Observed and predicted cell-mean profiles over genes sorted by the observed value (CDT-II Fig 3C); the
    knocked-down gene's own position in orange (the highlighted gene)."""
    observed = category_colours(["observed"])["observed"]
    fig, ax = plt.subplots(figsize=(11, 4.5))
    ax.plot(profile["rank"], profile["observed"], color=observed, lw=1.4, label="observed")
    ax.plot(profile["rank"], profile["predicted"], color=PALETTE["CDT"], lw=0.9, alpha=0.9, label="predicted (CDT-II)")
    ax.axhline(0, color=PALETTE["reference"], ls="--", lw=0.7)
    own = profile[profile["is_self"]]
    if len(own):
        ax.axvline(
            int(own["rank"].iloc[0]),
            color=PALETTE["highlight"],
            ls=":",
            lw=1.6,
            label=f"{gene} (the knocked-down gene)",
        )
    ax.set(
        xlabel="genes, ranked by observed mean log2 fold change",
        ylabel="mean log2 fold change\n(knockdown vs control cells)",
        title=f"{gene} knockdown: trans-effect profile over {len(profile)} genes (r = {r:.3f})",
    )
    ax.legend(**_BESIDE)
    fig.tight_layout()
    return fig


def paired_bars(
    table: pd.DataFrame,
    columns: Sequence[str],
    labels: Sequence[str],
    published: Sequence[str] | None = None,
    ylabel: str = "pseudo-bulk Pearson r (over genes)",
    *,
    title: str | None = None,
    xlabel: str = "held-out knockdown",
) -> Figure:
    """Grouped bars per perturbation (e.g. CDT-II vs CDT-III RNA r, CDT-III Fig 2B): the models in shades of the
    CDT blue with one hatch each; published values as red ticks over their bars."""
    x = np.arange(len(table))
    w = 0.8 / len(columns)
    colours = shades("CDT", len(columns))
    fig, ax = plt.subplots(figsize=(1.5 * len(table) + 4, 4.4))
    for i, (col, lab) in enumerate(zip(columns, labels, strict=True)):
        pos = x - 0.4 + w * (i + 0.5)
        ax.bar(
            pos,
            table[col],
            width=w,
            color=colours[i],
            hatch=RUN_HATCHES[i % len(RUN_HATCHES)],
            edgecolor=PALETTE["CDT"] if i else "white",
            linewidth=0.6,
            label=lab,
        )
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
    ax.axhline(0, color=PALETTE["reference"], lw=0.6)
    ax.set(ylabel=ylabel, xlabel=xlabel)
    if title:
        ax.set_title(title)
    ax.legend(**_BESIDE)
    fig.tight_layout()
    return fig


def _variant_label(name: str, weight: object) -> str:
    """'single-stage A' + 1.0 -> 'single-stage A (λ 1.0)'; a name with a bracket gets the weight inside it."""
    name = name.replace("lambda", "λ")
    weight = str(weight).replace("->", "→").strip()
    if not weight or weight in ("—", "-", "nan") or weight in name:
        return name
    if "λ" in name and name.endswith(")"):  # 'single-stage E (λ warm-up)' -> '... (λ warm-up 0.001 → 0.01)'
        return f"{name[:-1]} {weight})"
    return f"{name} (λ {weight})"


def model_bars(
    table: pd.DataFrame,
    value: str,
    label: str = "model",
    published: pd.DataFrame | None = None,
    published_label: str = "variant",
    xlabel: str = "pooled per-cell RNA Pearson r",
) -> Figure:
    """Horizontal bars of one score per model, this run beside the published table (CDT-III Fig 2A); the published
    variants carry their protein-loss weight λ (column ``lambda``) when the table has one."""
    n_pub = 0 if published is None else len(published)
    fig, axes = plt.subplots(
        1, 1 + (n_pub > 0), figsize=(12 if n_pub else 6, 0.5 * max(len(table), n_pub) + 2.0), squeeze=False, sharex=True
    )
    ax = axes[0][0]
    ax.barh([_variant_label(n, "") for n in table[label]], table[value], color=PALETTE["CDT"])
    ax.invert_yaxis()
    ax.set(title="This run", xlabel=xlabel, ylabel="model")
    for y, v in enumerate(table[value]):
        ax.text(v, y, f" {v:.2f}", va="center", fontsize=9)
    top = float(np.nanmax(table[value]))
    if n_pub:
        bx = axes[0][1]
        weights = published["lambda"] if "lambda" in published else [""] * n_pub
        names = [_variant_label(n, lam) for n, lam in zip(published[published_label], weights, strict=True)]
        bx.barh(names, published[value], color=PALETTE["published"], alpha=0.8)
        bx.invert_yaxis()
        bx.set(
            title="Published (K562)",
            xlabel=xlabel,
            ylabel="published variant (λ: protein-loss weight)" if "lambda" in published else "published variant",
        )
        for y, v in enumerate(published[value]):
            bx.text(v, y, f" {v:.2f}", va="center", fontsize=9)
        top = max(top, float(np.nanmax(published[value])))
    ax.set_xlim(min(0.0, float(np.nanmin(table[value]))), 1.15 * top if top > 0 else 1.0)
    fig.tight_layout()
    return fig


def v1_scatter(pairs: pd.DataFrame, stats: Mapping[str, float]) -> Figure:
    """Predicted vs observed effect size β on the reported pairs (CDT v1 Fig 2A)."""
    fig, ax = plt.subplots(figsize=(5.6, 5.6))
    ax.scatter(pairs["observed"], pairs["predicted"], s=14, alpha=0.8, color=PALETTE["CDT"], linewidths=0)
    lo = float(min(pairs["observed"].min(), pairs["predicted"].min()))
    hi = float(max(pairs["observed"].max(), pairs["predicted"].max()))
    ax.plot([lo, hi], [lo, hi], ls="--", lw=0.8, color=PALETTE["reference"])
    ax.set(
        xlabel="observed effect size β",
        ylabel="predicted effect size β",
        title=f"CDT v1: enhancer–gene pairs, predicted vs observed\n"
        f"n = {stats['n']}, r = {stats['r']:.3f} (P = {stats['p_value']:.1e}), ρ = {stats['rho']:.3f}",
    )
    fig.tight_layout()
    return fig


def v1_history(history: pd.DataFrame, best_epoch: int, loss_name: str = "Huber loss") -> Figure:
    """(B) loss per epoch and (C) Pearson r per epoch, training (solid) vs validation (dashed), both in shades of
    the CDT blue; star at the best epoch, dotted line where training stopped (CDT v1 Fig 2B/C)."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.6))
    train_c, val_c = shades("CDT", 2)
    for s, name, c, ls, m in (("train", "training", train_c, "-", "o"), ("val", "validation", val_c, "--", "s")):
        a.plot(history["epoch"], history[f"{s}_loss"], marker=m, ms=3, color=c, ls=ls, label=name)
        b.plot(history["epoch"], history[f"{s}_r"], marker=m, ms=3, color=c, ls=ls, label=name)
    best = history[history["epoch"] == best_epoch]
    b.scatter(
        best["epoch"],
        best["val_r"],
        marker="*",
        s=220,
        color=PALETTE["CDT"],
        edgecolor="white",
        zorder=4,
        label=f"best validation r {float(best['val_r'].iloc[0]):.3f} (epoch {best_epoch})",
    )
    stop = int(history["epoch"].iloc[-1])
    for ax in (a, b):
        ax.axvline(stop, color=PALETTE["reference"], ls=":", lw=0.9, label=f"training stopped (epoch {stop})")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    a.set(ylabel=loss_name, title="B  Loss per epoch")
    b.set(ylabel="Pearson r (predicted vs observed β)", title="C  Pearson r per epoch")
    for ax in (a, b):  # below the axes: inside, a legend covers the curves at one preset or another
        ax.legend(ncol=2, **_BELOW)
    fig.tight_layout()
    return fig

"""CD52 / Alemtuzumab figures (CDT-III Figs 4A-C, 6, Tables 8, 10) from the tables of `cdt.analyses.cd52`.

Every function returns a matplotlib Figure; saving is `cdt.pl.save_figure`.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from adjustText import adjust_text
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from cdt.pl import PALETTE

# dark = rise, light = fall after the knockdown; red stays for published values, so highlights are orange
UP, DOWN, CLINICAL = "#42A5F5", "#BBDEFB", PALETTE["highlight"]
MRNA_UP, MRNA_DOWN, PROT_UP, PROT_DOWN = "#00796B", "#80CBC4", "#6A1B9A", "#CE93D8"


def _diagonal(ax: plt.Axes, x: np.ndarray, y: np.ndarray) -> None:
    lim = 1.08 * float(np.nanmax(np.abs(np.concatenate([np.ravel(x), np.ravel(y)])))) or 1.0
    ax.plot([-lim, lim], [-lim, lim], ls="--", lw=0.8, color="0.4")
    ax.axhline(0, color="0.8", lw=0.6)
    ax.axvline(0, color="0.8", lw=0.6)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")


def rna_scatter(rna: pd.DataFrame, r: float, n_cells: int, gene: str = "CD52") -> Figure:
    """Fig 4A: cell-mean actual vs predicted log2FC per gene, the knocked-down gene highlighted."""
    fig, ax = plt.subplots(figsize=(5.2, 5.2))
    ax.scatter(rna["actual"], rna["predicted"], s=8, alpha=0.35, color=PALETTE["CDT"], linewidths=0)
    own = rna[rna["gene"] == gene]
    if len(own):
        ax.scatter(own["actual"], own["predicted"], s=60, color=CLINICAL, edgecolor="k", zorder=3, label=gene)
        ax.legend(loc="upper left", fontsize=9)
    _diagonal(ax, rna["actual"].to_numpy(), rna["predicted"].to_numpy())
    ax.set(
        xlabel="actual mean log2FC",
        ylabel="predicted mean log2FC",
        title=f"{gene} knockdown, RNA\nr = {r:.3f} over {len(rna)} genes, {n_cells} cells",
    )
    fig.tight_layout()
    return fig


def protein_scatter(
    protein: pd.DataFrame,
    r: float,
    n_label: int = 6,
    control: pd.DataFrame | None = None,
    control_r: float | None = None,
) -> Figure:
    """Fig 4B: cell-mean actual vs predicted change per expressed protein, the top `n_label` by |actual| labelled.

    control (optional): the same proteins predicted with the NTC-mean protein input, drawn as open circles.
    """
    e = protein[protein["expressed"]]
    fig, ax = plt.subplots(figsize=(5.6, 5.4))
    ax.scatter(
        e["actual"],
        e["predicted"],
        s=22,
        alpha=0.8,
        color=PALETTE["CDT"],
        linewidths=0,
        label=f"measured protein input (r = {r:.3f})",
    )
    ys = [e["predicted"].to_numpy()]
    if control is not None:
        c = control[control["expressed"]]
        ax.scatter(
            c["actual"],
            c["predicted"],
            s=22,
            facecolor="none",
            edgecolor=PALETTE["baseline"],
            label=f"NTC-mean protein input (r = {control_r:.3f})",
        )
        ys.append(c["predicted"].to_numpy())
    labels = []
    for _, row in e.reindex(e["actual"].abs().sort_values(ascending=False).index[:n_label]).iterrows():
        label = (
            row["protein"]
            if row["gene"] in (row["protein"], None) or pd.isna(row["gene"])
            else f"{row['protein']} ({row['gene']})"
        )
        labels.append(ax.text(row["actual"], row["predicted"], label, fontsize=8))
    _diagonal(ax, e["actual"].to_numpy(), np.concatenate(ys))
    ax.set(
        xlabel="actual mean change (DSB)",
        ylabel="predicted mean change (DSB)",
        title=f"Protein, {len(e)} expressed proteins",
    )
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    adjust_text(labels, ax=ax, arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.5})  # no two names overlap
    return fig


def side_effect_bars(detectable: pd.DataFrame, summary: Mapping[str, float], n_show: int | None = None) -> Figure:
    """Fig 4C: measured (solid) and predicted (hatched) change of the detectable proteins, largest first.

    Orange: the authors' clinically relevant proteins; otherwise blue (dark = measured rise, light = fall); a ✗
    marks a protein whose predicted direction differs from the measured one. n_show=None shows all detectable
    proteins (the authors' figure shows the first 25).
    """
    d = detectable if n_show is None else detectable.head(n_show)
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * max(len(d), 3) + 1.4))
    y = np.arange(len(d))[::-1]
    colours = [CLINICAL if c else (UP if a > 0 else DOWN) for c, a in zip(d["clinical"], d["actual"], strict=True)]
    ax.barh(y + 0.2, d["actual"], height=0.4, color=colours, edgecolor="k", lw=0.4)
    ax.barh(y - 0.2, d["predicted"], height=0.4, color=colours, edgecolor="k", lw=0.4, hatch="///", alpha=0.6)
    labels = [p if g == p or pd.isna(g) else f"{p} ({g})" for p, g in zip(d["protein"], d["gene"], strict=True)]
    ax.set_yticks(y, [f"{lab}{'' if ok else '  ✗'}" for lab, ok in zip(labels, d["agree"], strict=True)], fontsize=8)
    ax.axvline(0, color="k", lw=0.6)
    shown = f" (first {len(d)} shown)" if len(d) < summary["n_detectable"] else ""
    ax.set(
        xlabel="mean change after knockdown (DSB)",
        title=f"{summary['n_detectable']} detectable proteins (|measured| > {summary['threshold']}){shown}\n"
        f"direction agreement {summary['n_agree']}/{summary['n_detectable']}",
    )
    ax.legend(
        handles=[
            Patch(facecolor="w", edgecolor="k", label="measured"),
            Patch(facecolor="w", edgecolor="k", hatch="///", label="predicted"),
            Patch(color=UP, label="measured rise"),
            Patch(color=DOWN, label="measured fall"),
            Patch(color=CLINICAL, label="clinically relevant (authors)"),
            Line2D([], [], ls="", marker="$✗$", color="k", label="predicted direction wrong"),
        ],
        fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
    )
    fig.tight_layout()
    return fig


def gradient_bars(table: pd.DataFrame, source: str) -> Figure:
    """Table 8 as a figure: gradient per protein (bars), the code's label vs the first-order direction."""
    fig, ax = plt.subplots(figsize=(7.5, 0.3 * len(table) + 1.6))
    y = np.arange(len(table))[::-1]
    colours = [PROT_UP if d == "up" else PROT_DOWN for d in table["first_order_direction"]]
    ax.barh(y, table["gradient"], color=colours, edgecolor="k", lw=0.4)
    if table["published_gradient"].notna().any():
        ax.scatter(
            table["published_gradient"] * _scale(table),
            y,
            marker="D",
            s=18,
            color="k",
            zorder=3,
            label=f"published gradient x {_scale(table):.2g} (scaled)",
        )
        ax.legend(fontsize=8, loc="lower right")
    labels = [
        f"{p}  [code: {c}, 1st order: {f}]"
        for p, c, f in zip(table["protein"], table["code_label"], table["first_order_direction"], strict=True)
    ]
    ax.set_yticks(y, labels, fontsize=8)
    ax.axvline(0, color="k", lw=0.6)
    ax.set(
        xlabel="d protein / d RNA(CD52)",
        title=f"Top {len(table)} proteins by |gradient| ({source} input)\n"
        "dark: first-order rise after knockdown, light: fall",
    )
    fig.tight_layout()
    return fig


def _scale(table: pd.DataFrame) -> float:
    """Factor that puts the published gradients on this model's scale (largest magnitudes equal)."""
    pub = table["published_gradient"].abs().max()
    return float(table["gradient"].abs().max() / pub) if pub and pub > 0 else 1.0


def gradient_concordance(
    ntc: pd.Series, cells: pd.Series, expressed: np.ndarray, stats: pd.DataFrame, n_cells: int, n_label: int = 5
) -> Figure:
    """Table 10: NTC-mean vs perturbed-cell gradients, all proteins and the expressed ones, y = x dashed."""
    expressed = np.asarray(expressed, dtype=bool)
    s = stats.set_index("proteins")
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 5))
    for ax, key, mask in ((axes[0], "all", np.ones_like(expressed)), (axes[1], "expressed", expressed)):
        a, b = ntc.to_numpy()[mask], cells.to_numpy()[mask]
        ax.scatter(a, b, s=16, alpha=0.75, color=PALETTE["CDT"], linewidths=0)
        for i in np.argsort(-np.abs(a))[:n_label]:
            ax.annotate(ntc.index[mask][i], (a[i], b[i]), textcoords="offset points", xytext=(3, 3), fontsize=8)
        _diagonal(ax, a, b)
        row = s.loc[key]
        ax.set(
            xlabel="gradient, NTC-mean input",
            ylabel=f"gradient, mean over {n_cells} perturbed cells",
            title=f"{key}: n = {int(row['n'])}, r = {row['r']:.3f}, rho = {row['rho']:.3f}\n"
            f"same direction {int(row['n_same_direction'])}/{int(row['n'])} "
            f"({100 * row['fraction_same_direction']:.1f}%)",
        )
    fig.tight_layout()
    return fig


def divergence_bars(table: pd.DataFrame, summary: Mapping[str, int]) -> Figure:
    """Fig 6: measured mRNA log2FC and protein change per gene measured at both levels, sorted by the protein
    change; predicted values as markers."""
    fig, ax = plt.subplots(figsize=(7.5, 0.38 * max(len(table), 3) + 1.6))
    y = np.arange(len(table))[::-1]
    ax.barh(
        y + 0.2,
        table["mrna_measured"],
        height=0.4,
        edgecolor="k",
        lw=0.4,
        color=[MRNA_UP if v > 0 else MRNA_DOWN for v in table["mrna_measured"]],
    )
    ax.barh(
        y - 0.2,
        table["protein_measured"],
        height=0.4,
        edgecolor="k",
        lw=0.4,
        color=[PROT_UP if v > 0 else PROT_DOWN for v in table["protein_measured"]],
    )
    ax.scatter(table["mrna_predicted"], y + 0.2, marker="|", s=90, color="k", zorder=3, label="predicted mRNA")
    ax.scatter(table["protein_predicted"], y - 0.2, marker="x", s=30, color="k", zorder=3, label="predicted protein")
    ax.set_yticks(
        y,
        [f"{g}{' *' if o else ''}" for g, o in zip(table["gene"], table["opposite_measured"], strict=True)],
        fontsize=8,
    )
    ax.axvline(0, color="k", lw=0.6)
    ax.text(
        0.98,
        0.02,
        f"{summary['n_opposite']}/{summary['n_both_levels']} genes diverge (*)",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=9,
        bbox={"fc": "w", "ec": "0.6"},
    )
    handles = [
        Patch(color=MRNA_UP, label="mRNA log2FC, measured rise"),
        Patch(color=MRNA_DOWN, label="mRNA log2FC, measured fall"),
        Patch(color=PROT_UP, label="protein change (DSB), measured rise"),
        Patch(color=PROT_DOWN, label="protein change (DSB), measured fall"),
        *ax.get_legend_handles_labels()[0],
        Line2D([], [], ls="", marker="$*$", color="k", label="mRNA and protein move in opposite directions"),
    ]
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set(xlabel="mean change after CD52 knockdown", title="mRNA vs protein, genes measured at both levels")
    fig.tight_layout()
    return fig


def truth_panels(truth: pd.DataFrame, summary: Mapping[str, float]) -> Figure:
    """Simulated data: planted first-order effect of RNA(CD52) on each protein vs (A) measured and predicted change,
    (B) the NTC-mean gradient. A correct model puts a negative planted effect at a rise and a negative gradient."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10.5, 4.6))
    a.scatter(truth["planted_weight"], truth["measured"], s=20, color=PALETTE["truth"], alpha=0.8, label="measured")
    a.scatter(
        truth["planted_weight"],
        truth["predicted"],
        s=20,
        color=PALETTE["CDT"],
        alpha=0.8,
        marker="x",
        label="predicted",
    )
    a.axhline(0, color="0.6", lw=0.6)
    a.axvline(0, color="0.6", lw=0.6)
    a.set(
        xlabel="planted effect of RNA(CD52) on the protein",
        ylabel="mean change after knockdown (DSB)",
        title=f"predicted |change| > 0.1: {summary['n_shared']} of {summary['n_planted']} planted found,\n"
        f"{summary['n_predicted']} predicted in all",
    )
    a.legend(fontsize=8)
    if "gradient_ntc_mean" in truth:
        b.scatter(truth["planted_weight"], truth["gradient_ntc_mean"], s=20, color=PALETTE["CDT"], alpha=0.8)
        b.axhline(0, color="0.6", lw=0.6)
        b.axvline(0, color="0.6", lw=0.6)
        b.set(
            xlabel="planted effect of RNA(CD52) on the protein",
            ylabel="d protein / d RNA(CD52), NTC-mean input",
            title=f"gradient sign = planted sign for {summary['gradient_ntc_mean_sign_matches_weight']}/"
            f"{summary['n_planted']} planted\nAUROC |gradient| planted vs not "
            f"{summary['gradient_ntc_mean_auroc']:.2f}",
        )
    else:
        b.set_axis_off()
    fig.tight_layout()
    return fig

"""Genome figures: cross-attention over DNA bins against ENCODE marks, Hi-C and planted elements (notebook 05).

CDT-II Fig 4B, 6A/B and Supp Fig 1; CDT-III Table 2, Fig 3 and Figs 7/8; CDT v1 Figs 3-6; element recovery on
simulated data. Every function takes tables from `cdt.analyses.genome` and returns a matplotlib Figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from adjustText import adjust_text
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from cdt.pl import DIVERGING, NA_COLOUR, PALETTE

__all__ = [
    "MARK_COLOURS",
    "CLASS_COLOURS",
    "OR_CAP",
    "cross_attention_profiles",
    "fisher_heatmap",
    "bin_class_violin",
    "permutation_nulls",
    "threshold_sweep",
    "ctcf_enrichment",
    "hic_ratios",
    "genome_track",
    "peak_distance",
    "attention_gradient_overlap",
    "v1_case",
    "pair_contact",
    "RANDOM_COLOUR",
    "BIN_SCORE_LABELS",
    "bin_score_style",
    "element_recovery",
]

MARK_COLOURS = {"DNase": "#984ea3", "CTCF": "#a65628", "H3K4me3": "#377eb8", "H3K27ac": "#ff7f00", "H3K4me1": "#4daf4a"}
CLASS_COLOURS = {
    "promoter": "#377eb8",
    "active_enhancer": "#ff7f00",
    "enhancer": "#ffbf80",
    "CTCF": "#a65628",
    "open": "#984ea3",
    "other": "#cccccc",
}
OR_CAP = 300.0  # infinite odds ratios are drawn here on log axes (the authors' Supp Fig 1b convention)


def _stars(p: float) -> str:
    return "***" if p < 1e-3 else "**" if p < 1e-2 else "*" if p < 0.05 else ""


def _elements(ax: plt.Axes, elements: pd.DataFrame | None, ymax: float) -> None:
    """Shade planted elements (kb from the centre) along the top of an axis."""
    if elements is None:
        return
    for e in elements.itertuples():
        ax.axvspan(e.start_kb, e.end_kb, ymin=0.92, ymax=1.0, color=CLASS_COLOURS.get(e.element, "0.5"), lw=0)


# --- CDT-II ------------------------------------------------------------------------------------------------------------


def cross_attention_profiles(
    values: pd.DataFrame,
    bin_size: int,
    elements: Mapping[str, pd.DataFrame] | None = None,
    n_cells: pd.Series | None = None,
) -> Figure:
    """CDT-II Fig 4B: one panel per locus, attention per bin vs kb from the TSS, TSS and peak marked.

    values: [loci, bins]; elements: per locus, planted elements (element, start_kb, end_kb) drawn as a top strip.
    """
    n = len(values)
    fig, axes = plt.subplots(n, 1, figsize=(10, 1.9 * n + 0.6), sharex=True, squeeze=False)
    centre = values.shape[1] // 2
    kb = (np.arange(values.shape[1]) - centre) * bin_size / 1e3
    for ax, (locus, row) in zip(axes[:, 0], values.iterrows(), strict=True):
        y = row.to_numpy(float)
        ax.plot(kb, y, color="steelblue", lw=1)
        ax.fill_between(kb, y, color="steelblue", alpha=0.3)
        ax.axvline(0, color=PALETTE["reference"], ls="--", lw=1, label="TSS (centre)")
        ax.axvline(kb[y.argmax()], color=PALETTE["truth"], ls=":", lw=1.5, label=f"peak ({kb[y.argmax()]:+.1f} kb)")
        ax.axhline(1 / len(y), color="0.4", lw=0.6, ls="-.", label="uniform 1/L")
        _elements(ax, None if elements is None else elements.get(locus), y.max())
        cells = f", {int(n_cells[locus])} cells" if n_cells is not None else ""
        ax.set_title(f"{locus}{cells}", loc="left", fontsize=10)
        ax.set_ylabel("attention")
        ax.legend(loc="upper right", fontsize=7, ncol=3)
    axes[-1, 0].set_xlabel(f"kb from the TSS ({values.shape[1]} bins of {bin_size} bp)")
    fig.suptitle("Cross-attention over DNA bins (mean over heads, genes and cells)")
    fig.tight_layout()
    if elements is not None:
        fig.legend(
            *_element_legend(),
            title="planted elements (top strip)",
            loc="upper center",
            fontsize=8,
            ncol=4,
            bbox_to_anchor=(0.5, 0.0),
        )
    return fig


def _element_legend() -> tuple[list, list[str]]:
    names = ["promoter", "CTCF", "enhancer", "open"]
    return [plt.Rectangle((0, 0), 1, 1, color=CLASS_COLOURS[k]) for k in names], names


def fisher_heatmap(table: pd.DataFrame, genes: Sequence[str], marks: Sequence[str], vmax: float = 300.0) -> Figure:
    """CDT-II Fig 6A: odds ratio of the top-10% bins per gene x mark, value and stars.

    Odds ratios span orders of magnitude (the paper shows up to 201x), so the colour is on a log scale centred on
    1 (no enrichment): blue below, red above. A cell without an odds ratio (no bin carries the mark, or none of the
    top bins) is grey and reads N/A, so it cannot be mistaken for depletion.
    """
    t = table.set_index(["gene", "mark"])
    odds = np.array([[t.loc[(g, m), "odds_ratio"] for m in marks] for g in genes], float)
    p = np.array([[t.loc[(g, m), "p_value"] for m in marks] for g in genes], float)
    fig, ax = plt.subplots(figsize=(1.2 * len(marks) + 2.5, 0.6 * len(genes) + 1.5))
    missing = np.isnan(odds) | (odds <= 0)
    shown = np.ma.masked_array(np.clip(np.where(missing, 1.0, odds), 1 / vmax, vmax), mask=missing)
    cmap = plt.get_cmap(DIVERGING).copy()
    cmap.set_bad(NA_COLOUR)
    norm = LogNorm(vmin=1 / vmax, vmax=vmax)
    im = ax.imshow(shown, cmap=cmap, norm=norm, aspect="auto")
    for i in range(len(genes)):
        for j in range(len(marks)):
            o = odds[i, j]
            text = "N/A" if missing[i, j] else (">999" if np.isinf(o) else f"{o:.1f}") + _stars(p[i, j])
            strong = not missing[i, j] and abs(np.log(shown[i, j])) > np.log(vmax) / 2
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=8,
                fontweight="bold",
                color="white" if strong else "black",
            )
    ax.set_xticks(range(len(marks)), marks)
    ax.set_yticks(range(len(genes)), genes)
    ax.set_xlabel(
        "ENCODE mark (K562)\ngrey N/A: no odds ratio (mark absent from the window); * P<0.05 ** P<0.01 *** P<0.001"
    )
    ax.set_ylabel("held-out gene")
    ax.grid(False)
    fig.colorbar(im, ax=ax, label="odds ratio, top-10% bins vs the rest (log scale)")
    ax.set_title("A  ENCODE enrichment of the top-10% attention bins", loc="left")
    fig.tight_layout()
    return fig


def bin_class_violin(
    pooled: pd.DataFrame,
    kruskal_p: float,
    cohens_d: pd.DataFrame,
    classes: Sequence[str] = ("promoter", "active_enhancer", "CTCF", "other"),
) -> Figure:
    """CDT-II Fig 6B: attention per bin class (pooled over genes), Kruskal-Wallis P, Cohen's d vs "other"."""
    groups = [pooled.loc[pooled["class"] == c, "attention"].to_numpy() for c in classes]
    present = [i for i, g in enumerate(groups) if len(g) > 1]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    parts = ax.violinplot(
        [groups[i] for i in present], positions=present, showmeans=True, showmedians=True, showextrema=False
    )
    for body, i in zip(parts["bodies"], present, strict=True):
        body.set_facecolor(CLASS_COLOURS[classes[i]])
        body.set_alpha(0.6)
    parts["cmeans"].set_color("black")
    parts["cmedians"].set_color(PALETTE["reference"])
    d = cohens_d.set_index("class")["d_vs_other"]
    labels = [
        f"{c.replace('_', chr(10))}\nn={len(g)}" + (f"\nd={d[c]:.2f}" if c in d and np.isfinite(d[c]) else "")
        for c, g in zip(classes, groups, strict=True)
    ]
    ax.set_xticks(range(len(classes)), labels)
    ax.set_ylabel("cross-attention weight")
    ax.set_title(f"B  attention by bin class (Kruskal-Wallis P = {kruskal_p:.1e})", loc="left")
    fig.tight_layout()
    return fig


def permutation_nulls(table: pd.DataFrame, nulls: Mapping[tuple[str, str], np.ndarray]) -> Figure:
    """Supp Fig 1a: circular-shift null odds ratios per gene x mark, observed OR as a vertical line."""
    genes, marks = list(dict.fromkeys(table["gene"])), list(dict.fromkeys(table["mark"]))
    fig, axes = plt.subplots(len(genes), len(marks), figsize=(3.2 * len(marks), 1.8 * len(genes) + 0.6), squeeze=False)
    t = table.set_index(["gene", "mark"])
    for i, g in enumerate(genes):
        for j, m in enumerate(marks):
            ax = axes[i, j]
            ax.set_yticks([])
            if (g, m) not in nulls:
                ax.text(0.5, 0.5, "< 5 peak bins", ha="center", va="center", transform=ax.transAxes, color="0.5")
                ax.set_xticks([])
                continue
            null = np.minimum(nulls[(g, m)], OR_CAP)
            obs = min(t.loc[(g, m), "observed_or"], OR_CAP)
            ax.hist(null[np.isfinite(null)], bins=25, color=MARK_COLOURS.get(m, "0.5"), alpha=0.5)
            ax.axvline(obs, color=MARK_COLOURS.get(m, "k"), lw=2.5)
            ax.set_title(f"{g} x {m}: P = {t.loc[(g, m), 'p_value']:.3f}", fontsize=9)
            if i == len(genes) - 1:
                ax.set_xlabel("odds ratio")
            if j == 0:
                ax.set_ylabel("shifts", fontsize=9)
    fig.text(
        0.5,
        -0.01,
        "bars: odds ratios of the attention ranking shifted circularly along the window (null); "
        "line: observed odds ratio; P = (shifts at or above it + 1) / (shifts + 1)",
        ha="center",
        va="top",
        fontsize=9,
    )
    fig.suptitle(
        f"a  circular permutation test (n = {len(next(iter(nulls.values()))) if nulls else 0})",
        x=0.01,
        ha="left",
        fontweight="bold",
    )
    fig.tight_layout()
    return fig


def threshold_sweep(table: pd.DataFrame) -> Figure:
    """Supp Fig 1b: odds ratio vs the top-% threshold, one panel per gene, one line per mark (inf drawn at 300)."""
    genes = list(dict.fromkeys(table["gene"]))
    fig, axes = plt.subplots(1, len(genes), figsize=(3.2 * len(genes), 3.4), sharey=True, squeeze=False)
    for ax, g in zip(axes[0], genes, strict=True):
        sub = table[(table["gene"] == g) & (table["n_peak_bins"] > 0)]
        for m, s in sub.groupby("mark", sort=False):
            y = np.clip(s["odds_ratio"].replace(np.inf, OR_CAP).to_numpy(float), 1e-2, OR_CAP)
            ax.plot(100 * s["q"], y, marker="o", color=MARK_COLOURS.get(m, "0.5"), label=m)
        ax.axhline(1, color="0.5", ls=":")
        ax.set_yscale("log")
        ax.set_title(g)
        ax.set_xlabel("top % bins")
    axes[0, 0].set_ylabel("odds ratio")
    axes[0, -1].legend(loc="center left", bbox_to_anchor=(1, 0.5), fontsize=8)
    fig.suptitle("b  enrichment vs attention threshold", x=0.01, ha="left", fontweight="bold")
    fig.tight_layout()
    return fig


# --- CDT-III -----------------------------------------------------------------------------------------------------------


def ctcf_enrichment(
    tables: Mapping[str, pd.DataFrame], null: np.ndarray, observed: float, p_value: float, max_fold: float = 10.0
) -> Figure:
    """CDT-III Table 2/6: (A) CTCF enrichment per gene for each model, published values as dots;
    (B) permutation null of the mean enrichment vs the observed mean of the first model."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(14, 4.8), gridspec_kw={"width_ratios": [3, 1]})
    first = next(iter(tables.values()))
    order = first.sort_values("enrichment", ascending=False, na_position="last")["gene"].tolist()
    width = 0.8 / len(tables)
    colours = [PALETTE["CDT"], PALETTE["baseline"], "#8e44ad"]
    for i, (label, t) in enumerate(tables.items()):
        e = t.set_index("gene").reindex(order)["enrichment"]
        a.bar(
            np.arange(len(order)) + (i - (len(tables) - 1) / 2) * width,
            e.fillna(0),
            width,
            label=label,
            color=colours[i % len(colours)],
        )
    pub = first.set_index("gene").reindex(order)["published_enrichment"]
    a.scatter(np.arange(len(order)), pub, color=PALETTE["published"], zorder=3, s=18, label="published (CDT-III)")
    a.axhline(1, color="0.3", ls="--", lw=0.8)
    a.axhline(2, color="0.6", ls=":", lw=0.8)
    a.set_xticks(range(len(order)), order, rotation=90)
    a.set_ylim(0, max_fold * 1.05)
    a.set(ylabel="CTCF enrichment (max 10x)", title="A  CTCF peaks in the top-10% attention bins")
    a.legend(fontsize=8, loc="upper right")
    b.hist(null, bins=30, color="0.7")
    b.axvline(observed, color=PALETTE["CDT"], lw=2.5, label=f"observed {observed:.2f}x")
    b.set(xlabel="mean enrichment, random bins", yticks=[], title=f"B  null (P = {p_value:.3g})")
    b.legend(fontsize=8)
    fig.tight_layout()
    return fig


def hic_ratios(table: pd.DataFrame, test: Mapping[str, float], column: str = "ratio") -> Figure:
    """CDT-III Fig 3A/B: (A) top-20 over random-20 promoter contact per gene; (B) random vs top mean contact."""
    t = table.sort_values(column, ascending=True)
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, max(4.0, 0.22 * len(t) + 1.5)))
    colours = [PALETTE["CDT"] if r > 1 else PALETTE["baseline"] for r in t[column]]
    a.barh(t["gene"], t[column], color=colours)
    a.scatter(t["published_ratio"], t["gene"], color=PALETTE["published"], s=14, zorder=3, label="published")
    a.axvline(1, color="0.3", ls="--", label="1 = no enrichment")
    a.set(xlabel="contact ratio (top 20 / random 20)", title="A  promoter contact of top attention bins")
    a.text(
        0.98,
        0.02,
        f"mean = {test['mean_ratio']:.2f}x\nP = {test['p_value']:.3f} (Wilcoxon, one-sided)\n"
        f"{test['n_above_1']}/{test['n']} genes > 1",
        transform=a.transAxes,
        ha="right",
        va="bottom",
        fontsize=9,
        bbox={"facecolor": "white", "alpha": 0.8},
    )
    handles, _ = a.get_legend_handles_labels()
    bars = [
        Patch(color=PALETTE["CDT"], label="this run, ratio > 1"),
        Patch(color=PALETTE["baseline"], label="ratio <= 1"),
    ]
    a.legend(handles=[*handles, *bars], loc="upper right", fontsize=8)
    top = "top_mean" if column == "ratio" else "top_mean_off_diagonal"
    rnd = "random_mean" if column == "ratio" else "random_mean_off_diagonal"
    b.scatter(table[rnd], table[top], color=PALETTE["CDT"])
    values = table[[top, rnd]].to_numpy(float)
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    pad = 0.08 * (high - low)
    lo, hi = low - pad, high + pad
    b.plot([lo, hi], [lo, hi], color="0.5", ls="--", label="top = random")
    b.set(
        xlabel="mean contact, random 20 bins",
        ylabel="mean contact, top-20 attention bins",
        title="B  top vs random",
        xlim=(lo, hi),
        ylim=(lo, hi),
    )
    b.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    labels = [b.text(getattr(r, rnd), getattr(r, top), r.gene, fontsize=7) for r in table.itertuples()]
    adjust_text(labels, ax=b, arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.5})  # no two names overlap
    return fig


def genome_track(track: dict, title: str = "") -> Figure:
    """CDT-III Figs 7/8: attention / max with CTCF peak lines (coloured in the top 10%), the CTCF signal, and the planted
    elements when the track carries them."""
    has_el = "elements" in track
    fig, axes = plt.subplots(
        2 + has_el,
        1,
        figsize=(11, 4.6 + 0.8 * has_el),
        sharex=True,
        gridspec_kw={"height_ratios": [3, 1.2] + [0.6] * has_el},
    )
    bins, peaks = track["bins"], track["peaks"]
    a = axes[0]
    a.fill_between(bins["kb"], bins["attention"], color="steelblue", alpha=0.35)
    a.plot(bins["kb"], bins["attention"], color="steelblue", lw=1)
    for p in peaks.itertuples():
        a.axvline(p.kb, color=MARK_COLOURS["CTCF"] if p.in_top else "0.6", lw=1.2, alpha=0.9)
    a.axvline(0, color="k", ls=":", lw=1)
    a.plot([], [], color=MARK_COLOURS["CTCF"], label=f"CTCF in top 10% attn ({track['k']}/{track['n']})")
    a.plot([], [], color="0.6", label="CTCF, not in top 10%")
    a.legend(loc="upper right", fontsize=8)
    a.set(ylabel="cross-attention\n(normalised)", title=title or f"{track['locus']}: cross-attention and CTCF")
    c = axes[1]
    width = (bins["kb"].max() - bins["kb"].min()) / 150  # a visible bar at any window size
    c.bar(
        peaks["kb"],
        peaks["signal_norm"],
        width=width,
        color=[MARK_COLOURS["CTCF"] if t else "0.6" for t in peaks["in_top"]],
    )
    c.set(ylabel="CTCF ChIP-seq", ylim=(0, 1.1))
    if has_el:
        e = axes[2]
        for el in track["elements"].itertuples():
            e.axvspan(el.start_kb, el.end_kb, color=CLASS_COLOURS.get(el.element, "0.5"), lw=0)
        e.set(yticks=[], ylabel="planted")
        e.legend(*_element_legend(), ncol=4, fontsize=7, loc="upper right")
    axes[-1].set_xlabel("kb from the TSS")
    fig.tight_layout()
    return fig


# --- CDT v1 ------------------------------------------------------------------------------------------------------------


def peak_distance(distances_bp: np.ndarray, summary: Mapping[str, float]) -> Figure:
    """CDT v1 Fig 3: signed distance of the attention peak from the enhancer, band at the (scaled) threshold."""
    half = summary["half_window_kb"]
    fig, ax = plt.subplots(figsize=(7, 4))
    w = summary["within_bp"] / 1e3
    ax.axvspan(
        -w,
        w,
        color=PALETTE["truth"],
        alpha=0.12,
        label=f"within {w:.1f} kb ({summary['frac_within']:.0%}; uniform {summary['uniform_frac_within']:.0%})",
    )
    ax.hist(np.asarray(distances_bp) / 1e3, bins=np.linspace(-half, half, 31), color=PALETTE["CDT"], alpha=0.85)
    ax.axvline(0, color=PALETTE["reference"], ls="--")
    ax.set(
        xlabel="attention peak - enhancer centre (kb)",
        ylabel="samples",
        title=f"mean |d| = {summary['mean_abs_kb']:.1f} kb (uniform peak: {summary['uniform_mean_abs_kb']:.1f} kb), "
        f"n = {summary['n']}",
    )
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def attention_gradient_overlap(
    overlaps: np.ndarray, summary: Mapping[str, float], attention: np.ndarray, gradient: np.ndarray, bin_size: int
) -> Figure:
    """CDT v1 Fig 4: (A) overlap of top-k attention and top-k gradient bins; (B) the median-overlap sample."""
    k = int(summary["k"])
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 4))
    a.hist(overlaps, bins=np.arange(-0.5, k + 1.5), color=PALETTE["CDT"])
    a.axvline(summary["mean"], color=PALETTE["reference"], ls="--", label=f"mean {summary['mean']:.1f}")
    a.axvline(summary["chance"], color="0.4", ls=":", label=f"chance {summary['chance']:.1f}")
    a.set(xlabel=f"shared bins among the top {k}", ylabel="samples", title="A  attention vs gradient top bins")
    a.legend(fontsize=8)
    centre = len(attention) // 2
    kb = (np.arange(len(attention)) - centre) * bin_size / 1e3
    ta, tg = np.argsort(-attention)[:k], np.argsort(-gradient)[:k]
    b.bar(kb[ta], 1, width=bin_size / 1e3 * 2, color=PALETTE["CDT"], label="top attention")
    b.bar(kb[tg], -1, width=bin_size / 1e3 * 2, color=PALETTE["gradient"], label="top gradient")
    b.axhline(0, color="k", lw=0.6)
    b.set(
        xlabel="kb from the enhancer centre",
        yticks=[],
        xlim=(kb[0], kb[-1]),
        title=f"B  median sample: {len(np.intersect1d(ta, tg))} shared",
    )
    b.legend(fontsize=8)
    fig.tight_layout()
    return fig


def v1_case(
    attention: np.ndarray, gradient: np.ndarray, case: Mapping, bin_size: int, temperature: np.ndarray | None = None
) -> Figure:
    """CDT v1 Fig 5: (A) attention (temperature-sharpened), (B) gradient share, CTCF sites dashed; (C) the layout."""
    centre = len(attention) // 2
    kb = (np.arange(len(attention)) - centre) * bin_size / 1e3
    fig, axes = plt.subplots(3, 1, figsize=(10, 7.5), sharex=False, gridspec_kw={"height_ratios": [2, 2, 1]})
    a, b, c = axes
    shown = attention if temperature is None else temperature
    a.fill_between(kb, shown, color=PALETTE["CDT"], alpha=0.4)
    a.axvline(
        case["attention_peak_kb"], color=PALETTE["CDT"], lw=1.5, label=f"peak {case['attention_peak_kb']:+.1f} kb"
    )
    a.set(
        ylabel="attention" + (" (T-scaled)" if temperature is not None else ""),
        title=f"A  {case['pair']}  beta = {case['beta']:.2f}  (max / uniform = "
        f"{case['attention_max_over_uniform']:.2f})",
    )
    g = gradient / gradient.sum()
    b.fill_between(kb, g, color=PALETTE["gradient"], alpha=0.4)
    b.axvline(
        case["gradient_peak_kb"], color=PALETTE["gradient"], lw=1.5, label=f"peak {case['gradient_peak_kb']:+.1f} kb"
    )
    b.set(ylabel="gradient share", title="B  |d prediction / d DNA| per bin")
    for ax in (a, b):
        for s in case["ctcf_kb"]:
            ax.axvline(s, color=MARK_COLOURS["CTCF"], ls="--", lw=0.8)
        ax.plot([], [], color=MARK_COLOURS["CTCF"], ls="--", label="CTCF site")
        ax.axvline(0, color="k", ls=":", lw=0.8)
        ax.legend(fontsize=8, loc="upper right")
        ax.set_xlim(kb[0], kb[-1])
    tss = case["tss_offset_kb"]  # NaN where the pairs carry no TSS (the authors' CDT v1 files)
    known = bool(np.isfinite(tss))
    lo, hi = (min(kb[0], tss) - 5, max(kb[-1], tss) + 5) if known else (kb[0] - 5, kb[-1] + 5)
    c.hlines(0, lo, hi, color="0.3")
    c.axvspan(kb[0], kb[-1], color="0.9")
    c.plot([0], [0], "s", color=PALETTE["truth"], ms=9, label="enhancer")
    c.plot([case["attention_peak_kb"]], [0], "v", color=PALETTE["CDT"], ms=9, label="attention peak")
    c.plot([case["gradient_peak_kb"]], [0], "^", color=PALETTE["gradient"], ms=9, label="gradient peak")
    if known:
        c.annotate(case["target_gene"], (tss, 0), xytext=(tss, 0.5), ha="center", arrowprops={"arrowstyle": "->"})
    c.set(
        xlim=(lo, hi),
        ylim=(-1, 1),
        yticks=[],
        xlabel="kb from the enhancer centre (grey: DNA window)",
        title=f"C  target TSS at {tss:+.1f} kb" if known else f"C  {case['target_gene']}: TSS not in the pairs file",
    )
    c.legend(fontsize=7, ncol=3, loc="lower right")
    fig.tight_layout()
    return fig


def pair_contact(
    matrix: np.ndarray,
    start: int,
    resolution: int,
    anchors: Mapping[str, int],
    pairs: pd.DataFrame,
    kind: str = "oe",
    highlight: str | None = None,
) -> Figure:
    """CDT v1 Fig 6: (A) contact map around an enhancer and its target promoter; (B) O/E contact of every pair vs
    distance (1 = what distance alone predicts)."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 5))
    m = np.where(matrix > 0, matrix, np.nan)
    end = start + resolution * m.shape[0]
    im = a.imshow(m, cmap="Reds", norm=LogNorm(), extent=(start / 1e6, end / 1e6, end / 1e6, start / 1e6))
    for (name, pos), colour in zip(anchors.items(), (PALETTE["truth"], PALETTE["CDT"]), strict=False):
        a.axvline(pos / 1e6, color=colour, ls=":", lw=1.2, label=name)
        a.axhline(pos / 1e6, color=colour, ls=":", lw=1.2)
    a.grid(False)
    a.legend(fontsize=8, loc="lower left")
    fig.colorbar(im, ax=a, label="balanced contact")
    a.set(xlabel="Mb", ylabel="Mb", title="A  contact map (the pair: where the lines cross)")
    ok = pairs[np.isfinite(pairs[kind])]
    b.scatter(ok["distance_kb"], ok[kind], color=PALETTE["CDT"], s=20)
    if highlight is not None and highlight in set(ok["pair"]):
        h = ok[ok["pair"] == highlight]
        b.scatter(h["distance_kb"], h[kind], color=PALETTE["highlight"], s=60, label=highlight, zorder=3)
        b.legend(fontsize=8)
    b.axhline(1, color="0.4", ls="--")
    b.set(
        xlabel="enhancer - promoter distance (kb)",
        ylabel="observed / expected contact",
        title=f"B  {len(ok)} enhancer-promoter pairs",
    )
    fig.tight_layout()
    return fig


# --- ground truth ------------------------------------------------------------------------------------------------------


RANDOM_COLOUR = "#d0d0d0"
"""The random reference score in recovery figures: lighter than the model-free baselines, distinct from N/A grey."""

BIN_SCORE_LABELS = {
    "embedding_norm": "DNA embedding norm (no model)",
    "near_centre": "near the window centre (no model)",
    "random": "random score",
    "attention": "attention",
    "gradient": "gradient norm",
}
"""Words for the bin scores of `cdt.analyses.genome.bin_scores` (model attention keeps its own name)."""


def bin_score_style(method: str, *, rank: int = 0) -> tuple[str, str]:
    """Label and colour of one bin score: attention in the CDT colour (a second attention score lighter), gradients
    in the gradient colour, model-free scores grey and the random score a lighter grey (`cdt.pl.PALETTE`; not
    `cdt.pl.NA_COLOUR`, which marks missing values)."""
    label = BIN_SCORE_LABELS.get(method, method)
    if method == "random":
        return label, RANDOM_COLOUR
    if method in ("embedding_norm", "near_centre"):
        return label, PALETTE["baseline"] if method == "embedding_norm" else "#bdbdbd"
    if "gradient" in method:
        return label, PALETTE["gradient"]
    return label, PALETTE["CDT"] if rank == 0 else "#6f9bc4"


def element_recovery(table: pd.DataFrame, metric: str = "auroc", title: str = "") -> Figure:
    """Recovery of planted elements: `metric` per score (bars, `bin_score_style` labels and colours) for each element
    class (panels), chance line."""
    targets = list(dict.fromkeys(table["target"]))
    methods = list(dict.fromkeys(table["method"]))
    model_scores = [m for m in methods if m not in BIN_SCORE_LABELS or m in ("attention", "gradient")]
    styles = [bin_score_style(m, rank=model_scores.index(m) if m in model_scores else 0) for m in methods]
    fig, axes = plt.subplots(1, len(targets), figsize=(2.6 * len(targets) + 1, 4.2), sharey=True, squeeze=False)
    for ax, t in zip(axes[0], targets, strict=True):
        sub = table[table["target"] == t].set_index("method").reindex(methods)
        ax.bar(range(len(methods)), sub[metric], color=[c for _, c in styles])
        chance = 0.5 if metric == "auroc" else (1.0 if metric == "top_fold" else float(sub["base_rate"].iloc[0]))
        ax.axhline(chance, color="0.3", ls="--", lw=0.8)
        ax.set_xticks(range(len(methods)), [label for label, _ in styles], rotation=60, ha="right", fontsize=8)
        ax.set_title(f"{t} (n={int(sub['n_pos'].iloc[0])})", fontsize=10)
    axes[0, 0].set_ylabel(
        {"auroc": "AUROC", "auprc": "AUPRC", "top_fold": "top-10% fold over base rate"}.get(metric, metric)
    )
    fig.suptitle(title or "Planted elements recovered by each bin score", x=0.01, ha="left", fontweight="bold")
    fig.tight_layout()
    return fig

"""Genome figures: cross-attention over DNA bins against ENCODE marks, Hi-C and planted elements (notebook 05).

CDT-II Fig 4B, 6A/B and Supp Fig 1; CDT-III Table 2, Fig 3 and Figs 7/8; CDT v1 Figs 3-6; element recovery on
simulated data. Every function takes tables from `cdt.analyses.genome` and returns a matplotlib Figure.

Colours (`cdt.pl`): model attention dark blue, gradients purple, published values red, planted elements shades of
the truth green (told apart by hatching), ENCODE marks and the bin classes named after them `category_colours`,
the highlighted enhancer-promoter pair orange, heat maps `DIVERGING` (odds ratios) or `SEQUENTIAL` (contacts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from adjustText import adjust_text
from matplotlib.colors import LogNorm, to_hex, to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Patch
from matplotlib.ticker import MaxNLocator

from cdt.genome import MARKS
from cdt.pl import DIVERGING, NA_COLOUR, PALETTE, SEQUENTIAL, category_colours, shades

__all__ = [
    "MARK_COLOURS",
    "CLASS_COLOURS",
    "ELEMENT_STYLES",
    "OR_CAP",
    "NO_PUBLISHED",
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
    "TARGET_LABELS",
    "bin_score_style",
    "element_recovery",
]

_CATEGORY = category_colours([*MARKS, "(unused)", "other"])
MARK_COLOURS = {m: _CATEGORY[m] for m in MARKS}
"""One category colour per ENCODE mark (`cdt.pl.category_colours`; none of them a colour with a meaning)."""
CLASS_COLOURS = {
    "promoter": MARK_COLOURS["H3K4me3"],
    "active_enhancer": MARK_COLOURS["H3K27ac"],
    "enhancer": MARK_COLOURS["H3K4me1"],
    "CTCF": MARK_COLOURS["CTCF"],
    "open": MARK_COLOURS["DNase"],
    "other": _CATEGORY["other"],
}
"""Bin classes (CDT-II Fig 6B) in the colour of the mark that defines them; unannotated bins their own colour."""
_ELEMENTS = ("promoter", "CTCF", "enhancer", "open")
ELEMENT_STYLES = {
    name: (colour, hatch)
    for name, colour, hatch in zip(
        _ELEMENTS, shades("truth", len(_ELEMENTS)), ("", "////", "....", "xxxx"), strict=True
    )
}
"""Planted element classes (simulated data): shades of the truth green, told apart by hatching too."""
ELEMENT_LABELS = {"open": "open chromatin"}
NO_PUBLISHED = "no published value"
"""Written where a locus has no published value to compare with (not a missing result of this run)."""
OR_CAP = 300.0  # infinite odds ratios are drawn here on log axes (the authors' Supp Fig 1b convention)
_CTCF_OUTSIDE = to_hex(0.55 * np.array(to_rgb(MARK_COLOURS["CTCF"])) + 0.45)  # a CTCF peak outside the top bins


def _stars(p: float) -> str:
    return "***" if p < 1e-3 else "**" if p < 1e-2 else "*" if p < 0.05 else ""


def _element_handles() -> list[Patch]:
    return [
        Patch(facecolor=c, hatch=h, edgecolor="white", lw=0, label=ELEMENT_LABELS.get(k, k))
        for k, (c, h) in ELEMENT_STYLES.items()
    ]


def _elements(ax: plt.Axes, elements: pd.DataFrame | None, ymin: float = 0.0, ymax: float = 1.0) -> None:
    """Shade planted elements (kb from the centre) over the axis' height fraction [ymin, ymax]."""
    if elements is None:
        return
    for e in elements.itertuples():
        colour, hatch = ELEMENT_STYLES.get(e.element, (NA_COLOUR, ""))
        ax.axvspan(e.start_kb, e.end_kb, ymin=ymin, ymax=ymax, facecolor=colour, hatch=hatch, edgecolor="white", lw=0)


def _label_points(ax: plt.Axes, xs: np.ndarray, ys: np.ndarray, names: Sequence[str], *, size: float) -> list:
    """Name every point of a scatter (marker area `size`) so that no name touches a point or another name.

    adjustText spreads the names first (pushed off the markers' own extent, not just their centres); a name that still
    touches a point or a name is then moved to the nearest free place on widening rings around its point. A thin grey
    leader joins each name that sits away from its point. Call after the axis limits and the layout are final.
    """
    fig = ax.figure
    texts = [ax.text(x, y, n, fontsize=7, ha="center", va="center") for x, y, n in zip(xs, ys, names, strict=True)]
    adjust_text(
        texts,
        x=xs,
        y=ys,
        ax=ax,
        expand=(1.35, 1.7),
        force_text=(0.4, 0.8),
        force_static=(0.6, 1.2),
        force_explode=(0.3, 0.8),
        iter_lim=2000,
    )
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    px = fig.dpi / 72  # display pixels per point
    points = ax.transData.transform(np.column_stack([xs, ys]))
    clear = (np.sqrt(size) / 2 + 2.5) * px  # a name keeps this far from every marker centre
    gap = 1.5 * px  # and this far from every other name
    frame = ax.get_window_extent(renderer)
    boxes = [t.get_window_extent(renderer) for t in texts]

    def free(i: int, box) -> bool:
        nx = np.clip(points[:, 0], box.x0, box.x1)
        ny = np.clip(points[:, 1], box.y0, box.y1)
        if (np.hypot(points[:, 0] - nx, points[:, 1] - ny) < clear).any():
            return False
        inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
        return inside and not any(
            j != i and box.x0 - gap < o.x1 and o.x0 - gap < box.x1 and box.y0 - gap < o.y1 and o.y0 - gap < box.y1
            for j, o in enumerate(boxes)
        )

    angles = np.deg2rad([0, 30, -30, 60, -60, 90, -90, 120, -120, 150, -150, 180])
    for i, t in enumerate(texts):
        if free(i, boxes[i]):
            continue
        w, h = boxes[i].width, boxes[i].height
        for extra in np.array([0, 3, 7, 12, 18, 26, 36, 50]) * px:
            spots = [
                points[i] + ((w / 2 + clear + extra) * np.cos(a), (h / 2 + clear + extra) * np.sin(a)) for a in angles
            ]
            moved = [boxes[i].translated(*(c - (boxes[i].x0 + w / 2, boxes[i].y0 + h / 2))) for c in spots]
            ok = [k for k, box in enumerate(moved) if free(i, box)]
            if ok:
                t.set_position(ax.transData.inverted().transform(spots[ok[0]]))
                boxes[i] = moved[ok[0]]
                break
    leaders = []
    for t, box, point in zip(texts, boxes, points, strict=True):
        nearest = np.clip(point, (box.x0, box.y0), (box.x1, box.y1))
        if np.hypot(*(point - nearest)) > clear + 2 * px:
            leader = FancyArrowPatch(
                posA=tuple(ax.transData.inverted().transform(((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2))),
                posB=tuple(ax.transData.inverted().transform(point)),
                patchA=t,
                arrowstyle="-",
                shrinkA=1,
                shrinkB=np.sqrt(size) / 2 + 0.5,
                color=PALETTE["baseline"],
                lw=0.5,
            )
            ax.add_patch(leader)
            leaders.append(leader)
    return texts


# --- CDT-II ------------------------------------------------------------------------------------------------------------


def cross_attention_profiles(
    values: pd.DataFrame,
    bin_size: int,
    elements: Mapping[str, pd.DataFrame] | None = None,
    n_cells: pd.Series | None = None,
) -> Figure:
    """CDT-II Fig 4B: one panel per locus, attention per bin vs kb from the TSS, TSS and peak marked.

    values: [loci, bins]; elements: per locus, planted elements (element, start_kb, end_kb) drawn as a strip above
    the trace (headroom kept free, so the strip never covers it). One legend for every panel, below them.
    """
    n = len(values)
    strip = elements is not None
    fig, axes = plt.subplots(n, 1, figsize=(10, 1.9 * n + 0.6), sharex=True, squeeze=False)
    centre = values.shape[1] // 2
    kb = (np.arange(values.shape[1]) - centre) * bin_size / 1e3
    for ax, (locus, row) in zip(axes[:, 0], values.iterrows(), strict=True):
        y = row.to_numpy(float)
        peak = kb[y.argmax()]
        ax.plot(kb, y, color=PALETTE["CDT"], lw=1)
        ax.fill_between(kb, y, color=PALETTE["CDT"], alpha=0.25, lw=0)
        ax.axvline(0, color=PALETTE["reference"], ls="--", lw=1)
        ax.axvline(peak, color=PALETTE["CDT"], ls=":", lw=1.8)
        ax.axhline(1 / len(y), color=PALETTE["reference"], lw=0.8, ls="-.")
        top = max(y.max(), 1 / len(y)) * (1.35 if strip else 1.08)
        ax.set_ylim(0, top)
        if strip:
            _elements(ax, elements.get(locus), ymin=0.82, ymax=0.97)
        cells = f", mean over {int(n_cells[locus])} cells" if n_cells is not None else ""
        ax.set_title(f"{locus} locus{cells}; attention peak at {peak:+.1f} kb", loc="left", fontsize=10)
        ax.set_ylabel("attention")
        ax.set_xlim(kb[0], kb[-1])
    axes[-1, 0].set_xlabel(f"kb from the TSS ({values.shape[1]} bins of {bin_size} bp)")
    fig.suptitle("DNA→RNA cross-attention over the DNA bins of each held-out gene (mean over heads and cells)")
    handles = [
        Line2D([], [], color=PALETTE["CDT"], lw=1.5, label="attention per bin"),
        Line2D([], [], color=PALETTE["CDT"], ls=":", lw=1.8, label="attention peak"),
        Line2D([], [], color=PALETTE["reference"], ls="--", lw=1, label="TSS (window centre)"),
        Line2D([], [], color=PALETTE["reference"], ls="-.", lw=0.8, label="uniform attention (1 / number of bins)"),
    ]
    fig.tight_layout()
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=4, fontsize=8, frameon=False)
    if strip:
        fig.legend(
            handles=_element_handles(),
            title="planted elements (strip above each trace)",
            loc="upper center",
            bbox_to_anchor=(0.5, -0.035),
            ncol=4,
            fontsize=8,
            title_fontsize=9,
            frameon=False,
        )
    return fig


def fisher_heatmap(table: pd.DataFrame, genes: Sequence[str], marks: Sequence[str], vmax: float = 300.0) -> Figure:
    """CDT-II Fig 6A: odds ratio of the top-10% bins per gene x mark, value and stars.

    Odds ratios span orders of magnitude (the paper shows up to 201x), so the colour is on a log scale centred on
    1 (no enrichment): brown below, teal above. An odds ratio of 0 (the mark in none of the top bins) is a value: it
    reads "0" in the colour of the bottom of the scale, which the colour bar labels 0. Only a cell without an odds
    ratio (undefined, e.g. no bin carries the mark) is grey and reads N/A.
    """
    t = table.set_index(["gene", "mark"])
    odds = np.array([[t.loc[(g, m), "odds_ratio"] for m in marks] for g in genes], float)
    p = np.array([[t.loc[(g, m), "p_value"] for m in marks] for g in genes], float)
    fig, ax = plt.subplots(figsize=(1.2 * len(marks) + 2.8, 0.6 * len(genes) + 1.7))
    missing = np.isnan(odds)
    shown = np.ma.masked_array(np.clip(np.where(missing, 1.0, odds), 1 / vmax, vmax), mask=missing)
    cmap = plt.get_cmap(DIVERGING).with_extremes(bad=NA_COLOUR)
    norm = LogNorm(vmin=1 / vmax, vmax=vmax)
    im = ax.imshow(shown, cmap=cmap, norm=norm, aspect="auto")
    for i in range(len(genes)):
        for j in range(len(marks)):
            o = odds[i, j]
            value = "0" if o == 0 else ">999" if np.isinf(o) else f"{o:.1f}"
            text = "N/A" if missing[i, j] else value + _stars(p[i, j])
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
        "ENCODE mark (K562)\n0: mark in none of the top bins; grey N/A: odds ratio undefined (mark absent)\n"
        "one-sided Fisher test: * P < 0.05, ** P < 0.01, *** P < 0.001"
    )
    ax.set_ylabel("held-out gene")
    ax.grid(False)
    cbar = fig.colorbar(im, ax=ax)
    cbar.set_label("odds ratio (log scale)\ntop-10% attention bins vs the rest")
    ticks = [x for x in (0.01, 0.1, 1, 10, 100) if 1 / vmax <= x <= vmax]
    zero = bool((odds == 0).any())  # drawn at the bottom of the scale
    cbar.set_ticks([1 / vmax] * zero + ticks, labels=["0"] * zero + [f"{x:g}" for x in ticks])
    cbar.ax.minorticks_off()
    ax.set_title("A  ENCODE marks in the top-10% attention bins", loc="left")
    fig.tight_layout()
    return fig


def _class_label(c: str) -> str:
    return {"other": "other\n(unannotated)", "open": "open\nchromatin"}.get(c, c.replace("_", "\n"))


def bin_class_violin(
    pooled: pd.DataFrame,
    kruskal_p: float,
    cohens_d: pd.DataFrame,
    classes: Sequence[str] = ("promoter", "active_enhancer", "CTCF", "other"),
) -> Figure:
    """CDT-II Fig 6B: attention per bin class (pooled over genes), Kruskal-Wallis P, Cohen's d vs "other"."""
    groups = [pooled.loc[pooled["class"] == c, "attention"].to_numpy() for c in classes]
    present = [i for i, g in enumerate(groups) if len(g) > 1]
    fig, ax = plt.subplots(figsize=(6.5, 4.8))
    parts = ax.violinplot(
        [groups[i] for i in present], positions=present, showmeans=True, showmedians=True, showextrema=False
    )
    for body, i in zip(parts["bodies"], present, strict=True):
        body.set_facecolor(CLASS_COLOURS.get(classes[i], NA_COLOUR))
        body.set_alpha(0.7)
    parts["cmeans"].set_color("black")
    parts["cmedians"].set_color(PALETTE["reference"])
    parts["cmedians"].set_linestyle("--")
    d = cohens_d.set_index("class")["d_vs_other"]
    labels = [
        f"{_class_label(c)}\nn = {len(g)}" + (f"\nd = {d[c]:.2f}" if c in d and np.isfinite(d[c]) else "")
        for c, g in zip(classes, groups, strict=True)
    ]
    ax.set_xticks(range(len(classes)), labels)
    ax.set_xlabel(
        "bin class (from its ENCODE marks); n: bins, d: Cohen's d vs unannotated bins\n"
        "solid line: mean, dashed line: median"
    )
    ax.set_ylabel("cross-attention weight per bin")
    ax.set_title(f"B  attention by bin class (Kruskal-Wallis P = {kruskal_p:.1e})", loc="left")
    fig.tight_layout()
    return fig


def permutation_nulls(table: pd.DataFrame, nulls: Mapping[tuple[str, str], np.ndarray]) -> Figure:
    """Supp Fig 1a: circular-shift null odds ratios per gene x mark, observed OR as a vertical line."""
    genes, marks = list(dict.fromkeys(table["gene"])), list(dict.fromkeys(table["mark"]))
    fig, axes = plt.subplots(len(genes), len(marks), figsize=(3.4 * len(marks), 2.3 * len(genes) + 0.8), squeeze=False)
    t = table.set_index(["gene", "mark"])
    for i, g in enumerate(genes):
        for j, m in enumerate(marks):
            ax = axes[i, j]
            if (g, m) not in nulls:
                ax.set_title(f"{g} × {m}: not tested", fontsize=9)
                ax.text(
                    0.5,
                    0.5,
                    "fewer than 5 bins\ncarry the mark",
                    ha="center",
                    va="center",
                    transform=ax.transAxes,
                    color=PALETTE["reference"],
                    fontsize=9,
                )
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_facecolor(NA_COLOUR)
                continue
            null = np.minimum(nulls[(g, m)], OR_CAP)
            obs = min(t.loc[(g, m), "observed_or"], OR_CAP)
            finite = null[np.isfinite(null)]
            ax.hist(finite, bins=25, color=MARK_COLOURS.get(m, NA_COLOUR), alpha=0.8)
            ax.axvline(obs, color=PALETTE["CDT"], lw=2.5)
            lo, hi = finite.min(initial=obs), finite.max(initial=obs)
            pad = 0.1 * (hi - lo) or 0.5
            ax.set_xlim(lo - pad, hi + pad)  # the observed line never sits on the frame
            ax.set_title(f"{g} × {m}: P = {t.loc[(g, m), 'p_value']:.3f}", fontsize=9)
            ax.set_xlabel("odds ratio", fontsize=9)
            ax.set_ylabel("shifts", fontsize=9)
            ax.tick_params(labelsize=8)
    fig.suptitle(
        f"A  circular permutation test ({len(next(iter(nulls.values()))) if nulls else 0} shifts per gene × mark)",
        x=0.01,
        ha="left",
        fontweight="bold",
    )
    fig.tight_layout()
    fig.text(
        0.5,
        0.0,
        "bars: odds ratios of the attention ranking shifted circularly along the window (null), coloured by mark;\n"
        "dark-blue line: observed odds ratio; P = (shifts at or above it + 1) / (shifts + 1)",
        ha="center",
        va="top",
        fontsize=9,
    )
    return fig


def threshold_sweep(table: pd.DataFrame) -> Figure:
    """Supp Fig 1b: odds ratio vs the top-% threshold, one panel per gene, one line per mark.

    An infinite odds ratio is drawn at `OR_CAP` as a triangle, not joined to the finite values by the line (it has
    no place on the scale); a zero one (the mark absent from the top bins) has no place on a log scale either and is
    drawn as "0" in the grey row below the panel, beside the undefined ones (x: the mark absent from the window).
    """
    genes = list(dict.fromkeys(table["gene"]))
    marks = list(dict.fromkeys(table["mark"]))
    fig, axes = plt.subplots(
        2,
        len(genes),
        figsize=(3.2 * len(genes) + 2.2, 4.8),
        sharex="col",
        sharey="row",
        squeeze=False,
        gridspec_kw={"height_ratios": [4, 1.5]},
    )
    odds_all = table["odds_ratio"].to_numpy(float)
    positive = odds_all[np.isfinite(odds_all) & (odds_all > 0)]
    low = min(0.5, positive.min() / 1.5) if positive.size else 0.5
    high = OR_CAP * 1.8 if np.isinf(odds_all).any() else max(2.0, (positive.max() * 1.5) if positive.size else 2.0)
    for ax, na, g in zip(axes[0], axes[1], genes, strict=True):
        sub = table[table["gene"] == g]
        for k, m in enumerate(marks):
            s = sub[sub["mark"] == m].sort_values("q")
            if s.empty:
                continue
            colour = MARK_COLOURS.get(m, NA_COLOUR)
            x = 100 * s["q"].to_numpy(float)
            o = s["odds_ratio"].to_numpy(float)
            o = np.where(s["n_peak_bins"].to_numpy() > 0, o, np.nan)
            zero = o == 0
            undefined = np.isnan(o)
            y = np.where(undefined | zero, np.nan, np.minimum(o, OR_CAP))
            inf = np.isinf(o)
            ax.plot(x, np.where(inf, np.nan, y), marker="o", color=colour, lw=1.5, ms=5)  # broken at infinity
            if inf.any():
                ax.plot(x[inf], y[inf], ls="", marker="^", color=colour, ms=8)
            if undefined.any():
                na.plot(x[undefined], np.full(undefined.sum(), k), ls="", marker="x", color=colour, ms=6, mew=1.5)
            if zero.any():
                na.plot(x[zero], np.full(zero.sum(), k), ls="", marker="$0$", color=colour, ms=7)
        ax.axhline(1, color=PALETTE["reference"], ls=":", lw=1)
        ax.set_yscale("log")
        ax.set_ylim(low, high)
        ax.set_title(g)
        na.set_facecolor(NA_COLOUR)
        na.set_ylim(-0.8, len(marks) - 0.2)
        na.set_yticks([])
        na.grid(False)
        na.set_xlabel("top % of bins by attention")
        na.set_xticks(sorted(100 * table["q"].unique()))
        na.set_xlim(100 * table["q"].min() - 2.5, 100 * table["q"].max() + 2.5)
    axes[0, 0].set_ylabel("odds ratio (log scale)")
    axes[1, 0].set_ylabel("0 or N/A", rotation=0, ha="right", va="center")
    handles = [Line2D([], [], color=MARK_COLOURS.get(m, NA_COLOUR), marker="o", label=m) for m in marks]
    handles.append(Line2D([], [], color=PALETTE["reference"], ls=":", label="1 = no enrichment"))
    if np.isinf(odds_all).any():
        handles.append(
            Line2D(
                [],
                [],
                color="black",
                ls="",
                marker="^",
                ms=8,
                label=f"infinite (drawn at {OR_CAP:.0f},\nnot joined to the line)",
            )
        )
    handles += [
        Line2D(
            [],
            [],
            color="black",
            ls="",
            marker="$0$",
            ms=7,
            label="odds ratio 0: mark absent from\nthe top bins (grey row)",
        ),
        Line2D([], [], color="black", ls="", marker="x", mew=1.5, label="N/A: odds ratio undefined\n(grey row)"),
    ]
    fig.suptitle("B  enrichment vs attention threshold", x=0.01, ha="left", fontweight="bold")
    fig.tight_layout()
    axes[0, -1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.03, 1), fontsize=8, title="ENCODE mark")
    return fig


# --- CDT-III -----------------------------------------------------------------------------------------------------------


def ctcf_enrichment(
    tables: Mapping[str, pd.DataFrame], null: np.ndarray, observed: float, p_value: float, max_fold: float = 10.0
) -> Figure:
    """CDT-III Table 2/6: (A) CTCF enrichment per gene for each model, published values as dots;
    (B) permutation null of the mean enrichment vs the observed mean of the first model.

    A locus without a CTCF peak in its window has no enrichment (grey N/A column); a locus whose peaks all miss
    the top bins has enrichment 0 (a "0" over the empty bar); a locus the paper gives no value for says so in words
    (`NO_PUBLISHED`) where its published dot would be.
    """
    fig, (a, b) = plt.subplots(1, 2, figsize=(14, 5.2), gridspec_kw={"width_ratios": [3, 1]})
    first = next(iter(tables.values()))
    order = first.sort_values("enrichment", ascending=False, na_position="last")["gene"].tolist()
    width = 0.8 / len(tables)
    colours = shades("CDT", max(len(tables), 2))
    missing = np.zeros(len(order), bool)
    for i, (label, t) in enumerate(tables.items()):
        e = t.set_index("gene").reindex(order)["enrichment"].to_numpy(float)
        missing |= np.isnan(e)
        x = np.arange(len(order)) + (i - (len(tables) - 1) / 2) * width
        a.bar(x, np.nan_to_num(e), width, label=label, color=colours[i])
        for xi in x[e == 0]:
            a.text(xi, 0.1, "0", ha="center", va="bottom", fontsize=7, color=PALETTE["reference"])
    for j in np.flatnonzero(missing):
        a.axvspan(j - 0.45, j + 0.45, color=NA_COLOUR, lw=0, zorder=0)
        a.text(j, 0.1, "N/A", rotation=90, ha="center", va="bottom", fontsize=7, color=PALETTE["reference"])
    pub = first.set_index("gene").reindex(order)["published_enrichment"]
    a.scatter(np.arange(len(order)), pub, color=PALETTE["published"], zorder=3, s=20, label="published (CDT-III)")
    heights = np.nanmax(
        [np.nan_to_num(t.set_index("gene").reindex(order)["enrichment"].to_numpy(float)) for t in tables.values()],
        axis=0,
    )
    for j in np.flatnonzero(pub.isna().to_numpy()):
        room = heights[j] + 4.0 < max_fold  # the words above the bars, else over them on a white ground
        a.text(
            j,
            max(heights[j], 1.0) + 0.4 if room else 0.4,
            NO_PUBLISHED,
            rotation=90,
            ha="center",
            va="bottom",
            fontsize=7,
            color=PALETTE["reference"],
            bbox=None if room else {"facecolor": "white", "edgecolor": "none", "pad": 1},
        )
    a.axhline(1, color=PALETTE["reference"], ls="--", lw=0.8, label="1x = chance")
    a.axhline(2, color=PALETTE["reference"], ls=":", lw=0.8, label="2x, the paper's 'enriched' threshold")
    a.set_xticks(range(len(order)), order, rotation=90)
    a.set_xlim(-0.6, len(order) - 0.4)
    a.set_ylim(0, max_fold * 1.05)
    a.set(
        xlabel="TSS locus",
        ylabel=f"CTCF enrichment, fold (max {max_fold:g}x)",
        title="A  CTCF peaks in the top-10% attention bins",
    )
    handles, labels = a.get_legend_handles_labels()
    models = [h for h, lab in zip(handles, labels, strict=True) if lab in tables]
    handles = [*models, *(h for h, lab in zip(handles, labels, strict=True) if lab not in tables)]
    handles.insert(len(models) + 1, Patch(color=NA_COLOUR, label="N/A: no CTCF peak in the window"))
    b.hist(null, bins=30, color=PALETTE["baseline"])
    b.axvline(observed, color=PALETTE["CDT"], lw=2.5)
    b.set(
        xlabel="mean enrichment, random bin sets (fold)",
        ylabel="random draws",
        title=f"B  permutation null (P = {p_value:.3g})",
    )
    handles += [
        Patch(color=PALETTE["baseline"], label="B: random bin sets (null)"),
        Line2D([], [], color=PALETTE["CDT"], lw=2.5, label=f"B: observed mean, {next(iter(tables))} ({observed:.2f}x)"),
    ]
    fig.tight_layout()
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=4, fontsize=8, frameon=False)
    return fig


def hic_ratios(table: pd.DataFrame, test: Mapping[str, float], column: str = "ratio") -> Figure:
    """CDT-III Fig 3A/B: (A) top-20 over random-20 promoter contact per gene; (B) random vs top mean contact.

    `column` "ratio_off_diagonal" draws the variant that leaves out top bins in the promoter's own Hi-C bin (the
    diagonal of the map), and the title says so. A locus without a published ratio says so in words (`NO_PUBLISHED`)
    right of its bar; in B every point is named clear of the other points and names (`_label_points`).
    """
    off = column != "ratio"
    t = table.sort_values(column, ascending=True)
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, max(4.5, 0.22 * len(t) + 2.2)))
    above, below = shades("CDT", 2)
    a.barh(t["gene"], t[column], color=[above if r > 1 else below for r in t[column]])
    a.scatter(t["published_ratio"], t["gene"], color=PALETTE["published"], s=16, zorder=3, label="published (CDT-III)")
    unpublished = t["published_ratio"].isna().to_numpy()
    for y, value in zip(np.flatnonzero(unpublished), t[column].to_numpy(float)[unpublished], strict=True):
        a.text(max(value, 1.0) + 0.04, y, NO_PUBLISHED, fontsize=7, va="center", color=PALETTE["reference"])
    if unpublished.any():  # room for the words right of the longest unpublished bar
        a.set_xlim(0, max(a.get_xlim()[1], 1.8 * max(1.0, np.nanmax(t[column].to_numpy(float)[unpublished]))))
    a.axvline(1, color=PALETTE["reference"], ls="--", label="1 = no enrichment")
    a.set(
        xlabel="contact ratio (top 20 / random 20 bins)",
        ylabel="TSS locus",
        title="A  promoter contact of the top attention bins",
    )
    a.set_ylim(-0.6, len(t) - 0.4)
    handles, _ = a.get_legend_handles_labels()
    handles += [
        Patch(color=above, label="this run, ratio > 1"),
        Patch(color=below, label="this run, ratio ≤ 1"),
    ]
    stats = (
        f"mean ratio {test['mean_ratio']:.2f}x; {test['n_above_1']}/{test['n']} genes > 1; "
        f"P = {test['p_value']:.3f} (Wilcoxon, one-sided)"
    )
    top = "top_mean" if column == "ratio" else "top_mean_off_diagonal"
    rnd = "random_mean" if column == "ratio" else "random_mean_off_diagonal"
    xs, ys = table[rnd].to_numpy(float), table[top].to_numpy(float)
    b.scatter(xs, ys, color=PALETTE["CDT"], s=22, zorder=3)
    values = np.concatenate([xs, ys])
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    pad = 0.1 * (high - low)
    lo, hi = low - pad, high + pad
    b.plot([lo, hi], [lo, hi], color=PALETTE["reference"], ls="--")
    b.set(
        xlabel="mean balanced contact, 20 random bins",
        ylabel="mean balanced contact, top-20 attention bins",
        title="B  top vs random bins, per locus",
        xlim=(lo, hi),
        ylim=(lo, hi),
    )
    b.xaxis.set_major_locator(MaxNLocator(5))
    b.yaxis.set_major_locator(MaxNLocator(6))
    handles.append(Line2D([], [], color=PALETTE["reference"], ls="--", label="B: top = random"))
    what = (
        "top bins in the promoter's own Hi-C bin left out (off-diagonal contacts)"
        if off
        else "all top-20 attention bins"
    )
    fig.suptitle(f"Hi-C contact with the promoter: {what}", x=0.01, ha="left", fontweight="bold")
    fig.tight_layout()
    _label_points(b, xs, ys, table["gene"].tolist(), size=22)
    fig.legend(
        handles=handles,
        title=stats,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=3,
        fontsize=8,
        title_fontsize=9,
        frameon=False,
    )
    return fig


def genome_track(track: dict, title: str = "") -> Figure:
    """CDT-III Figs 7/8: attention / max with CTCF peak lines (dark when in the top 10%), the CTCF signal, and the
    planted elements when the track carries them. Legends sit to the right of the tracks."""
    has_el = "elements" in track
    fig, axes = plt.subplots(
        2 + has_el,
        1,
        figsize=(12, 4.8 + 0.8 * has_el),
        sharex=True,
        gridspec_kw={"height_ratios": [3, 1.2] + [0.7] * has_el},
    )
    bins, peaks = track["bins"], track["peaks"]
    a = axes[0]
    a.fill_between(bins["kb"], bins["attention"], color=PALETTE["CDT"], alpha=0.25, lw=0)
    a.plot(bins["kb"], bins["attention"], color=PALETTE["CDT"], lw=1)
    for p in peaks.itertuples():
        a.axvline(
            p.kb,
            color=MARK_COLOURS["CTCF"] if p.in_top else _CTCF_OUTSIDE,
            ls="-" if p.in_top else "--",
            lw=1.4,
        )
    a.axvline(0, color=PALETTE["reference"], ls=":", lw=1)
    handles = [
        Line2D([], [], color=PALETTE["CDT"], lw=1.5, label="cross-attention"),
        Line2D(
            [],
            [],
            color=MARK_COLOURS["CTCF"],
            lw=1.4,
            label=f"CTCF peak in the top-10%\nattention bins ({track['k']} of {track['n']})",
        ),
        Line2D([], [], color=_CTCF_OUTSIDE, ls="--", lw=1.4, label="CTCF peak outside the\ntop-10% bins"),
        Line2D([], [], color=PALETTE["reference"], ls=":", lw=1, label="TSS"),
    ]
    a.set_ylim(0, 1.05)
    a.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    a.set(
        ylabel="cross-attention\n(fraction of the maximum)",
        title=title or f"{track['locus']}: cross-attention and CTCF",
    )
    c = axes[1]
    width = (bins["kb"].max() - bins["kb"].min()) / 150  # a visible bar at any window size
    c.bar(
        peaks["kb"],
        peaks["signal_norm"],
        width=width,
        color=[MARK_COLOURS["CTCF"] if t else _CTCF_OUTSIDE for t in peaks["in_top"]],
    )
    c.set(ylabel="CTCF ChIP-seq\n(fraction of max)", ylim=(0, 1.1))
    if has_el:
        e = axes[2]
        _elements(e, track["elements"])
        e.set(yticks=[])
        e.set_ylabel("planted\nelements", rotation=0, ha="right", va="center")
        e.grid(False)
        e.legend(handles=_element_handles(), loc="upper left", bbox_to_anchor=(1.01, 1.1), fontsize=8)
    axes[-1].set_xlabel("kb from the TSS")
    axes[-1].set_xlim(bins["kb"].min() - 0.1, bins["kb"].max() + 0.1)
    fig.tight_layout()
    return fig


# --- CDT v1 ------------------------------------------------------------------------------------------------------------


def peak_distance(distances_bp: np.ndarray, summary: Mapping[str, float]) -> Figure:
    """CDT v1 Fig 3: signed distance of the attention peak from the enhancer, band at the (scaled) threshold."""
    half = summary["half_window_kb"]
    fig, ax = plt.subplots(figsize=(8.5, 4))
    w = summary["within_bp"] / 1e3
    ax.axvspan(
        -w,
        w,
        color=PALETTE["reference"],
        alpha=0.1,
        lw=0,
        label=f"within ±{w:.1f} kb (the paper's 50 kb, scaled\nto this window): {summary['frac_within']:.0%} of "
        f"peaks;\n{summary['uniform_frac_within']:.0%} for a uniformly random peak",
    )
    ax.hist(np.asarray(distances_bp) / 1e3, bins=np.linspace(-half, half, 31), color=PALETTE["CDT"], alpha=0.9)
    ax.axvline(0, color=PALETTE["reference"], ls="--", label="enhancer centre")
    ax.set(
        xlabel="attention peak − enhancer centre (kb)",
        ylabel="validation pairs",
        title=f"Attention peak vs enhancer: mean distance {summary['mean_abs_kb']:.1f} kb\n"
        f"(uniformly random peak: {summary['uniform_mean_abs_kb']:.1f} kb), n = {summary['n']} pairs",
    )
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # a count of pairs
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def attention_gradient_overlap(
    overlaps: np.ndarray, summary: Mapping[str, float], attention: np.ndarray, gradient: np.ndarray, bin_size: int
) -> Figure:
    """CDT v1 Fig 4: (A) overlap of top-k attention and top-k gradient bins; (B) the median-overlap sample."""
    k = int(summary["k"])
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 4.4))
    a.hist(overlaps, bins=np.arange(-0.5, k + 1.5), color=PALETTE["CDT"])
    a.axvline(summary["mean"], color=PALETTE["reference"], ls="--", label=f"mean {summary['mean']:.1f}")
    a.axvline(summary["chance"], color=PALETTE["reference"], ls=":", label=f"chance {summary['chance']:.1f}")
    a.set(
        xlabel=f"bins in both top-{k} sets (attention and gradient)",
        ylabel="validation pairs",
        title=f"A  top-{k} attention vs top-{k} gradient bins",
        xlim=(-0.5, k + 0.5),
    )
    a.xaxis.set_major_locator(MaxNLocator(integer=True))  # counts of bins
    a.yaxis.set_major_locator(MaxNLocator(integer=True))  # and of pairs
    a.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0, -0.2), ncol=2, frameon=False)
    centre = len(attention) // 2
    kb = (np.arange(len(attention)) - centre) * bin_size / 1e3
    ta, tg = np.argsort(-attention)[:k], np.argsort(-gradient)[:k]
    b.bar(kb[ta], 1, width=bin_size / 1e3, color=PALETTE["CDT"], bottom=0.05)
    b.bar(kb[tg], -1, width=bin_size / 1e3, color=PALETTE["gradient"], bottom=-0.05)
    b.axhline(0, color=PALETTE["reference"], lw=0.6)
    b.set_yticks([0.55, -0.55], [f"top {k}\nby attention", f"top {k}\nby gradient"])
    b.set(
        xlabel="kb from the enhancer centre",
        ylabel="bin set",
        xlim=(kb[0] - bin_size / 1e3, kb[-1] + bin_size / 1e3),
        ylim=(-1.15, 1.15),
        title=f"B  median-overlap pair: {len(np.intersect1d(ta, tg))} of {k} bins shared",
    )
    b.grid(axis="y", visible=False)
    fig.tight_layout()
    return fig


def _pair_words(pair: str) -> tuple[str, str]:
    """A pair id "<enhancer region or id>:<gene>" as (enhancer, gene)."""
    enhancer, _, gene = str(pair).rpartition(":")
    return enhancer, gene


def v1_case(
    attention: np.ndarray, gradient: np.ndarray, case: Mapping, bin_size: int, temperature: np.ndarray | None = None
) -> Figure:
    """CDT v1 Fig 5: (A) attention (temperature-sharpened), (B) gradient share, CTCF sites dashed; (C) the layout."""
    centre = len(attention) // 2
    kb = (np.arange(len(attention)) - centre) * bin_size / 1e3
    fig, axes = plt.subplots(3, 1, figsize=(11, 8.2), sharex=False, gridspec_kw={"height_ratios": [2, 2, 1]})
    a, b, c = axes
    shown = attention if temperature is None else temperature
    a.fill_between(kb, shown, color=PALETTE["CDT"], alpha=0.4, lw=0)
    a.axvline(case["attention_peak_kb"], color=PALETTE["CDT"], lw=1.5, label="attention peak")
    a.set(
        ylabel="attention share" + ("\n(sharpened for display)" if temperature is not None else ""),
        title=f"A  attention of the target gene over the DNA bins; peak "
        f"{case['attention_max_over_uniform']:.2f}x uniform (1 / number of bins)",
    )
    g = gradient / gradient.sum()
    b.fill_between(kb, g, color=PALETTE["gradient"], alpha=0.4, lw=0)
    b.axvline(case["gradient_peak_kb"], color=PALETTE["gradient"], lw=1.5, label="gradient peak")
    b.set(
        ylabel="gradient share\n(of the window total)",
        title="B  gradient of the prediction with respect to each DNA bin (norm)",
    )
    for ax in (a, b):
        for s in case["ctcf_kb"]:
            ax.axvline(s, color=MARK_COLOURS["CTCF"], ls="--", lw=1.2)
        ax.plot([], [], color=MARK_COLOURS["CTCF"], ls="--", lw=1.2, label="CTCF site")
        ax.axvline(0, color=PALETTE["reference"], ls=":", lw=0.8, label="enhancer centre")
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
        ax.set_xlim(kb[0], kb[-1])
        ax.set_ylim(bottom=0)
        ax.set_xlabel("kb from the enhancer centre")
    tss = case["tss_offset_kb"]  # NaN where the pairs carry no TSS (the authors' CDT v1 files)
    known = bool(np.isfinite(tss))
    lo, hi = (min(kb[0], tss) - 5, max(kb[-1], tss) + 5) if known else (kb[0] - 5, kb[-1] + 5)
    c.hlines(0, lo, hi, color=PALETTE["reference"])
    c.axvspan(kb[0], kb[-1], color="0.9", lw=0)
    c.plot([0], [0], "s", color=PALETTE["reference"], ms=9, label="enhancer")
    c.plot([case["attention_peak_kb"]], [0], "v", color=PALETTE["CDT"], ms=9, label="attention peak")
    c.plot([case["gradient_peak_kb"]], [0], "^", color=PALETTE["gradient"], ms=9, label="gradient peak")
    if known:
        c.annotate(
            f"TSS of target gene {case['target_gene']}",
            (tss, 0),
            xytext=(tss, 0.55),
            ha="center",
            fontsize=9,
            arrowprops={"arrowstyle": "->", "color": "black", "lw": 1.2},
        )
    c.set(
        xlim=(lo, hi),
        ylim=(-1, 1),
        yticks=[],
        xlabel="kb from the enhancer centre (grey: the model's DNA window)",
        title=f"C  layout: target TSS at {tss:+.1f} kb"
        if known
        else f"C  layout: {case['target_gene']} TSS not in the pairs file",
    )
    c.grid(axis="y", visible=False)
    c.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    enhancer, gene = _pair_words(case["pair"])
    beta = f"{case['beta']:.2f}".replace("-", "−")  # a minus sign, as in the other figures
    fig.suptitle(
        f"Strongest-effect validation pair: enhancer → target gene {gene} (effect size β = {beta})",
        x=0.01,
        ha="left",
        fontweight="bold",
    )
    fig.tight_layout()
    if enhancer:
        fig.text(0.01, 0.955, f"enhancer {enhancer}", fontsize=7, color=PALETTE["reference"], ha="left", va="top")
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
    distance (1 = what distance alone predicts). `highlight`: the pair id of the pair in A (orange in B, named by its
    target gene)."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 5.6))
    m = np.where(matrix > 0, matrix, np.nan)
    end = start + resolution * m.shape[0]
    cmap = plt.get_cmap(SEQUENTIAL).with_extremes(bad=NA_COLOUR)
    im = a.imshow(m, cmap=cmap, norm=LogNorm(), extent=(start / 1e6, end / 1e6, end / 1e6, start / 1e6))
    styles = {"enhancer": ":", "promoter": "--"}
    for name, pos in anchors.items():
        ls = styles.get(name, "-.")
        a.axvline(pos / 1e6, color=PALETTE["highlight"], ls=ls, lw=1.6, label=name)
        a.axhline(pos / 1e6, color=PALETTE["highlight"], ls=ls, lw=1.6)
    a.grid(False)
    handles, _ = a.get_legend_handles_labels()
    if np.isnan(m).any():
        handles.append(Patch(color=NA_COLOUR, label="no contact or masked bin"))
    a.legend(handles=handles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, frameon=False)
    fig.colorbar(im, ax=a, label="balanced contact (log scale)")
    chosen = pairs[pairs["pair"] == highlight] if highlight is not None and "pair" in pairs else pairs.iloc[:0]
    chrom = str(chosen["chrom"].iloc[0]) if len(chosen) and "chrom" in chosen else ""
    where = f"{chrom} position (Mb)" if chrom else "position (Mb)"
    a.set(xlabel=where, ylabel=where, title="A  contact map around the pair\n(the pair: where the lines cross)")
    ok = pairs[np.isfinite(pairs[kind])]
    b.scatter(ok["distance_kb"], ok[kind], color=PALETTE["CDT"], s=20, label="enhancer-promoter pair")
    if highlight is not None and highlight in set(ok["pair"]):
        h = ok[ok["pair"] == highlight]
        gene = str(h["target_gene"].iloc[0]) if "target_gene" in h else _pair_words(highlight)[1]
        b.scatter(
            h["distance_kb"],
            h[kind],
            color=PALETTE["highlight"],
            s=60,
            zorder=3,
            label=f"the pair in A (target gene {gene})",
        )
    b.axhline(1, color=PALETTE["reference"], ls="--", label="1 = what distance alone predicts")
    b.margins(0.08)  # no point on the frame
    b.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    b.set(
        xlabel="enhancer − promoter distance (kb)",
        ylabel="observed / expected contact",
        title=f"B  contact vs distance, {len(ok)} enhancer-promoter pairs",
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


TARGET_LABELS = {"open": "open chromatin"}
"""Words for the planted-element classes of `cdt.analyses.genome.element_truth` used as panel titles."""


def element_recovery(table: pd.DataFrame, metric: str = "auroc", title: str = "") -> Figure:
    """Recovery of planted elements: `metric` per score (bars, `bin_score_style` labels and colours) for each element
    class (panels, `TARGET_LABELS`), chance line."""
    targets = list(dict.fromkeys(table["target"]))
    methods = list(dict.fromkeys(table["method"]))
    model_scores = [m for m in methods if m not in BIN_SCORE_LABELS or m in ("attention", "gradient")]
    styles = [bin_score_style(m, rank=model_scores.index(m) if m in model_scores else 0) for m in methods]
    fig, axes = plt.subplots(1, len(targets), figsize=(2.9 * len(targets) + 1.2, 4.6), sharey=True, squeeze=False)
    for ax, t in zip(axes[0], targets, strict=True):
        sub = table[table["target"] == t].set_index("method").reindex(methods)
        ax.bar(range(len(methods)), sub[metric], color=[c for _, c in styles])
        chance = 0.5 if metric == "auroc" else (1.0 if metric == "top_fold" else float(sub["base_rate"].iloc[0]))
        ax.axhline(chance, color=PALETTE["reference"], ls="--", lw=0.8)
        ax.set_xticks(range(len(methods)), [label for label, _ in styles], rotation=60, ha="right", fontsize=8)
        ax.set_xlabel("bin score", fontsize=9)
        ax.set_title(f"{TARGET_LABELS.get(t, t)} (n = {int(sub['n_pos'].iloc[0])} bins)", fontsize=10)
    axes[0, 0].set_ylabel(
        {"auroc": "AUROC", "auprc": "AUPRC", "top_fold": "top-10% fold over base rate"}.get(metric, metric)
    )
    fig.suptitle(title or "Planted elements recovered by each bin score", x=0.01, ha="left", fontweight="bold")
    fig.tight_layout()
    axes[0, -1].legend(
        handles=[Line2D([], [], color=PALETTE["reference"], ls="--", lw=0.8, label="chance")],
        loc="upper left",
        bbox_to_anchor=(1.02, 1),
        fontsize=8,
    )
    return fig

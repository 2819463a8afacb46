"""Network figures: attention maps and the GFI1B network (CDT-II Figs 4A/4C/4D/4E, 5A, the gradient text claim,
CDT-III Table 5 maps, CDT v1 Fig 7) and the RNA-processing module (CDT-II Figs 5B, 5C).

Every function takes arrays or tables from `cdt.analyses.network` and returns a matplotlib Figure; saving is
`cdt.pl.save_figure`. Colours follow the palette of `cdt.pl`: attention maps in the sequential map, network roles,
gene-set libraries and the two modules in category colours, the knocked-down gene in the highlight colour,
gradient results in the gradient colour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd
from adjustText import adjust_text
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Patch
from matplotlib.ticker import MaxNLocator

from cdt.pl import CATEGORIES, PALETTE, SEQUENTIAL, category_colours, shades

__all__ = [
    "ROLE_COLOURS",
    "LIBRARY_COLOURS",
    "MAP_AXES",
    "MAP_TITLES",
    "MODULE_NAMES",
    "NETWORK_NAMES",
    "dna_self_layers",
    "per_head_top",
    "attention_heatmap",
    "cell_variation",
    "method_overlap",
    "hub_network",
    "gradient_scatter",
    "attention_maps_grid",
    "head_diversity",
    "enrichment_bars",
    "venn2",
    "module_recovery",
    "module_venn",
]

ROLES = ("downstream", "upstream", "bidirectional")
ROLE_COLOURS = {**category_colours(ROLES), "hub": PALETTE["highlight"]}
LIBRARY_COLOURS = category_colours(
    [
        "GO_Biological_Process",
        "GO_Molecular_Function",
        "GO_Cellular_Component",
        "KEGG",
        "Reactome",
        "MSigDB_Hallmark",
    ]
)
OTHER_LIBRARY = CATEGORIES[len(LIBRARY_COLOURS)]
MAP_TOKENS = {  # what one row (an attending query) and one column (an attended key) of each map is
    "dna_self_0": ("DNA bin", "DNA bin"),
    "dna_self_1": ("DNA bin", "DNA bin"),
    "rna_self_0": ("gene", "gene"),
    "dna_to_rna": ("gene", "DNA bin"),
    "protein_self_0": ("protein", "protein"),
    "rna_to_protein": ("protein", "gene"),
}
MAP_AXES = {name: (f"{q} (query)", f"{k} (key)") for name, (q, k) in MAP_TOKENS.items()}
MAP_UNITS = {name: (f"{q}s", f"{k}s") for name, (q, k) in MAP_TOKENS.items()}  # what the rows and columns count
MAP_TITLES = {
    "dna_self_0": "DNA self-attention, layer 1",
    "dna_self_1": "DNA self-attention, layer 2",
    "rna_self_0": "RNA self-attention",
    "dna_to_rna": "DNA→RNA cross-attention",
    "protein_self_0": "protein self-attention",
    "rna_to_protein": "RNA→protein cross-attention",
}
MODULE_NAMES = {
    "amino_acid_stress": "amino-acid stress",
    "cholesterol": "cholesterol synthesis",
    "gfi1b_targets": "GFI1B targets",
    "interferon": "interferon response",
    "rna_processing": "RNA processing",
}
"""Planted (simulated) module names in words, for figure labels."""
NETWORK_NAMES = {
    "self": "RNA self-attention",
    "cross": "DNA→RNA cross-attention",
    "correlation": "expression correlation\n(no model)",
}
"""The gene networks of notebook 04 in words, for figure labels."""
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _library_colour(library: str) -> str:
    return next((c for prefix, c in LIBRARY_COLOURS.items() if str(library).startswith(prefix)), OTHER_LIBRARY)


def _words(name: str, names: Mapping[str, str]) -> str:
    """A code name in words: from `names`, else with underscores as spaces."""
    return names.get(str(name), str(name).replace("_", " "))


def _scale(values) -> tuple[float, str]:
    """A power of ten that brings small positive values to between 1 and 1000, and its label suffix
    (" (×10⁻⁴)"), so an axis states its scale in the label instead of an offset text in the corner."""
    top = float(np.nanmax(np.abs(np.asarray(values, dtype=float)))) if np.size(values) else 0.0
    if not np.isfinite(top) or top == 0 or top >= 1e-2:
        return 1.0, ""
    e = int(np.floor(np.log10(top)))
    return 10.0**-e, f" (×10{str(e).translate(_SUPERSCRIPT)})"


def _inside(lo: float, hi: float, n: int = 5) -> list[float]:
    """About `n` round ticks between `lo` and `hi`, none beyond them (a locator's ticks past an axis' end are laid
    out, unseen, over the neighbouring panels and labels)."""
    return [float(t) for t in MaxNLocator(n).tick_values(lo, hi) if lo - 1e-12 <= t <= hi + 1e-12]


def _colorbar(fig: Figure, im, ax, label: str, **kwargs):
    """A labelled colour bar with its ticks inside its range (`_inside`)."""
    cb = fig.colorbar(im, ax=ax, **kwargs)
    cb.set_label(label, labelpad=6)
    cb.set_ticks(_inside(*im.get_clim()))
    return cb


def _index_ticks(ax, n_rows: int, n_cols: int) -> None:
    """Integer ticks inside a heat map of `n_rows` x `n_cols` cells; a locator's ticks beyond the map's edges would
    otherwise be laid out (unseen) over the neighbouring panels."""
    for set_ticks, size in ((ax.set_yticks, n_rows), (ax.set_xticks, n_cols)):
        ticks = MaxNLocator(5, integer=True).tick_values(0, size - 1)
        set_ticks([int(t) for t in ticks if 0 <= t <= size - 1])


def dna_self_layers(layers: Mapping[str, np.ndarray], gene: str) -> Figure:
    """Fig 4A: head-averaged DNA self-attention per layer (query x key bins) on one linear, sequential colour scale
    shared by the layers, from the 1st to the 99th percentile of both (the authors drew each layer in a rainbow map
    with a power norm; one linear scale lets the layers be compared and keeps the colour bar's ticks even)."""
    values = np.concatenate([np.ravel(a) for a in layers.values()])
    vmin, vmax = float(np.percentile(values, 1)), float(np.percentile(values, 99))
    vmax = vmax if vmax > vmin else vmin + (float(values.max()) - vmin or 1.0)
    fig, axes = plt.subplots(
        1, len(layers), figsize=(5.0 * len(layers) + 1.2, 4.6), squeeze=False, layout="constrained"
    )
    for ax, (name, a) in zip(axes[0], layers.items(), strict=True):
        im = ax.imshow(a, cmap=SEQUENTIAL, vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest")
        ax.set(title=f"layer {int(name.rsplit('_', 1)[1]) + 1}", xlabel="key bin", ylabel="query bin")
        _index_ticks(ax, *a.shape)
        ax.grid(False)
    cb = _colorbar(
        fig,
        im,
        list(axes[0]),
        "attention weight, mean of heads\n(linear; both layers, 1st–99th percentile;\nwhite line: uniform attention, 1 / number of bins)",
        fraction=0.04,
        pad=0.02,
    )
    uniform = 1.0 / next(iter(layers.values())).shape[-1]
    if vmin <= uniform <= vmax:
        cb.ax.axhline(uniform, color="white", lw=2)
    fig.suptitle(f"DNA self-attention at the {gene} TSS window")
    return fig


def per_head_top(table: pd.DataFrame, query: str) -> Figure:
    """Fig 4C: one panel per head (counted from 1), the keys the query gene attends to most (largest on top), in the
    CDT colour with the query itself (its self-attention) in the highlight colour (`cdt.pl.PALETTE`)."""
    heads = sorted(table["head"].unique())
    ncol = min(4, len(heads))
    nrow = int(np.ceil(len(heads) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.4 * ncol, 3.6 * nrow), squeeze=False)
    for ax, h in zip(axes.flat, heads, strict=False):
        part = table[table["head"] == h].sort_values("rank", ascending=False)
        colours = [PALETTE["highlight"] if g == query else PALETTE["CDT"] for g in part["gene"]]
        ax.barh(part["gene"], part["attention"], color=colours)
        ax.set(title=f"head {int(h) + 1}", xlabel="attention weight", ylabel="gene (key)")
        top = float(part["attention"].max()) * 1.08
        ax.set_xlim(0, top)
        ax.set_xticks(_inside(0, top, 3))
        ax.tick_params(axis="y", labelsize=8)
    for ax in axes.flat[len(heads) :]:
        ax.axis("off")
    fig.suptitle(f"{query} RNA self-attention: the genes it attends to most, per head")
    fig.tight_layout()
    return fig


def attention_heatmap(sub: pd.DataFrame, query: str) -> Figure:
    """Fig 4D: head-mean RNA self-attention among the query's top genes in the sequential map; the query's row and
    column framed in the highlight colour."""
    n = len(sub)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.3 * n + 2.5), max(5.0, 0.27 * n + 1.8)))
    im = ax.imshow(sub.to_numpy(), cmap=SEQUENTIAL, aspect="auto", interpolation="nearest")
    ax.set_xticks(range(n), sub.columns, rotation=90, fontsize=7)
    ax.set_yticks(range(n), sub.index, fontsize=7)
    ax.grid(False)
    q = list(sub.index).index(query)
    for lo in (q - 0.5, q + 0.5):
        ax.axhline(lo, color=PALETTE["highlight"], lw=1.5)
        ax.axvline(lo, color=PALETTE["highlight"], lw=1.5)
    ax.set(
        xlabel="target gene (key)",
        ylabel="source gene (query)",
        title=f"RNA self-attention around {query} (mean of heads and cells)",
    )
    _colorbar(fig, im, ax, "attention weight")
    fig.tight_layout()
    return fig


def cell_variation(
    corr: pd.DataFrame,
    variable: pd.Series,
    summary: Mapping[str, float],
    query: str,
    published_mean: float | None = None,
) -> Figure:
    """Fig 4E: cell-to-cell Pearson r of the query's attention rows (left) and the most variable genes (right)."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(12.5, 4.8), gridspec_kw={"width_ratios": [1.1, 1]})
    im = a.imshow(corr.to_numpy(), cmap=SEQUENTIAL, vmin=min(0.0, float(corr.to_numpy().min())), vmax=1)
    a.grid(False)
    a.set(xlabel="cell", ylabel="cell", xticks=[], yticks=[])
    pub = f"; published {published_mean:.2f}" if published_mean is not None else ""
    a.set_title(
        f"{query} attention row, {len(corr)} cells\nmean r = {summary['mean']:.2f} (min {summary['min']:.2f}){pub}"
    )
    _colorbar(fig, im, a, "Pearson r between two cells' rows", fraction=0.046, pad=0.04)
    v = variable.iloc[::-1]
    factor, suffix = _scale(v.to_numpy())
    b.barh(v.index, v.to_numpy() * factor, color=PALETTE["CDT"])
    b.set(
        xlabel=f"variance of the attention weight across cells{suffix}",
        ylabel="target gene (key)",
        title="targets whose attention varies most",
    )
    b.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return fig


def method_overlap(table: pd.DataFrame, query: str, published_fold: float | None = None) -> Figure:
    """The top-N overlap with the observed effect per ranking method: fold enrichment, with the shared genes and P
    under each method's name (so no line crosses them); with truth columns a second panel shows the share of true
    targets in each top-N against the share among all genes."""
    truth = "true_downstream_share" in table
    fig, axes = plt.subplots(1, 2 if truth else 1, figsize=(13 if truth else 7, 4.6), squeeze=False)
    a = axes[0, 0]
    y = np.arange(len(table))
    n = int(table["n"].iloc[0])
    a.barh(
        y,
        table["fold"],
        color=[PALETTE["CDT"] if m.startswith("attention") else PALETTE["baseline"] for m in table["method"]],
    )
    a.axvline(1, color=PALETTE["reference"], lw=0.9, ls=":", label="1 = chance")
    if published_fold is not None:
        a.axvline(published_fold, color=PALETTE["published"], ls="--", lw=1, label=f"published {published_fold}-fold")
    names = [f"{row.label}\n{row.overlap} of {n} shared, P = {row.p_value:.1e}" for row in table.itertuples()]
    a.set_yticks(y, names, fontsize=8)
    a.invert_yaxis()
    a.set(
        xlabel=f"fold enrichment over chance: the {n} most changed genes\nin the method's top {n}",
        ylabel="ranking of the genes",
        title=f"{query}: which ranking finds the most changed genes",
    )
    a.set_xlim(0, max(float(table["fold"].max()), published_fold or 0) * 1.15 + 0.5)
    a.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2, fontsize=8, frameon=False)
    if truth:
        b = axes[0, 1]
        w = 0.38
        light = shades("truth", 2)[1]
        b.barh(y - w / 2, table["true_target_share"], w, color=PALETTE["truth"], label="direct targets")
        b.barh(y + w / 2, table["true_downstream_share"], w, color=light, label="any downstream gene")
        b.axvline(float(table["true_target_base"].iloc[0]), color=PALETTE["truth"], ls=":", lw=1.2)
        b.axvline(float(table["true_downstream_base"].iloc[0]), color=light, ls=":", lw=1.2)
        b.set_yticks(y, [""] * len(y))
        b.invert_yaxis()
        b.set(xlabel=f"share of the method's top {n} that are planted", title="simulated truth", xlim=(0, 1))
        handles, _ = b.get_legend_handles_labels()
        handles.append(Line2D([], [], color=PALETTE["reference"], ls=":", lw=1.2, label="share among all genes"))
        b.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=3, fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def _node_sizes(fig: Figure, labels: Sequence[str], font_size: float, minimum: float) -> list[float]:
    """Marker areas (points²) of round nodes whose bold `labels` fit inside them: the text's width plus a margin."""
    renderer = fig.canvas.get_renderer()
    font = FontProperties(size=font_size, weight="bold")
    px_to_pt = 72.0 / fig.dpi
    sizes = []
    for label in labels:
        w, _, _ = renderer.get_text_width_height_descent(str(label), font, ismath=False)
        sizes.append(max(minimum, w * px_to_pt + 0.9 * font_size) ** 2)
    return sizes


def hub_network(graph: nx.DiGraph, counts: Mapping[str, int], query: str) -> Figure:
    """Fig 5A: the query as hub (highlight colour), shown partners on a circle (grouped by role, strongest first) in
    role colours (`ROLE_COLOURS`, category colours); edges from the query to downstream genes and from upstream genes
    to it in the colour of that role, width by weight within each direction; every name inside its node. A second
    legend says what the widths encode (attention weight, from 0 to the strongest arrow of each direction) and that
    a node's size only fits its name."""
    others = [n for n in graph.nodes if n != query]
    role = nx.get_node_attributes(graph, "role")
    order = {r: i for i, r in enumerate(("downstream", "bidirectional", "upstream"))}
    strength = {
        n: sum(d["weight"] for *_, d in graph.edges(n, data=True))
        + sum(d["weight"] for *_, d in graph.in_edges(n, data=True))
        for n in others
    }
    others.sort(key=lambda n: (order[role[n]], -strength[n]))
    angles = 2 * np.pi * np.arange(len(others)) / max(len(others), 1) + np.pi / 2
    pos = {query: (0.0, 0.0), **{n: (np.cos(t), np.sin(t)) for n, t in zip(others, angles, strict=True)}}
    fig, ax = plt.subplots(figsize=(8.5, 9.2))
    font = 7.5
    sizes = _node_sizes(fig, others, font, minimum=30)
    hub_size = _node_sizes(fig, [query], 12, minimum=50)[0]
    strongest = {}  # direction -> the largest attention weight, drawn at the widest arrow
    for direction, colour, rad in (("out", ROLE_COLOURS["downstream"], 0.1), ("in", ROLE_COLOURS["upstream"], -0.1)):
        edges = list(graph.out_edges(query, data=True) if direction == "out" else graph.in_edges(query, data=True))
        if not edges:
            continue
        wmax = max(d["weight"] for *_, d in edges) or 1.0
        strongest[direction] = wmax
        nx.draw_networkx_edges(
            graph,
            pos,
            edgelist=[(u, v) for u, v, _ in edges],
            ax=ax,
            edge_color=colour,
            width=[1 + 5 * d["weight"] / wmax for *_, d in edges],
            alpha=0.7,
            arrowstyle="-|>",
            arrowsize=16,
            connectionstyle=f"arc3,rad={rad}",
            nodelist=[query, *others],
            node_size=[hub_size, *sizes],
        )
    nx.draw_networkx_nodes(
        graph,
        pos,
        nodelist=others,
        node_color=[ROLE_COLOURS[role[n]] for n in others],
        node_size=sizes,
        edgecolors="white",
        linewidths=1.5,
        ax=ax,
    )
    nx.draw_networkx_nodes(
        graph,
        pos,
        nodelist=[query],
        node_color=ROLE_COLOURS["hub"],
        node_size=hub_size,
        edgecolors="white",
        linewidths=2,
        ax=ax,
    )
    nx.draw_networkx_labels(
        graph, pos, labels={n: n for n in others}, font_size=font, font_weight="bold", font_color="white", ax=ax
    )
    nx.draw_networkx_labels(graph, pos, labels={query: query}, font_size=12, font_weight="bold", ax=ax)
    words = {
        "downstream": f"downstream ({query} attends to the gene)",
        "upstream": f"upstream (the gene attends to {query})",
        "bidirectional": "bidirectional (both)",
    }
    handles = [Patch(color=ROLE_COLOURS["hub"], label=f"{query}, the knocked-down gene (hub)")] + [
        Patch(color=ROLE_COLOURS[r], label=f"{words[r]}: {counts.get(r, 0)} gene{'' if counts.get(r, 0) == 1 else 's'}")
        for r in ROLES
    ]
    arrow_words = {"out": f"{query} → gene", "in": f"gene → {query}"}
    widths = [Line2D([], [], color=PALETTE["reference"], lw=1, label="0 (thinnest)")] + [
        Line2D(
            [],
            [],
            color=ROLE_COLOURS["downstream" if d == "out" else "upstream"],
            lw=6,
            alpha=0.7,
            label=f"{w:.3g}, the strongest {arrow_words[d]}",
        )
        for d, w in strongest.items()
    ]
    widths_legend = ax.legend(
        handles=widths,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.13),
        ncol=len(widths),
        fontsize=9,
        frameon=False,
        title="arrow width: attention weight, linear from 0 to the strongest arrow of each direction\n"
        "(circle size has no meaning: each circle is just large enough for its gene's name)",
        title_fontsize=9,
    )
    ax.add_artist(widths_legend)  # kept: the roles legend (ax.legend) would otherwise replace it
    widths_legend.set_clip_on(False)  # add_artist clips to the axes; this legend lies below them
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=2,
        fontsize=9,
        frameon=False,
        title="partner role (number of genes with it in the whole network)",
        title_fontsize=9,
    )
    ax.set_title(
        f"{query} subnetwork from RNA self-attention (top 5% of its row / column):\n"
        f"the {len(others)} strongest partners"
    )
    xy = np.array(list(pos.values()))
    ax.set_xlim(xy[:, 0].min() - 0.2, xy[:, 0].max() + 0.2)  # the drawing fills the panel: no empty band
    ax.set_ylim(xy[:, 1].min() - 0.2, xy[:, 1].max() + 0.2)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.tight_layout()
    return fig


def gradient_scatter(
    scores: pd.DataFrame, query: str, r: float, highlight: Sequence[str] = (), n_label: int = 8
) -> Figure:
    """Gradient importance of each input gene vs the observed |effect| on that gene (CDT-II Fig 8A; paper/METHODS.md,
    'CDT-II: GFI1B network'), in the gradient colour: all genes light, the top genes by gradient importance dark and
    named (`adjustText`, so no two names overlap); the query a star in the highlight colour; the legend beside."""
    x, y = scores["effect"].to_numpy(), scores["gradient_importance"].to_numpy()
    factor, suffix = _scale(y)
    y = y * factor
    dark, light = shades("gradient", 2)
    fig, ax = plt.subplots(figsize=(8.4, 5.8))
    ax.scatter(x, y, s=12, color=light, alpha=0.6, rasterized=True, label=f"genes (n = {len(scores)})")
    slope, icpt = np.polyfit(x, y, 1)
    grid = np.linspace(0, 1.05 * x.max(), 50)
    ax.plot(grid, icpt + slope * grid, ls="--", color=PALETTE["reference"], alpha=0.7, label="least-squares line")
    top = scores["gradient_importance"].nlargest(n_label).index
    ax.scatter(
        scores.loc[top, "effect"],
        scores.loc[top, "gradient_importance"] * factor,
        s=36,
        color=dark,
        edgecolors="k",
        linewidths=0.5,
        label=f"the {len(top)} largest gradient importances",
        zorder=3,
    )
    ax.set_xlim(0, 1.08 * float(x.max()))
    ax.set_ylim(0, 1.12 * float(y.max()))
    tx, ty = scores.loc[top, "effect"].to_numpy(), scores.loc[top, "gradient_importance"].to_numpy() * factor
    names = [ax.text(a, b, g, fontsize=7) for a, b, g in zip(tx, ty, top, strict=True)]
    for g in highlight:
        if g in scores.index:
            ax.scatter(
                scores.loc[g, "effect"],
                scores.loc[g, "gradient_importance"] * factor,
                marker="*",
                s=260,
                color=PALETTE["highlight"],
                edgecolors="k",
                linewidths=0.6,
                zorder=4,
                label=f"{g} (the knocked-down gene)",
            )
    ax.set_xlabel(f"observed |mean log2 fold change| upon {query} knockdown")
    ax.set_ylabel(  # the output and the input of the derivative in words (`cdt.gradients.Jacobian.importance`)
        f"gradient importance{suffix}: mean over the genes\nmost changed by {query} knockdown of\n"
        "|∂ their predicted log2 fold change /\n∂ this gene's input expression|",
        fontsize=10,
    )
    ax.set_title(f"{query}: gradients vs observed effect, Pearson r = {r:.2f}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    fig.tight_layout()
    adjust_text(  # names off each other and off every point (not only the named ones), a grey line to their point
        names,
        x=np.concatenate([x[np.isfinite(x) & np.isfinite(y)], tx]),
        y=np.concatenate([y[np.isfinite(x) & np.isfinite(y)], ty]),
        target_x=tx,
        target_y=ty,
        ax=ax,
        expand=(1.4, 1.8),
        force_static=(0.3, 0.5),
        min_arrow_len=0,
        arrowprops={"arrowstyle": "-", "color": "0.4", "lw": 0.6},
    )
    return fig


def _extent(shown: int, total: int, unit: str) -> str:
    return f"{total:,} {unit}" if shown == total else f"first {shown:,} of {total:,} {unit}"


def attention_maps_grid(maps: Mapping[str, np.ndarray], gene: str, max_genes: int = 100) -> Figure:
    """CDT-III's attention-map panels (Table 5): each head-mean map as a heat map in the sequential map, gene axes cut
    to the first `max_genes` as the authors did (each title says how much of the map is shown); DNA maps capped at
    their 99th percentile."""
    n = len(maps)
    ncol = min(3, n)
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.3 * ncol, 4.6 * nrow), squeeze=False)
    for ax, (name, a) in zip(axes.flat, maps.items(), strict=False):
        shown = a
        if name in ("rna_self_0", "dna_to_rna"):
            shown = a[:max_genes] if name == "dna_to_rna" else a[:max_genes, :max_genes]
        vmax = float(np.percentile(shown, 99)) if name.startswith("dna_self") else None
        im = ax.imshow(shown, cmap=SEQUENTIAL, aspect="auto", interpolation="nearest", vmin=0, vmax=vmax)
        ax.grid(False)
        _index_ticks(ax, *shown.shape)
        rows, cols = MAP_UNITS.get(name, ("queries", "keys"))
        size = f"{_extent(shown.shape[0], a.shape[0], rows)} x {_extent(shown.shape[1], a.shape[1], cols)}"
        ax.set_title(f"{MAP_TITLES.get(name, name)}\n{size}", fontsize=10)
        rows, cols = MAP_AXES.get(name, ("query", "key"))
        ax.set(ylabel=rows, xlabel=cols)
        capped = "\n(capped at the 99th percentile)" if vmax is not None else ""
        _colorbar(fig, im, ax, f"mean attention weight{capped}", fraction=0.046, pad=0.04)
    for ax in axes.flat[n:]:
        ax.axis("off")
    fig.suptitle(f"CDT-III attention maps: mean over heads and {gene}-knockdown cells")
    fig.tight_layout()
    return fig


def head_diversity(values: np.ndarray, heads: pd.DataFrame, layer: int, title: str = "") -> Figure:
    """CDT v1 Fig 7: chosen heads of one DNA self-attention layer [H, L, L], concentrated to diffuse (`pick_heads`),
    each with its colour bar; heads and layers counted from 1. Each panel says over how many bins a query spreads
    its attention: exp of the mean entropy of a query's attention row (L for uniform attention, 1 for one bin)."""
    n = len(heads)
    size = values.shape[-1]
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n, 4.9), squeeze=False)
    for ax, row in zip(axes[0], heads.itertuples(), strict=True):
        a = values[int(row.head)]
        vmax = float(np.percentile(a, 99)) or float(a.max()) or 1.0
        im = ax.imshow(a, cmap=SEQUENTIAL, vmin=0, vmax=vmax, interpolation="nearest")
        ax.grid(False)
        _index_ticks(ax, *a.shape)
        ax.set(
            title=f"head {int(row.head) + 1}\nspread over {row.row_effective_positions:.0f} of {size} bins",
            xlabel="key bin",
            ylabel="query bin",
        )
        _colorbar(fig, im, ax, "attention weight\n(capped at the 99th percentile)", fraction=0.046, pad=0.04)
    fig.suptitle(
        f"DNA self-attention, layer {layer + 1}: heads from concentrated to diffuse{title}\n"
        f"spread = exp(entropy of a query's attention), averaged over queries: {size} bins when uniform, 1 when on one"
    )
    fig.tight_layout()
    return fig


def enrichment_bars(panels: Mapping[str, pd.DataFrame]) -> Figure:
    """Fig 5B: per community, its most significant terms as -log10 adjusted P, coloured by library (category
    colours); each value on a white ground so the P = 0.05 line never runs through it."""
    fig, axes = plt.subplots(1, len(panels), figsize=(7.6 * len(panels), 4.8), squeeze=False)
    libs = set()
    for ax, (title, t) in zip(axes[0], panels.items(), strict=True):
        t = t.iloc[::-1]
        libs |= set(t["Library"])
        ax.barh(
            [f"{n} [{o}]" for n, o in zip(t["name"], t["Overlap"], strict=True)],
            t["minus_log10_adj_p"],
            color=[_library_colour(lib) for lib in t["Library"]],
        )
        for i, v in enumerate(t["minus_log10_adj_p"]):
            ax.text(
                v, i, f" {v:.1f}", va="center", fontsize=8, zorder=4, bbox={"fc": "white", "ec": "none", "pad": 0.3}
            )
        ax.axvline(-np.log10(0.05), color=PALETTE["reference"], ls=":", lw=0.9)
        top = max(float(t["minus_log10_adj_p"].max()), -np.log10(0.05))
        ax.set_xlim(0, top * 1.22)
        ax.set(title=title, xlabel="-log10 (adjusted P)", ylabel="term [genes in module / genes in term]")
        ax.tick_params(axis="y", labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
    handles = [
        Patch(color=c, label=p.replace("_", " ").replace("GO ", "GO: "))
        for p, c in LIBRARY_COLOURS.items()
        if any(lib.startswith(p) for lib in libs)
    ]
    if any(_library_colour(lib) == OTHER_LIBRARY for lib in libs):
        handles.append(Patch(color=OTHER_LIBRARY, label="other library"))
    handles.append(Line2D([], [], color=PALETTE["reference"], ls=":", lw=0.9, label="adjusted P = 0.05"))
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 4), fontsize=8, bbox_to_anchor=(0.5, -0.04))
    fig.suptitle("Gene-set enrichment of modules C1 and C3, one community of each attention network")
    fig.tight_layout(rect=(0, 0.1, 1, 1), w_pad=3)
    return fig


def venn2(n_a: int, n_b: int, shared: int, labels: tuple[str, str], note: str = "") -> Figure:
    """Fig 5C: two circles with area proportional to set size, in category colours, and the counts of each region;
    the sets are named in a legend below the circles, so no name lies on a circle."""
    ra, rb = np.sqrt(n_a / np.pi), np.sqrt(n_b / np.pi)
    # centre distance giving roughly the right lens area: linear between full containment and tangency
    frac = shared / max(min(n_a, n_b), 1)
    d = (ra + rb) - frac * (ra + rb - abs(ra - rb))
    colours = list(category_colours(labels).values())
    fig, ax = plt.subplots(figsize=(7, 5.6))
    for (x, r), colour, label in zip(((0, ra), (d, rb)), colours, labels, strict=True):
        ax.add_patch(Circle((x, 0), r, fc=colour, alpha=0.3, lw=2, ec=colour, label=label))
    ax.text(-ra * 0.45, 0, f"{n_a - shared}", ha="center", va="center", fontsize=14)
    ax.text(
        (d - rb + ra) / 2 if frac < 1 else d, 0, f"{shared}", ha="center", va="center", fontsize=14, fontweight="bold"
    )
    if n_b - shared:
        ax.text(d + rb * 0.6, 0, f"{n_b - shared}", ha="center", va="center", fontsize=12)
    ax.set_xlim(-ra * 1.1, max(ra, d + rb) * 1.1)
    ax.set_ylim(-max(ra, rb) * 1.1, max(ra, rb) * 1.1)
    ax.set_aspect("equal")
    ax.set(xticks=[], yticks=[])  # no (unseen) tick labels under the data mark
    ax.axis("off")
    fig.legend(  # a figure legend: the layout check reads an axis' patches as bars, which circles are not
        handles=[Patch(fc=c, ec=c, alpha=0.5, label=lab) for c, lab in zip(colours, labels, strict=True)],
        loc="lower center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=1,
        fontsize=10,
        frameon=False,
    )
    ax.set_title(note, fontsize=10)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    return fig


def module_recovery(table: pd.DataFrame) -> Figure:
    """Simulated data: Jaccard index of each planted module with its best-matching community, per network, in the
    sequential map (green is kept for the planted truth itself); modules and networks named in words."""
    wide = table.pivot(index="module", columns="network", values="jaccard")
    wide = wide[[c for c in NETWORK_NAMES if c in wide] + [c for c in wide if c not in NETWORK_NAMES]]
    fig, ax = plt.subplots(figsize=(2.0 * wide.shape[1] + 3.6, 0.5 * wide.shape[0] + 2.4))
    im = ax.imshow(wide.to_numpy(), cmap=SEQUENTIAL, vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(wide.shape[1]), [_words(c, NETWORK_NAMES) for c in wide.columns], fontsize=9)
    ax.set_yticks(range(wide.shape[0]), [_words(m, MODULE_NAMES) for m in wide.index])
    ax.grid(False)
    for (i, j), v in np.ndenumerate(wide.to_numpy()):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=9, color="black" if v > 0.6 else "white")
    ax.set(
        xlabel="gene network the communities come from",
        ylabel="planted module",
        title="Planted modules recovered by the best-matching community",
    )
    _colorbar(fig, im, ax, "Jaccard index, module vs community")
    fig.tight_layout()
    return fig


def module_venn(table: pd.DataFrame) -> Figure:
    """Fig 5C from the one-row table of `cdt.analyses.network.module_venn`: C1 and C3 as circles (`venn2`), titled
    first with the two gene sets compared, then the shared genes, their share of C3, the fold over the expected
    overlap and the hypergeometric P."""
    v = table.iloc[0]
    c1, c3, k = int(v["c1"]), int(v["c3"]), int(v["shared"])
    return venn2(
        c1,
        c3,
        k,
        (
            f"module C1 of the RNA self-attention network ({c1} genes)",
            f"module C3 of the DNA→RNA cross-attention network ({c3} genes)",
        ),
        note="Genes shared by module C1 (RNA self-attention network)\nand module C3 (DNA→RNA cross-attention network)\n"
        f"{k} shared ({v['share_of_c3']:.0%} of C3): {v['fold']:.1f}-fold over {v['expected']:.1f} expected, "
        f"P = {v['p_value']:.1e}",
    )

"""Network figures: attention maps and the GFI1B network (CDT-II Figs 4A/4C/4D/4E, 5A, the gradient text claim,
CDT-III Table 5 maps, CDT v1 Fig 7) and the RNA-processing module (CDT-II Figs 5B, 5C).

Every function takes arrays or tables from `cdt.analyses.network` and returns a matplotlib Figure; saving is
`cdt.pl.save_figure`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Patch

from cdt.pl import PALETTE

__all__ = [
    "ROLE_COLOURS",
    "LIBRARY_COLOURS",
    "MAP_AXES",
    "MAP_TITLES",
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

ROLE_COLOURS = {"hub": "#000000", "downstream": "#3498db", "upstream": "#e67e22", "bidirectional": "#9b59b6"}
LIBRARY_COLOURS = {
    "GO_Biological_Process": "#16a085",
    "GO_Molecular_Function": "#e67e22",
    "GO_Cellular_Component": "#9b59b6",
    "KEGG": "#27ae60",
    "Reactome": "#3498db",
    "MSigDB_Hallmark": "#34495e",
}
MAP_AXES = {  # (rows: the attending query, columns: the attended key)
    "dna_self_0": ("DNA bin (query)", "DNA bin (key)"),
    "dna_self_1": ("DNA bin (query)", "DNA bin (key)"),
    "rna_self_0": ("gene (query)", "gene (key)"),
    "dna_to_rna": ("gene (query)", "DNA bin (key)"),
    "protein_self_0": ("protein (query)", "protein (key)"),
    "rna_to_protein": ("protein (query)", "gene (key)"),
}
MAP_TITLES = {
    "dna_self_0": "DNA self-attention L0",
    "dna_self_1": "DNA self-attention L1",
    "rna_self_0": "RNA self-attention",
    "dna_to_rna": "DNA->RNA cross-attention",
    "protein_self_0": "protein self-attention",
    "rna_to_protein": "RNA->protein cross-attention",
}


def _library_colour(library: str) -> str:
    return next((c for prefix, c in LIBRARY_COLOURS.items() if str(library).startswith(prefix)), "#7f8c8d")


def dna_self_layers(layers: Mapping[str, np.ndarray], gene: str) -> Figure:
    """Fig 4A: head-averaged DNA self-attention per layer (query x key bins), turbo with a 0.4 power norm up to each
    layer's 97th percentile as the authors drew it; the lower end is the 1st percentile rather than their 0, so a
    near-uniform map still shows its structure."""
    fig, axes = plt.subplots(1, len(layers), figsize=(5.2 * len(layers), 4.4), squeeze=False)
    for ax, (name, a) in zip(axes[0], layers.items(), strict=True):
        vmin, vmax = float(np.percentile(a, 1)), float(np.percentile(a, 97))
        vmax = vmax if vmax > vmin else vmin + (float(a.max()) - vmin or 1.0)
        im = ax.imshow(
            a, cmap="turbo", norm=PowerNorm(0.4, vmin=vmin, vmax=vmax), aspect="auto", interpolation="nearest"
        )
        ax.set(title=f"Layer {int(name.rsplit('_', 1)[1]) + 1} (head mean)", xlabel="key bin", ylabel="query bin")
        ax.grid(False)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="attention")
    fig.suptitle(f"DNA self-attention at the {gene} TSS window")
    fig.tight_layout()
    return fig


def per_head_top(table: pd.DataFrame, query: str) -> Figure:
    """Fig 4C: one panel per head, the keys the query gene attends to most (largest on top), in the CDT colour with
    the query itself (its self-attention) in the highlight colour (`cdt.pl.PALETTE`)."""
    heads = sorted(table["head"].unique())
    ncol = min(4, len(heads))
    nrow = int(np.ceil(len(heads) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.6 * nrow), squeeze=False)
    for ax, h in zip(axes.flat, heads, strict=False):
        part = table[table["head"] == h].sort_values("rank", ascending=False)
        colours = [PALETTE["highlight"] if g == query else PALETTE["CDT"] for g in part["gene"]]
        ax.barh(part["gene"], part["attention"], color=colours)
        ax.set(title=f"Head {h}", xlabel="attention")
        ax.tick_params(axis="y", labelsize=8)
    for ax in axes.flat[len(heads) :]:
        ax.axis("off")
    fig.suptitle(f"{query} RNA self-attention: top targets per head")
    fig.tight_layout()
    return fig


def attention_heatmap(sub: pd.DataFrame, query: str) -> Figure:
    """Fig 4D: head-mean RNA self-attention among the query's top genes; the query's row and column boxed in red."""
    n = len(sub)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.3 * n + 2.5), max(5.0, 0.27 * n + 1.8)))
    im = ax.imshow(sub.to_numpy(), cmap="Blues", aspect="auto", interpolation="nearest")
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
        title=f"RNA self-attention around {query} (head and cell mean)",
    )
    fig.colorbar(im, ax=ax, label="attention")
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
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [1.1, 1]})
    im = a.imshow(corr.to_numpy(), cmap="viridis", vmin=min(0.0, float(corr.to_numpy().min())), vmax=1)
    a.grid(False)
    a.set(xlabel="cell", ylabel="cell", xticks=[], yticks=[])
    pub = f"; published {published_mean:.2f}" if published_mean is not None else ""
    a.set_title(
        f"{query} attention row, {len(corr)} cells\nmean r = {summary['mean']:.2f} (min {summary['min']:.2f}){pub}"
    )
    fig.colorbar(im, ax=a, fraction=0.046, pad=0.04, label="Pearson r")
    v = variable.iloc[::-1]
    b.barh(v.index, v.to_numpy(), color=PALETTE["CDT"])
    b.set(xlabel="variance of attention across cells", title="most variable targets")
    b.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return fig


def method_overlap(table: pd.DataFrame, query: str, published_fold: float | None = None) -> Figure:
    """The top-N overlap with the observed effect per ranking method: fold enrichment with k and P on each bar; with
    truth columns a second panel shows the share of true targets in each top-N against the base rate."""
    truth = "true_downstream_share" in table
    fig, axes = plt.subplots(1, 2 if truth else 1, figsize=(12 if truth else 6.5, 3.8), squeeze=False)
    a = axes[0, 0]
    y = np.arange(len(table))
    a.barh(
        y,
        table["fold"],
        color=[PALETTE["CDT"] if m.startswith("attention") else PALETTE["baseline"] for m in table["method"]],
    )
    for i, row in enumerate(table.itertuples()):
        a.text(row.fold, i, f"  {row.overlap}/{row.n}, P={row.p_value:.1e}", va="center", fontsize=8)
    a.axvline(1, color="k", lw=0.8, ls=":")
    if published_fold is not None:
        a.axvline(published_fold, color=PALETTE["published"], ls="--", lw=1, label=f"published {published_fold}x")
        a.legend(loc="lower right", fontsize=8)
    a.set_yticks(y, table["label"], fontsize=8)
    a.invert_yaxis()
    n = int(table["n"].iloc[0])
    a.set(xlabel=f"fold enrichment, top {n} vs top {n} by |effect|", title=f"{query}: who finds the affected genes")
    a.set_xlim(0, max(float(table["fold"].max()), published_fold or 0) * 1.45 + 0.5)
    if truth:
        b = axes[0, 1]
        w = 0.38
        b.barh(y - w / 2, table["true_target_share"], w, color=PALETTE["truth"], label="direct targets")
        b.barh(y + w / 2, table["true_downstream_share"], w, color="#a5d6a7", label="any downstream gene")
        b.axvline(float(table["true_target_base"].iloc[0]), color=PALETTE["truth"], ls=":", lw=1)
        b.axvline(float(table["true_downstream_base"].iloc[0]), color="#a5d6a7", ls=":", lw=1)
        b.set_yticks(y, [""] * len(y))
        b.invert_yaxis()
        b.set(xlabel=f"share of the top {n} (dotted: all genes)", title="simulated truth", xlim=(0, 1))
        b.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def hub_network(graph: nx.DiGraph, counts: Mapping[str, int], query: str) -> Figure:
    """Fig 5A: the query as hub, shown partners on a circle (grouped by role, strongest first); downstream edges
    blue (query -> gene), upstream orange (gene -> query), width by weight within each direction."""
    others = [n for n in graph.nodes if n != query]
    role = nx.get_node_attributes(graph, "role")
    order = {"downstream": 0, "bidirectional": 1, "upstream": 2}
    strength = {
        n: sum(d["weight"] for *_, d in graph.edges(n, data=True))
        + sum(d["weight"] for *_, d in graph.in_edges(n, data=True))
        for n in others
    }
    others.sort(key=lambda n: (order[role[n]], -strength[n]))
    angles = 2 * np.pi * np.arange(len(others)) / max(len(others), 1) - np.pi / 2
    pos = {query: (0.0, 0.0), **{n: (np.cos(t), np.sin(t)) for n, t in zip(others, angles, strict=True)}}
    fig, ax = plt.subplots(figsize=(9, 9))
    for direction, colour, rad in (("out", ROLE_COLOURS["downstream"], 0.1), ("in", ROLE_COLOURS["upstream"], -0.1)):
        edges = list(graph.out_edges(query, data=True) if direction == "out" else graph.in_edges(query, data=True))
        if not edges:
            continue
        wmax = max(d["weight"] for *_, d in edges) or 1.0
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
            node_size=[2600] + [900] * len(others),
        )
    nx.draw_networkx_nodes(
        graph,
        pos,
        nodelist=others,
        node_color=[ROLE_COLOURS[role[n]] for n in others],
        node_size=900,
        edgecolors="white",
        linewidths=2,
        ax=ax,
    )
    nx.draw_networkx_nodes(
        graph,
        pos,
        nodelist=[query],
        node_color=ROLE_COLOURS["hub"],
        node_size=2600,
        edgecolors="white",
        linewidths=2,
        ax=ax,
    )
    nx.draw_networkx_labels(graph, pos, labels={n: n for n in others}, font_size=7, font_weight="bold", ax=ax)
    nx.draw_networkx_labels(
        graph, pos, labels={query: query}, font_size=12, font_weight="bold", font_color="white", ax=ax
    )
    handles = [
        Patch(color=ROLE_COLOURS[r], label=f"{r} ({counts.get(r, 0)})")
        for r in ("downstream", "upstream", "bidirectional")
    ]
    ax.legend(handles=handles, loc="upper left", title="role (all genes with it)")
    ax.set_title(
        f"{query} subnetwork from RNA self-attention (top 5% of its row / column)\n"
        f"showing {len(others)} strongest partners"
    )
    ax.set_xlim(-1.3, 1.3)
    ax.set_ylim(-1.3, 1.3)
    ax.axis("off")
    return fig


def gradient_scatter(
    scores: pd.DataFrame, query: str, r: float, highlight: Sequence[str] = (), n_label: int = 8
) -> Figure:
    """Gradient importance of each input gene vs the observed |effect| on that gene (CDT-II Fig 8A; paper/METHODS.md,
    'CDT-II: GFI1B network'); the top genes by gradient importance labelled, the query starred."""
    x, y = scores["effect"].to_numpy(), scores["gradient_importance"].to_numpy()
    fig, ax = plt.subplots(figsize=(6.2, 5.2))
    ax.scatter(x, y, s=10, color="#999999", alpha=0.5, rasterized=True, label=f"genes (n={len(scores)})")
    slope, icpt = np.polyfit(x, y, 1)
    grid = np.linspace(0, 1.05 * x.max(), 50)
    ax.plot(grid, icpt + slope * grid, ls="--", color=PALETTE["reference"], alpha=0.6, label="least-squares line")
    top = scores["gradient_importance"].nlargest(n_label).index
    ax.scatter(
        scores.loc[top, "effect"],
        scores.loc[top, "gradient_importance"],
        s=36,
        color="#e67e22",
        edgecolors="k",
        label="top gradient importance",
        zorder=3,
    )
    for g in top:
        ax.annotate(
            g,
            (scores.loc[g, "effect"], scores.loc[g, "gradient_importance"]),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )
    for g in highlight:
        if g in scores.index:
            ax.scatter(
                scores.loc[g, "effect"],
                scores.loc[g, "gradient_importance"],
                marker="*",
                s=220,
                color=ROLE_COLOURS["hub"],
                edgecolors="k",
                zorder=4,
                label=g,
            )
    ax.set(
        xlabel=f"observed |mean log2FC| upon {query} knockdown",
        ylabel="gradient importance (mean |d output / d input|)",
        title=f"{query}: gradients vs observed effect, Pearson r = {r:.2f}",
    )
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def attention_maps_grid(maps: Mapping[str, np.ndarray], gene: str, max_genes: int = 100) -> Figure:
    """CDT-III's attention-map panels (Table 5): each head-mean map as a heatmap, gene axes cut to the first
    `max_genes` as the authors did; DNA maps scaled to their 99th percentile."""
    n = len(maps)
    ncol = min(3, n)
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(5 * ncol, 4.3 * nrow), squeeze=False)
    for ax, (name, a) in zip(axes.flat, maps.items(), strict=False):
        shown = a
        if name in ("rna_self_0", "dna_to_rna"):
            shown = a[:max_genes] if name == "dna_to_rna" else a[:max_genes, :max_genes]
        vmax = float(np.percentile(shown, 99)) if name.startswith("dna_self") else None
        im = ax.imshow(shown, cmap="viridis", aspect="auto", interpolation="nearest", vmin=0, vmax=vmax)
        ax.grid(False)
        cut = " (first genes)" if shown.shape != a.shape else ""
        ax.set_title(f"{MAP_TITLES.get(name, name)}\n{a.shape[0]:,} x {a.shape[1]:,}{cut}", fontsize=10)
        rows, cols = MAP_AXES.get(name, ("query", "key"))
        ax.set(ylabel=rows, xlabel=cols)
        clipped = " (capped at 99th pct.)" if vmax is not None else ""
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label=f"mean attention weight{clipped}")
    for ax in axes.flat[n:]:
        ax.axis("off")
    fig.suptitle(f"CDT-III attention maps, head and cell mean over {gene} cells")
    fig.tight_layout()
    return fig


def head_diversity(values: np.ndarray, heads: pd.DataFrame, layer: int, title: str = "") -> Figure:
    """CDT v1 Fig 7: chosen heads of one DNA self-attention layer [H, L, L], concentrated to diffuse (`pick_heads`)."""
    n = len(heads)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 4.2), squeeze=False)
    for ax, row in zip(axes[0], heads.itertuples(), strict=True):
        a = values[int(row.head)]
        vmax = float(np.percentile(a, 99)) or float(a.max()) or 1.0
        ax.imshow(a, cmap="viridis", vmin=0, vmax=vmax, interpolation="nearest")
        ax.grid(False)
        ax.set(
            title=f"head {int(row.head)}\n{row.row_effective_positions:.1f} of {a.shape[1]} bins per query",
            xlabel="key bin",
            ylabel="query bin" if ax is axes[0, 0] else "",
        )
    fig.suptitle(f"DNA self-attention, layer {layer + 1}: heads from concentrated to diffuse{title}")
    fig.tight_layout()
    return fig


def enrichment_bars(panels: Mapping[str, pd.DataFrame]) -> Figure:
    """Fig 5B: per community, its most significant terms as -log10 adjusted P, coloured by library."""
    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 4.6), squeeze=False)
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
            ax.text(v, i, f" {v:.1f}", va="center", fontsize=8)
        ax.axvline(-np.log10(0.05), color="k", ls=":", lw=0.8)
        ax.set(title=title, xlabel="-log10 (adjusted P)", ylabel="term [genes in community / genes in term]")
        ax.tick_params(axis="y", labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
    handles = [
        Patch(color=c, label=p.replace("_", " ").replace("GO ", "GO: "))
        for p, c in LIBRARY_COLOURS.items()
        if any(lib.startswith(p) for lib in libs)
    ]
    handles.append(Line2D([], [], color="k", ls=":", lw=0.8, label="adjusted P = 0.05"))
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 4), fontsize=8, bbox_to_anchor=(0.5, -0.04))
    fig.suptitle("Gene-set enrichment of the module community in each attention network")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def venn2(n_a: int, n_b: int, shared: int, labels: tuple[str, str], note: str = "") -> Figure:
    """Fig 5C: two circles with area proportional to set size and the counts of each region."""
    ra, rb = np.sqrt(n_a / np.pi), np.sqrt(n_b / np.pi)
    # centre distance giving roughly the right lens area: linear between full containment and tangency
    frac = shared / max(min(n_a, n_b), 1)
    d = (ra + rb) - frac * (ra + rb - abs(ra - rb))
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.add_patch(Circle((0, 0), ra, color="#3498db", alpha=0.35, lw=2, ec="#1f618d"))
    ax.add_patch(Circle((d, 0), rb, color="#e67e22", alpha=0.35, lw=2, ec="#a04000"))
    ax.text(-ra * 0.45, 0, f"{n_a - shared}", ha="center", va="center", fontsize=14)
    ax.text(
        (d - rb + ra) / 2 if frac < 1 else d, 0, f"{shared}", ha="center", va="center", fontsize=14, fontweight="bold"
    )
    if n_b - shared:
        ax.text(d + rb * 0.6, 0, f"{n_b - shared}", ha="center", va="center", fontsize=12)
    ax.text(0, ra * 1.08, labels[0], ha="center", va="bottom", fontsize=11, color="#1f618d")
    ax.text(d, -rb * 1.08, labels[1], ha="center", va="top", fontsize=11, color="#a04000")
    lim = max(ra, d + rb) * 1.15
    ax.set_xlim(-ra * 1.15, lim)
    ax.set_ylim(-max(ra, rb) * 1.35, max(ra, rb) * 1.35)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(note, fontsize=10)
    fig.tight_layout()
    return fig


def module_recovery(table: pd.DataFrame) -> Figure:
    """Simulated data: Jaccard index of each planted module with its best-matching community, per network."""
    wide = table.pivot(index="module", columns="network", values="jaccard")
    fig, ax = plt.subplots(figsize=(1.6 * wide.shape[1] + 3, 0.45 * wide.shape[0] + 1.8))
    im = ax.imshow(wide.to_numpy(), cmap="Greens", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(wide.shape[1]), wide.columns)
    ax.set_yticks(range(wide.shape[0]), wide.index)
    ax.grid(False)
    for (i, j), v in np.ndenumerate(wide.to_numpy()):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=9, color="white" if v > 0.6 else "black")
    ax.set_title("planted module recovery: best community Jaccard")
    fig.colorbar(im, ax=ax, label="Jaccard")
    fig.tight_layout()
    return fig


def module_venn(table: pd.DataFrame) -> Figure:
    """Fig 5C from the one-row table of `cdt.analyses.network.module_venn`: C1 and C3 as circles (`venn2`), titled
    with the shared genes, their share of C3, the fold over the expected overlap and the hypergeometric P."""
    v = table.iloc[0]
    c1, c3, k = int(v["c1"]), int(v["c3"]), int(v["shared"])
    return venn2(
        c1,
        c3,
        k,
        (f"self-attention C1 ({c1})", f"cross-attention C3 ({c3})"),
        note=f"{k} shared ({v['share_of_c3']:.0%} of C3): {v['fold']:.1f}-fold over {v['expected']:.1f} expected, "
        f"P = {v['p_value']:.1e}",
    )

"""cdt.pl.network, the figures of notebook 03: the palette's meanings (red for published values only, attention in
the sequential map, the knocked-down gene orange, gradients purple, roles in category colours), labels in words with
layers and heads counted from 1, and a clean layout (`cdt.pl.layout_problems`) on realistic small inputs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from cdt.pl import CATEGORIES, PALETTE, SEQUENTIAL, layout_problems, save_figure, shades  # noqa: E402
from cdt.pl import network as pn  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.legend import Legend  # noqa: E402
from matplotlib.patches import FancyArrowPatch  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _maps(rng, n: int) -> np.ndarray:
    a = rng.random((n, n)) + 0.1
    return a / a.sum(1, keepdims=True)


def _colorbars(fig):
    return [ax for ax in fig.axes if getattr(ax, "_colorbar", None) is not None]


def test_per_head_top_bars_in_the_cdt_colour_with_the_query_highlighted():
    table = pd.DataFrame(
        {
            "head": [0, 0, 1, 1, 2],
            "rank": [1, 2, 1, 2, 1],
            "gene": ["A", "GFI1B", "B", "C", "A"],
            "attention": [0.4, 0.3, 0.5, 0.2, 0.6],
        }
    )
    fig = pn.per_head_top(table, "GFI1B")
    used = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    assert [ax.get_title() for ax in used] == ["head 1", "head 2", "head 3"]  # heads counted from 1
    assert all(ax.get_xlabel() == "attention weight" and ax.get_ylabel() == "gene (key)" for ax in used)
    ticks, bars = used[0].get_yticklabels(), used[0].patches
    head0 = {t.get_text(): to_hex(p.get_facecolor()) for t, p in zip(ticks, bars, strict=True)}
    assert head0 == {"GFI1B": PALETTE["highlight"], "A": PALETTE["CDT"]}  # largest on top: A drawn last
    colours = {to_hex(p.get_facecolor()) for ax in used for p in ax.patches}
    assert colours == {PALETTE["CDT"], PALETTE["highlight"]} and fig._suptitle.get_text().startswith("GFI1B")
    assert all(max(ax.get_xticks()) <= ax.get_xlim()[1] for ax in used)  # no tick beyond the axis
    assert layout_problems(fig) == []


def test_dna_self_layers_share_one_linear_sequential_scale_with_a_labelled_colour_bar():
    rng = np.random.default_rng(0)
    layers = {"dna_self_0": _maps(rng, 64), "dna_self_1": _maps(rng, 64)}
    fig = pn.dna_self_layers(layers, "GFI1B")
    maps = [ax for ax in fig.axes if ax.images and getattr(ax, "_colorbar", None) is None]
    assert [ax.get_title() for ax in maps] == ["layer 1", "layer 2"]
    images = [ax.images[0] for ax in maps]
    assert {im.get_cmap().name for im in images} == {SEQUENTIAL}
    both = np.concatenate([a.ravel() for a in layers.values()])
    lo, hi = np.percentile(both, [1, 99])
    assert all(im.get_clim() == pytest.approx((lo, hi)) for im in images)  # one scale for both layers
    assert all(type(im.norm).__name__ == "Normalize" for im in images)  # linear, not a power norm
    (cbar,) = _colorbars(fig)
    label = cbar.get_ylabel()
    assert "linear" in label and "1st–99th percentile" in label and "uniform attention, 1 / number of bins" in label
    assert cbar.lines[0].get_ydata()[0] == pytest.approx(1 / 64)  # the uniform level marked on the colour bar
    assert layout_problems(fig) == []


def test_attention_heatmap_and_cell_variation_use_the_sequential_map_and_state_the_scale():
    rng = np.random.default_rng(1)
    genes = ["GFI1B", *[f"G{i}" for i in range(12)]]
    hood = pd.DataFrame(_maps(rng, len(genes)), index=genes, columns=genes)
    fig = pn.attention_heatmap(hood, "GFI1B")
    assert fig.axes[0].images[0].get_cmap().name == SEQUENTIAL
    assert {to_hex(line.get_color()) for line in fig.axes[0].lines} == {PALETTE["highlight"]}
    assert _colorbars(fig)[0].get_ylabel() == "attention weight" and layout_problems(fig) == []

    corr = pd.DataFrame(np.corrcoef(rng.random((8, 30))))
    variable = pd.Series(rng.random(10) * 3e-6, index=[f"G{i}" for i in range(10)]).sort_values(ascending=False)
    fig = pn.cell_variation(corr, variable, {"mean": 0.9, "min": 0.7}, "GFI1B", published_mean=0.75)
    a, b = fig.axes[:2]
    assert a.images[0].get_cmap().name == SEQUENTIAL
    assert b.get_xlabel() == "variance of the attention weight across cells (×10⁻⁶)"
    assert b.patches[-1].get_width() == pytest.approx(variable.iloc[0] * 1e6)  # largest on top, in 1e-6 units
    assert b.get_ylabel() == "target gene (key)" and layout_problems(fig) == []


def test_head_diversity_has_a_colour_bar_per_head_and_says_what_the_spread_is():
    rng = np.random.default_rng(2)
    values = np.stack([_maps(rng, 32) for _ in range(4)])
    heads = pd.DataFrame({"head": [2, 0], "row_effective_positions": [12.4, 30.2]})
    fig = pn.head_diversity(values, heads, layer=0, title="\nenhancer at chr1:1,000-2,000 and its target gene A")
    maps = [ax for ax in fig.axes if getattr(ax, "_colorbar", None) is None]
    assert [ax.get_title() for ax in maps] == ["head 3\nspread over 12 of 32 bins", "head 1\nspread over 30 of 32 bins"]
    assert len(_colorbars(fig)) == 2 and all(c.get_ylabel().startswith("attention weight") for c in _colorbars(fig))
    assert {ax.images[0].get_cmap().name for ax in maps} == {SEQUENTIAL}
    title = fig._suptitle.get_text()
    assert title.startswith("DNA self-attention, layer 1") and "exp(entropy of a query's attention)" in title
    assert layout_problems(fig) == []


def _hub() -> tuple[nx.DiGraph, dict[str, int]]:
    g = nx.DiGraph()
    g.add_node("GFI1B", role="hub")
    for gene, role, w in [
        ("TNFRSF18", "downstream", 0.9),
        ("HNRNPK", "downstream", 0.5),
        ("A1", "downstream", 0.3),
        ("MYC", "upstream", 0.7),
        ("G15003", "upstream", 0.4),
        ("SLAMF1", "bidirectional", 0.6),
    ]:
        g.add_node(gene, role=role)
        if role != "upstream":
            g.add_edge("GFI1B", gene, weight=w)
        if role != "downstream":
            g.add_edge(gene, "GFI1B", weight=w)
    return g, {"downstream": 11, "upstream": 1, "bidirectional": 2}


def test_hub_network_colours_roles_as_categories_and_the_hub_orange_with_names_inside_nodes():
    graph, counts = _hub()
    fig = pn.hub_network(graph, counts, "GFI1B")
    ax = fig.axes[0]
    assert pn.ROLE_COLOURS == {
        "downstream": CATEGORIES[0],
        "upstream": CATEGORIES[1],
        "bidirectional": CATEGORIES[2],
        "hub": PALETTE["highlight"],
    }
    nodes = [c for c in ax.collections if type(c).__name__ == "PathCollection"]
    partners, hub = nodes
    assert to_hex(hub.get_facecolor()[0]) == PALETTE["highlight"]
    role = nx.get_node_attributes(graph, "role")
    order = ["TNFRSF18", "HNRNPK", "A1", "SLAMF1", "MYC", "G15003"]  # by role, strongest first
    assert [to_hex(c) for c in partners.get_facecolor()] == [pn.ROLE_COLOURS[role[g]] for g in order]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    widths = {t.get_text(): t.get_window_extent(renderer).width * 72 / fig.dpi for t in ax.texts}
    diameters = np.sqrt(partners.get_sizes())  # points
    assert all(d > widths[g] for g, d in zip(order, diameters, strict=True))  # every name fits inside its node
    assert np.sqrt(hub.get_sizes()[0]) > widths["GFI1B"]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [
        "GFI1B, the knocked-down gene (hub)",
        "downstream (GFI1B attends to the gene): 11 genes",
        "upstream (the gene attends to GFI1B): 1 gene",
        "bidirectional (both): 2 genes",
    ]
    assert ax.get_legend().get_window_extent(renderer).y1 <= ax.get_window_extent(renderer).y0 + 1  # below the drawing
    # what arrow width and node size encode: a second legend, below the first and inside the saved figure
    (widths,) = [a for a in ax.artists if isinstance(a, Legend)]
    assert [t.get_text() for t in widths.get_texts()] == [
        "0 (thinnest)",
        "0.9, the strongest GFI1B → gene",  # TNFRSF18
        "0.7, the strongest gene → GFI1B",  # MYC
    ]
    assert [h.get_linewidth() for h in widths.legend_handles] == [1, 6, 6]
    assert [to_hex(h.get_color()) for h in widths.legend_handles[1:]] == [
        pn.ROLE_COLOURS["downstream"],
        pn.ROLE_COLOURS["upstream"],
    ]
    title = widths.get_title().get_text()
    assert title.startswith("arrow width: attention weight") and "circle size has no meaning" in title
    arrows = sorted(a.get_linewidth() for a in ax.patches if isinstance(a, FancyArrowPatch))
    assert arrows[-1] == pytest.approx(6) and arrows[0] == pytest.approx(1 + 5 * 0.3 / 0.9)  # as the legend says
    box = widths.get_window_extent(renderer)
    assert box.y1 <= ax.get_legend().get_window_extent(renderer).y0 and box.y0 >= 0
    assert widths in ax.get_default_bbox_extra_artists()  # not clipped away: drawn and inside the saved image
    assert layout_problems(fig) == []


def test_gradient_scatter_draws_gradients_purple_the_gene_orange_and_the_legend_beside():
    rng = np.random.default_rng(3)
    genes = ["GFI1B", "TNFRSF18", "TNFRSF8", "PDPN", *[f"G{i:05d}" for i in range(60)]]
    scores = pd.DataFrame(
        {"effect": rng.random(len(genes)), "gradient_importance": rng.random(len(genes)) * 1e-4}, index=genes
    )
    scores.loc[["TNFRSF18", "TNFRSF8", "PDPN"], ["effect", "gradient_importance"]] = [
        [0.01, 3.0e-4],
        [0.02, 3.02e-4],
        [0.015, 2.98e-4],
    ]  # three names on one spot
    fig = pn.gradient_scatter(scores, "GFI1B", r=0.2, highlight=["GFI1B"], n_label=5)
    ax = fig.axes[0]
    dark, light = shades("gradient", 2)
    assert dark == PALETTE["gradient"]
    everyone, top, star = ax.collections
    assert to_hex(everyone.get_facecolor()[0]) == light and to_hex(top.get_facecolor()[0]) == PALETTE["gradient"]
    assert to_hex(star.get_facecolor()[0]) == PALETTE["highlight"]
    assert ax.get_ylabel() == (  # which output and which input, in words
        "gradient importance (×10⁻⁴): mean over the genes\nmost changed by GFI1B knockdown of\n"
        "|∂ their predicted log2 fold change /\n∂ this gene's input expression|"
    )
    assert top.get_offsets()[:, 1].max() == pytest.approx(3.02)
    leaders = [a._posA_posB[1] for a in ax.patches if isinstance(a, FancyArrowPatch)]  # name -> its point
    assert np.array(leaders) == pytest.approx(np.asarray(top.get_offsets()))  # one grey line to each named point
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    assert ax.get_legend().get_window_extent(renderer).x0 > ax.get_window_extent(renderer).x1  # outside the data
    assert layout_problems(fig) == []


def test_gradient_scatter_keeps_names_off_unnamed_points_around_them():
    """As at the mini preset: named genes close together near the left frame, with unnamed genes beside them."""
    rng = np.random.default_rng(5)
    genes = ["GFI1B", "TNFRSF18", "TNFRSF8", "PDPN", "CD52", "MYC", *[f"G{i:05d}" for i in range(250)]]
    effect, importance = rng.random(len(genes)) * 1.2, rng.random(len(genes)) * 2e-3
    scores = pd.DataFrame({"effect": effect, "gradient_importance": importance}, index=genes)
    named = [[0.0, 0.035], [0.11, 0.036], [0.06, 0.0345], [0.18, 0.0355], [0.47, 0.0348]]
    scores.loc[["TNFRSF18", "TNFRSF8", "PDPN", "CD52", "MYC"]] = named
    # an unnamed gene just right of each named one (a little less important, so it stays unnamed), where a name set
    # beside its point would start
    scores.loc[[f"G{i:05d}" for i in range(5)]] = [[a + 0.05, 0.0344] for a, _ in named]
    fig = pn.gradient_scatter(scores, "GFI1B", r=0.17, highlight=["GFI1B"], n_label=5)
    assert {t.get_text() for t in fig.axes[0].texts} == {"CD52", "MYC", "TNFRSF8", "TNFRSF18", "PDPN"}
    assert layout_problems(fig) == []  # no name over any point, named or not


def test_method_overlap_names_counts_under_each_method_and_explains_its_lines():
    table = pd.DataFrame(
        {
            "method": ["attention_down", "correlation"],
            "label": ["attention row (what GFI1B attends to)", "|Spearman| with GFI1B, unperturbed cells"],
            "n": 11,
            "overlap": [3, 0],
            "fold": [6.3, 0.0],
            "p_value": [8.1e-3, 1.0],
            "true_target_share": [0.2, 0.0],
            "true_target_base": 0.1,
            "true_downstream_share": [0.4, 0.1],
            "true_downstream_base": 0.25,
        }
    )
    fig = pn.method_overlap(table, "GFI1B", published_fold=6.6)
    a, b = fig.axes
    assert [t.get_text() for t in a.get_yticklabels()] == [
        "attention row (what GFI1B attends to)\n3 of 11 shared, P = 8.1e-03",
        "|Spearman| with GFI1B, unperturbed cells\n0 of 11 shared, P = 1.0e+00",
    ]
    assert len(a.texts) == 0  # nothing written where a line can cross it
    assert [t.get_text() for t in a.get_legend().get_texts()] == ["1 = chance", "published 6.6-fold"]
    assert to_hex(a.get_legend().get_lines()[1].get_color()) == PALETTE["published"]
    assert [to_hex(p.get_facecolor()) for p in a.patches] == [PALETTE["CDT"], PALETTE["baseline"]]
    assert [t.get_text() for t in b.get_legend().get_texts()][-1] == "share among all genes"
    assert a.get_ylabel() == "ranking of the genes" and layout_problems(fig) == []


def test_attention_maps_grid_says_how_much_of_each_map_is_shown(tmp_path):
    rng = np.random.default_rng(4)
    maps = {
        "dna_self_0": _maps(rng, 40),
        "dna_self_1": _maps(rng, 40),
        "rna_self_0": _maps(rng, 150),
        "dna_to_rna": rng.random((150, 40)),
        "protein_self_0": _maps(rng, 20),
        "rna_to_protein": rng.random((20, 150)),
    }
    fig = pn.attention_maps_grid(maps, "CD52", max_genes=100)
    titles = [ax.get_title() for ax in fig.axes if getattr(ax, "_colorbar", None) is None]
    assert titles == [
        "DNA self-attention, layer 1\n40 DNA bins x 40 DNA bins",
        "DNA self-attention, layer 2\n40 DNA bins x 40 DNA bins",
        "RNA self-attention\nfirst 100 of 150 genes x first 100 of 150 genes",
        "DNA→RNA cross-attention\nfirst 100 of 150 genes x 40 DNA bins",
        "protein self-attention\n20 proteins x 20 proteins",
        "RNA→protein cross-attention\n20 proteins x 150 genes",
    ]
    shown = [ax.images[0].get_array().shape for ax in fig.axes if ax.images and ax.get_title()]
    assert shown[2] == (100, 100) and shown[3] == (100, 40)
    assert "capped at the 99th percentile" in _colorbars(fig)[0].get_ylabel()
    save_figure(fig, "maps", tmp_path, synthetic=True)  # with the data mark: nothing under it
    assert not (tmp_path / "maps.layout.txt").exists()

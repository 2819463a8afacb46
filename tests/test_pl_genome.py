"""cdt.pl.genome: figures read their tables and say what they show in words (no code names as labels), keep the
palette's meanings, show N/A as N/A and pass the layout check on realistic small inputs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from cdt.pl import NA_COLOUR, PALETTE, SEQUENTIAL, shades  # noqa: E402
from cdt.pl import genome as pg  # noqa: E402
from cdt.pl._layout import layout_problems  # noqa: E402
from cdt.pl.genome import RANDOM_COLOUR, bin_score_style, element_recovery  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

RESERVED = {v.lower() for v in PALETTE.values()}
GENES = ["GFI1B", "CD52", "TFRC"]


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _texts(fig) -> list[str]:
    """Every text of a figure: titles, axis and tick labels, annotations, legends."""
    out = [t.get_text() for t in fig.texts]
    if fig._suptitle is not None:
        out.append(fig._suptitle.get_text())
    for legend in [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]:
        out += [t.get_text() for t in legend.get_texts()] + [legend.get_title().get_text()]
    for ax in fig.axes:
        out += [ax.get_title(), ax.get_title("left"), ax.get_xlabel(), ax.get_ylabel()]
        out += [t.get_text() for t in ax.texts]
        out += [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()]
    return out


def _outside(legend, ax) -> bool:
    """The legend's box lies outside the axes' box (no data can sit under it)."""
    fig = ax.figure
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    lb, ab = legend.get_window_extent(r), ax.get_window_extent(r)
    return lb.x0 >= ab.x1 - 1 or lb.x1 <= ab.x0 + 1 or lb.y1 <= ab.y0 + 1 or lb.y0 >= ab.y1 - 1


def test_category_colours_keep_off_the_reserved_meanings():
    for colours in (pg.MARK_COLOURS, pg.CLASS_COLOURS):
        assert not {c.lower() for c in colours.values()} & RESERVED
    assert pg.CLASS_COLOURS["CTCF"] == pg.MARK_COLOURS["CTCF"]  # a class takes the colour of the mark defining it
    assert pg.CLASS_COLOURS["promoter"] == pg.MARK_COLOURS["H3K4me3"]
    assert [c for c, _ in pg.ELEMENT_STYLES.values()] == shades("truth", 4)  # planted = truth green
    assert len({h for _, h in pg.ELEMENT_STYLES.values()}) == 4  # and told apart by hatching


def _elements():
    return pd.DataFrame(
        {"element": ["promoter", "CTCF", "open", "enhancer"], "start_kb": [-0.5, 1.0, -2.0, 2.5]}
    ).assign(end_kb=lambda d: d["start_kb"] + 0.4)


def test_cross_attention_profiles_legends_below_truth_strip_and_model_peak():
    rng = np.random.default_rng(0)
    values = pd.DataFrame(rng.dirichlet(np.ones(64) * 50, size=3), index=GENES)
    fig = pg.cross_attention_profiles(values, 128, {g: _elements() for g in GENES}, pd.Series([10, 5, 10], index=GENES))
    assert layout_problems(fig) == []
    axes = fig.axes
    assert all(ax.get_legend() is None for ax in axes)  # one legend for all panels, below them
    texts = _texts(fig)
    assert "uniform attention (1 / number of bins)" in texts and "open chromatin" in texts
    assert not any("1/L" in t or t == "open" for t in texts)
    ax = axes[0]
    peak = [line for line in ax.lines if line.get_linestyle() == ":"][0]
    assert to_hex(peak.get_color()) == PALETTE["CDT"]  # the attention peak is a model output
    assert to_hex(ax.lines[0].get_color()) == PALETTE["CDT"]
    strip = {to_hex(p.get_facecolor()) for p in ax.patches}
    assert strip <= set(shades("truth", 4)) and len(strip) == 4
    assert ax.get_ylim()[1] > 1.3 * values.iloc[0].max()  # headroom: the strip sits above the trace
    assert ax.get_title("left").startswith("GFI1B locus, mean over 10 cells; attention peak at")


def _fisher_table():
    rows = []
    for g in GENES:
        for i, m in enumerate(("DNase", "CTCF", "H3K4me3")):
            odds = {("CD52", "CTCF"): np.nan, ("TFRC", "DNase"): 0.0}.get((g, m), 0.5 + i * 3)
            rows.append({"gene": g, "mark": m, "odds_ratio": odds, "p_value": 0.01 if i == 2 else 0.5})
    return pd.DataFrame(rows)


def test_fisher_heatmap_na_cells_and_labelled_colour_bar():
    fig = pg.fisher_heatmap(_fisher_table(), GENES, ["DNase", "CTCF", "H3K4me3"])
    assert layout_problems(fig) == []
    ax = fig.axes[0]
    cells = [t.get_text() for t in ax.texts]
    assert cells.count("N/A") == 1 and "6.5*" in cells  # only the undefined (NaN) odds ratio reads N/A
    assert "0" in cells  # an odds ratio of 0 is a value: drawn at the bottom of the scale, which reads 0
    assert np.isclose(ax.images[0].get_array()[2, 0], 1 / 300) and not np.ma.getmask(ax.images[0].get_array())[2, 0]
    cbar = fig.axes[1]
    assert cbar.get_yticklabels()[0].get_text() == "0" and np.isclose(cbar.get_yticks()[0], 1 / 300)
    image = ax.images[0]
    assert image.get_cmap().name.startswith("BrBG") and to_hex(image.get_cmap().get_bad()) == NA_COLOUR
    assert "odds ratio (log scale)" in fig.axes[1].get_ylabel()


def test_bin_class_violin_category_colours_and_defined_d():
    rng = np.random.default_rng(1)
    classes = ("promoter", "active_enhancer", "CTCF", "other")
    pooled = pd.DataFrame({"class": np.repeat(classes, 30), "attention": rng.normal(0.016, 0.001, 120)})
    d = pd.DataFrame({"class": ["promoter", "active_enhancer", "CTCF"], "d_vs_other": [0.1, 0.3, 0.05]})
    fig = pg.bin_class_violin(pooled, 0.06, d)
    assert layout_problems(fig) == []
    ax = fig.axes[0]
    bodies = [to_hex(c.get_facecolor()[0]) for c in ax.collections if len(c.get_paths()) == 1][:4]
    assert bodies == [pg.CLASS_COLOURS[c] for c in classes]
    assert "Cohen's d" in ax.get_xlabel()
    assert [t.get_text().split("\n")[0] for t in ax.get_xticklabels()] == ["promoter", "active", "CTCF", "other"]


def test_permutation_nulls_untested_panel_says_which_and_counts_are_labelled():
    rng = np.random.default_rng(2)
    table = pd.DataFrame(
        [{"gene": g, "mark": m, "observed_or": 2.0, "p_value": 0.2} for g in GENES[:2] for m in ("DNase", "CTCF")]
    )
    nulls = {(g, m): rng.gamma(2, 1, 200) for g in GENES[:2] for m in ("DNase", "CTCF") if (g, m) != ("CD52", "CTCF")}
    fig = pg.permutation_nulls(table, nulls)
    assert layout_problems(fig) == []
    titles = [ax.get_title() for ax in fig.axes]
    assert "CD52 × CTCF: not tested" in titles and fig._suptitle.get_text().startswith("A  ")
    tested = fig.axes[0]
    assert tested.get_ylabel() == "shifts" and len(tested.get_yticks()) > 0
    assert to_hex(tested.patches[0].get_facecolor()) == pg.MARK_COLOURS["DNase"]
    assert to_hex(tested.lines[0].get_color()) == PALETTE["CDT"]


def test_permutation_nulls_keep_the_observed_line_off_the_frame():
    table = pd.DataFrame([{"gene": "TFRC", "mark": "H3K4me3", "observed_or": 2.1, "p_value": 0.2}])
    null = np.repeat([0.4, 1.0, 2.1], [200, 500, 300])  # the observed value is the largest of the null
    fig = pg.permutation_nulls(table, {("TFRC", "H3K4me3"): null})
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    assert lo < 0.4 and hi > 2.1 + 0.05 * (2.1 - 0.4)  # a margin on both sides
    assert layout_problems(fig) == []


def test_threshold_sweep_draws_zero_and_undefined_odds_in_the_grey_row_not_on_the_axis():
    rows = []
    for g in GENES[:2]:
        for m, odds in (("DNase", [2.0, 3.0, 0.0, 1.5]), ("CTCF", [np.inf, 4.0, np.nan, 2.0])):
            for q, o in zip((0.05, 0.1, 0.15, 0.2), odds, strict=True):
                rows.append({"gene": g, "mark": m, "q": q, "odds_ratio": o, "n_peak_bins": 6})
    fig = pg.threshold_sweep(pd.DataFrame(rows))
    assert layout_problems(fig) == []
    main, na = fig.axes[0], fig.axes[2]  # 2 x 2 grid: odds ratios above, N/A row below
    assert na.get_ylabel() == "0 or N/A" and to_hex(na.get_facecolor()) == NA_COLOUR
    assert main.get_yscale() == "log"
    drawn = np.concatenate([line.get_ydata() for line in main.lines if len(line.get_ydata()) > 2])
    assert np.nanmin(drawn) >= 1.5 and np.isnan(drawn).sum() == 3  # 0, NaN and infinity are gaps in the lines
    ctcf = [line for line in main.lines if len(line.get_ydata()) > 2][1]
    assert np.isnan(ctcf.get_ydata()[0]) and ctcf.get_ydata()[1] == 4.0  # the infinite value is not joined to 4
    na_x = sorted(np.concatenate([line.get_xdata() for line in na.lines]).tolist())
    assert na_x == [15.0, 15.0]  # DNase's 0 and CTCF's NaN at the 15% threshold
    assert sorted(line.get_marker() for line in na.lines) == ["$0$", "x"]  # a zero is a value, NaN is N/A
    assert (
        max(np.nanmax(np.asarray(line.get_ydata(), float)) for line in main.lines) == pg.OR_CAP
    )  # infinite drawn at the cap
    texts = _texts(fig)
    assert any(t.startswith("odds ratio 0: mark absent") for t in texts)
    assert any(t.startswith("N/A: odds ratio undefined") for t in texts)
    assert f"infinite (drawn at {pg.OR_CAP:.0f},\nnot joined to the line)" in texts
    assert fig._suptitle.get_text().startswith("B  ")


def _ctcf_table(values):
    genes = ["A1", "B2", "C3", "D4"]
    return pd.DataFrame({"gene": genes, "enrichment": values, "published_enrichment": [10.0, 7.5, 5.0, 8.0]})


def test_ctcf_enrichment_tells_zero_from_na_and_keeps_published_points_clear():
    tables = {"CDT-III": _ctcf_table([5.0, 0.0, np.nan, 2.5]), "CDT-II": _ctcf_table([3.0, 0.0, np.nan, 2.5])}
    null = np.random.default_rng(3).gamma(2, 0.5, 500)
    fig = pg.ctcf_enrichment(tables, null, 2.5, 0.04)
    assert layout_problems(fig) == []
    a, b = fig.axes
    assert a.get_legend() is None and len(fig.legends) == 1  # the legend sits below both panels
    assert [t.get_text() for t in a.texts] == ["0", "0", "N/A"]
    assert b.get_ylabel() == "random draws" and a.get_xlabel() == "TSS locus"
    bars = [to_hex(p.get_facecolor()) for bars in a.containers for p in bars if p.get_height() > 0]
    assert set(bars) == set(shades("CDT", 2))  # both models in shades of the model colour
    texts = _texts(fig)
    assert "2x, the paper's 'enriched' threshold" in texts and "N/A: no CTCF peak in the window" in texts
    assert to_hex(a.collections[0].get_facecolor()[0]) == PALETTE["published"]


def test_ctcf_enrichment_marks_loci_without_a_published_value():
    t = _ctcf_table([5.0, 0.0, np.nan, 9.5]).assign(published_enrichment=[10.0, np.nan, np.nan, np.nan])
    fig = pg.ctcf_enrichment({"CDT-III": t}, np.random.default_rng(3).gamma(2, 0.5, 500), 2.5, 0.04)
    assert layout_problems(fig) == []
    a = fig.axes[0]
    marks = [x for x in a.texts if x.get_text() == pg.NO_PUBLISHED]
    order = ["D4", "A1", "B2", "C3"]  # by enrichment, N/A last
    assert sorted(x.get_position()[0] for x in marks) == sorted(order.index(g) for g in ("B2", "C3", "D4"))
    tall = [x for x in marks if x.get_position()[0] == 0][0]  # no room above a bar of 9.5: drawn on white over it
    assert tall.get_bbox_patch() is not None and all(x.get_bbox_patch() is None for x in marks if x is not tall)


def _hic_table():
    genes = ["FCGR2A", "CD55", "ICAM1", "EPCAM", "MSR1", "ITGAE", "IL21R", "LGALS3"]
    rng = np.random.default_rng(4)
    rnd = rng.uniform(0.05, 0.1, len(genes))
    top = rnd * rng.uniform(0.8, 1.3, len(genes))
    t = pd.DataFrame({"gene": genes, "random_mean": rnd, "top_mean": top, "ratio": top / rnd})
    t["random_mean_off_diagonal"], t["top_mean_off_diagonal"] = rnd * 0.9, top * 0.85
    t["ratio_off_diagonal"] = t["top_mean_off_diagonal"] / t["random_mean_off_diagonal"]
    t["published_ratio"] = np.linspace(0.5, 2.7, len(genes))
    return t


@pytest.mark.parametrize("column", ["ratio", "ratio_off_diagonal"])
def test_hic_ratios_keeps_published_points_free_and_names_the_variant(column):
    test = {"mean_ratio": 1.05, "p_value": 0.06, "n_above_1": 5, "n": 8}
    fig = pg.hic_ratios(_hic_table(), test, column=column)
    assert layout_problems(fig) == []
    a, b = fig.axes
    assert not a.texts and a.get_legend() is None  # no statistics box over the bars and published points
    assert fig.legends[0].get_title().get_text().startswith("mean ratio 1.05x; 5/8 genes > 1")
    assert ("off-diagonal" in fig._suptitle.get_text()) == (column != "ratio")
    assert a.get_ylabel() == "TSS locus"
    assert {to_hex(p.get_facecolor()) for p in a.patches} <= set(shades("CDT", 2))  # no baseline grey
    assert sorted(t.get_text() for t in b.texts) == sorted(_hic_table()["gene"])


def _touches(fig, ax, size=22) -> list[str]:
    """Names closer than 2 pt to any point's marker or to another name."""
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    pts = ax.collections[0].get_offset_transform().transform(ax.collections[0].get_offsets())
    reach = (np.sqrt(size) / 2 + 2) * fig.dpi / 72
    boxes = [(t.get_text(), t.get_window_extent(r)) for t in ax.texts]
    out = []
    for i, (name, b) in enumerate(boxes):
        near = np.hypot(pts[:, 0] - np.clip(pts[:, 0], b.x0, b.x1), pts[:, 1] - np.clip(pts[:, 1], b.y0, b.y1))
        out += [name] * bool((near < reach).any())
        out += [f"{name}/{m}" for m, c in boxes[i + 1 :] if b.overlaps(c)]
    return out


def test_hic_ratios_names_keep_clear_of_crowded_points_and_unpublished_loci_are_marked():
    genes = ["ITGAE", "EPCAM", "MSR1", "IL21R", "ENTPD1", "CD58", "CD40", "GFI1B", "B2M", "TFRC", "CD83", "ICAM1"]
    rng = np.random.default_rng(9)
    rnd = 0.025 + rng.normal(0, 0.0004, len(genes))  # a tight cluster, as at the mini preset
    rnd[-2:] = [0.019, 0.031]
    top = rnd * rng.uniform(0.97, 1.05, len(genes))
    t = pd.DataFrame({"gene": genes, "random_mean": rnd, "top_mean": top, "ratio": top / rnd})
    t["random_mean_off_diagonal"], t["top_mean_off_diagonal"], t["ratio_off_diagonal"] = rnd, top, top / rnd
    t["published_ratio"] = np.where(np.isin(genes, ["GFI1B", "B2M", "TFRC"]), np.nan, 1.5)
    fig = pg.hic_ratios(t, {"mean_ratio": 1.0, "p_value": 0.5, "n_above_1": 6, "n": 12})
    assert layout_problems(fig) == []
    a, b = fig.axes
    assert _touches(fig, b) == []
    assert [x.get_text() for x in a.texts] == [pg.NO_PUBLISHED] * 3
    rows = [x.get_text() for x in a.get_yticklabels()]
    assert sorted(rows[round(x.get_position()[1])] for x in a.texts) == ["B2M", "GFI1B", "TFRC"]


def _track(with_elements: bool = True) -> dict:
    kb = np.linspace(-4, 4, 64)
    track = {
        "locus": "CD55",
        "bins": pd.DataFrame({"kb": kb, "attention": 0.6 + 0.4 * np.abs(np.sin(kb))}),
        "peaks": pd.DataFrame({"kb": [-1.0, 2.0, 3.0], "in_top": [True, False, False], "signal_norm": [1, 0.5, 0.3]}),
        "k": 1,
        "n": 3,
    }
    if with_elements:
        track["elements"] = _elements()
    return track


def test_genome_track_legends_outside_truth_green_and_words():
    fig = pg.genome_track(_track(), "CD55: CDT-III DNA→RNA cross-attention and CTCF peaks (mean over 20 cells)")
    assert layout_problems(fig) == []
    a, _, e = fig.axes
    assert _outside(a.get_legend(), a) and _outside(e.get_legend(), e)
    texts = _texts(fig)
    assert "CTCF peak in the top-10%\nattention bins (1 of 3)" in texts and "open chromatin" in texts
    assert not any("attn" in t or "NTC" in t for t in texts)
    assert {to_hex(p.get_facecolor()) for p in e.patches} == set(shades("truth", 4))
    top = [line for line in a.lines if line.get_linestyle() == "-" and len(line.get_xdata()) == 2]
    assert to_hex(top[0].get_color()) == pg.MARK_COLOURS["CTCF"]
    assert to_hex(a.lines[0].get_color()) == PALETTE["CDT"]
    assert len(pg.genome_track(_track(False)).axes) == 2  # real data: no planted-element track


def test_peak_distance_band_is_a_reference_and_legend_outside():
    summary = {
        "half_window_kb": 16.0,
        "within_bp": 14300,
        "frac_within": 0.93,
        "uniform_frac_within": 0.87,
        "mean_abs_kb": 8.3,
        "uniform_mean_abs_kb": 8.2,
        "n": 86,
    }
    dist = np.random.default_rng(5).uniform(-16e3, 16e3, 86)
    fig = pg.peak_distance(dist, summary)
    assert layout_problems(fig) == []
    ax = fig.axes[0]
    band = [p for p in ax.patches if p.get_data_transform() is not ax.transData]
    assert to_hex(band[0].get_facecolor()) == PALETTE["reference"]  # not the truth green
    assert _outside(ax.get_legend(), ax) and "|d|" not in ax.get_title()
    assert ax.get_title().startswith("Attention peak vs enhancer: mean distance 8.3 kb")
    small = pg.peak_distance(np.array([-2e3, -2.1e3, 1e3]), summary | {"n": 3})
    assert all(float(y).is_integer() for y in small.axes[0].get_yticks())  # a count of pairs: whole numbers


def test_attention_gradient_overlap_rows_named_on_the_axis():
    rng = np.random.default_rng(6)
    att, grad = rng.random(256), rng.random(256)
    summary = {"k": 20, "mean": 2.2, "chance": 1.6}
    fig = pg.attention_gradient_overlap(rng.integers(0, 6, 86), summary, att, grad, 128)
    assert layout_problems(fig) == []
    a, b = fig.axes
    assert [t.get_text() for t in b.get_yticklabels()] == ["top 20\nby attention", "top 20\nby gradient"]
    assert b.get_legend() is None and _outside(a.get_legend(), a)
    colours = {to_hex(p.get_facecolor()) for p in b.patches}
    assert colours == {PALETTE["CDT"], PALETTE["gradient"]}
    small = pg.attention_gradient_overlap(np.array([3, 4, 7, 7, 7, 13]), summary, att, grad, 128)
    a = small.axes[0]
    assert all(float(v).is_integer() for v in [*a.get_xticks(), *a.get_yticks()])  # counts: whole numbers


def _case(tss=2.8):
    return {
        "pair": "chr8:37821165-37821627:G04283",
        "beta": -0.77,
        "target_gene": "G04283",
        "tss_offset_kb": tss,
        "attention_peak_kb": 0.6,
        "gradient_peak_kb": -2.3,
        "ctcf_kb": np.array([-2.8, 1.5]),
        "attention_max_over_uniform": 1.59,
    }


def test_v1_case_in_words_with_category_ctcf_lines():
    rng = np.random.default_rng(7)
    att = rng.dirichlet(np.ones(64))
    fig = pg.v1_case(att, rng.random(64), _case(), 128, temperature=att)
    assert layout_problems(fig) == []
    a, b, c = fig.axes
    assert "chr8" not in a.get_title()
    title = fig._suptitle.get_text()
    assert "target gene G04283" in title and "β = −0.77" in title and "beta" not in title
    assert not any("T-scaled" in t or "max / uniform" in t for t in _texts(fig))
    ctcf = [line for line in a.lines if line.get_linestyle() == "--" and len(line.get_xdata()) == 2]
    assert {to_hex(line.get_color()) for line in ctcf} == {pg.MARK_COLOURS["CTCF"]}
    assert a.get_xlabel() == "kb from the enhancer centre" and c.get_title() == "C  layout: target TSS at +2.8 kb"
    arrow = c.texts[0]
    assert arrow.get_text() == "TSS of target gene G04283" and to_hex(arrow.arrow_patch.get_edgecolor()) == "#000000"
    assert layout_problems(pg.v1_case(att, rng.random(64), _case(np.nan), 128)) == []


def test_pair_contact_sequential_map_chromosome_axis_and_no_code_ids():
    rng = np.random.default_rng(8)
    m = rng.gamma(1, 0.02, (20, 20))
    m = (m + m.T) / 2
    m[3, 5] = m[5, 3] = 0  # a bin without contact
    pairs = pd.DataFrame(
        {
            "pair": ["SNP-36:G07445", "SNP-2:G00001", "SNP-5:G00002"],
            "chrom": "chr4",
            "distance_kb": [7.9, 6.0, 11.0],
            "oe": [4.9, 0.7, 2.0],
        }
    )
    anchors = {"enhancer": 24_030_000, "promoter": 24_022_000}
    fig = pg.pair_contact(m, 24_010_000, 1_500, anchors, pairs, highlight="SNP-36:G07445")
    assert layout_problems(fig) == []
    a, b = fig.axes[:2]  # the colour bar comes last
    assert a.images[0].get_cmap().name == SEQUENTIAL and a.get_xlabel() == "chr4 position (Mb)"
    assert _outside(a.get_legend(), a) and _outside(b.get_legend(), b)
    texts = _texts(fig)
    assert "the pair in A (target gene G07445)" in texts and not any("SNP-36" in t for t in texts)
    assert fig.axes[2].get_ylabel() == "balanced contact (log scale)"  # short; the grey explained in the legend
    assert "no contact or masked bin" in [x.get_text() for x in a.get_legend().get_texts()]
    lo, hi = b.get_xlim()
    assert lo < 6.0 and hi > 11.0  # no point on the frame
    lines = [line for line in a.lines if len(line.get_xdata()) == 2]
    assert {to_hex(line.get_color()) for line in lines} == {PALETTE["highlight"]}


def test_element_recovery_names_scores_in_words_and_palette_colours():
    methods = ["CDT-III attention", "CDT-II attention", "embedding_norm", "near_centre", "random"]
    table = pd.DataFrame(
        [
            {"method": m, "target": t, "auroc": 0.5 + 0.1 * i, "n_pos": 7}
            for t in ("any element", "open")
            for i, m in enumerate(methods)
        ]
    )
    fig = element_recovery(table, "auroc", "title")
    assert layout_problems(fig) == []
    axes = fig.axes
    assert len(axes) == 2 and [a.get_title() for a in axes] == [
        "any element (n = 7 bins)",
        "open chromatin (n = 7 bins)",
    ]
    labels = [t.get_text() for t in axes[0].get_xticklabels()]
    assert labels == [
        "CDT-III attention",
        "CDT-II attention",
        "DNA embedding norm (no model)",
        "near the window centre (no model)",
        "random score",
    ]
    assert axes[0].get_ylabel() == "AUROC" and axes[0].get_xlabel() == "bin score" and len(axes[0].patches) == 5
    colours = [to_hex(p.get_facecolor()) for p in axes[0].patches]
    assert (
        colours[0] == PALETTE["CDT"] and colours[2] == PALETTE["baseline"] and colours[4] == RANDOM_COLOUR != NA_COLOUR
    )
    assert colours[1] != colours[0] and PALETTE["published"] not in colours  # red is for published values only
    assert bin_score_style("gradient") == ("gradient norm", PALETTE["gradient"])

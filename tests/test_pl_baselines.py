"""cdt.pl.baselines and cdt.pl.leak_free: figures read their tables, label methods and truths in words (no code names),
keep the palette's meanings and lay out without overlaps (`cdt.pl.layout_problems`)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from cdt.pl import PALETTE, layout_problems, shades  # noqa: E402
from cdt.pl import baselines as pb  # noqa: E402
from cdt.pl import leak_free as pf  # noqa: E402
from cdt.pl.baselines import RECOVERY_LABELS, recovery_heatmap  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402


def test_recovery_heatmap_labels_methods_and_truths_in_words():
    genes = pd.DataFrame(
        [
            (m, t, v)
            for m in ("attention (query->key)", "spearman_ntc", "mean (both genes)")
            for t, v in (("network_undirected", 0.6), ("state_module", np.nan))
        ],
        columns=["method", "target", "auroc"],
    )
    bins = pd.DataFrame({"method": ["cross_attention", "near_centre"], "target": "promoter", "auroc": [0.4, 0.98]})
    fig = recovery_heatmap({"gene pairs": genes, "DNA bins, TSS loci (2)": bins})
    a, b = fig.axes[:2]
    assert [t.get_text() for t in a.get_yticklabels()] == [
        "attention: source attends to target",
        "|Spearman|, control cells",
        "both genes' mean expression",
    ]
    assert [t.get_text() for t in a.get_xticklabels()] == ["planted edge (either way)", "same cell-state module"]
    assert [t.get_text() for t in b.get_yticklabels()] == [
        "DNA→RNA attention to the bin",
        "near the window centre (no model)",
    ]
    assert (a.get_title(), b.get_title()) == ("gene pairs", "DNA bins, TSS loci (2)")
    cells = [t.get_text() for t in a.texts]
    assert cells.count("0.60") == 3 and cells.count("N/A") == 3  # a missing AUROC is written N/A, not a colour
    assert fig.axes[-1].get_ylabel() == "AUROC (0.5 = chance)"  # the colour bar
    assert not any("_" in RECOVERY_LABELS[k] for k in RECOVERY_LABELS)  # words, not code names


# --- palette, words and layout of every figure (issue 20) -------------------------------------------------------------

RESERVED = {PALETTE[k] for k in ("published", "truth", "highlight", "gradient")}
BASELINES = ["mean (trainer)", "zero", "mean", "nearest_locus", "ridge", "ridge_dna"]
PERTS = ["CD44", "CD52", "GFI1B", "TFRC", "TNFSF9"]


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _summary() -> pd.DataFrame:
    rows = []
    for model, target in (("CDT-II", "rna"), ("CDT-III", "rna"), ("CDT-III", "protein")):
        rows.append((model, "paper", target, "test", model, "CDT", 0.36, 0.63))
        for i, m in enumerate(BASELINES):
            r = np.nan if m == "zero" else (-0.001 if m == "ridge_dna" else 0.1 * i)
            rows.append((model, "paper", target, "test", m, "baseline", r, np.nan if m == "zero" else 0.5))
    cols = ["model", "protocol", "target", "role", "method", "family", "r", "pb_r"]
    return pd.DataFrame(rows, columns=cols)


def test_prediction_bars_grey_baselines_words_and_no_negative_zero():
    fig = pb.prediction_bars(_summary())
    axes = fig.axes
    first = axes[0]
    colours = [to_hex(b.get_facecolor()) for b in first.patches[:7]]
    assert colours[0] == PALETTE["CDT"]
    greys = shades("baseline", 6)
    assert set(colours[1:]) <= set(greys) and not (set(colours) & RESERVED)
    assert [a.get_title() for a in axes] == [
        "CDT-II: RNA log2 fold change",
        "CDT-III: RNA log2 fold change",
        "CDT-III: protein change (DSB)",
    ]
    names = [t.get_text() for t in first.get_yticklabels()]
    # the fixture's trainer mean (r 0.0) differs from the library's (r 0.2): both rows, the difference said
    assert names[:2] == ["CDT model (panel title)", pb.METHOD_LABELS["mean (trainer)"]]
    assert "not equal to the other row" in names[1] and "mean training effect" in names
    assert not any("trainer" in n for n in names)
    assert not any(t.get_visible() and t.get_text() for t in axes[1].get_yticklabels())  # the first panel's serve
    texts = [t.get_text() for a in axes for t in a.texts]
    assert "-0.00" not in texts and texts.count("0.00") == 6 and texts.count("N/A") == 6
    assert fig._suptitle.get_text() == (
        "CDT beside simple baselines on the same held-out test cells "
        "(the test genes also chose the checkpoint, as in the papers)"
    )
    assert "mini, seed 0" not in fig._suptitle.get_text()
    assert layout_problems(fig) == []


def test_prediction_bars_show_one_mean_training_effect_and_call_the_input_ridge_a_positive_control():
    """The review found two rows "mean training effect (from the training run)" and "mean training effect" with
    the same values: the training run's own number is the library's recomputed, so it is drawn once; the ridge on
    the cell's own profile (r = 1.00) is labelled as the positive control it is."""
    s = _summary()
    trainer = s["method"] == "mean (trainer)"
    for col in ("r", "pb_r"):  # as in the runs: equal to ~1e-8
        s.loc[trainer, col] = s.loc[s["method"] == "mean", col].to_numpy() + 1e-8
    s.loc[s["method"] == "ridge", ["r", "pb_r"]] = 1.0
    fig = pb.prediction_bars(s)
    for ax in fig.axes:
        assert len(ax.get_yticks()) == 6  # CDT + zero, mean, nearest locus, ridge, ridge DNA: one mean row
    names = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert names.count("mean training effect") == 1 and not any("training run" in n for n in names)
    ridge = pb.METHOD_LABELS["ridge"]
    assert ridge in names and "the cell's own input profile" in ridge and "positive control" in ridge
    assert pb._one_mean(s[s["model"] == "CDT-II"])["method"].tolist().count("mean (trainer)") == 0
    far = s.copy()
    far.loc[far["method"] == "mean (trainer)", "r"] += 2 * pb.SAME_TOLERANCE  # a real difference stays visible
    assert "mean (trainer)" in pb._one_mean(far[far["model"] == "CDT-II"])["method"].tolist()
    assert layout_problems(fig) == []


def test_per_perturbation_dodges_methods_and_keeps_baselines_grey():
    rng = np.random.default_rng(0)
    rows = []
    for model, target in (("CDT-II", "rna"), ("CDT-III", "protein")):
        for m in (model, "mean", "ridge", "ridge_dna", "nearest_locus"):
            fam = "CDT" if m == model else "baseline"
            rows += [(model, target, m, fam, g, rng.uniform(-0.2, 1)) for g in PERTS]
    per = pd.DataFrame(rows, columns=["model", "target", "method", "family", "perturbation", "pb_r"])
    fig = pb.per_perturbation(per, ["CDT-II", "CDT-III", "mean", "ridge", "ridge_dna", "nearest_locus"])
    ax = fig.axes[0]
    xs = np.sort([c.get_offsets()[0, 0] for c in ax.collections])  # every method at the first perturbation
    assert np.allclose(np.diff(xs), 0.8 / 5)  # five methods, evenly side by side
    colours = [to_hex(c.get_facecolor()[0]) for c in ax.collections]
    assert colours[0] == shades("CDT", 3)[0]
    assert set(colours[1:]) <= set(shades("baseline", 6)) and not (set(colours) & RESERVED)
    assert to_hex(fig.axes[1].collections[0].get_facecolor()[0]) == shades("CDT", 3)[1]  # CDT-III: lighter blue
    assert ax.get_xlabel() == "held-out perturbation (knocked-down gene)"
    assert [t.get_text() for t in fig.legends[0].get_texts()][:3] == ["CDT-II", "CDT-III", "mean training effect"]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert pb.METHOD_LABELS["ridge"] in legend and "ridge: input expression + DNA" not in legend
    assert layout_problems(fig) == []


def _edge_tables():
    rng = np.random.default_rng(1)
    methods = list(pb.EDGE_LABELS)
    table = pd.DataFrame(
        [(g, m, t, rng.uniform(0.2, 0.8)) for g in [*PERTS, "B2M"] for m in methods for t in ("DE", "truth_direct")],
        columns=["perturbation", "method", "target", "auroc"],
    )
    summary = (
        table.groupby(["target", "method"], sort=False)["auroc"]
        .mean()
        .rename("auroc_mean")
        .reset_index()
        .assign(family=lambda d: d["method"].map(pb.METHOD_FAMILY))
    )
    return table, summary


def test_edge_recovery_correlations_are_grey_and_the_legend_explains_bars_and_chance():
    table, summary = _edge_tables()
    fig = pb.edge_recovery(table, summary, "GFI1B")
    assert pb.FAMILY_COLOURS["correlation"] in shades("baseline", 3)
    assert pb.FAMILY_COLOURS["gradient"] == PALETTE["gradient"]
    assert pb.FAMILY_COLOURS["attention"] == PALETTE["CDT"]
    legend = [t.get_text() for t in next(a.get_legend() for a in fig.axes if a.get_legend()).get_texts()]
    assert legend == [
        "attention",
        "gradient",
        "correlation",
        "gene-level",
        "bar: mean AUROC\nover perturbations",
        "chance (AUROC 0.5)",
        "GFI1B",
    ]
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "similar DNA→RNA attention" in ticks
    assert fig.axes[0].get_ylabel() == "edge score (the gene: the knocked-down gene)"
    # the gradients in words like the attention rows, no "Jacobian"
    assert "gradient: how much the gene's prediction\nchanges with each input gene" in ticks
    assert "gradient: how much each gene's prediction\nchanges with the gene's input" in ticks
    assert not any("jacobian" in t.lower() for t in ticks)
    # an AUROC of 0 or 1 sits inside the frame, not on it
    lo, hi = fig.axes[0].get_xlim()
    assert lo < 0 and hi > 1
    assert layout_problems(fig) == []


def test_incremental_forest_colours_by_family_and_defines_pooled_within_and_base():
    added = ["attention_row", "jacobian_column", "spearman_ntc"]
    t = pd.DataFrame(
        {
            "added": added,
            "delta": [0.01, -0.002, 0.004],
            "ci_low": [-0.01, -0.01, -0.002],
            "ci_high": [0.03, 0.01, 0.01],
        }
    ).assign(auroc_base=0.64)
    fig = pb.incremental_forest({"pooled": t, "within": t})
    a = fig.axes[0]
    marker_colours = [to_hex(line.get_color()) for line in a.lines if line.get_marker() in ("o", "D", "s")]
    assert marker_colours[:3] == [PALETTE["CDT"], PALETTE["gradient"], pb.FAMILY_COLOURS["correlation"]]
    assert (
        a.get_title()
        == "pooled: one AUROC over all\n(perturbation, gene) pairs\ngene-level features alone: AUROC 0.640"
    )
    assert fig.axes[1].get_title().startswith("within: mean AUROC over\nperturbations")
    assert a.get_ylabel() == "edge score added"
    # what the AUROC recovers: each knockdown's observed DE genes
    assert "observed DE genes" in fig._suptitle.get_text() and "observed DE genes" in a.get_xlabel()
    assert not any("jacobian" in t.get_text().lower() for t in a.get_yticklabels())
    assert layout_problems(fig) == []


def test_head_ablation_titles_in_words_category_colours_and_room_between_panels():
    rows = []
    for cond, dr in (("intact", 0.0), ("top", -0.03), ("bottom", -0.005), ("random", -0.02), ("random", -0.01)):
        rows.append((cond, 2, dr, dr * 4, 2.5e-5 if cond != "intact" else 0.0))
    t = pd.DataFrame(rows, columns=["condition", "k", "delta_r", "delta_pb_r", "embedding_cos_mean"])
    fig = pb.head_ablation({"CDT-II (rna)": t, "CDT-III (protein)": t})
    titles = [a.get_title() for a in fig.axes]
    assert titles[0] == "CDT-II, RNA log2 fold change\nchange in r"
    assert titles[5] == "CDT-III, protein change (DSB)\nembedding shift"
    assert not any("(rna)" in x for x in titles)
    assert fig.axes[2].get_ylabel() == "cosine distance from\nintact cell embedding (× 10⁻⁵)"
    colours = {to_hex(c.get_facecolor()[0]) for a in fig.axes for c in a.collections if isinstance(c, PathCollection)}
    assert colours == set(pb.CONDITION_COLOURS[c] for c in ("top", "bottom", "random"))
    assert not (colours & RESERVED) and PALETTE["published"] not in colours
    assert layout_problems(fig) == []


def test_recovery_heatmap_stacks_panels_with_axis_titles_and_readable_cells():
    genes = pd.DataFrame(
        [
            (m, t, 0.5 + 0.05 * i)
            for i, m in enumerate(("attention (query->key)", "spearman_ntc"))
            for t in ("network", "module")
        ],
        columns=["method", "target", "auroc"],
    )
    bins = [
        pd.DataFrame({"method": ["cross_attention", "near_centre"], "target": "promoter", "auroc": [0.4, 0.98]})
        for _ in range(2)
    ]
    fig = pb.recovery_heatmap(
        {"gene pairs": genes, "DNA bins, TSS loci (2)": bins[0], "DNA bins, SNP loci (3)": bins[1]}
    )
    a, b, c = fig.axes[:3]
    assert a.get_xlabel() == "planted truth to recover" and a.get_ylabel() == "score"
    assert not any(t.get_text() for t in b.get_xticklabels())  # the panel below names the same truths
    assert [t.get_text() for t in c.get_xticklabels()] == ["promoter"]
    assert min(t.get_fontsize() for t in a.texts) >= 10
    w, h = fig.get_size_inches()
    assert w < 10  # prints at page width with 10 pt cell numbers
    assert layout_problems(fig) == []


def test_leak_free_figures_shade_the_cdt_blue_and_label_inputs_in_words():
    t = pd.DataFrame(
        {
            "model": "CDT-II",
            "target": "rna",
            "method": ["CDT", "CDT", "mean training effect"],
            "input_protocol": ["cell", "control", "-"],
            "r": [0.36, 0.15, 0.16],
            "pb_r": [0.63, 0.57, 0.58],
        }
    )
    fig = pf.prediction_bars(t, "held-out genes")
    ax = fig.axes[0]
    assert [to_hex(b.get_facecolor()) for b in ax.patches] == [*shades("CDT", 4)[:2], PALETTE["baseline"]]
    assert [x.get_text() for x in ax.get_yticklabels()] == [
        "CDT-II, input: each cell's own",
        "CDT-II, input: a control cell",
        "mean training effect",
    ]
    assert ax.get_xlabel() == "per-cell r, RNA, held-out cells" and ax.get_ylabel() == "run or baseline"
    assert layout_problems(fig) == []
    readouts = pd.DataFrame(
        {
            "claim": ["planted element AUROC"] * 2 + ["CTCF fold"] * 2,
            "run": ["CDT-II, cell", "CDT-II, ntc-mean"] * 2,
            "input_protocol": ["cell", "ntc-mean"] * 2,
            "value": [0.6, 0.55, 1.4, 1.1],
            "reference": ["chance", "chance", "no enrichment", "no enrichment"],
            "reference_value": [0.5, 0.5, 1.0, 1.0],
        }
    )
    fig = pf.readout_dots(readouts)
    ax = fig.axes[0]
    assert [to_hex(line.get_color()) for line in ax.lines[:2]] == [shades("CDT", 4)[0], shades("CDT", 4)[2]]
    assert to_hex(ax.lines[2].get_color()) == PALETTE["reference"]
    assert [x.get_text() for x in ax.get_yticklabels()] == [
        "CDT-II, input: each cell's own",
        "CDT-II, input: mean of control cells",
    ]
    assert layout_problems(fig) == []

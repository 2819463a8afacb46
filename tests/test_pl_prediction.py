"""cdt.pl.prediction: what the figures of notebooks 01 and 02 draw (artists, colours, labels) and that nothing in them
covers anything (`cdt.pl.layout_problems`) on realistic small inputs."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from small_models import small_cdt2, small_cdt3

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from cdt.pl import PALETTE, category_colours, layout_problems, set_style, shades  # noqa: E402
from cdt.pl.prediction import (  # noqa: E402
    PERTURBATION_MARKERS,
    learning_curves,
    model_bars,
    paired_bars,
    pred_vs_actual,
    pseudobulk_overlay,
    pseudobulk_panels,
    trans_profile,
    v1_history,
    v1_scatter,
)
from cdt.pl.schematic import run_schematics  # noqa: E402
from matplotlib.colors import to_hex, to_rgba  # noqa: E402

GENES = ("GFI1B", "TNFSF9", "TFRC", "CD44", "CD52")


@pytest.fixture(autouse=True)
def _style():
    set_style()  # the reproduction's style: the layout check sees the fonts the saved figures have
    yield
    plt.close("all")


def _texts(fig) -> list[str]:
    out = []
    for ax in fig.axes:
        out += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel(), *(t.get_text() for t in ax.texts)]
        legend = ax.get_legend()
        if legend is not None:
            out += [t.get_text() for t in legend.get_texts()]
    return [t for t in out if t]


def _no_code_words(fig) -> None:
    for text in _texts(fig):
        assert "_" not in text and "->" not in text and " val " not in f" {text} ", text


def test_protein_overlay_gives_each_perturbation_a_category_colour_and_a_marker():
    table = pd.DataFrame(
        {
            "perturbation": np.repeat(["TFRC", "CD52", "GFI1B"], 4),
            "feature": np.tile(["P1", "P2", "P3", "P4"], 3),
            "observed": np.linspace(-1, 1, 12),
            "predicted": np.linspace(-0.5, 0.5, 12),
        }
    )
    fig = pseudobulk_overlay(table, {"TFRC": -0.5, "CD52": 0.3, "GFI1B": 0.25})
    ax = fig.axes[0]
    points = ax.collections
    assert len(points) == 3
    expected = category_colours(["CD52", "GFI1B", "TFRC"])  # sorted: the same names always get the same colours
    for c, name in zip(points, ["CD52", "GFI1B", "TFRC"], strict=True):
        assert to_hex(c.get_facecolor()[0]) == expected[name]
        assert to_hex(c.get_facecolor()[0]) not in (PALETTE["published"], PALETTE["truth"])
    paths = [tuple(map(tuple, c.get_paths()[0].vertices.round(3))) for c in points]
    assert len(set(paths)) == 3  # three marker shapes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "CD52 (r = 0.30)",
        "GFI1B (r = 0.25)",
        "TFRC (r = -0.50)",
    ]
    assert ax.get_title() == "Cell-mean protein change, predicted vs actual\n4 proteins × 3 knockdowns; mean r = 0.017"
    assert ax.get_xlabel() == "actual mean protein change (DSB units)"
    assert any("DSB: denoised and scaled" in t.get_text() for t in ax.texts)  # the unit spelled out
    assert len(PERTURBATION_MARKERS) == len(set(PERTURBATION_MARKERS))
    assert layout_problems(fig) == []


def test_protein_overlay_with_more_perturbations_than_category_colours_keeps_the_model_colour():
    names = [f"G{i}" for i in range(9)]
    table = pd.DataFrame(
        {"perturbation": np.repeat(names, 2), "feature": ["P1", "P2"] * 9, "observed": 0.1, "predicted": 0.2}
    )
    fig = pseudobulk_overlay(table, dict.fromkeys(names, 0.5))
    for c in fig.axes[0].collections:
        assert np.allclose(c.get_facecolor()[:, :3], to_rgba(PALETTE["CDT"])[:3])


def test_learning_curves_runs_in_cdt_shades_published_in_red_both_panels_labelled():
    epochs = np.arange(1, 16)
    rows = []
    for label, top in (("curated", 0.36), ("full", 0.16)):
        for s, shift in (("train", 0.05), ("val", 0.0)):
            rows.append(pd.DataFrame({"label": label, "epoch": epochs, "set": s, "r": top * epochs / 15 + shift}))
    curves = pd.concat(rows, ignore_index=True)
    fig = learning_curves(
        curves, best={"curated": (14, 0.34), "full": (11, 0.12)}, published={"curated": 0.64, "full": 0.37}
    )
    a, b = fig.axes
    curated, full = shades("CDT", 2)
    val_lines = [line for line in a.lines if len(line.get_xdata()) == 15]
    assert [to_hex(line.get_color()) for line in val_lines] == [curated, full]
    published = [line for line in a.lines if len(line.get_xdata()) == 2]
    assert [to_hex(line.get_color()) for line in published] == [PALETTE["published"]] * 2
    assert len({line.get_linestyle() for line in published}) == 2  # one dash pattern per run
    assert val_lines[0].get_markevery() == [13]  # the best checkpoint (epoch 14) marked on the curve
    assert b.get_ylabel() == "Pearson r (cells × genes)"
    assert [t.get_text() for t in b.get_legend().get_texts()] == [
        "curated, training",
        "curated, validation",
        "full, training",
        "full, validation",
    ]
    _no_code_words(fig)
    assert layout_problems(fig) == []


def test_pred_vs_actual_title_in_symbols_panel_letters_and_residual_axis_without_the_outliers():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(200, 50))
    pred = 0.5 * target + rng.normal(scale=0.3, size=target.shape)
    pred[0, 0] = 40.0  # one outlier: the residual axis must not stretch to it
    fig = pred_vs_actual(pred, target, {"r": 0.8, "R2": 0.6, "rho": 0.7})
    a, b = fig.axes[0], fig.axes[1]
    assert a.get_title() == (
        "A  All held-out cells × genes (10,000 pairs)\nPearson r = 0.800, Spearman ρ = 0.700\n"
        "r² (squared Pearson) = 0.640, R² (1 − SSres/SStot) = 0.600"
    )
    caption = " ".join(t.get_text() for t in fig.texts)  # r² and R² defined in words under the panels
    assert "r²: the squared Pearson correlation" in caption
    assert "R² = 1 − SSres/SStot (SSres: sum of squared residuals; SStot: sum of squared deviations" in caption
    assert "below 0 when they fit worse than the mean" in caption
    assert b.get_title().startswith("B  Residuals")
    assert a.get_xlabel() == "actual log2 fold change" and a.get_ylabel() == "predicted log2 fold change"
    assert b.get_xlim()[1] < 5  # 99.9th percentile of the residuals, not the outlier at ~40
    assert to_hex(b.patches[0].get_facecolor()) == PALETTE["CDT"]
    assert layout_problems(fig) == []


def test_pred_vs_actual_tells_a_negative_r2_from_the_squared_pearson_and_keeps_the_title_off_the_colour_bar():
    rng = np.random.default_rng(1)
    target = rng.normal(size=(400, 60))
    pred = 0.05 * target + 0.3 + rng.normal(scale=0.02, size=target.shape)  # correlated but offset: R² < 0
    stats = {
        "r": float(np.corrcoef(pred.ravel(), target.ravel())[0, 1]),
        "R2": float(1 - ((pred - target) ** 2).sum() / ((target - target.mean()) ** 2).sum()),
        "rho": 0.06,
    }
    assert stats["r"] ** 2 > 0.5 and stats["R2"] < 0
    fig = pred_vs_actual(pred, target, stats)
    title = fig.axes[0].get_title().splitlines()[2]
    assert title == f"r² (squared Pearson) = {stats['r'] ** 2:.3f}, R² (1 − SSres/SStot) = {stats['R2']:.3f}"
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    cax = fig.axes[-1]  # the colour bar: its top tick label reaches half a font height above it
    half_tick = max(t.get_size() for t in cax.get_yticklabels()) * fig.dpi / 72 / 2
    assert fig.axes[0].title.get_window_extent(renderer).y0 > cax.get_window_extent(renderer).y1 + half_tick
    assert layout_problems(fig) == []


def test_pseudobulk_panels_say_genes_and_cells_and_label_every_axis():
    rng = np.random.default_rng(1)
    n = 60
    table = pd.concat(
        [
            pd.DataFrame(
                {"perturbation": g, "feature": [f"g{i}" for i in range(n)], "observed": x, "predicted": 0.6 * x}
            )
            for g, x in ((g, rng.normal(scale=0.3, size=n)) for g in GENES)
        ]
    )
    r = dict(zip(GENES, (0.39, 0.66, 0.78, 0.63, 0.68), strict=True))
    cells = dict(zip(GENES, (63, 46, 111, 31, 17), strict=True))
    fig = pseudobulk_panels(table, r, cells, list(GENES))
    axes = fig.axes
    assert axes[0].get_title() == "GFI1B knockdown (63 cells)\nr = 0.39 over 60 genes"
    for ax in axes:
        assert ax.get_xlabel() == "actual mean log2 fold change"
        assert ax.get_ylabel() == "predicted mean log2 fold change"
    assert layout_problems(fig) == []


def test_trans_profile_observed_in_a_category_colour_the_knocked_down_gene_in_orange():
    n = 200
    observed = np.sort(np.random.default_rng(2).normal(scale=0.2, size=n))
    profile = pd.DataFrame(
        {
            "gene": [f"g{i}" for i in range(n)],
            "observed": observed,
            "predicted": 0.5 * observed,
            "is_self": np.arange(n) == 3,
            "rank": np.arange(n),
        }
    )
    fig = trans_profile(profile, "GFI1B", 0.388)
    ax = fig.axes[0]
    colours = {line.get_label(): to_hex(line.get_color()) for line in ax.lines}
    assert colours["observed"] == category_colours(["observed"])["observed"]
    assert colours["predicted (CDT-II)"] == PALETTE["CDT"]
    assert colours["GFI1B (the knocked-down gene)"] == PALETTE["highlight"]
    assert PALETTE["truth"] not in colours.values() and PALETTE["baseline"] not in colours.values()
    assert ax.get_title() == "GFI1B knockdown: trans-effect profile over 200 genes (r = 0.388)"
    assert layout_problems(fig) == []


def test_paired_bars_models_in_cdt_shades_with_hatches_published_red_legend_outside():
    table = pd.DataFrame(
        {
            "perturbation": ["CD44", "CD52", "GFI1B", "TFRC", "TNFSF9"],
            "rna_r_cdt2": [0.63, 0.68, 0.39, 0.78, 0.66],
            "rna_r_cdt3": [0.69, 0.72, 0.40, 0.83, 0.66],
            "published_rna_r_cdt2": [0.80, 0.72, 0.85, 0.82, 0.83],
            "published_rna_r_cdt3": [0.86, 0.75, 0.89, 0.85, 0.87],
        }
    )
    fig = paired_bars(
        table,
        ["rna_r_cdt2", "rna_r_cdt3"],
        ["CDT-II", "CDT-III"],
        ["published_rna_r_cdt2", "published_rna_r_cdt3"],
        title="Per-gene RNA prediction: CDT-II vs CDT-III",
    )
    ax = fig.axes[0]
    bars = ax.patches
    assert {to_hex(p.get_facecolor()) for p in bars[:5]} == {shades("CDT", 2)[0]}
    assert {to_hex(p.get_facecolor()) for p in bars[5:]} == {shades("CDT", 2)[1]}
    assert bars[0].get_hatch() in (None, "") and bars[5].get_hatch() == "//"
    assert {to_hex(c.get_facecolor()[0]) for c in ax.collections} == {PALETTE["published"]}
    assert ax.get_xlabel() == "held-out knockdown" and ax.get_title() == "Per-gene RNA prediction: CDT-II vs CDT-III"
    assert layout_problems(fig) == []


def test_model_bars_name_the_published_variants_by_their_lambda():
    stages = pd.DataFrame(
        {
            "model": ["CDT-II (RNA only)", "CDT-III single-stage (lambda 0.1)", "CDT-III two-stage"],
            "rna_r": [0.36, 0.4, 0.37],
        }
    )
    published = pd.DataFrame(
        {
            "variant": ["CDT-II (RNA only)", "single-stage A", "single-stage E (lambda warm-up)", "CDT-III two-stage"],
            "lambda": ["—", "1.0", "0.001 -> 0.01", "0.1"],
            "rna_r": [0.64, 0.19, 0.30, 0.64],
        }
    )
    fig = model_bars(stages, "rna_r", published=published)
    a, b = fig.axes
    assert [t.get_text() for t in a.get_yticklabels()] == [
        "CDT-II (RNA only)",
        "CDT-III single-stage (λ 0.1)",
        "CDT-III two-stage",
    ]
    assert [t.get_text() for t in b.get_yticklabels()] == [
        "CDT-II (RNA only)",
        "single-stage A (λ 1.0)",
        "single-stage E (λ warm-up 0.001 → 0.01)",
        "CDT-III two-stage (λ 0.1)",
    ]
    assert a.get_ylabel() == "model" and b.get_ylabel() == "published variant (λ: protein-loss weight)"
    assert to_hex(a.patches[0].get_facecolor()) == PALETTE["CDT"]
    assert to_hex(b.patches[0].get_facecolor()) == PALETTE["published"]
    assert layout_problems(fig) == []


def test_v1_scatter_in_the_cdt_colour_with_a_title_saying_what_is_shown():
    rng = np.random.default_rng(3)
    obs = rng.normal(scale=0.2, size=86)
    pairs = pd.DataFrame({"observed": obs, "predicted": 0.4 * obs})
    fig = v1_scatter(pairs, {"n": 86, "r": 0.378, "p_value": 3.3e-4, "rho": 0.221})
    ax = fig.axes[0]
    assert to_hex(ax.collections[0].get_facecolor()[0]) == PALETTE["CDT"]
    assert ax.get_title().splitlines() == [
        "CDT v1: enhancer–gene pairs, predicted vs observed",
        "n = 86, r = 0.378 (P = 3.3e-04), ρ = 0.221",
    ]
    assert ax.get_xlabel() == "observed effect size β"
    assert layout_problems(fig) == []


def test_v1_history_training_and_validation_in_cdt_shades_and_the_stop_explained():
    epochs = np.arange(1, 16)
    history = pd.DataFrame(
        {
            "epoch": epochs,
            "train_loss": 0.03 / epochs,
            "val_loss": 0.02 / np.sqrt(epochs),
            "train_r": 0.6 * (1 - np.exp(-epochs / 3)),
            "val_r": 0.3 * (1 - np.exp(-epochs / 3)) + 0.02 * (epochs == 13),
        }
    )
    fig = v1_history(history, 13)
    a, b = fig.axes
    train, val = shades("CDT", 2)
    assert [to_hex(line.get_color()) for line in b.lines[:2]] == [train, val]
    assert to_hex(b.collections[0].get_facecolor()[0]) == PALETTE["CDT"]  # the best-epoch star
    labels = [t.get_text() for t in b.get_legend().get_texts()]
    assert labels == ["training", "validation", "best validation r 0.316 (epoch 13)", "training stopped (epoch 15)"]
    assert a.get_title() == "B  Loss per epoch" and b.get_title() == "C  Pearson r per epoch"
    assert layout_problems(fig) == []


def test_run_schematics_draw_the_trained_models_only():
    figs = run_schematics({"cdt2": small_cdt2(), "cdt3": small_cdt3(), "other": small_cdt2()}, preset="tiny")
    assert list(figs) == ["cdt2_fig1_architecture", "cdt3_fig1_architecture"]
    titles = [f.axes[0].get_title() for f in figs.values()]
    assert titles[0].startswith("CDT-II, tiny preset: ") and titles[1].startswith(
        "CDT-III (two-stage VCE), tiny preset"
    )

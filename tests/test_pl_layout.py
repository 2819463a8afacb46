"""The layout check (`cdt.pl.layout_problems`) finds what a reader would see as a fault, and nothing in a clean figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from cdt.pl import CATEGORIES, PALETTE, category_colours, save_figure, shades  # noqa: E402
from cdt.pl._layout import layout_problems, main, saved_problems  # noqa: E402


def _clean():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.scatter([0, 1, 2], [0, 1, 2], label="CDT-II")
    ax.axhline(1.0, color="0.5")  # a reference line under the legend is not data
    ax.set(xlabel="actual", ylabel="predicted", title="clean")
    ax.legend(loc="lower right")
    return fig, ax


def test_a_clean_figure_has_no_problems():
    fig, _ = _clean()
    assert layout_problems(fig) == []
    plt.close(fig)


def test_overlapping_texts_are_named():
    fig, ax = _clean()
    ax.text(0.5, 0.5, "GFI1B")
    ax.text(0.52, 0.5, "TFRC")
    assert layout_problems(fig) == ["text 'GFI1B' overlaps text 'TFRC'"]
    plt.close(fig)


def test_a_legend_over_points_is_counted():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.scatter(np.linspace(0, 1, 11), np.ones(11), label="genes")
    ax.set(xlabel="x", ylabel="y", title="top row", ylim=(0, 1.05))
    ax.legend(loc="upper center")
    (problem,) = layout_problems(fig)
    assert problem.startswith("legend of panel 'top row' covers ") and problem.endswith("data point(s)")
    plt.close(fig)


def test_a_legend_over_a_bar_is_found_but_not_over_a_shaded_span():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.bar([0, 1, 2], [1.0, 0.2, 0.2], label="bars")
    ax.axvspan(1.5, 2.5, color="0.9", label="span")
    ax.set(xlabel="x", ylabel="y", title="bars", ylim=(0, 1.05))
    ax.legend(loc="upper left")
    assert layout_problems(fig) == ["legend of panel 'bars' covers 1 bar(s)"]
    ax.legend(loc="upper right")
    assert layout_problems(fig) == []
    plt.close(fig)


def test_unlabelled_axes_and_colour_bars_are_named():
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3), layout="constrained")
    a.plot([0, 1, 2], [1, 2, 3])
    a.set_title("curve")
    im = b.imshow(np.eye(3))
    b.set(title="map", xlabel="key", ylabel="query")
    fig.colorbar(im, ax=b)
    assert layout_problems(fig) == [
        "x axis of panel 'curve' has tick labels but no label",
        "y axis of panel 'curve' has tick labels but no label",
        "colour bar beside panel 'map' has no label",
    ]
    plt.close(fig)


def test_save_figure_records_problems_and_puts_the_mark_below_everything(tmp_path, capsys):
    fig, ax = _clean()
    save_figure(fig, "clean", tmp_path, synthetic=True)
    assert saved_problems(tmp_path) == {}
    fig, ax = _clean()
    ax.set_xlabel("")
    save_figure(fig, "bad", tmp_path, synthetic=True)
    assert saved_problems(tmp_path) == {"bad": ["x axis of panel 'clean' has tick labels but no label"]}
    assert main(tmp_path) == 1
    assert "1 of 2 figures have layout problems" in capsys.readouterr().out
    fig, ax = _clean()
    save_figure(fig, "bad", tmp_path, synthetic=True)  # fixed: the stale record goes
    assert saved_problems(tmp_path) == {} and main(tmp_path) == 0


def test_category_colours_and_shades_keep_away_from_the_meaning_colours():
    assert category_colours(["DNase", "CTCF"]) == {"DNase": CATEGORIES[0], "CTCF": CATEGORIES[1]}
    assert not set(CATEGORIES) & set(PALETTE.values())
    blues = shades("CDT", 3)
    assert blues[0] == PALETTE["CDT"] and len(set(blues)) == 3
    assert shades("baseline", 1) == [PALETTE["baseline"]]


def test_tick_labels_beyond_the_limits_are_not_drawn_and_not_checked():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1, 2], [0.5, 1.0, 1.5])
    ax.set_yticks([0.0, 0.5, 1.0, 1.5, 2.5])  # 0.0 and 2.5 lie beyond the limits set next
    ax.set(xlabel="x", ylabel="y", ylim=(0.45, 1.55))
    ax.text(-0.3, 2.5, "here", transform=ax.transData, clip_on=False)  # where the undrawn 2.5 label would be
    fig.canvas.draw()
    assert ax.yaxis.get_ticklabels()[-1].get_visible()  # matplotlib reports it visible, but never draws it
    assert not any("'2.5'" in p for p in layout_problems(fig))
    plt.close(fig)


def test_panels_without_axes_and_round_patches_are_checked_without_their_hidden_ticks():
    fig, ax = plt.subplots(figsize=(3, 3))
    ax.add_patch(plt.Circle((0.5, 0.5), 0.3, label="set A"))
    ax.set_axis_off()  # a Venn diagram: no axes, so no tick labels to check or to label
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, -0.3))
    fig.text(0.5, 0.02, "below")
    assert layout_problems(fig) == []
    plt.close(fig)


def test_a_legend_beside_horizontal_bars_covers_none_of_them():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.barh([0, 1, 2, 3], [0.2, 0.5, 0.9, 1.0], label="gradient")
    ax.set(xlabel="gradient", ylabel="protein", title="bars", xlim=(0, 1.02), ylim=(-0.5, 3.1))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))  # outside the panel, beside the bar ends
    assert layout_problems(fig) == []
    ax.legend(loc="upper right")  # inside, over the longest bars' ends
    assert layout_problems(fig) == ["legend of panel 'bars' covers 1 bar(s)"]
    plt.close(fig)


def test_a_gene_label_over_another_point_is_found_but_not_a_label_inside_its_own_node():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.scatter([0.0, 0.1, 1.0], [0.0, 0.0, 1.0])
    ax.set(xlabel="x", ylabel="y", title="genes", xlim=(-0.5, 1.5), ylim=(-0.5, 1.5))
    ax.text(1.0, 1.0, "NODE", ha="center", va="center")  # centred on its own point (a network node)
    assert layout_problems(fig) == []
    ax.text(0.02, 0.0, "TNFRSF18", va="center")  # starts beside its point and runs over the next one
    assert layout_problems(fig) == ["text 'TNFRSF18' in panel 'genes' covers 1 marker(s)"]
    plt.close(fig)

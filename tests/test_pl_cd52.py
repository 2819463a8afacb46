"""cdt.pl.cd52: the CD52 figures keep the palette's meanings, name the knockdown and their units, and lay out
without text over text, labels over points or legends over data (`cdt.pl.layout_problems`)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from cdt.pl import PALETTE, layout_problems, shades  # noqa: E402
from cdt.pl import cd52 as pc  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

PROTEINS = [f"P{i}" for i in range(40)]


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _protein_table(rng) -> pd.DataFrame:
    """40 proteins, 30 expressed, measured changes crowded near +0.5 like the simulated CD52 knockdown."""
    actual = np.concatenate([rng.normal(0.5, 0.05, 15), rng.normal(0.05, 0.05, 25)])
    return pd.DataFrame(
        {
            "protein": PROTEINS,
            "gene": PROTEINS,
            "expressed": [True] * 30 + [False] * 10,
            "actual": actual,
            "predicted": 0.3 * actual + rng.normal(0, 0.03, 40),
        }
    )


def _points_under_texts(ax) -> int:
    """How many scatter points lie inside a text of `ax` (display coordinates)."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    pts = np.concatenate([c.get_offset_transform().transform(c.get_offsets()) for c in ax.collections])
    n = 0
    for t in ax.texts:
        b = t.get_window_extent(renderer)
        n += int(np.sum((pts[:, 0] > b.x0) & (pts[:, 0] < b.x1) & (pts[:, 1] > b.y0) & (pts[:, 1] < b.y1)))
    return n


def _colour(artist) -> str:
    return to_hex(artist.get_facecolor()[0] if np.ndim(artist.get_facecolor()) > 1 else artist.get_facecolor())


def test_power_of_ten_names_the_scale_of_small_gradients():
    assert pc._power_of_ten([3e-5, -8e-5, np.nan]) == -5  # 8e-5 -> 8 x 10^-5
    assert pc._power_of_ten([2e-3]) == -3
    assert pc._power_of_ten([0.5, -0.2]) == 0  # already readable
    assert pc._power_of_ten([]) == 0
    assert pc._times(-5) == " (× 10⁻⁵)" and pc._times(0) == ""


def test_rna_scatter_highlights_the_knocked_down_gene():
    rna = pd.DataFrame(
        {"gene": ["CD52", "A", "B", "C"], "actual": [-1.0, 0.1, 0.2, -0.1], "predicted": [-0.8, 0, 0.3, 0]}
    )
    fig = pc.rna_scatter(rna, r=0.9, n_cells=12)
    ax = fig.axes[0]
    assert _colour(ax.collections[1]) == PALETTE["highlight"]
    assert ax.get_xlabel() == "measured mean log2 fold change"
    assert ax.get_title().startswith("CD52 knockdown, RNA")
    assert layout_problems(fig) == []


def test_protein_scatter_names_the_knockdown_and_keeps_labels_off_points():
    rng = np.random.default_rng(0)
    p = _protein_table(rng)
    control = p.assign(predicted=rng.normal(0, 0.02, 40))
    fig = pc.protein_scatter(p, 0.8, n_label=6, control=control, control_r=0.1)
    ax = fig.axes[0]
    assert ax.get_title() == "CD52 knockdown, protein: 30 expressed proteins"
    assert "DSB-normalised protein level" in ax.get_xlabel()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[1] == "CDT-III, protein input: mean of control cells (r = 0.100)"  # words, not "NTC-mean"
    assert to_hex(ax.collections[0].get_facecolor()[0]) == PALETTE["CDT"]
    assert to_hex(ax.collections[1].get_edgecolor()[0]) == shades("CDT", 2)[1]  # the same model, lighter
    top6 = p[p["expressed"]].reindex(p[p["expressed"]]["actual"].abs().sort_values(ascending=False).index[:6])
    assert {t.get_text() for t in ax.texts} == set(top6["protein"])
    assert _points_under_texts(ax) == 0  # 15 proteins crowd at +0.5: every label found a free spot
    assert layout_problems(fig) == []


def test_side_effect_bars_colours_measured_predicted_and_clinical():
    d = pd.DataFrame(
        {
            "protein": ["MCAM", "TFRC", "ICAM1", "PDPN"],
            "gene": ["MCAM", "TFRC", "ICAM1", "PDPN"],
            "actual": [0.8, 0.7, -0.5, 0.2],
            "predicted": [0.2, 0.3, -0.1, -0.05],
            "agree": [True, True, True, False],
            "clinical": [True, False, True, False],
        }
    )
    fig = pc.side_effect_bars(d, {"n_detectable": 4, "threshold": 0.1, "n_agree": 3})
    ax = fig.axes[0]
    measured, predicted = ax.patches[:4], ax.patches[4:8]
    assert [to_hex(b.get_facecolor()) for b in measured] == [pc.PROT_UP, pc.PROT_UP, pc.PROT_DOWN, pc.PROT_UP]
    assert {to_hex(b.get_facecolor()) for b in predicted} == {PALETTE["CDT"]}
    ticks = ax.get_yticklabels()
    assert [t.get_text() for t in ticks] == ["MCAM", "TFRC", "ICAM1", "PDPN  ✗"]
    assert [to_hex(t.get_color()) for t in ticks][:2] == [PALETTE["highlight"], to_hex(ticks[1].get_color())]
    assert to_hex(ticks[0].get_color()) == PALETTE["highlight"] and to_hex(ticks[1].get_color()) != PALETTE["highlight"]
    assert ax.get_title().startswith("CD52 knockdown: 4 proteins change by more than 0.1 DSB")
    assert "CD52" in ax.get_xlabel() and ax.get_ylabel() == "protein (gene)"
    legend = [t.get_text() for t in next(a.get_legend() for a in fig.axes if a.get_legend()).get_texts()]
    assert "name in orange: clinically\nrelevant (authors' list)" in legend
    assert layout_problems(fig) == []


def _gradient_table(rng, n=20) -> pd.DataFrame:
    g = rng.normal(0, 4e-5, n)
    published = np.full(n, np.nan)
    published[:5] = [0.05, -0.02, 0.04, 0.01, 0.03]
    return pd.DataFrame(
        {
            "protein": [f"P{i}" for i in range(n)],
            "gradient": g,
            "code_label": np.where(g >= 0, "up", "down"),
            "first_order_direction": np.where(g >= 0, "down", "up"),
            "published_gradient": published,
        }
    )


def test_gradient_bars_publishes_in_red_and_labels_directions_in_words():
    t = _gradient_table(np.random.default_rng(1))
    fig = pc.gradient_bars(t, "mean of control cells")
    ax, col = fig.axes[:2]
    colours = [to_hex(b.get_facecolor()) for b in ax.patches]
    expected = [pc.GRAD_UP if d == "up" else pc.GRAD_DOWN for d in t["first_order_direction"]]
    assert colours == expected and pc.GRAD_UP == PALETTE["gradient"]
    assert to_hex(ax.collections[0].get_facecolor()[0]) == PALETTE["published"]
    labels = [x.get_text() for x in ax.get_yticklabels()]
    assert not any("code" in lab or "[" in lab for lab in labels)
    first = f"first order {pc.ARROW[t['first_order_direction'][0]]}"
    assert labels[0] == f"P0  (authors ↑, {first})"  # published +0.05
    assert ax.get_xlabel() == "d protein / d RNA(CD52) (× 10⁻⁵)"  # no detached "1e-5" offset text
    assert ax.xaxis.get_offset_text().get_text() == ""
    assert layout_problems(fig) == []


def test_gradient_bars_authors_label_is_the_published_sign_not_this_runs():
    """The review found "authors ↑/↓" equal to this run's sign (the table's code_label): it must be the sign of the
    published gradient, whatever this run's gradient, and absent for a protein not in the published table."""
    t = _gradient_table(np.random.default_rng(1))
    t["gradient"] = np.abs(t["gradient"]) * np.where(np.arange(20) % 2, 1, -1)  # this run: -, +, -, +, ...
    t["code_label"] = np.where(t["gradient"] >= 0, "up", "down")
    fig = pc.gradient_bars(t, "mean of control cells")
    ax, col = fig.axes[:2]
    labels = [x.get_text() for x in ax.get_yticklabels()]
    # published [0.05, -0.02, 0.04, 0.01, 0.03]: ↑ ↓ ↑ ↑ ↑ whatever this run's sign (-, +, -, +, -)
    assert [lab.split("(")[1].split(",")[0] for lab in labels[:5]] == [
        "authors ↑",
        "authors ↓",
        "authors ↑",
        "authors ↑",
        "authors ↑",
    ]
    assert all("(not in the paper's table, first order" in lab for lab in labels[5:])
    # the published column: the printed value in red, N/A in grey for the 15 rows without one
    cells = {c.get_text(): to_hex(c.get_color()) for c in col.texts}
    assert cells["+0.050"] == PALETTE["published"] and cells["-0.020"] == PALETTE["published"]
    assert [c.get_text() for c in col.texts].count("N/A") == 15 and cells["N/A"] == PALETTE["reference"]
    assert "published" in cells
    legend = [x.get_text() for x in col.get_legend().get_texts()]
    assert any("N/A: no published value" in x for x in legend)
    assert "authors: the paper's label,\n↑ for a positive published gradient" in legend
    assert layout_problems(fig) == []


def test_label_points_leaders_cross_no_label_and_no_other_leader():
    """fig 4B at mini: a leader ran through the CD1D label and three leaders crossed. With the mini preset's six
    labelled proteins (three within a few pixels) among 40 others, no leader crosses another label or leader."""
    rng = np.random.default_rng(4)
    top = {  # the mini run's labelled proteins: measured, predicted mean change
        "MCAM": (0.855, 0.197),
        "TFRC": (0.778, 0.302),
        "CD1D": (0.626, 0.352),
        "TNFRSF25": (0.572, 0.157),
        "TNFRSF14": (0.571, 0.263),
        "TNFRSF18": (0.568, 0.239),
    }
    rest = [f"X{i}" for i in range(40)]
    p = pd.DataFrame(
        {
            "protein": [*top, *rest],
            "gene": [*top, *rest],
            "expressed": True,
            "actual": [v[0] for v in top.values()] + list(rng.uniform(-0.05, 0.45, 40)),
            "predicted": [v[1] for v in top.values()] + list(rng.uniform(0.13, 0.37, 40)),
        }
    )
    fig = pc.protein_scatter(p, 0.5, control=p.assign(predicted=rng.normal(0, 0.03, 46)), control_r=0.1)
    ax = fig.axes[0]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = {t.get_text(): t.get_window_extent(renderer) for t in ax.texts}
    assert set(boxes) == set(top)
    leaders = {}
    for line in ax.lines:
        if line.get_color() == "0.5":
            (x0, y0), end = line.get_xydata()
            name = next(k for k, v in top.items() if np.allclose(v, (x0, y0)))
            leaders[name] = ax.transData.transform([(x0, y0), end])
    assert leaders  # the crowded cluster needs some
    for name, (a, b) in leaders.items():
        assert not any(pc._through(a, b, box) for k, box in boxes.items() if k != name), name
        assert not any(pc._crosses(a, b, c, d) for k, (c, d) in leaders.items() if k != name), name
    assert _points_under_texts(ax) == 0 and layout_problems(fig) == []


def test_crosses_and_through_are_plain_geometry():
    from matplotlib.transforms import Bbox

    o, e = np.array([0.0, 0.0]), np.array([10.0, 10.0])
    assert pc._crosses(o, e, np.array([0.0, 10.0]), np.array([10.0, 0.0]))  # an X
    assert not pc._crosses(o, e, np.array([0.0, 1.0]), np.array([9.0, 10.0]))  # parallel
    assert not pc._crosses(o, e, np.array([10.0, 10.0]), np.array([20.0, 0.0]))  # touching ends only
    assert pc._through(o, e, Bbox([[4, 4], [6, 6]]))
    assert not pc._through(o, e, Bbox([[6, 0], [9, 3]]))


def test_gradient_concordance_is_purple_with_separate_labels():
    rng = np.random.default_rng(2)
    ntc = pd.Series(rng.normal(0, 3e-5, 40), index=[f"PROT{i}" for i in range(40)])
    ntc.iloc[:6] = [9e-5, 8.9e-5, 8.8e-5, 8.85e-5, -9e-5, -8.9e-5]  # the labelled ones in two tight clusters
    cells = ntc + rng.normal(0, 5e-6, 40)
    stats = pd.DataFrame(
        {
            "proteins": ["all", "expressed"],
            "n": [40, 30],
            "r": [0.9, 0.8],
            "rho": [0.85, 0.8],
            "n_same_direction": [36, 27],
            "fraction_same_direction": [0.9, 0.9],
        }
    )
    fig = pc.gradient_concordance(ntc, cells, np.arange(40) < 30, stats, n_cells=30)
    a, b = fig.axes
    assert to_hex(a.collections[0].get_facecolor()[0]) == PALETTE["gradient"]
    assert a.get_xlabel() == "d protein / d RNA(CD52),\ninput: mean of control cells (× 10⁻⁵)"
    assert "mean over 30\nCD52 knockdown cells" in a.get_ylabel()
    assert a.get_title().startswith("A  all proteins (n = 40): r = 0.900, Spearman ρ = 0.850")
    assert len(a.texts) == 5 and _points_under_texts(a) == 0 and _points_under_texts(b) == 0
    # table 10 at mini: DPP4 / ITGB1 floated away with no leader; every label not beside its point has one
    renderer = fig.canvas.get_renderer()
    for ax in (a, b):
        starts = [tuple(np.round(line.get_xydata()[0], 9)) for line in ax.lines if line.get_color() == "0.5"]
        for t in ax.texts:
            name = t.get_text()
            point = ax.transData.transform((ntc[name] * 1e5, cells[name] * 1e5))
            box = t.get_window_extent(renderer)
            gap = np.hypot(max(box.x0 - point[0], 0, point[0] - box.x1), max(box.y0 - point[1], 0, point[1] - box.y1))
            beside = gap <= 3 * fig.dpi / 72 + 1
            led = tuple(np.round((ntc[name] * 1e5, cells[name] * 1e5), 9)) in starts
            assert beside or led, name
            # a label without a leader is beside no other point (it could name either)
            pts = ax.transData.transform(ax.collections[0].get_offsets())
            assert led or not pc._near_box(box, pts, point, near=6.0), name
    assert layout_problems(fig) == []


def test_divergence_bars_give_each_quantity_its_own_axis_and_unit():
    t = pd.DataFrame(
        {
            "gene": ["A", "B", "C"],
            "mrna_measured": [-0.3, 0.1, -0.2],
            "protein_measured": [0.5, 0.4, -0.3],
            "mrna_predicted": [-0.1, 0.05, 0.0],
            "protein_predicted": [0.2, -0.1, -0.1],
            "opposite_measured": [True, False, False],
        }
    )
    fig = pc.divergence_bars(t, {"n_opposite": 1, "n_both_levels": 3})
    m, p = fig.axes
    assert m.get_xlabel() == "mean log2 fold change"
    assert p.get_xlabel() == "mean change (DSB-normalised protein level)"
    assert [to_hex(b.get_facecolor()) for b in m.patches] == [pc.MRNA_DOWN, pc.MRNA_UP, pc.MRNA_DOWN]
    assert [to_hex(b.get_facecolor()) for b in p.patches] == [pc.PROT_UP, pc.PROT_UP, pc.PROT_DOWN]
    assert to_hex(m.collections[0].get_facecolor()[0]) == PALETTE["CDT"]  # predictions are the model's
    assert [x.get_text() for x in m.get_yticklabels()] == ["A *", "B", "C"]
    legend = [x.get_text() for x in next(a.get_legend() for a in fig.axes if a.get_legend()).get_texts()]
    assert "mRNA: measured rise" in legend and "protein: measured fall" in legend
    assert any(x.startswith("* after a gene") for x in legend)
    assert "CD52 knockdown: 1 of 3 genes" in fig._suptitle.get_text()
    assert layout_problems(fig) == []


def test_truth_panels_keep_green_for_the_planted_truth_only():
    rng = np.random.default_rng(3)
    w = np.concatenate([rng.uniform(-0.6, -0.1, 20), np.zeros(30)])
    truth = pd.DataFrame(
        {
            "planted_weight": w,
            "measured": -w + rng.normal(0, 0.05, 50),
            "predicted": -0.5 * w + rng.normal(0, 0.05, 50),
            "gradient_ntc_mean": rng.normal(0, 1e-5, 50),
        }
    )
    summary = {
        "n_shared": 15,
        "n_planted": 20,
        "n_predicted": 22,
        "gradient_ntc_mean_sign_matches_weight": 11,
        "gradient_ntc_mean_auroc": 0.55,
    }
    fig = pc.truth_panels(truth, summary)
    a, b = fig.axes
    colours = {to_hex(c.get_facecolor()[0]) for c in (*a.collections, *b.collections)}
    assert PALETTE["truth"] not in colours
    assert to_hex(b.collections[0].get_facecolor()[0]) == PALETTE["gradient"]
    assert "NTC" not in b.get_ylabel() and "mean of control cells" in b.get_ylabel()
    assert "AUROC" in b.get_title("left") and "planted vs not" not in b.get_title("left")
    assert layout_problems(fig) == []


def test_divergence_bars_keep_the_title_off_the_panels_with_many_genes():
    rng = np.random.default_rng(0)
    n = 80  # the authors' files: dozens of genes measured at both levels make a tall figure
    t = pd.DataFrame(
        {
            "gene": [f"G{i}" for i in range(n)],
            "mrna_measured": rng.normal(size=n),
            "protein_measured": rng.normal(size=n),
            "mrna_predicted": rng.normal(size=n),
            "protein_predicted": rng.normal(size=n),
            "opposite_measured": rng.random(n) < 0.5,
        }
    )
    fig = pc.divergence_bars(t, {"n_opposite": 33, "n_both_levels": n})
    assert layout_problems(fig) == []
    plt.close(fig)

"""cdt.pl.prediction and cdt.pl.schematic: what the figures of notebook 02 draw (artists, colours, labels)."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
from small_models import small_cdt2, small_cdt3

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from cdt.pl import PALETTE  # noqa: E402
from cdt.pl.prediction import PERTURBATION_MARKERS, pseudobulk_overlay  # noqa: E402
from cdt.pl.schematic import run_schematics  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402


def test_protein_overlay_keeps_the_model_colour_and_tells_perturbations_apart_by_marker():
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
    for c in points:  # every point in the CDT colour: never the published red or the truth green
        assert np.allclose(c.get_facecolor()[:, :3], to_rgba(PALETTE["CDT"])[:3])
    paths = [tuple(map(tuple, c.get_paths()[0].vertices.round(3))) for c in points]
    assert len(set(paths)) == 3  # three marker shapes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "CD52 (r = 0.30)",
        "GFI1B (r = 0.25)",
        "TFRC (r = -0.50)",
    ]
    assert ax.get_title() == "4 proteins x 3 perturbations; mean r = 0.017"
    assert ax.get_xlabel() == "actual mean protein change"
    assert len(PERTURBATION_MARKERS) == len(set(PERTURBATION_MARKERS))
    plt.close(fig)


def test_run_schematics_draw_the_trained_models_only():
    figs = run_schematics({"cdt2": small_cdt2(), "cdt3": small_cdt3(), "other": small_cdt2()}, preset="tiny")
    assert list(figs) == ["cdt2_fig1_architecture", "cdt3_fig1_architecture"]
    titles = [f.axes[0].get_title() for f in figs.values()]
    assert titles[0].startswith("CDT-II, tiny preset: ") and titles[1].startswith(
        "CDT-III (two-stage VCE), tiny preset"
    )
    for f in figs.values():
        plt.close(f)

"""cdt.pl.genome: figures read their tables and say what they show in words (no code names as labels)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import pandas as pd  # noqa: E402
from cdt.pl import NA_COLOUR, PALETTE  # noqa: E402
from cdt.pl.genome import RANDOM_COLOUR, bin_score_style, element_recovery  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402


def test_element_recovery_names_scores_in_words_and_palette_colours():
    methods = ["CDT-III attention", "CDT-II attention", "embedding_norm", "near_centre", "random"]
    table = pd.DataFrame(
        [
            {"method": m, "target": t, "auroc": 0.5 + 0.1 * i, "n_pos": 7}
            for t in ("any element", "CTCF")
            for i, m in enumerate(methods)
        ]
    )
    fig = element_recovery(table, "auroc", "title")
    axes = fig.axes
    assert len(axes) == 2 and [a.get_title() for a in axes] == ["any element (n=7)", "CTCF (n=7)"]
    labels = [t.get_text() for t in axes[0].get_xticklabels()]
    assert labels == [
        "CDT-III attention",
        "CDT-II attention",
        "DNA embedding norm (no model)",
        "near the window centre (no model)",
        "random score",
    ]
    assert axes[0].get_ylabel() == "AUROC" and len(axes[0].patches) == 5
    colours = [to_hex(p.get_facecolor()) for p in axes[0].patches]
    assert (
        colours[0] == PALETTE["CDT"] and colours[2] == PALETTE["baseline"] and colours[4] == RANDOM_COLOUR != NA_COLOUR
    )
    assert colours[1] != colours[0] and PALETTE["published"] not in colours  # red is for published values only
    assert bin_score_style("gradient") == ("gradient norm", PALETTE["gradient"])

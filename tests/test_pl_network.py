"""cdt.pl.network: figures draw in the documented palette (red is for published values only)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import pandas as pd  # noqa: E402
from cdt.pl import PALETTE  # noqa: E402
from cdt.pl.network import per_head_top  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402


def test_per_head_top_bars_in_the_cdt_colour_with_the_query_highlighted():
    table = pd.DataFrame(
        {
            "head": [0, 0, 1, 1, 2],
            "rank": [1, 2, 1, 2, 1],
            "gene": ["A", "GFI1B", "B", "C", "A"],
            "attention": [0.4, 0.3, 0.5, 0.2, 0.6],
        }
    )
    fig = per_head_top(table, "GFI1B")
    used = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    assert [ax.get_title() for ax in used] == ["Head 0", "Head 1", "Head 2"]
    assert all(ax.get_xlabel() == "attention" for ax in used)
    ticks, bars = used[0].get_yticklabels(), used[0].patches
    head0 = {t.get_text(): to_hex(p.get_facecolor()) for t, p in zip(ticks, bars, strict=True)}
    assert head0 == {"GFI1B": PALETTE["highlight"], "A": PALETTE["CDT"]}  # largest on top: A drawn last
    colours = {to_hex(p.get_facecolor()) for ax in used for p in ax.patches}
    assert colours == {PALETTE["CDT"], PALETTE["highlight"]} and fig._suptitle.get_text().startswith("GFI1B")

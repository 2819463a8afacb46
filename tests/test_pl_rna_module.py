"""cdt.pl.network, the RNA-module figure of notebook 04 (CDT-II Fig 5C): what it draws from its table."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from cdt.analyses.network import module_venn as venn_table
from cdt.pl.network import module_venn
from matplotlib.patches import Circle


def test_module_venn_draws_two_circles_with_the_region_counts():
    genes = [f"g{i}" for i in range(20)]
    table = venn_table(genes[:8], genes[4:10], genes)
    fig = module_venn(table)
    ax = fig.axes[0]
    circles = [p for p in ax.patches if isinstance(p, Circle)]
    assert len(circles) == 2
    assert circles[0].radius ** 2 / circles[1].radius ** 2 == pytest.approx(8 / 6)
    texts = [t.get_text() for t in ax.texts]
    assert texts[:3] == ["4", "4", "2"]  # C1 only, shared, C3 only
    assert texts[3:] == ["self-attention C1 (8)", "cross-attention C3 (6)"]
    assert (
        ax.get_title() == "4 shared (67% of C3): 1.7-fold over 2.4 expected, P = 1.4e-01"
    )  # hypergeometric sf(3; 20, 8, 6) = 0.137
    plt.close(fig)


def test_module_venn_reads_only_the_first_row():
    row = {"c1": 10, "c3": 5, "shared": 5, "share_of_c3": 1.0, "expected": 2.5, "fold": 2.0, "p_value": 1e-3, "M": 50}
    fig = module_venn(pd.DataFrame([row, {**row, "c1": 99}]))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "self-attention C1 (10)" in texts and "5" in texts  # C3 inside C1: no C3-only count
    assert fig.axes[0].get_title().startswith("5 shared (100% of C3): 2.0-fold over 2.5 expected, P = 1.0e-03")
    plt.close(fig)

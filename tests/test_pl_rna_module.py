"""cdt.pl.network, the RNA-module figures of notebook 04 (CDT-II Figs 5B, 5C and the planted-module recovery):
what they draw from their tables, in category colours and words, with a clean layout (`cdt.pl.layout_problems`)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from cdt.analyses.network import module_venn as venn_table
from cdt.pl import CATEGORIES, SEQUENTIAL, layout_problems, save_figure
from cdt.pl.network import enrichment_bars, module_recovery, module_venn
from matplotlib.colors import to_hex
from matplotlib.patches import Circle


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_module_venn_draws_two_circles_with_the_region_counts(tmp_path):
    genes = [f"g{i}" for i in range(20)]
    table = venn_table(genes[:8], genes[4:10], genes)
    fig = module_venn(table)
    ax = fig.axes[0]
    circles = [p for p in ax.patches if isinstance(p, Circle)]
    assert len(circles) == 2
    assert circles[0].radius ** 2 / circles[1].radius ** 2 == pytest.approx(8 / 6)
    assert [to_hex(c.get_edgecolor()) for c in circles] == list(CATEGORIES[:2])  # no meaning colour
    assert [t.get_text() for t in ax.texts] == ["4", "4", "2"]  # C1 only, shared, C3 only; names are not on circles
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "module C1 of the RNA self-attention network (8 genes)",
        "module C3 of the DNA→RNA cross-attention network (6 genes)",
    ]
    assert ax.get_title() == (  # first the two gene sets compared, then the statistics
        "Genes shared by module C1 (RNA self-attention network)\nand module C3 (DNA→RNA cross-attention network)\n"
        "4 shared (67% of C3): 1.7-fold over 2.4 expected, P = 1.4e-01"
    )  # hypergeometric sf(3; 20, 8, 6) = 0.137
    save_figure(fig, "venn", tmp_path, synthetic=True)  # with the data mark: nothing under it
    assert not (tmp_path / "venn.layout.txt").exists()


def test_module_venn_reads_only_the_first_row():
    row = {"c1": 10, "c3": 5, "shared": 5, "share_of_c3": 1.0, "expected": 2.5, "fold": 2.0, "p_value": 1e-3, "M": 50}
    fig = module_venn(pd.DataFrame([row, {**row, "c1": 99}]))
    texts = [t.get_text() for t in fig.axes[0].texts]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "module C1 of the RNA self-attention network (10 genes)" in legend and texts == ["5", "5"]  # C3 in C1
    title = fig.axes[0].get_title().splitlines()
    assert title[0].startswith("Genes shared by module C1") and title[1].startswith("and module C3")
    assert title[2] == "5 shared (100% of C3): 2.0-fold over 2.5 expected, P = 1.0e-03"
    assert layout_problems(fig) == []


def _terms(names, libraries, p):
    p = np.asarray(p)
    return pd.DataFrame(
        {
            "Library": libraries,
            "Term": names,
            "name": names,
            "Overlap": "3/9",
            "P_value": p / 10,
            "Adjusted_P_value": p,
            "minus_log10_adj_p": -np.log10(p),
        }
    )


def test_enrichment_bars_colour_libraries_as_categories_and_keep_values_off_the_threshold_line():
    panels = {
        "RNA self-attention network:\nmodule C1 (57 genes)": _terms(
            ["RNA Binding", "Spliceosome", "Hypoxia"],
            ["GO_Molecular_Function_2023", "KEGG_2021_Human", "MSigDB_Hallmark_2020"],
            [0.0155, 0.3, 0.5],
        ),
        "DNA→RNA cross-attention network:\nmodule C3 (33 genes)": _terms(
            ["mRNA Splicing", "Odd term"], ["Reactome_2022", "Some_Other_Library"], [0.05, 0.2]
        ),
    }
    fig = enrichment_bars(panels)
    left, right = fig.axes
    assert [ax.get_title() for ax in (left, right)] == list(panels)
    colours = [to_hex(p.get_facecolor()) for p in left.patches]  # drawn bottom-up: least significant first
    assert colours == [CATEGORIES[5], CATEGORIES[3], CATEGORIES[1]]  # Hallmark, KEGG, GO molecular function
    assert [to_hex(p.get_facecolor()) for p in right.patches] == [CATEGORIES[6], CATEGORIES[4]]  # other, Reactome
    assert all(t.get_bbox_patch().get_facecolor()[:3] == (1, 1, 1) for t in left.texts)  # a line never crosses one
    assert left.get_xlim()[1] >= -np.log10(0.0155) * 1.2
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[-2:] == ["other library", "adjusted P = 0.05"] and "GO: Molecular Function" in legend
    assert layout_problems(fig) == []


def test_module_recovery_names_modules_and_networks_in_words_on_the_sequential_map():
    rows = [
        {"network": n, "module": m, "jaccard": j}
        for (n, m), j in zip(
            [(n, m) for n in ("correlation", "cross", "self") for m in ("amino_acid_stress", "rna_processing")],
            [0.1, 0.2, 0.3, 0.7, 0.5, 0.05],
            strict=True,
        )
    ]
    fig = module_recovery(pd.DataFrame(rows))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "RNA self-attention",
        "DNA→RNA cross-attention",
        "expression correlation\n(no model)",
    ]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["amino-acid stress", "RNA processing"]
    assert ax.images[0].get_cmap().name == SEQUENTIAL  # green is the planted truth's colour, not a score's
    assert ax.images[0].get_array()[0].tolist() == [0.5, 0.3, 0.1]  # self, cross, correlation for amino-acid stress
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("gene network the communities come from", "planted module")
    assert [t.get_text() for t in ax.texts] == ["0.50", "0.30", "0.10", "0.05", "0.70", "0.20"]
    assert layout_problems(fig) == []

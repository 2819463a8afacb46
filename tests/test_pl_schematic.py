"""cdt.pl.schematic: the architecture drawings name their blocks in words, spell out their abbreviations, carry no
data mark and pass the layout check."""

from __future__ import annotations

import matplotlib
import pytest
import torch
from small_models import TINY, small_cdt2, small_cdt3

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from cdt.models import CDT3, CDT3Config  # noqa: E402
from cdt.models.cdt1 import CDT1, CDT1Config  # noqa: E402
from cdt.pl import SYNTHETIC_MARK, layout_problems, save_figure, set_style  # noqa: E402
from cdt.pl.schematic import block_title, draw_schematic, run_schematics  # noqa: E402


@pytest.fixture(autouse=True)
def _style():
    set_style()
    yield
    plt.close("all")


def _models() -> dict:
    with torch.device("meta"):  # shapes and counts only, as `cdt.models.summary` builds its twins
        cdt1 = CDT1(CDT1Config.from_preset(TINY))
        single = CDT3(CDT3Config.from_preset(TINY, single_stage=True))
    return {"cdt1": cdt1, "cdt2": small_cdt2(), "cdt3": small_cdt3(), "cdt3_single": single}


def _texts(fig) -> list[str]:
    ax = fig.axes[0]
    return [t.get_text() for t in ax.texts]


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("dna_self_attn_layers.0", "DNA self-attention, layer 1"),
        ("rna_self_attn_layers.1", "RNA self-attention, layer 2"),
        ("protein_self_attn_layers.0", "protein self-attention, layer 1"),
        ("dna_to_rna", "DNA→RNA cross-attention"),
        ("rna_to_protein", "RNA→protein cross-attention"),
        ("vce", "VCE"),
        ("vce_t", "VCE-N (nuclear stage)"),
        ("vce_p", "VCE-C (cytosolic stage)"),
        ("task_layer", "prediction head"),
        ("protein_task_layer", "protein prediction head"),
        ("dna_projector", "DNA projection"),
        ("rna_encoder", "RNA expression encoder"),
        ("some_new_block", "some new block"),
    ],
)
def test_block_titles_in_words_layers_counted_from_one(name, title):
    assert block_title(name) == title


def test_every_schematic_in_words_with_its_abbreviations_spelled_out_and_a_clean_layout():
    figs = run_schematics(_models(), preset="tiny")
    assert list(figs) == [
        "cdt1_fig1_architecture",
        "cdt2_fig1_architecture",
        "cdt3_fig1_architecture",
        "cdt3_fig2a_single_stage_architecture",
    ]
    for name, fig in figs.items():
        texts = _texts(fig)
        joined = "\n".join(texts)
        for text in texts:  # no module names, no ASCII arrows, no abbreviated "params"
            assert "_" not in text and "->" not in text and "params" not in text, (name, text)
        assert "VCE: virtual cell embedding" in joined, name
        assert "B: cells in a batch" in joined, name
        assert ("DSB: denoised and scaled by background" in joined) == name.startswith("cdt3"), name
        assert layout_problems(fig) == [], name
    cdt3 = _texts(figs["cdt3_fig1_architecture"])
    assert {"DNA self-attention, layer 1", "DNA self-attention, layer 2", "VCE-N (nuclear stage)"} <= set(cdt3)
    assert "pools protein (2 heads), fuses it with the RNA cell vector" in cdt3


def test_a_saved_schematic_carries_no_data_mark(tmp_path):
    fig = draw_schematic(small_cdt2(), "CDT-II, tiny preset")
    save_figure(fig, "cdt2_fig1_architecture", tmp_path, synthetic=True, data=False)
    assert SYNTHETIC_MARK not in [t.get_text() for t in fig.texts]
    assert not (tmp_path / "cdt2_fig1_architecture.layout.txt").exists()
    assert (tmp_path / "cdt2_fig1_architecture.png").exists()

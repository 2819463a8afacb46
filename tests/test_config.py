import pytest
from cdt.config import HELD_OUT_GENES, PRESETS, get_preset


def test_paper_preset_has_published_dimensions():
    p = get_preset("paper")
    assert (p.n_genes, p.n_bins, p.dna_dim, p.d_model, p.n_heads, p.head_dim) == (2361, 896, 3072, 512, 8, 64)
    assert (p.n_proteins, p.n_expressed_proteins, p.dropout) == (189, 65, 0.3)
    assert (p.v1_n_genes, p.v1_d_model, p.v1_ffn_dim) == (2360, 768, 3072)


def test_presets_are_consistent():
    for p in PRESETS.values():
        assert p.d_model % p.n_heads == 0 and p.d_model % p.pool_heads == 0
        assert p.n_expressed_proteins <= p.n_proteins
        assert p.n_genes >= 28  # the 28 TSS targets appear by their real symbols


def test_unknown_preset_lists_choices():
    with pytest.raises(ValueError, match="tiny, mini, paper"):
        get_preset("huge")


def test_with_changes_one_field():
    full = get_preset("paper").with_(n_genes=9335)
    assert full.n_genes == 9335 and full.d_model == 512
    assert HELD_OUT_GENES == ("GFI1B", "CD52", "TFRC", "CD44", "TNFSF9")

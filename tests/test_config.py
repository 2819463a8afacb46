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


@pytest.mark.parametrize("name", ["tiny", "mini", "paper"])
def test_model_configs_take_every_dimension_from_the_preset(name):
    from cdt.models import CDT1Config, CDT2Config, CDT3Config

    p = get_preset(name)
    shared = dict(n_bins=p.n_bins, dna_dim=p.dna_dim, pool_heads=p.pool_heads, dropout=p.dropout)
    layers = dict(n_dna_layers=p.n_dna_layers, n_rna_layers=p.n_rna_layers)
    nuclear = dict(shared, d_model=p.d_model, n_heads=p.n_heads, ffn_dim=p.ffn_dim, **layers)
    assert CDT2Config.from_preset(p) == CDT2Config(n_genes=p.n_genes, **nuclear)
    assert CDT2Config.from_preset(p, n_genes=9335).n_genes == 9335
    three = CDT3Config(n_genes=p.n_genes, n_proteins=p.n_proteins, protein_dropout=p.protein_dropout, **nuclear)
    assert CDT3Config.from_preset(p) == three and CDT3Config.from_preset(p, single_stage=True).single_stage
    v1 = dict(shared, d_model=p.v1_d_model, n_heads=p.v1_n_heads, ffn_dim=p.v1_ffn_dim, **layers)
    assert CDT1Config.from_preset(p) == CDT1Config(
        n_genes=p.v1_n_genes, rna_emb_dim=p.v1_rna_emb_dim, prot_emb_dim=p.v1_prot_emb_dim, **v1
    )

"""Presets: the published dimensions (`paper`), the embedded default (`mini`) and a test size (`tiny`).

One `Preset` carries both the model dimensions and the simulator sizes, so that data simulated
with a preset always fits the models built from it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

HELD_OUT_GENES: tuple[str, ...] = ("GFI1B", "CD52", "TFRC", "CD44", "TNFSF9")
"""The five CDT-II/III held-out TSS targets (attr `val_genes_str` of the authors' file)."""

PRESET_NAMES: tuple[str, ...] = ("tiny", "mini", "paper")


@dataclass(frozen=True)
class Preset:
    name: str
    # --- CDT-II / CDT-III (nuclear + cytosolic stage) ---
    n_genes: int  # RNA tokens (2,361 = 2,360 + GFI1B in the paper)
    n_bins: int  # DNA bins per locus (Enformer: 896)
    dna_dim: int  # DNA embedding width (Enformer trunk: 3,072)
    bin_size: int  # bp per DNA bin (128)
    d_model: int  # 512
    n_heads: int  # 8 (head dim 64)
    pool_heads: int  # 4 heads in the VCE attention pooling
    ffn_dim: int  # 2,048
    dropout: float  # 0.3
    protein_dropout: float  # 0.5 (CDT-III cytosolic stage)
    n_dna_layers: int  # 2
    n_rna_layers: int  # 1
    n_proteins: int  # 189 surface proteins
    n_expressed_proteins: int  # 65 pass mean > 0.5 and SD > 0.1
    # --- CDT v1 ---
    v1_n_genes: int  # 2,360 genes = proteins
    v1_d_model: int  # 768
    v1_n_heads: int  # 8
    v1_ffn_dim: int  # 3,072
    v1_rna_emb_dim: int  # scGPT 512
    v1_prot_emb_dim: int  # ProteomeLM / ESM-C 768
    # --- simulator sizes ---
    n_ntc_cells: int
    cells_per_target: int  # mean cells per TSS target (negative-binomially varied)
    n_snp_loci: int
    cells_per_snp: int
    n_v1_pairs: int  # CDT v1 enhancer-gene pairs
    hic_resolution: int = 5_000  # Hi-C bin size; smaller on small presets so a window spans many contact bins

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    def to_dict(self) -> dict:
        return asdict(self)

    def with_(self, **changes) -> Preset:
        """A copy with some fields changed (e.g. `n_genes=9335` for the ablation's full gene set)."""
        return replace(self, **changes)

    def model_fields(self, config_cls: type, *, prefix: str = "") -> dict:
        """The preset's values for the fields of a model config dataclass, so configs do not repeat the preset:
        `prefix + name` where the preset has it (CDT v1's `v1_d_model`), else `name`; fields the preset does not
        define (e.g. `single_stage`) are left out and keep the config's default."""
        values = {}
        for f in fields(config_cls):
            for name in (prefix + f.name, f.name):
                if hasattr(self, name):
                    values[f.name] = getattr(self, name)
                    break
        return values


PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        name="tiny",
        n_genes=64,
        n_bins=64,
        dna_dim=16,
        bin_size=128,
        d_model=32,
        n_heads=4,
        pool_heads=2,
        ffn_dim=64,
        dropout=0.1,
        protein_dropout=0.1,
        n_dna_layers=2,
        n_rna_layers=1,
        n_proteins=24,
        n_expressed_proteins=10,
        v1_n_genes=64,
        v1_d_model=32,
        v1_n_heads=4,
        v1_ffn_dim=64,
        v1_rna_emb_dim=16,
        v1_prot_emb_dim=24,
        n_ntc_cells=60,
        cells_per_target=12,
        n_snp_loci=8,
        cells_per_snp=6,
        n_v1_pairs=80,
        hic_resolution=1_000,
    ),
    "mini": Preset(
        name="mini",
        n_genes=256,
        n_bins=256,
        dna_dim=64,
        bin_size=128,
        # no dropout on mini: attention dropout takes PyTorch's slow CPU path (3x per step); early stopping regularises
        d_model=48,
        n_heads=4,
        pool_heads=2,
        ffn_dim=96,
        dropout=0.0,
        protein_dropout=0.0,
        n_dna_layers=2,
        n_rna_layers=1,
        n_proteins=189,
        n_expressed_proteins=65,
        v1_n_genes=256,
        v1_d_model=48,
        v1_n_heads=4,
        v1_ffn_dim=96,
        v1_rna_emb_dim=32,
        v1_prot_emb_dim=48,
        n_ntc_cells=300,
        cells_per_target=40,
        n_snp_loci=40,
        cells_per_snp=8,
        n_v1_pairs=600,
        hic_resolution=1_000,
    ),
    "paper": Preset(
        name="paper",
        n_genes=2361,
        n_bins=896,
        dna_dim=3072,
        bin_size=128,
        d_model=512,
        n_heads=8,
        pool_heads=4,
        ffn_dim=2048,
        dropout=0.3,
        protein_dropout=0.5,
        n_dna_layers=2,
        n_rna_layers=1,
        n_proteins=189,
        n_expressed_proteins=65,
        v1_n_genes=2360,
        v1_d_model=768,
        v1_n_heads=8,
        v1_ffn_dim=3072,
        v1_rna_emb_dim=512,
        v1_prot_emb_dim=768,
        n_ntc_cells=2078,
        cells_per_target=305,
        n_snp_loci=420,
        cells_per_snp=18,
        n_v1_pairs=5596,
    ),
}


def get_preset(name: str) -> Preset:
    """Look up a preset by name, with an error that lists the valid names."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None

"""CDT-II: DNA (Enformer bins at the perturbed locus) + the cell's raw RNA -> per-gene log2FC.

DNA tokens go through 2 self-attention blocks, RNA tokens (RawExpressionEncoder) through 1; RNA then
cross-attends to DNA (transcription); a VCE pools the DNA and the fused RNA tokens into one cell vector and
a two-layer head predicts the log2 fold change of every gene. Module names are the published checkpoint's
(`cdt_morris_celllevel_best.pt`): at the `paper` preset this model has exactly 21,072,185 parameters.

A batch may carry each distinct locus once (`dna` [U, n_bins, dna_dim] plus `locus_index` [B]); the DNA
branch then runs once per locus and its tokens are gathered per cell.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from torch import Tensor, nn

from cdt.config import Preset
from cdt.models.blocks import (
    AttentionBlock,
    AttentionRecorder,
    ModelOutput,
    RawExpressionEncoder,
    SequenceProjector,
    VirtualCellEmbedder,
    check_inputs,
    check_locus_index,
    gather_loci,
    task_head,
)


@dataclass(frozen=True)
class CDT2Config:
    n_genes: int = 2361
    n_bins: int = 896
    dna_dim: int = 3072
    d_model: int = 512
    n_heads: int = 8
    pool_heads: int = 4
    ffn_dim: int = 2048
    dropout: float = 0.3
    n_dna_layers: int = 2
    n_rna_layers: int = 1

    @classmethod
    def from_preset(cls, preset: Preset, n_genes: int | None = None) -> CDT2Config:
        """The preset's dimensions; `n_genes` overrides the gene count (e.g. 9,335 for the ablation's full set)."""
        return cls(**{**preset.model_fields(cls), "n_genes": n_genes or preset.n_genes})


class NuclearStage(nn.Module):
    """The DNA -> RNA part shared by CDT-II and CDT-III's VCE-N: encoders, self/cross attention, DNA/RNA pooling.

    Subclasses own the modules (their names differ between the two checkpoints); this class owns the forward.
    """

    dna_projector: SequenceProjector
    dna_self_attn_layers: nn.ModuleList
    rna_encoder: RawExpressionEncoder
    rna_self_attn_layers: nn.ModuleList
    dna_to_rna: AttentionBlock

    def _build_nuclear(self, cfg: CDT2Config, identity_name: str) -> None:
        self.nuclear_cfg = cfg
        d, p = cfg.d_model, cfg.dropout
        self.dna_projector = SequenceProjector(cfg.dna_dim, d, p)
        self.dna_self_attn_layers = nn.ModuleList(
            AttentionBlock(d, cfg.n_heads, cfg.ffn_dim, p) for _ in range(cfg.n_dna_layers)
        )
        self.rna_encoder = RawExpressionEncoder(cfg.n_genes, d, p, identity_name=identity_name)
        self.rna_self_attn_layers = nn.ModuleList(
            AttentionBlock(d, cfg.n_heads, cfg.ffn_dim, p) for _ in range(cfg.n_rna_layers)
        )
        self.dna_to_rna = AttentionBlock(d, cfg.n_heads, cfg.ffn_dim, p)

    def _nuclear(
        self, vce: VirtualCellEmbedder, dna: Tensor, rna: Tensor, locus_index: Tensor | None, rec: AttentionRecorder
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Returns (DNA tokens per cell [B, L, d], fused RNA tokens [B, G, d], DNA pool [B, d], RNA pool [B, d])."""
        cfg = self.nuclear_cfg
        check_inputs("dna", dna, (None, cfg.n_bins, cfg.dna_dim))
        check_inputs("rna", rna, (None, cfg.n_genes))
        check_locus_index(locus_index, dna.shape[0], rna.shape[0])
        if locus_index is None and dna.shape[0] != rna.shape[0]:
            raise ValueError(
                f"dna has {dna.shape[0]} rows but rna has {rna.shape[0]} cells; pass locus_index "
                "to give each distinct locus once"
            )
        # DNA branch, once per row of `dna` (a locus, or a cell)
        x = self.dna_projector(dna)  # [U, L, d]
        for i, block in enumerate(self.dna_self_attn_layers):
            x, w = block(x, need_weights=rec.wants(f"dna_self_{i}"))  # [U, L, d]
            rec.put(f"dna_self_{i}", None if w is None else gather_loci(w, locus_index))  # [B, H, L, L]
        x = gather_loci(x, locus_index)  # [B, L, d]
        # pooled per cell: small matmuls are not bit-identical across batch sizes, and this keeps
        # per-locus and per-cell input exactly equal
        dna_pooled, w = vce.pool("dna", x, rec.wants("vce_dna"))  # [B, d]
        rec.put("vce_dna", w)  # [B, h_pool, 1, L]
        # RNA branch
        r = self.rna_encoder(rna)  # [B, G, d]
        for i, block in enumerate(self.rna_self_attn_layers):
            r, w = block(r, need_weights=rec.wants(f"rna_self_{i}"))  # [B, G, d]
            rec.put(f"rna_self_{i}", w)  # [B, H, G, G]
        r, w = self.dna_to_rna(r, x, need_weights=rec.wants("dna_to_rna"))  # RNA queries, DNA keys/values: [B, G, d]
        rec.put("dna_to_rna", w)  # [B, H, G, L]
        rna_pooled, w = vce.pool("rna", r, rec.wants("vce_rna"))  # [B, d]
        rec.put("vce_rna", w)  # [B, h_pool, 1, G]
        return x, r, dna_pooled, rna_pooled


class CDT2(NuclearStage):
    def __init__(self, cfg: CDT2Config):
        super().__init__()
        self.cfg = cfg
        self._build_nuclear(cfg, identity_name="gene_embedding")
        self.vce = VirtualCellEmbedder(("dna", "rna"), cfg.d_model, cfg.pool_heads, cfg.dropout)
        self.task_layer = task_head(cfg.d_model, cfg.n_genes, cfg.dropout)

    def forward(
        self,
        dna: Tensor,
        rna: Tensor,
        locus_index: Tensor | None = None,
        return_attention: bool | Iterable[str] = False,
    ) -> ModelOutput:
        # dna: [U, L, dna_dim] with locus_index [B], else [B, L, dna_dim]; rna: [B, G] ln(CPM+1)
        # return_attention: True (every map), False, or the names of the maps wanted
        rec = AttentionRecorder(return_attention)
        _, _, dna_pooled, rna_pooled = self._nuclear(self.vce, dna, rna, locus_index, rec)
        e = self.vce.fuse([dna_pooled, rna_pooled])  # [B, d]
        return ModelOutput(rna=self.task_layer(e), embedding=e, attention=rec.result())  # rna: [B, G]

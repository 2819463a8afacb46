"""CDT v1: enhancer DNA + fixed gene (scGPT) and protein (ProteomeLM) embeddings -> effect at one target gene.

Each modality is projected to d and self-attends (DNA 2 blocks, RNA 1, protein 1); RNA cross-attends to DNA
(transcription) and protein to the fused RNA (translation). Three learned-query pools (4-head attention with
dropout, nn.MultiheadAttention layout) feed a fusion MLP (3d -> 2d -> d, LayerNorm) and a head with one output
per gene; the sample's prediction is the output at its target gene. All genes always go through the network:
the target index only selects the output. At the `paper` preset: 60,093,752 parameters.
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
    SequenceProjector,
    VirtualCellEmbedder,
    check_inputs,
    task_head,
)


@dataclass(frozen=True)
class CDT1Config:
    n_genes: int = 2360  # genes = proteins (one shared, aligned list)
    n_bins: int = 896
    dna_dim: int = 3072
    rna_emb_dim: int = 512
    prot_emb_dim: int = 768
    d_model: int = 768
    n_heads: int = 8
    pool_heads: int = 4
    ffn_dim: int = 3072
    dropout: float = 0.3
    n_dna_layers: int = 2
    n_rna_layers: int = 1
    n_protein_layers: int = 1

    @classmethod
    def from_preset(cls, preset: Preset) -> CDT1Config:
        return cls(**preset.model_fields(cls, prefix="v1_"))


class CDT1(nn.Module):
    def __init__(self, cfg: CDT1Config):
        super().__init__()
        self.cfg = cfg
        d, p = cfg.d_model, cfg.dropout

        def blocks(n: int) -> nn.ModuleList:
            return nn.ModuleList(AttentionBlock(d, cfg.n_heads, cfg.ffn_dim, p, packed=True) for _ in range(n))

        self.dna_projection = SequenceProjector(cfg.dna_dim, d, p)
        self.rna_projection = SequenceProjector(cfg.rna_emb_dim, d, p)
        self.protein_projection = SequenceProjector(cfg.prot_emb_dim, d, p)
        self.dna_self_attn_layers = blocks(cfg.n_dna_layers)
        self.rna_self_attn_layers = blocks(cfg.n_rna_layers)
        self.protein_self_attn_layers = blocks(cfg.n_protein_layers)
        self.dna_to_rna = AttentionBlock(d, cfg.n_heads, cfg.ffn_dim, p, packed=True)
        self.rna_to_protein = AttentionBlock(d, cfg.n_heads, cfg.ffn_dim, p, packed=True)
        self.vce = VirtualCellEmbedder(
            ("dna", "rna", "protein"), d, cfg.pool_heads, p, fusion_hidden=2 * d, pool_dropout=p, packed=True
        )
        self.task_layer = task_head(d, cfg.n_genes, p)

    @staticmethod
    def _self_attend(name: str, layers: nn.ModuleList, h: Tensor, rec: AttentionRecorder) -> Tensor:
        for i, block in enumerate(layers):
            h, w = block(h, need_weights=rec.wants(f"{name}_self_{i}"))
            rec.put(f"{name}_self_{i}", w)  # [B, H, n, n]
        return h

    def forward(
        self,
        dna: Tensor,
        rna_emb: Tensor,
        prot_emb: Tensor,
        target_index: Tensor,
        return_attention: bool | Iterable[str] = False,
    ) -> ModelOutput:
        # dna: [B, L, dna_dim]; rna_emb: [G, r] and prot_emb: [G, p] shared by all samples; target_index: [B]
        cfg = self.cfg
        B = dna.shape[0]
        check_inputs("dna", dna, (None, cfg.n_bins, cfg.dna_dim))
        check_inputs("rna_emb", rna_emb, (cfg.n_genes, cfg.rna_emb_dim))
        check_inputs("prot_emb", prot_emb, (cfg.n_genes, cfg.prot_emb_dim))
        check_inputs("target_index", target_index, (B,))
        known = B and target_index.device.type != "meta"
        if known and not 0 <= int(target_index.min()) <= int(target_index.max()) < cfg.n_genes:
            raise ValueError(f"target_index values must lie in [0, {cfg.n_genes}) (the gene outputs)")
        rec = AttentionRecorder(return_attention)  # True (every map), False, or the names of the maps wanted

        x = self.dna_projection(dna)  # [B, L, d]
        r = self.rna_projection(rna_emb.expand(B, -1, -1))  # [B, G, d] (per-sample dropout)
        q = self.protein_projection(prot_emb).expand(B, -1, -1)  # [B, G, d] (projected once, shared)
        x = self._self_attend("dna", self.dna_self_attn_layers, x, rec)  # [B, L, d]
        r = self._self_attend("rna", self.rna_self_attn_layers, r, rec)  # [B, G, d]
        q = self._self_attend("protein", self.protein_self_attn_layers, q, rec)  # [B, G, d]
        r, w = self.dna_to_rna(r, x, need_weights=rec.wants("dna_to_rna"))  # [B, G, d]
        rec.put("dna_to_rna", w)  # [B, H, G, L]
        q, w = self.rna_to_protein(q, r, need_weights=rec.wants("rna_to_protein"))  # [B, G, d]
        rec.put("rna_to_protein", w)  # [B, H, G, G]
        pooled = []
        for name, seq in (("dna", x), ("rna", r), ("protein", q)):
            z, w = self.vce.pool(name, seq, rec.wants(f"vce_{name}"))  # [B, d]
            pooled.append(z)
            rec.put(f"vce_{name}", w)  # [B, h_pool, 1, n]
        e = self.vce.fuse(pooled)  # [B, 3d] -> [B, d]
        y = self.task_layer(e)  # [B, G]
        value = y.gather(1, target_index.long().unsqueeze(1)).squeeze(1)  # [B]
        return ModelOutput(rna=y, value=value, embedding=e, attention=rec.result())

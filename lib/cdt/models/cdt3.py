"""CDT-III: DNA + RNA + surface protein -> RNA log2FC and protein change, in two stages.

Nuclear stage (VCE-N) = CDT-II under CDT-III's names (`vce_t`, `rna_task_layer`, `rna_encoder.feature_embedding`),
so a trained CDT-II transfers into it completely. Cytosolic stage (VCE-C): protein tokens (RawExpressionEncoder),
1 protein self-attention block, protein -> RNA cross-attention (protein queries, keys/values = the RNA tokens
after DNA -> RNA cross-attention), VCE-C fusing [e_RNA ; protein pool] into e_Prot, and a protein head.
At the `paper` preset: 30,987,766 parameters, the published count.

`CDT3Config(single_stage=True)` is the paper's single-stage ablation: one VCE pools DNA, RNA and protein and
fuses them through d x 3 (Linear(3d -> 3d) -> GELU -> Dropout -> Linear(3d -> d) -> LayerNorm), and both heads
read that one embedding. Its fusion cannot take CDT-II's d x 2 weights, which is the point of the ablation.
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
    VirtualCellEmbedder,
    check_inputs,
    task_head,
)
from cdt.models.cdt2 import CDT2Config, NuclearStage

# parameter-name prefixes of the nuclear stage (frozen in phase 1, low learning rate in phase 2)
NUCLEAR_PREFIXES: tuple[str, ...] = (
    "dna_projector.",
    "dna_self_attn_layers.",
    "rna_encoder.",
    "rna_self_attn_layers.",
    "dna_to_rna.",
    "vce_t.",
    "rna_task_layer.",
)


@dataclass(frozen=True)
class CDT3Config:
    n_genes: int = 2361
    n_proteins: int = 189
    n_bins: int = 896
    dna_dim: int = 3072
    d_model: int = 512
    n_heads: int = 8
    pool_heads: int = 4
    ffn_dim: int = 2048
    dropout: float = 0.3  # nuclear stage
    protein_dropout: float = 0.5  # cytosolic stage
    n_dna_layers: int = 2
    n_rna_layers: int = 1
    n_protein_layers: int = 1
    single_stage: bool = False

    @classmethod
    def from_preset(cls, preset: Preset, n_genes: int | None = None, single_stage: bool = False) -> CDT3Config:
        return cls(**{**preset.model_fields(cls), "n_genes": n_genes or preset.n_genes, "single_stage": single_stage})

    @property
    def nuclear(self) -> CDT2Config:
        """The CDT-II configuration of the nuclear stage (what a transferred CDT-II must match)."""
        return CDT2Config(
            n_genes=self.n_genes,
            n_bins=self.n_bins,
            dna_dim=self.dna_dim,
            d_model=self.d_model,
            n_heads=self.n_heads,
            pool_heads=self.pool_heads,
            ffn_dim=self.ffn_dim,
            dropout=self.dropout,
            n_dna_layers=self.n_dna_layers,
            n_rna_layers=self.n_rna_layers,
        )


class CDT3(NuclearStage):
    def __init__(self, cfg: CDT3Config):
        super().__init__()
        self.cfg = cfg
        d, p, pp = cfg.d_model, cfg.dropout, cfg.protein_dropout
        self._build_nuclear(cfg.nuclear, identity_name="feature_embedding")
        if cfg.single_stage:
            self.vce = VirtualCellEmbedder(("dna", "rna", "protein"), d, cfg.pool_heads, p)
            self.nuclear_prefixes = tuple(x for x in NUCLEAR_PREFIXES if x != "vce_t.")
        else:
            self.vce_t = VirtualCellEmbedder(("dna", "rna"), d, cfg.pool_heads, p)
            self.nuclear_prefixes = NUCLEAR_PREFIXES
        self.rna_task_layer = task_head(d, cfg.n_genes, p)
        self.protein_encoder = RawExpressionEncoder(cfg.n_proteins, d, pp)
        self.protein_self_attn_layers = nn.ModuleList(
            AttentionBlock(d, cfg.n_heads, cfg.ffn_dim, pp) for _ in range(cfg.n_protein_layers)
        )
        self.rna_to_protein = AttentionBlock(d, cfg.n_heads, cfg.ffn_dim, pp)
        if not cfg.single_stage:
            self.vce_p = VirtualCellEmbedder(("protein",), d, cfg.pool_heads, pp, n_context=1)
        self.protein_task_layer = task_head(d, cfg.n_proteins, pp)

    def nuclear_parameters(self) -> list[nn.Parameter]:
        """Parameters of the nuclear (CDT-II) stage; in the single-stage variant, the modules CDT-II shares."""
        return [p for n, p in self.named_parameters() if n.startswith(self.nuclear_prefixes)]

    def cytosolic_parameters(self) -> list[nn.Parameter]:
        """Everything else: the protein path, VCE-C (or the joint VCE) and the protein head."""
        return [p for n, p in self.named_parameters() if not n.startswith(self.nuclear_prefixes)]

    def forward(
        self,
        dna: Tensor,
        rna: Tensor,
        protein: Tensor,
        locus_index: Tensor | None = None,
        return_attention: bool | Iterable[str] = False,
    ) -> ModelOutput:
        # dna: [U, L, dna_dim] with locus_index [B], else [B, L, dna_dim]; rna: [B, G]; protein: [B, P]
        # return_attention: True (every map), False, or the names of the maps wanted
        cfg = self.cfg
        check_inputs("protein", protein, (rna.shape[0], cfg.n_proteins))
        rec = AttentionRecorder(return_attention)
        vce = self.vce if cfg.single_stage else self.vce_t
        _, r, dna_pooled, rna_pooled = self._nuclear(vce, dna, rna, locus_index, rec)  # r: [B, G, d]

        # cytosolic stage: protein tokens attend to themselves, then to the fused RNA tokens
        x = self.protein_encoder(protein)  # [B, P, d]
        for i, block in enumerate(self.protein_self_attn_layers):
            x, w = block(x, need_weights=rec.wants(f"protein_self_{i}"))  # [B, P, d]
            rec.put(f"protein_self_{i}", w)  # [B, H, P, P]
        x, w = self.rna_to_protein(x, r, need_weights=rec.wants("rna_to_protein"))  # protein queries, RNA keys/values
        rec.put("rna_to_protein", w)  # [B, H, P, G]
        vce_pool = self.vce if cfg.single_stage else self.vce_p
        protein_pooled, w = vce_pool.pool("protein", x, rec.wants("vce_protein"))  # [B, d]
        rec.put("vce_protein", w)  # [B, h_pool, 1, P]
        attn = rec.result()

        if cfg.single_stage:
            e = self.vce.fuse([dna_pooled, rna_pooled, protein_pooled])  # [B, 3d] -> [B, d]
            return ModelOutput(
                rna=self.rna_task_layer(e), protein=self.protein_task_layer(e), embedding=e, attention=attn
            )
        e_rna = self.vce_t.fuse([dna_pooled, rna_pooled])  # VCE-N: [B, d]
        e_prot = self.vce_p.fuse([e_rna, protein_pooled])  # VCE-C: [B, d]
        return ModelOutput(
            rna=self.rna_task_layer(e_rna),
            protein=self.protein_task_layer(e_prot),
            embedding=e_prot,
            embedding_rna=e_rna,
            attention=attn,
        )

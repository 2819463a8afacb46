"""The comparison point of the benchmarks: CDT-II written the straightforward per-cell way.

Same modules and weights as `cdt.models.CDT2` (built from its state dict), but the forward pass takes each
cell's DNA window [B, n_bins, dna_dim] (the DNA branch runs once per cell, not once per locus) and every
attention is computed explicitly as softmax(QK^T / sqrt(d_head)) V with the [B, H, Q, K] weights materialised
(no fused scaled-dot-product kernel). It returns every map, as a per-cell extraction script would keep them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from cdt.models import CDT2
from cdt.models.blocks import AttentionBlock, VirtualCellEmbedder
from torch import Tensor, nn


def explicit_attention(q: Tensor, k: Tensor, v: Tensor, n_heads: int, dropout_p: float) -> tuple[Tensor, Tensor]:
    """q [B, Q, d], k, v [B, K, d] -> merged heads [B, Q, d] and the weights [B, H, Q, K]."""
    B, Q, d = q.shape
    hd = d // n_heads
    q = q.view(B, Q, n_heads, hd).transpose(1, 2)  # [B, H, Q, hd]
    k = k.view(B, -1, n_heads, hd).transpose(1, 2)  # [B, H, K, hd]
    v = v.view(B, -1, n_heads, hd).transpose(1, 2)  # [B, H, K, hd]
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(hd), dim=-1)  # [B, H, Q, K]
    out = F.dropout(weights, dropout_p) @ v  # [B, H, Q, hd]
    return out.transpose(1, 2).reshape(B, Q, d), weights


def block_forward(block: AttentionBlock, x: Tensor, kv: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """One post-norm attention block (self-attention when `kv` is None) with explicit attention."""
    kv = x if kv is None else kv
    p = block.attn_dropout if block.training else 0.0
    a, w = explicit_attention(block.q_proj(x), block.k_proj(kv), block.v_proj(kv), block.n_heads, p)
    x = block.norm1(x + block.dropout(block.out_proj(a)))
    return block.norm2(x + block.ffn(x)), w


def pool_forward(vce: VirtualCellEmbedder, modality: str, seq: Tensor) -> tuple[Tensor, Tensor]:
    """VCE attention pooling of seq [B, L, d] by the modality's learned query -> [B, d], weights [B, h, 1, L]."""
    query = getattr(vce, f"{modality}_query").expand(seq.shape[0], -1, -1)  # [B, 1, d]
    q = getattr(vce, f"{modality}_q_proj")(query)
    k, v = getattr(vce, f"{modality}_k_proj")(seq), getattr(vce, f"{modality}_v_proj")(seq)
    p = vce.pool_dropout if vce.training else 0.0
    a, w = explicit_attention(q, k, v, vce.n_heads, p)
    return getattr(vce, f"{modality}_out_proj")(a).squeeze(1), w


class ReferenceCDT2(nn.Module):
    """Per-cell DNA, materialised attention; load `CDT2.state_dict()` to compare against the same weights."""

    def __init__(self, model: CDT2):
        super().__init__()
        self.net = CDT2(model.cfg).to(next(model.parameters()).device)
        self.net.load_state_dict(model.state_dict())
        self.net.train(model.training)

    def forward(self, dna: Tensor, rna: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        # dna: [B, n_bins, dna_dim] one window per cell; rna: [B, G] -> (log2FC [B, G], maps name -> [B, H, Q, K])
        m, attn = self.net, {}
        x = m.dna_projector(dna)  # [B, L, d]
        for i, block in enumerate(m.dna_self_attn_layers):
            x, attn[f"dna_self_{i}"] = block_forward(block, x)
        dna_pooled, attn["vce_dna"] = pool_forward(m.vce, "dna", x)  # [B, d]
        r = m.rna_encoder(rna)  # [B, G, d]
        for i, block in enumerate(m.rna_self_attn_layers):
            r, attn[f"rna_self_{i}"] = block_forward(block, r)
        r, attn["dna_to_rna"] = block_forward(m.dna_to_rna, r, x)  # RNA queries, DNA keys/values
        rna_pooled, attn["vce_rna"] = pool_forward(m.vce, "rna", r)
        return m.task_layer(m.vce.fuse([dna_pooled, rna_pooled])), attn

"""The comparison point of the benchmarks: CDT-II trained the way its authors train it.

Same modules and weights as `cdt.models.CDT2` (built from its state dict). What differs from our training path:

- every cell brings its own DNA window [B, n_bins, dna_dim], so the DNA branch runs once per cell;
- every attention block calls `F.scaled_dot_product_attention` with the block's dropout in training (on a CPU
  PyTorch then takes its math path: the weights are materialised, dropped and multiplied with V; on CUDA a fused
  kernel applies the dropout); the VCE poolings attend without dropout;
- float32 throughout;
- one step is zero_grad, forward, MSE over every batch x gene element, backward, clipping of the global gradient
  norm to 1.0 and an AdamW step (lr 1e-4, weight decay 1e-5, PyTorch's default implementation choice).

`reference_maps` gives the explicit weights for the extraction benchmark (one cell per pass, every map kept).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from cdt.models import CDT2
from cdt.models.blocks import AttentionBlock, VirtualCellEmbedder
from torch import Tensor, nn


def split_heads(x: Tensor, n_heads: int) -> Tensor:
    B, L, d = x.shape
    return x.view(B, L, n_heads, d // n_heads).transpose(1, 2)  # [B, H, L, hd]


def merge_heads(x: Tensor) -> Tensor:
    B, H, L, hd = x.shape
    return x.transpose(1, 2).reshape(B, L, H * hd)  # [B, L, d]


def sdpa(q: Tensor, k: Tensor, v: Tensor, n_heads: int, dropout_p: float) -> Tensor:
    """q [B, Q, d], k, v [B, K, d] -> [B, Q, d] through PyTorch's scaled-dot-product attention."""
    h = n_heads
    return merge_heads(
        F.scaled_dot_product_attention(split_heads(q, h), split_heads(k, h), split_heads(v, h), None, dropout_p)
    )


def block_forward(block: AttentionBlock, x: Tensor, kv: Tensor | None = None) -> Tensor:
    """One post-norm attention block (self-attention when `kv` is None)."""
    kv = x if kv is None else kv
    p = block.attn_dropout if block.training else 0.0
    a = sdpa(block.q_proj(x), block.k_proj(kv), block.v_proj(kv), block.n_heads, p)
    x = block.norm1(x + block.dropout(block.out_proj(a)))
    return block.norm2(x + block.ffn(x))


def pool_forward(vce: VirtualCellEmbedder, modality: str, seq: Tensor) -> Tensor:
    """VCE attention pooling of seq [B, L, d] by the modality's learned query -> [B, d] (no dropout)."""
    query = getattr(vce, f"{modality}_query").expand(seq.shape[0], -1, -1)  # [B, 1, d]
    q = getattr(vce, f"{modality}_q_proj")(query)
    k, v = getattr(vce, f"{modality}_k_proj")(seq), getattr(vce, f"{modality}_v_proj")(seq)
    return getattr(vce, f"{modality}_out_proj")(sdpa(q, k, v, vce.n_heads, 0.0)).squeeze(1)


class ReferenceCDT2(nn.Module):
    """Per-cell DNA, PyTorch's attention, float32; loads `CDT2.state_dict()` to run on the same weights."""

    def __init__(self, model: CDT2):
        super().__init__()
        self.net = CDT2(model.cfg).to(next(model.parameters()).device)
        self.net.load_state_dict(model.state_dict())
        self.net.train(model.training)

    def forward(self, dna: Tensor, rna: Tensor) -> Tensor:
        # dna: [B, n_bins, dna_dim] one window per cell; rna: [B, G] -> log2FC [B, G]
        m = self.net
        x = m.dna_projector(dna)  # [B, L, d]
        for block in m.dna_self_attn_layers:
            x = block_forward(block, x)
        dna_pooled = pool_forward(m.vce, "dna", x)  # [B, d]
        r = m.rna_encoder(rna)  # [B, G, d]
        for block in m.rna_self_attn_layers:
            r = block_forward(block, r)
        r = block_forward(m.dna_to_rna, r, x)  # RNA queries, DNA keys/values
        rna_pooled = pool_forward(m.vce, "rna", r)
        return m.task_layer(m.vce.fuse([dna_pooled, rna_pooled]))


class ReferenceTrainer:
    """One training step of the reference: zero_grad, forward, MSE, backward, clip 1.0, AdamW."""

    def __init__(self, model: ReferenceCDT2, lr: float = 1e-4, weight_decay: float = 1e-5, clip: float = 1.0):
        self.model, self.clip = model, clip
        self.opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)

    def step(self, dna: Tensor, rna: Tensor, target: Tensor) -> float:
        self.model.train()
        self.opt.zero_grad()
        loss = F.mse_loss(self.model(dna, rna), target)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
        self.opt.step()
        return loss.item()


def reference_maps(model: CDT2, dna: Tensor, rna: Tensor) -> dict[str, Tensor]:
    """Every attention map of one forward pass in eval mode, computed explicitly as softmax(QK^T / sqrt(d_head)):
    dna [B, n_bins, dna_dim] one window per cell, rna [B, G] -> name -> [B, H, Q, K]."""

    def weights(q: Tensor, k: Tensor, n_heads: int) -> Tensor:
        q, k = split_heads(q, n_heads), split_heads(k, n_heads)
        return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)

    def block(b: AttentionBlock, x: Tensor, kv: Tensor | None = None) -> tuple[Tensor, Tensor]:
        kv = x if kv is None else kv
        q, k, v = b.q_proj(x), b.k_proj(kv), b.v_proj(kv)
        w = weights(q, k, b.n_heads)
        x = b.norm1(x + b.out_proj(merge_heads(w @ split_heads(v, b.n_heads))))
        return b.norm2(x + b.ffn(x)), w

    def pool(vce: VirtualCellEmbedder, modality: str, seq: Tensor) -> Tensor:
        query = getattr(vce, f"{modality}_query").expand(seq.shape[0], -1, -1)
        return weights(getattr(vce, f"{modality}_q_proj")(query), getattr(vce, f"{modality}_k_proj")(seq), vce.n_heads)

    model.eval()
    maps: dict[str, Tensor] = {}
    with torch.no_grad():
        x = model.dna_projector(dna)
        for i, b in enumerate(model.dna_self_attn_layers):
            x, maps[f"dna_self_{i}"] = block(b, x)
        maps["vce_dna"] = pool(model.vce, "dna", x)
        r = model.rna_encoder(rna)
        for i, b in enumerate(model.rna_self_attn_layers):
            r, maps[f"rna_self_{i}"] = block(b, r)
        r, maps["dna_to_rna"] = block(model.dna_to_rna, r, x)
        maps["vce_rna"] = pool(model.vce, "rna", r)
    return maps

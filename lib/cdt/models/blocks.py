"""Building blocks shared by CDT v1, CDT-II and CDT-III.

Every attention module can hand back its head-resolved weights. Without that request the fast path
runs `F.scaled_dot_product_attention`; with it the weights are computed explicitly as
softmax(QK^T / sqrt(d_head)) and the output is computed from exactly those weights, so asking for
attention never changes the prediction (in eval mode; in train mode attention dropout is applied to the
weights before they meet V, and the returned maps are the weights before dropout).

Training on a CPU can take a cheaper route to the same random function (`fast_dropout`, on for `cdt train`):
PyTorch's CPU dropout draws a float per element from a Bernoulli sampler, and its CPU attention kernel has no
dropout, so with attention dropout it falls back to a path that also checks every row for -inf. The cheaper route
draws the keep/drop decision of each element from 16 random bits (a quarter of one 64-bit draw; dropped when below
round(p 2^16): a drop probability p' within 2^-17 of p, 0.300003 for 0.3) and scales kept elements by 1 / (1 - p'),
so every element keeps its expectation exactly; it attends with softmax -> drop -> @ V -> rescale, dividing the
[Q, hd] output instead of the [Q, K] weights. Independent masks, exact expectation, a drop rate 3e-6 from p (far
below the sampling noise of any batch) and the same function in eval mode.

Projections live directly on the module that uses them (`q_proj`, `dna_q_proj`, `in_proj_weight`, ...)
rather than in a sub-module, so that the native `state_dict` keys are the published checkpoint keys.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class ModelOutput:
    """What every CDT model returns. Unused fields stay None."""

    rna: Tensor | None = None  # [B, n_genes] predicted log2FC (CDT-II/III) or all gene outputs (CDT v1)
    protein: Tensor | None = None  # [B, n_proteins] predicted protein change (CDT-III)
    value: Tensor | None = None  # [B] output at each sample's target gene (CDT v1)
    embedding: Tensor | None = None  # [B, d] the final virtual-cell embedding (CDT-III: e_Prot)
    attention: dict[str, Tensor] | None = None  # name -> [B, H, Q, K] for the maps return_attention asked for
    embedding_rna: Tensor | None = None  # [B, d] CDT-III two-stage: e_RNA of the nuclear VCE


class AttentionRecorder:
    """The attention maps one forward pass hands back: every map (`True`), none (`False`) or the named ones.

    Only a requested map takes the explicit-softmax path; the others keep the fused kernel, so extracting one map
    costs little more than a plain forward pass.
    """

    def __init__(self, request: bool | Iterable[str]):
        if isinstance(request, str):
            raise TypeError(f"return_attention={request!r}: give True, False or a list of map names")
        self.names = None if request is True else frozenset(() if request is False else request)  # None: all
        self.maps: dict[str, Tensor] | None = None if self.names == frozenset() else {}
        self.offered: list[str] = []

    def wants(self, name: str) -> bool:
        self.offered.append(name)
        return self.maps is not None and (self.names is None or name in self.names)

    def put(self, name: str, weights: Tensor | None) -> None:
        if weights is not None:
            self.maps[name] = weights

    def result(self) -> dict[str, Tensor] | None:
        """The recorded maps; unknown requested names are an error naming the maps this model has."""
        missing = sorted(self.names - set(self.offered)) if self.names else []
        if missing:
            raise ValueError(
                f"attention maps {missing} are not produced by this model; available: {sorted(self.offered)}"
            )
        return self.maps


MASK_BITS = 16
"""Random bits per element of a `keep_mask`: half as many as 32 halve the cost of drawing them (PyTorch draws CPU
random numbers on one thread), at a drop probability within 2^-17 of p."""


def drop_probability(p: float) -> float:
    """The drop probability a `keep_mask` realises for p: round(p 2^16) / 2^16."""
    return round(p * 2**MASK_BITS) / 2**MASK_BITS


def keep_mask(shape: torch.Size, p: float, device: torch.device) -> Tensor:
    """Bool mask, True with probability 1 - `drop_probability(p)`, from 16 random bits per element."""
    n = math.prod(shape)
    bits = torch.empty((n + 3) // 4, dtype=torch.int64, device=device).random_(-(2**63), None)
    drop_below = -(2 ** (MASK_BITS - 1)) + round(p * 2**MASK_BITS)
    return (bits.view(torch.int16)[:n] >= drop_below).view(shape)


def keep_scale(p: float) -> float:
    """1 / (1 - p') for a `keep_mask`'s drop probability p': kept elements keep their expectation exactly."""
    return 1.0 / (1.0 - drop_probability(p))


def cheap_dropout(x: Tensor, p: float) -> Tensor:
    """Training-mode dropout with a `keep_mask`: kept elements scaled by `keep_scale(p)`, the others zero."""
    return torch.where(keep_mask(x.shape, p, x.device), x, 0.0).mul_(keep_scale(p))


class Dropout(nn.Dropout):
    """nn.Dropout that draws its CPU training mask with `keep_mask` when `fast` is set (see the module docstring)."""

    fast: bool = False

    def forward(self, x: Tensor) -> Tensor:
        if self.fast and self.training and self.p > 0 and x.device.type == "cpu":
            return cheap_dropout(x, self.p)
        return super().forward(x)


def attention_with_dropout(q: Tensor, k: Tensor, v: Tensor, p: float) -> Tensor:
    """softmax(QK^T / sqrt(d_head)) with Bernoulli(1 - p) dropout, @ V, on heads [B, H, L, hd] -> [B, H, Q, hd].

    The `keep_scale` rescaling is applied to the output rather than to the [Q, K] weights (the same product).
    """
    weights = torch.softmax((q * (1.0 / math.sqrt(q.shape[-1]))) @ k.transpose(-2, -1), dim=-1)  # [B, H, Q, K]
    out = torch.where(keep_mask(weights.shape, p, weights.device), weights, 0.0) @ v
    return out.mul_(keep_scale(p))


def attend(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    n_heads: int,
    dropout_p: float = 0.0,
    need_weights: bool = False,
    fast_dropout: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """Multi-head scaled dot-product attention on already projected q [B, Q, d], k, v [B, K, d].

    Returns the merged heads [B, Q, d] and, if asked, the weights [B, H, Q, K]. `fast_dropout` takes
    `attention_with_dropout` on a CPU when weights are dropped (PyTorch's CPU kernel cannot drop them).
    """
    B, Q, d = q.shape
    K = k.shape[1]
    hd = d // n_heads
    q = q.view(B, Q, n_heads, hd).transpose(1, 2)  # [B, H, Q, hd]
    k = k.view(B, K, n_heads, hd).transpose(1, 2)  # [B, H, K, hd]
    v = v.view(B, K, n_heads, hd).transpose(1, 2)  # [B, H, K, hd]
    if need_weights:
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(hd), dim=-1)  # [B, H, Q, K]
        out = F.dropout(weights, dropout_p) @ v  # [B, H, Q, hd]
    elif fast_dropout and dropout_p > 0 and q.device.type == "cpu":
        weights = None
        out = attention_with_dropout(q, k, v, dropout_p)
    else:
        weights = None
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)
    return out.transpose(1, 2).reshape(B, Q, d), weights


class _Projections(nn.Module):
    """Q/K/V/output projections registered under a name prefix, separate (CDT-II/III) or packed (CDT v1)."""

    def _add_projections(self, prefix: str, d: int, packed: bool) -> None:
        self._packed = packed
        if packed:  # nn.MultiheadAttention layout: one [3d, d] input projection
            w = nn.Parameter(torch.empty(3 * d, d))
            b = nn.Parameter(torch.zeros(3 * d))
            nn.init.xavier_uniform_(w)
            self.register_parameter(f"{prefix}in_proj_weight", w)
            self.register_parameter(f"{prefix}in_proj_bias", b)
        else:
            for name in "qkv":
                self.add_module(f"{prefix}{name}_proj", nn.Linear(d, d))
        self.add_module(f"{prefix}out_proj", nn.Linear(d, d))
        if packed:
            nn.init.zeros_(getattr(self, f"{prefix}out_proj").bias)  # as nn.MultiheadAttention initialises it

    def _project(self, prefix: str, x_q: Tensor, x_kv: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        if self._packed:
            w_q, w_k, w_v = getattr(self, f"{prefix}in_proj_weight").chunk(3)
            b_q, b_k, b_v = getattr(self, f"{prefix}in_proj_bias").chunk(3)
            return F.linear(x_q, w_q, b_q), F.linear(x_kv, w_k, b_k), F.linear(x_kv, w_v, b_v)
        return (
            getattr(self, f"{prefix}q_proj")(x_q),
            getattr(self, f"{prefix}k_proj")(x_kv),
            getattr(self, f"{prefix}v_proj")(x_kv),
        )


class AttentionBlock(_Projections):
    """Post-norm transformer block; self-attention when `kv` is None, cross-attention otherwise.

    x <- LN1(x + Dropout(OutProj(Attn(x, kv)))); x <- LN2(x + FFN(x)). The residual runs on the query stream.
    """

    def __init__(self, d: int, n_heads: int, ffn_dim: int, dropout: float, packed: bool = False):
        super().__init__()
        self.n_heads = n_heads
        self.attn_dropout = dropout
        self.fast_dropout = False
        self._add_projections("", d, packed)
        self.ffn = nn.Sequential(
            nn.Linear(d, ffn_dim), nn.GELU(), Dropout(dropout), nn.Linear(ffn_dim, d), Dropout(dropout)
        )
        self.norm1 = nn.LayerNorm(d)
        self.norm2 = nn.LayerNorm(d)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor, kv: Tensor | None = None, need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        # x: [B, Q, d] queries; kv: [B, K, d] keys/values (x itself for self-attention)
        kv = x if kv is None else kv
        q, k, v = self._project("", x, kv)
        p = self.attn_dropout if self.training else 0.0
        a, weights = attend(q, k, v, self.n_heads, p, need_weights, self.fast_dropout)  # [B, Q, d], [B, H, Q, K]
        x = self.norm1(x + self.dropout(self.out_proj(a)))
        x = self.norm2(x + self.ffn(x))
        return x, weights


class SequenceProjector(nn.Module):
    """Per-token projection of foundation-model embeddings to d: Linear -> LayerNorm -> Dropout."""

    def __init__(self, in_dim: int, d: int, dropout: float):
        super().__init__()
        self.linear = nn.Linear(in_dim, d)
        self.norm = nn.LayerNorm(d)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.norm(self.linear(x)))  # [..., in_dim] -> [..., d]


class RawExpressionEncoder(nn.Module):
    """One token per feature (gene or protein): [identity embedding ; embedding of the scalar value] -> d.

    `identity_name` is the attribute holding the identity table: CDT-II's checkpoint calls it `gene_embedding`,
    CDT-III's `feature_embedding`.
    """

    def __init__(self, n_features: int, d: int, dropout: float, identity_name: str = "feature_embedding"):
        super().__init__()
        self.identity_name = identity_name
        self.add_module(identity_name, nn.Embedding(n_features, d))
        self.expr_projector = nn.Sequential(nn.Linear(1, d), nn.LayerNorm(d), nn.GELU(), Dropout(dropout))
        self.combine = nn.Sequential(nn.Linear(2 * d, d), nn.LayerNorm(d), Dropout(dropout))

    def forward(self, x: Tensor) -> Tensor:
        # x: [B, n] expression values -> tokens [B, n, d]
        ident = getattr(self, self.identity_name).weight.expand(x.shape[0], -1, -1)  # [B, n, d]
        value = self.expr_projector(x.unsqueeze(-1))  # [B, n, d]
        return self.combine(torch.cat([ident, value], dim=-1))  # [B, n, 2d] -> [B, n, d]


class VirtualCellEmbedder(_Projections):
    """VCE: one learned-query attention pooling per modality, then a fusion MLP over the pooled vectors.

    Parameters per modality m: `{m}_query` [1, 1, d] (N(0, 1) init) and its projections; the fusion is
    Linear(n_in*d -> hidden) -> GELU -> Dropout -> Linear(hidden -> d) -> LayerNorm, where n_in counts the pooled
    modalities plus `n_context` vectors fused alongside them (CDT-III's VCE-C fuses e_RNA with the protein pool).
    """

    def __init__(
        self,
        modalities: tuple[str, ...],
        d: int,
        n_heads: int,
        dropout: float,
        n_context: int = 0,
        fusion_hidden: int | None = None,
        pool_dropout: float = 0.0,
        packed: bool = False,
    ):
        super().__init__()
        self.modalities = modalities
        self.n_context = n_context
        self.n_heads = n_heads
        self.pool_dropout = pool_dropout
        self.fast_dropout = False
        for m in modalities:
            self.register_parameter(f"{m}_query", nn.Parameter(torch.randn(1, 1, d)))
        for m in modalities:
            self._add_projections(f"{m}_", d, packed)
        n_in = (len(modalities) + n_context) * d
        hidden = fusion_hidden or n_in
        self.fusion = nn.Sequential(
            nn.Linear(n_in, hidden), nn.GELU(), Dropout(dropout), nn.Linear(hidden, d), nn.LayerNorm(d)
        )

    def pool(self, modality: str, seq: Tensor, need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        # seq: [B, L, d] -> pooled [B, d], weights [B, H, 1, L]
        query = getattr(self, f"{modality}_query").expand(seq.shape[0], -1, -1)  # [B, 1, d]
        q, k, v = self._project(f"{modality}_", query, seq)
        p = self.pool_dropout if self.training else 0.0
        a, weights = attend(q, k, v, self.n_heads, p, need_weights, self.fast_dropout)  # [B, 1, d]
        return getattr(self, f"{modality}_out_proj")(a).squeeze(1), weights

    def fuse(self, parts: list[Tensor]) -> Tensor:
        return self.fusion(torch.cat(parts, dim=-1))  # n_in x [B, d] -> [B, d]


def task_head(d: int, n_out: int, dropout: float) -> nn.Sequential:
    """Two-layer head: Linear(d -> d) -> GELU -> Dropout -> Linear(d -> n_out) (the trained 512 -> 512 form)."""
    return nn.Sequential(nn.Linear(d, d), nn.GELU(), Dropout(dropout), nn.Linear(d, n_out))


def set_fast_dropout(model: nn.Module, enabled: bool) -> nn.Module:
    """Switch every dropout and attention module of `model` to (or off) the cheaper CPU training route."""
    for m in model.modules():
        if isinstance(m, Dropout):
            m.fast = enabled
        elif isinstance(m, AttentionBlock | VirtualCellEmbedder):
            m.fast_dropout = enabled
    return model


def gather_loci(x: Tensor, locus_index: Tensor | None) -> Tensor:
    """Per-locus tensor [U, ...] -> per-cell [B, ...] (identity when there is no locus index)."""
    return x if locus_index is None else x.index_select(0, locus_index)


def check_inputs(name: str, x: Tensor, shape: tuple[int | None, ...]) -> None:
    """Raise a clear error when an input tensor does not have the expected shape (None = any size)."""
    ok = x.dim() == len(shape) and all(s is None or s == n for s, n in zip(shape, x.shape, strict=True))
    if not ok:
        want = "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"
        raise ValueError(f"input {name!r} has shape {list(x.shape)}, expected {want}")


def check_locus_index(locus_index: Tensor | None, n_loci: int, n_cells: int) -> None:
    """A per-cell locus index must be a 1-D integer tensor with one valid entry per cell."""
    if locus_index is None:
        return
    if locus_index.dtype != torch.long or locus_index.dim() != 1 or locus_index.shape[0] != n_cells:
        raise ValueError(
            f"locus_index must be a 1-D long tensor with {n_cells} entries (one per cell), got "
            f"{locus_index.dtype} {list(locus_index.shape)}"
        )
    if n_cells and locus_index.device.type != "meta" and (locus_index.min() < 0 or locus_index.max() >= n_loci):
        raise ValueError(f"locus_index values must lie in [0, {n_loci}) (the number of DNA loci given)")

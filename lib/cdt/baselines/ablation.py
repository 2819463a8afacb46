"""Head ablation: silence chosen attention heads, measure prediction and how far the representation moved.

Every attention module in the CDT models merges its heads into [B, Q, H * d_head] (head h = columns
h*d_head .. (h+1)*d_head) right before its output projection (`out_proj` of an AttentionBlock, `{m}_out_proj`
of a VCE pooling). `mask_heads` registers a forward pre-hook on those projections that zeroes the chosen heads'
columns — BERT's head mask — without touching the model code; the hooks are removed on leaving the context.
Attention names are the models' own (`ModelOutput.attention` keys): dna_self_<i>, rna_self_<i>, dna_to_rna,
protein_self_<i>, rna_to_protein, vce_dna, vce_rna, vce_protein.

`head_ablation` masks the k heads that best recover the network (ranked by `rank_heads`), the k worst, and
k random heads (seeded, repeated), and reports the change in flattened and pseudo-bulk r together with the
intervention fidelity: the cosine distance between ablated and intact cell embeddings and outputs, which shows
whether an ablation without effect on r moved the representation at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike
from torch import Tensor, nn

from cdt.baselines.edges import auroc_auprc
from cdt.baselines.predict import prediction_metrics
from cdt.models.blocks import AttentionBlock, VirtualCellEmbedder


def attention_modules(model: nn.Module) -> dict[str, tuple[nn.Linear, int]]:
    """{attention name: (the output projection its merged heads enter, number of heads)} of a CDT model."""
    out: dict[str, tuple[nn.Linear, int]] = {}
    for stream in ("dna", "rna", "protein"):
        for i, block in enumerate(getattr(model, f"{stream}_self_attn_layers", None) or []):
            out[f"{stream}_self_{i}"] = (block.out_proj, block.n_heads)
    for name in ("dna_to_rna", "rna_to_protein"):
        block = getattr(model, name, None)
        if isinstance(block, AttentionBlock):
            out[name] = (block.out_proj, block.n_heads)
    for attr in ("vce", "vce_t", "vce_p"):
        vce = getattr(model, attr, None)
        if isinstance(vce, VirtualCellEmbedder):
            for m in vce.modalities:
                out[f"vce_{m}"] = (getattr(vce, f"{m}_out_proj"), vce.n_heads)
    return out


@contextmanager
def mask_heads(model: nn.Module, heads: Mapping[str, Iterable[int]]):
    """Within the context, the listed heads of each named attention contribute zeros to their output projection."""
    modules = attention_modules(model)
    handles = []
    try:
        for name, idx in heads.items():
            if name not in modules:
                raise KeyError(f"model has no attention {name!r}; it has {sorted(modules)}")
            linear, n_heads = modules[name]
            idx = sorted(set(int(h) for h in idx))
            if idx and not 0 <= idx[0] <= idx[-1] < n_heads:
                raise ValueError(f"{name!r} has {n_heads} heads; cannot mask heads {idx}")
            keep = torch.ones(n_heads, linear.in_features // n_heads)  # [H, d_head]
            keep[idx] = 0
            handles.append(linear.register_forward_pre_hook(_zero_columns(keep.reshape(-1))))
        yield
    finally:
        for h in handles:
            h.remove()


def _zero_columns(keep: Tensor):
    def hook(module: nn.Module, args: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        return (args[0] * keep.to(args[0]),) + args[1:]  # [..., H * d_head]

    return hook


def rank_heads(maps: Mapping[str, ArrayLike], truth: ArrayLike, mask: ArrayLike | None = None) -> pd.DataFrame:
    """Rank every head by the AUROC of its (cell-averaged) attention map against a truth of the map's shape.

    maps: {attention name: [H, Q, K]}; truth: [Q, K] bool (e.g. the planted network, A | A.T for undirected);
    square maps are scored without the diagonal. Returns attention, head, auroc, auprc, best first.
    """
    t = np.asarray(truth, dtype=bool)
    keep = np.ones(t.shape, dtype=bool) if mask is None else np.broadcast_to(np.asarray(mask, bool), t.shape).copy()
    if t.ndim == 2 and t.shape[0] == t.shape[1]:
        keep &= ~np.eye(t.shape[0], dtype=bool)
    rows = []
    for name, m in maps.items():
        m = np.asarray(m, dtype=float)
        if m.shape[1:] != t.shape:
            raise ValueError(f"attention {name!r} has shape {m.shape}; expected [H, {', '.join(map(str, t.shape))}]")
        for h in range(m.shape[0]):
            auroc, auprc = auroc_auprc(m[h][keep], t[keep])
            rows.append({"attention": name, "head": h, "auroc": auroc, "auprc": auprc})
    return pd.DataFrame(rows).sort_values(
        "auroc", ascending=False, na_position="last", kind="stable", ignore_index=True
    )


@dataclass
class Outputs:
    rna: np.ndarray  # [N, G]
    protein: np.ndarray | None  # [N, P]
    embedding: np.ndarray  # [N, d]


@torch.no_grad()
def forward_outputs(model: nn.Module, batches: Iterable) -> Outputs:
    """Eval-mode outputs over batches with fields dna, locus_index, rna, protein (trainer or `cdt.evaluate` batches).

    Rows come back in batch order, or at the positions of each batch's `order` field when it has one (the
    `cdt.evaluate.screen_batches` batches, which are grouped by locus).
    """
    model.eval()
    rna, prot, emb, pos = [], [], [], []
    for b in batches:
        if getattr(b, "protein", None) is not None:
            out = model(b.dna, b.rna, b.protein, locus_index=b.locus_index)
        else:
            out = model(b.dna, b.rna, locus_index=b.locus_index)
        rna.append(out.rna.float().cpu().numpy())
        emb.append(out.embedding.float().cpu().numpy())
        if out.protein is not None:
            prot.append(out.protein.float().cpu().numpy())
        start = sum(len(p) for p in pos)
        pos.append(np.asarray(getattr(b, "order", np.arange(start, start + len(rna[-1])))))
    where = np.argsort(np.concatenate(pos), kind="stable")  # row i of the result = the cell at position i

    def stack(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts)[where]

    return Outputs(stack(rna), stack(prot) if prot else None, stack(emb))


def cosine_distance(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """[N] 1 - cos(a_i, b_i) row by row."""
    a, b = torch.as_tensor(np.asarray(a, np.float64)), torch.as_tensor(np.asarray(b, np.float64))
    return (1 - F.cosine_similarity(a, b, dim=1)).clamp(min=0).numpy()  # rounding can give -1e-16


def head_ablation(
    model: nn.Module,
    batches: Sequence,
    target: ArrayLike,
    groups: Sequence[str],
    ranked: pd.DataFrame,
    k: int,
    n_random: int = 5,
    seed: int = 0,
    output: str = "rna",
    columns: ArrayLike | None = None,
) -> pd.DataFrame:
    """Intact vs top-k, bottom-k and `n_random` random-k head masks (from the heads in `ranked`).

    target: [N, F] observed values of the cells in `batches` (in order); groups: [N] perturbation; output:
    "rna" or "protein" (CDT-III), `columns` selecting the scored output columns (e.g. the expressed proteins).
    Rows: condition, repeat, heads, r, pb_r, delta_r, delta_pb_r, and fidelity = mean/max cosine distance of the
    cell embedding and of the output vs the intact model.
    """
    if not 0 < k <= len(ranked):
        raise ValueError(f"k must be in [1, {len(ranked)}] (the number of ranked heads); got {k}")
    pool = list(zip(ranked["attention"], ranked["head"], strict=True))
    rng = np.random.default_rng(seed)
    conditions = [("intact", 0, []), ("top", 0, pool[:k]), ("bottom", 0, pool[-k:])]
    conditions += [("random", i, [pool[j] for j in rng.choice(len(pool), k, replace=False)]) for i in range(n_random)]
    y = np.asarray(target, dtype=float)

    def scored(out: Outputs) -> np.ndarray:
        pred = out.rna if output == "rna" else out.protein
        if pred is None:
            raise ValueError("the model returns no protein output")
        return pred if columns is None else pred[:, np.asarray(columns)]

    rows, intact = [], None
    for condition, repeat, heads in conditions:
        spec: dict[str, list[int]] = {}
        for name, h in heads:
            spec.setdefault(str(name), []).append(int(h))
        with mask_heads(model, spec):
            out = forward_outputs(model, batches)
        if intact is None:
            intact = out
        r, pb_r, _ = prediction_metrics(scored(out), y, groups)
        emb_d, out_d = cosine_distance(out.embedding, intact.embedding), cosine_distance(scored(out), scored(intact))
        rows.append(
            {
                "condition": condition,
                "repeat": repeat,
                "k": len(heads),
                "heads": ";".join(f"{n}:{h}" for n, h in heads),
                "r": r,
                "pb_r": pb_r,
                "embedding_cos_mean": float(emb_d.mean()),
                "embedding_cos_max": float(emb_d.max()),
                "output_cos_mean": float(out_d.mean()),
                "output_cos_max": float(out_d.max()),
            }
        )
    table = pd.DataFrame(rows)
    table["delta_r"] = table["r"] - table["r"].iloc[0]
    table["delta_pb_r"] = table["pb_r"] - table["pb_r"].iloc[0]
    return table

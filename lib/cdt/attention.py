"""Attention maps of CDT-II/III (and CDT v1) extracted by streaming: cell means accumulate batch by batch.

Every map of `ModelOutput.attention` is [B, H, Q, K] (rows sum to 1 over keys). `mean_attention_maps` runs the model
over a cell selection (default: all held-out/validation cells; `first_n` gives the authors' "first N cells") and adds
each batch's maps into float64 sums, head-resolved [H, Q, K] or head-averaged [Q, K], so memory does not grow with
the number of cells; `by` keeps one mean per perturbation or locus (e.g. the cross-attention profile per locus,
CDT-II Fig 4B). `attention_rows` keeps one head-averaged row per cell for a single query (the GFI1B row of the RNA
self-attention, CDT-II Fig 4E cell-to-cell correlation). Results are `AttentionMap`s, saved as npz with a JSON
metadata field (map, heads, cells, selection, run directory, training protocol).

Map names: dna_self_<i> [L, L], rna_self_<i> [G, G], dna_to_rna [G, L], vce_dna [1, L], vce_rna [1, G]; CDT-III
adds protein_self_<i> [P, P], rna_to_protein [P, G], vce_protein [1, P].
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
import torch
from numpy.typing import ArrayLike
from torch import Tensor, nn

from cdt.data.dnastore import DNAStore
from cdt.evaluate import (
    HELD_OUT_SPLITS,
    check_model_fits,
    eval_mode,
    forward,
    open_store,
    resolve_cells,
    resolve_model,
    resolve_screen,
    screen_batches,
)
from cdt.models import CDT1
from cdt.networks import cosine_similarity

FORMAT = "cdt-attention-1"


@dataclass
class AttentionMap:
    """A cell-mean attention map, or per-cell rows of one query.

    values: mean over cells [H, Q, K] (heads) or [Q, K]; per-cell rows [N, H, K] (heads) or [N, K].
    """

    name: str  # map name, e.g. "rna_self_0"
    values: np.ndarray
    heads: bool  # head axis kept
    cells: np.ndarray  # [N] obs names (sample ids) of the cells used
    query_names: np.ndarray  # [Q] labels of the query axis (genes, proteins, bins); per-cell rows: the one query
    key_names: np.ndarray  # [K] labels of the key axis
    per_cell: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_cells(self) -> int:
        return len(self.cells)

    def head_mean(self) -> np.ndarray:
        """Values averaged over heads: [Q, K] (means) or [N, K] (per-cell rows)."""
        return self.values.mean(1 if self.per_cell else 0) if self.heads else self.values

    def to_frame(self) -> pd.DataFrame:
        """Head-averaged values with labelled axes (rows: queries, or cells for per-cell rows)."""
        index = self.cells if self.per_cell else self.query_names
        return pd.DataFrame(self.head_mean(), index=pd.Index(index), columns=pd.Index(self.key_names))

    def profile(self) -> pd.Series:
        """[K] mean over heads and queries (per-cell rows: over cells): e.g. the per-bin cross-attention profile."""
        return pd.Series(self.head_mean().mean(0), index=pd.Index(self.key_names), name=self.name)

    def head_profiles(self) -> pd.DataFrame:
        """[H, K] per-head profile (mean over queries) of a head-resolved cell-mean map."""
        if not self.heads or self.per_cell:
            raise ValueError(f"{self.name}: per-head profiles need a head-resolved cell-mean map")
        return pd.DataFrame(self.values.mean(1), columns=pd.Index(self.key_names)).rename_axis("head")


# ---------------------------------------------------------------------------------------------------------------------
# axis labels


def map_axes(
    name: str,
    genes: Sequence[str],
    n_bins: int,
    proteins: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(query labels, key labels) of a map: gene symbols, protein names, bin indices, or "pool" for VCE queries."""
    bins = np.arange(n_bins)
    axes = {
        "dna": bins,
        "rna": np.asarray(genes, dtype=str),
        "protein": None if proteins is None else np.asarray(proteins, dtype=str),
    }
    q, k = _map_kinds(name)
    if "protein" in (q, k) and proteins is None:
        raise ValueError(f"map {name!r} needs protein names")
    return (np.array(["pool"]) if q is None else axes[q]), axes[k]


# (query axis, key axis) of every map the models return; None = the single pooling query of a VCE
MAP_LAYOUT: dict[str, tuple[str | None, str]] = {
    r"dna_self_\d+": ("dna", "dna"),
    r"rna_self_\d+": ("rna", "rna"),
    "dna_to_rna": ("rna", "dna"),
    r"protein_self_\d+": ("protein", "protein"),
    "rna_to_protein": ("protein", "rna"),
    "vce_dna": (None, "dna"),
    "vce_rna": (None, "rna"),
    "vce_protein": (None, "protein"),
}


def _map_kinds(name: str) -> tuple[str | None, str]:
    for pattern, kinds in MAP_LAYOUT.items():
        if re.fullmatch(pattern, name):
            return kinds
    raise ValueError(f"unknown attention map {name!r}")


def _labels(model: nn.Module, screen: ad.AnnData, name: str) -> tuple[np.ndarray, np.ndarray]:
    proteins = screen.uns.get("protein_names") if "protein_names" in screen.uns else None
    return map_axes(name, screen.var_names.to_numpy(dtype=str), model.cfg.n_bins, proteins)


ATTENTION_BYTES_PER_PASS = 1 << 30  # attention weights one forward pass may hold (all requested maps, all heads)


def attention_batch_size(
    model: nn.Module,
    screen: ad.AnnData,
    maps: Sequence[str] | None = None,
    budget: int = ATTENTION_BYTES_PER_PASS,
    largest: int = 16,
) -> int:
    """Cells per forward pass so that the pass's float32 attention maps (with the scores they are computed from)
    stay within `budget` bytes, at most `largest`: 16 at the small presets, 1-3 at the paper's 2,361 genes
    ([8, 2361, 2361] per cell)."""
    cfg = model.cfg
    sizes = {"dna": cfg.n_bins, "rna": screen.n_vars, "protein": getattr(cfg, "n_proteins", 0), None: 1}
    names = list(maps) if maps is not None else _model_map_names(cfg)
    per_cell = 0
    for name in names:
        q, k = _map_kinds(name)
        per_cell += 2 * 4 * cfg.n_heads * sizes[q] * sizes[k]  # scores and softmax weights, float32
    return int(max(1, min(largest, budget // max(per_cell, 1))))


def _model_map_names(cfg: Any) -> list[str]:
    names = [f"dna_self_{i}" for i in range(cfg.n_dna_layers)] + [f"rna_self_{i}" for i in range(cfg.n_rna_layers)]
    names += ["dna_to_rna"]
    if hasattr(cfg, "n_protein_layers"):
        names += [f"protein_self_{i}" for i in range(cfg.n_protein_layers)] + ["rna_to_protein"]
    return names


# ---------------------------------------------------------------------------------------------------------------------
# streaming means


def _accumulate(
    sums: dict[tuple[str, str], Tensor],
    counts: dict[str, int],
    attn: Mapping[str, Tensor],
    names: Sequence[str],
    groups: np.ndarray,
    heads: bool,
) -> None:
    """Add one batch's maps [b, H, Q, K] into float64 per-(group, map) sums over cells (and heads unless `heads`)."""
    for g in np.unique(groups):
        mine = groups == g
        sel = None if mine.all() else torch.as_tensor(np.flatnonzero(mine), device=next(iter(attn.values())).device)
        counts[g] = counts.get(g, 0) + int(mine.sum())
        for name in names:
            w = attn[name] if sel is None else attn[name].index_select(0, sel)  # [b, H, Q, K]
            # the batch's sum in float32 (a few dozen terms; a float64 reduction is ~50x slower on CPU), the running
            # sum over batches in float64
            s = w.sum(0).double() if heads else w.sum((0, 1)).double() / w.shape[1]
            sums[(g, name)] = sums[(g, name)].add_(s) if (g, name) in sums else s


def mean_attention_maps(
    model: nn.Module | Any,
    screen: ad.AnnData | str | os.PathLike,
    dna_store: DNAStore | str | os.PathLike,
    cells: str | ArrayLike | None = None,
    maps: Sequence[str] | None = None,
    *,
    heads: bool = True,
    by: str | None = None,
    splits: Sequence[str] | None = HELD_OUT_SPLITS,
    first_n: int | None = None,
    locus: str | None = None,
    batch_size: int | None = None,
    progress: bool = False,
) -> dict[str, AttentionMap] | dict[str, dict[str, AttentionMap]]:
    """Cell-mean attention maps, accumulated in float64 batch by batch (memory flat in the number of cells).

    cells: None (all cells in `splits`), a perturbation name (its cells in `splits`), a mask, positions or obs names;
    `first_n` keeps the first N of them in file order. maps: names to keep (default all). by: an obs column
    (e.g. "locus", "perturbation") -> {group: {map: AttentionMap}}; otherwise {map: AttentionMap}.
    `locus` gives every cell that locus's DNA. `batch_size` defaults to `attention_batch_size` (from the dimensions).
    Memory: one float64 [H, Q, K] sum per group and map with `heads`, [Q, K] without; at the paper's 2,361 genes a
    head-resolved RNA map is 357 MB, so grouping by perturbation should go with ``heads=False``.
    """
    model, prov = resolve_model(model)
    screen = resolve_screen(screen)
    batch_size = batch_size or attention_batch_size(model, screen, maps)
    rows, selection = resolve_cells(screen, cells, splits, first_n)
    if by is not None and by not in screen.obs:
        raise ValueError(f"obs has no column {by!r} to group by")
    group_of = screen.obs[by].astype(str).to_numpy() if by is not None else np.full(screen.n_obs, "")
    sums: dict[tuple[str, str], Tensor] = {}  # (group, map) -> float64 [H, Q, K] or [Q, K]
    counts: dict[str, int] = {}
    with open_store(dna_store) as store, eval_mode(model), torch.no_grad():
        check_model_fits(model, screen, store)
        for batch in screen_batches(model, screen, store, rows, batch_size, locus, progress, "attention"):
            # the model refuses names it does not produce
            attn = forward(model, batch, return_attention=True if maps is None else list(maps)).attention
            names = list(attn) if maps is None else list(maps)
            _accumulate(sums, counts, attn, names, group_of[batch.rows], heads)
            del attn  # free this batch's maps before the next forward pass, not after it
    obs_names = screen.obs_names.to_numpy(dtype=str)
    out: dict[str, dict[str, AttentionMap]] = {}
    for g, name in list(sums):
        mean = sums.pop((g, name)).div_(counts[g])  # in place: the sums become the means without a second copy
        q_names, k_names = _labels(model, screen, name)
        used = rows[group_of[rows] == g]
        meta = {
            **prov,
            "map": name,
            "heads": heads,
            "n_cells": counts[g],
            "selection": selection,
            "locus": locus,
            "group_by": by,
            "group": g if by is not None else None,
        }
        out.setdefault(g, {})[name] = AttentionMap(
            name=name,
            values=mean.cpu().numpy(),
            heads=heads,
            cells=obs_names[used],
            query_names=q_names,
            key_names=k_names,
            meta=meta,
        )
    return out if by is not None else out[""]


def mean_attention(
    model: nn.Module | Any,
    screen: ad.AnnData | str | os.PathLike,
    dna_store: DNAStore | str | os.PathLike,
    cells: str | ArrayLike | None = None,
    map: str = "rna_self_0",
    *,
    heads: bool = True,
    splits: Sequence[str] | None = HELD_OUT_SPLITS,
    first_n: int | None = None,
    locus: str | None = None,
    batch_size: int | None = None,
    progress: bool = False,
) -> AttentionMap:
    """One cell-mean map, e.g. `mean_attention(model, screen, dna, "GFI1B", "rna_self_0", first_n=20)`."""
    return mean_attention_maps(
        model,
        screen,
        dna_store,
        cells,
        [map],
        heads=heads,
        splits=splits,
        first_n=first_n,
        locus=locus,
        batch_size=batch_size,
        progress=progress,
    )[map]


def cross_attention_profiles(
    model: nn.Module | Any,
    screen: ad.AnnData | str | os.PathLike,
    dna_store: DNAStore | str | os.PathLike,
    cells: str | ArrayLike | None = None,
    *,
    heads: bool = True,
    splits: Sequence[str] | None = HELD_OUT_SPLITS,
    first_n: int | None = None,
    batch_size: int | None = None,
    progress: bool = False,
) -> dict[str, AttentionMap]:
    """DNA->RNA cross-attention averaged over each locus's cells: {locus: [H, G, L] map}.

    `.profile()` of each is the per-bin profile averaged over genes and heads (CDT-II Fig 4B); `first_n` applies to
    the whole selection, so pass a perturbation name for the authors' "first 10 cells of each gene".
    """
    by_locus = mean_attention_maps(
        model,
        screen,
        dna_store,
        cells,
        ["dna_to_rna"],
        heads=heads,
        by="locus",
        splits=splits,
        first_n=first_n,
        batch_size=batch_size,
        progress=progress,
    )
    return {locus: m["dna_to_rna"] for locus, m in by_locus.items()}


def cross_attention_similarity(amap: AttentionMap) -> pd.DataFrame:
    """Gene-gene cosine similarity of head-averaged cross-attention rows (genes as vectors over DNA bins)."""
    if amap.per_cell or amap.name != "dna_to_rna":
        raise ValueError(f"need a cell-mean dna_to_rna map, got {amap.name!r}{' rows' if amap.per_cell else ''}")
    genes = pd.Index(amap.query_names, name="gene")
    return pd.DataFrame(cosine_similarity(amap.head_mean()), index=genes, columns=genes.rename("gene_b"))


# ---------------------------------------------------------------------------------------------------------------------
# per-cell rows of one query


def attention_rows(
    model: nn.Module | Any,
    screen: ad.AnnData | str | os.PathLike,
    dna_store: DNAStore | str | os.PathLike,
    query: str | int,
    cells: str | ArrayLike | None = None,
    map: str = "rna_self_0",
    *,
    heads: bool = False,
    splits: Sequence[str] | None = HELD_OUT_SPLITS,
    first_n: int | None = None,
    locus: str | None = None,
    batch_size: int | None = None,
    progress: bool = False,
) -> AttentionMap:
    """Per cell, the row of `query` (a gene, protein or bin of the map's query axis): [N, K], head-averaged by default.

    Only the rows are kept, so memory grows as N x K, not N x Q x K.
    """
    model, prov = resolve_model(model)
    screen = resolve_screen(screen)
    rows, selection = resolve_cells(screen, cells, splits, first_n)
    q_names, k_names = _labels(model, screen, map)
    hits = np.flatnonzero(q_names.astype(str) == str(query))
    if hits.size != 1:
        raise ValueError(f"query {query!r} is not on the query axis of {map!r} (e.g. {q_names[:3].tolist()})")
    qi = int(hits[0])
    batch_size = batch_size or attention_batch_size(model, screen, [map])
    values: np.ndarray | None = None
    with open_store(dna_store) as store, eval_mode(model), torch.no_grad():
        check_model_fits(model, screen, store)
        for batch in screen_batches(model, screen, store, rows, batch_size, locus, progress, "attention rows"):
            attn = forward(model, batch, return_attention=[map]).attention
            w = attn[map][:, :, qi, :].double()  # [b, H, K]
            w = w if heads else w.mean(1)
            if values is None:
                values = np.zeros((len(rows), *w.shape[1:]), np.float64)
            values[batch.order] = w.cpu().numpy()
            del attn  # free this batch's maps before the next forward pass
    meta = {
        **prov,
        "map": map,
        "heads": heads,
        "n_cells": len(rows),
        "selection": selection,
        "locus": locus,
        "query": str(query),
    }
    return AttentionMap(
        name=map,
        values=values,
        heads=heads,
        cells=screen.obs_names.to_numpy(dtype=str)[rows],
        query_names=np.array([q_names[qi]]),
        key_names=k_names,
        per_cell=True,
        meta=meta,
    )


def row_correlation(rows: AttentionMap) -> tuple[pd.DataFrame, dict[str, float]]:
    """Cell-to-cell Pearson matrix of per-cell rows, and mean/SD/min over the upper triangle (CDT-II Fig 4E)."""
    if not rows.per_cell:
        raise ValueError("need per-cell rows (attention_rows)")
    corr = np.corrcoef(rows.head_mean())
    upper = corr[np.triu_indices_from(corr, k=1)]
    summary = {
        "mean": float(upper.mean()),
        "sd": float(upper.std()),
        "min": float(upper.min()),
        "n_pairs": int(upper.size),
    }
    return pd.DataFrame(corr, index=rows.cells, columns=rows.cells), summary


# ---------------------------------------------------------------------------------------------------------------------
# summaries of a map


def attention_entropy(amap: AttentionMap, eps: float = 1e-10) -> pd.DataFrame:
    """Per head: Shannon entropy (nats) of the key distribution averaged over queries, and exp(H) "effective
    positions" (paper/METHODS.md, 'CDT-II: attention maps': column mean + eps, renormalised)."""
    if amap.per_cell:
        raise ValueError("entropy needs a cell-mean map")
    v = amap.values if amap.heads else amap.values[None]
    p = v.mean(1) + eps  # [H, K]
    p = p / p.sum(1, keepdims=True)
    h = -(p * np.log(p)).sum(1)
    return pd.DataFrame({"entropy": h, "effective_positions": np.exp(h)}).rename_axis("head")


def peak_offset(profile: ArrayLike, bin_size: int, center_bin: int | None = None) -> np.ndarray:
    """Distance (bp) of each profile's argmax bin from the window centre bin, (peak - n_bins // 2) * bin_size.

    profile: [..., L]; bins are counted from their start, so the centre bin (TSS/enhancer) is at 0.
    """
    p = np.asarray(profile)
    center = p.shape[-1] // 2 if center_bin is None else center_bin
    return (p.argmax(-1) - center) * bin_size


# ---------------------------------------------------------------------------------------------------------------------
# CDT v1


def v1_target_attention(
    model: CDT1,
    dna: ArrayLike,
    target_index: ArrayLike,
    rna_emb: ArrayLike,
    prot_emb: ArrayLike,
    batch_size: int = 8,
    sample_ids: Sequence[str] | None = None,
    progress: bool = False,
) -> AttentionMap:
    """CDT v1: per sample, the head-averaged DNA->RNA row of its target gene [N, L] (CDT v1 Figs 3-5).

    dna: [N, L, dna_dim], any array indexable by slices (numpy, torch, h5py); target_index: [N].
    """
    if not isinstance(model, CDT1):
        raise TypeError(f"expected a CDT1 model, got {type(model).__name__}")
    device = next(model.parameters()).device
    target = torch.as_tensor(np.asarray(target_index), dtype=torch.long)
    n = len(target)
    r_emb = torch.as_tensor(np.asarray(rna_emb, np.float32), device=device)
    p_emb = torch.as_tensor(np.asarray(prot_emb, np.float32), device=device)
    values = np.zeros((n, model.cfg.n_bins), np.float64)
    starts = range(0, n, batch_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="v1 attention", unit="batch")
    with eval_mode(model), torch.no_grad():
        for s in starts:
            x = torch.as_tensor(np.asarray(dna[s : s + batch_size], np.float32), device=device)
            t = target[s : s + batch_size].to(device)
            w = model(x, r_emb, p_emb, t, return_attention=["dna_to_rna"]).attention["dna_to_rna"]  # [b, H, G, L]
            rows = w.mean(1).gather(1, t[:, None, None].expand(-1, 1, w.shape[-1])).squeeze(1)  # [b, L]
            values[s : s + len(t)] = rows.double().cpu().numpy()
    ids = np.asarray(sample_ids, dtype=str) if sample_ids is not None else np.arange(n).astype(str)
    return AttentionMap(
        name="dna_to_rna",
        values=values,
        heads=False,
        cells=ids,
        query_names=np.array(["target"]),
        key_names=np.arange(model.cfg.n_bins),
        per_cell=True,
        meta={"model": "CDT1", "map": "dna_to_rna", "heads": False, "n_cells": n, "query": "target"},
    )


# ---------------------------------------------------------------------------------------------------------------------
# save / load


def _flatten(maps: AttentionMap | Mapping) -> dict[str, AttentionMap]:
    if isinstance(maps, AttentionMap):
        return {maps.name: maps}
    flat: dict[str, AttentionMap] = {}
    for key, value in maps.items():
        if isinstance(value, AttentionMap):
            flat[str(key)] = value
        else:
            flat.update({f"{key}/{k}": v for k, v in _flatten(value).items()})
    return flat


def save_attention(path: str | os.PathLike, maps: AttentionMap | Mapping) -> Path:
    """Write maps (one, {name: map}, or {group: {name: map}} flattened to "group/name") to a compressed npz.

    Arrays per map: values, cells, query_names, key_names; each map's metadata (`meta`: run directory, protocol,
    selection, map, heads, ...) as a JSON
    string in the field `meta_json`. Written atomically; loads without pickle.
    """
    flat = _flatten(maps)
    if not flat:
        raise ValueError("no attention maps to save")
    arrays: dict[str, np.ndarray] = {}
    entries = []
    for i, (key, m) in enumerate(flat.items()):
        arrays.update(
            {
                f"m{i}_values": m.values,
                f"m{i}_cells": np.asarray(m.cells, dtype=str),
                f"m{i}_query_names": np.asarray(m.query_names),
                f"m{i}_key_names": np.asarray(m.key_names),
            }
        )
        entries.append({"key": key, "name": m.name, "heads": m.heads, "per_cell": m.per_cell, "meta": m.meta})
    arrays["meta_json"] = np.array(json.dumps({"format": FORMAT, "maps": entries}, default=str))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_attention(path: str | os.PathLike) -> dict[str, AttentionMap]:
    """Maps written by `save_attention`, keyed as saved ("name" or "group/name")."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: attention file does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: not a readable npz file ({e})") from None
    if "meta_json" not in data:
        raise ValueError(f"{path}: meta_json: missing (not written by save_attention)")
    info = json.loads(str(data["meta_json"]))
    if info.get("format") != FORMAT:
        raise ValueError(f"{path}: meta_json: format {info.get('format')!r} is not {FORMAT!r}")
    out = {}
    for i, e in enumerate(info["maps"]):
        try:
            out[e["key"]] = AttentionMap(
                name=e["name"],
                values=data[f"m{i}_values"],
                heads=e["heads"],
                cells=data[f"m{i}_cells"],
                query_names=data[f"m{i}_query_names"],
                key_names=data[f"m{i}_key_names"],
                per_cell=e["per_cell"],
                meta=e["meta"],
            )
        except KeyError as k:
            raise ValueError(f"{path}: array {k} of map {e['key']!r} is missing") from None
    return out

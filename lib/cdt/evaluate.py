"""Run a trained CDT-II/III over cells of a screen and score its predictions the way the papers do.

- `predict`: the model over any cells, in eval mode, batched with each distinct DNA locus once per batch
  (cells are grouped by locus, predictions come back in the order asked).
- metrics on arrays: flattened Pearson r (CDT-II Fig 3A), Spearman rho, R^2 = 1 - SSE/SST beside r^2 (the papers'
  "R^2 = 0.41" is r^2), per-cell r across genes, per-perturbation pseudo-bulk r (Pearson of cell-mean predicted vs
  cell-mean observed profiles, CDT-II Fig 3B / CDT-III Table 1), self-knockdown r, top-N trans-target overlap.
- `evaluate_predictions` / `evaluate_model`: all of the above in tables, RNA and (CDT-III) proteins.

The screen-walking helpers here (`select_cells`, `screen_batches`, `forward`) are shared by `cdt.attention`
and `cdt.gradients`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
import scipy.stats
import sklearn.metrics
import torch
from numpy.typing import ArrayLike
from torch import Tensor, nn

from cdt.data.dnastore import DNAStore
from cdt.data.screen import TARGET_LAYER, dense, read_screen
from cdt.models import CDT1, CDT2, CDT3, ModelOutput
from cdt.stats import Overlap, top_n_overlap
from cdt.train.metrics import GroupSums, PearsonSums

HELD_OUT_SPLITS: tuple[str, ...] = ("test", "val")
"""Default cell selection of the interpretation tools: the held-out ('test') and validation ('val') genes."""

REPORTED_SPLITS: tuple[str, ...] = ("test",)
"""Default cells of `predict` / `evaluate_model`: the reported held-out genes (both training protocols)."""


# ---------------------------------------------------------------------------------------------------------------------
# inputs: model, screen, DNA store, cells


def resolve_model(model: nn.Module | Any | str | os.PathLike) -> tuple[nn.Module, dict[str, Any]]:
    """A model, a loaded run (`cdt.train.load_run`) or a run directory -> (model, provenance for metadata)."""
    if isinstance(model, (str, os.PathLike)):
        from cdt.train.runs import load_run  # a run directory: read lazily, the trainer is not needed otherwise

        model = load_run(model)
    if isinstance(model, nn.Module):
        return model, {"model": type(model).__name__, "run_dir": None, "protocol": None}
    if hasattr(model, "model") and hasattr(model, "run_dir"):  # cdt.train.runs.LoadedRun
        protocol = getattr(getattr(model, "config", None), "protocol", None)
        return model.model, {"model": type(model.model).__name__, "run_dir": str(model.run_dir), "protocol": protocol}
    raise TypeError(f"expected a CDT model, a loaded run or a run directory; got {type(model).__name__}")


def resolve_screen(screen: ad.AnnData | str | os.PathLike) -> ad.AnnData:
    return screen if isinstance(screen, ad.AnnData) else read_screen(screen)


@contextlib.contextmanager
def open_store(dna_store: DNAStore | str | os.PathLike) -> Iterator[DNAStore]:
    """Use an open DNAStore as is, or open (and afterwards close) one from a path."""
    if isinstance(dna_store, DNAStore):
        yield dna_store
    else:
        with DNAStore(dna_store) as store:
            yield store


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Dropout off for the duration; the model's previous mode is restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def screen_source(screen: ad.AnnData) -> str:
    """How errors name a screen: its provenance source, else 'screen'."""
    return str(screen.uns.get("cdt", {}).get("source", "screen"))


def check_model_fits(model: nn.Module, screen: ad.AnnData, store: DNAStore | None = None) -> None:
    """CDT-II/III only (CDT v1 takes enhancer pairs); genes, proteins and DNA shape must match the screen/store."""
    src = screen_source(screen)
    if isinstance(model, CDT1):
        raise TypeError(
            "CDT v1 takes enhancer-gene pairs, not a screen; use the cdt.attention / cdt.gradients v1_* functions"
        )
    if not isinstance(model, (CDT2, CDT3)):
        raise TypeError(f"expected a CDT2 or CDT3 model, got {type(model).__name__}")
    cfg = model.cfg
    if cfg.n_genes != screen.n_vars:
        raise ValueError(f"{src}: the screen has {screen.n_vars} genes but the model expects {cfg.n_genes}")
    if isinstance(model, CDT3):
        if "protein" not in screen.obsm:
            raise ValueError(f"{src}: obsm['protein'] is missing; CDT-III needs each cell's proteins as input")
        n_prot = np.shape(screen.obsm["protein"])[1]
        if n_prot != cfg.n_proteins:
            raise ValueError(f"{src}: the screen has {n_prot} proteins but the model expects {cfg.n_proteins}")
    if store is not None and (store.n_bins, store.dim) != (cfg.n_bins, cfg.dna_dim):
        raise ValueError(
            f"{store.path}: DNA embeddings are [{store.n_bins}, {store.dim}] but the model expects "
            f"[{cfg.n_bins}, {cfg.dna_dim}]"
        )


def select_cells(
    screen: ad.AnnData,
    perturbation: str | None = None,
    splits: Sequence[str] | None = HELD_OUT_SPLITS,
    first_n: int | None = None,
) -> np.ndarray:
    """Row positions (file order) of the cells of `perturbation` (all perturbations if None) in `splits` (any if None).

    `first_n` keeps the first N in file order: the authors' "first N cells of gene X".
    """
    obs = screen.obs
    keep = np.ones(screen.n_obs, dtype=bool)
    if perturbation is not None:
        of_pert = (obs["perturbation"].astype(str) == perturbation).to_numpy()
        if not of_pert.any():
            raise ValueError(f"{screen_source(screen)}: no cells of perturbation {perturbation!r}")
        keep &= of_pert
    if splits is not None:
        in_split = obs["split"].astype(str).isin(list(splits)).to_numpy()
        if not (keep & in_split).any():
            found = sorted(obs["split"].astype(str)[keep].unique())
            what = f"perturbation {perturbation!r}" if perturbation is not None else "the screen"
            raise ValueError(
                f"{screen_source(screen)}: {what} has no cells in splits {list(splits)} (its cells are "
                f"in {found}); pass splits=None to use them"
            )
        keep &= in_split
    cells = np.flatnonzero(keep)
    return cells if first_n is None else cells[:first_n]


def resolve_cells(
    screen: ad.AnnData,
    cells: str | ArrayLike | None,
    splits: Sequence[str] | None = HELD_OUT_SPLITS,
    first_n: int | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Cells given as None (all cells in `splits`), a perturbation name, a boolean mask, row positions or obs names
    -> (row positions, a description of the selection for metadata)."""
    if cells is None or isinstance(cells, str):
        rows = select_cells(screen, cells, splits, first_n)
        return rows, {"perturbation": cells, "splits": None if splits is None else list(splits), "first_n": first_n}
    arr = np.asarray(cells)
    if arr.dtype == bool:
        if arr.shape != (screen.n_obs,):
            raise ValueError(f"a boolean cell mask needs {screen.n_obs} entries, got shape {arr.shape}")
        rows = np.flatnonzero(arr)
    elif arr.dtype.kind in "iu":
        rows = arr.astype(np.int64).ravel()
        if rows.size and (rows.min() < 0 or rows.max() >= screen.n_obs):
            raise ValueError(f"cell positions must lie in [0, {screen.n_obs})")
    else:
        rows = screen.obs_names.get_indexer(arr.astype(str).ravel())
        if (rows < 0).any():
            missing = arr.astype(str).ravel()[rows < 0][:5].tolist()
            raise ValueError(
                f"{screen_source(screen)}: {int((rows < 0).sum())} cells not in the screen, e.g. {missing}"
            )
    rows = rows if first_n is None else rows[:first_n]
    if rows.size == 0:
        raise ValueError("the cell selection is empty")
    return rows, {"perturbation": None, "splits": None, "first_n": first_n, "explicit": True}


def ntc_mean_protein(screen: ad.AnnData) -> np.ndarray:
    """[P] NTC mean protein level: by the screen contract, protein - protein_target is the NTC mean in every row
    with protein data (obs["has_protein"] when present: the authors' SNP cells carry zeros in both)."""
    diff = np.asarray(screen.obsm["protein"], np.float64) - np.asarray(screen.obsm["protein_target"], np.float64)
    if "has_protein" in screen.obs:
        diff = diff[screen.obs["has_protein"].to_numpy(dtype=bool)]
    return diff.mean(0)


# ---------------------------------------------------------------------------------------------------------------------
# batches


@dataclass
class Batch:
    """Model inputs for some cells: each distinct locus once, plus a per-cell locus index."""

    order: np.ndarray  # [B] positions of these cells within the selection
    rows: np.ndarray  # [B] row positions in the screen
    loci: list[str]  # [U] locus id of each row of `dna`
    dna: Tensor  # [U, n_bins, dna_dim]
    locus_index: Tensor  # [B] long
    rna: Tensor  # [B, G] ln(CPM+1)
    protein: Tensor | None = None  # [B, P] (CDT-III)


def screen_batches(
    model: nn.Module,
    screen: ad.AnnData,
    store: DNAStore,
    rows: np.ndarray,
    batch_size: int = 16,
    locus: str | None = None,
    progress: bool = False,
    desc: str = "cells",
) -> Iterator[Batch]:
    """Batches over `rows`, grouped by locus (stable) so a batch usually carries one locus, read from the store once.

    `locus` gives every cell that locus's DNA (e.g. NTC cells, which have none of their own).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = next(model.parameters()).device
    if locus is not None:
        if locus not in store:
            raise KeyError(f"{store.path}: locus {locus!r} not in DNA store")
        loci_of = np.full(len(rows), locus, dtype=object)
    else:
        loci_of = screen.obs["locus"].astype(str).to_numpy()[rows]
        bad = np.isin(loci_of, ["", "nan", "None"])
        if bad.any():
            raise ValueError(
                f"{screen_source(screen)}: {int(bad.sum())} selected cells have no locus (e.g. "
                f"{screen.obs_names[rows[bad][0]]!r}, an NTC cell); pass locus=... to give them DNA"
            )
        missing = sorted(set(loci_of) - set(store.loci_ids()))
        if missing:
            raise KeyError(f"{store.path}: loci {missing[:5]} of the selected cells are not in the DNA store")
    with_protein = isinstance(model, CDT3)
    order = np.argsort(loci_of, kind="stable")
    cache: dict[str, Tensor] = {}  # loci of the previous batch (consecutive batches usually share one)
    starts = range(0, len(rows), batch_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc=desc, unit="batch")
    for start in starts:
        pos = order[start : start + batch_size]
        r = rows[pos]
        uniq, inv = np.unique(loci_of[pos], return_inverse=True)
        cache = {u: cache[u] if u in cache else torch.from_numpy(store[u]).to(device) for u in uniq}
        yield Batch(
            order=pos,
            rows=r,
            loci=list(uniq),
            dna=torch.stack([cache[u] for u in uniq]),
            locus_index=torch.as_tensor(inv.ravel(), dtype=torch.long, device=device),
            rna=torch.from_numpy(dense(screen.X[r], dtype=np.float32)).to(device),
            protein=torch.from_numpy(dense(screen.obsm["protein"][r], dtype=np.float32)).to(device)
            if with_protein
            else None,
        )


def forward(
    model: nn.Module, batch: Batch, rna: Tensor | None = None, return_attention: bool | Sequence[str] = False
) -> ModelOutput:
    """The model on a batch (optionally with another RNA input, e.g. a tensor being differentiated)."""
    rna = batch.rna if rna is None else rna
    if batch.protein is not None:
        return model(batch.dna, rna, batch.protein, locus_index=batch.locus_index, return_attention=return_attention)
    return model(batch.dna, rna, locus_index=batch.locus_index, return_attention=return_attention)


def explicit_batch(
    model: nn.Module, store: DNAStore, locus: str, rna: ArrayLike, protein: ArrayLike | None = None
) -> Batch:
    """A batch from explicit inputs at one locus: rna [n, G] or [G]; protein [n, P] or [P] (CDT-III only).

    E.g. the NTC-mean expression at a target's locus, or a baseline and its in-silico knockdown.
    """
    device = next(model.parameters()).device
    if locus not in store:
        raise KeyError(f"{store.path}: locus {locus!r} not in DNA store")
    x = np.atleast_2d(np.asarray(rna, np.float32))
    n = len(x)
    prot = None
    if isinstance(model, CDT3):
        if protein is None:
            raise ValueError("CDT-III needs a protein input as well")
        prot = np.broadcast_to(np.asarray(protein, np.float32), (n, model.cfg.n_proteins))
        prot = torch.from_numpy(prot.copy()).to(device)
    dna = torch.from_numpy(store[locus])[None].to(device)  # [1, L, D]
    return Batch(
        order=np.arange(n),
        rows=np.full(n, -1),
        loci=[locus],
        dna=dna,
        protein=prot,
        locus_index=torch.zeros(n, dtype=torch.long, device=device),
        rna=torch.from_numpy(x).to(device),
    )


# ---------------------------------------------------------------------------------------------------------------------
# predict


@dataclass
class Predictions:
    rows: np.ndarray  # [N] row positions in the screen
    obs_names: np.ndarray  # [N]
    rna: np.ndarray  # [N, G] predicted log2FC
    protein: np.ndarray | None = None  # [N, P] predicted protein change (CDT-III)
    meta: dict = field(default_factory=dict)


def predict(
    model: nn.Module | Any,
    screen: ad.AnnData | str | os.PathLike,
    dna_store: DNAStore | str | os.PathLike,
    cells: str | ArrayLike | None = None,
    batch_size: int = 64,
    *,
    splits: Sequence[str] | None = None,
    first_n: int | None = None,
    locus: str | None = None,
    progress: bool = False,
) -> Predictions:
    """Predictions for `cells` (default: the reported held-out cells, split 'test') in the order given."""
    model, prov = resolve_model(model)
    screen = resolve_screen(screen)
    splits = REPORTED_SPLITS if cells is None and splits is None else splits
    rows, selection = resolve_cells(screen, cells, splits, first_n)
    rna = np.zeros((len(rows), screen.n_vars), np.float32)
    protein = None
    with open_store(dna_store) as store, eval_mode(model), torch.no_grad():
        check_model_fits(model, screen, store)
        if isinstance(model, CDT3):
            protein = np.zeros((len(rows), model.cfg.n_proteins), np.float32)
        for batch in screen_batches(model, screen, store, rows, batch_size, locus, progress, "predict"):
            out = forward(model, batch)
            rna[batch.order] = out.rna.float().cpu().numpy()
            if protein is not None:
                protein[batch.order] = out.protein.float().cpu().numpy()
    return Predictions(
        rows=rows,
        obs_names=screen.obs_names.to_numpy(dtype=str)[rows],
        rna=rna,
        protein=protein,
        meta={**prov, "selection": selection, "locus": locus},
    )


# ---------------------------------------------------------------------------------------------------------------------
# metrics on arrays


def _pair(pred: ArrayLike, target: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    p, t = np.asarray(pred, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if p.shape != t.shape:
        raise ValueError(f"prediction shape {p.shape} differs from target shape {t.shape}")
    if p.size < 2:
        raise ValueError("need at least two values")
    return p, t


def pearson(pred: ArrayLike, target: ArrayLike) -> float:
    """Pearson r of the flattened arrays (all cells x genes pairs), from float64 sums."""
    p, t = _pair(pred, target)
    sums = PearsonSums()
    sums.update(torch.from_numpy(p), torch.from_numpy(t))
    return sums.value()


def spearman(pred: ArrayLike, target: ArrayLike) -> float:
    """Spearman rho of the flattened arrays (scipy)."""
    p, t = _pair(pred, target)
    return float(scipy.stats.spearmanr(p.ravel(), t.ravel()).statistic)


def r2(pred: ArrayLike, target: ArrayLike) -> float:
    """Coefficient of determination 1 - SSE/SST over the flattened arrays (sklearn); not the papers' r^2."""
    p, t = _pair(pred, target)
    return float(sklearn.metrics.r2_score(t.ravel(), p.ravel()))


def per_cell_r(pred: ArrayLike, target: ArrayLike) -> np.ndarray:
    """[N] Pearson r across features within each cell (row); NaN where either row is constant."""
    p, t = _pair(pred, target)
    p = p - p.mean(1, keepdims=True)
    t = t - t.mean(1, keepdims=True)
    denom = np.sqrt((p * p).sum(1) * (t * t).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (p * t).sum(1) / denom
    r[denom == 0] = np.nan
    return r


def pseudobulk_r(pred: ArrayLike, target: ArrayLike, groups: ArrayLike) -> pd.Series:
    """Per group (perturbation): Pearson r between the cell-mean predicted and cell-mean observed profiles."""
    p, t = _pair(pred, target)
    codes, names = pd.factorize(pd.Series(np.asarray(groups)).astype(str), sort=True)
    if len(codes) != p.shape[0]:
        raise ValueError(f"{len(codes)} group labels for {p.shape[0]} cells")
    sums = GroupSums(len(names), p.shape[1])
    sums.update(torch.from_numpy(codes.astype(np.int64)), torch.from_numpy(p), torch.from_numpy(t))
    return pd.Series(sums.per_group(), index=pd.Index(names, name="perturbation"), name="r_mean")


def self_knockdown_r(pred: ArrayLike, target: ArrayLike, groups: ArrayLike, features: Sequence[str]) -> pd.Series:
    """Per group whose name is a feature: Pearson r across its cells of the predicted vs observed own column."""
    p, t = _pair(pred, target)
    groups = pd.Series(np.asarray(groups)).astype(str).to_numpy()
    col = {f: i for i, f in enumerate(features)}
    out = {}
    for g in sorted(set(groups)):
        sel = groups == g
        if g not in col or sel.sum() < 2:
            continue
        a, b = p[sel, col[g]], t[sel, col[g]]
        out[g] = float(scipy.stats.pearsonr(a, b).statistic) if a.std() > 0 and b.std() > 0 else np.nan
    return pd.Series(out, name="self_kd_r", dtype=float).rename_axis("perturbation")


def top_target_overlap(
    pred_profile: ArrayLike, obs_profile: ArrayLike, n: int = 50, names: Sequence[str] | None = None
) -> tuple[Overlap, np.ndarray]:
    """Overlap of the top-n trans targets by |mean log2FC|, predicted vs observed (hypergeometric fold and P).

    Returns the test and the shared items (names if given, else indices).
    """
    a, b = np.abs(np.asarray(pred_profile, float)), np.abs(np.asarray(obs_profile, float))
    overlap, shared = top_n_overlap(a, b, n)
    return overlap, (np.asarray(names)[shared] if names is not None else shared)


def observed_profile(
    screen: ad.AnnData, perturbation: str, layer: str = TARGET_LAYER, splits: Sequence[str] | None = None
) -> pd.Series:
    """Observed cell-mean profile (default log2FC) of a perturbation over all its cells (in `splits` if given)."""
    rows = select_cells(screen, perturbation, splits)
    values = dense(screen.layers[layer][rows] if layer != "X" else screen.X[rows], dtype=np.float32).astype(np.float64)
    return pd.Series(values.mean(0), index=screen.var_names.copy(), name=perturbation)


# ---------------------------------------------------------------------------------------------------------------------
# evaluation tables


@dataclass
class Evaluation:
    """Scores of predictions against the screen. `overall` holds scalars; tables are per perturbation/cell/protein."""

    overall: dict[str, float]
    per_perturbation: pd.DataFrame  # n_cells, r_all, r_mean (pseudo-bulk), self_kd_r, top-N overlap (k, fold, p)
    per_cell: pd.Series  # r across genes per cell
    per_protein: pd.DataFrame | None = None  # CDT-III: r across cells per protein, expressed flag


def scores(pred: ArrayLike, target: ArrayLike, prefix: str = "") -> dict[str, float]:
    """Overall scores of the flattened arrays: r, rho, R^2 (1 - SSE/SST), r^2, MSE, MAE, n."""
    p, t = _pair(pred, target)
    r = pearson(p, t)
    d = p - t
    out = {
        "r": r,
        "rho": spearman(p, t),
        "R2": r2(p, t),
        "r_squared": r * r,
        "mse": float(np.mean(d * d)),
        "mae": float(np.mean(np.abs(d))),
        "n": int(p.size),
    }
    return {f"{prefix}{k}": v for k, v in out.items()}


def evaluate_predictions(pred: Predictions, screen: ad.AnnData, top_n: int = 50) -> Evaluation:
    """Score `pred` against the screen's targets: overall, per perturbation, per cell and (CDT-III) per protein.

    Protein per-perturbation r is reported over the expressed proteins (`prot_r_mean_expressed`, CDT-III Table 1)
    and over all proteins (`prot_r_mean`).
    """
    rows = pred.rows
    target = dense(screen.layers[TARGET_LAYER][rows], dtype=np.float32)
    groups = screen.obs["perturbation"].astype(str).to_numpy()[rows]
    genes = screen.var_names.to_numpy(dtype=str)
    overall = scores(pred.rna, target)
    table = pd.DataFrame({"n_cells": pd.Series(groups).value_counts().sort_index()}).rename_axis("perturbation")
    table["r_all"] = [pearson(pred.rna[groups == g], target[groups == g]) for g in table.index]
    table["r_mean"] = pseudobulk_r(pred.rna, target, groups)
    table["self_kd_r"] = self_knockdown_r(pred.rna, target, groups, genes)
    n = min(top_n, len(genes))
    for g in table.index:
        sel = groups == g
        ov, _ = top_target_overlap(pred.rna[sel].mean(0), target[sel].mean(0), n)
        table.loc[g, [f"top{n}_k", f"top{n}_fold", f"top{n}_p"]] = [ov.k, ov.fold, ov.p_value]
    overall["r_mean_avg"] = float(table["r_mean"].mean())
    per_protein = None
    if pred.protein is not None:
        ptarget = dense(screen.obsm["protein_target"][rows], dtype=np.float32)
        expressed = np.asarray(screen.uns["protein_expressed"], dtype=bool)
        names = np.asarray(screen.uns["protein_names"], dtype=str)
        overall.update(scores(pred.protein[:, expressed], ptarget[:, expressed], "prot_"))
        table["prot_r_mean_expressed"] = pseudobulk_r(pred.protein[:, expressed], ptarget[:, expressed], groups)
        table["prot_r_mean"] = pseudobulk_r(pred.protein, ptarget, groups)
        overall["prot_r_mean_expressed_avg"] = float(table["prot_r_mean_expressed"].mean())
        per_protein = pd.DataFrame(
            {"expressed": expressed, "r_all": per_cell_r(pred.protein.T, ptarget.T)},
            index=pd.Index(names, name="protein"),
        )
        overall["per_protein_r_expressed_mean"] = float(np.nanmean(per_protein["r_all"][expressed]))
    return Evaluation(
        overall=overall,
        per_perturbation=table,
        per_cell=pd.Series(per_cell_r(pred.rna, target), index=pred.obs_names, name="r"),
        per_protein=per_protein,
    )


def evaluate_model(
    model: nn.Module | Any,
    screen: ad.AnnData | str | os.PathLike,
    dna_store: DNAStore | str | os.PathLike,
    cells: str | ArrayLike | None = None,
    batch_size: int = 64,
    top_n: int = 50,
    progress: bool = False,
) -> Evaluation:
    """`predict` then `evaluate_predictions` (default cells: the reported held-out split 'test')."""
    screen = resolve_screen(screen)
    return evaluate_predictions(predict(model, screen, dna_store, cells, batch_size, progress=progress), screen, top_n)

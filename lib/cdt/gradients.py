"""Input gradients of CDT models: gene x gene and protein x gene Jacobians, one protein x gene column by forward-mode
AD, CDT v1 DNA-position gradient norms, and in-silico knockdown.

Jacobians J[o, i] = d(prediction o) / d(input expression i) (ln(CPM+1) inputs; DNA fixed) are computed with
`torch.func.vjp` + `vmap` over chunks of output basis vectors. Cells are independent in eval mode, so the outputs
are summed over the cells of a batch before differentiating: one vector-Jacobian product then yields every cell's
row at once. Over cells, the mean |J| and the signed mean are accumulated in float64. Inputs: chosen cells (their
own expression, and proteins for CDT-III) or the NTC-mean expression at a locus (CDT-II gradient attribution, CDT-III
Table 10).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
import scipy.stats
import torch
from numpy.typing import ArrayLike
from torch import Tensor, nn
from torch.func import jvp, vjp, vmap

from cdt.attention import attention_batch_size
from cdt.data.dnastore import DNAStore
from cdt.evaluate import (
    HELD_OUT_SPLITS,
    Batch,
    check_model_fits,
    eval_mode,
    explicit_batch,
    forward,
    ntc_mean_protein,
    observed_profile,
    open_store,
    resolve_cells,
    resolve_model,
    resolve_screen,
    screen_batches,
    select_cells,
)
from cdt.models import CDT1, CDT3


@dataclass
class Jacobian:
    """Cell-averaged Jacobian of outputs (genes or proteins) with respect to the input genes."""

    mean_abs: np.ndarray  # [O, I] mean over cells of |J|
    mean: np.ndarray  # [O, I] signed mean over cells
    outputs: np.ndarray  # [O] output names
    inputs: np.ndarray  # [I] input gene names
    cells: np.ndarray  # [N] obs names (["ntc_mean"] for the NTC-mean input)
    meta: dict[str, Any] = field(default_factory=dict)

    def importance(self) -> pd.Series:
        """Gradient importance per input gene: mean over outputs of mean |J| (CDT-II gradient importance)."""
        return pd.Series(self.mean_abs.mean(0), index=pd.Index(self.inputs, name="gene"), name="gradient_importance")

    def column(self, gene: str, signed: bool = True) -> pd.Series:
        """d(output)/d(gene) for every output, e.g. d protein / d CD52 RNA (CDT-III Table 8)."""
        hits = np.flatnonzero(self.inputs == gene)
        if hits.size != 1:
            raise KeyError(f"{gene!r} is not an input gene")
        values = (self.mean if signed else self.mean_abs)[:, hits[0]]
        return pd.Series(values, index=pd.Index(self.outputs, name="output"), name=gene)

    def to_frame(self, signed: bool = False) -> pd.DataFrame:
        return pd.DataFrame(
            self.mean if signed else self.mean_abs,
            index=pd.Index(self.outputs, name="output"),
            columns=pd.Index(self.inputs, name="input"),
        )


def _output_index(names: np.ndarray, outputs: Sequence[str] | Sequence[int] | None, what: str) -> np.ndarray:
    if outputs is None:
        return np.arange(len(names))
    arr = np.asarray(outputs)
    if arr.dtype.kind in "iu":
        if arr.size and (arr.min() < 0 or arr.max() >= len(names)):
            raise ValueError(f"output indices must lie in [0, {len(names)})")
        return arr.astype(np.int64)
    pos = pd.Index(names).get_indexer(arr.astype(str))
    if (pos < 0).any():
        raise ValueError(f"{int((pos < 0).sum())} outputs are not {what}, e.g. {arr[pos < 0][:3].tolist()}")
    return pos


def batch_jacobian(
    model: nn.Module, batch: Batch, out_idx: Tensor, output: str = "rna", chunk_size: int = 16
) -> Tensor:
    """[B, O, G] d(output[b, out_idx[o]]) / d(rna[b, g]) for every cell of the batch (model in eval mode)."""

    def f(x: Tensor) -> Tensor:  # [B, G] -> [O], summed over the independent cells
        # return_attention=True takes the explicit softmax path (same prediction), which vmap batches natively
        out = forward(model, batch, rna=x, return_attention=True)
        y = out.rna if output == "rna" else out.protein
        return y.index_select(1, out_idx).sum(0)

    with torch.no_grad():  # no graph for the parameters; torch.func still differentiates w.r.t. x
        _, pullback = vjp(f, batch.rna)
        basis = torch.eye(len(out_idx), device=batch.rna.device, dtype=batch.rna.dtype)
        rows = [vmap(pullback)(basis[i : i + chunk_size])[0] for i in range(0, len(out_idx), chunk_size)]
    return torch.cat(rows).transpose(0, 1)  # [O, B, G] -> [B, O, G]


def jacobian(
    model: nn.Module | Any,
    screen: ad.AnnData | str | os.PathLike,
    dna_store: DNAStore | str | os.PathLike,
    cells: str | ArrayLike | None = None,
    *,
    output: str = "rna",
    outputs: Sequence[str] | Sequence[int] | None = None,
    at: str = "cells",
    locus: str | None = None,
    splits: Sequence[str] | None = HELD_OUT_SPLITS,
    first_n: int | None = None,
    batch_size: int = 4,
    chunk_size: int | None = None,
    progress: bool = False,
) -> Jacobian:
    """Mean |J| and mean J of `output` ("rna" log2FC or "protein") w.r.t. the input RNA, over cells.

    at="cells": each selected cell's own inputs (cells as in `cdt.attention.mean_attention_maps`).
    at="ntc_mean": one input, var["ntc_mean_expr"] (and for CDT-III the NTC-mean protein) with the DNA of `locus`
    (default: the locus of `cells` when that is a perturbation name).
    Memory per step ~ chunk_size x batch_size x the model's attention maps; `chunk_size` (outputs differentiated
    together) defaults to what `cdt.attention.attention_batch_size` allows, up to 128 at the small presets and 1 at
    the paper's dimensions. Time grows with the number of outputs (one backward pass each), not with the cells at
    at="ntc_mean".
    """
    model, prov = resolve_model(model)
    screen = resolve_screen(screen)
    if output not in ("rna", "protein"):
        raise ValueError(f"output must be 'rna' or 'protein', got {output!r}")
    if output == "protein" and not isinstance(model, CDT3):
        raise TypeError(f"protein Jacobians need a CDT3 model, got {type(model).__name__}")
    if at not in ("cells", "ntc_mean"):
        raise ValueError(f"at must be 'cells' or 'ntc_mean', got {at!r}")
    out_names = (
        screen.var_names.to_numpy(dtype=str) if output == "rna" else np.asarray(screen.uns["protein_names"], dtype=str)
    )
    out_idx = _output_index(out_names, outputs, "genes of the screen" if output == "rna" else "protein names")
    genes = screen.var_names.to_numpy(dtype=str)
    chunk_size = chunk_size or attention_batch_size(model, screen, largest=128)
    sum_abs = torch.zeros(len(out_idx), len(genes), dtype=torch.float64)
    sum_signed = torch.zeros_like(sum_abs)
    with open_store(dna_store) as store, eval_mode(model):
        check_model_fits(model, screen, store)
        idx = torch.as_tensor(out_idx, device=next(model.parameters()).device)
        if at == "ntc_mean":
            if locus is None:
                if not isinstance(cells, str):
                    raise ValueError("at='ntc_mean' needs locus=... (or cells=<perturbation name>)")
                locus = _locus_of(screen, cells)
            protein = ntc_mean_protein(screen) if isinstance(model, CDT3) else None
            batches = [explicit_batch(model, store, locus, screen.var["ntc_mean_expr"].to_numpy(), protein)]
            names, selection = np.array(["ntc_mean"]), {"input": "ntc_mean"}
        else:
            rows, selection = resolve_cells(screen, cells, splits, first_n)
            batches = screen_batches(model, screen, store, rows, batch_size, locus, progress, "jacobian")
            names = screen.obs_names.to_numpy(dtype=str)[rows]
        for batch in batches:
            j = batch_jacobian(model, batch, idx, output, chunk_size).double().cpu()  # [B, O, G]
            sum_abs += j.abs().sum(0)
            sum_signed += j.sum(0)
    n = len(names)
    meta = {**prov, "output": output, "at": at, "locus": locus, "selection": selection, "n_cells": n}
    return Jacobian(
        mean_abs=(sum_abs / n).numpy(),
        mean=(sum_signed / n).numpy(),
        outputs=out_names[out_idx],
        inputs=genes,
        cells=names,
        meta=meta,
    )


def gene_jacobian(
    model: nn.Module | Any,
    screen: ad.AnnData | str | os.PathLike,
    dna_store: DNAStore | str | os.PathLike,
    cells: str | ArrayLike | None = None,
    **kwargs: Any,
) -> Jacobian:
    """Gene x gene Jacobian d(predicted log2FC_o)/d(input expression_i) (CDT-II Figs 8, 9)."""
    return jacobian(model, screen, dna_store, cells, output="rna", **kwargs)


def protein_jacobian(
    model: nn.Module | Any,
    screen: ad.AnnData | str | os.PathLike,
    dna_store: DNAStore | str | os.PathLike,
    cells: str | ArrayLike | None = None,
    **kwargs: Any,
) -> Jacobian:
    """CDT-III protein x gene Jacobian d(predicted protein_j)/d(input RNA_g); `.column("CD52")`
    gives CDT-III Table 8."""
    return jacobian(model, screen, dna_store, cells, output="protein", **kwargs)


def importance_vs_effect(jac: Jacobian, effect: pd.Series) -> dict[str, float]:
    """Pearson and Spearman r between gradient importance and |observed effect| across genes (CDT-II Fig 8)."""
    gi = jac.importance()
    eff = effect.reindex(gi.index).abs()
    if eff.isna().any():
        raise ValueError(f"effect lacks {int(eff.isna().sum())} of the Jacobian's input genes")
    return {
        "r": float(scipy.stats.pearsonr(gi, eff).statistic),
        "rho": float(scipy.stats.spearmanr(gi, eff).statistic),
        "n": len(gi),
    }


def _locus_of(screen: ad.AnnData, perturbation: str) -> str:
    rows = select_cells(screen, perturbation, splits=None)
    return str(screen.obs["locus"].iloc[rows[0]])


# ---------------------------------------------------------------------------------------------------------------------
# CDT v1: DNA-position gradient norms


def v1_dna_gradient_norms(
    model: CDT1,
    dna: ArrayLike,
    target_index: ArrayLike,
    rna_emb: ArrayLike,
    prot_emb: ArrayLike,
    batch_size: int = 8,
    progress: bool = False,
) -> np.ndarray:
    """[N, L] per sample and DNA bin, the L2 norm over the raw dna_dim features of d(prediction at target)/d(DNA).

    dna: [N, L, dna_dim] indexable by slices. Samples are independent in eval mode, so one backward of the batch's
    summed predictions gives every sample's gradient (CDT v1 Figs 4, 5).
    """
    if not isinstance(model, CDT1):
        raise TypeError(f"expected a CDT1 model, got {type(model).__name__}")
    device = next(model.parameters()).device
    target = torch.as_tensor(np.asarray(target_index), dtype=torch.long)
    r_emb = torch.as_tensor(np.asarray(rna_emb, np.float32), device=device)
    p_emb = torch.as_tensor(np.asarray(prot_emb, np.float32), device=device)
    norms = np.zeros((len(target), model.cfg.n_bins), np.float64)
    starts = range(0, len(target), batch_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="v1 DNA gradients", unit="batch")
    with eval_mode(model):
        for s in starts:
            x = torch.as_tensor(np.asarray(dna[s : s + batch_size], np.float32), device=device).requires_grad_(True)
            t = target[s : s + batch_size].to(device)
            (g,) = torch.autograd.grad(model(x, r_emb, p_emb, t).value.sum(), x)  # [b, L, D]
            norms[s : s + len(t)] = g.double().norm(dim=-1).cpu().numpy()
    return norms


# ---------------------------------------------------------------------------------------------------------------------
# in-silico knockdown


def protein_gradient_column(
    model: nn.Module | Any,
    screen: ad.AnnData,
    dna: DNAStore | str | os.PathLike,
    gene: str,
    perturbation: str,
    at: str = "cells",
    first_n: int | None = None,
    batch_size: int = 32,
) -> tuple[pd.Series, int]:
    """[P] d protein_j / d RNA(gene) averaged over the perturbation's cells (at="cells", file order, `first_n`),
    or at the NTC-mean RNA and protein with the perturbation's DNA (at="ntc_mean"); and the number of inputs.

    One column of the protein x gene Jacobian, by forward-mode AD: a single JVP along the gene's input direction
    gives every protein's derivative for every cell of a batch (cells are independent in eval mode), instead of
    one backward pass per protein (`cdt.gradients.protein_jacobian`, the full [P, G] matrix).
    """
    model, _ = resolve_model(model)
    j = int(screen.var_names.get_loc(gene))
    names = np.asarray(screen.uns["protein_names"], dtype=str)
    total = torch.zeros(len(names), dtype=torch.float64)
    n = 0
    # no graph for the parameters (torch.no_grad); torch.func still differentiates along the input direction
    with open_store(dna) as store, eval_mode(model), torch.no_grad():
        check_model_fits(model, screen, store)
        if at == "ntc_mean":
            locus = str(screen.obs["locus"].iloc[select_cells(screen, perturbation, splits=None)[0]])
            batches = [
                explicit_batch(model, store, locus, screen.var["ntc_mean_expr"].to_numpy(), ntc_mean_protein(screen))
            ]
        elif at == "cells":
            rows = select_cells(screen, perturbation, splits=None, first_n=first_n)
            batches = screen_batches(model, screen, store, rows, batch_size)
        else:
            raise ValueError(f"at must be 'cells' or 'ntc_mean', got {at!r}")
        for batch in batches:
            direction = torch.zeros_like(batch.rna)
            direction[:, j] = 1.0
            # return_attention=True: the explicit softmax path, which forward-mode AD supports everywhere
            _, dy = jvp(
                lambda x, b=batch: forward(model, b, rna=x, return_attention=True).protein, (batch.rna,), (direction,)
            )  # dy: [B, P]
            total += dy.double().sum(0).cpu()
            n += len(batch.rna)
    return pd.Series((total / n).numpy(), index=pd.Index(names, name="protein"), name=gene), n


def ntc_mean_gene_columns(
    model: nn.Module | Any, screen: ad.AnnData, dna: DNAStore | str | os.PathLike, locus: str, genes: Sequence[str]
) -> np.ndarray:
    """[G, len(genes)] d(predicted log2FC_o) / d(input expression of each gene) at the NTC-mean input and the DNA of
    `locus`: columns of the gene x gene Jacobian by forward-mode AD, one JVP per gene instead of one backward pass
    per output (`gene_jacobian`, G passes for the full matrix)."""
    model, _ = resolve_model(model)
    idx = _output_index(screen.var_names.to_numpy(dtype=str), list(genes), "genes of the screen")
    columns = np.zeros((screen.n_vars, len(idx)), np.float64)
    with open_store(dna) as store, eval_mode(model), torch.no_grad():
        check_model_fits(model, screen, store)
        protein = ntc_mean_protein(screen) if isinstance(model, CDT3) else None
        batch = explicit_batch(model, store, locus, screen.var["ntc_mean_expr"].to_numpy(), protein)
        for c, j in enumerate(idx):
            direction = torch.zeros_like(batch.rna)
            direction[:, j] = 1.0
            # return_attention=True: the explicit softmax path, which forward-mode AD supports everywhere
            _, dy = jvp(lambda x: forward(model, batch, rna=x, return_attention=True).rna, (batch.rna,), (direction,))
            columns[:, c] = dy[0].double().cpu().numpy()
    return columns


@dataclass
class Knockdown:
    """Predicted profiles at a baseline input and with one gene's input lowered, against the observed profile."""

    gene: str
    locus: str
    fraction: float  # the gene's input is multiplied by this (0 = set to zero)
    baseline: pd.Series  # [G] predicted log2FC at the baseline input
    knockdown: pd.Series  # [G] predicted log2FC with the gene knocked down
    observed: pd.Series  # [G] observed cell-mean log2FC of the gene's perturbation
    r: float  # Pearson(knockdown - baseline, observed)
    rho: float  # Spearman of the same

    @property
    def delta(self) -> pd.Series:
        return (self.knockdown - self.baseline).rename("delta")


def in_silico_knockdown(
    model: nn.Module | Any,
    screen: ad.AnnData | str | os.PathLike,
    dna_store: DNAStore | str | os.PathLike,
    gene: str,
    *,
    baseline: str | ArrayLike = "tss_mean",
    protein_baseline: ArrayLike | None = None,
    fraction: float = 0.0,
    locus: str | None = None,
) -> Knockdown:
    """Set `gene`'s input to `fraction` x baseline, predict, and correlate the change with the observed knockdown.

    baseline: "tss_mean" (mean input over all TSS cells, as the authors' knockdown), "ntc_mean" (var["ntc_mean_expr"])
    or a [G] vector; CDT-III's protein input follows it (mean over TSS cells, the NTC mean) unless `protein_baseline` is
    given. DNA: the locus of the gene's cells unless `locus` is given. Observed: mean log2FC over all the gene's cells.
    """
    model, _ = resolve_model(model)
    screen = resolve_screen(screen)
    genes = screen.var_names.to_numpy(dtype=str)
    if gene not in set(genes):
        raise ValueError(f"{gene!r} is not an input gene of the screen, so it cannot be knocked down in silico")
    observed = observed_profile(screen, gene)
    locus = locus or _locus_of(screen, gene)
    tss = (screen.obs["kind"].astype(str) == "TSS").to_numpy()
    if isinstance(baseline, str):
        if baseline == "tss_mean":
            x = np.asarray(screen.X[tss], np.float64).mean(0)
            prot = np.asarray(screen.obsm["protein"])[tss].mean(0) if isinstance(model, CDT3) else None
        elif baseline == "ntc_mean":
            x = screen.var["ntc_mean_expr"].to_numpy(np.float64)
            prot = ntc_mean_protein(screen) if isinstance(model, CDT3) else None
        else:
            raise ValueError(f"baseline must be 'tss_mean', 'ntc_mean' or a vector, got {baseline!r}")
    else:
        x, prot = np.asarray(baseline, np.float64), None
        if x.shape != (len(genes),):
            raise ValueError(f"baseline vector has shape {x.shape}, expected ({len(genes)},)")
    prot = prot if protein_baseline is None else np.asarray(protein_baseline, np.float64)
    x_kd = x.copy()
    x_kd[np.flatnonzero(genes == gene)[0]] *= fraction
    with open_store(dna_store) as store, eval_mode(model), torch.no_grad():
        check_model_fits(model, screen, store)
        # one forward pass each: rows of one batch can differ in the last bit, and an unchanged input must give 0
        pred = np.stack(
            [
                forward(model, explicit_batch(model, store, locus, v, prot)).rna[0].double().cpu().numpy()
                for v in (x, x_kd)
            ]
        )  # [2, G]
    index = pd.Index(genes, name="gene")
    base, kd = pd.Series(pred[0], index=index, name="baseline"), pd.Series(pred[1], index=index, name="knockdown")
    delta = kd - base
    varies = delta.std() > 0 and observed.std() > 0  # r is undefined (NaN) when nothing changed
    return Knockdown(
        gene=gene,
        locus=locus,
        fraction=fraction,
        baseline=base,
        knockdown=kd,
        observed=observed,
        r=float(scipy.stats.pearsonr(delta, observed).statistic) if varies else np.nan,
        rho=float(scipy.stats.spearmanr(delta, observed).statistic) if varies else np.nan,
    )

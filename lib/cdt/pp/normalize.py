"""RNA normalisation into the model's input and target (CDT-II eq. 1).

Library size = total counts over the FULL gene matrix (the authors kept `gene_indices_in_full`, i.e.
CPM first, subset after), so the gene subset does not change a cell's CPM:

    CPM[c, g]        = counts[c, g] / sum_all_genes counts[c, :] * scale     (scale 1e6 by default)
    input  X[c, g]   = ln(CPM[c, g] + 1)
    ntc_mean_cpm[g]  = mean over NTC cells of CPM[c, g]
    ntc_mean_expr[g] = mean over NTC cells of ln(CPM[c, g] + 1)
    target[c, g]     = log2((CPM[c, g] + 1) / (ntc_mean_cpm[g] + 1))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from cdt.data.errors import ContractError

CHUNK = 4096  # cells per block: float64 work arrays stay small even for ~10k genes


@dataclass(frozen=True)
class Normalized:
    expr: np.ndarray  # [cells, genes] float32 ln(CPM + 1)
    log2fc: np.ndarray  # [cells, genes] float32
    ntc_mean_cpm: np.ndarray  # [genes] float64
    ntc_mean_expr: np.ndarray  # [genes] float64


def library_size(counts, source: str = "<counts>") -> np.ndarray:
    """Total counts per cell [cells] (float64); zero-count cells are an error (CPM undefined)."""
    total = np.asarray(counts.sum(axis=1), dtype=np.float64).ravel()
    zero = np.flatnonzero(total <= 0)
    if len(zero):
        raise ContractError(
            source,
            "X",
            f"{len(zero)} cells have zero total counts (CPM undefined), "
            f"e.g. row {zero[:3].tolist()}; drop empty droplets first",
        )
    return total


def cpm(
    counts, columns: np.ndarray | None = None, lib_size: np.ndarray | None = None, scale: float = 1e6
) -> np.ndarray:
    """CPM [cells, len(columns)] float64 with the library size over all columns of `counts` (per `scale` counts)."""
    lib = library_size(counts) if lib_size is None else lib_size
    sub = counts if columns is None else counts[:, columns]
    sub = sub.toarray() if sp.issparse(sub) else np.asarray(sub)
    return sub.astype(np.float64) / lib[:, None] * scale


def normalize(
    counts, is_ntc: np.ndarray, columns: np.ndarray | None = None, source: str = "<counts>", scale: float = 1e6
) -> Normalized:
    """Input and target of the screen for the cells of `counts` and the gene `columns` (formulas above).

    counts: [cells, all genes] raw counts (scipy sparse or dense); is_ntc: [cells] bool;
    columns: indices of the model genes in the full matrix (None = all).
    """
    counts = sp.csr_matrix(counts) if sp.issparse(counts) else np.asarray(counts)
    is_ntc = np.asarray(is_ntc, dtype=bool)
    if is_ntc.shape != (counts.shape[0],):
        raise ValueError(f"is_ntc has shape {is_ntc.shape}, expected ({counts.shape[0]},)")
    if not is_ntc.any():
        raise ContractError(source, "NTC cells", "no NTC cells: the log2FC baseline (NTC mean CPM) is undefined")
    lib = library_size(counts, source)
    ntc_cpm = cpm(counts[is_ntc], columns, lib[is_ntc], scale)  # [n_ntc, genes]
    ntc_mean_cpm = ntc_cpm.mean(axis=0)
    ntc_mean_expr = np.log(ntc_cpm + 1.0).mean(axis=0)

    n_genes = ntc_cpm.shape[1]
    expr = np.empty((counts.shape[0], n_genes), dtype=np.float32)
    log2fc = np.empty_like(expr)
    for lo in range(0, counts.shape[0], CHUNK):
        block = cpm(counts[lo : lo + CHUNK], columns, lib[lo : lo + CHUNK], scale)
        expr[lo : lo + CHUNK] = np.log(block + 1.0)
        log2fc[lo : lo + CHUNK] = np.log2((block + 1.0) / (ntc_mean_cpm + 1.0))
    return Normalized(expr, log2fc, ntc_mean_cpm, ntc_mean_expr)

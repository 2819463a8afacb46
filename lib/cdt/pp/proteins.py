"""Surface proteins (CITE-seq ADT counts) for CDT-III (paper/METHODS.md, 'Surface proteins').

Two normalisations:
- ``dsb``: the published DSB method (Mulè et al. 2022) through `muon.prot.pp.dsb` — background from
  empty droplets, per-cell technical component from the isotype controls (when given) — the method
  the CDT-III paper cites.
- ``isotype_z``: what the authors' notebook actually ran: L = ln(count + 10) and a per-cell
  z-score against the isotype features, (L - mean_iso) / max(SD_iso (ddof 0), 0.01). No empty droplets.

Isotype columns are dropped from the output. Protein target = value - NTC mean (NTC = the screen's own
NTC cells, the same cells as the RNA baseline; the authors used a looser guide > 0 rule).
Expressed proteins: mean > 0.5 and SD (ddof 0) > 0.1 over the perturbed cells (the authors' notebook).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from cdt.data.errors import ContractError

METHODS = ("dsb", "isotype_z")
ISOTYPE_PREFIX = "ADT-CTL"  # the authors' isotype naming


@dataclass(frozen=True)
class Proteins:
    values: np.ndarray  # [cells, P] float32 normalised ADT (input)
    target: np.ndarray  # [cells, P] float32 value - NTC mean
    names: list[str]  # [P]
    expressed: np.ndarray  # [P] bool
    ntc_mean: np.ndarray  # [P]


def read_adt(path: str | os.PathLike) -> ad.AnnData:
    """ADT counts as AnnData (.h5ad, or a 10x .h5 whose 'Antibody Capture' features are kept)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: ADT count file does not exist")
    if path.suffix == ".h5":
        import scanpy as sc

        adata = sc.read_10x_h5(path, gex_only=False)
        if "feature_types" in adata.var:
            adata = adata[:, adata.var["feature_types"] == "Antibody Capture"].copy()
    else:
        adata = ad.read_h5ad(path)
    if not adata.var_names.is_unique:
        raise ContractError(str(path), "var_names", "protein names are not unique")
    x = adata.X.data if sp.issparse(adata.X) else np.asarray(adata.X)
    if (x < 0).any() or not np.all(np.isfinite(x)):
        raise ContractError(str(path), "X", "ADT counts must be finite and non-negative")
    return adata


def isotype_mask(adt: ad.AnnData) -> np.ndarray:
    """Isotype-control columns: var['isotype'] when present, else names starting with 'ADT-CTL'."""
    if "isotype" in adt.var:
        return adt.var["isotype"].to_numpy(dtype=bool)
    return adt.var_names.str.startswith(ISOTYPE_PREFIX).to_numpy()


def isotype_zscore(
    counts: np.ndarray, iso: np.ndarray, pseudocount: float = 10.0, sd_floor: float = 0.01
) -> np.ndarray:
    """The authors' per-cell isotype z-score. counts: [cells, F]; iso: [F] bool -> [cells, F]."""
    if not iso.any():
        raise ValueError("isotype_z normalisation needs at least one isotype-control feature")
    logc = np.log(np.asarray(counts, dtype=np.float64) + pseudocount)
    mu = logc[:, iso].mean(axis=1, keepdims=True)
    sd = np.maximum(logc[:, iso].std(axis=1, ddof=0, keepdims=True), sd_floor)
    return (logc - mu) / sd


def dsb_normalize(
    adt: ad.AnnData, is_cell: np.ndarray, iso: np.ndarray, seed: int = 0, source: str = "<ADT counts>"
) -> np.ndarray:
    """DSB via muon for the cell droplets: empty droplets = the other rows of `adt`. Returns [n_cells, F]."""
    import muon as mu

    is_cell = np.asarray(is_cell, dtype=bool)
    if is_cell.all():
        raise ContractError(
            source,
            "obs['is_cell']",
            "DSB needs empty droplets (rows with is_cell False); none given — use the 'isotype_z' method instead",
        )
    cells = adt[is_cell].copy()
    empty = adt[~is_cell].copy()
    isotypes = adt.var_names[iso].tolist() or None
    with warnings.catch_warnings():  # muon warns that all non-cells are treated as empty: that is intended
        warnings.simplefilter("ignore", UserWarning)
        mu.prot.pp.dsb(cells, empty, isotype_controls=isotypes, random_state=seed)
    return np.asarray(cells.X, dtype=np.float64)


def expressed_proteins(values: np.ndarray, min_mean: float = 0.5, min_sd: float = 0.1) -> np.ndarray:
    """Mean > min_mean and population SD > min_sd per protein (values: [cells, P]) -> [P] bool."""
    return (values.mean(axis=0) > min_mean) & (values.std(axis=0, ddof=0) > min_sd)


def prepare_proteins(
    adt: ad.AnnData,
    barcodes: pd.Index | list[str],
    is_ntc: np.ndarray,
    method: str = "dsb",
    seed: int = 0,
    source: str = "<ADT counts>",
) -> Proteins:
    """Normalise ADT counts and align them to the screen's cells (`barcodes`, NTC mask `is_ntc`).

    Cells are the rows with obs['is_cell'] True (all rows when the column is absent); every screen
    barcode must be one of them.
    """
    if method not in METHODS:
        raise ValueError(f"unknown protein method {method!r}; choose one of {METHODS}")
    is_cell = adt.obs["is_cell"].to_numpy(dtype=bool) if "is_cell" in adt.obs else np.ones(adt.n_obs, bool)
    iso = isotype_mask(adt)
    if method == "dsb":
        values = dsb_normalize(adt, is_cell, iso, seed, source)
    else:
        counts = adt.X[is_cell]
        values = isotype_zscore(counts.toarray() if sp.issparse(counts) else counts, iso)
    cell_names = adt.obs_names[is_cell]
    barcodes = pd.Index([str(b) for b in barcodes])
    missing = barcodes.difference(cell_names)
    if len(missing):
        raise ContractError(
            source, "obs_names", f"{len(missing)} screen cells have no ADT cell barcode, e.g. {missing[:3].tolist()}"
        )
    rows = cell_names.get_indexer(barcodes)
    values = values[rows][:, ~iso]  # [cells, P]
    is_ntc = np.asarray(is_ntc, dtype=bool)
    if not is_ntc.any():
        raise ContractError(source, "NTC cells", "no NTC cells for the protein baseline")
    ntc_mean = values[is_ntc].mean(axis=0)
    return Proteins(
        values=values.astype(np.float32),
        target=(values - ntc_mean).astype(np.float32),
        names=adt.var_names[~iso].tolist(),
        expressed=expressed_proteins(values[~is_ntc]),
        ntc_mean=ntc_mean,
    )

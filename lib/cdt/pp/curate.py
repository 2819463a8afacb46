"""Gene sets for the model: the curated set and the "full" ablation set (CDT-II Methods; paper/METHODS.md, 'Gene sets').

- curated: genes detected in this screen AND in a second, independent screen (detection rate =
  fraction of cells with count > 0, each >= ``min_detection``), without mitochondrial (MT-),
  ribosomal-protein (RPL/RPS/MRPL/MRPS) and haemoglobin (HBA/HBB/HBD/HBE/HBG/HBM/HBQ/HBZ) genes, plus
  forced genes (GFI1B in the paper, appended at the end when not already in); order = the count
  matrix's gene order (10x: genomic). The paper states the exclusions only for the full set; we apply
  them to both so that the ablation compares gene sets, not technical high-count genes (``exclude=False``
  keeps them).
- full: the curated genes first (so their columns line up in both screens), then every other gene
  detected in >= 10% of this screen's cells, with the same exclusions, in matrix order.

Detection rates of this screen are computed over the cells that enter the screen (kept cells).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from cdt.data.errors import ContractError

FORCED_GENES: tuple[str, ...] = ("GFI1B",)
# Ribosomal-protein symbols (RPL10A, RPS4X, RPLP0, RPSA, MRPS18B, RPL36AL ...) but not kinases such as RPS6KA1.
EXCLUDED_GENE_PATTERN = re.compile(r"^(MT-.*|M?RP[LS](\d+(A|B|C|AL|L\d*|X|Y\d*)?|P\d|A)|HB[ABDEGMQZ]\d*)$")


def detection_rate(counts, genes: list[str] | pd.Index) -> pd.Series:
    """Fraction of cells (rows) with a count > 0, per gene (column)."""
    nonzero = (counts > 0).sum(axis=0) if sp.issparse(counts) else (np.asarray(counts) > 0).sum(axis=0)
    return pd.Series(
        np.asarray(nonzero).ravel() / max(counts.shape[0], 1), index=pd.Index(genes, name="gene"), name="detection_rate"
    )


def read_detection_table(path: str | os.PathLike) -> pd.Series:
    """A second screen's detection table (gene, detection_rate) as a gene -> rate Series."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: detection table does not exist")
    table = pd.read_csv(path)
    for col in ("gene", "detection_rate"):
        if col not in table.columns:
            raise ContractError(str(path), col, "missing column; expected gene, detection_rate")
    rate = pd.to_numeric(table["detection_rate"], errors="coerce")
    if rate.isna().any() or ((rate < 0) | (rate > 1)).any():
        raise ContractError(str(path), "detection_rate", "values must be fractions in [0, 1]")
    genes = table["gene"].astype(str)
    if genes.duplicated().any():
        raise ContractError(
            str(path), "gene", f"duplicate genes, e.g. {genes[genes.duplicated()].unique()[:3].tolist()}"
        )
    return pd.Series(rate.to_numpy(float), index=pd.Index(genes, name="gene"), name="detection_rate")


def is_excluded_gene(genes: list[str] | pd.Index) -> np.ndarray:
    """Mitochondrial, ribosomal-protein and haemoglobin genes (removed from the full set)."""
    return np.array([EXCLUDED_GENE_PATTERN.match(str(g)) is not None for g in genes], dtype=bool)


def curated_genes(
    rate: pd.Series,
    other_rate: pd.Series | None,
    min_detection: float = 0.1,
    forced: tuple[str, ...] | list[str] = FORCED_GENES,
    exclude: bool = True,
) -> list[str]:
    """Detected here and (when given) in the second screen, minus excluded genes, then the forced genes."""
    keep = rate >= min_detection
    if other_rate is not None:
        keep &= other_rate.reindex(rate.index).fillna(0.0) >= min_detection
    if exclude:
        keep &= ~is_excluded_gene(rate.index)
    genes = rate.index[keep].tolist()
    absent = [g for g in forced if g not in rate.index]
    if absent:
        raise ContractError("<counts>", "var_names", f"forced genes {absent} are not in the count matrix")
    return genes + [g for g in forced if g not in set(genes)]


def full_genes(rate: pd.Series, min_detection: float = 0.1, first: list[str] | tuple[str, ...] = ()) -> list[str]:
    """`first` (the curated genes), then the other genes detected in >= `min_detection` of cells, without
    MT-/ribosomal/haemoglobin genes, in matrix order."""
    keep = (rate >= min_detection).to_numpy() & ~is_excluded_gene(rate.index) & ~rate.index.isin(list(first))
    return list(first) + rate.index[keep].tolist()

"""Raw screen -> processed screen contract (`cdt prepare`).

Steps: read counts and guide UMIs -> assign guides (guides.py) -> detection rates over the kept cells
-> curated and full gene sets (curate.py) -> CPM on the full matrix, subset, ln(CPM+1) input and
log2FC target (normalize.py) -> optional proteins (proteins.py) -> gene-level split -> write
``screen_curated.h5ad``, ``screen_full.h5ad`` and ``qc.csv``.

Split: cells of the held-out genes -> ``test``; of the named validation genes -> ``val``; all other
TSS and all SNP cells -> ``train``; NTC cells -> ``none``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from cdt.config import HELD_OUT_GENES
from cdt.data.errors import ContractError
from cdt.data.screen import make_screen, validate_screen, write_screen
from cdt.pp.curate import FORCED_GENES, curated_genes, detection_rate, full_genes, read_detection_table
from cdt.pp.guides import assign_guides, qc_table, read_guide_table, read_snp_assignments
from cdt.pp.normalize import normalize
from cdt.pp.proteins import Proteins, prepare_proteins, read_adt

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    curated: Path
    full: Path
    qc: pd.DataFrame
    qc_path: Path


def read_counts(path: str | os.PathLike) -> ad.AnnData:
    """Raw RNA counts: 10x ``.h5``, a 10x mtx directory, or ``.h5ad``; checked and as CSR ints."""
    import scanpy as sc

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: count matrix does not exist")
    if path.is_dir():
        adata = sc.read_10x_mtx(path, var_names="gene_symbols", make_unique=False)
    elif path.suffix == ".h5":
        adata = sc.read_10x_h5(path)
    else:
        try:
            adata = ad.read_h5ad(path)
        except Exception as exc:  # h5py raises several types on foreign or truncated files
            raise ContractError(str(path), "file", f"cannot be read as 10x h5/mtx or h5ad ({exc})") from exc
    return check_counts(adata, str(path))


def check_counts(adata: ad.AnnData, source: str = "<counts>") -> ad.AnnData:
    """Unique genes and barcodes, non-negative integer counts; X converted to CSR."""
    if not adata.var_names.is_unique:
        dup = adata.var_names[adata.var_names.duplicated()].unique()
        raise ContractError(
            source,
            "var_names",
            f"{len(dup)} duplicate gene names, e.g. {dup[:5].tolist()}; make "
            "them unique (AnnData.var_names_make_unique) or drop them first",
        )
    if not adata.obs_names.is_unique:
        dup = adata.obs_names[adata.obs_names.duplicated()].unique()
        raise ContractError(source, "obs_names", f"{len(dup)} duplicate barcodes, e.g. {dup[:3].tolist()}")
    x = sp.csr_matrix(adata.X)
    bad = np.flatnonzero((x.data < 0) | (x.data != np.rint(x.data))) if x.nnz else []
    if len(bad):
        cell = int(np.searchsorted(x.indptr, bad[0], side="right") - 1)
        raise ContractError(
            source,
            "X",
            f"counts must be non-negative integers (raw UMI counts, not normalised); {len(bad)} values are not, "
            f"first {x.data[bad[0]]:.10g} (cell {adata.obs_names[cell]}, gene {adata.var_names[x.indices[bad[0]]]})",
        )
    adata.X = x
    return adata


def gene_split(
    perturbation: pd.Series,
    kind: pd.Series,
    held_out: list[str] | tuple[str, ...],
    val_genes: list[str] | tuple[str, ...] = (),
) -> np.ndarray:
    """Split per cell from its target gene (module docstring); SNP cells always train."""
    overlap = sorted(set(held_out) & set(val_genes))
    if overlap:
        raise ValueError(f"genes {overlap} are both held out (test) and validation genes")
    tss = (kind == "TSS").to_numpy()
    split = np.where(kind == "NTC", "none", "train").astype(object)
    split[tss & perturbation.isin(list(held_out)).to_numpy()] = "test"
    split[tss & perturbation.isin(list(val_genes)).to_numpy()] = "val"
    return split.astype(str)


def build_screen(
    counts: ad.AnnData,
    cells: pd.DataFrame,
    genes: list[str],
    held_out: list[str] | tuple[str, ...],
    val_genes: list[str] | tuple[str, ...] = (),
    proteins: Proteins | None = None,
    source: str = "prepare",
    cpm_scale: float = 1e6,
) -> ad.AnnData:
    """Screen AnnData for the kept `cells` (rows of `counts`, with perturbation/kind/locus) and `genes`."""
    rows = counts.obs_names.get_indexer(cells.index)
    columns = counts.var_names.get_indexer(genes)
    if (columns < 0).any():
        raise ContractError(source, "var_names", f"genes not in the count matrix: {np.asarray(genes)[columns < 0][:5]}")
    is_ntc = (cells["kind"] == "NTC").to_numpy()
    norm = normalize(counts.X[rows], is_ntc, columns, source, cpm_scale)
    obs = cells[["perturbation", "kind", "locus"]].copy()
    obs["split"] = gene_split(obs["perturbation"], obs["kind"], held_out, val_genes)
    return make_screen(
        norm.expr,
        norm.log2fc,
        obs,
        genes,
        norm.ntc_mean_cpm,
        norm.ntc_mean_expr,
        source=source,
        held_out=list(held_out),
        val_genes=list(val_genes),
        protein=None if proteins is None else proteins.values,
        protein_target=None if proteins is None else proteins.target,
        protein_names=None if proteins is None else proteins.names,
        protein_expressed=None if proteins is None else proteins.expressed,
    )


def prepare(
    counts: str | os.PathLike | ad.AnnData,
    guides: str | os.PathLike | pd.DataFrame,
    out: str | os.PathLike,
    snp_assignments: str | os.PathLike | None = None,
    second_screen: str | os.PathLike | None = None,
    adt: str | os.PathLike | None = None,
    held_out: list[str] | tuple[str, ...] = HELD_OUT_GENES,
    val_genes: list[str] | tuple[str, ...] = (),
    umi_threshold: int = 50,
    competing_fraction: float = 0.2,
    min_detection: float = 0.1,
    full_min_detection: float = 0.1,
    forced_genes: list[str] | tuple[str, ...] = FORCED_GENES,
    protein_method: str = "dsb",
    seed: int = 0,
    cpm_scale: float = 1e6,
) -> Prepared:
    """Raw counts + guide UMIs (+ SNP assignments, second screen, ADT) -> the two screens and a QC table."""
    src = str(counts) if not isinstance(counts, ad.AnnData) else "<counts>"
    counts = read_counts(counts) if not isinstance(counts, ad.AnnData) else check_counts(counts)
    guide_src = str(guides) if not isinstance(guides, pd.DataFrame) else "<guide table>"
    guides = read_guide_table(guides) if not isinstance(guides, pd.DataFrame) else guides
    given = read_snp_assignments(snp_assignments) if snp_assignments is not None else None

    assignment = assign_guides(guides, counts.obs_names, umi_threshold, competing_fraction, given, source=guide_src)
    qc = qc_table(assignment)
    log.info("guide assignment:\n%s", qc.to_string(index=False))
    cells = assignment[assignment["kind"] != ""]
    if not (cells["kind"] == "NTC").any():
        raise ContractError(
            guide_src,
            "target",
            "no NTC cells after guide assignment: the log2FC baseline is "
            f"undefined (NTC target label 'NTC'; umi_threshold {umi_threshold})",
        )
    targets = set(cells.loc[cells["kind"] == "TSS", "perturbation"])
    if not targets & set(held_out):
        raise ContractError(
            guide_src,
            "target",
            f"none of the held-out genes {list(held_out)} has assigned cells; assigned targets: {sorted(targets)[:10]}",
        )
    without = sorted(set(held_out) - targets) + sorted(set(val_genes) - targets)
    if without:
        log.warning("held-out / validation genes without assigned cells: %s", without)

    kept = counts[cells.index]
    rate = detection_rate(kept.X, kept.var_names)
    other = read_detection_table(second_screen) if second_screen is not None else None
    proteins = None
    if adt is not None:
        proteins = prepare_proteins(
            read_adt(adt), cells.index, (cells["kind"] == "NTC").to_numpy(), protein_method, seed, str(adt)
        )

    curated = curated_genes(rate, other, min_detection, forced_genes)
    screens = {}
    for name, genes in (("curated", curated), ("full", full_genes(rate, full_min_detection, first=curated))):
        # provenance names the counts file, not where it sat: the same inputs give the same bytes in any directory
        screen = build_screen(
            counts, cells, genes, held_out, val_genes, proteins, source=Path(src).name, cpm_scale=cpm_scale
        )
        screen.uns["cdt"].update(
            {
                "gene_set": name,
                "cpm_scale": cpm_scale,
                "umi_threshold": umi_threshold,
                "competing_fraction": competing_fraction,
            }
        )
        screens[name] = validate_screen(screen, f"{name} screen from {src}")  # both valid before either is written
    out = Path(out)
    paths = {name: write_screen(screen, out / f"screen_{name}.h5ad") for name, screen in screens.items()}
    for name, screen in screens.items():
        log.info("%s screen: %d cells x %d genes -> %s", name, *screen.shape, paths[name])
    qc_path = out / "qc.csv"
    qc.to_csv(qc_path, index=False)
    return Prepared(curated=paths["curated"], full=paths["full"], qc=qc, qc_path=qc_path)

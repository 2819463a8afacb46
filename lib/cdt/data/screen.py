"""The processed screen: one AnnData that every model, notebook and statistic reads.

Contract (all arrays dense float32, cells x genes in the same gene order):

- ``X``                       ln(CPM + 1) of the model genes — the RNA input.
- ``layers["log2fc"]``        log2((CPM + 1) / (NTC mean CPM + 1)) — the target (CDT-II eq. 1).
- ``obs["perturbation"]``     target gene symbol (TSS), locus id (SNP) or ``"NTC"``.
- ``obs["kind"]``             ``TSS`` | ``SNP`` | ``NTC``.
- ``obs["locus"]``            key of the perturbed locus in the DNA store (empty for NTC cells).
- ``obs["split"]``            ``train`` | ``val`` | ``test`` | ``none``. ``test`` = the held-out genes
                              (reported); ``val`` = a separate validation gene set (selection under
                              the ``clean`` protocol); ``none`` = not a training sample (NTC).
- ``var`` index               unique gene symbols; ``var["ntc_mean_cpm"]`` and ``var["ntc_mean_expr"]``.
- ``uns["cdt"]``              provenance: ``source``, ``held_out`` genes, optional ``val_genes``.
- Proteins (CDT-III, optional): ``obsm["protein"]`` [cells, P] normalised ADT (DSB) values,
  ``obsm["protein_target"]`` = value minus the NTC mean, ``uns["protein_names"]`` [P] and
  ``uns["protein_expressed"]`` [P] bool (mean > 0.5 and SD > 0.1).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import anndata as ad
import numpy as np
import pandas as pd

from cdt.data.errors import ContractError
from cdt.data.staging import check_complete

if TYPE_CHECKING:
    from cdt.data.dnastore import DNAStore

KINDS = ("TSS", "SNP", "NTC")
SPLITS = ("train", "val", "test", "none")
REQUIRED_OBS = ("perturbation", "kind", "locus", "split")
REQUIRED_VAR = ("ntc_mean_cpm", "ntc_mean_expr")
TARGET_LAYER = "log2fc"


def make_screen(
    expr: np.ndarray,
    log2fc: np.ndarray,
    obs: pd.DataFrame,
    genes: list[str] | pd.Index,
    ntc_mean_cpm: np.ndarray,
    ntc_mean_expr: np.ndarray,
    source: str,
    held_out: list[str] | tuple[str, ...],
    val_genes: list[str] | tuple[str, ...] = (),
    protein: np.ndarray | None = None,
    protein_target: np.ndarray | None = None,
    protein_names: list[str] | None = None,
    protein_expressed: np.ndarray | None = None,
) -> ad.AnnData:
    """Assemble a screen AnnData in the contract's layout (validate it afterwards)."""
    obs = obs.copy()
    obs.index = obs.index.astype(str)
    for col in ("perturbation", "locus", "split"):
        if col in obs:
            obs[col] = obs[col].astype(str)
    if "kind" in obs:
        obs["kind"] = pd.Categorical(obs["kind"].astype(str), categories=list(KINDS))
    var = pd.DataFrame(
        {
            "ntc_mean_cpm": np.asarray(ntc_mean_cpm, dtype=np.float32),
            "ntc_mean_expr": np.asarray(ntc_mean_expr, dtype=np.float32),
        },
        index=pd.Index([str(g) for g in genes], name="gene"),
    )
    adata = ad.AnnData(
        X=np.asarray(expr, dtype=np.float32),
        obs=obs,
        var=var,
        layers={TARGET_LAYER: np.asarray(log2fc, dtype=np.float32)},
    )
    adata.uns["cdt"] = {"source": source, "held_out": list(held_out), "val_genes": list(val_genes)}
    if protein is not None:
        adata.obsm["protein"] = np.asarray(protein, dtype=np.float32)
        adata.obsm["protein_target"] = np.asarray(protein_target, dtype=np.float32)
        adata.uns["protein_names"] = np.asarray(protein_names, dtype=str)
        adata.uns["protein_expressed"] = np.asarray(protein_expressed, dtype=bool)
    return adata


def validate_screen(
    adata: ad.AnnData | str | os.PathLike,
    source: str | os.PathLike = "<in memory>",
    dna_store: DNAStore | None = None,
    require_proteins: bool = False,
) -> ad.AnnData:
    """Check the screen contract; raise `ContractError` naming `source` and the field at fault.

    Checks required fields, shapes, finite values, unique gene names, known kinds and splits,
    non-empty ``train`` and ``test`` splits, and (when a store is given) that every perturbed
    cell's locus is in the DNA store. Given a path, the file is read first (and named in errors).
    """
    if isinstance(adata, (str, os.PathLike)):
        return validate_screen(_read_h5ad(Path(adata)), adata, dna_store, require_proteins)
    if not isinstance(adata, ad.AnnData):
        raise TypeError(f"validate_screen takes an AnnData or a path, not {type(adata).__name__}")
    src = str(source)

    def fail(field: str, problem: str) -> None:
        raise ContractError(src, field, problem)

    n_cells, n_genes = adata.shape
    if n_cells == 0 or n_genes == 0:
        fail("X", f"empty screen (shape {adata.shape})")
    for col in REQUIRED_OBS:
        if col not in adata.obs:
            fail(f"obs[{col!r}]", "missing column")
    for col in REQUIRED_VAR:
        if col not in adata.var:
            fail(f"var[{col!r}]", "missing column")
    if TARGET_LAYER not in adata.layers:
        fail(f"layers[{TARGET_LAYER!r}]", "missing target layer")
    if not adata.var_names.is_unique:
        dup = adata.var_names[adata.var_names.duplicated()].unique()[:5].tolist()
        fail("var_names", f"gene names are not unique, e.g. {dup}")
    for name, arr in (("X", adata.X), (f"layers[{TARGET_LAYER!r}]", adata.layers[TARGET_LAYER])):
        arr = dense(arr)
        if arr.shape != (n_cells, n_genes):
            fail(name, f"shape {arr.shape} != {(n_cells, n_genes)}")
        _check_finite(arr, name, fail)
    for col in REQUIRED_VAR:
        _check_finite(adata.var[col].to_numpy(dtype=float), f"var[{col!r}]", fail)

    kinds = adata.obs["kind"].astype(str)
    bad = sorted(set(kinds) - set(KINDS))
    if bad:
        fail("obs['kind']", f"unknown kinds {bad}; allowed {list(KINDS)}")
    splits = adata.obs["split"].astype(str)
    bad = sorted(set(splits) - set(SPLITS))
    if bad:
        fail("obs['split']", f"unknown splits {bad}; allowed {list(SPLITS)}")
    for split in ("train", "test"):
        if not (splits == split).any():
            fail("obs['split']", f"no cells in the {split!r} split")
    perturbed = kinds != "NTC"
    if (splits[~perturbed] != "none").any():
        fail("obs['split']", "NTC cells must have split 'none'")
    loci = adata.obs["locus"].astype(str)
    if (loci[perturbed].isin(["", "nan", "None"])).any():
        fail("obs['locus']", "perturbed cells without a locus")

    if dna_store is not None:
        missing = sorted(set(loci[perturbed]) - set(dna_store.loci_ids()))
        if missing:
            fail("obs['locus']", f"{len(missing)} loci not in DNA store {dna_store.path}: {missing[:5]}")

    has_prot = "protein" in adata.obsm
    if require_proteins and not has_prot:
        fail("obsm['protein']", "missing (required for CDT-III)")
    if has_prot:
        for key in ("protein", "protein_target"):
            if key not in adata.obsm:
                fail(f"obsm[{key!r}]", "missing")
            arr = np.asarray(adata.obsm[key])
            _check_finite(arr, f"obsm[{key!r}]", fail)
        n_prot = np.asarray(adata.obsm["protein"]).shape[1]
        for key in ("protein_names", "protein_expressed"):
            if key not in adata.uns:
                fail(f"uns[{key!r}]", "missing")
            if len(adata.uns[key]) != n_prot:
                fail(f"uns[{key!r}]", f"length {len(adata.uns[key])} != {n_prot} proteins")
        if np.asarray(adata.obsm["protein_target"]).shape[1] != n_prot:
            fail("obsm['protein_target']", "column count differs from obsm['protein']")
    return adata


def read_screen(path: str | os.PathLike, dna_store: DNAStore | None = None) -> ad.AnnData:
    """Read an ``.h5ad`` screen and validate it; errors name the file."""
    path = Path(path)
    return validate_screen(_read_h5ad(path), path, dna_store=dna_store)


def _read_h5ad(path: Path) -> ad.AnnData:
    if not path.exists():
        raise FileNotFoundError(f"{path}: screen file does not exist")
    check_complete(path)
    try:
        return ad.read_h5ad(path)
    except Exception as exc:  # h5py/anndata raise many types for truncated or foreign files
        raise ContractError(str(path), "file", f"cannot be read as h5ad ({_first_line(exc)})") from exc


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def write_screen(adata: ad.AnnData, path: str | os.PathLike) -> Path:
    """Validate, then write atomically (temp file + rename) so no half-written screen is left."""
    path = Path(path)
    validate_screen(adata, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".h5ad.tmp")
    os.close(fd)
    try:
        adata.write_h5ad(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def split_mask(adata: ad.AnnData, split: str) -> np.ndarray:
    """Boolean mask of cells in `split`."""
    return (adata.obs["split"].astype(str) == split).to_numpy()


def dense(x, dtype: np.typing.DTypeLike = None) -> np.ndarray:
    """A C-contiguous ndarray of an AnnData matrix, sparse or dense (`dtype` None keeps the matrix's own)."""
    x = x.toarray() if hasattr(x, "toarray") else x
    return np.ascontiguousarray(x, dtype=dtype)


def _check_finite(arr: np.ndarray, name: str, fail) -> None:
    finite = np.isfinite(arr)
    if not finite.all():
        n_bad = int((~finite).sum())
        where = np.argwhere(~finite)[0].tolist()
        fail(name, f"{n_bad} non-finite values (first at index {where})")

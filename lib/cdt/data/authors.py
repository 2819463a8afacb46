"""Readers of the authors' published files into our screen contract and DNA store.

Layouts (data/README.md lists the files): CDT-II cell-level effects and Enformer files, the CDT-III
effects file with ADT proteins, CDT v1 ``gasperini_{train,val}.h5`` and its protein index map, aligned gene
embeddings and Enformer window index (``pilot_full_v2.h5``). Names in these files are byte
strings; targets are matched to embeddings by name (gene symbol, or ``"SNP-<id>"`` -> integer id),
never by row order. Every problem raises
`ContractError` naming the file and the dataset at fault, before anything is written.
"""

from __future__ import annotations

import os
import re
import zipfile
from contextlib import ExitStack
from pathlib import Path
from typing import NoReturn

import anndata as ad
import h5py
import numpy as np
import pandas as pd

from cdt.config import HELD_OUT_GENES
from cdt.data.dnastore import DNAStore, write_dna_store
from cdt.data.errors import ContractError
from cdt.data.screen import make_screen, validate_screen

ENFORMER_BIN_SIZE = 128  # bp per Enformer output bin (896 bins cover the central 114,688 bp)
VAL_FRACTION = 0.2  # validation genes of the clean protocol: a fifth of the training targets (4 of 22)
EXPRESSED_MEAN, EXPRESSED_SD = 0.5, 0.1  # CDT-III expressed-protein screen on DSB values
_SNP_NAME = re.compile(r"^SNP-(\d+)$")


class _H5:
    """An open HDF5 file whose reads check shape/values and fail with `ContractError(file, key, ...)`."""

    def __init__(self, path: str | os.PathLike, what: str):
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path}: {what} does not exist")
        try:
            self.h5 = h5py.File(self.path, "r")
        except OSError as exc:  # truncated, foreign or locked files
            raise ContractError(str(self.path), "file", f"not a readable HDF5 file ({exc})") from exc

    def fail(self, field: str, problem: str) -> NoReturn:
        raise ContractError(str(self.path), field, problem)

    def __contains__(self, key: str) -> bool:
        return key in self.h5

    def dataset(self, key: str) -> h5py.Dataset:
        if key not in self.h5:
            self.fail(key, "missing dataset")
        obj = self.h5[key]
        if not isinstance(obj, h5py.Dataset):
            self.fail(key, "is a group, expected a dataset")
        return obj

    def read(self, key: str, shape: tuple[int | None, ...] | None = None, index=()) -> np.ndarray:
        """Read `key` (or `key[index]`); `shape` entries of None are free."""
        ds = self.dataset(key)
        if shape is not None:
            ok = len(ds.shape) == len(shape) and all(s is None or s == d for s, d in zip(shape, ds.shape, strict=True))
            if not ok:
                want = ", ".join("*" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "")
                self.fail(key, f"shape {ds.shape}, expected ({want})")
        try:
            return ds[index]
        except (OSError, RuntimeError, ValueError) as exc:
            self.fail(key, f"unreadable data, file truncated or corrupt? ({exc})")

    def floats(self, key: str, shape: tuple[int | None, ...]) -> np.ndarray:
        """A finite float32 array."""
        arr = self.read(key, shape)
        if arr.dtype.kind not in "fiu":
            self.fail(key, f"expected numbers, got dtype {arr.dtype}")
        arr = arr.astype(np.float32)
        _require_finite(arr, key, self.fail)
        return arr

    def ints(self, key: str, shape: tuple[int | None, ...]) -> np.ndarray:
        arr = self.read(key, shape)
        if arr.dtype.kind not in "iu":
            self.fail(key, f"expected integers, got dtype {arr.dtype}")
        return arr.astype(np.int64)

    def names(self, key: str, length: int | None = None, unique: bool = False) -> list[str]:
        """A 1-D string dataset decoded to `str` (fixed or variable length, bytes or UTF-8)."""
        names = _decode(self.read(key, (length,)), key, self.fail)
        if unique and len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})[:5]
            self.fail(key, f"duplicate names {dup}")
        return names

    def attr(self, name: str):
        v = self.h5.attrs.get(name)
        return v.decode() if isinstance(v, bytes) else v

    def close(self) -> None:
        self.h5.close()


def _decode(arr: np.ndarray, key: str, fail) -> list[str]:
    if arr.dtype.kind == "U":
        return [str(v) for v in arr]
    if arr.dtype.kind not in "SO":
        fail(key, f"expected strings, got dtype {arr.dtype}")
    out = []
    for v in arr:
        if isinstance(v, bytes | np.bytes_):
            try:
                v = v.decode("utf-8")
            except UnicodeDecodeError as exc:
                fail(key, f"name {v!r} is not UTF-8 ({exc})")
        elif not isinstance(v, str):
            fail(key, f"expected strings, got {type(v).__name__} {v!r}")
        out.append(v)
    return out


def _require_finite(arr: np.ndarray, field: str, fail) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        fail(field, f"{int(bad.sum())} non-finite values (first at index {np.argwhere(bad)[0].tolist()})")


def _check_counts(f: _H5, key: str, idx: np.ndarray, n_groups: int) -> None:
    """The file's per-target cell counts must agree with its per-cell target index."""
    if key in f:
        counts = f.ints(key, (n_groups,))
        seen = np.bincount(idx, minlength=n_groups)
        if not np.array_equal(counts, seen):
            f.fail(key, f"counts {counts.tolist()[:5]}... disagree with the per-cell index {seen.tolist()[:5]}...")


class _Row:
    """One embedding row of an authors' Enformer file, read and checked only when the store is written."""

    def __init__(self, f: _H5, index: int, locus_id: str):
        self.f, self.index, self.locus_id = f, index, locus_id
        self.shape = f.h5["embeddings"].shape[1:]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        arr = self.f.read("embeddings", index=self.index)
        _require_finite(arr, f"embeddings[{self.index}] ({self.locus_id})", self.f.fail)
        return arr if dtype is None else arr.astype(dtype)


# ----------------------------------------------------------------------------------- CDT-II / CDT-III


def read_authors_screen(
    effects_h5: str | os.PathLike,
    enformer_h5: str | os.PathLike,
    snp_effects_h5: str | os.PathLike | None = None,
    snp_enformer_h5: str | os.PathLike | None = None,
    adt_h5: str | os.PathLike | None = None,
    held_out: tuple[str, ...] | list[str] = HELD_OUT_GENES,
    dna_store_out: str | os.PathLike | None = None,
    n_val_genes: int | None = None,
    seed: int = 0,
) -> tuple[ad.AnnData, DNAStore]:
    """Read the authors' cell-level effect files into a screen and their Enformer files into a DNA store.

    - ``effects_h5``: ``morris_celllevel_effects_2361.h5`` (TSS cells; or the CDT-III file, which
      copies its RNA datasets). Held-out targets -> split ``test``, other TSS targets -> ``train``.
    - ``enformer_h5``: ``morris_28genes_enformer.h5``; every locus keyed by gene symbol with the file's
      chrom/TSS/strand. All 28 rows are kept (CD55 has no cells but is used by the 28-gene analyses).
    - ``snp_effects_h5`` + ``snp_enformer_h5`` (CDT-II training only): SNP cells (split ``train``), and
      the embeddings of the loci they reference, keyed by the effects file's ``"SNP-<id>"`` names.
      The SNP Enformer file holds only ``embeddings`` and ``snp_ids``, so SNP loci get chrom ``"NA"``,
      center 0 and strand ``"."``.
    - ``adt_h5``: ``morris_celllevel_effects_with_adt.h5`` — proteins for the TSS cells (see `_read_adt`).

    Validation genes (split ``val``, for ``--protocol clean``): `n_val_genes` (default a fifth) of the TSS
    training targets, drawn with `seed` (`choose_val_genes`). The paper protocol trains on them; the clean
    protocol selects the checkpoint with them.

    The screen has no NTC cells: the authors' files summarise them as ``ntc_mean_*`` vectors.
    ``dna_store_out`` defaults to ``<enformer stem>.cdt_store.h5`` beside `enformer_h5`.
    """
    if (snp_effects_h5 is None) != (snp_enformer_h5 is None):
        raise ValueError("snp_effects_h5 and snp_enformer_h5 must be given together")
    enformer_h5 = Path(enformer_h5)
    store_path = Path(dna_store_out) if dna_store_out else enformer_h5.with_name(enformer_h5.stem + ".cdt_store.h5")
    with ExitStack() as stack:

        def open_(path, what):
            f = _H5(path, what)
            stack.callback(f.close)
            return f

        tss = _read_tss(open_(effects_h5, "TSS cell-level effects file"))
        genes = tss["genes"]
        parts = [tss]
        f_enf = open_(enformer_h5, "Enformer embedding file")
        rows, loci = _tss_embeddings(f_enf, tss["perturbation"])
        if snp_effects_h5 is not None:
            f_snp = open_(snp_effects_h5, "SNP cell-level effects file")
            snp = _read_snp(f_snp, genes)
            parts.append(snp)
            f_snp_enf = open_(snp_enformer_h5, "SNP Enformer embedding file")
            snp_rows, snp_loci = _snp_embeddings(f_snp_enf, snp["snp_ids"], f_enf.h5["embeddings"].shape[1:])
            clash = sorted(set(rows) & set(snp_rows))
            if clash:
                f_snp.fail("snp_loci_names", f"SNP locus names collide with TSS gene names: {clash[:5]}")
            rows |= snp_rows
            loci = pd.concat([loci, snp_loci], ignore_index=True)

        obs = pd.concat([p["obs"] for p in parts])
        obs["split"] = np.where((obs["kind"] == "TSS") & obs["perturbation"].isin(list(held_out)), "test", "train")
        val_genes = choose_val_genes(tss["perturbation"], held_out, n_val_genes, seed)
        obs.loc[(obs["kind"] == "TSS") & obs["perturbation"].isin(val_genes), "split"] = "val"
        prot = {}
        if adt_h5 is not None:
            prot = _read_adt(open_(adt_h5, "CDT-III effects file with ADT"), tss, n_cells=len(obs))
            obs["has_protein"] = prot.pop("has_protein")

        screen = make_screen(
            expr=np.concatenate([p["expr"] for p in parts]),
            log2fc=np.concatenate([p["log2fc"] for p in parts]),
            obs=obs,
            genes=genes,
            ntc_mean_cpm=tss["ntc_mean_cpm"],
            ntc_mean_expr=tss["ntc_mean_expr"],
            source="authors",
            held_out=list(held_out),
            **prot,
        )
        screen.uns["cdt"].update(
            {
                "files": {
                    k: str(v)
                    for k, v in (
                        ("effects", effects_h5),
                        ("enformer", enformer_h5),
                        ("snp_effects", snp_effects_h5),
                        ("snp_enformer", snp_enformer_h5),
                        ("adt", adt_h5),
                    )
                    if v is not None
                },
                "file_val_genes": tss["file_val_genes"],
                "val_genes": val_genes,
                "ntc_mean_expr_source": tss["ntc_mean_expr_source"],
            }
        )
        validate_screen(screen, effects_h5, require_proteins=adt_h5 is not None)  # before writing anything
        write_dna_store(
            store_path,
            rows,
            loci,
            model=f"enformer trunk (authors' file {enformer_h5.name})",
            bin_size=ENFORMER_BIN_SIZE,
        )
    store = DNAStore(store_path)
    validate_screen(screen, effects_h5, dna_store=store)
    return screen, store


def choose_val_genes(targets: list[str], held_out, n: int | None = None, seed: int = 0) -> list[str]:
    """`n` (default: a fifth, rounded) validation genes drawn with `seed` from the TSS targets not held out.

    The authors' files define no validation genes of their own (their ``val_genes`` are the held-out
    genes, which the paper protocol both selects on and reports); the clean protocol needs genes that
    select the checkpoint and are never reported, so they are taken from the training targets.
    """
    pool = sorted(set(targets) - set(held_out))
    n = round(VAL_FRACTION * len(pool)) if n is None else n
    if n > len(pool) - 1:
        raise ValueError(f"{n} validation genes leave fewer than one training target among {len(pool)}")
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(pool, n, replace=False).tolist()) if n else []


def _read_tss(f: _H5) -> dict:
    """TSS cells of a cell-level effects file."""
    genes = f.names("gene_names_cdt", unique=True)
    n_genes = len(genes)
    log2fc = f.floats("log2fc", (None, n_genes))
    n = log2fc.shape[0]
    expr = f.floats("cell_expr", (n, n_genes))
    targets = f.names("target_gene_names", unique=True)
    idx = f.ints("target_gene_idx", (n,))
    if n and (idx.min() < 0 or idx.max() >= len(targets)):
        f.fail("target_gene_idx", f"values outside [0, {len(targets)}) of target_gene_names")
    _check_counts(f, "n_cells_per_gene", idx, len(targets))
    if "ntc_mean_cpm" in f:
        ntc_cpm = f.floats("ntc_mean_cpm", (n_genes,))
    else:  # the CDT-III file copies only ntc_mean_expr: invert eq. 1, log2(ntc+1) = cell_expr/ln2 - log2fc
        ntc_cpm = np.exp2(np.median(expr / np.log(2) - log2fc, axis=0)) - 1
    if "ntc_mean_expr" in f:
        ntc_expr, expr_source = f.floats("ntc_mean_expr", (n_genes,)), "file"
    else:  # mean of ln(CPM+1) is not recoverable from the mean CPM; ln(mean+1) is its closest proxy
        ntc_expr, expr_source = np.log1p(ntc_cpm), "ln(ntc_mean_cpm + 1)"
    barcodes = f.names("cell_barcodes", n, unique=True) if "cell_barcodes" in f else None
    original = f.ints("original_cell_idx", (n,)) if "original_cell_idx" in f else None
    names = np.asarray(targets, dtype=object)[idx]
    obs = pd.DataFrame(
        {"perturbation": names, "kind": "TSS", "locus": names, "source_row": np.arange(n)},
        index=barcodes if barcodes is not None else [f"tss_{i}" for i in range(n)],
    )
    if "val_genes" in f:
        file_val = f.names("val_genes")
    else:
        file_val = [g for g in str(f.attr("val_genes_str") or "").split(",") if g]
    return {
        "genes": genes,
        "log2fc": log2fc,
        "expr": expr,
        "obs": obs,
        "perturbation": sorted(set(names)),
        "ntc_mean_cpm": ntc_cpm,
        "ntc_mean_expr": ntc_expr,
        "ntc_mean_expr_source": expr_source,
        "barcodes": barcodes,
        "original": original,
        "file_val_genes": file_val,
    }


def _read_snp(f: _H5, genes: list[str]) -> dict:
    """SNP cells. The file has no gene list of its own unless it carries ``gene_names_cdt``."""
    n_genes = len(genes)
    if "gene_names_cdt" in f and f.names("gene_names_cdt") != genes:
        f.fail("gene_names_cdt", "gene order differs from the TSS effects file")
    log2fc = f.floats("log2fc", (None, n_genes))
    n = log2fc.shape[0]
    expr = f.floats("cell_expr", (n, n_genes))
    loci = f.names("snp_loci_names", unique=True)
    idx = f.ints("perturbation_idx", (n,))
    if n and (idx.min() < 0 or idx.max() >= len(loci)):
        f.fail("perturbation_idx", f"values outside [0, {len(loci)}) of snp_loci_names")
    _check_counts(f, "n_cells_per_locus", idx, len(loci))
    names = np.asarray(loci, dtype=object)[idx]
    ids = {}
    for name in sorted(set(names)):  # "SNP-<id>" -> integer id, the key into the SNP Enformer file
        m = _SNP_NAME.match(name)
        if m is None:
            f.fail("snp_loci_names", f"{name!r} is not of the form 'SNP-<id>'")
        ids[name] = int(m.group(1))
    obs = pd.DataFrame(
        {"perturbation": names, "kind": "SNP", "locus": names, "source_row": np.arange(n)},
        index=[f"snp_{i}" for i in range(n)],
    )
    return {"log2fc": log2fc, "expr": expr, "obs": obs, "snp_ids": ids}


def _embedding_shape(f: _H5, n_rows: int | None) -> tuple[int, int]:
    ds = f.dataset("embeddings")
    if ds.ndim != 3 or (n_rows is not None and ds.shape[0] != n_rows):
        f.fail("embeddings", f"shape {ds.shape}, expected ({n_rows if n_rows is not None else '*'}, n_bins, dim)")
    if ds.dtype.kind != "f":
        f.fail("embeddings", f"expected floats, got dtype {ds.dtype}")
    n_bins = f.attr("n_bins")
    if n_bins is not None and int(n_bins) != ds.shape[1]:
        f.fail("embeddings", f"{ds.shape[1]} bins but attribute n_bins = {n_bins}")
    return ds.shape[1], ds.shape[2]


def _tss_embeddings(f: _H5, targets: list[str]) -> tuple[dict[str, _Row], pd.DataFrame]:
    """Rows of ``morris_28genes_enformer.h5`` keyed by gene name, with their coordinates."""
    names = f.names("gene_names", unique=True)
    n = len(names)
    _embedding_shape(f, n)
    chroms = f.names("chroms", n)
    centers = f.ints("tss_coords", (n,))
    strands = f.names("strands", n)
    missing = sorted(set(targets) - set(names))
    if missing:
        f.fail("gene_names", f"{len(missing)} perturbed targets have no embedding: {missing[:5]}")
    rows = {g: _Row(f, i, g) for i, g in enumerate(names)}
    loci = pd.DataFrame({"locus_id": names, "chrom": chroms, "center": centers, "strand": strands})
    return rows, loci


def _snp_embeddings(f: _H5, snp_ids: dict[str, int], shape: tuple[int, int]) -> tuple[dict[str, _Row], pd.DataFrame]:
    """Rows of ``morris_snp_enformer.h5`` for the referenced loci: the row whose ``snp_ids`` equals the locus id."""
    if _embedding_shape(f, None) != tuple(shape):
        f.fail("embeddings", f"[n_bins, dim] = {f.h5['embeddings'].shape[1:]} differs from the TSS file's {shape}")
    raw = f.read("snp_ids", (f.h5["embeddings"].shape[0],))
    try:
        ids = [int(v) for v in (_decode(raw, "snp_ids", f.fail) if raw.dtype.kind in "SOU" else raw)]
    except ValueError as exc:
        f.fail("snp_ids", f"ids are not integers ({exc})")
    if len(set(ids)) != len(ids):
        f.fail("snp_ids", "duplicate ids")
    row_of = {v: i for i, v in enumerate(ids)}
    missing = sorted(name for name, i in snp_ids.items() if i not in row_of)
    if missing:
        f.fail("snp_ids", f"{len(missing)} SNP loci have no embedding: {missing[:5]}")
    rows = {name: _Row(f, row_of[i], name) for name, i in snp_ids.items()}
    loci = pd.DataFrame({"locus_id": list(rows), "chrom": "NA", "center": 0, "strand": "."})
    return rows, loci


def _read_adt(f: _H5, tss: dict, n_cells: int) -> dict:
    """Proteins of the CDT-III file aligned to the TSS cells; other cells get zeros.

    Cells are matched by the file's own keys: ``cell_barcodes`` when both files have them, else
    ``original_cell_idx``, else identical row order; the matched cells' targets must agree.
    ``has_protein`` = matched and ``protein_matched_mask`` (all True when the file lacks it).
    Expressed proteins (mean > 0.5 and SD > 0.1, ddof 0) are screened over the file's perturbed
    cells that have protein data — train and held-out alike, as the authors did.
    """
    dsb = f.floats("protein_dsb", (None, None))
    n_adt, n_prot = dsb.shape
    effect = f.floats("protein_effect", (n_adt, n_prot))
    names = f.names("protein_names", n_prot, unique=True)
    mask = (
        f.read("protein_matched_mask", (n_adt,)).astype(bool) if "protein_matched_mask" in f else np.ones(n_adt, bool)
    )
    if not mask.any():
        f.fail("protein_matched_mask", "no cell has protein data")

    n_tss = len(tss["obs"])
    if tss["barcodes"] is not None and "cell_barcodes" in f:
        key, theirs, ours = "cell_barcodes", f.names("cell_barcodes", n_adt, unique=True), tss["barcodes"]
    elif tss["original"] is not None and "original_cell_idx" in f:
        key, theirs, ours = (
            "original_cell_idx",
            f.ints("original_cell_idx", (n_adt,)).tolist(),
            tss["original"].tolist(),
        )
        if len(set(theirs)) != len(theirs):
            f.fail(key, "duplicate cell indices")
    else:
        if n_adt != n_tss:
            f.fail(
                "protein_dsb",
                f"{n_adt} cells but the effects file has {n_tss}, and no shared cell keys "
                "(cell_barcodes / original_cell_idx) to match them",
            )
        key, theirs, ours = "row order", list(range(n_adt)), list(range(n_tss))
    row_of = {k: i for i, k in enumerate(theirs)}
    rows = np.array([row_of.get(k, -1) for k in ours])  # [n_tss] row in the ADT file, -1 = unmatched
    matched = rows >= 0
    if not matched.any():
        f.fail(key, "no cell matches the effects file")
    if "target_gene_idx" in f and "target_gene_names" in f:
        their_targets = np.asarray(f.names("target_gene_names"), dtype=object)[f.ints("target_gene_idx", (n_adt,))]
        ours_t = tss["obs"]["perturbation"].to_numpy()
        bad = np.flatnonzero(matched & (their_targets[np.maximum(rows, 0)] != ours_t))
        if len(bad):
            i = bad[0]
            f.fail(
                "target_gene_idx",
                f"{len(bad)} cells matched by {key} have another target, e.g. cell {i}: "
                f"{their_targets[rows[i]]} here vs {ours_t[i]} in the effects file",
            )
    has = matched & mask[np.maximum(rows, 0)]

    protein = np.zeros((n_cells, n_prot), np.float32)  # TSS cells first, then SNP cells (no protein data)
    target = np.zeros_like(protein)
    protein[:n_tss][has] = dsb[rows[has]]
    target[:n_tss][has] = effect[rows[has]]
    screened = dsb[mask]
    expressed = (screened.mean(0) > EXPRESSED_MEAN) & (screened.std(0) > EXPRESSED_SD)
    has_protein = np.zeros(n_cells, bool)
    has_protein[:n_tss] = has
    return {
        "protein": protein,
        "protein_target": target,
        "protein_names": names,
        "protein_expressed": expressed,
        "has_protein": has_protein,
    }


# ----------------------------------------------------------------------------------- CDT v1


def read_gasperini_h5(path: str | os.PathLike) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Read CDT v1 ``gasperini_{train,val}.h5`` into a pairs table and model-ready arrays.

    Table columns: enhancer_id (``chrom:start-end``), chrom, enhancer_start, enhancer_end,
    enhancer_center (``(start + end) // 2``, the Enformer window centre), gene_id (ENSG), beta, label,
    esm2_idx, enformer_idx; the file's attributes are in ``table.attrs``. Arrays: ``beta`` float32,
    ``label`` int64, ``esm2_idx`` int64 (the pre-remapping protein index), ``enhancer_center`` int64.
    """
    f = _H5(path, "CDT v1 training file")
    try:
        beta = f.floats("beta", (None,))
        n = len(beta)
        cols = {k: f.ints(k, (n,)) for k in ("enformer_idx", "esm2_idx", "labels", "enhancer_start", "enhancer_end")}
        gene_ids = f.names("gene_ids", n)
        chroms = f.names("enhancer_chr", n)
        attrs = {
            k: (v.decode() if isinstance(v, bytes) else v.item() if hasattr(v, "item") else v)
            for k, v in f.h5.attrs.items()
        }
    finally:
        f.close()
    labels = cols["labels"]
    if not np.isin(labels, (0, 1)).all():
        f.fail("labels", f"values other than 0/1: {sorted(set(labels.tolist()) - {0, 1})[:5]}")
    if "n_samples" in attrs and int(attrs["n_samples"]) != n:
        f.fail("n_samples", f"attribute says {attrs['n_samples']} samples, datasets have {n}")
    if "n_positive" in attrs and int(attrs["n_positive"]) != int(labels.sum()):
        f.fail("n_positive", f"attribute says {attrs['n_positive']}, labels sum to {int(labels.sum())}")
    start, end = cols["enhancer_start"], cols["enhancer_end"]
    center = (start + end) // 2
    table = pd.DataFrame(
        {
            "enhancer_id": [f"{c}:{s}-{e}" for c, s, e in zip(chroms, start, end, strict=True)],
            "chrom": chroms,
            "enhancer_start": start,
            "enhancer_end": end,
            "enhancer_center": center,
            "gene_id": gene_ids,
            "beta": beta,
            "label": labels,
            "esm2_idx": cols["esm2_idx"],
            "enformer_idx": cols["enformer_idx"],
        }
    )
    table.attrs.update(attrs)
    arrays = {"beta": beta, "label": labels, "esm2_idx": cols["esm2_idx"], "enhancer_center": center}
    return table, arrays


# CDT v1's embedding files (Hugging Face dataset nobusama17/cdt-embeddings), by the names the authors publish
V1_PROTEIN_MAP = "protein_index_mapping_aligned.npz"
V1_RNA_EMBEDDINGS = "k562_gene_embeddings_aligned.h5"
V1_PROTEIN_EMBEDDINGS = "human_proteomelm_embeddings_aligned.h5"
V1_DNA_WINDOWS = "pilot_full_v2.h5"


def read_protein_index_map(path: str | os.PathLike) -> dict[int, int]:
    """Read CDT v1 ``protein_index_mapping_aligned.npz``: old ``esm2_idx`` -> row of the aligned embedding files.

    The array ``old_to_new`` holds [old index, new index] pairs (2,364 at real size; several old indices can share
    a new one). A pair of the ``gasperini_*.h5`` files is kept only if its ``esm2_idx`` is a key of this map, as in
    the authors' dataset class; a key listed twice keeps its last pair, as their dict does.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: CDT v1 protein index map does not exist")
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = list(npz.files)
            pairs = npz["old_to_new"] if "old_to_new" in names else None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # not a zip, truncated, or an object array
        raise ContractError(str(path), "file", f"not a readable .npz of numeric arrays ({exc})") from exc
    if pairs is None:
        raise ContractError(str(path), "old_to_new", f"missing array (has {names})")
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ContractError(str(path), "old_to_new", f"shape {pairs.shape}, expected (*, 2)")
    if pairs.dtype.kind not in "iu":
        raise ContractError(str(path), "old_to_new", f"expected integers, got dtype {pairs.dtype}")
    if len(pairs) and pairs[:, 1].min() < 0:
        raise ContractError(str(path), "old_to_new", "negative new index")
    return {int(old): int(new) for old, new in pairs}


def read_v1_gene_embeddings(
    rna_h5: str | os.PathLike, protein_h5: str | os.PathLike
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Read CDT v1's aligned gene embeddings: (gene names, RNA [G, 512] float32, protein [G, 768] float32).

    ``k562_gene_embeddings_aligned.h5`` holds ``embeddings`` (scGPT, unit length) and ``gene_names``;
    ``human_proteomelm_embeddings_aligned.h5`` holds ``embeddings`` (ProteomeLM), ``uniprot_ids`` and
    ``gene_names``. Row i is one gene in both files (the new index of `read_protein_index_map`), so the two
    ``gene_names`` lists must agree row by row; names must be unique (they key the pairs' target genes).
    """
    with ExitStack() as stack:
        rna_f = _H5(rna_h5, "CDT v1 RNA (scGPT) embedding file")
        stack.callback(rna_f.close)
        prot_f = _H5(protein_h5, "CDT v1 protein (ProteomeLM) embedding file")
        stack.callback(prot_f.close)
        genes = rna_f.names("gene_names", unique=True)
        rna = rna_f.floats("embeddings", (len(genes), None))
        prot_genes = prot_f.names("gene_names", len(genes))
        prot = prot_f.floats("embeddings", (len(genes), None))
        prot_f.names("uniprot_ids", len(genes))
    differ = [i for i, (a, b) in enumerate(zip(genes, prot_genes, strict=True)) if a != b]
    if differ:
        i = differ[0]
        raise ContractError(
            f"{rna_f.path} and {prot_f.path}",
            "gene_names",
            f"{len(differ)} rows name different genes, first row {i}: {genes[i]!r} vs {prot_genes[i]!r}; "
            "row i must be the same gene in both files",
        )
    return genes, rna, prot


def read_v1_dna_windows(path: str | os.PathLike) -> tuple[list[str], np.ndarray, tuple[int, int]]:
    """Read the index of CDT v1 ``pilot_full_v2.h5``: (chroms, centres int64, [n_bins, dim]); no embedding is read.

    The file holds ``embeddings`` float32 [5434, 896, 3072] (Enformer trunk output per enhancer window, 53 GB),
    ``centers`` [5434] and ``chroms`` [5434]. Only shapes and the coordinates are read here; the converter points
    the DNA store at the rows (`cdt.data.dnastore.write_virtual_dna_store`).
    """
    f = _H5(path, "CDT v1 DNA embedding file")
    try:
        n_bins, dim = _embedding_shape(f, None)
        n = f.h5["embeddings"].shape[0]
        centers = f.ints("centers", (n,))
        chroms = f.names("chroms", n)
    finally:
        f.close()
    return chroms, centers, (n_bins, dim)

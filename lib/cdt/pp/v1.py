"""CDT v1 inputs: Gasperini enhancer-gene pairs, an enhancer-level split, fixed gene/protein embeddings.

Pairs come from the GEO "all DEG results" table (GSE120861): DHS rows with a numeric
adjusted empirical p-value; label = padj < 0.05; beta = the effect size. An enhancer is its
(chrom, start, stop); its Enformer window is centred on (start + stop) // 2.

Split (the method the paper describes, not the pair-level split its files used; paper/METHODS.md, 'CDT v1 pairs and
split'): all pairs of one enhancer go to one split; enhancers are stratified by whether any of their pairs is
significant and split 70/15/15 with a seed.

Genome build: Gasperini coordinates are hg19; the authors cut hg38 windows at them (a known defect).
`check_genome` refuses a pairs table and a DNA store whose builds differ.

The authors' own CDT v1 files (`convert_authors_v1`) come with their pair-level train/val split and their
Enformer windows; the converted pairs keep both (paper/METHODS.md, 'CDT v1 pairs and split').
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from cdt.data.authors import (
    V1_DNA_WINDOWS,
    V1_PROTEIN_EMBEDDINGS,
    V1_PROTEIN_MAP,
    V1_RNA_EMBEDDINGS,
    read_gasperini_h5,
    read_protein_index_map,
    read_v1_dna_windows,
    read_v1_gene_embeddings,
)
from cdt.data.dnastore import DNAStore, write_virtual_dna_store
from cdt.data.errors import ContractError, require_columns

log = logging.getLogger(__name__)

GASPERINI_COLUMNS = {
    "site_type": "site_type",
    "padj": "pvalue.empirical.adjusted",
    "beta": "beta",
    "chrom": "target_site.chr",
    "start": "target_site.start",
    "end": "target_site.stop",
}
PAIR_COLUMNS = ("enhancer_id", "target_gene", "target_index", "beta", "chrom", "enhancer_center", "split")


def read_gasperini(
    path: str | os.PathLike | pd.DataFrame, gene_col: str = "gene_short_name", genome: str = "hg19", alpha: float = 0.05
) -> pd.DataFrame:
    """Enhancer-gene pairs from the GEO table (tab-separated, may be gzipped).

    Returns enhancer_id (``chrom:start-end``), chrom, enhancer_start, enhancer_end, enhancer_center,
    target_gene (from `gene_col`), beta, label (padj < alpha), padj, genome.
    """
    source = "<Gasperini table>" if isinstance(path, pd.DataFrame) else str(path)
    if isinstance(path, pd.DataFrame):
        raw = path
    else:
        if not Path(path).exists():
            raise FileNotFoundError(f"{path}: Gasperini table does not exist")
        raw = pd.read_csv(path, sep="\t", low_memory=False)
    need = [*GASPERINI_COLUMNS.values(), gene_col]
    require_columns(raw, need, source, hint=f"columns are {list(raw.columns)[:12]}")
    raw = raw[raw[GASPERINI_COLUMNS["site_type"]] == "DHS"]
    padj = pd.to_numeric(raw[GASPERINI_COLUMNS["padj"]], errors="coerce")  # "not_applicable" -> NaN -> dropped
    raw, padj = raw[padj.notna()], padj[padj.notna()]
    coords = {k: pd.to_numeric(raw[GASPERINI_COLUMNS[k]], errors="coerce") for k in ("start", "end")}
    bad = coords["start"].isna() | coords["end"].isna() | (coords["end"] < coords["start"])
    if bad.any():
        raise ContractError(source, "target_site.start/stop", f"{int(bad.sum())} DHS rows without valid coordinates")
    start, end = coords["start"].astype(np.int64), coords["end"].astype(np.int64)
    chrom = raw[GASPERINI_COLUMNS["chrom"]].astype(str)
    chrom = chrom.where(chrom.str.startswith("chr"), "chr" + chrom)
    pairs = pd.DataFrame(
        {
            "enhancer_id": chrom + ":" + start.astype(str) + "-" + end.astype(str),
            "chrom": chrom,
            "enhancer_start": start,
            "enhancer_end": end,
            "enhancer_center": (start + end) // 2,
            "target_gene": raw[gene_col].astype(str),
            "beta": pd.to_numeric(raw[GASPERINI_COLUMNS["beta"]], errors="coerce").fillna(0.0).astype(np.float32),
            "label": (padj < alpha).astype(np.int64),
            "padj": padj,
            "genome": genome,
        }
    ).reset_index(drop=True)
    if pairs.empty:
        raise ContractError(source, "site_type", "no DHS rows with a numeric adjusted p-value")
    return pairs


def enhancer_split(pairs: pd.DataFrame, val_frac: float = 0.15, test_frac: float = 0.15, seed: int = 42) -> pd.Series:
    """train/val/test per pair with every enhancer's pairs in one split, stratified by "any significant pair"."""
    enh = pairs.groupby("enhancer_id")["label"].max()  # [n_enhancers] 1 if any pair significant
    strat = enh if enh.value_counts().min() >= 2 else None  # too few of a class to stratify: plain random
    train, rest = train_test_split(
        enh.index.to_numpy(), test_size=val_frac + test_frac, random_state=seed, stratify=strat
    )
    strat_rest = enh.loc[rest] if strat is not None and enh.loc[rest].value_counts().min() >= 2 else None
    val, test = train_test_split(
        rest, test_size=test_frac / (val_frac + test_frac), random_state=seed, stratify=strat_rest
    )
    split = pd.Series("train", index=enh.index)
    split.loc[val], split.loc[test] = "val", "test"
    return pd.Series(split.reindex(pairs["enhancer_id"]).to_numpy(), index=pairs.index, name="split")


def read_v1_embeddings(path: str | os.PathLike) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Fixed embeddings file: gene_names [G], rna_embeddings [G, r], protein_embeddings [G, p] (float32; names unique,
    values finite, one row per name). The one reader of this file, for `prepare_v1` and the trainer."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: CDT v1 embeddings file does not exist")
    with h5py.File(path, "r") as h5:
        for key in ("gene_names", "rna_embeddings", "protein_embeddings"):
            if key not in h5:
                raise ContractError(str(path), key, "missing dataset")
        genes = [g.decode() if isinstance(g, bytes) else str(g) for g in h5["gene_names"][()]]
        rna, prot = h5["rna_embeddings"][()], h5["protein_embeddings"][()]
    for key, arr in (("rna_embeddings", rna), ("protein_embeddings", prot)):
        if arr.ndim != 2 or arr.shape[0] != len(genes):
            raise ContractError(str(path), key, f"shape {arr.shape} does not match {len(genes)} gene_names")
        if not np.isfinite(arr).all():
            raise ContractError(str(path), key, "non-finite values")
    if len(set(genes)) != len(genes):
        raise ContractError(str(path), "gene_names", "gene names are not unique")
    return genes, rna.astype(np.float32), prot.astype(np.float32)


def attach_targets(pairs: pd.DataFrame, genes: list[str]) -> pd.DataFrame:
    """Keep pairs whose target gene has embeddings and add its row index (`target_index`)."""
    index = pd.Series(np.arange(len(genes)), index=genes)
    keep = pairs["target_gene"].isin(index.index)
    log.info("%d of %d pairs have a target gene with embeddings", int(keep.sum()), len(pairs))
    out = pairs[keep].copy()
    out["target_index"] = index.reindex(out["target_gene"]).to_numpy(np.int64)
    return out.reset_index(drop=True)


def enhancer_loci(pairs: pd.DataFrame) -> pd.DataFrame:
    """One DNA-store locus per enhancer (locus_id = enhancer_id, centred on the enhancer) for `embed_dna`."""
    loci = pairs.drop_duplicates("enhancer_id")
    return pd.DataFrame(
        {
            "locus_id": loci["enhancer_id"].to_numpy(),
            "chrom": loci["chrom"].to_numpy(),
            "center": loci["enhancer_center"].to_numpy(),
            "strand": "+",
        }
    )


def check_genome(pairs: pd.DataFrame, store: DNAStore, pairs_source: str = "<pairs>") -> None:
    """Refuse pairs whose genome build differs from the DNA store's; every enhancer must be in the store, its
    window centred within one bin of the pair's enhancer centre (same chromosome).

    A side without build information (no ``genome`` column / attribute) cannot be checked and is logged.
    """
    builds = sorted(set(pairs["genome"].astype(str)) - {"", "nan"}) if "genome" in pairs else []
    if len(builds) > 1:
        raise ContractError(pairs_source, "genome", f"pairs mix genome builds {builds}")
    if builds and store.genome and builds[0] != store.genome:
        raise ContractError(
            pairs_source,
            "genome",
            f"pair coordinates are {builds[0]} but DNA store {store.path} holds {store.genome} windows; "
            f"lift the pairs over to {store.genome} (or re-embed on {builds[0]}) first",
        )
    if not (builds and store.genome):
        log.warning("genome build unchecked: pairs %s, DNA store %s", builds or "unknown", store.genome or "unknown")
    missing = sorted(set(pairs["enhancer_id"]) - set(store.loci_ids()))
    if missing:
        raise ContractError(
            pairs_source,
            "enhancer_id",
            f"{len(missing)} enhancers have no DNA window in {store.path}, e.g. {missing[:3]}",
        )
    if {"chrom", "enhancer_center"} <= set(pairs.columns):
        first = pairs.drop_duplicates("enhancer_id")
        for row in first.itertuples():
            locus = store.locus(str(row.enhancer_id))
            if str(row.chrom) != locus.chrom or abs(int(row.enhancer_center) - locus.center) > locus.bin_size:
                raise ContractError(
                    pairs_source,
                    "enhancer_center",
                    f"enhancer {row.enhancer_id} is at {row.chrom}:{row.enhancer_center} but its window in "
                    f"{store.path} is centred at {locus.chrom}:{locus.center} (more than one {locus.bin_size}-bp "
                    "bin away); re-embed the enhancers from these pairs",
                )


def prepare_v1(
    gasperini: str | os.PathLike | pd.DataFrame,
    embeddings: str | os.PathLike,
    out: str | os.PathLike,
    dna_store: str | os.PathLike | None = None,
    gene_col: str = "gene_short_name",
    genome: str = "hg19",
    seed: int = 42,
) -> Path:
    """Gasperini table + embedding file (+ DNA store to check against) -> ``pairs.csv`` in the v1 layout."""
    pairs = read_gasperini(gasperini, gene_col, genome)
    genes, _, _ = read_v1_embeddings(embeddings)
    pairs = attach_targets(pairs, genes)
    if pairs.empty:
        raise ContractError(str(embeddings), "gene_names", "no pair's target gene has embeddings")
    pairs["split"] = enhancer_split(pairs, seed=seed)
    if dna_store is not None:
        with DNAStore(dna_store) as store:
            check_genome(pairs, store, str(gasperini) if not isinstance(gasperini, pd.DataFrame) else "<pairs>")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cols = [*PAIR_COLUMNS, "enhancer_start", "enhancer_end", "label", "padj", "genome"]
    pairs[cols].to_csv(out, index=False)
    return out


# the authors' CDT v1 files, by the names they publish them under (data/README.md); all six are needed
V1_PAIR_FILES = {"train": "gasperini_train.h5", "val": "gasperini_val.h5"}  # their pair-level split
V1_AUTHORS_FILES = (*V1_PAIR_FILES.values(), V1_PROTEIN_MAP, V1_RNA_EMBEDDINGS, V1_PROTEIN_EMBEDDINGS, V1_DNA_WINDOWS)
WINDOW_TOLERANCE = 1_000  # bp: the authors' nearby-window lookup


def authors_window_rows(
    chroms: list[str] | np.ndarray,
    centers: np.ndarray,
    pair_chroms: list[str] | np.ndarray,
    pair_centers: np.ndarray,
    *,
    tolerance: int = WINDOW_TOLERANCE,
) -> tuple[np.ndarray, np.ndarray]:
    """The DNA window of each pair by the CDT v1 authors' lookup: (row of the window file or -1, match kind).

    As their dataset class does: windows are keyed by (chrom, centre), a key held by several rows resolving to
    the last of them; a pair takes (1) the window whose key equals (chrom, (start + end) // 2) ("exact"), else
    (2) the first key in file order on the same chromosome whose centre lies within `tolerance` bp, inclusive
    ("nearby"), else (3) no window, an all-zero input ("none"). paper/METHODS.md, 'CDT v1 pairs and split'.
    """
    row_of: dict[tuple[str, int], int] = {}
    for i, key in enumerate(zip(map(str, chroms), np.asarray(centers, dtype=np.int64).tolist(), strict=True)):
        row_of[key] = i  # insertion order is a key's first row, its value the last row (the authors' dict)
    by_chrom: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for chrom in {c for c, _ in row_of}:
        keys = [(x, r) for (c, x), r in row_of.items() if c == chrom]  # in key order
        by_chrom[chrom] = (np.array([x for x, _ in keys], np.int64), np.array([r for _, r in keys], np.int64))
    rows = np.full(len(pair_centers), -1, np.int64)
    kind = np.full(len(pair_centers), "none", dtype=object)
    for j, (chrom, center) in enumerate(zip(map(str, pair_chroms), np.asarray(pair_centers).tolist(), strict=True)):
        if (chrom, center) in row_of:
            rows[j], kind[j] = row_of[(chrom, center)], "exact"
        elif chrom in by_chrom:
            near = np.flatnonzero(np.abs(by_chrom[chrom][0] - center) <= tolerance)
            if len(near):
                rows[j], kind[j] = by_chrom[chrom][1][near[0]], "nearby"
    return rows, kind


def convert_authors_v1(
    data_dir: str | os.PathLike, out_dir: str | os.PathLike, *, source_sha256: str = ""
) -> tuple[Path, Path, Path]:
    """The authors' CDT v1 files in `data_dir` -> the CDT v1 input contract in ``<out_dir>/v1/``.

    Returns the paths of ``pairs.csv`` (`PAIR_COLUMNS` plus the source columns), ``dna_enhancers.h5`` (a DNA store
    whose windows are rows of ``pilot_full_v2.h5``, not copies: `write_virtual_dna_store`) and ``embeddings.h5``
    (`read_v1_embeddings` layout), so ``cdt train --model cdt1 --data <out_dir>`` reads them.

    - Pairs: ``gasperini_train.h5`` -> split ``train``, ``gasperini_val.h5`` -> ``val`` (the authors' pair-level
      split, also in ``pair_split``; there are no test pairs). A pair is kept only if its ``esm2_idx`` is in
      ``protein_index_mapping_aligned.npz``; its ``target_index`` is the mapped row of the two embedding files
      and ``target_gene`` that row's gene name.
    - DNA: one locus per enhancer (``chrom:start-end``), the window of `authors_window_rows`; a pair without a
      window reads zeros, as in the authors' training. ``enhancer_center`` is the centre of the window the pair
      reads (``enhancer_mid`` = (start + end) // 2; they differ for "nearby" windows); ``window_lookup`` says
      which case applied.
    - Genome build: the coordinates are hg19 but the windows were cut from hg38 at them; neither side carries a
      build, so `check_genome` leaves it unchecked (paper/METHODS.md, 'CDT v1 pairs and split').

    `source_sha256` (of ``pilot_full_v2.h5``) is recorded in the DNA store, so stores over different window
    content differ. Bad input raises before anything is written.
    """
    d, out = Path(data_dir), Path(out_dir) / "v1"
    missing = [name for name in V1_AUTHORS_FILES if not (d / name).exists()]
    if missing:
        raise FileNotFoundError(f"{d}: missing the CDT v1 file(s) {', '.join(missing)} (see data/README.md)")
    old_to_new = read_protein_index_map(d / V1_PROTEIN_MAP)
    genes, rna, prot = read_v1_gene_embeddings(d / V1_RNA_EMBEDDINGS, d / V1_PROTEIN_EMBEDDINGS)
    outside = sorted({new for new in old_to_new.values() if new >= len(genes)})
    if outside:
        raise ContractError(
            str(d / V1_PROTEIN_MAP), "old_to_new", f"new indices {outside[:5]} outside the {len(genes)} embedding rows"
        )
    chroms, centers, _ = read_v1_dna_windows(d / V1_DNA_WINDOWS)
    parts = []
    for split, name in V1_PAIR_FILES.items():
        table, _ = read_gasperini_h5(d / name)
        parts.append(table.assign(split=split, source=name, source_row=np.arange(len(table))))
    pairs = pd.concat(parts, ignore_index=True)
    keep = pairs["esm2_idx"].isin(list(old_to_new)).to_numpy()
    log.info("CDT v1: %d of %d pairs have an esm2_idx in %s", int(keep.sum()), len(pairs), V1_PROTEIN_MAP)
    pairs = pairs[keep].reset_index(drop=True)
    if pairs.empty:
        raise ContractError(str(d / V1_PROTEIN_MAP), "old_to_new", "no pair's esm2_idx is a key of the map")
    target_index = pairs["esm2_idx"].map(old_to_new).to_numpy(np.int64)
    rows, kind = authors_window_rows(chroms, centers, pairs["chrom"], pairs["enhancer_center"].to_numpy())
    mid = pairs["enhancer_center"].to_numpy(np.int64)
    table = pd.DataFrame(
        {
            "enhancer_id": pairs["enhancer_id"],
            "target_gene": np.asarray(genes, dtype=object)[target_index],
            "target_index": target_index,
            "beta": pairs["beta"],
            "chrom": pairs["chrom"],
            "enhancer_center": np.where(rows >= 0, centers[np.maximum(rows, 0)], mid),
            "split": pairs["split"],
            "pair_split": pairs["split"],
            "enhancer_start": pairs["enhancer_start"],
            "enhancer_end": pairs["enhancer_end"],
            "enhancer_mid": mid,
            "label": pairs["label"],
            "gene_id": pairs["gene_id"],
            "esm2_idx": pairs["esm2_idx"],
            "window_row": rows,
            "window_lookup": kind,
            "source": pairs["source"],
            "source_row": pairs["source_row"],
        }
    )
    counts = table["window_lookup"].value_counts()
    log.info("CDT v1 windows: %s", ", ".join(f"{k} {int(counts.get(k, 0))}" for k in ("exact", "nearby", "none")))
    first = table.drop_duplicates("enhancer_id")
    loci = pd.DataFrame(
        {
            "locus_id": first["enhancer_id"].to_numpy(),
            "chrom": first["chrom"].to_numpy(),
            "center": first["enhancer_center"].to_numpy(),
            "strand": "+",
        }
    )
    out.mkdir(parents=True, exist_ok=True)
    dna = write_virtual_dna_store(
        out / "dna_enhancers.h5",
        d / V1_DNA_WINDOWS,
        {e: (int(r) if r >= 0 else None) for e, r in zip(first["enhancer_id"], first["window_row"], strict=True)},
        loci,
        model=f"enformer trunk (authors' file {V1_DNA_WINDOWS})",
        source_sha256=source_sha256,
    )
    embeddings = out / "embeddings.h5"
    with h5py.File(embeddings, "w") as h5:
        h5.create_dataset("gene_names", data=np.array(genes, dtype=object), dtype=h5py.string_dtype())
        h5.create_dataset("rna_embeddings", data=rna)
        h5.create_dataset("protein_embeddings", data=prot)
        h5.attrs["source"] = f"the authors' {V1_RNA_EMBEDDINGS} (scGPT) and {V1_PROTEIN_EMBEDDINGS} (ProteomeLM)"
    pairs_path = out / "pairs.csv"
    table.to_csv(pairs_path, index=False)
    with DNAStore(dna) as store:
        check_genome(table, store, str(pairs_path))
    return pairs_path, dna, embeddings

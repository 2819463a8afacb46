"""Write files in the authors' published layouts at the real dimensions, with random content (a test helper).

`write_authors_files(d)` writes what `cdt reproduce --data real --data-dir d` reads: the CDT-II cell-level
effect files (TSS and SNP), the two Enformer embedding files, the CDT-III effects file with the 189 ADT
proteins, and random-weight checkpoints in both published formats (CDT-II: a bare state_dict; CDT-III: a
training dict with `model_state_dict`, `config`, `model_config`, `expressed_mask` as a numpy bool array,
...). Dimensions are the real ones (2,361 genes with GFI1B last, 27 targets, 28 windows of 896 x 3,072,
189 proteins); only the number of cells and SNP loci is chosen by the caller. Names are byte strings,
as in the authors' files. `write_authors_v1_files(d)` writes the six CDT v1 files at the real per-item
dimensions with a dozen enhancer windows. Usable from a shell too: ``python tests/authors_files.py DIR [cells per target]``.
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
N_GENES, N_BINS, DNA_DIM, N_PROTEINS = 2361, 896, 3072, 189

# TSS targets and their cell counts in the published file (8,250 cells; the last five are held out)
REAL_CELLS: dict[str, int] = {
    "B2M": 220, "CD19": 65, "CD40": 12, "CD58": 946, "CD69": 306, "CD81": 298, "CD82": 252, "CD83": 71,
    "ENTPD1": 504, "EPCAM": 64, "FCGR2A": 300, "ICAM1": 117, "IL21R": 210, "ITGAE": 380, "ITGB1": 299,
    "KLRD1": 518, "KLRG1": 224, "LGALS3": 158, "MSR1": 64, "NECTIN2": 77, "SLC3A2": 428, "TNFSF13B": 700,
    "GFI1B": 477, "TFRC": 847, "TNFSF9": 349, "CD44": 233, "CD52": 131,
}  # fmt: skip
HELD_OUT = ("GFI1B", "CD52", "TFRC", "CD44", "TNFSF9")
NOT_IN_GENE_SET = ("TFRC", "CD44", "TNFSF9")  # held-out targets outside the 2,361 genes, as in the real data
N_NTC_CELLS = 2078

# the 28 Enformer windows in the file's order: gene, chrom, TSS (hg38), strand
WINDOWS: list[tuple[str, str, int, str]] = [
    ("CD52", "chr1", 26317958, "+"), ("CD58", "chr1", 116571026, "-"), ("FCGR2A", "chr1", 161505430, "+"),
    ("CD55", "chr1", 207321519, "+"), ("ITGB1", "chr10", 33005792, "-"), ("ENTPD1", "chr10", 95711779, "+"),
    ("CD81", "chr11", 2376166, "+"), ("CD44", "chr11", 35138882, "+"), ("CD82", "chr11", 44564414, "+"),
    ("SLC3A2", "chr11", 62855970, "+"), ("KLRG1", "chr12", 8950044, "+"), ("CD69", "chr12", 9760901, "-"),
    ("KLRD1", "chr12", 10226058, "+"), ("TNFSF13B", "chr13", 108251240, "+"), ("LGALS3", "chr14", 55121352, "+"),
    ("B2M", "chr15", 44711253, "+"), ("IL21R", "chr16", 27402174, "+"), ("CD19", "chr16", 28931965, "+"),
    ("ITGAE", "chr17", 3801193, "-"), ("TNFSF9", "chr19", 6531026, "+"), ("ICAM1", "chr19", 10271093, "+"),
    ("NECTIN2", "chr19", 44846175, "+"), ("EPCAM", "chr2", 47345158, "+"), ("CD40", "chr20", 46118249, "+"),
    ("TFRC", "chr3", 196082162, "-"), ("CD83", "chr6", 14117256, "+"), ("MSR1", "chr8", 16567490, "-"),
    ("GFI1B", "chr9", 132944000, "+"),
]  # fmt: skip


@dataclass
class AuthorsLayout:
    """Paths of the written files (None where not written)."""

    root: Path
    effects: Path
    enformer: Path
    snp_effects: Path | None
    snp_enformer: Path | None
    adt: Path | None
    cdt2_checkpoint: Path | None
    cdt3_checkpoint: Path | None
    genes: list[str]
    proteins: list[str]


def _s(names) -> np.ndarray:
    return np.array([n.encode() for n in names], dtype="S")


def adt_ids() -> list[str]:
    """The 189 ADT IDs in the order of the project's fact table."""
    with open(REPO / "data" / "adt_gene_symbols.csv", encoding="utf-8") as f:
        return [row["morris_adt_id"] for row in csv.DictReader(f)]


def gene_universe(rng: np.random.Generator) -> list[str]:
    """2,361 names: the in-set targets and the ADT gene symbols, filler names, GFI1B last."""
    with open(REPO / "data" / "adt_gene_symbols.csv", encoding="utf-8") as f:
        adt_genes = {row["gene_symbol"] for row in csv.DictReader(f)}
    named = (set(REAL_CELLS) | adt_genes) - set(NOT_IN_GENE_SET) - {"GFI1B"}
    fillers = [f"GENE{i:04d}" for i in range(N_GENES - 1 - len(named))]
    genes = sorted(named | set(fillers))
    rng.shuffle(genes)
    return [*genes, "GFI1B"]


def _cells(rng: np.random.Generator, n: int, ntc_log_cpm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cell_expr = ln(CPM + 1), log2fc = log2((CPM + 1) / (NTC mean CPM + 1))) of `n` random cells."""
    expr = np.zeros((n, len(ntc_log_cpm)), np.float32)
    for start in range(0, n, 1024):  # bounded temporaries at the real cell counts
        m = min(1024, n - start)
        detected = rng.random((m, len(ntc_log_cpm))) < 0.25
        expr[start : start + m] = np.where(detected, rng.gamma(2.0, 1.2, (m, len(ntc_log_cpm))), 0.0)
    log2fc = (expr / np.log(2) - ntc_log_cpm / np.log(2)).astype(np.float32)
    return expr, log2fc


def _embeddings(h5: h5py.File, rng: np.random.Generator, n_rows: int, n_bins: int, dim: int) -> None:
    """Random [n_rows, n_bins, dim] float32 (gzip 4, as the authors wrote it), one row at a time.

    Each bin repeats a short random vector along the feature axis, so the file compresses well.
    """
    ds = h5.create_dataset(
        "embeddings", (n_rows, n_bins, dim), np.float32, chunks=(1, min(n_bins, 128), dim), compression="gzip",
        compression_opts=4,
    )  # fmt: skip
    period = 48 if dim % 48 == 0 else dim
    for i in range(n_rows):
        ds[i] = np.tile(rng.standard_normal((n_bins, period)).astype(np.float32), dim // period)
    h5.attrs.update({"n_bins": n_bins, "embedding_dim": dim})


def write_authors_files(
    out: str | Path,
    cells_per_target: int | None = 4,
    *,
    n_snp_loci: int = 3,
    cells_per_snp: int = 3,
    snp: bool = True,
    adt: bool = True,
    checkpoints: bool = True,
    n_bins: int = N_BINS,
    dna_dim: int = DNA_DIM,
    seed: int = 0,
) -> AuthorsLayout:
    """Write the authors' files into `out`; ``cells_per_target=None`` gives the published counts (8,250 cells)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    genes = gene_universe(rng)
    targets = sorted(REAL_CELLS)
    counts = np.array([REAL_CELLS[t] if cells_per_target is None else cells_per_target for t in targets])
    target_idx = np.repeat(np.arange(len(targets)), counts)
    rng.shuffle(target_idx)
    n = len(target_idx)
    ntc_cpm = rng.gamma(1.5, 20.0, N_GENES).astype(np.float32)
    ntc_log_cpm = np.log1p(ntc_cpm)
    expr, log2fc = _cells(rng, n, ntc_log_cpm)
    train_genes = [t for t in targets if t not in HELD_OUT]
    rna = {
        "log2fc": log2fc,
        "cell_expr": expr,
        "target_gene_idx": target_idx.astype(np.int64),
        "target_gene_names": _s(targets),
        "n_cells_per_gene": counts.astype(np.int64),
        "gene_names_cdt": _s(genes),
        "ntc_mean_expr": ntc_log_cpm.astype(np.float32),
        "train_genes": _s(train_genes),
        "val_genes": _s(sorted(HELD_OUT)),
        "original_cell_idx": np.sort(rng.choice(60505, n, replace=False)).astype(np.int64),
    }
    effects = out / "morris_celllevel_effects_2361.h5"
    with h5py.File(effects, "w") as h5:
        for key, value in rna.items():
            h5[key] = value
        h5["ntc_mean_cpm"] = ntc_cpm
        h5["gene_indices_in_full"] = np.sort(rng.choice(36601, N_GENES, replace=False)).astype(np.int64)
        h5.attrs.update(
            {
                "gene_list": "CDT 2360 + GFI1B = 2361",
                "n_cdt_genes": N_GENES,
                "n_cells": n,
                "n_ntc_cells": N_NTC_CELLS,
                "n_target_genes": len(targets),
                "n_train_genes": len(train_genes),
                "n_val_genes": len(HELD_OUT),
                "split_method": "gene-level",
                "umi_threshold": 50,
                "val_genes_str": ",".join(HELD_OUT),
            }
        )

    enformer = out / "morris_28genes_enformer.h5"
    with h5py.File(enformer, "w") as h5:
        _embeddings(h5, rng, len(WINDOWS), n_bins, dna_dim)
        h5["gene_names"] = _s([w[0] for w in WINDOWS])
        h5["chroms"] = _s([w[1] for w in WINDOWS])
        h5["tss_coords"] = np.array([w[2] for w in WINDOWS], np.int64)
        h5["strands"] = _s([w[3] for w in WINDOWS])
        h5["ensembl_ids"] = _s([f"ENSG{i:011d}" for i in range(len(WINDOWS))])
        h5.attrs.update({"n_genes": len(WINDOWS), "seq_length": 196608, "description": "random test content"})

    snp_effects = snp_enformer = None
    if snp:
        snp_effects, snp_enformer = out / "morris_snp_celllevel_effects_2361.h5", out / "morris_snp_enformer.h5"
        ids = rng.choice(100000, n_snp_loci + 2, replace=False)  # two windows no cell refers to
        loci = [f"SNP-{i}" for i in ids[:n_snp_loci]]
        snp_idx = np.repeat(np.arange(n_snp_loci), cells_per_snp)
        s_expr, s_log2fc = _cells(rng, len(snp_idx), ntc_log_cpm)
        with h5py.File(snp_effects, "w") as h5:
            h5["log2fc"], h5["cell_expr"] = s_log2fc, s_expr
            h5["perturbation_idx"] = snp_idx.astype(np.int64)
            h5["snp_loci_names"] = _s(loci)
            h5["snp_ids"] = ids[:n_snp_loci].astype(np.int64)
            h5["n_cells_per_locus"] = np.full(n_snp_loci, cells_per_snp, np.int64)
            h5.attrs.update({"n_cells": len(snp_idx), "n_loci": n_snp_loci})
        with h5py.File(snp_enformer, "w") as h5:
            _embeddings(h5, rng, len(ids), n_bins, dna_dim)
            h5["snp_ids"] = rng.permutation(ids).astype(np.int64)

    proteins = adt_ids()
    adt_path = None
    dsb = None
    if adt:
        adt_path = out / "morris_celllevel_effects_with_adt.h5"
        level = rng.normal(0.3, 0.6, N_PROTEINS).astype(np.float32)
        dsb = (level + rng.normal(0.0, 0.4, (n, N_PROTEINS))).astype(np.float32)
        ntc_protein = (level + rng.normal(0.0, 0.05, N_PROTEINS)).astype(np.float32)
        with h5py.File(adt_path, "w") as h5:  # no protein_matched_mask: the published file has none
            for key, value in rna.items():
                h5.create_dataset(key, data=value, compression="gzip" if np.ndim(value) == 2 else None)
            h5.create_dataset("protein_dsb", data=dsb, compression="gzip")
            h5.create_dataset("protein_effect", data=dsb - ntc_protein, compression="gzip")
            h5["protein_names"] = _s(proteins)
            h5["ntc_mean_protein"] = ntc_protein
            h5.attrs.update(
                {
                    "n_cells": n,
                    "n_genes": N_GENES,
                    "n_proteins": N_PROTEINS,
                    "n_cells_with_protein": n,
                    "n_ntc_cells": N_NTC_CELLS,
                    "protein_normalization": "DSB",
                    "protein_target": "DSB_difference",
                }
            )

    cdt2_ckpt = cdt3_ckpt = None
    if checkpoints:
        cdt2_ckpt = write_cdt2_checkpoint(out / "cdt_morris_celllevel_best.pt", n_bins=n_bins, dna_dim=dna_dim)
        if adt:
            expressed = (dsb.mean(0) > 0.5) & (dsb.std(0) > 0.1)
            cdt3_ckpt = write_cdt3_checkpoint(
                out / "cdt_2stage_vce_best.pt", expressed, n_bins=n_bins, dna_dim=dna_dim, n_train_cells=n
            )
    return AuthorsLayout(
        out, effects, enformer, snp_effects, snp_enformer, adt_path, cdt2_ckpt, cdt3_ckpt, genes, proteins
    )


def write_cdt2_checkpoint(path: str | Path, *, n_bins: int = N_BINS, dna_dim: int = DNA_DIM, seed: int = 1) -> Path:
    """The published CDT-II format: a bare state_dict of randomly initialised weights."""
    from cdt.models.cdt2 import CDT2, CDT2Config

    torch.manual_seed(seed)
    model = CDT2(CDT2Config(n_bins=n_bins, dna_dim=dna_dim))
    torch.save(model.state_dict(), path)
    return Path(path)


def write_cdt3_checkpoint(
    path: str | Path,
    expressed_mask: np.ndarray,
    *,
    n_bins: int = N_BINS,
    dna_dim: int = DNA_DIM,
    n_train_cells: int = 0,
    seed: int = 2,
) -> Path:
    """The published CDT-III format: the training dict of the best two-stage model, random weights."""
    from cdt.models.cdt3 import CDT3, CDT3Config

    torch.manual_seed(seed)
    model = CDT3(CDT3Config(n_bins=n_bins, dna_dim=dna_dim))
    model_config = {"n_genes": N_GENES, "n_proteins": N_PROTEINS, "hidden_dim": 512, "nhead": 8, "dropout": 0.3}
    config = {
        **model_config,
        "protein_dropout": 0.5,
        "batch_size": 32,
        "n_train_cells": n_train_cells,
        "val_genes": list(HELD_OUT),
        "dsb_mean_threshold": 0.5,
        "dsb_std_threshold": 0.1,
        "n_expressed_proteins": int(expressed_mask.sum()),
    }
    torch.save(
        {
            "model_state_dict": model.state_dict(),
            "config": config,
            "model_config": model_config,
            "val_rna_r": 0.5,
            "val_protein_r": 0.5,
            "epoch": 3,
            "phase": 2,
            "expressed_mask": np.asarray(expressed_mask, dtype=bool),
        },
        path,
    )
    return Path(path)


# ------------------------------------------------------------------------------------------------ CDT v1

V1_GENES, V1_RNA_DIM, V1_PROT_DIM = 2360, 512, 768

# the windows of pilot_full_v2.h5 in file order: chrom, centre (rows 3 and 4 share a key)
V1_WINDOWS: list[tuple[str, int]] = [
    ("chr1", 1_000_000), ("chr1", 2_000_000), ("chr1", 2_000_500), ("chr2", 5_000_000), ("chr2", 5_000_000),
    ("chr3", 7_000_000), ("chr3", 7_001_200), ("chrX", 9_000_000), ("chr5", 3_000_000), ("chr5", 3_010_000),
    ("chr5", 3_020_000), ("chr5", 3_030_000),
]  # fmt: skip

# tested enhancers: chrom, start, end, and the window the authors' lookup gives (row, kind), worked out by hand
V1_ENHANCERS: list[tuple[str, int, int, int, str]] = [
    ("chr1", 999_800, 1_000_200, 0, "exact"),  # mid 1,000,000
    ("chr2", 4_999_900, 5_000_101, 4, "exact"),  # mid 5,000,000: the key's last row
    ("chr1", 2_000_600, 2_000_800, 1, "nearby"),  # mid 2,000,700: row 1 (700 bp) comes before row 2 (200 bp)
    ("chr3", 7_002_000, 7_002_400, 6, "nearby"),  # mid 7,002,200: exactly 1,000 bp from row 6
    ("chr3", 6_998_899, 6_999_099, -1, "none"),  # mid 6,998,999: 1,001 bp from row 5
    ("chr7", 99_900, 100_100, -1, "none"),  # no window on chr7
    ("chr5", 2_999_750, 3_000_250, 8, "exact"),
    ("chr5", 3_009_990, 3_010_010, 9, "exact"),
    ("chr5", 3_019_000, 3_021_000, 10, "exact"),
    ("chrX", 8_999_000, 9_001_000, 7, "exact"),
]
# pairs per file: (enhancer, esm2_idx); esm2_idx >= 9000 is not in the map (the pair is dropped)
V1_PAIRS: dict[str, list[tuple[int, int]]] = {
    "train": [(e, 10 * e + k) for e in range(10) for k in range(4)],  # 40 pairs
    "val": [(0, 2362), (1, 2360), (2, 7), (3, 9001), (4, 11), (5, 12), (6, 13), (7, 9002), (8, 14), (9, 15),
            (2, 16), (4, 17)],  # 12 pairs, 2 unmapped
}  # fmt: skip
V1_TRAIN_UNMAPPED = (5, 17, 33)  # train pairs whose esm2_idx is replaced by an unmapped one (9003, 9004, 9005)


@dataclass
class AuthorsV1Layout:
    """The CDT v1 files written by `write_authors_v1_files` and what they hold."""

    root: Path
    pairs: dict[str, Path]  # split -> gasperini_<split>.h5
    protein_map: Path
    rna: Path
    protein: Path
    windows: Path
    old_to_new: np.ndarray  # [n, 2] as written
    genes: list[str]
    rna_embeddings: np.ndarray
    protein_embeddings: np.ndarray
    esm2_idx: dict[str, np.ndarray]  # split -> esm2_idx per pair, as written


def write_authors_v1_files(out: str | Path, *, seed: int = 0) -> AuthorsV1Layout:
    """Write the authors' six CDT v1 files into `out` at the real per-item dimensions, few items, random content.

    ``pilot_full_v2.h5``: the 12 `V1_WINDOWS` of [896, 3072] float32 (gzip, as `_embeddings`), ``centers``,
    ``chroms``. ``k562_gene_embeddings_aligned.h5`` [2360, 512] (unit rows) and
    ``human_proteomelm_embeddings_aligned.h5`` [2360, 768] with the same ``gene_names``.
    ``protein_index_mapping_aligned.npz``: ``old_to_new`` maps old i -> i (i < 2360) and 2360..2363 -> 0..3,
    2,364 pairs in a shuffled order. ``gasperini_{train,val}.h5``: `V1_PAIRS` (40 + 12 pairs, 3 + 2 of them with
    an esm2_idx outside the map) in the exact dataset layout.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    genes = [f"V1G{i:04d}" for i in range(V1_GENES)]
    rna = rng.standard_normal((V1_GENES, V1_RNA_DIM)).astype(np.float32)
    rna /= np.linalg.norm(rna, axis=1, keepdims=True)
    prot = rng.standard_normal((V1_GENES, V1_PROT_DIM)).astype(np.float32)
    with h5py.File(out / "k562_gene_embeddings_aligned.h5", "w") as h5:
        h5["embeddings"], h5["gene_names"] = rna, _s(genes)
    with h5py.File(out / "human_proteomelm_embeddings_aligned.h5", "w") as h5:
        h5["embeddings"], h5["gene_names"] = prot, _s(genes)
        h5["uniprot_ids"] = _s([f"P{i:05d}" for i in range(V1_GENES)])
    old_to_new = np.array([(i, i) for i in range(V1_GENES)] + [(V1_GENES + k, k) for k in range(4)], np.int64)
    old_to_new = old_to_new[rng.permutation(len(old_to_new))]
    np.savez(out / "protein_index_mapping_aligned.npz", old_to_new=old_to_new)
    with h5py.File(out / "pilot_full_v2.h5", "w") as h5:
        _embeddings(h5, rng, len(V1_WINDOWS), N_BINS, DNA_DIM)
        h5["centers"] = np.array([c for _, c in V1_WINDOWS], np.int64)
        h5["chroms"] = _s([c for c, _ in V1_WINDOWS])
    paths, esm2 = {}, {}
    for split, pairs in V1_PAIRS.items():
        enh = [V1_ENHANCERS[e] for e, _ in pairs]
        idx = np.array([i for _, i in pairs], np.int32)
        if split == "train":
            idx[list(V1_TRAIN_UNMAPPED)] = [9003, 9004, 9005]
        labels = (rng.random(len(pairs)) < 0.3).astype(np.int32)
        paths[split] = out / f"gasperini_{split}.h5"
        with h5py.File(paths[split], "w") as h5:
            h5["enformer_idx"] = rng.integers(0, 5434, len(pairs)).astype(np.int32)
            h5["esm2_idx"] = idx
            h5["labels"] = labels
            h5["gene_ids"] = _s([f"ENSG{int(i):011d}" for i in idx])
            h5["enhancer_chr"] = _s([e[0] for e in enh])
            h5["enhancer_start"] = np.array([e[1] for e in enh], np.int32)
            h5["enhancer_end"] = np.array([e[2] for e in enh], np.int32)
            h5["beta"] = rng.normal(-0.1, 0.3, len(pairs)).astype(np.float32)
            h5.attrs.update(
                {
                    "n_samples": len(pairs),
                    "n_positive": int(labels.sum()),
                    "n_negative": int(len(pairs) - labels.sum()),
                    "source": "GSE120861",
                }
            )
        esm2[split] = idx
    return AuthorsV1Layout(
        root=out,
        pairs=paths,
        protein_map=out / "protein_index_mapping_aligned.npz",
        rna=out / "k562_gene_embeddings_aligned.h5",
        protein=out / "human_proteomelm_embeddings_aligned.h5",
        windows=out / "pilot_full_v2.h5",
        old_to_new=old_to_new,
        genes=genes,
        rna_embeddings=rna,
        protein_embeddings=prot,
        esm2_idx=esm2,
    )


if __name__ == "__main__":
    per_target = None if len(sys.argv) < 3 or sys.argv[2] == "real" else int(sys.argv[2])
    layout = write_authors_files(sys.argv[1], per_target)
    print(f"wrote the authors' files into {layout.root}")

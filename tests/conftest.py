"""Shared small fixtures (seconds, deterministic). Each fixture returns a factory so tests choose sizes.

- ``tiny_screen(**kw)``     -> a valid screen AnnData in the contract of `cdt.data.screen` (TSS, SNP, NTC
                               cells, optional proteins), built from simulated CPM so that X, log2FC and
                               the NTC means obey the contract's formulas exactly.
- ``tiny_dna_store(loci)``  -> path of a DNA store (`cdt.data.dnastore`) with one random [n_bins, dim]
                               embedding per locus id, loci on chr1 at centers 10 kb apart.
- ``authors_files(**kw)``   -> small files in the authors' exact HDF5 layouts (CDT-II effects + Enformer,
                               SNP effects + SNP Enformer, CDT-III effects with ADT, CDT v1 Gasperini),
                               keys, dtypes, byte-string names and attrs as in paper/METHODS.md, 'Authors' file
                               layouts', plus the values written, for assertions. Tests corrupt the files with h5py to
                               exercise the readers' errors.
- ``simulated_genome``      -> directory of the simulator's DNA store, ENCODE peaks, Hi-C and truth tables (tiny).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from cdt.data.dnastore import write_dna_store
from cdt.data.screen import make_screen

os.environ.setdefault("OMP_NUM_THREADS", "1")

# Real hg38 TSS coordinates of a few of the 28 targets (tests/data/morris_28genes_tss.csv), for layouts that carry them.
TSS_COORDS = {
    "B2M": ("chr15", 44711253, "+"),
    "CD52": ("chr1", 26317958, "+"),
    "CD55": ("chr1", 207321519, "+"),
    "CD58": ("chr1", 116571026, "-"),
    "GFI1B": ("chr9", 132944000, "+"),
    "TFRC": ("chr3", 196082162, "-"),
}


def _cpm(rng: np.random.Generator, n: int, n_genes: int) -> np.ndarray:
    """Sparse-ish CPM rows summing to 1e6."""
    counts = rng.poisson(rng.gamma(0.6, 4.0, size=n_genes), size=(n, n_genes)).astype(float)
    counts[:, 0] += 1  # no empty cell
    return counts / counts.sum(1, keepdims=True) * 1e6


@pytest.fixture
def tiny_screen():
    """Factory: ``tiny_screen(n_genes=8, targets=(...), held_out=("GFI1B",), cells_per_target=3, n_ntc=4,
    n_snp_loci=2, n_proteins=0, seed=0)`` -> AnnData. NTC cells have split ``none``, SNP cells ``train``."""

    def make(
        n_genes: int = 8,
        targets: tuple[str, ...] = ("B2M", "CD52", "CD58", "GFI1B"),
        held_out: tuple[str, ...] = ("GFI1B",),
        cells_per_target: int = 3,
        n_ntc: int = 4,
        n_snp_loci: int = 2,
        n_proteins: int = 0,
        seed: int = 0,
    ):
        rng = np.random.default_rng(seed)
        genes = [f"G{i}" for i in range(n_genes - 1)] + ["GFI1B"]
        snps = [f"SNP-{k + 1}" for k in range(n_snp_loci)]
        perts = [t for t in targets for _ in range(cells_per_target)] + [s for s in snps for _ in range(2)]
        kinds = ["TSS" if t in targets else "SNP" for t in perts] + ["NTC"] * n_ntc
        perts += ["NTC"] * n_ntc
        splits = [
            "none" if k == "NTC" else "test" if p in held_out else "train" for p, k in zip(perts, kinds, strict=True)
        ]
        cpm = _cpm(rng, len(perts), n_genes)
        ntc = np.array(kinds) == "NTC"
        ntc_cpm = cpm[ntc].mean(0)
        obs = pd.DataFrame(
            {"perturbation": perts, "kind": kinds, "locus": [p if p != "NTC" else "" for p in perts], "split": splits},
            index=[f"cell{i}" for i in range(len(perts))],
        )
        prot = {}
        if n_proteins:
            dsb = rng.normal(rng.uniform(-1, 2, n_proteins), rng.uniform(0.01, 1, n_proteins), (len(perts), n_proteins))
            prot = {
                "protein": dsb,
                "protein_target": dsb - dsb[ntc].mean(0),
                "protein_names": [f"ADT-{i:04d}" for i in range(n_proteins)],
                "protein_expressed": (dsb[~ntc].mean(0) > 0.5) & (dsb[~ntc].std(0) > 0.1),
            }
        return make_screen(
            np.log1p(cpm),
            np.log2((cpm + 1) / (ntc_cpm + 1)),
            obs,
            genes,
            ntc_cpm,
            np.log1p(cpm[ntc]).mean(0),
            source="tiny_screen fixture",
            held_out=held_out,
            **prot,
        )

    return make


@pytest.fixture
def tiny_dna_store(tmp_path):
    """Factory: ``tiny_dna_store(loci, n_bins=8, dim=4, seed=0, path=None)`` -> Path of a DNA store."""

    def make(loci, n_bins: int = 8, dim: int = 4, seed: int = 0, path: Path | None = None) -> Path:
        rng = np.random.default_rng(seed)
        loci = list(loci)
        table = pd.DataFrame(
            {
                "locus_id": loci,
                "chrom": "chr1",
                "center": [10_000 * (i + 1) for i in range(len(loci))],
                "strand": ["+" if i % 2 == 0 else "-" for i in range(len(loci))],
            }
        )
        emb = {k: rng.normal(size=(n_bins, dim)).astype(np.float32) for k in loci}
        return write_dna_store(path or tmp_path / "dna.h5", emb, table, model="tiny_dna_store fixture")

    return make


# --------------------------------------------------------------------------------- the authors' layouts


@dataclass
class AuthorsFiles:
    """Paths of the written files and the values in them (arrays in file row order)."""

    effects: Path
    enformer: Path
    snp_effects: Path
    snp_enformer: Path
    adt: Path
    gasperini: Path
    genes: list[str]
    targets: list[str]  # target_gene_names (alphabetical)
    target_idx: np.ndarray  # [n] per TSS cell
    log2fc: np.ndarray
    cell_expr: np.ndarray
    ntc_mean_cpm: np.ndarray
    ntc_mean_expr: np.ndarray
    enformer_genes: list[str]  # file row order (CSV order, differs from targets)
    embeddings: np.ndarray  # [rows, n_bins, dim]
    snp_names: list[str]
    snp_idx: np.ndarray
    snp_log2fc: np.ndarray
    snp_cell_expr: np.ndarray
    snp_ids: np.ndarray  # rows of the SNP Enformer file
    snp_embeddings: np.ndarray
    adt_rows: np.ndarray  # ADT-file row -> TSS-file row
    protein_dsb: np.ndarray  # in ADT-file order
    protein_effect: np.ndarray
    protein_names: list[str]
    gasperini_values: dict = field(default_factory=dict)


def _s(names) -> np.ndarray:
    """Byte strings, as the authors' files store names."""
    return np.array([n.encode() for n in names], dtype="S")


@pytest.fixture
def authors_files(tmp_path):
    """Factory: ``authors_files(n_bins=8, dim=4, seed=0, adt_shuffle=True)`` -> `AuthorsFiles`.

    TSS file: 5 targets (B2M, CD52, CD58, GFI1B, TFRC; held out: CD52, GFI1B, TFRC; TFRC not in the gene
    universe, as in the real data), 3 cells each, 8 genes; Enformer file: 6 genes in a non-alphabetical
    order incl. CD55 without cells; SNP file: 3 loci ("SNP-<id>"), the SNP Enformer file has 4 ids in
    another order; ADT file: 5 proteins, rows shuffled relative to the TSS file when `adt_shuffle`.
    """

    def make(n_bins: int = 8, dim: int = 4, seed: int = 0, adt_shuffle: bool = True) -> AuthorsFiles:
        rng = np.random.default_rng(seed)
        genes = ["ACTB", "GAPDH", "CD52", "HBG1", "LMO2", "MYB", "TAL1", "GFI1B"]
        targets = ["B2M", "CD52", "CD58", "GFI1B", "TFRC"]
        idx = np.repeat(np.arange(len(targets)), 3)
        n, g = len(idx), len(genes)
        cpm = _cpm(rng, n, g)
        ntc_cpm = rng.gamma(2.0, 50.0, g)
        ntc_expr = np.log1p(ntc_cpm) - 0.1
        log2fc = np.log2((cpm + 1) / (ntc_cpm + 1)).astype(np.float32)
        expr = np.log1p(cpm).astype(np.float32)
        barcodes = [f"AAAC{i:04d}-1_{'ABCD'[i % 4]}" for i in range(n)]
        original = np.arange(n) * 7 + 3

        d = tmp_path / "authors"
        d.mkdir(exist_ok=True)
        effects = d / "morris_celllevel_effects_2361.h5"
        with h5py.File(effects, "w") as h5:
            h5["log2fc"], h5["cell_expr"] = log2fc, expr
            h5["target_gene_idx"] = idx.astype(np.int64)
            h5["target_gene_names"] = _s(targets)
            h5["n_cells_per_gene"] = np.bincount(idx).astype(np.int64)
            h5["gene_names_cdt"] = _s(genes)
            h5["ntc_mean_expr"], h5["ntc_mean_cpm"] = ntc_expr, ntc_cpm
            h5["gene_indices_in_full"] = np.arange(g, dtype=np.int64) * 3
            h5["original_cell_idx"] = original
            h5["cell_barcodes"] = _s(barcodes)
            h5["train_genes"] = _s(["B2M", "CD58"])
            h5["val_genes"] = _s(["CD52", "GFI1B", "TFRC"])
            h5.attrs.update(
                {
                    "gene_list": "CDT 2360 + GFI1B = 2361",
                    "method": "per-cell log2((cell_CPM + 1) / (NTC_mean_CPM + 1))",
                    "n_cdt_genes": g,
                    "n_cells": n,
                    "n_ntc_cells": 4,
                    "n_target_genes": len(targets),
                    "n_train_genes": 2,
                    "n_val_genes": 3,
                    "rna_input": "per-cell log1p(CPM)",
                    "split_method": "gene-level",
                    "stage": "stage1_5",
                    "umi_threshold": 50,
                    "val_genes_str": "GFI1B,CD52,TFRC",
                }
            )

        enf_genes = ["CD52", "CD58", "CD55", "B2M", "TFRC", "GFI1B"]  # CSV-like order, CD55 without cells
        emb = rng.normal(size=(len(enf_genes), n_bins, dim)).astype(np.float32)
        enformer = d / "morris_28genes_enformer.h5"
        with h5py.File(enformer, "w") as h5:
            h5.create_dataset("embeddings", data=emb, compression="gzip", compression_opts=4)
            h5["gene_names"] = _s(enf_genes)
            h5["chroms"] = _s([TSS_COORDS[x][0] for x in enf_genes])
            h5["tss_coords"] = np.array([TSS_COORDS[x][1] for x in enf_genes], dtype=np.int64)
            h5["strands"] = _s([TSS_COORDS[x][2] for x in enf_genes])
            h5["ensembl_ids"] = _s([f"ENSG{i:011d}" for i in range(len(enf_genes))])
            h5.attrs.update(
                {
                    "n_genes": len(enf_genes),
                    "n_bins": n_bins,
                    "embedding_dim": dim,
                    "seq_length": 196608,
                    "description": "Enformer trunk embeddings, TSS-centred",
                }
            )

        snp_names = ["SNP-5", "SNP-12", "SNP-40"]
        snp_idx = np.array([0, 0, 1, 2, 2, 2])
        scpm = _cpm(rng, len(snp_idx), g)
        snp_log2fc = np.log2((scpm + 1) / (ntc_cpm + 1)).astype(np.float32)
        snp_expr = np.log1p(scpm).astype(np.float32)
        snp_effects = d / "morris_snp_celllevel_effects_2361.h5"
        with h5py.File(snp_effects, "w") as h5:
            h5["log2fc"], h5["cell_expr"] = snp_log2fc, snp_expr
            h5["perturbation_idx"] = snp_idx.astype(np.int64)
            h5["snp_loci_names"] = _s(snp_names)
            h5["snp_ids"] = np.array([5, 12, 40], dtype=np.int64)
            h5["n_cells_per_locus"] = np.bincount(snp_idx).astype(np.int64)
            h5.attrs.update({"n_cells": len(snp_idx), "n_loci": len(snp_names)})
        snp_ids = np.array([40, 7, 5, 12], dtype=np.int64)  # another order + an unreferenced id
        snp_emb = rng.normal(size=(len(snp_ids), n_bins, dim)).astype(np.float32)
        snp_enformer = d / "morris_snp_enformer.h5"
        with h5py.File(snp_enformer, "w") as h5:
            h5["embeddings"], h5["snp_ids"] = snp_emb, snp_ids

        adt_rows = rng.permutation(n) if adt_shuffle else np.arange(n)
        prot_names = [f"ADT-{k:04d}" for k in (33, 394, 142, 134, 217)]
        centre = np.array([1.5, 0.2, 3.0, 0.8, -0.5])
        sd = np.array([1.0, 1.0, 0.05, 0.5, 0.3])
        dsb = (centre + sd * rng.normal(size=(n, len(centre)))).astype(np.float32)
        ntc_prot = rng.normal(size=len(centre)).astype(np.float32)
        adt = d / "morris_celllevel_effects_with_adt.h5"
        with h5py.File(adt, "w") as h5:
            h5["log2fc"] = log2fc[adt_rows]
            h5.create_dataset("cell_expr", data=expr[adt_rows], compression="gzip")
            h5["target_gene_idx"] = idx[adt_rows].astype(np.int64)
            h5["gene_names_cdt"], h5["target_gene_names"] = _s(genes), _s(targets)
            h5["train_genes"], h5["val_genes"] = _s(["B2M", "CD58"]), _s(["CD52", "GFI1B", "TFRC"])
            h5["ntc_mean_expr"], h5["n_cells_per_gene"] = ntc_expr, np.bincount(idx).astype(np.int64)
            h5["cell_barcodes"] = _s([barcodes[i] for i in adt_rows])
            h5["original_cell_idx"] = original[adt_rows]
            h5.create_dataset("protein_effect", data=dsb - ntc_prot, compression="gzip")
            h5.create_dataset("protein_dsb", data=dsb, compression="gzip")
            h5["protein_names"] = _s(prot_names)
            h5["ntc_mean_protein"] = ntc_prot
            h5["protein_matched_mask"] = np.ones(n, bool)
            h5["overlap_adt_ids"], h5["overlap_gene_symbols"] = _s(["ADT-0033"]), _s(["CD52"])
            h5.attrs.update(
                {
                    "n_cells": n,
                    "n_genes": g,
                    "n_proteins": len(prot_names),
                    "n_cells_with_protein": n,
                    "n_ntc_cells": 4,
                    "n_overlapping_genes": 1,
                    "protein_normalization": "DSB",
                    "protein_target": "DSB_difference",
                }
            )

        gas = {
            "enformer_idx": np.array([4, 9, 1], np.int32),
            "esm2_idx": np.array([100, 2, 57], np.int32),
            "labels": np.array([1, 0, 0], np.int32),
            "gene_ids": _s(["ENSG00000187550"] * 2 + ["ENSG00000000003"]),
            "enhancer_chr": _s(["chr1", "chr1", "chrX"]),
            "enhancer_start": np.array([33592642, 1000, 501], np.int32),
            "enhancer_end": np.array([33593311, 1601, 1000], np.int32),
            "beta": np.array([-1.3102, -0.05, -0.0001], np.float32),
        }
        gasperini = d / "gasperini_val.h5"
        with h5py.File(gasperini, "w") as h5:
            for k, v in gas.items():
                h5[k] = v
            h5.attrs.update({"n_samples": 3, "n_positive": 1, "n_negative": 2, "source": "GSE120861"})

        return AuthorsFiles(
            effects=effects,
            enformer=enformer,
            snp_effects=snp_effects,
            snp_enformer=snp_enformer,
            adt=adt,
            gasperini=gasperini,
            genes=genes,
            targets=targets,
            target_idx=idx,
            log2fc=log2fc,
            cell_expr=expr,
            ntc_mean_cpm=ntc_cpm,
            ntc_mean_expr=ntc_expr,
            enformer_genes=enf_genes,
            embeddings=emb,
            snp_names=snp_names,
            snp_idx=snp_idx,
            snp_log2fc=snp_log2fc,
            snp_cell_expr=snp_expr,
            snp_ids=snp_ids,
            snp_embeddings=snp_emb,
            adt_rows=adt_rows,
            protein_dsb=dsb,
            protein_effect=dsb - ntc_prot,
            protein_names=prot_names,
            gasperini_values=gas,
        )

    return make


@pytest.fixture(scope="session")
def simulated_genome(tmp_path_factory):
    """The simulator's genome half (what `simulate` writes for DNA, ENCODE and Hi-C), tiny preset, 16 TSS loci on
    two short synthetic chromosomes (so Hi-C expected tables stay cheap). Shared by the ENCODE and Hi-C tests."""
    from cdt.config import get_preset
    from cdt.simulate.genome import simulate_genome

    loci = pd.DataFrame(
        [
            dict(
                locus_id=f"G{i}",
                chrom="chrA" if i < 8 else "chrB",
                center=300_000 + 150_000 * (i % 8),
                strand="+-"[i % 2],
                kind="TSS",
                gene=f"G{i}",
            )
            for i in range(16)
        ]
    )
    out = tmp_path_factory.mktemp("sim")
    simulate_genome(get_preset("tiny"), loci, out, np.random.default_rng(0))
    return out

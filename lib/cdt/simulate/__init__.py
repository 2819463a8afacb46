"""The ground-truth simulator: a complete K562-like CRISPRi screen in the real formats, with the truth beside it.

`simulate(preset, seed, out)` writes the layout of TEAM.md "Simulator output directory":
the screen half (this package's screen/proteins/annotations modules: raw counts, guide UMIs, ADT counts,
the second screen, processed screens, gene sets, side effects, the network truth) and then calls the genome
half (`genome.simulate_genome`: DNA windows, ENCODE, Hi-C) and CDT v1 (`v1.simulate_v1`). Each part draws from
its own child of `SeedSequence(seed)`, so each is deterministic on its own.

The processed screens are made from the raw files by `cdt.pp.prepare` (the same code a user runs on real
data), with CPM per 10,000 counts (`screen.CPM_SCALE`) and the authors' isotype z-score for proteins.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from rich.console import Console
from sklearn.metrics import roc_auc_score

from cdt.config import HELD_OUT_GENES, Preset, get_preset
from cdt.data.staging import staged_output
from cdt.pp.prepare import prepare
from cdt.simulate import proteins, screen
from cdt.simulate.annotations import simulated_side_effects, write_genesets
from cdt.simulate.genome import LOCI_COLUMNS, OPTIONAL_LOCI_COLUMNS
from cdt.simulate.screen import GeneDesign

N_VAL_GENES = 3
PROTEIN_METHOD = "isotype_z"  # the authors' DSB-like normalisation (fast; `dsb` via muon also works on raw/)


class _Log:
    """Stage timer that prints what is being done when `progress` is on."""

    def __init__(self, progress: bool):
        self.progress = progress
        # in a notebook kernel: one plain line per stage on stdout (no red stderr box, no wrapping at 80 columns)
        self.plain = "ipykernel" in sys.modules
        self.console = Console(stderr=True, quiet=not progress, log_path=False)
        self.t0 = self.last = time.perf_counter()
        self.timing: dict[str, float] = {}

    def done(self, stage: str, detail: str = "") -> None:
        now = time.perf_counter()
        self.timing[stage] = round(now - self.last, 2)
        self.last = now
        line = f"simulate | {stage}: {detail} ({self.timing[stage]:.1f} s)"
        if self.plain and self.progress:
            print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)
        else:
            self.console.log(line, markup=False)


def child_rngs(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators for each part of the simulation (order fixed: adding a part appends a child)."""
    parts = ("screen", "proteins", "annotations", "genome", "v1")
    return {
        name: np.random.default_rng(s) for name, s in zip(parts, np.random.SeedSequence(seed).spawn(5), strict=True)
    }


def simulate(preset: Preset | str, seed: int, out: Path, progress: bool = True) -> dict:
    """Write the whole simulated data set to `out` and return the manifest (also written to manifest.json).

    The files are made in a staging directory beside `out` and moved in at the end, manifest.json last: an
    interrupted or failed run leaves an earlier data set in `out` as it was.
    """
    from cdt.simulate.genome import simulate_genome
    from cdt.simulate.v1 import simulate_v1

    preset = get_preset(preset) if isinstance(preset, str) else preset
    out = Path(out)
    log = _Log(progress)
    rngs = child_rngs(seed)
    with staged_output(out, last="manifest.json") as stage:  # `out` changes only once every file is made
        manifest, loci, curated = simulate_screen(preset, seed, stage, log=log)
        simulate_genome(preset, loci.loc[:, [*LOCI_COLUMNS, *OPTIONAL_LOCI_COLUMNS]], stage, rngs["genome"])
        log.done("genome", "DNA windows, ENCODE peaks and tracks, Hi-C")
        simulate_v1(preset, curated[: preset.v1_n_genes], stage, rngs["v1"])
        log.done("v1", "CDT v1 enhancer-gene pairs and embeddings")
        manifest = write_manifest(stage, manifest, log)
    log.console.log(f"simulate | {len(manifest['files'])} files -> {out}", markup=False)
    return manifest


def simulate_screen(
    preset: Preset | str, seed: int, out: Path, progress: bool = False, log: _Log | None = None
) -> tuple[dict, pd.DataFrame, list[str]]:
    """The screen half: everything but the genome and CDT v1 files (the same files `simulate` writes for them).

    Returns the manifest without files/timings, the loci table and the curated genes in screen order.
    """
    preset = get_preset(preset) if isinstance(preset, str) else preset
    log = log or _Log(progress)
    rngs = child_rngs(seed)
    out = Path(out)
    for sub in ("raw", "processed", "truth", "external/genesets"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    rng = rngs["screen"]

    panel = proteins.design_panel(preset, rngs["proteins"])
    extra = list(proteins.OVERLAP_EXTRA[: proteins.overlap_extra_count(preset)])
    design = screen.design_genes(preset, rng, extra)
    wiring, cd52_rna_edges = proteins.wire(panel, design, rngs["proteins"])
    design.add_edges(cd52_rna_edges)
    loci = screen.build_loci(preset, design, rng)
    log.done("design", f"{len(design.genes)} genes, {int(np.count_nonzero(design.W))} edges, {len(loci)} loci")

    cells, guides, snp_given = screen.design_cells(preset, design, loci, rng)
    keep = proteins.wiring_genes(wiring, design)
    counts, rna_change = screen.sample_counts(design, cells, rng, keep)
    adt = proteins.simulate_adt(panel, wiring, design, cells, rna_change, keep, rngs["proteins"])
    log.done("cells", f"{len(cells)} barcodes, {counts.nnz} non-zero counts, {adt.n_obs} ADT droplets")

    raw_cols = design.genes.index.get_indexer(design.raw_order)
    barcodes = cells.table["barcode"].tolist()
    rna = ad.AnnData(
        X=counts[:, raw_cols],
        obs=pd.DataFrame(index=pd.Index(barcodes, name="barcode")),
        var=pd.DataFrame(index=pd.Index(design.raw_order, name="gene")),
    )
    paths = {
        "counts": out / "raw" / "rna_counts.h5ad",
        "guides": out / "raw" / "guide_umis.csv",
        "snp": out / "raw" / "snp_assignments.csv",
        "adt": out / "raw" / "adt_counts.h5ad",
        "screen2": out / "raw" / "screen2_detection.csv",
    }
    rna.write_h5ad(paths["counts"])
    guides.to_csv(paths["guides"], index=False)
    snp_given.to_csv(paths["snp"], index=False)
    adt.write_h5ad(paths["adt"])
    listed = design.genes.loc[design.raw_order]
    listed = listed[listed["category"] != "excluded"]  # the second screen's list had no MT-/RP/HB genes
    pd.DataFrame({"gene": listed.index, "detection_rate": listed["det2"].round(4).to_numpy()}).to_csv(
        paths["screen2"], index=False
    )
    log.done("raw", f"written under {out / 'raw'}")

    with_cells = [g for g in screen.target_cell_counts(preset) if g not in HELD_OUT_GENES]
    val_genes = sorted(rng.choice(with_cells, N_VAL_GENES, replace=False).tolist())
    prepared = prepare(
        paths["counts"],
        paths["guides"],
        out / "processed",
        snp_assignments=paths["snp"],
        second_screen=paths["screen2"],
        adt=paths["adt"],
        val_genes=val_genes,
        protein_method=PROTEIN_METHOD,
        seed=seed,
        cpm_scale=screen.CPM_SCALE,
    )
    cur = ad.read_h5ad(prepared.curated)
    full = ad.read_h5ad(prepared.full)
    if cur.n_vars != preset.n_genes or cur.var_names.tolist() != design.curated:
        raise RuntimeError(
            f"simulator: the curation rule kept {cur.n_vars} genes, the design has {preset.n_genes} "
            f"({len(set(cur.var_names) ^ set(design.curated))} differ); detection margins too small"
        )
    log.done("processed", f"curated {cur.shape}, full {full.shape} -> {out / 'processed'}")

    planted = write_genesets(design, out / "external" / "genesets", rngs["annotations"])
    simulated_side_effects(panel.names).to_csv(out / "external" / "side_effects.csv", index=False)
    truth = out / "truth"
    design.edges().to_csv(truth / "network_edges.csv", index=False)
    design.modules.to_csv(truth / "modules.csv", index=False)
    wiring.to_csv(truth / "protein_wiring.csv", index=False)
    planted.to_csv(truth / "planted_terms.csv", index=False)
    gene_cols = ["chrom", "tss", "strand", "category", "module", "base", "det2", "curated", "full"]
    design.genes.loc[design.raw_order, gene_cols].round(4).reset_index().to_csv(truth / "genes.csv", index=False)
    loci.to_csv(truth / "loci.csv", index=False)
    cells.table.to_csv(truth / "cells.csv", index=False)
    log.done("annotations", "gene sets, side effects, truth tables")

    manifest = {
        "preset": preset.name,
        "seed": seed,
        "cpm_scale": screen.CPM_SCALE,
        "protein_method": PROTEIN_METHOD,
        "held_out": list(HELD_OUT_GENES),
        "val_genes": val_genes,
        "summary": summary(cur, full, design, prepared.qc, panel),
    }
    return manifest, loci, cur.var_names.tolist()


def write_manifest(out: Path, manifest: dict, log: _Log) -> dict:
    """Add the file list and timings, write manifest.json, return it."""
    out = Path(out)
    manifest["files"] = sorted(
        str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != "manifest.json"
    )
    manifest["seconds"] = {**log.timing, "total": round(time.perf_counter() - log.t0, 2)}
    (out / "manifest.json").write_text(json.dumps(_plain(manifest), indent=2) + "\n")
    log.console.log(f"simulate | manifest -> {out / 'manifest.json'}", markup=False)
    return manifest


def summary(cur: ad.AnnData, full: ad.AnnData, design: GeneDesign, qc: pd.DataFrame, panel: proteins.Panel) -> dict:
    """Statistics of the curated screen to compare with the published one, and checks that the truth shows."""
    kind = cur.obs["kind"].astype(str).to_numpy()
    pert = cur.obs["perturbation"].astype(str)
    tss, snp = kind == "TSS", kind == "SNP"
    lfc = np.asarray(cur.layers["log2fc"])
    nonzero = (np.asarray(cur.X[tss]) > 0).sum(axis=1)
    per_target = pert[tss].value_counts()
    per_locus = pert[snp].value_counts()
    status = dict(zip(qc["status"], qc["n_cells"].astype(int), strict=True))

    gfi1b = (pert == "GFI1B").to_numpy()
    others = [g for g in cur.var_names if g != "GFI1B"]
    effect = np.abs(lfc[gfi1b][:, cur.var_names.get_indexer(others)].mean(axis=0))
    pos = design.position
    is_target = np.array([design.T[pos["GFI1B"], pos[g]] != 0 for g in others])
    return {
        "cells": {
            "raw_barcodes": int(qc.loc[qc["status"] == "total", "n_cells"].iloc[0]),
            "TSS": int(tss.sum()),
            "SNP": int(snp.sum()),
            "NTC": int((kind == "NTC").sum()),
            "multiplet": status.get("multiplet", 0),
            "unassigned": status.get("unassigned", 0),
        },
        "cells_per_target": {
            "mean": round(float(per_target.mean()), 1),
            "min": int(per_target.min()),
            "max": int(per_target.max()),
            "n_targets": int(len(per_target)),
        },
        "cells_per_snp": {
            "n_loci": int(len(per_locus)),
            "mean": round(float(per_locus.mean()), 1),
            "median": float(per_locus.median()),
        },
        "genes": {"curated": int(cur.n_vars), "full": int(full.n_vars), "raw": int(len(design.genes))},
        "log2fc_tss": {
            "mean": round(float(lfc[tss].mean()), 4),
            "sd": round(float(lfc[tss].std()), 4),
            "published_mean": -0.0393,
            "published_sd": 0.3175,
        },
        "log2fc_snp": {
            "mean": round(float(lfc[snp].mean()), 4),
            "sd": round(float(lfc[snp].std()), 4),
            "published_mean": -0.0493,
            "published_sd": 0.3417,
        },
        "nonzero_per_cell": {
            "mean": round(float(nonzero.mean()), 1),
            "fraction": round(float(nonzero.mean() / cur.n_vars), 3),
            "published_fraction": 0.249,
        },
        "network": {
            "edges": int(np.count_nonzero(design.W)),
            "gfi1b_direct_targets": int(np.count_nonzero(design.W[pos["GFI1B"]])),
            "gfi1b_downstream": int(np.count_nonzero(design.T[pos["GFI1B"]])),
        },
        "gfi1b_target_auroc": round(float(roc_auc_score(is_target, effect)), 3),
        "proteins": {
            "n": len(panel.names),
            "expressed_designed": len(panel.expressed),
            "cd52": proteins.cd52_summary(cur),
        },
        "ablation_mean_effect_r": {"curated": round(mean_effect_r(cur), 3), "full": round(mean_effect_r(full), 3)},
    }


def mean_effect_r(scr: ad.AnnData) -> float:
    """Baseline on held-out targets: does the mean training effect predict each held-out target's pseudo-bulk
    effect? Effects are mean log2FC minus the mean over NTC cells, the prediction against one half of the NTC
    cells and the observation against the other (so their shared noise does not count as agreement).
    Pearson r over genes, averaged over the held-out targets."""
    lfc = np.asarray(scr.layers["log2fc"])
    split = scr.obs["split"].astype(str).to_numpy()
    kind = scr.obs["kind"].astype(str).to_numpy()
    pert = scr.obs["perturbation"].astype(str).to_numpy()
    ntc = np.flatnonzero(kind == "NTC")
    half = len(ntc) // 2
    pred = lfc[(split == "train") & (kind == "TSS")].mean(axis=0) - lfc[ntc[:half]].mean(axis=0)
    base = lfc[ntc[half:]].mean(axis=0)
    rs = [
        np.corrcoef(pred, lfc[(split == "test") & (pert == g)].mean(axis=0) - base)[0, 1]
        for g in HELD_OUT_GENES
        if ((split == "test") & (pert == g)).any()
    ]
    return float(np.mean(rs))


def _plain(obj):
    """JSON-safe copy (numpy scalars and arrays to Python types)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


__all__ = ["child_rngs", "mean_effect_r", "simulate", "simulate_screen", "summary", "write_manifest"]

"""CDT v1 task: enhancer-gene pairs with Gasperini-like effects, enhancer-centred DNA windows, fixed gene embeddings.

Genome: genes sit in neighbourhoods of 3-8 TSSs within ~1.2 Mb (Gasperini tested each DHS against the genes within
1 Mb). Each tested enhancer lies in a neighbourhood (a quarter of them close enough that a gene's promoter is inside
the enhancer's DNA window) and is paired with 1 + Poisson(0.4) of its genes, favouring near ones.

Effect of silencing enhancer e on gene g:
    effect = K * a_e^1.5 * s_g * exp(-|d| / 200 kb) * 0.75^(CTCF sites in the window between enhancer and TSS)
    beta   = -effect * lognormal(0, 0.3) + N(0, 0.01)
a_e is the enhancer's strength (planted in its DNA window), s_g the gene's sensitivity (encoded in both gene
embeddings), d the enhancer-TSS distance; K sets the mean effect to Gasperini's 0.11. So betas are mostly <= 0 and
heavy-tailed, and a model can learn them only from the DNA and the target gene's embeddings.
"""

from __future__ import annotations

import logging
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from cdt.config import Preset
from cdt.pp.v1 import enhancer_split
from cdt.simulate.genome import (
    HG38_CHROMSIZES,
    LENGTH,
    element_table,
    plant_elements,
    promoter_interval,
    window_elements,
    write_windows,
)

log = logging.getLogger(__name__)

CLUSTER_SIZE = (3, 8)  # genes per neighbourhood
CLUSTER_SPAN = 1_200_000  # bp spanned by a neighbourhood's TSSs
FLANK = 200_000  # enhancers may lie this far outside the span
PROXIMAL_FRACTION = 0.25  # enhancers placed inside a TSS's DNA window
EXTRA_TARGETS = 0.4  # Poisson mean of extra genes tested per enhancer
DECAY_BP, TARGET_DECAY_BP = 200_000, 300_000  # effect decay with distance; preference for near targets
INSULATION = 0.75  # effect factor per CTCF site between enhancer and TSS
MEAN_EFFECT = 0.11  # Gasperini: mean beta -0.109
SIGNIFICANT_BETA = -0.5  # `label` (stand-in for padj < 0.05)
VAL_FRACTION = 0.15  # the authors' pair-level split: 85/15 train/val
LATENT_DIM = 8  # gene properties behind both embeddings; coordinate 0 is the sensitivity


def v1_gene_names(genes: list[str], n: int) -> list[str]:
    """The first `n` of `genes`, topped up with synthetic names (V1G0001, ...) when there are fewer."""
    names = list(dict.fromkeys(str(g) for g in genes))[:n]
    k = 1
    while len(names) < n:
        name = f"V1G{k:04d}"
        if name not in names:
            names.append(name)
        k += 1
    return names


def gene_embeddings(n: int, rna_dim: int, prot_dim: int, rng: np.random.Generator):
    """Fixed RNA (unit-norm, scGPT-like) and protein embeddings `[n, dim]` from shared latent gene properties.

    Returns (rna [n, rna_dim], protein [n, prot_dim], sensitivity [n]); sensitivity = exp(0.6 z0) is readable from both.
    """
    z = rng.standard_normal((n, LATENT_DIM))
    rna = z @ rng.normal(0, LATENT_DIM**-0.5, (LATENT_DIM, rna_dim)) + 0.5 * rng.standard_normal((n, rna_dim))
    rna /= np.linalg.norm(rna, axis=1, keepdims=True) + 1e-8
    prot = z @ rng.normal(0, LATENT_DIM**-0.5, (LATENT_DIM, prot_dim)) + 0.5 * rng.standard_normal((n, prot_dim))
    return rna.astype(np.float32), prot.astype(np.float32), np.exp(0.6 * z[:, 0])


def place_genes(names: list[str], rng: np.random.Generator) -> pd.DataFrame:
    """TSSs in neighbourhoods on chr1-22/X, spread over each chromosome. Columns: gene, chrom, tss, strand, cluster."""
    sizes = []
    while sum(sizes) < len(names):
        sizes.append(int(rng.integers(CLUSTER_SIZE[0], CLUSTER_SIZE[1] + 1)))
    sizes[-1] -= sum(sizes) - len(names)
    chroms = [c for c in HG38_CHROMSIZES if c != "chrY"]
    length = np.array([HG38_CHROMSIZES[c] for c in chroms], float)
    home = rng.choice(len(chroms), size=len(sizes), p=length / length.sum())
    rows, g = [], 0
    for ci, chrom in enumerate(chroms):
        members = np.flatnonzero(home == ci)
        seg = (HG38_CHROMSIZES[chrom] - 4 * FLANK) / max(len(members), 1)  # one neighbourhood per segment
        for j, k in enumerate(members):
            start = 2 * FLANK + j * seg + rng.uniform(0, max(seg - CLUSTER_SPAN - 2 * FLANK, 0))
            tss = (
                start + np.sort(rng.uniform(0, CLUSTER_SPAN - 5_000 * sizes[k], sizes[k])) + 5_000 * np.arange(sizes[k])
            )
            for t in tss:
                rows.append((names[g], chrom, int(t), str(rng.choice(["+", "-"])), int(k)))
                g += 1
    genes = pd.DataFrame(rows, columns=["gene", "chrom", "tss", "strand", "cluster"])
    return genes.set_index("gene").loc[names].reset_index()  # back to embedding order


def place_enhancers(
    genes: pd.DataFrame, n_pairs: int, half_window: int, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tested enhancers and their pairs (exactly `n_pairs`).

    Returns enhancers (enhancer_id, chrom, start, end, center, strength) and pairs (enhancer_id, target_gene, tss).
    """
    clusters = [g for _, g in genes.groupby("cluster", sort=True)]
    weight = np.array([len(c) for c in clusters], float)
    taken: dict[int, list[int]] = {}
    enh_rows, pair_rows = [], []
    while len(pair_rows) < n_pairs:
        k = int(rng.choice(len(clusters), p=weight / weight.sum()))
        c = clusters[k]
        tss = c["tss"].to_numpy()
        anchor = int(rng.integers(len(c))) if rng.random() < PROXIMAL_FRACTION else None
        for _attempt in range(20):
            if anchor is not None:
                offset = rng.uniform(1_500, max(2_000, 0.9 * half_window))
                center = int(tss[anchor] + rng.choice([-1, 1]) * offset)
            else:
                center = int(rng.uniform(tss.min() - FLANK, tss.max() + FLANK))
            if np.abs(tss - center).min() >= 1_500 and all(abs(center - o) >= 2_000 for o in taken.get(k, [])):
                break
        else:
            continue
        taken.setdefault(k, []).append(center)
        length = int(rng.integers(LENGTH["enhancer"][0], LENGTH["enhancer"][1] + 1))
        start = center - length // 2
        end = start + length
        chrom = c["chrom"].iloc[0]
        enhancer_id = f"{chrom}:{start}-{end}"
        enh_rows.append((enhancer_id, chrom, start, end, (start + end) // 2, float(rng.lognormal(0.0, 0.5))))
        n_targets = min(1 + rng.poisson(EXTRA_TARGETS), len(c), n_pairs - len(pair_rows))
        p = np.exp(-np.abs(tss - center) / TARGET_DECAY_BP)
        if anchor is not None:
            p[anchor] = 0.0
        others = rng.choice(len(c), size=n_targets - (anchor is not None), replace=False, p=p / p.sum())
        for t in ([anchor] if anchor is not None else []) + list(others):
            pair_rows.append((enhancer_id, c["gene"].iloc[t], int(tss[t])))
    enhancers = pd.DataFrame(enh_rows, columns=["enhancer_id", "chrom", "start", "end", "center", "strength"])
    pairs = pd.DataFrame(pair_rows, columns=["enhancer_id", "target_gene", "tss"])
    return enhancers, pairs


def ctcf_between(pairs: pd.DataFrame, truth: pd.DataFrame) -> np.ndarray:
    """Per pair, CTCF sites of the enhancer's window lying between the enhancer centre and the TSS (or towards it)."""
    ctcf = truth.loc[truth["element"] == "CTCF", ["locus_id", "summit"]]
    m = pairs.reset_index().merge(ctcf, left_on="enhancer_id", right_on="locus_id", how="inner")
    lo, hi = np.minimum(m["center"], m["tss"]), np.maximum(m["center"], m["tss"])
    inside = (m["summit"] > lo) & (m["summit"] < hi)
    return inside.groupby(m["index"]).sum().reindex(pairs.index, fill_value=0).to_numpy()


def pair_split(pairs: pd.DataFrame, seed: int) -> np.ndarray:
    """The authors' variant: pairs split at random (stratified by label), so enhancers can sit in both splits."""
    strat = pairs["label"] if pairs["label"].value_counts().min() >= 2 else None
    _, val = train_test_split(pairs.index.to_numpy(), test_size=VAL_FRACTION, random_state=seed, stratify=strat)
    return np.where(pairs.index.isin(val), "val", "train")


def simulate_v1(preset: Preset, genes: list[str], out: Path, rng: np.random.Generator) -> None:
    """Write v1/pairs.csv, v1/embeddings.h5, v1/dna_enhancers.h5 and truth/v1_elements.csv."""
    out = Path(out)
    names = v1_gene_names(genes, preset.v1_n_genes)
    rna, prot, sensitivity = gene_embeddings(len(names), preset.v1_rna_emb_dim, preset.v1_prot_emb_dim, rng)
    layout = place_genes(names, rng)
    half = (preset.n_bins // 2) * preset.bin_size
    enhancers, pairs = place_enhancers(layout, preset.n_v1_pairs, half, rng)

    # the genome: every gene's promoter and every tested enhancer, then random elements in each enhancer window
    promoters = []
    for g, strength in zip(layout.itertuples(), rng.lognormal(0.2, 0.3, len(layout)), strict=True):
        start, end = promoter_interval(g.tss, g.strand)
        promoters.append(
            {
                "element": "promoter",
                "chrom": g.chrom,
                "start": start,
                "end": end,
                "summit": g.tss,
                "strength": float(strength),
                "gene": g.gene,
                "owner": g.gene,
            }
        )
    tested = [
        {
            "element": "enhancer",
            "chrom": e.chrom,
            "start": e.start,
            "end": e.end,
            "summit": e.center,
            "strength": e.strength,
            "gene": "",
            "owner": e.enhancer_id,
        }
        for e in enhancers.itertuples()
    ]
    windows = pd.DataFrame(
        {
            "locus_id": enhancers["enhancer_id"],
            "chrom": enhancers["chrom"],
            "center": enhancers["center"],
            "strand": "+",
        }
    )
    chromsizes = pd.Series(HG38_CHROMSIZES, dtype=np.int64)
    elements = plant_elements(
        windows, element_table(promoters + tested), preset.n_bins, preset.bin_size, chromsizes, rng
    )
    truth = window_elements(windows, elements, preset.n_bins, preset.bin_size)

    # effects
    enh = enhancers.set_index("enhancer_id")
    pairs["chrom"] = enh["chrom"].reindex(pairs["enhancer_id"]).to_numpy()
    pairs["center"] = enh["center"].reindex(pairs["enhancer_id"]).to_numpy()
    index = pd.Series(np.arange(len(names)), index=names)
    pairs["target_index"] = index.reindex(pairs["target_gene"]).to_numpy(np.int64)
    a = enh["strength"].reindex(pairs["enhancer_id"]).to_numpy()
    raw = a**1.5 * sensitivity[pairs["target_index"]] * np.exp(-np.abs(pairs["tss"] - pairs["center"]) / DECAY_BP)
    raw = raw * INSULATION ** ctcf_between(pairs, truth)
    effect = MEAN_EFFECT * raw / raw.mean()
    beta = -effect * rng.lognormal(0.0, 0.3, len(pairs)) + rng.normal(0.0, 0.01, len(pairs))
    pairs["beta"] = beta.astype(np.float32)
    pairs["label"] = (pairs["beta"] < SIGNIFICANT_BETA).astype(np.int64)
    seed = int(rng.integers(0, 2**31 - 1))
    pairs["split"] = enhancer_split(pairs, seed=seed).to_numpy()  # 70/15/15, as `cdt.pp.prepare_v1` writes
    pairs["pair_split"] = pair_split(pairs, seed)

    table = pd.DataFrame(
        {
            "enhancer_id": pairs["enhancer_id"],
            "target_gene": pairs["target_gene"],
            "target_index": pairs["target_index"],
            "beta": pairs["beta"],
            "chrom": pairs["chrom"],
            "enhancer_center": pairs["center"],
            "tss": pairs["tss"],
            "split": pairs["split"],
            "pair_split": pairs["pair_split"],
            "enhancer_start": enh["start"].reindex(pairs["enhancer_id"]).to_numpy(),
            "enhancer_end": enh["end"].reindex(pairs["enhancer_id"]).to_numpy(),
            "label": pairs["label"],
            "genome": "hg38",
        }
    )
    (out / "v1").mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "v1" / "pairs.csv", index=False)
    truth.drop(columns="summit").to_csv(out / "truth" / "v1_elements.csv", index=False)
    with h5py.File(out / "v1" / "embeddings.h5", "w") as h5:
        h5.create_dataset("gene_names", data=np.array(names, dtype=object), dtype=h5py.string_dtype())
        h5.create_dataset("rna_embeddings", data=rna)
        h5.create_dataset("protein_embeddings", data=prot)
        h5.attrs["source"] = (
            "cdt simulate (synthetic): latent gene properties -> RNA (unit norm) and protein embeddings"
        )
    write_windows(out / "v1" / "dna_enhancers.h5", windows, truth, preset, rng, desc="v1 enhancer windows")
    log.info("CDT v1: %d pairs over %d enhancers, %d genes -> %s", len(table), len(enhancers), len(names), out / "v1")

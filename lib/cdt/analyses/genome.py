"""Genome analyses behind notebook 05_encode_hic: cross-attention over DNA bins against ENCODE, Hi-C and the truth.

- per-locus cross-attention profiles of CDT-II/III (mean over heads, query genes and the first N cells of a locus;
  the NTC-mean expression where a locus has too few cells, as CDT-III did for CD55) -> CDT-II Fig 4B;
- ENCODE marks: Fisher enrichment of the top-10% bins (CDT-II Fig 6A), circular permutation nulls and the
  threshold sweep (Supp Fig 1), bin classes (Fig 6B), CDT-III's CTCF enrichment over all TSS loci (Table 2/6),
  genome tracks (Figs 7/8);
- Hi-C: promoter contact of the top-20 attention bins vs 20 random bins (CDT-III Fig 3 / Table 9), and the contact
  between an enhancer and its target promoter (CDT v1 Fig 6);
- CDT v1: target-gene attention rows and DNA-gradient norms of sampled validation pairs (Figs 3-5);
- on simulated data, recovery of the planted elements by attention beside model-free and random bin scores.

Statistics come from `cdt.genome`, `cdt.hic` and `cdt.stats`; attention and gradients from `cdt.attention` and
`cdt.gradients`; this module only selects inputs, loops over loci and collects tables.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import torch
from torch import nn

from cdt import genome, hic, stats
from cdt.analyses import Findings
from cdt.attention import cross_attention_profiles, v1_target_attention
from cdt.baselines.edges import dna_bin_baselines, element_bins, recovery_table
from cdt.config import HELD_OUT_GENES
from cdt.data.dnastore import DNAStore, Locus
from cdt.data.errors import ContractError
from cdt.evaluate import eval_mode, explicit_batch, forward, ntc_mean_protein, resolve_screen
from cdt.gradients import v1_dna_gradient_norms
from cdt.models import CDT3
from cdt.published import CDT2_FISHER_OR, CDT2_PEAK_OFFSET_KB, CDT3_CTCF, CDT3_HIC_RATIO, published_value
from cdt.train import LoadedRun
from cdt.train.runs import DataFiles, load_data

__all__ = [
    "PAPER_WINDOW_BP",
    "V1_WITHIN_BP",
    "PERMUTATION_MARKS",
    "read_marks",
    "loci_of",
    "tss_loci",
    "LocusProfiles",
    "first_cells_per_locus",
    "locus_profiles",
    "top_bin_agreement",
    "mark_hits",
    "fisher_table",
    "fisher_summary",
    "permutation_table",
    "threshold_table",
    "threshold_summary",
    "bin_class_analysis",
    "ctcf_table",
    "ctcf_summary",
    "genome_track",
    "window_elements",
    "hic_ratios",
    "pair_contacts",
    "snp_pairs",
    "contact_window",
    "V1Attribution",
    "v1_attribution",
    "scaled_within_bp",
    "v1_peak_distances",
    "v1_peak_table",
    "top_overlaps",
    "v1_overlap",
    "temperature_scale",
    "v1_case",
    "element_truth",
    "bin_scores",
    "element_recovery",
    "v1_element_truth",
    "HELD_CELLS",
    "TSS_CELLS",
    "HIC_RESOLUTION",
    "HIC_TOP_BINS",
    "PERMUTATION_ALPHA",
    "ABOVE_BASELINE",
    "AT_CHANCE",
    "TRACK_FIGURES",
    "ModelProfiles",
    "model_profiles",
    "available",
    "sources_line",
    "read_elements",
    "peak_table",
    "held_elements",
    "peak_numbers",
    "profiles_line",
    "fisher_numbers",
    "bin_class_numbers",
    "n_permutation_significant",
    "robustness_numbers",
    "encode_finding",
    "CTCFModels",
    "ctcf_models",
    "ctcf_numbers",
    "ctcf_findings",
    "track_figures",
    "track_numbers",
    "open_hic",
    "HiCStudy",
    "hic_study",
    "hic_numbers",
    "hic_finding",
    "peak_distance_numbers",
    "v1_overlap_table",
    "v1_overlap_numbers",
    "v1_ctcf_sites",
    "case_summary",
    "case_numbers",
    "v1_finding",
    "PairContacts",
    "pair_contact_study",
    "pair_contact_numbers",
    "TRUTH_TARGETS",
    "truth_recovery",
    "v1_truth_recovery",
    "recovery_wide",
    "truth_numbers",
    "v1_truth_numbers",
    "truth_finding",
    "model_finding",
]

PAPER_WINDOW_BP = 896 * 128
"""The published DNA window (Enformer: 896 bins x 128 bp = 114,688 bp); distances scale with the window."""

V1_WITHIN_BP = 50_000
"""CDT v1 Fig 3: share of attention peaks within 50 kb of the enhancer (82%; mean |d| 30.1 kb)."""

PERMUTATION_MARKS: tuple[str, ...] = ("DNase", "CTCF", "H3K4me3")
"""CDT-II Supp Fig 1a tests these three marks (for GFI1B in the code, for all five genes in the text)."""


# --- inputs -----------------------------------------------------------------------------------------------------------


def read_marks(encode_dir: str | os.PathLike, marks: Sequence[str] = genome.MARKS) -> dict[str, pd.DataFrame]:
    """Peaks of each mark from ``<encode_dir>/<mark>.{narrowPeak,bed,bb}[.gz]`` (`cdt.genome.read_peaks`)."""
    d = Path(encode_dir)
    out = {}
    for mark in marks:
        found = [
            d / f"{mark}{s}"
            for s in (".narrowPeak", ".narrowPeak.gz", ".bed", ".bed.gz", ".bb", ".bigBed")
            if (d / f"{mark}{s}").exists()
        ]
        if not found:
            raise FileNotFoundError(f"{d}: no peak file for {mark} (expected {mark}.narrowPeak, .bed[.gz] or .bb)")
        out[mark] = genome.read_peaks(found[0])
    return out


def loci_of(dna_store: str | os.PathLike, locus_ids: Sequence[str]) -> dict[str, Locus]:
    """Coordinates of each locus from the DNA store (bins <-> genome)."""
    with DNAStore(dna_store) as store:
        return {k: store.locus(k) for k in locus_ids}


def tss_loci(screen: ad.AnnData | str | os.PathLike, dna_store: str | os.PathLike) -> list[str]:
    """Every locus of the DNA store that no SNP/enhancer cell of the screen uses: the TSS targets, including one
    without cells (CD55 in the published data), in store order."""
    screen = resolve_screen(screen)
    obs = screen.obs
    snp = set(obs.loc[obs["kind"].astype(str) == "SNP", "locus"].astype(str))
    with DNAStore(dna_store) as store:
        return [k for k in store.loci_ids() if k not in snp]


# --- cross-attention profiles per locus (CDT-II Fig 4B, CDT-III Tables 2/6) -------------------------------------------


@dataclass
class LocusProfiles:
    """Cross-attention per DNA bin for each locus, averaged over heads, all query genes and the locus's cells."""

    values: pd.DataFrame  # [loci, n_bins]
    n_cells: pd.Series  # [loci] cells averaged; 0 = one NTC-mean input (too few cells)
    label: str = ""

    def as_dict(self, loci: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        keep = self.values.index if loci is None else [k for k in loci if k in self.values.index]
        return {k: self.values.loc[k].to_numpy(dtype=float) for k in keep}

    def peaks(self, bin_size: int) -> pd.DataFrame:
        """Argmax bin of each profile and its offset from the window centre (kb), cf. the published Fig 4B peaks."""
        v = self.values.to_numpy()
        centre = v.shape[1] // 2
        peak = v.argmax(1)
        return pd.DataFrame(
            {
                "locus": self.values.index,
                "n_cells": self.n_cells.to_numpy(),
                "peak_bin": peak,
                "peak_offset_kb": (peak - centre) * bin_size / 1e3,
                "max_over_uniform": v.max(1) * v.shape[1],
            }
        )


def first_cells_per_locus(screen: ad.AnnData, loci: Sequence[str], n: int) -> dict[str, np.ndarray]:
    """Row positions of the first `n` cells (file order, any split) of each locus; loci without cells get none."""
    locus_of = screen.obs["locus"].astype(str).to_numpy()
    return {k: np.flatnonzero(locus_of == k)[:n] for k in loci}


def locus_profiles(
    model: nn.Module,
    screen: ad.AnnData | str | os.PathLike,
    dna_store: str | os.PathLike,
    loci: Sequence[str],
    n_cells: int = 20,
    min_cells: int = 5,
    batch_size: int | None = None,
    label: str = "",
) -> LocusProfiles:
    """Cross-attention profile per locus from the first `n_cells` cells of that locus (streamed means,
    `cdt.attention.cross_attention_profiles`); a locus with fewer than `min_cells` cells gets one forward pass with
    the NTC-mean expression (and NTC-mean proteins for CDT-III) at its DNA, as CDT-III did for CD55."""
    screen = resolve_screen(screen)
    chosen = first_cells_per_locus(screen, loci, n_cells)
    with_cells = [k for k in loci if len(chosen[k]) >= min(min_cells, n_cells)]
    rows: dict[str, np.ndarray] = {}
    used: dict[str, int] = {}
    if with_cells:
        cells = np.concatenate([chosen[k] for k in with_cells])
        maps = cross_attention_profiles(model, screen, dna_store, cells, heads=False, batch_size=batch_size)
        for k in with_cells:
            rows[k], used[k] = maps[k].profile().to_numpy(dtype=float), maps[k].n_cells
    fallback = [k for k in loci if k not in rows]
    if fallback:
        rna = screen.var["ntc_mean_expr"].to_numpy(np.float32)
        prot = ntc_mean_protein(screen) if isinstance(model, CDT3) else None
        with DNAStore(dna_store) as store, eval_mode(model), torch.no_grad():
            for k in fallback:
                batch = explicit_batch(model, store, k, rna, prot)
                attn = forward(model, batch, return_attention=["dna_to_rna"]).attention
                rows[k], used[k] = attn["dna_to_rna"][0].double().mean((0, 1)).cpu().numpy(), 0  # [H, G, L] -> [L]
    order = list(loci)
    values = pd.DataFrame(np.stack([rows[k] for k in order]), index=pd.Index(order, name="locus"))
    return LocusProfiles(values=values, n_cells=pd.Series([used[k] for k in order], index=values.index), label=label)


def top_bin_agreement(a: LocusProfiles, b: LocusProfiles, top_fraction: float = 0.10) -> pd.Series:
    """Per locus shared by both, the Jaccard index of the two models' top bins (1 = the same bins)."""
    shared = [k for k in a.values.index if k in b.values.index]
    out = {}
    for k in shared:
        x, y = a.values.loc[k].to_numpy(float), b.values.loc[k].to_numpy(float)
        n = max(1, int(top_fraction * len(x)))
        tx, ty = genome.top_k_bins(x, n), genome.top_k_bins(y, n)
        out[k] = float((tx & ty).sum() / (tx | ty).sum())
    return pd.Series(out, name="jaccard")


# --- ENCODE marks (CDT-II Fig 6, Supp Fig 1) --------------------------------------------------------------------------


def mark_hits(loci: Mapping[str, Locus], peaks: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Per locus, `[n_bins, marks]` peak counts per bin (`cdt.genome.overlap_matrix`)."""
    return {k: genome.overlap_matrix(locus, peaks) for k, locus in loci.items()}


def fisher_table(
    profiles: Mapping[str, np.ndarray],
    hits: Mapping[str, pd.DataFrame],
    q: float = 0.10,
    marks: Sequence[str] = genome.MARKS,
) -> pd.DataFrame:
    """Fisher enrichment of the top-q bins per gene x mark with the published odds ratio beside it."""
    table = genome.enrichment_table(profiles, hits, q, marks)
    table["published_or"] = [
        CDT2_FISHER_OR.get(g, {}).get(m, np.nan) for g, m in zip(table["gene"], table["mark"], strict=True)
    ]
    return table


def fisher_summary(table: pd.DataFrame, alpha: float = 1e-3) -> dict:
    """Testable combinations (>= 1 peak bin in the window), how many have P < alpha, and how many have OR > 1."""
    testable = table[table["n_peak_bins"] > 0]
    return {
        "n_testable": len(testable),
        "n_significant": int((testable["p_value"] < alpha).sum()),
        "n_or_above_1": int((testable["odds_ratio"] > 1).sum()),
        "alpha": alpha,
    }


def permutation_table(
    profiles: Mapping[str, np.ndarray],
    hits: Mapping[str, pd.DataFrame],
    marks: Sequence[str] = PERMUTATION_MARKS,
    q: float = 0.10,
    n_perm: int = 1000,
    seed: int = 42,
    min_peak_bins: int = 5,
) -> tuple[pd.DataFrame, dict[tuple[str, str], np.ndarray]]:
    """Supp Fig 1a: circular-shift null of the sample OR for each gene x mark with >= `min_peak_bins` peak bins.

    One generator (seeded once, genes then marks in order) as in the authors' code. Returns the table (gene, mark,
    observed OR, null mean and 95th percentile, P = (b + 1)/(n + 1), the authors' b/n) and the null ORs.
    """
    rng = np.random.default_rng(seed)
    rows, nulls = [], {}
    for gene, profile in profiles.items():
        for mark in marks:
            hit = hits[gene][mark].to_numpy() > 0
            if hit.sum() < min_peak_bins:
                continue
            # rolling the profile rolls its top-q set with it, so the top mask is computed once and rolled
            res = stats.circular_permutation_test(
                genome.top_bins(profile, q), hit, genome.top_hit_odds_ratio, n_permutations=n_perm, seed=rng
            )
            finite = res.null[np.isfinite(res.null)]
            rows.append(
                {
                    "gene": gene,
                    "mark": mark,
                    "n_peak_bins": int(hit.sum()),
                    "observed_or": res.observed,
                    "null_mean": float(finite.mean()) if finite.size else np.nan,
                    "null_q95": float(np.quantile(finite, 0.95)) if finite.size else np.nan,
                    "p_value": res.p_value,
                    "p_value_authors": res.p_value_authors,
                }
            )
            nulls[(gene, mark)] = res.null
    return pd.DataFrame(rows), nulls


def threshold_table(
    profiles: Mapping[str, np.ndarray], hits: Mapping[str, pd.DataFrame], qs: Sequence[float] = (0.05, 0.10, 0.15, 0.20)
) -> pd.DataFrame:
    """Supp Fig 1b: Fisher OR and P of every gene x mark at each top-q threshold (`cdt.genome.threshold_sweep`)."""
    parts = []
    for gene, profile in profiles.items():
        sweep = genome.threshold_sweep(profile, hits[gene], qs)
        sweep.insert(0, "gene", gene)
        sweep["n_peak_bins"] = sweep["mark"].map(lambda m, g=gene: int((hits[g][m] > 0).sum()))
        parts.append(sweep)
    return pd.concat(parts, ignore_index=True)


def threshold_summary(table: pd.DataFrame, alpha: float = 0.05) -> dict:
    """Testable gene x mark pairs, and how many stay enriched (OR > 1, P < alpha) at every threshold."""
    testable = table[table["n_peak_bins"] > 0]
    ok = (testable["odds_ratio"] > 1) & (testable["p_value"] < alpha)
    per_pair = ok.groupby([testable["gene"], testable["mark"]]).all()
    return {"n_pairs": int(per_pair.size), "n_all_thresholds": int(per_pair.sum()), "alpha": alpha}


def bin_class_analysis(
    profiles: Mapping[str, np.ndarray], hits: Mapping[str, pd.DataFrame], rule: str = "notebook"
) -> dict:
    """Fig 6B: label bins by marks (`cdt.genome.bin_classes`), pool over genes, Kruskal-Wallis and Cohen's d vs the
    unannotated class ("other"). Returns `cdt.genome.class_statistics`'s dict plus the per-class summary table."""
    classes = {g: genome.bin_classes(hits[g], rule) for g in profiles}
    res = genome.class_statistics(profiles, classes)
    res["summary"] = {
        "kruskal_p": res["kruskal"].p_value,
        **{
            f"d_{c}": float(res["cohens_d"].set_index("class").loc[c, "d_vs_other"])
            for c in ("promoter", "active_enhancer", "CTCF")
        },
    }
    return res


# --- CDT-III CTCF enrichment over all TSS loci (Table 2 / Table 6) ----------------------------------------------------


def ctcf_table(
    profiles: Mapping[str, np.ndarray],
    loci: Mapping[str, Locus],
    ctcf_peaks: pd.DataFrame,
    top_fraction: float = 0.10,
    count: str = "peaks",
) -> tuple[pd.DataFrame, dict]:
    """Per gene: CTCF peaks in the window, of them in the top bins, enrichment (max 1/top_fraction), beside the
    published counts; and the `cdt.genome.CTCFEnrichment` results for the permutation test."""
    results = {g: genome.ctcf_enrichment(p, loci[g], ctcf_peaks, top_fraction, count) for g, p in profiles.items()}
    rows = []
    for g, r in results.items():
        pub = CDT3_CTCF.get(g)
        rows.append(
            {
                "gene": g,
                "chrom": loci[g].chrom,
                "tss": loci[g].center,
                "n_ctcf": r.n_ctcf,
                "ctcf_in_top": r.in_top,
                "enrichment": r.enrichment,
                "published_n_ctcf": pub[0] if pub else np.nan,
                "published_in_top": pub[1] if pub else np.nan,
                "published_enrichment": pub[1] / (top_fraction * pub[0]) if pub and pub[0] else np.nan,
            }
        )
    return pd.DataFrame(rows), results


def ctcf_summary(
    results: Mapping[str, genome.CTCFEnrichment],
    n_bins: int,
    top_fraction: float = 0.10,
    n_perm: int = 1000,
    seed: int = 0,
) -> dict:
    """Mean/median enrichment over genes with CTCF, genes > 2x and > 5x, and two permutation P values: like for like
    (mean of per-gene ratios, as many random bins as top bins) and the authors' (pooled ratio, 90 random bins)."""
    with_ctcf = [r for r in results.values() if r.n_ctcf > 0]
    if not with_ctcf:
        raise ValueError("no locus has a CTCF peak in its window")
    e = np.array([r.enrichment for r in with_ctcf])
    like = genome.ctcf_permutation_test(results, n_bins, top_fraction, n_perm, null="mean", seed=seed)
    authors = genome.ctcf_permutation_test(
        results, n_bins, top_fraction, n_perm, n_random=round(90 * n_bins / 896), null="pooled", seed=seed
    )
    return {
        "n_genes": len(with_ctcf),
        "mean": float(e.mean()),
        "median": float(np.median(e)),
        "n_above_2": int((e > 2).sum()),
        "n_above_5": int((e > 5).sum()),
        "max": 1 / top_fraction,
        "p_value": like["p_value"],
        "null_mean": float(like["null"].mean()),
        "null_sd": float(like["null"].std()),
        "p_value_authors": authors["p_value_authors"],
        "null": like["null"],
    }


def genome_track(
    profile: np.ndarray,
    locus: Locus,
    ctcf_peaks: pd.DataFrame,
    top_fraction: float = 0.10,
    elements: pd.DataFrame | None = None,
) -> dict:
    """CDT-III Figs 7/8: attention / max per bin against kb from the TSS, CTCF peaks (midpoint, signal / max, in the
    top bins or not), k of n peaks in the top bins, and the planted elements of the window when given."""
    profile = np.asarray(profile, float)
    res = genome.ctcf_enrichment(profile, locus, ctcf_peaks, top_fraction, count="peaks")
    top = genome.top_k_bins(profile, res.n_top)
    centre = locus.n_bins // 2
    bins = pd.DataFrame(
        {
            "bin": np.arange(locus.n_bins),
            "kb": (np.arange(locus.n_bins) - centre) * locus.bin_size / 1e3,
            "attention": profile / profile.max(),
            "in_top": top,
        }
    )
    window = genome.locus_peaks(ctcf_peaks, locus)
    mid = (window["start"].to_numpy() + window["end"].to_numpy()) // 2
    b = (mid - locus.center) // locus.bin_size + centre
    inside = (b >= 0) & (b < locus.n_bins)
    b, mid = b[inside], mid[inside]
    signal = window["fc"].to_numpy(float)[inside] if "fc" in window else np.ones(len(b))  # BED3: no signal column
    peaks = pd.DataFrame(
        {
            "bin": b,
            "kb": (mid - locus.center) / 1e3,
            "signal": signal,
            "signal_norm": signal / signal.max() if len(b) else signal,
            "in_top": top[b],
        }
    )
    out = {"locus": locus.locus_id, "bins": bins, "peaks": peaks, "k": res.in_top, "n": res.n_ctcf}
    if elements is not None:
        out["elements"] = window_elements(elements, locus)
    return out


def window_elements(elements: pd.DataFrame, locus: Locus) -> pd.DataFrame:
    """Planted elements of one window (truth/elements.csv) as element, start_kb, end_kb from the window centre."""
    el = elements[elements["locus_id"].astype(str) == locus.locus_id]
    return pd.DataFrame(
        {
            "element": el["element"].to_numpy(),
            "start_kb": (el["start"].to_numpy() - locus.center) / 1e3,
            "end_kb": (el["end"].to_numpy() - locus.center) / 1e3,
        }
    )


# --- Hi-C (CDT-III Fig 3 / Table 9, CDT v1 Fig 6) ---------------------------------------------------------------------


def hic_ratios(
    contacts: hic.HiC,
    profiles: Mapping[str, np.ndarray],
    loci: Mapping[str, Locus],
    k: int = 20,
    n_draws: int = 100,
    seed: int = 0,
    kind: str = "balanced",
) -> pd.DataFrame:
    """Per gene: promoter contact of the top-k attention bins over k random bins (`cdt.hic.top_vs_random`), once with
    every bin and once without the DNA bins inside the promoter's own Hi-C bin (whose self-contact is the diagonal,
    the largest value of the map; the paper does not say how it was handled). Loci off the map are left out."""
    rows = []
    for i, (gene, profile) in enumerate(profiles.items()):
        locus = loci[gene]
        c = hic.promoter_contacts(contacts, locus, kind)  # [n_bins]
        if not np.isfinite(c).any() or np.nansum(c) == 0:
            continue
        same = contacts.bin_id(locus.chrom, hic.attention_bin_positions(locus)) == contacts.bin_id(
            locus.chrom, locus.center
        )
        every = hic.top_vs_random(profile, c, k, n_draws, seed + i)
        off = hic.top_vs_random(profile, np.where(same, np.nan, c), k, n_draws, seed + i)
        rows.append(
            {
                "gene": gene,
                "top_mean": every.top_mean,
                "random_mean": every.random_mean,
                "ratio": every.ratio,
                "top_mean_off_diagonal": off.top_mean,
                "random_mean_off_diagonal": off.random_mean,
                "ratio_off_diagonal": off.ratio,
                "top_in_promoter_bin": int(same[np.argsort(-profile)[:k]].sum()),
                "published_ratio": CDT3_HIC_RATIO.get(gene, np.nan),
            }
        )
    return pd.DataFrame(rows)


def pair_contacts(contacts: hic.HiC, pairs: pd.DataFrame, flank: int = 200_000) -> pd.DataFrame:
    """CDT v1 Fig 6: balanced contact between each enhancer and its target promoter (columns chrom, enhancer,
    promoter) and its observed/expected ratio (> 1 = more contact than the distance alone predicts).

    The expected contact at a distance is the mean of that diagonal over the map within `flank` of the pair (a local
    expected, NaN bins skipped): one small fetch per pair instead of `cdt.hic.HiC.expected` over whole chromosomes,
    which on a sparsely covered map costs seconds per chromosome. Pairs off the map or in masked bins get NaN.
    """
    for col in ("chrom", "enhancer", "promoter"):
        if col not in pairs:
            raise ValueError(f"pairs table has no {col!r} column (columns: {list(pairs.columns)})")
    if not contacts.has_weights():
        raise ContractError(str(contacts.path), "bins/weight", "no balancing weights; run `cooler balance`")
    weight = contacts.clr.bins()["weight"][:].to_numpy()  # [all bins], NaN = masked; one read for every pair
    observed, expected = [], []
    for chrom, e, p in zip(pairs["chrom"].astype(str), pairs["enhancer"], pairs["promoter"], strict=True):
        lo, hi = sorted((int(e), int(p)))
        on_map = chrom in contacts.chromsizes.index and 0 <= lo and hi < contacts.chromsizes[chrom]
        if not on_map or not np.isfinite(weight[contacts.bin_id(chrom, np.array([lo, hi]))]).all():
            observed.append(np.nan)  # off the map, or a masked bin: skip the window fetch
            expected.append(np.nan)
            continue
        mat, start = contact_window(contacts, chrom, lo - flank, hi + flank)  # [n, n] balanced, NaN where masked
        i, j = (lo - start) // contacts.resolution, (hi - start) // contacts.resolution
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN diagonal gives NaN
            expected.append(float(np.nanmean(np.diagonal(mat, j - i))))
        observed.append(float(mat[i, j]))
    out = pairs.copy()
    out["distance_kb"] = (out["promoter"] - out["enhancer"]).abs() / 1e3
    out["balanced"], out["expected"] = observed, expected
    out["oe"] = out["balanced"] / out["expected"]
    return out


def snp_pairs(truth_loci: pd.DataFrame) -> pd.DataFrame:
    """Simulated enhancer (SNP) loci and their cis genes as enhancer-promoter pairs (truth/loci.csv: the cis gene's
    TSS lies at center - distance)."""
    snp = truth_loci[(truth_loci["kind"] == "SNP") & truth_loci["gene"].notna()]
    return pd.DataFrame(
        {
            "pair": snp["locus_id"].astype(str) + ":" + snp["gene"].astype(str),
            "chrom": snp["chrom"].to_numpy(),
            "enhancer": snp["center"].to_numpy(np.int64),
            "promoter": (snp["center"] - snp["distance"]).to_numpy(np.int64),
            "effect": snp["cis_effect"].to_numpy(float),
        }
    )


def contact_window(contacts: hic.HiC, chrom: str, start: int, end: int, balance: bool = True) -> tuple[np.ndarray, int]:
    """The contact matrix over [start, end) on `chrom` (snapped outwards to Hi-C bins) and its first bin's start."""
    res = contacts.resolution
    lo, hi = max(0, start // res * res), min(int(contacts.chromsizes[chrom]), -(-end // res) * res)
    return contacts.clr.matrix(balance=balance).fetch(f"{chrom}:{lo}-{hi}"), lo


# --- CDT v1 (Figs 3-5) ------------------------------------------------------------------------------------------------


@dataclass
class V1Attribution:
    """Target-gene attention rows and DNA-gradient norms of CDT v1 for some validation pairs."""

    pairs: pd.DataFrame  # one row per analysed pair: pair, enhancer_id, target_gene, beta, chrom, enhancer_center,
    #                      tss, random (in the random sample), strongest (most negative beta of the split)
    attention: np.ndarray  # [N, L] head-averaged DNA->RNA row of the target gene
    gradient: np.ndarray  # [N, L] L2 norm over DNA features of d(prediction at target) / d(DNA bin)
    bin_size: int

    @property
    def n_bins(self) -> int:
        return self.attention.shape[1]

    @property
    def half_window_bp(self) -> int:
        return self.n_bins // 2 * self.bin_size


def v1_attribution(
    run: LoadedRun, n: int = 100, seed: int = 42, splits: Sequence[str] = ("val",), batch_size: int = 8
) -> V1Attribution:
    """Attention rows and gradient norms for `n` pairs drawn without replacement from `splits` (the paper: 100 of
    the 996 validation pairs, seed 42) plus the strongest-effect pair (most negative beta) of those splits."""
    data = load_data(run.config, DataFiles(**run.files))
    table = pd.read_csv(run.files["pairs"])
    idx = data.indices(tuple(splits))
    if idx.size == 0:
        raise ValueError(f"{run.files['pairs']}: no pairs in splits {list(splits)}")
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(idx, size=min(n, idx.size), replace=False))
    strongest = int(idx[np.argmin(data.beta[idx].numpy())])
    sel = np.union1d(chosen, [strongest])
    dna = data.dna[data.enhancer[torch.as_tensor(sel)]].numpy()  # [N, L, D]
    target = data.target_index[sel].numpy()
    att = v1_target_attention(run.model, dna, target, data.rna_emb, data.prot_emb, batch_size).values
    grad = v1_dna_gradient_norms(run.model, dna, target, data.rna_emb, data.prot_emb, batch_size)
    pairs = table.iloc[sel][["enhancer_id", "target_gene", "beta", "chrom", "enhancer_center"]].copy()
    pairs["tss"] = table["tss"].iloc[sel].to_numpy() if "tss" in table else np.nan  # the authors' files have none
    pairs.insert(0, "pair", data.pair_ids[sel])
    pairs["random"], pairs["strongest"] = np.isin(sel, chosen), sel == strongest
    with DNAStore(run.files["dna"]) as store:
        bin_size = store.locus(str(pairs["enhancer_id"].iloc[0])).bin_size
    return V1Attribution(pairs=pairs.reset_index(drop=True), attention=att, gradient=grad, bin_size=bin_size)


def scaled_within_bp(n_bins: int, bin_size: int, within_bp: int = V1_WITHIN_BP) -> int:
    """The paper's 50 kb threshold scaled to this window (50 kb of a 57.3-kb half window = 87%)."""
    return round(within_bp * (n_bins * bin_size) / PAPER_WINDOW_BP)


def v1_peak_distances(attr: V1Attribution) -> tuple[np.ndarray, dict]:
    """CDT v1 Fig 3 on the random sample: signed peak distance (bp) from the enhancer and its summary at the scaled
    threshold, beside what a peak at a uniformly random bin would give (the reference the paper omits)."""
    rows = attr.attention[attr.pairs["random"].to_numpy()]
    d = genome.attention_peak_distance(rows, attr.bin_size)
    within = scaled_within_bp(attr.n_bins, attr.bin_size)
    summary = genome.peak_distance_summary(d, within)
    uniform = genome.peak_distance_summary((np.arange(attr.n_bins) - attr.n_bins // 2) * attr.bin_size, within)
    summary.update(
        {
            "within_bp": within,
            "half_window_kb": attr.half_window_bp / 1e3,
            "mean_abs_fraction_of_half_window": summary["mean_abs_kb"] * 1e3 / attr.half_window_bp,
            "uniform_mean_abs_kb": uniform["mean_abs_kb"],
            "uniform_frac_within": uniform["frac_within"],
        }
    )
    return d, summary


def v1_peak_table(attr: V1Attribution) -> pd.DataFrame:
    """The analysed pairs with their attention and gradient peak offsets from the enhancer (kb)."""
    return attr.pairs.assign(
        attention_peak_kb=genome.attention_peak_distance(attr.attention, attr.bin_size) / 1e3,
        gradient_peak_kb=genome.attention_peak_distance(attr.gradient, attr.bin_size) / 1e3,
    )


def top_overlaps(a: np.ndarray, b: np.ndarray, k: int = 20) -> np.ndarray:
    """Per row, how many of the top-k bins of `a` are among the top-k of `b` (CDT v1 Fig 4A). `[N]`."""
    return np.array([stats.top_n_overlap(x, y, k)[0].k for x, y in zip(a, b, strict=True)])


def v1_overlap(attr: V1Attribution, k: int = 20) -> tuple[np.ndarray, dict]:
    """CDT v1 Fig 4: top-k attention vs top-k gradient bins on the random sample, against the chance overlap k^2/L."""
    keep = attr.pairs["random"].to_numpy()
    ov = top_overlaps(attr.attention[keep], attr.gradient[keep], k)
    return ov, {
        "mean": float(ov.mean()),
        "median": float(np.median(ov)),
        "min": int(ov.min()),
        "max": int(ov.max()),
        "k": k,
        "chance": k * k / attr.n_bins,
        "example": int(np.flatnonzero(keep)[np.argsort(ov)[len(ov) // 2]]),
    }


def temperature_scale(profile: np.ndarray, t: float = 0.3, eps: float = 1e-10) -> np.ndarray:
    """softmax(log(a + eps) / T), the paper's display sharpening of a near-uniform attention row (peak unchanged)."""
    z = np.log(np.asarray(profile, float) + eps) / t
    z = np.exp(z - z.max())
    return z / z.sum()


def v1_case(attr: V1Attribution, ctcf_sites: pd.DataFrame) -> dict:
    """CDT v1 Fig 5, the strongest-effect pair: attention and gradient peaks (kb from the enhancer) and the CTCF
    sites of its window (midpoints, kb) with the distance from each peak to the nearest one.

    ctcf_sites: chrom, start, end (ENCODE CTCF peaks, or the planted CTCF elements on simulated data).
    """
    i = int(np.flatnonzero(attr.pairs["strongest"].to_numpy())[0])
    row = attr.pairs.iloc[i]
    centre, half = int(row["enhancer_center"]), attr.half_window_bp
    on = ctcf_sites[(ctcf_sites["chrom"].astype(str) == str(row["chrom"]))]
    mid = (on["start"].to_numpy() + on["end"].to_numpy()) // 2
    sites_kb = np.sort((mid[(mid >= centre - half) & (mid < centre + half)] - centre) / 1e3)
    att_kb = genome.attention_peak_distance(attr.attention[i], attr.bin_size)[0] / 1e3
    grad_kb = genome.attention_peak_distance(attr.gradient[i], attr.bin_size)[0] / 1e3

    def nearest(x: float) -> float:
        return float(np.min(np.abs(sites_kb - x))) if sites_kb.size else np.nan

    return {
        "index": i,
        "pair": row["pair"],
        "beta": float(row["beta"]),
        "target_gene": row["target_gene"],
        "tss_offset_kb": np.nan if pd.isna(row["tss"]) else (int(row["tss"]) - centre) / 1e3,
        "attention_peak_kb": float(att_kb),
        "gradient_peak_kb": float(grad_kb),
        "ctcf_kb": sites_kb,
        "attention_to_ctcf_kb": nearest(att_kb),
        "gradient_to_ctcf_kb": nearest(grad_kb),
        "attention_max_over_uniform": float(attr.attention[i].max() * attr.n_bins),
    }


# --- ground truth on simulated data: planted elements vs attention -----------------------------------------------------


def element_truth(
    elements: pd.DataFrame,
    loci: Sequence[str],
    n_bins: int,
    classes: Sequence[str] = ("promoter", "CTCF", "enhancer", "open"),
) -> dict[str, np.ndarray]:
    """`[U, n_bins]` bool truth per planted element class and for any element (truth/elements.csv)."""
    out = {"any element": element_bins(elements, loci, n_bins)}
    out.update({c: element_bins(elements, loci, n_bins, c) for c in classes})
    return out


def bin_scores(attention: Mapping[str, np.ndarray], dna: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Scores `[U, n_bins]` to rank DNA bins by: each attention/gradient score given, the model-free DNA scores of
    `cdt.baselines.dna_bin_baselines` (embedding norm, nearness to the centre) and a seeded random score."""
    out = {k: np.asarray(v, float) for k, v in attention.items()}
    out.update(dna_bin_baselines(dna))
    out["random"] = np.random.default_rng(seed).random(dna.shape[:2])
    return out


def element_recovery(
    scores: Mapping[str, np.ndarray], truths: Mapping[str, np.ndarray], top_fraction: float = 0.10
) -> pd.DataFrame:
    """AUROC/AUPRC of each score against each truth (`cdt.baselines.recovery_table`), plus the share of each locus's
    top bins that lie on a planted element (precision), the base rate, and their ratio (fold enrichment)."""
    table = recovery_table(scores, truths)
    prec = []
    for method, s in scores.items():
        s = np.asarray(s, float)
        top = np.stack([genome.top_k_bins(row, max(1, int(top_fraction * s.shape[1]))) for row in s])  # [U, L]
        for target, t in truths.items():
            prec.append(
                {
                    "method": method,
                    "target": target,
                    "top_precision": float(t[top].mean()),
                    "base_rate": float(t.mean()),
                }
            )
    out = table.merge(pd.DataFrame(prec), on=["method", "target"])
    out["top_fold"] = out["top_precision"] / out["base_rate"]
    return out


def v1_element_truth(elements: pd.DataFrame, attr: V1Attribution) -> dict[str, np.ndarray]:
    """Planted elements of each analysed v1 window (truth/v1_elements.csv, keyed by enhancer id), `[N, n_bins]`."""
    ids = attr.pairs["enhancer_id"].astype(str).to_numpy()
    uniq = list(dict.fromkeys(ids))  # an enhancer paired with several genes appears once per pair
    if not set(uniq) & set(elements["locus_id"].astype(str)):
        raise ContractError("truth/v1_elements.csv", "locus_id", "none of the analysed enhancers has elements")
    row = pd.Index(uniq).get_indexer(ids)
    return {k: v[row] for k, v in element_truth(elements, uniq, attr.n_bins).items()}


# --- notebook 05: the studies behind each section, their headline rows and findings -----------------------------------
# Each `*_numbers` function returns the headline rows of one figure as a `cdt.analyses.Findings`, recorded with
# ``nums.report`` (key = (paper, item, quantity) of `cdt.published.HEADLINE`); each `*_finding` returns one Markdown
# list item for the notebook's closing summary.

HELD_CELLS = 10
"""CDT-II Fig 4B averages the first 10 cells of each held-out gene."""

TSS_CELLS = 20
"""CDT-III's 28-locus analyses average the first 20 cells of each TSS target."""

HIC_RESOLUTION = 5_000
"""CDT-III Fig 3 reads the Hi-C map at 5 kb (taken from a multi-resolution .mcool; a .cool has one resolution)."""

HIC_TOP_BINS = 20
"""CDT-III Fig 3 / Table 9: contact of the top-20 attention bins against 20 random bins."""

PERMUTATION_ALPHA = 0.005
"""CDT-II Supp Fig 1a counts gene x mark pairs with a circular-permutation P below 0.005 (14 of 15)."""

ABOVE_BASELINE = 0.02
"""A model's held-out r counts as above the mean-training-effect baseline when it beats it by more than this."""

AT_CHANCE = 0.05
"""An AUROC within this of the random score's counts as chance in the planted-element control."""

TRACK_FIGURES = {"CD55": ("Fig 7", "cdt3_fig7_genome_track_cd55"), "FCGR2A": ("Fig 8", "cdt3_fig8_genome_track_fcgr2a")}
"""CDT-III genome tracks: locus -> (paper item, figure name)."""


@dataclass
class ModelProfiles:
    """The cross-attention profiles notebook 05 reads: CDT-II at the held-out loci (Fig 4B, Fig 6, Supp Fig 1) and
    CDT-II / CDT-III at every TSS locus (CDT-III Tables 2/6, Fig 3, Figs 7/8, the planted-element control)."""

    loci: dict[str, Locus]  # every TSS locus -> coordinates
    held: LocusProfiles  # CDT-II, held-out genes that have a locus
    cdt2: LocusProfiles  # CDT-II, every TSS locus
    cdt3: LocusProfiles | None  # CDT-III, every TSS locus (None without a CDT-III run)
    bin_size: int
    n_bins: int
    seconds: float  # time spent computing the profiles

    @property
    def tss(self) -> list[str]:
        """The TSS loci in store order."""
        return list(self.loci)

    @property
    def held_genes(self) -> list[str]:
        """The held-out genes with a locus, in `cdt.config.HELD_OUT_GENES` order."""
        return list(self.held.values.index)

    @property
    def main(self) -> LocusProfiles:
        """CDT-III's profiles when there are any (the CDT-III analyses), else CDT-II's."""
        return self.cdt3 if self.cdt3 is not None else self.cdt2

    @property
    def main_score(self) -> str:
        """The name of the main model's attention score in the planted-element control (`truth_recovery`)."""
        return f"{self.main.label} attention"

    @property
    def models(self) -> dict[str, LocusProfiles]:
        """Profiles at every TSS locus by model label, CDT-III first when present."""
        return {p.label: p for p in (self.cdt3, self.cdt2) if p is not None}


def model_profiles(
    cdt2: nn.Module,
    screen: ad.AnnData | str | os.PathLike,
    dna_store: str | os.PathLike,
    *,
    cdt3: nn.Module | None = None,
    held_cells: int = HELD_CELLS,
    tss_cells: int = TSS_CELLS,
) -> ModelProfiles:
    """Every profile notebook 05 reads (`locus_profiles`): CDT-II over the first `held_cells` cells of each held-out
    gene, and CDT-II (and CDT-III when given) over the first `tss_cells` cells of every TSS locus (`tss_loci`).

    One call so that every section reads the same loci, bins and cells.
    """
    screen = resolve_screen(screen)
    with DNAStore(dna_store) as store:
        bin_size, n_bins = store.locus(store.loci_ids()[0]).bin_size, store.n_bins
    tss = tss_loci(screen, dna_store)
    loci = loci_of(dna_store, tss)
    held = [g for g in HELD_OUT_GENES if g in loci]
    t0 = time.perf_counter()
    prof_held = locus_profiles(cdt2, screen, dna_store, held, n_cells=held_cells, label="CDT-II")
    prof2 = locus_profiles(cdt2, screen, dna_store, tss, n_cells=tss_cells, label="CDT-II")
    prof3 = (
        locus_profiles(cdt3, screen, dna_store, tss, n_cells=tss_cells, label="CDT-III") if cdt3 is not None else None
    )
    return ModelProfiles(loci, prof_held, prof2, prof3, bin_size, n_bins, time.perf_counter() - t0)


def available(paths, runs: Collection[str]) -> dict[str, bool]:
    """Which optional inputs notebook 05 has: ENCODE peaks, a Hi-C map, a CDT-III run, a CDT v1 run with its pairs.

    `paths` is the reproduction's `DataPaths` (encode_dir, hic, v1_pairs; None when absent), `runs` its model keys.
    """
    return {
        "encode": paths.encode_dir is not None,
        "hic": paths.hic is not None,
        "cdt3": "cdt3" in runs,
        "v1": "cdt1" in runs and paths.v1_pairs is not None,
    }


def sources_line(source_label: str, protocol: str, runs: Collection[str], have: Mapping[str, bool]) -> str:
    """The notebook's opening line: data source, protocol, runs, and which sections are skipped for the inputs
    `available` says are missing."""
    return (
        f"Data: **{source_label}**, protocol **{protocol}**. Runs: "
        + ", ".join(f"`{k}`" for k in runs)
        + ("" if have["encode"] else ". **No ENCODE peak files**: the enrichment sections are skipped")
        + ("" if have["hic"] else ". **No Hi-C file**: the contact sections are skipped")
        + ("" if have["cdt3"] else ". **No CDT-III run**: CDT-III rows use CDT-II only")
        + ("" if have["v1"] else ". **No CDT v1 run/pairs**: the CDT v1 sections are skipped")
        + "."
    )


def read_elements(truth_dir: str | os.PathLike | None, name: str = "elements.csv") -> pd.DataFrame | None:
    """The simulator's planted elements (``truth/elements.csv``, or ``v1_elements.csv`` for the CDT v1 windows);
    None on data without a truth directory."""
    return pd.read_csv(Path(truth_dir) / name) if truth_dir else None


# CDT-II Fig 4B


def peak_table(profiles: ModelProfiles) -> pd.DataFrame:
    """CDT-II Fig 4B: each held-out locus's profile peak (`LocusProfiles.peaks`) beside the published offset (kb)."""
    peaks = profiles.held.peaks(profiles.bin_size)
    peaks["published_offset_kb"] = peaks["locus"].map(CDT2_PEAK_OFFSET_KB)
    return peaks


def held_elements(profiles: ModelProfiles, elements: pd.DataFrame | None) -> dict[str, pd.DataFrame] | None:
    """Planted elements of each held-out window (`window_elements`) for the Fig 4B strips; None without truth."""
    if elements is None:
        return None
    return {g: window_elements(elements, profiles.loci[g]) for g in profiles.held_genes}


def peak_numbers(
    peaks: pd.DataFrame, profiles: ModelProfiles, *, file: str = "cdt2_fig4b_cross_attention_profiles.png"
) -> Findings:
    """Headline rows of CDT-II Fig 4B: the peak offset of each held-out locus (window half-width in the note)."""
    half_kb = profiles.n_bins * profiles.bin_size / 2e3
    f = Findings()
    for r in peaks.itertuples():
        f.add(
            key=("CDT-II", "Fig 4B", f"{r.locus}: profile peak offset from the TSS (kb)"),
            value=float(r.peak_offset_kb),
            file=file,
            note=f"max / uniform {r.max_over_uniform:.2f}; window +-{half_kb:.1f} kb (paper 57.3)",
        )
    return f


def profiles_line(peaks: pd.DataFrame, profiles: ModelProfiles) -> str:
    """How many profiles were computed and how far the highest bin rises above the uniform weight."""
    return (
        f"Profiles of {len(profiles.held_genes)} held-out and {len(profiles.tss)} TSS loci computed in "
        f"{profiles.seconds:.1f} s. The highest bin is on average {peaks['max_over_uniform'].mean():.2f}x the uniform "
        f"weight 1/{profiles.n_bins} (the papers' profiles are plateau-like too)."
    )


# CDT-II Fig 6A/B, Supp Fig 1


def fisher_numbers(fisher: pd.DataFrame, *, file: str = "cdt2_fig6a_encode_fisher.png") -> Findings:
    """Headline rows of CDT-II Fig 6A (`fisher_table`): significant and enriched pairs of the testable ones, and the
    two odds ratios the paper quotes (DNase at GFI1B, CTCF at CD52) where this data has them."""
    s = fisher_summary(fisher)
    f = Findings()
    f.add(
        key=("CDT-II", "Fig 6A", "gene x mark pairs with P < 1e-3 (of testable)"),
        value=f"{s['n_significant']}/{s['n_testable']}",
        file=file,
    )
    f.add(
        key=("CDT-II", "Fig 6A", "pairs with odds ratio > 1 (of testable)"),
        value=f"{s['n_or_above_1']}/{s['n_testable']}",
        file=file,
    )
    by_pair = fisher.set_index(["gene", "mark"])
    for gene, mark in (("GFI1B", "DNase"), ("CD52", "CTCF")):
        if (gene, mark) in by_pair.index:
            f.add(
                key=("CDT-II", "Fig 6A", f"{mark} odds ratio at {gene}"),
                value=float(by_pair.loc[(gene, mark), "odds_ratio"]),
                file=file,
                note=f"P = {by_pair.loc[(gene, mark), 'p_value']:.2g}",
            )
    return f


def bin_class_numbers(classes: dict, *, file: str = "cdt2_fig6b_bin_classes.png") -> Findings:
    """Headline rows of CDT-II Fig 6B (`bin_class_analysis`): Cohen's d of CTCF and promoter bins against the
    unannotated ones, and the Kruskal-Wallis P."""
    cs = classes["summary"]
    f = Findings()
    f.add(key=("CDT-II", "Fig 6B", "Cohen's d, CTCF vs unannotated bins"), value=cs["d_CTCF"], file=file)
    f.add(key=("CDT-II", "Fig 6B", "Cohen's d, promoter vs unannotated bins"), value=cs["d_promoter"], file=file)
    f.add(
        key=("CDT-II", "Fig 6B", "Kruskal-Wallis P across bin classes"),
        value=cs["kruskal_p"],
        file=file,
        note=f"n bins per class {classes['kruskal'].n}",
    )
    return f


def n_permutation_significant(perm: pd.DataFrame, *, alpha: float = PERMUTATION_ALPHA) -> str:
    """'k/n': gene x mark pairs of `permutation_table` with a circular-permutation P below `alpha`."""
    return f"{int((perm['p_value'] < alpha).sum())}/{len(perm)}"


def robustness_numbers(
    perm: pd.DataFrame,
    sweep: pd.DataFrame,
    *,
    files: tuple[str, str] = ("cdt2_supp1a_permutation.png", "cdt2_supp1b_threshold_sweep.png"),
) -> Findings:
    """Headline rows of CDT-II Supp Fig 1: pairs passing the circular permutation (`permutation_table`) and pairs
    enriched at every threshold (`threshold_table`)."""
    ssum = threshold_summary(sweep)
    f = Findings()
    f.add(
        key=("CDT-II", "Supp 1a", "gene x mark pairs with permutation P < 0.005 (of tested)"),
        value=n_permutation_significant(perm),
        file=files[0],
        note="marks DNase, CTCF, H3K4me3; pairs with >= 5 peak bins",
    )
    f.add(
        key=("CDT-II", "Supp 1b", "pairs enriched (OR > 1, P < 0.05) at all of 5/10/15/20%"),
        value=f"{ssum['n_all_thresholds']}/{ssum['n_pairs']}",
        file=files[1],
    )
    return f


def encode_finding(fisher: pd.DataFrame, classes: dict, perm: pd.DataFrame) -> str:
    """CDT-II Fig 6A/B and Supp Fig 1a in one Markdown list item, beside the published values."""
    fsum, cs = fisher_summary(fisher), classes["summary"]
    return (
        f"- **ENCODE (CDT-II Fig 6A).** {fsum['n_significant']} of {fsum['n_testable']} testable gene x mark "
        f"pairs reach P < 1e-3 (paper 23/24) and {fsum['n_or_above_1']} have an odds ratio above 1. Bin "
        f"classes: Cohen's d CTCF {cs['d_CTCF']:.2f} and promoter {cs['d_promoter']:.2f} vs unannotated "
        f"bins (paper 2.4 and 1.4), Kruskal-Wallis P {cs['kruskal_p']:.2g} (paper 1e-45). Permutation: "
        f"{n_permutation_significant(perm)} pairs at P < {PERMUTATION_ALPHA} (paper 14/15)."
    )


# CDT-III Table 2 / Table 6


@dataclass
class CTCFModels:
    """CDT-III Table 2/6 for each model: per-locus CTCF table (`ctcf_table`), its summary (`ctcf_summary`), and the
    per-locus Jaccard index of CDT-III's and CDT-II's top bins (empty without CDT-III)."""

    tables: dict[str, pd.DataFrame]  # model label -> per-locus table
    summaries: dict[str, dict]  # model label -> summary (with the permutation null)
    agreement: pd.Series

    def named_tables(self) -> dict[str, pd.DataFrame]:
        """The per-locus tables under their saved names (cdt3_table2_ctcf_enrichment_<model>)."""
        return {f"cdt3_table2_ctcf_enrichment_{k.lower().replace('-', '')}": t for k, t in self.tables.items()}

    @property
    def first(self) -> dict:
        """The summary of the first model (CDT-III when present), whose null the figure shows."""
        return next(iter(self.summaries.values()))

    def summary_table(self) -> pd.DataFrame:
        """The summaries side by side (one column per model), without the null draws."""
        return pd.DataFrame({k: {q: v for q, v in s.items() if q != "null"} for k, s in self.summaries.items()})

    def agreement_line(self) -> str:
        """One sentence on how far CDT-III's top bins agree with CDT-II's (empty without CDT-III)."""
        if not len(self.agreement):
            return ""
        return (
            "CDT-III starts from the trained CDT-II nuclear stage: their top-10% bins overlap with a "
            f"mean Jaccard index of {self.agreement.mean():.2f} across loci (1 = identical bins)."
        )


def ctcf_models(profiles: ModelProfiles, ctcf_peaks: pd.DataFrame, *, seed: int = 0) -> CTCFModels:
    """CTCF enrichment of the top-10% bins at every TSS locus for each model (CDT-III first), with the permutation
    summaries (`seed`) and the CDT-III / CDT-II top-bin agreement."""
    tables, sums = {}, {}
    for label, prof in profiles.models.items():
        tables[label], res = ctcf_table(prof.as_dict(), profiles.loci, ctcf_peaks)
        sums[label] = ctcf_summary(res, profiles.n_bins, seed=seed)
    agreement = top_bin_agreement(profiles.cdt3, profiles.cdt2) if profiles.cdt3 is not None else pd.Series(dtype=float)
    return CTCFModels(tables, sums, agreement)


def ctcf_numbers(ctcf: CTCFModels, *, file: str = "cdt3_table2_ctcf_enrichment.png") -> Findings:
    """Headline rows of CDT-III Table 2 per model: mean enrichment, loci above 2x, permutation P."""
    f = Findings()
    for label, s in ctcf.summaries.items():
        if label == "CDT-II":
            note = "CDT-II's own paper: 7.67x (26/28 > 2x)"
        else:
            note = f"top-bin Jaccard with CDT-II {ctcf.agreement.mean():.2f}" if len(ctcf.agreement) else ""
        f.add(
            key=("CDT-III", "Table 2", f"{label}: mean CTCF enrichment, top-10% bins"),
            value=s["mean"],
            file=file,
            note=f"{s['n_genes']} loci with CTCF; median {s['median']:.2f}. " + note,
        )
        f.add(
            key=("CDT-III", "Table 2", f"{label}: loci > 2x (of loci with CTCF)"),
            value=f"{s['n_above_2']}/{s['n_genes']}",
            file=file,
        )
        f.add(
            key=("CDT-III", "Table 2", f"{label}: permutation P (mean enrichment)"),
            value=s["p_value"],
            file=file,
            note=f"null {s['null_mean']:.2f} +- {s['null_sd']:.2f}; authors' pooled variant P "
            f"{s['p_value_authors']:.3g}; published P < 0.001",
        )
    return f


def ctcf_findings(ctcf: CTCFModels) -> list[str]:
    """One Markdown list item per model on its CTCF enrichment at every TSS locus."""
    return [
        f"- **CTCF at every TSS locus ({label}).** Mean enrichment {s['mean']:.2f}x (chance 1x, maximum "
        f"10x; null {s['null_mean']:.2f} +- {s['null_sd']:.2f}), {s['n_above_2']}/{s['n_genes']} loci "
        f"above 2x, permutation P {s['p_value']:.3g}."
        for label, s in ctcf.summaries.items()
    ]


def track_figures(
    profiles: ModelProfiles, ctcf_peaks: pd.DataFrame, *, elements: pd.DataFrame | None = None
) -> dict[str, dict]:
    """CDT-III Figs 7/8: the `genome_track` of each of CD55 and FCGR2A present in this data, from the main model's
    profile, under its figure name, with the paper item and the figure title added."""
    out = {}
    prof = profiles.main
    for gene, (item, name) in TRACK_FIGURES.items():
        if gene not in profiles.loci:
            continue
        track = genome_track(prof.values.loc[gene].to_numpy(), profiles.loci[gene], ctcf_peaks, elements=elements)
        n = int(prof.n_cells[gene])
        cells = f"mean over {n} cells" if n else "input: mean of control cells"
        title = f"{gene}: {prof.label} DNA→RNA cross-attention and CTCF peaks ({cells})"
        out[name] = {**track, "item": item, "title": title}
    return out


def track_numbers(tracks: Mapping[str, dict]) -> Findings:
    """Headline rows of CDT-III Figs 7/8 (`track_figures`): CTCF peaks in the top-10% bins, k of n."""
    f = Findings()
    for name, t in tracks.items():
        f.add(
            key=("CDT-III", t["item"], f"{t['locus']}: CTCF peaks in the top-10% bins"),
            value=f"{t['k']}/{t['n']}",
            file=f"{name}.png",
        )
    return f


# CDT-III Fig 3 / Table 9


def open_hic(path: str | os.PathLike) -> hic.HiC:
    """The Hi-C map at the paper's 5 kb (`HIC_RESOLUTION`) from an .mcool, or the one resolution of a .cool."""
    return hic.HiC(path, resolution=HIC_RESOLUTION if str(path).endswith(".mcool") else None)


@dataclass
class HiCStudy:
    """CDT-III Fig 3 / Table 9: the per-locus contact ratios (`hic_ratios`) and their tests with and without the
    promoter's own Hi-C bin (`cdt.hic.ratio_test`)."""

    ratios: pd.DataFrame
    every: dict  # ratio_test of "ratio"
    off: dict  # ratio_test of "ratio_off_diagonal"
    label: str  # the model whose profiles were used
    resolution: int


def hic_study(contacts: hic.HiC, profiles: ModelProfiles, *, k: int = HIC_TOP_BINS, seed: int = 0) -> HiCStudy:
    """Promoter contact of the top-`k` attention bins of the main model (CDT-III when present) over `k` random bins at
    every TSS locus on the map, tested across loci with every bin and without the promoter's own Hi-C bin."""
    prof = profiles.main
    ratios = hic_ratios(contacts, prof.as_dict(), profiles.loci, k=k, seed=seed)
    return HiCStudy(
        ratios,
        hic.ratio_test(ratios["ratio"]),
        hic.ratio_test(ratios["ratio_off_diagonal"]),
        prof.label,
        contacts.resolution,
    )


def hic_numbers(
    study: HiCStudy,
    *,
    files: tuple[str, str] = ("cdt3_fig3_hic_contact.png", "cdt3_fig3_hic_contact_off_diagonal.png"),
) -> Findings:
    """Headline rows of CDT-III Fig 3A: mean ratio, loci above 1, Wilcoxon P, and the ratio without the diagonal."""
    a, o = study.every, study.off
    f = Findings()
    f.add(
        key=("CDT-III", "Fig 3A", f"{study.label}: mean contact ratio top-20 / random-20"),
        value=a["mean_ratio"],
        file=files[0],
        note=f"Hi-C at {study.resolution} bp (paper 5 kb)",
    )
    f.add(key=("CDT-III", "Fig 3A", "loci with ratio > 1"), value=f"{a['n_above_1']}/{a['n']}", file=files[0])
    f.add(key=("CDT-III", "Fig 3A", "one-sided Wilcoxon P (ratio - 1)"), value=a["p_value"], file=files[0])
    f.add(
        key=("CDT-III", "Fig 3A", "mean ratio without the promoter's own Hi-C bin"),
        value=o["mean_ratio"],
        file=files[1],
        note=f"{o['n_above_1']}/{o['n']} > 1, P {o['p_value']:.3g}; not in the paper",
    )
    return f


def hic_finding(study: HiCStudy) -> str:
    """CDT-III Fig 3 in one Markdown list item, beside the published values."""
    a, o = study.every, study.off
    return (
        f"- **Hi-C (CDT-III Fig 3).** Top-20 attention bins contact the promoter {a['mean_ratio']:.2f}x "
        f"as much as random bins on average ({a['n_above_1']}/{a['n']} loci > 1, Wilcoxon P "
        f"{a['p_value']:.3g}; paper 1.30x, 16/25, 0.020). Leaving out the bins in the promoter's own "
        f"Hi-C bin gives {o['mean_ratio']:.2f}x (P {o['p_value']:.3g}), which separates "
        "long-range contact from the diagonal."
    )


# CDT v1 Figs 3-6


def peak_distance_numbers(
    attr: V1Attribution, summary: Mapping, *, file: str = "cdt1_fig3_peak_distance.png"
) -> Findings:
    """Headline rows of CDT v1 Fig 3 (`v1_peak_distances`): mean distance and share within the scaled threshold,
    with the published mean scaled to this window and the uniform-peak reference in the notes."""
    key = ("CDT v1", "Fig 3", "mean |attention peak - enhancer| (kb)")
    scaled = float(published_value(key)) * attr.n_bins * attr.bin_size / PAPER_WINDOW_BP
    f = Findings()
    f.add(
        key=key,
        value=summary["mean_abs_kb"],
        file=file,
        note=f"window +-{summary['half_window_kb']:.1f} kb: paper value scaled = {scaled:.1f} kb; uniform "
        f"random peak {summary['uniform_mean_abs_kb']:.1f} kb; n = {summary['n']}",
    )
    f.add(
        key=("CDT v1", "Fig 3", "share of peaks within the (scaled) 50-kb threshold"),
        value=summary["frac_within"],
        file=file,
        note=f"threshold {summary['within_bp'] / 1e3:.1f} kb here; uniform random "
        f"peak {summary['uniform_frac_within']:.2f} (paper window: 0.87)",
    )
    return f


def v1_overlap_table(attr: V1Attribution, overlaps: np.ndarray) -> pd.DataFrame:
    """CDT v1 Fig 4: the randomly sampled pairs with their top-k attention / gradient overlap (`v1_overlap`)."""
    return attr.pairs[attr.pairs["random"]].assign(overlap=overlaps)


def v1_overlap_numbers(
    attr: V1Attribution, summary: Mapping, *, file: str = "cdt1_fig4_attention_gradient_overlap.png"
) -> Findings:
    """Headline row of CDT v1 Fig 4A (`v1_overlap`): mean overlap, with the chance overlap in the note."""
    f = Findings()
    f.add(
        key=("CDT v1", "Fig 4A", "mean overlap of top-20 attention and top-20 gradient bins"),
        value=summary["mean"],
        file=file,
        note=f"chance {summary['chance']:.2f} with {attr.n_bins} bins (paper: 0.45 with 896)",
    )
    return f


def v1_ctcf_sites(truth_dir: str | os.PathLike | None, encode_dir: str | os.PathLike | None) -> pd.DataFrame:
    """CTCF sites for CDT v1 Fig 5: the planted CTCF elements of the v1 windows on simulated data (the simulated
    ENCODE files cover only the CDT-II loci), ENCODE CTCF peaks otherwise, none without either."""
    elements = read_elements(truth_dir, "v1_elements.csv")
    if elements is not None:
        return elements[elements["element"] == "CTCF"]
    if encode_dir is not None:
        return read_marks(encode_dir, ["CTCF"])["CTCF"]
    return pd.DataFrame({"chrom": [], "start": [], "end": []})


def case_summary(case: Mapping) -> pd.Series:
    """The scalar fields of `v1_case` (without the CTCF site list) for display."""
    return pd.Series({k: v for k, v in case.items() if k != "ctcf_kb"})


def case_numbers(case: Mapping, *, file: str = "cdt1_fig5_strongest_sample.png") -> Findings:
    """Headline rows of CDT v1 Fig 5 (`v1_case`): attention and gradient peak offsets, gradient peak to CTCF."""
    f = Findings()
    f.add(
        key=("CDT v1", "Fig 5", "attention peak offset from the enhancer (kb)"),
        value=case["attention_peak_kb"],
        file=file,
        note=f"{case['pair']}, beta {case['beta']:.2f}",
    )
    f.add(
        key=("CDT v1", "Fig 5", "gradient peak offset from the enhancer (kb)"),
        value=case["gradient_peak_kb"],
        file=file,
    )
    f.add(
        key=("CDT v1", "Fig 5", "gradient peak to nearest CTCF site (kb)"),
        value=case["gradient_to_ctcf_kb"],
        file=file,
        note=f"attention peak to nearest CTCF: {case['attention_to_ctcf_kb']:.2f} "
        f"kb; {len(case['ctcf_kb'])} CTCF sites in the window",
    )
    return f


def v1_finding(distances: Mapping, overlap: Mapping) -> str:
    """CDT v1 Figs 3 and 4 in one Markdown list item (`v1_peak_distances` and `v1_overlap` summaries)."""
    return (
        f"- **CDT v1.** Attention peaks lie {distances['mean_abs_kb']:.1f} kb from the enhancer on average, "
        f"{distances['frac_within']:.0%} within the scaled threshold; a uniformly random peak would give "
        f"{distances['uniform_mean_abs_kb']:.1f} kb and {distances['uniform_frac_within']:.0%}. Top-20 attention and "
        f"gradient bins share {overlap['mean']:.1f} bins on average (chance {overlap['chance']:.2f}; paper 2.2)."
    )


@dataclass
class PairContacts:
    """CDT v1 Fig 6: O/E contact of enhancer-promoter pairs (`pair_contacts`, finite only), where they come from,
    the strongest pair and the contact matrix around it."""

    pairs: pd.DataFrame
    source: str
    strongest: pd.Series
    matrix: np.ndarray
    start: int  # genomic start of the matrix's first bin

    @property
    def anchors(self) -> dict[str, int]:
        """Enhancer and promoter positions of the strongest pair."""
        return {"enhancer": int(self.strongest["enhancer"]), "promoter": int(self.strongest["promoter"])}

    def test(self) -> dict:
        """One-sided Wilcoxon of O/E - 1 across pairs (`cdt.hic.ratio_test`; P NaN with one pair)."""
        oe = self.pairs["oe"]
        return hic.ratio_test(oe) if len(oe) > 1 else {"p_value": np.nan}


def pair_contact_study(
    contacts: hic.HiC,
    *,
    attr: V1Attribution | None = None,
    truth_dir: str | os.PathLike | None = None,
    pad_bins: int = 10,
) -> PairContacts | None:
    """The enhancer-promoter pairs on the Hi-C map: the CDT v1 validation pairs when given and on the map, else (on
    simulated data, whose map covers only the CDT-II loci) the screen's enhancer (SNP) loci and their cis genes.

    The strongest pair is the most negative beta (v1 pairs) or the largest cis effect (SNP loci); the matrix spans
    it with `pad_bins` Hi-C bins on each side. None when no pair lies on the map.
    """
    pairs, source = pd.DataFrame(), ""
    if attr is not None:
        v1_pairs = attr.pairs.rename(columns={"enhancer_center": "enhancer", "tss": "promoter"}).dropna(
            subset=["promoter"]
        )
        pairs = pair_contacts(contacts, v1_pairs)
        pairs, source = pairs[np.isfinite(pairs["oe"])], "CDT v1 validation pairs"
    if pairs.empty and truth_dir:
        pairs = pair_contacts(contacts, snp_pairs(pd.read_csv(Path(truth_dir) / "loci.csv")))
        pairs, source = pairs[np.isfinite(pairs["oe"])], "simulated enhancer (SNP) loci and their cis genes"
    if pairs.empty:
        return None
    if "beta" in pairs:
        strongest = pairs.sort_values("beta").iloc[0]
    else:
        strongest = pairs.sort_values("effect", ascending=False).iloc[0]
    lo, hi = sorted((int(strongest["enhancer"]), int(strongest["promoter"])))
    pad = pad_bins * contacts.resolution
    matrix, start = contact_window(contacts, strongest["chrom"], lo - pad, hi + pad)
    return PairContacts(pairs, source, strongest, matrix, start)


def pair_contact_numbers(study: PairContacts, *, file: str = "cdt1_fig6_hic_enhancer_promoter.png") -> Findings:
    """Headline rows of CDT v1 Fig 6: the strongest pair's O/E and the pairs above 1 (median, Wilcoxon P)."""
    s, oe = study.strongest, study.pairs["oe"]
    f = Findings()
    f.add(
        key=("CDT v1", "Fig 6", "O/E contact, strongest pair's enhancer and promoter"),
        value=float(s["oe"]),
        file=file,
        note=f"{s['pair']} ({study.source}), {s['distance_kb']:.0f} kb apart",
    )
    f.add(
        key=("CDT v1", "Fig 6", "pairs with O/E > 1 (median O/E)"),
        value=f"{int((oe > 1).sum())}/{len(oe)} ({oe.median():.2f})",
        file=file,
        note=f"{study.source}; one-sided Wilcoxon vs 1: P {study.test()['p_value']:.3g}; not in the paper",
    )
    return f


# ground truth and the model behind the profiles

TRUTH_TARGETS = ("any element", "CTCF", "promoter")
"""Planted-element classes whose recovery is a headline row."""


def truth_recovery(
    profiles: ModelProfiles, dna_store: str | os.PathLike, elements: pd.DataFrame, *, seed: int = 0
) -> pd.DataFrame:
    """`element_recovery` of every TSS window's bins by each model's attention (CDT-III first), the model-free DNA
    scores and a random score (`bin_scores`), against the planted elements (`element_truth`)."""
    with DNAStore(dna_store) as store:
        dna = store.stack(profiles.tss)  # [U, L, D]
    scores = {f"{p.label} attention": p.values.loc[profiles.tss].to_numpy() for p in profiles.models.values()}
    return element_recovery(bin_scores(scores, dna, seed), element_truth(elements, profiles.tss, profiles.n_bins))


def v1_truth_recovery(
    attr: V1Attribution, dna_store: str | os.PathLike, elements: pd.DataFrame, *, seed: int = 0
) -> pd.DataFrame:
    """`element_recovery` of the analysed CDT v1 windows by attention and gradient norms beside the model-free and
    random scores, against the planted elements of those windows (`v1_element_truth`)."""
    with DNAStore(dna_store) as store:
        dna = store.stack(attr.pairs["enhancer_id"].astype(str).tolist())
    scores = bin_scores({"attention": attr.attention, "gradient": attr.gradient}, dna, seed)
    return element_recovery(scores, v1_element_truth(elements, attr))


def recovery_wide(table: pd.DataFrame, *, metrics: Sequence[str] = ("auroc", "top_fold")) -> pd.DataFrame:
    """`element_recovery` as one row per method and a column per (metric, target), for reading at a glance."""
    return pd.concat({m: table.pivot(index="method", columns="target", values=m) for m in metrics}, axis=1)


def truth_numbers(recovery: pd.DataFrame, main: str, *, file: str = "truth_element_recovery_attention.png") -> Findings:
    """Headline rows of the planted-element control (`truth_recovery`): AUROC and top-10% fold of the `main`
    attention score for each of `TRUTH_TARGETS`, with the model-free and random scores in the notes."""
    r = recovery.set_index(["method", "target"])
    f = Findings()
    for target in TRUTH_TARGETS:
        f.add(
            key=("truth", "planted elements", f"{main}: AUROC for {target} bins"),
            value=float(r.loc[(main, target), "auroc"]),
            file=file,
            note=f"embedding norm {r.loc[('embedding_norm', target), 'auroc']:.3f}, near TSS "
            f"{r.loc[('near_centre', target), 'auroc']:.3f}, random {r.loc[('random', target), 'auroc']:.3f}",
        )
        f.add(
            key=("truth", "planted elements", f"{main}: top-10% bins on {target}, fold over base rate"),
            value=float(r.loc[(main, target), "top_fold"]),
            file=file,
            note=f"embedding norm {r.loc[('embedding_norm', target), 'top_fold']:.2f}, random "
            f"{r.loc[('random', target), 'top_fold']:.2f}",
        )
    return f


def v1_truth_numbers(recovery: pd.DataFrame, *, file: str = "truth_element_recovery_v1.png") -> Findings:
    """Headline rows of the CDT v1 planted-element control (`v1_truth_recovery`): AUROC for any element of the
    attention and the gradient score, with the embedding norm and random score in the notes."""
    v = recovery.set_index(["method", "target"])
    f = Findings()
    for method in ("attention", "gradient"):
        f.add(
            key=("truth", "planted elements", f"CDT v1 {method}: AUROC for any element"),
            value=float(v.loc[(method, "any element"), "auroc"]),
            file=file,
            note=f"embedding norm {v.loc[('embedding_norm', 'any element'), 'auroc']:.3f}, random "
            f"{v.loc[('random', 'any element'), 'auroc']:.3f}",
        )
    return f


def truth_finding(recovery: pd.DataFrame, main: str, *, tol: float = AT_CHANCE) -> str:
    """The planted-element control in one Markdown list item: is `main` attention above chance (the random score
    +- `tol`) and above the model-free embedding norm, and what that means for the ENCODE enrichment."""
    r = recovery.set_index(["method", "target"])
    a_any, a_rand = r.loc[(main, "any element"), "auroc"], r.loc[("random", "any element"), "auroc"]
    a_norm = r.loc[("embedding_norm", "any element"), "auroc"]
    chance = "above chance" if a_any > a_rand + tol else "below chance" if a_any < a_rand - tol else "at chance"
    return (
        f"- **Positive control.** Against the planted elements, {main} ranks element bins with AUROC "
        f"{a_any:.3f} (CTCF {r.loc[(main, 'CTCF'), 'auroc']:.3f}, promoter "
        f"{r.loc[(main, 'promoter'), 'auroc']:.3f}; random score {a_rand:.3f}): **{chance}**, and "
        f"{'above' if a_any > a_norm else 'below'} the model-free norm of the DNA embedding ({a_norm:.3f}), "
        f"which needs no model at all. Its top-10% bins lie on an element "
        f"{r.loc[(main, 'any element'), 'top_fold']:.2f}x as often as a random bin (embedding norm "
        f"{r.loc[('embedding_norm', 'any element'), 'top_fold']:.2f}x). In the simulator a TSS knockdown's "
        "effects depend on which gene is knocked down; the DNA window only has to identify the locus, so "
        "nothing forces attention onto elements, and ENCODE enrichment is evidence of element recognition "
        "only as far as this control shows attention finding them."
    )


def model_finding(fit: Mapping, *, tol: float = ABOVE_BASELINE) -> str:
    """The model behind the profiles in one Markdown list item, from `cdt.analyses.prediction.run_summary`: its
    reported held-out r against the mean-training-effect baseline (above it by more than `tol` or not); empty
    when the run reports no r."""
    if "reported_r" not in fit:
        return ""
    above = "above" if fit["reported_r"] > fit["baseline_r"] + tol else "not above"
    return (
        f"- **The model behind the profiles.** CDT-II reaches r = {fit['reported_r']:.3f} on its reported "
        f"held-out cells against {fit['baseline_r']:.3f} for the mean-training-effect baseline; attention of a "
        f"model {above} that baseline is what the statistics below describe."
    )

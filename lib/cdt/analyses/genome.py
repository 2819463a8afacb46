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
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import torch
from torch import nn

from cdt import genome, hic, stats
from cdt.attention import cross_attention_profiles, v1_target_attention
from cdt.baselines.edges import dna_bin_baselines, element_bins, recovery_table
from cdt.data.dnastore import DNAStore, Locus
from cdt.data.errors import ContractError
from cdt.evaluate import eval_mode, explicit_batch, forward, ntc_mean_protein, resolve_screen
from cdt.gradients import v1_dna_gradient_norms
from cdt.models import CDT3
from cdt.published import CDT2_FISHER_OR, CDT3_CTCF, CDT3_HIC_RATIO
from cdt.train import LoadedRun
from cdt.train.runs import DataFiles, load_data

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
    pairs = table.iloc[sel][["enhancer_id", "target_gene", "beta", "chrom", "enhancer_center", "tss"]].copy()
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
        "tss_offset_kb": (int(row["tss"]) - centre) / 1e3,
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

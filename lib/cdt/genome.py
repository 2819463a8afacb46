"""Genome side of attention validation: locus bins <-> ENCODE peaks and signal, bin classes, enrichment statistics.

Covers CDT-II Fig 7 / Supp Fig 1 (Fisher per gene x mark on the top-10% cross-attention bins, circular permutation,
threshold sweep, bin classes with Kruskal-Wallis and Cohen's d, the per-mark entropy ranking), CDT-III's CTCF
enrichment (10 x the fraction of CTCF peaks in the top-10% bins, so 10x is the maximum) and CDT v1's distance of the
cross-attention peak from the window centre. Bins come from `cdt.data.dnastore.Locus` (bin b covers
``[center + (b - n_bins // 2) * bin_size, +bin_size)``); intervals are BED-style 0-based half-open throughout.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import bioframe
import numpy as np
import pandas as pd
import pyBigWig

from cdt import stats
from cdt.data.dnastore import Locus
from cdt.data.errors import ContractError

MARKS: tuple[str, ...] = ("DNase", "CTCF", "H3K4me3", "H3K27ac", "H3K4me1")
"""The five ENCODE K562 tracks, in the column order of CDT-II Fig 7A."""

CLASSES: tuple[str, ...] = ("promoter", "active_enhancer", "CTCF", "other")
"""The bin classes compared in CDT-II Fig 7B (the notebook's "enhancer" class is labelled but not tested)."""

_BED_COLUMNS = {3: "bed3", 4: "bed4", 5: "bed5", 6: "bed6", 10: "narrowPeak"}
_BIGWIG_SUFFIXES = (".bw", ".bigwig")
_BIGBED_SUFFIXES = (".bb", ".bigbed")


# ----------------------------------------------------------------------------------------------------------------------
# reading peak and signal files


def read_peaks(path: str | os.PathLike, genome: Iterable[str] | None = None) -> pd.DataFrame:
    """Peaks of a narrowPeak/BED(3-6) text file (optionally gzipped) or a bigBed, as a bioframe table.

    narrowPeak columns follow bioframe's schema (chrom, start, end, name, score, strand, fc = signalValue,
    -log10p, -log10q, relSummit). ``attrs["source"]`` keeps the path so later errors can name the file.
    ``attrs["chroms"]`` lists the chromosomes the file knows and ``attrs["complete"]`` says whether that list is the
    whole genome (a bigBed header, or `genome` given): then a locus elsewhere is an error. A text file only shows
    the chromosomes that have peaks, so there only a naming mismatch (chr1 vs 1) is an error and a locus on a
    peak-free chromosome simply has no peaks.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: peak file does not exist")
    suffix = path.name.lower().removesuffix(".gz")
    if suffix.endswith(_BIGWIG_SUFFIXES):
        raise ContractError(str(path), "format", "is a bigWig signal track, not peaks; use bigwig_bin_signal()")
    if suffix.endswith(_BIGBED_SUFFIXES):
        peaks, known = _read_bigbed(path)
    else:
        peaks = _read_bed_text(path)
        known = set(peaks["chrom"].unique())
    if genome is not None:
        outside = sorted(known - set(genome)) if not suffix.endswith(_BIGBED_SUFFIXES) else []
        if outside:
            raise ContractError(str(path), "chrom", f"peaks on chromosomes outside the given genome: {outside[:5]}")
        known = set(genome)
    peaks.attrs["source"] = str(path)
    peaks.attrs["chroms"] = sorted(known)
    peaks.attrs["complete"] = genome is not None or suffix.endswith(_BIGBED_SUFFIXES)
    return peaks


def _read_bed_text(path: Path) -> pd.DataFrame:
    """Validate the field count line by line (pandas would pad short lines with NaN), then parse with bioframe."""
    opener = gzip.open if _is_gzip(path) else open
    skip, data_lines, n_fields = [], [], None
    with opener(path, "rt") as fh:
        for i, line in enumerate(fh):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                skip.append(i)
                continue
            k = len(line.rstrip("\n\r").split("\t"))
            if n_fields is None:
                n_fields = k
            elif k != n_fields:
                raise ContractError(
                    str(path), f"line {i + 1}", f"has {k} tab-separated fields, earlier lines {n_fields}"
                )
            data_lines.append(i + 1)
    if n_fields is None:
        return _empty_peaks()
    if n_fields not in _BED_COLUMNS:
        raise ContractError(
            str(path), "columns", f"{n_fields} tab-separated fields; expected narrowPeak (10) or BED3-6"
        )
    df = bioframe.read_table(
        path,
        schema=_BED_COLUMNS[n_fields],
        dtype=str,
        skiprows=skip,
        compression="gzip" if _is_gzip(path) else None,
        skip_blank_lines=False,
    )
    return _typed(df, str(path), line_numbers=np.asarray(data_lines))


def _read_bigbed(path: Path) -> tuple[pd.DataFrame, set[str]]:
    bb = pyBigWig.open(str(path))
    if bb is None or not bb.isBigBed():
        raise ContractError(str(path), "format", "not a readable bigBed file")
    try:
        chroms = bb.chroms()
        rows = [(c, s, e, rest) for c, size in chroms.items() for s, e, rest in (bb.entries(c, 0, size) or [])]
    finally:
        bb.close()
    return bigbed_entries_frame(rows, str(path)), set(chroms)


def bigbed_entries_frame(rows: list[tuple[str, int, int, str]], source: str) -> pd.DataFrame:
    """bigBed entries ``(chrom, start, end, rest)`` -> the same typed table as a text file (rest = tab-joined fields)."""
    if not rows:
        return _empty_peaks()
    fields = [[c, str(s), str(e), *(rest.split("\t") if rest else [])] for c, s, e, rest in rows]
    counts = {len(f) for f in fields}
    if len(counts) != 1 or (n := counts.pop()) not in _BED_COLUMNS:
        raise ContractError(
            source,
            "columns",
            f"bigBed records have {sorted({len(f) for f in fields})} fields; expected narrowPeak (10) or BED3-6",
        )
    df = pd.DataFrame(fields, columns=bioframe.SCHEMAS[_BED_COLUMNS[n]])
    return _typed(df, source, line_numbers=np.arange(1, len(df) + 1), unit="record")


def _typed(df: pd.DataFrame, source: str, line_numbers: np.ndarray, unit: str = "line") -> pd.DataFrame:
    """Integer coordinates (0 <= start <= end) and numeric narrowPeak columns, with the offending line named."""
    out = df.copy()
    for col in ("start", "end", "score", "relSummit"):
        if col in out:
            out[col] = _integers(out[col], source, col, line_numbers, unit)
    for col in ("fc", "-log10p", "-log10q"):
        if col in out:
            values = pd.to_numeric(out[col].astype(str).str.strip(), errors="coerce")
            if values.isna().any():
                i = int(np.flatnonzero(values.isna().to_numpy())[0])
                raise ContractError(source, f"{unit} {line_numbers[i]}", f"{col} {df[col].iloc[i]!r} is not a number")
            out[col] = values.astype(float)
    bad = (out["start"] < 0) | (out["end"] < out["start"])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ContractError(
            source,
            f"{unit} {line_numbers[i]}",
            f"interval [{out['start'].iloc[i]}, {out['end'].iloc[i]}) needs 0 <= start <= end",
        )
    return out


def _integers(col: pd.Series, source: str, name: str, line_numbers: np.ndarray, unit: str) -> pd.Series:
    text = col.astype(str).str.strip()
    bad = ~text.str.fullmatch(r"[+-]?\d+")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ContractError(source, f"{unit} {line_numbers[i]}", f"{name} {col.iloc[i]!r} is not an integer")
    return text.astype(np.int64)


def _empty_peaks() -> pd.DataFrame:
    return pd.DataFrame(
        {"chrom": pd.Series(dtype=str), "start": pd.Series(dtype=np.int64), "end": pd.Series(dtype=np.int64)}
    )


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def bigwig_bin_signal(path: str | os.PathLike, locus: Locus, stat: str = "mean") -> np.ndarray:
    """Per-bin signal of a bigWig over the locus window, `[n_bins]` (uncovered bases count as 0, like ENCODE fold change).

    stat: "mean" or "max" over the bin's bases. Bins past the chromosome ends are 0.
    """
    path = Path(path)
    if stat not in ("mean", "max"):
        raise ValueError(f"stat must be 'mean' or 'max', got {stat!r}")
    if not path.exists():
        raise FileNotFoundError(f"{path}: bigWig does not exist")
    bw = pyBigWig.open(str(path))
    if bw is None or not bw.isBigWig():
        raise ContractError(str(path), "format", "not a readable bigWig file")
    try:
        sizes = bw.chroms()
        _check_chrom(locus, sizes, str(path))
        start, end = int(locus.bin_start(0)), int(locus.bin_start(locus.n_bins))
        values = np.zeros(end - start)  # [n_bins * bin_size]
        lo, hi = max(start, 0), min(end, sizes[locus.chrom])
        if hi > lo:
            values[lo - start : hi - start] = np.nan_to_num(bw.values(locus.chrom, lo, hi, numpy=True), nan=0.0)
    finally:
        bw.close()
    per_bin = values.reshape(locus.n_bins, locus.bin_size)  # [n_bins, bin_size]
    return per_bin.mean(axis=1) if stat == "mean" else per_bin.max(axis=1)


def signal_matrix(locus: Locus, tracks: Mapping[str, str | os.PathLike], stat: str = "mean") -> pd.DataFrame:
    """`[n_bins, marks]` bigWig signal per bin (threshold it to get hits: ``signal_matrix(...) > t``)."""
    return pd.DataFrame({mark: bigwig_bin_signal(p, locus, stat) for mark, p in tracks.items()})


# ----------------------------------------------------------------------------------------------------------------------
# peaks -> bins


def _check_chrom(locus: Locus, known: Iterable[str], source: str, complete: bool = True) -> None:
    """A locus chromosome the file does not know is an error when `known` is the whole genome, or else (a list of
    chromosomes with peaks) when the names differ in style (chr-prefix), which means the file cannot match."""
    known = set(known)
    if locus.chrom in known:
        return
    other = locus.chrom[3:] if locus.chrom.startswith("chr") else "chr" + locus.chrom
    styles = {k.startswith("chr") for k in known}
    mismatch = other in known or (bool(known) and locus.chrom.startswith("chr") not in styles)
    if complete or mismatch:
        hint = "; chromosome names differ in style (chr-prefix)" if mismatch else ""
        raise ContractError(
            source,
            "chrom",
            f"locus {locus.locus_id!r} is on {locus.chrom!r}, which the file does "
            f"not know (has {', '.join(sorted(known)[:5]) or 'no chromosomes'}){hint}",
        )


def locus_peaks(peaks: pd.DataFrame, locus: Locus) -> pd.DataFrame:
    """Peaks overlapping the locus window (start < window end and end > window start, same chromosome)."""
    _check_chrom(
        locus,
        peaks.attrs.get("chroms", peaks["chrom"].unique()),
        peaks.attrs.get("source", "<peaks>"),
        complete=peaks.attrs.get("complete", False),
    )
    ws, we = int(locus.bin_start(0)), int(locus.bin_start(locus.n_bins))
    keep = (peaks["chrom"] == locus.chrom) & (peaks["start"] < we) & (peaks["end"] > ws)
    return peaks.loc[keep].reset_index(drop=True)


def overlap_matrix(locus: Locus, peaks: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """`[n_bins, marks]` number of peaks of each mark overlapping each bin (hit = count > 0; strand ignored)."""
    bins = locus.bin_intervals()[["chrom", "start", "end"]]
    out = {}
    for mark, table in peaks.items():
        window = locus_peaks(table, locus)[["chrom", "start", "end"]]
        counts = bioframe.count_overlaps(bins, window)["count"] if len(window) else np.zeros(locus.n_bins)
        out[mark] = np.asarray(counts, dtype=np.int64)
    return pd.DataFrame(out, index=pd.RangeIndex(locus.n_bins, name="bin"))


def bin_classes(hits: pd.DataFrame, rule: str = "notebook") -> np.ndarray:
    """Label each bin from its mark hits (`[n_bins]` of str).

    rule="notebook" (the published Fig 7B): promoter = H3K4me3+; CTCF = CTCF+ & H3K4me3- & H3K4me1-;
    active_enhancer = H3K27ac+ & H3K4me3- (unless CTCF); enhancer = H3K4me1+ & H3K4me3- & H3K27ac-; other = none of
    the four (DNase ignored). rule="paper" (CDT-II text): promoter = H3K4me3+; active_enhancer = H3K27ac+ & H3K4me3-;
    CTCF = CTCF+ & H3K4me3- & H3K27ac-; other = no peak of any mark; every remaining bin is "unclassified".
    """
    h = {m: hits[m].to_numpy() > 0 for m in ("CTCF", "H3K4me3", "H3K27ac", "H3K4me1")}
    k4me3, k27ac, k4me1, ctcf = h["H3K4me3"], h["H3K27ac"], h["H3K4me1"], h["CTCF"]
    if rule == "notebook":
        conditions = [k4me3, ctcf & ~k4me1, k27ac, k4me1]
        labels = ["promoter", "CTCF", "active_enhancer", "enhancer"]
        default = "other"
    elif rule == "paper":
        any_peak = (hits.to_numpy() > 0).any(axis=1)
        conditions = [k4me3, k27ac, ctcf, ~any_peak]
        labels = ["promoter", "active_enhancer", "CTCF", "other"]
        default = "unclassified"
    else:
        raise ValueError(f"rule must be 'notebook' or 'paper', got {rule!r}")
    return np.select(conditions, labels, default=default).astype(object)


# ----------------------------------------------------------------------------------------------------------------------
# top attention bins and Fisher enrichment (CDT-II Fig 7A, Supp Fig 1)


def top_bins(profile: np.ndarray, q: float = 0.10) -> np.ndarray:
    """CDT-II rule: bins with attention >= the (1 - q) quantile (linear interpolation; ties can add bins). `[n_bins]` bool."""
    profile = np.asarray(profile, dtype=float)
    return profile >= np.percentile(profile, 100 * (1 - q))


def top_k_bins(profile: np.ndarray, k: int) -> np.ndarray:
    """CDT-III rule: exactly the `k` highest-attention bins (stable order on ties). `[n_bins]` bool."""
    mask = np.zeros(len(profile), dtype=bool)
    mask[np.argsort(-np.asarray(profile, dtype=float), kind="stable")[:k]] = True
    return mask


def top_hit_table(top: np.ndarray, hit: np.ndarray) -> list[list[int]]:
    """The 2x2 counts [[top & hit, top & ~hit], [~top & hit, ~top & ~hit]] of a top-bin mask and a peak-bin mask."""
    top, hit = np.asarray(top, bool), np.asarray(hit) > 0
    return [[int((top & hit).sum()), int((top & ~hit).sum())], [int((~top & hit).sum()), int((~top & ~hit).sum())]]


def top_hit_odds_ratio(top: np.ndarray, hit: np.ndarray) -> float:
    """The sample odds ratio of `fisher_enrichment` without its P value (for permutation nulls)."""
    return stats.sample_odds_ratio(top_hit_table(top, hit))


def fisher_enrichment(top: np.ndarray, hit: np.ndarray) -> dict:
    """One-sided Fisher test of top-bin x peak-bin overlap, with the sample OR and the Haldane OR + Woolf 95% CI.

    No peak bin in the window -> OR NaN, P 1 (as CDT-II reports CD44 x H3K27ac).
    """
    (a, b), (c, d) = table = top_hit_table(top, hit)
    res = stats.fisher_exact(table, alternative="greater")
    return {
        "a": a,
        "b": b,
        "c": c,
        "d": d,
        "odds_ratio": res.odds_ratio,
        "p_value": res.p_value,
        "or_haldane": res.haldane_odds_ratio,
        "ci_low": res.ci_low,
        "ci_high": res.ci_high,
    }


def enrichment_table(
    profiles: Mapping[str, np.ndarray],
    hits: Mapping[str, pd.DataFrame],
    q: float = 0.10,
    marks: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Fisher enrichment for every gene x mark (long table: gene, mark, n_top, n_peak_bins, a..d, OR, P, Haldane OR, CI)."""
    rows = []
    for gene, profile in profiles.items():
        top = top_bins(profile, q)
        for mark in marks or hits[gene].columns:
            hit = hits[gene][mark].to_numpy() > 0
            rows.append(
                {
                    "gene": gene,
                    "mark": mark,
                    "n_top": int(top.sum()),
                    "n_peak_bins": int(hit.sum()),
                    **fisher_enrichment(top, hit),
                }
            )
    return pd.DataFrame(rows)


def threshold_sweep(
    profile: np.ndarray, hits: pd.DataFrame, qs: Iterable[float] = (0.05, 0.10, 0.15, 0.20)
) -> pd.DataFrame:
    """Supp Fig 1b: Fisher OR and P of each mark at top 5/10/15/20% bins (long table: mark, q, n_top, OR, P)."""
    rows = []
    for q in qs:
        top = top_bins(profile, q)
        for mark in hits.columns:
            res = fisher_enrichment(top, hits[mark].to_numpy())
            rows.append(
                {
                    "mark": mark,
                    "q": q,
                    "n_top": int(top.sum()),
                    "odds_ratio": res["odds_ratio"],
                    "p_value": res["p_value"],
                }
            )
    return pd.DataFrame(rows)


def odds_ratio_permutation_test(
    profile: np.ndarray, hit: np.ndarray, q: float = 0.10, n_perm: int = 1000, seed: int = 42
) -> stats.Permutation:
    """Supp Fig 1a: roll the attention profile by a random shift in [1, n_bins - 1] (peaks fixed), recompute the OR.

    Keeps the autocorrelation of attention and peaks while breaking their alignment; see `cdt.stats.Permutation`
    for the observed OR, the null ORs `[n_perm]` and both P conventions.
    """

    def sample_or(x: np.ndarray, h: np.ndarray) -> float:
        return top_hit_odds_ratio(top_bins(x, q), h)

    return stats.circular_permutation_test(
        np.asarray(profile, dtype=float), np.asarray(hit) > 0, sample_or, n_permutations=n_perm, seed=seed
    )


# ----------------------------------------------------------------------------------------------------------------------
# bin classes, effect sizes, mark informativeness (CDT-II Fig 7B and text)


def class_statistics(
    profiles: Mapping[str, np.ndarray],
    classes: Mapping[str, np.ndarray],
    tested: Iterable[str] = CLASSES,
    reference: str = "other",
    min_size: int = 3,
) -> dict:
    """Pool (class, attention) over genes; Kruskal-Wallis across the tested classes; Cohen's d of each vs `reference`.

    Returns ``pooled`` (DataFrame gene, bin, class, attention), ``kruskal`` (`cdt.stats.Test`) and ``cohens_d``
    (DataFrame class, n, mean, d vs reference). Classes with fewer than `min_size` bins are left out of the test.
    """
    pooled = pd.concat(
        [
            pd.DataFrame({"gene": g, "bin": np.arange(len(p)), "class": classes[g], "attention": p})
            for g, p in profiles.items()
        ],
        ignore_index=True,
    )
    groups = {c: pooled.loc[pooled["class"] == c, "attention"].to_numpy() for c in (*tested, reference)}
    ref = groups[reference]
    rows = [
        {
            "class": c,
            "n": len(v),
            "mean": float(np.mean(v)) if len(v) else np.nan,
            f"d_vs_{reference}": stats.cohens_d(v, ref) if len(v) >= 2 and len(ref) >= 2 else np.nan,
        }
        for c, v in groups.items()
        if c != reference
    ]
    return {
        "pooled": pooled,
        "kruskal": stats.kruskal_wallis({c: groups[c] for c in tested}, min_size=min_size),
        "cohens_d": pd.DataFrame(rows),
    }


def mark_information(
    profiles: Mapping[str, np.ndarray], hits: Mapping[str, pd.DataFrame], q: float = 0.10
) -> pd.DataFrame:
    """Entropy ranking of marks: mutual information (bits) between top-q attention membership and the mark, per gene.

    I(top; mark) = H(top) - H(top | mark) is how much knowing a bin's mark tells about whether attention picks it;
    rank 1 = the most informative mark of that gene. (The CDT-II text ranks CTCF first for all five genes by an
    "entropy analysis" that has no code; this is our explicit reconstruction.)
    """
    rows = []
    for gene, profile in profiles.items():
        top = top_bins(profile, q)
        for mark in hits[gene].columns:
            rows.append(
                {"gene": gene, "mark": mark, "mi_bits": _mutual_information(top, hits[gene][mark].to_numpy() > 0)}
            )
    out = pd.DataFrame(rows)
    out["rank"] = out.groupby("gene")["mi_bits"].rank(ascending=False, method="min").astype(int)
    return out


def _mutual_information(x: np.ndarray, y: np.ndarray) -> float:
    joint = np.histogram2d(x.astype(int), y.astype(int), bins=2, range=[[0, 2], [0, 2]])[0] / len(x)  # [2, 2]
    px, py = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
    nz = joint > 0
    return float(np.sum(joint[nz] * np.log2(joint[nz] / (px @ py)[nz])))


# ----------------------------------------------------------------------------------------------------------------------
# CDT-III CTCF enrichment


@dataclass(frozen=True)
class CTCFEnrichment:
    n_ctcf: int  # CTCF peaks (count="peaks") or CTCF-positive bins (count="bins") in the window
    in_top: int  # of those, how many fall in the top bins
    enrichment: float  # in_top / (top_fraction * n_ctcf); max 1 / top_fraction (10x); NaN when n_ctcf = 0
    n_top: int  # number of top bins (int(top_fraction * n_bins), 89 of 896)
    ctcf_bins: np.ndarray  # bin of each counted peak / positive bin (for the permutation null)


def ctcf_enrichment(
    profile: np.ndarray, locus: Locus, peaks: pd.DataFrame, top_fraction: float = 0.10, count: str = "peaks"
) -> CTCFEnrichment:
    """CDT-III Tables 2/6 (paper/METHODS.md, 'CTCF enrichment across TSS loci'): enrichment of CTCF in the
    int(top_fraction * n_bins) highest-attention bins.

    count="peaks" (the authors'): every CTCF peak overlapping the window is assigned to the bin of its midpoint
    floor((start + end) / 2) and counted (peaks sharing a bin each count). count="bins" (the CDT-II 28-gene reading):
    count CTCF-positive bins (any overlap) instead of peaks.
    """
    profile = np.asarray(profile, dtype=float)
    if len(profile) != locus.n_bins:
        raise ValueError(f"profile has {len(profile)} bins, locus {locus.locus_id!r} has {locus.n_bins}")
    n_top = int(top_fraction * locus.n_bins)
    top = top_k_bins(profile, n_top)
    if count == "peaks":
        window = locus_peaks(peaks, locus)
        mid = (window["start"].to_numpy() + window["end"].to_numpy()) // 2
        b = (mid - locus.center) // locus.bin_size + locus.n_bins // 2
        ctcf_bins = b[(b >= 0) & (b < locus.n_bins)]
    elif count == "bins":
        ctcf_bins = np.flatnonzero(overlap_matrix(locus, {"CTCF": peaks})["CTCF"].to_numpy() > 0)
    else:
        raise ValueError(f"count must be 'peaks' or 'bins', got {count!r}")
    n_ctcf, in_top = len(ctcf_bins), int(top[ctcf_bins].sum())
    enrichment = in_top / (top_fraction * n_ctcf) if n_ctcf else np.nan
    return CTCFEnrichment(n_ctcf, in_top, enrichment, n_top, ctcf_bins.astype(np.int64))


def ctcf_permutation_test(
    results: Mapping[str, CTCFEnrichment],
    n_bins: int,
    top_fraction: float = 0.10,
    n_perm: int = 1000,
    n_random: int | None = None,
    null: str = "mean",
    seed: int = 0,
) -> dict:
    """Null for the mean CTCF enrichment: per gene, `n_random` distinct random bins replace the top bins.

    Observed = mean of per-gene enrichments over genes with >= 1 CTCF. null="mean" compares like with like (mean of
    per-gene ratios, n_random = the number of top bins); the authors' variant is null="pooled" (sum of counts / sum of
    expectations) with n_random=90. p_value = (#null >= observed + 1) / (n_perm + 1); p_value_authors omits the +1.
    """
    if null not in ("mean", "pooled"):
        raise ValueError(f"null must be 'mean' or 'pooled', got {null!r}")
    genes = [g for g, r in results.items() if r.n_ctcf > 0]
    if not genes:
        raise ValueError("no gene has a CTCF peak in its window")
    observed = float(np.mean([results[g].enrichment for g in genes]))
    rng = np.random.default_rng(seed)
    counts = np.zeros((n_perm, len(genes)))  # [n_perm, genes] CTCF in the random bins
    for j, g in enumerate(genes):
        k = n_random or results[g].n_top
        chosen = np.argsort(rng.random((n_perm, n_bins)), axis=1)[:, :k]  # [n_perm, k] distinct bins per draw
        member = np.zeros((n_perm, n_bins), dtype=bool)
        np.put_along_axis(member, chosen, True, axis=1)
        counts[:, j] = member[:, results[g].ctcf_bins].sum(axis=1)
    expected = top_fraction * np.array([results[g].n_ctcf for g in genes])  # [genes]
    null_values = (counts / expected).mean(axis=1) if null == "mean" else counts.sum(axis=1) / expected.sum()
    n_ge = int(np.sum(null_values >= observed))
    return {
        "observed": observed,
        "null": null_values,
        "p_value": (n_ge + 1) / (n_perm + 1),
        "p_value_authors": n_ge / n_perm,
        "genes": genes,
    }


# ----------------------------------------------------------------------------------------------------------------------
# CDT v1 Fig 3: where the cross-attention peak lies


def attention_peak_distance(rows: np.ndarray, bin_size: int = 128) -> np.ndarray:
    """Signed distance (bp) of each row's argmax bin from the window centre, measured from the bin start. `[S]`.

    rows: `[S, n_bins]` (or `[n_bins]`) head-averaged cross-attention of the target gene; bin n_bins // 2 starts at
    the enhancer centre, so d = (argmax - n_bins // 2) * bin_size.
    """
    rows = np.atleast_2d(np.asarray(rows, dtype=float))
    return (rows.argmax(axis=1) - rows.shape[1] // 2) * bin_size


def peak_distance_summary(distances_bp: np.ndarray, within_bp: int = 50_000) -> dict:
    """Mean and median |d| in kb and the fraction with |d| <= within_bp (CDT v1: 30.1 kb, 32.3 kb, 82%)."""
    d = np.abs(np.asarray(distances_bp, dtype=float))
    return {
        "n": len(d),
        "mean_abs_kb": float(d.mean() / 1e3),
        "median_abs_kb": float(np.median(d) / 1e3),
        "frac_within": float(np.mean(d <= within_bp)),
    }

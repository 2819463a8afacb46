"""Genome half of the simulator: planted regulatory elements and everything measured on them.

One table of planted elements (promoter, CTCF, enhancer, open chromatin, in genomic coordinates)
is the ground truth from which every genome file is drawn, so the files agree with each other the
way real assays do:

- DNA embeddings (an Enformer stand-in): bin ``b`` of a locus covers
  ``[center + (b - n_bins // 2) * bin_size, +bin_size)``; each element kind is a fixed direction of
  embedding space, added to the bins it overlaps in proportion to overlap and element strength, on
  top of noise and a smooth background. A locus-specific random signature, strongest at the centre
  (TSS or SNP) and present in element bins, tells loci apart: a model needs the DNA to know what
  was perturbed.
- ENCODE-style peaks and bigWig tracks: each element carries its kind's marks (promoter: H3K4me3,
  H3K27ac, DNase; enhancer: H3K27ac, H3K4me1, DNase; CTCF: CTCF, DNase; open: DNase) with a signal
  that scales with its strength; weak signals are not called (misses) and spurious signals are
  (false peaks). The bigWig shows the same signal, called or not.
- Hi-C (cooler): power-law distance decay with per-bin visibility biases, loops from promoters to
  some CTCF sites and enhancers in their window, sparse trans contacts, ICE weights.

Elements of overlapping windows are shared (one genome), each window carries all elements it
overlaps. Truth intervals are BED-style 0-based half-open; ``bin_end`` is exclusive.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import bioframe
import cooler
import h5py
import numpy as np
import pandas as pd
import pyBigWig
from scipy.ndimage import gaussian_filter1d
from tqdm.auto import tqdm

from cdt.config import Preset
from cdt.data.dnastore import write_dna_store
from cdt.data.errors import ContractError, require_columns

log = logging.getLogger(__name__)

HG38_CHROMSIZES: dict[str, int] = {
    "chr1": 248956422,
    "chr2": 242193529,
    "chr3": 198295559,
    "chr4": 190214555,
    "chr5": 181538259,
    "chr6": 170805979,
    "chr7": 159345973,
    "chr8": 145138636,
    "chr9": 138394717,
    "chr10": 133797422,
    "chr11": 135086622,
    "chr12": 133275309,
    "chr13": 114364328,
    "chr14": 107043718,
    "chr15": 101991189,
    "chr16": 90338345,
    "chr17": 83257441,
    "chr18": 80373285,
    "chr19": 58617616,
    "chr20": 64444167,
    "chr21": 46709983,
    "chr22": 50818468,
    "chrX": 156040895,
    "chrY": 57227415,
}

ELEMENTS: tuple[str, ...] = ("promoter", "CTCF", "enhancer", "open")
MARKS: tuple[str, ...] = ("DNase", "CTCF", "H3K27ac", "H3K4me1", "H3K4me3")
NARROW_MARKS: tuple[str, ...] = ("DNase", "CTCF")  # point-source peaks; histone marks spread over the element

# Signal gain of each mark on each element kind; a peak is called when strength x gain x noise > PEAK_THRESHOLD,
# so detection rises with gain (about 0.98 at gain 1.5, 0.9 at 1.0, 0.65 at 0.6 for a median-strength element).
MARK_GAIN: dict[str, dict[str, float]] = {
    "promoter": {"H3K4me3": 1.6, "H3K27ac": 1.1, "DNase": 1.4},
    "enhancer": {"H3K27ac": 0.9, "H3K4me1": 1.2, "DNase": 0.9},
    "CTCF": {"CTCF": 1.5, "DNase": 0.8},
    "open": {"DNase": 1.0},
}
PEAK_THRESHOLD = 0.5
FALSE_PEAK_FRACTION = 0.12  # expected share of called peaks per mark that match no planted element

# Random elements per window: Poisson mean = max(floor, per-100-kb density x window length); lengths in bp.
DENSITY: dict[str, tuple[float, float]] = {"CTCF": (4.0, 1.5), "enhancer": (5.0, 1.5), "open": (3.0, 1.0)}
LENGTH: dict[str, tuple[int, int]] = {"CTCF": (150, 350), "enhancer": (300, 1200), "open": (150, 500)}
PROMOTER_UP, PROMOTER_DOWN = 750, 250  # promoter = [TSS - 750, TSS + 250) on the + strand, mirrored on -
MIN_GAP = 64  # bp between planted elements

# DNA embedding amplitudes (per-dimension noise SD = 1): projection onto an element direction has SNR ~3 per bin.
BASIS_SEED = 896  # the "embedding model" is fixed: the same directions for every simulation and both DNA stores
N_SMOOTH = 3  # smooth background tracks (sequence-composition-like), Gaussian-smoothed over SMOOTH_BINS
SMOOTH_BINS = 8.0
AMP_ELEMENT, AMP_SIGNATURE, AMP_BACKGROUND, AMP_SMOOTH = 3.0, 3.0, 0.5, 1.0

# Hi-C
HIC_ALPHA = 1.0  # contact ~ (1 + distance in bins)^-alpha
HIC_BIAS_SD = 0.25  # log-normal per-bin visibility
HIC_TRANS_FRACTION = 0.25  # trans counts relative to cis counts (in situ Hi-C: roughly 20-30%)
LOOP_PROB = {"CTCF": 0.6, "enhancer": 0.7}  # chance that an element in a promoter's window loops to it
LOOP_FOLD = (2.5, 6.0)  # loop strength = fold over the distance expectation, times element strength
BIGWIG_STEP = 64  # bp per bigWig value (2 values per DNA bin)


# ----------------------------------------------------------------------------------------------------------------------
# genome geometry


def window_start(center: np.ndarray | int, n_bins: int, bin_size: int) -> np.ndarray | int:
    """First base of a locus window (bin 0), the DNA-store convention."""
    return center - (n_bins // 2) * bin_size


def chrom_order(chroms) -> list[str]:
    """hg38 order for hg38 names, then any other names sorted."""
    names = set(chroms)
    return [c for c in HG38_CHROMSIZES if c in names] + sorted(names - set(HG38_CHROMSIZES))


def chromsizes_for(chroms, ends: pd.Series) -> pd.Series:
    """Real hg38 sizes for hg38 names; other names sized to cover their last needed base plus 1 Mb."""
    sizes = {c: HG38_CHROMSIZES.get(c, int(ends.get(c, 0)) + 1_000_000) for c in chrom_order(chroms)}
    return pd.Series(sizes, dtype=np.int64)


def promoter_interval(tss: int, strand: str) -> tuple[int, int]:
    """Promoter around a TSS, extending upstream (lower coordinates on +, higher on -)."""
    return (tss - PROMOTER_UP, tss + PROMOTER_DOWN) if strand != "-" else (tss - PROMOTER_DOWN, tss + PROMOTER_UP)


def element_table(rows: list[dict]) -> pd.DataFrame:
    """Elements as a frame with the columns every function here relies on."""
    cols = ["element", "chrom", "start", "end", "summit", "strength", "gene", "owner"]
    df = pd.DataFrame(rows, columns=cols)
    df["gene"] = df["gene"].fillna("").astype(str)
    return df.astype({"start": np.int64, "end": np.int64, "summit": np.int64, "strength": float})


def plant_elements(
    windows: pd.DataFrame,
    fixed: pd.DataFrame,
    n_bins: int,
    bin_size: int,
    chromsizes: pd.Series,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Fill each window with random CTCF sites, enhancers and open chromatin around the `fixed` elements.

    windows: locus_id, chrom, center. Per window and kind, the count is Poisson(max(floor, density x length)) minus
    the elements of that kind already there (fixed ones or those planted for an overlapping window), so shared
    stretches of genome are not planted twice. Returns fixed + planted elements with an ``element_id``.
    """
    span = n_bins * bin_size
    fixed = fixed.sort_values(["chrom", "start"], kind="stable")
    fixed_by_chrom = {
        c: (g["start"].to_numpy(), g["end"].to_numpy(), g["element"].to_numpy())
        for c, g in fixed.groupby("chrom", sort=False)
    }
    no_fixed = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, object))
    planted: dict[str, list[dict]] = {}
    order = windows.assign(_c=windows["chrom"].map({c: i for i, c in enumerate(chrom_order(windows["chrom"]))}))
    for w in order.sort_values(["_c", "center", "locus_id"], kind="stable").itertuples():
        ws = max(0, int(window_start(w.center, n_bins, bin_size)))
        we = min(int(chromsizes[w.chrom]), int(window_start(w.center, n_bins, bin_size)) + span)
        here = planted.setdefault(w.chrom, [])
        fs, fe, fk = fixed_by_chrom.get(w.chrom, no_fixed)
        hit = (fs < we) & (fe > ws)
        local = [(int(s), int(e), k) for s, e, k in zip(fs[hit], fe[hit], fk[hit], strict=True)]
        local += [(p["start"], p["end"], p["element"]) for p in here if p["start"] < we and p["end"] > ws]
        for kind in ("CTCF", "enhancer", "open"):
            per_100kb, floor = DENSITY[kind]
            n = rng.poisson(max(floor, per_100kb * span / 1e5)) - sum(k == kind for _, _, k in local)
            for _ in range(max(n, 0)):
                lo, hi = LENGTH[kind]
                length = int(rng.integers(lo, hi + 1))
                for _attempt in range(30):
                    if we - ws <= length:
                        break
                    s = int(rng.integers(ws, we - length))
                    e = s + length
                    if all(e + MIN_GAP <= a or s >= b + MIN_GAP for a, b, _ in local):
                        local.append((s, e, kind))
                        here.append(
                            {
                                "element": kind,
                                "chrom": w.chrom,
                                "start": s,
                                "end": e,
                                "summit": (s + e) // 2,
                                "strength": float(rng.lognormal(0.0, 0.35)),
                                "gene": "",
                                "owner": w.locus_id,
                            }
                        )
                        break
    rows = fixed.to_dict("records") + [p for c in chrom_order(planted) for p in planted[c]]
    out = element_table(rows)
    out.insert(0, "element_id", [f"el{i}" for i in range(len(out))])
    return out


def window_elements(windows: pd.DataFrame, elements: pd.DataFrame, n_bins: int, bin_size: int) -> pd.DataFrame:
    """Every (window, element) overlap with the element's bins in that window: the truth table.

    Columns: locus_id, element, chrom, start, end, bin_start, bin_end (exclusive), element_id, strength, gene, summit.
    """
    ws = window_start(windows["center"].to_numpy(np.int64), n_bins, bin_size)
    win = pd.DataFrame(
        {
            "chrom": windows["chrom"].to_numpy(),
            "start": ws,
            "end": ws + n_bins * bin_size,
            "locus_id": windows["locus_id"].to_numpy(),
        }
    )
    ov = bioframe.overlap(win, elements, how="inner", suffixes=("_w", ""))
    b0 = np.maximum(0, (ov["start"] - ov["start_w"]) // bin_size)
    b1 = np.minimum(n_bins, -((ov["start_w"] - ov["end"]) // bin_size))  # ceil((end - ws) / bin_size)
    out = pd.DataFrame(
        {
            "locus_id": ov["locus_id_w"],
            "element": ov["element"],
            "chrom": ov["chrom"],
            "start": ov["start"],
            "end": ov["end"],
            "bin_start": b0,
            "bin_end": b1,
            "element_id": ov["element_id"],
            "strength": ov["strength"].round(4),
            "gene": ov["gene"],
            "summit": ov["summit"],
        }
    )
    rank = pd.Series(np.arange(len(windows)), index=windows["locus_id"].to_numpy())
    out = out.assign(_w=rank.reindex(out["locus_id"]).to_numpy())
    return out.sort_values(["_w", "start", "element_id"], kind="stable").drop(columns="_w").reset_index(drop=True)


# ----------------------------------------------------------------------------------------------------------------------
# DNA embeddings


@dataclass(frozen=True)
class EmbeddingBasis:
    """Fixed directions of the embedding space: one per element kind, a background, smooth-track directions."""

    kinds: np.ndarray  # [len(ELEMENTS), dim] unit rows
    background: np.ndarray  # [dim]
    smooth: np.ndarray  # [N_SMOOTH, dim]

    @classmethod
    def for_dim(cls, dim: int) -> EmbeddingBasis:
        k = len(ELEMENTS) + 1 + N_SMOOTH
        m = np.random.default_rng(BASIS_SEED).standard_normal((dim, k))
        q = np.linalg.qr(m)[0] if k <= dim else m / np.linalg.norm(m, axis=0)  # orthonormal when room allows
        q = q.T.astype(np.float32)
        return cls(kinds=q[: len(ELEMENTS)], background=q[len(ELEMENTS)], smooth=q[len(ELEMENTS) + 1 :])


@dataclass(frozen=True)
class WindowElements:
    """The elements overlapping one window as arrays `[n_elements]` (rows of `window_elements`)."""

    start: np.ndarray
    end: np.ndarray
    kind: np.ndarray  # index into ELEMENTS
    strength: np.ndarray
    bin_start: np.ndarray
    bin_end: np.ndarray  # exclusive

    @classmethod
    def split(cls, truth: pd.DataFrame) -> dict[str, WindowElements]:
        """locus_id -> its elements, for every locus in `truth`."""
        kind = truth["element"].map({k: i for i, k in enumerate(ELEMENTS)}).to_numpy()
        cols = {c: truth[c].to_numpy() for c in ("start", "end", "strength", "bin_start", "bin_end")}
        return {
            k: cls(kind=kind[i], **{c: v[i] for c, v in cols.items()})
            for k, i in truth.groupby("locus_id", sort=False).indices.items()
        }


def render_window(
    elems: WindowElements, ws: int, n_bins: int, bin_size: int, basis: EmbeddingBasis, rng: np.random.Generator
) -> np.ndarray:
    """DNA embedding `[n_bins, dim]` of one window (first base `ws`) from the elements overlapping it."""
    dim = basis.background.shape[0]
    x = rng.standard_normal((n_bins, dim), dtype=np.float32)  # [n_bins, dim] noise
    smooth = gaussian_filter1d(rng.standard_normal((n_bins, N_SMOOTH)), SMOOTH_BINS, axis=0, mode="wrap")
    smooth /= smooth.std(axis=0, keepdims=True) + 1e-8  # [n_bins, N_SMOOTH]
    x += AMP_BACKGROUND * basis.background + (AMP_SMOOTH * smooth).astype(np.float32) @ basis.smooth
    # every (element, bin) it touches, with the overlapping fraction of the bin
    n_cov = elems.bin_end - elems.bin_start  # [E]
    e = np.repeat(np.arange(len(n_cov)), n_cov)  # [P] element of each pair
    b = elems.bin_start[e] + np.arange(len(e)) - np.repeat(np.cumsum(n_cov) - n_cov, n_cov)  # [P] bin of each pair
    edges = ws + np.arange(n_bins + 1, dtype=np.int64) * bin_size
    overlap = np.minimum(elems.end[e], edges[b + 1]) - np.maximum(elems.start[e], edges[b])
    load = np.zeros((n_bins, len(ELEMENTS)), np.float32)  # [n_bins, kinds] overlap fraction x strength
    np.add.at(load, (b, elems.kind[e]), elems.strength[e] * overlap / bin_size)
    x += AMP_ELEMENT * load @ basis.kinds
    signature = rng.standard_normal(dim).astype(np.float32)
    signature /= np.linalg.norm(signature)
    centre = np.exp(-0.5 * ((np.arange(n_bins) - n_bins // 2) / max(2.0, n_bins / 64)) ** 2)
    profile = np.maximum(centre, 0.5 * np.minimum(load.sum(axis=1), 1.0))  # [n_bins]
    x += AMP_SIGNATURE * profile[:, None].astype(np.float32) * signature
    return x


class _LazyWindow:
    """One window, rendered only when `write_dna_store` converts it to an array (keeps memory at one locus)."""

    def __init__(self, render, shape: tuple[int, int], progress=None):
        self._render, self.shape, self._progress = render, shape, progress

    def __array__(self, dtype=None, copy=None):
        arr = self._render()
        if self._progress is not None:
            self._progress.update(1)
        return arr if dtype is None else arr.astype(dtype)


class LazyWindows(Mapping):
    """locus_id -> lazily rendered `[n_bins, dim]` embedding; each locus has its own seed, so order does not matter."""

    def __init__(
        self,
        windows: pd.DataFrame,
        truth: pd.DataFrame,
        n_bins: int,
        bin_size: int,
        dim: int,
        rng: np.random.Generator,
        desc: str = "DNA windows",
    ):
        self._centers = dict(zip(windows["locus_id"], windows["center"].astype(int), strict=True))
        self._by_locus = WindowElements.split(truth)
        self._seeds = dict(zip(windows["locus_id"], rng.integers(0, 2**63, size=len(windows)), strict=True))
        self._n_bins, self._bin_size = n_bins, bin_size
        self._basis = EmbeddingBasis.for_dim(dim)
        self._shape = (n_bins, dim)
        self._empty = WindowElements(*(np.zeros(0, np.int64) for _ in range(6)))  # a window with no elements
        self._progress = tqdm(total=len(windows), desc=desc, unit="locus", disable=None, leave=False)

    def render(self, locus_id: str) -> np.ndarray:
        ws = int(window_start(self._centers[locus_id], self._n_bins, self._bin_size))
        elems = self._by_locus.get(locus_id, self._empty)
        return render_window(
            elems, ws, self._n_bins, self._bin_size, self._basis, np.random.default_rng(self._seeds[locus_id])
        )

    def __getitem__(self, locus_id: str) -> _LazyWindow:
        if locus_id not in self._seeds:
            raise KeyError(locus_id)
        return _LazyWindow(lambda: self.render(locus_id), self._shape, self._progress)

    def __iter__(self) -> Iterator[str]:
        return iter(self._seeds)

    def __len__(self) -> int:
        return len(self._seeds)

    def close(self) -> None:
        self._progress.close()


def write_windows(
    path: Path, windows: pd.DataFrame, truth: pd.DataFrame, preset: Preset, rng: np.random.Generator, desc: str
) -> None:
    """Render and write one DNA store, one locus in memory at a time.

    Uncompressed: the windows are mostly noise, which gzip shrinks by ~7% at several times the write time.
    """
    lazy = LazyWindows(windows, truth, preset.n_bins, preset.bin_size, preset.dna_dim, rng, desc)
    try:
        write_dna_store(
            path,
            lazy,
            windows[["locus_id", "chrom", "center", "strand"]],
            model="cdt-simulator",
            bin_size=preset.bin_size,
            compression=None,
            genome="hg38",
        )
    finally:
        lazy.close()


# ----------------------------------------------------------------------------------------------------------------------
# ENCODE-style peaks and signal


def mark_sources(elements: pd.DataFrame, regions: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Every signal source per mark: the elements carrying it (amplitude from strength) plus spurious ones.

    Columns: mark, chrom, start, end, summit, amplitude, true (planted element?), called (amplitude over threshold).
    """
    rows = []
    for e in elements.itertuples():
        for mark, gain in MARK_GAIN[e.element].items():
            rows.append((mark, e.chrom, e.start, e.end, e.summit, e.strength * gain * rng.lognormal(0.0, 0.4), True))
    true = pd.DataFrame(rows, columns=["mark", "chrom", "start", "end", "summit", "amplitude", "true"])
    n_called = (true["amplitude"] > PEAK_THRESHOLD).groupby(true["mark"]).sum()
    chrom, lo, hi = (regions[c].to_numpy() for c in ("chrom", "start", "end"))
    for mark in MARKS:  # spurious peaks, uniform over the covered regions, just above the calling threshold
        n_false = rng.poisson(FALSE_PEAK_FRACTION / (1 - FALSE_PEAK_FRACTION) * n_called.get(mark, 0))
        for r in rng.choice(len(regions), size=n_false, p=(hi - lo) / (hi - lo).sum()):
            width = int(rng.integers(150, 400 if mark in NARROW_MARKS else 1500))
            s = int(rng.integers(lo[r], max(lo[r] + 1, hi[r] - width)))
            amp = PEAK_THRESHOLD * (1.0 + rng.exponential(0.4))
            rows.append((mark, chrom[r], s, s + width, s + width // 2, amp, False))
    src = pd.DataFrame(rows, columns=["mark", "chrom", "start", "end", "summit", "amplitude", "true"])
    src["called"] = src["amplitude"] > PEAK_THRESHOLD
    return src


def peak_table(
    src: pd.DataFrame, mark: str, order: list[str], chromsizes: pd.Series, rng: np.random.Generator
) -> pd.DataFrame:
    """narrowPeak rows for the called sources of one mark, sorted by chromosome order then position."""
    s = src[(src["mark"] == mark) & src["called"]]
    n = len(s)
    if mark in NARROW_MARKS:  # a narrow peak around the summit
        summit = s["summit"].to_numpy() + np.round(rng.normal(0, 20, n)).astype(np.int64)
        half = rng.integers(75, 176 if mark == "DNase" else 151, n)
        start, end = summit - half, summit + half
    else:  # histone marks spread past the element on both sides
        start = s["start"].to_numpy() - rng.integers(100, 801, n)
        end = s["end"].to_numpy() + rng.integers(100, 801, n)
        summit = s["summit"].to_numpy()
    size = chromsizes.reindex(s["chrom"]).to_numpy()
    start, end = np.clip(start, 0, size - 1), np.clip(end, 1, size)
    amp = s["amplitude"].to_numpy()
    p = 3.0 + 12.0 * amp + rng.exponential(1.0, n)  # -log10 p grows with the signal
    peaks = pd.DataFrame(
        {
            "chrom": s["chrom"].to_numpy(),
            "start": start,
            "end": end,
            "name": "",
            "score": np.minimum(1000, (60 * p).astype(int)),
            "strand": ".",
            "signalValue": np.round(10.0 * amp, 4),
            "pValue": np.round(p, 4),
            "qValue": np.round(np.maximum(p - 2.0, 0.0), 4),
            "peak": np.clip(summit - start, 0, end - start - 1),
        }
    )
    rank = {c: i for i, c in enumerate(order)}
    peaks = peaks.assign(_c=peaks["chrom"].map(rank)).sort_values(["_c", "start", "end"], kind="stable")
    peaks = peaks.drop(columns="_c").reset_index(drop=True)
    peaks["name"] = [f"{mark}_peak_{i + 1}" for i in range(len(peaks))]
    return peaks


def signal_track(src: pd.DataFrame, mark: str, regions: pd.DataFrame, rng: np.random.Generator) -> list[np.ndarray]:
    """Per region, fixed-step signal `[n_steps]`: gamma background plus every source of the mark (called or not).

    Narrow marks add a Gaussian (SD 80 bp) at the summit; histone marks a plateau over the element with soft edges.
    """
    narrow = mark in NARROW_MARKS
    sd, reach = (80.0, 320) if narrow else (400.0, 1600)
    by_chrom = {c: g for c, g in src[src["mark"] == mark].groupby("chrom", sort=False)}
    tracks = []
    for reg in regions.itertuples():
        n = (reg.end - reg.start) // BIGWIG_STEP
        y = rng.gamma(2.0, 0.05, n)  # [n] background
        g = by_chrom.get(reg.chrom)
        if g is None:
            tracks.append(y)
            continue
        here = (g["end"].to_numpy() > reg.start) & (g["start"].to_numpy() < reg.end)
        for s0, s1, summit, amp in g.loc[here, ["start", "end", "summit", "amplitude"]].itertuples(index=False):
            lo = max(0, ((s0 if not narrow else summit) - reach - reg.start) // BIGWIG_STEP)
            hi = min(n, ((s1 if not narrow else summit) + reach - reg.start) // BIGWIG_STEP + 1)
            pos = reg.start + BIGWIG_STEP * np.arange(lo, hi) + BIGWIG_STEP // 2  # step midpoints
            if narrow:
                y[lo:hi] += 10.0 * amp * np.exp(-0.5 * ((pos - summit) / sd) ** 2)
            else:
                d = np.maximum(np.maximum(s0 - pos, pos - s1), 0)
                y[lo:hi] += 6.0 * amp * np.exp(-0.5 * (d / sd) ** 2)
        tracks.append(y)
    return tracks


def write_encode(
    elements: pd.DataFrame, regions: pd.DataFrame, chromsizes: pd.Series, out: Path, rng: np.random.Generator
) -> pd.DataFrame:
    """external/encode/<mark>.narrowPeak (10-column BED, no header) and <mark>.bw for the five marks."""
    out.mkdir(parents=True, exist_ok=True)
    order = list(chromsizes.index)
    src = mark_sources(elements, regions, rng)
    regions = regions.assign(_c=regions["chrom"].map({c: i for i, c in enumerate(order)}))
    regions = regions.sort_values(["_c", "start"], kind="stable").drop(columns="_c").reset_index(drop=True)
    for mark in MARKS:
        peaks = peak_table(src, mark, order, chromsizes, rng)
        peaks.to_csv(out / f"{mark}.narrowPeak", sep="\t", header=False, index=False)
        tracks = signal_track(src, mark, regions, rng)
        bw = pyBigWig.open(str(out / f"{mark}.bw"), "w")
        try:
            bw.addHeader([(c, int(n)) for c, n in chromsizes.items()])
            for reg, y in zip(regions.itertuples(), tracks, strict=True):
                bw.addEntries(
                    reg.chrom,
                    int(reg.start),
                    values=np.round(y, 3).astype(np.float64),
                    span=BIGWIG_STEP,
                    step=BIGWIG_STEP,
                )
        finally:
            bw.close()
    return src


# ----------------------------------------------------------------------------------------------------------------------
# Hi-C


def contact_regions(
    windows: pd.DataFrame, n_bins: int, bin_size: int, resolution: int, chromsizes: pd.Series
) -> pd.DataFrame:
    """Stretches of genome with simulated contacts: each window plus a margin, on Hi-C bin edges, merged."""
    half = (n_bins // 2) * bin_size
    reach = half + max(half, 10 * resolution)
    c = windows["center"].to_numpy(np.int64)
    size = chromsizes.reindex(windows["chrom"]).to_numpy()
    start = np.maximum(0, (c - reach) // resolution * resolution)
    end = np.minimum(size, -((-(c + reach)) // resolution) * resolution)
    reg = pd.DataFrame({"chrom": windows["chrom"].to_numpy(), "start": start, "end": end})
    merged = bioframe.merge(reg, min_dist=3 * resolution)[["chrom", "start", "end"]]
    merged = merged.assign(_c=merged["chrom"].map({k: i for i, k in enumerate(chromsizes.index)}))
    return merged.sort_values(["_c", "start"], kind="stable").drop(columns="_c").reset_index(drop=True)


def plant_loops(truth: pd.DataFrame, windows: pd.DataFrame, resolution: int, rng: np.random.Generator) -> pd.DataFrame:
    """Loops from each window's promoter(s) to CTCF sites/enhancers in that window (>= 2 Hi-C bins apart).

    A SNP window's central enhancer always loops to its target promoter. Each element pair loops at most once.
    Columns: chrom, pos1, pos2, strength (fold over the distance expectation), locus_id, element, element_id,
    promoter_id.
    """
    centres = dict(zip(windows["locus_id"], windows["center"], strict=True))
    rows, seen = [], set()
    for locus_id, g in truth.groupby("locus_id", sort=False):
        for p in g[g["element"] == "promoter"].itertuples():
            for e in g[g["element"].isin(list(LOOP_PROB))].itertuples():
                key = (p.element_id, e.element_id)
                if key in seen or abs(p.summit // resolution - e.summit // resolution) < 2:
                    continue
                central = e.element == "enhancer" and e.start <= centres[locus_id] < e.end
                if central or rng.random() < LOOP_PROB[e.element]:
                    seen.add(key)
                    fold = float(rng.uniform(*LOOP_FOLD) * e.strength)
                    rows.append(
                        (
                            p.chrom,
                            min(p.summit, e.summit),
                            max(p.summit, e.summit),
                            round(fold, 4),
                            locus_id,
                            e.element,
                            e.element_id,
                            p.element_id,
                        )
                    )
    return pd.DataFrame(
        rows, columns=["chrom", "pos1", "pos2", "strength", "locus_id", "element", "element_id", "promoter_id"]
    )


def bin_offsets(bins: pd.DataFrame) -> pd.Series:
    """Global id of each chromosome's first bin in a cooler bin table (chromosomes in table order)."""
    chrom = bins["chrom"]
    codes = chrom.cat.codes.to_numpy() if isinstance(chrom.dtype, pd.CategoricalDtype) else pd.factorize(chrom)[0]
    first = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    return pd.Series(first, index=chrom.iloc[first].astype(str).to_numpy())


def hic_pixels(
    regions: pd.DataFrame, loops: pd.DataFrame, bins: pd.DataFrame, resolution: int, rng: np.random.Generator
) -> pd.DataFrame:
    """Upper-triangle pixels (bin1_id <= bin2_id, sorted) over the covered bins.

    Cis: Poisson(depth x bias_i x bias_j x (1 + d)^-alpha), plus loops (fold x that at the loop pixel, a quarter of it
    at the 4 neighbours). Trans: a small fraction of counts between random covered bins of different chromosomes.
    """
    depth = max(50.0, 300.0 * (resolution / 5000) ** 2)  # counts per pixel grow with bin area
    offsets = bin_offsets(bins)
    parts, cov_ids, cov_bias = [], [], []
    loops_by_chrom = {c: g for c, g in loops.groupby("chrom", sort=False)}
    cis_total = 0.0
    for chrom, regs in regions.groupby("chrom", sort=False):
        local = np.concatenate(
            [np.arange(s // resolution, -(-e // resolution)) for s, e in zip(regs["start"], regs["end"], strict=True)]
        )
        ids = offsets[chrom] + local  # [m] global bin ids
        bias = rng.lognormal(0.0, HIC_BIAS_SD, len(ids))
        d = np.abs(local[:, None] - local[None, :])  # [m, m] distance in bins
        decay = (1.0 + d) ** -HIC_ALPHA
        extra = np.zeros_like(decay)
        pos_of = {b: i for i, b in enumerate(local)}
        for lp in loops_by_chrom.get(chrom, loops.iloc[:0]).itertuples():
            i, j = pos_of.get(lp.pos1 // resolution), pos_of.get(lp.pos2 // resolution)
            if i is None or j is None:
                continue
            for a, b, w in ((i, j, 1.0), (i - 1, j, 0.25), (i + 1, j, 0.25), (i, j - 1, 0.25), (i, j + 1, 0.25)):
                if 0 <= a < len(local) and 0 <= b < len(local):
                    extra[a, b] += w * lp.strength * decay[a, b]
        extra = extra + extra.T
        lam = depth * bias[:, None] * bias[None, :] * (decay + extra)
        iu, ju = np.triu_indices(len(ids))
        counts = rng.poisson(lam[iu, ju])
        cis_total += float(lam[iu, ju].sum())
        keep = counts > 0
        parts.append(pd.DataFrame({"bin1_id": ids[iu[keep]], "bin2_id": ids[ju[keep]], "count": counts[keep]}))
        cov_ids.append(ids)
        cov_bias.append(bias)
    ids, bias = np.concatenate(cov_ids), np.concatenate(cov_bias)
    chrom_of = bins["chrom"].to_numpy()[ids].astype(str)
    n_trans = rng.poisson(HIC_TRANS_FRACTION * cis_total)
    a = rng.choice(len(ids), size=n_trans, p=bias / bias.sum())
    b = rng.choice(len(ids), size=n_trans, p=bias / bias.sum())
    keep = chrom_of[a] != chrom_of[b]
    lo, hi = np.minimum(ids[a[keep]], ids[b[keep]]), np.maximum(ids[a[keep]], ids[b[keep]])
    key, counts = np.unique(lo * len(bins) + hi, return_counts=True)
    parts.append(pd.DataFrame({"bin1_id": key // len(bins), "bin2_id": key % len(bins), "count": counts}))
    px = pd.concat(parts, ignore_index=True).sort_values(["bin1_id", "bin2_id"], kind="stable").reset_index(drop=True)
    return px.astype({"bin1_id": np.int64, "bin2_id": np.int64, "count": np.int32})


def balance_covered(
    path: Path, regions: pd.DataFrame, pixels: pd.DataFrame, bins: pd.DataFrame, resolution: int
) -> dict:
    """ICE weights from `cooler.balance_cooler`, run on a compact copy holding only the covered bins.

    The rest of the genome has no contacts, so balancing masks it anyway; the copy keeps each chromosome's covered
    bins in order with 3 empty bins between regions, so diagonals (ignore_diags), per-chromosome MAD filtering and
    the result equal those of balancing the full file, at a fraction of the cost. Stored as ``bins/weight`` with the
    same attributes `cooler balance` writes.
    """
    compact_of = np.full(len(bins), -1, dtype=np.int64)
    sizes, offset = {}, 0
    offsets = bin_offsets(bins)
    for chrom in offsets.index:
        regs = regions[regions["chrom"] == chrom]
        n = 0
        for s, e in zip(regs["start"], regs["end"], strict=True):
            local = np.arange(s // resolution, -(-e // resolution))
            compact_of[offsets[chrom] + local] = offset + n + np.arange(len(local))
            n += len(local) + 3
        sizes[str(chrom)] = max(n, 1) * resolution
        offset += max(n, 1)
    compact_bins = cooler.binnify(pd.Series(sizes), resolution)
    compact_px = pixels.assign(bin1_id=compact_of[pixels["bin1_id"]], bin2_id=compact_of[pixels["bin2_id"]])
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        uri = os.path.join(tmp, "compact.cool")
        cooler.create_cooler(uri, compact_bins, compact_px, ordered=True, h5opts={"compression": None})  # fast re-reads
        weights, stats = cooler.balance_cooler(cooler.Cooler(uri), max_iters=500)
    covered = compact_of >= 0
    full = np.full(len(bins), np.nan)
    full[covered] = weights[compact_of[covered]]
    with h5py.File(path, "r+") as h5:
        ds = h5["bins"].create_dataset("weight", data=full, compression="gzip", compression_opts=6)
        ds.attrs.update(stats)
    return stats


def write_hic(
    regions: pd.DataFrame,
    loops: pd.DataFrame,
    chromsizes: pd.Series,
    resolution: int,
    path: Path,
    rng: np.random.Generator,
) -> dict:
    """external/hic/contacts.cool: raw counts plus ICE weights (balanced and raw reads both work)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    bins = cooler.binnify(chromsizes, resolution)
    pixels = hic_pixels(regions, loops, bins, resolution, rng)
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        tmp.unlink()
    try:
        cooler.create_cooler(
            str(tmp),
            bins,
            pixels,
            ordered=True,
            dtypes={"count": np.int32},
            assembly="hg38",
            metadata={"generated-by": "cdt simulate (synthetic)"},
        )
        stats = balance_covered(tmp, regions, pixels, bins, resolution)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    if not stats["converged"]:
        log.warning("%s: ICE balancing did not converge (var %.2g)", path, stats["var"])
    return stats


# ----------------------------------------------------------------------------------------------------------------------
# the genome half of `simulate`

LOCI_COLUMNS = ("locus_id", "chrom", "center", "strand", "kind", "gene")
OPTIONAL_LOCI_COLUMNS = ("distance", "cis_effect")  # SNP - cis-gene TSS (bp); fraction of cis expression removed


def check_loci(loci: pd.DataFrame, source: str = "<loci>") -> pd.DataFrame:
    """Validate the loci table (columns, unique ids, TSS|SNP kinds, integer centres) and normalise its types."""
    require_columns(loci, LOCI_COLUMNS, source)
    if loci.empty:
        raise ContractError(source, "locus_id", "no loci")
    dup = loci["locus_id"][loci["locus_id"].duplicated()].tolist()
    if dup:
        raise ContractError(source, "locus_id", f"duplicated ids {dup[:5]}")
    bad = sorted(set(loci["kind"]) - {"TSS", "SNP"})
    if bad:
        raise ContractError(source, "kind", f"unknown kinds {bad}; expected TSS or SNP")
    centre = pd.to_numeric(loci["center"], errors="coerce")
    if centre.isna().any() or (centre < 0).any():
        raise ContractError(source, "center", "centres must be non-negative integers")
    out = loci.loc[:, list(LOCI_COLUMNS)].copy()
    out["center"] = centre.astype(np.int64)
    out["gene"] = out["gene"].fillna("").astype(str)
    out["locus_id"] = out["locus_id"].astype(str)
    for col in OPTIONAL_LOCI_COLUMNS:
        out[col] = pd.to_numeric(loci[col], errors="coerce") if col in loci.columns else np.nan
    return out.reset_index(drop=True)


def anchor_elements(loci: pd.DataFrame, n_bins: int, bin_size: int, rng: np.random.Generator) -> pd.DataFrame:
    """Elements every locus is built around.

    TSS locus: a promoter at the TSS. SNP locus: an enhancer at the SNP (strength 0.6 + 2 x cis_effect when given;
    a null SNP, cis_effect 0, sits in open chromatin that regulates nothing) and, unless the cis gene is a TSS locus
    itself, the cis gene's promoter at centre - distance (a random spot in the window when distance is not given)
    if that lies inside the window.
    """
    half = (n_bins // 2) * bin_size
    tss_genes = set(loci.loc[loci["kind"] == "TSS", "gene"])
    rows = []
    for lc in loci.itertuples():
        strength = float(rng.lognormal(0.2, 0.3))
        if lc.kind == "TSS":
            s, e = promoter_interval(lc.center, lc.strand)
            rows.append(
                {
                    "element": "promoter",
                    "chrom": lc.chrom,
                    "start": s,
                    "end": e,
                    "summit": lc.center,
                    "strength": strength,
                    "gene": lc.gene,
                    "owner": lc.locus_id,
                }
            )
            continue
        kind = "open" if lc.cis_effect == 0 else "enhancer"
        if np.isfinite(lc.cis_effect) and lc.cis_effect > 0:
            strength = 0.6 + 2.0 * float(lc.cis_effect)
        length = int(rng.integers(*LENGTH[kind]))
        s = lc.center - length // 2
        rows.append(
            {
                "element": kind,
                "chrom": lc.chrom,
                "start": s,
                "end": s + length,
                "summit": lc.center,
                "strength": strength,
                "gene": "",
                "owner": lc.locus_id,
            }
        )
        if not lc.gene or lc.gene in tss_genes:
            continue
        offset = rng.choice([-1, 1]) * rng.uniform(0.3, 0.85) * half
        tss = int(lc.center - lc.distance) if np.isfinite(lc.distance) else int(lc.center + offset)
        strand = str(rng.choice(["+", "-"]))
        ps, pe = promoter_interval(tss, strand)
        if abs(tss - lc.center) < half and (pe + MIN_GAP <= s or ps >= s + length + MIN_GAP):
            rows.append(
                {
                    "element": "promoter",
                    "chrom": lc.chrom,
                    "start": ps,
                    "end": pe,
                    "summit": tss,
                    "strength": float(rng.lognormal(0.2, 0.3)),
                    "gene": lc.gene,
                    "owner": lc.locus_id,
                }
            )
    return element_table(rows)


def simulate_genome(preset: Preset, loci: pd.DataFrame, out: Path, rng: np.random.Generator) -> None:
    """Write processed/dna.h5, external/encode/*, external/hic/contacts.cool, truth/elements.csv, truth/loops.csv.

    loci: locus_id, chrom, center, strand, kind (TSS|SNP), gene (a SNP's cis gene, may be empty); optional
    distance (SNP - cis-gene TSS) and cis_effect place the cis gene's promoter and set the SNP element's strength.
    """
    out = Path(out)
    loci = check_loci(loci)
    n_bins, bin_size, res = preset.n_bins, preset.bin_size, preset.hic_resolution
    reach_end = (loci["center"] + n_bins * bin_size + 20 * res).groupby(loci["chrom"]).max()
    chromsizes = chromsizes_for(loci["chrom"], reach_end)
    too_far = loci["center"].to_numpy() >= chromsizes.reindex(loci["chrom"]).to_numpy()
    if too_far.any():
        raise ContractError(
            "<loci>", "center", f"loci beyond the hg38 chromosome end: {loci.loc[too_far, 'locus_id'].tolist()[:5]}"
        )

    fixed = anchor_elements(loci, n_bins, bin_size, rng)
    elements = plant_elements(loci, fixed, n_bins, bin_size, chromsizes, rng)
    truth = window_elements(loci, elements, n_bins, bin_size)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    truth.drop(columns="summit").to_csv(out / "truth" / "elements.csv", index=False)
    log.info("planted %d elements in %d loci", len(elements), len(loci))

    write_windows(out / "processed" / "dna.h5", loci, truth, preset, rng, desc="DNA windows")

    regions = contact_regions(loci, n_bins, bin_size, res, chromsizes)
    write_encode(elements, regions, chromsizes, out / "external" / "encode", rng)

    loops = plant_loops(truth, loci, res, rng)
    loops.to_csv(out / "truth" / "loops.csv", index=False)
    write_hic(regions, loops, chromsizes, res, out / "external" / "hic" / "contacts.cool", rng)
    log.info("genome files written under %s (%d loops)", out, len(loops))

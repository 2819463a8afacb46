"""Hi-C contact of attention-selected DNA bins with the promoter, read from `.cool`/`.mcool` files (cooler).

CDT-III's test: per gene, mean contact between the promoter (the TSS's Hi-C bin) and the Hi-C bins holding the 20
highest-attention DNA bins, over the mean for 20 random DNA bins; ratios > 1 across genes by a one-sided Wilcoxon
signed-rank test on ratio - 1. CDT v1 Fig 6 reads the contact between an enhancer bin and its target promoter.
Each 128-bp DNA bin maps to the Hi-C bin containing its centre (the authors' notebooks keyed contacts to
``(hic_bin_start - window_start) // 128``, so only about one DNA bin in 39 ever got a non-zero contact).
Contacts come raw, balanced (ICE weights) or as observed/expected with cooltools' distance-decay expected.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import cooler
import cooltools
import numpy as np
import pandas as pd

from cdt import stats
from cdt.data.dnastore import Locus
from cdt.data.errors import ContractError

KINDS: tuple[str, ...] = ("raw", "balanced", "oe_raw", "oe_balanced")
"""Contact values: raw counts, ICE-balanced, observed/expected on raw counts, observed/expected on balanced."""


class HiC:
    """One resolution of a `.cool`/`.mcool` (or a ``file::group`` URI); expected-by-distance cached per chromosome."""

    def __init__(self, path: str | os.PathLike, resolution: int | None = None):
        file, _, group = str(path).partition("::")
        self.path = Path(file)
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path}: Hi-C file does not exist")
        uri = str(path) if group else _cooler_uri(self.path, resolution)
        try:
            self.clr = cooler.Cooler(uri)
            self.clr.binsize  # noqa: B018 - reads the header now, so a damaged file fails here, named
        except (OSError, KeyError, ValueError) as exc:
            raise ContractError(uri, "file", f"not a readable cooler ({_first_line(exc)})") from None
        if self.clr.binsize is None:
            raise ContractError(uri, "bins", "variable-size bins are not supported")
        self.resolution = int(self.clr.binsize)
        if resolution is not None and resolution != self.resolution:
            raise ContractError(uri, "resolution", f"cooler is at {self.resolution} bp, not {resolution} bp")
        self.chromsizes = self.clr.chromsizes
        self._expected: dict[tuple[bool, str], np.ndarray] = {}

    def __repr__(self) -> str:
        return f"HiC({str(self.path)!r}, resolution={self.resolution})"

    def has_weights(self) -> bool:
        return "weight" in self.clr.bins().columns

    def bin_id(self, chrom: str, pos: np.ndarray | int) -> np.ndarray:
        """Global Hi-C bin id of genomic position(s) on `chrom`; -1 where the position lies off the chromosome."""
        self._check_chrom(chrom)
        pos = np.asarray(pos, dtype=np.int64)
        ok = (pos >= 0) & (pos < self.chromsizes[chrom])
        return np.where(ok, self.clr.offset(chrom) + pos // self.resolution, -1)

    def contacts(self, chrom: str, anchor: int, positions: np.ndarray, kind: str = "balanced") -> np.ndarray:
        """Contact between the Hi-C bin of `anchor` and the Hi-C bin of each position (cis), `[len(positions)]`.

        NaN for positions off the chromosome, and where balancing masked a bin (balanced kinds).
        """
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        balance = kind in ("balanced", "oe_balanced")
        if balance and not self.has_weights():
            raise ContractError(str(self.path), "bins/weight", "no balancing weights; run `cooler balance` or use raw")
        i = int(self.bin_id(chrom, anchor))
        if i < 0:
            raise ValueError(f"{self.path}: anchor {chrom}:{anchor} lies off the chromosome")
        j = self.bin_id(chrom, positions)  # [P] global ids, -1 off-chromosome
        ok = j >= 0
        out = np.full(j.shape, np.nan)
        if not ok.any():
            return out
        lo, hi = int(j[ok].min()), int(j[ok].max()) + 1
        try:
            row = self.clr.matrix(balance=balance)[i : i + 1, lo:hi][0].astype(float)  # [hi - lo] contacts of bin i
        except (OSError, KeyError, ValueError) as exc:
            raise ContractError(
                str(self.path), "pixels", f"unreadable, truncated or corrupt? ({_first_line(exc)})"
            ) from None
        out[ok] = row[j[ok] - lo]
        if kind.startswith("oe"):
            exp = self.expected(chrom, balance)  # [bins on chrom] mean contact by diagonal offset
            with np.errstate(divide="ignore", invalid="ignore"):
                out[ok] = out[ok] / exp[np.abs(j[ok] - i)]
        return out

    def expected(self, chrom: str, balance: bool) -> np.ndarray:
        """Mean contact per diagonal offset on one chromosome (cooltools.expected_cis, no smoothing, all diagonals).

        Computed per chromosome on first use, so a genome-wide 5-kb map costs only the chromosomes analysed.
        """
        self._check_chrom(chrom)
        if (balance, chrom) not in self._expected:
            view = pd.DataFrame({"chrom": [chrom], "start": [0], "end": [int(self.chromsizes[chrom])], "name": [chrom]})
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                table = cooltools.expected_cis(
                    self.clr,
                    view_df=view,
                    smooth=False,
                    aggregate_smoothed=False,
                    ignore_diags=0,
                    clr_weight_name="weight" if balance else None,
                    nproc=1,
                )
            col = "balanced.avg" if balance else "count.avg"
            self._expected[(balance, chrom)] = table.sort_values("dist")[col].to_numpy(float)
        return self._expected[(balance, chrom)]

    def _check_chrom(self, chrom: str) -> None:
        if chrom in self.chromsizes.index:
            return
        other = chrom[3:] if chrom.startswith("chr") else "chr" + chrom
        hint = f"; it has {other!r} (chr-prefix mismatch)" if other in self.chromsizes.index else ""
        raise ContractError(str(self.path), "chroms", f"chromosome {chrom!r} not in the cooler{hint}")


def _cooler_uri(path: Path, resolution: int | None) -> str:
    """`path` for a single-resolution cooler, ``path::/resolutions/<res>`` for an .mcool (resolution required if many)."""
    try:
        single, multi = cooler.fileops.is_cooler(str(path)), cooler.fileops.is_multires_file(str(path))
        available = sorted(int(p.rsplit("/", 1)[-1]) for p in cooler.fileops.list_coolers(str(path))) if multi else []
    except OSError as exc:
        raise ContractError(str(path), "file", f"truncated or corrupt HDF5 file ({_first_line(exc)})") from None
    if not single and not multi:
        raise ContractError(str(path), "file", "neither a .cool nor an .mcool (cooler) file")
    if not multi:
        return str(path)
    if resolution is None:
        if len(available) != 1:
            raise ContractError(str(path), "resolution", f"multi-resolution file; choose one of {available}")
        resolution = available[0]
    if resolution not in available:
        raise ContractError(str(path), "resolution", f"{resolution} bp not stored; available {available}")
    return f"{path}::/resolutions/{resolution}"


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


# ----------------------------------------------------------------------------------------------------------------------
# attention bins -> contacts


def attention_bin_positions(locus: Locus) -> np.ndarray:
    """Genomic centre of each DNA bin, `[n_bins]`: the position whose Hi-C bin stands for the DNA bin."""
    return locus.bin_start(np.arange(locus.n_bins)) + locus.bin_size // 2


def promoter_contacts(hic: HiC, locus: Locus, kind: str = "balanced") -> np.ndarray:
    """`[n_bins]` contact between the promoter (the Hi-C bin of the locus centre, i.e. the TSS) and each DNA bin."""
    return hic.contacts(locus.chrom, locus.center, attention_bin_positions(locus), kind)


def pair_contact(hic: HiC, chrom: str, pos1: int, pos2: int, kind: str = "oe_balanced") -> float:
    """CDT v1 Fig 6: contact between the Hi-C bins of two positions (enhancer centre, target TSS); O/E by default."""
    return float(hic.contacts(chrom, pos1, np.array([pos2]), kind)[0])


@dataclass(frozen=True)
class TopRandom:
    top_mean: float  # mean contact of the promoter with the k highest-attention DNA bins
    random_mean: float  # mean over draws of the mean contact with k random DNA bins
    ratio: float  # top_mean / random_mean
    random_means: np.ndarray  # [n_draws]


def top_vs_random(
    profile: np.ndarray, contacts: np.ndarray, k: int = 20, n_draws: int = 100, seed: int = 0, exclude_top: bool = False
) -> TopRandom:
    """Mean promoter contact of the top-k attention bins vs k bins drawn uniformly without replacement (seeded).

    NaN contacts (masked or off-chromosome bins) are skipped in each mean. exclude_top draws the random bins from
    the non-top bins only (the paper does not say; default draws from all bins).
    """
    profile, contacts = np.asarray(profile, dtype=float), np.asarray(contacts, dtype=float)
    if profile.shape != contacts.shape or profile.ndim != 1:
        raise ValueError(f"profile and contacts must be 1-D of one length; got {profile.shape}, {contacts.shape}")
    top = np.argsort(-profile, kind="stable")[:k]
    pool = np.setdiff1d(np.arange(len(profile)), top) if exclude_top else np.arange(len(profile))
    rng = np.random.default_rng(seed)
    draws = np.stack([rng.choice(pool, size=k, replace=False) for _ in range(n_draws)])  # [n_draws, k]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN draws give NaN means
        top_mean = float(np.nanmean(contacts[top]))
        random_means = np.nanmean(contacts[draws], axis=1)
        random_mean = float(np.nanmean(random_means))
    ratio = top_mean / random_mean if random_mean > 0 else np.nan
    return TopRandom(top_mean, random_mean, ratio, random_means)


def contact_ratios(
    hic: HiC,
    profiles: dict[str, np.ndarray],
    loci: dict[str, Locus],
    kinds: tuple[str, ...] = ("raw", "balanced", "oe_balanced"),
    k: int = 20,
    n_draws: int = 100,
    seed: int = 0,
    exclude_top: bool = False,
) -> pd.DataFrame:
    """Per gene and contact kind: top-k vs random-k promoter contact (columns gene, kind, top_mean, random_mean, ratio).

    Each gene gets the same random draws across kinds (seed + gene position), so kinds are compared like for like.
    """
    rows = []
    for g_idx, (gene, profile) in enumerate(profiles.items()):
        locus = loci[gene]
        if len(profile) != locus.n_bins:
            raise ValueError(f"profile of {gene} has {len(profile)} bins, its locus {locus.n_bins}")
        for kind in kinds:
            res = top_vs_random(profile, promoter_contacts(hic, locus, kind), k, n_draws, seed + g_idx, exclude_top)
            rows.append(
                {
                    "gene": gene,
                    "kind": kind,
                    "top_mean": res.top_mean,
                    "random_mean": res.random_mean,
                    "ratio": res.ratio,
                }
            )
    return pd.DataFrame(rows)


def ratio_test(ratios: np.ndarray, alternative: str = "greater") -> dict:
    """Across genes: one-sided Wilcoxon signed-rank of ratio - 1 (CDT-III's P = 0.020), mean ratio, genes > 1."""
    r = np.asarray(ratios, dtype=float)
    r = r[np.isfinite(r)]
    test = stats.wilcoxon_signed_rank(r, mu=1.0, alternative=alternative)
    return {
        "n": len(r),
        "mean_ratio": float(r.mean()),
        "n_above_1": int(np.sum(r > 1)),
        "statistic": test.statistic,
        "p_value": test.p_value,
    }

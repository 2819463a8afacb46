"""Statistics used across the CDT papers: thin, named wrappers over scipy and statsmodels.

- overlap of two gene lists (top-N attention vs top-N effect, community Venns): hypergeometric P(X >= k)
  and fold = k / (n1 * n2 / M)  (CDT-II: 28 of top-100 in M = 2,361 -> 6.6-fold, P = 3.5e-17);
- Fisher exact on a 2x2 table with the sample odds ratio and the Haldane (+0.5) odds ratio and Woolf CI
  (CDT-II ENCODE enrichment);
- circular permutation test of a profile against fixed annotations (CDT-II Supplementary Fig 1a);
- Kruskal-Wallis across bin classes, Cohen's d with pooled SD, Wilcoxon signed-rank, Benjamini-Hochberg.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Mapping
from dataclasses import dataclass

import numpy as np
import scipy.stats
from numpy.typing import ArrayLike
from statsmodels.stats.contingency_tables import Table2x2
from statsmodels.stats.multitest import multipletests

# ---------------------------------------------------------------------------------------------------------------------
# overlap of two lists


@dataclass(frozen=True)
class Overlap:
    """Overlap k of two lists of sizes n1, n2 drawn from a universe of M items."""

    k: int
    n1: int
    n2: int
    M: int
    expected: float  # n1 * n2 / M
    fold: float  # k / expected
    p_value: float  # P(X >= k), X ~ Hypergeom(M, n1, n2)


def hypergeom_overlap(k: int, n1: int, n2: int, M: int) -> Overlap:
    """One-sided hypergeometric test that two lists share at least k items (the papers' Venn and top-N test)."""
    if not 0 <= k <= min(n1, n2) or max(n1, n2) > M:
        raise ValueError(f"need 0 <= k <= min(n1, n2) and n1, n2 <= M; got k={k}, n1={n1}, n2={n2}, M={M}")
    expected = n1 * n2 / M
    p = float(scipy.stats.hypergeom.sf(k - 1, M, n1, n2))
    return Overlap(k=k, n1=n1, n2=n2, M=M, expected=expected, fold=k / expected, p_value=p)


def set_overlap(a: Collection[Hashable], b: Collection[Hashable], universe: int | Collection[Hashable]) -> Overlap:
    """Hypergeometric overlap of two sets; `universe` is M or the universe itself (then a and b must lie in it)."""
    a, b = set(a), set(b)
    if isinstance(universe, int):
        M = universe
    else:
        universe = set(universe)
        outside = (a | b) - universe
        if outside:
            raise ValueError(f"{len(outside)} items are not in the universe, e.g. {sorted(map(str, outside))[:3]}")
        M = len(universe)
    return hypergeom_overlap(len(a & b), len(a), len(b), M)


def top_n(scores: ArrayLike, n: int) -> np.ndarray:
    """Indices of the n largest scores, largest first (stable: ties keep input order)."""
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 1 or not 0 < n <= scores.size:
        raise ValueError(f"need a 1-D score vector with at least n={n} entries; got shape {scores.shape}")
    return np.argsort(-scores, kind="stable")[:n]


def top_n_overlap(scores_a: ArrayLike, scores_b: ArrayLike, n: int) -> tuple[Overlap, np.ndarray]:
    """Overlap of the top-n items of two rankings over the same M items; returns the test and the shared indices.

    CDT-II: attention row of GFI1B vs |mean log2FC| upon GFI1B knockdown, M = 2,361 genes.
    """
    scores_a, scores_b = np.asarray(scores_a), np.asarray(scores_b)
    if scores_a.shape != scores_b.shape:
        raise ValueError(f"rankings must cover the same items; got shapes {scores_a.shape} and {scores_b.shape}")
    shared = np.intersect1d(top_n(scores_a, n), top_n(scores_b, n))
    return hypergeom_overlap(shared.size, n, n, scores_a.size), shared


# ---------------------------------------------------------------------------------------------------------------------
# Fisher exact with Haldane-corrected odds ratio


@dataclass(frozen=True)
class Fisher:
    """Fisher exact test of a 2x2 table [[a, b], [c, d]]."""

    table: tuple[tuple[int, int], tuple[int, int]]
    alternative: str
    odds_ratio: float  # sample OR a*d / (b*c): inf when b*c = 0, nan when also a*d = 0
    p_value: float
    haldane_odds_ratio: float  # (a+.5)(d+.5) / ((b+.5)(c+.5)), always finite
    ci_low: float  # Woolf CI of the Haldane log-OR: exp(log OR_H -/+ z * sqrt(sum 1/(cell+.5)))
    ci_high: float


def sample_odds_ratio(table: ArrayLike) -> float:
    """a*d / (b*c) of a 2x2 table [[a, b], [c, d]]: inf when b*c = 0 < a*d, NaN when both are 0 (scipy's Fisher
    statistic without the P value, so a 1,000-shift permutation null costs milliseconds)."""
    (a, b), (c, d) = np.asarray(table, dtype=np.int64).tolist()
    num, den = a * d, b * c
    if den == 0:
        return np.inf if num > 0 else np.nan
    return num / den


def fisher_exact(table: ArrayLike, alternative: str = "two-sided", confidence: float = 0.95) -> Fisher:
    """Fisher exact test (scipy) plus the Haldane odds ratio and its Woolf CI (statsmodels on the +0.5 table).

    The CDT-II ENCODE test is `alternative="greater"` on top-bin x peak-bin counts.
    """
    t = np.asarray(table)
    if t.shape != (2, 2) or (t < 0).any() or not np.all(np.equal(np.mod(t, 1), 0)):
        raise ValueError(f"need a 2x2 table of non-negative counts; got {t.tolist()}")
    t = t.astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        res = scipy.stats.fisher_exact(t, alternative=alternative)
    haldane = Table2x2(t + 0.5, shift_zeros=False)
    low, high = haldane.oddsratio_confint(alpha=1 - confidence, method="normal")
    return Fisher(
        table=((int(t[0, 0]), int(t[0, 1])), (int(t[1, 0]), int(t[1, 1]))),
        alternative=alternative,
        odds_ratio=float(res.statistic),
        p_value=float(res.pvalue),
        haldane_odds_ratio=float(haldane.oddsratio),
        ci_low=float(low),
        ci_high=float(high),
    )


# ---------------------------------------------------------------------------------------------------------------------
# circular permutation test


@dataclass(frozen=True)
class Permutation:
    """Observed statistic against a null of circularly shifted profiles."""

    observed: float
    null: np.ndarray  # [n_permutations]
    shifts: np.ndarray  # [n_permutations] roll offsets in 1..L-1
    n_extreme: int  # b = #(null >= observed)
    p_value: float  # (b + 1) / (n + 1): never 0, valid for a finite n
    p_value_authors: float  # b / n as in the CDT-II notebook (0 when no null value reaches the observed)


def circular_permutation_test(
    profile: ArrayLike,
    annotation: ArrayLike,
    statistic: Callable[[np.ndarray, np.ndarray], float],
    n_permutations: int = 1000,
    seed: int | np.random.Generator = 0,
) -> Permutation:
    """Shift the profile circularly by a uniform offset in [1, L-1] with the annotation fixed and recompute the
    statistic; keeps the profile's autocorrelation while breaking its alignment with the annotation.

    profile, annotation: [L] (e.g. attention per DNA bin, peak per bin); statistic(profile, annotation) -> float.
    """
    profile, annotation = np.asarray(profile), np.asarray(annotation)
    if profile.ndim != 1 or profile.shape != annotation.shape or profile.size < 2:
        raise ValueError(
            f"profile and annotation must be 1-D of the same length >= 2; got {profile.shape}, {annotation.shape}"
        )
    if n_permutations < 1:
        raise ValueError(f"n_permutations must be >= 1; got {n_permutations}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    observed = float(statistic(profile, annotation))
    shifts = rng.integers(1, profile.size, size=n_permutations)
    null = np.array([statistic(np.roll(profile, s), annotation) for s in shifts], dtype=float)
    b = int(np.sum(null >= observed))
    return Permutation(
        observed=observed,
        null=null,
        shifts=shifts,
        n_extreme=b,
        p_value=(b + 1) / (n_permutations + 1),
        p_value_authors=b / n_permutations,
    )


# ---------------------------------------------------------------------------------------------------------------------
# group comparisons


@dataclass(frozen=True)
class Test:
    """A test statistic, its P value and the sample sizes that went in."""

    statistic: float
    p_value: float
    n: dict[str, int]


def kruskal_wallis(groups: Mapping[str, ArrayLike], min_size: int = 3) -> Test:
    """Kruskal-Wallis H test across named groups; groups with fewer than `min_size` values are left out
    (as in the CDT-II bin-class comparison)."""
    kept = {name: np.asarray(v, dtype=float).ravel() for name, v in groups.items()}
    kept = {name: v for name, v in kept.items() if v.size >= min_size}
    if len(kept) < 2:
        raise ValueError(
            f"need >= 2 groups with >= {min_size} values; sizes were "
            f"{ {name: np.size(v) for name, v in groups.items()} }"
        )
    res = scipy.stats.kruskal(*kept.values())
    return Test(statistic=float(res.statistic), p_value=float(res.pvalue), n={k: v.size for k, v in kept.items()})


def cohens_d(x: ArrayLike, y: ArrayLike) -> float:
    """Cohen's d = (mean x - mean y) / s_pooled, s_pooled^2 = ((n1-1) s1^2 + (n2-1) s2^2) / (n1 + n2 - 2)."""
    x, y = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    if x.size < 2 or y.size < 2:
        raise ValueError(f"need >= 2 values per group; got {x.size} and {y.size}")
    pooled = ((x.size - 1) * x.var(ddof=1) + (y.size - 1) * y.var(ddof=1)) / (x.size + y.size - 2)
    return float((x.mean() - y.mean()) / np.sqrt(pooled))


def wilcoxon_signed_rank(
    x: ArrayLike, y: ArrayLike | None = None, mu: float = 0.0, alternative: str = "two-sided"
) -> Test:
    """Wilcoxon signed-rank test of x - y (or x - mu) against 0 (CDT-III Hi-C: ratios vs 1, one-sided)."""
    d = np.asarray(x, dtype=float).ravel() - (mu if y is None else np.asarray(y, dtype=float).ravel())
    res = scipy.stats.wilcoxon(d, alternative=alternative)
    return Test(statistic=float(res.statistic), p_value=float(res.pvalue), n={"pairs": d.size})


def benjamini_hochberg(p_values: ArrayLike) -> np.ndarray:
    """BH-adjusted P values (statsmodels `fdr_bh`), same shape; NaN entries stay NaN and are not counted."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return out

"""cdt.stats: the papers' overlap numbers from their inputs, and each wrapper against scipy/statsmodels or hand values."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from cdt import stats
from statsmodels.stats.multitest import multipletests

REFERENCE = Path(__file__).parent / "data"  # the authors' published tables (tests/data/README.md)
M_CDT2 = 2361  # the CDT-II gene universe: 2,360 genes + GFI1B


# --- hypergeometric overlap: published numbers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("k", "n", "fold", "p"),
    [
        (28, 100, 6.61, 3.52e-17),  # CDT-II paper: "28 genes ... 6.6-fold ... P = 3.5e-17"
        (27, 100, 6.37, 4.07e-16),  # the notebook's own run (CDT-II GFI1B overlap)
        (33, 100, 7.79, 6.7e-23),  # older notebook version (CDT-II GFI1B overlap, history)
        (9, 50, 8.50, None),
    ],
)
def test_top_n_overlap_reproduces_cdt2_numbers(k, n, fold, p):
    o = stats.hypergeom_overlap(k, n, n, M_CDT2)
    assert o.expected == pytest.approx(n * n / M_CDT2)
    assert o.fold == pytest.approx(fold, abs=0.005)
    if p is not None:
        assert o.p_value == pytest.approx(p, rel=0.01)


def test_top50_trans_targets_about_25_fold():
    # CDT-II: 26 of the top-50 predicted GFI1B trans-targets in the top-50 observed (52% vs 2.1% expected).
    o = stats.hypergeom_overlap(26, 50, 50, M_CDT2)
    assert 50 / M_CDT2 == pytest.approx(0.021, abs=0.0005)
    assert o.fold == pytest.approx(24.55, abs=0.01) and round(o.fold) == 25
    assert o.p_value < 1e-25


def test_hypergeom_overlap_equals_one_sided_fisher():
    k, n1, n2, M = 7, 40, 60, 500
    table = [[k, n1 - k], [n2 - k, M - n1 - n2 + k]]
    o = stats.hypergeom_overlap(k, n1, n2, M)
    assert o.p_value == pytest.approx(scipy.stats.fisher_exact(table, alternative="greater").pvalue, rel=1e-9)
    assert stats.hypergeom_overlap(0, n1, n2, M).p_value == pytest.approx(1.0)
    with pytest.raises(ValueError, match="k <= min"):
        stats.hypergeom_overlap(41, 40, 60, 500)


def test_set_overlap_universe_and_errors():
    a, b = {"A", "B", "C"}, {"B", "C", "D", "E"}
    universe = list("ABCDEFGHIJ")
    o = stats.set_overlap(a, b, universe)
    assert (o.k, o.n1, o.n2, o.M) == (2, 3, 4, 10)
    assert o.p_value == pytest.approx(scipy.stats.hypergeom.sf(1, 10, 3, 4))
    assert stats.set_overlap(a, b, 10) == o
    with pytest.raises(ValueError, match="not in the universe"):
        stats.set_overlap(a | {"Z"}, b, universe)


def test_top_n_overlap_on_rankings():
    rng = np.random.default_rng(0)
    M = 200
    a = rng.normal(size=M)
    b = rng.normal(size=M)
    top_a = np.argsort(-a)[:20]
    b[top_a[:8]] = 10 + np.arange(8)  # plant 8 shared items at the top of ranking b
    o, shared = stats.top_n_overlap(a, b, 20)
    expected = np.intersect1d(top_a, np.argsort(-b)[:20])
    assert np.array_equal(shared, expected) and set(top_a[:8]) <= set(shared.tolist())
    assert (o.k, o.n1, o.M) == (expected.size, 20, M)
    assert np.array_equal(stats.top_n(np.array([1.0, 3.0, 3.0, 2.0]), 3), [1, 2, 3])  # ties keep input order
    with pytest.raises(ValueError, match="same items"):
        stats.top_n_overlap(a, b[:-1], 20)


def test_venn_of_published_communities():
    s1 = REFERENCE / "supp_data_S1_community_genes.csv"
    t = pd.read_csv(s1)
    rna = t[t.Mechanism == "RNA self-attention"]
    universe = set(rna.Gene)  # the RNA partition covers every gene once: M = 2,361
    c1 = set(rna.loc[rna.Manuscript_label == "C1", "Gene"])
    c3 = set(t.loc[(t.Mechanism == "DNA-RNA cross-attention") & (t.Manuscript_label == "C3"), "Gene"])
    o = stats.set_overlap(c1, c3, universe)
    assert (o.M, o.n1, o.n2, o.k) == (M_CDT2, 679, 165, 132)  # 132 of 165 (80%) shared
    assert o.expected == pytest.approx(47.45, abs=0.01)
    assert round(o.fold, 1) == 2.8
    assert o.p_value == pytest.approx(9.3e-46, rel=0.01)


# --- Fisher exact + Haldane ----------------------------------------------------------------------------------------


def test_fisher_haldane_by_hand():
    f = stats.fisher_exact([[3, 1], [2, 10]], alternative="greater")
    assert f.odds_ratio == pytest.approx(15.0)  # 3*10 / (1*2)
    assert f.haldane_odds_ratio == pytest.approx(9.8)  # 3.5*10.5 / (1.5*2.5)
    se = np.sqrt(1 / 3.5 + 1 / 1.5 + 1 / 2.5 + 1 / 10.5)
    assert f.ci_low == pytest.approx(np.exp(np.log(9.8) - 1.959964 * se), rel=1e-5)
    assert f.ci_high == pytest.approx(np.exp(np.log(9.8) + 1.959964 * se), rel=1e-5)
    # one-sided P = P(X >= 3), X ~ Hypergeom(M=16, n=4, N=5): (C(4,3)C(12,2) + C(4,4)C(12,1)) / C(16,5)
    assert f.p_value == pytest.approx((4 * 66 + 12) / 4368)
    assert f.table == ((3, 1), (2, 10)) and f.alternative == "greater"


def test_fisher_two_sided_matches_scipy_and_zero_cells():
    table = [[12, 5], [7, 30]]
    f = stats.fisher_exact(table)
    ref = scipy.stats.fisher_exact(table)
    assert f.p_value == pytest.approx(ref.pvalue) and f.odds_ratio == pytest.approx(ref.statistic)
    z = stats.fisher_exact([[5, 0], [1, 10]], alternative="greater")
    assert z.odds_ratio == np.inf  # sample OR is infinite ...
    assert z.haldane_odds_ratio == pytest.approx(5.5 * 10.5 / (0.5 * 1.5))  # ... the Haldane OR is 77
    assert np.isfinite(z.ci_low) and z.ci_low < 77 < z.ci_high
    with pytest.raises(ValueError, match="2x2 table"):
        stats.fisher_exact([[1, 2, 3], [4, 5, 6]])
    with pytest.raises(ValueError, match="non-negative counts"):
        stats.fisher_exact([[1, -2], [3, 4]])


# --- circular permutation ------------------------------------------------------------------------------------------


def _top_decile_odds_ratio(profile, hit):
    top = profile >= np.percentile(profile, 90)
    a, b = np.sum(top & hit), np.sum(top & ~hit)
    c, d = np.sum(~top & hit), np.sum(~top & ~hit)
    return stats.fisher_exact([[a, b], [c, d]]).odds_ratio


def test_circular_permutation_reproducible_and_consistent():
    rng = np.random.default_rng(1)
    L = 120
    hit = np.zeros(L, dtype=bool)
    hit[[20, 21, 22, 70, 71]] = True
    profile = np.convolve(rng.random(L), np.ones(5) / 5, mode="same")
    profile[hit] += 1.0  # attention on the annotated bins
    r1 = stats.circular_permutation_test(profile, hit, _top_decile_odds_ratio, n_permutations=200, seed=42)
    r2 = stats.circular_permutation_test(profile, hit, _top_decile_odds_ratio, n_permutations=200, seed=42)
    r3 = stats.circular_permutation_test(
        profile, hit, _top_decile_odds_ratio, n_permutations=200, seed=np.random.default_rng(42)
    )
    for r in (r2, r3):
        assert np.array_equal(r1.null, r.null) and np.array_equal(r1.shifts, r.shifts) and r1.p_value == r.p_value
    assert r1.shifts.min() >= 1 and r1.shifts.max() <= L - 1
    manual = [_top_decile_odds_ratio(np.roll(profile, s), hit) for s in r1.shifts]
    assert np.array_equal(r1.null, manual, equal_nan=True)
    assert r1.n_extreme == int(np.sum(np.asarray(manual) >= r1.observed))
    assert r1.p_value == (r1.n_extreme + 1) / 201 and r1.p_value_authors == r1.n_extreme / 200
    assert r1.p_value < 0.05


def test_circular_permutation_extremes():
    peak = np.zeros(50)
    peak[10] = 1.0
    at = np.zeros(50, dtype=bool)
    at[10] = True

    def in_annotation(p, a):
        return float(p[a].sum())

    aligned = stats.circular_permutation_test(peak, at, in_annotation, n_permutations=99, seed=0)
    assert aligned.n_extreme == 0 and aligned.p_value == 0.01 and aligned.p_value_authors == 0.0
    flat = stats.circular_permutation_test(np.ones(50), at, in_annotation, n_permutations=99, seed=0)
    assert flat.n_extreme == 99 and flat.p_value == 1.0
    with pytest.raises(ValueError, match="same length"):
        stats.circular_permutation_test(peak, at[:-1], in_annotation)


# --- group comparisons, BH -----------------------------------------------------------------------------------------


def test_kruskal_wallis_matches_scipy_and_drops_small_groups():
    rng = np.random.default_rng(2)
    groups = {
        "promoter": rng.normal(1, 1, 30),
        "CTCF": rng.normal(2, 1, 20),
        "other": rng.normal(0, 1, 80),
        "tiny": [5.0, 6.0],
    }
    res = stats.kruskal_wallis(groups)
    ref = scipy.stats.kruskal(groups["promoter"], groups["CTCF"], groups["other"])
    assert res.statistic == pytest.approx(ref.statistic) and res.p_value == pytest.approx(ref.pvalue)
    assert res.n == {"promoter": 30, "CTCF": 20, "other": 80}
    with pytest.raises(ValueError, match=">= 2 groups"):
        stats.kruskal_wallis({"a": [1, 2, 3], "b": [1]})


def test_cohens_d_by_hand():
    # means 2 and 5.5; variances 1 and 5/3; pooled = (2*1 + 3*5/3) / 5 = 1.4
    assert stats.cohens_d([1, 2, 3], [4, 5, 6, 7]) == pytest.approx(-3.5 / np.sqrt(1.4))
    assert stats.cohens_d([4, 5, 6, 7], [1, 2, 3]) == pytest.approx(3.5 / np.sqrt(1.4))
    with pytest.raises(ValueError, match=">= 2 values"):
        stats.cohens_d([1.0], [1.0, 2.0])


def test_wilcoxon_reproduces_cdt3_hic_p():
    # CDT-III Hi-C: top-20 / random-20 contact ratios of 25 genes (paper table + values read off hic_panel_a).
    ratios = np.array(
        [
            2.75,
            2.28,
            2.20,
            2.08,
            1.99,
            1.72,
            1.53,
            1.49,
            1.39,
            1.37,
            1.32,
            1.30,
            1.30,
            1.24,
            1.11,
            1.08,
            0.97,
            0.94,
            0.79,
            0.72,
            0.69,
            0.67,
            0.62,
            0.55,
            0.33,
        ]
    )
    assert round(ratios.mean(), 2) == 1.30 and int((ratios > 1).sum()) == 16
    one = stats.wilcoxon_signed_rank(ratios, mu=1.0, alternative="greater")
    assert round(one.p_value, 3) == 0.020  # paper: "Wilcoxon signed-rank P = 0.020"
    two = stats.wilcoxon_signed_rank(ratios, mu=1.0)
    assert two.p_value == pytest.approx(scipy.stats.wilcoxon(ratios - 1.0).pvalue) and round(two.p_value, 2) == 0.04
    paired = stats.wilcoxon_signed_rank(ratios, np.ones_like(ratios), alternative="greater")
    assert paired.p_value == one.p_value and paired.n == {"pairs": 25}


def test_benjamini_hochberg_by_hand_and_vs_statsmodels():
    adj = stats.benjamini_hochberg([0.01, 0.04, 0.03, 0.5])
    assert np.allclose(adj, [0.04, 0.16 / 3, 0.16 / 3, 0.5])
    p = np.random.default_rng(3).random(50) ** 3
    assert np.allclose(stats.benjamini_hochberg(p), multipletests(p, method="fdr_bh")[1])
    with_nan = stats.benjamini_hochberg([0.01, np.nan, 0.02])
    assert np.isnan(with_nan[1]) and np.allclose(with_nan[[0, 2]], [0.02, 0.02])


def test_sample_odds_ratio_is_scipys_fisher_statistic():
    rng = np.random.default_rng(0)
    for table in rng.integers(0, 30, size=(50, 2, 2)):
        want = scipy.stats.fisher_exact(table).statistic
        got = stats.sample_odds_ratio(table)
        assert got == want or (np.isnan(got) and np.isnan(want))
    assert stats.sample_odds_ratio([[3, 0], [0, 4]]) == np.inf and np.isnan(stats.sample_odds_ratio([[0, 0], [2, 2]]))

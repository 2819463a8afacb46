"""cdt.genome: peak files -> bin x mark overlaps, bin classes, Fisher / permutation / class statistics, CTCF
enrichment and the CDT v1 peak distance, on small inputs built here (known answers computed by hand or by scipy)."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pyBigWig
import pytest
import scipy.stats
from cdt import genome
from cdt.data.dnastore import DNAStore, Locus
from cdt.data.errors import ContractError

# 64 bins of 128 bp centred at 100,000: bin b covers [95,904 + 128 b, +128); bin 32 starts at the centre
LOCUS = Locus("GENE", "chr1", 100_000, "+", 128, 64)
W0 = 95_904


def narrowpeak_line(chrom: str, start: int, end: int, signal: float = 5.0) -> str:
    return f"{chrom}\t{start}\t{end}\tpeak\t0\t.\t{signal}\t3.0\t2.0\t{(end - start) // 2}\n"


def write(path, lines: list[str]):
    path.write_text("".join(lines))
    return path


# ---------------------------------------------------------------------------------------------------------------------
# reading


def test_read_narrowpeak_types_and_header_lines(tmp_path):
    path = write(
        tmp_path / "ctcf.narrowPeak",
        [
            "track name=ctcf\n",
            "# comment\n",
            narrowpeak_line("chr1", 10, 20, 7.5),
            "\n",
            narrowpeak_line("chr2", 30, 45),
        ],
    )
    peaks = genome.read_peaks(path)
    assert list(peaks.columns) == [
        "chrom",
        "start",
        "end",
        "name",
        "score",
        "strand",
        "fc",
        "-log10p",
        "-log10q",
        "relSummit",
    ]
    assert peaks[["chrom", "start", "end"]].values.tolist() == [["chr1", 10, 20], ["chr2", 30, 45]]
    assert peaks["start"].dtype == np.int64 and peaks["fc"].tolist() == [7.5, 5.0]
    assert peaks.attrs["source"] == str(path) and peaks.attrs["chroms"] == ["chr1", "chr2"]


def test_read_gzipped_bed3_and_declared_genome(tmp_path):
    path = tmp_path / "dnase.bed.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("chr1\t5\t9\nchr1\t100\t250\n")
    peaks = genome.read_peaks(path, genome=["chr1", "chr7"])
    assert peaks[["start", "end"]].values.tolist() == [[5, 9], [100, 250]]
    assert peaks.attrs["chroms"] == ["chr1", "chr7"] and peaks.attrs["complete"]
    assert not genome.read_peaks(path).attrs["complete"]
    crlf = genome.read_peaks(
        write(tmp_path / "windows.narrowPeak", [narrowpeak_line("chr1", 5, 9).replace("\n", "\r\n")])
    )
    assert crlf[["start", "end", "relSummit"]].values.tolist() == [[5, 9, 2]]
    # chr7 is in the declared genome, so a locus there simply has no peaks
    assert genome.overlap_matrix(Locus("X", "chr7", 1_000_000, "+", 128, 8), {"DNase": peaks})["DNase"].sum() == 0


@pytest.mark.parametrize(
    "lines, where, problem",
    [
        (["chr1\t1\t5\t.\t0\t.\t1.0\n"], "columns", "7 tab-separated fields"),
        ([narrowpeak_line("chr1", 1, 5), "chr1\t1\t5\n"], "line 2", "has 3 tab-separated fields"),
        (
            [narrowpeak_line("chr1", 1, 5), "chr1\t1.5\t5\tp\t0\t.\t1\t1\t1\t1\n"],
            "line 2",
            "start '1.5' is not an integer",
        ),
        (["chr1\tabc\t5\n"], "line 1", "start 'abc' is not an integer"),
        (["chr1\t1\t5.0\n"], "line 1", "end '5.0' is not an integer"),
        (["chr1\t10\t5\n"], "line 1", "needs 0 <= start <= end"),
        (["chr1\t1\t5\tp\t0\t.\thigh\t1\t1\t1\n"], "line 1", "fc 'high' is not a number"),
    ],
)
def test_malformed_peak_files_name_file_and_line(tmp_path, lines, where, problem):
    path = write(tmp_path / "bad.narrowPeak", lines)
    with pytest.raises(ContractError) as err:
        genome.read_peaks(path)
    assert str(path) in str(err.value) and where in str(err.value) and problem in str(err.value)


def test_unknown_chromosome_vs_locus(tmp_path):
    ensembl = genome.read_peaks(write(tmp_path / "ensembl.bed", ["1\t10\t20\n", "2\t10\t20\n"]))
    with pytest.raises(ContractError, match=r"ensembl\.bed: chrom: locus 'GENE' is on 'chr1'.*differ in style"):
        genome.overlap_matrix(LOCUS, {"CTCF": ensembl})
    with pytest.raises(ContractError, match=r"ensembl\.bed: chrom: locus 'X' is on 'chrX'.*differ in style"):
        genome.locus_peaks(ensembl, Locus("X", "chrX", 5_000, "+", 128, 8))
    # a text file only lists chromosomes with peaks: a same-style chromosome without peaks means no peaks
    sparse = write(tmp_path / "chr2.bed", ["chr2\t10\t20\n"])
    assert genome.overlap_matrix(LOCUS, {"CTCF": genome.read_peaks(sparse)})["CTCF"].sum() == 0
    # ... unless the genome is declared, then the chromosome is unknown
    with pytest.raises(ContractError, match="chr2.bed: chrom: locus 'GENE' is on 'chr1', which the file does not know"):
        genome.locus_peaks(genome.read_peaks(sparse, genome=["chr2", "chr3"]), LOCUS)
    with pytest.raises(
        ContractError, match=r"chr2.bed: chrom: peaks on chromosomes outside the given genome: \['chr2'\]"
    ):
        genome.read_peaks(sparse, genome=["chr1"])


def test_read_peaks_rejects_bigwig_and_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.narrowPeak"):
        genome.read_peaks(tmp_path / "nope.narrowPeak")
    (tmp_path / "signal.bw").write_bytes(b"x")
    with pytest.raises(ContractError, match="signal.bw: format: is a bigWig"):
        genome.read_peaks(tmp_path / "signal.bw")


def test_bigbed_entries_parse_like_text():
    rows = [("chr1", 100, 200, "p1\t0\t.\t4.0\t3.0\t2.0\t50"), ("chr2", 5, 9, "p2\t0\t.\t1.0\t1.0\t1.0\t2")]
    peaks = genome.bigbed_entries_frame(rows, "x.bb")
    assert peaks[["chrom", "start", "end", "fc", "relSummit"]].values.tolist() == [
        ["chr1", 100, 200, 4.0, 50],
        ["chr2", 5, 9, 1.0, 2],
    ]
    with pytest.raises(ContractError, match=r"x.bb: columns: bigBed records have \[7\] fields"):
        genome.bigbed_entries_frame([("chr1", 1, 2, "a\tb\tc\td")], "x.bb")


# ---------------------------------------------------------------------------------------------------------------------
# peaks -> bins


def test_overlap_matrix_matches_hand_computed(tmp_path):
    lines = [
        narrowpeak_line("chr1", W0 + 10, W0 + 20),  # inside bin 0
        narrowpeak_line("chr1", W0 + 100, W0 + 300),  # bins 0, 1, 2 (bin 2 starts at +256)
        narrowpeak_line("chr1", W0 + 4 * 128 - 50, W0 + 4 * 128),  # ends exactly where bin 4 starts: bin 3 only
        narrowpeak_line("chr1", 100_000, 100_001),  # 1 bp at the centre: bin 32
        narrowpeak_line("chr1", 100_050, 100_060),  # also bin 32 -> count 2
        narrowpeak_line("chr1", W0 - 500, W0 + 1),  # straddles the window start: bin 0
        narrowpeak_line("chr1", W0 + 64 * 128, W0 + 64 * 128 + 100),  # starts at the window end: no bin
        narrowpeak_line("chr2", 100_000, 100_500),  # other chromosome
    ]
    peaks = genome.read_peaks(write(tmp_path / "ctcf.narrowPeak", lines))
    mat = genome.overlap_matrix(LOCUS, {"CTCF": peaks, "H3K4me3": peaks.iloc[[3]]})
    expected = np.zeros(64, int)
    expected[[0, 1, 2]] += 1
    expected[0] += 2
    expected[3] += 1
    expected[32] += 2
    assert mat.shape == (64, 2)
    np.testing.assert_array_equal(mat["CTCF"].to_numpy(), expected)
    np.testing.assert_array_equal(np.flatnonzero(mat["H3K4me3"].to_numpy()), [32])
    assert len(genome.locus_peaks(peaks, LOCUS)) == 6


def test_bigwig_bin_signal(tmp_path):
    path = str(tmp_path / "h3k27ac.bw")
    bw = pyBigWig.open(path, "w")
    bw.addHeader([("chr1", 100_100), ("chr2", 50_000)])
    # constant 4.0 over bin 0; 2.0 over the first half of bin 5; nothing else covered
    bw.addEntries(["chr1", "chr1"], [W0, W0 + 5 * 128], ends=[W0 + 128, W0 + 5 * 128 + 64], values=[4.0, 2.0])
    bw.close()
    mean = genome.bigwig_bin_signal(path, LOCUS)
    expected = np.zeros(64)
    expected[0], expected[5] = 4.0, 1.0
    np.testing.assert_allclose(mean, expected)
    np.testing.assert_allclose(genome.bigwig_bin_signal(path, LOCUS, stat="max")[[0, 5, 6]], [4.0, 2.0, 0.0])
    # the chromosome ends at 100,100: bins past it are 0, not an error
    assert genome.signal_matrix(LOCUS, {"H3K27ac": path}).shape == (64, 1)
    with pytest.raises(ContractError, match="h3k27ac.bw: chrom: locus 'X' is on 'chr9'"):
        genome.bigwig_bin_signal(path, Locus("X", "chr9", 1000, "+", 128, 4))


def test_bin_classes_notebook_and_paper_rules():
    hits = pd.DataFrame(
        [  # DNase CTCF H3K4me3 H3K27ac H3K4me1
            [0, 0, 1, 1, 1],  # promoter wins
            [0, 1, 0, 1, 0],  # CTCF+ K27ac+: notebook CTCF, paper active_enhancer
            [0, 1, 0, 0, 1],  # CTCF+ K4me1+: notebook enhancer, paper CTCF
            [0, 0, 0, 1, 1],  # active enhancer
            [0, 0, 0, 0, 1],  # K4me1 only: notebook enhancer, paper unclassified
            [1, 0, 0, 0, 0],  # DNase only: notebook other, paper unclassified
            [0, 0, 0, 0, 0],  # nothing
        ],
        columns=list(genome.MARKS),
    )
    assert genome.bin_classes(hits).tolist() == [
        "promoter",
        "CTCF",
        "enhancer",
        "active_enhancer",
        "enhancer",
        "other",
        "other",
    ]
    assert genome.bin_classes(hits, rule="paper").tolist() == [
        "promoter",
        "active_enhancer",
        "CTCF",
        "active_enhancer",
        "unclassified",
        "unclassified",
        "other",
    ]


# ---------------------------------------------------------------------------------------------------------------------
# top bins, Fisher, permutation, sweep


def test_top_bins_rules():
    profile = np.arange(100, dtype=float)
    np.testing.assert_array_equal(np.flatnonzero(genome.top_bins(profile, 0.10)), np.arange(90, 100))
    tied = np.r_[np.zeros(85), np.ones(15)]
    assert genome.top_bins(tied, 0.10).sum() == 15  # ties at the threshold all count (CDT-II rule)
    top = genome.top_k_bins(tied, 10)
    assert top.sum() == 10 and tied[top].min() == 1  # CDT-III rule: exactly k


def test_fisher_matches_scipy_and_haldane():
    rng = np.random.default_rng(0)
    top = np.zeros(200, bool)
    top[:20] = True
    hit = np.r_[rng.random(20) < 0.6, rng.random(180) < 0.1]
    res = genome.fisher_enrichment(top, hit)
    a, b, c, d = res["a"], res["b"], res["c"], res["d"]
    assert (a + b, c + d, a + c) == (20, 180, hit.sum())
    ref = scipy.stats.fisher_exact([[a, b], [c, d]], alternative="greater")
    assert res["odds_ratio"] == pytest.approx(ref.statistic) and res["p_value"] == pytest.approx(ref.pvalue)
    log_or = np.log((a + 0.5) * (d + 0.5) / ((b + 0.5) * (c + 0.5)))
    se = np.sqrt(sum(1 / (x + 0.5) for x in (a, b, c, d)))
    assert res["or_haldane"] == pytest.approx(np.exp(log_or))
    assert (res["ci_low"], res["ci_high"]) == pytest.approx(
        (np.exp(log_or - 1.959964 * se), np.exp(log_or + 1.959964 * se))
    )
    none = genome.fisher_enrichment(top, np.zeros(200, bool))  # no peak bin in the window (CD44 x H3K27ac)
    assert np.isnan(none["odds_ratio"]) and none["p_value"] == 1.0
    assert genome.fisher_enrichment(top, top)["odds_ratio"] == np.inf


def aligned_case(n: int = 300, seed: int = 1):
    """A smooth-ish profile with CTCF peaks exactly at its highest bins and DNase peaks elsewhere."""
    rng = np.random.default_rng(seed)
    profile = rng.random(n) * 0.1
    ctcf_bins = rng.choice(n, 20, replace=False)
    profile[ctcf_bins] += 1.0
    hits = pd.DataFrame(
        {"CTCF": np.isin(np.arange(n), ctcf_bins).astype(int), "DNase": (rng.random(n) < 0.1).astype(int)}
    )
    return profile, hits, ctcf_bins


def test_enrichment_table_and_threshold_sweep():
    profile, hits, _ = aligned_case()
    table = genome.enrichment_table({"G1": profile}, {"G1": hits})
    assert table[["gene", "mark"]].values.tolist() == [["G1", "CTCF"], ["G1", "DNase"]]
    ctcf = table.set_index("mark").loc["CTCF"]
    assert ctcf["n_top"] == 30 and ctcf["a"] == 20 and ctcf["odds_ratio"] == np.inf and ctcf["p_value"] < 1e-15
    sweep = genome.threshold_sweep(profile, hits)
    assert sweep["q"].unique().tolist() == [0.05, 0.10, 0.15, 0.20]
    assert sweep.query("mark == 'CTCF'")["n_top"].tolist() == [15, 30, 45, 60]
    # at 5% all top bins are CTCF bins but 5 CTCF bins fall outside: OR infinite, P tiny
    assert sweep.query("mark == 'CTCF' and q == 0.05")["p_value"].item() < 1e-10


def test_circular_permutation_separates_aligned_from_random():
    profile, hits, _ = aligned_case()
    aligned = genome.odds_ratio_permutation_test(profile, hits["CTCF"].to_numpy(), n_perm=200, seed=42)
    assert aligned.observed == np.inf and aligned.n_extreme == 0 and aligned.p_value == pytest.approx(1 / 201)
    assert len(aligned.null) == 200 and np.median(aligned.null) < 5
    unrelated = genome.odds_ratio_permutation_test(profile, hits["DNase"].to_numpy(), n_perm=200, seed=42)
    assert unrelated.p_value > 0.05
    again = genome.odds_ratio_permutation_test(profile, hits["DNase"].to_numpy(), n_perm=200, seed=42)
    np.testing.assert_array_equal(unrelated.null, again.null)


# ---------------------------------------------------------------------------------------------------------------------
# classes, effect sizes, entropy ranking


def test_class_statistics_against_scipy():
    rng = np.random.default_rng(3)
    classes = np.array(
        ["CTCF"] * 30 + ["promoter"] * 30 + ["active_enhancer"] * 30 + ["other"] * 200 + ["enhancer"] * 10, dtype=object
    )
    means = {"CTCF": 3.0, "promoter": 2.0, "active_enhancer": 1.0, "other": 0.0, "enhancer": 5.0}
    profile = np.array([rng.normal(means[c], 1.0) for c in classes])
    res = genome.class_statistics(
        {"G1": profile[:150], "G2": profile[150:]}, {"G1": classes[:150], "G2": classes[150:]}
    )
    assert len(res["pooled"]) == 300
    groups = [profile[classes == c] for c in genome.CLASSES]
    ref = scipy.stats.kruskal(*groups)
    assert res["kruskal"].statistic == pytest.approx(ref.statistic) and res["kruskal"].p_value == pytest.approx(
        ref.pvalue
    )
    d = res["cohens_d"].set_index("class")["d_vs_other"]
    x, y = profile[classes == "CTCF"], profile[classes == "other"]
    s = np.sqrt((29 * x.var(ddof=1) + 199 * y.var(ddof=1)) / 228)
    assert d["CTCF"] == pytest.approx((x.mean() - y.mean()) / s)
    assert d["CTCF"] > d["promoter"] > d["active_enhancer"] > 0.5
    assert "enhancer" not in d.index  # labelled but not tested, as in Fig 7B


def test_mark_information_ranks_the_aligned_mark_first():
    profile, hits, _ = aligned_case()
    info = genome.mark_information({"G1": profile}, {"G1": hits}).set_index("mark")
    assert info.loc["CTCF", "rank"] == 1 and info.loc["DNase", "rank"] == 2

    # hand-computed: top = 30 of 300 bins, CTCF = 20 of them, so I = H(top) - H(top | CTCF)
    def h(p):
        return -sum(x * np.log2(x) for x in p if x > 0)

    expected = h([0.1, 0.9]) - (280 / 300) * h([10 / 280, 270 / 280])
    assert info.loc["CTCF", "mi_bits"] == pytest.approx(expected)


# ---------------------------------------------------------------------------------------------------------------------
# CDT-III CTCF enrichment


def ctcf_peaks_at(tmp_path, bins: list[int], name: str = "ctcf.narrowPeak") -> pd.DataFrame:
    """One 100-bp CTCF peak centred inside each given bin of LOCUS (midpoint in the bin)."""
    lines = [narrowpeak_line("chr1", W0 + 128 * b + 10, W0 + 128 * b + 110) for b in bins]
    return genome.read_peaks(write(tmp_path / name, lines))


def test_ctcf_enrichment_is_10x_when_all_peaks_in_top_bins(tmp_path):
    profile = np.zeros(64)
    profile[[3, 10, 20, 40, 50, 60]] = [6, 5, 4, 3, 2, 1]  # int(0.1 * 64) = 6 top bins
    res = genome.ctcf_enrichment(profile, LOCUS, ctcf_peaks_at(tmp_path, [3, 10, 10, 40]))
    assert (res.n_top, res.n_ctcf, res.in_top, res.enrichment) == (6, 4, 4, 10.0)
    # two peaks in one bin count twice as peaks but once as bins
    assert genome.ctcf_enrichment(profile, LOCUS, ctcf_peaks_at(tmp_path, [3, 10, 10, 40]), count="bins").n_ctcf == 3
    half = genome.ctcf_enrichment(profile, LOCUS, ctcf_peaks_at(tmp_path, [3, 10, 30, 31], "half.narrowPeak"))
    assert (half.in_top, half.enrichment) == (2, 5.0)
    no_ctcf = genome.read_peaks(write(tmp_path / "none.narrowPeak", []), genome=["chr1"])  # MSR1 has no CTCF peak
    none = genome.ctcf_enrichment(profile, LOCUS, no_ctcf)
    assert none.n_ctcf == 0 and np.isnan(none.enrichment)


def test_ctcf_peak_assigned_by_midpoint(tmp_path):
    profile = np.zeros(64)
    profile[[5, 7, 9, 11, 13, 15]] = 1.0
    # the peak overlaps bins 4..6 but its midpoint (W0 + 5*128 + 64) lies in bin 5
    peaks = genome.read_peaks(
        write(tmp_path / "p.narrowPeak", [narrowpeak_line("chr1", W0 + 4 * 128 + 64, W0 + 6 * 128 + 64)])
    )
    res = genome.ctcf_enrichment(profile, LOCUS, peaks)
    assert res.ctcf_bins.tolist() == [5] and res.enrichment == 10.0
    assert genome.ctcf_enrichment(profile, LOCUS, peaks, count="bins").ctcf_bins.tolist() == [4, 5, 6]


def test_ctcf_permutation_null_near_one(tmp_path):
    rng = np.random.default_rng(5)
    results = {}
    for g in range(6):
        bins = sorted(rng.choice(64, 4, replace=False).tolist())
        profile = rng.random(64)
        profile[bins] += 2  # all CTCF in the top bins -> 10x
        results[f"G{g}"] = genome.ctcf_enrichment(profile, LOCUS, ctcf_peaks_at(tmp_path, bins, f"g{g}.narrowPeak"))
    test = genome.ctcf_permutation_test(results, n_bins=64, n_perm=300, seed=1)
    assert test["observed"] == 10.0 and test["p_value"] == pytest.approx(1 / 301)
    assert abs(np.mean(test["null"]) - 1.0) < 0.15  # random 6 of 64 bins hold ~ 6/64 / 0.1 = 0.94 of the peaks
    pooled = genome.ctcf_permutation_test(results, n_bins=64, n_perm=300, n_random=7, null="pooled", seed=1)
    assert abs(np.mean(pooled["null"]) - 7 / 64 / 0.1) < 0.15


# ---------------------------------------------------------------------------------------------------------------------
# CDT v1 peak distance


def test_attention_peak_distance():
    rows = np.zeros((4, 896))
    rows[[0, 1, 2, 3], [448, 818, 5, 840]] = 1.0
    d = genome.attention_peak_distance(rows)
    np.testing.assert_array_equal(d, [0, 47_360, -56_704, 50_176])  # FNDC5: attention +47.4 kb, gradient -56.7 kb
    summary = genome.peak_distance_summary(d)
    assert summary["frac_within"] == 0.5
    assert summary["mean_abs_kb"] == pytest.approx((47_360 + 56_704 + 50_176) / 4 / 1e3)


# ---------------------------------------------------------------------------------------------------------------------
# on the simulator's genome files (planted CTCF sites -> CTCF peaks)


def test_simulated_ctcf_sites_enrich_in_oracle_attention(simulated_genome):
    out = simulated_genome
    store = DNAStore(out / "processed" / "dna.h5")
    truth = pd.read_csv(out / "truth" / "elements.csv")
    peaks = genome.read_peaks(out / "external" / "encode" / "CTCF.narrowPeak")
    rng = np.random.default_rng(0)
    profiles, hits, ctcf = {}, {}, []
    for locus_id, sites in truth.query("element == 'CTCF'").groupby("locus_id"):
        locus = store.locus(locus_id)
        profile = rng.random(locus.n_bins) * 0.1  # an oracle attention: high on the planted CTCF bins
        for site in sites.itertuples():
            profile[site.bin_start : site.bin_end] += 1.0
        profiles[locus_id], hits[locus_id] = profile, genome.overlap_matrix(locus, {"CTCF": peaks})
        ctcf.append(genome.ctcf_enrichment(profile, locus, peaks))
    table = genome.enrichment_table(profiles, hits)
    assert len(table) >= 5
    a, b, c, d = table[["a", "b", "c", "d"]].sum()
    pooled = scipy.stats.fisher_exact([[a, b], [c, d]], alternative="greater")
    assert pooled.statistic > 20 and pooled.pvalue < 1e-10
    assert (table["odds_ratio"] > 5).mean() >= 0.8
    assert np.nanmean([r.enrichment for r in ctcf]) > 5

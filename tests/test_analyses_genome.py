"""cdt.analyses.genome: per-locus profiles (streamed cells and the NTC-mean fallback), the fast permutation
statistic against the library's Fisher OR and null, CTCF tables and tracks by hand, local O/E Hi-C contact on a
cooler built here, CDT v1 attribution on a simulated v1 task, and element recovery against planted truth."""

from __future__ import annotations

import dataclasses

import cooler
import numpy as np
import pandas as pd
import pytest
import torch
from cdt import genome, hic
from cdt.analyses import genome as ag
from cdt.config import get_preset
from cdt.data.dnastore import DNAStore, Locus
from cdt.models import CDT1, CDT2, CDT1Config, CDT2Config
from cdt.simulate.v1 import simulate_v1
from cdt.train import LoadedRun, TrainConfig

TINY = get_preset("tiny")
N_BINS, DIM, N_GENES = 8, 4, 10


@pytest.fixture
def data(tiny_screen, tiny_dna_store):
    """Screen with B2M, CD52, CD58, GFI1B x 4 cells (2 SNP loci, 4 NTC); the store adds CD55, a locus without cells."""
    screen = tiny_screen(n_genes=N_GENES, held_out=("CD52", "GFI1B"), cells_per_target=4, seed=1)
    loci = sorted(set(screen.obs["locus"]) - {""}) + ["CD55"]
    return screen, tiny_dna_store(loci, n_bins=N_BINS, dim=DIM)


def cdt2() -> CDT2:
    torch.manual_seed(0)
    return CDT2(dataclasses.replace(CDT2Config.from_preset(TINY), n_genes=N_GENES, n_bins=N_BINS, dna_dim=DIM)).eval()


def test_locus_profiles_mean_first_cells_and_fall_back_to_ntc_mean(data):
    screen, dna = data
    model = cdt2()
    assert ag.tss_loci(screen, dna) == ["B2M", "CD52", "CD55", "CD58", "GFI1B"]  # SNP loci left out, CD55 kept
    prof = ag.locus_profiles(model, screen, dna, ["GFI1B", "CD55", "B2M"], n_cells=3, min_cells=2)
    assert prof.values.shape == (3, N_BINS) and list(prof.values.index) == ["GFI1B", "CD55", "B2M"]
    assert prof.n_cells.to_dict() == {"GFI1B": 3, "CD55": 0, "B2M": 3}
    np.testing.assert_allclose(prof.values.sum(1), 1.0, rtol=1e-5)  # every query row sums to 1 over bins
    with DNAStore(dna) as store, torch.no_grad():
        rows = ag.first_cells_per_locus(screen, ["GFI1B"], 3)["GFI1B"]
        assert list(screen.obs["perturbation"].iloc[rows]) == ["GFI1B"] * 3 and (np.diff(rows) > 0).all()
        x = torch.from_numpy(np.asarray(screen.X[rows], np.float32))
        w = model(torch.from_numpy(store["GFI1B"])[None].expand(3, -1, -1), x, return_attention=True)
        np.testing.assert_allclose(
            prof.values.loc["GFI1B"], w.attention["dna_to_rna"].double().mean((0, 1, 2)), rtol=1e-5
        )
        ntc = torch.from_numpy(screen.var["ntc_mean_expr"].to_numpy(np.float32))[None]
        w = model(torch.from_numpy(store["CD55"])[None], ntc, return_attention=True)
        np.testing.assert_allclose(
            prof.values.loc["CD55"], w.attention["dna_to_rna"][0].double().mean((0, 1)), rtol=1e-5
        )
    assert (ag.top_bin_agreement(prof, prof, 0.25) == 1.0).all()
    other = ag.LocusProfiles(prof.values.iloc[:, ::-1].set_axis(prof.values.columns, axis=1), prof.n_cells)
    reversed_top = [set(np.argsort(-v)[:2]) & set(N_BINS - 1 - np.argsort(-v)[:2]) for v in prof.values.to_numpy()]
    np.testing.assert_allclose(ag.top_bin_agreement(prof, other, 0.25), [len(s) / (4 - len(s)) for s in reversed_top])
    peaks = prof.peaks(128)
    assert (peaks["peak_offset_kb"] == (prof.values.to_numpy().argmax(1) - N_BINS // 2) * 0.128).all()


def test_sample_odds_ratio_matches_fisher_and_permutation_matches_library():
    rng = np.random.default_rng(3)
    for _ in range(20):
        top, hit = rng.random(50) < 0.2, rng.random(50) < rng.uniform(0.05, 0.5)
        want = genome.fisher_enrichment(top, hit)["odds_ratio"]
        got = genome.top_hit_odds_ratio(top, hit)
        assert got == pytest.approx(want, nan_ok=True) or (np.isinf(got) and np.isinf(want))
    assert np.isinf(genome.top_hit_odds_ratio([1, 1, 0, 0], [1, 1, 0, 0]))
    assert np.isnan(genome.top_hit_odds_ratio([1, 0, 0], [0, 0, 0]))
    profile = rng.random(200)
    hit = np.zeros(200, bool)
    hit[np.argsort(-profile)[:8]] = True  # peaks exactly under the top bins
    hit[rng.choice(200, 6, replace=False)] = True
    hits = {"G": pd.DataFrame({"DNase": hit.astype(int), "CTCF": 0, "H3K4me3": hit[::-1].astype(int)})}
    table, nulls = ag.permutation_table({"G": profile}, hits, n_perm=200, seed=42)
    assert list(table["mark"]) == ["DNase", "H3K4me3"]  # CTCF has < 5 peak bins
    ref = genome.odds_ratio_permutation_test(profile, hit, n_perm=200, seed=42)  # same first generator draws
    np.testing.assert_array_equal(nulls[("G", "DNase")], ref.null)
    assert table.iloc[0]["p_value"] == ref.p_value and table.iloc[0]["observed_or"] == ref.observed
    assert ref.p_value < 0.05


def test_fisher_threshold_and_class_summaries():
    table = pd.DataFrame(
        {
            "gene": ["A", "A", "B"],
            "mark": ["CTCF", "DNase", "CTCF"],
            "n_peak_bins": [3, 0, 5],
            "odds_ratio": [12.0, np.nan, 0.5],
            "p_value": [1e-4, 1.0, 0.7],
        }
    )
    assert ag.fisher_summary(table) == {"n_testable": 2, "n_significant": 1, "n_or_above_1": 1, "alpha": 1e-3}
    rng = np.random.default_rng(0)
    profile = rng.random(100)
    ctcf = np.zeros(100, int)
    ctcf[np.argsort(-profile)[:6]] = 1
    hits = pd.DataFrame({"CTCF": ctcf, "H3K4me3": 0, "H3K27ac": 0, "H3K4me1": 0, "DNase": rng.random(100) < 0.1})
    sweep = ag.threshold_table({"A": profile}, {"A": hits})
    assert (
        set(sweep["q"]) == {0.05, 0.10, 0.15, 0.20}
        and (sweep.loc[sweep["mark"] == "H3K4me3", "n_peak_bins"] == 0).all()
    )
    summary = ag.threshold_summary(sweep)
    assert summary["n_pairs"] == 2 and summary["n_all_thresholds"] >= 1  # CTCF under the top 6 bins: always enriched
    classes = ag.bin_class_analysis({"A": profile}, {"A": hits})
    assert classes["summary"]["d_CTCF"] > 1  # CTCF-only bins carry the highest attention


def test_ctcf_table_and_genome_track_by_hand():
    locus = Locus("GENE", "chr1", 10_000, "+", 100, 20)  # window [9,000, 11,000), TSS at bin 10
    profile = np.linspace(0, 1, 20)  # the top 10% = bins 18, 19
    peaks = pd.DataFrame(
        {
            "chrom": "chr1",
            "start": [9_050, 10_850, 10_950, 12_000],
            "end": [9_100, 10_870, 10_990, 12_100],
            "fc": [2.0, 8.0, 4.0, 9.0],
        }
    )  # bins 0, 18, 19; the last lies outside
    table, res = ag.ctcf_table({"GENE": profile}, {"GENE": locus}, peaks)
    row = table.iloc[0]
    assert (row["n_ctcf"], row["ctcf_in_top"]) == (3, 2) and row["enrichment"] == pytest.approx(2 / 0.3)
    track = ag.genome_track(
        profile,
        locus,
        peaks,
        elements=pd.DataFrame(
            {"locus_id": ["GENE", "OTHER"], "element": ["CTCF", "open"], "start": [10_850, 0], "end": [10_900, 1]}
        ),
    )
    assert (track["k"], track["n"]) == (2, 3)
    assert track["peaks"]["in_top"].tolist() == [False, True, True]
    np.testing.assert_allclose(track["peaks"]["signal_norm"], [0.25, 1.0, 0.5])
    assert track["elements"].to_dict("list") == {"element": ["CTCF"], "start_kb": [0.85], "end_kb": [0.9]}
    assert track["bins"]["attention"].max() == 1.0
    s = ag.ctcf_summary(res, 20, n_perm=200)
    assert s["n_genes"] == 1 and s["mean"] == pytest.approx(2 / 0.3) and s["p_value"] < 0.05


@pytest.fixture(scope="module")
def contacts(tmp_path_factory):
    """chr1, 200 bins of 1 kb: contact 1000 / (1 + d) plus an extra 500 at bins (50, 60)."""
    path = str(tmp_path_factory.mktemp("hic") / "c.cool")
    i, j = np.triu_indices(200)
    count = np.floor(1000 / (1 + j - i)).astype(np.int64)
    count[(i == 50) & (j == 60)] += 500
    bins = cooler.binnify(pd.Series({"chr1": 200_000}), 1_000)
    cooler.create_cooler(path, bins, pd.DataFrame({"bin1_id": i, "bin2_id": j, "count": count}))
    cooler.balance_cooler(cooler.Cooler(path), store=True, mad_max=0, min_nnz=0, ignore_diags=0)
    return hic.HiC(path)


def test_pair_contacts_local_observed_over_expected(contacts):
    pairs = pd.DataFrame(
        {
            "pair": ["loop", "plain", "off"],
            "chrom": ["chr1", "chr1", "chr2"],
            "enhancer": [50_500, 80_500, 10],
            "promoter": [60_200, 90_700, 20],
        }
    )
    out = ag.pair_contacts(contacts, pairs, flank=30_000)
    mat = contacts.clr.matrix(balance=True)[:]
    assert out["balanced"].iloc[0] == pytest.approx(mat[50, 60])
    assert out["expected"].iloc[1] == pytest.approx(np.nanmean(np.diagonal(mat[50:121, 50:121], 10)))
    assert out["oe"].iloc[0] > 1.3 and out["oe"].iloc[1] == pytest.approx(1.0, abs=0.1)
    assert np.isnan(out["oe"].iloc[2]) and out["distance_kb"].iloc[0] == pytest.approx(9.7)
    ratios = ag.hic_ratios(
        contacts,
        {"G": np.r_[np.zeros(60), np.ones(20), np.zeros(20)]},
        {"G": Locus("G", "chr1", 55_000, "+", 100, 100)},
        k=10,
        n_draws=20,
    )
    assert ratios.loc[0, "top_in_promoter_bin"] == 0 and ratios.loc[0, "ratio"] > 1  # top bins 5-6 kb downstream


def test_v1_attribution_distances_and_overlap(tmp_path):
    simulate_v1(TINY, [f"G{i}" for i in range(TINY.v1_n_genes)], tmp_path, np.random.default_rng(0))
    torch.manual_seed(0)
    model = CDT1(CDT1Config.from_preset(TINY)).eval()
    files = {
        "dna": str(tmp_path / "v1/dna_enhancers.h5"),
        "pairs": str(tmp_path / "v1/pairs.csv"),
        "embeddings": str(tmp_path / "v1/embeddings.h5"),
    }
    run = LoadedRun(
        run_dir=tmp_path,
        model=model,
        config=TrainConfig.for_model("cdt1", "tiny"),
        history=pd.DataFrame(),
        metrics={},
        extra={},
        files=files,
    )
    attr = ag.v1_attribution(run, n=5, seed=42)
    pairs = pd.read_csv(files["pairs"])
    val = pairs[pairs["split"] == "val"]
    assert attr.pairs["random"].sum() == 5 and attr.pairs["strongest"].sum() == 1
    strongest = attr.pairs[attr.pairs["strongest"]].iloc[0]
    assert strongest["beta"] == pytest.approx(val["beta"].min())
    assert attr.attention.shape == attr.gradient.shape == (len(attr.pairs), TINY.n_bins)
    np.testing.assert_allclose(attr.attention.sum(1), 1.0, rtol=1e-5)
    assert (attr.gradient > 0).all()
    d, summary = ag.v1_peak_distances(attr)
    assert len(d) == 5 and summary["within_bp"] == ag.scaled_within_bp(TINY.n_bins, TINY.bin_size)
    assert ag.scaled_within_bp(896, 128) == 50_000 and ag.scaled_within_bp(448, 128) == 25_000
    overlaps, osum = ag.v1_overlap(attr, k=5)
    assert osum["chance"] == pytest.approx(25 / TINY.n_bins) and 0 <= overlaps.min() <= overlaps.max() <= 5
    sites = pd.DataFrame(
        {
            "chrom": [strongest["chrom"]],
            "start": [int(strongest["enhancer_center"]) + 300],
            "end": [int(strongest["enhancer_center"]) + 500],
        }
    )
    case = ag.v1_case(attr, sites)
    assert case["pair"] == strongest["pair"] and case["ctcf_kb"].tolist() == [0.4]
    assert case["gradient_to_ctcf_kb"] == pytest.approx(abs(case["gradient_peak_kb"] - 0.4))
    truth = ag.v1_element_truth(pd.read_csv(tmp_path / "truth/v1_elements.csv"), attr)
    assert truth["enhancer"].shape == attr.attention.shape
    assert truth["enhancer"][:, TINY.n_bins // 2].all()  # every window is centred on its tested enhancer
    # the authors' pairs carry no TSS: the case study goes on without it
    no_tss = tmp_path / "pairs_no_tss.csv"
    pairs.drop(columns="tss").to_csv(no_tss, index=False)
    run.files = {**files, "pairs": str(no_tss)}
    attr2 = ag.v1_attribution(run, n=5, seed=42)
    assert attr2.pairs["tss"].isna().all() and attr2.pairs["pair"].tolist() == attr.pairs["pair"].tolist()
    case2 = ag.v1_case(attr2, sites)
    assert np.isnan(case2["tss_offset_kb"]) and case2["attention_peak_kb"] == case["attention_peak_kb"]
    from cdt.pl.genome import v1_case as v1_case_figure

    i = case2["index"]
    fig = v1_case_figure(attr2.attention[i], attr2.gradient[i], case2, attr2.bin_size)
    assert fig.axes[2].get_title().endswith("TSS not in the pairs file")


def test_top_overlaps_and_temperature_by_hand():
    a = np.array([[5, 4, 3, 2, 1, 0], [0, 1, 2, 3, 4, 5]], float)
    b = np.array([[5, 0, 4, 0, 0, 0], [5, 4, 3, 2, 1, 0]], float)
    np.testing.assert_array_equal(ag.top_overlaps(a, b, 2), [1, 0])
    t = ag.temperature_scale(np.array([0.2, 0.3, 0.5]), 0.5)
    np.testing.assert_allclose(t, np.array([0.04, 0.09, 0.25]) / 0.38)


def test_element_recovery_scores_truth_against_baselines():
    rng = np.random.default_rng(0)
    elements = pd.DataFrame(
        {
            "locus_id": ["A", "A", "B"],
            "element": ["CTCF", "promoter", "CTCF"],
            "bin_start": [2, 9, 15],
            "bin_end": [4, 11, 18],
        }
    )
    truth = ag.element_truth(elements, ["A", "B"], 20)
    assert truth["any element"].sum() == 7 and truth["CTCF"].sum() == 5 and truth["open"].sum() == 0
    perfect = truth["any element"].astype(float)
    scores = ag.bin_scores({"oracle": perfect}, rng.normal(size=(2, 20, 3)), seed=0)
    assert set(scores) == {"oracle", "embedding_norm", "near_centre", "random"}
    table = ag.element_recovery(scores, truth).set_index(["method", "target"])
    assert table.loc[("oracle", "any element"), "auroc"] == 1.0
    assert table.loc[("oracle", "any element"), "top_precision"] == 1.0  # 2 top bins per locus, all on elements
    assert table.loc[("oracle", "any element"), "top_fold"] == pytest.approx(40 / 7)
    assert np.isnan(table.loc[("oracle", "open"), "auroc"])  # no positives


# --- notebook 05: studies, headline rows and findings ------------------------------------------------------------------


def test_model_profiles_bundle_the_notebook_profiles(data):
    screen, dna = data
    model = cdt2()
    prof = ag.model_profiles(model, screen, dna, held_cells=3, tss_cells=2)
    assert prof.tss == ["B2M", "CD52", "CD55", "CD58", "GFI1B"] and prof.held_genes == ["GFI1B", "CD52"]
    assert (prof.n_bins, prof.bin_size) == (N_BINS, 128) and prof.cdt3 is None and prof.main is prof.cdt2
    assert list(prof.models) == ["CDT-II"] and prof.main_score == "CDT-II attention"
    pd.testing.assert_frame_equal(
        prof.held.values, ag.locus_profiles(model, screen, dna, ["GFI1B", "CD52"], n_cells=3).values
    )
    assert prof.cdt2.n_cells.to_dict() == {"B2M": 2, "CD52": 2, "CD55": 0, "CD58": 2, "GFI1B": 2}
    peaks = ag.peak_table(prof)
    assert peaks["published_offset_kb"].tolist() == pytest.approx([(455 - 448) * 0.128, (730 - 448) * 0.128])
    rows = ag.peak_numbers(peaks, prof).numbers
    assert rows[1]["key"] == ("CDT-II", "Fig 4B", "CD52: profile peak offset from the TSS (kb)")
    assert rows[1]["value"] == peaks["peak_offset_kb"].iloc[1] and "window +-0.5 kb (paper 57.3)" in rows[1]["note"]
    assert ag.profiles_line(peaks, prof).startswith("Profiles of 2 held-out and 5 TSS loci computed in ")
    assert ag.held_elements(prof, None) is None
    elements = pd.DataFrame({"locus_id": ["CD52"], "element": ["CTCF"], "start": [0], "end": [1]})
    assert ag.held_elements(prof, elements)["GFI1B"].empty and len(ag.held_elements(prof, elements)["CD52"]) == 1


def test_available_inputs_and_the_sources_line():
    from types import SimpleNamespace

    paths = SimpleNamespace(encode_dir="enc", hic=None, v1_pairs=None)
    have = ag.available(paths, ["cdt2", "cdt1"])
    assert have == {"encode": True, "hic": False, "cdt3": False, "v1": False}
    assert ag.sources_line("real (authors' files)", "paper", ["cdt2", "cdt1"], have) == (
        "Data: **real (authors' files)**, protocol **paper**. Runs: `cdt2`, `cdt1`. **No Hi-C file**: the contact "
        "sections are skipped. **No CDT-III run**: CDT-III rows use CDT-II only. **No CDT v1 run/pairs**: the CDT v1 "
        "sections are skipped."
    )


def test_encode_headline_rows_and_finding():
    fisher = pd.DataFrame(
        {
            "gene": ["GFI1B", "GFI1B", "B"],
            "mark": ["DNase", "CTCF", "CTCF"],
            "n_peak_bins": [3, 0, 5],
            "odds_ratio": [12.0, np.nan, 0.5],
            "p_value": [1e-4, 1.0, 0.7],
        }
    )
    rows = ag.fisher_numbers(fisher).numbers
    assert [r["value"] for r in rows] == ["1/2", "1/2", 12.0]  # no CD52 x CTCF pair here
    assert rows[2]["key"] == ("CDT-II", "Fig 6A", "DNase odds ratio at GFI1B") and rows[2]["note"] == "P = 0.0001"
    perm = pd.DataFrame({"gene": ["A", "A", "B"], "mark": ["CTCF", "DNase", "CTCF"], "p_value": [0.001, 0.005, 0.2]})
    assert ag.n_permutation_significant(perm) == "1/3"  # P < 0.005 strictly
    sweep = pd.DataFrame(
        {
            "gene": ["A"] * 4,
            "mark": ["CTCF", "CTCF", "DNase", "DNase"],
            "q": [0.05, 0.1, 0.05, 0.1],
            "n_peak_bins": 3,
            "odds_ratio": [5.0, 4.0, 3.0, 0.5],
            "p_value": [0.01, 0.02, 0.01, 0.5],
        }
    )
    assert [r["value"] for r in ag.robustness_numbers(perm, sweep).numbers] == ["1/3", "1/2"]
    classes = {
        "summary": {"d_CTCF": 2.5, "d_promoter": 1.25, "kruskal_p": 1e-6},
        "kruskal": type("K", (), {"n": [10, 20]})(),
    }
    rows = ag.bin_class_numbers(classes).numbers
    assert [r["value"] for r in rows] == [2.5, 1.25, 1e-6] and rows[2]["note"] == "n bins per class [10, 20]"
    text = ag.encode_finding(fisher, classes, perm)
    assert "1 of 2 testable gene x mark pairs reach P < 1e-3 (paper 23/24)" in text
    assert "Cohen's d CTCF 2.50 and promoter 1.25" in text and "1/3 pairs at P < 0.005 (paper 14/15)" in text


def hand_profiles(with_cdt3: bool = True) -> ag.ModelProfiles:
    """Two 20-bin loci (CD55, GENE); CDT-II ramps up, CDT-III ramps down at GENE."""
    loci = {g: Locus(g, "chr1", c, "+", 100, 20) for g, c in (("CD55", 10_000), ("GENE", 50_000))}
    up = np.linspace(0, 1, 20)
    p2 = ag.LocusProfiles(pd.DataFrame([up, up], index=list(loci)), pd.Series([0, 4], index=list(loci)), "CDT-II")
    p3 = ag.LocusProfiles(
        pd.DataFrame([up, up[::-1]], index=list(loci)), pd.Series([0, 4], index=list(loci)), "CDT-III"
    )
    return ag.ModelProfiles(loci, p2, p2, p3 if with_cdt3 else None, 100, 20, 0.0)


def test_ctcf_models_tracks_and_their_rows():
    prof = hand_profiles()
    peaks = pd.DataFrame(
        {"chrom": "chr1", "start": [9_050, 10_850, 49_050, 50_950], "end": [9_100, 10_870, 49_100, 50_990], "fc": 1.0}
    )  # CD55: bins 0 and 18; GENE: bins 0 and 19
    ctcf = ag.ctcf_models(prof, peaks, seed=0)
    assert list(ctcf.tables) == ["CDT-III", "CDT-II"]
    assert list(ctcf.named_tables()) == ["cdt3_table2_ctcf_enrichment_cdtiii", "cdt3_table2_ctcf_enrichment_cdtii"]
    assert ctcf.tables["CDT-II"]["ctcf_in_top"].tolist() == [1, 1]  # the top 2 bins (18, 19) hold one peak each
    assert ctcf.tables["CDT-III"]["ctcf_in_top"].tolist() == [1, 1]  # reversed at GENE: bins 0, 1 hold bin 0's peak
    assert ctcf.agreement.tolist() == [1.0, 0.0]
    assert ctcf.first is ctcf.summaries["CDT-III"] and "null" not in ctcf.summary_table().index
    assert "mean Jaccard index of 0.50" in ctcf.agreement_line()
    rows = ag.ctcf_numbers(ctcf).numbers
    assert len(rows) == 6 and rows[0]["value"] == pytest.approx(5.0)  # 1 of 2 peaks in the top 10%: 0.5 / 0.1
    assert rows[0]["note"] == "2 loci with CTCF; median 5.00. top-bin Jaccard with CDT-II 0.50"
    assert rows[3]["note"] == "2 loci with CTCF; median 5.00. CDT-II's own paper: 7.67x (26/28 > 2x)"
    assert rows[1]["value"] == "2/2" and ag.ctcf_findings(ctcf)[1].startswith("- **CTCF at every TSS locus (CDT-II)")
    assert ag.ctcf_models(hand_profiles(False), peaks).agreement_line() == ""
    tracks = ag.track_figures(prof, peaks)
    assert list(tracks) == ["cdt3_fig7_genome_track_cd55"]  # FCGR2A is not a locus here
    t = tracks["cdt3_fig7_genome_track_cd55"]
    assert t["title"] == "CD55: CDT-III DNA→RNA cross-attention and CTCF peaks (input: mean of control cells)"
    assert (t["k"], t["n"]) == (1, 2)
    assert ag.track_numbers(tracks).numbers == [
        {
            "key": ("CDT-III", "Fig 7", "CD55: CTCF peaks in the top-10% bins"),
            "value": "1/2",
            "file": "cdt3_fig7_genome_track_cd55.png",
            "note": "",
        }
    ]


def test_hic_rows_and_finding_from_the_tests():
    study = ag.HiCStudy(
        pd.DataFrame(),
        {"n": 4, "mean_ratio": 1.5, "n_above_1": 3, "p_value": 0.0625},
        {"n": 4, "mean_ratio": 1.25, "n_above_1": 2, "p_value": 0.25},
        "CDT-III",
        5_000,
    )
    rows = ag.hic_numbers(study).numbers
    assert [r["value"] for r in rows] == [1.5, "3/4", 0.0625, 1.25]
    assert rows[0]["key"][2] == "CDT-III: mean contact ratio top-20 / random-20"
    assert rows[3]["note"] == "2/4 > 1, P 0.25; not in the paper" and rows[3]["file"].endswith("off_diagonal.png")
    assert "1.50x as much as random bins on average (3/4 loci > 1, Wilcoxon P 0.0625" in ag.hic_finding(study)


def test_pair_contact_study_falls_back_to_snp_loci(contacts, tmp_path):
    pd.DataFrame(
        {
            "locus_id": ["SNP-1", "SNP-2", "GFI1B"],
            "kind": ["SNP", "SNP", "TSS"],
            "gene": ["GA", "GB", None],
            "chrom": ["chr1", "chr1", "chr1"],
            "center": [60_200, 90_700, 10_000],
            "distance": [9_700, 10_200, 0],
            "cis_effect": [0.5, 0.2, 0.0],
        }
    ).to_csv(tmp_path / "loci.csv", index=False)
    assert ag.pair_contact_study(contacts) is None
    pc = ag.pair_contact_study(contacts, truth_dir=tmp_path)
    assert pc.source == "simulated enhancer (SNP) loci and their cis genes" and len(pc.pairs) == 2
    assert pc.strongest["pair"] == "SNP-1:GA" and pc.anchors == {"enhancer": 60_200, "promoter": 50_500}
    assert pc.start == 40_000 and pc.matrix.shape == (31, 31)  # 50-61 kb padded by 10 bins of 1 kb
    rows = ag.pair_contact_numbers(pc).numbers
    assert rows[0]["value"] == pytest.approx(pc.pairs["oe"].iloc[0]) and rows[0]["note"].endswith("10 kb apart")
    assert rows[1]["value"] == f"{int((pc.pairs['oe'] > 1).sum())}/2 ({pc.pairs['oe'].median():.2f})"


def test_v1_rows_and_ctcf_sites(tmp_path):
    pairs = pd.DataFrame({"pair": ["p0", "p1"], "random": [True, False], "strongest": [False, True]})
    attr = ag.V1Attribution(pairs, np.ones((2, 896)) / 896, np.ones((2, 896)), 128)
    summary = {
        "mean_abs_kb": 20.0,
        "half_window_kb": 57.3,
        "uniform_mean_abs_kb": 28.7,
        "n": 1,
        "frac_within": 0.9,
        "within_bp": 50_000,
        "uniform_frac_within": 0.87,
    }
    rows = ag.peak_distance_numbers(attr, summary).numbers
    assert rows[0]["note"] == "window +-57.3 kb: paper value scaled = 30.1 kb; uniform random peak 28.7 kb; n = 1"
    assert rows[1]["note"] == "threshold 50.0 kb here; uniform random peak 0.87 (paper window: 0.87)"
    assert ag.v1_overlap_table(attr, np.array([3]))["overlap"].tolist() == [3]
    rows = ag.v1_overlap_numbers(attr, {"mean": 2.5, "chance": 0.45}).numbers
    assert rows[0]["value"] == 2.5 and rows[0]["note"] == "chance 0.45 with 896 bins (paper: 0.45 with 896)"
    assert "share 2.5 bins on average (chance 0.45; paper 2.2)" in ag.v1_finding(summary, {"mean": 2.5, "chance": 0.45})
    case = {
        "pair": "p1",
        "beta": -1.234,
        "attention_peak_kb": 4.0,
        "gradient_peak_kb": -2.0,
        "gradient_to_ctcf_kb": 0.5,
        "attention_to_ctcf_kb": 1.0,
        "ctcf_kb": np.array([-2.5, 3.0]),
    }
    rows = ag.case_numbers(case).numbers
    assert [r["value"] for r in rows] == [4.0, -2.0, 0.5] and rows[0]["note"] == "p1, beta -1.23"
    assert rows[2]["note"] == "attention peak to nearest CTCF: 1.00 kb; 2 CTCF sites in the window"
    assert "ctcf_kb" not in ag.case_summary(case).index
    assert ag.v1_ctcf_sites(None, None).empty
    pd.DataFrame(
        {"locus_id": ["E", "E"], "element": ["CTCF", "open"], "chrom": "chr1", "start": [1, 5], "end": [2, 6]}
    ).to_csv(tmp_path / "v1_elements.csv", index=False)
    assert ag.v1_ctcf_sites(tmp_path, None)["start"].tolist() == [1]


def test_truth_rows_findings_and_wide_table():
    rows = []
    for method, auc, fold in (
        ("CDT-II attention", 0.7, 2.0),
        ("embedding_norm", 0.6, 1.5),
        ("near_centre", 0.55, 1.2),
        ("random", 0.5, 1.0),
    ):
        for target in ("any element", "CTCF", "promoter"):
            rows.append({"method": method, "target": target, "auroc": auc, "top_fold": fold})
    recovery = pd.DataFrame(rows)
    out = ag.truth_numbers(recovery, "CDT-II attention").numbers
    assert [r["value"] for r in out] == [0.7, 2.0] * 3
    assert out[0]["note"] == "embedding norm 0.600, near TSS 0.550, random 0.500"
    assert out[1]["note"] == "embedding norm 1.50, random 1.00"
    text = ag.truth_finding(recovery, "CDT-II attention")
    assert "**above chance**, and above the model-free norm" in text
    assert "**at chance**" in ag.truth_finding(recovery.replace({0.7: 0.53}), "CDT-II attention")
    wide = ag.recovery_wide(recovery)
    assert wide.loc["random", ("auroc", "CTCF")] == 0.5 and wide.loc["near_centre", ("top_fold", "promoter")] == 1.2
    v1 = recovery.replace({"CDT-II attention": "attention", "near_centre": "gradient"})
    assert [r["value"] for r in ag.v1_truth_numbers(v1).numbers] == [0.7, 0.55]
    assert ag.model_finding({}) == ""
    assert "model above that baseline" in ag.model_finding({"reported_r": 0.5, "baseline_r": 0.2})
    assert "model not above that baseline" in ag.model_finding({"reported_r": 0.21, "baseline_r": 0.2})

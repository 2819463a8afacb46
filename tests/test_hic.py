"""cdt.hic on a cooler built here: distance decay plus planted loops at known bin pairs, read back raw, balanced,
observed/expected and from an .mcool; top-20 vs random-20 promoter contact; Wilcoxon across genes; errors."""

from __future__ import annotations

import shutil

import cooler
import numpy as np
import pandas as pd
import pytest
import scipy.stats
from cdt import hic
from cdt.data.dnastore import DNAStore, Locus
from cdt.data.errors import ContractError

RES = 1_000
CHROMSIZES = pd.Series({"chr1": 300_000, "chr2": 100_000})
LOOP = (100, 140, 5_000)  # chr1 bins 100 <-> 140 (100-101 kb and 140-141 kb), planted count
BLOB = (100, (150, 151, 152), 3_000)  # promoter bin 100 <-> three adjacent bins 150-152
# the promoter: 896 DNA bins of 128 bp centred on 100,500 (Hi-C bin 100): window [43,156, 157,844)
LOCUS = Locus("GENE", "chr1", 100_500, "+", 128, 896)
W0 = 43_156


def decay(d: np.ndarray) -> np.ndarray:
    return np.floor(2_000 / (1 + d)).astype(np.int64)


def build_pixels() -> pd.DataFrame:
    rows = []
    offset = 0
    for size in CHROMSIZES:
        n = size // RES
        i, j = np.triu_indices(n)
        keep = j - i <= 150
        rows.append(
            pd.DataFrame({"bin1_id": offset + i[keep], "bin2_id": offset + j[keep], "count": decay(j[keep] - i[keep])})
        )
        offset += n
    px = pd.concat(rows, ignore_index=True)
    planted = {(LOOP[0], LOOP[1]): LOOP[2], **{(BLOB[0], b): BLOB[2] for b in BLOB[1]}}
    for (a, b), count in planted.items():
        px.loc[(px.bin1_id == a) & (px.bin2_id == b), "count"] = count
    return px


@pytest.fixture(scope="module")
def coolers(tmp_path_factory):
    root = tmp_path_factory.mktemp("hic")
    raw = str(root / "raw.cool")
    cooler.create_cooler(raw, cooler.binnify(CHROMSIZES, RES), build_pixels())
    balanced = str(root / "balanced.cool")
    shutil.copy(raw, balanced)
    cooler.balance_cooler(cooler.Cooler(balanced), store=True, cis_only=True, mad_max=0, min_nnz=0, ignore_diags=0)
    mcool = str(root / "contacts.mcool")
    cooler.zoomify_cooler(balanced, mcool, [RES, 2 * RES], chunksize=10_000_000)
    return {"raw": raw, "balanced": balanced, "mcool": mcool}


def dna_bins_in_hic_bin(h: int) -> np.ndarray:
    """DNA bins of LOCUS whose centre lies in Hi-C bin h (computed independently of the library)."""
    centres = W0 + 128 * np.arange(896) + 64
    return np.flatnonzero(centres // RES == h)


# ---------------------------------------------------------------------------------------------------------------------
# reading the right pixel


def test_planted_loop_reads_back_its_count(coolers):
    h = hic.HiC(coolers["raw"])
    assert h.resolution == RES and not h.has_weights()
    contacts = hic.promoter_contacts(h, LOCUS, kind="raw")
    assert contacts.shape == (896,)
    loop_bins = dna_bins_in_hic_bin(LOOP[1])
    assert loop_bins.tolist() == list(range(757, 764))
    np.testing.assert_array_equal(contacts[loop_bins], LOOP[2])
    assert np.flatnonzero(contacts == LOOP[2]).tolist() == loop_bins.tolist()
    # DNA bin 756 starts at 139,924 (the notebooks keyed the 140-kb record to it) but its centre is in Hi-C bin 139
    assert contacts[756] == decay(np.array(39))
    # every DNA bin gets its own Hi-C bin's contact: the decay value away from planted pixels (no zeros)
    hic_bin = (W0 + 128 * np.arange(896) + 64) // RES
    planted = np.isin(hic_bin, [LOOP[1], *BLOB[1]])
    np.testing.assert_array_equal(contacts[~planted], decay(np.abs(hic_bin[~planted] - 100)))
    assert hic.pair_contact(h, "chr1", 100_999, 140_001, kind="raw") == LOOP[2]
    assert hic.pair_contact(h, "chr1", 140_001, 100_999, kind="raw") == LOOP[2]  # symmetric


def test_balanced_contacts_apply_weights(coolers):
    h = hic.HiC(coolers["balanced"])
    w = cooler.Cooler(coolers["balanced"]).bins()[:]["weight"].to_numpy()
    got = hic.pair_contact(h, "chr1", 100_500, 140_500, kind="balanced")
    assert got == pytest.approx(LOOP[2] * w[100] * w[140])
    contacts = hic.promoter_contacts(h, LOCUS, kind="balanced")
    assert np.argmax(contacts) in dna_bins_in_hic_bin(LOOP[1])


def test_observed_over_expected(coolers):
    h = hic.HiC(coolers["balanced"])
    # raw expected at distance 40 on chr1: 260 pixels, all decay(40) except the planted loop
    n_diag = 300 - 40
    expected_40 = ((n_diag - 1) * decay(np.array(40)) + LOOP[2]) / n_diag
    assert h.expected("chr1", balance=False)[40] == pytest.approx(expected_40)
    assert hic.pair_contact(h, "chr1", 100_500, 140_500, kind="oe_raw") == pytest.approx(LOOP[2] / expected_40)
    # every diagonal without a planted pixel holds only decay(d), so raw O/E is exactly 1 there
    oe_raw = hic.promoter_contacts(h, LOCUS, kind="oe_raw")
    distance = np.abs((W0 + 128 * np.arange(896) + 64) // RES - 100)
    clean = ~np.isin(distance, [40, 50, 51, 52])
    np.testing.assert_allclose(oe_raw[clean], 1.0)
    oe = hic.promoter_contacts(h, LOCUS, kind="oe_balanced")
    loop = dna_bins_in_hic_bin(LOOP[1])
    assert oe[loop].min() > 10 * np.median(oe)


def test_mcool_resolution_choice(coolers):
    h = hic.HiC(coolers["mcool"], resolution=2 * RES)
    assert h.resolution == 2 * RES
    base = cooler.Cooler(coolers["balanced"]).matrix(balance=False)[100:102, 140:142].sum()
    assert hic.pair_contact(h, "chr1", 100_500, 140_500, kind="raw") == base
    assert hic.HiC(f"{coolers['mcool']}::/resolutions/1000").resolution == RES
    with pytest.raises(
        ContractError, match=r"contacts.mcool: resolution: multi-resolution file; choose one of \[1000, 2000\]"
    ):
        hic.HiC(coolers["mcool"])
    with pytest.raises(ContractError, match=r"5000 bp not stored; available \[1000, 2000\]"):
        hic.HiC(coolers["mcool"], resolution=5_000)


def test_off_chromosome_bins_are_nan(coolers):
    h = hic.HiC(coolers["raw"])
    near_start = Locus("EDGE", "chr2", 20_000, "+", 128, 896)  # window starts at -37,344
    contacts = hic.promoter_contacts(h, near_start, kind="raw")
    centres = near_start.bin_start(np.arange(896)) + 64
    assert np.isnan(contacts[centres < 0]).all() and np.isfinite(contacts[centres >= 0]).all()


def test_errors_name_file_and_problem(coolers, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.cool"):
        hic.HiC(tmp_path / "missing.cool")
    (tmp_path / "notes.cool").write_text("not hdf5")
    with pytest.raises(ContractError, match="notes.cool: file: neither a .cool nor an .mcool"):
        hic.HiC(tmp_path / "notes.cool")
    with pytest.raises(ContractError, match="raw.cool: resolution: cooler is at 1000 bp, not 5000 bp"):
        hic.HiC(coolers["raw"], resolution=5_000)
    h = hic.HiC(coolers["raw"])
    with pytest.raises(ContractError, match="raw.cool: bins/weight: no balancing weights"):
        hic.promoter_contacts(h, LOCUS, kind="balanced")
    with pytest.raises(ContractError, match=r"raw.cool: chroms: chromosome '1' not in the cooler; it has 'chr1'"):
        hic.pair_contact(h, "1", 100, 200, kind="raw")
    with pytest.raises(ValueError, match="kind must be one of"):
        hic.promoter_contacts(h, LOCUS, kind="ice")


# ---------------------------------------------------------------------------------------------------------------------
# top-20 vs random-20 and the test across genes


def blob_profile(seed: int = 0) -> np.ndarray:
    """Attention highest on DNA bins inside the Hi-C bins of the planted promoter blob."""
    rng = np.random.default_rng(seed)
    profile = rng.random(896)
    blob = np.concatenate([dna_bins_in_hic_bin(b) for b in BLOB[1]])
    profile[blob] += 10
    return profile


def test_top_vs_random_reads_the_planted_blob(coolers):
    h = hic.HiC(coolers["raw"])
    contacts = hic.promoter_contacts(h, LOCUS, kind="raw")
    res = hic.top_vs_random(blob_profile(), contacts, k=20, n_draws=200, seed=3)
    assert res.top_mean == BLOB[2]
    assert res.random_means.shape == (200,) and res.random_mean == pytest.approx(res.random_means.mean())
    assert res.random_mean == pytest.approx(np.mean(contacts), rel=0.15)  # uniform draws ~ the window mean
    assert res.ratio == pytest.approx(BLOB[2] / res.random_mean) and res.ratio > 10
    same = hic.top_vs_random(blob_profile(), contacts, k=20, n_draws=200, seed=3)
    other = hic.top_vs_random(blob_profile(), contacts, k=20, n_draws=200, seed=4)
    assert same.random_mean == res.random_mean and other.random_mean != res.random_mean
    excl = hic.top_vs_random(blob_profile(), contacts, k=20, n_draws=200, seed=3, exclude_top=True)
    assert excl.random_mean < res.random_mean


def test_contact_ratios_and_wilcoxon(coolers):
    h = hic.HiC(coolers["balanced"])
    far = np.r_[np.linspace(2, 1, 20), np.zeros(876)]  # attention on the far upstream edge, ~57 kb from the TSS
    table = hic.contact_ratios(
        h,
        {"BLOB": blob_profile(), "FAR": far},
        {"BLOB": LOCUS, "FAR": LOCUS},
        kinds=("raw", "balanced", "oe_balanced"),
        n_draws=50,
    )
    assert table.shape == (6, 5) and set(table["kind"]) == {"raw", "balanced", "oe_balanced"}
    ratios = table.set_index(["gene", "kind"])["ratio"]
    assert (ratios.loc["BLOB"] > 5).all() and (ratios.loc["FAR"] < 1).all()
    far_raw = table.query("gene == 'FAR' and kind == 'raw'")["top_mean"].item()
    assert far_raw == pytest.approx(np.mean(decay(100 - (W0 + 128 * np.arange(20) + 64) // RES)))
    r = np.array([1.3, 0.9, 2.1, 1.5, 1.1, 0.7, 1.8, 1.25, 1.4, 0.95])
    test = hic.ratio_test(r)
    ref = scipy.stats.wilcoxon(r - 1, alternative="greater")
    assert test["p_value"] == pytest.approx(ref.pvalue) and test["statistic"] == pytest.approx(ref.statistic)
    assert (test["n"], test["n_above_1"]) == (10, 7) and test["mean_ratio"] == pytest.approx(r.mean())


# ---------------------------------------------------------------------------------------------------------------------
# on the simulator's Hi-C (loops from promoters to planted CTCF sites and enhancers)


def test_simulated_loops_raise_top_vs_random_contact(simulated_genome):
    out = simulated_genome
    store = DNAStore(out / "processed" / "dna.h5")
    loops = pd.read_csv(out / "truth" / "loops.csv")
    h = hic.HiC(out / "external" / "hic" / "contacts.cool")
    rng = np.random.default_rng(0)
    profiles, loci = {}, {}
    for locus_id, anchors in loops.groupby("locus_id"):
        locus = store.locus(locus_id)
        hic_bin = hic.attention_bin_positions(locus) // h.resolution
        profile = rng.random(locus.n_bins) * 0.1  # an oracle attention: high on the DNA bins of loop anchors
        partner = np.where(anchors["pos1"] == locus.center, anchors["pos2"], anchors["pos1"])  # the non-promoter end
        profile[np.isin(hic_bin, partner // h.resolution)] += 1.0
        profiles[locus_id], loci[locus_id] = profile, locus
    assert len(profiles) >= 5
    table = hic.contact_ratios(h, profiles, loci, kinds=("raw", "balanced", "oe_balanced"), k=5, n_draws=100)
    for kind, rows in table.groupby("kind"):
        summary = hic.ratio_test(rows["ratio"])
        assert summary["mean_ratio"] > 1.5, kind
        assert summary["n_above_1"] >= summary["n"] - 1 and summary["p_value"] < 1e-3, kind

"""Genome half of the simulator and the CDT v1 task, on the tiny preset.

The genome is simulated twice with one seed (must agree byte for byte / value for value) for 28 real TSS loci plus
SNP loci near them (one inside a TSS window, so windows overlap). Files are read back with the field's tools
(DNAStore, bioframe, pyBigWig, cooler) and checked against the planted truth.
"""

from __future__ import annotations

import filecmp

import bioframe
import cooler
import h5py
import numpy as np
import pandas as pd
import pyBigWig
import pytest
from cdt.config import get_preset
from cdt.data.dnastore import DNAStore
from cdt.data.errors import ContractError
from cdt.simulate import genome as G
from cdt.simulate.v1 import simulate_v1
from scipy.sparse import coo_matrix
from scipy.stats import fisher_exact, spearmanr

PRESET = get_preset("tiny")
N_BINS, BIN, RES = PRESET.n_bins, PRESET.bin_size, PRESET.hic_resolution

TSS = """CD52 chr1 26317958 +;CD58 chr1 116571026 -;FCGR2A chr1 161505430 +;CD55 chr1 207321519 +;
ITGB1 chr10 33005792 -;ENTPD1 chr10 95711779 +;CD81 chr11 2376166 +;CD44 chr11 35138882 +;CD82 chr11 44564414 +;
SLC3A2 chr11 62855970 +;KLRG1 chr12 8950044 +;CD69 chr12 9760901 -;KLRD1 chr12 10226058 +;TNFSF13B chr13 108251240 +;
LGALS3 chr14 55121352 +;B2M chr15 44711253 +;IL21R chr16 27402174 +;CD19 chr16 28931965 +;ITGAE chr17 3801193 -;
TNFSF9 chr19 6531026 +;ICAM1 chr19 10271093 +;NECTIN2 chr19 44846175 +;EPCAM chr2 47345158 +;CD40 chr20 46118249 +;
TFRC chr3 196082162 -;CD83 chr6 14117256 +;MSR1 chr8 16567490 -;GFI1B chr9 132944000 +"""


def make_loci(n_snp: int = PRESET.n_snp_loci) -> pd.DataFrame:
    """The 28 TSS loci (hg38, the authors' TSS table) + SNP loci near them, in the orchestrator's layout."""
    rows = [
        dict(locus_id=g, chrom=c, center=int(p), strand=s, kind="TSS", gene=g)
        for g, c, p, s in (r.split() for r in TSS.replace("\n", "").split(";"))
    ]
    half = N_BINS // 2 * BIN
    for k in range(n_snp):
        base = rows[k]
        if k == 0:  # inside CD52's window (overlapping windows), cis gene = the TSS target
            rows.append(
                dict(
                    locus_id="SNP-1",
                    chrom=base["chrom"],
                    center=base["center"] + half // 2,
                    strand="+",
                    kind="SNP",
                    gene=base["gene"],
                    distance=half // 2,
                    cis_effect=0.5,
                )
            )
            continue
        d = int((0.4 + 0.05 * k) * half) * (1 if k % 2 else -1)  # a non-target cis gene inside the window
        rows.append(
            dict(
                locus_id=f"SNP-{k + 1}",
                chrom=base["chrom"],
                center=base["center"] + 500_000 + d,
                strand="+",
                kind="SNP",
                gene=f"CIS{k}",
                distance=d,
                cis_effect=0.0 if k % 3 == 0 else 0.4,
            )
        )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    """Two runs with seed 0 (a, b) and the loci used."""
    loci = make_loci()
    dirs = {}
    for name in ("a", "b"):
        dirs[name] = tmp_path_factory.mktemp(f"genome_{name}")
        G.simulate_genome(PRESET, loci, dirs[name], np.random.default_rng(0))
    return dirs["a"], dirs["b"], loci


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """Seeds 0 and 1 on two non-hg38 chromosomes (small, so whole-file cooler operations are cheap)."""
    loci = pd.DataFrame(
        {
            "locus_id": ["A", "B", "C"],
            "chrom": ["chrS1", "chrS1", "chrS2"],
            "center": [100_000, 400_000, 150_000],
            "strand": ["+", "-", "+"],
            "kind": "TSS",
            "gene": ["A", "B", "C"],
        }
    )
    out = {}
    for seed in (0, 1):
        out[seed] = tmp_path_factory.mktemp(f"synthetic{seed}")
        G.simulate_genome(PRESET, loci, out[seed], np.random.default_rng(seed))
    return out


@pytest.fixture(scope="module")
def v1(tmp_path_factory):
    genes = [f"GENE{i}" for i in range(40)]  # fewer than v1_n_genes (64): topped up with synthetic names
    dirs = []
    for name in ("a", "b"):
        d = tmp_path_factory.mktemp(f"v1_{name}")
        simulate_v1(PRESET, genes, d, np.random.default_rng(3))
        dirs.append(d)
    return dirs[0], dirs[1], genes


def truth_bins(truth: pd.DataFrame, locus_id: str, element: str) -> np.ndarray:
    mask = np.zeros(N_BINS, bool)
    for r in truth[(truth["locus_id"] == locus_id) & (truth["element"] == element)].itertuples():
        mask[r.bin_start : r.bin_end] = True
    return mask


# --------------------------------------------------------------------------------------------------------------------
# determinism


def test_same_seed_gives_identical_files(sim):
    a, b, loci = sim
    text = ["truth/elements.csv", "truth/loops.csv"] + [f"external/encode/{m}.narrowPeak" for m in G.MARKS]
    for rel in text:
        assert filecmp.cmp(a / rel, b / rel, shallow=False), rel
    with DNAStore(a / "processed/dna.h5") as sa, DNAStore(b / "processed/dna.h5") as sb:
        assert sa.loci_ids() == sb.loci_ids()
        for k in sa.loci_ids():
            np.testing.assert_array_equal(sa[k], sb[k])
    for m in G.MARKS:
        bwa, bwb = pyBigWig.open(str(a / f"external/encode/{m}.bw")), pyBigWig.open(str(b / f"external/encode/{m}.bw"))
        assert bwa.chroms() == bwb.chroms()
        for c in bwa.chroms():
            assert bwa.intervals(c) == bwb.intervals(c)
    ca, cb = cooler.Cooler(str(a / "external/hic/contacts.cool")), cooler.Cooler(str(b / "external/hic/contacts.cool"))
    pd.testing.assert_frame_equal(ca.pixels()[:], cb.pixels()[:])
    np.testing.assert_array_equal(ca.bins()["weight"][:].to_numpy(), cb.bins()["weight"][:].to_numpy())


def test_other_seed_differs_and_synthetic_chromosomes_are_sized(synthetic):
    arrays = []
    for seed in (0, 1):
        with DNAStore(synthetic[seed] / "processed/dna.h5") as store:
            arrays.append(store["A"])
    assert not np.allclose(arrays[0], arrays[1])
    clr = cooler.Cooler(str(synthetic[0] / "external/hic/contacts.cool"))
    assert clr.chromnames == ["chrS1", "chrS2"]
    assert clr.chromsizes["chrS1"] >= 400_000 + N_BINS * BIN  # a non-hg38 name is sized to cover its loci


# --------------------------------------------------------------------------------------------------------------------
# DNA store


def test_dna_store_windows_and_coordinates(sim):
    a, _, loci = sim
    with DNAStore(a / "processed/dna.h5") as store:
        assert sorted(store.loci_ids()) == sorted(loci["locus_id"])
        assert (store.n_bins, store.dim, store.genome) == (N_BINS, PRESET.dna_dim, "hg38")
        for r in loci.itertuples():
            loc = store.locus(r.locus_id)
            assert (loc.chrom, loc.center, loc.strand, loc.bin_size) == (r.chrom, r.center, r.strand, BIN)
            assert loc.bin_of(r.center) == N_BINS // 2
            x = store[r.locus_id]
            assert x.shape == (N_BINS, PRESET.dna_dim) and np.isfinite(x).all()


def test_dna_bins_carry_planted_elements_and_locus_identity(sim):
    a, _, loci = sim
    truth = pd.read_csv(a / "truth/elements.csv")
    basis = G.EmbeddingBasis.for_dim(PRESET.dna_dim)
    with DNAStore(a / "processed/dna.h5") as store:
        x = {k: store[k] for k in store.loci_ids()}
    for kind in ("CTCF", "promoter", "enhancer"):
        u = basis.kinds[G.ELEMENTS.index(kind)]
        inside = np.concatenate([x[k][truth_bins(truth, k, kind)] @ u for k in x])
        outside = np.concatenate([x[k][~truth_bins(truth, k, kind)] @ u for k in x])
        assert inside.mean() - outside.mean() > 1.5, kind  # amplitude ~3 x strength; noise SD along u ~1
    # identity: the central bins of a locus resemble each other more than those of any other locus
    c = N_BINS // 2
    centre = np.stack([x[k][c - 3 : c + 3] for k in x])  # [L, 6, dim]
    centre -= centre.mean(axis=0, keepdims=True)  # remove what all loci share (promoter, background)
    left = centre[:, :3].mean(axis=1)
    right = centre[:, 3:].mean(axis=1)
    sim_lr = (left / np.linalg.norm(left, axis=1, keepdims=True)) @ (
        right / np.linalg.norm(right, axis=1, keepdims=True)
    ).T
    assert (sim_lr.argmax(axis=1) == np.arange(len(x))).mean() > 0.5  # chance 1/36, from 3 bins in 16 dims


def test_truth_elements_table(sim):
    a, _, loci = sim
    truth = pd.read_csv(a / "truth/elements.csv")
    assert list(truth.columns[:7]) == ["locus_id", "element", "chrom", "start", "end", "bin_start", "bin_end"]
    assert set(truth["element"]) == set(G.ELEMENTS)
    assert ((truth["bin_start"] >= 0) & (truth["bin_start"] < truth["bin_end"]) & (truth["bin_end"] <= N_BINS)).all()
    centre = loci.set_index("locus_id")["center"]
    ws = centre.reindex(truth["locus_id"]).to_numpy() - N_BINS // 2 * BIN
    # bins are exactly the 128-bp bins the genomic interval overlaps (bin_end exclusive)
    assert (ws + truth["bin_start"] * BIN < truth["end"]).all() and (ws + truth["bin_end"] * BIN > truth["start"]).all()
    assert ((truth["bin_start"] == 0) | (ws + truth["bin_start"] * BIN <= truth["start"])).all()
    for r in loci.itertuples():
        at_centre = truth[
            (truth["locus_id"] == r.locus_id) & (truth["bin_start"] <= N_BINS // 2) & (truth["bin_end"] > N_BINS // 2)
        ]["element"].tolist()
        expected = {"TSS": "promoter", "SNP": "open" if getattr(r, "cis_effect", 1) == 0 else "enhancer"}[r.kind]
        assert expected in at_centre, r.locus_id
    # SNP-1 lies in CD52's window: the CD52 promoter is one element shared by both windows
    cd52 = truth[(truth["gene"] == "CD52") & (truth["element"] == "promoter")]
    assert sorted(cd52["locus_id"]) == ["CD52", "SNP-1"] and cd52["element_id"].nunique() == 1
    # a SNP's cis-gene promoter sits at centre - distance
    snp = loci[loci["gene"].str.startswith("CIS")].iloc[0]
    cis = truth[(truth["gene"] == snp["gene"]) & (truth["element"] == "promoter")]
    assert len(cis) == 1
    assert cis["start"].iloc[0] <= snp["center"] - snp["distance"] < cis["end"].iloc[0]


# --------------------------------------------------------------------------------------------------------------------
# ENCODE-style files


def test_ctcf_peaks_overlap_planted_ctcf_bins(sim):
    a, _, loci = sim
    truth = pd.read_csv(a / "truth/elements.csv")
    peaks = bioframe.read_table(a / "external/encode/CTCF.narrowPeak", schema="narrowPeak")
    planted, hit = [], []
    with DNAStore(a / "processed/dna.h5") as store:
        for k in store.loci_ids():
            bins = store.locus(k).bin_intervals()[["chrom", "start", "end"]]
            planted.append(truth_bins(truth, k, "CTCF"))
            hit.append(bioframe.count_overlaps(bins, peaks[["chrom", "start", "end"]])["count"].to_numpy() > 0)
    planted, hit = np.concatenate(planted), np.concatenate(hit)
    table = [
        [int((planted & hit).sum()), int((planted & ~hit).sum())],
        [int((~planted & hit).sum()), int((~planted & ~hit).sum())],
    ]
    odds, p = fisher_exact(table, alternative="greater")
    print(f"CTCF planted bins x CTCF peak bins: table {table}, odds ratio {odds:.1f}, P {p:.2g}")
    assert odds > 50 and p < 1e-20
    assert table[0][1] > 0 and table[1][0] > 0  # misses and false peaks both exist


def test_peak_files_are_sorted_narrowpeak_with_marks_on_the_right_elements(sim):
    a, _, _ = sim
    truth = pd.read_csv(a / "truth/elements.csv").drop_duplicates("element_id")
    order = {c: i for i, c in enumerate(G.HG38_CHROMSIZES)}
    detected = {}
    for mark in G.MARKS:
        path = a / f"external/encode/{mark}.narrowPeak"
        assert len(path.read_text().splitlines()[0].split("\t")) == 10
        pk = bioframe.read_table(path, schema="narrowPeak")
        assert len(pk) > 0 and (pk["start"] < pk["end"]).all() and pk["name"].is_unique
        key = list(zip(pk["chrom"].map(order), pk["start"], strict=True))
        assert key == sorted(key)
        assert ((pk["relSummit"] >= 0) & (pk["relSummit"] < pk["end"] - pk["start"])).all()
        ov = bioframe.overlap(truth, pk, how="left", suffixes=("", "_p"))
        hit = ov.groupby("element_id")["start_p"].apply(lambda s: s.notna().any())  # element has a peak
        detected[mark] = hit.groupby(truth.set_index("element_id")["element"]).mean()  # per element kind
    # each mark finds most elements that carry it, and far fewer of those that do not (nearby broad peaks only)
    for mark, have, lack in (
        ("H3K4me3", "promoter", "CTCF"),
        ("CTCF", "CTCF", "enhancer"),
        ("H3K4me1", "enhancer", "promoter"),
        ("H3K27ac", "enhancer", "open"),
        ("DNase", "open", None),
    ):
        assert detected[mark][have] > 0.75, (mark, have)
        if lack:
            assert detected[mark][lack] < 0.5 * detected[mark][have], (mark, lack)
    from cdt.genome import read_peaks  # the project's reader accepts the files too

    assert len(read_peaks(a / "external/encode/DNase.narrowPeak")) > 0


def test_bigwig_tracks_have_hg38_header_and_signal_at_elements(sim):
    a, _, loci = sim
    truth = pd.read_csv(a / "truth/elements.csv").drop_duplicates("element_id")
    bw = pyBigWig.open(str(a / "external/encode/CTCF.bw"))
    chroms = bw.chroms()
    assert set(chroms) == set(loci["chrom"]) and all(chroms[c] == G.HG38_CHROMSIZES[c] for c in chroms)
    at = [bw.stats(r.chrom, int(r.start), int(r.end), type="max")[0] for r in truth.itertuples()]
    on_ctcf = np.array(at)[truth["element"].to_numpy() == "CTCF"]
    on_open = np.array(at)[truth["element"].to_numpy() == "open"]
    assert np.median(on_ctcf) > 3 * np.median(on_open)
    bw.close()


# --------------------------------------------------------------------------------------------------------------------
# Hi-C


def test_cooler_layout_weights_and_distance_decay(sim):
    a, _, loci = sim
    clr = cooler.Cooler(str(a / "external/hic/contacts.cool"))
    assert clr.binsize == RES
    assert all(clr.chromsizes[c] == G.HG38_CHROMSIZES[c] for c in loci["chrom"].unique())
    with h5py.File(a / "external/hic/contacts.cool") as h5:
        assert bool(h5["bins/weight"].attrs["converged"])
    r = loci.iloc[0]
    lo = (r.center // RES - 10) * RES
    region = f"{r.chrom}:{lo}-{lo + 20 * RES}"
    raw = clr.matrix(balance=False).fetch(region)
    bal = clr.matrix(balance=True).fetch(region)
    assert raw.shape == bal.shape == (20, 20) and np.isfinite(bal).mean() > 0.9
    # power-law decay: slope of log mean contact vs log(1 + distance) near -HIC_ALPHA
    d = np.arange(1, 12)
    mean = [np.nanmean(np.diagonal(bal, k)) for k in d]
    slope = np.polyfit(np.log1p(d), np.log(mean), 1)[0]
    assert -1.4 < slope < -0.6


def test_planted_loops_stand_out_over_distance_matched_pixels(sim):
    a, _, _ = sim
    loops = pd.read_csv(a / "truth/loops.csv")
    assert list(loops.columns[:4]) == ["chrom", "pos1", "pos2", "strength"] and (loops["pos1"] < loops["pos2"]).all()
    clr = cooler.Cooler(str(a / "external/hic/contacts.cool"))
    px = clr.pixels()[:]  # all stored (upper-triangle) pixels: few, as only the loci regions have contacts
    n = len(clr.bins())
    raw = coo_matrix((px["count"], (px["bin1_id"], px["bin2_id"])), shape=(n, n)).tocsr()
    w = clr.bins()["weight"][:].to_numpy()
    ratios = {True: [], False: []}
    for lp in loops.itertuples():
        i, j = clr.offset(lp.chrom) + lp.pos1 // RES, clr.offset(lp.chrom) + lp.pos2 // RES
        near = np.arange(i - 8, i + 9)
        near = near[(near != i) & np.isfinite(w[near]) & np.isfinite(w[near + (j - i)])]  # same distance, covered
        for balance in (True, False):
            scale = (lambda a, b: w[a] * w[b]) if balance else (lambda a, b: 1.0)
            loop = raw[i, j] * scale(i, j)
            matched = np.asarray(raw[near, near + (j - i)]).ravel() * scale(near, near + (j - i))
            ratios[balance].append(loop / np.nanmean(matched))
    med = {k: float(np.median(v)) for k, v in ratios.items()}
    print(f"{len(loops)} loops; median loop / distance-matched contact: balanced {med[True]:.2f}, raw {med[False]:.2f}")
    assert len(loops) >= 10 and med[True] > 2.0 and med[False] > 2.0


def test_compact_balancing_equals_balancing_the_whole_file(synthetic):
    clr = cooler.Cooler(str(synthetic[0] / "external/hic/contacts.cool"))
    stored = clr.bins()["weight"][:].to_numpy()
    full, stats = cooler.balance_cooler(clr, max_iters=500)
    assert stats["converged"] and np.isfinite(stored).sum() > 0
    np.testing.assert_array_equal(np.isnan(stored), np.isnan(full))
    np.testing.assert_allclose(stored[np.isfinite(stored)], full[np.isfinite(full)], rtol=1e-6)


# --------------------------------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.drop(columns="kind"), "columns"),
        (lambda d: d.assign(kind="enhancer"), "kind"),
        (lambda d: pd.concat([d, d.iloc[:1]]), "locus_id"),
        (lambda d: d.assign(center=-5), "center"),
        (lambda d: d.assign(center=300_000_000), "center"),
    ],
)
def test_bad_loci_name_the_field(tmp_path, change, field):
    loci = change(make_loci(0).iloc[:3])
    with pytest.raises(ContractError, match=field):
        G.simulate_genome(PRESET, loci, tmp_path, np.random.default_rng(0))
    assert not (tmp_path / "processed/dna.h5").exists()


# --------------------------------------------------------------------------------------------------------------------
# CDT v1


def test_v1_deterministic(v1):
    a, b, _ = v1
    for rel in ("v1/pairs.csv", "truth/v1_elements.csv"):
        assert filecmp.cmp(a / rel, b / rel, shallow=False), rel
    with DNAStore(a / "v1/dna_enhancers.h5") as sa, DNAStore(b / "v1/dna_enhancers.h5") as sb:
        for k in sa.loci_ids():
            np.testing.assert_array_equal(sa[k], sb[k])


def test_v1_pairs_betas_and_splits(v1):
    a, _, _ = v1
    pairs = pd.read_csv(a / "v1/pairs.csv")
    assert len(pairs) == PRESET.n_v1_pairs
    assert list(pairs.columns[:9]) == [
        "enhancer_id",
        "target_gene",
        "target_index",
        "beta",
        "chrom",
        "enhancer_center",
        "tss",
        "split",
        "pair_split",
    ]
    assert (pairs["beta"] <= 0).mean() > 0.85 and pairs["beta"].mean() < -0.05 and pairs["beta"].min() < -0.5
    assert set(pairs["split"]) == {"train", "val", "test"} and set(pairs["pair_split"]) == {"train", "val"}
    per_enh = pairs.groupby("enhancer_id")["split"].nunique()
    assert (per_enh == 1).all()  # enhancer-level: no enhancer in two splits
    enh_split = pairs.drop_duplicates("enhancer_id")["split"]
    assert 0.1 <= (enh_split == "val").mean() <= 0.2 and 0.1 <= (enh_split == "test").mean() <= 0.2
    assert 0.1 <= (pairs["pair_split"] == "val").mean() <= 0.2
    assert (pairs["enhancer_center"] == (pairs["enhancer_start"] + pairs["enhancer_end"]) // 2).all()
    assert pairs["enhancer_id"].str.fullmatch(r"chr\w+:\d+-\d+").all()
    assert ((pairs["tss"] - pairs["enhancer_center"]).abs() < 2_000_000).all()


def test_v1_embeddings_and_enhancer_windows(v1):
    a, _, genes = v1
    pairs = pd.read_csv(a / "v1/pairs.csv")
    with h5py.File(a / "v1/embeddings.h5") as h5:
        names = [n.decode() for n in h5["gene_names"][()]]
        rna, prot = h5["rna_embeddings"][()], h5["protein_embeddings"][()]
    assert len(names) == PRESET.v1_n_genes and names[: len(genes)] == genes and len(set(names)) == len(names)
    assert rna.shape == (PRESET.v1_n_genes, PRESET.v1_rna_emb_dim)
    assert prot.shape == (PRESET.v1_n_genes, PRESET.v1_prot_emb_dim)
    np.testing.assert_allclose(np.linalg.norm(rna, axis=1), 1.0, rtol=1e-5)
    assert (np.array(names)[pairs["target_index"]] == pairs["target_gene"]).all()
    from cdt.pp.v1 import read_v1_embeddings  # the project's reader accepts the file

    assert read_v1_embeddings(a / "v1/embeddings.h5")[0] == names
    truth = pd.read_csv(a / "truth/v1_elements.csv")
    enh = pairs.drop_duplicates("enhancer_id").set_index("enhancer_id")
    with DNAStore(a / "v1/dna_enhancers.h5") as store:
        assert sorted(store.loci_ids()) == sorted(enh.index)
        for k in enh.index[:10]:
            assert store.locus(k).center == enh.at[k, "enhancer_center"]
            assert store[k].shape == (N_BINS, PRESET.dna_dim)
    # every window has its enhancer over the centre bin; promoters inside windows are those of nearby targets
    centre = truth[
        (truth["element"] == "enhancer") & (truth["bin_start"] <= N_BINS // 2) & (truth["bin_end"] > N_BINS // 2)
    ]
    assert set(centre["locus_id"]) == set(enh.index)
    near = pairs[(pairs["tss"] - pairs["enhancer_center"]).abs() < N_BINS // 2 * BIN]
    prom = truth[truth["element"] == "promoter"]
    assert len(near) > 0
    assert all(((prom["locus_id"] == r.enhancer_id) & (prom["gene"] == r.target_gene)).any() for r in near.itertuples())
    # effect strength follows the enhancer strength planted in the DNA
    strength = centre.set_index("locus_id")["strength"]
    rho = spearmanr(strength.reindex(pairs["enhancer_id"]).to_numpy(), -pairs["beta"]).statistic
    assert rho > 0.2


def test_v1_gene_names_topped_up():
    from cdt.simulate.v1 import v1_gene_names

    assert v1_gene_names(["A", "B", "A"], 4) == ["A", "B", "V1G0001", "V1G0002"]
    assert v1_gene_names([f"g{i}" for i in range(10)], 3) == ["g0", "g1", "g2"]


# --------------------------------------------------------------------------------------------------------------------
# through the orchestrator


def test_through_orchestrator(tmp_path):
    from cdt.simulate import simulate

    simulate("tiny", 0, tmp_path, progress=False)
    for rel in (
        "processed/dna.h5",
        "truth/elements.csv",
        "truth/loops.csv",
        "external/hic/contacts.cool",
        "v1/pairs.csv",
        "v1/embeddings.h5",
        "v1/dna_enhancers.h5",
        *[f"external/encode/{m}.bw" for m in G.MARKS],
    ):
        assert (tmp_path / rel).exists(), rel
    loci = pd.read_csv(tmp_path / "truth/loci.csv")
    with DNAStore(tmp_path / "processed/dna.h5") as store:
        assert sorted(store.loci_ids()) == sorted(loci["locus_id"])

"""`cdt prepare`: guide assignment, normalisation, gene sets, splits, bad inputs; CDT v1 pairs."""

from __future__ import annotations

import gzip

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.io
import scipy.sparse as sp
from cdt.cli import app
from cdt.data.dnastore import DNAStore, write_dna_store
from cdt.data.errors import ContractError
from cdt.data.screen import read_screen
from cdt.pp import (
    assign_guides,
    check_genome,
    curated_genes,
    detection_rate,
    enhancer_split,
    full_genes,
    is_excluded_gene,
    normalize,
    prepare,
    prepare_v1,
    qc_table,
    read_counts,
    read_gasperini,
)
from typer.testing import CliRunner

HELD_OUT = ("GFI1B", "CD52")
VAL = ("CD69",)
TARGETS = ("GFI1B", "CD52", "CD69", "B2M", "CD58")
GENES = [*TARGETS, "MT-CO1", "RPL10A", "RPS4X", "HBB", "RPS6KA1", *(f"G{i}" for i in range(30)), "RARE1"]


def make_raw(tmp_path, seed: int = 0):
    """A small raw screen with known assignments; returns paths and the expected kept barcodes/targets."""
    rng = np.random.default_rng(seed)
    cells: list[tuple[str, str, list[tuple[str, int]]]] = []  # barcode, expected status, guide rows (target, umi)
    k = 0

    def add(status: str, rows: list[tuple[str, int]]) -> None:
        nonlocal k
        cells.append((f"C{k:03d}-1", status, rows))
        k += 1

    for t in TARGETS:
        for i in range(8):
            add(t, [(t, int(rng.integers(50, 200)))] + ([("B2M" if t != "B2M" else "CD58", 3)] if i % 3 == 0 else []))
    for _ in range(12):
        add("NTC", [("NTC", int(rng.integers(60, 150)))])
    for loc in ("SNP-1", "SNP-2"):
        for _ in range(5):
            add(loc, [(loc, int(rng.integers(5, 80)))])  # kept by the given table, whatever the UMI
    add("snp_not_listed", [("SNP-3", 120)])
    for _ in range(4):
        add("multiplet", [("CD58", 90), ("B2M", 70)])  # two targets >= 50
    for _ in range(3):
        add("multiplet", [("CD58", 60), ("NTC", 20)])  # competing: 20 >= 0.2 * 60
    for _ in range(4):
        add("unassigned", [("CD58", 30)])
    add("unassigned", [])  # no guide at all

    barcodes = [c[0] for c in cells]
    mean = rng.gamma(2.0, 2.0, len(GENES))
    mean[GENES.index("RARE1")] = 0.0
    mean[GENES.index("GFI1B")] = 0.01  # rarely detected: only in the curated set because it is forced
    counts = rng.poisson(mean, (len(cells), len(GENES))).astype(np.int64)
    for i, (_, status, _) in enumerate(cells):
        if status in TARGETS and status != "GFI1B":
            counts[i, GENES.index(status)] = rng.poisson(0.2 * mean[GENES.index(status)])  # knockdown
    rna = ad.AnnData(sp.csr_matrix(counts), obs=pd.DataFrame(index=barcodes), var=pd.DataFrame(index=GENES))
    guides = pd.DataFrame(
        [(bc, f"{t}_g1", t, u) for bc, _, rows in cells for t, u in rows], columns=["barcode", "guide", "target", "umi"]
    )
    snp = pd.DataFrame([(bc, st) for bc, st, _ in cells if st.startswith("SNP-")], columns=["barcode", "locus"])
    screen2 = pd.DataFrame({"gene": GENES, "detection_rate": 0.5})
    screen2.loc[screen2["gene"] == "G0", "detection_rate"] = 0.0  # detected here, not in the second screen
    paths = {
        "counts": tmp_path / "rna.h5ad",
        "guides": tmp_path / "guides.csv",
        "snp": tmp_path / "snp.csv",
        "screen2": tmp_path / "screen2.csv",
    }
    rna.write_h5ad(paths["counts"])
    guides.to_csv(paths["guides"], index=False)
    snp.to_csv(paths["snp"], index=False)
    screen2.to_csv(paths["screen2"], index=False)
    status = pd.Series([c[1] for c in cells], index=barcodes)
    return paths, rna, guides, snp, screen2, status


def run_prepare(paths, out, **kw):
    return prepare(
        paths["counts"],
        paths["guides"],
        out,
        snp_assignments=paths["snp"],
        second_screen=paths["screen2"],
        held_out=HELD_OUT,
        val_genes=VAL,
        **kw,
    )


# --------------------------------------------------------------------------- guide assignment


def test_assign_guides_rule_and_qc(tmp_path):
    _, rna, guides, snp, _, expected = make_raw(tmp_path)
    given = pd.Series(snp["locus"].to_numpy(), index=snp["barcode"])
    got = assign_guides(guides, rna.obs_names, umi_threshold=50, competing_fraction=0.2, snp_assignments=given)
    exp_status = expected.where(~expected.isin(TARGETS), "TSS").where(~expected.str.startswith("SNP-"), "SNP")
    pd.testing.assert_series_equal(got["status"], exp_status, check_names=False)
    kept = expected[got["kind"] != ""]
    assert (got.loc[kept.index, "perturbation"] == kept).all()
    assert (got.loc[got["kind"] == "TSS", "locus"] == got.loc[got["kind"] == "TSS", "perturbation"]).all()
    assert (got.loc[got["kind"] == "NTC", "locus"] == "").all()
    qc = qc_table(got).set_index("status")["n_cells"]
    assert qc.to_dict() == {
        "kept": 40 + 12 + 10,
        "TSS": 40,
        "SNP": 10,
        "NTC": 12,
        "multiplet": 7,
        "unassigned": 5,
        "snp_not_listed": 1,
        "total": 75,
    }


def test_assign_guides_thresholds_are_configurable(tmp_path):
    _, rna, guides, _, _, _ = make_raw(tmp_path)
    # without the given SNP table, SNP-3 (UMI 120) is an SNP cell; with fraction 0.5 the NTC=20 vs 60 cells pass
    got = assign_guides(guides, rna.obs_names, umi_threshold=50, competing_fraction=0.5)
    assert (got["status"] == "multiplet").sum() == 4
    assert got.loc[got["perturbation"] == "SNP-3", "kind"].tolist() == ["SNP"]
    # threshold 25 makes the UMI-30 cells assigned and the low-UMI SNP cells compete less
    low = assign_guides(guides, rna.obs_names, umi_threshold=25, competing_fraction=0.2)
    assert (low["status"] == "unassigned").sum() < (got["status"] == "unassigned").sum()
    # guide UMIs are summed per target across guides
    two = pd.DataFrame({"barcode": ["a", "a"], "guide": ["X_1", "X_2"], "target": ["X", "X"], "umi": [30, 25]})
    assert assign_guides(two, ["a"])["status"].tolist() == ["TSS"]


def test_guide_table_errors(tmp_path):
    _, rna, guides, snp, _, _ = make_raw(tmp_path)
    bad = pd.concat([guides, pd.DataFrame([["ZZZ-9", "B2M_g1", "B2M", 80]], columns=guides.columns)])
    with pytest.raises(ContractError, match=r"barcode: 1 barcodes are not cells of the count matrix.*ZZZ-9"):
        assign_guides(bad, rna.obs_names)
    with pytest.raises(ContractError, match=r"missing \['umi'\]"):
        assign_guides(guides.drop(columns="umi"), rna.obs_names)
    with pytest.raises(ContractError, match="non-negative integers"):
        assign_guides(guides.assign(umi=-1), rna.obs_names)
    given = pd.Series(["SNP-1"], index=["nope-1"])
    with pytest.raises(ContractError, match="SNP assignments: barcode"):
        assign_guides(guides, rna.obs_names, snp_assignments=given)


# --------------------------------------------------------------------------- normalisation and gene sets


def test_normalize_matches_hand_computation():
    counts = np.array([[1, 0, 3, 6], [0, 2, 2, 0], [4, 4, 0, 2]], dtype=float)  # rows sum 10, 4, 10
    ntc = np.array([False, True, True])
    cols = np.array([0, 2])
    norm = normalize(sp.csr_matrix(counts), ntc, cols)
    cpm = counts[:, cols] / counts.sum(1, keepdims=True) * 1e6  # library size over ALL genes
    ntc_mean = cpm[ntc].mean(0)
    assert np.allclose(norm.ntc_mean_cpm, [(0 + 4e5) / 2, (5e5 + 0) / 2])
    assert np.allclose(norm.ntc_mean_cpm, ntc_mean)
    assert np.allclose(norm.ntc_mean_expr, np.log1p(cpm[ntc]).mean(0))
    assert np.allclose(norm.expr, np.log1p(cpm), rtol=1e-6)
    assert np.allclose(norm.log2fc, np.log2((cpm + 1) / (ntc_mean + 1)), rtol=1e-6, atol=1e-6)
    assert norm.expr.dtype == np.float32 and norm.expr.shape == (3, 2)
    with pytest.raises(ContractError, match="no NTC cells"):
        normalize(counts, np.zeros(3, bool), cols)
    counts[1] = 0
    with pytest.raises(ContractError, match=r"1 cells have zero total counts.*row \[1\]"):
        normalize(counts, ntc, cols)


def test_gene_sets():
    names = [
        "MT-CO1",
        "MT-ND4",
        "RPL10A",
        "RPS4X",
        "RPLP0",
        "RPSA",
        "MRPL12",
        "MRPS18B",
        "RPL36AL",
        "RPS4Y1",
        "HBB",
        "HBA1",
        "HBG2",
        "HBZ",
        "HBE1",
    ]
    kept = ["RPS6KA1", "RPS6KB1", "HBEGF", "HBP1", "HBS1L", "MTOR", "GFI1B", "RPLX"]
    assert is_excluded_gene(names).all()
    assert not is_excluded_gene(kept).any()

    counts = sp.csr_matrix(np.array([[1, 0, 1, 1], [1, 0, 0, 1], [0, 0, 0, 1], [1, 1, 0, 1]]))
    rate = detection_rate(counts, ["A", "GFI1B", "MT-X", "RPL3"])
    assert rate.tolist() == [0.75, 0.25, 0.25, 1.0]
    other = pd.Series({"A": 0.5, "MT-X": 0.0, "RPL3": 0.9})
    assert curated_genes(rate, other, min_detection=0.3, forced=("GFI1B",)) == ["A", "GFI1B"]
    assert curated_genes(rate, other, 0.3, ("GFI1B",), exclude=False) == ["A", "RPL3", "GFI1B"]
    assert curated_genes(rate, None, 0.2, ("GFI1B",), exclude=False) == ["A", "GFI1B", "MT-X", "RPL3"]
    assert full_genes(rate, 0.2) == ["A", "GFI1B"]  # MT-X and RPL3 excluded although detected
    assert full_genes(rate, 0.5, first=["GFI1B"]) == ["GFI1B", "A"]  # curated first, even if below the cut
    with pytest.raises(ContractError, match=r"forced genes \['NOPE'\]"):
        curated_genes(rate, other, forced=("NOPE",))


# --------------------------------------------------------------------------- end to end


def _expected(rna: ad.AnnData, kept: pd.Index, ntc: np.ndarray, genes: list[str]):
    counts = rna[kept].X.toarray().astype(float)
    cpm = counts / counts.sum(1, keepdims=True) * 1e6
    cpm = cpm[:, [rna.var_names.get_loc(g) for g in genes]]
    return np.log1p(cpm), np.log2((cpm + 1) / (cpm[ntc].mean(0) + 1)), cpm[ntc].mean(0)


def test_prepare_end_to_end(tmp_path):
    paths, rna, _, _, screen2, expected = make_raw(tmp_path)
    res = run_prepare(paths, tmp_path / "out")
    kept = expected[~expected.isin(["multiplet", "unassigned", "snp_not_listed"])]
    for name, path in (("curated", res.curated), ("full", res.full)):
        screen = read_screen(path)
        assert screen.obs_names.tolist() == kept.index.tolist()  # raw order
        assert (screen.obs["perturbation"] == kept).all()
        kinds = np.where(kept == "NTC", "NTC", np.where(kept.str.startswith("SNP-"), "SNP", "TSS"))
        assert (screen.obs["kind"].astype(str).to_numpy() == kinds).all()
        split = screen.obs["split"]
        assert set(split[kept.isin(HELD_OUT)]) == {"test"} and set(split[kept.isin(VAL)]) == {"val"}
        assert set(split[kept == "NTC"]) == {"none"}
        assert set(split[kept.isin(["B2M", "CD58"]) | kept.str.startswith("SNP-")]) == {"train"}
        ntc = (kept == "NTC").to_numpy()
        x, l2fc, ntc_cpm = _expected(rna, kept.index, ntc, screen.var_names.tolist())
        assert np.allclose(screen.X, x, rtol=1e-5, atol=1e-6)
        assert np.allclose(screen.layers["log2fc"], l2fc, rtol=1e-5, atol=1e-6)
        assert np.allclose(screen.var["ntc_mean_cpm"], ntc_cpm, rtol=1e-5)
        assert screen.uns["cdt"]["gene_set"] == name and screen.uns["cdt"]["umi_threshold"] == 50

    rate = (rna[kept.index].X > 0).mean(0).A1
    rate = pd.Series(rate, index=GENES)
    curated = read_screen(res.curated).var_names.tolist()
    excluded = {"MT-CO1", "RPL10A", "RPS4X", "HBB"}
    want = [g for g in GENES if rate[g] >= 0.1 and g not in {"G0", "GFI1B", *excluded}]
    assert curated == want + ["GFI1B"]  # GFI1B is rare here: forced, appended
    full = read_screen(res.full).var_names.tolist()
    assert full == curated + ["G0"]  # curated first, then genes detected here only; no MT/ribo/Hb, no RARE1
    assert "RPS6KA1" in curated  # a kinase, not a ribosomal protein
    assert all(rate[g] >= 0.1 for g in excluded)  # they were detected: the exclusion removed them

    # GFI1B knockdown is not in the data (rare gene), but CD52 cells show their own knockdown
    screen = read_screen(res.curated)
    cd52 = screen.layers["log2fc"][(screen.obs["perturbation"] == "CD52").to_numpy(), screen.var_names.get_loc("CD52")]
    assert cd52.mean() < -0.5
    qc = pd.read_csv(res.qc_path).set_index("status")["n_cells"]
    assert qc["kept"] == len(kept) and qc["multiplet"] == 7 and qc["unassigned"] == 5


def _write_10x_mtx(rna: ad.AnnData, d):
    d.mkdir()
    with gzip.open(d / "matrix.mtx.gz", "wb") as fh:
        scipy.io.mmwrite(fh, sp.coo_matrix(rna.X.T))
    with gzip.open(d / "features.tsv.gz", "wt") as fh:
        fh.writelines(f"ENSG{i:05d}\t{g}\tGene Expression\n" for i, g in enumerate(rna.var_names))
    with gzip.open(d / "barcodes.tsv.gz", "wt") as fh:
        fh.writelines(f"{b}\n" for b in rna.obs_names)


def _write_10x_h5(rna: ad.AnnData, path):
    x = sp.csc_matrix(rna.X.T)  # genes x cells, as Cell Ranger stores it
    with h5py.File(path, "w") as h5:
        m = h5.create_group("matrix")
        m["barcodes"] = np.array(rna.obs_names, dtype="S")
        m["data"], m["indices"], m["indptr"] = x.data.astype(np.int32), x.indices, x.indptr
        m["shape"] = np.array(x.shape)
        f = m.create_group("features")
        f["id"] = np.array([f"ENSG{i:05d}" for i in range(rna.n_vars)], dtype="S")
        f["name"] = np.array(rna.var_names, dtype="S")
        f["feature_type"] = np.array(["Gene Expression"] * rna.n_vars, dtype="S")
        f["genome"] = np.array(["GRCh38"] * rna.n_vars, dtype="S")
        f["_all_tag_keys"] = np.array([b"genome"])


def test_10x_inputs_give_the_same_screen(tmp_path):
    paths, rna, *_ = make_raw(tmp_path)
    ref = read_screen(run_prepare(paths, tmp_path / "ref").curated)
    _write_10x_mtx(rna, tmp_path / "mtx")
    _write_10x_h5(rna, tmp_path / "rna_10x.h5")
    for src in (tmp_path / "mtx", tmp_path / "rna_10x.h5"):
        assert read_counts(src).shape == rna.shape
        got = read_screen(run_prepare({**paths, "counts": src}, tmp_path / src.stem).curated)
        assert got.obs_names.tolist() == ref.obs_names.tolist()
        assert got.var_names.tolist() == ref.var_names.tolist()
        assert np.array_equal(got.X, ref.X) and np.array_equal(got.layers["log2fc"], ref.layers["log2fc"])


def test_prepare_bad_inputs(tmp_path):
    paths, rna, guides, *_ = make_raw(tmp_path)
    # no NTC cells
    g = tmp_path / "no_ntc.csv"
    guides[guides["target"] != "NTC"].to_csv(g, index=False)
    with pytest.raises(ContractError, match="no NTC cells after guide assignment"):
        run_prepare({**paths, "guides": g}, tmp_path / "o1")
    # guide table with unknown barcodes
    g = tmp_path / "unknown.csv"
    pd.concat([guides, pd.DataFrame([["AAAC-9", "B2M_g1", "B2M", 99]], columns=guides.columns)]).to_csv(g, index=False)
    with pytest.raises(ContractError, match=r"unknown.csv: barcode: 1 barcodes are not cells"):
        run_prepare({**paths, "guides": g}, tmp_path / "o2")
    # a kept cell with zero counts
    zero = rna.copy()
    x = zero.X.toarray()
    x[0] = 0
    zero.X = sp.csr_matrix(x)
    with pytest.raises(ContractError, match=r"1 cells have zero total counts"):
        run_prepare({**paths, "counts": zero}, tmp_path / "o3")
    # duplicate gene names
    dup = rna.copy()
    dup.var_names = [*GENES[:-1], "G3"]
    p = tmp_path / "dup.h5ad"
    dup.write_h5ad(p)
    with pytest.raises(ContractError, match=r"dup.h5ad: var_names: 1 duplicate gene names, e.g. \['G3'\]"):
        run_prepare({**paths, "counts": p}, tmp_path / "o4")
    # held-out genes without cells
    with pytest.raises(ContractError, match="none of the held-out genes"):
        prepare(paths["counts"], paths["guides"], tmp_path / "o5", held_out=("TFRC",))
    # normalised input instead of counts
    p = tmp_path / "norm.h5ad"
    ad.AnnData(rna.X.toarray() * 0.37, obs=rna.obs, var=rna.var).write_h5ad(p)
    with pytest.raises(ContractError, match="non-negative integers"):
        run_prepare({**paths, "counts": p}, tmp_path / "o6")
    assert not any((tmp_path / f"o{i}").exists() for i in range(1, 7))  # nothing half-written


def test_cli_prepare(tmp_path):
    paths, *_ = make_raw(tmp_path)
    out = tmp_path / "cli"
    res = CliRunner().invoke(
        app,
        [
            "prepare",
            "--counts",
            str(paths["counts"]),
            "--guides",
            str(paths["guides"]),
            "--out",
            str(out),
            "--snp-assignments",
            str(paths["snp"]),
            "--second-screen",
            str(paths["screen2"]),
            "--held-out",
            ",".join(HELD_OUT),
            "--val-genes",
            "CD69",
            "--umi-threshold",
            "50",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "multiplet" in res.output
    screen = read_screen(out / "screen_curated.h5ad")
    assert list(screen.uns["cdt"]["held_out"]) == list(HELD_OUT) and (screen.obs["split"] == "val").sum() == 8


# --------------------------------------------------------------------------- simulator round trip


def test_simulator_raw_outputs_give_its_processed_screen(tmp_path):
    from cdt.simulate import simulate

    out = tmp_path / "sim"
    manifest = simulate("tiny", 0, out, progress=False)
    raw, proc = out / "raw", out / "processed"
    res = CliRunner().invoke(
        app,
        [
            "prepare",
            "--counts",
            str(raw / "rna_counts.h5ad"),
            "--guides",
            str(raw / "guide_umis.csv"),
            "--out",
            str(tmp_path / "prep"),
            "--snp-assignments",
            str(raw / "snp_assignments.csv"),
            "--second-screen",
            str(raw / "screen2_detection.csv"),
            "--adt",
            str(raw / "adt_counts.h5ad"),
            "--held-out",
            ",".join(manifest["held_out"]),
            "--val-genes",
            ",".join(manifest["val_genes"]),
            "--protein-method",
            manifest["protein_method"],
            "--cpm-scale",
            str(manifest["cpm_scale"]),
        ],
    )
    assert res.exit_code == 0, res.output
    for name in ("curated", "full"):
        got, want = read_screen(tmp_path / "prep" / f"screen_{name}.h5ad"), read_screen(proc / f"screen_{name}.h5ad")
        assert sorted(got.obs_names) == sorted(want.obs_names), name
        assert got.var_names.tolist() == want.var_names.tolist(), name
        got = got[want.obs_names]
        for col in ("perturbation", "kind", "locus", "split"):
            assert (got.obs[col].astype(str) == want.obs[col].astype(str)).all(), (name, col)
        assert np.allclose(got.X, want.X, rtol=1e-5, atol=1e-5)
        assert np.allclose(got.layers["log2fc"], want.layers["log2fc"], rtol=1e-5, atol=1e-5)
        assert np.allclose(got.var["ntc_mean_cpm"], want.var["ntc_mean_cpm"], rtol=1e-5)
        assert list(got.uns["protein_names"]) == list(want.uns["protein_names"])
        assert np.array_equal(got.uns["protein_expressed"], want.uns["protein_expressed"])
        assert np.allclose(got.obsm["protein"], want.obsm["protein"], rtol=1e-5, atol=1e-5)
        assert np.allclose(got.obsm["protein_target"], want.obsm["protein_target"], rtol=1e-5, atol=1e-5)
    # against the simulator's truth (independent of cdt.pp): guide calls recover what each cell really got ...
    truth = pd.read_csv(out / "truth" / "cells.csv", index_col="barcode")
    single = truth[truth["category"].isin(["TSS", "SNP", "NTC"])]
    screen = read_screen(tmp_path / "prep" / "screen_curated.h5ad")
    assert sorted(screen.obs_names) == sorted(single.index)
    assert (screen.obs["perturbation"].astype(str) == single.loc[screen.obs_names, "perturbations"]).all()
    qc = pd.read_csv(tmp_path / "prep" / "qc.csv").set_index("status")["n_cells"]
    assert qc["multiplet"] == (truth["category"] == "multiplet").sum() > 0
    assert qc["unassigned"] == truth["category"].isin(["subthreshold", "no_guide"]).sum() > 0
    # ... and the values equal ln(CPM + 1) and log2FC recomputed with numpy from the raw counts
    counts = ad.read_h5ad(raw / "rna_counts.h5ad")
    x = counts[screen.obs_names].X.toarray().astype(float)
    cpm = x / x.sum(1, keepdims=True) * manifest["cpm_scale"]
    cpm = cpm[:, counts.var_names.get_indexer(screen.var_names)]
    ntc = (screen.obs["kind"] == "NTC").to_numpy()
    assert np.allclose(screen.X, np.log1p(cpm), rtol=1e-5, atol=1e-5)
    assert np.allclose(screen.layers["log2fc"], np.log2((cpm + 1) / (cpm[ntc].mean(0) + 1)), rtol=1e-5, atol=1e-5)
    # CDT v1: the simulated pairs and enhancer windows share a build; a mislabelled build is refused
    pairs = pd.read_csv(out / "v1" / "pairs.csv")
    with DNAStore(out / "v1" / "dna_enhancers.h5") as store:
        check_genome(pairs, store)
        with pytest.raises(ContractError, match="pair coordinates are hg19 but DNA store"):
            check_genome(pairs.assign(genome="hg19"), store)


# --------------------------------------------------------------------------- CDT v1


def _gasperini(n_enh: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for e in range(n_enh):
        start = 1_000_000 + e * 10_000
        for gene in rng.choice(["GA", "GB", "GC", "GD", "NOEMB"], size=int(rng.integers(1, 4)), replace=False):
            p = float(rng.uniform(0, 1)) if e % 4 else 0.001
            rows.append(
                {
                    "site_type": "DHS",
                    "pvalue.empirical.adjusted": p,
                    "beta": -abs(rng.normal(0, 0.2)),
                    "target_site.chr": "chr1",
                    "target_site.start": start,
                    "target_site.stop": start + 501,
                    "gene_short_name": gene,
                    "ENSG": "ENSG0",
                }
            )
    rows.append({**rows[0], "site_type": "TSS"})
    rows.append({**rows[0], "pvalue.empirical.adjusted": "not_applicable"})
    return pd.DataFrame(rows)


def test_v1_pairs_enhancer_split_and_genome_check(tmp_path):
    table = _gasperini()
    pairs = read_gasperini(table)
    assert len(pairs) == len(table) - 2  # the TSS row and the non-numeric p-value row are dropped
    assert (pairs["enhancer_center"] == (pairs["enhancer_start"] + pairs["enhancer_end"]) // 2).all()
    assert pairs["enhancer_id"].iloc[0] == "chr1:1000000-1000501"
    assert (pairs["label"] == (pairs["padj"] < 0.05)).all() and pairs["label"].sum() > 0

    split = enhancer_split(pairs, seed=3)
    assert (pairs.assign(split=split).groupby("enhancer_id")["split"].nunique() == 1).all()
    assert set(split) == {"train", "val", "test"}
    assert split.equals(enhancer_split(pairs, seed=3)) and not split.equals(enhancer_split(pairs, seed=4))

    emb = tmp_path / "emb.h5"
    with h5py.File(emb, "w") as h5:
        h5["gene_names"] = np.array(["GA", "GB", "GC", "GD"], dtype="S")
        h5["rna_embeddings"] = np.ones((4, 3), np.float32)
        h5["protein_embeddings"] = np.ones((4, 5), np.float32)
    loci = pairs.drop_duplicates("enhancer_id")
    table_loci = pd.DataFrame(
        {"locus_id": loci["enhancer_id"], "chrom": loci["chrom"], "center": loci["enhancer_center"], "strand": "+"}
    )
    arrays = {k: np.zeros((4, 2), np.float32) for k in table_loci["locus_id"]}
    hg38 = write_dna_store(tmp_path / "hg38.h5", arrays, table_loci, model="test", genome="hg38")
    hg19 = write_dna_store(tmp_path / "hg19.h5", arrays, table_loci, model="test", genome="hg19")

    with pytest.raises(ContractError, match=r"pair coordinates are hg19 but DNA store .*hg38.h5 holds hg38"):
        prepare_v1(table, emb, tmp_path / "pairs.csv", dna_store=hg38)
    out = prepare_v1(table, emb, tmp_path / "pairs.csv", dna_store=hg19, seed=3)
    written = pd.read_csv(out)
    assert "NOEMB" not in set(written["target_gene"])
    assert (written["target_index"] == written["target_gene"].map({"GA": 0, "GB": 1, "GC": 2, "GD": 3})).all()
    assert (written.groupby("enhancer_id")["split"].nunique() == 1).all()
    with DNAStore(hg19) as store:
        with pytest.raises(ContractError, match="enhancers have no DNA window"):
            check_genome(pd.concat([written, written.iloc[:1].assign(enhancer_id="chr2:1-2")]), store)

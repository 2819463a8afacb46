"""Readers of the authors' files: small files in their exact layouts (tests/conftest.py), read and checked."""

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from cdt.data.authors import ENFORMER_BIN_SIZE, read_authors_screen, read_gasperini_h5
from cdt.data.dnastore import DNAStore
from cdt.data.errors import ContractError
from cdt.data.screen import read_screen, write_screen

REFERENCE = Path(__file__).parent / "data"  # the authors' published tables (tests/data/README.md)


def _read(f, tmp_path, snp=True, adt=True, **kw):
    return read_authors_screen(
        f.effects,
        f.enformer,
        f.snp_effects if snp else None,
        f.snp_enformer if snp else None,
        f.adt if adt else None,
        dna_store_out=tmp_path / "store.h5",
        **kw,
    )


def _edit(path, fn):
    with h5py.File(path, "a") as h5:
        fn(h5)


def _replace(key, value):
    def fn(h5):
        del h5[key]
        h5[key] = value

    return fn


def test_full_read_values(authors_files, tmp_path):
    f = authors_files()
    screen, store = _read(f, tmp_path)
    n_tss, n_snp = len(f.target_idx), len(f.snp_idx)
    assert screen.shape == (n_tss + n_snp, len(f.genes))
    assert list(screen.var_names) == f.genes
    np.testing.assert_array_equal(screen.X, np.concatenate([f.cell_expr, f.snp_cell_expr]))
    np.testing.assert_array_equal(screen.layers["log2fc"], np.concatenate([f.log2fc, f.snp_log2fc]))
    np.testing.assert_allclose(screen.var["ntc_mean_cpm"], f.ntc_mean_cpm, rtol=1e-6)
    np.testing.assert_allclose(screen.var["ntc_mean_expr"], f.ntc_mean_expr, rtol=1e-6)

    obs = screen.obs
    tss_targets = [f.targets[i] for i in f.target_idx]
    snp_loci = [f.snp_names[i] for i in f.snp_idx]
    assert obs["perturbation"].tolist() == tss_targets + snp_loci
    assert obs["locus"].tolist() == tss_targets + snp_loci
    assert obs["kind"].astype(str).tolist() == ["TSS"] * n_tss + ["SNP"] * n_snp
    expected_split = ["test" if t in ("CD52", "GFI1B", "TFRC") else "train" for t in tss_targets] + ["train"] * n_snp
    assert obs["split"].tolist() == expected_split
    assert obs.index[0] == "AAAC0000-1_A" and obs.index[-1] == f"snp_{n_snp - 1}"
    assert obs["source_row"].tolist() == list(range(n_tss)) + list(range(n_snp))

    cdt = screen.uns["cdt"]
    assert cdt["source"] == "authors" and cdt["held_out"] == ["GFI1B", "CD52", "TFRC", "CD44", "TNFSF9"]
    assert cdt["file_val_genes"] == ["CD52", "GFI1B", "TFRC"] and cdt["ntc_mean_expr_source"] == "file"
    assert cdt["files"]["adt"] == str(f.adt)

    # DNA store: all TSS rows (incl. CD55 without cells) by gene name, referenced SNP rows by "SNP-<id>"
    assert sorted(store.loci_ids()) == sorted(f.enformer_genes + f.snp_names)
    assert store.n_bins == 8 and store.dim == 4 and "enformer" in store.model
    for row, gene in enumerate(f.enformer_genes):
        np.testing.assert_array_equal(store[gene], f.embeddings[row].astype(np.float16).astype(np.float32))
    for name in f.snp_names:
        row = int(np.flatnonzero(f.snp_ids == int(name.split("-")[1]))[0])
        np.testing.assert_array_equal(store[name], f.snp_embeddings[row].astype(np.float16).astype(np.float32))
    with h5py.File(store.path, "r") as h5:
        assert h5["loci/CD58"].dtype == np.float16
    cd58 = store.locus("CD58")
    assert (cd58.chrom, cd58.center, cd58.strand, cd58.bin_size) == ("chr1", 116571026, "-", ENFORMER_BIN_SIZE)
    assert cd58.bin_start(4) == 116571026  # bin n_bins/2 starts at the TSS
    snp = store.locus("SNP-12")
    assert (snp.chrom, snp.center, snp.strand) == ("NA", 0, ".")
    store.close()


def test_proteins_matched_by_barcode(authors_files, tmp_path):
    f = authors_files(adt_shuffle=True)
    assert not np.array_equal(f.adt_rows, np.arange(len(f.adt_rows)))
    screen, store = _read(f, tmp_path)
    store.close()
    n_tss = len(f.target_idx)
    order = np.argsort(f.adt_rows)  # ADT row of each TSS cell
    np.testing.assert_array_equal(screen.obsm["protein"][:n_tss], f.protein_dsb[order])
    np.testing.assert_allclose(screen.obsm["protein_target"][:n_tss], f.protein_effect[order], rtol=1e-6)
    assert (screen.obsm["protein"][n_tss:] == 0).all() and (screen.obsm["protein_target"][n_tss:] == 0).all()
    assert screen.obs["has_protein"].tolist() == [True] * n_tss + [False] * len(f.snp_idx)
    assert list(screen.uns["protein_names"]) == f.protein_names
    dsb = f.protein_dsb.astype(np.float64)
    expected = (dsb.mean(0) > 0.5) & (dsb.std(0) > 0.1)
    np.testing.assert_array_equal(screen.uns["protein_expressed"], expected)
    # designed: means 1.5/0.2/3.0/0.8/-0.5, SDs 1/1/0.05/0.5/0.3 -> only proteins 0 and 3 pass both rules
    assert expected.tolist() == [True, False, False, True, False]


@pytest.mark.parametrize("drop", [("cell_barcodes",), ("cell_barcodes", "original_cell_idx")])
def test_proteins_matched_by_fallback_keys(authors_files, tmp_path, drop):
    shuffle = drop == ("cell_barcodes",)  # original_cell_idx can match shuffled rows; row order cannot
    f = authors_files(adt_shuffle=shuffle)
    for path in (f.effects, f.adt):
        _edit(path, lambda h5: [h5.__delitem__(k) for k in drop])
    screen, store = _read(f, tmp_path, snp=False)
    store.close()
    np.testing.assert_array_equal(screen.obsm["protein"], f.protein_dsb[np.argsort(f.adt_rows)])
    assert screen.obs.index[0] == "tss_0"


def test_partial_protein_mask(authors_files, tmp_path):
    f = authors_files(adt_shuffle=False)
    mask = np.ones(len(f.target_idx), bool)
    mask[[0, 4]] = False
    _edit(f.adt, _replace("protein_matched_mask", mask))
    screen, store = _read(f, tmp_path, snp=False)
    store.close()
    assert screen.obs["has_protein"].tolist() == mask.tolist()
    assert (screen.obsm["protein"][~mask] == 0).all()
    np.testing.assert_array_equal(screen.obsm["protein"][mask], f.protein_dsb[mask])
    kept = f.protein_dsb[mask].astype(np.float64)
    np.testing.assert_array_equal(screen.uns["protein_expressed"], (kept.mean(0) > 0.5) & (kept.std(0) > 0.1))


def test_tss_only_and_custom_held_out(authors_files, tmp_path):
    f = authors_files()
    screen, store = _read(f, tmp_path, snp=False, adt=False, held_out=("B2M",))
    store.close()
    assert "protein" not in screen.obsm and "has_protein" not in screen.obs
    assert screen.obs.loc[screen.obs["split"] == "test", "perturbation"].unique().tolist() == ["B2M"]
    assert sorted(DNAStore(tmp_path / "store.h5").loci_ids()) == sorted(f.enformer_genes)


def test_held_out_genes_without_cells_fail_before_writing(authors_files, tmp_path):
    f = authors_files()
    with pytest.raises(ContractError) as err:
        _read(f, tmp_path, held_out=("CD44", "TNFSF9"))
    assert err.value.source == str(f.effects) and err.value.field == "obs['split']"
    assert "no cells in the 'test' split" in err.value.problem
    assert not list(tmp_path.glob("store.h5*"))


def test_default_store_path_beside_enformer(authors_files):
    f = authors_files()
    _, store = read_authors_screen(f.effects, f.enformer)
    assert store.path == f.enformer.with_name("morris_28genes_enformer.cdt_store.h5")
    store.close()


def test_utf8_string_names_read_like_bytes(authors_files, tmp_path):
    f = authors_files()
    vlen = h5py.string_dtype("utf-8")
    for path, key in (
        (f.effects, "gene_names_cdt"),
        (f.effects, "target_gene_names"),
        (f.enformer, "gene_names"),
        (f.enformer, "chroms"),
        (f.snp_effects, "snp_loci_names"),
    ):
        with h5py.File(path, "a") as h5:
            names = [x.decode() for x in h5[key][()]]
            del h5[key]
            h5.create_dataset(key, data=names, dtype=vlen)
    _edit(f.snp_enformer, _replace("snp_ids", np.array([str(i).encode() for i in f.snp_ids])))
    screen, store = _read(f, tmp_path, adt=False)
    assert list(screen.var_names) == f.genes and store.locus("GFI1B").chrom == "chr9"
    assert screen.obs["perturbation"].iloc[-1] == "SNP-40"
    store.close()


def test_ntc_vectors_missing_are_derived(authors_files, tmp_path):
    f = authors_files()
    _edit(f.effects, lambda h5: (h5.__delitem__("ntc_mean_cpm"), h5.__delitem__("ntc_mean_expr")))
    screen, store = _read(f, tmp_path, snp=False, adt=False)
    store.close()
    # ntc_mean_cpm from eq. 1 inverted per cell: log2(ntc + 1) = cell_expr / ln 2 - log2fc
    np.testing.assert_allclose(screen.var["ntc_mean_cpm"], f.ntc_mean_cpm, rtol=1e-3)
    np.testing.assert_allclose(screen.var["ntc_mean_expr"], np.log1p(screen.var["ntc_mean_cpm"]), rtol=1e-6)
    assert screen.uns["cdt"]["ntc_mean_expr_source"] == "ln(ntc_mean_cpm + 1)"


def test_round_trip_through_our_formats(authors_files, tmp_path):
    f = authors_files()
    screen, store = _read(f, tmp_path)
    path = write_screen(screen, tmp_path / "screen.h5ad")
    back = read_screen(path, dna_store=store)
    np.testing.assert_array_equal(back.X, screen.X)
    np.testing.assert_array_equal(back.obsm["protein"], screen.obsm["protein"])
    pd.testing.assert_frame_equal(back.obs, screen.obs)
    assert back.uns["cdt"]["files"]["enformer"] == str(f.enformer)
    store.close()


# ------------------------------------------------------------------------------------------------ errors

E, ENF, SNP, SNPENF, ADT = "effects", "enformer", "snp_effects", "snp_enformer", "adt"

# (file attribute, edit, field named, problem fragment)
ERRORS = {
    "missing log2fc": (E, lambda h5: h5.__delitem__("log2fc"), "log2fc", "missing dataset"),
    "missing target_gene_idx": (E, lambda h5: h5.__delitem__("target_gene_idx"), "target_gene_idx", "missing"),
    "cell_expr shape": (
        E,
        _replace("cell_expr", np.zeros((15, 7), np.float32)),
        "cell_expr",
        "shape (15, 7), expected (15, 8)",
    ),
    "NaN in log2fc": (
        E,
        lambda h5: h5["log2fc"].__setitem__((3, 2), np.nan),
        "log2fc",
        "1 non-finite values (first at index [3, 2])",
    ),
    "NaN in ntc_mean_cpm": (E, lambda h5: h5["ntc_mean_cpm"].__setitem__(0, np.nan), "ntc_mean_cpm", "non-finite"),
    "target index range": (
        E,
        _replace("target_gene_idx", np.arange(15) % 6),
        "target_gene_idx",
        "values outside [0, 5)",
    ),
    "cells per gene": (E, _replace("n_cells_per_gene", np.array([3, 3, 3, 3, 2])), "n_cells_per_gene", "disagree"),
    "duplicate genes": (
        E,
        _replace("gene_names_cdt", np.array([b"ACTB"] * 8)),
        "gene_names_cdt",
        "duplicate names ['ACTB']",
    ),
    "numeric names": (E, _replace("gene_names_cdt", np.arange(8)), "gene_names_cdt", "expected strings, got dtype"),
    "non-UTF-8 names": (
        E,
        _replace("target_gene_names", np.array([b"B2M", b"CD\xff52", b"CD58", b"GFI1B", b"TFRC"])),
        "target_gene_names",
        "is not UTF-8",
    ),
    "float target index": (E, _replace("target_gene_idx", np.zeros(15)), "target_gene_idx", "expected integers"),
    "target without embedding": (
        ENF,
        _replace("gene_names", np.array([b"CD52", b"CD58", b"CD55", b"B2M", b"TFRC", b"GFI1"])),
        "gene_names",
        "1 perturbed targets have no embedding: ['GFI1B']",
    ),
    "NaN in embeddings": (
        ENF,
        lambda h5: h5["embeddings"].__setitem__((5, 2, 1), np.nan),
        "embeddings[5] (GFI1B)",
        "non-finite",
    ),
    "2-D embeddings": (ENF, _replace("embeddings", np.zeros((6, 8), np.float32)), "embeddings", "shape (6, 8)"),
    "n_bins attr": (ENF, lambda h5: h5.attrs.__setitem__("n_bins", 896), "embeddings", "attribute n_bins = 896"),
    "chroms length": (ENF, _replace("chroms", np.array([b"chr1"] * 5)), "chroms", "shape (5,), expected (6,)"),
    "missing tss_coords": (ENF, lambda h5: h5.__delitem__("tss_coords"), "tss_coords", "missing dataset"),
    "bad SNP name": (
        SNP,
        _replace("snp_loci_names", np.array([b"SNP-5", b"rs12", b"SNP-40"])),
        "snp_loci_names",
        "'rs12' is not of the form 'SNP-<id>'",
    ),
    "SNP gene count": (SNP, _replace("log2fc", np.zeros((6, 7), np.float32)), "log2fc", "expected (*, 8)"),
    "SNP without embedding": (
        SNPENF,
        _replace("snp_ids", np.array([40, 7, 6, 12])),
        "snp_ids",
        "1 SNP loci have no embedding: ['SNP-5']",
    ),
    "SNP id not integer": (
        SNPENF,
        _replace("snp_ids", np.array([b"40", b"x7", b"5", b"12"])),
        "snp_ids",
        "not integers",
    ),
    "SNP embedding dim": (
        SNPENF,
        _replace("embeddings", np.zeros((4, 8, 5), np.float32)),
        "embeddings",
        "differs from the TSS file's (8, 4)",
    ),
    "missing protein_dsb": (ADT, lambda h5: h5.__delitem__("protein_dsb"), "protein_dsb", "missing dataset"),
    "NaN protein_effect": (
        ADT,
        lambda h5: h5["protein_effect"].__setitem__((0, 0), np.nan),
        "protein_effect",
        "non-finite",
    ),
    "protein_names length": (
        ADT,
        _replace("protein_names", np.array([b"ADT-0033"] * 4)),
        "protein_names",
        "shape (4,), expected (5,)",
    ),
    "ADT target mismatch": (
        ADT,
        lambda h5: h5["target_gene_idx"].__setitem__(0, (h5["target_gene_idx"][0] + 1) % 5),
        "target_gene_idx",
        "1 cells matched by cell_barcodes have another target",
    ),
    "ADT barcodes unknown": (
        ADT,
        _replace("cell_barcodes", np.array([f"X{i}".encode() for i in range(15)])),
        "cell_barcodes",
        "no cell matches",
    ),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors_name_file_and_field(authors_files, tmp_path, case):
    which, edit, field, problem = ERRORS[case]
    f = authors_files()
    _edit(getattr(f, which), edit)
    with pytest.raises(ContractError) as err:
        _read(f, tmp_path).__getitem__(1).close()
    assert err.value.source == str(getattr(f, which)), err.value
    assert err.value.field == field and problem in err.value.problem, err.value
    assert not (tmp_path / "store.h5").exists() and not list(tmp_path.glob("store.h5*"))  # nothing half-written


def test_adt_without_shared_keys_and_other_cell_count(authors_files, tmp_path):
    f = authors_files()
    for path in (f.effects, f.adt):
        _edit(path, lambda h5: (h5.__delitem__("cell_barcodes"), h5.__delitem__("original_cell_idx")))
    _edit(
        f.adt,
        lambda h5: [
            _replace(k, h5[k][:-1])(h5)
            for k in ("protein_dsb", "protein_effect", "target_gene_idx", "protein_matched_mask")
        ],
    )
    with pytest.raises(ContractError, match=r"with_adt\.h5: protein_dsb: 14 cells but the effects file has 15"):
        _read(f, tmp_path, snp=False)


@pytest.mark.parametrize("which", [E, ENF, SNP, SNPENF, ADT])
def test_truncated_files(authors_files, tmp_path, which):
    f = authors_files(n_bins=64, dim=16)
    path = getattr(f, which)
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size // 2)
    with pytest.raises(ContractError) as err:
        _read(f, tmp_path)
    assert err.value.source == str(path) and err.value.field == "file" and "truncated file" in err.value.problem


def test_corrupt_chunk_is_named_and_leaves_no_store(authors_files, tmp_path):
    """A file that opens but whose gzip chunk is damaged fails on the read of that row, naming it."""
    f = authors_files()
    with h5py.File(f.enformer, "r") as h5:
        info = h5["embeddings"].id.get_chunk_info(0)
    with open(f.enformer, "r+b") as fh:
        fh.seek(info.byte_offset + 2)
        fh.write(b"\xff" * 16)
    with pytest.raises(ContractError) as err:
        _read(f, tmp_path)
    assert err.value.source == str(f.enformer) and err.value.field == "embeddings"
    assert "unreadable data" in err.value.problem
    assert not list(tmp_path.glob("store.h5*"))


def test_missing_file_and_unpaired_snp_files(authors_files, tmp_path):
    f = authors_files()
    with pytest.raises(FileNotFoundError, match="nothere.h5: Enformer embedding file does not exist"):
        read_authors_screen(f.effects, tmp_path / "nothere.h5", dna_store_out=tmp_path / "s.h5")
    with pytest.raises(ValueError, match="together"):
        read_authors_screen(f.effects, f.enformer, snp_effects_h5=f.snp_effects, dna_store_out=tmp_path / "s.h5")


def test_not_hdf5(authors_files, tmp_path):
    f = authors_files()
    f.enformer.write_text("gene_name,chrom,tss\n")
    with pytest.raises(ContractError, match=r"morris_28genes_enformer\.h5: file: not a readable HDF5 file"):
        _read(f, tmp_path)


# ------------------------------------------------------------------------------------------------ CDT v1


def test_read_gasperini(authors_files):
    f = authors_files()
    table, arrays = read_gasperini_h5(f.gasperini)
    assert table["enhancer_id"].tolist() == ["chr1:33592642-33593311", "chr1:1000-1601", "chrX:501-1000"]
    assert table["enhancer_center"].tolist() == [33592976, 1300, 750]  # (start + end) // 2; FNDC5 (CDT v1 Fig 5)
    assert table["gene_id"].tolist()[0] == "ENSG00000187550" and table["chrom"].tolist()[2] == "chrX"
    np.testing.assert_array_equal(arrays["beta"], f.gasperini_values["beta"])
    assert arrays["beta"].dtype == np.float32 and arrays["label"].tolist() == [1, 0, 0]
    assert arrays["esm2_idx"].tolist() == [100, 2, 57] and table["enformer_idx"].tolist() == [4, 9, 1]
    assert table.attrs == {"n_samples": 3, "n_positive": 1, "n_negative": 2, "source": "GSE120861"}


@pytest.mark.parametrize(
    "edit, field, problem",
    [
        (lambda h5: h5.__delitem__("enhancer_chr"), "enhancer_chr", "missing dataset"),
        (lambda h5: h5["beta"].__setitem__(1, np.nan), "beta", "non-finite"),
        (_replace("labels", np.array([1, 0, 2], np.int32)), "labels", "values other than 0/1: [2]"),
        (_replace("esm2_idx", np.array([1, 2], np.int32)), "esm2_idx", "shape (2,), expected (3,)"),
        (lambda h5: h5.attrs.__setitem__("n_samples", 4), "n_samples", "attribute says 4 samples"),
        (lambda h5: h5.attrs.__setitem__("n_positive", 2), "n_positive", "labels sum to 1"),
    ],
)
def test_gasperini_errors(authors_files, edit, field, problem):
    f = authors_files()
    _edit(f.gasperini, edit)
    with pytest.raises(ContractError) as err:
        read_gasperini_h5(f.gasperini)
    assert err.value.source == str(f.gasperini) and err.value.field == field and problem in err.value.problem


# ------------------------------------------------------------------------------------------------ real TSS table


def test_real_tss_table_maps_to_bins(tmp_path):
    """An Enformer-layout file built from the real morris_28genes_tss.csv: coordinates land in the right bins."""
    csv = REFERENCE / "morris_28genes_tss.csv"
    tss = pd.read_csv(csv)
    assert len(tss) == 28 and list(tss.columns) == ["gene_name", "chrom", "tss", "strand", "ensembl_id"]
    n_bins, dim = 896, 2
    emb = np.zeros((28, n_bins, dim), np.float32)
    emb[:, :, 0] = np.arange(28)[:, None]  # row id, to check the name -> row mapping
    emb[:, :, 1] = np.arange(n_bins)[None, :] / 8
    enformer = tmp_path / "morris_28genes_enformer.h5"
    with h5py.File(enformer, "w") as h5:
        h5.create_dataset("embeddings", data=emb, compression="gzip", compression_opts=4)
        for key, col in (
            ("gene_names", "gene_name"),
            ("chroms", "chrom"),
            ("strands", "strand"),
            ("ensembl_ids", "ensembl_id"),
        ):
            h5[key] = np.array([s.encode() for s in tss[col]], dtype="S")
        h5["tss_coords"] = tss["tss"].to_numpy(np.int64)
        h5.attrs.update(
            {"n_genes": 28, "n_bins": n_bins, "embedding_dim": dim, "seq_length": 196608, "description": "test"}
        )
    targets = sorted(set(tss["gene_name"]) - {"CD55"})  # 27 targets with cells, alphabetical as in the file
    genes = ["ACTB", "CD52", "GFI1B"]
    effects = tmp_path / "morris_celllevel_effects_2361.h5"
    with h5py.File(effects, "w") as h5:
        h5["log2fc"] = np.zeros((27, 3), np.float32)
        h5["cell_expr"] = np.ones((27, 3), np.float32)
        h5["target_gene_idx"] = np.arange(27, dtype=np.int64)
        h5["target_gene_names"] = np.array([t.encode() for t in targets], dtype="S")
        h5["gene_names_cdt"] = np.array([g.encode() for g in genes], dtype="S")
        h5["ntc_mean_cpm"] = np.full(3, np.e - 1)
        h5["ntc_mean_expr"] = np.ones(3)
    screen, store = read_authors_screen(effects, enformer, dna_store_out=tmp_path / "store.h5")
    assert (screen.obs["split"] == "test").sum() == 5 and len(store) == 28
    for row, r in tss.iterrows():
        loc = store.locus(r.gene_name)
        assert (loc.chrom, loc.center, loc.strand) == (r.chrom, r.tss, r.strand)
        assert loc.bin_of(r.tss) == 448 and loc.bin_start(448) == r.tss
        assert loc.bin_of(r.tss - 57_344) == 0 and loc.bin_of(r.tss + 57_344) is None
        assert (store[r.gene_name][:, 0] == row).all()
    gfi1b = store.locus("GFI1B").bin_intervals()
    assert gfi1b.loc[448, "start"] == 132944000 and gfi1b.loc[0, "start"] == 132944000 - 57_344
    store.close()

"""CDT v1 on the authors' files: readers, conversion to the v1 contract, the no-copy DNA store, `cdt reproduce`.

The files are written in the authors' exact layouts at the real per-item dimensions ([896, 3072] windows,
[2360, 512] / [2360, 768] gene embeddings) with few items (`authors_files.write_authors_v1_files`); the expected
window of each enhancer was worked out by hand from the authors' lookup (`authors_files.V1_ENHANCERS`).
"""

import os
import shutil
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
from cdt import reproduce
from cdt.data.authors import read_protein_index_map, read_v1_gene_embeddings
from cdt.data.dnastore import DNAStore, write_virtual_dna_store
from cdt.data.errors import ContractError
from cdt.pp.v1 import authors_window_rows, convert_authors_v1, read_v1_embeddings

sys.path.insert(0, str(Path(__file__).parent))
from authors_files import V1_ENHANCERS, V1_WINDOWS, write_authors_v1_files  # noqa: E402

V1_NAMES = (
    "gasperini_train.h5",
    "gasperini_val.h5",
    "protein_index_mapping_aligned.npz",
    "k562_gene_embeddings_aligned.h5",
    "human_proteomelm_embeddings_aligned.h5",
    "pilot_full_v2.h5",
)


@pytest.fixture(scope="module")
def v1_files(tmp_path_factory):
    """The six CDT v1 files, written once for the module (copy them before changing any)."""
    return write_authors_v1_files(tmp_path_factory.mktemp("v1") / "authors")


@pytest.fixture(scope="module")
def converted(v1_files, tmp_path_factory):
    out = tmp_path_factory.mktemp("v1out")
    pairs, dna, emb = convert_authors_v1(v1_files.root, out)
    return pd.read_csv(pairs), pairs, dna, emb


def _enhancer_id(e: int) -> str:
    chrom, start, end, _, _ = V1_ENHANCERS[e]
    return f"{chrom}:{start}-{end}"


def test_authors_lookup_rules():
    chroms = ["chr1", "chr1", "chr1", "chr2", "chr2"]
    centers = np.array([100, 5_000, 5_400, 700, 700])
    rows, kind = authors_window_rows(
        chroms, centers, ["chr2", "chr1", "chr1", "chr1", "chr3"], np.array([700, 5_500, 6_000, 6_001, 100])
    )
    # (chr2, 700): exact, last row of the key; 5,500: row 1 (500 bp) is before row 2 (100 bp);
    # 6,000: row 1 is 1,000 bp away (inclusive); 6,001: 1,001 bp from row 1, 601 from row 2; chr3: none
    assert rows.tolist() == [4, 1, 1, 2, -1]
    assert kind.tolist() == ["exact", "nearby", "nearby", "nearby", "none"]


def test_conversion_keeps_mapped_pairs_with_the_authors_split(v1_files, converted):
    table, *_ = converted
    assert table["split"].value_counts().to_dict() == {"train": 37, "val": 10}  # 40 - 3 and 12 - 2 unmapped
    assert (table["pair_split"] == table["split"]).all()
    kept = table.groupby("source")["source_row"].apply(list).to_dict()
    assert kept["gasperini_train.h5"] == [i for i in range(40) if i not in (5, 17, 33)]
    assert kept["gasperini_val.h5"] == [i for i in range(12) if i not in (3, 7)]
    val = table[table["source"] == "gasperini_val.h5"].set_index("source_row")
    # old 2362 -> new 2 and old 2360 -> new 0 (several old indices share a new one); old 7 -> 7
    assert val.loc[[0, 1, 2], "target_index"].tolist() == [2, 0, 7]
    assert val.loc[[0, 1, 2], "target_gene"].tolist() == ["V1G0002", "V1G0000", "V1G0007"]
    train = table[table["source"] == "gasperini_train.h5"].set_index("source_row")
    assert train.loc[[0, 1, 9], "target_index"].tolist() == [0, 1, 21]  # pair 4e + k has old index 10e + k
    with h5py.File(v1_files.pairs["val"]) as h5:
        np.testing.assert_array_equal(val["beta"].to_numpy(np.float32), h5["beta"][[0, 1, 2, 4, 5, 6, 8, 9, 10, 11]])


def test_conversion_finds_the_authors_windows(v1_files, converted):
    table, _, dna, _ = converted
    first = table.drop_duplicates("enhancer_id").set_index("enhancer_id")
    for e, (_, start, end, row, kind) in enumerate(V1_ENHANCERS):
        got = first.loc[_enhancer_id(e)]
        assert (got["window_row"], got["window_lookup"]) == (row, kind), _enhancer_id(e)
        assert got["enhancer_mid"] == (start + end) // 2
        assert got["enhancer_center"] == (V1_WINDOWS[row][1] if row >= 0 else (start + end) // 2)
    assert first.loc[_enhancer_id(2), "enhancer_center"] == 2_000_000  # the nearby window's centre, 700 bp off
    with DNAStore(dna) as store, h5py.File(v1_files.windows) as src:
        assert (store.n_bins, store.dim, store.genome) == (896, 3072, "")
        np.testing.assert_array_equal(store[_enhancer_id(0)], src["embeddings"][0])  # exact
        np.testing.assert_array_equal(store[_enhancer_id(1)], src["embeddings"][4])  # exact, duplicated key
        assert not np.array_equal(src["embeddings"][3], src["embeddings"][4])
        np.testing.assert_array_equal(store[_enhancer_id(2)], src["embeddings"][1])  # within 1,000 bp
        np.testing.assert_array_equal(store[_enhancer_id(3)], src["embeddings"][6])  # exactly 1,000 bp
        assert (store[_enhancer_id(4)] == 0).all() and (store[_enhancer_id(5)] == 0).all()  # no window
        assert store.locus(_enhancer_id(3)).center == 7_001_200 and len(store) == 10
        assert all(store._h5["loci"][k].is_virtual for k in store.loci_ids())
    assert Path(dna).stat().st_size < 100_000  # 10 windows of 11 MB each are referenced, not copied


def test_converted_files_meet_the_v1_contract(v1_files, converted):
    from cdt.train import TrainConfig
    from cdt.train.checks import check_inputs

    table, pairs, dna, emb = converted
    genes, rna, prot = read_v1_embeddings(emb)
    assert genes == v1_files.genes
    np.testing.assert_array_equal(rna, v1_files.rna_embeddings)
    np.testing.assert_array_equal(prot, v1_files.protein_embeddings)
    check_inputs(TrainConfig.for_model("cdt1", "paper"), str(dna), str(pairs))  # shape, genome, window centres


def test_forward_pass_of_a_converted_batch_at_real_dimensions(v1_files, converted):
    from cdt.models.cdt1 import CDT1, CDT1Config
    from cdt.train.data import PairData

    table, pairs, dna, emb = converted
    data = PairData(pairs, dna, emb)
    none = int(np.flatnonzero(table["window_lookup"] == "none")[0])
    exact = int(np.flatnonzero(table["enhancer_id"] == _enhancer_id(0))[0])
    batch = data.collate([exact, none])
    assert tuple(batch.dna.shape) == (2, 896, 3072) and (batch.dna[1] == 0).all()
    with h5py.File(v1_files.windows) as src:
        np.testing.assert_array_equal(batch.dna[0].numpy(), src["embeddings"][0])
    torch.manual_seed(0)
    model = CDT1(CDT1Config()).eval()  # the paper's CDT v1: 2,360 genes, 512 / 768-d embeddings
    with torch.no_grad():
        out = model(batch.dna[:1], data.rna_emb, data.prot_emb, batch.target_index[:1])
    assert tuple(out.value.shape) == (1,) and torch.isfinite(out.value).all()


def test_virtual_store_reads_the_source_rows_and_refuses_a_missing_source(tmp_path):
    src = tmp_path / "windows.h5"
    values = np.random.default_rng(1).standard_normal((3, 5, 4)).astype(np.float32)
    with h5py.File(src, "w") as h5:
        h5.create_dataset("embeddings", data=values, chunks=(1, 5, 4), compression="gzip")
    loci = pd.DataFrame({"locus_id": ["a", "b", "z"], "chrom": "chr1", "center": [10, 20, 30], "strand": "+"})
    path = write_virtual_dna_store(tmp_path / "store.h5", src, {"a": 2, "b": 0, "z": None}, loci, model="m")
    with DNAStore(path) as store:
        np.testing.assert_array_equal(store.stack(["a", "b", "z"]), np.stack([values[2], values[0], np.zeros((5, 4))]))
        assert store.locus("b").center == 20
    with pytest.raises(ValueError, match=r"rows of \['a'\] lie outside the 3 rows"):
        write_virtual_dna_store(tmp_path / "bad.h5", src, {"a": 3}, loci, model="m")
    src.rename(tmp_path / "moved.h5")
    with pytest.raises(ContractError, match=rf"store\.h5: virtual_source: its windows are read from {src}, which"):
        DNAStore(path)


def test_reader_errors_name_the_file(v1_files, tmp_path):
    bad = tmp_path / "protein_index_mapping_aligned.npz"
    np.savez(bad, old_to_new=np.arange(6))
    with pytest.raises(ContractError, match=r"mapping_aligned\.npz: old_to_new: shape \(6,\), expected \(\*, 2\)"):
        read_protein_index_map(bad)
    bad.write_text("not a zip")
    with pytest.raises(ContractError, match=r"mapping_aligned\.npz: file: not a readable \.npz"):
        read_protein_index_map(bad)
    assert (
        read_protein_index_map(v1_files.protein_map)[2361] == 1
        and len(read_protein_index_map(v1_files.protein_map)) == 2364
    )

    prot = tmp_path / "human_proteomelm_embeddings_aligned.h5"
    shutil.copy(v1_files.protein, prot)
    with h5py.File(prot, "r+") as h5:
        names = h5["gene_names"][()]
        names[5] = b"OTHER"
        h5["gene_names"][...] = names
    with pytest.raises(ContractError) as err:
        read_v1_gene_embeddings(v1_files.rna, prot)
    assert str(err.value) == (
        f"{v1_files.rna} and {prot}: gene_names: 1 rows name different genes, first row 5: 'V1G0005' vs 'OTHER'; "
        "row i must be the same gene in both files"
    )


# ------------------------------------------------------------------------------------------------ cdt reproduce


@pytest.fixture
def real_dir(authors_files, v1_files):
    """The conftest's small CDT-II/III files and the six CDT v1 files in one directory."""
    d = authors_files().effects.parent
    for name in V1_NAMES:
        if name == "gasperini_val.h5":  # a copy: one test changes it (the conftest writes a file of that name too)
            shutil.copy(v1_files.root / name, d / name)
        else:
            os.link(v1_files.root / name, d / name)
    return d


def test_real_paths_convert_v1_once_per_content(real_dir, tmp_path):
    root = tmp_path / "processed"
    first = reproduce.real_paths(real_dir, root)
    out = Path(first.v1_pairs).parents[1]
    assert out.name.startswith("real-v1-") and first.v1_pairs == str(out / "v1" / "pairs.csv")
    assert (first.v1_dna, first.v1_embeddings) == (str(out / "v1/dna_enhancers.h5"), str(out / "v1/embeddings.h5"))
    assert [f["name"] for f in first.inputs][-6:] == list(V1_NAMES)
    stamp = (out / "inputs.json").stat().st_mtime_ns
    again = reproduce.real_paths(real_dir, root)
    assert again.v1_pairs == first.v1_pairs and (out / "inputs.json").stat().st_mtime_ns == stamp  # reused
    assert again.screen == first.screen

    with h5py.File(real_dir / "gasperini_val.h5", "r+") as h5:  # an input changes: converted again
        h5["beta"][0] = 7.5
    changed = reproduce.real_paths(real_dir, root)
    assert Path(changed.v1_pairs).parents[1] != out and changed.screen == first.screen  # CDT-II conversion kept
    table = pd.read_csv(changed.v1_pairs)
    assert table.loc[(table["source"] == "gasperini_val.h5") & (table["source_row"] == 0), "beta"].item() == 7.5
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_reproduce_lists_cdt1_as_needing_a_training_run(real_dir, tmp_path):
    paths = reproduce.real_paths(real_dir, tmp_path / "processed")
    ctx = reproduce.Context("real", "tiny", 0, str(tmp_path / "out"), paths)
    reproduce.real_models(ctx, tmp_path / "runs", "paper", {}, train_missing=False)
    line = ctx.skipped["cdt1"]
    assert line.startswith(
        "CDT v1: no published weights; needs a training run: `cdt train --model cdt1 --preset tiny "
        f"--data {Path(paths.v1_pairs).parents[1]}` (up to "
    )
    assert line.endswith("GPU advised), or `cdt reproduce --train-missing`") and "cdt1" not in ctx.runs
    clean = reproduce.Context("real", "tiny", 0, str(tmp_path / "out"), paths)
    reproduce.real_models(clean, tmp_path / "runs", "clean", {}, train_missing=False)
    assert clean.skipped["cdt1"] == (
        "CDT v1: not run: the authors' files split the pairs into train and val only, and the 'clean' protocol "
        "reports on test pairs (use --protocol paper)"
    )
    assert not (tmp_path / "runs").exists()


def test_some_v1_files_missing_are_named(real_dir, tmp_path):
    for name in ("k562_gene_embeddings_aligned.h5", "pilot_full_v2.h5"):
        (real_dir / name).unlink()
    paths = reproduce.real_paths(real_dir, tmp_path / "processed")
    assert paths.v1_pairs is None and not any(f["name"].startswith("gasperini") for f in paths.inputs)
    ctx = reproduce.Context("real", "tiny", 0, str(tmp_path / "out"), paths)
    reproduce.real_models(ctx, tmp_path / "runs", "paper", {}, train_missing=False)
    assert ctx.skipped["cdt1"] == (
        "CDT v1: not run: missing k562_gene_embeddings_aligned.h5, pilot_full_v2.h5 beside gasperini_train.h5, "
        "gasperini_val.h5, protein_index_mapping_aligned.npz, human_proteomelm_embeddings_aligned.h5 "
        "(CDT v1 needs all six; see data/README.md)"
    )
    with pytest.raises(FileNotFoundError, match=r"missing the CDT v1 file\(s\) k562_gene_embeddings_aligned\.h5, "):
        convert_authors_v1(real_dir, tmp_path / "out")

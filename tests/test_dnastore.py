"""DNA store: round trip (float16 on disk, float32 in memory), bin coordinates, and errors naming the file."""

import h5py
import numpy as np
import pandas as pd
import pytest
from cdt.data.dnastore import DNAStore, Locus, write_dna_store
from cdt.data.errors import ContractError


def _loci(ids, centers, strands=None, chrom="chr9"):
    return pd.DataFrame({"locus_id": ids, "chrom": chrom, "center": centers, "strand": strands or ["+"] * len(ids)})


def test_round_trip_float16_on_disk_float32_in_memory(tmp_path):
    rng = np.random.default_rng(1)
    emb = {"GFI1B": rng.normal(size=(6, 3)).astype(np.float32) * 10, "SNP-7": rng.normal(size=(6, 3))}
    path = write_dna_store(
        tmp_path / "d.h5", emb, _loci(["GFI1B", "SNP-7"], [132944000, 0], ["+", "-"]), model="test", bin_size=128
    )
    with h5py.File(path, "r") as h5:
        assert h5["loci/GFI1B"].dtype == np.float16
        assert h5.attrs["n_bins"] == 6 and h5.attrs["dim"] == 3
    with DNAStore(path) as store:
        assert len(store) == 2 and "GFI1B" in store and "CD52" not in store
        assert sorted(store.loci_ids()) == ["GFI1B", "SNP-7"]
        assert (store.n_bins, store.dim, store.model) == (6, 3, "test")
        got = store["GFI1B"]
        assert got.dtype == np.float32 and got.shape == (6, 3)
        np.testing.assert_array_equal(got, emb["GFI1B"].astype(np.float16).astype(np.float32))
        assert np.abs(got - emb["GFI1B"]).max() < 0.02  # float16 keeps ~3 significant digits
        stacked = store.stack(["SNP-7", "GFI1B", "SNP-7"])
        assert stacked.shape == (3, 6, 3) and stacked.dtype == np.float32
        np.testing.assert_array_equal(stacked[1], got)
        np.testing.assert_array_equal(stacked[0], stacked[2])
        assert store.stack([]).shape == (0, 6, 3)
        loc = store.locus("SNP-7")
        assert loc == Locus("SNP-7", "chr9", 0, "-", 128, 6)
        table = store.table().set_index("locus_id")
        assert table.loc["GFI1B", "center"] == 132944000 and table.loc["GFI1B", "strand"] == "+"
        assert table["n_bins"].tolist() == [6, 6]


def test_bin_coordinates_enformer_geometry(tmp_path):
    """896 x 128 bp bins: bin b covers [tss + (b - 448) * 128, +128), so bin 448 starts at the TSS."""
    tss = 132944000
    path = write_dna_store(tmp_path / "d.h5", {"GFI1B": np.zeros((896, 2))}, _loci(["GFI1B"], [tss]), model="m")
    with DNAStore(path) as store:
        loc = store.locus("GFI1B")
        assert loc.bin_start(448) == tss
        assert loc.bin_start(0) == tss - 57_344
        assert loc.bin_start(895) + 128 == tss + 57_344
        np.testing.assert_array_equal(loc.bin_start(np.array([447, 449])), [tss - 128, tss + 128])
        assert loc.bin_of(tss) == 448 and loc.bin_of(tss - 1) == 447 and loc.bin_of(tss + 127) == 448
        assert loc.bin_of(tss - 57_344) == 0 and loc.bin_of(tss + 57_343) == 895
        assert loc.bin_of(tss - 57_345) is None and loc.bin_of(tss + 57_344) is None
        iv = loc.bin_intervals()
        assert len(iv) == 896 and (iv["end"] - iv["start"] == 128).all()
        assert (iv["start"].to_numpy()[1:] == iv["end"].to_numpy()[:-1]).all()  # contiguous
        assert iv.loc[448, "start"] == tss and (iv["chrom"] == "chr9").all()
        for b in (0, 100, 448, 895):  # bin_of inverts bin_start
            assert loc.bin_of(int(loc.bin_start(b))) == b


def test_bin_size_column_and_odd_bin_count(tmp_path):
    loci = _loci(["a"], [1000]).assign(bin_size=10)
    path = write_dna_store(tmp_path / "d.h5", {"a": np.ones((5, 2))}, loci, model="m")
    with DNAStore(path) as store:
        loc = store.locus("a")
        assert loc.bin_size == 10 and loc.bin_start(2) == 1000 and loc.bin_start(0) == 980
        assert loc.bin_of(1029) == 4 and loc.bin_of(1030) is None and loc.bin_of(979) is None


def test_fixture_store(tiny_dna_store):
    path = tiny_dna_store(["CD52", "GFI1B"], n_bins=4, dim=2)
    with DNAStore(path) as store:
        assert store["GFI1B"].shape == (4, 2)
        assert store.locus("CD52").center == 10_000 and store.locus("GFI1B").strand == "-"


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        DNAStore(tmp_path / "nope.h5")


def test_not_hdf5(tmp_path):
    path = tmp_path / "text.h5"
    path.write_text("locus,embedding\n")
    with pytest.raises(ContractError, match=r"text\.h5: file: not a readable HDF5"):
        DNAStore(path)


def test_hdf5_but_not_a_store(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as h5:
        h5["embeddings"] = np.zeros((1, 2, 2))
    with pytest.raises(ContractError, match=r"other\.h5: /loci: missing group"):
        DNAStore(path)


def test_truncated_store(tmp_path):
    path = write_dna_store(
        tmp_path / "d.h5",
        {f"L{i}": np.ones((64, 8)) * i for i in range(20)},
        _loci([f"L{i}" for i in range(20)], list(range(20))),
        model="m",
        compression=None,
    )
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size // 2)
    with pytest.raises(ContractError, match=r"d\.h5: .*(file|/loci)"):
        store = DNAStore(path)
        store.stack(store.loci_ids())


def test_missing_locus_names_file_and_locus(tmp_path, tiny_dna_store):
    path = tiny_dna_store(["CD52"])
    with DNAStore(path) as store:
        with pytest.raises(KeyError, match=r"dna\.h5.*'GFI1B' not in DNA store"):
            store["GFI1B"]
        with pytest.raises(KeyError, match="GFI1B"):
            store.locus("GFI1B")


@pytest.mark.parametrize(
    "emb, loci, match",
    [
        ({"a": np.zeros((4, 2)), "b": np.zeros((4, 3))}, ["a", "b"], "share one"),
        ({"a": np.zeros(4)}, ["a"], "share one"),
        ({"a": np.zeros((4, 2)), "b": np.zeros((4, 2))}, ["a"], r"lacks coordinates for \['b'\]"),
        ({"a": np.zeros((4, 2)), "b": np.full((4, 2), np.nan)}, ["a", "b"], "'b' embedding has non-finite"),
    ],
)
def test_write_errors_leave_no_file(tmp_path, emb, loci, match):
    path = tmp_path / "d.h5"
    with pytest.raises(ValueError, match=match):
        write_dna_store(path, emb, _loci(loci, [0] * len(loci)), model="m")
    assert list(tmp_path.iterdir()) == []


def test_values_beyond_float16_are_refused(tmp_path):
    import numpy as np
    import pandas as pd
    import pytest
    from cdt.data.dnastore import write_dna_store

    loci = pd.DataFrame({"locus_id": ["A"], "chrom": ["chr1"], "center": [1000], "strand": ["+"]})
    with pytest.raises(ValueError, match="float16 range"):
        write_dna_store(tmp_path / "s.h5", {"A": np.full((4, 2), 1e6)}, loci, model="test")
    assert not (tmp_path / "s.h5").exists()

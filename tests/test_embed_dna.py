"""`cdt embed-dna` with a tiny randomly initialised Enformer and a FASTA written here (offline, seconds)."""

from __future__ import annotations

import sys

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
from cdt.cli import app
from cdt.data.dnastore import DNAStore
from cdt.data.errors import ContractError, WeightsUnavailableError
from cdt.pp import embed_dna, fetch_window, one_hot, read_loci
from cdt.pp.embed_dna import load_enformer, reverse_complement
from typer.testing import CliRunner

WINDOW = 128 * 32  # 4,096 bp -> 32 bins before the crop
N_BINS = 16


@pytest.fixture(scope="module")
def tiny_enformer():
    from enformer_pytorch import Enformer

    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = Enformer.from_hparams(
        dim=48,
        depth=1,
        heads=1,
        num_downsamples=7,
        dim_divisible_by=8,
        target_length=N_BINS,
        output_heads=dict(human=4),
    )
    with torch.no_grad():  # default init barely depends on the sequence; larger weights make it visible
        for p in model.parameters():
            if p.ndim > 1:
                p.mul_(2.0)
    return model.eval()


class Counting(torch.nn.Module):
    """Wraps a model and counts the loci it embeds (to check that resumed runs skip finished loci)."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.seen = inner, 0

    def forward(self, x, return_only_embeddings=True):
        self.seen += x.shape[0]
        return self.inner(x, return_only_embeddings=return_only_embeddings)


@pytest.fixture
def genome(tmp_path):
    rng = np.random.default_rng(0)
    seqs = {"chr1": "".join(rng.choice(list("ACGTacgt"), 10_000)), "chr2": "".join(rng.choice(list("ACGTN"), 6_000))}
    path = tmp_path / "genome.fa"
    with open(path, "w") as fh:
        for name, s in seqs.items():
            fh.write(f">{name}\n" + "\n".join(s[i : i + 60] for i in range(0, len(s), 60)) + "\n")
    loci = pd.DataFrame(
        {
            "gene_name": ["MID", "LEFT", "RIGHT", "MINUS"],
            "chrom": ["chr1", "chr1", "chr2", "1"],
            "tss": [5_000, 100, 5_900, 7_000],
            "strand": ["+", "+", "+", "-"],
        }
    )
    loci.to_csv(tmp_path / "loci.csv", index=False)
    return path, tmp_path / "loci.csv", {k: v.upper() for k, v in seqs.items()}


def test_one_hot_and_windows(genome):
    fa_path, _, seqs = genome
    assert one_hot("ACGTNa").tolist() == [
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
        [0, 0, 0, 0],
        [1, 0, 0, 0],
    ]
    from pyfaidx import Fasta

    fa = Fasta(str(fa_path), sequence_always_upper=True)
    mid = fetch_window(fa, "chr1", 5_000, WINDOW)
    assert mid == seqs["chr1"][5_000 - WINDOW // 2 : 5_000 + WINDOW // 2]
    left = fetch_window(fa, "chr1", 100, WINDOW)  # start clamped at 0: N-padded so the locus stays centred
    assert len(left) == WINDOW and left[: WINDOW // 2 - 100] == "N" * (WINDOW // 2 - 100)
    assert left[WINDOW // 2 - 100 :] == seqs["chr1"][: 100 + WINDOW // 2]
    right = fetch_window(fa, "chr2", 5_900, WINDOW)  # past the chromosome end: N on the right
    assert right == seqs["chr2"][5_900 - WINDOW // 2 :] + "N" * (5_900 + WINDOW // 2 - 6_000)
    assert reverse_complement("AACGTN") == "NACGTT"


def test_embed_dna_store_values_and_coordinates(genome, tmp_path, tiny_enformer):
    fa_path, loci_path, seqs = genome
    out = embed_dna(
        fa_path,
        loci_path,
        tmp_path / "dna.h5",
        model=tiny_enformer,
        window=WINDOW,
        batch_size=3,
        genome="hg38",
        model_name="tiny-enformer",
        progress=False,
    )
    with DNAStore(out) as store:
        assert sorted(store.loci_ids()) == ["LEFT", "MID", "MINUS", "RIGHT"]
        assert (store.n_bins, store.dim, store.genome, store.model) == (N_BINS, 96, "hg38", "tiny-enformer")
        loc = store.locus("MID")
        assert (loc.chrom, loc.center, loc.strand, loc.bin_size) == ("chr1", 5_000, "+", 128)
        assert loc.bin_start(N_BINS // 2) == 5_000  # the TSS starts the middle bin
        assert store.locus("MINUS").chrom == "1"  # the loci table's name is kept; the FASTA's 'chr1' was used
        x = torch.from_numpy(one_hot(seqs["chr1"][5_000 - WINDOW // 2 : 5_000 + WINDOW // 2]))[None]
        with torch.no_grad():
            want = tiny_enformer(x, return_only_embeddings=True)[0].numpy()
        assert np.allclose(store["MID"], want, rtol=1e-2, atol=1e-2)  # float16 on disk
        # forward strand by default (as the authors did) for the minus-strand locus
        x = torch.from_numpy(one_hot(seqs["chr1"][7_000 - WINDOW // 2 : 7_000 + WINDOW // 2]))[None]
        with torch.no_grad():
            fwd = tiny_enformer(x, return_only_embeddings=True)[0].numpy()
        assert np.allclose(store["MINUS"], fwd, rtol=1e-2, atol=1e-2)

    rc = embed_dna(
        fa_path,
        loci_path,
        tmp_path / "rc.h5",
        model=tiny_enformer,
        window=WINDOW,
        reverse_complement_minus=True,
        progress=False,
    )
    with DNAStore(rc) as store, torch.no_grad():
        x = torch.from_numpy(one_hot(reverse_complement(seqs["chr1"][7_000 - WINDOW // 2 : 7_000 + WINDOW // 2])))[None]
        want = tiny_enformer(x, return_only_embeddings=True)[0].numpy()[::-1]  # bins back in genome order
        assert np.allclose(store["MINUS"], want, rtol=1e-2, atol=1e-2)
        assert not np.allclose(store["MINUS"], fwd, rtol=1e-2, atol=1e-2)
        assert np.allclose(store["MID"], DNAStore(out)["MID"], rtol=1e-2, atol=1e-2)  # plus strand: as before


def test_embed_dna_resumes(genome, tmp_path, tiny_enformer):
    fa_path, loci_path, _ = genome
    loci = read_loci(loci_path)
    out = tmp_path / "dna.h5"
    partial = tmp_path / "dna.h5.partial"
    model = Counting(tiny_enformer)
    # an interrupted run: two loci done, a third cut short (dataset without its coordinate attributes)
    embed_dna(fa_path, loci.iloc[:2], out, model=model, window=WINDOW, progress=False)
    out.rename(partial)
    with h5py.File(partial, "a") as h5:
        h5["loci"].create_dataset("RIGHT", data=np.zeros((N_BINS, 96), np.float16))
    model.seen = 0
    embed_dna(fa_path, loci_path, out, model=model, window=WINDOW, progress=False)
    assert model.seen == 2 and not partial.exists()  # RIGHT redone, MINUS new; MID and LEFT skipped
    with DNAStore(out) as store:
        assert len(store) == 4 and np.abs(store["RIGHT"]).sum() > 0
    model.seen = 0
    embed_dna(fa_path, loci_path, out, model=model, window=WINDOW, progress=False)
    assert model.seen == 0  # complete store: nothing to do
    with pytest.raises(ContractError, match=r"attrs\['window'\]: existing store has '4096', this run '2048'"):
        embed_dna(fa_path, loci_path, out, model=model, window=WINDOW // 2, progress=False)


def test_embed_dna_bad_loci(genome, tmp_path, tiny_enformer):
    fa_path, loci_path, _ = genome
    base = read_loci(loci_path)
    cases = [
        (base.assign(chrom=["chr1", "chr1", "chr2", "chrX"]), r"locus 'MINUS': chromosome 'chrX' is not in the FASTA"),
        (base.assign(center=[5_000, 100, 6_000, 7_000]), r"locus 'RIGHT': chr2:6000 is outside the chromosome"),
        (base.assign(locus_id=["A", "A", "B", "C"]), "duplicate locus ids"),
        (base.assign(strand=["+", "+", "x", "+"]), "strand must be"),
        (base.drop(columns="chrom"), r"chrom: missing column"),
    ]
    for loci, msg in cases:
        with pytest.raises(ContractError, match=msg):
            embed_dna(fa_path, loci, tmp_path / "bad.h5", model=tiny_enformer, window=WINDOW, progress=False)
    assert not (tmp_path / "bad.h5").exists() and not (tmp_path / "bad.h5.partial").exists()


def test_cli_embed_dna_with_local_model_directory(genome, tmp_path, tiny_enformer):
    fa_path, loci_path, _ = genome
    tiny_enformer.save_pretrained(tmp_path / "model", safe_serialization=False)  # Enformer ties modules
    res = CliRunner().invoke(
        app,
        [
            "embed-dna",
            "--fasta",
            str(fa_path),
            "--loci",
            str(loci_path),
            "--out",
            str(tmp_path / "cli.h5"),
            "--model",
            str(tmp_path / "model"),
            "--window",
            str(WINDOW),
            "--genome",
            "hg38",
            "--batch-size",
            "2",
        ],
    )
    assert res.exit_code == 0, res.output
    with DNAStore(tmp_path / "cli.h5") as store:
        assert len(store) == 4 and store.genome == "hg38" and store["MID"].shape == (N_BINS, 96)


# --- weights that cannot be loaded: one message saying how to provide them ------------------------------------------

HOW_TO = (
    "give --model DIR: a directory with config.json and model.safetensors (or pytorch_model.bin), as written by "
    "save_pretrained or by `huggingface-cli download EleutherAI/enformer-official-rough --local-dir DIR` on a machine "
    "with network; the Enformer code comes with the dna extra (pip install 'cdt[dna]')"
)


def embed_cli(genome, tmp_path, model: str):
    fa_path, loci_path, _ = genome
    args = ["embed-dna", "--fasta", fa_path, "--loci", loci_path, "--out", tmp_path / "w.h5", "--model", model]
    res = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "400", "HF_HUB_OFFLINE": "1"})
    return res.exit_code, [line for line in res.stderr.splitlines() if line.strip()]


def test_missing_weights_directory_says_how_to_provide_them(genome, tmp_path):
    (tmp_path / "empty").mkdir()
    code, lines = embed_cli(genome, tmp_path, str(tmp_path / "nowhere"))
    assert code == 1 and lines[:2] == [
        f"error: {tmp_path / 'nowhere'}: Enformer weights directory does not exist",
        HOW_TO,
    ]
    code, lines = embed_cli(genome, tmp_path, str(tmp_path / "empty"))
    assert code == 1 and lines[0] == (
        f"error: {tmp_path / 'empty'}: no config.json, model.safetensors or pytorch_model.bin in the Enformer weights "
        "directory"
    )
    assert len(lines) == 3 and lines[1] == HOW_TO  # the message, the hint, the --debug pointer: no traceback
    (tmp_path / "empty" / "config.json").write_text("{}")
    with pytest.raises(WeightsUnavailableError, match=r"empty: no model.safetensors or pytorch_model.bin in the"):
        load_enformer(str(tmp_path / "empty"))
    assert not (tmp_path / "w.h5").exists() and not (tmp_path / "w.h5.partial").exists()


def test_unreachable_hub_and_missing_package_say_how_to_provide_weights(monkeypatch):
    class Offline:  # enformer_pytorch as it behaves without network and without a cached download
        @staticmethod
        def from_pretrained(name):
            raise OSError(f"We couldn't connect to 'https://huggingface.co' to load the files of {name}.\nCheck ...")

    monkeypatch.setitem(sys.modules, "enformer_pytorch", Offline)
    monkeypatch.setitem(sys.modules, "enformer_pytorch.modeling_enformer", type("M", (), {"Attention": None}))
    with pytest.raises(WeightsUnavailableError) as err:
        load_enformer("enformer")
    assert str(err.value) == (
        "cannot load the Enformer weights 'EleutherAI/enformer-official-rough': We couldn't connect to "
        "'https://huggingface.co' to load the files of EleutherAI/enformer-official-rough.\n" + HOW_TO
    )
    monkeypatch.setitem(sys.modules, "enformer_pytorch", None)  # not installed: import raises ImportError
    with pytest.raises(WeightsUnavailableError) as err:
        load_enformer("enformer")
    assert str(err.value).startswith("Enformer embeddings need the enformer-pytorch package (")
    assert err.value.hint == "install the dna extra: pip install 'cdt[dna]' (pip install -e '.[dna]' in a checkout)"

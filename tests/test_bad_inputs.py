"""Bad inputs fail before any work with one short message naming the file and the problem; good outputs survive.

Every bad file is made here from a tiny simulated data set. Through the command line each case must exit 1 with
at most three lines on stderr (the message, sometimes a hint, the --debug note) and no traceback; usage errors
exit 2. Interrupted commands (SIGKILL) must leave nothing that a later command reads as complete.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
import torch
from cdt.cli import app
from cdt.config import get_preset
from cdt.data import DNAStore, IncompleteOutputError, RunError, validate_screen
from cdt.data.staging import MARKER
from cdt.enrichment import read_gmt
from cdt.hic import HiC
from cdt.models import CDT1, CDT1Config
from cdt.models.checkpoints import load_checkpoint, save_checkpoint
from cdt.simulate import simulate
from cdt.train import TrainConfig, train
from cdt.train.runs import DataFiles, run_name
from typer.testing import CliRunner

DEBUG_NOTE = "(run with --debug or CDT_DEBUG=1 for the full traceback)"
CDT = [sys.executable, "-m", "cdt.cli"]


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> Path:
    """A finished tiny simulated data set (seed 0); tests copy it before changing anything."""
    out = tmp_path_factory.mktemp("sim") / "S"
    simulate("tiny", 0, out, progress=False)
    return out


@pytest.fixture
def data(sim, tmp_path) -> Path:
    d = tmp_path / "D"
    shutil.copytree(sim, d)
    return d


def digests(root: Path) -> dict[str, str]:
    """sha256 of every file under `root` (relative path -> digest)."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def cli(*args, env: dict | None = None) -> tuple[int, list[str]]:
    res = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "400", **(env or {})})
    return res.exit_code, [line for line in res.stderr.splitlines() if line.strip()]


def fails(args: list, *lines: str) -> None:
    """The command exits 1 printing exactly `lines` (first prefixed 'error: ') and the --debug note, nothing else."""
    code, err = cli(*args)
    assert (code, err) == (1, [f"error: {lines[0]}", *lines[1:], DEBUG_NOTE])
    assert len(err) <= 3 and not any("Traceback" in line for line in err)


def train_args(data: Path, runs: Path, model: str = "cdt2", *extra) -> list:
    return [
        "train",
        "--model",
        model,
        "--preset",
        "tiny",
        "--data",
        data,
        "--runs-dir",
        runs,
        "--epochs",
        1,
        "--no-progress",
        *extra,
    ]


def used_locus(data: Path) -> str:
    screen = ad.read_h5ad(data / "processed/screen_curated.h5ad", backed="r")
    loci = screen.obs.loc[screen.obs["kind"].astype(str) == "TSS", "locus"].astype(str)
    return sorted(set(loci))[0]


def rewrite_locus(store: Path, locus: str, make) -> None:
    """Replace one locus dataset by `make(old_array)`, keeping its coordinate attributes."""
    with h5py.File(store, "a") as h5:
        ds = h5["loci"][locus]
        old, attrs = ds[()], dict(ds.attrs)
        del h5["loci"][locus]
        h5["loci"].create_dataset(locus, data=make(old)).attrs.update(attrs)


# --- the DNA store ---------------------------------------------------------------------------------------------


def test_dna_store_nan_in_one_locus(data, tmp_path):
    dna, locus = data / "processed/dna.h5", used_locus(data)

    def with_nan(a):
        a = a.copy()
        a[3, 2] = np.nan
        return a

    rewrite_locus(dna, locus, with_nan)
    fails(train_args(data, tmp_path / "runs"), f"{dna}: /loci/{locus}: 1 non-finite values (first at bin 3, column 2)")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_dna_store_wrong_bin_count_strings_and_preset(data, tmp_path):
    dna, locus = data / "processed/dna.h5", used_locus(data)
    rewrite_locus(dna, locus, lambda a: a[:-1])
    fails(
        train_args(data, tmp_path / "runs"),
        f"{dna}: /loci/{locus}: shape [63, 16], but the store's [n_bins, dim] is [64, 16]; re-embed this locus",
    )
    rewrite_locus(dna, locus, lambda a: np.full(a.shape, b"0.5", dtype="S3"))
    fails(
        train_args(data, tmp_path / "runs"), f"{dna}: /loci/{locus}: stored as |S3 ('S' kind), not as float embeddings"
    )
    mini = get_preset("mini")
    args = train_args(data, tmp_path / "runs")
    args[args.index("tiny")] = "mini"
    fails(
        args,
        f"{dna}: n_bins/dim: DNA windows are [n_bins, dim] = [64, 16] but preset 'mini' expects "
        f"[{mini.n_bins}, {mini.dna_dim}]; use the preset the data were made for",
    )


def test_dna_store_missing_locus(data, tmp_path):
    dna, locus = data / "processed/dna.h5", used_locus(data)
    with h5py.File(dna, "a") as h5:
        del h5["loci"][locus]
    screen = data / "processed/screen_curated.h5ad"
    fails(train_args(data, tmp_path / "runs"), f"{screen}: obs['locus']: 1 loci not in DNA store {dna}: ['{locus}']")


def test_dna_store_locus_without_coordinates(data):
    dna, locus = data / "processed/dna.h5", used_locus(data)
    with h5py.File(dna, "a") as h5:
        del h5["loci"][locus].attrs["center"]
    with DNAStore(dna) as store, pytest.raises(ValueError) as e:
        store.locus(locus)
    assert str(e.value) == (
        f"{dna}: /loci/{locus}: coordinates need attributes chrom, center, strand, bin_size (integers where "
        "numeric); has ['bin_size', 'chrom', 'strand']"
    )


# --- screens, prepared sets and counts -------------------------------------------------------------------------


def test_validate_screen_takes_a_path(data):
    path = data / "processed/screen_curated.h5ad"
    assert validate_screen(path).shape == ad.read_h5ad(path).shape
    assert validate_screen(str(path)).n_obs > 0


def test_incomplete_marker_is_refused(data, tmp_path):
    (data / MARKER).write_text("processed/dna.h5\n")
    with pytest.raises(IncompleteOutputError, match="an interrupted write left this output set incomplete"):
        DNAStore(data / "processed/dna.h5")
    fails(
        train_args(data, tmp_path / "runs"),
        f"{data}: an interrupted write left this output set incomplete (dna.h5 may be from another run)",
        "rerun the command that made it",
    )


def prepare_args(raw: Path, counts: Path, out: Path) -> list:
    return [
        "prepare",
        "--counts",
        counts,
        "--guides",
        raw / "guide_umis.csv",
        "--snp-assignments",
        raw / "snp_assignments.csv",
        "--second-screen",
        raw / "screen2_detection.csv",
        "--out",
        out,
    ]


def test_non_integer_count_leaves_earlier_screens_intact(data, tmp_path):
    out = data / "processed"
    before = digests(out)
    counts = ad.read_h5ad(data / "raw/rna_counts.h5ad")
    counts.X = counts.X.astype(np.float64)
    counts.X.data[0] = 123456.5
    bad = tmp_path / "counts.h5ad"
    counts.write_h5ad(bad)
    row = np.searchsorted(counts.X.indptr, 0, side="right") - 1
    cell, gene = counts.obs_names[row], counts.var_names[counts.X.indices[0]]
    fails(
        prepare_args(data / "raw", bad, out),
        f"{bad}: X: counts must be non-negative integers (raw UMI counts, not normalised); 1 values are not, "
        f"first 123456.5 (cell {cell}, gene {gene})",
    )
    assert digests(out) == before


# --- CDT v1 pairs against their DNA store ----------------------------------------------------------------------


def test_v1_pairs_other_genome_build(data, tmp_path):
    pairs = data / "v1/pairs.csv"
    table = pd.read_csv(pairs)
    table["genome"] = "hg19"
    table.to_csv(pairs, index=False)
    fails(
        train_args(data, tmp_path / "runs", "cdt1"),
        f"{pairs}: genome: pair coordinates are hg19 but DNA store {data / 'v1/dna_enhancers.h5'} holds hg38 "
        "windows; lift the pairs over to hg38 (or re-embed on hg19) first",
    )


def test_v1_windows_far_from_pair_coordinates(data, tmp_path):
    pairs = data / "v1/pairs.csv"
    table = pd.read_csv(pairs)
    table["enhancer_center"] += 5_000_000
    table.to_csv(pairs, index=False)
    row = table.iloc[0]
    with DNAStore(data / "v1/dna_enhancers.h5") as store:
        centre = store.locus(row["enhancer_id"]).center
    fails(
        train_args(data, tmp_path / "runs", "cdt1"),
        f"{pairs}: enhancer_center: enhancer {row['enhancer_id']} is at {row['chrom']}:{row['enhancer_center']} but "
        f"its window in {data / 'v1/dna_enhancers.h5'} is centred at {row['chrom']}:{centre} (more than one "
        "128-bp bin away); re-embed the enhancers from these pairs",
    )


# --- checkpoints and run directories ---------------------------------------------------------------------------


def test_cdt1_checkpoint_as_init_from_for_cdt3(data, tmp_path):
    ckpt = save_checkpoint(
        tmp_path / "v1.pt", CDT1(CDT1Config.from_preset(get_preset("tiny"))), {"train_config": {"preset": "tiny"}}
    )
    fails(
        train_args(data, tmp_path / "runs", "cdt3", "--init-from", ckpt),
        f"{ckpt}: this is a CDT v1 checkpoint (preset tiny); --init-from for cdt3 needs a CDT-II run directory or "
        "checkpoint",
    )


def test_init_from_checks_model_preset_and_run_directory(tmp_path):
    from cdt.models import CDT2, CDT3, CDT2Config, CDT3Config
    from cdt.train.checks import check_init_checkpoint

    tiny = get_preset("tiny")
    cfg = TrainConfig.for_model("cdt3", "tiny")
    cdt3 = save_checkpoint(tmp_path / "c3.pt", CDT3(CDT3Config.from_preset(tiny)), {"train_config": {"preset": "tiny"}})
    with pytest.raises(RunError) as e:
        check_init_checkpoint(cdt3, cfg)
    assert str(e.value) == (
        f"{cdt3}: this is a CDT-III checkpoint (preset tiny); --init-from for cdt3 needs a CDT-II run directory or "
        "checkpoint"
    )
    mini = save_checkpoint(tmp_path / "c2.pt", CDT2(CDT2Config.from_preset(tiny)), {"train_config": {"preset": "mini"}})
    with pytest.raises(RunError) as e:
        check_init_checkpoint(mini, cfg)
    assert str(e.value) == (
        f"{mini}: this CDT-II checkpoint was trained with preset 'mini', this run uses 'tiny'\n"
        "pass a CDT-II of the same preset"
    )
    (tmp_path / "unfinished").mkdir()
    with pytest.raises(RunError, match="unfinished: --init-from names a directory without best.pt"):
        check_init_checkpoint(tmp_path / "unfinished", cfg)


def test_last_pt_of_another_config_is_not_resumed(data, tmp_path):
    first = train(TrainConfig.for_model("cdt2", "tiny", epochs=1), data, tmp_path, progress=False)
    other = TrainConfig.for_model("cdt2", "tiny", epochs=1, seed=1)
    run_dir = tmp_path / run_name(other, DataFiles.from_dir(data, "cdt2"))[0]
    run_dir.mkdir()
    shutil.copy(first.run_dir / "last.pt", run_dir / "last.pt")
    with pytest.raises(RunError, match=r"last.pt: written by another configuration \(config hash \w+, this run \w+\)"):
        train(other, data, tmp_path, progress=False)
    assert not (run_dir / "metrics.json").exists()
    (first.run_dir / "best.pt").unlink()  # a "finished" run without its best checkpoint is not reused
    with pytest.raises(RunError, match=r"marked finished but has no best.pt; not reusing it"):
        train(TrainConfig.for_model("cdt2", "tiny", epochs=1), data, tmp_path, progress=False)


def test_non_finite_loss_names_the_batch_and_leaves_no_run(data, tmp_path, monkeypatch):
    from cdt.train import tasks

    real = tasks.ScreenTask.loss

    def nan_loss(self, out, batch, lam):
        loss, parts = real(self, out, batch, lam)
        return loss * float("nan"), parts

    monkeypatch.setattr(tasks.ScreenTask, "loss", nan_loss)
    cfg, runs = TrainConfig.for_model("cdt2", "tiny", epochs=1), tmp_path / "runs"
    with pytest.raises(Exception, match=r"non-finite training loss at epoch 1, batch 1 of \d+: cells .+; loci .+") as e:
        train(cfg, data, runs, progress=False)
    assert type(e.value).__name__ == "TrainingError" and str(e.value).count("\n") == 1
    assert list(runs.iterdir()) == []  # no half-made run directory to be reused later
    monkeypatch.undo()
    assert train(cfg, data, runs, progress=False).finished


def test_run_without_best_checkpoint_is_not_finished(data, tmp_path, monkeypatch):
    from cdt.train import loop

    monkeypatch.setattr(loop, "better", lambda *a, **k: False)
    with pytest.raises(RunError, match="training ended without a best checkpoint"):
        train(TrainConfig.for_model("cdt2", "tiny", epochs=1), data, tmp_path, progress=False)
    assert not list(tmp_path.glob("*/metrics.json"))


# --- Hi-C and gene-set libraries -------------------------------------------------------------------------------


def test_truncated_cool_is_named(sim, tmp_path):
    good = (sim / "external/hic/contacts.cool").read_bytes()
    bad = tmp_path / "contacts.cool"
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError) as e:
        HiC(bad)
    assert str(e.value) == (
        f"{bad}: file: truncated or corrupt HDF5 file (Unable to synchronously open file (truncated file: "
        f"eof = {len(good) // 2}, sblock->base_addr = 0, stored_eof = {len(good)}))"
    )


def test_gmt_malformed_lines_and_encoding(tmp_path):
    gmt = tmp_path / "lib.gmt"
    gmt.write_text("Good\tdesc\tA\tB\nSpaced desc A B\nTermOnly\nNoGenes\tdesc\t\nGood\tdesc\tC\nAlso good\t\tD\tE\n")
    with pytest.raises(ValueError) as e:
        read_gmt(gmt)
    assert str(e.value) == (
        f"{gmt}: line 2: fewer than 3 tab-separated fields (term, description, genes) (space-separated?) "
        "(4 malformed lines: 2, 3, 4, 5)\nfix these lines, or read with strict=False to skip them"
    )
    with pytest.warns(UserWarning, match="skipped 4 malformed lines: 2, 3, 4, 5"):
        assert read_gmt(gmt, strict=False) == {"Good": ["A", "B"], "Also good": ["D", "E"]}
    latin = tmp_path / "latin.gmt"
    latin.write_bytes("Good\tdesc\tA\nCaf\u00e9\tdesc\tB\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin.gmt: line 2: not UTF-8 text; save the file as UTF-8$"):
        read_gmt(latin)


# --- usage errors and --debug ----------------------------------------------------------------------------------


def test_usage_errors_exit_2(tmp_path):
    code, err = cli("simulate", "--preset", "mimi", "--out", tmp_path / "x")
    assert code == 2 and "unknown preset 'mimi'; choose one of tiny, mini, paper" in " ".join(err)
    code, err = cli("reproduce", "--preset", "mimi")
    assert code == 2 and "unknown preset 'mimi'; choose one of tiny, mini, paper" in " ".join(err)
    code, err = cli("reproduce", "--data", "real")
    assert code == 2 and "--data real needs the directory with the authors' files" in " ".join(err)
    assert not (tmp_path / "x").exists()


def test_debug_shows_the_traceback(data, tmp_path):
    rewrite_locus(data / "processed/dna.h5", used_locus(data), lambda a: a[:-1])
    for args, env in (((["--debug"]), None), ([], {"CDT_DEBUG": "1"})):
        res = CliRunner().invoke(app, [str(a) for a in args + train_args(data, tmp_path / "runs")], env=env)
        assert res.exit_code == 1 and type(res.exception).__name__ == "ContractError"


# --- interrupted commands --------------------------------------------------------------------------------------


def test_interrupted_publish_leaves_a_marker_until_a_run_completes(tmp_path, monkeypatch):
    from cdt.data import staging

    out = tmp_path / "out"
    for name in ("a.txt", "sub/b.txt", "manifest.json"):
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text("old")
    real, moved = os.replace, []

    def replace_twice(src, dst):
        if len(moved) == 1:
            raise OSError("disk full")
        moved.append(dst)
        real(src, dst)

    monkeypatch.setattr(staging.os, "replace", replace_twice)
    with pytest.raises(OSError, match="disk full"), staging.staged_output(out, last="manifest.json") as stage:
        for name in ("a.txt", "sub/b.txt", "manifest.json"):
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            (stage / name).write_text("new")
    assert (out / "a.txt").read_text() == "new" and not (out / "manifest.json").exists()
    with pytest.raises(IncompleteOutputError, match=f"{out}: an interrupted write left this output set incomplete"):
        staging.check_complete(out / "sub/b.txt")
    monkeypatch.undo()
    with staging.staged_output(out, last="manifest.json") as stage:
        (stage / "manifest.json").write_text("new")
    assert not (out / MARKER).exists() and not staging.staging_dir(out).exists()
    staging.check_complete(out / "sub/b.txt")


class FailingEmbedder(torch.nn.Module):
    """A stand-in for Enformer: [B, 4096, 4] one-hot -> [B, 16, 8]; raises after `calls` loci."""

    def __init__(self, calls: int):
        super().__init__()
        self.calls = calls

    def forward(self, x, return_only_embeddings=True):
        if self.calls == 0:
            raise RuntimeError("embedder failed")
        self.calls -= x.shape[0]
        return x.reshape(x.shape[0], 16, 256, 4).mean(2).repeat(1, 1, 2).float()


def test_failed_embed_dna_extension_keeps_the_finished_store(tmp_path):
    from cdt.pp import embed_dna

    rng = np.random.default_rng(0)
    fasta = tmp_path / "g.fa"
    fasta.write_text(">chr1\n" + "".join(rng.choice(list("ACGT"), 20_000)) + "\n")
    loci = pd.DataFrame({"locus_id": ["A", "B", "C"], "chrom": "chr1", "center": [5_000, 10_000, 15_000]})
    out = tmp_path / "dna.h5"
    embed_dna(fasta, loci.iloc[:2], out, model=FailingEmbedder(2), window=4096, progress=False)
    before = out.read_bytes()
    with pytest.raises(RuntimeError, match="embedder failed"):
        embed_dna(fasta, loci, out, model=FailingEmbedder(0), window=4096, progress=False)
    assert out.read_bytes() == before  # the finished two-locus store is still there, unchanged
    embed_dna(fasta, loci, out, model=FailingEmbedder(1), window=4096, progress=False)  # resumes: only C is new
    with DNAStore(out) as store:
        assert sorted(store.loci_ids()) == ["A", "B", "C"]


def kill_when(cmd: list, ready, delay: float = 0.0, timeout: float = 120.0) -> None:
    """Start `cmd`, SIGKILL it `delay` seconds after `ready()` is true (it must not finish first)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([str(c) for c in cmd], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert proc.poll() is None, "the command finished before it could be interrupted"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(delay)
        assert proc.poll() is None, "the command finished before it could be interrupted"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def test_killed_simulate_leaves_the_earlier_set_intact(sim, tmp_path):
    out = tmp_path / "S"
    shutil.copytree(sim, out)
    before = digests(out)
    stage = tmp_path / ".S.partial"
    kill_when(
        [*CDT, "simulate", "--preset", "tiny", "--seed", "1", "--out", out], lambda: (stage / "raw").exists(), delay=1.0
    )
    assert digests(out) == before  # every file still the seed-0 set, manifest included
    with DNAStore(out / "processed/dna.h5") as store:  # and readers take it as complete
        assert len(store) > 0


def test_killed_prepare_leaves_the_earlier_screens_intact(data, tmp_path):
    out = data / "processed"
    before = digests(out)
    stage = data / ".processed.partial"
    kill_when([*CDT, *prepare_args(data / "raw", data / "raw/rna_counts.h5ad", out)], stage.exists, delay=0.5)
    assert digests(out) == before
    assert validate_screen(out / "screen_curated.h5ad").n_obs > 0


def test_killed_train_is_resumed_not_reused(data, tmp_path):
    runs = tmp_path / "runs"
    kill_when(
        [*CDT, "train", "--model", "cdt2", "--preset", "tiny", "--data", data, "--runs-dir", runs, "--epochs", 2],
        lambda: any(runs.glob("*/last.pt")),
    )
    assert not list(runs.glob("*/metrics.json"))
    res = train(TrainConfig.for_model("cdt2", "tiny", epochs=2), data, runs, progress=False)
    assert (res.reused, res.finished) == (False, True) and len(res.history) >= 2
    assert load_checkpoint(res.best_checkpoint)[1]["epoch"] >= 1


def test_reproduce_seeds_must_be_distinct_integers_on_synthetic_data(tmp_path):
    fails(["reproduce", "--seeds", "1,1", "--out", tmp_path / "paper"], "--seeds 1,1: give distinct seeds")
    wide = {"COLUMNS": "400"}
    res = CliRunner().invoke(app, ["reproduce", "--seeds", "0,x", "--out", str(tmp_path / "paper")], env=wide)
    assert res.exit_code == 2 and "'0,x': comma-separated integers, e.g. 0,1,2" in res.output
    res = CliRunner().invoke(
        app, ["reproduce", "--data", "real", "--data-dir", str(tmp_path), "--seeds", "0,1"], env=wide
    )
    assert res.exit_code == 2 and "use it with --data synthetic" in res.output
    assert not (tmp_path / "paper").exists()

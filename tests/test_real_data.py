"""The authors' files and published weights end to end: conversion cache, weights, skipped models, report.

The slow test writes the authors' layouts at the real dimensions (few cells, random content, random weights in
both published formats) and runs ``cdt reproduce --data real`` through every notebook.
"""

import csv
import hashlib
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from cdt import reproduce
from cdt.analyses.cd52 import protein_genes
from cdt.attention import attention_batch_size
from cdt.data.authors import choose_val_genes
from cdt.models.cdt3 import CDT3, CDT3Config
from cdt.models.checkpoints import CheckpointError, load_published
from cdt.pl._layout import saved_problems
from cdt.report import write_report
from cdt.train import open_run

sys.path.insert(0, str(Path(__file__).parent))
from authors_files import HELD_OUT, REAL_CELLS, write_authors_files, write_authors_v1_files  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _small_cdt3() -> CDT3:
    torch.manual_seed(0)
    return CDT3(
        CDT3Config(
            n_genes=6, n_proteins=3, n_bins=4, dna_dim=5, d_model=8, n_heads=4, pool_heads=2, ffn_dim=16, dropout=0.1
        )
    )


def test_published_cdt3_format_loads_with_its_hyperparameters(tmp_path):
    model = _small_cdt3()
    path = tmp_path / "cdt_2stage_vce_best.pt"
    torch.save(
        {
            "model_state_dict": model.state_dict(),
            "config": {"nhead": 4, "dropout": 0.1, "protein_dropout": 0.25},
            "model_config": {"n_genes": 6, "n_proteins": 3, "hidden_dim": 8, "nhead": 2, "dropout": 0.2},
            "epoch": 3,
            "expressed_mask": np.array([True, False, True]),
        },
        path,
    )
    loaded, meta = load_published(path)
    assert isinstance(loaded, CDT3)
    # sizes from the weights; heads and dropouts from the file, model_config over config
    assert (loaded.cfg.n_genes, loaded.cfg.n_proteins, loaded.cfg.d_model) == (6, 3, 8)
    assert (loaded.cfg.n_heads, loaded.cfg.dropout, loaded.cfg.protein_dropout) == (2, 0.2, 0.25)
    assert meta["expressed_mask"].dtype == bool and meta["expressed_mask"].tolist() == [True, False, True]
    for k, v in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v)
    run = open_run(path)  # what the notebooks call
    assert isinstance(run.model, CDT3) and run.extra["epoch"] == 3


def test_published_checkpoint_that_fits_no_model_names_the_keys(tmp_path):
    state = _small_cdt3().state_dict()
    del state["protein_task_layer.3.bias"]
    torch.save({"model_state_dict": state}, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match=r"bad\.pt: state_dict: does not fit CDT3; missing keys \(1\)"):
        load_published(tmp_path / "bad.pt")


def test_validation_genes_are_seeded_training_targets():
    targets = sorted(REAL_CELLS)
    val = choose_val_genes(targets, HELD_OUT, seed=0)
    assert len(val) == 4 and val == sorted(val)  # a fifth of the 22 training targets
    assert not set(val) & set(HELD_OUT) and set(val) <= set(targets)
    assert choose_val_genes(targets, HELD_OUT, seed=0) == val
    assert choose_val_genes(targets, HELD_OUT, seed=1) != val
    assert choose_val_genes(["A", "B", "GFI1B"], ["GFI1B"]) == []  # round(0.4) = 0
    with pytest.raises(ValueError, match="2 validation genes leave fewer than one training target among 2"):
        choose_val_genes(["A", "B"], [], n=2)


def test_attention_batch_size_follows_the_dimensions():
    def model(n_genes, n_bins, n_heads):
        cfg = SimpleNamespace(n_bins=n_bins, n_heads=n_heads, n_dna_layers=2, n_rna_layers=1)
        return SimpleNamespace(cfg=cfg), SimpleNamespace(n_vars=n_genes)

    paper, screen = model(2361, 896, 8)
    per_cell = 2 * 4 * 8 * 2361 * 2361  # scores + weights of one [8, 2361, 2361] float32 map
    assert attention_batch_size(paper, screen, ["rna_self_0"]) == (1 << 30) // per_cell == 3
    every = per_cell + 2 * 4 * 8 * (2 * 896 * 896 + 2361 * 896)
    assert attention_batch_size(paper, screen) == max(1, (1 << 30) // every) == 1
    assert attention_batch_size(*model(64, 64, 4)) == 16  # small presets keep the old default


def test_adt_table_covers_the_189_proteins():
    with open(REPO / "data" / "adt_gene_symbols.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    ids = [r["morris_adt_id"] for r in rows]
    assert len(ids) == 189 == len(set(ids)) and all(r["gene_symbol"] for r in rows)
    table = {r["morris_adt_id"]: r["gene_symbol"] for r in rows}
    assert (table["ADT-0033"], table["ADT-0394"], table["ADT-0142"], table["ADT-0801"]) == (
        "CD52",
        "TFRC",
        "FCGR2A",
        "NCR3",
    )
    screen = SimpleNamespace(uns={"protein_names": np.array(ids)})
    genes = protein_genes(screen, REPO / "data" / "adt_gene_symbols.csv")
    assert genes.notna().all() and genes["ADT-1052"] == "GGT1"


@pytest.fixture
def small_real_dir(authors_files, tmp_path):
    """The conftest's small authors' files (8 bins x 4 dims) in one directory, with a CDT-II checkpoint file."""
    f = authors_files()
    d = f.effects.parent
    torch.save({"w": torch.zeros(1)}, d / "cdt_morris_celllevel_best.pt")  # only listed here, never loaded
    return d


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_conversion_keyed_by_the_files_present(small_real_dir, tmp_path):
    d, root = small_real_dir, tmp_path / "processed"
    first = reproduce.real_paths(d, root)
    out = Path(first.screen).parent
    assert out.name.startswith("real-") and (out / "inputs.json").exists()
    assert [f["name"] for f in first.inputs] == [
        "morris_celllevel_effects_2361.h5",
        "morris_28genes_enformer.h5",
        "morris_snp_celllevel_effects_2361.h5",
        "morris_snp_enformer.h5",
        "morris_celllevel_effects_with_adt.h5",
        "cdt_morris_celllevel_best.pt",
    ]
    assert all(
        f["sha256"] == _sha256(d / f["name"]) and f["size"] == (d / f["name"]).stat().st_size for f in first.inputs
    )
    assert first.cdt2_checkpoint == str(d / "cdt_morris_celllevel_best.pt") and first.cdt3_checkpoint is None
    stamp = (out / "inputs.json").stat().st_mtime_ns
    assert reproduce.real_paths(d, root).screen == first.screen  # same files: reused, not converted again
    assert (out / "inputs.json").stat().st_mtime_ns == stamp

    adt = d / "morris_celllevel_effects_with_adt.h5"
    adt.rename(tmp_path / adt.name)
    without = reproduce.real_paths(d, root)
    assert Path(without.screen).parent != out and not reproduce._has_proteins(without.screen)
    (tmp_path / adt.name).rename(adt)  # the optional file appears (again): the conversion with proteins is used
    assert reproduce.real_paths(d, root).screen == first.screen and reproduce._has_proteins(first.screen)
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".")) == []  # no staging left behind


def test_preset_must_fit_the_data(small_real_dir, tmp_path):
    paths = reproduce.real_paths(small_real_dir, tmp_path / "processed")
    with pytest.raises(ValueError, match=r"DNA windows \[8, 4\] with 8 genes fit no preset \(tiny: \[64, 16\]"):
        reproduce.preset_for_data(paths.dna, paths.screen)


def test_models_without_weights_are_listed_not_trained(small_real_dir, tmp_path):
    paths = reproduce.real_paths(small_real_dir, tmp_path / "processed")
    ctx = reproduce.Context("real", "tiny", 0, str(tmp_path / "out"), paths)
    reproduce.real_models(ctx, tmp_path / "runs", "paper", {}, train_missing=False)
    assert ctx.runs == {"cdt2": paths.cdt2_checkpoint}
    assert ctx.weights == {"cdt2": "published (cdt_morris_celllevel_best.pt)"}
    assert list(ctx.skipped) == ["cdt3", "cdt3_single", "cdt2_full", "cdt1"]
    assert ctx.skipped["cdt3"].startswith(
        "CDT-III two-stage: no published weights; needs a training run: `cdt train --model cdt3 --preset tiny "
        f"--screen {paths.screen} --dna {paths.dna} --init-from {paths.cdt2_checkpoint}` (up to "
    )
    assert "GPU advised" in ctx.skipped["cdt3"] and "--train-missing" in ctx.skipped["cdt3"]
    assert "no 9,335-gene effects file" in ctx.skipped["cdt2_full"]
    assert not (tmp_path / "runs").exists()  # nothing trained
    assert reproduce.skipped_lines(ctx)[0].startswith("skipped CDT-III two-stage: no published weights")


def test_report_lists_files_weights_and_skipped_models(tmp_path):
    files = [{"name": "a.h5", "size": 1234567, "sha256": "ab" * 32}]
    path = write_report(
        tmp_path,
        {"data": "real (authors' files)"},
        weights={"cdt2": "published (cdt_morris_celllevel_best.pt)"},
        skipped=["skipped CDT v1: not run"],
        files=files,
    )
    text = path.read_text()
    assert f"| a.h5 | 1,234,567 | `{'ab' * 32}` |" in text
    assert "| cdt2 | published (cdt_morris_celllevel_best.pt) |" in text
    assert "## Models not run\n\n- skipped CDT v1: not run\n" in text


@pytest.mark.realdims
def test_reproduce_on_the_authors_files_at_real_dimensions(tmp_path):
    data = tmp_path / "authors"
    write_authors_files(data, cells_per_target=2)
    write_authors_v1_files(data)
    out = tmp_path / "paper"
    done = subprocess.run(
        [sys.executable, "-m", "cdt.cli", "reproduce", "--data", "real", "--data-dir", str(data), "--out", str(out)]
        + ["--runs-dir", str(tmp_path / "runs")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = (out / "REPORT.md").read_text()
    assert "- **data**: real (authors' files)" in report and "- **preset**: paper" in report
    assert "| cdt2 | published (cdt_morris_celllevel_best.pt) |" in report
    assert "| cdt3 | published (cdt_2stage_vce_best.pt) |" in report
    assert "skipped CDT-III single-stage ablation: no published weights; needs a training run" in report
    assert (
        "skipped CDT v1: no published weights; needs a training run: `cdt train --model cdt1 --preset paper" in report
    )
    assert "| pilot_full_v2.h5 |" in report
    assert "| morris_28genes_enformer.h5 |" in report
    executed = sorted(p.name for p in (out / "notebooks").glob("*.ipynb"))
    assert executed == sorted(p.stem + ".ipynb" for p in reproduce.notebooks())
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # nothing was trained
    assert saved_problems(out / "figures") == {}  # laid out cleanly at the real dimensions too


def test_micro_batches_add_up_to_the_batch(tmp_path, monkeypatch):
    """Paper-scale training in less memory: a batch cut into micro-batches takes the same optimiser steps."""
    from cdt.config import PRESETS
    from cdt.models.checkpoints import load_checkpoint
    from cdt.train import TrainConfig, train
    from test_train import make_screen_dir

    monkeypatch.setitem(PRESETS, "tiny", PRESETS["tiny"].with_(dropout=0.0, protein_dropout=0.0))  # deterministic
    data = make_screen_dir(tmp_path / "data")
    cfg = TrainConfig.for_model("cdt2", "tiny", epochs=2)
    whole = train(cfg, data, tmp_path / "runs", progress=False)
    parts = train(cfg.with_(micro_batch=3), data, tmp_path / "runs", progress=False)
    assert parts.run_dir != whole.run_dir
    ma, _ = load_checkpoint(whole.best_checkpoint)
    mb, _ = load_checkpoint(parts.best_checkpoint)
    # summation order only; AdamW divides each update by the gradient's running RMS, so an element whose gradient
    # is ~0 can step by +-lr either way: allow that for a few elements, nowhere more than 2 lr per step
    lr, n_steps = cfg.phases[0].lr, 2 * 100  # 2 epochs of at most 100 batches
    a, b = ma.state_dict(), mb.state_dict()
    close = [torch.isclose(b[k], v, rtol=1e-3, atol=1e-4) for k, v in a.items() if v.is_floating_point()]
    assert torch.cat([c.flatten() for c in close]).float().mean() > 0.99
    assert max((b[k] - v).abs().max().item() for k, v in a.items() if v.is_floating_point()) <= 2 * lr * n_steps
    loss_parts, loss_whole = parts.history["train_loss"], whole.history["train_loss"]
    np.testing.assert_allclose(loss_parts[0], loss_whole[0], rtol=1e-5)  # the first epoch: the same steps
    np.testing.assert_allclose(loss_parts[1], loss_whole[1], rtol=1e-3)  # after those few +-lr elements
    with pytest.raises(ValueError, match=r"TrainConfig.micro_batch=0 must be >= 1 \(or None\)"):
        cfg.with_(micro_batch=0)


def test_rows_and_columns_jacobian_equals_the_full_one_where_it_is_read(tiny_screen, tiny_dna_store):
    """Notebook 07 at the paper's size: only the perturbed genes' rows (backward) and columns (forward mode)."""
    from cdt.analyses import baselines as ab
    from test_analyses_baselines import _tiny_cdt2

    a = tiny_screen(n_genes=8, seed=4)
    store = tiny_dna_store(sorted(set(a.obs["locus"].astype(str)) - {""}), n_bins=6, dim=4)
    model = _tiny_cdt2()
    full = ab.mean_jacobian(model, a, store, ["B2M", "GFI1B"])
    genes = [str(a.var_names[1]), str(a.var_names[5]), "NOT_A_GENE"]
    part = ab.mean_jacobian(model, a, store, ["B2M", "GFI1B"], genes=genes)
    idx = [1, 5]
    for m in ("mean_abs", "mean"):
        f, p = getattr(full, m), getattr(part, m)
        np.testing.assert_allclose(p[idx, :], f[idx, :], rtol=1e-5, atol=1e-7)  # rows: d out_g / d in
        np.testing.assert_allclose(p[:, idx], f[:, idx], rtol=1e-5, atol=1e-7)  # columns: d out / d in_g
        rest = np.ones_like(p, dtype=bool)
        rest[idx, :] = rest[:, idx] = False
        assert (p[rest] == 0).all() and (f[rest] != 0).any()
    assert part.meta["rows_and_columns_of"] == genes[:2]

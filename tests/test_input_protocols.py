"""Input protocols: under `control` and `ntc-mean` no input value of a perturbed cell reaches the model; `cell`
keeps the runs (names, weights, metrics) made before input protocols existed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from cdt.cli import app
from cdt.data.errors import ContractError
from cdt.data.screen import read_screen, write_screen
from cdt.train import DataFiles, TrainConfig, load_run, train
from cdt.train import loop as train_loop
from cdt.train.data import ScreenData, control_draw, protocol_inputs
from cdt.train.runs import TRAINER_VERSION, file_fingerprint, run_name
from test_train import cfg_for, make_screen_dir
from typer.testing import CliRunner


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return make_screen_dir(tmp_path_factory.mktemp("data"))


@pytest.fixture(autouse=True)
def _threads():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def screen_files(data_dir: Path) -> DataFiles:
    return DataFiles(dna=str(data_dir / "processed/dna.h5"), screen=str(data_dir / "processed/screen_curated.h5ad"))


def recorded_inputs(monkeypatch) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Patch the trainer's model builder so every forward call records its RNA and protein inputs."""
    seen: list[tuple[np.ndarray, np.ndarray | None]] = []
    build = train_loop.build_model

    def build_and_hook(cfg, data):
        model = build(cfg, data)

        def hook(module, args, kwargs):
            protein = args[2].detach().numpy().copy() if len(args) > 2 else None
            seen.append((args[1].detach().numpy().copy(), protein))

        model.register_forward_pre_hook(hook, with_kwargs=True)
        return model

    monkeypatch.setattr(train_loop, "build_model", build_and_hook)
    return seen


def rows_of(x: np.ndarray, table: np.ndarray) -> np.ndarray:
    """For each row of x, whether it equals some row of `table` exactly."""
    return (x[:, None, :] == table[None, :, :]).all(-1).any(1)


def test_control_inputs_are_ntc_cells_only(data_dir, tmp_path, monkeypatch):
    screen = read_screen(data_dir / "processed/screen_curated.h5ad")
    kind = screen.obs["kind"].astype(str).to_numpy()
    x, protein = np.asarray(screen.X, np.float32), np.asarray(screen.obsm["protein"], np.float32)
    ntc, perturbed = kind == "NTC", kind != "NTC"
    seen = recorded_inputs(monkeypatch)
    run = train(cfg_for("cdt3-single", input_protocol="control", epochs=1), data_dir, tmp_path, progress=False)
    assert run.finished and sum(p is None for _, p in seen) >= 2 and sum(p is not None for _, p in seen) >= 2
    rna_in = np.concatenate([r for r, _ in seen])
    prot_in = np.concatenate([p for _, p in seen if p is not None])
    assert rows_of(rna_in, x[ntc]).all() and not rows_of(rna_in, x[perturbed]).any()
    assert rows_of(prot_in, protein[ntc]).all() and not rows_of(prot_in, protein[perturbed]).any()
    # RNA and protein of one input come from the same NTC cell
    pairs = np.concatenate([x[ntc], protein[ntc]], 1)
    both = np.concatenate([np.concatenate([r, p], 1) for r, p in seen if p is not None])
    assert rows_of(both, pairs).all()
    # its CDT-II dependency trained under `control` as well, and the runs say so
    assert run.run_dir.name.startswith("cdt3-single-tiny-paper-control-")
    info = json.loads((run.run_dir / "config.json").read_text())
    assert info["input_protocol"] == "control" and info["config"]["input_protocol"] == "control"
    assert run.metrics["input_protocol"] == "control"
    assert load_run(run.metrics["init"]["from"]).config.input_protocol == "control"


def test_control_draws_fresh_in_training_and_fixed_in_evaluation(data_dir):
    files = screen_files(data_dir)
    data = ScreenData(files.screen, files.dna, ("TSS", "SNP"), input_protocol="control")
    cells = list(range(len(data)))
    eval_a, eval_b = data.collate(cells), data.collate(cells)
    assert torch.equal(eval_a.rna, eval_b.rna)
    epoch0, epoch1 = data.collate(cells, epoch=0), data.collate(cells, epoch=0)
    assert torch.equal(epoch0.rna, epoch1.rna)  # the same epoch (e.g. after a resume) draws the same cells
    assert not torch.equal(data.collate(cells, epoch=1).rna, epoch0.rna)
    assert torch.equal(eval_a.target, data.target)  # the target stays the cell's own
    # the evaluation draw is the one the analyses' input view uses
    screen = read_screen(data_dir / "processed/screen_curated.h5ad")
    view = protocol_inputs(screen, "control", seed=0)
    keep = screen.obs["kind"].astype(str).isin(["TSS", "SNP"]).to_numpy()
    np.testing.assert_array_equal(np.asarray(view.X)[keep], eval_a.rna.numpy())
    np.testing.assert_array_equal(view.layers["log2fc"], screen.layers["log2fc"])
    assert view.uns["input_protocol"] == "control" and protocol_inputs(screen, "cell") is screen


def test_control_draw_is_seeded_and_uniform():
    a, b = control_draw(20_000, 7, seed=3), control_draw(20_000, 7, seed=3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, control_draw(20_000, 7, seed=4))
    assert not np.array_equal(a, control_draw(20_000, 7, seed=3, epoch=0))
    counts = np.bincount(a, minlength=7)
    assert counts.min() > 2600 and counts.max() < 3100  # 20000 / 7 = 2857 each


def test_ntc_mean_inputs(data_dir, tmp_path, monkeypatch):
    screen = read_screen(data_dir / "processed/screen_curated.h5ad")
    ntc = screen.obs["kind"].astype(str).to_numpy() == "NTC"
    seen = recorded_inputs(monkeypatch)
    train(cfg_for("cdt3-single", input_protocol="ntc-mean", epochs=1), data_dir, tmp_path, progress=False)
    rna_in = np.concatenate([r for r, _ in seen])  # the CDT-II it starts from, then CDT-III
    prot_in = np.concatenate([p for _, p in seen if p is not None])
    np.testing.assert_array_equal(
        rna_in, np.broadcast_to(screen.var["ntc_mean_expr"].to_numpy(np.float32), rna_in.shape)
    )
    want = (screen.obsm["protein"] - screen.obsm["protein_target"])[ntc].mean(0)
    np.testing.assert_allclose(prot_in, np.broadcast_to(want, prot_in.shape), rtol=1e-6, atol=1e-6)


def test_cell_inputs_are_the_cells_own_and_runs_keep_their_names(data_dir, tmp_path, monkeypatch):
    screen = read_screen(data_dir / "processed/screen_curated.h5ad")
    keep = screen.obs["kind"].astype(str).isin(["TSS", "SNP"]).to_numpy()
    seen = recorded_inputs(monkeypatch)
    cfg = cfg_for("cdt2", epochs=1)
    run = train(cfg, data_dir, tmp_path, progress=False)
    rna_in = np.concatenate([r for r, _ in seen])
    assert rows_of(rna_in, np.asarray(screen.X, np.float32)[keep]).all()
    # the default is left out of the config, so the run name is the hash runs had before input protocols
    files = screen_files(data_dir)
    assert "input_protocol" not in cfg.to_dict() and TrainConfig.from_dict(cfg.to_dict()) == cfg
    payload = {
        "trainer": TRAINER_VERSION,
        "config": {**cfg.to_dict(), "init_from": None},
        "data": {k: file_fingerprint(v) for k, v in files.paths().items()},
        "init": None,
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]
    assert run.run_dir.name == run_name(cfg, files)[0] == f"cdt2-tiny-paper-{digest}"
    assert run.metrics["input_protocol"] == "cell"


def test_protocols_need_what_they_read(data_dir, tmp_path):
    screen = read_screen(data_dir / "processed/screen_curated.h5ad")
    no_ntc = screen[screen.obs["kind"].astype(str) != "NTC"].copy()
    path = tmp_path / "processed/screen_curated.h5ad"
    write_screen(no_ntc, path)
    files = DataFiles(dna=str(data_dir / "processed/dna.h5"), screen=str(path))
    with pytest.raises(ContractError, match=r"screen_curated\.h5ad: obs\['kind'\]: no NTC cells: the 'control'"):
        train(cfg_for("cdt2", input_protocol="control"), files, tmp_path / "runs", progress=False)
    with pytest.raises(ContractError, match="no NTC cells"):
        protocol_inputs(no_ntc, "control")
    with pytest.raises(ValueError, match="TrainConfig.input_protocol='control': CDT v1 has no RNA or protein input"):
        cfg_for("cdt1", input_protocol="control")
    with pytest.raises(ValueError, match="input_protocol='leak'; choose one of cell, control, ntc-mean"):
        cfg_for("cdt2", input_protocol="leak")


def test_cli_trains_under_control(data_dir, tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "train",
            "--model",
            "cdt2",
            "--preset",
            "tiny",
            "--data",
            str(data_dir),
            "--runs-dir",
            str(tmp_path),
            "--epochs",
            "1",
            "--input-protocol",
            "control",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    (run_dir,) = tmp_path.iterdir()
    assert run_dir.name.startswith("cdt2-tiny-paper-control-")
    assert json.loads((run_dir / "config.json").read_text())["input_protocol"] == "control"

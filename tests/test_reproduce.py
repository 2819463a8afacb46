"""The reproduction's data cache and notebook runner (the full run is the tox smoke step)."""

import json

import cdt.simulate
import pytest
from cdt import reproduce
from cdt.config import get_preset


def test_simulated_data_reused_only_for_the_same_preset(tmp_path, monkeypatch):
    calls = []

    def fake_simulate(preset, seed, out):
        calls.append(out.name)
        out.mkdir(parents=True, exist_ok=True)
        (out / "manifest.json").write_text(json.dumps({"seed": seed}))

    monkeypatch.setattr(cdt.simulate, "simulate", fake_simulate)
    paths = reproduce.get_synthetic_data("tiny", 3, tmp_path)
    assert paths.screen.endswith("synthetic-tiny-seed3/processed/screen_curated.h5ad")
    reproduce.get_synthetic_data("tiny", 3, tmp_path)
    assert len(calls) == 1  # reused
    stamp = tmp_path / "synthetic-tiny-seed3" / "preset.json"
    stamp.write_text(json.dumps(get_preset("tiny").with_(n_bins=8).to_dict(), sort_keys=True))
    reproduce.get_synthetic_data("tiny", 3, tmp_path)
    assert len(calls) == 2  # stale preset -> simulated again
    assert not list(tmp_path.glob(".*partial"))  # staging directory renamed away


def test_failing_notebook_names_notebook_and_cell(tmp_path):
    source = tmp_path / "99_broken.py"
    source.write_text('# %% tags=["parameters"]\nout_dir = ""\n\n# %%\nx = 1\n\n# %%\nraise ValueError("boom")\n')
    with pytest.raises(reproduce.NotebookFailed, match=r"99_broken\.py: cell \d+ .*ValueError: boom"):
        reproduce.execute_notebook(source, tmp_path / "out", {"out_dir": str(tmp_path)})
    assert (tmp_path / "out" / "notebooks" / "99_broken.ipynb").exists()  # the executed copy with the traceback


def test_context_round_trip(tmp_path):
    paths = reproduce.synthetic_paths(tmp_path / "d")
    ctx = reproduce.Context("synthetic", "tiny", 0, str(tmp_path), paths, {"cdt2": "runs/x"})
    ctx.save()
    back = reproduce.Context.load(tmp_path)
    assert back == ctx and back.synthetic and back.source_label == "synthetic (tiny, seed 0)"
    with pytest.raises(FileNotFoundError, match="run `cdt reproduce` first"):
        reproduce.Context.load(tmp_path / "missing")


def test_models_needed_adds_the_runs_a_model_starts_from_in_training_order():
    assert reproduce.models_needed(["cdt3", "cdt1"]) == ["cdt2", "cdt3", "cdt1"]
    assert reproduce.models_needed(["cdt2_full", "cdt2"]) == ["cdt2", "cdt2_full"]
    # the single-stage ablation starts from the same CDT-II weights (`cdt train` would train one itself)
    assert reproduce.models_needed(["cdt3_single"]) == ["cdt2", "cdt3_single"]
    assert reproduce.models_needed(None) == list(reproduce.SYNTHETIC_RUNS)
    with pytest.raises(ValueError, match=r"unknown model key\(s\) \['cdt9'\]; known: cdt2, cdt2_full"):
        reproduce.models_needed(["cdt9"])


def test_a_notebook_opened_alone_takes_the_last_reproductions_synthetic_preset(tmp_path):
    assert reproduce.last_preset(tmp_path) is None
    (tmp_path / "context.json").write_text(json.dumps({"data_source": "synthetic", "preset": "mini"}))
    assert reproduce.last_preset(tmp_path) == "mini"
    (tmp_path / "context.json").write_text(json.dumps({"data_source": "real", "preset": "paper"}))
    assert reproduce.last_preset(tmp_path) is None


def test_reproduce_seeds_runs_each_seed_into_its_own_directory_and_reports_the_spread(tmp_path, monkeypatch):
    from cdt.report import Numbers

    calls = []

    def one_seed(*, seed, out_dir, **kwargs):  # stands in for a whole reproduction
        calls.append((seed, out_dir.name, kwargs["preset"], kwargs["only"]))
        nums = Numbers("04_rna_module", out_dir, f"synthetic (tiny, seed {seed})")
        nums.add(key=("beyond", "text", "a number"), value=10.0 * seed)
        nums.save()

    monkeypatch.setattr(reproduce, "reproduce", one_seed)
    report = reproduce.reproduce_seeds([0, 2], preset="tiny", out_dir=tmp_path, only=["04"]).read_text()
    assert calls == [(0, "seed0", "tiny", ["04"]), (2, "seed2", "tiny", ["04"])]
    assert "| text | a number |  | — | 10 | 0 | 20 | 2 |" in report  # no protocol; no published value
    assert "- **seeds**: 0, 2" in report


def test_skip_note_gives_the_reproductions_reason(tmp_path):
    ctx = reproduce.Context("real", "paper", 0, str(tmp_path), reproduce.DataPaths(screen="s", dna="d"))
    ctx.skipped["cdt1"] = "CDT v1: no published weights; needs a training run"
    assert ctx.skip_note("cdt1") == "**Skipped:** CDT v1: no published weights; needs a training run."
    assert ctx.skip_note("cdt3") == "**Skipped:** no cdt3 run on this data source."

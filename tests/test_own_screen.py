"""Your own screen end to end, and distributed training, exactly as the README writes them.

The README's worked example (simulator raw files -> `cdt prepare` -> DNA store -> `cdt train` -> `cdt reproduce
--data own`) and its `torchrun` line are read from README.md and run line by line with bash in a fresh directory,
with the environment's `cdt` and `torchrun` first on the PATH. The screen-directory layout and the `cdt train`
data options are checked on small files.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import anndata as ad
import pytest
from cdt.cli import app
from cdt.data.errors import ContractError
from cdt.train import DataFiles
from typer.testing import CliRunner

README = Path(__file__).resolve().parents[1] / "README.md"
NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.py"))


def readme_commands(section: str) -> list[str]:
    """The command lines of the first ```bash block in the README section `section` (continuations joined)."""
    text = README.read_text()
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    block = re.search(r"```bash\n(.*?)```", text[start : end if end > 0 else None], re.S)
    assert block, f"README section {section!r} has no bash block"
    return [line for line in block.group(1).replace("\\\n", " ").splitlines() if line.strip()]


def run_line(line: str, cwd: Path, timeout: int = 3600) -> subprocess.CompletedProcess:  # generous: shared CPUs
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "OMP_NUM_THREADS": "1",
        "COLUMNS": "200",
    }
    return subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def worked_example(tmp_path_factory) -> Path:
    """A directory in which every line of the README's own-screen example has run (each must exit 0)."""
    cwd = tmp_path_factory.mktemp("own_screen")
    for line in readme_commands("Your own screen"):
        proc = run_line(line, cwd)
        assert proc.returncode == 0, f"README line failed: {line}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return cwd


def finished_runs(runs: Path) -> dict[str, dict]:
    return {
        p.name: json.loads((p / "config.json").read_text())
        for p in sorted(runs.iterdir())
        if (p / "metrics.json").exists()
    }


@pytest.mark.slow
def test_readme_own_screen_example_runs_as_written(worked_example):
    lines = readme_commands("Your own screen")
    assert lines[0] == "cdt simulate --preset tiny --seed 0 --out sim" and lines[1].startswith("cdt prepare ")
    screen_dir = worked_example / "my_screen"
    screen = ad.read_h5ad(screen_dir / "screen_curated.h5ad")
    simulated = ad.read_h5ad(worked_example / "sim/processed/screen_curated.h5ad")
    # prepare on the raw files keeps the simulator's cells and genes (it made its screen with the same code)
    assert screen.var_names.tolist() == simulated.var_names.tolist()
    assert screen.obs_names.tolist() == simulated.obs_names.tolist() and "protein" in screen.obsm

    runs = finished_runs(worked_example / "runs")
    cdt2 = [name for name, info in runs.items() if info["config"]["model"] == "cdt2" and name.count("-") == 3]
    assert len(cdt2) == 1  # `cdt reproduce` reused the CDT-II run `cdt train` made
    files = {k: Path(v) for k, v in runs[cdt2[0]]["files"].items()}  # absolute: notebooks run elsewhere
    assert files == {"dna": screen_dir.resolve() / "dna.h5", "screen": screen_dir.resolve() / "screen_curated.h5ad"}

    context = json.loads((worked_example / "my_paper/context.json").read_text())
    assert context["data_source"] == "own" and context["preset"] == "tiny"
    assert set(context["runs"]) == {"cdt2", "cdt2_full", "cdt3", "cdt3_single"}
    assert Path(context["runs"]["cdt2"]).name == cdt2[0]
    assert list(context["skipped"]) == ["cdt1"]
    executed = sorted(p.stem for p in (worked_example / "my_paper/notebooks").glob("*.ipynb"))
    assert executed == [p.stem for p in NOTEBOOKS if p.stem[:2] in ("02", "06")]  # the example's --only
    report = (worked_example / "my_paper/REPORT.md").read_text()
    assert "own screen (my_screen, tiny)" in report and "screen_curated.h5ad" in report


@pytest.mark.slow
def test_readme_torchrun_line_trains_on_two_gloo_processes(worked_example):
    """The README's torchrun line, as written: 2 CPU processes (gloo) on the example's screen directory; the
    all-reduced evaluation equals the single-process run's when both start from the same weights and data."""
    (line,) = [ln for ln in readme_commands("Distributed training") if ln.startswith("torchrun ")]
    assert line.startswith("torchrun --standalone --nproc_per_node 2 -m cdt train ") and "--preset tiny" in line
    proc = run_line(line, worked_example)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = (worked_example / "runs_ddp").iterdir()
    info = json.loads((run_dir / "config.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert info["world_size"] == 2 and info["config"]["model"] == "cdt2"
    single = json.loads((worked_example / "runs" / run_dir.name / "metrics.json").read_text())
    assert metrics["n_samples"] == single["n_samples"] and metrics["epochs_trained"] >= 1


# --- the screen directory and `cdt train`'s data options --------------------------------------------------------------


def touch(*paths: Path) -> None:
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")


def test_data_dir_layouts(tmp_path):
    screen_dir, sim = tmp_path / "screen", tmp_path / "sim"
    touch(screen_dir / "screen_curated.h5ad", screen_dir / "screen_full.h5ad", screen_dir / "dna.h5")
    touch(sim / "processed/screen_curated.h5ad", sim / "processed/dna.h5", sim / "v1/pairs.csv")
    assert DataFiles.from_dir(screen_dir, "cdt3", "full") == DataFiles(
        dna=str(screen_dir / "dna.h5"), screen=str(screen_dir / "screen_full.h5ad")
    )
    assert DataFiles.from_dir(sim, "cdt2") == DataFiles(
        dna=str(sim / "processed/dna.h5"), screen=str(sim / "processed/screen_curated.h5ad")
    )
    with pytest.raises(ContractError) as err:
        DataFiles.from_dir(sim, "cdt2", "full")
    assert str(err.value).splitlines()[0] == f"{sim}: data directory: no processed/screen_full.h5ad"
    with pytest.raises(ContractError) as err:
        DataFiles.from_dir(sim, "cdt1")
    assert err.value.problem == "no v1/dna_enhancers.h5, v1/embeddings.h5"


def train_cli(*args) -> tuple[int, list[str]]:
    res = CliRunner().invoke(app, ["train", "--model", *[str(a) for a in args]], env={"COLUMNS": "400"})
    return res.exit_code, [line for line in res.stderr.splitlines() if line.strip()]


def test_train_data_options(tmp_path):
    (tmp_path / "prepared").mkdir()
    touch(tmp_path / "prepared/screen_curated.h5ad")
    code, lines = train_cli("cdt2", "--preset", "tiny", "--data", tmp_path / "prepared", "--runs-dir", tmp_path)
    assert code == 1 and lines[0] == f"error: {tmp_path / 'prepared'}: data directory: no dna.h5"
    assert lines[1].startswith("a screen directory holds screen_curated.h5ad / screen_full.h5ad (cdt prepare)")
    code, lines = train_cli("cdt2", "--screen", tmp_path / "prepared/screen_curated.h5ad")
    assert code == 2 and "give either --data DIR or both --screen FILE and --dna FILE" in " ".join(lines)
    code, lines = train_cli("cdt2")
    assert code == 2 and "give a data directory, or the files with --screen and --dna" in " ".join(lines)
    code, lines = train_cli("cdt1", "--screen", "s.h5ad", "--dna", "d.h5")
    assert code == 2 and "CDT v1 trains on enhancer pairs: give --data DIR (with v1/)" in " ".join(lines)


def test_reproduce_own_needs_a_screen_directory(tmp_path):
    res = CliRunner().invoke(app, ["reproduce", "--data", "own"], env={"COLUMNS": "400"})
    assert res.exit_code == 2 and "--data own needs the screen directory" in res.stderr
    args = ["reproduce", "--data", "own", "--data-dir", str(tmp_path), "--out", str(tmp_path / "out")]
    res = CliRunner().invoke(app, args, env={"COLUMNS": "400"})
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.exit_code == 1 and lines[0] == f"error: {tmp_path}: data directory: no dna.h5, screen_curated.h5ad"
    assert not (tmp_path / "out").exists()


def test_own_screen_figures_are_stamped_with_the_screen(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt
    from cdt.reproduce import Context, DataPaths

    paths = DataPaths(screen="s.h5ad", dna="d.h5", data_dir=str(tmp_path / "my_screen"))
    ctx = Context(data_source="own", preset="tiny", seed=0, out_dir=str(tmp_path), paths=paths)
    monkeypatch.setattr("IPython.display.display", lambda fig: None)
    fig = plt.figure()
    ctx.show(fig, "panel")
    assert ctx.source_label == "own screen (my_screen, tiny)" and not ctx.synthetic
    assert [t.get_text() for t in fig.texts] == ["own screen (my_screen, tiny)"]
    assert (tmp_path / "figures/panel.png").exists()

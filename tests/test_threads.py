"""Thread settings hold in a notebook kernel: training there is as fast as from the command line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

BUSY_LOOP = "while True:\n    pass\n"


def _train_seconds(runs_dir: Path) -> float:
    (metrics,) = runs_dir.glob("*/metrics.json")
    return json.loads(metrics.read_text())["train_seconds"]


@pytest.mark.slow
def test_papermill_kernel_trains_within_1_5x_of_the_cli_with_one_core_busy(tmp_path):
    from cdt.simulate import simulate

    data = tmp_path / "data"
    simulate("tiny", 0, data)
    # neither process inherits the test runner's OpenMP settings: the package itself must set them
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMP_")}
    cli_runs, nb_runs = tmp_path / "cli_runs", tmp_path / "nb_runs"
    train_call = (
        "from cdt.train import TrainConfig, train\n"
        f"train(TrainConfig.for_model('cdt2', 'tiny'), {str(data)!r}, {str(nb_runs)!r}, progress=False)\n"
    )
    notebook = tmp_path / "train.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(train_call)]), notebook)
    busy = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
    try:
        cli = [sys.executable, "-c", "from cdt.cli import app; app()", "train", "--model", "cdt2"]
        cli += ["--preset", "tiny", "--data", str(data), "--runs-dir", str(cli_runs), "--no-progress"]
        subprocess.run(cli, env=env, check=True, capture_output=True)
        papermill = [sys.executable, "-m", "papermill", str(notebook), str(tmp_path / "out.ipynb"), "-k", "python3"]
        subprocess.run(papermill, env=env, check=True, capture_output=True)
    finally:
        busy.kill()
        busy.wait()
    cli_s, nb_s = _train_seconds(cli_runs), _train_seconds(nb_runs)
    assert nb_s <= 1.5 * cli_s, f"notebook kernel {nb_s:.1f} s vs CLI {cli_s:.1f} s"

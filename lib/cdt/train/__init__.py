"""One trainer for CDT v1, CDT-II and CDT-III: resumable, deterministic, distributed.

cfg = TrainConfig.for_model("cdt2", "mini", protocol="clean")
result = train(cfg, "data/synthetic-mini-seed0", "runs")   # -> RunResult (run dir, history, metrics)
run = load_run(result.run_dir)                               # -> model + config + history for analyses
"""

from cdt.train.config import Phase, TrainConfig
from cdt.train.data import split_roles
from cdt.train.runs import DataFiles, LoadedRun, RunResult, load_run, open_run, train

__all__ = [
    "DataFiles",
    "LoadedRun",
    "Phase",
    "RunResult",
    "TrainConfig",
    "load_run",
    "open_run",
    "split_roles",
    "train",
]

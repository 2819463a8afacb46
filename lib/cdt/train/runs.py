"""Run directories: `train()` trains (or resumes, or reuses) one configuration; `load_run()` reads it back.

A run directory is named by a hash of the configuration and of the data (content hashes of the input files),
so reruns find their finished work. Files in a run directory:

- ``config.json``   the TrainConfig, input files with their hashes, split roles and sample counts
- ``samples.csv``   every sample's split and its role in this run (train / select / test / unused)
- ``history.csv``   one row per epoch: losses, flattened r, pseudo-bulk r, learning rates, protocol
- ``best.pt``       best checkpoint (cdt.models checkpoint format; loads with `cdt.models.checkpoints`)
- ``last.pt``       resume state after the last completed epoch
- ``metrics.json``  final metrics of the best checkpoint on the selection and test sets, with the
                    mean-training-effect baseline beside them; its presence marks the run finished
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn

from cdt.data.errors import ContractError, RunError
from cdt.models.checkpoints import load_checkpoint, load_published
from cdt.train.checks import check_inputs
from cdt.train.config import TrainConfig
from cdt.train.data import PairData, ScreenData, split_roles
from cdt.train.loop import BEST, LAST, Trainer, setup_distributed

TRAINER_VERSION = 1
CONTENT_HASH_LIMIT = 2 * 1024**3  # larger files are identified by path, size and mtime instead of content


@dataclass(frozen=True)
class DataFiles:
    """The input files of a run: a screen + DNA store (CDT-II/III) or pairs + DNA store + embeddings (CDT v1)."""

    dna: str
    screen: str | None = None
    pairs: str | None = None
    embeddings: str | None = None

    @classmethod
    def from_dir(cls, data_dir: str | os.PathLike, model: str, gene_set: str = "curated") -> DataFiles:
        """The files of a data directory for this model and gene set.

        A screen directory holds ``screen_<gene_set>.h5ad`` (written by `cdt prepare`) and ``dna.h5`` (the DNA
        store, e.g. from `cdt embed-dna`); a `cdt simulate` directory holds one under ``processed/`` and the
        CDT v1 files under ``v1/``. Missing files are named, with both layouts, before any work. The paths are
        absolute, so a run records files that analyses find from any working directory.
        """
        d = Path(data_dir).absolute()
        if model == "cdt1":
            files = cls(
                dna=str(d / "v1/dna_enhancers.h5"),
                pairs=str(d / "v1/pairs.csv"),
                embeddings=str(d / "v1/embeddings.h5"),
            )
        else:
            screens = d / "processed" if (d / "processed").is_dir() else d
            files = cls(dna=str(screens / "dna.h5"), screen=str(screens / f"screen_{gene_set}.h5ad"))
        missing = [Path(p).relative_to(d).as_posix() for p in files.paths().values() if not Path(p).is_file()]
        if missing:
            raise ContractError(
                str(d),
                "data directory",
                f"no {', '.join(missing)}",
                hint="a screen directory holds screen_curated.h5ad / screen_full.h5ad (cdt prepare) and dna.h5 "
                "(cdt embed-dna); a `cdt simulate` directory holds them under processed/ and CDT v1's files "
                "under v1/; or give the files with --screen and --dna",
            )
        return files

    def paths(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class RunResult:
    run_dir: Path
    config: TrainConfig
    history: pd.DataFrame
    best_checkpoint: Path
    metrics: dict  # empty while unfinished
    finished: bool
    reused: bool  # a finished run was found and returned without training


def file_fingerprint(path: str | os.PathLike) -> str:
    """sha256 of the content (files up to 2 GiB), else of path + size + mtime."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: input file does not exist")
    st = p.stat()
    if st.st_size > CONTENT_HASH_LIMIT:
        return "stat:" + hashlib.sha256(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def run_name(cfg: TrainConfig, files: DataFiles) -> tuple[str, dict]:
    """Directory name and the fingerprint it hashes (config without the init path, data and init weights)."""
    init = None
    if cfg.init_from is not None:
        p = Path(cfg.init_from)
        init = file_fingerprint(p / BEST if p.is_dir() else p)
    payload = {
        "trainer": TRAINER_VERSION,
        "config": {**cfg.to_dict(), "init_from": None},
        "data": {k: file_fingerprint(v) for k, v in files.paths().items()},
        "init": init,
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]
    gene_set = "" if cfg.model == "cdt1" or cfg.gene_set == "curated" else f"-{cfg.gene_set}"
    inputs = "" if cfg.input_protocol == "cell" else f"-{cfg.input_protocol}"
    return f"{cfg.model}-{cfg.preset}-{cfg.protocol}{gene_set}{inputs}-{digest}", payload


def load_data(cfg: TrainConfig, files: DataFiles) -> ScreenData | PairData:
    if cfg.model == "cdt1":
        if files.pairs is None or files.embeddings is None:
            raise ValueError("CDT v1 needs DataFiles(pairs=..., dna=..., embeddings=...)")
        return PairData(
            files.pairs, files.dna, files.embeddings, "split" if cfg.v1_split == "enhancer" else "pair_split"
        )
    if files.screen is None:
        raise ValueError(f"{cfg.model} needs DataFiles(screen=..., dna=...)")
    return ScreenData(
        files.screen,
        files.dna,
        cfg.kinds,
        proteins=cfg.has_proteins,
        input_protocol=cfg.input_protocol,
        seed=cfg.seed,
    )


def train(
    cfg: TrainConfig,
    data: str | os.PathLike | DataFiles,
    runs_dir: str | os.PathLike = "runs",
    *,
    progress: bool = True,
    stop_after: int | None = None,
) -> RunResult:
    """Train `cfg` on `data` (a data directory, see `DataFiles.from_dir`, or explicit `DataFiles`) in a run directory
    under `runs_dir`.

    A finished run with the same config and data is returned as is; an unfinished one resumes from its last
    epoch. CDT-III without `init_from` first trains (or reuses) the matching CDT-II run. `stop_after` pauses
    after that many epochs in total (the run stays resumable). Under `torchrun` every process calls this.
    """
    files = data if isinstance(data, DataFiles) else DataFiles.from_dir(data, cfg.model, cfg.gene_set)
    runs_dir = Path(runs_dir)
    if cfg.model in ("cdt3", "cdt3-single") and cfg.init_from is None:
        cdt2_cfg = TrainConfig.for_model(
            "cdt2",
            cfg.preset,
            protocol=cfg.protocol,
            seed=cfg.seed,
            gene_set=cfg.gene_set,
            bf16=cfg.bf16,
            input_protocol=cfg.input_protocol,
        )
        cdt2_files = DataFiles(dna=files.dna, screen=files.screen)
        dep = train(cdt2_cfg, cdt2_files, runs_dir, progress=progress)
        cfg = cfg.with_(init_from=str(dep.run_dir))
    name, fingerprint = run_name(cfg, files)
    run_dir = runs_dir / name
    if (run_dir / "metrics.json").exists():
        if not (run_dir / BEST).exists():
            raise RunError(
                f"{run_dir}: marked finished but has no {BEST}; not reusing it", "delete the run directory and rerun"
            )
        return _result(run_dir, reused=True)

    dist_info = setup_distributed()
    started = time.perf_counter()
    check_inputs(cfg, files.dna, files.pairs if cfg.model == "cdt1" else None)
    data_obj = load_data(cfg, files)
    roles = split_roles(cfg.model, cfg.protocol)
    idx = {role: data_obj.indices(splits) for role, splits in roles.items()}
    for role in ("train", "select", "report"):
        if len(idx[role]) == 0:
            raise ValueError(
                f"{files.paths()}: no samples in split(s) {list(roles[role])} ({role} set of the "
                f"{cfg.protocol!r} protocol)"
            )
    if dist_info.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        _write_json(
            run_dir / "config.json",
            {
                "config": cfg.to_dict(),
                "files": files.paths(),
                "fingerprint": fingerprint,
                "protocol": cfg.protocol,
                "input_protocol": cfg.input_protocol,
                "roles": {k: list(v) for k, v in roles.items()},
                "n_samples": {k: int(len(v)) for k, v in idx.items()},
                "world_size": dist_info.world,
            },
        )
        _samples_table(data_obj, idx).to_csv(run_dir / "samples.csv", index=False)
    dist_info.barrier()
    try:
        trainer = Trainer(cfg, data_obj, idx, run_dir, dist_info, progress=progress)
        done = trainer.fit(stop_after=stop_after)
    except BaseException:
        if dist_info.main and not (run_dir / LAST).exists():  # nothing to resume: leave no half-made run behind
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    if not done:
        return _result(run_dir, reused=False)
    if not (run_dir / BEST).exists():
        raise RunError(
            f"{run_dir}: training ended without a best checkpoint (no epoch gave a finite "
            f"{cfg.phases[-1].monitor}); the run is not finished",
            "check the inputs for extreme values, or lower the learning rate",
        )
    metrics = final_metrics(trainer, roles)
    metrics["wall_seconds"] = time.perf_counter() - started  # this call, incl. loading and final evaluation
    metrics["train_seconds"] = trainer.loop.seconds  # the epochs, summed over every session of the run
    if dist_info.main:
        _write_json(run_dir / "metrics.json", metrics)
    dist_info.barrier()
    return _result(run_dir, reused=False)


def final_metrics(trainer: Trainer, roles: dict[str, tuple[str, ...]]) -> dict:
    """Best checkpoint vs the mean-training-effect baseline on the selection and test sets."""
    cfg, idx = trainer.cfg, trainer.idx
    lam = cfg.phases[-1].protein_lambda
    best = [r for r in trainer.history if r["improved"]]
    out: dict = {
        "model": cfg.model,
        "protocol": cfg.protocol,
        "input_protocol": cfg.input_protocol,
        "reported": list(roles["report"]),
        "roles": {k: list(v) for k, v in roles.items()},
        "epochs_trained": len(trainer.history),
        "best_epoch": best[-1]["epoch"] if best else None,
        "n_samples": {k: int(len(v)) for k, v in idx.items()},
    }
    if trainer.init_info is not None:
        out["init"] = trainer.init_info
    baseline = trainer.task.baseline(idx["train"])
    meters: dict[tuple[str, ...], tuple] = {}  # under `paper` the selection and test sets are the same cells
    for role in ("select", "test"):
        if len(idx[role]) == 0:
            continue
        if roles[role] not in meters:
            meters[roles[role]] = (trainer.evaluate(idx[role], lam), trainer.evaluate(idx[role], lam, predict=baseline))
        model_meter, base_meter = meters[roles[role]]
        out.update({f"{role}_{k}": v for k, v in model_meter.summary().items()})
        out.update({f"baseline_{role}_{k}": v for k, v in base_meter.summary().items()})
        if hasattr(model_meter, "per_group"):
            base = base_meter.per_group(trainer.data.groups)
            out[f"{role}_per_perturbation"] = {
                g: {**row, **{f"baseline_{k}": v for k, v in base[g].items() if k != "n_cells"}}
                for g, row in model_meter.per_group(trainer.data.groups).items()
            }
    return out


@dataclass
class LoadedRun:
    run_dir: Path
    model: nn.Module  # best checkpoint, eval mode
    config: TrainConfig
    history: pd.DataFrame
    metrics: dict
    extra: dict  # the best checkpoint's extra (epoch, genes, expressed_mask, ...)
    files: dict  # input files of the run


def load_run(run_dir: str | os.PathLike) -> LoadedRun:
    """Model (best checkpoint), config, history and metrics of a run, for analyses."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.json"
    if not cfg_path.exists():
        raise FileNotFoundError(f"{run_dir}: not a training run directory (no config.json)")
    info = json.loads(cfg_path.read_text())
    best = run_dir / BEST
    if not best.exists():
        raise FileNotFoundError(f"{best}: the run has no best checkpoint yet")
    model, extra = load_checkpoint(best)
    metrics_path = run_dir / "metrics.json"
    return LoadedRun(
        run_dir=run_dir,
        model=model,
        config=TrainConfig.from_dict(info["config"]),
        history=_read_history(run_dir),
        extra=extra,
        files=info["files"],
        metrics=json.loads(metrics_path.read_text()) if metrics_path.exists() else {},
    )


def _result(run_dir: Path, reused: bool) -> RunResult:
    info = json.loads((run_dir / "config.json").read_text())
    metrics_path = run_dir / "metrics.json"
    finished = metrics_path.exists()
    return RunResult(
        run_dir=run_dir,
        config=TrainConfig.from_dict(info["config"]),
        history=_read_history(run_dir),
        best_checkpoint=run_dir / BEST,
        metrics=json.loads(metrics_path.read_text()) if finished else {},
        finished=finished,
        reused=reused,
    )


def _read_history(run_dir: Path) -> pd.DataFrame:
    path = run_dir / "history.csv"
    return pd.read_csv(path) if path.exists() else pd.DataFrame()


def _samples_table(data: ScreenData | PairData, idx: dict[str, np.ndarray]) -> pd.DataFrame:
    names = data.obs_names if isinstance(data, ScreenData) else data.pair_ids
    role = np.full(len(data), "", dtype=object)
    for r in ("train", "select", "test"):
        role[idx[r]] = np.where(role[idx[r]] == "", r, role[idx[r]] + "+" + r)
    role[role == ""] = "unused"
    return pd.DataFrame({"sample": names, "split": data.split, "role": role})


def _write_json(path: Path, obj: dict) -> None:
    """Atomic JSON write (NaN -> null) so a crash never leaves a half-written file."""
    text = json.dumps(_finite(obj), indent=2)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _finite(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def open_run(path: str | os.PathLike) -> LoadedRun:
    """A training run directory (`cdt.train.load_run`), or a published CDT-II or CDT-III checkpoint file.

    A checkpoint has no training history, metrics or TrainConfig: those fields are empty (config None).
    """
    p = Path(path)
    if p.is_dir():
        return load_run(p)
    if not p.exists():
        raise FileNotFoundError(f"{p}: neither a run directory nor a checkpoint file")
    model, meta = load_published(p)
    return LoadedRun(run_dir=p, model=model, config=None, history=pd.DataFrame(), metrics={}, extra=meta, files={})

"""Checks made before training starts and when a run resumes, so that bad inputs fail in seconds with one clear line.

- the DNA store's windows have the preset's `[n_bins, dim]` (the error names the store, not the screen);
- CDT v1 pairs and their enhancer store agree on genome build and window centres;
- an `init_from` checkpoint is a CDT-II of the same preset (a CDT v1 or CDT-III file is named as such);
- a `last.pt` resumes only the configuration that wrote it (its stored config hash must match).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pandas as pd
from torch import Tensor

from cdt.config import get_preset
from cdt.data.dnastore import DNAStore
from cdt.data.errors import ContractError, RunError
from cdt.models.checkpoints import FORMAT, read_torch_file
from cdt.pp.v1 import check_genome
from cdt.train.config import TrainConfig

MODEL_NAMES = {"CDT1": "CDT v1", "CDT2": "CDT-II", "CDT3": "CDT-III"}


def config_hash(config: dict) -> str:
    """Short sha256 of a TrainConfig dict (what a `last.pt` must match to be resumed).

    The `init_from` path is left out, as in the run name: the same CDT-II reached by another path is the same run.
    """
    return hashlib.sha256(json.dumps({**config, "init_from": None}, sort_keys=True).encode()).hexdigest()[:12]


def check_inputs(cfg: TrainConfig, dna: str, pairs: str | None = None) -> None:
    """Refuse inputs that cannot fit `cfg` before any data are loaded or a run directory is made."""
    preset = get_preset(cfg.preset)
    with DNAStore(dna) as store:
        store.check_shape(preset.n_bins, preset.dna_dim, cfg.preset)
        if pairs is not None:
            table = pd.read_csv(pairs)
            if "enhancer_id" not in table:
                raise ContractError(str(pairs), "enhancer_id", "missing column")
            check_genome(table, store, str(pairs))
    if cfg.init_from is not None:
        check_init_checkpoint(cfg.init_from, cfg)


def describe_checkpoint(obj) -> tuple[str | None, str | None]:
    """(model, preset) of a checkpoint's contents: ours name both; the authors' files are told apart by their keys."""
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        train_config = obj.get("extra", {}).get("train_config") or {}
        return MODEL_NAMES.get(obj.get("model"), obj.get("model")), train_config.get("preset")
    state = obj.get("model_state_dict", obj) if isinstance(obj, dict) else {}
    keys = [k for k, v in state.items() if isinstance(v, Tensor)] if isinstance(state, dict) else []
    if any(k.startswith("protein_encoder.") for k in keys):
        return "CDT-III", None
    if any(k.startswith("rna_encoder.gene_embedding.") for k in keys):
        return "CDT-II", None
    return None, None


def check_init_checkpoint(source: str | os.PathLike, cfg: TrainConfig) -> None:
    """An `init_from` must be a CDT-II (run directory or checkpoint) of this preset; say what it is otherwise."""
    path = Path(source)
    if path.is_dir():
        if not (path / "best.pt").exists():
            raise RunError(
                f"{path}: --init-from names a directory without best.pt (not a finished CDT-II run)",
                "train the CDT-II run first, or pass its best.pt",
            )
        path = path / "best.pt"
    model, preset = describe_checkpoint(read_torch_file(path))
    if model is not None and model != "CDT-II":
        raise RunError(
            f"{path}: this is a {model} checkpoint{f' (preset {preset})' if preset else ''}; "
            f"--init-from for {cfg.model} needs a CDT-II run directory or checkpoint"
        )
    if preset is not None and preset != cfg.preset:
        raise RunError(
            f"{path}: this CDT-II checkpoint was trained with preset {preset!r}, this run uses {cfg.preset!r}",
            "pass a CDT-II of the same preset",
        )


def check_resume(extra: dict, cfg: TrainConfig, source: str | os.PathLike) -> None:
    """A `last.pt` resumes only the configuration that wrote it (compared by config hash)."""
    stored = extra.get("train_config")
    want = config_hash(cfg.to_dict())
    got = config_hash(stored) if isinstance(stored, dict) else "none"
    if got != want:
        raise RunError(
            f"{source}: written by another configuration (config hash {got}, this run {want}); not resuming it",
            "delete the file (or its run directory) to start this run afresh",
        )

"""Checkpoints: the published CDT-II / CDT-III files, CDT-II -> CDT-III transfer, and our own format.

Every file is read with `torch.load(..., weights_only=True)`: a pickle that asks for anything beyond tensors,
plain containers and numpy arrays (e.g. a `__reduce__` payload) is refused before any of it runs. Weights load
strictly; a mismatch raises one error listing every missing key, unexpected key and shape difference.

Formats read:
- a bare state_dict (the published `cdt_morris_celllevel_best.pt`);
- the authors' training dicts with `model_state_dict` (CDT-III `cdt_2stage_vce_best.pt`, `checkpoint_latest.pt`);
- ours: {"format": "cdt-checkpoint", "version", "model", "config", "state_dict", "extra"}.
"""

from __future__ import annotations

import dataclasses
import io
import os
import pickle
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from cdt.data.errors import ContractError
from cdt.models.cdt1 import CDT1, CDT1Config
from cdt.models.cdt2 import CDT2, CDT2Config
from cdt.models.cdt3 import CDT3, CDT3Config

FORMAT = "cdt-checkpoint"
VERSION = 1
MODELS: dict[str, tuple[type[nn.Module], type]] = {
    "CDT1": (CDT1, CDT1Config),
    "CDT2": (CDT2, CDT2Config),
    "CDT3": (CDT3, CDT3Config),
}

# numpy arrays/scalars (e.g. CDT-III's `expressed_mask`) under their numpy 2 and numpy 1 names; these rebuild
# arrays only, and their contents still pass through the weights-only unpickler.
_NUMPY_GLOBALS: list = [
    np.ndarray,
    np.dtype,
    (np._core.multiarray._reconstruct, "numpy.core.multiarray._reconstruct"),
    np._core.multiarray._reconstruct,
    (np._core.multiarray.scalar, "numpy.core.multiarray.scalar"),
    np._core.multiarray.scalar,
    *[getattr(np.dtypes, n) for n in np.dtypes.__all__],
]


class CheckpointError(ContractError):
    """A checkpoint file is unreadable, unsafe, or does not fit the model."""


def read_torch_file(path: str | Path | io.BytesIO, source: str | None = None) -> Any:
    """`torch.load(weights_only=True)` to CPU, turning every failure into a CheckpointError naming the file."""
    source = source or str(path)
    try:
        with torch.serialization.safe_globals(_NUMPY_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(source, "file", "does not exist") from None
    except pickle.UnpicklingError as e:
        found = re.search(r"Unsupported global: GLOBAL (\S+)|Unsupported operand \S+", str(e))
        what = found.group(0) if found else str(e).splitlines()[0]
        raise CheckpointError(
            source,
            "pickle",
            f"refused by the weights-only loader ({what}); the file holds more "
            "than tensors and plain data, and nothing in it was executed",
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, KeyError, OSError) as e:
        raise CheckpointError(source, "file", f"not a readable torch checkpoint ({type(e).__name__}: {e})") from None


def split_checkpoint(obj: Any, source: str) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """(state_dict, everything else) from a bare state_dict, an authors' training dict, or our format."""
    if not isinstance(obj, dict):
        raise CheckpointError(source, "top level", f"expected a dict, found {type(obj).__name__}")
    if obj.get("format") == FORMAT:
        key = "state_dict"
    elif "model_state_dict" in obj:
        key = "model_state_dict"
    else:
        key = None
    state = obj if key is None else obj[key]
    meta = {} if key is None else {k: v for k, v in obj.items() if k != key}
    if not isinstance(state, dict) or not state:
        raise CheckpointError(source, key or "state_dict", "is not a non-empty dict of tensors")
    bad = [k for k, v in state.items() if not isinstance(k, str) or not isinstance(v, Tensor)]
    if bad:
        raise CheckpointError(
            source, key or "state_dict", f"{len(bad)} entries are not name -> tensor pairs, e.g. {bad[:3]}"
        )
    return state, meta


def check_state_dict(model: nn.Module, state: dict[str, Tensor], source: str) -> None:
    """Raise one error listing all missing keys, unexpected keys and shape mismatches."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k}: file {list(state[k].shape)} vs model {list(own[k].shape)}"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    if missing or unexpected or shapes:
        parts = [
            f"{title} ({len(items)}): {', '.join(items)}"
            for title, items in (
                ("missing keys", missing),
                ("unexpected keys", unexpected),
                ("shape mismatches", shapes),
            )
            if items
        ]
        raise CheckpointError(source, "state_dict", f"does not fit {type(model).__name__}; " + "; ".join(parts))


def load_state_dict_strict(model: nn.Module, state: dict[str, Tensor], source: str) -> nn.Module:
    check_state_dict(model, state, source)
    model.load_state_dict(state, strict=True)
    return model


def _n_layers(state: dict[str, Tensor], prefix: str, default: int) -> int:
    found = {int(m.group(1)) for k in state if (m := re.match(re.escape(prefix) + r"(\d+)\.", k))}
    return max(found) + 1 if found else default


def _dim(state: dict[str, Tensor], key: str, axis: int, default: int) -> int:
    return state[key].shape[axis] if key in state and state[key].dim() > axis else default


def cdt2_config_from_state_dict(
    state: dict[str, Tensor], identity: str = "gene_embedding", **overrides: Any
) -> CDT2Config:
    """Sizes read off the weights; heads, dropout and n_bins (not stored in weights) from the paper or `overrides`."""
    base = CDT2Config()
    found = dict(
        n_genes=_dim(state, f"rna_encoder.{identity}.weight", 0, base.n_genes),
        d_model=_dim(state, "dna_projector.linear.weight", 0, base.d_model),
        dna_dim=_dim(state, "dna_projector.linear.weight", 1, base.dna_dim),
        ffn_dim=_dim(state, "dna_self_attn_layers.0.ffn.0.weight", 0, base.ffn_dim),
        n_dna_layers=_n_layers(state, "dna_self_attn_layers.", base.n_dna_layers),
        n_rna_layers=_n_layers(state, "rna_self_attn_layers.", base.n_rna_layers),
    )
    return dataclasses.replace(base, **{**found, **overrides})


def cdt3_config_from_state_dict(state: dict[str, Tensor], **overrides: Any) -> CDT3Config:
    nuclear = cdt2_config_from_state_dict(state, identity="feature_embedding")
    base = CDT3Config()
    found = {f.name: getattr(nuclear, f.name) for f in dataclasses.fields(nuclear)}
    found.update(
        n_proteins=_dim(state, "protein_encoder.feature_embedding.weight", 0, base.n_proteins),
        n_protein_layers=_n_layers(state, "protein_self_attn_layers.", base.n_protein_layers),
        single_stage="vce.fusion.0.weight" in state,
    )
    return dataclasses.replace(base, **{**found, **overrides})


def load_published_cdt2(path: str | Path, cfg: CDT2Config | None = None) -> tuple[CDT2, dict[str, Any]]:
    """The published CDT-II weights (bare state_dict, or a dict with `model_state_dict`) -> (model in eval, meta)."""
    state, meta = split_checkpoint(read_torch_file(path), str(path))
    model = CDT2(cfg or cdt2_config_from_state_dict(state))
    return load_state_dict_strict(model, state, str(path)).eval(), meta


def load_published_cdt3(path: str | Path, cfg: CDT3Config | None = None) -> tuple[CDT3, dict[str, Any]]:
    """A CDT-III file (its `model_state_dict` or a bare state_dict) -> (model in eval, the file's other entries).

    Head count and dropouts are not in the weights: they come from the file's `model_config` / `config`
    (``nhead``, ``dropout``, ``protein_dropout``) when it has them, else from the paper's values.
    """
    state, meta = split_checkpoint(read_torch_file(path), str(path))
    model = CDT3(cfg or cdt3_config_from_state_dict(state, **_cdt3_hyperparameters(meta)))
    return load_state_dict_strict(model, state, str(path)).eval(), meta


def _cdt3_hyperparameters(meta: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for section in ("config", "model_config"):  # model_config is what built the model: it wins
        entries = meta.get(section)
        if isinstance(entries, dict):
            for theirs, ours in (("nhead", "n_heads"), ("dropout", "dropout"), ("protein_dropout", "protein_dropout")):
                if isinstance(entries.get(theirs), int | float):
                    found[ours] = entries[theirs]
    return found


def load_published(path: str | Path) -> tuple[CDT2 | CDT3, dict[str, Any]]:
    """A published CDT-II or CDT-III checkpoint, whichever the file holds -> (model in eval, meta)."""
    state, meta = split_checkpoint(read_torch_file(path), str(path))
    if any(k.startswith("protein_encoder.") for k in state):
        model = CDT3(cdt3_config_from_state_dict(state, **_cdt3_hyperparameters(meta)))
    else:
        model = CDT2(cdt2_config_from_state_dict(state))
    return load_state_dict_strict(model, state, str(path)).eval(), meta


# ----------------------------------------------------------------------------------------------------------------
# CDT-II -> CDT-III


def cdt2_to_cdt3_key(key: str, single_stage: bool = False) -> str | None:
    """Where a CDT-II tensor goes in CDT-III; None = it has no place there.

    The single-stage ablation keeps CDT-II's pools under `vce.` but its fusion is d x 3 and starts from scratch.
    """
    if key.startswith("rna_encoder.gene_embedding."):
        return key.replace("rna_encoder.gene_embedding.", "rna_encoder.feature_embedding.", 1)
    if key.startswith("task_layer."):
        return "rna_task_layer." + key.removeprefix("task_layer.")
    if key.startswith("vce."):
        if single_stage:
            return None if key.startswith("vce.fusion.") else key
        return "vce_t." + key.removeprefix("vce.")
    return key


@dataclass
class TransferReport:
    copied: list[tuple[str, str]] = field(default_factory=list)  # (CDT-II key, CDT-III key)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (CDT-II key, reason)

    def __str__(self) -> str:
        lines = [f"copied {len(self.copied)} tensors, skipped {len(self.skipped)}"]
        lines += [f"  skipped {k}: {why}" for k, why in self.skipped]
        return "\n".join(lines)


@torch.no_grad()
def transfer_cdt2_to_cdt3(source: CDT2 | dict[str, Tensor] | str | Path, target: CDT3) -> TransferReport:
    """Copy CDT-II weights into CDT-III's nuclear stage (a tensor is copied only where the shapes agree).

    Into the two-stage model every CDT-II tensor lands; into the single-stage ablation all but the fusion.
    """
    if isinstance(source, (str, Path)):
        state, _ = split_checkpoint(read_torch_file(source), str(source))
    else:
        state = source.state_dict() if isinstance(source, nn.Module) else source
    own = target.state_dict()
    report = TransferReport()
    for key, value in state.items():
        dst = cdt2_to_cdt3_key(key, target.cfg.single_stage)
        if dst is None:
            report.skipped.append((key, "the single-stage fusion is d x 3, CDT-II's is d x 2"))
        elif dst not in own:
            report.skipped.append((key, f"no {dst} in CDT-III"))
        elif own[dst].shape != value.shape:
            report.skipped.append((key, f"shape {list(value.shape)} vs {list(own[dst].shape)} at {dst}"))
        else:
            own[dst].copy_(value)
            report.copied.append((key, dst))
    return report


# ----------------------------------------------------------------------------------------------------------------
# our own checkpoints: config + weights + a small `extra` dict, written atomically


def save_checkpoint(path: str | Path, model: nn.Module, extra: dict[str, Any] | None = None) -> Path:
    """Write {config, weights, extra} to `path` via a temporary file and an atomic rename.

    `extra` may hold plain Python data, tensors and numpy arrays (anything a weights-only load can read back).
    """
    model = getattr(model, "module", model)  # unwrap DistributedDataParallel
    name = type(model).__name__
    if name not in MODELS:
        raise ValueError(f"cannot save a {name}; checkpoints hold one of {', '.join(MODELS)}")
    extra = dict(extra or {})
    buf = io.BytesIO()
    torch.save(extra, buf)
    buf.seek(0)
    try:
        read_torch_file(buf, source="extra")
    except CheckpointError as e:
        raise ValueError(f"checkpoint extra cannot be read back safely: {e.problem}") from None
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "model": name,
        "config": dataclasses.asdict(model.cfg),
        "state_dict": model.state_dict(),
        "extra": extra,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model saved by `save_checkpoint` (in eval mode) and return it with its `extra` dict."""
    source = str(path)
    obj = read_torch_file(path)
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise CheckpointError(
            source,
            "format",
            f"not a {FORMAT} file (for the published weights use load_published_cdt2 / load_published_cdt3)",
        )
    if obj.get("version") != VERSION:
        raise CheckpointError(source, "version", f"{obj.get('version')!r} is not supported (expected {VERSION})")
    name = obj.get("model")
    if name not in MODELS:
        raise CheckpointError(source, "model", f"{name!r} is not one of {', '.join(MODELS)}")
    model_cls, cfg_cls = MODELS[name]
    cfg_dict = obj.get("config")
    fields = {f.name for f in dataclasses.fields(cfg_cls)}
    if not isinstance(cfg_dict, dict) or set(cfg_dict) != fields:
        got = set(cfg_dict) if isinstance(cfg_dict, dict) else set()
        raise CheckpointError(
            source,
            "config",
            f"does not match {cfg_cls.__name__}: missing {sorted(fields - got)}, unexpected {sorted(got - fields)}",
        )
    state, _ = split_checkpoint(obj, source)
    model = load_state_dict_strict(model_cls(cfg_cls(**cfg_dict)), state, source)
    extra = obj.get("extra", {})
    return model.eval(), extra if isinstance(extra, dict) else {}

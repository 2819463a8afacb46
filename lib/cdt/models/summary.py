"""Architecture read-outs: per-module shapes and parameter counts of each model.

Shapes come from a real forward pass of a twin of the model on PyTorch's `meta` device (no memory, no compute),
so the table (and `cdt.pl.schematic`'s drawing of it) always shows what the code does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from cdt.config import Preset
from cdt.models.blocks import AttentionBlock, RawExpressionEncoder, SequenceProjector, VirtualCellEmbedder
from cdt.models.cdt1 import CDT1, CDT1Config
from cdt.models.cdt2 import CDT2, CDT2Config
from cdt.models.cdt3 import CDT3, CDT3Config

ABLATION_FULL_GENES = 9335  # CDT-II ablation: genes detected in >= 10% of cells (paper preset only)


@dataclass
class ModuleRow:
    name: str  # state_dict prefix, e.g. "dna_self_attn_layers.0"
    kind: str  # what it does, e.g. "self-attention (8 heads)"
    inputs: list[tuple[int | None, ...]]  # tensor input shapes; None marks the batch dimension
    output: tuple[int | None, ...]
    n_params: int


def build_models(preset: Preset, device: str | torch.device = "meta") -> dict[str, nn.Module]:
    """Every model of the three papers at this preset (on `meta` by default: shapes and counts, no memory)."""
    with torch.device(device):
        models: dict[str, nn.Module] = {
            "CDT v1": CDT1(CDT1Config.from_preset(preset)),
            "CDT-II": CDT2(CDT2Config.from_preset(preset)),
        }
        if preset.name == "paper":
            models[f"CDT-II full gene set ({ABLATION_FULL_GENES:,} genes)"] = CDT2(
                CDT2Config.from_preset(preset, n_genes=ABLATION_FULL_GENES)
            )
        models["CDT-III"] = CDT3(CDT3Config.from_preset(preset))
        models["CDT-III single-stage"] = CDT3(CDT3Config.from_preset(preset, single_stage=True))
    return models


def example_inputs(model: nn.Module, batch: int = 1, device: str | torch.device = "meta") -> tuple:
    """Inputs of the right shapes for `model` (zeros; on `meta` they cost nothing)."""
    cfg = model.cfg
    dna = torch.zeros(batch, cfg.n_bins, cfg.dna_dim, device=device)
    if isinstance(model, CDT1):
        return (
            dna,
            torch.zeros(cfg.n_genes, cfg.rna_emb_dim, device=device),
            torch.zeros(cfg.n_genes, cfg.prot_emb_dim, device=device),
            torch.zeros(batch, dtype=torch.long, device=device),
        )
    rna = torch.zeros(batch, cfg.n_genes, device=device)
    if isinstance(model, CDT3):
        return dna, rna, torch.zeros(batch, cfg.n_proteins, device=device)
    return dna, rna


def _kind(module: nn.Module, n_inputs: int) -> str:
    if isinstance(module, AttentionBlock):
        return f"{'cross' if n_inputs > 1 else 'self'}-attention ({module.n_heads} heads)"
    if isinstance(module, VirtualCellEmbedder):
        context = " + e_RNA" if module.n_context else ""
        return f"VCE: pool {' + '.join(module.modalities)} ({module.n_heads} heads){context} -> fuse"
    if isinstance(module, RawExpressionEncoder):
        return "raw expression encoder"
    if isinstance(module, SequenceProjector):
        return "projection"
    if isinstance(module, nn.Sequential):
        return "task head"
    return type(module).__name__


def module_units(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Top-level modules, with ModuleLists opened into their layers."""
    out = []
    for name, child in model.named_children():
        if isinstance(child, nn.ModuleList):
            out += [(f"{name}.{i}", layer) for i, layer in enumerate(child)]
        else:
            out.append((name, child))
    return out


def _run_shapes(twin: nn.Module, units: list[tuple[str, nn.Module]], batch: int) -> dict[str, tuple[list, tuple]]:
    """Input and output shapes of every unit in one meta forward pass at this batch size."""
    seen: dict[str, tuple[list, tuple]] = {}

    def record(name: str, args: tuple, output) -> None:
        out = output[0] if isinstance(output, tuple) else output
        if name not in seen:  # first call: the layer's own input (a VCE's fusion runs once anyway)
            seen[name] = ([tuple(a.shape) for a in args if torch.is_tensor(a)], tuple(out.shape))

    hooks = []
    for name, unit in units:
        target = unit.fusion if isinstance(unit, VirtualCellEmbedder) else unit  # a VCE is used via .pool/.fuse
        hooks.append(target.register_forward_hook(lambda _m, args, out, name=name: record(name, args, out)))
    try:
        with torch.no_grad():
            twin(*example_inputs(twin, batch=batch))
    finally:
        for h in hooks:
            h.remove()
    return seen


def _mark_batch(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int | None, ...]:
    """Dimensions that change with the batch size become None (shown as B)."""
    return tuple(None if x != y else x for x, y in zip(a, b, strict=True))


def module_summary(model: nn.Module) -> list[ModuleRow]:
    """One row per top-level module (per layer for stacks): kind, input/output shapes (None = batch), parameters."""
    with torch.device("meta"):
        twin = type(model)(model.cfg).eval()
    units = module_units(twin)
    one, two = _run_shapes(twin, units, 1), _run_shapes(twin, units, 2)
    rows = []
    for name, unit in units:
        (in1, out1), (in2, out2) = one[name], two[name]
        inputs = [_mark_batch(a, b) for a, b in zip(in1, in2, strict=True)]
        rows.append(
            ModuleRow(
                name,
                _kind(unit, len(inputs)),
                inputs,
                _mark_batch(out1, out2),
                sum(p.numel() for p in unit.parameters()),
            )
        )
    return rows


def shape_str(shape: tuple[int | None, ...]) -> str:
    """(None, 2361, 512) -> 'B x 2,361 x 512'."""
    return " x ".join("B" if n is None else f"{n:,}" for n in shape)

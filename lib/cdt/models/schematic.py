"""Architecture read-outs: per-module shapes and parameter counts, and a schematic drawing of each model.

Shapes come from a real forward pass of a twin of the model on PyTorch's `meta` device (no memory, no compute),
so the drawing always shows what the code does. The drawings stand in for the papers' Figure 1 diagrams.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
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
                CDT2Config.from_preset(preset, n_genes=ABLATION_FULL_GENES))
        models["CDT-III"] = CDT3(CDT3Config.from_preset(preset))
        models["CDT-III single-stage"] = CDT3(CDT3Config.from_preset(preset, single_stage=True))
    return models


def example_inputs(model: nn.Module, batch: int = 1, device: str | torch.device = "meta") -> tuple:
    """Inputs of the right shapes for `model` (zeros; on `meta` they cost nothing)."""
    cfg = model.cfg
    dna = torch.zeros(batch, cfg.n_bins, cfg.dna_dim, device=device)
    if isinstance(model, CDT1):
        return (dna, torch.zeros(cfg.n_genes, cfg.rna_emb_dim, device=device),
                torch.zeros(cfg.n_genes, cfg.prot_emb_dim, device=device),
                torch.zeros(batch, dtype=torch.long, device=device))
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


def _units(model: nn.Module) -> list[tuple[str, nn.Module]]:
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
    units = _units(twin)
    one, two = _run_shapes(twin, units, 1), _run_shapes(twin, units, 2)
    rows = []
    for name, unit in units:
        (in1, out1), (in2, out2) = one[name], two[name]
        inputs = [_mark_batch(a, b) for a, b in zip(in1, in2, strict=True)]
        rows.append(ModuleRow(name, _kind(unit, len(inputs)), inputs, _mark_batch(out1, out2),
                              sum(p.numel() for p in unit.parameters())))
    return rows


def shape_str(shape: tuple[int | None, ...]) -> str:
    """(None, 2361, 512) -> 'B x 2,361 x 512'."""
    return " x ".join("B" if n is None else f"{n:,}" for n in shape)


# --- drawing -------------------------------------------------------------------------------------------------------

_COLUMN = {"dna": 0, "rna": 1, "protein": 2}
_COLOURS = {"dna": "#cfe2f3", "rna": "#d9ead3", "protein": "#fce5cd", "joint": "#eadcf8"}


def _stream(name: str) -> str:
    if name.startswith("dna_to_rna"):
        return "rna"
    if name.startswith("rna_to_protein"):
        return "protein"
    for s in ("dna", "rna", "protein"):
        if name.startswith(s):
            return s if not name.endswith("task_layer") else "joint"
    return "joint"


def _edges(model: nn.Module, rows: list[ModuleRow]) -> list[tuple[str, str]]:
    """Data flow between the boxes: each stream in order, the cross-attentions, the VCE inputs, the heads."""
    last: dict[str, str] = {}
    edges = []
    for row in rows:
        s = _stream(row.name)
        if s != "joint" and s in last:
            edges.append((last[s], row.name))
        if row.name == "dna_to_rna":
            edges.append((last["dna"], row.name))
        if row.name == "rna_to_protein":
            edges.append((last["rna"], row.name))
        if s != "joint":
            last[s] = row.name
    units = dict(_units(model))
    for row in rows:
        unit = units[row.name]
        if isinstance(unit, VirtualCellEmbedder):
            edges += [(last[m], row.name) for m in unit.modalities]
            if row.name == "vce_p":
                edges.append(("vce_t", row.name))
    vce_names = [r.name for r in rows if isinstance(units[r.name], VirtualCellEmbedder)]
    for row in rows:
        if row.name.endswith("task_layer"):
            src = "vce_p" if row.name == "protein_task_layer" and "vce_p" in vce_names else vce_names[0]
            edges.append((src, row.name))
    return edges


def draw_schematic(model: nn.Module, title: str | None = None) -> Figure:
    """Boxes per module (name, kind, output shape, parameters) laid out by modality, arrows along the data flow."""
    rows = module_summary(model)
    total = sum(r.n_params for r in rows)
    streams = [_stream(r.name) for r in rows]
    n_cols = 1 + max(_COLUMN[s] for s in streams if s != "joint")
    depth = {c: 0 for c in range(n_cols)}
    pos: dict[str, tuple[float, float]] = {}
    for row, s in zip(rows, streams, strict=True):
        if s != "joint":
            c = _COLUMN[s]
            pos[row.name] = (c, -depth[c])
            depth[c] += 1
    y = -max(depth.values())
    joint = [r for r, s in zip(rows, streams, strict=True) if s == "joint"]
    two_stage = any(r.name == "vce_p" for r in joint)
    level = {r.name: {"vce_p": 1, "protein_task_layer": 1 + two_stage}.get(r.name, int(r.name.endswith("task_layer")))
             for r in joint}  # VCE(-N) on top, VCE-C and the heads below the VCE that feeds them
    edges = _edges(model, rows)
    for lv in sorted(set(level.values())):
        same = [r.name for r in joint if level[r.name] == lv]
        for i, name in enumerate(same):
            sources = [a for a, b in edges if b == name]
            if len(same) > 1:  # side by side across the full width
                x = (n_cols - 1) * i / (len(same) - 1)
            elif len(sources) == 1:  # a head right below the VCE that feeds it
                x = pos[sources[0]][0]
            else:
                x = (n_cols - 1) / 2
            pos[name] = (x, y - lv)

    width, height = 3.4 * n_cols + 0.6, 1.25 * (1 - min(p[1] for p in pos.values())) + 1.0
    fig, ax = plt.subplots(figsize=(width, height))
    bw, bh = 0.86, 0.62
    for row, s in zip(rows, streams, strict=True):
        x, yy = pos[row.name]
        ax.add_patch(FancyBboxPatch((x - bw / 2, yy - bh / 2), bw, bh, boxstyle="round,pad=0.02",
                                    fc=_COLOURS[s], ec="0.3", lw=0.8))
        ax.text(x, yy + 0.16, row.name, ha="center", va="center", fontsize=7.5, weight="bold")
        ax.text(x, yy - 0.02, row.kind, ha="center", va="center", fontsize=6.5)
        ax.text(x, yy - 0.19, f"{shape_str(row.output)}  |  {row.n_params:,} params", ha="center", va="center",
                fontsize=6.5, color="0.25")
    for src, dst in edges:
        (x0, y0), (x1, y1) = pos[src], pos[dst]
        if y0 == y1:  # same row (cross-attention from the neighbouring stream): side to side
            start, end, rad = (x0 + bw / 2, y0), (x1 - bw / 2, y1), 0.0
        else:
            start, end, rad = (x0, y0 - bh / 2), (x1, y1 + bh / 2), 0.0 if x0 == x1 else 0.08
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=8, lw=0.7, color="0.35",
                                     shrinkA=1, shrinkB=1, connectionstyle=f"arc3,rad={rad}"))
    inputs = _input_labels(model)
    for s, text in inputs.items():
        c = _COLUMN[s]
        ax.text(c, 0.62, text, ha="center", va="center", fontsize=7, style="italic")
    ax.set_xlim(-0.6, n_cols - 0.4)
    ax.set_ylim(min(p[1] for p in pos.values()) - 0.6, 0.95)
    ax.axis("off")
    ax.set_title(f"{title or type(model).__name__}: {total:,} parameters", fontsize=9)
    fig.tight_layout()
    return fig


def _input_labels(model: nn.Module) -> dict[str, str]:
    cfg = model.cfg
    labels = {"dna": f"DNA embedding  {shape_str((None, cfg.n_bins, cfg.dna_dim))}"}
    if isinstance(model, CDT1):
        labels["rna"] = f"gene embeddings  {cfg.n_genes:,} x {cfg.rna_emb_dim}"
        labels["protein"] = f"protein embeddings  {cfg.n_genes:,} x {cfg.prot_emb_dim}"
    else:
        labels["rna"] = f"RNA ln(CPM+1)  {shape_str((None, cfg.n_genes))}"
        if isinstance(model, CDT3):
            labels["protein"] = f"protein (DSB)  {shape_str((None, cfg.n_proteins))}"
    return labels

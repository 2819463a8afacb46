"""The architecture schematics: boxes per module (from `cdt.models.summary`), arrows along the data flow.

The drawings stand in for the papers' Figure 1 diagrams; they show no data, so they carry no data mark. Boxes are
titled in words ("DNA self-attention, layer 1", "RNA prediction head"), not by the code's module names, and a key
under the drawing spells out VCE, DSB and the batch dimension B.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from torch import nn

from cdt.models.blocks import AttentionBlock, RawExpressionEncoder, SequenceProjector, VirtualCellEmbedder
from cdt.models.cdt1 import CDT1
from cdt.models.cdt3 import CDT3
from cdt.models.summary import ModuleRow, module_summary, module_units, shape_str

__all__ = [
    "RUN_SCHEMATICS",
    "block_title",
    "draw_schematic",
    "run_schematics",
]

RUN_SCHEMATICS = {
    "cdt1": ("cdt1_fig1_architecture", "CDT v1"),
    "cdt2": ("cdt2_fig1_architecture", "CDT-II"),
    "cdt3": ("cdt3_fig1_architecture", "CDT-III (two-stage VCE)"),
    "cdt3_single": ("cdt3_fig2a_single_stage_architecture", "CDT-III single-stage ablation"),
}
"""Run key -> (figure name, title) of the schematics that stand in for the papers' architecture figures."""

_COLUMN = {"dna": 0, "rna": 1, "protein": 2}
_WORDS = {"dna": "DNA", "rna": "RNA", "protein": "protein"}
_TITLES = {
    "dna_projector": "DNA projection",
    "dna_projection": "DNA projection",
    "rna_projection": "gene-embedding projection",
    "protein_projection": "protein-embedding projection",
    "rna_encoder": "RNA expression encoder",
    "protein_encoder": "protein expression encoder",
    "dna_to_rna": "DNA→RNA cross-attention",
    "rna_to_protein": "RNA→protein cross-attention",
    "vce": "VCE",
    "vce_t": "VCE-N (nuclear stage)",
    "vce_p": "VCE-C (cytosolic stage)",
    "task_layer": "prediction head",
    "rna_task_layer": "RNA prediction head",
    "protein_task_layer": "protein prediction head",
}
_KEY = (
    "VCE: virtual cell embedding (attention pooling of each input into one vector per cell, then a fusion network).\n"
    "B: cells in a batch; shapes are each block's output."
)
_KEY_DSB = "DSB: denoised and scaled by background (the protein normalisation)."
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
    units = dict(module_units(model))
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


def block_title(name: str) -> str:
    """A module's box title in words: ``dna_self_attn_layers.0`` -> "DNA self-attention, layer 1" (layers counted
    from 1), ``vce_t`` -> "VCE-N (nuclear stage)"; a name not known here loses its underscores."""
    m = re.fullmatch(r"(dna|rna|protein)_self_attn_layers\.(\d+)", name)
    if m:
        return f"{_WORDS[m[1]]} self-attention, layer {int(m[2]) + 1}"
    return _TITLES.get(name, name.replace("_", " "))


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + f" and {words[-1]}"


def _description(name: str, unit: nn.Module, model: nn.Module) -> str:
    """What a block does, in words (the second line of its box)."""
    if isinstance(unit, AttentionBlock):
        if name == "dna_to_rna":
            return f"RNA tokens attend to DNA bins, {unit.n_heads} heads"
        if name == "rna_to_protein":
            return f"protein tokens attend to RNA tokens, {unit.n_heads} heads"
        return f"{unit.n_heads} attention heads"
    if isinstance(unit, VirtualCellEmbedder):
        pooled = _join([_WORDS.get(m, m) for m in unit.modalities])
        heads = f"{unit.n_heads} heads{' each' if len(unit.modalities) > 1 else ''}"
        if unit.n_context:
            return f"pools {pooled} ({heads}), fuses it with the RNA cell vector"
        return f"pools {pooled} ({heads}), fuses them"
    if isinstance(unit, RawExpressionEncoder):
        return (
            "one token per protein from its level"
            if name.startswith("protein")
            else "one token per gene from its expression"
        )
    if isinstance(unit, SequenceProjector):
        return f"linear projection to width {model.cfg.d_model}"
    if isinstance(unit, nn.Sequential):
        if isinstance(model, CDT1):
            return "effect β at every gene (read at the target)"
        return "protein change of every protein" if name.startswith("protein") else "log2 fold change of every gene"
    return type(unit).__name__


def _shape(shape: tuple[int | None, ...]) -> str:
    return shape_str(shape).replace(" x ", " × ")


def draw_schematic(model: nn.Module, title: str | None = None) -> Figure:
    """Boxes per module (what it is, what it does, output shape, parameters) laid out by modality, arrows along the
    data flow, a key spelling out the abbreviations underneath."""
    rows = module_summary(model)
    units = dict(module_units(model))
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
    level = {
        r.name: {"vce_p": 1, "protein_task_layer": 1 + two_stage}.get(r.name, int(r.name.endswith("task_layer")))
        for r in joint
    }  # VCE(-N) on top, VCE-C and the heads below the VCE that feeds them
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
        ax.add_patch(
            FancyBboxPatch(
                (x - bw / 2, yy - bh / 2), bw, bh, boxstyle="round,pad=0.02", fc=_COLOURS[s], ec="0.3", lw=0.8
            )
        )
        ax.text(x, yy + 0.16, block_title(row.name), ha="center", va="center", fontsize=7.5, weight="bold")
        ax.text(x, yy - 0.02, _description(row.name, units[row.name], model), ha="center", va="center", fontsize=6.5)
        ax.text(
            x,
            yy - 0.19,
            f"output {_shape(row.output)}  |  {row.n_params:,} parameters",
            ha="center",
            va="center",
            fontsize=6.5,
            color="0.25",
        )
    for src, dst in edges:
        (x0, y0), (x1, y1) = pos[src], pos[dst]
        if y0 == y1:  # same row (cross-attention from the neighbouring stream): side to side
            start, end, rad = (x0 + bw / 2, y0), (x1 - bw / 2, y1), 0.0
        else:
            start, end, rad = (x0, y0 - bh / 2), (x1, y1 + bh / 2), 0.0 if x0 == x1 else 0.08
        ax.add_patch(
            FancyArrowPatch(
                start,
                end,
                arrowstyle="-|>",
                mutation_scale=8,
                lw=0.7,
                color="0.35",
                shrinkA=1,
                shrinkB=1,
                connectionstyle=f"arc3,rad={rad}",
            )
        )
    inputs = _input_labels(model)
    for s, text in inputs.items():
        c = _COLUMN[s]
        ax.text(c, 0.62, text, ha="center", va="center", fontsize=7, style="italic")
    bottom = min(p[1] for p in pos.values())
    key = _KEY + (f"\n{_KEY_DSB}" if isinstance(model, CDT3) else "")
    ax.text(-0.55, bottom - 0.5, key, ha="left", va="top", fontsize=6.5, color="0.25")
    ax.set_xlim(-0.6, n_cols - 0.4)
    ax.set_ylim(bottom - 0.95, 0.95)
    ax.axis("off")
    ax.set_title(f"{title or type(model).__name__}: {total:,} parameters", fontsize=9)
    fig.tight_layout()
    return fig


def _input_labels(model: nn.Module) -> dict[str, str]:
    cfg = model.cfg
    labels = {"dna": f"input: DNA embedding\nB × {cfg.n_bins:,} bins × {cfg.dna_dim:,}"}
    if isinstance(model, CDT1):
        labels["rna"] = f"input: gene embeddings\n{cfg.n_genes:,} genes × {cfg.rna_emb_dim:,}"
        labels["protein"] = f"input: protein embeddings\n{cfg.n_genes:,} proteins × {cfg.prot_emb_dim:,}"
    else:
        labels["rna"] = f"input: RNA expression, ln(CPM + 1)\nB × {cfg.n_genes:,} genes"
        if isinstance(model, CDT3):
            labels["protein"] = f"input: protein level, DSB-normalised\nB × {cfg.n_proteins:,} proteins"
    return labels


def run_schematics(models: Mapping[str, nn.Module], *, preset: str) -> dict[str, Figure]:
    """The schematic of each trained model among `RUN_SCHEMATICS` (keyed by run: cdt1, cdt2, cdt3, cdt3_single), by
    figure name, titled with the preset the models were built at (CDT v1 Fig 1, CDT-II Fig 1, CDT-III Fig 1; the
    single-stage model of CDT-III Fig 2A)."""
    return {
        name: draw_schematic(models[key], f"{title}, {preset} preset")
        for key, (name, title) in RUN_SCHEMATICS.items()
        if key in models
    }

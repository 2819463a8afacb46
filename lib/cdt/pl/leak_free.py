"""Figures of notebook 08 (the leak-free test): each run under each input protocol beside the baselines, and the
attention claims against the planted truth with the level each should be read against.

Every function takes a table from `cdt.analyses.leak_free` and returns a matplotlib Figure. Runs are CDT models, so
their input protocols are shades of the CDT blue; baselines are grey; reference levels dark grey.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from cdt.pl import PALETTE, shades

__all__ = ["PROTOCOL_COLOURS", "INPUT_LABELS", "prediction_bars", "readout_dots"]

_CDT = shades("CDT", 4)
PROTOCOL_COLOURS = {"cell": _CDT[0], "control": _CDT[1], "ntc-mean": _CDT[2], "-": PALETTE["baseline"]}
"""Bars and dots by input protocol: shades of the CDT blue (every run is a CDT model); baselines in grey."""
INPUT_LABELS = {
    "cell": "input: each cell's own",
    "control": "input: a control cell",
    "ntc-mean": "input: mean of control cells",
}
"""The input protocols (`cdt.train.data.INPUT_PROTOCOLS`) in words."""
_OUTPUT_LABELS = {"rna": "RNA", "protein": "protein"}


def _run_words(run: str) -> str:
    """'CDT-II, control' (`cdt.analyses.leak_free.run_label`) in words: 'CDT-II, input: a control cell'."""
    model, _, protocol = run.rpartition(", ")
    return f"{model}, {INPUT_LABELS[protocol]}" if model and protocol in INPUT_LABELS else run


def _protocol_handles(protocols) -> list[Patch]:
    return [Patch(color=PROTOCOL_COLOURS[p], label=f"CDT, {INPUT_LABELS[p]}") for p in INPUT_LABELS if p in protocols]


def prediction_bars(table: pd.DataFrame, title: str = "") -> Figure:
    """Held-out per-cell r and pseudo-bulk r of each run and baseline (`prediction_table`), one panel per metric and
    one group of bars per model and target."""
    groups = list(table[["model", "target"]].drop_duplicates().itertuples(index=False, name=None))
    fig, axes = plt.subplots(
        len(groups), 2, figsize=(10, 2.2 + 0.4 * len(table)), squeeze=False, sharex=True, layout="constrained"
    )
    for i, (model, target) in enumerate(groups):
        t = table[(table["model"] == model) & (table["target"] == target)]
        labels = [
            m if p == "-" else f"{model}, {INPUT_LABELS.get(p, p)}"
            for m, p in zip(t["method"], t["input_protocol"], strict=True)
        ]
        colours = [PROTOCOL_COLOURS.get(p, PALETTE["baseline"]) for p in t["input_protocol"]]
        for j, (metric, name) in enumerate((("r", "per-cell r"), ("pb_r", "pseudo-bulk r"))):
            ax = axes[i, j]
            y = np.arange(len(t))[::-1]
            ax.barh(y, t[metric].fillna(0), color=colours)
            ax.set_yticks(y, labels if j == 0 else [""] * len(t))
            ax.axvline(0, color=PALETTE["reference"], lw=0.6)
            ax.set_xlabel(f"{name}, {_OUTPUT_LABELS.get(target, target)}, held-out cells")
            if j == 0:
                ax.set_ylabel("run or baseline")
    handles = _protocol_handles(set(table["input_protocol"])) + [Patch(color=PALETTE["baseline"], label="baseline")]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def readout_dots(readouts: pd.DataFrame) -> Figure:
    """Each attention claim (rows) for each run (colour by input protocol) as a dot, with the chance or model-free
    level it is read against as a dark grey bar. Columns: claim, run, input_protocol, value, reference_value."""
    claims = list(dict.fromkeys(readouts["claim"]))
    fig, axes = plt.subplots(len(claims), 1, figsize=(8, 1.1 * len(claims) + 1.2), squeeze=False, layout="constrained")
    runs = list(dict.fromkeys(readouts["run"]))
    for ax, claim in zip(axes[:, 0], claims, strict=True):
        t = readouts[readouts["claim"] == claim].set_index("run")
        for k, run in enumerate(runs):
            if run in t.index:
                colour = PROTOCOL_COLOURS.get(t.loc[run, "input_protocol"], PALETTE["CDT"])
                ax.plot(t.loc[run, "value"], k, "o", color=colour)
        ref = t["reference_value"].iloc[0]
        ax.axvline(ref, color=PALETTE["reference"], lw=1.5)
        ax.set_yticks(range(len(runs)), [_run_words(r) for r in runs], fontsize=7)
        ax.set_ylim(-0.7, len(runs) - 0.3)
        ax.set_title(f"{claim} (bar: {t['reference'].iloc[0]}, {ref:g})", fontsize=8, loc="left")
        ax.set_xlabel("value", fontsize=8)
        ax.set_ylabel("run", fontsize=8)
    handles = _protocol_handles(set(readouts["input_protocol"])) + [
        Line2D([], [], color=PALETTE["reference"], lw=1.5, label="level to read it against")
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8, frameon=False)
    return fig

"""Figures of notebook 08 (the leak-free test): each run under each input protocol beside the baselines, and the
attention claims against the planted truth with the level each should be read against.

Every function takes a table from `cdt.analyses.leak_free` and returns a matplotlib Figure.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from cdt.pl import PALETTE

PROTOCOL_COLOURS = {"cell": PALETTE["CDT"], "control": "#5dade2", "ntc-mean": "#a569bd", "-": PALETTE["baseline"]}
"""Bars by input protocol (shades of the CDT blue, green stays the truth colour); baselines in grey."""


def prediction_bars(table: pd.DataFrame, title: str = "") -> Figure:
    """Held-out per-cell r and pseudo-bulk r of each run and baseline (`prediction_table`), one panel per metric and
    one group of bars per model and target."""
    groups = list(table[["model", "target"]].drop_duplicates().itertuples(index=False, name=None))
    fig, axes = plt.subplots(len(groups), 2, figsize=(9, 2.2 + 0.35 * len(table)), squeeze=False)
    for i, (model, target) in enumerate(groups):
        t = table[(table["model"] == model) & (table["target"] == target)]
        labels = [
            m if p == "-" else f"{model}, input {p}" for m, p in zip(t["method"], t["input_protocol"], strict=True)
        ]
        colours = [PROTOCOL_COLOURS.get(p, PALETTE["baseline"]) for p in t["input_protocol"]]
        for j, (metric, name) in enumerate((("r", "per-cell r"), ("pb_r", "pseudo-bulk r"))):
            ax = axes[i, j]
            y = np.arange(len(t))[::-1]
            ax.barh(y, t[metric], color=colours)
            ax.set_yticks(y, labels if j == 0 else [""] * len(t))
            ax.axvline(0, color="black", lw=0.5)
            ax.set_xlabel(f"{name} ({target}, held-out cells)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def readout_dots(readouts: pd.DataFrame) -> Figure:
    """Each attention claim (rows) for each run (colour by input protocol) as a dot, with the chance or model-free
    level it is read against as a black bar. Columns: claim, run, input_protocol, value, reference_value."""
    claims = list(dict.fromkeys(readouts["claim"]))
    fig, axes = plt.subplots(len(claims), 1, figsize=(8, 0.9 * len(claims) + 0.6), squeeze=False)
    runs = list(dict.fromkeys(readouts["run"]))
    for ax, claim in zip(axes[:, 0], claims, strict=True):
        t = readouts[readouts["claim"] == claim].set_index("run")
        for k, run in enumerate(runs):
            if run in t.index:
                ax.plot(t.loc[run, "value"], k, "o", color=PROTOCOL_COLOURS.get(t.loc[run, "input_protocol"], "k"))
        ref = t["reference_value"].iloc[0]
        ax.axvline(ref, color="black", lw=1.5)
        ax.set_yticks(range(len(runs)), runs, fontsize=7)
        ax.set_ylim(-0.7, len(runs) - 0.3)
        ax.set_title(f"{claim} (black: {t['reference'].iloc[0]}, {ref:g})", fontsize=8, loc="left")
    fig.tight_layout()
    return fig

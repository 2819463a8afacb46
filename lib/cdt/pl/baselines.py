"""Figures of notebook 07 (baselines and controls): prediction baselines, edge recovery, incremental value, head
ablation and ground-truth recovery.

Every function takes tables from `cdt.baselines` / `cdt.analyses.baselines` and returns a matplotlib Figure; saving
is `cdt.pl.save_figure`. CDT is drawn in the project's CDT colour, model-free methods in greys and muted colours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from cdt.analyses.baselines import BASELINE_LABELS
from cdt.pl import DIVERGING, PALETTE
from cdt.pl.genome import BIN_SCORE_LABELS

__all__ = [
    "FAMILY_COLOURS",
    "METHOD_COLOURS",
    "METHOD_LABELS",
    "EDGE_LABELS",
    "TARGET_LABELS",
    "RECOVERY_LABELS",
    "CONDITION_COLOURS",
    "prediction_bars",
    "per_perturbation",
    "edge_recovery",
    "incremental_forest",
    "head_ablation",
    "recovery_heatmap",
]

FAMILY_COLOURS = {
    "CDT": PALETTE["CDT"],
    "attention": PALETTE["CDT"],
    "gradient": "#8e44ad",
    "correlation": "#e67e22",
    "gene-level": "#7f8c8d",
    "baseline": PALETTE["baseline"],
    "other": "#34495e",
}
METHOD_COLOURS = {
    "ridge": "#6c3483",  # not red: red marks published values in every figure
    "ridge_dna": "#e59866",
    "mean": "#7f8c8d",
    "mean (trainer)": "#b3b6b7",
    "nearest_locus": "#16a085",
    "zero": "#d5d8dc",
}
METHOD_LABELS = {**BASELINE_LABELS, "mean (trainer)": "mean training effect (trainer)"}
EDGE_LABELS = {  # edge scores (`cdt.baselines.edge_scores`) in words
    "attention_row": "attention: what the gene attends to",
    "attention_column": "attention: what attends to the gene",
    "cross_attention_similarity": "similar DNA->RNA attention",
    "jacobian_row": "gradient (Jacobian row)",
    "jacobian_column": "gradient (Jacobian column)",
    "spearman_ntc": "|Spearman|, control cells",
    "spearman_perturbed": "|Spearman|, perturbed cells",
    "mean": "gene's mean expression",
    "variance": "gene's expression variance",
    "dropout": "gene's dropout rate",
}
TARGET_LABELS = {
    "DE": "observed DE genes",
    "truth_direct": "planted direct targets",
    "truth_downstream": "planted downstream genes",
}
RECOVERY_LABELS = {  # methods and truths of `recovery_table` (notebook 07, section 5) in words
    **EDGE_LABELS,
    "attention (query->key)": "attention: source attends to target",
    "attention (key->query)": "attention: target attends to source",
    "jacobian |d out / d in|": "gradient |d target / d source|",
    "mean (both genes)": "both genes' mean expression",
    "variance (both genes)": "both genes' expression variance",
    "dropout (both genes)": "both genes' dropout rate",
    "cross_attention": "DNA->RNA attention to the bin",
    **{k: BIN_SCORE_LABELS[k] for k in ("embedding_norm", "near_centre")},  # the same words as notebook 05
    "network": "planted edge (directed)",
    "network_undirected": "planted edge (either way)",
    "network_downstream": "downstream in the network",
    "module": "same regulatory module",
    "state_module": "same cell-state module",
    "CTCF": "CTCF site",
    "open": "open chromatin",
}
CONDITION_COLOURS = {"intact": "#000000", "top": "#d35400", "bottom": "#2e86c1", "random": "#7f8c8d"}


def _chance(ax: plt.Axes, horizontal: bool = True) -> None:
    (ax.axhline if horizontal else ax.axvline)(0.5, color="0.4", ls="--", lw=0.8, zorder=0)


def prediction_bars(summary: pd.DataFrame, title: str = "") -> Figure:
    """Flattened r and mean pseudo-bulk r of CDT and every baseline on the same test cells, one panel per
    (model, target). summary: `PredictionComparison.reported(protocol)`."""
    panels = list(dict.fromkeys(zip(summary["model"], summary["target"], strict=True)))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.4), squeeze=False, sharex=True)
    for ax, (model, target) in zip(axes[0], panels, strict=True):
        s = summary[(summary["model"] == model) & (summary["target"] == target)].reset_index(drop=True)
        y = np.arange(len(s))
        colours = [
            FAMILY_COLOURS["CDT"] if f == "CDT" else METHOD_COLOURS.get(m, PALETTE["baseline"])
            for m, f in zip(s["method"], s["family"], strict=True)
        ]
        ax.barh(y - 0.2, s["r"].fillna(0), height=0.38, color=colours)
        ax.barh(y + 0.2, s["pb_r"].fillna(0), height=0.38, color=colours, alpha=0.45, hatch="//")
        for yi, (r, pb) in enumerate(zip(s["r"], s["pb_r"], strict=True)):
            for dy, v in ((-0.2, r), (0.2, pb)):  # beside the bar's end, in black: readable on any bar colour
                finite = np.isfinite(v)
                ax.text(
                    max(v, 0) + 0.015 if finite else 0.015,
                    yi + dy,
                    f"{v:.2f}" if finite else "N/A",
                    va="center",
                    ha="left",
                    fontsize=8,
                    color="black" if finite else "0.45",
                )
        ax.set_yticks(y, [METHOD_LABELS.get(m, m) for m in s["method"]])
        ax.invert_yaxis()
        ax.axvline(0, color="0.3", lw=0.6)
        ax.set(title=f"{model}: {target}", xlabel="Pearson r (test cells)", xlim=(min(-0.1, s["r"].min() - 0.05), 1.15))
    fig.legend(  # below the panels: inside one it covered a bar
        handles=[
            plt.Rectangle((0, 0), 1, 1, color="0.4"),
            plt.Rectangle((0, 0), 1, 1, color="0.4", alpha=0.45, hatch="//"),
        ],
        labels=["overall r (cells x features)", "mean pseudo-bulk r (per perturbation)"],
        loc="lower center",
        ncol=2,
        fontsize=9,
        frameon=False,
        bbox_to_anchor=(0.5, -0.06),
    )
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def per_perturbation(per: pd.DataFrame, methods: Sequence[str]) -> Figure:
    """Pseudo-bulk r of each held-out perturbation, CDT vs baselines, one panel per (model, target).

    per: `PredictionComparison.per_perturbation` rows of one protocol and role."""
    panels = list(dict.fromkeys(zip(per["model"], per["target"], strict=True)))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.0 * len(panels), 4.0), squeeze=False, sharey=True)
    markers = dict(zip(methods, "o^sDvP*X", strict=False))
    for ax, (model, target) in zip(axes[0], panels, strict=True):
        p = per[(per["model"] == model) & (per["target"] == target) & per["method"].isin(methods)]
        perts = sorted(p["perturbation"].unique())
        x = {g: i for i, g in enumerate(perts)}
        for j, m in enumerate(methods):
            q = p[p["method"] == m]
            if q.empty:
                continue
            colour = FAMILY_COLOURS["CDT"] if (q["family"] == "CDT").all() else METHOD_COLOURS.get(m, "0.5")
            ax.scatter(
                q["perturbation"].map(x) + (j - len(methods) / 2) * 0.08,
                q["pb_r"],
                color=colour,
                marker=markers.get(m, "o"),
                s=42,
                label=METHOD_LABELS.get(m, m),
                edgecolor="white",
                linewidth=0.5,
            )
        ax.set_xticks(range(len(perts)), perts, rotation=45, ha="right")
        ax.axhline(0, color="0.3", lw=0.6)
        ax.set(title=f"{model}: {target}", ylabel="pseudo-bulk r")
    handles = {h.get_label(): h for ax in axes[0] for h in ax.get_legend_handles_labels()[0]}
    axes[0, -1].legend(handles=list(handles.values()), loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    fig.tight_layout()
    return fig


def edge_recovery(table: pd.DataFrame, summary: pd.DataFrame, highlight: str | None = "GFI1B") -> Figure:
    """Per-perturbation AUROC of every edge score (dots), mean (bar), one panel per label set (DE, truth targets);
    `highlight` marks one perturbation. table/summary: `perturbation_benchmark(...).table`, `edge_summary`."""
    targets = list(dict.fromkeys(summary["target"]))
    order = list(summary[summary["target"] == targets[0]]["method"])
    fig, axes = plt.subplots(
        1, len(targets), figsize=(4.6 * len(targets), 0.38 * len(order) + 1.8), squeeze=False, sharey=True
    )
    rng = np.random.default_rng(0)
    for ax, target in zip(axes[0], targets, strict=True):
        s = summary[summary["target"] == target].set_index("method").reindex(order)
        y = np.arange(len(order))
        colours = [FAMILY_COLOURS.get(f, "0.5") for f in s["family"].fillna("other")]
        ax.barh(y, s["auroc_mean"].fillna(0.5) - 0.5, left=0.5, color=colours, alpha=0.35, height=0.7)
        t = table[table["target"] == target]
        for yi, m in enumerate(order):
            v = t[t["method"] == m]
            ax.scatter(v["auroc"], yi + rng.uniform(-0.2, 0.2, len(v)), s=10, color=colours[yi], alpha=0.8)
            if highlight is not None:
                h = v[v["perturbation"] == highlight]
                ax.scatter(
                    h["auroc"],
                    [yi] * len(h),
                    marker="*",
                    s=120,
                    color=PALETTE["highlight"],
                    edgecolor="black",
                    linewidth=0.5,
                    zorder=5,
                )
        _chance(ax, horizontal=False)
        ax.set_yticks(y, [EDGE_LABELS.get(m, m) for m in order])
        ax.set(title=TARGET_LABELS.get(target, target), xlabel="AUROC per perturbation", xlim=(0, 1))
    axes[0, 0].invert_yaxis()
    handles = [
        Line2D([], [], marker="s", ls="", color=c, label=f)
        for f, c in FAMILY_COLOURS.items()
        if f in set(summary["family"])
    ]
    if highlight is not None:
        handles.append(Line2D([], [], marker="*", ls="", color=PALETTE["highlight"], markersize=11, label=highlight))
    axes[0, -1].legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    fig.tight_layout()
    return fig


def incremental_forest(tables: Mapping[str, pd.DataFrame]) -> Figure:
    """AUROC gain of gene-level features + each edge score over gene-level features alone, with its bootstrap CI;
    one panel per metric. tables: metric -> `incremental_value` table."""
    fig, axes = plt.subplots(
        1,
        len(tables),
        figsize=(5.2 * len(tables), 0.45 * max(map(len, tables.values())) + 1.8),
        squeeze=False,
        sharey=True,
    )
    for ax, (metric, t) in zip(axes[0], tables.items(), strict=True):
        y = np.arange(len(t))
        ax.errorbar(
            t["delta"],
            y,
            xerr=[t["delta"] - t["ci_low"], t["ci_high"] - t["delta"]],
            fmt="o",
            color=PALETTE["CDT"],
            ecolor="0.5",
            capsize=3,
        )
        ax.axvline(0, color="0.3", lw=0.8, ls="--")
        ax.set_yticks(y, [EDGE_LABELS.get(m, m) for m in t["added"]])
        base = float(t["auroc_base"].iloc[0]) if len(t) else float("nan")
        ax.set(title=f"{metric}: base AUROC {base:.3f}", xlabel="AUROC(base + score) - AUROC(base)")
    axes[0, 0].invert_yaxis()
    fig.tight_layout()
    return fig


def head_ablation(tables: Mapping[str, pd.DataFrame]) -> Figure:
    """Per model (row): change in r and in pseudo-bulk r by condition, and the intervention fidelity (cosine distance
    of the cell embedding from the intact model). tables: label -> `head_ablation` table."""
    fig, axes = plt.subplots(len(tables), 3, figsize=(13, 3.4 * len(tables)), squeeze=False)
    conditions = ["top", "bottom", "random"]
    for row, (label, t) in zip(axes, tables.items(), strict=True):
        for ax, col, name, ylabel in zip(
            row,
            ("delta_r", "delta_pb_r", "embedding_cos_mean"),
            ("change in r", "change in pseudo-bulk r", "embedding shift"),
            ("r ablated - r intact", "pseudo-bulk r ablated - intact", "cosine distance to intact embedding"),
            strict=True,
        ):
            for i, c in enumerate(conditions):
                v = t[t["condition"] == c][col]
                ax.scatter(
                    np.full(len(v), i) + np.linspace(-0.15, 0.15, len(v)) * (len(v) > 1),
                    v,
                    color=CONDITION_COLOURS[c],
                    s=30,
                )
                if len(v):
                    ax.hlines(v.mean(), i - 0.25, i + 0.25, color=CONDITION_COLOURS[c], lw=2)
            ax.axhline(0, color="0.3", lw=0.6)
            k = int(t["k"].max())
            ax.set_xticks(range(len(conditions)), [f"best {k}", f"worst {k}", f"random {k}"])
            ax.set(title=f"{label}: {name}", ylabel=ylabel, xlabel="heads silenced (ranked by network recovery)")
    fig.tight_layout()
    return fig


def recovery_heatmap(tables: Mapping[str, pd.DataFrame], value: str = "auroc") -> Figure:
    """Method x truth heat maps of AUROC (or AUPRC), one panel per table (e.g. genes, DNA elements); methods and
    truths are labelled in words (`RECOVERY_LABELS`), the tables keep the code names."""
    width = sum(2.6 + 0.9 * t["target"].nunique() for t in tables.values()) + 1.5
    height = 0.42 * max(t["method"].nunique() for t in tables.values()) + 2.4
    fig, axes = plt.subplots(
        1,
        len(tables),
        figsize=(width, height),
        squeeze=False,
        layout="constrained",
        gridspec_kw={"width_ratios": [t["target"].nunique() for t in tables.values()]},
    )
    for ax, (title, t) in zip(axes[0], tables.items(), strict=True):
        m = t.pivot(index="method", columns="target", values=value)
        m = m.reindex(index=list(dict.fromkeys(t["method"])), columns=list(dict.fromkeys(t["target"])))
        im = ax.imshow(m.to_numpy(dtype=float), cmap=DIVERGING, vmin=0, vmax=1, aspect="auto")
        for (i, j), v in np.ndenumerate(m.to_numpy(dtype=float)):
            ax.text(
                j,
                i,
                "—" if not np.isfinite(v) else f"{v:.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if np.isfinite(v) and abs(v - 0.5) > 0.3 else "black",
            )
        ax.set_xticks(range(m.shape[1]), [RECOVERY_LABELS.get(c, c) for c in m.columns], rotation=35, ha="right")
        ax.set_yticks(range(m.shape[0]), [RECOVERY_LABELS.get(i, i) for i in m.index])
        ax.grid(False)
        ax.set_title(title)
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label=value.upper() + " (0.5 = chance)")
    return fig

"""Figures of notebook 07 (baselines and controls): prediction baselines, edge recovery, incremental value, head
ablation and ground-truth recovery.

Every function takes tables from `cdt.baselines` / `cdt.analyses.baselines` and returns a matplotlib Figure; saving
is `cdt.pl.save_figure`. Colours follow `cdt.pl`: CDT models in the CDT blue (two models: `shades`), baselines and
model-free scores in greys told apart by marker, gradients purple; the one highlighted perturbation orange.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from cdt.analyses.baselines import BASELINE_LABELS, METHOD_FAMILY
from cdt.pl import DIVERGING, NA_COLOUR, PALETTE, category_colours, shades
from cdt.pl.cd52 import _legend_beside, _power_of_ten, _times
from cdt.pl.genome import BIN_SCORE_LABELS

__all__ = [
    "FAMILY_COLOURS",
    "FAMILY_MARKERS",
    "METHOD_COLOURS",
    "METHOD_MARKERS",
    "METHOD_LABELS",
    "EDGE_LABELS",
    "TARGET_LABELS",
    "OUTPUT_LABELS",
    "METRIC_LABELS",
    "SAME_TOLERANCE",
    "RECOVERY_LABELS",
    "CONDITION_COLOURS",
    "prediction_bars",
    "per_perturbation",
    "edge_recovery",
    "incremental_forest",
    "head_ablation",
    "recovery_heatmap",
]

_GREYS = shades("baseline", 3)
FAMILY_COLOURS = {  # edge-score families: model-derived in the model's colours, model-free in greys
    "CDT": PALETTE["CDT"],
    "attention": PALETTE["CDT"],
    "gradient": PALETTE["gradient"],
    "correlation": _GREYS[0],
    "gene-level": _GREYS[1],
    "baseline": PALETTE["baseline"],
    "other": _GREYS[2],
}
"""Colour of each edge-score family (`cdt.analyses.baselines.METHOD_FAMILY`)."""
FAMILY_MARKERS = {"attention": "o", "gradient": "D", "correlation": "s", "gene-level": "^", "other": "X"}
"""Marker of each edge-score family, so the two grey families stay apart."""
_METHOD_ORDER = ("mean (trainer)", "mean", "ridge", "ridge_dna", "nearest_locus", "zero")
METHOD_COLOURS = dict(zip(_METHOD_ORDER, shades("baseline", len(_METHOD_ORDER)), strict=True))
"""Grey shade of each prediction baseline (`cdt.baselines.prediction_baselines`, the trainer's own mean)."""
METHOD_MARKERS = {"mean (trainer)": "p", "mean": "s", "ridge": "D", "ridge_dna": "v", "nearest_locus": "P", "zero": "X"}
"""Marker of each prediction baseline in per-perturbation plots (CDT models: o and ^)."""
METHOD_LABELS = {
    **BASELINE_LABELS,
    "ridge": "ridge on the cell's own input profile + DNA\n(positive control: the answer is in the input)",
    "mean (trainer)": "mean training effect as the training run\ncomputed it (not equal to the other row)",
}
"""Prediction methods in words. The ridge on the input reaches r = 1 because each cell's target is an affine map of
its own measured profile, which is the model's input (`cdt.baselines.predict`): a positive control, not a rival.
The training run's own mean training effect is the library's `mean` computed again (a check); it gets a row of its
own only where the two differ (`prediction_bars`)."""
SAME_TOLERANCE = 5e-4
"""The training run's and the library's mean training effect count as the same number (shown once) when their r and
pseudo-bulk r differ by less than this (half the last digit the figure prints)."""
EDGE_LABELS = {  # edge scores (`cdt.baselines.edge_scores`) in words
    "attention_row": "attention: what the gene attends to",
    "attention_column": "attention: what attends to the gene",
    "cross_attention_similarity": "similar DNA→RNA attention",
    "jacobian_row": "gradient: how much the gene's prediction\nchanges with each input gene",
    "jacobian_column": "gradient: how much each gene's prediction\nchanges with the gene's input",
    "spearman_ntc": "|Spearman|, control cells",
    "spearman_perturbed": "|Spearman|, perturbed cells",
    "mean": "gene's mean expression",
    "variance": "gene's expression variance",
    "dropout": "gene's dropout rate",
}
"""Edge scores in words; "the gene" is the knocked-down gene, each score ranks every other gene."""
TARGET_LABELS = {
    "DE": "observed DE genes",
    "truth_direct": "planted direct targets",
    "truth_downstream": "planted downstream genes",
}
"""Label sets of the edge benchmark in words."""
OUTPUT_LABELS = {"rna": "RNA log2 fold change", "protein": "protein change (DSB)"}
"""What a model predicts (the `target` column of the prediction tables), in words."""
METRIC_LABELS = {
    "pooled": "pooled: one AUROC over all\n(perturbation, gene) pairs",
    "within": "within: mean AUROC over\nperturbations, each on its own genes",
}
"""The incremental-value metrics (`cdt.analyses.baselines.incremental_tables`) in words."""
PROTOCOL_LABELS = {
    "paper": "the test genes also chose the checkpoint, as in the papers",
    "clean": "checkpoint chosen on validation genes",
}
RECOVERY_LABELS = {  # methods and truths of `recovery_table` (notebook 07, section 5) in words
    **EDGE_LABELS,
    "attention (query->key)": "attention: source attends to target",
    "attention (key->query)": "attention: target attends to source",
    "jacobian |d out / d in|": "gradient |d target / d source|",
    "mean (both genes)": "both genes' mean expression",
    "variance (both genes)": "both genes' expression variance",
    "dropout (both genes)": "both genes' dropout rate",
    "cross_attention": "DNA→RNA attention to the bin",
    **{k: BIN_SCORE_LABELS[k] for k in ("embedding_norm", "near_centre")},  # the same words as notebook 05
    "network": "planted edge (directed)",
    "network_undirected": "planted edge (either way)",
    "network_downstream": "downstream in the network",
    "module": "same regulatory module",
    "state_module": "same cell-state module",
    "CTCF": "CTCF site",
    "open": "open chromatin",
}
"""Methods and planted truths of the ground-truth recovery tables in words."""
CONDITION_COLOURS = {"intact": PALETTE["reference"], **category_colours(["top", "bottom", "random"])}
"""Head-ablation conditions: the intact model in the reference grey, the three sets of silenced heads as
categories (none of them is a baseline, a published value or a truth)."""


def _model_label(label: str) -> str:
    """'CDT-II (rna)' (a table key) in words: 'CDT-II, RNA log2 fold change'."""
    model, _, output = label.partition(" (")
    output = output.rstrip(")")
    return f"{model}, {OUTPUT_LABELS.get(output, output)}" if output else model


def _r_text(v: float) -> str:
    """A correlation with two decimals, 'N/A' when undefined; never '-0.00'."""
    if not np.isfinite(v):
        return "N/A"
    text = f"{v:.2f}"
    return "0.00" if text == "-0.00" else text


def _chance(ax: plt.Axes, horizontal: bool = True) -> None:
    (ax.axhline if horizontal else ax.axvline)(0.5, color="0.4", ls="--", lw=0.8, zorder=0)


def _method_colour(method: str, family: str, cdt_colour: str = PALETTE["CDT"]) -> str:
    return cdt_colour if family == "CDT" else METHOD_COLOURS.get(method, PALETTE["baseline"])


def _one_mean(s: pd.DataFrame) -> pd.DataFrame:
    """The rows of one panel with the training run's own mean training effect ("mean (trainer)") dropped when it
    equals the library's "mean" (r and pseudo-bulk r within `SAME_TOLERANCE`): one quantity, shown once."""
    trainer, library = s[s["method"] == "mean (trainer)"], s[s["method"] == "mean"]
    if len(trainer) != 1 or len(library) != 1:
        return s
    a = trainer[["r", "pb_r"]].to_numpy(dtype=float)
    b = library[["r", "pb_r"]].to_numpy(dtype=float)
    if np.allclose(a, b, rtol=0, atol=SAME_TOLERANCE, equal_nan=True):
        return s[s["method"] != "mean (trainer)"].reset_index(drop=True)
    return s


def prediction_bars(summary: pd.DataFrame, title: str | None = None) -> Figure:
    """Flattened r and mean pseudo-bulk r of CDT and every baseline on the same test cells, one panel per
    (model, target). summary: `PredictionComparison.reported(protocol)`. CDT in its blue, baselines in greys;
    overall r solid, pseudo-bulk r hatched; an undefined r (a constant prediction) is written N/A. The training
    run's own mean training effect is drawn only where it differs from the library's (`_one_mean`); the ridge on
    the input is labelled as the positive control it is.
    title: None names the comparison and the protocol of the rows; "" draws none."""
    panels = list(dict.fromkeys(zip(summary["model"], summary["target"], strict=True)))
    fig, axes = plt.subplots(
        1, len(panels), figsize=(5.4 * len(panels), 4.6), squeeze=False, sharex=True, layout="constrained"
    )
    first = []
    for ax, (model, target) in zip(axes[0], panels, strict=True):
        s = _one_mean(summary[(summary["model"] == model) & (summary["target"] == target)].reset_index(drop=True))
        y = np.arange(len(s))
        colours = [_method_colour(m, f) for m, f in zip(s["method"], s["family"], strict=True)]
        ax.barh(y - 0.2, s["r"].fillna(0), height=0.38, color=colours, edgecolor="0.25", lw=0.4)
        ax.barh(y + 0.2, s["pb_r"].fillna(0), height=0.38, color=colours, edgecolor="white", lw=0, hatch="///")
        for yi, (r, pb) in enumerate(zip(s["r"], s["pb_r"], strict=True)):
            for dy, v in ((-0.2, r), (0.2, pb)):  # beside the bar's end, in black: readable on any bar colour
                finite = np.isfinite(v)
                ax.text(
                    max(v, 0) + 0.015 if finite else 0.015,
                    yi + dy,
                    _r_text(v),
                    va="center",
                    ha="left",
                    fontsize=8,
                    color="black" if finite else "0.45",
                )
        names = [
            "CDT model (panel title)" if f == "CDT" else METHOD_LABELS.get(m, m)
            for m, f in zip(s["method"], s["family"], strict=True)
        ]
        ax.set_yticks(y, names)
        if ax is not axes[0, 0] and names == first:  # the same rows as the first panel: its names serve
            ax.tick_params(labelleft=False)
        else:
            ax.set_ylabel("prediction method")
        first = first or names
        ax.invert_yaxis()
        ax.axvline(0, color=PALETTE["reference"], lw=0.6)
        ax.set(
            title=f"{model}: {OUTPUT_LABELS.get(target, target)}",
            xlabel="Pearson r, held-out test cells",
            xlim=(min(-0.1, s["r"].min() - 0.05), 1.15),
        )
    fig.legend(  # below the panels: inside one it covered a bar
        handles=[
            Patch(facecolor=PALETTE["baseline"], edgecolor="0.25", lw=0.4, label="overall r (all cells × features)"),
            Patch(
                facecolor=PALETTE["baseline"],
                edgecolor="white",
                hatch="///",
                label="mean pseudo-bulk r (per perturbation)",
            ),
            Patch(facecolor=PALETTE["CDT"], label="CDT model (named in the panel title)"),
            Patch(facecolor=PALETTE["baseline"], label="simple baselines (greys)"),
        ],
        loc="outside lower center",
        ncol=4,
        fontsize=9,
        frameon=False,
    )
    if title is None:
        protocols = list(dict.fromkeys(summary["protocol"])) if "protocol" in summary else []
        how = "; ".join(PROTOCOL_LABELS.get(p, p) for p in protocols)
        title = "CDT beside simple baselines on the same held-out test cells" + (f" ({how})" if how else "")
    if title:
        fig.suptitle(title)
    return fig


def per_perturbation(per: pd.DataFrame, methods: Sequence[str]) -> Figure:
    """Pseudo-bulk r of each held-out perturbation, CDT vs baselines, one panel per (model, target): CDT models in
    CDT blues (o, ^), baselines in greys with their own markers, the methods side by side at each perturbation.

    per: `PredictionComparison.per_perturbation` rows of one protocol and role."""
    panels = list(dict.fromkeys(zip(per["model"], per["target"], strict=True)))
    fig, axes = plt.subplots(
        1, len(panels), figsize=(5.0 * len(panels), 4.4), squeeze=False, sharey=True, layout="constrained"
    )
    models = [m for m in methods if (per.loc[per["method"] == m, "family"] == "CDT").any()]
    model_colours = dict(zip(models, shades("CDT", len(models) + 1), strict=False))  # not the palest shade
    model_markers = dict(zip(models, "o^v<>", strict=False))
    handles = {}
    for ax, (model, target) in zip(axes[0], panels, strict=True):
        p = per[(per["model"] == model) & (per["target"] == target) & per["method"].isin(methods)]
        perts = sorted(p["perturbation"].unique())
        x = {g: i for i, g in enumerate(perts)}
        present = [m for m in methods if (p["method"] == m).any()]
        width = 0.8 / max(len(present), 1)  # each method its own slot around the perturbation's tick
        for j, m in enumerate(present):
            q = p[p["method"] == m]
            is_model = m in model_colours
            h = ax.scatter(
                q["perturbation"].map(x) + (j - (len(present) - 1) / 2) * width,
                q["pb_r"],
                color=model_colours[m] if is_model else METHOD_COLOURS.get(m, PALETTE["baseline"]),
                marker=model_markers[m] if is_model else METHOD_MARKERS.get(m, "o"),
                s=42,
                edgecolor="white" if is_model else "0.2",
                linewidth=0.6,
                zorder=3,
            )
            handles.setdefault(m, h)
        ax.set_xticks(range(len(perts)), perts, rotation=45, ha="right")
        for i in range(1, len(perts)):
            ax.axvline(i - 0.5, color="0.9", lw=0.8, zorder=0)
        ax.grid(False, axis="x")
        ax.axhline(0, color=PALETTE["reference"], lw=0.6)
        ax.set(
            title=f"{model}: {OUTPUT_LABELS.get(target, target)}",
            xlabel="held-out perturbation (knocked-down gene)",
            ylabel="pseudo-bulk r",
        )
    shown = [m for m in methods if m in handles]  # in the caller's order: models first
    fig.legend(
        handles=[handles[m] for m in shown],
        labels=[METHOD_LABELS.get(m, m) for m in shown],
        loc="outside right upper",
        fontsize=8,
    )
    return fig


def _family_handles(families) -> list[Line2D]:
    return [
        Line2D(
            [],
            [],
            marker=FAMILY_MARKERS.get(f, "o"),
            ls="",
            color=FAMILY_COLOURS.get(f, "0.5"),
            mec="0.2",
            mew=0.4,
            label=f,
        )
        for f in FAMILY_MARKERS
        if f in set(families)
    ]


def edge_recovery(table: pd.DataFrame, summary: pd.DataFrame, highlight: str | None = "GFI1B") -> Figure:
    """Per-perturbation AUROC of every edge score (dots), mean (bar), one panel per label set (DE, truth targets);
    `highlight` marks one perturbation. table/summary: `perturbation_benchmark(...).table`, `edge_summary`.
    Families: attention CDT blue, gradients purple, correlation and gene-level scores grey (two markers)."""
    targets = list(dict.fromkeys(summary["target"]))
    order = list(summary[summary["target"] == targets[0]]["method"])
    fig, axes = plt.subplots(
        1,
        len(targets),
        figsize=(4.4 * len(targets) + 2.0, 0.38 * len(order) + 2.0),
        squeeze=False,
        sharey=True,
        layout="constrained",
    )
    rng = np.random.default_rng(0)
    for ax, target in zip(axes[0], targets, strict=True):
        s = summary[summary["target"] == target].set_index("method").reindex(order)
        y = np.arange(len(order))
        families = [METHOD_FAMILY.get(m, f) for m, f in zip(order, s["family"].fillna("other"), strict=True)]
        colours = [FAMILY_COLOURS.get(f, "0.5") for f in families]
        ax.barh(y, s["auroc_mean"].fillna(0.5) - 0.5, left=0.5, color=colours, alpha=0.3, height=0.7)
        t = table[table["target"] == target]
        for yi, m in enumerate(order):
            v = t[t["method"] == m]
            ax.scatter(
                v["auroc"],
                yi + rng.uniform(-0.2, 0.2, len(v)),
                s=12,
                color=colours[yi],
                marker=FAMILY_MARKERS.get(families[yi], "o"),
                edgecolor="0.2",
                linewidth=0.3,
                alpha=0.85,
            )
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
        ax.set(title=TARGET_LABELS.get(target, target), xlabel="AUROC per perturbation", xlim=(-0.04, 1.04))
    axes[0, 0].set_ylabel("edge score (the gene: the knocked-down gene)")
    axes[0, 0].invert_yaxis()
    handles = _family_handles(summary["family"])
    handles += [
        Patch(facecolor="0.6", alpha=0.3, label="bar: mean AUROC\nover perturbations"),
        Line2D([], [], color="0.4", ls="--", lw=0.8, label="chance (AUROC 0.5)"),
    ]
    if highlight is not None:
        handles.append(
            Line2D([], [], marker="*", ls="", color=PALETTE["highlight"], mec="black", markersize=11, label=highlight)
        )
    _legend_beside(axes[0, -1], handles, fontsize=8)
    return fig


def incremental_forest(tables: Mapping[str, pd.DataFrame]) -> Figure:
    """AUROC gain of gene-level features + each edge score over gene-level features alone, with its bootstrap CI;
    one panel per metric (`METRIC_LABELS`). tables: metric -> `incremental_value` table. Scores coloured by family
    (attention CDT blue, gradients purple, |Spearman| grey). What the AUROC recovers: which genes are differentially
    expressed in each knockdown's cells (the observed DE genes, `cdt.baselines.incremental`), predicted by logistic
    regressions that never saw that knockdown."""
    fig, axes = plt.subplots(
        1,
        len(tables),
        figsize=(4.8 * len(tables) + 2.8, 0.45 * max(map(len, tables.values())) + 2.4),
        squeeze=False,
        sharey=True,
        layout="constrained",
    )
    families = set()
    for ax, (metric, t) in zip(axes[0], tables.items(), strict=True):
        y = np.arange(len(t))
        for yi, (_, row) in enumerate(t.iterrows()):
            family = METHOD_FAMILY.get(row["added"], "other")
            families.add(family)
            ax.errorbar(
                row["delta"],
                yi,
                xerr=[[row["delta"] - row["ci_low"]], [row["ci_high"] - row["delta"]]],
                fmt=FAMILY_MARKERS.get(family, "o"),
                color=FAMILY_COLOURS.get(family, "0.5"),
                mec="0.2",
                mew=0.4,
                ecolor=FAMILY_COLOURS.get(family, "0.5"),
                capsize=3,
            )
        ax.axvline(0, color=PALETTE["reference"], lw=0.8, ls="--")
        ax.set_yticks(y, [EDGE_LABELS.get(m, m) for m in t["added"]])
        base = float(t["auroc_base"].iloc[0]) if len(t) else float("nan")
        ax.set_title(f"{METRIC_LABELS.get(metric, metric)}\ngene-level features alone: AUROC {base:.3f}", fontsize=10)
        ax.set_xlabel("AUROC gain for the observed DE genes\n(gene-level + score − gene-level alone)")
    axes[0, 0].set_ylabel("edge score added")
    axes[0, 0].invert_yaxis()
    handles = _family_handles(families) + [
        Line2D([], [], color="0.3", label="95% bootstrap interval\n(over perturbations)"),
        Line2D([], [], color=PALETTE["reference"], ls="--", lw=0.8, label="no gain"),
    ]
    fig.legend(handles=handles, loc="outside right upper", fontsize=8, title="score family", title_fontsize=8)
    fig.suptitle(
        "Telling each knockdown's observed DE genes from its other genes (knockdown held out):\n"
        "does an edge score add to the gene-level features (mean expression, variance, dropout rate)?",
        fontsize=11,
    )
    return fig


def head_ablation(tables: Mapping[str, pd.DataFrame]) -> Figure:
    """Per model (row): change in r and in pseudo-bulk r by condition, and the intervention fidelity (cosine distance
    of the cell embedding from the intact model). tables: label -> `head_ablation` table. Best / worst k: the k
    heads whose attention maps recover the gene network best / worst; random k: k heads drawn at random."""
    fig, axes = plt.subplots(len(tables), 3, figsize=(14, 3.6 * len(tables) + 0.6), squeeze=False, layout="constrained")
    conditions = ["top", "bottom", "random"]
    for row, (label, t) in zip(axes, tables.items(), strict=True):
        for ax, col, name, ylabel in zip(
            row,
            ("delta_r", "delta_pb_r", "embedding_cos_mean"),
            ("change in r", "change in pseudo-bulk r", "embedding shift"),
            (
                "Δ r (ablated − intact)",
                "Δ pseudo-bulk r (ablated − intact)",
                "cosine distance from\nintact cell embedding",
            ),
            strict=True,
        ):
            power = _power_of_ten(t[col]) if t[col].abs().max() < 0.01 else 0
            scale = 10.0**-power
            for i, c in enumerate(conditions):
                v = t[t["condition"] == c][col] * scale
                ax.scatter(
                    np.full(len(v), i) + np.linspace(-0.15, 0.15, len(v)) * (len(v) > 1),
                    v,
                    color=CONDITION_COLOURS[c],
                    s=30,
                )
                if len(v):
                    ax.hlines(v.mean(), i - 0.25, i + 0.25, color=CONDITION_COLOURS[c], lw=2)
            ax.axhline(0, color=PALETTE["reference"], lw=0.6)
            k = int(t["k"].max())
            ax.set_xticks(range(len(conditions)), [f"best {k}", f"worst {k}", f"random {k}"])
            ax.set_title(f"{_model_label(label)}\n{name}", fontsize=10)
            ax.set(ylabel=ylabel + _times(power), xlabel="attention heads silenced")
    fig.suptitle(
        "Silencing attention heads: best / worst k = the k heads whose maps recover the gene network best / worst;"
        " random k = k heads drawn at random",
        fontsize=10,
    )
    return fig


def recovery_heatmap(tables: Mapping[str, pd.DataFrame], value: str = "auroc") -> Figure:
    """Method x truth heat maps of AUROC (or AUPRC), one panel per table (e.g. genes, DNA elements), stacked so the
    figure prints at page width; methods and truths are labelled in words (`RECOVERY_LABELS`), the tables keep the
    code names. A missing value is an N/A cell. A panel with the same truths as the one below it leaves the truth
    names to that one."""
    mats = []
    for t in tables.values():
        m = t.pivot(index="method", columns="target", values=value)
        mats.append(m.reindex(index=list(dict.fromkeys(t["method"])), columns=list(dict.fromkeys(t["target"]))))
    width = 3.6 + 0.95 * max(m.shape[1] for m in mats) + 1.2
    height = sum(0.45 * m.shape[0] + 0.6 for m in mats) + 1.6
    fig, axes = plt.subplots(
        len(mats),
        1,
        figsize=(width, height),
        squeeze=False,
        layout="constrained",
        gridspec_kw={"height_ratios": [m.shape[0] + 0.8 for m in mats]},
    )
    cmap = plt.get_cmap(DIVERGING).with_extremes(bad=NA_COLOUR)
    for i, (ax, title, m) in enumerate(zip(axes[:, 0], tables, mats, strict=True)):
        values = m.to_numpy(dtype=float)
        im = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=0, vmax=1, aspect="auto")
        for (r, c), v in np.ndenumerate(values):
            ax.text(
                c,
                r,
                "N/A" if not np.isfinite(v) else f"{v:.2f}",
                ha="center",
                va="center",
                fontsize=10,
                color="white" if np.isfinite(v) and abs(v - 0.5) > 0.3 else "black",
            )
        below = mats[i + 1] if i + 1 < len(mats) else None
        if below is not None and list(below.columns) == list(m.columns):
            ax.set_xticks(range(m.shape[1]), [""] * m.shape[1])
        else:
            ax.set_xticks(range(m.shape[1]), [RECOVERY_LABELS.get(c, c) for c in m.columns], rotation=35, ha="right")
            ax.set_xlabel("planted truth to recover")
        ax.set_yticks(range(m.shape[0]), [RECOVERY_LABELS.get(name, name) for name in m.index])
        ax.set_ylabel("score")
        ax.grid(False)
        ax.set_title(title)
    fig.colorbar(im, ax=axes[:, 0].tolist(), shrink=0.6, label=value.upper() + " (0.5 = chance)")
    return fig

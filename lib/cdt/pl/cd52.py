"""CD52 / Alemtuzumab figures (CDT-III Figs 4A-C, 6, Tables 8, 10) from the tables of `cdt.analyses.cd52`.

Every function returns a matplotlib Figure; saving is `cdt.pl.save_figure`. Colours follow `cdt.pl`: the model's
predictions in the CDT blue, gradients purple, published values red, the simulator's planted truth green, the
knocked-down gene and the authors' clinically relevant proteins orange; a measured rise / fall is a dark / light
shade of the quantity's colour (mRNA teal, protein purple).
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from cdt.pl import PALETTE, shades

__all__ = [
    "rna_scatter",
    "protein_scatter",
    "side_effect_bars",
    "gradient_bars",
    "gradient_concordance",
    "divergence_bars",
    "truth_panels",
]

# the authors' clinically relevant proteins: the one protein group the side-effect map is about
CLINICAL = PALETTE["highlight"]
# measured rise (dark) / fall (light) of each quantity after the knockdown
MRNA_UP, MRNA_DOWN, PROT_UP, PROT_DOWN = "#00796b", "#80cbc4", "#6a1b9a", "#ce93d8"
# gradients: purple, dark where the first-order change is a rise, light where it is a fall
GRAD_UP, GRAD_DOWN = shades("gradient", 2)
MEASURED = "#212121"  # measured values in a scatter beside the model's predictions (no palette meaning)
CONTROL_INPUT = "input: mean of control cells"
ARROW = {"up": "↑", "down": "↓"}
SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power_of_ten(values) -> int:
    """The power of ten that brings the largest magnitude of `values` into [1, 10): the figures divide gradients
    by it and name it in the axis label ("× 10⁻⁵"), so no axis carries matplotlib's detached offset text. 0 when
    there is nothing finite to scale or the values already fall in [0.01, 1000)."""
    v = np.abs(np.asarray(values, dtype=float))
    v = v[np.isfinite(v) & (v > 0)]
    if not len(v):
        return 0
    top = float(v.max())
    if 0.01 <= top < 1000:
        return 0
    return int(np.floor(np.log10(top)))


def _legend_beside(ax: plt.Axes, handles: list, **kwargs) -> None:
    """A legend to the right of a panel, outside the data."""
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), **kwargs)


def _times(power: int) -> str:
    return f" (× 10{str(power).translate(SUPERSCRIPT)})" if power else ""


def _diagonal(ax: plt.Axes, x: np.ndarray, y: np.ndarray) -> None:
    lim = 1.08 * float(np.nanmax(np.abs(np.concatenate([np.ravel(x), np.ravel(y)])))) or 1.0
    ax.plot([-lim, lim], [-lim, lim], ls="--", lw=0.8, color=PALETTE["reference"], label="y = x")
    ax.axhline(0, color="0.8", lw=0.6)
    ax.axvline(0, color="0.8", lw=0.6)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")


def _crosses(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> bool:
    """Whether the segments a-b and c-d (display coordinates) cross (touching ends do not count)."""

    def side(p, q, r) -> float:
        return float((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]))

    return side(a, b, c) * side(a, b, d) < 0 and side(c, d, a) * side(c, d, b) < 0


def _through(a: np.ndarray, b: np.ndarray, box) -> bool:
    """Whether the segment a-b passes through the box (display coordinates), sampled every few pixels."""
    n = int(np.hypot(*(b - a)) // 2) + 2
    s = a + np.linspace(0, 1, n)[:, None] * (b - a)
    return bool(np.any((s[:, 0] > box.x0) & (s[:, 0] < box.x1) & (s[:, 1] > box.y0) & (s[:, 1] < box.y1)))


def _points_along(a: np.ndarray, b: np.ndarray, points: np.ndarray, near: float = 4.0) -> int:
    """How many of `points` (display coordinates) lie within `near` pixels of the segment a-b, the point at its
    start (the one it labels) aside."""
    d = b - a
    t = np.clip(((points - a) @ d) / max(float(d @ d), 1e-9), 0, 1)
    dist = np.hypot(*(points - (a + t[:, None] * d)).T)
    return int(np.sum((dist < near) & (np.hypot(*(points - a).T) > near)))


def _near_box(box, points: np.ndarray, own: np.ndarray, near: float) -> bool:
    """Whether a point of `points` other than `own` lies within `near` pixels of `box` (display coordinates): a
    label without a leader there could name either point."""
    dx = np.maximum.reduce([box.x0 - points[:, 0], np.zeros(len(points)), points[:, 0] - box.x1])
    dy = np.maximum.reduce([box.y0 - points[:, 1], np.zeros(len(points)), points[:, 1] - box.y1])
    other = np.hypot(*(points - own).T) > 1.0
    return bool(np.any(other & (np.hypot(dx, dy) < near)))


def _label_points(ax: plt.Axes, labels: list[tuple[float, float, str]], x: np.ndarray, y: np.ndarray) -> None:
    """Write each (x, y, name) label beside its point where it covers no point of (x, y) and no label placed before
    it and stays inside the panel, out of 16 directions at growing distances. A label not right next to its point,
    or right next to another point as well, gets a thin leader line back to its point. Of the free spots, the one
    whose leader runs through the fewest labels (and whose label the fewest earlier leaders run through), then
    crosses the fewest leaders, then lies nearest (a label on a line already drawn, such as y = x, counts as three
    steps further, and each point a leader passes over as one step), wins. Deterministic, so both presets get a
    checked layout."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    points = ax.transData.transform(np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)]))
    frame = ax.get_window_extent(renderer)
    px_per_pt = fig.dpi / 72
    taken, leaders = [], []  # label boxes and leader segments placed so far (display coordinates)
    drawn = [  # segments of the lines already drawn (y = x, zero lines): a label on one reads badly
        (xy[k], xy[k + 1])
        for xy in (line.get_transform().transform(line.get_xydata()) for line in ax.lines)
        for k in range(len(xy) - 1)
    ]
    directions = [(1, 1), (-1, 1), (1, -1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1)]
    directions += [(1, 2), (-1, 2), (1, -2), (-1, -2), (2, 1), (-2, 1), (2, -1), (-2, -1)]
    radii = (3, 8, 15, 24, 36, 50, 68, 90, 115)
    for x0, y0, name in labels:
        at = ax.transData.transform((x0, y0))
        text = ax.text(x0, y0, name, fontsize=8)

        def place(radius: float, dx: int, dy: int, text=text, at=at):
            anchor = at + px_per_pt * radius * np.array([dx, dy]) / np.hypot(dx, dy)
            text.set_position(ax.transData.inverted().transform(anchor))
            text.set_ha({1: "left", -1: "right", 0: "center"}[int(np.sign(dx))])
            text.set_va({1: "bottom", -1: "top", 0: "center"}[int(np.sign(dy))])
            return anchor, text.get_window_extent(renderer).padded(4)  # clear of the point markers

        best, best_cost = None, None
        for i, radius in enumerate(radii):
            for j, (dx, dy) in enumerate(directions):
                anchor, box = place(radius, dx, dy)
                inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
                hit = (
                    (points[:, 0] > box.x0)
                    & (points[:, 0] < box.x1)
                    & (points[:, 1] > box.y0)
                    & (points[:, 1] < box.y1)
                )
                if not inside or hit.any() or any(box.overlaps(b) for b in taken):
                    continue
                if i == 0 and _near_box(box, points, at, near=6.0):  # beside another point too: needs a leader
                    continue
                through = sum(_through(a, b, box) for a, b in leaders)  # earlier leaders through this label
                if i > 0:
                    through += sum(_through(at, anchor, b.padded(2)) for b in taken)  # this leader through labels
                crosses = sum(_crosses(at, anchor, a, b) for a, b in leaders) if i > 0 else 0
                on_lines = sum(_through(a, b, box) for a, b in drawn)
                cost = (through, crosses, i + 3 * on_lines + (_points_along(at, anchor, points) if i else 0), j)
                if best_cost is None or cost < best_cost:
                    best, best_cost = (radius, dx, dy), cost
            if best_cost is not None and best_cost[:2] == (0, 0) and best_cost[2] <= i:
                break  # nothing better lies further out
        radius, dx, dy = best or (radii[-1], *directions[7])
        anchor, _ = place(radius, dx, dy)
        if radius > radii[0]:  # a thin line back to the point
            end = ax.transData.inverted().transform(anchor)
            ax.plot([x0, end[0]], [y0, end[1]], color="0.5", lw=0.5, zorder=1)
            leaders.append((at, anchor))
        taken.append(text.get_window_extent(renderer))


def _protein_label(protein: str, gene) -> str:
    return protein if gene == protein or gene is None or pd.isna(gene) else f"{protein} ({gene})"


def rna_scatter(rna: pd.DataFrame, r: float, n_cells: int, gene: str = "CD52") -> Figure:
    """Fig 4A: cell-mean measured vs predicted log2 fold change per gene, the knocked-down gene highlighted."""
    fig, ax = plt.subplots(figsize=(5.2, 5.2))
    ax.scatter(rna["actual"], rna["predicted"], s=8, alpha=0.35, color=PALETTE["CDT"], linewidths=0)
    own = rna[rna["gene"] == gene]
    if len(own):
        ax.scatter(own["actual"], own["predicted"], s=60, color=CLINICAL, edgecolor="k", zorder=3, label=gene)
        ax.legend(loc="upper left", fontsize=9)
    _diagonal(ax, rna["actual"].to_numpy(), rna["predicted"].to_numpy())
    ax.set(
        xlabel="measured mean log2 fold change",
        ylabel="predicted mean log2 fold change",
        title=f"{gene} knockdown, RNA\nr = {r:.3f} over {len(rna)} genes, {n_cells} cells",
    )
    fig.tight_layout()
    return fig


def protein_scatter(
    protein: pd.DataFrame,
    r: float,
    n_label: int = 6,
    control: pd.DataFrame | None = None,
    control_r: float | None = None,
    *,
    gene: str = "CD52",
) -> Figure:
    """Fig 4B: cell-mean measured vs predicted change per expressed protein after the `gene` knockdown, the top
    `n_label` by |measured change| labelled (moved off the points and each other).

    control (optional): the same proteins predicted with every cell's protein input set to the mean of the control
    cells, drawn as open circles in a lighter CDT shade (the same model, the measured proteins hidden).
    """
    e = protein[protein["expressed"]]
    cdt, cdt_light = shades("CDT", 2)
    fig, ax = plt.subplots(figsize=(5.6, 6.4))
    ax.scatter(
        e["actual"],
        e["predicted"],
        s=22,
        alpha=0.8,
        color=cdt,
        linewidths=0,
        label=f"CDT-III, input: each cell's measured proteins (r = {r:.3f})",
    )
    xs, ys = [e["actual"].to_numpy()], [e["predicted"].to_numpy()]
    if control is not None:
        c = control[control["expressed"]]
        ax.scatter(
            c["actual"],
            c["predicted"],
            s=22,
            facecolor="none",
            edgecolor=cdt_light,
            label=f"CDT-III, protein {CONTROL_INPUT} (r = {control_r:.3f})",
        )
        xs.append(c["actual"].to_numpy())
        ys.append(c["predicted"].to_numpy())
    top = e.reindex(e["actual"].abs().sort_values(ascending=False).index[:n_label])
    labels = [
        (row["actual"], row["predicted"], _protein_label(row["protein"], row["gene"])) for _, row in top.iterrows()
    ]
    _diagonal(ax, np.concatenate(xs), np.concatenate(ys))
    ax.set(
        xlabel="measured mean change (DSB-normalised protein level)",
        ylabel="predicted mean change\n(DSB-normalised protein level)",
        title=f"{gene} knockdown, protein: {len(e)} expressed proteins",
    )
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize=8, frameon=False)
    fig.tight_layout()
    _label_points(ax, labels, np.concatenate(xs), np.concatenate(ys))
    return fig


def side_effect_bars(
    detectable: pd.DataFrame, summary: Mapping[str, float], n_show: int | None = None, *, gene: str = "CD52"
) -> Figure:
    """Fig 4C: measured and predicted change of the detectable proteins after the `gene` knockdown, largest first.

    Measured bars in the protein colour (dark: rise, light: fall), predicted bars in the CDT blue; the authors'
    clinically relevant proteins have their names in orange, and a ✗ after a name marks a protein whose predicted
    direction differs from the measured one. n_show=None shows all detectable proteins (the authors' figure shows
    the first 25).
    """
    d = detectable if n_show is None else detectable.head(n_show)
    fig, ax = plt.subplots(figsize=(8.2, 0.32 * max(len(d), 3) + 1.6))
    y = np.arange(len(d))[::-1]
    measured = [PROT_UP if a > 0 else PROT_DOWN for a in d["actual"]]
    ax.barh(y + 0.2, d["actual"], height=0.4, color=measured, edgecolor="k", lw=0.4)
    ax.barh(y - 0.2, d["predicted"], height=0.4, color=PALETTE["CDT"], edgecolor="k", lw=0.4)
    labels = [_protein_label(p, g) for p, g in zip(d["protein"], d["gene"], strict=True)]
    ax.set_yticks(y, [f"{lab}{'' if ok else '  ✗'}" for lab, ok in zip(labels, d["agree"], strict=True)], fontsize=8)
    for tick, clinical in zip(ax.get_yticklabels(), d["clinical"], strict=True):
        if clinical:
            tick.set_color(CLINICAL)
            tick.set_fontweight("bold")
    ax.axvline(0, color="k", lw=0.6)
    ax.set_ylim(-0.8, len(d) - 0.2)
    shown = f" (first {len(d)} shown)" if len(d) < summary["n_detectable"] else ""
    ax.set(
        xlabel=f"mean change after {gene} knockdown (DSB-normalised protein level)",
        ylabel="protein (gene)",
        title=f"{gene} knockdown: {summary['n_detectable']} proteins change by more than {summary['threshold']} DSB"
        f"{shown}\npredicted direction agrees for {summary['n_agree']} of {summary['n_detectable']}",
    )
    handles = [
        Patch(facecolor=PROT_UP, edgecolor="k", lw=0.4, label="measured rise"),
        Patch(facecolor=PROT_DOWN, edgecolor="k", lw=0.4, label="measured fall"),
        Patch(facecolor=PALETTE["CDT"], edgecolor="k", lw=0.4, label="predicted by CDT-III"),
        Line2D([], [], ls="", marker="s", color=CLINICAL, label="name in orange: clinically\nrelevant (authors' list)"),
        Line2D([], [], ls="", marker="$✗$", color="k", label="✗ after a name: predicted\ndirection is wrong"),
    ]
    _legend_beside(ax, handles, fontsize=8)
    fig.tight_layout()
    return fig


def _published_label(published: float) -> str:
    """The authors' label of a published Table 8 row ("up" for a positive gradient, their rule); "" when the
    protein is not in the published table."""
    return "" if pd.isna(published) else "up" if published >= 0 else "down"


def gradient_bars(table: pd.DataFrame, source: str) -> Figure:
    """Table 8 as a figure: d protein / d RNA(CD52) per protein (purple bars, dark where the first-order change is
    a rise), the published gradients as red diamonds (scaled to this model's largest) and, in a column on the
    right, as printed in the paper (N/A for a protein not in the published top 20). After each name: the authors'
    label from the published table (↑ for a positive published gradient; "not in the paper's table" otherwise)
    beside this run's first-order direction (gradient × measured RNA(CD52) change). This run's own sign is the
    bar; the table's `code_label` (the authors' rule applied to this run) is not drawn."""
    power = _power_of_ten(table["gradient"])
    scale = 10.0**-power
    n = len(table)
    fig, (ax, col) = plt.subplots(
        1, 2, figsize=(10.5, 0.3 * n + 1.8), sharey=True, width_ratios=[1, 0.14], layout="constrained"
    )
    y = np.arange(n)[::-1]
    colours = [GRAD_UP if d == "up" else GRAD_DOWN for d in table["first_order_direction"]]
    ax.barh(y, table["gradient"] * scale, color=colours, edgecolor="k", lw=0.4)
    handles = [
        Patch(facecolor=GRAD_UP, edgecolor="k", lw=0.4, label="first-order change: rise"),
        Patch(facecolor=GRAD_DOWN, edgecolor="k", lw=0.4, label="first-order change: fall"),
    ]
    published = table["published_gradient"]
    if published.notna().any():
        shown = published * _scale(table) * scale
        ax.scatter(shown, y, marker="D", s=20, color=PALETTE["published"], zorder=3)
        handles.append(
            Line2D(
                [],
                [],
                ls="",
                marker="D",
                color=PALETTE["published"],
                label=f"published gradient × {_scale(table):.2g}\n(largest magnitudes equal)",
            )
        )
    # the published values as printed, in a column of their own right of the bars
    col.set_xlim(0, 1)
    col.set_axis_off()
    for yi, v in zip(y, published, strict=True):
        missing = pd.isna(v)
        col.text(
            0.5,
            yi,
            "N/A" if missing else f"{v:+.3f}",
            ha="center",
            va="center",
            fontsize=8,
            color=PALETTE["reference"] if missing else PALETTE["published"],
        )
    col.text(0.5, n - 0.45, "published", ha="center", va="bottom", fontsize=8, color=PALETTE["published"])
    handles += [
        Line2D(
            [],
            [],
            ls="",
            label="published column: the paper's\ngradient; N/A: no published value\n(not in the paper's top 20)",
        ),
        Line2D([], [], ls="", label="authors: the paper's label,\n↑ for a positive published gradient"),
        Line2D([], [], ls="", label="first order: gradient × measured\nchange of RNA(CD52)"),
    ]
    labels = []
    for p, v, f in zip(table["protein"], published, table["first_order_direction"], strict=True):
        authors = _published_label(v)
        said = f"authors {ARROW[authors]}" if authors else "not in the paper's table"
        labels.append(f"{p}  ({said}, first order {ARROW.get(f, f)})")
    ax.set_yticks(y, labels, fontsize=8)
    ax.axvline(0, color="k", lw=0.6)
    ax.set(
        xlabel=f"d protein / d RNA(CD52){_times(power)}",
        ylabel="protein (authors' label, first-order direction)",
        title=f"Top {n} proteins by |d protein / d RNA(CD52)|, input: {source}",
    )
    ax.set_ylim(-0.7, n + 0.25)  # room for the column's header above the first row
    _legend_beside(col, handles, fontsize=8, handlelength=1.2)
    fig.get_layout_engine().set(w_pad=0.02, wspace=0.0)
    return fig


def _scale(table: pd.DataFrame) -> float:
    """Factor that puts the published gradients on this model's scale (largest magnitudes equal)."""
    pub = table["published_gradient"].abs().max()
    return float(table["gradient"].abs().max() / pub) if pub and pub > 0 else 1.0


def gradient_concordance(
    ntc: pd.Series,
    cells: pd.Series,
    expressed: np.ndarray,
    stats: pd.DataFrame,
    n_cells: int,
    n_label: int = 5,
    *,
    gene: str = "CD52",
) -> Figure:
    """Table 10: d protein / d RNA(`gene`) with the mean of control cells as input vs averaged over perturbed
    cells, all proteins (A) and the expressed ones (B), y = x dashed; gradients in purple."""
    expressed = np.asarray(expressed, dtype=bool)
    s = stats.set_index("proteins")
    power = _power_of_ten(np.concatenate([ntc.to_numpy(), cells.to_numpy()]))
    scale = 10.0**-power
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.6))
    panels = ((axes[0], "all", np.ones_like(expressed)), (axes[1], "expressed", expressed))
    texts = []
    for letter, (ax, key, mask) in zip("AB", panels, strict=True):
        a, b = ntc.to_numpy()[mask] * scale, cells.to_numpy()[mask] * scale
        ax.scatter(a, b, s=16, alpha=0.8, color=PALETTE["gradient"], linewidths=0)
        texts.append([(a[i], b[i], ntc.index[mask][i]) for i in np.argsort(-np.abs(a))[:n_label]])
        _diagonal(ax, a, b)
        row = s.loc[key]
        ax.set(
            xlabel=f"d protein / d RNA({gene}),\n{CONTROL_INPUT}{_times(power)}",
            ylabel=f"d protein / d RNA({gene}), mean over {n_cells}\n{gene} knockdown cells{_times(power)}",
        )
        ax.set_title(
            f"{letter}  {key} proteins (n = {int(row['n'])}): r = {row['r']:.3f}, Spearman ρ = {row['rho']:.3f}\n"
            f"same sign {int(row['n_same_direction'])} of {int(row['n'])} "
            f"({100 * row['fraction_same_direction']:.1f}%)",
            fontsize=10,
        )
    fig.tight_layout()
    for (ax, _, mask), labels in zip(panels, texts, strict=True):
        _label_points(ax, labels, ntc.to_numpy()[mask] * scale, cells.to_numpy()[mask] * scale)
    return fig


def divergence_bars(table: pd.DataFrame, summary: Mapping[str, int], *, gene: str = "CD52") -> Figure:
    """Fig 6: measured mRNA log2 fold change (A) and protein change (B, DSB) per gene measured at both levels
    after the `gene` knockdown, sorted by the protein change; predictions as CDT-blue markers. A * after a gene
    marks mRNA and protein moving in opposite directions."""
    fig, (ax_m, ax_p) = plt.subplots(1, 2, figsize=(10, 0.32 * max(len(table), 3) + 1.9), sharey=True)
    y = np.arange(len(table))[::-1]
    panels = (
        (ax_m, "mrna", MRNA_UP, MRNA_DOWN, "A  mRNA", "mean log2 fold change"),
        (ax_p, "protein", PROT_UP, PROT_DOWN, "B  protein", "mean change (DSB-normalised protein level)"),
    )
    for ax, key, up, down, title, unit in panels:
        measured = table[f"{key}_measured"]
        ax.barh(y, measured, height=0.7, edgecolor="k", lw=0.4, color=[up if v > 0 else down for v in measured])
        ax.scatter(
            table[f"{key}_predicted"], y, marker="D", s=26, color=PALETTE["CDT"], edgecolor="white", lw=0.6, zorder=3
        )
        ax.axvline(0, color="k", lw=0.6)
        ax.set_title(title, loc="left")
        ax.set_xlabel(unit)
    ax_m.set_yticks(
        y,
        [f"{g}{' *' if o else ''}" for g, o in zip(table["gene"], table["opposite_measured"], strict=True)],
        fontsize=8,
    )
    ax_m.set_ylabel("gene (mRNA and its protein)")
    ax_p.tick_params(labelleft=False)
    handles = [
        Patch(facecolor=MRNA_UP, edgecolor="k", lw=0.4, label="mRNA: measured rise"),
        Patch(facecolor=MRNA_DOWN, edgecolor="k", lw=0.4, label="mRNA: measured fall"),
        Patch(facecolor=PROT_UP, edgecolor="k", lw=0.4, label="protein: measured rise"),
        Patch(facecolor=PROT_DOWN, edgecolor="k", lw=0.4, label="protein: measured fall"),
        Line2D([], [], ls="", marker="D", color=PALETTE["CDT"], mec="white", label="predicted by CDT-III"),
        Line2D([], [], ls="", label="* after a gene: mRNA and\nprotein move in opposite\ndirections"),
    ]
    _legend_beside(ax_p, handles, fontsize=8, handlelength=1.2)
    fig.suptitle(
        f"mRNA vs protein after {gene} knockdown: {summary['n_opposite']} of {summary['n_both_levels']} genes "
        "move in opposite directions (*)",
        fontsize=11,
    )
    # the title's height is fixed in inches: reserve it so that tall figures (many genes) keep it off the panels
    fig.tight_layout(w_pad=2.5, rect=(0, 0, 1, 1 - 0.45 / fig.get_figheight()))
    return fig


def truth_panels(truth: pd.DataFrame, summary: Mapping[str, float], *, gene: str = "CD52") -> Figure:
    """Simulated data: planted first-order effect of RNA(`gene`) on each protein vs (A) measured and predicted
    change, (B) the gradient with the mean of control cells as input. A correct model puts a negative planted
    effect at a rise and a negative gradient."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 5.0))
    xlabel = f"planted effect of RNA({gene}) on the protein (simulator weight)"
    a.scatter(truth["planted_weight"], truth["measured"], s=20, color=MEASURED, alpha=0.7, label="measured")
    a.scatter(
        truth["planted_weight"],
        truth["predicted"],
        s=22,
        color=PALETTE["CDT"],
        alpha=0.9,
        marker="x",
        label="predicted by CDT-III",
    )
    for ax in (a, b):
        ax.axhline(0, color="0.6", lw=0.6)
        ax.axvline(0, color="0.6", lw=0.6)
    a.set(xlabel=xlabel, ylabel=f"mean change after {gene} knockdown\n(DSB-normalised protein level)")
    a.set_title(
        f"A  predicted |change| > 0.1 DSB for {summary['n_shared']} of the {summary['n_planted']} proteins\n"
        f"wired to {gene} ({summary['n_predicted']} predicted in all)",
        loc="left",
        fontsize=10,
    )
    a.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    if "gradient_ntc_mean" in truth:
        power = _power_of_ten(truth["gradient_ntc_mean"])
        b.scatter(truth["planted_weight"], truth["gradient_ntc_mean"] * 10.0**-power, s=20, color=PALETTE["gradient"])
        b.set(xlabel=xlabel, ylabel=f"d protein / d RNA({gene}),\n{CONTROL_INPUT}{_times(power)}")
        b.set_title(
            f"B  gradient has the planted sign for {summary['gradient_ntc_mean_sign_matches_weight']} of the "
            f"{summary['n_planted']} proteins\nwired to {gene}; |gradient| tells them from the rest with AUROC "
            f"{summary['gradient_ntc_mean_auroc']:.2f}",
            loc="left",
            fontsize=10,
        )
    else:
        b.set_axis_off()
    fig.tight_layout(w_pad=3)
    return fig

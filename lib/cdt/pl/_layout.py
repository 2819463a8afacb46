"""Layout checks a reader would otherwise find by eye: text over text, a legend over data, an unlabelled axis.

`cdt.pl.save_figure` runs `layout_problems` on every figure it saves and writes what it finds beside the PNG
(``<name>.layout.txt``), so a reproduction lists its badly laid-out figures and the CI smoke run fails on them
(`main`, run by tox after the tiny reproduction).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from matplotlib.transforms import Bbox

__all__ = ["layout_problems", "saved_problems", "PROBLEMS_SUFFIX"]

PROBLEMS_SUFFIX = ".layout.txt"
OVERLAP_PX = 1.5  # two boxes overlapping by less than this (in pixels, both ways) touch, they do not cover


def _visible_text(t: Text) -> bool:
    return t.get_visible() and bool(t.get_text().strip())


def _overlap(a: Bbox, b: Bbox) -> bool:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w > OVERLAP_PX and h > OVERLAP_PX


def _name(ax: Axes) -> str:
    title = ax.get_title() or ax.get_title("left") or ax.get_ylabel() or ax.get_xlabel()
    title = " / ".join(line.strip() for line in title.splitlines())
    return f"panel '{title}'" if title else "a panel"


def _drawn_ticklabels(axis) -> list[Text]:
    """Tick labels matplotlib draws: those of ticks inside the axis limits (it also lays out, but never draws,
    labels for ticks just beyond them)."""
    lo, hi = sorted(axis.get_view_interval())
    eps = 1e-9 * (hi - lo)
    out = []
    for tick in axis.get_major_ticks():
        if lo - eps <= tick.get_loc() <= hi + eps:
            out += [t for t in (tick.label1, tick.label2) if _visible_text(t)]
    return out


def _texts(fig: Figure, renderer) -> list[tuple[str, Bbox, object]]:
    """Every visible text with a label and its group: texts of one group (tick labels of one axis, one legend)
    may sit close together by design and are not compared with each other."""
    out = []

    def add(t: Text, group: object) -> None:
        if _visible_text(t):
            out.append((repr(" ".join(t.get_text().split())[:40]), t.get_window_extent(renderer), group))

    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for t in (ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label, *ax.texts):
            add(t, t)
        for axis in (ax.xaxis, ax.yaxis) if ax.axison else ():
            for t in _drawn_ticklabels(axis):
                add(t, ax)  # an x and a y tick label may meet at the panel's corner
        legend = ax.get_legend()
        if legend is not None and legend.get_visible():
            for t in (*legend.get_texts(), legend.get_title()):
                add(t, legend)
    for legend in fig.legends:
        for t in (*legend.get_texts(), legend.get_title()):
            add(t, legend)
    for t in fig.texts:
        add(t, t)
    if fig._suptitle is not None:
        add(fig._suptitle, fig._suptitle)
    return out


def _has_markers(line) -> bool:
    return line.get_marker() not in (None, "", "None", " ")


def _markers(ax: Axes) -> np.ndarray:
    """Display coordinates of an axis' markers: scatter points and the markers of plotted lines."""
    pts = [
        c.get_offset_transform().transform(c.get_offsets())
        for c in ax.collections
        if c.get_visible() and len(c.get_offsets()) and hasattr(c, "get_sizes") and len(c.get_sizes())
    ]
    pts += [
        line.get_transform().transform(line.get_xydata())
        for line in ax.lines
        if line.get_visible() and _has_markers(line)
    ]
    pts = [p for p in pts if len(p)]
    return np.concatenate(pts) if pts else np.empty((0, 2))


def _data_points(ax: Axes) -> np.ndarray:
    """Display coordinates of an axis' data points: its markers and the vertices of its traces (reference lines,
    such as axhline or y = x, have two vertices and run under everything: only their markers count)."""
    traces = [
        line.get_transform().transform(line.get_xydata())
        for line in ax.lines
        if line.get_visible() and not _has_markers(line) and len(line.get_xydata()) > 2
    ]
    return np.concatenate([_markers(ax), *traces])


def _bars(ax: Axes) -> list[Rectangle]:
    """Bars: rectangles in data coordinates (shaded spans such as axvspan are drawn in axes coordinates)."""
    return [
        p for p in ax.patches if isinstance(p, Rectangle) and p.get_visible() and p.get_data_transform() is ax.transData
    ]


def _legend_problems(ax: Axes, box: Bbox, renderer) -> list[str]:
    """What of `ax`'s data the legend box `box` covers: points, bars, an image."""
    out = []
    pts = _data_points(ax)
    inside = int(np.sum((pts[:, 0] > box.x0) & (pts[:, 0] < box.x1) & (pts[:, 1] > box.y0) & (pts[:, 1] < box.y1)))
    if inside:
        out.append(f"legend of {_name(ax)} covers {inside} data point(s)")
    bars = sum(_overlap(box, bar.get_window_extent(renderer)) for bar in _bars(ax))
    if bars:
        out.append(f"legend of {_name(ax)} covers {bars} bar(s)")
    if any(_overlap(box, image.get_window_extent(renderer)) for image in ax.images):
        out.append(f"legend of {_name(ax)} covers its image")
    return out


def _labels_over_markers(ax: Axes, renderer) -> list[str]:
    """Annotations drawn over a marker other than the one they sit on (a label inside its own node is fine)."""
    pts = _markers(ax)
    out = []
    for t in ax.texts:
        if not _visible_text(t) or not len(pts):
            continue
        box = t.get_window_extent(renderer).padded(-1.0)
        anchor = t.get_transform().transform(t.get_position())
        covered = (pts[:, 0] > box.x0) & (pts[:, 0] < box.x1) & (pts[:, 1] > box.y0) & (pts[:, 1] < box.y1)
        covered &= np.hypot(*(pts - anchor).T) > 1.0
        if covered.any():
            out.append(
                f"text {' '.join(t.get_text().split())[:40]!r} in {_name(ax)} covers {int(covered.sum())} marker(s)"
            )
    return out


def layout_problems(fig: Figure) -> list[str]:
    """What covers what in `fig`, in words; empty when nothing does.

    Checked: texts overlapping other texts (titles, axis and tick labels, annotations, legends, figure texts);
    a legend drawn over an axis' points, bars, line vertices or image; an annotation over a marker other than its
    own; an axis with tick labels but no label; a colour bar without a label.
    """
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    problems = []

    texts = _texts(fig, renderer)
    for i, (a, box_a, group_a) in enumerate(texts):
        for b, box_b, group_b in texts[i + 1 :]:
            if group_a is not group_b and _overlap(box_a, box_b):
                problems.append(f"text {a} overlaps text {b}")

    for ax in fig.axes:
        if not ax.get_visible():
            continue
        legend = ax.get_legend()
        if legend is not None and legend.get_visible():
            problems += _legend_problems(ax, legend.get_window_extent(renderer), renderer)
        problems += _labels_over_markers(ax, renderer)
        colorbar = getattr(ax, "_colorbar", None)
        if colorbar is not None:
            axis = ax.yaxis if colorbar.orientation == "vertical" else ax.xaxis
            if not axis.label.get_text().strip():
                problems.append(f"colour bar beside {_name(colorbar.mappable.axes)} has no label")
            continue
        if not ax.axison:
            continue
        for axis, letter in ((ax.xaxis, "x"), (ax.yaxis, "y")):
            if _drawn_ticklabels(axis) and not axis.label.get_text().strip():
                problems.append(f"{letter} axis of {_name(ax)} has tick labels but no label")
    return problems


def saved_problems(figures_dir: str | Path) -> dict[str, list[str]]:
    """The problems `save_figure` recorded beside the figures in `figures_dir`, by figure name."""
    return {
        p.name.removesuffix(PROBLEMS_SUFFIX): p.read_text().splitlines()
        for p in sorted(Path(figures_dir).glob(f"*{PROBLEMS_SUFFIX}"))
    }


def main(figures_dir: str | Path) -> int:
    """Print the layout problems recorded in `figures_dir`; 1 if there are any (the CI smoke run's exit status)."""
    found = saved_problems(figures_dir)
    for name, lines in found.items():
        print(f"{name}:")
        print("\n".join(f"  - {line}" for line in lines))
    n = len(list(Path(figures_dir).glob("*.png")))
    print(f"{len(found)} of {n} figures have layout problems" if found else f"no layout problems in {n} figures")
    return 1 if found else 0

"""Plotting (`cdt.pl`): one seaborn style for every figure, and saving PNG + PDF under stable, panel-named files.

Figures made from data carry a visible mark of their source, so a synthetic panel is never mistaken for
the published one; drawings that involve no data (the architecture schematics) carry none.

Colours keep one meaning in every figure (`PALETTE`):

- ``CDT``: dark blue, this project's trained models and their results;
- ``baseline``: grey, simple predictors and model-free references;
- ``published``: red, values the papers report (lines, markers, bars) and nothing else;
- ``truth``: green, what the simulator planted (synthetic data only);
- ``gradient``: purple, gradient (saliency) results beside attention ones;
- ``reference``: dark grey, reference lines (y = x, zero, the window centre);
- ``highlight``: orange, the one gene or protein group a panel is about (the knocked-down gene, the authors'
  clinically relevant proteins);
- rise / fall after a knockdown: a dark / light shade of the quantity's colour (mRNA teal, protein purple);
- ``NA_COLOUR``: light grey with an "N/A" label, a value that does not exist (never a colour of the data scale);
- ``DIVERGING``: brown below / teal above a neutral middle (AUROC around chance, odds ratios around 1), so no heat
  map uses the published red; one-sided scales (attention, contacts) use the sequential ``SEQUENTIAL`` (viridis);
- several runs of one kind (two CDT models, three baselines): `shades` of the kind's colour, told apart by marker
  or dash;
- categories that carry none of these meanings (ENCODE marks, bin classes, gene sets, network roles):
  `category_colours`, from ``CATEGORIES`` (cyan, brown, magenta, olive, sky, dark brown, pink).

Every figure passes `cdt.pl.layout_problems` (no text over text, no legend over data, every axis and colour
bar labelled); `save_figure` records what it finds beside the PNG.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

if "MPLBACKEND" not in os.environ:
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.colors import to_hex, to_rgb  # noqa: E402

from cdt.pl._layout import PROBLEMS_SUFFIX, layout_problems  # noqa: E402

PALETTE = {
    "CDT": "#1f4e79",
    "baseline": "#9e9e9e",
    "published": "#c0392b",
    "truth": "#2e7d32",
    "highlight": "#e67e22",
    "gradient": "#8e44ad",
    "reference": "#555555",
}
SYNTHETIC_MARK = "synthetic data (simulated screen)"
REAL_MARK = "real (authors' files)"
NA_COLOUR = "#e0e0e0"
# categories with none of the meanings above, none of them close to a meaning colour
CATEGORIES = ("#00838f", "#8d6e63", "#ad1457", "#9e9d24", "#4fc3f7", "#5d4037", "#f48fb1")
DIVERGING = "BrBG"
SEQUENTIAL = "viridis"


def set_style() -> None:
    """The project style: white grid, readable labels at print size."""
    sns.set_theme(context="paper", style="whitegrid", font_scale=1.2)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "savefig.bbox": "tight", "axes.titleweight": "bold"})


def save_figure(
    fig: plt.Figure,
    name: str,
    out_dir: str | os.PathLike,
    synthetic: bool,
    *,
    data: bool = True,
    mark: str | None = None,
) -> list[Path]:
    """Save `fig` as ``<out_dir>/<name>.png`` and ``.pdf``, stamped with its data source (synthetic or real).

    `name` carries the paper and panel id, e.g. ``cdt2_fig3b_per_gene_r``; `mark` replaces the real-data
    stamp for other measured data (an own screen).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    mark = SYNTHETIC_MARK if synthetic else (mark or REAL_MARK)
    if data:  # a drawing of no data (a schematic) has no source to mark; grey, as red means a published value
        _mark_below(fig, mark)
    problems = layout_problems(fig)
    record = out / f"{name}{PROBLEMS_SUFFIX}"
    if problems:
        record.write_text("\n".join(problems) + "\n")
    else:
        record.unlink(missing_ok=True)
    paths = [out / f"{name}.png", out / f"{name}.pdf"]
    for p in paths:
        fig.savefig(p)
    plt.close(fig)
    return paths


def _mark_below(fig: plt.Figure, mark: str) -> None:
    """Stamp `mark` under the bottom right corner of everything drawn, so it never sits on a label."""
    fig.canvas.draw()
    box = fig.get_tightbbox(fig.canvas.get_renderer())  # inches
    w, h = fig.get_size_inches()
    fig.text(box.x1 / w, (box.y0 - 0.04) / h, mark, ha="right", va="top", fontsize=8, color=PALETTE["reference"])


def category_colours(names) -> dict[str, str]:
    """Colours for categories that carry none of the palette's meanings (ENCODE marks, gene sets, roles):
    `CATEGORIES` in order, so the same list of names always gets the same colours."""
    names = list(names)
    if len(names) > len(CATEGORIES):
        raise ValueError(f"{len(names)} categories but {len(CATEGORIES)} category colours; group the rest as 'other'")
    return dict(zip(names, CATEGORIES, strict=False))


def shades(meaning: str, n: int) -> list[str]:
    """`n` shades of one palette colour, darkest first: several runs of one kind (two CDT models, three
    baselines) keep their kind's colour and differ by lightness (and, in a legend, by marker or dash)."""
    base = np.array(to_rgb(PALETTE[meaning]))
    return [to_hex(base + (1 - base) * (0.6 * i / max(n - 1, 1))) for i in range(n)]

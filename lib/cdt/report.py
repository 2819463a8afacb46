"""Headline numbers: notebooks record (item, published, reproduced) rows; the report renders them.

Each notebook owns one ``tables/numbers_<notebook>.csv`` that it rewrites from scratch on every
run, so rerunning a notebook never duplicates rows. `write_report` gathers all of them, plus every
table CSV, into ``REPORT.md``.
"""

from __future__ import annotations

import html
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cdt.pl._layout import saved_problems
from cdt.published import Key, published_value

COLUMNS = [
    "paper",
    "item",
    "quantity",
    "published",
    "value",
    "source",
    "protocol",
    "file",
    "note",
    "notebook",
    "detail",
]


@dataclass
class Numbers:
    """Collects the headline numbers of one notebook."""

    notebook: str
    out_dir: Path
    source: str  # "synthetic (mini, seed 0)" or "real (authors' files)"
    protocol: str = ""
    rows: list[dict] = field(default_factory=list)

    def add(
        self,
        *,
        key: Key,
        value: float | str | None,
        file: str = "",
        note: str = "",
        protocol: str | None = None,
        detail: str = "",
    ) -> float | str | None:
        """Record one number under `key` = (paper, item, quantity) and return `value` (a notebook can show it inline).

        The published value comes from `cdt.published.HEADLINE` (None for rows beyond the papers), so a result and a
        published value cannot be swapped. `detail` extends the quantity's wording with data-dependent text
        (", 171 cell pairs") without changing the key.
        """
        paper, item, quantity = key
        self.rows.append(
            {
                "paper": paper,
                "item": item,
                "quantity": f"{quantity}, {detail}" if detail else quantity,
                "published": published_value(key),
                "value": value,
                "source": self.source,
                "protocol": self.protocol if protocol is None else protocol,
                "file": file,
                "note": note,
                "notebook": self.notebook,
                "detail": detail,
            }
        )
        return value

    def report(self, findings) -> None:
        """Record the headline rows of a `cdt.analyses.Findings` and show its sentences as Markdown (in a notebook).

        One call per figure or table keeps a notebook cell to "compute, draw, report".
        """
        from IPython.display import Markdown, display

        for row in findings.numbers:
            self.add(**row)
        if findings.text:
            display(Markdown(findings.text))

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=COLUMNS)

    def save(self) -> Path:
        path = Path(self.out_dir) / "tables" / f"numbers_{self.notebook}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.table().to_csv(path, index=False)
        return path


def save_table(df: pd.DataFrame, name: str, out_dir: str | os.PathLike) -> Path:
    """Write a result table as ``tables/<name>.csv`` (the report embeds it as Markdown)."""
    path = Path(out_dir) / "tables" / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return path


def _fmt(v) -> str:
    if isinstance(v, str):  # mixed columns (e.g. "23/24" beside numbers) are read back as text
        try:
            v = float(v)
        except ValueError:
            return v
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return f"{int(v):,}"
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.2e}"
        return f"{v:.3g}" if abs(v) < 10 else f"{v:,.1f}"
    return str(v)


def markdown_table(df: pd.DataFrame, max_rows: int = 40) -> str:
    """A plain Markdown table (no extra dependency), truncated to `max_rows`."""
    shown = df.head(max_rows)
    lines = ["| " + " | ".join(map(str, shown.columns)) + " |", "|" + "---|" * len(shown.columns)]
    for _, row in shown.iterrows():
        lines.append("| " + " | ".join(_fmt(v).replace("|", "\\|") for v in row.tolist()) + " |")
    if len(df) > max_rows:
        lines.append(f"\n*({len(df) - max_rows} more rows in the CSV)*")
    return "\n".join(lines)


ABS_TOLERANCE = 0.05  # for published values within [-1, 1] (correlations, fractions, AUROC)
REL_TOLERANCE = 0.10  # for larger published values (counts, odds ratios, fold changes)
P_TOLERANCE = 1.0  # P values: orders of magnitude (log10), the only scale on which P values compare
P_VALUE = r"(?:^|[\s(,])(?:P|p-value|P value)(?:$|[\s),])"  # a quantity that is a P value


def compare_numbers(numbers: pd.DataFrame) -> pd.DataFrame:
    """Rows with a published number, classed ``reproduced`` (within `ABS_TOLERANCE` of a published value in
    [-1, 1], else within `REL_TOLERANCE` of it; P values within `P_TOLERANCE` orders of magnitude), ``differs``
    or ``not testable`` (no number on this data), with the difference scaled by the tolerance (`gap`, > 1 means
    outside it) to rank differences across quantities."""
    published = pd.to_numeric(numbers["published"], errors="coerce")
    value = pd.to_numeric(numbers["value"], errors="coerce")
    rows = numbers.loc[published.notna()].copy()
    p, v = published[rows.index], value[rows.index]
    tolerance = (p.abs() * REL_TOLERANCE).where(p.abs() > 1, ABS_TOLERANCE)
    rows["gap"] = (v - p).abs() / tolerance
    is_p = rows["quantity"].astype(str).str.contains(P_VALUE) & (p > 0)
    log_gap = (np.log10(v.clip(lower=1e-300)) - np.log10(p.clip(lower=1e-300))).abs() / P_TOLERANCE
    rows.loc[is_p, "gap"] = log_gap[is_p]
    rows["status"] = "not testable"
    rows.loc[v.notna() & (rows["gap"] <= 1), "status"] = "reproduced"
    rows.loc[v.notna() & (rows["gap"] > 1), "status"] = "differs"
    return rows


def summary_lines(numbers: pd.DataFrame, n_differences: int = 5) -> list[str]:
    """The report's opening: per paper, published numbers reproduced / differing / not testable, and the largest
    differences (relative to the tolerance)."""
    rows = compare_numbers(numbers)
    if rows.empty:
        return []
    lines = [
        "## Summary",
        "",
        f"A published number counts as reproduced when this run's value lies within {ABS_TOLERANCE} of it (published "
        f"values between -1 and 1: correlations, fractions, AUROC) or within {REL_TOLERANCE:.0%} of it (larger "
        f"values; P values within {P_TOLERANCE:g} order of magnitude); not testable means this data gave no value "
        "for it.",
        "",
        "| paper | published numbers | reproduced | differ | not testable |",
        "|---|---|---|---|---|",
    ]
    for paper, group in rows.groupby("paper", sort=False):
        counts = group["status"].value_counts()
        lines.append(
            f"| {paper} | {len(group)} | {counts.get('reproduced', 0)} | {counts.get('differs', 0)} | "
            f"{counts.get('not testable', 0)} |"
        )
    differs = rows[rows["status"] == "differs"].sort_values("gap", ascending=False).head(n_differences)
    if not differs.empty:
        lines += ["", f"The {len(differs)} largest differences:", ""]
        lines += [
            f"{i}. {r.paper} {r.item}, {r.quantity}: published {_fmt(r.published)}, here {_fmt(r.value)}"
            for i, r in enumerate(differs.itertuples(), 1)
        ]
    return [*lines, ""]


def collect_numbers(out_dir: str | os.PathLike) -> pd.DataFrame:
    files = sorted((Path(out_dir) / "tables").glob("numbers_*.csv"))
    if not files:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat([pd.read_csv(f, keep_default_na=False, na_values=[""]) for f in files], ignore_index=True)


SPREAD_KEY = ["paper", "item", "quantity", "protocol", "notebook"]


def seed_spread_table(numbers_by_seed: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """Mean, min and max of every numeric headline row over seeds (seed -> `collect_numbers` table), with the
    published value; a row counts once per seed that gave it a number (`n`). Data-dependent wording (`detail`,
    e.g. a cell count) is dropped from the quantity so that rows of different seeds match."""
    long = []
    for seed, numbers in numbers_by_seed.items():
        t = numbers.copy()
        detail = t["detail"].fillna("").astype(str) if "detail" in t else pd.Series("", index=t.index)
        quantity = t["quantity"].astype(str)
        t["quantity"] = [
            q[: -len(f", {d}")] if d and q.endswith(f", {d}") else q for q, d in zip(quantity, detail, strict=True)
        ]
        t["value"] = pd.to_numeric(t["value"], errors="coerce")
        t["protocol"] = t["protocol"].fillna("")
        long.append(t.dropna(subset=["value"]).assign(seed=seed))
    if not long:
        return pd.DataFrame(columns=[*SPREAD_KEY, "published", "mean", "min", "max", "n"])
    rows = pd.concat(long, ignore_index=True)
    g = rows.groupby(SPREAD_KEY, sort=False, dropna=False)
    out = g["value"].agg(mean="mean", min="min", max="max", n="count").reset_index()
    out.insert(len(SPREAD_KEY), "published", g["published"].first().to_numpy())
    return out


def write_seed_report(out_dir: str | os.PathLike, header: dict, seed_dirs: dict[int, Path]) -> Path:
    """``REPORT.md`` over several seeds: every headline number's mean and range beside the published value, then
    a link to each seed's own report (figures, tables, provenance)."""
    out = Path(out_dir)
    spread = seed_spread_table({s: collect_numbers(d) for s, d in seed_dirs.items()})
    save_table(spread, "seed_spread", out)
    lines = ["# Reproduction report: seed spread", ""]
    lines += [f"- **{k}**: {v}" for k, v in header.items()]
    lines += [
        "",
        f"Each seed is a new simulated screen and a new training seed. `mean`, `min` and `max` are over the "
        f"{len(seed_dirs)} seeds; `n` counts the seeds that gave the row a number. A difference between two rows "
        "that is smaller than their ranges is within seed noise.",
        "",
    ]
    for paper, group in spread.groupby("paper", sort=False):
        lines += [f"## {paper}", ""]
        cols = ["item", "quantity", "protocol", "published", "mean", "min", "max", "n"]
        lines += [markdown_table(group[cols], max_rows=300), ""]
    lines += ["## Each seed", ""]
    lines += [f"- seed {s}: [{d.name}/REPORT.md]({d.name}/REPORT.md)" for s, d in seed_dirs.items()]
    path = out / "REPORT.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def write_report(
    out_dir: str | os.PathLike,
    header: dict,
    timings: dict[str, float] | None = None,
    *,
    weights: dict[str, str] | None = None,
    skipped: list[str] | None = None,
    files: list[dict] | None = None,
) -> Path:
    """Render ``REPORT.md``: provenance (files read, the weights of each model, models skipped), headline numbers
    per paper, then every table."""
    out = Path(out_dir)
    numbers = collect_numbers(out)
    lines = ["# Reproduction report", ""]
    lines += [f"- **{k}**: {v}" for k, v in header.items()]
    lines.append("")
    lines += summary_lines(numbers)
    if files:
        lines += ["## Files read", "", "| file | bytes | sha256 |", "|---|---|---|"]
        lines += [f"| {f['name']} | {f['size']:,} | `{f['sha256']}` |" for f in files]
        lines.append("")
    if weights:
        lines += ["## Weights of each model", "", "| model | weights |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in weights.items()]
        lines.append("")
    if skipped:
        lines += ["## Models not run", ""] + [f"- {line}" for line in skipped] + [""]
    layout = saved_problems(out / "figures") if (out / "figures").is_dir() else {}
    if layout:
        lines += ["## Figures with layout problems", "", "Found by `cdt.pl.layout_problems` when they were saved:", ""]
        lines += [f"- {name}: {'; '.join(found)}" for name, found in layout.items()] + [""]
    if header.get("data", "").startswith("synthetic"):
        lines += [
            "Values below come from the embedded **synthetic** screen, not the K562 data of the papers: the",
            "published column is what the papers report on real data, the value column is what this run gave.",
            "Agreement in direction and rough size is what a synthetic run can show; exact equality is not expected.",
            "",
        ]
    for paper, group in numbers.groupby("paper", sort=False):
        lines += [f"## {paper}", ""]
        cols = ["item", "quantity", "published", "value", "protocol", "file", "note"]
        lines += [markdown_table(group[cols], max_rows=200), ""]
    tables = sorted(p for p in (out / "tables").glob("*.csv") if not p.name.startswith("numbers_"))
    if tables:
        lines += ["## Tables", ""]
        for t in tables:
            lines += [f"### {t.stem}", f"`{t.relative_to(out)}`", "", markdown_table(pd.read_csv(t)), ""]
    if timings:
        lines += ["## Wall time by stage", "", "| stage | seconds |", "|---|---|"]
        lines += [f"| {k} | {v:.1f} |" for k, v in timings.items()]
        lines.append("")
    path = out / "REPORT.md"
    path.write_text("\n".join(lines))
    return path


def write_site(out_dir: str | os.PathLike, title: str = "CDT reproduction") -> Path:
    """Write ``index.html``: the summary, every executed notebook rendered to HTML, and one card per figure and
    table (thumbnail, published vs reproduced numbers recorded with it, data source); returns its path."""
    from nbconvert import HTMLExporter

    out = Path(out_dir)
    numbers = collect_numbers(out)
    pages = []
    exporter = HTMLExporter(template_name="lab")
    for nb in sorted((out / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        body, _ = exporter.from_filename(str(nb))
        page = nb.with_suffix(".html")
        page.write_text(body)
        pages.append(page.relative_to(out))
    rows = compare_numbers(numbers) if len(numbers) else numbers
    status = dict(zip(rows.index, rows["status"], strict=True)) if len(rows) else {}
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{SITE_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    summary = summary_lines(numbers)
    if summary:
        from markdown_it import MarkdownIt

        parts.append(MarkdownIt("commonmark").enable("table").render("\n".join(summary)))
    parts.append("<h2>Notebooks</h2><ul>")
    parts += [f"<li><a href='{p.as_posix()}'>{html.escape(p.stem)}</a></li>" for p in pages]
    parts.append("</ul>")
    for kind, files in (
        ("Figures", sorted((out / "figures").glob("*.png"))),
        ("Tables", sorted(p for p in (out / "tables").glob("*.csv") if not p.name.startswith("numbers_"))),
    ):
        parts.append(f"<h2>{kind}</h2><div class='cards'>")
        for f in files:
            link = f.relative_to(out).as_posix()
            head = f"<img src='{link}' alt='{html.escape(f.stem)}'>" if f.suffix == ".png" else ""
            mine = numbers[numbers["file"].astype(str) == f.name] if len(numbers) else numbers
            lines = "".join(
                f"<tr class='{status.get(i, 'beyond')}'><td>{html.escape(' '.join(map(str, r[['paper', 'item']])))}: "
                f"{html.escape(str(r['quantity']))}</td>"
                f"<td>{html.escape(_fmt(r['published']))}</td><td>{html.escape(_fmt(r['value']))}</td></tr>"
                for i, r in mine.iterrows()
            )
            source = html.escape(str(mine["source"].iloc[0])) if len(mine) else ""
            parts.append(
                f"<div class='card'><a href='{link}'>{head}<b>{html.escape(f.stem)}</b></a>"
                + (f"<div class='source'>data: {source}</div>" if source else "")
                + (f"<table><tr><th>number</th><th>published</th><th>here</th></tr>{lines}</table>" if lines else "")
                + "</div>"
            )
        parts.append("</div>")
    parts.append("</body></html>")
    path = out / "index.html"
    path.write_text("\n".join(parts))
    return path


SITE_CSS = """
body { font-family: sans-serif; margin: 2em; max-width: 1400px; }
.cards { display: flex; flex-wrap: wrap; gap: 1em; }
.card { width: 320px; border: 1px solid #ccc; padding: .5em; font-size: 13px; }
.card img { width: 100%; }
.card table { border-collapse: collapse; width: 100%; }
.card td, .card th { border-top: 1px solid #eee; padding: 2px; text-align: left; }
.source { color: #555; }
tr.reproduced td:last-child { color: #2e7d32; }
tr.differs td:last-child { color: #b35806; font-weight: bold; }
table { border-collapse: collapse; }
th, td { padding: 2px 6px; }
"""

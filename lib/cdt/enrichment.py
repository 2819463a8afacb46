"""Gene-set enrichment of gene lists and network modules with gseapy: Enrichr online, the same test offline.

The authors ran `gseapy.enrichr` on each Louvain community (>= 5 genes) against GO_Molecular_Function_2023,
KEGG_2021_Human and Reactome_2022 with Enrichr's default background. Every row of their Supplementary Data S2
follows from its overlap x/m and the community size k with a background of M = 20,000 genes:
P = P(X >= x), X ~ Hypergeom(M, m, k); OR = x (M - m - k + x) / max((m - x)(k - x), 1); score = -ln(P) * OR.
Offline, `gseapy.enrich` computes the same P on local GMT libraries; its odds ratio is Haldane-corrected, so the
Enrichr odds ratio and combined score are recomputed from the counts. Adjusted P = BH within each library.
"""

from __future__ import annotations

import contextlib
import io
import sys
import warnings
from collections.abc import Collection, Hashable, Mapping, Sequence
from os import PathLike
from pathlib import Path

import gseapy
import numpy as np
import pandas as pd
from gseapy.parser import write_gmt as _write_gmt

from cdt.data.errors import ContractError

ENRICHR_LIBRARIES: tuple[str, ...] = ("GO_Molecular_Function_2023", "KEGG_2021_Human", "Reactome_2022")
ENRICHR_BACKGROUND = 20_000
MIN_COMMUNITY_SIZE = 5
COLUMNS: tuple[str, ...] = (
    "Library",
    "Term",
    "Overlap",
    "P_value",
    "Adjusted_P_value",
    "Odds_Ratio",
    "Combined_Score",
    "Genes",
)
_GSEAPY_NAMES = {
    "Gene_set": "Library",
    "P-value": "P_value",
    "Adjusted P-value": "Adjusted_P_value",
    "Odds Ratio": "Odds_Ratio",
    "Combined Score": "Combined_Score",
}

GeneSets = Mapping[str, Sequence[str]]
Library = str | PathLike | GeneSets


def read_gmt(path: str | PathLike, *, strict: bool = True) -> dict[str, list[str]]:
    """Term -> genes from a GMT file: one term per line, tab-separated term, description and genes.

    Malformed lines (fewer than three tab-separated fields, e.g. space-separated; an empty term; no genes; a term
    seen before) raise an error naming the file and the first such line, since a silently shorter library changes
    every P value. `strict=False` skips them with a warning instead.
    """
    path = Path(path)
    if not path.is_file():
        raise ContractError(str(path), "file", "GMT file not found")
    if path.suffix.lower() != ".gmt":
        raise ContractError(str(path), "file", "a GMT library must have the .gmt suffix")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ContractError(str(path), f"line {line}", "not UTF-8 text; save the file as UTF-8") from None
    sets: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    bad: list[tuple[int, str]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        term = fields[0].strip()
        genes = [g.strip() for g in fields[2:] if g.strip()]
        if len(fields) < 3:
            spaced = " (space-separated?)" if len(line.split()) >= 3 else ""
            bad.append((n, f"fewer than 3 tab-separated fields (term, description, genes){spaced}"))
        elif not term:
            bad.append((n, "empty term name"))
        elif not genes:
            bad.append((n, f"term {term!r} has no genes"))
        elif term in seen:
            bad.append((n, f"term {term!r} repeats line {seen[term]}"))
        else:
            sets[term], seen[term] = genes, n
    if bad and strict:
        more = f" ({len(bad)} malformed lines: {', '.join(str(n) for n, _ in bad[:8])})" if len(bad) > 1 else ""
        raise ContractError(
            str(path), f"line {bad[0][0]}", bad[0][1] + more, "fix these lines, or read with strict=False to skip them"
        )
    if bad:
        warnings.warn(f"{path}: skipped {len(bad)} malformed lines: {', '.join(str(n) for n, _ in bad)}", stacklevel=2)
    if not sets:
        raise ContractError(str(path), "gene sets", "no line with a term, a description and >= 1 gene")
    return sets


def write_gmt(gene_sets: GeneSets, path: str | PathLike, description: str = "") -> Path:
    """Write term -> genes as GMT (gseapy's writer): term, description, genes, tab-separated."""
    for term, genes in gene_sets.items():
        if "\t" in term or "\n" in term or not len(genes):
            raise ValueError(f"gene set {term!r}: needs a name without tabs/newlines and >= 1 gene")
    path = Path(path)
    _write_gmt({t: [str(g) for g in genes] for t, genes in gene_sets.items()}, str(path), description)
    return path


def _load(libraries: Mapping[str, Library] | Sequence[str | PathLike]) -> dict[str, GeneSets]:
    """Name -> gene sets; GMT paths given as a list are named by their file stem."""
    if not isinstance(libraries, Mapping):
        libraries = {Path(p).stem: p for p in libraries}
    if not libraries:
        raise ValueError("no gene-set library given")
    return {name: lib if isinstance(lib, Mapping) else read_gmt(lib) for name, lib in libraries.items()}


def _tidy(results: pd.DataFrame | None) -> pd.DataFrame:
    """gseapy results -> the S2 columns, most significant first within each library."""
    if not isinstance(results, pd.DataFrame) or results.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    out = results.rename(columns=_GSEAPY_NAMES)[list(COLUMNS)].copy()
    out["Genes"] = out["Genes"].map(lambda g: ";".join(sorted(str(g).split(";"))))  # stable across runs
    return out.sort_values(["Library", "P_value", "Term"], kind="stable").reset_index(drop=True)


def enrich(
    genes: Collection[str],
    libraries: Mapping[str, Library] | Sequence[str | PathLike],
    background: int | Collection[str] = ENRICHR_BACKGROUND,
) -> pd.DataFrame:
    """Offline Enrichr-like test of one gene list against local libraries (GMT paths or term -> genes dicts).

    background: M as a number (Enrichr's 20,000 by default) or the list of background genes, to which the query
    and the gene sets are then restricted (gseapy's rule).
    """
    query = sorted(set(genes))
    if not query:
        raise ValueError("empty gene list")
    if isinstance(background, int):
        M, k = background, len(query)
    else:
        background = list(dict.fromkeys(background))
        M, k = len(background), len(set(query) & set(background))
    tables = []
    for name, sets in _load(libraries).items():
        with _quiet_no_hits():
            res = gseapy.enrich(
                gene_list=query, gene_sets=dict(sets), background=background, outdir=None, no_plot=True, verbose=False
            ).results
        if isinstance(res, pd.DataFrame) and not res.empty:
            x, m = (res["Overlap"].str.split("/", expand=True).astype(int)[i].to_numpy() for i in (0, 1))
            odds = x * (M - m - k + x) / np.maximum((m - x) * (k - x), 1)  # Enrichr's odds ratio (no correction)
            tables.append(
                res.assign(
                    **{
                        "Gene_set": name,
                        "Odds Ratio": odds,
                        "Combined Score": -np.log(res["P-value"].to_numpy()) * odds,
                    }
                )
            )
    return _tidy(pd.concat(tables, ignore_index=True) if tables else None)


@contextlib.contextmanager
def _quiet_no_hits():
    """gseapy logs "No hits returned" as an ERROR line on stderr when no term overlaps the list, an ordinary
    outcome (an empty table here, e.g. every community of a simulated screen); other messages still get through."""
    buffer = io.StringIO()
    with contextlib.redirect_stderr(buffer):  # gseapy builds its log handler per call, on the current stderr
        yield
    rest = [line for line in buffer.getvalue().splitlines(keepends=True) if "No hits returned" not in line]
    sys.stderr.write("".join(rest))


def enrich_online(genes: Collection[str], libraries: Sequence[str] = ENRICHR_LIBRARIES) -> pd.DataFrame:
    """Enrichr web service (gseapy.enrichr) with its default genome-wide background, as the authors ran it."""
    query = sorted(set(genes))
    if not query:
        raise ValueError("empty gene list")
    res = gseapy.enrichr(
        gene_list=query, gene_sets=list(libraries), organism="human", outdir=None, no_plot=True, verbose=False
    )
    return _tidy(res.results)


def enrich_communities(
    communities: Mapping[Hashable, Collection[str]] | Sequence[Collection[str]],
    libraries: Mapping[str, Library] | Sequence[str | PathLike] = ENRICHR_LIBRARIES,
    online: bool = False,
    background: int | Collection[str] = ENRICHR_BACKGROUND,
    min_size: int = MIN_COMMUNITY_SIZE,
    max_adjusted_p: float | None = None,
) -> pd.DataFrame:
    """One tidy table over all communities (Supplementary Data S2 layout): Community_ID, Community_size + COLUMNS.

    Communities smaller than `min_size` are not tested; `max_adjusted_p` keeps rows with Adjusted_P_value below it
    (S2 used 0.05). `online=True` sends Enrichr library names to the web service; otherwise `libraries` are local.
    """
    items = communities.items() if isinstance(communities, Mapping) else enumerate(communities)
    tables = []
    for cid, genes in items:
        genes = set(genes)
        if len(genes) < min_size:
            continue
        t = enrich_online(genes, libraries) if online else enrich(genes, libraries, background)
        if not t.empty:
            tables.append(t.assign(Community_ID=cid, Community_size=len(genes)))
    columns = ["Community_ID", "Community_size", *COLUMNS]
    if not tables:
        return pd.DataFrame(columns=columns)
    out = pd.concat(tables, ignore_index=True)[columns]
    if max_adjusted_p is not None:
        out = out[out["Adjusted_P_value"] < max_adjusted_p].reset_index(drop=True)
    return out

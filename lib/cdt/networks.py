"""Gene networks from attention: top-5% edge graphs, Louvain modules, hub roles of one gene, module overlaps.

CDT-II builds two gene-gene networks (paper/METHODS.md, 'CDT-II: networks and communities'): the head- and cell-averaged
RNA self-attention matrix (row i = what gene i attends to) and the cosine similarity of the genes' DNA cross-attention
rows. Each keeps the top 5% of off-diagonal entries; Louvain (resolution 1.0) then finds the modules (C1, 679 genes; C3,
165 genes).
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.metrics.pairwise import cosine_similarity as _cosine

from cdt.stats import benjamini_hochberg, hypergeom_overlap

ROLES: tuple[str, ...] = ("downstream", "upstream", "bidirectional")


def _square(matrix: ArrayLike, genes: Sequence[str]) -> np.ndarray:
    a = np.asarray(matrix, dtype=float)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"need a square gene x gene matrix; got shape {a.shape}")
    if a.shape[0] != len(genes):
        raise ValueError(f"matrix has {a.shape[0]} rows but {len(genes)} gene names were given")
    if len(set(genes)) != len(genes):
        raise ValueError("gene names must be unique")
    if not np.isfinite(a).all():
        raise ValueError("matrix contains NaN or infinite values")
    return a


def cosine_similarity(rows: ArrayLike) -> np.ndarray:
    """Gene-gene cosine similarity of attention rows: [G, L] -> [G, G] (CDT-II cross-attention network)."""
    rows = np.asarray(rows, dtype=float)
    if rows.ndim != 2:
        raise ValueError(f"need a [genes, positions] matrix; got shape {rows.shape}")
    return _cosine(rows)


def edge_threshold(matrix: ArrayLike, top_fraction: float = 0.05) -> float:
    """The global (1 - top_fraction) quantile of the off-diagonal entries (numpy linear interpolation)."""
    a = np.asarray(matrix, dtype=float)
    if not 0 < top_fraction < 1:
        raise ValueError(f"top_fraction must be in (0, 1); got {top_fraction}")
    return float(np.quantile(a[~np.eye(a.shape[0], dtype=bool)], 1 - top_fraction))


def top_edge_graph(
    matrix: ArrayLike, genes: Sequence[str], top_fraction: float = 0.05, directed: bool = False
) -> nx.Graph:
    """Graph on all genes with an edge i->j for every off-diagonal entry strictly above the global threshold.

    matrix: [G, G], row = source (for attention: the query gene). The undirected graph is the authors'
    `DiGraph.to_undirected()`: a reciprocal pair keeps one weight, that of the direction whose source comes later
    in gene order (A[j, i] for i < j), not a sum. The authors' threshold also counted the zeroed diagonal; here the
    diagonal is left out of the quantile (a shift of G of G^2 entries).
    """
    a = _square(matrix, genes)
    thr = edge_threshold(a, top_fraction)
    keep = a > thr
    np.fill_diagonal(keep, False)
    src, dst = np.nonzero(keep)  # row-major: the authors' insertion order
    g = nx.DiGraph(threshold=thr, top_fraction=top_fraction)
    g.add_nodes_from(genes)
    names = np.asarray(genes, dtype=object)
    g.add_weighted_edges_from(zip(names[src], names[dst], a[src, dst].tolist(), strict=True))
    return g if directed else g.to_undirected()


def louvain_communities(
    graph: nx.Graph, resolution: float = 1.0, seed: int = 0, weight: str = "weight"
) -> list[list[Hashable]]:
    """Louvain modules (networkx), reproducible for a seed and stable ids: largest first, ties by first member.

    Isolated genes come back as singletons (the 44 singletons of the CDT-II cross-attention partition).
    Runs on integer labels so the result does not depend on Python's string hashing.
    """
    nodes = list(graph.nodes)
    order = {n: i for i, n in enumerate(nodes)}
    g = nx.relabel_nodes(graph, order, copy=True)
    found = nx.community.louvain_communities(g, weight=weight, resolution=resolution, seed=seed)
    members = sorted((sorted(c) for c in found), key=lambda c: (-len(c), c[0]))
    return [[nodes[i] for i in c] for c in members]


def partition_table(communities: Sequence[Collection[Hashable]]) -> pd.DataFrame:
    """Long table gene, community, community_size (the layout of the authors' Supplementary Data S1)."""
    rows = [(gene, cid, len(c)) for cid, c in enumerate(communities) for gene in c]
    return pd.DataFrame(rows, columns=["gene", "community", "community_size"])


def _as_mapping(
    partition: Mapping[Hashable, Collection[Hashable]] | Sequence[Collection[Hashable]],
) -> dict[Hashable, set]:
    items = partition.items() if isinstance(partition, Mapping) else enumerate(partition)
    return {cid: set(genes) for cid, genes in items}


def community_overlap(
    a: Mapping[Hashable, Collection[Hashable]] | Sequence[Collection[Hashable]],
    b: Mapping[Hashable, Collection[Hashable]] | Sequence[Collection[Hashable]],
    universe: int | None = None,
) -> pd.DataFrame:
    """Hypergeometric overlap of every community of partition `a` with every community of `b`.

    Partitions are {id: genes} or a list of gene collections. M defaults to the number of genes in either
    partition (2,361 for the CDT-II partitions of Supplementary Data S1). One row per pair, sorted by P, with
    BH-adjusted P over all pairs.
    """
    a, b = _as_mapping(a), _as_mapping(b)
    M = len(set().union(*a.values(), *b.values())) if universe is None else universe
    rows = []
    for ida, ga in a.items():
        for idb, gb in b.items():
            o = hypergeom_overlap(len(ga & gb), len(ga), len(gb), M)
            rows.append((ida, idb, o.n1, o.n2, o.k, o.expected, o.fold, o.p_value))
    table = pd.DataFrame(
        rows, columns=["community_a", "community_b", "size_a", "size_b", "overlap", "expected", "fold", "p_value"]
    )
    table["adjusted_p_value"] = benjamini_hochberg(table["p_value"].to_numpy())
    table.attrs["M"] = M
    return table.sort_values(["p_value", "community_a", "community_b"], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------------------------------
# hub roles of one query gene (CDT-II Fig 5A)


@dataclass(frozen=True)
class HubRoles:
    """Genes linked to `query` by strong attention in either direction."""

    query: str
    down_threshold: float  # percentile of the positive entries of row `query` (what the query attends to)
    up_threshold: float  # the same for column `query` (who attends to the query)
    table: pd.DataFrame  # gene, down, up, role; only genes with a role, ordered by gene order

    def counts(self) -> dict[str, int]:
        return {role: int((self.table["role"] == role).sum()) for role in ROLES}


def hub_roles(matrix: ArrayLike, genes: Sequence[str], query: str, percentile: float = 95.0) -> HubRoles:
    """Downstream (row entry >= row threshold), upstream (column entry >= column threshold) or both.

    matrix: [G, G] attention, row = query gene; the diagonal is ignored. Thresholds are the `percentile` of the
    positive off-diagonal entries of the query's row and column (CDT-II Fig 5A: 85 / 85 / 33 for GFI1B).
    """
    a = _square(matrix, genes).copy()
    if query not in genes:
        raise ValueError(f"query gene {query!r} is not among the {len(genes)} genes")
    q = list(genes).index(query)
    np.fill_diagonal(a, 0.0)
    down, up = a[q, :], a[:, q]
    if not (down > 0).any() or not (up > 0).any():
        raise ValueError(f"row or column of {query!r} has no positive off-diagonal entry")
    down_thr = float(np.percentile(down[down > 0], percentile))
    up_thr = float(np.percentile(up[up > 0], percentile))
    is_down, is_up = down >= down_thr, up >= up_thr
    is_down[q] = is_up[q] = False
    role = np.select([is_down & is_up, is_down, is_up], ["bidirectional", "downstream", "upstream"], default="")
    keep = role != ""
    table = pd.DataFrame(
        {"gene": np.asarray(genes, dtype=object)[keep], "down": down[keep], "up": up[keep], "role": role[keep]}
    )
    return HubRoles(query=query, down_threshold=down_thr, up_threshold=up_thr, table=table.reset_index(drop=True))


def hub_subnetwork(
    roles: HubRoles, n_downstream: int = 15, n_upstream: int = 5, n_bidirectional: int = 5
) -> nx.DiGraph:
    """The displayed star: top downstream by row weight, upstream by column weight, bidirectional by their sum.

    Edges query -> gene (weight = down) for downstream and bidirectional genes, gene -> query (weight = up) for
    upstream and bidirectional; node attribute `role` ("hub" for the query).
    """
    t = roles.table
    picks = [
        t[t.role == "downstream"].nlargest(n_downstream, "down", keep="first"),
        t[t.role == "upstream"].nlargest(n_upstream, "up", keep="first"),
        t[t.role == "bidirectional"]
        .assign(both=lambda d: d.down + d.up)
        .nlargest(n_bidirectional, "both", keep="first"),
    ]
    g = nx.DiGraph()
    g.add_node(roles.query, role="hub")
    for part in picks:
        for gene, down, up, role in part[["gene", "down", "up", "role"]].itertuples(index=False):
            g.add_node(gene, role=role)
            if role != "upstream":
                g.add_edge(roles.query, gene, weight=float(down))
            if role != "downstream":
                g.add_edge(gene, roles.query, weight=float(up))
    return g

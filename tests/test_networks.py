"""cdt.networks: top-5% graphs, seeded Louvain on planted modules, hub roles, community overlaps (S1 Venn)."""

from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from cdt import networks

REFERENCE = Path(__file__).parent / "data"  # the authors' published tables (tests/data/README.md)


def planted_profiles(n_modules=4, module_size=25, n_background=60, n_positions=64, noise=0.3, seed=0):
    """Attention-like rows: module genes share a module profile (+ noise), background genes are independent."""
    rng = np.random.default_rng(seed)
    centres = rng.random((n_modules, n_positions))
    rows = [centres[m] + noise * rng.random(n_positions) for m in range(n_modules) for _ in range(module_size)]
    rows += list(rng.random((n_background, n_positions)))
    genes = [f"G{i:03d}" for i in range(len(rows))]
    modules = [set(genes[m * module_size : (m + 1) * module_size]) for m in range(n_modules)]
    return np.array(rows), genes, modules


def test_cosine_similarity_by_hand():
    s = networks.cosine_similarity([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]])
    assert s.shape == (3, 3)
    assert s[0, 1] == pytest.approx(1 / np.sqrt(2)) and s[0, 2] == pytest.approx(0.0) and s[1, 1] == pytest.approx(1)


def test_top_edge_graph_threshold_and_authors_symmetrisation():
    genes = ["A", "B", "C", "D"]
    a = np.array([[9.0, 0.1, 0.7, 0.2], [0.8, 9.0, 0.3, 0.05], [0.6, 0.4, 9.0, 0.0], [0.9, 0.15, 0.35, 9.0]])
    off = a[~np.eye(4, dtype=bool)]
    thr = np.quantile(off, 0.75)
    d = networks.top_edge_graph(a, genes, top_fraction=0.25, directed=True)
    assert d.graph["threshold"] == pytest.approx(thr)
    expected = {(genes[i], genes[j]) for i in range(4) for j in range(4) if i != j and a[i, j] > thr}
    assert set(d.edges) == expected == {("A", "C"), ("B", "A"), ("D", "A")}  # the diagonal (9.0) is never an edge
    assert d.number_of_nodes() == 4 and d.edges["B", "A"]["weight"] == 0.8
    u = networks.top_edge_graph(a, genes, top_fraction=0.25)
    assert not u.is_directed() and set(map(frozenset, u.edges)) == {frozenset("AC"), frozenset("AB"), frozenset("AD")}
    # a reciprocal pair keeps the later source's weight (A[j, i], j > i), as DiGraph.to_undirected() does
    b = np.array([[0.0, 0.9, 0.0], [0.8, 0.0, 0.0], [0.0, 0.0, 0.0]])
    ub = networks.top_edge_graph(b, ["x", "y", "z"], top_fraction=0.4)
    assert ub.edges["x", "y"]["weight"] == 0.8 and ub.number_of_edges() == 1
    with pytest.raises(ValueError, match="square"):
        networks.top_edge_graph(a[:3], genes)
    with pytest.raises(ValueError, match="4 rows but 3 gene names"):
        networks.top_edge_graph(a, genes[:3])
    with pytest.raises(ValueError, match="NaN"):
        networks.top_edge_graph(np.where(a == 0.0, np.nan, a), genes)


def test_louvain_finds_planted_modules_reproducibly():
    rows, genes, modules = planted_profiles()
    g = networks.top_edge_graph(networks.cosine_similarity(rows), genes)
    first = networks.louvain_communities(g, seed=7)
    second = networks.louvain_communities(g, seed=7)
    assert first == second
    assert [set(c) for c in first[:4]] == sorted(modules, key=lambda m: min(m))  # equal sizes: ordered by first gene
    assert all(len(c) == 1 for c in first[4:]) and len(first) == 4 + 60  # background genes are isolated
    sizes = [len(c) for c in first]
    assert sizes == sorted(sizes, reverse=True)
    table = networks.partition_table(first)
    assert list(table.columns) == ["gene", "community", "community_size"] and len(table) == len(genes)
    assert table.set_index("gene").loc["G030", "community"] == 1 and table["community_size"].max() == 25


def test_louvain_ids_sorted_by_size_on_unequal_blocks():
    g = nx.disjoint_union(nx.complete_graph(3), nx.complete_graph(6))
    g = nx.relabel_nodes(g, {i: f"n{i}" for i in g.nodes})
    assert networks.louvain_communities(g, seed=1) == [[f"n{i}" for i in range(3, 9)], ["n0", "n1", "n2"]]


def test_hub_roles_by_hand():
    genes = [f"g{i}" for i in range(41)]
    a = np.zeros((41, 41))
    a[0, 1:] = np.arange(1, 41)  # query g0 attends to g_i with weight i
    a[1:, 0] = np.arange(40, 0, -1)  # g_i attends to g0 with weight 41 - i
    a[0, 0] = 1000.0  # the diagonal is ignored
    a[40, 0] = 39.5  # g40 attends strongly to g0 too -> bidirectional
    roles = networks.hub_roles(a, genes, "g0")
    assert roles.down_threshold == pytest.approx(38.05)  # positives 1..40: rank 37.05 -> 38 + 0.05
    # column values sorted: 2, 3, ..., 39, 39.5, 40 -> 95th percentile at rank 37.05 = 39 + 0.05 * 0.5
    assert roles.up_threshold == pytest.approx(39.025)
    got = dict(zip(roles.table.gene, roles.table.role, strict=True))
    assert got == {"g1": "upstream", "g39": "downstream", "g40": "bidirectional"}
    assert roles.counts() == {"downstream": 1, "upstream": 1, "bidirectional": 1}
    star = networks.hub_subnetwork(roles, n_downstream=15, n_upstream=1, n_bidirectional=5)
    assert set(star.edges) == {("g0", "g39"), ("g1", "g0"), ("g0", "g40"), ("g40", "g0")}
    assert star.edges["g40", "g0"]["weight"] == 39.5 and star.nodes["g0"]["role"] == "hub"
    with pytest.raises(ValueError, match="'zz' is not among"):
        networks.hub_roles(a, genes, "zz")


def test_community_overlap_by_hand():
    a = {"x": {"A", "B", "C"}, "y": {"D", "E", "F", "G"}}
    b = [{"A", "B"}, {"C", "D", "E", "F", "G", "H"}]
    t = networks.community_overlap(a, b)
    assert t.attrs["M"] == 8 and len(t) == 4
    row = t.set_index(["community_a", "community_b"]).loc[("y", 1)]
    assert (row.size_a, row.size_b, row.overlap) == (4, 6, 4)
    assert row.expected == pytest.approx(3.0) and row.fold == pytest.approx(4 / 3)
    assert row.p_value == pytest.approx(15 / 70)  # P(X >= 4): C(6,4) C(2,0) / C(8,4)
    assert t.p_value.is_monotonic_increasing


def test_community_overlap_reproduces_published_venn():
    s1 = REFERENCE / "supp_data_S1_community_genes.csv"
    t = pd.read_csv(s1)

    def partition(mechanism):
        part = t[t.Mechanism == mechanism]
        return {cid: set(g.Gene) for cid, g in part.groupby("Community_ID")}

    rna, cross = partition("RNA self-attention"), partition("DNA-RNA cross-attention")
    assert sorted(len(c) for c in rna.values()) == [184, 334, 510, 654, 679]  # the 5 RNA communities
    table = networks.community_overlap(rna, cross)
    assert table.attrs["M"] == 2361 and len(table) == 5 * 9
    c1 = t.loc[t.Manuscript_label == "C1", "Community_ID"].iloc[0]
    c3 = t.loc[t.Manuscript_label == "C3", "Community_ID"].iloc[0]
    row = table.set_index(["community_a", "community_b"]).loc[(c1, c3)]
    assert (row.size_a, row.size_b, row.overlap) == (679, 165, 132)
    assert row.expected == pytest.approx(47.45, abs=0.01) and round(row.fold, 1) == 2.8
    assert row.p_value == pytest.approx(9.3e-46, rel=0.01)

"""cdt.enrichment, offline: GMT I/O, Enrichr's statistics (every row of the authors' S2), planted modules' terms."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from cdt import enrichment, networks
from cdt.data.errors import ContractError
from cdt.stats import benjamini_hochberg

REFERENCE = Path(__file__).parent / "data"  # the authors' published tables (tests/data/README.md)


def test_gmt_round_trip_and_errors(tmp_path):
    sets = {"Term A (GO:1)": ["TP53", "MYC"], "Term B": ["GATA1"]}
    path = enrichment.write_gmt(sets, tmp_path / "lib.gmt", description="planted")
    assert path.read_text().splitlines()[0] == "Term A (GO:1)\tplanted\tTP53\tMYC"
    assert enrichment.read_gmt(path) == sets
    with pytest.raises(ContractError, match="missing.gmt: file: GMT file not found"):
        enrichment.read_gmt(tmp_path / "missing.gmt")
    (tmp_path / "empty.gmt").write_text("only_a_name\n")
    with pytest.raises(ContractError, match="empty.gmt: line 1: fewer than 3 tab-separated fields"):
        enrichment.read_gmt(tmp_path / "empty.gmt")
    with pytest.raises(ContractError, match="empty.gmt: gene sets: no line with a term"):
        enrichment.read_gmt(tmp_path / "empty.gmt", strict=False)
    (tmp_path / "lib.txt").write_text("T\t\tA\n")
    with pytest.raises(ContractError, match="suffix"):
        enrichment.read_gmt(tmp_path / "lib.txt")
    with pytest.raises(ValueError, match="needs a name"):
        enrichment.write_gmt({"bad\tname": ["A"]}, tmp_path / "bad.gmt")


def test_offline_statistics_by_hand():
    query = ["A", "B", "C", "D", "E"]
    sets = {"hit3": ["A", "B", "C", "X", "Y", "Z"], "hit1": ["E", "Q"], "none": ["R", "S"]}
    t = enrichment.enrich(query, {"lib": sets}, background=100)
    assert list(t.columns) == list(enrichment.COLUMNS)
    assert list(t.Term) == ["hit3", "hit1"]  # no overlap -> no row (as Enrichr)
    r = t.iloc[0]
    assert (r.Library, r.Overlap, r.Genes) == ("lib", "3/6", "A;B;C")
    assert r.P_value == pytest.approx(scipy.stats.hypergeom.sf(2, 100, 6, 5))
    assert r.Odds_Ratio == pytest.approx(3 * (100 - 6 - 5 + 3) / (3 * 2))  # Enrichr: x d / (b c)
    assert r.Combined_Score == pytest.approx(-np.log(r.P_value) * r.Odds_Ratio)
    assert np.allclose(t.Adjusted_P_value, benjamini_hochberg(t.P_value))
    # an explicit background list restricts query and sets to it: M = 10, k = 4 (E is outside)
    bg = ["A", "B", "C", "D", "X", "Y", "Q", "R", "S", "T"]
    r = enrichment.enrich(query, {"lib": sets}, background=bg).iloc[0]
    assert r.Overlap == "3/5" and r.P_value == pytest.approx(scipy.stats.hypergeom.sf(2, 10, 5, 4))
    assert r.Odds_Ratio == pytest.approx(3 * (10 - 5 - 4 + 3) / max(2 * 1, 1))
    with pytest.raises(ValueError, match="empty gene list"):
        enrichment.enrich([], {"lib": sets})


def test_reproduces_every_row_of_supplementary_data_s2():
    """Each S2 row's P, odds ratio and combined score follow from Overlap x/m and the community size k with
    Enrichr's background M = 20,000: rebuild a library with those counts and run the offline test."""
    s2 = REFERENCE / "supp_data_S2_community_enrichment.csv"
    ref = pd.read_csv(s2)
    checked = 0
    for (mechanism, cid), rows in ref.groupby(["Mechanism", "Community_ID"]):
        k = int(rows.Community_size.iloc[0])
        query = [f"Q{i:04d}" for i in range(k)]
        sets = {}
        for i, (x, m) in enumerate(rows.Overlap.str.split("/", expand=True).astype(int).itertuples(index=False)):
            sets[f"row{i}"] = query[:x] + [f"T{i}_{j}" for j in range(m - x)]
        got = enrichment.enrich(query, {"lib": sets}).set_index("Term").loc[list(sets)]
        assert list(got.Overlap) == list(rows.Overlap), (mechanism, cid)
        assert np.allclose(got.P_value, rows.P_value, rtol=2e-3), (mechanism, cid)
        assert np.allclose(got.Odds_Ratio, rows.Odds_Ratio, rtol=1e-3), (mechanism, cid)
        assert np.allclose(got.Combined_Score, rows.Combined_Score, rtol=1e-3), (mechanism, cid)
        checked += len(rows)
    assert checked == len(ref) == 92
    c3 = ref[(ref.Manuscript_label == "C3") & ref.Term.str.startswith("RNA Binding")].iloc[0]
    assert (c3.Overlap, c3.Community_size, c3.Odds_Ratio) == ("47/1411", 165, 5.394)


def planted_modules(seed=0):
    """4 modules of 25 genes (shared attention-like profile + noise) and 60 unrelated genes."""
    rng = np.random.default_rng(seed)
    centres = rng.random((4, 64))
    rows = [centres[m] + 0.3 * rng.random(64) for m in range(4) for _ in range(25)] + list(rng.random((60, 64)))
    genes = [f"GENE{i:03d}" for i in range(len(rows))]
    return np.array(rows), genes, [genes[m * 25 : (m + 1) * 25] for m in range(4)]


def test_planted_modules_top_term_is_their_planted_term(tmp_path):
    rows, genes, modules = planted_modules()
    rng = np.random.default_rng(1)
    terms = {}
    for m, members in enumerate(modules):  # planted: 20 of the module's genes + 30 genes outside the screen
        terms[f"PLANTED_{m}"] = list(rng.choice(members, 20, replace=False)) + [f"OUT{m}_{j}" for j in range(30)]
    for d in range(20):  # decoys: random screen genes + outside genes
        terms[f"DECOY_{d}"] = list(rng.choice(genes, 15, replace=False)) + [f"OUTD{d}_{j}" for j in range(40)]
    gmt = enrichment.write_gmt(terms, tmp_path / "planted_library.gmt")

    graph = networks.top_edge_graph(networks.cosine_similarity(rows), genes)
    communities = networks.louvain_communities(graph, seed=0)
    table = enrichment.enrich_communities(communities, [gmt])
    assert list(table.columns) == ["Community_ID", "Community_size", *enrichment.COLUMNS]
    assert set(table.Community_ID) == {0, 1, 2, 3}  # singletons (< 5 genes) are not tested
    assert set(table.Library) == {"planted_library"}
    for cid, members in enumerate(communities[:4]):
        planted = next(m for m, mod in enumerate(modules) if set(mod) == set(members))
        top = table[table.Community_ID == cid].sort_values("P_value").iloc[0]
        assert top.Term == f"PLANTED_{planted}" and top.Overlap == "20/50" and top.Adjusted_P_value < 1e-10
    kept = enrichment.enrich_communities(communities, [gmt], max_adjusted_p=0.05)
    assert (kept.Adjusted_P_value < 0.05).all() and set(kept.Term) >= {f"PLANTED_{m}" for m in range(4)}
    assert len(kept) < len(table)
    again = enrichment.enrich_communities(networks.louvain_communities(graph, seed=0), [gmt])
    pd.testing.assert_frame_equal(table, again)


def test_online_path_renames_enrichr_columns(monkeypatch):
    calls = []
    enrichr_rows = pd.DataFrame(
        {
            "Gene_set": ["KEGG_2021_Human", "GO_Molecular_Function_2023"],
            "Term": ["Spliceosome", "RNA Binding"],
            "Overlap": ["3/150", "4/1411"],
            "P-value": [1e-5, 1e-3],
            "Adjusted P-value": [1e-4, 1e-2],
            "Old P-value": [0, 0],
            "Old Adjusted P-value": [0, 0],
            "Odds Ratio": [30.0, 5.0],
            "Combined Score": [345.4, 34.5],
            "Genes": ["SF3B4;MAGOH;SNRPG", "SFPQ;ILF2;PUM1;ADAR"],
        }
    )

    def fake_enrichr(gene_list, gene_sets, **kw):
        calls.append((gene_list, gene_sets, kw))
        return SimpleNamespace(results=enrichr_rows)

    monkeypatch.setattr(enrichment.gseapy, "enrichr", fake_enrichr)
    t = enrichment.enrich_communities(
        {3: ["SF3B4", "MAGOH", "SNRPG", "SFPQ", "ILF2", "PUM1"], 18: ["A", "B"]}, online=True
    )
    assert len(calls) == 1 and calls[0][1] == list(enrichment.ENRICHR_LIBRARIES)
    assert "background" not in calls[0][2]  # Enrichr's default background, as the authors ran it
    assert list(t.columns) == ["Community_ID", "Community_size", *enrichment.COLUMNS]
    assert list(t.Library) == ["GO_Molecular_Function_2023", "KEGG_2021_Human"]
    assert t.Community_ID.tolist() == [3, 3] and t.Community_size.tolist() == [6, 6]
    assert t.Genes.iloc[1] == "MAGOH;SF3B4;SNRPG"


def test_a_list_with_no_hits_gives_an_empty_table_and_no_error_line(capfd):
    t = enrichment.enrich(["A", "B"], {"lib": {"other": ["X", "Y"]}}, background=100)
    assert t.empty and list(t.columns) == list(enrichment.COLUMNS)
    assert "No hits" not in capfd.readouterr().err  # an ordinary outcome, not an ERROR line in a notebook

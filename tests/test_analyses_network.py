"""Analysis glue of notebooks 03 (GFI1B network) and 04 (RNA module): values against hand computations, scipy and
the library calls they combine; planted structure in small matrices; errors.

Models are the `tiny` preset with random weights, shrunk to the fixture screen (10 genes, 8 bins x 4 features).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import torch
from cdt.analyses import network as an
from cdt.attention import AttentionMap, attention_rows
from cdt.config import get_preset
from cdt.data.dnastore import DNAStore
from cdt.gradients import gene_jacobian
from cdt.models import CDT2, CDT3, CDT2Config, CDT3Config

N_BINS, DIM, N_GENES = 8, 4, 10
TINY = get_preset("tiny")


def gene_map(values: np.ndarray, genes: list[str], name: str = "rna_self_0") -> AttentionMap:
    heads = values.ndim == 3
    return AttentionMap(
        name=name,
        values=values,
        heads=heads,
        cells=np.array(["c0", "c1"]),
        query_names=np.array(genes),
        key_names=np.array(genes),
    )


@pytest.fixture
def data(tiny_screen, tiny_dna_store):
    screen = tiny_screen(n_genes=N_GENES, held_out=("CD52", "GFI1B"), cells_per_target=4, n_ntc=6, seed=1)
    loci = sorted(set(screen.obs["locus"]) - {""})
    store = DNAStore(tiny_dna_store(loci, n_bins=N_BINS, dim=DIM))
    yield screen, store
    store.close()


def cdt2(seed: int = 0) -> CDT2:
    torch.manual_seed(seed)
    return CDT2(dataclasses.replace(CDT2Config.from_preset(TINY), n_genes=N_GENES, n_bins=N_BINS, dna_dim=DIM)).eval()


# --------------------------------------------------------------------------------------------------- 03: maps


def test_scaled_n_keeps_the_share_of_the_gene_universe():
    assert an.scaled_n(2361) == 100
    assert an.scaled_n(256) == 11  # 100 * 256 / 2361 = 10.8
    assert an.scaled_n(64) == 3
    assert an.scaled_n(2, minimum=3) == 2  # never more than the genes
    with pytest.raises(ValueError, match="at least one gene"):
        an.scaled_n(0)


def test_per_head_top_and_neighbourhood_on_a_hand_map():
    genes = ["A", "B", "C", "D", "E"]
    v = np.full((2, 5, 5), 0.1)
    v[0, 4] = [0.4, 0.3, 0.0, 0.2, 0.1]  # head 0: E attends A > B > D
    v[1, 4] = [0.0, 0.1, 0.6, 0.1, 0.2]  # head 1: E attends C > E (self) > B = D (stable: B first)
    top = an.per_head_top(gene_map(v, genes), "E", n=3)
    assert top[top["head"] == 0]["gene"].tolist() == ["A", "B", "D"]
    assert top[top["head"] == 1]["gene"].tolist() == ["C", "E", "B"]
    assert top["rank"].tolist() == [1, 2, 3, 1, 2, 3]
    np.testing.assert_allclose(top["attention"].iloc[0], 0.4)

    hood = an.neighbourhood(gene_map(v, genes), "E", n=2)
    mean = v.mean(0)
    score = mean[4] + mean[:, 4]  # A .35, B .3, C .4, D .25, E .35 -> C, then A (first of the .35 tie)
    assert list(hood.index) == ["A", "C", "E"] == list(hood.columns)  # gene order, query added
    np.testing.assert_allclose(hood.to_numpy(), mean[np.ix_([0, 2, 4], [0, 2, 4])])
    assert score[2] == score.max()
    with pytest.raises(ValueError, match="query"):
        an.per_head_top(gene_map(v, genes), "Z")


def test_dna_layers_in_layer_order():
    a0, a1 = np.eye(3)[None].repeat(2, 0), np.full((2, 3, 3), 1 / 3)
    maps = {
        n: AttentionMap(n, v, True, np.array(["c"]), np.arange(3), np.arange(3))
        for n, v in (("dna_self_1", a1), ("rna_self_0", a0), ("dna_self_0", a0))
    }
    layers = an.dna_layers(maps)
    assert list(layers) == ["dna_self_0", "dna_self_1"]
    np.testing.assert_allclose(layers["dna_self_0"], np.eye(3))
    with pytest.raises(ValueError, match="no DNA self-attention"):
        an.dna_layers({"rna_self_0": maps["rna_self_0"]})


# ------------------------------------------------------------------------------------- 03: scores and roles


def test_gene_scores_and_overlap_against_hand_values(data):
    screen, _ = data
    genes = list(screen.var_names)
    rng = np.random.default_rng(0)
    a = rng.dirichlet(np.ones(N_GENES), size=N_GENES)  # [G, G] rows sum to 1
    edges = pd.DataFrame({"source": ["GFI1B", "GFI1B", "G0"], "target": ["G1", "G2", "G3"], "sign": 1, "weight": 1})
    scores = an.gene_scores(gene_map(a, genes), screen, "GFI1B", edges)
    g = genes.index("GFI1B")
    gfi = (screen.obs["perturbation"] == "GFI1B").to_numpy()
    np.testing.assert_allclose(scores["effect"], np.abs(screen.layers["log2fc"][gfi].mean(0)), rtol=1e-6)
    expect_down = a[g].copy()
    expect_down[g] = 0
    np.testing.assert_allclose(scores["attention_down"], expect_down)
    ntc = (screen.obs["kind"] == "NTC").to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = scipy.stats.spearmanr(screen.X[ntc]).statistic[g]
    rho = np.abs(np.nan_to_num(rho))
    rho[g] = 0
    np.testing.assert_allclose(scores["correlation"], rho, atol=1e-12)
    assert scores.index[scores["true_target"]].tolist() == ["G1", "G2"]
    assert not scores["true_regulator"].any()

    table = an.overlap_table(scores, 3).set_index("method")
    top_eff = set(scores["effect"].nlargest(3).index)
    top_att = set(scores["attention_down"].nlargest(3).index)
    k = len(top_eff & top_att)
    assert table.loc["attention_down", "overlap"] == k
    assert table.loc["attention_down", "p_value"] == pytest.approx(scipy.stats.hypergeom.sf(k - 1, N_GENES, 3, 3))
    assert table.loc["attention_down", "fold"] == pytest.approx(k / (9 / N_GENES))
    assert table.loc["attention_down", "true_target_share"] == pytest.approx(len(top_att & {"G1", "G2"}) / 3)
    assert table.loc["attention_down", "true_target_base"] == pytest.approx(2 / N_GENES)


def test_hub_roles_on_a_planted_hub():
    genes = [f"g{i}" for i in range(40)]
    a = np.full((40, 40), 0.01)
    a[0, 1:3] = 0.5  # hub g0 attends to g1, g2
    a[3, 0] = 0.5  # g3 attends to the hub
    a[4, 0], a[0, 4] = 0.5, 0.5  # g4 both ways
    roles, table = an.hub_table(gene_map(a, genes), "g0")
    assert dict(zip(table["gene"], table["role"], strict=True)) == {
        "g1": "downstream",
        "g2": "downstream",
        "g3": "upstream",
        "g4": "bidirectional",
    }
    assert roles.counts() == {"downstream": 2, "upstream": 1, "bidirectional": 1}
    scores = pd.DataFrame(
        {"true_target": [g in ("g1", "g4") for g in genes], "true_regulator": [g == "g3" for g in genes]}, index=genes
    )
    _, joined = an.hub_table(gene_map(a, genes), "g0", scores)
    summary = an.role_summary(joined, scores).set_index("role")
    assert list(summary.index) == ["downstream", "upstream", "bidirectional"]
    assert summary.loc["downstream", "true_target_share"] == 0.5
    assert summary.loc["upstream", "true_regulator_share"] == 1.0
    assert summary.loc["downstream", "true_target_base"] == pytest.approx(2 / 40)


def test_score_correlations_match_scipy():
    rng = np.random.default_rng(3)
    s = pd.DataFrame(rng.normal(size=(20, 3)), columns=["effect", "attention_down", "correlation"])
    t = an.score_correlations(s).set_index(["a", "b"])
    assert len(t) == 3
    assert t.loc[("effect", "correlation"), "pearson_r"] == pytest.approx(
        scipy.stats.pearsonr(s["effect"], s["correlation"]).statistic
    )


# ----------------------------------------------------------------------------------- 03: model-based glue


def test_cell_variation_is_the_correlation_of_per_cell_rows(data):
    screen, store = data
    model = cdt2()
    var = an.cell_variation(model, screen, store, "GFI1B", first_n=4, n_variable=3)
    rows = attention_rows(model, screen, store, "GFI1B", "GFI1B", splits=None, first_n=4).head_mean()
    corr = np.corrcoef(rows)
    np.testing.assert_allclose(var.corr.to_numpy(), corr)
    assert var.summary["mean"] == pytest.approx(corr[np.triu_indices(4, 1)].mean())
    assert var.summary["n_pairs"] == 6
    assert list(var.variable.index) == list(pd.Series(rows.var(0), index=screen.var_names).nlargest(3).index)


def test_gradient_vs_effect_and_knockdown_tables(data):
    screen, store = data
    model = cdt2()
    table, importance = an.gradient_vs_effect(model, screen, store, ["GFI1B", "CD52", "TFRC"], n_outputs=3)
    assert table["perturbation"].tolist() == ["GFI1B", "CD52"]  # TFRC has no cells
    assert table["cells"].tolist() == [4, 4]
    effect = np.abs(screen.layers["log2fc"][(screen.obs["perturbation"] == "GFI1B").to_numpy()].mean(0))
    outputs = list(screen.var_names[np.argsort(-effect, kind="stable")[:3]])
    jac = gene_jacobian(model, screen, store, "GFI1B", at="ntc_mean", outputs=outputs)
    np.testing.assert_allclose(importance["GFI1B"].to_numpy(), jac.importance().to_numpy())
    r = scipy.stats.pearsonr(jac.importance(), effect).statistic
    assert table.set_index("perturbation").loc["GFI1B", "r"] == pytest.approx(r)
    assert table.set_index("perturbation").loc["GFI1B", "published_r"] == 0.86

    kd, kds = an.knockdown_table(model, screen, store, ["GFI1B", "CD52"])
    assert kd["perturbation"].tolist() == ["GFI1B"]  # CD52 has cells but is no input gene of this screen
    assert kd.loc[0, "r"] == pytest.approx(kds["GFI1B"].r)
    assert kds["GFI1B"].fraction == 0.0


def test_attention_inventory_uses_real_shapes():
    table = an.attention_inventory(preset="tiny").set_index("map")
    p = TINY
    assert table.loc["rna_self_0", "this_model_shape"] == f"{p.n_heads} x {p.n_genes} x {p.n_genes}"
    assert table.loc["rna_to_protein", "this_model_shape"] == f"{p.n_heads} x {p.n_proteins} x {p.n_genes}"
    assert table.loc["dna_self_1", "published_shape"] == "8 x 896 x 896"
    assert (table["source"] == "not in Table 5").sum() == 3  # the VCE pooling maps
    torch.manual_seed(0)
    model = CDT3(
        dataclasses.replace(CDT3Config.from_preset(TINY), n_genes=N_GENES, n_bins=N_BINS, dna_dim=DIM, n_proteins=6)
    )
    mine = an.attention_inventory(model).set_index("map")
    assert mine.loc["dna_to_rna", "this_model_shape"] == f"{p.n_heads} x {N_GENES} x {N_BINS}"
    assert mine.loc["protein_self_0", "this_model_shape"] == f"{p.n_heads} x 6 x 6"


def test_pick_heads_orders_concentrated_to_diffuse():
    L = 16
    v = np.stack([np.full((L, L), 1 / L), np.eye(L), 0.5 * np.eye(L) + 0.5 / L, np.roll(np.eye(L), 1, 1)])
    amap = AttentionMap("dna_self_0", v, True, np.array(["p"]), np.arange(L), np.arange(L))
    picked = an.pick_heads(amap, k=3)
    assert picked["head"].tolist() == [1, 2, 0]  # one-hot rows (first of the tie), mixed, uniform
    np.testing.assert_allclose(picked["row_effective_positions"], [1.0, np.exp(picked["row_entropy"][1]), L])
    assert 1 < picked["row_effective_positions"][1] < L
    np.testing.assert_allclose(picked["key_effective_positions"], L)  # the authors' measure cannot tell them apart
    with pytest.raises(ValueError, match="head-resolved"):
        an.pick_heads(AttentionMap("dna_self_0", v[0], False, np.array(["p"]), np.arange(L), np.arange(L)))


# ----------------------------------------------------------------------------------- 03: headline rows, findings


def test_notebook_lines_and_neighbourhood_clamp(data, tmp_path):
    screen, _ = data
    line = an.data_line(screen, "GFI1B", 3, source_label="synthetic (tiny, seed 0)", protocol="paper", run_name="r")
    assert line == (
        "Data: **synthetic (tiny, seed 0)**, protocol **paper**; CDT-II run `r`; 10 genes, 4 GFI1B cells. The "
        "paper's top 100 of 2,361 genes becomes **top 3 of 10** here (same share of the gene universe)."
    )
    assert an.read_edges(None) is None
    pd.DataFrame({"source": ["A"], "target": ["B"]}).to_csv(tmp_path / "network_edges.csv", index=False)
    assert an.read_edges(tmp_path).to_dict("list") == {"source": ["A"], "target": ["B"]}
    genes = ["A", "B", "C"]
    v = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]])
    amap = gene_map(v[None].repeat(2, 0), genes)
    assert an.map_shapes({"rna_self_0": amap})["shape [heads x queries x keys]"].tolist() == ["2 x 3 x 3"]
    hood = an.neighbourhood(amap, "A", n=30)  # n is capped at the 2 other genes: A (self 1.0) and C (0.5) beat B
    assert list(hood.index) == ["A", "C"]
    top = pd.DataFrame({"head": [0, 0, 1, 1], "rank": [1, 2, 1, 2], "gene": ["B", "C", "B", "A"]})
    assert an.head_top_line(top, "A") == "Top gene per head: head 0: **B**, head 1: **B** (1 distinct of 2 heads)."
    meta = {"pair": "E1:G2", "target_gene": "G2"}
    assert an.pair_title(dataclasses.replace(amap, meta=meta)) == "\nenhancer at E1:G2 and its target gene G2"
    meta = {"pair": "chr6:23180763-23181197:G2", "target_gene": "G2", "split": "val"}
    assert (
        an.pair_title(dataclasses.replace(amap, meta=meta))
        == "\nenhancer at chr6:23,180,763-23,181,197 and its target gene G2 (one validation pair)"
    )
    heads = pd.DataFrame({"row_effective_positions": [2.0, 8.0, 4.0]})
    assert an.head_spread_numbers(heads).numbers[0]["value"] == 4.0


def test_overlap_variation_and_hub_rows_and_findings():
    overlap = pd.DataFrame(
        {
            "method": ["attention_down", "correlation"],
            "n": 11,
            "M": 256,
            "overlap": [4, 2],
            "fold": [8.46, 4.23],
            "p_value": [1.2e-4, 0.03],
            "true_target_share": [0.5, 0.25],
            "true_target_base": [0.04, 0.04],
        }
    )
    rows = an.overlap_numbers(overlap).numbers
    assert [r["value"] for r in rows] == [4, 8.46, 1.2e-4, 4.23, 0.5, 0.25]
    assert rows[0]["note"] == "top 11 of 256 genes (paper: top 100 of 2,361)" and rows[4]["note"].endswith("0.040")
    assert len(an.overlap_numbers(overlap.drop(columns=["true_target_share", "true_target_base"])).numbers) == 4
    text = an.overlap_finding(overlap)
    assert "shares 4 genes with the experimental top 11 (8.5-fold, P = 1.2e-04; paper 28/100, 6.6-fold" in text
    assert "attention is ahead of this baseline here. Against the simulated truth: 50% of the attention" in text
    var = an.CellVariation(
        corr=pd.DataFrame(np.eye(3)), summary={"mean": 0.81, "min": 0.5, "n_pairs": 3}, variable=pd.Series()
    )
    row = an.cell_variation_numbers(var, "GFI1B").numbers[0]
    assert (row["value"], row["detail"], row["note"]) == (
        0.81,
        "3 cell pairs",
        "min 0.500; authors' notebook gave 0.82",
    )
    assert an.variation_finding(var).endswith("over 3 cells: 0.81 (paper 0.75).")
    counts = {"downstream": 13, "upstream": 12, "bidirectional": 5}
    stats = pd.DataFrame(
        {"role": ["downstream"], "genes": [13], "true_target_share": [0.3], "true_target_base": [0.05]}
    )
    rows = an.hub_numbers(counts, stats, "GFI1B", 256).numbers
    assert [r["value"] for r in rows] == [13, 12, 5, 0.3] and rows[3]["note"] == "simulated truth; base rate 0.050"
    assert len(an.hub_numbers(counts, pd.DataFrame(), "GFI1B", 256).numbers) == 3  # no roles, no truth row
    assert "13 downstream, 12 upstream, 5 bidirectional partners (paper 85 / 85 / 33" in an.hub_finding(counts)


def test_gradient_and_knockdown_rows_and_findings():
    grad = pd.DataFrame({"perturbation": ["GFI1B", "CD52"], "r": [0.6, 0.2]})
    method_r = pd.DataFrame(
        {
            "a": ["effect", "effect", "effect", "attention_down"],
            "b": ["attention_down", "gradient_importance", "correlation", "gradient_importance"],
            "pearson_r": [0.3, 0.6, 0.1, 0.25],
        }
    )
    assert an.gene_r(grad, "CD52") == 0.2
    rows = an.gradient_numbers(grad, method_r, "GFI1B", 11).numbers
    assert [r["value"] for r in rows] == [0.6, pytest.approx(0.4), 0.25, 0.3, 0.1]
    assert (
        rows[0]["note"] == "top 11 outputs; v3 Fig 8A gives 0.86 for GFI1B" and rows[1]["note"] == "2 genes with cells"
    )
    text = an.gradient_finding(grad, method_r, "GFI1B")
    assert "r = 0.60 for GFI1B (mean 0.40 over 2 held-out genes; paper 0.83)" in text
    assert "tracks it with r = 0.30, and attention vs gradients r = 0.25 (paper 0.27)" in text
    scores = pd.DataFrame({"effect": [1.0, 2.0]}, index=["A", "B"])
    out = an.with_gradient_importance(scores, {"GFI1B": pd.Series({"B": 5.0, "A": 3.0})}, "GFI1B")
    assert out["gradient_importance"].tolist() == [3.0, 5.0] and "gradient_importance" not in scores
    kd = pd.DataFrame({"perturbation": ["GFI1B"], "r": [0.071]})
    assert an.knockdown_numbers(kd).numbers == [
        {
            "key": ("CDT-II", "text (in-silico knockdown)", "r predicted change vs observed, GFI1B"),
            "value": 0.071,
            "file": "cdt2_text_in_silico_knockdown.csv",
        }
    ]
    assert "gives r = 0.07 with the observed profile (paper ~0.07)" in an.knockdown_finding(kd, "GFI1B")
    assert "r = nan" in an.knockdown_finding(kd.iloc[:0], "GFI1B")


# ----------------------------------------------------------------------------------- 04: networks, modules


def block_matrix(sizes: list[int], seed: int = 0) -> np.ndarray:
    """Symmetric similarity with strong within-block and weak between-block entries."""
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    m = rng.uniform(0, 0.1, (n, n))
    start = 0
    for s in sizes:
        m[start : start + s, start : start + s] += 1.0
        start += s
    return (m + m.T) / 2


def test_gene_network_recovers_planted_blocks():
    genes = [f"g{i}" for i in range(30)]
    net = an.gene_network("test", block_matrix([15, 15]), genes, top_fraction=0.3, seed=0)
    assert net.n_communities == 2
    assert sorted(map(sorted, net.communities)) == sorted([sorted(genes[:15]), sorted(genes[15:])])
    s = net.summary()
    assert s["communities"] == 2 and s["singletons"] == 0 and s["genes"] == 30
    assert s["edges"] == net.graph.number_of_edges() > 0


def test_attention_networks_use_self_attention_and_cross_similarity():
    genes = [f"g{i}" for i in range(20)]
    self_map = gene_map(block_matrix([10, 10], seed=1), genes)
    rng = np.random.default_rng(2)
    profiles = np.where(np.arange(20)[:, None] < 8, [1.0, 0, 0, 0, 1.0, 0], [0, 0, 1.0, 1.0, 0, 0])
    cross = AttentionMap(
        "dna_to_rna", profiles + rng.uniform(0, 0.05, (20, 6)), False, np.array(["c"]), np.array(genes), np.arange(6)
    )
    nets = an.attention_networks({"rna_self_0": self_map, "dna_to_rna": cross}, top_fraction=0.3)
    assert sorted(map(len, nets["self"].communities)) == [10, 10]
    assert sorted(map(sorted, nets["cross"].communities)) == sorted([sorted(genes[:8]), sorted(genes[8:])])
    with pytest.raises(ValueError, match="missing"):
        an.attention_networks({"rna_self_0": self_map})


def test_correlation_network_is_built_on_ntc_cells(data):
    screen, _ = data
    net, label = an.correlation_network(screen, top_fraction=0.2)
    assert label == "6 NTC cells"
    ntc = (screen.obs["kind"] == "NTC").to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.nan_to_num(scipy.stats.spearmanr(screen.X[ntc]).statistic)
    off = rho[~np.eye(N_GENES, dtype=bool)]
    thr = np.quantile(off, 0.8)
    assert net.graph.graph["threshold"] == pytest.approx(thr)
    expected = {
        frozenset((screen.var_names[i], screen.var_names[j]))
        for i, j in zip(*np.nonzero(rho > thr), strict=True)
        if i != j
    }
    assert {frozenset(e) for e in net.graph.edges} == expected


def test_enrichment_offline_uses_the_network_genes_as_background():
    genes = [f"g{i}" for i in range(30)]
    net = an.GeneNetwork("n", genes, None, [genes[:10], genes[10:25], genes[25:]])
    libs = {
        "GO_Molecular_Function_2023": {
            "RNA Binding (GO:0003723)": genes[:8] + ["outside1"],
            "Heme Binding (GO:0020037)": genes[10:14],
        }
    }
    table = an.enrich_network(net, libs)
    assert set(table["Community_ID"]) == {0, 1}  # community 2 has < 5 genes
    row = table[(table["Community_ID"] == 0) & table["Term"].str.startswith("RNA")].iloc[0]
    assert row["Overlap"] == "8/8"  # gene sets restricted to the background
    assert row["P_value"] == pytest.approx(scipy.stats.hypergeom.sf(7, 30, 8, 10))
    hits = an.term_hits(table)
    assert hits["Community_ID"].tolist()[0] == 0


def test_enrich_networks_online_failure_is_reported_offline_is_raised(monkeypatch):
    def boom(*args, **kwargs):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(an, "enrich_network", boom)
    tables, error = an.enrich_networks({"self": None, "cross": None}, ["GO_Molecular_Function_2023"], online=True)
    assert "no route to host" in error and set(tables) == {"self", "cross"} and tables["self"].empty
    with pytest.raises(ConnectionError):
        an.enrich_networks({"self": None}, ["lib.gmt"], online=False)


def test_pick_module_communities_by_term_or_by_overlap():
    genes = [f"g{i}" for i in range(20)]
    nets = {
        "self": an.GeneNetwork("s", genes, None, [genes[:10], genes[10:]]),
        "cross": an.GeneNetwork("c", genes, None, [genes[:5], genes[5:12], genes[12:]]),
    }
    enr = {
        "self": pd.DataFrame(
            {"Community_ID": [0, 1], "Term": ["RNA Binding (GO:0003723)", "RNA binding x"], "P_value": [1e-3, 1e-6]}
        ),
        "cross": pd.DataFrame({"Community_ID": [2], "Term": ["RNA Binding (GO:0003723)"], "P_value": [0.2]}),
    }
    picks, how = an.pick_module_communities(nets, enr)
    assert picks == {"self": 1, "cross": 2} and "enriched" in how
    picks, how = an.pick_module_communities(nets, {**enr, "cross": enr["cross"].iloc[:0]})
    overlap_p = {
        (i, j): scipy.stats.hypergeom.sf(len(set(a) & set(b)) - 1, 20, len(a), len(b))
        for i, a in enumerate(nets["self"].communities)
        for j, b in enumerate(nets["cross"].communities)
    }
    assert (picks["self"], picks["cross"]) == min(overlap_p, key=overlap_p.get)
    assert "overlap" in how


def test_terms_cleaned_ranked_and_planted_term_found():
    assert an.clean_term("RNA Binding (GO:0003723)") == "RNA Binding"
    assert an.clean_term("Metabolism Of RNA R-HSA-8953854") == "Metabolism Of RNA"
    assert an.clean_term("Spliceosome") == "Spliceosome"
    enr = pd.DataFrame(
        {
            "Community_ID": [0, 0, 0, 1],
            "Library": ["GO_MF", "KEGG", "GO_MF", "GO_MF"],
            "Term": ["Heme Binding (GO:0020037)", "Spliceosome", "RNA Binding (GO:0003723)", "X"],
            "Overlap": ["1/5", "4/9", "6/8", "1/1"],
            "P_value": [0.01, 1e-5, 1e-4, 1e-9],
            "Adjusted_P_value": [0.02, 1e-4, 1e-3, 1e-8],
        }
    )
    top = an.top_terms(enr, 0, n=2)
    assert top["name"].tolist() == ["Spliceosome", "RNA Binding"]
    np.testing.assert_allclose(top["minus_log10_adj_p"], [4.0, 3.0])
    planted = pd.DataFrame(
        {
            "library": ["GO_MF", "KEGG", "GO_MF"],
            "term": ["RNA Binding (GO:0003723)", "Spliceosome", "Heme Binding (GO:0020037)"],
            "module": ["rna_processing", "rna_processing", "gfi1b_targets"],
        }
    )
    ranks = an.planted_term_ranks(enr, 0, planted).set_index("term")
    assert ranks.loc["RNA Binding (GO:0003723)", "rank_in_library"] == 1
    assert ranks.loc["Spliceosome", "rank_overall"] == 1 and ranks.loc["RNA Binding (GO:0003723)", "rank_overall"] == 2
    assert ranks.loc["Spliceosome", "P_value"] == 1e-5
    assert len(ranks) == 2


def test_module_recovery_and_overlap_by_hand():
    genes = [f"g{i}" for i in range(20)]
    net = an.GeneNetwork("n", genes, None, [genes[:8], genes[8:]])
    modules = pd.DataFrame(
        {"gene": genes[:6] + ["elsewhere"] + genes[10:12], "module": ["m1"] * 7 + ["m2"] * 2, "kind": "regulatory"}
    )
    rec = an.module_recovery({"self": net}, modules).set_index("module")
    assert rec.loc["m1", "module_genes"] == 6  # genes outside the network are dropped
    assert rec.loc["m1", "community"] == 0
    assert rec.loc["m1", "jaccard"] == pytest.approx(6 / 8)
    assert rec.loc["m1", "recall"] == 1.0
    assert rec.loc["m1", "p_value"] == pytest.approx(scipy.stats.hypergeom.sf(5, 20, 6, 8))
    assert rec.loc["m2", "jaccard"] == pytest.approx(2 / 12)
    o = an.module_overlap(genes[:8], genes[4:10], genes)
    assert (o.k, o.M) == (4, 20) and o.fold == pytest.approx(4 / (8 * 6 / 20))


# ------------------------------------------------------------------------ 04: tables, headline rows and sentences


def _module_nets() -> tuple[dict[str, an.GeneNetwork], list[str]]:
    import networkx as nx

    genes = [f"g{i}" for i in range(20)]
    graph = nx.Graph([("g0", "g1"), ("g1", "g2")], threshold=0.5)
    nets = {
        "self": an.GeneNetwork("RNA self-attention", genes, graph, [genes[:10], genes[10:19], genes[19:]]),
        "cross": an.GeneNetwork("DNA->RNA cross-attention similarity", genes, graph, [genes[:6], genes[6:]]),
        "correlation": an.GeneNetwork("expression correlation", genes, graph, [genes]),
    }
    return nets, genes


def test_module_data_line_names_the_enrichment_source(data):
    from pathlib import Path
    from types import SimpleNamespace

    screen, _ = data
    run = SimpleNamespace(run_dir=Path("runs/cdt2-tiny-paper-abc"))
    line = an.module_data_line(screen, run, [Path("g/KEGG_2021_Human.gmt")], source_label="synthetic (tiny, seed 0)")
    assert line == (
        "Data: **synthetic (tiny, seed 0)**; CDT-II run `cdt2-tiny-paper-abc`; 10 genes. Enrichment offline on 1 GMT "
        "libraries: `KEGG_2021_Human`"
    )
    assert an.module_data_line(screen, run, [], source_label="x").endswith(
        "No GMT directory: enrichment on Enrichr online (GO_Molecular_Function_2023, KEGG_2021_Human, Reactome_2022)."
    )


def test_module_networks_are_the_attention_and_correlation_networks(data):
    screen, store = data
    model = cdt2()
    nets, cells = an.module_networks(model, screen, store, first_n=3, top_fraction=0.2, seed=0)
    assert list(nets) == ["self", "cross", "correlation"] and cells == "6 NTC cells"
    maps = an.gene_maps(model, screen, store, "GFI1B", first_n=3, maps=list(an.RNA_MAPS))
    want = an.attention_networks(maps, top_fraction=0.2, seed=0)
    for key in ("self", "cross"):
        assert nets[key].communities == want[key].communities
        assert sorted(nets[key].graph.edges) == sorted(want[key].graph.edges)
    assert nets["correlation"].communities == an.correlation_network(screen, top_fraction=0.2)[0].communities


def test_community_tables_and_findings():
    nets, genes = _module_nets()
    table = an.community_table(nets)
    assert table["communities"].tolist() == [3, 2, 1] and table["singletons"].tolist() == [1, 0, 0]
    assert table["edges"].tolist() == [2, 2, 2] and table["largest"].tolist() == [10, 14, 20]
    parts = an.partitions(nets)
    assert len(parts) == 3 * len(genes)
    assert parts[(parts["network"] == "self") & (parts["gene"] == "g19")]["community_size"].tolist() == [1]
    f = an.community_findings(nets, "6 NTC cells")
    assert [(n["key"][2], n["value"], n["note"]) for n in f.numbers] == [
        ("communities, RNA self-attention network", 3, "20 genes (paper 2,361); 1 singletons"),
        ("communities, DNA->RNA cross-attention similarity network", 2, "20 genes (paper 2,361); 0 singletons"),
    ]
    assert f.text == "Expression-correlation baseline over 6 NTC cells: 1 communities."
    enr = an.enrichment_table({"self": pd.DataFrame({"Term": ["a"]}), "cross": pd.DataFrame({"Term": ["b", "c"]})})
    assert enr["network"].tolist() == ["self", "cross", "cross"] and enr.index.tolist() == [0, 1, 2]


def _module_enrichment() -> dict[str, pd.DataFrame]:
    def table(cid: int, rna_p: float | None) -> pd.DataFrame:
        terms, p = ["Spliceosome", "Heme Binding (GO:0020037)"], [1e-3, 0.02]
        if rna_p is not None:
            terms, p = [*terms, "RNA Binding (GO:0003723)"], [*p, rna_p]
        return pd.DataFrame(
            {
                "Community_ID": cid,
                "Library": "GO_Molecular_Function_2023",
                "Term": terms,
                "Overlap": "3/9",
                "P_value": p,
                "Adjusted_P_value": [10 * x for x in p],
            }
        )

    return {"self": table(1, 4e-4), "cross": table(0, None)}


def test_module_terms_choice_and_rna_binding_rows():
    nets, _ = _module_nets()
    picks, enr = {"self": 1, "cross": 0}, _module_enrichment()
    line = an.module_choice_line(nets, picks, "by hand")
    assert (
        line
        == "C1 = self-attention community 1 (9 genes), C3 = cross-attention community 0 (6 genes), chosen as by hand."
    )
    panels, table = an.module_terms(nets, enr, picks)
    assert list(panels) == [
        "RNA self-attention network:\nmodule C1 (9 genes)",
        "DNA→RNA cross-attention network:\nmodule C3 (6 genes)",
    ]
    first = next(iter(panels.values()))
    assert first["name"].tolist() == ["RNA Binding", "Spliceosome", "Heme Binding"]  # by adjusted P
    assert table["community"].unique().tolist() == [
        "RNA self-attention: module C1",
        "DNA->RNA cross-attention: module C3",
    ]
    assert len(table) == 5
    rows = an.rna_binding_findings(nets, enr, picks, online=False).numbers
    assert [(r["key"][2], r["value"]) for r in rows] == [
        ("RNA binding P, C1 (RNA self-attention)", 4e-4),
        ("RNA binding P, C3 (DNA->RNA cross-attention similarity)", None),  # C3 does not carry the term
    ]
    assert rows[0]["note"] == "offline GMT, screen genes as background"
    assert an.rna_binding_findings(nets, enr, picks, online=True).numbers[0]["note"] == "Enrichr online"


def test_module_venn_table_and_rows_by_hand():
    genes = [f"g{i}" for i in range(20)]
    venn = an.module_venn(genes[:8], genes[4:10], genes)
    v = venn.iloc[0]
    assert (v["c1"], v["c3"], v["shared"], v["M"]) == (8, 6, 4, 20)
    assert v["share_of_c3"] == pytest.approx(4 / 6) and v["expected"] == pytest.approx(8 * 6 / 20)
    assert v["fold"] == pytest.approx(4 / 2.4)
    assert v["p_value"] == pytest.approx(scipy.stats.hypergeom.sf(3, 20, 8, 6))
    rows = an.venn_findings(venn, 20).numbers
    assert [r["key"][2] for r in rows] == [
        "C1 size",
        "C3 size",
        "shared genes",
        "share of C3 in C1",
        "fold enrichment",
        "hypergeometric P",
    ]
    assert [r["value"] for r in rows[:3]] == [8, 6, 4] and rows[0]["note"] == "20 genes (paper 2,361)"


def test_recovery_rows_and_module_findings(tmp_path):
    nets, genes = _module_nets()
    modules = pd.DataFrame({"gene": genes[:8], "module": "rna_processing", "kind": "regulatory"})
    planted = pd.DataFrame({"library": ["GO_Molecular_Function_2023"], "term": ["RNA Binding (GO:0003723)"]})
    planted["module"] = "rna_processing"
    modules.to_csv(tmp_path / "modules.csv", index=False)
    planted.to_csv(tmp_path / "planted_terms.csv", index=False)
    read_modules, read_planted = an.read_module_truth(tmp_path)
    assert read_modules.equals(modules) and read_planted.equals(planted)

    picks = {"self": 1, "cross": 0}
    enr = _module_enrichment()
    ranks = an.chosen_term_ranks(enr, picks, planted)
    assert ranks["network"].tolist() == ["self", "cross"] and ranks["community"].tolist() == [1, 0]
    assert ranks["rank_overall"].iloc[0] == 1 and np.isnan(ranks["rank_overall"].iloc[1])  # not among C3's terms
    recovery = an.module_recovery(nets, modules)
    rows = an.recovery_findings(recovery, ranks, nets, picks, modules).numbers
    assert [r["key"][2] for r in rows] == [
        "rna_processing module: best community Jaccard, self",
        "rna_processing module: best community Jaccard, cross",
        "rna_processing module: best community Jaccard, correlation",
        "C1: Jaccard with the planted RNA module",
        "C1: best rank of a planted RNA-module term",
        "C3: Jaccard with the planted RNA module",
        "C3: best rank of a planted RNA-module term",
    ]
    # self: best is community 0 (g0-g9, Jaccard 8/10), C1 = community 1 (g10-g18) shares none
    assert rows[0]["value"] == pytest.approx(0.8) and rows[3]["value"] == 0.0
    assert rows[3]["note"] == "C1 is community 1; best match is community 0 (Jaccard 0.80)"
    assert rows[5]["value"] == pytest.approx(6 / 8) and rows[4]["value"] == 1.0

    venn = an.module_venn(nets["self"].communities[1], nets["cross"].communities[0], genes)
    text = an.module_findings(nets, picks, "by hand", venn, recovery=recovery, ranks=ranks)
    assert "Louvain finds 3 communities in the self-attention network and\n  2 in the cross-attention network" in text
    assert "(paper 5 and 53 on 2,361 genes); plain expression\n  correlation gives 1." in text
    assert "C1 (9 genes) and C3 (6 genes), chosen as by hand, share 0 genes\n  (0% of C3;" in text
    assert "paper 132 of 165, 2.8-fold,\n  P = 9.3e-46)." in text
    assert (
        "- Planted RNA-processing module (8 genes) in the self network: best community Jaccard 0.80 (recall 100%"
        in text
    )
    assert "C1 is not the self-attention community that best matches the module, C3 is the best cross-attention" in text
    assert "position 1 / nan of their terms" in text
    assert "Planted" not in an.module_findings(nets, picks, "by hand", venn)

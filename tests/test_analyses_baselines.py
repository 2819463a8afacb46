"""Notebook 07 glue (cdt.analyses.baselines): the contract's affine identity, run scores beside the baselines, cell
selections, pooled maps, gene-pair and DNA-bin scores with their truths, head-ranking truth, summaries and wording."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import torch
from cdt.analyses import baselines as ab
from cdt.attention import AttentionMap
from cdt.baselines import prediction_baselines, recovery_table
from cdt.data.dnastore import DNAStore
from cdt.gradients import gene_jacobian
from cdt.models import CDT2, CDT2Config

torch.set_num_threads(1)


def _amap(name: str, values, n_cells: int = 1, heads: bool = False) -> AttentionMap:
    v = np.asarray(values, dtype=float)
    q, k = v.shape[-2:]
    return AttentionMap(
        name=name,
        values=v,
        heads=heads,
        cells=np.array([f"c{i}" for i in range(n_cells)]),
        query_names=np.arange(q).astype(str),
        key_names=np.arange(k).astype(str),
    )


def _tiny_cdt2(n_genes: int = 8, n_bins: int = 6, dna_dim: int = 4) -> CDT2:
    torch.manual_seed(0)
    cfg = CDT2Config(
        n_genes=n_genes, n_bins=n_bins, dna_dim=dna_dim, d_model=16, n_heads=4, pool_heads=2, ffn_dim=32, dropout=0.0
    )
    return CDT2(cfg).eval()


def _metrics() -> dict:
    """metrics.json of a `paper` run: select = test (the trainer writes both)."""
    per = {
        "GFI1B": {"n_cells": 3, "pb_r": 0.5, "baseline_pb_r": 0.2, "protein_pb_r": 0.9, "baseline_protein_pb_r": 0.1}
    }
    m = {"protocol": "paper", "n_samples": {"train": 12, "select": 3, "test": 3}}
    for role in ("select", "test"):
        m.update(
            {
                f"{role}_r": 0.4,
                f"{role}_pb_r": 0.5,
                f"{role}_rna_loss": 0.11,
                f"{role}_protein_r": 0.8,
                f"{role}_protein_pb_r": 0.9,
                f"{role}_protein_loss": 0.05,
                f"baseline_{role}_r": 0.3,
                f"baseline_{role}_pb_r": 0.2,
                f"baseline_{role}_rna_loss": 0.12,
                f"baseline_{role}_protein_r": 0.6,
                f"baseline_{role}_protein_pb_r": 0.1,
                f"baseline_{role}_protein_loss": 0.07,
                f"{role}_per_perturbation": per,
            }
        )
    return m


# ---------------------------------------------------------------------------------------------------------- prediction


def test_affine_identity_is_exact_on_a_contract_screen_and_sees_a_change(tiny_screen):
    a = tiny_screen(n_genes=6, seed=2)
    res = ab.affine_identity(a)
    assert res["max_abs_difference"] < 1e-5 and res["r"] == pytest.approx(1.0, abs=1e-9)
    assert res["n_values"] == a.n_obs * a.n_vars
    a.layers["log2fc"][3, 2] += 0.5
    assert ab.affine_identity(a)["max_abs_difference"] == pytest.approx(0.5, abs=1e-4)


def test_run_scores_reads_the_trainer_metrics():
    s, per = ab.run_scores(_metrics(), "CDT-III", "protein")
    assert (
        s["method"].tolist() == ["CDT-III", "mean (trainer)"] * 2
        and s["role"].tolist() == ["select"] * 2 + ["test"] * 2
    )
    test = s[s["role"] == "test"].set_index("method")
    assert test.loc["CDT-III", ["r", "pb_r", "mse"]].tolist() == [0.8, 0.9, 0.05]
    assert test.loc["mean (trainer)", ["r", "pb_r", "mse"]].tolist() == [0.6, 0.1, 0.07]
    assert (s["n_cells"] == 3).all() and (s["target"] == "protein").all()
    p = per[per["role"] == "test"].set_index("method")["pb_r"]
    assert p["CDT-III"] == 0.9 and p["mean (trainer)"] == 0.1
    rna, _ = ab.run_scores(_metrics(), "CDT-III", "rna")
    assert rna[rna["role"] == "test"].set_index("method")["mse"].tolist() == [0.11, 0.12]


def test_prediction_comparison_sets_every_baseline_beside_the_run(tiny_screen, tiny_dna_store):
    a = tiny_screen(n_genes=10, cells_per_target=5, n_ntc=6, seed=1)
    split = a.obs["split"].astype(str).to_numpy()
    split[a.obs["perturbation"].to_numpy() == "CD58"] = "val"
    a.obs["split"] = split
    store = tiny_dna_store(sorted(set(a.obs["locus"].astype(str)) - {""}), n_bins=6, dim=5)
    run = SimpleNamespace(
        model=torch.nn.Linear(1, 1), metrics=_metrics(), config=SimpleNamespace(kinds=("TSS", "SNP"), protocol="paper")
    )
    comp = ab.prediction_comparison(a, store, {"CDT-II": run}, protocols=("paper", "clean"))
    s = comp.summary
    paper, clean = s[s["protocol"] == "paper"], s[s["protocol"] == "clean"]
    assert set(paper["role"]) == {"test"}  # under `paper` the selection cells are the test cells
    assert set(clean["role"]) == {"select", "test"} and "CDT-II" not in set(clean["method"])
    assert comp.value("CDT-II", "paper", "rna", "CDT-II") == 0.4
    assert comp.value("CDT-II", "paper", "rna", "CDT-II", "pb_r") == 0.5
    assert np.isnan(comp.value("CDT-II", "clean", "rna", "CDT-II"))
    direct = prediction_baselines(a, store, protocol="clean").summary.set_index(["role", "method"])
    for method in ("mean", "ridge", "ridge_dna", "nearest_locus"):
        assert comp.value("CDT-II", "clean", "rna", method) == pytest.approx(direct.loc[("test", method), "r"])
    assert set(s.loc[s["method"] == "CDT-II", "family"]) == {"CDT"}
    assert set(s.loc[s["method"] == "ridge", "family"]) == {"baseline"}
    assert comp.value("CDT-II", "paper", "rna", "ridge") > 0.99  # the input-copy ceiling
    assert set(comp.ridge_alpha) == {("CDT-II", "paper", "rna"), ("CDT-II", "clean", "rna")}


# ---------------------------------------------------------------------------------------------------------- selections


def test_perturbed_genes_first_cells_and_held_out(tiny_screen):
    a = tiny_screen(cells_per_target=3)  # genes G0..G6 + GFI1B; targets B2M, CD52, CD58, GFI1B; GFI1B held out
    assert ab.perturbed_genes(a) == ["GFI1B"]
    assert ab.perturbed_genes(a, min_cells=4) == []
    mask = ab.first_cells(a, ["B2M", "GFI1B"], 2)
    pert = a.obs["perturbation"].astype(str).to_numpy()
    assert mask.sum() == 4
    for g in ("B2M", "GFI1B"):
        assert np.flatnonzero(mask & (pert == g)).tolist() == np.flatnonzero(pert == g)[:2].tolist()
    assert ab.first_cells(a, ["SNP-1"], 5, "locus").sum() == 2
    assert ab.tested_perturbations(a) == ["GFI1B"] and ab.tested_perturbations(a, "locus") == ["GFI1B"]


# ---------------------------------------------------------------------------------------------------------- maps, scores


def test_pooled_map_weights_groups_by_cells():
    maps = {"a": {"m": _amap("m", [[1.0, 0.0], [0.0, 1.0]], n_cells=1)}, "b": {"m": _amap("m", np.zeros((2, 2)), 3)}}
    np.testing.assert_allclose(ab.pooled_map(maps, "m"), [[0.25, 0.0], [0.0, 0.25]])
    np.testing.assert_allclose(ab.pooled_map(maps, "m", groups=["a"]), np.eye(2))
    with pytest.raises(ValueError, match="head-resolved"):
        ab.pooled_map(maps, "m", heads=True)
    h = {
        "a": {"m": _amap("m", [np.eye(2), np.ones((2, 2))], 2, heads=True)},
        "b": {"m": _amap("m", np.zeros((2, 2, 2)), 2, heads=True)},
    }
    np.testing.assert_allclose(ab.pooled_map(h, "m", heads=True), [0.5 * np.eye(2), 0.5 * np.ones((2, 2))])
    np.testing.assert_allclose(ab.pooled_map(h, "m"), 0.25 * (np.eye(2) + 1))


def test_spearman_matrix_matches_scipy_and_zeroes_constant_genes():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 4))
    x[:, 2] = 1.0
    m = ab.spearman_matrix(x)
    assert m.shape == (4, 4) and (m[2] == 0).all() and (m[:, 2] == 0).all()
    assert m[0, 3] == pytest.approx(abs(scipy.stats.spearmanr(x[:, 0], x[:, 3]).statistic))
    assert m[1, 0] == m[0, 1]


def test_gene_pair_scores_orientation_and_baselines(tiny_screen):
    a = tiny_screen(n_genes=5, seed=3)
    rng = np.random.default_rng(1)
    att = [rng.random((5, 5)) for _ in range(2)]
    cross = [rng.random((5, 6)) for _ in range(2)]
    maps = {
        g: {"rna_self_0": _amap("rna_self_0", att[i], 1), "dna_to_rna": _amap("dna_to_rna", cross[i], 1)}
        for i, g in enumerate(["B2M", "GFI1B"])
    }
    jac = rng.random((5, 5))
    s = ab.gene_pair_scores(a, maps, jac)
    mean_att = (att[0] + att[1]) / 2
    np.testing.assert_allclose(s["attention (query->key)"], mean_att)
    np.testing.assert_allclose(s["attention (key->query)"], mean_att.T)
    np.testing.assert_allclose(s["jacobian |d out / d in|"], jac.T)  # [out, in] -> [source, target]
    np.testing.assert_allclose(np.diag(s["cross_attention_similarity"]), 1.0)
    ntc = a.X[(a.obs["kind"] == "NTC").to_numpy()]
    np.testing.assert_allclose(s["spearman_ntc"], ab.spearman_matrix(ntc))
    mean_ranks = scipy.stats.rankdata(ntc.mean(0)) / 5
    np.testing.assert_allclose(s["mean (both genes)"], np.add.outer(mean_ranks, mean_ranks))
    assert all(v.shape == (5, 5) for v in s.values())


def test_gene_truths_from_the_simulator_tables(tmp_path):
    pd.DataFrame({"source": ["A", "B", "X"], "target": ["B", "C", "A"], "sign": 1, "weight": 1.0}).to_csv(
        tmp_path / "network_edges.csv", index=False
    )
    pd.DataFrame(
        {
            "gene": ["A", "C", "B", "D"],
            "module": ["m1", "m1", "s1", "s1"],
            "role": "member",
            "kind": ["regulatory", "regulatory", "state", "state"],
        }
    ).to_csv(tmp_path / "modules.csv", index=False)
    t = ab.gene_truths(tmp_path, ["A", "B", "C", "D"])
    assert np.argwhere(t["network"]).tolist() == [[0, 1], [1, 2]]
    assert (t["network_undirected"] == (t["network"] | t["network"].T)).all()
    assert t["network_downstream"][0, 2] and not t["network"][0, 2]
    assert np.argwhere(t["module"]).tolist() == [[0, 2], [2, 0]]
    assert np.argwhere(t["state_module"]).tolist() == [[1, 3], [3, 1]]


def test_element_scores_and_truths_are_flattened_bins(tiny_dna_store):
    path = tiny_dna_store(["L1", "L2"], n_bins=8, dim=3)
    cross = {k: np.arange(16, dtype=float).reshape(2, 8) * (i + 1) for i, k in enumerate(["L1", "L2"])}
    maps = {k: {"dna_to_rna": _amap("dna_to_rna", v)} for k, v in cross.items()}
    with DNAStore(path) as store:
        s = ab.element_scores(maps, store, ["L2", "L1"])
        emb = store.stack(["L2", "L1"])
    assert set(s) == {"cross_attention", "embedding_norm", "near_centre"} and all(v.shape == (16,) for v in s.values())
    np.testing.assert_allclose(s["cross_attention"][:8], cross["L2"].mean(0))
    np.testing.assert_allclose(s["embedding_norm"][8:], np.linalg.norm(emb[1], axis=1), rtol=1e-6)
    assert s["near_centre"][:8].argmax() == 4
    elements = pd.DataFrame(
        {
            "locus_id": ["L1", "L2", "L2"],
            "element": ["promoter", "enhancer", "CTCF"],
            "bin_start": [3, 0, 7],
            "bin_end": [5, 2, 9],
        }
    )
    t = ab.element_truths(elements, ["L2", "L1"], 8)
    assert np.flatnonzero(t["promoter"]).tolist() == [11, 12]
    assert np.flatnonzero(t["enhancer"]).tolist() == [0, 1] and np.flatnonzero(t["CTCF"]).tolist() == [7]
    assert t["any element"].sum() == 5 and not t["open"].any()


def test_mean_jacobian_averages_the_per_locus_jacobians(tiny_screen, tiny_dna_store):
    a = tiny_screen(n_genes=8, seed=4)
    store = tiny_dna_store(sorted(set(a.obs["locus"].astype(str)) - {""}), n_bins=6, dim=4)
    model = _tiny_cdt2()
    j = ab.mean_jacobian(model, a, store, ["B2M", "GFI1B"])
    one = [gene_jacobian(model, a, store, at="ntc_mean", locus=k).mean_abs for k in ("B2M", "GFI1B")]
    np.testing.assert_allclose(j.mean_abs, (one[0] + one[1]) / 2, rtol=1e-10)
    assert j.meta["locus"] == ["B2M", "GFI1B"] and j.mean_abs.shape == (8, 8)


def test_edge_inputs_gives_each_perturbation_its_own_maps():
    maps = {
        "G": {
            "rna_self_0": _amap("rna_self_0", np.ones((2, 3, 3)), 2, heads=True),
            "dna_to_rna": _amap("dna_to_rna", np.ones((3, 4))),
        }
    }
    jac = np.eye(3)
    x = ab.edge_inputs(maps, jac)("G")
    assert x["rna_attention"].shape == (3, 3) and x["cross_attention"].shape == (3, 4) and x["jacobian"] is jac
    assert "jacobian" not in ab.edge_inputs(maps)("G")
    with pytest.raises(KeyError, match="no attention maps for perturbation 'H'"):
        ab.edge_inputs(maps)("H")


# ---------------------------------------------------------------------------------------------------------- ablation


def test_head_truth_with_and_without_simulator_truth(tmp_path):
    genes = ["A", "B", "C"]
    de = pd.DataFrame([[True, False, False]], index=["A"], columns=["C", "B", "A"])  # columns in another order
    truth, mask, what = ab.head_truth(genes, None, de)
    assert np.argwhere(truth).tolist() == [[0, 2]] and "DE" in what
    assert mask[0].all() and not mask[1:].any()
    pd.DataFrame({"source": ["A"], "target": ["B"]}).to_csv(tmp_path / "network_edges.csv", index=False)
    truth, mask, what = ab.head_truth(genes, tmp_path, de)
    assert mask is None and truth[0, 1] and truth[1, 0] and truth.sum() == 2


def test_ablation_inputs_rna_and_protein(tiny_screen, tiny_dna_store):
    a = tiny_screen(n_genes=8, n_proteins=6, seed=5)
    store = tiny_dna_store(sorted(set(a.obs["locus"].astype(str)) - {""}), n_bins=6, dim=4)
    cells = ab.first_cells(a, ["GFI1B", "B2M"], 2)
    rows = np.flatnonzero(cells)
    x = ab.ablation_inputs(_tiny_cdt2(), a, store, cells, "rna", batch_size=3)
    assert sum(len(b.rna) for b in x.batches) == 4 and x.columns is None
    np.testing.assert_allclose(x.target, a.layers["log2fc"][rows])
    assert x.groups.tolist() == a.obs["perturbation"].astype(str).to_numpy()[rows].tolist()
    p = ab.ablation_inputs(_tiny_cdt2(), a, store, rows, "protein")
    expressed = np.flatnonzero(a.uns["protein_expressed"])
    assert p.columns.tolist() == expressed.tolist()
    np.testing.assert_allclose(p.target, a.obsm["protein_target"][rows][:, expressed], rtol=1e-6)


def test_ablation_summary_and_verdict():
    t = pd.DataFrame(
        {
            "condition": ["intact", "top", "bottom", "random", "random"],
            "k": [0, 2, 2, 2, 2],
            "delta_r": [0.0, -0.3, -0.01, -0.05, -0.1],
            "delta_pb_r": [0.0, -0.2, 0.0, -0.1, -0.3],
            "embedding_cos_mean": [0.0, 0.02, 0.01, 0.03, 0.01],
            "output_cos_mean": [0.0, 0.1, 0, 0, 0],
        }
    )
    s = ab.ablation_summary(t).set_index("condition")
    assert s.loc["random", "repeats"] == 2 and s.loc["random", "delta_r"] == pytest.approx(-0.075)
    assert s.loc["random", ["delta_r_min", "delta_r_max"]].tolist() == [-0.1, -0.05]
    assert s.loc["random", "embedding_cos_mean"] == pytest.approx(0.02)
    assert ab.ablation_verdict(s).startswith("below every random draw")
    s.loc["top", "delta_r"] = -0.07
    assert ab.ablation_verdict(s).startswith("within the range")
    s.loc["top", "delta_r"] = 0.0
    assert ab.ablation_verdict(s).startswith("above every random draw")


# ---------------------------------------------------------------------------------------------------------- summaries


def test_edge_summary_and_best_of():
    t = pd.DataFrame(
        {
            "perturbation": ["p", "q", "r"] * 2,
            "target": "DE",
            "method": ["attention_row"] * 3 + ["variance"] * 3,
            "auroc": [0.6, 0.4, np.nan, 0.7, 0.8, 0.9],
            "auprc": [0.2, 0.1, np.nan, 0.3, 0.3, 0.3],
            "n_pos": [1, 3, 0, 1, 1, 1],
            "n_neg": [9, 7, 10, 9, 9, 9],
        }
    )
    s = ab.edge_summary(t).set_index("method")
    assert s.loc["attention_row", "n_perturbations"] == 2 and s.loc["attention_row", "auroc_mean"] == pytest.approx(0.5)
    assert s.loc["attention_row", "frac_auroc_above_0.5"] == 0.5 and s.loc["attention_row", "positive_rate"] == 0.2
    assert s.loc["variance", "family"] == "gene-level" and s.index[0] == "variance"  # best first
    assert ab.best_of(ab.edge_summary(t), "DE", "attention") == ("attention_row", pytest.approx(0.5))
    assert ab.best_of(ab.edge_summary(t), "DE", "gradient")[0] == "none"


def test_versus_and_compare_methods_wording():
    assert (
        ab.versus(0.61, 0.7, "attention", "correlation")
        == "attention AUROC 0.610 vs correlation 0.700 (correlation higher)"
    )
    assert ab.versus(0.7, 0.695, "a", "b", "r").endswith("(about equal)")
    assert ab.versus(float("nan"), 0.5, "a", "b").endswith("(not comparable)")
    tab = pd.DataFrame({"method": ["x", "y"], "target": "network", "auroc": [0.9, 0.6]})
    assert ab.compare_methods(tab, "x", "y", "network", "X") == "X AUROC 0.900 vs y 0.600 (X higher)"
    assert ab.compare_methods(tab, "x", "z", "network").endswith("(not comparable)")


def test_has_ntc_cells_needs_two_control_cells():
    import anndata as ad

    def screen(kinds):
        return ad.AnnData(
            np.zeros((len(kinds), 2)), obs=pd.DataFrame({"kind": kinds}, index=[f"c{i}" for i in range(len(kinds))])
        )

    assert ab.has_ntc_cells(screen(["TSS", "NTC", "NTC"]))
    assert not ab.has_ntc_cells(screen(["TSS", "NTC"]))
    assert not ab.has_ntc_cells(screen(["TSS", "TSS"]))


# ---------------------------------------------------------------------------------------------------------- notebook 07


def _keys(findings) -> list[str]:
    return [n["key"][2] for n in findings.numbers]


def test_stack_tables_opening_text_and_reported_rows():
    t = ab.stack_tables({"a": pd.DataFrame({"x": [1]}), "b": pd.DataFrame({"x": [2, 3]})}, "set")
    assert t.to_dict("list") == {"x": [1, 2, 3], "set": ["a", "b", "b"]}
    assert ab.stack_tables({"a": pd.DataFrame({"x": [1]}), "b": pd.DataFrame({"x": [2]})}).columns.tolist() == ["x"]
    runs = {"CDT-II": SimpleNamespace(model=_tiny_cdt2())}
    assert ab.opening_text(runs, source_label="synthetic (tiny, seed 0)", protocol="paper", truth=True) == (
        "Data: **synthetic (tiny, seed 0)**, protocol **paper**; models: `CDT-II` (CDT2)"
    )
    assert ab.opening_text(runs, source_label="real", protocol="clean", truth=False).endswith(
        "(CDT2). **Real data: no simulator truth, so the ground-truth parts are skipped.**"
    )


def _comparison() -> ab.PredictionComparison:
    methods = ["CDT-II", "mean (trainer)", "mean", "ridge", "ridge_dna", "nearest_locus"]
    r = [0.40, 0.30, 0.30, 0.99, 0.10, 0.05]
    summary = pd.DataFrame(
        {"model": "CDT-II", "protocol": "paper", "target": "rna", "role": "test", "method": methods}
    ).assign(family=["CDT"] + ["baseline"] * 5, r=r, pb_r=[v / 2 for v in r])
    per = pd.DataFrame(
        {
            "model": "CDT-II",
            "protocol": ["paper", "paper", "clean"],
            "role": ["test", "select", "test"],
            "method": "mean",
            "perturbation": "G",
            "pb_r": [0.1, 0.2, 0.3],
        }
    )
    return ab.PredictionComparison(summary, per, {})


def test_comparison_findings_rows_and_sentences():
    comp = _comparison()
    identity = {"max_abs_difference": 1e-7, "r": 1.0, "n_values": 12345}
    f = ab.comparison_findings(comp, identity, protocol="paper")
    assert len(f.numbers) == 2 + 5 * 2  # identity, then the run and four baselines x (r, pseudo-bulk r)
    assert f.numbers[0]["note"] == "over 12,345 cell x gene values"
    rows = {n["key"][2]: n for n in f.numbers}
    assert rows["overall r"]["value"] == 0.40 and rows["overall r"]["note"] == "CDT run (metrics.json)"
    assert rows["mean pseudo-bulk r — ridge: input expression + DNA"]["value"] == pytest.approx(0.495)
    assert f.numbers[2]["key"][1] == "prediction, CDT-II rna"
    assert "CDT-II r 0.400 vs ridge (input + DNA) 0.990 (ridge (input + DNA) higher)" in f.text
    assert "gets overall r = 0.9900 on the held-out cells" in f.text
    assert "Library mean r 0.3000 vs the trainer's own 0.3000." in f.text
    assert ab.reported_per_perturbation(comp, "paper")["pb_r"].tolist() == [0.1]


def test_v1_findings():
    table = pd.DataFrame(
        {
            "method": ["CDT v1", "mean training beta of the target gene", "ridge: gene embeddings + DNA"],
            "split": "val",
            "role": "reported",
            "n": 30,
            "r": [0.5, 0.2, 0.31],
        }
    )
    f = ab.v1_findings(table)
    assert _keys(f) == [f"val r — {m}" for m in table["method"]] and f.numbers[0]["note"] == "n = 30 pairs"
    assert f.text == (
        "- **val pairs**: CDT v1 r 0.500 vs the per-gene mean training beta 0.200 (CDT v1 higher); ridge on gene "
        "embeddings + DNA r = 0.310."
    )


def _benchmark_table() -> pd.DataFrame:
    rows = []
    for p, shift in (("GFI1B", 0.1), ("TFRC", 0.0)):
        for m, v in (("attention_row", 0.6), ("jacobian_column", 0.55), ("spearman_ntc", 0.7), ("variance", 0.4)):
            rows.append((p, "DE", m, v + shift, 0.2, 2, 8))
    return pd.DataFrame(rows, columns=["perturbation", "target", "method", "auroc", "auprc", "n_pos", "n_neg"])


def test_edge_findings_and_recovery_tables():
    t = _benchmark_table()
    rec = ab.EdgeRecovery(SimpleNamespace(table=t), ab.edge_summary(t), ab.edge_summary(t[t["perturbation"] == "TFRC"]))
    f = ab.edge_findings(rec, highlight="GFI1B")
    rows = {n["key"][1:]: n for n in f.numbers}
    best = rows[("edges vs DE", "mean AUROC over perturbations, best correlation score (spearman_ntc)")]
    assert best["value"] == pytest.approx(0.75) and best["note"] == "2 perturbations"
    assert rows[("GFI1B edges vs DE", "AUROC, attention_row")]["value"] == pytest.approx(0.7)
    assert len(f.numbers) == 4 + 3  # four families; GFI1B's three scores present (no attention_column)
    assert "- **DE**, held-out genes only (1): attention (attention_row) AUROC 0.600 vs correlation" in f.text
    assert ab.edge_findings(rec, highlight=None).numbers == f.numbers[:4]
    assert rec.table["perturbations"].tolist() == ["all"] * 4 + ["held-out"] * 4
    assert rec.one("GFI1B").loc["variance", "DE"] == pytest.approx(0.5)


def test_incremental_findings_wording():
    t = pd.DataFrame(
        {
            "added": ["attention_row", "spearman_ntc"],
            "delta": [0.05, -0.02],
            "ci_low": [0.01, -0.04],
            "ci_high": [0.09, -0.01],
            "auroc_base": 0.45,
            "n_groups": 6,
            "n_pos": 40,
        }
    )
    f = ab.incremental_findings({"within": t})
    assert [n["value"] for n in f.numbers] == [0.05, -0.02]
    assert f.numbers[0]["note"] == "95% CI [0.010, 0.090]; base 0.450"
    assert f.text.startswith(
        "- **within** (base AUROC 0.450, 6 perturbations, 40 DE pairs): CI of the gain above 0 for attention_row; "
        "below 0 for spearman_ntc; the rest include 0. The base model scores below chance"
    )


def test_ground_truth_findings_reads_gene_and_element_tables():
    gene = pd.DataFrame(
        [
            (m, tgt, v)
            for tgt in ("network", "network_undirected", "module")
            for m, v in (
                ("attention (query->key)", 0.6),
                ("spearman_ntc", 0.7),
                ("mean (both genes)", 0.55),
                ("variance (both genes)", 0.52),
            )
        ],
        columns=["method", "target", "auroc"],
    )
    el = pd.DataFrame({"method": ["cross_attention", "near_centre"], "target": "promoter", "auroc": [0.4, 0.95]})
    f = ab.ground_truth_findings({"gene pairs": gene, "DNA bins, TSS loci (3)": el})
    rows = {n["key"][1:]: n for n in f.numbers}
    assert rows[("truth recovery: network", "AUROC, mean (both genes)")]["note"] == "best gene-level pair baseline"
    assert ("truth recovery: network", "AUROC, variance (both genes)") not in rows
    assert rows[("truth recovery: DNA bins, TSS loci (3)", "AUROC for promoter bins, near_centre")]["value"] == 0.95
    assert len(f.numbers) == 3 * 3 + 2
    assert "- Planted network (undirected): attention (query->key) AUROC 0.600 vs spearman_ntc 0.700" in f.text
    assert "promoters — cross_attention AUROC 0.400 vs near_centre 0.950 (near_centre higher)" in f.text


def _ablation_table(top: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "condition": ["intact", "top", "bottom", "random", "random"],
            "k": [0, 2, 2, 2, 2],
            "r": [0.5, 0.5 + top, 0.49, 0.45, 0.4],
            "delta_r": [0.0, top, -0.01, -0.05, -0.1],
            "delta_pb_r": 0.0,
            "embedding_cos_mean": [0.0, 0.02, 0.01, 0.03, 0.01],
            "output_cos_mean": 0.0,
        }
    )


def test_head_ablation_findings_and_key_comparisons():
    abl = ab.HeadAblation({"CDT-II (rna)": _ablation_table(-0.3)}, pd.DataFrame(), "planted network (undirected)", 20)
    f = ab.head_ablation_findings(abl)
    assert [n["value"] for n in f.numbers] == [-0.3, -0.01, pytest.approx(-0.075)]
    assert f.numbers[2]["note"] == "intact r 0.500; embedding cosine distance 2.00e-02; mean over random draws"
    assert "(intact r 0.500 on 20 held-out cells; heads ranked against planted network (undirected))" in f.text
    assert abl.summary["model"].tolist() == ["CDT-II (rna)"] * 4
    t = _benchmark_table()
    rec = ab.EdgeRecovery(SimpleNamespace(table=t), ab.edge_summary(t), ab.edge_summary(t))
    inc = {"within": pd.DataFrame({"added": ["attention_row", "spearman_ntc"], "ci_low": [0.01, -0.1]})}
    text = ab.key_comparisons(_comparison(), rec, inc, abl, protocol="paper")
    assert (
        "- Edges vs observed DE (mean over 2 perturbations): best attention score (attention_row) AUROC 0.650" in text
    )
    assert "CI of the gain above 0 for attention_row." in text and "Planted network" not in text
    assert text.endswith(
        "the top heads' change in r is below every random draw (a larger loss than any random set of heads)."
    )


def test_notebook_07_sections_on_a_tiny_screen(tiny_screen, tiny_dna_store, tmp_path):
    from cdt.baselines import perturbation_benchmark

    a = tiny_screen(n_genes=8, seed=4)
    store = tiny_dna_store(sorted(set(a.obs["locus"].astype(str)) - {""}), n_bins=6, dim=4)
    model = _tiny_cdt2()
    run = SimpleNamespace(model=model, run_dir=tmp_path)  # what open_run returns, as far as these functions read
    inputs = ab.edge_model_inputs(run, a, store, full_jacobian=True, n_cells=2, n_loci=1)
    targets = ab.perturbed_genes(a)
    first = sorted(ab.tested_perturbations(a, "locus"), key=lambda k: (k != "GFI1B", k))[0]
    assert inputs.targets == targets and sorted(inputs.maps) == targets and inputs.loci == [first]
    one = gene_jacobian(model, a, store, at="ntc_mean", locus=first).mean_abs
    np.testing.assert_allclose(inputs.jacobian.mean_abs, one, rtol=1e-10)
    assert inputs.text.startswith(f"{len(targets)} perturbed genes of the screen")
    assert inputs.maps[targets[0]]["rna_self_0"].n_cells == 2

    rec = ab.edge_recovery(a, inputs)
    direct = perturbation_benchmark(a, targets, ab.edge_inputs(inputs.maps, one))
    pd.testing.assert_frame_equal(rec.benchmark.table, direct.table)
    pd.testing.assert_frame_equal(rec.summary, ab.edge_summary(direct.table))

    abl = ab.head_ablation_tables(
        {"CDT-II": run}, a, store, rec.benchmark.labels, n_cells_target=2, n_cells=2, n_random=2
    )
    assert list(abl.tables) == ["CDT-II (rna)"] and abl.ranking["model"].eq("CDT-II").all()
    assert len(abl.ranking) == 4 and abl.truth.startswith("observed DE genes")
    assert abl.n_cells == ab.first_cells(a, ab.tested_perturbations(a), 2).sum()
    t = abl.tables["CDT-II (rna)"]
    assert t["k"].max() == 2 and (t["condition"] == "random").sum() == 2

    genes = a.var_names.astype(str).tolist()
    edges = pd.DataFrame({"source": genes[:3], "target": genes[1:4], "sign": 1, "weight": 1.0})
    edges.to_csv(tmp_path / "network_edges.csv", index=False)
    modules = pd.DataFrame({"gene": genes[:4], "module": ["m1", "m1", "m2", "m2"], "role": "member"})
    modules.to_csv(tmp_path / "modules.csv", index=False)
    elements = pd.DataFrame({"locus_id": [targets[0]], "element": ["promoter"], "bin_start": [2], "bin_end": [4]})
    elements.to_csv(tmp_path / "elements.csv", index=False)
    truth = ab.ground_truth_recovery(run, a, store, inputs, tmp_path)
    assert list(truth)[:2] == ["gene pairs", "DNA bins, TSS loci (1)"]
    expected = recovery_table(ab.gene_pair_scores(a, inputs.maps, one), ab.gene_truths(tmp_path, genes))
    pd.testing.assert_frame_equal(truth["gene pairs"], expected)
    bins = truth["DNA bins, TSS loci (1)"].set_index(["method", "target"])
    assert bins.loc[("near_centre", "promoter"), "n_pos"] == 2


def test_incremental_tables_test_the_scores_the_benchmark_has():
    from cdt.baselines import incremental_value

    rng = np.random.default_rng(0)
    n = 120
    pairs = pd.DataFrame(
        {
            "perturbation": np.repeat(list("ABCDEF"), n // 6),
            "label": rng.random(n) < 0.3,
            **{c: rng.normal(size=n) for c in ("mean", "variance", "dropout", "spearman_ntc", "attention_row")},
        }
    )
    inc = ab.incremental_tables(SimpleNamespace(pairs=pairs), n_boot=5, seed=1)
    assert list(inc) == ["pooled", "within"]
    assert inc["pooled"]["added"].tolist() == ["attention_row", "spearman_ntc"]  # EDGE_SCORES_ADDED order
    direct = incremental_value(pairs, ["attention_row", "spearman_ntc"], metric="within", n_boot=5, seed=1)
    pd.testing.assert_frame_equal(inc["within"], direct)

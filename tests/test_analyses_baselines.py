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
from cdt.baselines import prediction_baselines
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

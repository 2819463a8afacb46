"""Baselines and controls: predictors vs hand computations, edge scores vs scipy/sklearn, labels, incremental value
with known answers, head masking vs a manual forward, head ranking and ablation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import torch
from cdt.baselines import ablation, benchmark, edges, incremental, predict
from cdt.models import CDT2, CDT2Config
from cdt.models.blocks import attend
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.metrics.pairwise import cosine_similarity

torch.set_num_threads(1)


@pytest.fixture
def screen_with_val(tiny_screen):
    """tiny_screen with CD58 moved to the 'val' split (train: B2M + SNPs, val: CD58, test: GFI1B)."""
    a = tiny_screen(n_genes=10, cells_per_target=5, n_ntc=6, seed=1)
    split = a.obs["split"].astype(str).to_numpy()
    split[a.obs["perturbation"].to_numpy() == "CD58"] = "val"
    a.obs["split"] = split
    return a


def _store(tiny_dna_store, adata):
    loci = sorted(set(adata.obs["locus"].astype(str)) - {""})
    return tiny_dna_store(loci, n_bins=6, dim=5)


# ------------------------------------------------------------------------------------------------ prediction baselines


def test_prediction_metrics_match_numpy():
    rng = np.random.default_rng(0)
    pred, target = rng.normal(size=(7, 5)), rng.normal(size=(7, 5))
    groups = np.array(list("aabbbcc"))
    r, pb_r, per = predict.prediction_metrics(pred, target, groups)
    assert r == pytest.approx(np.corrcoef(pred.ravel(), target.ravel())[0, 1], abs=1e-12)
    hand = {g: np.corrcoef(pred[groups == g].mean(0), target[groups == g].mean(0))[0, 1] for g in "abc"}
    assert {g: v[0] for g, v in per.items()} == pytest.approx(hand, abs=1e-12)
    assert per["b"][1] == 3
    assert pb_r == pytest.approx(np.mean(list(hand.values())), abs=1e-12)


def test_mean_baseline_equals_hand_computation_under_both_protocols(screen_with_val, tiny_dna_store):
    a = screen_with_val
    store = _store(tiny_dna_store, a)
    y = np.asarray(a.layers["log2fc"], dtype=float)
    split, pert = a.obs["split"].astype(str).to_numpy(), a.obs["perturbation"].astype(str).to_numpy()
    test = split == "test"
    for protocol, fit_on in (("clean", ["train"]), ("paper", ["train", "val"])):
        res = predict.prediction_baselines(a, store, protocol=protocol, alphas=(1.0,))
        profile = y[np.isin(split, fit_on)].mean(0)  # mean training effect, by hand
        row = res.summary.query("method == 'mean' and role == 'test'").iloc[0]
        pred = np.broadcast_to(profile, y[test].shape)
        assert row["r"] == pytest.approx(np.corrcoef(pred.ravel(), y[test].ravel())[0, 1], abs=1e-6)
        hand_pb = np.corrcoef(profile, y[test & (pert == "GFI1B")].mean(0))[0, 1]
        assert row["pb_r"] == pytest.approx(hand_pb, abs=1e-6)
        assert row["n_cells"] == test.sum()
        zero = res.summary.query("method == 'zero' and role == 'test'").iloc[0]
        assert math.isnan(zero["r"])  # a constant prediction has no correlation
        assert zero["mse"] == pytest.approx(np.mean(y[test].astype(float) ** 2), rel=1e-6)
        assert row["mse"] == pytest.approx(np.mean((y[test] - profile) ** 2), rel=1e-5)
    clean = predict.prediction_baselines(a, store, protocol="clean", alphas=(1.0,))
    assert set(clean.summary["role"]) == {"select", "test"}  # clean selects on val (CD58)
    sel = clean.per_perturbation.query("role == 'select'")["perturbation"].unique().tolist()
    assert sel == ["CD58"]


def test_ridge_recovers_a_linear_ground_truth():
    rng = np.random.default_rng(0)
    n, g, f = 200, 6, 4
    expr = rng.normal(2, 1, size=(n, g)).astype(np.float32)
    w, b = rng.normal(size=(g, f)), rng.normal(size=f)
    loci = np.array([f"L{i % 10}" for i in range(n)])
    data = predict.ScreenArrays(
        expr=expr,
        target=(expr @ w + b).astype(np.float32),
        protein=None,
        perturbation=loci,
        locus=loci,
        split=np.where(np.isin(loci, ["L8", "L9"]), "test", "train"),
        features=np.array([f"F{i}" for i in range(f)]),
    )
    summaries = {f"L{i}": rng.normal(size=3) for i in range(10)}
    train, test = data.rows(["train"]), data.rows(["test"])
    model = predict.RidgeBaseline(summaries, alpha=1e-6, n_components=2).fit(data, train)
    np.testing.assert_allclose(model.predict(data, test), data.target[test], atol=1e-3)  # unseen loci, exact fit
    coef = model.model[-1].coef_[:, :g] / model.model[0].scale_[:g]  # back to the raw expression scale
    np.testing.assert_allclose(coef, w.T, atol=1e-3)


def test_ridge_reaches_the_input_copy_ceiling_on_a_contract_screen(screen_with_val, tiny_dna_store):
    """log2FC is affine in ln(CPM+1) gene by gene, so a ridge that reads the input is near-perfect."""
    a = screen_with_val
    res = predict.prediction_baselines(a, _store(tiny_dna_store, a), protocol="clean", alphas=(1e-3, 1.0))
    test = res.summary.query("role == 'test'").set_index("method")
    assert test.loc["ridge", "r"] > 0.99
    assert test.loc["ridge", "r"] > test.loc["mean", "r"] + 0.1
    assert res.alpha == pytest.approx(1e-3)  # chosen on val
    assert set(test.index) == {"zero", "mean", "ridge", "ridge_dna", "nearest_locus"}


def test_nearest_locus_predicts_the_closest_training_locus_profile():
    target = np.array([[1.0, 0.0], [3.0, 2.0], [10.0, 10.0], [5.0, 5.0]], dtype=np.float32)
    loci = np.array(["A", "A", "B", "T"])
    data = predict.ScreenArrays(
        expr=np.zeros((4, 2), np.float32),
        target=target,
        protein=None,
        perturbation=loci,
        locus=loci,
        split=np.array(["train", "train", "train", "test"]),
        features=np.array(["g0", "g1"]),
    )
    summaries = {"A": np.array([1.0, 0.0]), "B": np.array([0.0, 1.0]), "T": np.array([5.0, 0.5])}  # T ~ A by cosine
    model = predict.NearestLocusBaseline(summaries).fit(data, data.rows(["train"]))
    assert model.nearest(["T", "B"]).tolist() == ["A", "B"]
    np.testing.assert_allclose(model.predict(data, np.array([3])), [[2.0, 1.0]])  # mean of A's cells


def test_protein_baselines_use_expressed_proteins(tiny_screen, tiny_dna_store):
    a = tiny_screen(n_genes=8, cells_per_target=6, n_ntc=6, n_proteins=8, seed=1)  # 5 of 8 expressed
    data = predict.screen_arrays(a, kinds=("TSS",), target="protein")
    expressed = np.asarray(a.uns["protein_expressed"])
    assert expressed.sum() == 5
    assert data.target.shape[1] == expressed.sum() and data.protein.shape[1] == 8
    res = predict.prediction_baselines(
        a, _store(tiny_dna_store, a), protocol="paper", kinds=("TSS",), target="protein", alphas=(1e-3,)
    )
    test = res.summary.query("role == 'test'").set_index("method")
    y = np.asarray(a.obsm["protein_target"])[:, expressed]
    tss = a.obs["kind"].astype(str).to_numpy() == "TSS"
    split = a.obs["split"].astype(str).to_numpy()
    profile = y[tss & (split == "train")].mean(0)
    t = y[tss & (split == "test")]
    hand = np.corrcoef(np.broadcast_to(profile, t.shape).ravel(), t.ravel())[0, 1]
    assert test.loc["mean", "r"] == pytest.approx(hand, abs=1e-6)
    assert test.loc["ridge", "r"] > 0.99  # protein target = protein input - NTC mean
    assert (test["target"] == "protein").all()
    with pytest.raises(Exception, match="protein"):
        predict.screen_arrays(tiny_screen(), target="protein")


# ------------------------------------------------------------------------------------------------ edge scores


def test_edge_scores_against_libraries():
    rng = np.random.default_rng(0)
    g = 2
    attn = rng.random((5, 5))
    cross = rng.random((5, 7))
    jac = rng.normal(size=(5, 5))
    expr = rng.poisson(2.0, size=(30, 5)).astype(float)
    expr[:, 4] = 1.0  # a constant gene
    s = edges.edge_scores(
        g, rna_attention=attn, cross_attention=cross, jacobian=jac, expr_ntc=expr, expr_perturbed=expr[:20]
    )
    np.testing.assert_array_equal(s["attention_row"], attn[g])
    np.testing.assert_array_equal(s["attention_column"], attn[:, g])
    np.testing.assert_allclose(s["cross_attention_similarity"], cosine_similarity(cross)[g])
    np.testing.assert_array_equal(s["jacobian_column"], np.abs(jac[:, g]))
    np.testing.assert_array_equal(s["jacobian_row"], np.abs(jac[g]))
    rho = scipy.stats.spearmanr(expr[:, :4]).statistic
    np.testing.assert_allclose(s["spearman_ntc"][:4], np.abs(rho[g]), atol=1e-12)
    assert s["spearman_ntc"][4] == 0.0
    np.testing.assert_allclose(
        edges.spearman_with(expr[:20], g, absolute=False)[:4],
        scipy.stats.spearmanr(expr[:20, :4]).statistic[g],
        atol=1e-12,
    )
    np.testing.assert_allclose(s["mean"], expr.mean(0))
    np.testing.assert_allclose(s["variance"], expr.var(0, ddof=1))
    np.testing.assert_allclose(s["dropout"], (expr == 0).mean(0))
    np.testing.assert_allclose(edges.cross_attention_bins(np.stack([cross, 3 * cross])), 2 * cross.mean(0))
    with pytest.raises(ValueError, match=r"expected \[G, G\]"):
        edges.attention_row(cross, 0)


def test_dna_bin_baselines():
    dna = np.zeros((2, 5, 3))
    dna[0, 1] = [3.0, 4.0, 0.0]
    b = edges.dna_bin_baselines(dna)
    assert b["embedding_norm"].shape == (2, 5) and b["embedding_norm"][0, 1] == 5.0 and b["embedding_norm"].sum() == 5
    assert b["near_centre"][1].tolist() == [-2, -1, 0, -1, -2]
    with pytest.raises(ValueError, match="U, L, dim"):
        edges.dna_bin_baselines(dna[0])


def test_truth_labels_direct_indirect_modules_elements():
    net = pd.DataFrame({"source": ["A", "B", "D", "X"], "target": ["B", "C", "A", "C"], "sign": 1, "weight": 1.0})
    genes = ["A", "B", "C", "D"]
    assert edges.truth_targets(net, genes, "A").tolist() == [False, True, False, False]
    assert edges.truth_targets(net, genes, "A", indirect=True).tolist() == [False, True, True, False]
    assert edges.truth_targets(net, genes, "D", indirect=True).tolist() == [True, True, True, False]
    adj = edges.truth_adjacency(net, genes)
    assert adj.sum() == 3 and adj[3, 0] and adj[1, 2]
    with pytest.raises(KeyError, match="'Z'"):
        edges.truth_targets(net, genes, "Z")

    mods = pd.DataFrame({"gene": ["A", "B", "C", "Q", "D", "C"], "module": ["m1", "m1", "m2", "m2", "m3", "m3"]})
    pairs = edges.module_pairs(mods, genes)
    assert pairs.sum() == 4 and pairs[0, 1] and pairs[1, 0] and pairs[2, 3] and pairs[3, 2]  # C is in m2 and m3
    assert edges.module_pairs(mods, genes, module="m2").sum() == 0  # Q is not among the genes
    assert edges.module_pairs(mods, genes, module=["m1"]).sum() == 2

    el = pd.DataFrame(
        {
            "locus_id": ["L1", "L1", "L2"],
            "element": ["promoter", "enhancer", "CTCF"],
            "chrom": "chr1",
            "start": 0,
            "end": 1,
            "bin_start": [3, 8, -2],
            "bin_end": [5, 12, 1],
        }
    )
    bins = edges.element_bins(el, ["L1", "L2"], n_bins=10)
    assert np.flatnonzero(bins[0]).tolist() == [3, 4, 8, 9] and np.flatnonzero(bins[1]).tolist() == [0]
    assert np.flatnonzero(edges.element_bins(el, ["L1"], 10, element="promoter")[0]).tolist() == [3, 4]


def test_differential_expression_finds_the_planted_gene():
    rng = np.random.default_rng(1)
    ntc = rng.normal(2.0, 0.3, size=(40, 6))
    pert = rng.normal(2.0, 0.3, size=(30, 6))
    pert[:, 1] -= 1.0  # knocked down
    pert[:, 5] = ntc[:, 5] = 0.0  # never detected
    de = edges.differential_expression(pert, ntc)
    assert de["log2fc"].iloc[1] == pytest.approx((pert[:, 1].mean() - ntc[:, 1].mean()) / math.log(2))
    assert de["p"].iloc[0] == pytest.approx(scipy.stats.ttest_ind(pert[:, 0], ntc[:, 0], equal_var=False).pvalue)
    assert de["p"].iloc[5] == 1.0
    assert edges.de_labels(de).tolist() == [False, True, False, False, False, False]
    assert not edges.de_labels(de, min_abs_lfc=5.0).any()
    mw = edges.differential_expression(pert, ntc, test="mannwhitney")
    assert mw["p"].iloc[2] == pytest.approx(scipy.stats.mannwhitneyu(pert[:, 2], ntc[:, 2]).pvalue)
    assert edges.de_labels(mw)[1]
    assert edges.top_k_labels([0.1, -3.0, 2.0, 0.5], k=2).tolist() == [False, True, True, False]
    assert edges.top_k_labels([0.1, -3.0, 2.0, 0.5], k=2, exclude=1).tolist() == [False, False, True, True]


def test_auroc_and_recovery_table_match_sklearn():
    rng = np.random.default_rng(2)
    y = rng.random(60) < 0.3
    s = np.round(y + rng.normal(size=60), 1)  # with ties
    a, p = edges.auroc_auprc(s, y)
    assert a == pytest.approx(roc_auc_score(y, s)) and p == pytest.approx(average_precision_score(y, s))
    assert incremental.auroc(s, y) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert math.isnan(edges.auroc_auprc(s, np.ones(60, bool))[0])

    m = rng.random((6, 6))
    truth = m > 0.7
    np.fill_diagonal(truth, True)  # the diagonal must not be scored
    vec_truth = np.array([True, False, True, False, False, False])
    table = edges.recovery_table({"perfect": m, "vec": np.arange(6.0)[::-1]}, {"network": truth, "targets": vec_truth})
    row = table.set_index("method").loc["perfect"]
    assert row["target"] == "network" and row["auroc"] == 1.0 and row["n_pos"] + row["n_neg"] == 30
    off = ~np.eye(6, dtype=bool)
    assert row["n_pos"] == truth[off].sum()
    masked = edges.recovery_table({"vec": np.arange(6.0)}, {"t": vec_truth}, mask=np.arange(6) != 0)
    assert masked.iloc[0][["n_pos", "n_neg"]].tolist() == [1, 4]
    assert masked.iloc[0]["auroc"] == pytest.approx(roc_auc_score(vec_truth[1:], np.arange(1.0, 6)))
    with pytest.raises(ValueError, match="matches no truth"):
        edges.recovery_table({"bad": np.zeros(4)}, {"t": vec_truth})


def test_perturbation_benchmark_on_a_planted_knockdown(tiny_screen):
    a = tiny_screen(n_genes=10, cells_per_target=8, n_ntc=12, seed=4)
    genes = a.var_names.tolist()
    g = genes.index("GFI1B")
    gfi1b = (a.obs["perturbation"] == "GFI1B").to_numpy()
    x = np.asarray(a.X).copy()
    x[np.ix_(gfi1b, [1, 2])] = 0.0  # G1, G2 knocked out in GFI1B cells
    x[:, [1, 2]] += (~gfi1b)[:, None] * 3.0  # and clearly expressed elsewhere
    a.X = x
    net = pd.DataFrame({"source": ["GFI1B", "G1"], "target": ["G1", "G3"], "sign": -1, "weight": 1.0})
    jac = np.zeros((10, 10))
    jac[[1, 2], g] = 1.0  # a Jacobian that knows the answer
    res = benchmark.perturbation_benchmark(a, ["GFI1B"], model_inputs={"jacobian": jac}, network=net)
    assert res.labels.loc["GFI1B"].tolist() == [i in (1, 2) for i in range(10)]
    t = res.table.set_index(["method", "target"])
    assert t.loc[("jacobian_column", "DE"), "auroc"] == 1.0
    assert t.loc[("jacobian_column", "DE"), ["n_pos", "n_neg"]].tolist() == [2, 7]  # GFI1B itself not scored
    assert t.loc[("jacobian_column", "truth_downstream"), "n_pos"] == 2  # G1 and G3
    assert {"spearman_ntc", "spearman_perturbed", "mean", "variance", "dropout"} <= set(res.table["method"])
    assert len(res.pairs) == 9 and res.pairs["label"].sum() == 2
    np.testing.assert_allclose(res.pairs["jacobian_column"], np.delete(jac[:, g], g))
    other = ~gfi1b & a.obs["split"].eq("train").to_numpy()  # training cells of other perturbations
    np.testing.assert_allclose(res.pairs["spearman_perturbed"], np.delete(edges.spearman_with(x[other], g), g))
    with pytest.raises(KeyError, match="not genes"):
        benchmark.perturbation_benchmark(a, ["B2M"])


# ------------------------------------------------------------------------------------------------ incremental value


def _pairs(seed: int, n_pert: int = 12, n_genes: int = 60):
    rng = np.random.default_rng(seed)
    genes = [f"g{i}" for i in range(n_genes)]
    mean = rng.normal(size=n_genes)  # gene-level propensity carries part of the label
    logit = 1.0 * mean[None, :] + rng.normal(size=(n_pert, n_genes))
    signal = rng.normal(size=(n_pert, n_genes))
    labels = (logit + 2.0 * signal) > 1.2
    feats = {"mean": mean, "variance": rng.random(n_genes), "dropout": rng.random(n_genes)}
    scores = {"edge": signal + 0.3 * rng.normal(size=signal.shape), "noise": rng.normal(size=signal.shape)}
    return [f"p{k}" for k in range(n_pert)], genes, labels, {**feats, **scores}


def test_pair_table_layout_and_self_rows():
    perts, genes = ["g0", "pX"], ["g0", "g1", "g2"]
    labels = np.array([[1, 0, 1], [0, 1, 0]], dtype=bool)
    t = incremental.pair_table(perts, genes, labels, {"mean": [1.0, 2.0, 3.0], "edge": np.arange(6.0).reshape(2, 3)})
    assert len(t) == 5 and not ((t["perturbation"] == "g0") & (t["gene"] == "g0")).any()
    assert t.query("perturbation == 'pX' and gene == 'g2'")[["label", "mean", "edge"]].iloc[0].tolist() == [0, 3.0, 5.0]
    with pytest.raises(ValueError, match="expected"):
        incremental.pair_table(perts, genes, labels, {"bad": np.zeros(4)})


def test_incremental_value_gain_for_informative_score_and_none_for_noise():
    perts, genes, labels, scores = _pairs(0)
    table = incremental.pair_table(perts, genes, labels, scores)
    res = incremental.incremental_value(table, added=["edge", "noise"], n_boot=300, seed=0).set_index("added")
    assert res.loc["edge", "delta"] > 0.1 and res.loc["edge", "ci_low"] > 0
    assert res.loc["noise", "ci_low"] < 0 < res.loc["noise", "ci_high"]
    assert res.loc["edge", "auroc_base"] == res.loc["noise", "auroc_base"] > 0.55  # gene-level signal is real
    assert res.loc["edge", "n_groups"] == 12 and res.loc["edge", "n_pos"] == table["label"].sum()
    again = incremental.incremental_value(table, added=["noise"], n_boot=300, seed=0)
    assert again.iloc[0]["ci_low"] == res.loc["noise", "ci_low"]  # seeded
    within = incremental.incremental_value(table, added=["edge", "noise"], n_boot=300, metric="within").set_index(
        "added"
    )
    assert within.loc["edge", "ci_low"] > 0 and within.loc["noise", "ci_low"] < 0 < within.loc["noise", "ci_high"]


def test_within_perturbation_auroc_is_the_mean_of_per_group_aurocs():
    perts, genes, labels, scores = _pairs(2, n_pert=6, n_genes=40)
    table = incremental.pair_table(perts, genes, labels, scores)
    res = incremental.incremental_value(table, added=["edge"], n_boot=10, metric="within").iloc[0]
    prob = incremental.out_of_fold_probabilities(table, ["mean", "variance", "dropout", "edge"])
    rows = [(table["perturbation"] == p).to_numpy() for p in perts]
    hand = np.mean([roc_auc_score(table["label"][m], prob[m]) for m in rows])
    assert res["auroc_combined"] == pytest.approx(hand, abs=1e-12)
    with pytest.raises(ValueError, match="metric"):
        incremental.incremental_value(table, added=["edge"], metric="median")


def test_out_of_fold_probabilities_never_see_their_group():
    perts, genes, labels, scores = _pairs(1, n_pert=4, n_genes=30)
    table = incremental.pair_table(perts, genes, labels, scores)
    prob = incremental.out_of_fold_probabilities(table, ["mean", "edge"], n_splits=4)
    # refit by hand without group p2 and compare its predictions
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    held = (table["perturbation"] == "p2").to_numpy()
    x, y = table[["mean", "edge"]].to_numpy(), table["label"].to_numpy()
    hand = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x[~held], y[~held])
    np.testing.assert_allclose(prob[held], hand.predict_proba(x[held])[:, 1], atol=1e-10)
    with pytest.raises(ValueError, match=">= 2"):
        incremental.out_of_fold_probabilities(table[held], ["mean"])


# ------------------------------------------------------------------------------------------------ head ablation


def _tiny_cdt2(seed: int = 0) -> CDT2:
    torch.manual_seed(seed)
    cfg = CDT2Config(n_genes=8, n_bins=6, dna_dim=4, d_model=16, n_heads=4, pool_heads=2, ffn_dim=32, dropout=0.0)
    return CDT2(cfg).eval()


def test_mask_heads_zeroes_exactly_the_chosen_heads():
    model = _tiny_cdt2()
    block = model.rna_self_attn_layers[0]
    x = torch.randn(3, 8, 16)
    with torch.no_grad():
        intact, _ = block(x)
        with ablation.mask_heads(model, {"rna_self_0": [1, 3]}):
            masked, _ = block(x)
        q, k, v = block._project("", x, x)
        a, _ = attend(q, k, v, 4)  # [B, Q, 16] merged heads
        a = a.view(3, 8, 4, 4).clone()
        a[:, :, [1, 3]] = 0  # heads 1 and 3 of [B, Q, H, d_head]
        h = block.norm1(x + block.out_proj(a.reshape(3, 8, 16)))
        manual = block.norm2(h + block.ffn(h))
        restored, _ = block(x)
    torch.testing.assert_close(masked, manual)
    torch.testing.assert_close(restored, intact)  # hooks removed
    assert not torch.allclose(masked, intact)

    seen = []  # what out_proj receives; registered after the mask, so it runs after it
    with torch.no_grad(), ablation.mask_heads(model, {"rna_self_0": [0]}):
        handle = block.out_proj.register_forward_pre_hook(lambda m, args: seen.append(args[0].clone()))
        block(x)
    handle.remove()
    merged = seen[0].view(3, 8, 4, 4)
    assert (merged[:, :, 0] == 0).all() and (merged[:, :, 1:] != 0).all()


def test_mask_heads_names_and_errors_and_vce_pooling():
    model = _tiny_cdt2()
    mods = ablation.attention_modules(model)
    assert set(mods) == {"dna_self_0", "dna_self_1", "rna_self_0", "dna_to_rna", "vce_dna", "vce_rna"}
    assert mods["vce_rna"][1] == 2 and mods["dna_to_rna"][1] == 4
    dna, rna = torch.randn(2, 6, 4), torch.rand(3, 8)
    idx = torch.tensor([0, 1, 1])
    with torch.no_grad():
        intact = model(dna, rna, locus_index=idx)
        with ablation.mask_heads(model, {"vce_rna": [0, 1]}):  # all pooling heads: the RNA pool is out_proj's bias
            pooled, _ = model.vce.pool("rna", torch.randn(3, 8, 16))
        torch.testing.assert_close(pooled, model.vce.rna_out_proj.bias.expand(3, -1))
        with ablation.mask_heads(model, {"dna_to_rna": [2]}):
            ablated = model(dna, rna, locus_index=idx)
    assert not torch.allclose(ablated.rna, intact.rna)
    with pytest.raises(KeyError, match="no attention 'protein_self_0'"):
        with ablation.mask_heads(model, {"protein_self_0": [0]}):
            pass
    with pytest.raises(ValueError, match="has 4 heads"):
        with ablation.mask_heads(model, {"rna_self_0": [4]}):
            pass
    assert not model.rna_self_attn_layers[0].out_proj._forward_pre_hooks  # nothing left behind after errors


def test_rank_heads_puts_the_planted_head_first():
    rng = np.random.default_rng(0)
    truth = rng.random((7, 7)) < 0.3
    maps = {"rna_self_0": rng.random((3, 7, 7)), "dna_self_0": rng.random((2, 7, 7))}
    maps["rna_self_0"][2] = truth + 0.1 * rng.random((7, 7))
    ranked = ablation.rank_heads(maps, truth)
    assert ranked.iloc[0][["attention", "head", "auroc"]].tolist() == ["rna_self_0", 2, 1.0]
    assert len(ranked) == 5 and ranked["auroc"].is_monotonic_decreasing
    off = ~np.eye(7, dtype=bool)
    assert ranked.iloc[1]["auroc"] == pytest.approx(
        roc_auc_score(truth[off], maps[ranked.iloc[1]["attention"]][ranked.iloc[1]["head"]][off])
    )


def test_head_ablation_reports_deltas_and_fidelity():
    from types import SimpleNamespace

    model = _tiny_cdt2()
    gen = torch.Generator().manual_seed(0)
    batches = [
        SimpleNamespace(
            dna=torch.randn(2, 6, 4, generator=gen),
            locus_index=torch.tensor([0, 1, 1, 0]),
            rna=torch.rand(4, 8, generator=gen),
            protein=None,
        )
        for _ in range(2)
    ]
    intact = ablation.forward_outputs(model, batches)
    target = intact.rna + 0.1 * np.random.default_rng(0).normal(size=intact.rna.shape)
    groups = np.array(list("aabbaabb"))
    ranked = pd.DataFrame({"attention": ["rna_self_0"] * 4 + ["dna_to_rna"] * 4, "head": [0, 1, 2, 3] * 2})
    res = ablation.head_ablation(model, batches, target, groups, ranked, k=2, n_random=3, seed=1)
    assert res["condition"].tolist() == ["intact", "top", "bottom", "random", "random", "random"]
    first = res.iloc[0]
    assert first["delta_r"] == 0 and first["embedding_cos_max"] == pytest.approx(0, abs=1e-12)
    assert first["r"] == pytest.approx(predict.prediction_metrics(intact.rna, target, groups)[0])
    assert res.iloc[1]["heads"] == "rna_self_0:0;rna_self_0:1"
    assert res.iloc[2]["heads"] == "dna_to_rna:2;dna_to_rna:3"
    assert (res.iloc[1:]["embedding_cos_mean"] > 0).all() and (res.iloc[1:]["output_cos_max"] > 0).all()
    with ablation.mask_heads(model, {"rna_self_0": [0, 1]}):
        top = ablation.forward_outputs(model, batches)
    assert res.iloc[1]["r"] == pytest.approx(predict.prediction_metrics(top.rna, target, groups)[0])
    again = ablation.head_ablation(model, batches, target, groups, ranked, k=2, n_random=3, seed=1)
    assert again["heads"].tolist() == res["heads"].tolist()  # seeded random heads
    with pytest.raises(ValueError, match="k must be"):
        ablation.head_ablation(model, batches, target, groups, ranked, k=9)


def test_forward_outputs_puts_cells_back_in_order():
    from types import SimpleNamespace

    model = _tiny_cdt2()
    dna, rna = torch.randn(2, 6, 4), torch.rand(5, 8)
    loci = torch.tensor([1, 0, 1, 0, 0])
    whole = ablation.forward_outputs(model, [SimpleNamespace(dna=dna, locus_index=loci, rna=rna, protein=None)])
    parts = [
        SimpleNamespace(
            dna=dna[[0]],
            locus_index=torch.zeros(3, dtype=torch.long),
            rna=rna[[1, 3, 4]],
            protein=None,
            order=np.array([1, 3, 4]),
        ),
        SimpleNamespace(
            dna=dna[[1]],
            locus_index=torch.zeros(2, dtype=torch.long),
            rna=rna[[0, 2]],
            protein=None,
            order=np.array([0, 2]),
        ),
    ]  # grouped by locus, as cdt.evaluate batches
    grouped = ablation.forward_outputs(model, parts)
    np.testing.assert_allclose(grouped.rna, whole.rna, atol=1e-5)
    np.testing.assert_allclose(grouped.embedding, whole.embedding, atol=1e-5)


# --- CDT v1 pair baselines ----------------------------------------------------------------------------------------


def test_v1_pair_baselines(tmp_path):
    """beta is a linear function of the target gene's RNA embedding: ridge on the embeddings recovers it on unseen
    enhancers; the per-gene mean equals the hand-computed mean of each gene's training betas."""
    import h5py
    from cdt.baselines.pairs import v1_baselines
    from cdt.data.dnastore import write_dna_store
    from cdt.train.data import PairData

    rng = np.random.default_rng(0)
    n_genes, n_enh, n_bins, dim = 20, 60, 6, 3
    rna, prot = rng.normal(size=(n_genes, 4)), rng.normal(size=(n_genes, 5))
    genes = np.array([f"G{i}" for i in range(n_genes)])
    split = np.array(["train"] * 40 + ["val"] * 10 + ["test"] * 10)
    rows = [
        {
            "enhancer_id": f"E{e}",
            "target_gene": genes[g],
            "target_index": int(g),
            "beta": -0.2 * rna[g, 0] - 0.1,
            "split": split[e],
        }
        for e in range(n_enh)
        for g in rng.choice(n_genes, 3, replace=False)
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "pairs.csv", index=False)
    ids = [f"E{e}" for e in range(n_enh)]
    table = pd.DataFrame({"locus_id": ids, "chrom": "chr1", "center": np.arange(1, n_enh + 1) * 10_000, "strand": "+"})
    write_dna_store(tmp_path / "dna.h5", {k: rng.normal(size=(n_bins, dim)) for k in ids}, table, model="test")
    with h5py.File(tmp_path / "emb.h5", "w") as h5:
        h5["gene_names"] = genes.astype("S")
        h5["rna_embeddings"], h5["protein_embeddings"] = rna.astype(np.float32), prot.astype(np.float32)
    data = PairData(tmp_path / "pairs.csv", tmp_path / "dna.h5", tmp_path / "emb.h5")

    got = v1_baselines(data).set_index(["baseline", "split"])
    assert list(got.index.get_level_values("split").unique()) == ["val", "test"]
    assert (got.loc[(slice(None), "val"), "n"] == 30).all()
    assert got.loc[("ridge: gene embeddings", "val"), "r"] > 0.99
    assert got.loc[("ridge: gene embeddings + DNA", "test"), "r"] > 0.95
    pairs = pd.DataFrame(rows)
    train_mean = pairs[pairs["split"] == "train"].groupby("target_gene")["beta"].mean()
    val = pairs[pairs["split"] == "val"]
    expected = val["target_gene"].map(train_mean).fillna(pairs.loc[pairs["split"] == "train", "beta"].mean())
    want = scipy.stats.pearsonr(expected, val["beta"]).statistic
    assert got.loc[("mean training beta of the target gene", "val"), "r"] == pytest.approx(want, rel=1e-5)
    with pytest.raises(ValueError, match="no pairs in training splits"):
        v1_baselines(data, train=("nothing",))

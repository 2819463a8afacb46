"""cdt.analyses.prediction: held-out scores vs numpy/scipy, run histories, CDT v1 pair predictions, model tables."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.stats
import torch
from cdt.analyses import prediction as ap
from cdt.models import CDT1, CDT2, CDT3
from cdt.models.cdt1 import CDT1Config
from cdt.models.cdt2 import CDT2Config
from cdt.models.cdt3 import CDT3Config
from cdt.train import LoadedRun, TrainConfig, open_run

N_GENES, N_BINS, DIM, N_PROT = 8, 8, 4, 6
HELD = ("GFI1B", "CD52")


@pytest.fixture
def screen_and_store(tiny_screen, tiny_dna_store):
    screen = tiny_screen(n_genes=N_GENES, held_out=HELD, cells_per_target=4, n_proteins=N_PROT)
    loci = sorted(set(screen.obs["locus"]) - {""})
    return screen, tiny_dna_store(loci, n_bins=N_BINS, dim=DIM)


def _cdt3() -> CDT3:
    torch.manual_seed(0)
    return CDT3(
        CDT3Config(
            n_genes=N_GENES,
            n_proteins=N_PROT,
            n_bins=N_BINS,
            dna_dim=DIM,
            d_model=8,
            n_heads=2,
            pool_heads=1,
            ffn_dim=16,
            dropout=0.0,
            protein_dropout=0.0,
        )
    ).eval()


def _cdt2(seed: int = 0) -> CDT2:
    torch.manual_seed(seed)
    return CDT2(
        CDT2Config(
            n_genes=N_GENES, n_bins=N_BINS, dna_dim=DIM, d_model=8, n_heads=2, pool_heads=1, ffn_dim=16, dropout=0.0
        )
    ).eval()


def _means(values: np.ndarray, groups: np.ndarray, g: str) -> np.ndarray:
    return values[groups == g].mean(0)


def test_held_out_scores_match_numpy(screen_and_store):
    screen, store = screen_and_store
    ho = ap.held_out(_cdt3(), screen, store, "CDT-III")
    test_rows = np.flatnonzero(screen.obs["split"].to_numpy() == "test")
    assert sorted(ho.pred.rows) == sorted(test_rows)
    np.testing.assert_allclose(ho.target, screen.layers["log2fc"][ho.pred.rows], rtol=1e-6)
    assert ho.perturbations == sorted(HELD)

    overall = ho.evaluation.overall
    assert overall["r"] == pytest.approx(np.corrcoef(ho.pred.rna.ravel(), ho.target.ravel())[0, 1], abs=1e-6)
    assert overall["r_squared"] == pytest.approx(overall["r"] ** 2)

    table = ap.per_gene_table(ho, {"GFI1B": 0.88, "CD52": 0.75})
    assert table["perturbation"].tolist() == ["GFI1B", "CD52"]  # published order
    assert table["published_r_mean"].tolist() == [0.88, 0.75]
    for _, row in table.iterrows():
        g = row["perturbation"]
        want = np.corrcoef(_means(ho.pred.rna, ho.groups, g), _means(ho.target, ho.groups, g))[0, 1]
        assert row["r_mean"] == pytest.approx(want, abs=1e-6)
        assert row["n_cells"] == (ho.groups == g).sum()

    profile, r = ap.trans_profile(ho, "GFI1B")
    assert np.all(np.diff(profile["observed"]) >= 0)
    assert profile["rank"].tolist() == list(range(N_GENES))
    assert profile.loc[profile["is_self"], "gene"].tolist() == ["GFI1B"]
    assert r == pytest.approx(table.set_index("perturbation").loc["GFI1B", "r_mean"], abs=1e-6)
    with pytest.raises(ValueError, match="no held-out cells of 'B2M'"):
        ap.trans_profile(ho, "B2M")

    top = ap.top_targets(ho, 3, {"GFI1B": 26}).set_index("perturbation")
    for g in HELD:
        a = np.argsort(-np.abs(_means(ho.pred.rna, ho.groups, g)), kind="stable")[:3]
        b = np.argsort(-np.abs(_means(ho.target, ho.groups, g)), kind="stable")[:3]
        k = len(set(a) & set(b))
        assert top.loc[g, "shared"] == k
        assert top.loc[g, "p_value"] == pytest.approx(scipy.stats.hypergeom.sf(k - 1, N_GENES, 3, 3))
        assert top.loc[g, "fold"] == pytest.approx(k / (9 / N_GENES))
        assert sorted(top.loc[g, "shared_genes"].split(";")) == sorted(ho.genes[sorted(set(a) & set(b))])
    assert top.loc["GFI1B", "published_shared"] == 26 and np.isnan(top.loc["CD52", "published_shared"])


def test_pseudobulk_and_model_comparisons(screen_and_store):
    screen, store = screen_and_store
    three = ap.held_out(_cdt3(), screen, store, "CDT-III")
    two = ap.held_out(_cdt2(), screen, store, "CDT-II")
    assert two.pred.protein is None and two.proteins is None

    rna = ap.pseudobulk(three)
    assert len(rna) == len(HELD) * N_GENES
    g = rna[rna["perturbation"] == "CD52"]
    np.testing.assert_allclose(g["observed"], _means(three.target, three.groups, "CD52"))
    prot = ap.pseudobulk(three, "protein")
    assert len(prot) == len(HELD) * int(three.expressed.sum())
    assert set(prot["feature"]) == set(three.proteins[three.expressed])
    assert len(ap.pseudobulk(three, "protein", expressed_only=False)) == len(HELD) * N_PROT
    with pytest.raises(ValueError, match="predicts no proteins"):
        ap.pseudobulk(two, "protein")

    t1 = ap.cdt2_vs_cdt3(two, three).set_index("perturbation")
    assert t1["delta"].to_numpy() == pytest.approx((t1["rna_r_cdt3"] - t1["rna_r_cdt2"]).to_numpy())
    assert t1.loc["GFI1B", "rna_r_cdt2"] == pytest.approx(two.evaluation.per_perturbation.loc["GFI1B", "r_mean"])
    assert t1.loc["GFI1B", "published_rna_r_cdt3"] == 0.885

    stages = ap.stage_comparison({"two": two, "three": three}).set_index("model")
    assert stages.loc["three", "rna_r"] == three.evaluation.overall["r"]
    assert np.isnan(stages.loc["two", "protein_r_expressed"])
    assert stages.loc["three", "protein_r_expressed"] == three.evaluation.overall["prot_r"]


def test_subset_scores_and_like_for_like(screen_and_store):
    screen, store = screen_and_store
    ho = ap.held_out(_cdt2(), screen, store, "curated")
    assert ap.subset_scores(ho, ho.genes)["r"] == pytest.approx(ho.evaluation.overall["r"])
    keep = list(ho.genes[:5])
    sub = ap.subset_scores(ho, keep)
    assert sub["n_genes"] == 5
    assert sub["r"] == pytest.approx(np.corrcoef(ho.pred.rna[:, :5].ravel(), ho.target[:, :5].ravel())[0, 1], abs=1e-6)
    with pytest.raises(ValueError, match="fewer than two"):
        ap.subset_scores(ho, ["not-a-gene"])

    small = ap.HeldOut(
        label="small", pred=ho.pred, target=ho.target, groups=ho.groups, genes=ho.genes, evaluation=ho.evaluation
    )
    small.genes = ho.genes.copy()
    small.genes[5:] = ["x1", "x2", "x3"]  # a "curated" model that shares only the first five genes
    fair = ap.like_for_like(small, ho).set_index("model")
    assert fair["n_genes"].tolist() == [N_GENES, N_GENES, 5]
    assert fair.loc["full model, curated genes only", "r"] == pytest.approx(sub["r"])


def _history(improved, val_r, train_r, pb: bool = True) -> pd.DataFrame:
    n = len(val_r)
    h = pd.DataFrame(
        {
            "epoch": np.arange(1, n + 1),
            "phase": "main",
            "train_loss": np.linspace(1, 0.5, n),
            "val_loss": np.linspace(1.2, 0.7, n),
            "train_r": train_r,
            "val_r": val_r,
            "improved": improved,
        }
    )
    if pb:
        h["train_pb_r"], h["val_pb_r"] = np.array(train_r) + 0.1, np.array(val_r) + 0.1
    return h


def test_history_summary_and_learning_curves():
    h = _history([True, True, False, True, False], [0.1, 0.3, 0.5, 0.4, 0.2], [0.2, 0.4, 0.5, 0.6, 0.7])
    s = ap.history_summary(h)
    assert (s["best_epoch"], s["stop_epoch"]) == (4, 5)
    assert (s["val_r_best"], s["train_r_best"], s["val_pb_r_best"]) == pytest.approx((0.4, 0.6, 0.5))
    assert (s["val_r_max"], s["val_r_max_epoch"]) == (0.5, 3)
    assert s["train_r_last"] == 0.7
    with pytest.raises(ValueError, match="empty"):
        ap.history_summary(pd.DataFrame())

    v1 = _history([True, False, False], [0.2, 0.1, 0.0], [0.1, 0.2, 0.3], pb=False)
    curves = ap.learning_curves({"a": h, "b": v1, "none": pd.DataFrame()})
    assert len(curves) == 2 * (5 + 3)
    val_a = curves[(curves["label"] == "a") & (curves["set"] == "val")]
    assert val_a["r"].tolist() == h["val_r"].tolist()
    assert curves.loc[curves["label"] == "b", "pb_r"].isna().all()
    with pytest.raises(ValueError, match="no run has a training history"):
        ap.learning_curves({"none": pd.DataFrame()})


@pytest.mark.parametrize(("protocol", "reported_key"), [("paper", "select_r"), ("clean", "test_r")])
def test_run_summary_takes_the_reported_role(protocol, reported_key):
    roles = {"paper": {"select": ["test"], "test": ["test"]}, "clean": {"select": ["val"], "test": ["test"]}}
    metrics = {
        "reported": ["test"],
        "roles": roles[protocol],
        "select_r": 0.5,
        "baseline_select_r": 0.1,
        "test_r": 0.3,
        "baseline_test_r": 0.2,
    }
    model = _cdt2()
    run = LoadedRun(
        run_dir="r",
        model=model,
        config=TrainConfig.for_model("cdt2", "tiny", protocol=protocol),
        history=_history([True, True], [0.1, 0.2], [0.3, 0.4]),
        metrics=metrics,
        extra={},
        files={},
    )
    row = ap.runs_table({"x": run}).iloc[0]
    assert row["reported_r"] == metrics[reported_key]
    assert row["baseline_r"] == metrics[f"baseline_{reported_key}"]
    assert row["n_params"] == sum(p.numel() for p in model.parameters())
    assert (row["n_genes"], row["gene_set"], row["best_epoch"]) == (N_GENES, "curated", 2)


def _v1_run(tmp_path, tiny_dna_store) -> tuple[LoadedRun, pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    genes = [f"G{i}" for i in range(N_GENES)]
    enh = [f"E{i}" for i in range(6)]
    pairs = pd.DataFrame(
        {
            "enhancer_id": np.repeat(enh, 2),
            "target_index": rng.integers(0, N_GENES, 12),
            "beta": rng.normal(0, 0.5, 12),
            "split": np.repeat(["train", "val", "train"], 4),
        }
    )
    pairs["target_gene"] = np.array(genes)[pairs["target_index"]]
    pairs.to_csv(tmp_path / "pairs.csv", index=False)
    rna, prot = rng.normal(size=(N_GENES, 3)).astype(np.float32), rng.normal(size=(N_GENES, 5)).astype(np.float32)
    with h5py.File(tmp_path / "emb.h5", "w") as h5:
        h5["gene_names"] = np.array(genes, dtype="S")
        h5["rna_embeddings"], h5["protein_embeddings"] = rna, prot
        h5.attrs["source"] = "test embeddings"
    dna = tiny_dna_store(enh, n_bins=N_BINS, dim=DIM, path=tmp_path / "enh.h5")
    torch.manual_seed(0)
    model = CDT1(
        CDT1Config(
            n_genes=N_GENES,
            n_bins=N_BINS,
            dna_dim=DIM,
            rna_emb_dim=3,
            prot_emb_dim=5,
            d_model=8,
            n_heads=2,
            pool_heads=1,
            ffn_dim=16,
            dropout=0.0,
        )
    ).eval()
    run = LoadedRun(
        run_dir=tmp_path,
        model=model,
        config=TrainConfig.for_model("cdt1", "tiny"),
        history=pd.DataFrame(),
        metrics={},
        extra={},
        files={"dna": str(dna), "pairs": str(tmp_path / "pairs.csv"), "embeddings": str(tmp_path / "emb.h5")},
    )
    return run, pairs, rna, prot


def test_v1_predictions_are_the_model_output_at_the_target(tmp_path, tiny_dna_store):
    run, pairs, rna, prot = _v1_run(tmp_path, tiny_dna_store)
    out = ap.v1_predictions(run, ["val"], batch_size=3)
    val = pairs[pairs["split"] == "val"]
    assert out["observed"].to_numpy() == pytest.approx(val["beta"].to_numpy(), abs=1e-6)
    assert out["target_gene"].tolist() == val["target_gene"].tolist()
    from cdt.data.dnastore import DNAStore

    with DNAStore(run.files["dna"]) as store, torch.no_grad():
        dna = torch.from_numpy(np.stack([store[e] for e in val["enhancer_id"]]))
        want = run.model(
            dna, torch.from_numpy(rna), torch.from_numpy(prot), torch.as_tensor(val["target_index"].to_numpy())
        ).value.numpy()
    assert out["predicted"].to_numpy() == pytest.approx(want, abs=1e-5)
    s = ap.v1_scores(out)
    ref = scipy.stats.pearsonr(out["predicted"], out["observed"])
    assert (s["r"], s["p_value"], s["n"]) == pytest.approx((ref.statistic, ref.pvalue, 4))
    with pytest.raises(ValueError, match="no pairs in splits"):
        ap.v1_predictions(run, ["test"])
    run.metrics = {"reported": ["test"], "n_samples": {"report": 0}}  # clean protocol, no 'test' pairs
    assert ap.v1_reported_splits(run) == ["val"]
    run.metrics = {"reported": ["test"], "n_samples": {"report": 5}}
    assert ap.v1_reported_splits(run) == ["test"]

    t1 = ap.v1_foundation_models(run.files["dna"], run.files["embeddings"]).set_index("modality")
    assert t1.loc["DNA", "this_run_shape"] == f"{N_BINS} bins x {DIM}"
    assert t1.loc["DNA", "this_run_source"] == "tiny_dna_store fixture"
    assert t1.loc["Protein", "this_run_shape"] == f"{N_GENES} x 5"
    assert t1.loc["RNA", "published_model"] == "scGPT gene tokens"


def test_attention_and_config_tables(tmp_path, tiny_dna_store):
    run, *_ = _v1_run(tmp_path, tiny_dna_store)
    model = run.model
    with torch.no_grad():  # real shapes from a real forward, to compare with the meta twin's
        out = model(
            torch.zeros(1, N_BINS, DIM),
            torch.zeros(N_GENES, 3),
            torch.zeros(N_GENES, 5),
            torch.zeros(1, dtype=torch.long),
            return_attention=True,
        )
    table = ap.attention_table(model).set_index("map")
    assert set(table.index) == set(out.attention)
    for name, w in out.attention.items():
        assert table.loc[name, "shape"] == f"{w.shape[2]} x {w.shape[3]}"
        assert table.loc[name, "heads"] == w.shape[1]
    assert table.loc["dna_self_1", "published_shape"] == "896 x 896"
    assert table.loc["rna_to_protein", "published_shape"] == "n_proteins x n_genes"

    cfg = ap.v1_model_table(model).set_index("setting")["this_run"]
    assert cfg["parameters"] == f"{sum(p.numel() for p in model.parameters()):,}"
    assert (cfg["d_k (head dim)"], cfg["cross-attention layers"]) == ("4", "2")
    train = ap.v1_training_table(TrainConfig.for_model("cdt1", "paper")).set_index("setting")
    for setting in ("learning rate", "weight decay", "batch size", "max epochs", "early-stopping patience"):
        assert float(train.loc[setting, "this_run"]) == float(train.loc[setting, "published"])
    assert train.loc["loss", "this_run"] == train.loc["loss", "published"] == "Huber (delta 1.0)"


def test_parameter_counts_at_the_paper_preset():
    counts = ap.parameter_counts("tiny").set_index("model")
    assert counts.loc["CDT-III", "paper_preset"] == counts.loc["CDT-III", "published"] == 30_987_766
    assert abs(counts.loc["CDT v1", "paper_preset"] / 60e6 - 1) < 0.01
    assert abs(counts.loc["CDT-II", "paper_preset"] / 21e6 - 1) < 0.01
    assert np.isnan(counts.loc["CDT-II full gene set (9,335 genes)", "tiny_preset"])


def test_open_run_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a run directory nor a checkpoint"):
        open_run(tmp_path / "missing")


def test_v1_comparison_sets_the_run_beside_the_pair_baselines(tmp_path, tiny_dna_store):
    from cdt.analyses.baselines import v1_comparison

    run, pairs, _, _ = _v1_run(tmp_path, tiny_dna_store)
    table = v1_comparison(run)
    splits = [s for s in ("val", "test") if (pairs["split"] == s).sum() >= 3]
    assert sorted(table["split"].unique()) == sorted(splits)
    model = table[table["method"] == "CDT v1"].set_index("split")
    for split in splits:
        assert model.loc[split, "r"] == pytest.approx(ap.v1_scores(ap.v1_predictions(run, [split]))["r"])
        assert model.loc[split, "n"] == (pairs["split"] == split).sum()
    assert set(table["method"]) >= {"CDT v1", "mean training beta of the target gene", "ridge: gene embeddings + DNA"}
    assert set(table.loc[table["split"] == "val", "role"]) == {"reported"}  # paper protocol: val is reported


def test_ablation_findings_render_as_one_bullet_list():
    from markdown_it import MarkdownIt

    summary = pd.DataFrame(
        {
            "run": ["curated", "full"],
            "val_r_best": [0.64, 0.37],
            "train_r_best": [0.65, 0.40],
            "best_epoch": [3, 2],
            "stop_epoch": [3, 15],
            "baseline_r": [0.15, 0.10],
        }
    )
    fair = pd.DataFrame({"model": ["full model, curated genes only"], "r": [0.60]})
    text = ap.ablation_findings(summary, fair, synthetic=True)
    html = MarkdownIt().render(text)
    assert "<ol" not in html and html.count("<li>") == 5
    assert (
        "(0.640, best epoch 3 of 3) is <strong>higher than</strong> the full-set model's (0.370, best epoch 2 of 15)"
        in html
    )
    assert "<strong>still higher</strong> (+0.040)" in html and "+0.230 comes from scoring" in html
    assert "Train minus validation r of the curated model at its best epoch: +0.010" in html
    assert "Synthetic data" in html
    assert "Synthetic data" not in ap.ablation_findings(summary, fair, synthetic=False)


# --- notebook 02: tables, headline rows and sentences ----------------------------------------------------------------


def _rows(findings) -> dict[tuple[str, str, str], dict]:
    return {n["key"]: n for n in findings.numbers}


def test_runs_line_names_each_run_and_its_model():
    run = LoadedRun("r", _cdt2(), None, pd.DataFrame(), {}, {}, {})
    line = ap.runs_line({"cdt2": run}, source="synthetic (tiny, seed 0)", protocol="paper")
    assert line == "Data: **synthetic (tiny, seed 0)**, protocol **paper**. Runs: `cdt2` (CDT2)"


def test_parameter_findings_read_the_paper_preset_column():
    params = pd.DataFrame(
        {
            "model": ["CDT v1", "CDT-II", "CDT-II full gene set (9,335 genes)", "CDT-III"],
            "paper_preset": [60_093_752, 21_072_185, 28_220_535, 30_987_766],
        }
    )
    rows = _rows(ap.parameter_findings(params))
    assert rows[("CDT v1", "Table 3", "parameters at the paper dimensions")]["value"] == 60_093_752.0
    assert rows[("CDT-III", "Fig 1", "parameters at the paper dimensions")]["file"] == "model_parameter_counts.csv"
    full = rows[("CDT-II", "Fig 2", "parameters, 9,335-gene ablation model")]
    assert full["value"] == 28_220_535.0
    assert full["note"].startswith("the paper's ~54 M is not reproduced by the stated architecture (~28 M)")
    assert len(_rows(ap.parameter_findings(params.iloc[[0, 1, 3]]))) == 3  # no ablation model, no row


def test_v1_validation_tables_and_findings(tmp_path, tiny_dna_store):
    run, pairs, *_ = _v1_run(tmp_path, tiny_dna_store)
    run.history = _history([True, True, False], [0.1, 0.3, 0.2], [0.2, 0.4, 0.5], pb=False)
    run.metrics = {"reported": ["val"], "roles": {"select": ["val"]}, "select_r": 0.3, "baseline_select_r": -0.2}
    out, v1 = ap.v1_validation(run)
    assert out["split"].unique().tolist() == ["val"] and len(out) == (pairs["split"] == "val").sum()
    assert v1["r"] == pytest.approx(scipy.stats.pearsonr(out["predicted"], out["observed"]).statistic)
    assert (v1["best_epoch"], v1["stop_epoch"], v1["train_r_last"]) == (2, 3, 0.5)
    assert (v1["baseline_r"], v1["splits"], v1["loss_name"]) == (-0.2, ["val"], "Huber loss")
    assert v1["max_epochs"] == run.config.phases[0].epochs

    tables = ap.v1_tables(run, run.files["dna"], run.files["embeddings"])
    assert list(tables) == [
        "cdt1_table1_foundation_models",
        "cdt1_table2_attention_shapes",
        "cdt1_table3_model_config",
        "cdt1_table4_training",
    ]

    hand = {"r": 0.349, "p_value": 0.36, "rho": 0.37, "n": 9, "best_epoch": 3, "stop_epoch": 4, "train_r_last": 0.4}
    f = ap.v1_findings({**hand, "baseline_r": -0.788, "splits": ["val"], "max_epochs": 5})
    rows = _rows(f)
    r = rows[("CDT v1", "Fig 2A", "val Pearson r, predicted vs observed beta")]
    assert (r["value"], r["note"]) == (0.349, "n = 9 val pairs (published 996)")
    assert rows[("CDT v1", "Fig 2B/C", "best epoch")]["note"] == "of at most 5 (published 50)"
    assert rows[("CDT v1", "Fig 2A", "per-gene mean training beta baseline r")]["value"] == -0.788
    assert len(rows) == 6
    assert "validation r = **0.349** over 9 pairs (P = 3.6e-01;\npublished 0.503 over 996)" in f.text
    assert "stopped at 4 (published 16 and 26)" in f.text and "baseline reaches r = -0.788" in f.text


def test_cdt2_cdt3_tables_and_findings(screen_and_store):
    screen, store = screen_and_store
    two, three = ap.held_out(_cdt2(), screen, store, "CDT-II"), ap.held_out(_cdt3(), screen, store, "CDT-III")
    o = two.evaluation.overall
    table = ap.overall_table(two).iloc[0]
    assert (table["model"], table["rna_r"], table["rho"], table["n_pairs"]) == ("CDT-II", o["r"], o["rho"], o["n"])
    assert table["r_squared"] == pytest.approx(table["rna_r"] ** 2)

    summary = {"baseline_r": 0.19, "baseline_pb_r": 0.54}
    rows = _rows(ap.overall_findings(two, summary))
    first = rows[("CDT-II", "Fig 3A", "overall Pearson r (cells x genes)")]
    assert first["value"] == o["r"]
    assert first["note"] == f"{len(two.groups)} cells x {N_GENES} genes (published 2,037 x 2,361)"
    assert rows[("CDT-II", "Fig 3A", "mean-training-effect baseline r")]["value"] == 0.19
    assert ("CDT-II", "Fig 3A", "mean-training-effect baseline r") not in _rows(ap.overall_findings(two, {}))

    per_gene = ap.per_gene_table(two, {"GFI1B": 0.88, "CD52": 0.75})
    rows = list(_rows(ap.per_gene_findings(per_gene, two, summary)).values())
    assert [r["key"][2] for r in rows[:2]] == ["pseudo-bulk r, GFI1B", "pseudo-bulk r, CD52"]  # the table's order
    assert rows[0]["note"] == f"{(two.groups == 'GFI1B').sum()} cells"
    assert rows[2]["value"] == o["r_mean_avg"] and rows[3]["value"] == 0.54

    top = ap.top_targets(two, 3)
    rows = _rows(ap.top_target_findings(top, ["GFI1B", "TFRC"]))  # TFRC is not held out here: no rows
    assert len(rows) == 3
    g = top.set_index("perturbation").loc["GFI1B"]
    shared = rows[("CDT-II", "text", "top-50 overlap, GFI1B (shared genes)")]
    assert (shared["value"], shared["note"]) == (g["shared"], f"of 3, among {N_GENES} genes")
    assert rows[("CDT-II", "text", "top-50 overlap, GFI1B (hypergeometric P)")]["value"] == g["p_value"]

    rows = _rows(ap.cdt3_gain_findings(two, three))
    gain = rows[("CDT-III", "Table 1", "per-gene RNA r, CDT-III minus CDT-II")]["value"]
    assert gain == pytest.approx(three.evaluation.overall["r_mean_avg"] - o["r_mean_avg"])
    prot = rows[("CDT-III", "Table 1", "per-gene protein r over expressed proteins (mean)")]
    assert prot["note"] == f"{int(three.expressed.sum())} expressed (published 65)"


def test_stage_findings_name_the_nearest_and_best_published_variant():
    stages = pd.DataFrame(
        {"model": list(ap.STAGE_MODELS), "rna_r": [0.5, 0.3, 0.6], "protein_r_expressed": [np.nan, 0.2, 0.4]}
    )
    f = ap.stage_findings(stages, {"copied": 99, "skipped": ["vce.fusion.0.weight", "vce.fusion.0.bias"]})
    values = [(n["key"][2], n["value"]) for n in f.numbers]
    assert values[:2] == [("RNA r, two-stage", 0.6), ("RNA r, single-stage", 0.3)]
    assert values[2][1] == pytest.approx(0.3) and values[3][1] == 0.4
    notes = [n["note"] for n in f.numbers]
    assert notes[1] == "ours: lambda 0.1; nearest published variant B (lambda 0.11); published range .19-.37"
    assert notes[2] == "published: against the best single-stage variant (D, 0.37)"
    assert f.text == (
        "Single-stage initialisation: 99 tensors copied from CDT-II, not transferred: vce.fusion.0.weight, "
        "vce.fusion.0.bias."
    )
    assert ap.stage_findings(stages).text.endswith("? tensors copied from CDT-II, not transferred: none.")


def _scored(**overall):
    from types import SimpleNamespace

    return SimpleNamespace(evaluation=SimpleNamespace(overall=overall))


def test_prediction_findings_compare_with_published_values_and_baselines():
    cdt2 = _scored(r=0.075, r_squared=0.006, R2=-0.052, rho=0.063, r_mean_avg=0.2)
    top = pd.DataFrame(
        [{"perturbation": "GFI1B", "shared": 40, "fold": 1.024, "p_value": 0.36, "M": 64, "expected": 39.06}]
    )
    text = ap.prediction_findings(cdt2, {"baseline_r": 0.191, "baseline_pb_r": 0.539}, top)
    lines = text.split("\n")
    assert lines[0] == (
        "- CDT-II on the held-out cells: r = 0.075 (published 0.64), r^2 = 0.006 (0.41), R^2 = -0.052, Spearman "
        "0.063 (0.46); mean per-gene pseudo-bulk r 0.200 (0.84)."
    )
    assert "CDT-II is not above that reference (-0.116)." in lines[1]
    assert lines[2].startswith("- The same baseline's mean pseudo-bulk r is 0.539 (CDT-II 0.200)")
    assert lines[3] == (
        "- GFI1B top-50 trans targets: 40/50 shared, 1.0-fold over chance, P = 3.6e-01 (published 26/50, ~25-fold "
        "over 2,361 genes; with 64 genes here, chance alone gives 39.1)."
    )
    assert len(lines) == 5 and lines[4].startswith("- Caution")

    cdt3 = _scored(r_mean_avg=0.215, prot_r_mean_expressed_avg=0.043)
    for two, one, verdict in ((0.08, 0.101, "not worse"), (0.2, 0.17, "worse"), (0.2, 0.19, "not worse")):
        stages = pd.DataFrame({"model": list(ap.STAGE_MODELS), "rna_r": [0.1, one, two]})
        lines = ap.prediction_findings(cdt2, {}, top.iloc[:0], cdt3=cdt3, stages=stages).split("\n")
        assert lines[1] == (
            "- CDT-III vs CDT-II per-gene RNA r: 0.200 -> 0.215 (+0.015; published +0.039); protein pseudo-bulk r "
            "over expressed proteins 0.043 (0.969)."
        )
        assert lines[2] == (
            f"- Two-stage vs single-stage RNA r: {two:.3f} vs {one:.3f} — the single-stage model is {verdict} here "
            "(published 0.64 vs 0.19-0.37)."
        )

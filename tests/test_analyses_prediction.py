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

"""Metrics vs scipy/sklearn, predictions vs one-cell-at-a-time forward passes, evaluation tables, cell selection."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import sklearn.metrics
import torch
from cdt.evaluate import (
    evaluate_model,
    evaluate_predictions,
    observed_profile,
    pearson,
    per_cell_r,
    predict,
    pseudobulk_r,
    r2,
    resolve_cells,
    scores,
    select_cells,
    self_knockdown_r,
    spearman,
    top_target_overlap,
)
from cdt.models import CDT3
from cdt.stats import hypergeom_overlap
from cdt.train.runs import LoadedRun
from small_models import small_cdt2, small_cdt3, small_screen_and_store


@pytest.fixture
def data(tiny_screen, tiny_dna_store):
    screen, store = small_screen_and_store(tiny_screen, tiny_dna_store, seed=7)
    yield screen, store
    store.close()


def one_by_one(model, screen, store, rows) -> tuple[np.ndarray, np.ndarray | None]:
    rna, prot = [], []
    with torch.no_grad():
        for r in rows:
            args = [
                torch.from_numpy(store[screen.obs["locus"].iloc[r]])[None],
                torch.from_numpy(np.asarray(screen.X[r : r + 1], np.float32)),
            ]
            if isinstance(model, CDT3):
                args.append(torch.from_numpy(np.asarray(screen.obsm["protein"][r : r + 1], np.float32)))
            out = model(*args)
            rna.append(out.rna[0].numpy())
            prot.append(None if out.protein is None else out.protein[0].numpy())
    return np.stack(rna), (np.stack(prot) if prot[0] is not None else None)


# ---------------------------------------------------------------------------------------------------------------------
# metrics on arrays


@pytest.fixture
def arrays():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(30, 12))
    pred = 0.6 * target + rng.normal(scale=0.5, size=target.shape) + 0.3
    return pred, target


def test_overall_metrics_equal_scipy_and_sklearn(arrays):
    pred, target = arrays
    assert pearson(pred, target) == pytest.approx(
        scipy.stats.pearsonr(pred.ravel(), target.ravel()).statistic, rel=1e-10
    )
    assert spearman(pred, target) == pytest.approx(scipy.stats.spearmanr(pred.ravel(), target.ravel()).statistic)
    assert r2(pred, target) == pytest.approx(sklearn.metrics.r2_score(target.ravel(), pred.ravel()))
    s = scores(pred, target)
    assert s["r_squared"] == pytest.approx(s["r"] ** 2)
    assert s["R2"] < s["r_squared"]  # the offset costs R^2 but not r^2: the papers' "R^2" is r^2
    assert s["mse"] == pytest.approx(sklearn.metrics.mean_squared_error(target, pred))
    assert s["mae"] == pytest.approx(sklearn.metrics.mean_absolute_error(target, pred))
    assert s["n"] == pred.size
    with pytest.raises(ValueError, match="shape"):
        pearson(pred, target[:, :3])


def test_per_cell_and_pseudobulk_r(arrays):
    pred, target = arrays
    pred = pred.copy()
    pred[4] = 1.0  # a constant row
    r = per_cell_r(pred, target)
    expected = [scipy.stats.pearsonr(pred[i], target[i]).statistic for i in range(30) if i != 4]
    np.testing.assert_allclose(np.delete(r, 4), expected, rtol=1e-10)
    assert np.isnan(r[4])
    groups = np.array(["b", "a", "c"] * 10)
    pb = pseudobulk_r(pred, target, groups)
    assert list(pb.index) == ["a", "b", "c"]
    for g in "abc":
        sel = groups == g
        ref = scipy.stats.pearsonr(pred[sel].mean(0), target[sel].mean(0)).statistic
        assert pb[g] == pytest.approx(ref, rel=1e-9)
    genes = [f"g{i}" for i in range(11)] + ["a"]
    kd = self_knockdown_r(pred, target, groups, genes)
    assert list(kd.index) == ["a"]  # only groups that are features
    sel = groups == "a"
    assert kd["a"] == pytest.approx(scipy.stats.pearsonr(pred[sel, 11], target[sel, 11]).statistic)


def test_top_target_overlap_by_hand():
    obs = np.array([5.0, -4.0, 3.0, 0.1, 0.2, -0.3, 0.0, 0.05])  # top-3 by |.|: 0, 1, 2
    pred = np.array([-1.0, 0.1, 0.9, 0.0, 0.8, 0.0, 0.0, 0.0])  # top-3 by |.|: 0, 2, 4
    ov, shared = top_target_overlap(pred, obs, 3, names=list("ABCDEFGH"))
    assert list(shared) == ["A", "C"]
    ref = hypergeom_overlap(2, 3, 3, 8)
    assert (ov.k, ov.fold, ov.p_value) == (2, ref.fold, ref.p_value)
    assert ov.p_value == pytest.approx(scipy.stats.hypergeom.sf(1, 8, 3, 3))


# ---------------------------------------------------------------------------------------------------------------------
# predict and evaluate


@pytest.mark.parametrize("make_model", [small_cdt2, small_cdt3])
def test_predict_equals_single_cell_forward_in_the_order_asked(data, make_model):
    screen, store = data
    model = make_model().train()
    rows = np.flatnonzero(screen.obs["kind"] != "NTC")[::-1]  # every locus, reversed order
    pred = predict(model, screen, store, rows, batch_size=4)
    assert model.training  # mode restored; predictions were made in eval mode (deterministic below)
    rna, prot = one_by_one(model.eval(), screen, store, rows)
    np.testing.assert_allclose(pred.rna, rna, rtol=1e-5, atol=1e-6)
    assert list(pred.obs_names) == list(screen.obs_names[rows]) and list(pred.rows) == list(rows)
    if prot is None:
        assert pred.protein is None
    else:
        np.testing.assert_allclose(pred.protein, prot, rtol=1e-5, atol=1e-6)
    default = predict(model, screen, store)  # the reported held-out cells (split 'test')
    assert list(default.rows) == list(np.flatnonzero(screen.obs["split"] == "test"))


def test_evaluation_tables(data):
    screen, store = data
    model = small_cdt3()
    pred = predict(model, screen, store, None)
    ev = evaluate_predictions(pred, screen, top_n=4)
    target = np.asarray(screen.layers["log2fc"])[pred.rows]
    assert ev.overall["r"] == pytest.approx(scipy.stats.pearsonr(pred.rna.ravel(), target.ravel()).statistic)
    assert ev.overall["R2"] == pytest.approx(sklearn.metrics.r2_score(target.ravel(), pred.rna.ravel()), rel=1e-6)
    table = ev.per_perturbation
    assert list(table.index) == ["CD52", "GFI1B"] and list(table["n_cells"]) == [4, 4]
    groups = screen.obs["perturbation"].to_numpy()[pred.rows]
    for g in ("CD52", "GFI1B"):
        sel = groups == g
        assert table.loc[g, "r_mean"] == pytest.approx(
            scipy.stats.pearsonr(pred.rna[sel].mean(0), target[sel].mean(0)).statistic, rel=1e-6
        )
        assert table.loc[g, "r_all"] == pytest.approx(
            scipy.stats.pearsonr(pred.rna[sel].ravel(), target[sel].ravel()).statistic, rel=1e-6
        )
        ov, _ = top_target_overlap(pred.rna[sel].mean(0), target[sel].mean(0), 4)
        assert table.loc[g, "top4_k"] == ov.k and table.loc[g, "top4_p"] == pytest.approx(ov.p_value)
    gfi = groups == "GFI1B"
    assert table.loc["GFI1B", "self_kd_r"] == pytest.approx(
        scipy.stats.pearsonr(pred.rna[gfi, -1], target[gfi, -1]).statistic, rel=1e-6
    )
    assert math.isnan(table.loc["CD52", "self_kd_r"])  # CD52 is not a gene of this screen
    assert ev.overall["r_mean_avg"] == pytest.approx(table["r_mean"].mean())
    # proteins: the expressed ones for the overall and pseudo-bulk scores, every protein across cells
    expressed = np.asarray(screen.uns["protein_expressed"])
    ptarget = np.asarray(screen.obsm["protein_target"])[pred.rows]
    assert ev.overall["prot_r"] == pytest.approx(
        scipy.stats.pearsonr(pred.protein[:, expressed].ravel(), ptarget[:, expressed].ravel()).statistic
    )
    assert table.loc["GFI1B", "prot_r_mean_expressed"] == pytest.approx(
        scipy.stats.pearsonr(pred.protein[gfi][:, expressed].mean(0), ptarget[gfi][:, expressed].mean(0)).statistic,
        rel=1e-6,
    )
    p0 = ev.per_protein.iloc[0]
    assert p0["r_all"] == pytest.approx(scipy.stats.pearsonr(pred.protein[:, 0], ptarget[:, 0]).statistic)
    assert list(ev.per_protein.index) == list(screen.uns["protein_names"])
    np.testing.assert_allclose(ev.per_cell.to_numpy(), per_cell_r(pred.rna, target))
    again = evaluate_model(model, screen, store)
    assert again.overall == pytest.approx(ev.overall)


def test_cell_selection_and_provenance(data, tmp_path):
    screen, store = data
    gfi = np.flatnonzero(screen.obs["perturbation"] == "GFI1B")
    np.testing.assert_array_equal(select_cells(screen, "GFI1B", first_n=2), gfi[:2])
    np.testing.assert_array_equal(select_cells(screen, splits=("test",)), np.flatnonzero(screen.obs["split"] == "test"))
    rows, sel = resolve_cells(screen, screen.obs_names[gfi[::-1]].to_numpy())
    np.testing.assert_array_equal(rows, gfi[::-1])
    assert sel["explicit"]
    mask = (screen.obs["perturbation"] == "GFI1B").to_numpy()
    np.testing.assert_array_equal(resolve_cells(screen, mask)[0], gfi)
    with pytest.raises(ValueError, match=r"2 cells not in the screen, e.g. \['x', 'y'\]"):
        resolve_cells(screen, ["x", "cell0", "y"])
    with pytest.raises(ValueError, match="boolean cell mask needs"):
        resolve_cells(screen, mask[:3])
    with pytest.raises(ValueError, match="positions must lie in"):
        resolve_cells(screen, [0, screen.n_obs])
    profile = observed_profile(screen, "GFI1B")
    np.testing.assert_allclose(profile.to_numpy(), np.asarray(screen.layers["log2fc"])[gfi].mean(0))
    run = LoadedRun(
        run_dir=Path(tmp_path / "run"),
        model=small_cdt2(),
        config=dataclasses.make_dataclass("Cfg", [("protocol", str)])("clean"),
        history=pd.DataFrame(),
        metrics={},
        extra={},
        files={},
    )
    pred = predict(run, screen, store, "GFI1B")
    assert pred.meta["run_dir"] == str(tmp_path / "run") and pred.meta["protocol"] == "clean"
    assert pred.meta["model"] == "CDT2" and pred.meta["selection"]["perturbation"] == "GFI1B"
    with pytest.raises(FileNotFoundError, match="not a training run directory"):
        predict(tmp_path, screen, store)

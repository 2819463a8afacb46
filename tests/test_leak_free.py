"""The leak-free analysis: positive controls, the cell-eval export, the seed spread."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cdt.analyses import leak_free as lf
from cdt.data.dnastore import write_dna_store


def write_truth(root: Path, elements: list[dict], edges: list[tuple[str, str]]) -> Path:
    truth = root / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(elements).to_csv(truth / "elements.csv", index=False)
    pd.DataFrame(edges, columns=["source", "target"]).assign(sign=1, weight=1.0).to_csv(
        truth / "network_edges.csv", index=False
    )
    return truth


def test_observed_effect_auroc_against_planted_targets(tiny_screen, tmp_path):
    screen = tiny_screen(n_genes=8, cells_per_target=3)
    genes = screen.var_names.tolist()
    lfc = np.zeros(screen.shape, np.float32)
    b2m = (screen.obs["perturbation"] == "B2M").to_numpy()
    lfc[np.ix_(b2m, [1, 2])] = -1.0  # B2M's cells move G1 and G2 ...
    lfc[np.ix_(b2m, [3])] = 0.5  # ... and G3, which is not planted
    screen.layers["log2fc"] = lfc
    truth = write_truth(tmp_path, [], [("B2M", genes[1]), ("B2M", genes[2]), ("CD52", genes[4])])
    table = lf.observed_effect_auroc(screen, truth).set_index("perturbation")
    # B2M: the 2 targets rank above the 5 others (G3 third, the rest tied at 0) -> AUROC 1
    assert table.loc["B2M", "auroc"] == 1.0 and table.loc["B2M", "n_targets"] == 2
    # CD52 moved nothing: every gene tied -> 0.5
    assert table.loc["CD52", "auroc"] == 0.5
    assert set(table.index) == {"B2M", "CD52"}  # genes without planted targets are not scored


def test_dna_readout_finds_elements_written_into_the_embeddings(tmp_path):
    rng = np.random.default_rng(0)
    n_bins, dim, loci = 16, 4, [f"L{i}" for i in range(10)]
    emb, elements = {}, []
    for k in loci:
        x = rng.normal(size=(n_bins, dim)).astype(np.float32)
        start = int(rng.integers(0, n_bins - 3))
        x[start : start + 3, 0] += 4.0  # the element's bins carry a signal in feature 0
        emb[k] = x
        elements.append({"locus_id": k, "element": "enhancer", "bin_start": start, "bin_end": start + 3})
    table = pd.DataFrame({"locus_id": loci, "chrom": "chr1", "center": np.arange(1, 11) * 10_000, "strand": "+"})
    dna = write_dna_store(tmp_path / "dna.h5", emb, table, model="test")
    truth = write_truth(tmp_path, elements, [])
    assert lf.dna_readout_auroc(dna, truth) > 0.95
    # the same elements against embeddings without the signal: chance
    noise = write_dna_store(
        tmp_path / "noise.h5", {k: rng.normal(size=(n_bins, dim)) for k in loci}, table, model="test"
    )
    assert abs(lf.dna_readout_auroc(noise, truth) - 0.5) < 0.15


def test_cell_eval_pair_inverts_the_target(tiny_screen):
    screen = tiny_screen(n_genes=8)
    rows = np.flatnonzero(screen.obs["split"].astype(str) == "test")
    ntc = np.flatnonzero(screen.obs["kind"].astype(str) == "NTC")
    # the observed log2FC as the prediction gives back the observed expression (the contract's identity)
    pred, real = lf.cell_eval_pair(screen, rows, screen.layers["log2fc"][rows])
    np.testing.assert_allclose(pred.X, real.X, atol=1e-5)
    assert pred.obs_names.tolist() == real.obs_names.tolist() == screen.obs_names[np.r_[rows, ntc]].tolist()
    assert (real.obs["target"].iloc[: len(rows)] == "GFI1B").all()
    assert (real.obs["target"].iloc[len(rows) :] == lf.CONTROL_LABEL).all()
    np.testing.assert_array_equal(real.X[len(rows) :], screen.X[ntc])
    # a prediction far below the NTC mean is clipped at zero expression
    pred, _ = lf.cell_eval_pair(screen, rows, np.full((len(rows), 8), -100.0))
    assert pred.X[: len(rows)].max() == 0.0 and pred.X.min() == 0.0
    with pytest.raises(ValueError, match="cell-eval needs control cells and this screen has no NTC cells"):
        no_ntc = screen[screen.obs["kind"].astype(str) != "NTC"]
        lf.cell_eval_pair(no_ntc, np.arange(2), np.zeros((2, 8)))


def test_seed_spread():
    tables = {
        0: pd.DataFrame({"claim": ["a", "b"], "value": [1.0, 0.2]}),
        1: pd.DataFrame({"claim": ["a", "b"], "value": [3.0, 0.4]}),
        2: pd.DataFrame({"claim": ["a"], "value": [2.0]}),
    }
    spread = lf.seed_spread(tables, ["claim"]).set_index("claim")
    assert spread.loc["a"].tolist() == [2.0, 1.0, 3.0, 3]
    np.testing.assert_allclose(spread.loc["b", ["mean", "min", "max"]].to_numpy(float), [0.3, 0.2, 0.4])
    assert spread.loc["b", "n"] == 2


def test_mean_effect_log2fc_is_the_training_mean(tiny_screen):
    screen = tiny_screen(n_genes=8)
    train = (screen.obs["split"].astype(str) == "train").to_numpy()  # TSS and SNP training cells; not NTC, not test
    pred = lf.mean_effect_log2fc(screen, 3)
    assert pred.shape == (3, 8)
    np.testing.assert_allclose(pred, np.tile(screen.layers["log2fc"][train].mean(0), (3, 1)), rtol=1e-6)
    tss_only = lf.mean_effect_log2fc(screen, 1, kinds=("TSS",))
    tss = train & (screen.obs["kind"].astype(str) == "TSS").to_numpy()
    np.testing.assert_allclose(tss_only[0], screen.layers["log2fc"][tss].mean(0), rtol=1e-6)

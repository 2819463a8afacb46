"""cdt.analyses.cd52: knockdown pseudo-bulk vs numpy, gradients vs autograd, the side-effect rule, mRNA/protein
divergence and the planted-wiring comparison on hand-built tables."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import sklearn.metrics
import torch
from cdt.analyses import cd52 as a
from cdt.data.dnastore import DNAStore
from cdt.data.errors import ContractError
from cdt.evaluate import explicit_batch, ntc_mean_protein, predict
from cdt.gradients import protein_gradient_column
from cdt.models import CDT3
from cdt.models.cdt3 import CDT3Config
from cdt.published import CDT3_CD52
from cdt.reproduce import REPO_ROOT

N_GENES, N_BINS, DIM, N_PROT = 8, 8, 4, 6


@pytest.fixture
def data(tiny_screen, tiny_dna_store):
    screen = tiny_screen(n_genes=N_GENES, held_out=("GFI1B", "CD52"), cells_per_target=4, n_proteins=N_PROT)
    loci = sorted(set(screen.obs["locus"]) - {""})
    torch.manual_seed(0)
    model = CDT3(
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
    return screen, tiny_dna_store(loci, n_bins=N_BINS, dim=DIM), model


def _genes(names) -> pd.Series:
    return pd.Series([f"P{i}" for i in range(len(names))], index=pd.Index(names, name="protein"), name="gene")


def test_protein_genes(tiny_screen, tmp_path):
    screen = tiny_screen(n_proteins=3)
    screen.uns["protein_names"] = np.array(["ADT-0033", "ADT-9999", "CD81"])
    assert a.protein_genes(screen).tolist()[::2] == ["CD52", "CD81"]  # authors' ID mapped; symbol kept
    assert pd.isna(a.protein_genes(screen)["ADT-9999"])  # unknown ADT ID
    assert a.protein_genes(screen, {"ADT-9999": "GGT1"})["ADT-9999"] == "GGT1"
    pd.DataFrame({"morris_adt_id": ["ADT-9999"], "gene_symbol": ["B2M"]}).to_csv(tmp_path / "map.csv", index=False)
    assert a.protein_genes(screen, tmp_path / "map.csv")["ADT-9999"] == "B2M"
    pd.DataFrame({"id": ["x"]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ContractError, match="bad.csv: columns"):
        a.protein_genes(screen, tmp_path / "bad.csv")


def test_knockdown_prediction_matches_numpy(data):
    screen, store, model = data
    kp = a.knockdown_prediction(model, screen, store, "CD52", _genes(screen.uns["protein_names"]))
    rows = np.flatnonzero(screen.obs["perturbation"].to_numpy() == "CD52")
    pred = predict(model, screen, store, rows)
    np.testing.assert_allclose(kp.rna["actual"], screen.layers["log2fc"][rows].mean(0), rtol=1e-6)
    np.testing.assert_allclose(kp.rna["predicted"], pred.rna.mean(0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(kp.protein["predicted"], pred.protein.mean(0), rtol=1e-5, atol=1e-7)
    assert kp.scores["n_cells"] == len(rows) == 4
    assert kp.scores["rna_r"] == pytest.approx(np.corrcoef(kp.rna["predicted"], kp.rna["actual"])[0, 1], abs=1e-6)
    e = kp.protein[kp.protein["expressed"]]
    assert kp.scores["protein_r"] == pytest.approx(np.corrcoef(e["predicted"], e["actual"])[0, 1], abs=1e-6)
    assert kp.protein["gene"].tolist() == [f"P{i}" for i in range(N_PROT)]

    # control: the measured proteins hidden; the two-stage RNA head does not read proteins, the protein head does
    kc = a.knockdown_prediction(model, screen, store, "CD52", protein_input="ntc_mean")
    np.testing.assert_allclose(kc.rna["predicted"], kp.rna["predicted"], rtol=1e-5, atol=1e-7)
    assert not np.allclose(kc.protein["predicted"], kp.protein["predicted"])
    with DNAStore(store) as s, torch.no_grad():
        b = explicit_batch(model, s, "CD52", screen.X[rows], ntc_mean_protein(screen))
        want = model(b.dna, b.rna, b.protein, locus_index=b.locus_index).protein.numpy().mean(0)
    np.testing.assert_allclose(kc.protein["predicted"], want, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="protein_input"):
        a.knockdown_prediction(model, screen, store, "CD52", protein_input="zero")


def test_detectable_changes():
    protein = pd.DataFrame(
        {
            "protein": list("ABCDEF"),
            "gene": ["TFRC", "X", "Y", "Z", "W", "V"],
            "expressed": [True, True, True, True, False, True],
            "actual": [0.3, -0.5, 0.05, 0.2, 0.9, 0.15],
            "predicted": [0.1, -0.2, 0.4, 0.0, 0.5, -0.1],
        }
    )
    d, s = a.detectable_changes(protein)
    assert d["protein"].tolist() == ["B", "A", "D", "F"]  # expressed, |actual| > 0.1, largest first
    assert d["agree"].tolist() == [True, True, False, False]  # a zero prediction is a mismatch
    assert d["clinical"].tolist() == [False, True, False, False]
    assert (s["n_detectable"], s["n_agree"], s["n_up"], s["n_expressed"]) == (4, 2, 3, 5)
    assert s["n_agree_constant"] == 3  # "every protein rises" agrees on A, D and F


def test_protein_gradients_equal_autograd(data):
    screen, store, model = data
    g = a.protein_gradients(model, screen, store, "GFI1B", first_n=2, batch_size=1)
    j = int(screen.var_names.get_loc("GFI1B"))
    rows = np.flatnonzero(screen.obs["perturbation"].to_numpy() == "GFI1B")

    def grad_column(rna: np.ndarray, protein: np.ndarray) -> np.ndarray:  # [P] d protein_p / d rna[j]
        with DNAStore(store) as s:
            b = explicit_batch(model, s, "GFI1B", rna, protein)
        x = b.rna.clone().requires_grad_(True)
        out = model(b.dna, x, b.protein, locus_index=b.locus_index).protein[0]
        return np.array([torch.autograd.grad(out[p], x, retain_graph=True)[0][0, j].item() for p in range(N_PROT)])

    want_ntc = grad_column(screen.var["ntc_mean_expr"].to_numpy(), ntc_mean_protein(screen))
    want_cells = np.mean([grad_column(screen.X[r], screen.obsm["protein"][r]) for r in rows[:2]], axis=0)
    np.testing.assert_allclose(g.ntc_mean.to_numpy(), want_ntc, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(g.cells.to_numpy(), want_cells, rtol=1e-4, atol=1e-7)
    assert (g.n_cells, g.n_cells_total) == (2, 4)
    assert g.delta_x == pytest.approx(screen.X[rows, j].mean() - screen.var["ntc_mean_expr"].iloc[j])
    assert a.first_n_note(g, 2) == "the first 2 cells in file order (the authors' rule): 2 of the 4 GFI1B cells"
    with pytest.raises(ValueError, match="'CD52' is not an input gene"):
        a.protein_gradients(model, screen, store, "CD52")
    with pytest.raises(ValueError, match="at must be 'cells' or 'ntc_mean'"):
        protein_gradient_column(model, screen, store, "GFI1B", "GFI1B", at="tss_mean")


def _grads(ntc, cells, delta_x=-0.5) -> a.ProteinGradients:
    names = [f"p{i}" for i in range(len(ntc))]
    return a.ProteinGradients(
        gene="CD52",
        perturbation="CD52",
        ntc_mean=pd.Series(ntc, index=names),
        cells=pd.Series(cells, index=names),
        n_cells=3,
        n_cells_total=5,
        delta_x=delta_x,
    )


def test_gradient_concordance_matches_scipy():
    rng = np.random.default_rng(1)
    ntc = rng.normal(size=30)
    cells = ntc + rng.normal(scale=0.8, size=30)
    expressed = np.arange(30) % 3 == 0
    t = a.gradient_concordance(_grads(ntc, cells), expressed, top=5).set_index("proteins")
    assert t.loc["all", "r"] == pytest.approx(scipy.stats.pearsonr(ntc, cells).statistic)
    assert t.loc["expressed", "rho"] == pytest.approx(scipy.stats.spearmanr(ntc[expressed], cells[expressed]).statistic)
    assert t.loc["expressed", "n"] == 10
    assert t.loc["all", "n_same_direction"] == (np.sign(ntc) == np.sign(cells)).sum()
    top = np.argsort(-np.abs(ntc))[:5]
    assert t.loc["top5", "n_same_direction"] == (np.sign(ntc[top]) == np.sign(cells[top])).sum()


def _prediction(protein: pd.DataFrame, rna: pd.DataFrame | None = None) -> a.KnockdownPrediction:
    rna = pd.DataFrame({"gene": [], "actual": [], "predicted": []}) if rna is None else rna
    return a.KnockdownPrediction("CD52", np.array(["c0"]), rna, protein, {}, "measured")


def test_gradient_table_labels_and_first_order_direction():
    protein = pd.DataFrame(
        {
            "protein": ["p0", "p1", "p2"],
            "gene": ["FCGR2A", "B2M", "Q"],
            "expressed": [True, False, True],
            "actual": [0.4, -0.1, 0.0],
            "predicted": [0.3, -0.2, 0.1],
        }
    )
    g = _grads([0.02, -0.05, 0.001], [0.01, -0.04, 0.003], delta_x=-0.8)
    t = a.gradient_table(g, _prediction(protein), "ntc_mean", n=2)
    assert t["protein"].tolist() == ["p1", "p0"]  # by |gradient|
    assert t["code_label"].tolist() == ["down", "up"]  # the authors' rule
    assert t["first_order_direction"].tolist() == ["up", "down"]  # knockdown lowers the input
    np.testing.assert_allclose(t["first_order_change"], [0.04, -0.016])
    assert t["gradient_cells"].tolist() == [-0.04, 0.01]
    assert t["published_gradient"].tolist() == [-0.006, 0.059]
    assert a.gradient_table(g, _prediction(protein), "cells", n=3)["protein"].tolist() == ["p1", "p0", "p2"]


def test_side_effect_rule(tmp_path):
    path = tmp_path / "se.csv"
    pd.DataFrame(
        {
            "side_effect": ["A", "B", "C", "D", "E"],
            "incidence": ["1%"] * 5,
            "linked_genes": ["X;Y", "Y", "Z", "", "NOPE"],
            "linked_direction": ["up;down", "up", "down", "", "up"],
        }
    ).to_csv(path, index=False)
    effects = a.read_side_effects(path)
    protein = pd.DataFrame(
        {
            "protein": ["px", "py", "pz"],
            "gene": ["X", "Y", "Z"],
            "expressed": [True] * 3,
            "actual": [0.5, 0.2, -0.3],
            "predicted": [0.05, -0.3, 0.0],
        }
    )
    g = a.ProteinGradients(
        "CD52",
        "CD52",
        pd.Series([-0.1, 0.2, 0.3], index=["px", "py", "pz"]),
        pd.Series([0.0, 0.0, 0.0], index=["px", "py", "pz"]),
        1,
        1,
        delta_x=-1.0,
    )
    t, s = a.side_effect_table(effects, protein, g)
    t = t.set_index("side_effect")
    # A: X up (+0.05) and Y down (-0.3) both match; only Y exceeds 0.1; first-order X +0.1 up matches
    assert t.loc["A", "matching_proteins"] == "X, Y"
    assert t["recapitulated"].tolist() == [True, False, False, False, False]  # Z's zero prediction is no "down"
    assert t["recapitulated_detectable"].tolist() == [True, False, False, False, False]
    assert t["recapitulated_gradient"].tolist() == [True, False, True, False, False]  # Z: 0.3 x -1 -> down
    assert t.loc["D", "linked"] == "none" and "not on the panel" in t.loc["E", "predicted"]
    assert (s["n_side_effects"], s["n_linked"], s["n_recapitulated"], s["n_recapitulated_gradient"]) == (5, 4, 1, 2)

    pd.DataFrame(
        {"side_effect": ["A"], "incidence": ["1%"], "linked_genes": ["X;Y"], "linked_direction": ["up"]}
    ).to_csv(path, index=False)
    with pytest.raises(ContractError, match=r"se.csv: row 2 \(A\): 2 linked genes but 1 directions"):
        a.read_side_effects(path)
    pd.DataFrame(
        {"side_effect": ["A"], "incidence": ["1%"], "linked_genes": ["X"], "linked_direction": ["rise"]}
    ).to_csv(path, index=False)
    with pytest.raises(ContractError, match="not 'up'/'down'"):
        a.read_side_effects(path)


def test_curated_side_effect_table_is_covered_by_the_adt_map():
    effects = a.read_side_effects(REPO_ROOT / "data" / "alemtuzumab_side_effects.csv")
    assert len(effects) == CDT3_CD52["n_side_effects"]
    linked = {g for v in effects["linked_genes"] for g in a._split(v)}
    assert len(linked) == 8 and linked <= set(a.ADT_GENES.values())  # Table 3 is evaluable on the real panel


def test_mrna_protein_divergence():
    protein = pd.DataFrame(
        {
            "protein": ["pa", "pb", "pc", "pd", "pe"],
            "gene": ["A", "B", "C", "CD52", "E"],
            "expressed": [True, True, True, True, False],
            "actual": [0.5, -0.2, 0.3, 0.1, 0.4],
            "predicted": [0.2, -0.1, -0.1, 0.1, 0.3],
        }
    )
    rna = pd.DataFrame(
        {
            "gene": ["A", "B", "C", "CD52", "E"],
            "actual": [-0.1, -0.3, -0.2, -1.0, -0.5],
            "predicted": [-0.05, 0.1, -0.1, -0.8, -0.2],
        }
    )
    t, s = a.mrna_protein_divergence(_prediction(protein, rna))
    assert t["gene"].tolist() == ["A", "C", "B"]  # expressed, not CD52 itself, sorted by protein change
    assert t["opposite_measured"].tolist() == [True, True, False]
    assert t["both_correct"].tolist() == [True, False, False]
    assert (s["n_both_levels"], s["n_opposite"], s["n_opposite_both_correct"], s["n_mrna_correct"]) == (3, 2, 1, 2)


def test_truth_comparison(tmp_path):
    pd.DataFrame(
        {
            "protein": ["A", "B", "C", "CD52", "D", "B", "G", "G"],
            "gene": ["CD52", "CD52", "CD52", "CD52", "GFI1B", "B", "G", "CD52"],
            "weight": [-0.5, -0.5, 0.2, 0.8, -0.4, 1.0, 0.5, 0.1],
        }
    ).to_csv(tmp_path / "protein_wiring.csv", index=False)
    pd.DataFrame(
        {
            "source": ["CD52", "CD52", "GFI1B", "CD52"],
            "target": ["B", "G", "C", "H"],
            "sign": [1, -1, 1, 1],
            "weight": [0.2, -0.2, 0.9, 0.3],
        }
    ).to_csv(tmp_path / "network_edges.csv", index=False)
    links = a.planted_links(tmp_path, "CD52")
    # direct + own x RNA edge: B -0.5 + 1.0 x 0.2; G 0.1 + 0.5 x -0.2 = 0 (cancels: dropped); H has no protein
    assert links.round(6).to_dict() == {"A": -0.5, "B": -0.3, "C": 0.2, "CD52": 0.8}
    protein = pd.DataFrame(
        {
            "protein": list("ABCDEF"),
            "gene": list("ABCDEF"),
            "expressed": [True] * 5 + [False],
            "actual": [0.5, 0.3, -0.2, 0.0, 0.1, 0.0],
            "predicted": [0.4, -0.05, -0.3, 0.2, 0.0, 0.9],
        }
    )
    g = _grads([-0.3, 0.1, 0.2, 0.05, -0.01, 0.0], [0.0] * 6)
    g.ntc_mean.index = g.cells.index = list("ABCDEF")
    t, s = a.truth_comparison(_prediction(protein), links, g)
    assert (s["n_expressed"], s["n_planted"], s["n_predicted"], s["n_shared"]) == (5, 3, 3, 2)
    assert (s["precision"], s["recall"]) == (pytest.approx(2 / 3), pytest.approx(2 / 3))
    assert s["n_planted_direction_predicted"] == 2  # A up, C down; B predicted down although planted up
    assert s["n_planted_direction_measured"] == 3
    assert s["gradient_ntc_mean_sign_matches_weight"] == 2  # A -, C +
    # unplanted D (+), E (-): half of each sign, so 0.5 expected per planted protein
    assert s["gradient_ntc_mean_sign_matches_chance"] == pytest.approx(1.5)
    planted = np.isin(list("ABCDE"), ["A", "B", "C"])
    assert s["gradient_ntc_mean_auroc"] == pytest.approx(
        sklearn.metrics.roc_auc_score(planted, np.abs([-0.3, 0.1, 0.2, 0.05, -0.01]))
    )
    assert t.set_index("protein").loc["A", "planted_direction"] == "up"
    effects = pd.DataFrame(
        {"side_effect": ["s"], "incidence": ["1%"], "linked_genes": ["A;CD52;Z"], "linked_direction": ["up;down;up"]}
    )
    st = a.side_effect_truth(effects, links)
    assert st["planted_matches_listed"].tolist() == [True, True, False]


def test_ntc_mean_protein_skips_cells_without_protein(tiny_screen):
    screen = tiny_screen(n_proteins=3)
    want = ntc_mean_protein(screen)
    screen.obsm["protein"][:2] = 0.0  # e.g. the authors' SNP cells: no protein data, zeros in both matrices
    screen.obsm["protein_target"][:2] = 0.0
    screen.obs["has_protein"] = np.arange(screen.n_obs) >= 2
    np.testing.assert_allclose(ntc_mean_protein(screen), want)


# --- notebook 06 narrative and headline rows ---------------------------------------------------------------------------


def _rows(findings) -> dict:
    return {n["key"][2]: n for n in findings.numbers}


def test_adt_mapping_file_prefers_the_users_table(tmp_path):
    assert a.adt_mapping_file("", REPO_ROOT) == REPO_ROOT / "data/adt_gene_symbols.csv"
    assert a.adt_mapping_file(tmp_path, REPO_ROOT) == REPO_ROOT / "data/adt_gene_symbols.csv"  # none beside the data
    (tmp_path / "adt_mapping.csv").write_text("morris_adt_id,gene_symbol\n")
    assert a.adt_mapping_file(tmp_path, REPO_ROOT) == tmp_path / "adt_mapping.csv"


def test_readiness_says_why_a_section_is_skipped(tiny_screen):
    screen = tiny_screen(held_out=("CD52",), n_proteins=3)
    run = SimpleNamespace(run_dir=Path("/runs/cdt3-tiny"))
    genes = pd.Series(["A", np.nan, "C"], index=screen.uns["protein_names"])
    ok, text = a.readiness(screen, run, genes, source_label="synthetic (tiny, seed 0)", protocol="paper")
    assert ok and text == (
        "Data: **synthetic (tiny, seed 0)**, protocol **paper**, CDT-III run `cdt3-tiny`. "
        "2 of 3 proteins have a known gene symbol."
    )
    assert a.readiness(screen, None, genes, source_label="x", protocol="paper") == (
        False,
        "**Skipped:** no CDT-III weights; every section below is skipped.",
    )
    assert a.readiness(screen, run, genes, source_label="x", protocol="paper", perturbation="TFRC")[1].startswith(
        "**Skipped:** no TFRC cells in the screen"
    )
    del screen.uns["protein_names"]
    assert "the screen has no proteins" in a.readiness(screen, run, None, source_label="x", protocol="paper")[1]


def test_knockdown_findings_rows_and_sentence():
    scores = {"n_cells": 12, "n_genes": 40, "n_expressed": 5, "rna_r": 0.5, "protein_r": 0.9}
    kp = a.KnockdownPrediction("CD52", np.array([]), pd.DataFrame(), pd.DataFrame(), dict(scores), "measured")
    kc = a.KnockdownPrediction("CD52", np.array([]), pd.DataFrame(), pd.DataFrame(), {"protein_r": 0.25}, "ntc_mean")
    f = a.knockdown_findings(kp, kc)
    assert [n["value"] for n in f.numbers] == [0.5, 0.9, 0.25]  # no self-knockdown row without CD52 among the genes
    assert f.numbers[0]["note"] == "40 genes, 12 cells (published 2,361 genes, 131 cells)"
    assert "RNA pseudo-bulk r = **0.500** over 40 genes (published 0.748)" in f.text
    assert "protein r is **0.250**" in f.text and "own log2FC" not in f.text
    kp.scores.update(self_kd_r=0.8, self_predicted=-0.1, self_actual=-0.2)
    rows = _rows(a.knockdown_findings(kp, kc))
    row = rows["CD52 self-knockdown r across cells"]
    assert row["value"] == 0.8
    assert row["note"] == "mean predicted -0.100 vs actual -0.200 (published -0.136 vs -0.172)"


def test_detectable_findings_counts_from_detectable_changes():
    protein = pd.DataFrame(
        {
            "protein": list("ABCD"),
            "gene": list("ABCD"),
            "expressed": [True, True, True, False],
            "actual": [0.3, -0.5, 0.2, 0.9],
            "predicted": [0.1, 0.2, 0.3, 0.5],
        }
    )
    ds = a.detectable_changes(protein)[1]
    dc = a.detectable_changes(protein.assign(predicted=-protein["predicted"]))[1]
    rows = _rows(a.detectable_findings(ds, dc))
    assert rows["direction agreement (count)"]["value"] == 2  # A and C; B has the wrong sign
    assert rows["direction agreement (count)"]["note"] == "of 3 detectable (published 29/29)"
    assert rows["direction agreement, protein input = NTC mean"]["value"] == 1  # only B once every sign flips
    assert rows["direction agreement of a constant majority-sign prediction"]["value"] == 2
    assert rows["detectable proteins (|measured change| > 0.1)"]["note"] == "of 3 expressed (published 65)"


def test_concordance_findings_reads_the_table():
    ntc = np.array([0.5, -0.2, 0.1, 0.3])
    grads = _grads(ntc, np.array([0.4, 0.1, 0.2, 0.2]))
    conc = a.gradient_concordance(grads, np.array([True, True, True, False]))
    f = a.concordance_findings(conc, grads, first_n=3)
    rows = {n["key"][2]: n for n in f.numbers}
    assert rows["gradient same direction, all proteins"]["value"] == 0.75
    assert rows["gradient same direction, all proteins"]["note"] == "3/4"
    assert rows["gradient r NTC-mean vs cells, all proteins"]["value"] == pytest.approx(
        scipy.stats.pearsonr(ntc, [0.4, 0.1, 0.2, 0.2]).statistic
    )
    assert rows["same direction, top 20 by |NTC-mean gradient|"]["value"] == 0.75
    assert "the first 3 cells in file order (the authors' rule): 3 of the 5 CD52 cells" in f.text
    assert "(published 63/65)" in f.text and "(published 145/189)" in f.text


def test_gradient_top_findings():
    protein = pd.DataFrame(
        {
            "protein": ["p0", "p1"],
            "gene": ["FCGR2A", "Q"],
            "expressed": [True, True],
            "actual": [0.1, 0],
            "predicted": [0, 0],
        }
    )
    grads = _grads([0.02, -0.05], [0.01, -0.04], delta_x=-0.8)
    t8 = a.gradient_table(grads, _prediction(protein), "ntc_mean", n=2)
    f = a.gradient_top_findings(t8, grads)
    assert [n["value"] for n in f.numbers] == ["p1 -0.05", 0.02, 2, 1]
    assert "In 2 of 2 rows" in f.text and "every row, because the knockdown lowers the input" in f.text


def test_side_effect_and_divergence_findings():
    ss = {"n_side_effects": 7, "n_linked": 6, "n_recapitulated": 4, "n_recapitulated_detectable": 2}
    f = a.side_effect_findings({**ss, "n_recapitulated_gradient": 3}, "/x/se.csv")
    assert [n["value"] for n in f.numbers] == [4, 2, 3]
    assert f.numbers[0]["note"] == "of 7 (6 with a linked protein; published 5/7); file se.csv"
    s6 = dict(n_both_levels=3, n_opposite=2, n_both_correct=1, n_opposite_both_correct=1)
    s6 |= dict(n_mrna_correct=2, n_protein_correct=2, n_opposite_predicted=1)
    f6 = a.divergence_findings(s6, pd.Series(["A", np.nan]))
    assert [n["value"] for n in f6.numbers] == [3, 2, 1]
    assert f6.numbers[0]["note"] == "only proteins with a known gene symbol can be matched"
    assert f6.numbers[1]["note"] == "of 3 (published 13/16)"


def test_wiring_findings_without_predicted_proteins():
    ts = dict(n_expressed=6, n_planted=2, n_predicted=0, n_shared=0, precision=np.nan, recall=0.0)
    ts |= dict(n_planted_direction_predicted=1, n_planted_direction_measured=2)
    ts |= dict(gradient_ntc_mean_sign_matches_weight=1, gradient_ntc_mean_sign_matches_chance=1.0)
    ts |= dict(gradient_ntc_mean_auroc=0.75)
    f = a.wiring_findings(ts, {"n_planted_direction_predicted": 0})
    assert f.numbers[0]["note"] == "0/2 planted, 0 predicted; no protein predicted, no precision"
    assert f.numbers[1]["note"] == "of 2 (measured: 2; NTC-mean protein input: 0)"
    assert f.numbers[2]["note"] == "of 2 (chance 1.0); AUROC of |gradient| 0.75"

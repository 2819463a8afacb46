"""The screen half of the simulator: layout, determinism, and that the planted truth is visible in the data with
simple statistics (no model)."""

from __future__ import annotations

import filecmp
import json
import re
import sys
import types
from pathlib import Path

import anndata as ad
import gseapy
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from cdt.cli import app
from cdt.config import HELD_OUT_GENES, get_preset
from cdt.data.dnastore import DNAStore
from cdt.data.screen import read_screen
from cdt.pp.guides import assign_guides
from cdt.simulate import simulate_screen
from cdt.simulate.proteins import CD52_RESPONDERS
from cdt.simulate.screen import CPM_SCALE, PUBLISHED_CELLS, target_cell_counts, target_tss
from scipy.stats import hypergeom
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

LAYOUT = [
    "manifest.json",
    "raw/rna_counts.h5ad",
    "raw/guide_umis.csv",
    "raw/snp_assignments.csv",
    "raw/adt_counts.h5ad",
    "raw/screen2_detection.csv",
    "processed/screen_curated.h5ad",
    "processed/screen_full.h5ad",
    "processed/dna.h5",
    "external/side_effects.csv",
    "external/genesets/GO_Molecular_Function_2023.gmt",
    "truth/network_edges.csv",
    "truth/modules.csv",
    "truth/protein_wiring.csv",
    "truth/planted_terms.csv",
    "truth/genes.csv",
    "truth/loci.csv",
    "truth/elements.csv",
    "truth/loops.csv",
    "v1/pairs.csv",
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The whole simulation (genome half and CDT v1 included), through the CLI."""
    out = tmp_path_factory.mktemp("sim") / "tiny"
    res = CliRunner().invoke(app, ["simulate", "--preset", "tiny", "--seed", "0", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "log2FC TSS mean / SD" in res.output
    return out


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    """The screen half at the mini preset (big enough for the statistics to be clear)."""
    out = tmp_path_factory.mktemp("sim") / "mini"
    manifest, _, _ = simulate_screen("mini", 0, out)
    return out, manifest


def _obs(screen: ad.AnnData, col: str) -> np.ndarray:
    return screen.obs[col].astype(str).to_numpy()


def test_layout_manifest_and_readers(tiny):
    for rel in LAYOUT:
        assert (tiny / rel).is_file(), rel
    manifest = json.loads((tiny / "manifest.json").read_text())
    assert manifest["preset"] == "tiny" and manifest["seed"] == 0 and manifest["cpm_scale"] == CPM_SCALE
    assert set(LAYOUT) - {"manifest.json"} <= set(manifest["files"])

    rna = ad.read_h5ad(tiny / "raw" / "rna_counts.h5ad")
    assert rna.X.format == "csr" and np.issubdtype(rna.X.dtype, np.integer)
    assert {"MT-CO1", "RPL3", "HBG1", "GFI1B", "CD52", "TFRC", "CD44", "TNFSF9"} <= set(rna.var_names)
    adt = ad.read_h5ad(tiny / "raw" / "adt_counts.h5ad")
    assert adt.var["isotype"].sum() == 4 and (~adt.var["isotype"]).sum() == get_preset("tiny").n_proteins
    assert adt.obs["is_cell"].sum() == rna.n_obs and (~adt.obs["is_cell"]).sum() > 0  # empty droplets for DSB
    assert set(rna.obs_names) == set(adt.obs_names[adt.obs["is_cell"]])

    with DNAStore(tiny / "processed" / "dna.h5") as store:
        for name in ("curated", "full"):
            screen = read_screen(tiny / "processed" / f"screen_{name}.h5ad", dna_store=store)  # validates
            assert "protein" in screen.obsm
        assert "CD55" in store  # a locus without cells, as in the published data
    loci = pd.read_csv(tiny / "truth" / "loci.csv")
    assert loci["locus_id"].tolist()[:28] == target_tss()["gene_name"].tolist()  # TSS loci first, in table order
    tss = loci[loci["kind"] == "TSS"].set_index("locus_id")
    assert tss.loc["GFI1B", ["chrom", "center"]].tolist() == ["chr9", 132944000]
    assert len(loci) == 28 + get_preset("tiny").n_snp_loci


def test_gene_sets_and_side_effects_parse(tiny):
    planted = pd.read_csv(tiny / "truth" / "planted_terms.csv")
    modules = pd.read_csv(tiny / "truth" / "modules.csv")
    rna_module = set(modules.loc[(modules["module"] == "rna_processing") & (modules["role"] == "member"), "gene"])
    for library, terms in planted.groupby("library"):
        gmt = gseapy.read_gmt(str(tiny / "external" / "genesets" / f"{library}.gmt"))
        assert set(gmt) == set(terms["term"]), library
    mf = gseapy.read_gmt(str(tiny / "external" / "genesets" / "GO_Molecular_Function_2023.gmt"))
    term = set(mf["RNA Binding (GO:0003723)"])
    assert len(term & rna_module) >= 0.8 * len(rna_module) - 1
    decoys = planted[planted["module"] == "decoy"]
    assert len(decoys) > 0 and (planted["module"] == "rna_processing").sum() >= 5
    side = pd.read_csv(tiny / "external" / "side_effects.csv")
    assert list(side.columns) == ["side_effect", "incidence", "linked_genes", "linked_direction", "literature", "note"]
    infusion = side.set_index("side_effect").loc["infusion reaction"]
    assert infusion["linked_genes"] == "ICAM1;ITGB1" and infusion["linked_direction"] == "up;up"


def test_same_seed_same_arrays(tiny, tmp_path):
    again, other = tmp_path / "again", tmp_path / "other"
    simulate_screen("tiny", 0, again)
    simulate_screen("tiny", 1, other)
    for rel in ("raw/rna_counts.h5ad", "raw/adt_counts.h5ad"):
        a, b, c = (ad.read_h5ad(d / rel) for d in (tiny, again, other))
        assert a.obs_names.equals(b.obs_names) and a.var_names.equals(b.var_names)
        assert (a.X != b.X).nnz == 0 if hasattr(a.X, "nnz") else np.array_equal(a.X, b.X)
        assert not a.obs_names.equals(c.obs_names)
    for rel in ("processed/screen_curated.h5ad", "processed/screen_full.h5ad"):
        a, b = ad.read_h5ad(tiny / rel), ad.read_h5ad(again / rel)
        assert np.array_equal(a.X, b.X) and np.array_equal(a.layers["log2fc"], b.layers["log2fc"])
        assert np.array_equal(a.obsm["protein"], b.obsm["protein"])
        # byte-identical in another directory, so training runs (named by content hashes) are reused
        assert filecmp.cmp(tiny / rel, again / rel, shallow=False), rel
    for rel in ("raw/guide_umis.csv", "truth/network_edges.csv", "truth/protein_wiring.csv", "truth/cells.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(tiny / rel), pd.read_csv(again / rel))


def test_guides_need_the_assignment_rule(tiny):
    guides = pd.read_csv(tiny / "raw" / "guide_umis.csv")
    per_target = guides.groupby(["barcode", "target"])["umi"].sum()
    strong = (per_target >= 50).groupby("barcode").sum()
    assert (strong >= 2).sum() > 0  # multiplets
    assert ((strong == 0) & guides.groupby("barcode")["umi"].max().lt(50).reindex(strong.index)).sum() > 0
    assert (guides.groupby("barcode")["target"].nunique() > 1).mean() > 0.3  # ambient background guides
    assert set(guides.loc[guides["target"].str.startswith("NTC"), "target"]) == {"NTC"}

    truth = pd.read_csv(tiny / "truth" / "cells.csv", index_col="barcode")
    snp = pd.read_csv(tiny / "raw" / "snp_assignments.csv")
    got = assign_guides(guides, truth.index, snp_assignments=snp.set_index("barcode")["locus"])
    assert (got.loc[truth["category"] == "multiplet", "status"] == "multiplet").all()
    assert (got.loc[truth["category"].isin(["subthreshold", "no_guide"]), "status"] == "unassigned").all()
    kept = truth["category"].isin(["TSS", "SNP", "NTC"])
    assert (got.loc[kept, "perturbation"] == truth.loc[kept, "perturbations"]).all()
    # some given SNP cells would fail the UMI >= 50 rule: the published SNP calls are needed
    snp_umi = per_target.reset_index().merge(snp, left_on=["barcode", "target"], right_on=["barcode", "locus"])
    assert (snp_umi["umi"] < 50).any()


def test_processed_screen_values_splits_and_genes(tiny):
    screen = read_screen(tiny / "processed" / "screen_curated.h5ad")
    manifest = json.loads((tiny / "manifest.json").read_text())
    kind, pert, split = _obs(screen, "kind"), _obs(screen, "perturbation"), _obs(screen, "split")
    assert sorted(set(pert[split == "test"])) == sorted(HELD_OUT_GENES)
    assert sorted(set(pert[split == "val"])) == sorted(manifest["val_genes"]) and len(manifest["val_genes"]) == 3
    assert set(split[kind == "NTC"]) == {"none"} and set(split[kind == "SNP"]) == {"train"}
    assert "CD55" not in set(pert)
    counts = pd.Series(pert[kind == "TSS"]).value_counts()
    assert counts.to_dict() == target_cell_counts(get_preset("tiny"))
    # genes: GFI1B appended last, the held-out targets outside the published list are absent
    genes = screen.var_names.tolist()
    assert genes[-1] == "GFI1B" and "CD52" in genes and not {"TFRC", "CD44", "TNFSF9"} & set(genes)
    full = ad.read_h5ad(tiny / "processed" / "screen_full.h5ad")
    assert set(genes) <= set(full.var_names) and full.n_vars == 2 * len(genes)
    assert not any(g.startswith(("MT-", "RPL", "RPS", "HB")) for g in full.var_names)
    # values: ln(CPM + 1) and CDT-II eq. 1 from the raw counts, CPM over the full matrix
    raw = ad.read_h5ad(tiny / "raw" / "rna_counts.h5ad")[screen.obs_names]
    x = raw.X.toarray().astype(float)
    cpm = (x / x.sum(axis=1, keepdims=True) * CPM_SCALE)[:, raw.var_names.get_indexer(genes)]
    assert np.allclose(screen.X, np.log1p(cpm), atol=1e-5)
    ntc_mean = cpm[kind == "NTC"].mean(axis=0)
    assert np.allclose(screen.layers["log2fc"], np.log2((cpm + 1) / (ntc_mean + 1)), atol=1e-5)


def test_mini_statistics_are_near_the_published_screen(mini):
    _, manifest = mini
    s = manifest["summary"]
    assert abs(s["log2fc_tss"]["mean"] - (-0.0393)) < 0.03 and abs(s["log2fc_tss"]["sd"] - 0.3175) < 0.06
    assert 0.2 < s["nonzero_per_cell"]["fraction"] < 0.36
    preset = get_preset("mini")
    assert s["cells"]["NTC"] == preset.n_ntc_cells and s["genes"]["curated"] == preset.n_genes
    assert s["cells_per_target"]["mean"] == pytest.approx(preset.cells_per_target, rel=0.1)
    assert target_cell_counts(get_preset("paper")) == PUBLISHED_CELLS  # the paper preset: published counts


def test_gfi1b_targets_rank_above_non_targets(mini):
    out, _ = mini
    screen = ad.read_h5ad(out / "processed" / "screen_curated.h5ad")
    edges = pd.read_csv(out / "truth" / "network_edges.csv")
    downstream = nx.descendants(nx.DiGraph(list(zip(edges["source"], edges["target"], strict=True))), "GFI1B")
    pert, kind = _obs(screen, "perturbation"), _obs(screen, "kind")
    lfc = np.asarray(screen.layers["log2fc"])
    effect = np.abs(lfc[pert == "GFI1B"].mean(axis=0) - lfc[kind == "NTC"].mean(axis=0))
    genes = screen.var_names != "GFI1B"
    is_target = np.isin(screen.var_names, list(downstream))
    assert is_target.sum() >= 30
    assert roc_auc_score(is_target[genes], effect[genes]) > 0.9

    # the confounder: cell-state genes co-vary with GFI1B in NTC cells but do not respond to its knockdown
    modules = pd.read_csv(out / "truth" / "modules.csv")
    state = np.isin(screen.var_names, modules.loc[modules["module"] == "state_erythroid", "gene"]) & genes
    x = np.asarray(screen.X)[kind == "NTC"]
    r = np.array([np.corrcoef(x[:, -1], x[:, j])[0, 1] for j in range(screen.n_vars - 1)] + [1.0])
    assert r[state].mean() > r[is_target].mean() + 0.05
    assert effect[state].mean() < 0.5 * effect[is_target].mean()


def test_curated_beats_full_for_the_mean_effect_baseline(mini):
    """Mean training effect vs each held-out target's effect (each against its own half of the NTC cells)."""
    out, _ = mini

    def score(path) -> float:
        s = ad.read_h5ad(path)
        lfc, split, kind, pert = (
            np.asarray(s.layers["log2fc"]),
            _obs(s, "split"),
            _obs(s, "kind"),
            _obs(s, "perturbation"),
        )
        ntc = np.flatnonzero(kind == "NTC")
        pred = lfc[(split == "train") & (kind == "TSS")].mean(axis=0) - lfc[ntc[::2]].mean(axis=0)
        base = lfc[ntc[1::2]].mean(axis=0)
        return float(np.mean([np.corrcoef(pred, lfc[pert == g].mean(axis=0) - base)[0, 1] for g in HELD_OUT_GENES]))

    curated, full = score(out / "processed" / "screen_curated.h5ad"), score(out / "processed" / "screen_full.h5ad")
    assert curated > 0.25 and curated > full + 0.1


def test_effects_depend_on_the_locus(mini):
    out, _ = mini
    s = ad.read_h5ad(out / "processed" / "screen_curated.h5ad")
    lfc, kind, pert = np.asarray(s.layers["log2fc"]), _obs(s, "kind"), _obs(s, "perturbation")
    ntc = lfc[kind == "NTC"].mean(axis=0)
    counts = pd.Series(pert[kind == "TSS"]).value_counts()
    halves = {}
    for t in counts.index[counts >= 40]:
        idx = np.flatnonzero(pert == t)
        halves[t] = (lfc[idx[::2]].mean(axis=0) - ntc, lfc[idx[1::2]].mean(axis=0) - ntc)
    same = np.mean([np.corrcoef(a, b)[0, 1] for a, b in halves.values()])
    names = list(halves)
    other = np.mean(
        [np.corrcoef(halves[t][0], halves[u][1])[0, 1] for i, t in enumerate(names) for u in names[i + 1 :]]
    )
    assert len(names) >= 10 and same > other + 0.15

    # SNP loci: the cis gene drops where the locus has an effect, not where it is null
    loci = pd.read_csv(out / "truth" / "loci.csv")
    snp = loci[(loci["kind"] == "SNP") & loci["locus_id"].isin(pert)]
    cis = np.array(
        [
            lfc[pert == r.locus_id, s.var_names.get_loc(r.gene)].mean() - ntc[s.var_names.get_loc(r.gene)]
            for r in snp.itertuples()
        ]
    )
    active = snp["cis_effect"].to_numpy() > 0
    assert active.sum() >= 10 and (~active).sum() >= 5
    assert cis[active].mean() < cis[~active].mean() - 0.03


def test_proteins_and_the_cd52_analysis(mini):
    out, manifest = mini
    s = ad.read_h5ad(out / "processed" / "screen_curated.h5ad")
    preset = get_preset("mini")
    expressed = np.asarray(s.uns["protein_expressed"], dtype=bool)
    names = np.asarray(s.uns["protein_names"], dtype=str)
    assert len(names) == preset.n_proteins and expressed.sum() == preset.n_expressed_proteins
    assert "CD52" in names and not expressed[list(names).index("CD52")]

    cd52 = _obs(s, "perturbation") == "CD52"
    prot = np.asarray(s.obsm["protein_target"])[cd52].mean(axis=0)
    assert sum(prot[list(names).index(p)] > 0.1 for p in CD52_RESPONDERS) >= 5
    both = [p for p, e in zip(names, expressed, strict=True) if e and p in s.var_names and p != "CD52"]
    rna = np.asarray(s[cd52, both].layers["log2fc"]).mean(axis=0)
    opposite = np.sign(rna) != np.sign(prot[[list(names).index(p) for p in both]])
    assert 12 <= len(both) <= 20 and opposite.mean() >= 0.6
    assert manifest["summary"]["proteins"]["cd52"]["n_opposite"] == opposite.sum()

    wiring = pd.read_csv(out / "truth" / "protein_wiring.csv")
    comp = wiring[(wiring["gene"] == "CD52") & (wiring["protein"] != "CD52")]  # the hub's compensatory links
    assert (comp["weight"] < 0).all() and len(comp) >= 0.3 * preset.n_expressed_proteins
    # compensated proteins rise more than the others after CD52 knockdown (hypergeometric on the top 20)
    top = set(names[expressed][np.argsort(-prot[expressed])[:20]])
    k = len(top & set(comp["protein"]))
    assert hypergeom.sf(k - 1, expressed.sum(), len(set(comp["protein"]) & set(names[expressed])), 20) < 1e-3


def test_bad_presets_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        simulate_screen("huge", 0, tmp_path)
    with pytest.raises(ValueError, match="n_genes=40 is too small"):
        simulate_screen(get_preset("tiny").with_(n_genes=40), 0, tmp_path)


def test_tss_targets_match_the_authors_table():
    """The embedded coordinates equal the authors' morris_28genes_tss.csv (tests/data)."""
    ref = Path(__file__).parent / "data" / "morris_28genes_tss.csv"
    ours = target_tss()
    theirs = pd.read_csv(ref)[["gene_name", "chrom", "tss", "strand"]]
    pd.testing.assert_frame_equal(ours, theirs, check_dtype=False)


def test_stage_log_in_a_notebook_kernel_is_one_plain_stdout_line(monkeypatch, capsys):
    from cdt.simulate import _Log

    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    log = _Log(progress=True)
    log.done("raw", "written under /a/very/long/path/" + "x" * 120)
    out, err = capsys.readouterr()
    assert err == "" and out.count("\n") == 1  # not wrapped at 80 columns, not on stderr (a red box in Jupyter)
    assert re.fullmatch(
        r"\[\d\d:\d\d:\d\d\] simulate \| raw: written under /a/very/long/path/x{120} \(\d\.\d s\)\n", out
    )
    _Log(progress=False).done("raw")
    assert capsys.readouterr() == ("", "")

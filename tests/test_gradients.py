"""Jacobians (torch.func, batched, chunked) vs autograd loops with one backward per output; NTC-mean inputs;
CDT-III protein x gene Jacobians; CDT v1 DNA-position gradient norms; in-silico knockdown; errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.stats
import torch
from cdt.evaluate import observed_profile
from cdt.gradients import (
    gene_jacobian,
    importance_vs_effect,
    in_silico_knockdown,
    jacobian,
    protein_gradient_column,
    protein_jacobian,
    v1_dna_gradient_norms,
)
from cdt.models import CDT1, CDT3, CDT1Config
from small_models import DIM, N_BINS, N_GENES, N_PROT, TINY, small_cdt2, small_cdt3, small_screen_and_store


@pytest.fixture
def data(tiny_screen, tiny_dna_store):
    screen, store = small_screen_and_store(tiny_screen, tiny_dna_store, seed=2)
    yield screen, store
    store.close()


def loop_jacobian(
    model, dna: np.ndarray, rna: np.ndarray, protein: np.ndarray | None, outputs: list[int], output: str = "rna"
) -> np.ndarray:
    """Reference: one cell, its own DNA, one backward per output -> [O, G]."""
    x = torch.from_numpy(rna.astype(np.float32))[None].requires_grad_(True)
    args = [torch.from_numpy(dna)[None], x]
    if protein is not None:
        args.append(torch.from_numpy(protein.astype(np.float32))[None])
    out = model(*args)
    y = (out.rna if output == "rna" else out.protein)[0]
    rows = [torch.autograd.grad(y[o], x, retain_graph=True)[0][0].double().numpy() for o in outputs]
    return np.stack(rows)


def assert_close(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6 * np.abs(b).max())


@pytest.mark.parametrize("make_model", [small_cdt2, small_cdt3])
def test_gene_jacobian_equals_autograd_loop(data, make_model):
    screen, store = data
    model = make_model()
    outputs = ["GFI1B", "G0", "G3", "G8", "G5"]
    out_idx = [list(screen.var_names).index(g) for g in outputs]
    rows = np.flatnonzero(screen.obs["split"] == "test")  # CD52 and GFI1B cells: batches mix the two loci
    prot = isinstance(model, CDT3)
    ref = np.stack(
        [
            loop_jacobian(
                model,
                store[screen.obs["locus"].iloc[r]],
                np.asarray(screen.X[r]),
                np.asarray(screen.obsm["protein"][r]) if prot else None,
                out_idx,
            )
            for r in rows
        ]
    )
    got = gene_jacobian(model, screen, store, None, outputs=outputs, batch_size=3, chunk_size=2)
    assert (
        got.mean.shape == (5, N_GENES) and list(got.outputs) == outputs and list(got.inputs) == list(screen.var_names)
    )
    assert_close(got.mean, ref.mean(0))
    assert_close(got.mean_abs, np.abs(ref).mean(0))
    assert not np.allclose(got.mean_abs, np.abs(got.mean))  # signs differ across cells: the two means differ
    np.testing.assert_allclose(got.importance().to_numpy(), got.mean_abs.mean(0))
    assert list(got.cells) == list(screen.obs_names[rows]) and got.meta["n_cells"] == len(rows)


def test_ntc_mean_input_with_locus_dna(data):
    screen, store = data
    model = small_cdt2()
    ref = loop_jacobian(model, store["GFI1B"], screen.var["ntc_mean_expr"].to_numpy(), None, list(range(N_GENES)))
    got = gene_jacobian(model, screen, store, "GFI1B", at="ntc_mean")  # the locus of GFI1B's cells
    assert got.meta["locus"] == "GFI1B" and list(got.cells) == ["ntc_mean"]
    assert_close(got.mean, ref)
    np.testing.assert_allclose(got.mean_abs, np.abs(got.mean))  # one input: mean |J| = |J|
    other = gene_jacobian(model, screen, store, at="ntc_mean", locus="CD58", outputs=[0, 9])
    assert_close(other.mean, loop_jacobian(model, store["CD58"], screen.var["ntc_mean_expr"].to_numpy(), None, [0, 9]))


def test_protein_jacobian_cells_and_ntc_mean(data):
    screen, store = data
    model = small_cdt3()
    rows = np.flatnonzero(screen.obs["perturbation"] == "CD52")[:3]
    outputs = list(range(N_PROT))
    ref = np.stack(
        [
            loop_jacobian(
                model, store["CD52"], np.asarray(screen.X[r]), np.asarray(screen.obsm["protein"][r]), outputs, "protein"
            )
            for r in rows
        ]
    )
    got = protein_jacobian(model, screen, store, "CD52", first_n=3, batch_size=2, chunk_size=4)
    assert list(got.outputs) == list(screen.uns["protein_names"])
    assert_close(got.mean, ref.mean(0))
    col = got.column("GFI1B")  # d protein / d GFI1B RNA, every protein
    np.testing.assert_allclose(col.to_numpy(), got.mean[:, -1])
    # NTC-mean input: the NTC mean of the proteins (mean DSB of the NTC cells)
    ntc = (screen.obs["kind"] == "NTC").to_numpy()
    ntc_protein = np.asarray(screen.obsm["protein"])[ntc].mean(0)
    ref_ntc = loop_jacobian(
        model, store["CD52"], screen.var["ntc_mean_expr"].to_numpy(), ntc_protein, outputs, "protein"
    )
    assert_close(protein_jacobian(model, screen, store, "CD52", at="ntc_mean").mean, ref_ntc)


def test_importance_vs_effect_matches_scipy(data):
    screen, store = data
    jac = gene_jacobian(small_cdt2(), screen, store, "GFI1B", at="ntc_mean")
    effect = observed_profile(screen, "GFI1B")
    got = importance_vs_effect(jac, effect)
    gi = jac.mean_abs.mean(0)
    assert got["r"] == pytest.approx(scipy.stats.pearsonr(gi, effect.abs()).statistic)
    assert got["rho"] == pytest.approx(scipy.stats.spearmanr(gi, effect.abs()).statistic)
    with pytest.raises(ValueError, match="lacks 1 of the Jacobian's input genes"):
        importance_vs_effect(jac, effect.iloc[1:])


def test_v1_dna_gradient_norms_equal_per_sample_backward():
    torch.manual_seed(0)
    cfg = dataclasses.replace(CDT1Config.from_preset(TINY), n_genes=12, n_bins=N_BINS, dna_dim=DIM)
    model = CDT1(cfg).eval()
    rng = np.random.default_rng(0)
    dna = rng.normal(size=(5, N_BINS, DIM)).astype(np.float32)
    target = np.array([3, 0, 11, 3, 7])
    r_emb = torch.from_numpy(rng.normal(size=(12, cfg.rna_emb_dim)).astype(np.float32))
    p_emb = torch.from_numpy(rng.normal(size=(12, cfg.prot_emb_dim)).astype(np.float32))
    got = v1_dna_gradient_norms(model, dna, target, r_emb, p_emb, batch_size=2)
    assert got.shape == (5, N_BINS)
    for i in range(5):
        x = torch.from_numpy(dna[i : i + 1]).requires_grad_(True)
        model(x, r_emb, p_emb, torch.tensor([target[i]])).value[0].backward()
        np.testing.assert_allclose(got[i], np.linalg.norm(x.grad[0].numpy(), axis=-1), rtol=1e-4)


def test_in_silico_knockdown(data):
    screen, store = data
    model = small_cdt2()
    kd = in_silico_knockdown(model, screen, store, "GFI1B")
    tss = (screen.obs["kind"] == "TSS").to_numpy()
    x = np.asarray(screen.X)[tss].mean(0)
    x_kd = x.copy()
    x_kd[-1] = 0.0  # GFI1B is the last gene
    with torch.no_grad():
        dna = torch.from_numpy(store["GFI1B"])[None].expand(2, -1, -1)
        ref = model(dna, torch.from_numpy(np.stack([x, x_kd]).astype(np.float32))).rna.double().numpy()
    np.testing.assert_allclose(kd.baseline.to_numpy(), ref[0], rtol=1e-5)
    np.testing.assert_allclose(kd.knockdown.to_numpy(), ref[1], rtol=1e-5)
    observed = np.asarray(screen.layers["log2fc"])[(screen.obs["perturbation"] == "GFI1B").to_numpy()].mean(0)
    np.testing.assert_allclose(kd.observed.to_numpy(), observed, rtol=1e-6)
    assert kd.r == pytest.approx(scipy.stats.pearsonr(ref[1] - ref[0], observed).statistic, rel=1e-4)
    assert kd.locus == "GFI1B" and kd.delta.abs().max() > 0
    unchanged = in_silico_knockdown(model, screen, store, "GFI1B", fraction=1.0, baseline="ntc_mean")
    np.testing.assert_array_equal(unchanged.delta.to_numpy(), 0.0)
    assert np.isnan(unchanged.r) and np.isnan(unchanged.rho)
    kd3 = in_silico_knockdown(small_cdt3(), screen, store, "GFI1B", baseline="ntc_mean")
    assert np.isfinite(kd3.r) and kd3.delta.abs().max() > 0
    with pytest.raises(ValueError, match="'CD58' is not an input gene"):
        in_silico_knockdown(model, screen, store, "CD58")


def test_errors(data):
    screen, store = data
    with pytest.raises(TypeError, match="protein Jacobians need a CDT3 model"):
        protein_jacobian(small_cdt2(), screen, store, "GFI1B")
    with pytest.raises(ValueError, match="at='ntc_mean' needs locus="):
        gene_jacobian(small_cdt2(), screen, store, at="ntc_mean")
    with pytest.raises(ValueError, match="2 outputs are not genes of the screen"):
        gene_jacobian(small_cdt2(), screen, store, "GFI1B", outputs=["G0", "XX", "YY"])
    with pytest.raises(ValueError, match="output must be 'rna' or 'protein'"):
        jacobian(small_cdt2(), screen, store, "GFI1B", output="dna")
    with pytest.raises(TypeError, match="CDT1"):
        v1_dna_gradient_norms(small_cdt2(), np.zeros((1, N_BINS, DIM)), [0], np.zeros((1, 1)), np.zeros((1, 1)))


def test_protein_gradient_column_equals_the_reverse_mode_jacobian_column(data):
    """Forward mode (one JVP per batch) and reverse mode (one VJP per protein) give the same d protein / d RNA(gene)."""
    screen, store = data
    model = small_cdt3()
    j = int(screen.var_names.get_loc("GFI1B"))
    for at, kw in (("cells", {"first_n": 3}), ("ntc_mean", {})):
        col, n = protein_gradient_column(model, screen, store, "GFI1B", "CD52", at=at, batch_size=2, **kw)
        jac = protein_jacobian(model, screen, store, "CD52", at=at, splits=None, batch_size=2, **kw)
        np.testing.assert_allclose(col.to_numpy(), jac.mean[:, j], rtol=1e-4, atol=1e-7)
        assert list(col.index) == list(jac.outputs) and n == len(jac.cells)

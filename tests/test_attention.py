"""Streamed attention extraction vs brute force (one cell at a time, maps stacked then averaged), per-cell rows,
cross-attention profiles and similarity, summaries, CDT v1 target rows, save/load, and errors.

Models are the `tiny` preset with random weights, shrunk to the fixture screen (10 genes, 8 bins x 4 DNA features).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from cdt.attention import (
    AttentionMap,
    attention_entropy,
    attention_rows,
    cross_attention_profiles,
    cross_attention_similarity,
    load_attention,
    mean_attention,
    mean_attention_maps,
    peak_offset,
    row_correlation,
    save_attention,
    v1_target_attention,
)
from cdt.models import CDT1, CDT2, CDT1Config, CDT2Config
from sklearn.metrics.pairwise import cosine_similarity as sk_cosine
from small_models import DIM, N_BINS, N_GENES, N_PROT, TINY, small_cdt2, small_cdt3, small_screen_and_store


@pytest.fixture
def data(tiny_screen, tiny_dna_store):
    screen, store = small_screen_and_store(tiny_screen, tiny_dna_store, seed=1)
    yield screen, store
    store.close()


def dense_maps(model, screen, store, rows, locus=None) -> dict[str, np.ndarray]:
    """Brute force: every cell alone with its own DNA (no locus index), maps stacked: name -> [N, H, Q, K]."""
    stacked: dict[str, list[np.ndarray]] = {}
    with torch.no_grad():
        for r in rows:
            dna = torch.from_numpy(store[locus or screen.obs["locus"].iloc[r]])[None]
            rna = torch.from_numpy(np.asarray(screen.X[r : r + 1], np.float32))
            args = (
                (dna, rna)
                if isinstance(model, CDT2)
                else (dna, rna, torch.from_numpy(np.asarray(screen.obsm["protein"][r : r + 1], np.float32)))
            )
            for name, w in model(*args, return_attention=True).attention.items():
                stacked.setdefault(name, []).append(w[0].double().numpy())
    return {k: np.stack(v) for k, v in stacked.items()}


@pytest.mark.parametrize("make_model", [small_cdt2, small_cdt3])
def test_streamed_means_equal_dense_means_for_every_map(data, make_model):
    screen, store = data
    model = make_model()
    rows = np.flatnonzero(screen.obs["split"].isin(["test", "val"]))  # the default selection: CD52 + GFI1B cells
    dense = dense_maps(model, screen, store, rows)
    heads = mean_attention_maps(model, screen, store, batch_size=3)  # batches mix the two loci
    flat = mean_attention_maps(model, screen, store, heads=False, batch_size=5)
    assert set(heads) == set(dense)
    for name, stack in dense.items():
        np.testing.assert_allclose(heads[name].values, stack.mean(0), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(flat[name].values, stack.mean((0, 1)), rtol=1e-5, atol=1e-7)
        assert heads[name].values.dtype == np.float64 and heads[name].n_cells == len(rows)
    assert list(heads["rna_self_0"].cells) == list(screen.obs_names[rows])
    np.testing.assert_allclose(heads["rna_self_0"].values.sum(-1), 1.0, atol=1e-6)  # rows of a softmax


def test_grouped_means_and_cross_attention_profiles(data):
    screen, store = data
    model = small_cdt2()
    profiles = cross_attention_profiles(model, screen, store, batch_size=3)
    assert sorted(profiles) == ["CD52", "GFI1B"]
    for locus, amap in profiles.items():
        rows = np.flatnonzero((screen.obs["locus"] == locus) & screen.obs["split"].isin(["test", "val"]))
        stack = dense_maps(model, screen, store, rows)["dna_to_rna"]  # [N, H, G, L]
        np.testing.assert_allclose(amap.values, stack.mean(0), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(amap.profile().to_numpy(), stack.mean((0, 1, 2)), rtol=1e-5)
        np.testing.assert_allclose(amap.head_profiles().to_numpy(), stack.mean((0, 2)), rtol=1e-5)
        assert amap.meta["group"] == locus and amap.meta["group_by"] == "locus" and amap.n_cells == len(rows)
        assert list(amap.query_names) == list(screen.var_names) and list(amap.key_names) == list(range(N_BINS))
    perturbed = (screen.obs["kind"] != "NTC").to_numpy()
    by_pert = mean_attention_maps(model, screen, store, perturbed, ["vce_dna"], by="perturbation", batch_size=4)
    assert set(by_pert) == set(screen.obs["perturbation"]) - {"NTC"}
    assert all(list(m) == ["vce_dna"] for m in by_pert.values())
    snp = np.flatnonzero(screen.obs["perturbation"] == "SNP-2")
    np.testing.assert_allclose(
        by_pert["SNP-2"]["vce_dna"].values, dense_maps(model, screen, store, snp)["vce_dna"].mean(0), rtol=1e-5
    )


def test_first_n_cells_and_locus_override(data):
    screen, store = data
    model = small_cdt2()
    amap = mean_attention(model, screen, store, "GFI1B", "rna_self_0", first_n=3)
    rows = np.flatnonzero(screen.obs["perturbation"] == "GFI1B")[:3]  # file order
    np.testing.assert_allclose(amap.values, dense_maps(model, screen, store, rows)["rna_self_0"].mean(0), rtol=1e-5)
    assert amap.meta["selection"] == {"perturbation": "GFI1B", "splits": ["test", "val"], "first_n": 3}
    assert list(amap.cells) == list(screen.obs_names[rows])
    # NTC cells have no DNA of their own: refused, unless a locus is given
    ntc = (screen.obs["kind"] == "NTC").to_numpy()
    with pytest.raises(ValueError, match="have no locus.*pass locus="):
        mean_attention(model, screen, store, ntc, "dna_to_rna")
    at_gfi1b = mean_attention(model, screen, store, ntc, "dna_to_rna", locus="GFI1B")
    dense = dense_maps(model, screen, store, np.flatnonzero(ntc), locus="GFI1B")["dna_to_rna"]
    np.testing.assert_allclose(at_gfi1b.values, dense.mean(0), rtol=1e-5)


def test_attention_rows_follow_the_given_cell_order(data):
    screen, store = data
    model = small_cdt2()
    rows = np.flatnonzero(screen.obs["split"] == "test")[[5, 0, 7, 2, 1]]  # shuffled, two loci
    gi = list(screen.var_names).index("GFI1B")
    dense = dense_maps(model, screen, store, rows)["rna_self_0"][:, :, gi, :]  # [N, H, G]
    got = attention_rows(model, screen, store, "GFI1B", screen.obs_names[rows].to_numpy(), batch_size=2)
    np.testing.assert_allclose(got.values, dense.mean(1), rtol=1e-5, atol=1e-8)
    assert got.values.shape == (5, N_GENES) and got.per_cell and list(got.cells) == list(screen.obs_names[rows])
    resolved = attention_rows(model, screen, store, "GFI1B", rows, heads=True)
    np.testing.assert_allclose(resolved.values, dense, rtol=1e-5, atol=1e-8)
    corr, summary = row_correlation(got)
    expected = np.corrcoef(dense.mean(1))
    np.testing.assert_allclose(corr.to_numpy(), expected)
    upper = expected[np.triu_indices(5, 1)]
    assert summary == pytest.approx(
        {"mean": upper.mean(), "sd": upper.std(), "min": upper.min(), "n_pairs": 10}, abs=1e-8
    )
    bins = attention_rows(model, screen, store, 3, rows, map="dna_self_1")  # a DNA bin as the query
    np.testing.assert_allclose(
        bins.values, dense_maps(model, screen, store, rows)["dna_self_1"][:, :, 3].mean(1), rtol=1e-5
    )
    with pytest.raises(ValueError, match="not on the query axis"):
        attention_rows(model, screen, store, "NOPE", rows)


def test_cross_attention_similarity_is_cosine_of_gene_rows(data):
    screen, store = data
    amap = cross_attention_profiles(small_cdt2(), screen, store)["GFI1B"]
    sim = cross_attention_similarity(amap)
    np.testing.assert_allclose(sim.to_numpy(), sk_cosine(amap.values.mean(0)), rtol=1e-10)
    assert list(sim.index) == list(screen.var_names)
    with pytest.raises(ValueError, match="dna_to_rna"):
        cross_attention_similarity(mean_attention(small_cdt2(), screen, store, "GFI1B", "rna_self_0"))


def test_cdt3_maps_are_labelled_with_proteins(data):
    screen, store = data
    maps = mean_attention_maps(small_cdt3(), screen, store, "CD52", ["protein_self_0", "rna_to_protein", "vce_protein"])
    names = list(screen.uns["protein_names"])
    assert maps["rna_to_protein"].values.shape == (TINY.n_heads, N_PROT, N_GENES)
    assert list(maps["rna_to_protein"].query_names) == names
    assert list(maps["rna_to_protein"].key_names) == list(screen.var_names)
    assert list(maps["vce_protein"].query_names) == ["pool"] and list(maps["protein_self_0"].key_names) == names


def test_entropy_and_peak_offset_by_hand():
    k = 16
    uniform = AttentionMap("dna_self_0", np.full((2, 4, k), 1 / k), True, np.array(["c"]), np.arange(4), np.arange(k))
    ent = attention_entropy(uniform)
    np.testing.assert_allclose(ent["entropy"], np.log(k))
    np.testing.assert_allclose(ent["effective_positions"], k)
    peaked = np.zeros((1, 1, k))
    peaked[0, 0, 3] = 1.0
    one = attention_entropy(AttentionMap("x", peaked, True, np.array(["c"]), np.arange(1), np.arange(k)))
    assert one["entropy"].iloc[0] == pytest.approx(0.0, abs=1e-7)
    profiles = np.zeros((3, 896))
    profiles[[0, 1, 2], [448, 818, 5]] = 1
    np.testing.assert_array_equal(peak_offset(profiles, 128), [0, 47_360, -56_704])  # CDT v1 Fig 5 bins


def test_v1_target_rows_equal_per_sample_attention():
    torch.manual_seed(0)
    cfg = dataclasses.replace(CDT1Config.from_preset(TINY), n_genes=12, n_bins=N_BINS, dna_dim=DIM)
    model = CDT1(cfg).eval()
    rng = np.random.default_rng(0)
    dna = rng.normal(size=(5, N_BINS, DIM)).astype(np.float32)
    target = np.array([3, 0, 11, 3, 7])
    r_emb = rng.normal(size=(12, cfg.rna_emb_dim)).astype(np.float32)
    p_emb = rng.normal(size=(12, cfg.prot_emb_dim)).astype(np.float32)
    got = v1_target_attention(model, dna, target, r_emb, p_emb, batch_size=2)
    for i in range(5):
        with torch.no_grad():
            w = model(
                torch.from_numpy(dna[i : i + 1]),
                torch.from_numpy(r_emb),
                torch.from_numpy(p_emb),
                torch.tensor([target[i]]),
                return_attention=True,
            ).attention["dna_to_rna"]
        np.testing.assert_allclose(got.values[i], w[0].mean(0)[target[i]].numpy(), rtol=1e-5)
    assert got.values.shape == (5, N_BINS)
    with pytest.raises(TypeError, match="CDT1"):
        v1_target_attention(small_cdt2(), dna, target, r_emb, p_emb)


def test_save_load_round_trip_with_metadata(data, tmp_path):
    screen, store = data
    model = small_cdt2()
    maps = mean_attention_maps(model, screen, store, "GFI1B", ["rna_self_0", "dna_to_rna"], first_n=2)
    by_locus = cross_attention_profiles(model, screen, store, heads=False)
    rows = attention_rows(model, screen, store, "GFI1B", "GFI1B")
    path = save_attention(tmp_path / "maps.npz", {"gfi1b": maps, "cross": by_locus, "rows": rows})
    back = load_attention(path)
    assert sorted(back) == ["cross/CD52", "cross/GFI1B", "gfi1b/dna_to_rna", "gfi1b/rna_self_0", "rows"]
    for key, orig in [("gfi1b/rna_self_0", maps["rna_self_0"]), ("cross/CD52", by_locus["CD52"]), ("rows", rows)]:
        got = back[key]
        np.testing.assert_array_equal(got.values, orig.values)
        np.testing.assert_array_equal(got.cells, orig.cells)
        np.testing.assert_array_equal(got.query_names, orig.query_names)
        np.testing.assert_array_equal(got.key_names, orig.key_names)
        assert (got.name, got.heads, got.per_cell, got.meta) == (orig.name, orig.heads, orig.per_cell, orig.meta)
    assert back["gfi1b/rna_self_0"].meta["selection"]["first_n"] == 2 and back["rows"].meta["query"] == "GFI1B"
    assert back["cross/CD52"].key_names.dtype.kind == "i"  # DNA bins stay integers
    single = load_attention(save_attention(tmp_path / "one.npz", maps["dna_to_rna"]))
    assert list(single) == ["dna_to_rna"]
    np.savez(tmp_path / "foreign.npz", values=np.zeros(3))
    with pytest.raises(ValueError, match="foreign.npz: meta_json: missing"):
        load_attention(tmp_path / "foreign.npz")
    (tmp_path / "broken.npz").write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="broken.npz: not a readable npz"):
        load_attention(tmp_path / "broken.npz")


def test_errors_name_the_problem_and_training_mode_is_restored(data):
    screen, store = data
    model = small_cdt2().train()
    with pytest.raises(ValueError, match=r"not produced by this model; available: \['dna_self_0'"):
        mean_attention(model, screen, store, "GFI1B", "protein_self_0")
    assert model.training  # restored after the failed call too
    mean_attention(model, screen, store, "GFI1B", "vce_rna")
    assert model.training
    with pytest.raises(ValueError, match="'B2M' has no cells in splits \\['test', 'val'\\].*'train'"):
        mean_attention(model, screen, store, "B2M")
    assert mean_attention(model, screen, store, "B2M", splits=None).n_cells == 4
    with pytest.raises(ValueError, match="no cells of perturbation 'TFRC'"):
        mean_attention(model, screen, store, "TFRC")
    other = CDT2(dataclasses.replace(CDT2Config.from_preset(TINY), n_genes=N_GENES + 1, n_bins=N_BINS, dna_dim=DIM))
    with pytest.raises(ValueError, match="screen has 10 genes but the model expects 11"):
        mean_attention(other, screen, store, "GFI1B")
    with pytest.raises(TypeError, match="enhancer-gene pairs"):
        mean_attention(CDT1(CDT1Config.from_preset(TINY)), screen, store, "GFI1B")
    with pytest.raises(ValueError, match="obs has no column 'batch'"):
        mean_attention_maps(model, screen, store, by="batch")

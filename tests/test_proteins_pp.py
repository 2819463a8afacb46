"""Protein preprocessing: DSB through muon, the authors' isotype z-score, NTC targets, expressed screen."""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from cdt.data.errors import ContractError
from cdt.data.screen import read_screen
from cdt.pp import dsb_normalize, expressed_proteins, isotype_mask, isotype_zscore, prepare_proteins

N_PROT, N_ISO = 6, 2


def make_adt(n_cells: int = 40, n_empty: int = 60, seed: int = 0) -> ad.AnnData:
    """Cells (high counts, protein-specific levels) and empty droplets (ambient only); 2 isotype controls."""
    rng = np.random.default_rng(seed)
    ambient = rng.uniform(1, 4, N_PROT + N_ISO)
    level = np.r_[rng.uniform(5, 60, N_PROT), np.zeros(N_ISO)]
    cells = rng.poisson(ambient * 3 + level * rng.uniform(0.5, 1.5, (n_cells, 1)))
    empty = rng.poisson(ambient, (n_empty, N_PROT + N_ISO))
    names = [f"ADT-{i:04d}" for i in range(N_PROT)] + [f"ADT-CTL{i}" for i in range(N_ISO)]
    obs = pd.DataFrame(
        {"is_cell": [True] * n_cells + [False] * n_empty},
        index=[f"C{i:03d}-1" for i in range(n_cells)] + [f"E{i:03d}-1" for i in range(n_empty)],
    )
    var = pd.DataFrame({"isotype": [False] * N_PROT + [True] * N_ISO}, index=names)
    return ad.AnnData(sp.csr_matrix(np.vstack([cells, empty]).astype(np.float32)), obs=obs, var=var)


def test_isotype_zscore_matches_hand_computation():
    counts = np.array([[0, 5, 10, 30], [2, 2, 2, 2]], dtype=float)
    iso = np.array([False, False, True, True])
    z = isotype_zscore(counts, iso)
    logc = np.log(counts + 10)
    mu = logc[0, 2:].mean()
    sd = np.sqrt(((logc[0, 2:] - mu) ** 2).mean())  # population SD of the isotype values
    assert np.allclose(z[0], (logc[0] - mu) / sd)
    assert np.allclose(z[1], 0.0)  # equal isotypes: SD floored at 0.01, centred values are 0
    with pytest.raises(ValueError, match="at least one isotype"):
        isotype_zscore(counts, np.zeros(4, bool))


def test_dsb_through_muon_uses_empty_droplets_and_isotypes():
    import muon as mu

    adt = make_adt()
    iso = isotype_mask(adt)
    assert iso.tolist() == [False] * N_PROT + [True] * N_ISO
    got = dsb_normalize(adt, adt.obs["is_cell"].to_numpy(), iso, seed=1)

    cells, empty = adt[adt.obs["is_cell"]].copy(), adt[~adt.obs["is_cell"]].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mu.prot.pp.dsb(cells, empty, isotype_controls=adt.var_names[iso].tolist(), random_state=1)
    assert got.shape == (40, N_PROT + N_ISO)
    assert np.allclose(got, np.asarray(cells.X))
    # step 1 of DSB alone (no denoising) = z-score against the empty droplets, per protein
    raw = adt[adt.obs["is_cell"]].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mu.prot.pp.dsb(raw, empty, denoise_counts=False)
    le = np.log(empty.X.toarray() + 10)
    step1 = (np.log(adt[adt.obs["is_cell"]].X.toarray() + 10) - le.mean(0)) / le.std(0, ddof=1)
    assert np.allclose(np.asarray(raw.X), step1, rtol=1e-5, atol=1e-5)
    assert got[:, :N_PROT].mean() > 3  # real signal sits far above the empty-droplet background

    no_empty = adt[adt.obs["is_cell"]].copy()
    with pytest.raises(ContractError, match="DSB needs empty droplets"):
        dsb_normalize(no_empty, no_empty.obs["is_cell"].to_numpy(), iso)


@pytest.mark.parametrize("method", ["dsb", "isotype_z"])
def test_prepare_proteins_targets_and_expressed(method):
    adt = make_adt()
    barcodes = [f"C{i:03d}-1" for i in (5, 0, 7, 3, 9, 12, 30, 31)]  # screen order differs from the ADT order
    is_ntc = np.array([True, True, True, False, False, False, False, False])
    prot = prepare_proteins(adt, barcodes, is_ntc, method=method, seed=0)
    assert prot.names == [f"ADT-{i:04d}" for i in range(N_PROT)]  # isotypes dropped
    cells = adt[adt.obs["is_cell"]]
    if method == "dsb":
        full = dsb_normalize(adt, adt.obs["is_cell"].to_numpy(), isotype_mask(adt), seed=0)
    else:
        full = isotype_zscore(cells.X.toarray(), isotype_mask(adt))
    want = full[cells.obs_names.get_indexer(barcodes)][:, :N_PROT]
    assert np.allclose(prot.values, want, rtol=1e-5, atol=1e-5)
    assert np.allclose(prot.target, want - want[is_ntc].mean(0), rtol=1e-5, atol=1e-5)
    pert = want[~is_ntc]
    assert prot.expressed.tolist() == ((pert.mean(0) > 0.5) & (pert.std(0) > 0.1)).tolist()

    with pytest.raises(ContractError, match=r"1 screen cells have no ADT cell barcode, e.g. \['E000-1'\]"):
        prepare_proteins(adt, ["C000-1", "E000-1"], np.array([True, False]), method=method)


def test_expressed_proteins_thresholds():
    v = np.array([[0.6, 0.6, 2.0, 0.0], [0.6, 1.0, 2.05, 0.2]])  # mean .6/.8/2.025/.1 ; SD 0/.2/.025/.1
    assert expressed_proteins(v).tolist() == [False, True, False, False]


def test_prepare_attaches_proteins(tmp_path):
    from test_prepare import HELD_OUT, make_raw, run_prepare

    paths, rna, *_ = make_raw(tmp_path)
    adt = make_adt(n_cells=rna.n_obs, n_empty=50)
    adt.obs_names = list(rna.obs_names) + [f"E{i:03d}-1" for i in range(50)]
    adt.write_h5ad(tmp_path / "adt.h5ad")
    res = run_prepare({**paths}, tmp_path / "out", adt=tmp_path / "adt.h5ad", protein_method="isotype_z")
    screen = read_screen(res.curated)
    assert screen.obsm["protein"].shape == (screen.n_obs, N_PROT)
    ntc = (screen.obs["kind"] == "NTC").to_numpy()
    assert np.allclose(screen.obsm["protein_target"][ntc].mean(0), 0, atol=1e-5)
    assert len(screen.uns["protein_expressed"]) == N_PROT
    assert list(read_screen(res.full).uns["protein_names"]) == list(screen.uns["protein_names"])
    assert set(screen.uns["cdt"]["held_out"]) == set(HELD_OUT)

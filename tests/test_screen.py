"""Screen contract: round trip of our h5ad format, and every validation error naming the file and the field."""

import h5py
import numpy as np
import pandas as pd
import pytest
from cdt.data.dnastore import DNAStore
from cdt.data.errors import ContractError
from cdt.data.screen import KINDS, read_screen, split_mask, validate_screen, write_screen


def test_fixture_obeys_the_contract_formulas(tiny_screen):
    s = tiny_screen(n_proteins=4)
    validate_screen(s, require_proteins=True)
    cpm = np.expm1(s.X.astype(np.float64))
    ntc = (s.obs["kind"] == "NTC").to_numpy()
    np.testing.assert_allclose(s.var["ntc_mean_cpm"], cpm[ntc].mean(0), rtol=1e-4)
    np.testing.assert_allclose(
        s.layers["log2fc"], np.log2((cpm + 1) / (s.var["ntc_mean_cpm"].to_numpy() + 1)), atol=1e-4
    )
    np.testing.assert_allclose(s.obsm["protein_target"][ntc].mean(0), 0, atol=1e-5)


def test_round_trip(tmp_path, tiny_screen):
    s = tiny_screen(n_proteins=3)
    path = write_screen(s, tmp_path / "sub" / "screen.h5ad")
    assert path.exists() and [p.name for p in path.parent.iterdir()] == ["screen.h5ad"]  # no temp file left
    r = read_screen(path)
    np.testing.assert_array_equal(r.X, s.X)
    assert r.X.dtype == np.float32 and r.layers["log2fc"].dtype == np.float32
    np.testing.assert_array_equal(r.layers["log2fc"], s.layers["log2fc"])
    pd.testing.assert_frame_equal(r.obs, s.obs)
    pd.testing.assert_frame_equal(r.var, s.var)
    assert list(r.obs["kind"].cat.categories) == list(KINDS)
    assert r.uns["cdt"]["source"] == "tiny_screen fixture" and list(r.uns["cdt"]["held_out"]) == ["GFI1B"]
    assert len(r.uns["cdt"]["val_genes"]) == 0
    for key in ("protein", "protein_target"):
        np.testing.assert_array_equal(r.obsm[key], s.obsm[key])
    assert list(r.uns["protein_names"]) == ["ADT-0000", "ADT-0001", "ADT-0002"]
    np.testing.assert_array_equal(r.uns["protein_expressed"], s.uns["protein_expressed"])
    assert r.uns["protein_expressed"].dtype == bool


def test_split_mask(tiny_screen):
    s = tiny_screen(targets=("B2M", "GFI1B"), held_out=("GFI1B",), cells_per_target=2, n_ntc=3, n_snp_loci=1)
    assert split_mask(s, "test").tolist() == [False, False, True, True, False, False, False, False, False]
    assert split_mask(s, "train").sum() == 4  # 2 B2M + 2 SNP cells
    assert split_mask(s, "none").sum() == 3 and split_mask(s, "val").sum() == 0


def _drop_obs(col):
    def f(s):
        del s.obs[col]

    return f


def _set_obs(col, values_at):
    def f(s):
        v = s.obs[col].astype(str).to_numpy().copy()
        for i, x in values_at.items():
            v[i] = x
        s.obs[col] = v

    return f


def _nan_in(where):
    def f(s):
        if where == "X":
            s.X[0, 1] = np.nan
        elif where == "log2fc":
            s.layers["log2fc"][2, 0] = np.inf
        elif where == "var":
            s.var.loc[s.var_names[0], "ntc_mean_expr"] = np.nan
        else:
            s.obsm[where][1, 1] = np.nan

    return f


def _splits_to(old, new):
    def f(s):
        s.obs["split"] = s.obs["split"].replace(old, new)

    return f


def _dup_genes(s):
    s.var_names = ["G0"] * 2 + list(s.var_names[2:])


def _del_layer(s):
    del s.layers["log2fc"]


def _del_var(s):
    del s.var["ntc_mean_cpm"]


def _del(container, key):
    def f(s):
        del getattr(s, container)[key]

    return f


def _short_uns(key):
    def f(s):
        s.uns[key] = s.uns[key][:-1]

    return f


def _protein_target_cols(s):
    s.obsm["protein_target"] = s.obsm["protein_target"][:, :-1]


# (mutation, field named in the message, problem fragment)
CASES = {
    "missing perturbation": (_drop_obs("perturbation"), "obs['perturbation']", "missing column"),
    "missing kind": (_drop_obs("kind"), "obs['kind']", "missing column"),
    "missing locus": (_drop_obs("locus"), "obs['locus']", "missing column"),
    "missing split": (_drop_obs("split"), "obs['split']", "missing column"),
    "missing var column": (_del_var, "var['ntc_mean_cpm']", "missing column"),
    "missing layer": (_del_layer, "layers['log2fc']", "missing target layer"),
    "NaN in X": (_nan_in("X"), "X", "1 non-finite values (first at index [0, 1])"),
    "inf in log2fc": (_nan_in("log2fc"), "layers['log2fc']", "non-finite values (first at index [2, 0])"),
    "NaN in var": (_nan_in("var"), "var['ntc_mean_expr']", "non-finite"),
    "duplicate genes": (_dup_genes, "var_names", "not unique, e.g. ['G0']"),
    "empty test split": (_splits_to("test", "train"), "obs['split']", "no cells in the 'test' split"),
    "empty train split": (_splits_to("train", "test"), "obs['split']", "no cells in the 'train' split"),
    "unknown kind": (_set_obs("kind", {0: "CRISPRa"}), "obs['kind']", "unknown kinds ['CRISPRa']"),
    "unknown split": (_set_obs("split", {0: "holdout"}), "obs['split']", "unknown splits ['holdout']"),
    "NTC in train": (_set_obs("split", {-1: "train"}), "obs['split']", "NTC cells must have split 'none'"),
    "perturbed without locus": (_set_obs("locus", {0: ""}), "obs['locus']", "perturbed cells without a locus"),
    "missing protein_target": (_del("obsm", "protein_target"), "obsm['protein_target']", "missing"),
    "missing protein_names": (_del("uns", "protein_names"), "uns['protein_names']", "missing"),
    "short protein_expressed": (_short_uns("protein_expressed"), "uns['protein_expressed']", "length 2 != 3"),
    "protein_target columns": (_protein_target_cols, "obsm['protein_target']", "column count differs"),
    "NaN in protein": (_nan_in("protein"), "obsm['protein']", "non-finite"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_validation_errors_name_source_and_field(tiny_screen, case):
    mutate, field, problem = CASES[case]
    s = tiny_screen(n_proteins=3)
    validate_screen(s)  # valid before the mutation
    mutate(s)
    with pytest.raises(ContractError) as err:
        validate_screen(s, source="runs/screen.h5ad")
    assert err.value.source == "runs/screen.h5ad" and err.value.field == field
    assert problem in err.value.problem
    assert str(err.value).startswith(f"runs/screen.h5ad: {field}: ")


@pytest.mark.filterwarnings("ignore:Variable names are not unique")
@pytest.mark.parametrize("case", ["missing split", "NaN in X", "duplicate genes", "unknown kind", "NaN in protein"])
def test_read_screen_names_the_file(tmp_path, tiny_screen, case):
    mutate, field, problem = CASES[case]
    s = tiny_screen(n_proteins=3)
    mutate(s)
    path = tmp_path / "bad.h5ad"
    s.write_h5ad(path)  # bypasses write_screen's validation
    with pytest.raises(ContractError) as err:
        read_screen(path)
    assert err.value.source == str(path) and err.value.field == field and problem in err.value.problem


def test_write_screen_validates_and_writes_nothing(tmp_path, tiny_screen):
    s = tiny_screen()
    CASES["unknown split"][0](s)
    with pytest.raises(ContractError, match=r"out\.h5ad: obs\['split'\]"):
        write_screen(s, tmp_path / "out.h5ad")
    assert list(tmp_path.iterdir()) == []


def test_empty_screen(tiny_screen):
    s = tiny_screen()[:0]
    with pytest.raises(ContractError, match=r"X: empty screen \(shape \(0, 8\)\)"):
        validate_screen(s)


def test_proteins_required(tiny_screen):
    with pytest.raises(ContractError, match=r"obsm\['protein'\]: missing \(required for CDT-III\)"):
        validate_screen(tiny_screen(), require_proteins=True)


def test_locus_missing_from_dna_store(tiny_screen, tiny_dna_store):
    s = tiny_screen()
    loci = sorted(set(s.obs["locus"]) - {""})
    with DNAStore(tiny_dna_store(loci)) as store:
        validate_screen(s, dna_store=store)
    with DNAStore(tiny_dna_store([x for x in loci if x not in ("CD52", "SNP-2")])) as store:
        with pytest.raises(ContractError) as err:
            validate_screen(s, source="s.h5ad", dna_store=store)
    assert err.value.field == "obs['locus']"
    assert "2 loci not in DNA store" in err.value.problem and "['CD52', 'SNP-2']" in err.value.problem
    assert str(store.path) in err.value.problem


@pytest.mark.filterwarnings("ignore::anndata.OldFormatWarning")
def test_layer_shape_mismatch_on_disk(tmp_path, tiny_screen):
    """anndata refuses a wrong-shaped layer in memory; on disk it surfaces as an unreadable file, named."""
    path = write_screen(tiny_screen(), tmp_path / "s.h5ad")
    with h5py.File(path, "a") as h5:
        good = h5["layers/log2fc"][()]
        del h5["layers/log2fc"]
        h5["layers/log2fc"] = good[:, :-1]
    with pytest.raises(ContractError) as err:
        read_screen(path)
    assert err.value.source == str(path) and err.value.field == "file" and "log2fc" in err.value.problem


def test_missing_truncated_and_foreign_files(tmp_path, tiny_screen):
    with pytest.raises(FileNotFoundError, match="absent.h5ad"):
        read_screen(tmp_path / "absent.h5ad")
    foreign = tmp_path / "foreign.h5ad"
    foreign.write_bytes(b"PK\x03\x04 not hdf5")
    with pytest.raises(ContractError, match=r"foreign\.h5ad: file: cannot be read as h5ad"):
        read_screen(foreign)
    path = write_screen(tiny_screen(), tmp_path / "trunc.h5ad")
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size // 2)
    with pytest.raises(ContractError, match=r"trunc\.h5ad: file: cannot be read as h5ad"):
        read_screen(path)

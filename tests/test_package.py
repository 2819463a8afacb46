"""Package structure: every exported name exists and says what it is; every plotting module draws on small data."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import cdt
import matplotlib
import numpy as np
import pandas as pd
import pytest
from small_models import small_cdt2

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

MODULES = sorted(m.name for m in pkgutil.walk_packages(cdt.__path__, "cdt.") if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", [m for m in MODULES if hasattr(importlib.import_module(m), "__all__")])
def test_every_exported_name_exists_once_and_has_a_docstring(name):
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(exported) == len(set(exported)), f"{name}.__all__ repeats a name"
    for attr in exported:
        assert hasattr(module, attr), f"{name}.__all__ lists {attr!r}, which does not exist"
        obj = getattr(module, attr)
        doc = inspect.getdoc(obj) if (callable(obj) or inspect.ismodule(obj)) else "constant"
        assert doc and doc.strip() and doc != inspect.getdoc(type(obj)), f"{name}.{attr} has no docstring"


def test_every_module_has_a_docstring():
    missing = [m for m in MODULES if not (importlib.import_module(m).__doc__ or "").strip()]
    assert not missing, f"modules without a docstring: {missing}"


def _draw(module: str) -> Figure:
    """One representative figure of each plotting module, drawn from small hand-made inputs."""
    rng = np.random.default_rng(0)
    if module == "prediction":
        from cdt.pl.prediction import pred_vs_actual

        target = rng.normal(size=(20, 8))
        return pred_vs_actual(
            target + rng.normal(scale=0.5, size=target.shape), target, {"r": 0.9, "R2": 0.8, "rho": 0.85}
        )
    if module == "cd52":
        from cdt.pl.cd52 import rna_scatter

        rna = pd.DataFrame(
            {"gene": ["CD52", "A", "B", "C"], "actual": [-1.0, 0.1, 0.2, -0.1], "predicted": [-0.8, 0, 0.3, 0]}
        )
        return rna_scatter(rna, r=0.9, n_cells=12)
    if module == "genome":
        from cdt.pl.genome import threshold_sweep

        rows = [
            (g, m, q, or_)
            for g in ("GFI1B", "CD52")
            for m, or_ in (("CTCF", 5.0), ("DNase", np.inf))
            for q in (0.05, 0.1)
        ]
        table = pd.DataFrame(rows, columns=["gene", "mark", "q", "odds_ratio"]).assign(n_peak_bins=4)
        return threshold_sweep(table)
    if module == "network":
        from cdt.pl.network import dna_self_layers

        return dna_self_layers({"dna_self_0": rng.random((16, 16)), "dna_self_1": rng.random((16, 16))}, "GFI1B")
    if module == "baselines":
        from cdt.pl.baselines import recovery_heatmap

        t = pd.DataFrame(
            {
                "method": ["attention", "attention", "correlation", "correlation"],
                "target": ["direct", "any path"] * 2,
                "auroc": [0.8, 0.6, 0.5, np.nan],
            }
        )
        return recovery_heatmap({"genes": t})
    if module == "schematic":
        from cdt.pl.schematic import draw_schematic

        return draw_schematic(small_cdt2(), "small CDT-II")
    if module == "leak_free":
        from cdt.pl.leak_free import prediction_bars

        t = pd.DataFrame(
            {
                "model": "CDT-II",
                "target": "rna",
                "method": ["CDT", "CDT", "mean training effect"],
                "input_protocol": ["cell", "control", "-"],
                "r": [0.36, 0.15, 0.16],
                "pb_r": [0.63, 0.57, 0.58],
            }
        )
        return prediction_bars(t, "held-out genes")
    raise AssertionError(f"no smoke figure for cdt.pl.{module}")


PL_MODULES = sorted(
    m.name for m in pkgutil.iter_modules(importlib.import_module("cdt.pl").__path__) if m.name[0] != "_"
)


@pytest.mark.parametrize("module", PL_MODULES)
def test_each_plotting_module_draws(module):
    fig = _draw(module)
    assert isinstance(fig, Figure) and fig.axes, f"cdt.pl.{module} drew nothing"
    assert any(ax.has_data() or ax.images or ax.texts or ax.patches for ax in fig.axes)
    plt.close(fig)


def test_require_columns_names_every_missing_column_in_order():
    from cdt.data.errors import ContractError, require_columns

    table = pd.DataFrame({"gene": ["A"], "weight": [1.0]})
    require_columns(table, ("gene", "weight"), "w.csv")  # complete: no error
    with pytest.raises(ContractError, match=r"^w\.csv: columns: missing \['protein', 'source'\]; expected 4$"):
        require_columns(table, ("protein", "gene", "source", "weight"), "w.csv", hint="expected 4")

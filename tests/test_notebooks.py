"""Notebooks: the `.py` (jupytext percent format) is the source; its `.ipynb` pair must hold the same cells."""

from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.py"))


def _cells(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


@pytest.mark.parametrize("source", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_py_and_ipynb_are_in_sync(source: Path):
    paired = source.with_suffix(".ipynb")
    assert paired.exists(), f"{paired.name} missing: run `jupytext --sync {source.name}`"
    assert _cells(jupytext.read(source)) == _cells(jupytext.read(paired)), (
        f"{source.name} and {paired.name} differ: run `jupytext --sync {source.name}`"
    )


@pytest.mark.parametrize("source", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_has_papermill_parameters(source: Path):
    nb = jupytext.read(source)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{source.name}: needs exactly one cell tagged 'parameters'"
    for name in ("data_source", "out_dir", "preset"):
        assert name in tagged[0].source, f"{source.name}: parameters cell lacks {name!r}"


@pytest.mark.parametrize("source", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_metadata_is_what_jupyterlab_writes_so_opening_leaves_it_unmodified(source: Path):
    # JupyterLab replaces the kernelspec and language_info with its kernel's on opening; if they differ, a notebook
    # shows unsaved changes before the reader has touched it (checked in headless Chromium with JupyterLab 4)
    meta = jupytext.read(source.with_suffix(".ipynb")).metadata
    assert meta["kernelspec"] == {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    assert {k: meta["language_info"][k] for k in ("name", "pygments_lexer", "file_extension")} == {
        "name": "python",
        "pygments_lexer": "ipython3",
        "file_extension": ".py",
    }
    assert jupytext.read(source).metadata["kernelspec"]["display_name"] == "Python 3 (ipykernel)"

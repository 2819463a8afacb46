"""Layers read downwards: a module may import its own layer or a lower one, never a higher one.

config/data < pp < simulate < models < train < tools < baselines < analyses < pl < app (and `python -m cdt`)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LAYERS: list[tuple[str, ...]] = [
    ("config", "data", "published"),
    ("pp",),
    ("simulate",),
    ("models",),
    ("train",),
    ("attention", "gradients", "evaluate", "stats", "networks", "enrichment", "genome", "hic", "tl"),
    ("baselines",),
    ("analyses",),
    ("pl",),
    ("reproduce", "report", "cli", "__main__"),
]
RANK = {name: i for i, group in enumerate(LAYERS) for name in group}
PACKAGE = Path(__file__).resolve().parents[1] / "lib" / "cdt"


def upward_imports(package: Path) -> list[str]:
    """Every `import cdt.X` in `package` whose X sits in a higher layer than the importing module."""
    bad = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).with_suffix("").parts
        if parts == ("__init__",):
            continue
        me = parts[0]
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
            )
            for name in names:
                top = name.split(".")
                if top[0] != "cdt" or len(top) < 2 or top[1] == me:
                    continue
                if top[1] not in RANK or me not in RANK:
                    bad.append(f"{path.relative_to(package)}:{node.lineno}: {name} (layer not listed)")
                elif RANK[top[1]] > RANK[me]:
                    bad.append(f"{path.relative_to(package)}:{node.lineno}: {me} imports {name}")
    return bad


def test_layers_read_downwards():
    assert upward_imports(PACKAGE) == []


def test_an_upward_import_is_caught(tmp_path):
    pkg = tmp_path / "cdt"
    (pkg / "pp").mkdir(parents=True)
    (pkg / "pp" / "bad.py").write_text("from cdt.analyses.prediction import held_out\n")
    (pkg / "models").mkdir()
    (pkg / "models" / "ok.py").write_text("import cdt.pp.normalize\n")
    assert upward_imports(pkg) == ["pp/bad.py:1: pp imports cdt.analyses.prediction"]


@pytest.mark.parametrize("name", ["mystery"])
def test_an_unlisted_layer_is_caught(tmp_path, name):
    pkg = tmp_path / "cdt"
    pkg.mkdir()
    (pkg / f"{name}.py").write_text("import cdt.models\n")
    assert upward_imports(pkg) == [f"{name}.py:1: cdt.models (layer not listed)"]

"""The registry of published values: every headline key is reported by exactly one notebook row, and every row
reports through a key (no published literal travels beside a result)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from cdt.published import HEADLINE, published_value

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.py"))
ANALYSES = sorted((Path(__file__).resolve().parents[1] / "lib" / "cdt" / "analyses").glob("*.py"))


def _pattern(node: ast.expr) -> str:
    """A regex for one element of a key as written in a notebook: f-string parts become wildcards."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return re.escape(node.value)
    if isinstance(node, ast.JoinedStr):
        return "".join(re.escape(v.value) if isinstance(v, ast.Constant) else ".+" for v in node.values)
    return ".+"  # a name or an expression (e.g. "Fig 7" if ... else "Fig 8")


def _add_calls() -> list[tuple[str, ast.Call]]:
    calls = []
    for path in NOTEBOOKS:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add":
                spread = any(k.arg is None for k in node.keywords)  # nums.add(**row): a row built in lib
                if isinstance(node.func.value, ast.Name) and node.func.value.id == "nums" and not spread:
                    calls.append((path.name, node))
    return calls


def _is_key(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Tuple) and len(node.elts) == 3


def _library_keys() -> list[tuple[str, ast.Tuple]]:
    """Keys of the headline rows the analyses build for notebooks (`cdt.analyses.Findings`, or lists of
    `cdt.report.Numbers.add` arguments): every (paper, item, quantity) literal in `cdt.analyses` whose paper is one of
    the registry's, wherever it is written (a row dict, an ``add`` call, a module constant)."""
    papers = {k[0] for k in HEADLINE}
    keys = []
    for path in ANALYSES:
        for node in ast.walk(ast.parse(path.read_text())):
            if _is_key(node) and isinstance(node.elts[0], ast.Constant) and node.elts[0].value in papers:
                keys.append((path.name, node))  # one user per module: a module may also look its key up
    return keys


def test_every_notebook_row_is_added_by_key_only():
    calls = _add_calls()
    assert len(calls) + len(_library_keys()) > 100  # headline numbers reach Numbers.add by key, in notebooks or lib
    for name, call in calls:
        keywords = {k.arg for k in call.keywords}
        assert not call.args and "key" in keywords and "value" in keywords, f"{name}:{call.lineno}"
        assert "published" not in keywords, f"{name}:{call.lineno}: published values come from the registry"


def test_every_published_key_is_reported_exactly_once():
    keys = []
    for name, call in _add_calls():
        key = next(k.value for k in call.keywords if k.arg == "key")
        assert _is_key(key), f"{name}:{call.lineno}: key is (paper, item, quantity)"
        keys.append((f"{name}:{call.lineno}", key))
    patterns = []
    for where, key in keys + _library_keys():
        parts = [_pattern(e) for e in key.elts]
        exact = all(isinstance(e, ast.Constant) for e in key.elts)
        patterns.append((where, exact, [re.compile(p + r"\Z") for p in parts]))
    for key in HEADLINE:
        matches = [(where, exact) for where, exact, pat in patterns if all(map(re.Pattern.match, pat, key))]
        # a key written out in full is that row's; a pattern (f-string key) only claims keys no row spells out
        users = [where for where, exact in matches if exact] or [where for where, _ in matches]
        users = list(dict.fromkeys(users))
        assert len(users) == 1, f"{key} is reported by {users or 'no notebook row'}"


def test_published_value_lookup():
    assert published_value(("CDT-II", "Fig 3A", "Spearman rho")) == 0.46
    assert published_value(("CDT-III", "Fig 1", "parameters at the paper dimensions")) == 30_987_766
    assert published_value(("beyond the papers", "baselines", "ridge r")) is None
    with pytest.raises(ValueError, match="a published key is"):
        published_value(("CDT-II", "Fig 3A"))

"""Layers only call downward: nothing below the API imports it (glint.api is the top;
the domain, the database layer, the stores and the registry sit beneath it)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / 'service' / 'glint'
LOWER = ('domain', 'db', 'store', 'registry', 'common')


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize('layer', LOWER)
def test_no_upward_import_of_the_api(layer):
    upward = {str(path.relative_to(PACKAGE)): sorted(
                  name for name in imported(path) if name.split('.')[:2] == ['glint', 'api'])
              for path in (PACKAGE / layer).rglob('*.py')}
    assert {path: names for path, names in upward.items() if names} == {}


def test_the_database_layer_knows_no_domain():
    below = [PACKAGE / 'db', PACKAGE / 'store']
    found = {str(p.relative_to(PACKAGE)): n for d in below for p in d.rglob('*.py')
             if (n := sorted(m for m in imported(p) if m.startswith('glint.domain')))}
    assert found == {}

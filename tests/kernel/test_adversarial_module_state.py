"""State kept in modules, functions and the interpreter, changed by a cached cell.

A hit imports modules and defines functions again instead of storing them, so what a cell
set on them (``mod.X = 1``, ``mod.CONFIG["k"] = 1``, ``f.calls += 1``) must make it run;
interpreter settings (recursion limit, decimal context) are re-applied.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from ._adversarial import assert_runs_match_plain
from .conftest import outputs_text
from .test_cellcache_fidelity_notebooks import CACHED, build, execute

pytestmark = pytest.mark.kernel

MODULES = [
    "import os, sys, json, decimal\nos.makedirs('lib', exist_ok=True)\n"
    "with open('lib/local_settings.py', 'w') as fh:\n    fh.write('CONFIG = {}\\nX = 1\\n')\n"
    "sys.path.insert(0, os.path.abspath('lib'))\nimport local_settings",
    "V = 2",
    "def helper():\n    return V\nhelper.calls = 0",
    CACHED + "local_settings.CONFIG['v'] = V\nlocal_settings.X = V\njson.adversarial = V\n"
    "configured = True",
    CACHED + "helper.calls += V\ncounted = True",
    CACHED + "sys.setrecursionlimit(3000 + V)\ndecimal.getcontext().prec = 10 + V\nlimited = True",
]
MODULES_CHECKS = [
    "local_settings.CONFIG",
    "local_settings.X",
    "getattr(json, 'adversarial', None)",
    "helper.calls",
    "sys.getrecursionlimit()",
    "decimal.getcontext().prec",
    "str(decimal.Decimal(1) / decimal.Decimal(7))",
]


def test_what_a_cell_sets_on_modules_and_functions_is_never_skipped(tmp_path: Path) -> None:
    assert_runs_match_plain(MODULES, MODULES_CHECKS, ("V = 2", "V = 3"), tmp_path)
    notebook = build(MODULES, [], cached=True)
    notebook.cells += [nbformat.v4.new_code_cell(f"%persist why c{i}") for i in (3, 4)]
    why = execute(notebook, tmp_path / "cached")
    assert "module local_settings" in outputs_text(why.cells[-2])
    assert "helper" in outputs_text(why.cells[-1])


# A registry a notebook class fills from __init__: the class attribute is the same list
# object after the cell, but its contents changed, which a restore would not redo.
REGISTRY = [
    "V = 2",
    "class Registry:\n    items = []\n    def __init__(self, v):\n        self.v = v\n"
    "        Registry.items.append(v)",
    CACHED + "entry = Registry(V)",
    CACHED + "doubled = V * 2",
]


def test_a_class_registry_filled_by_a_cached_cell_is_filled_again(tmp_path: Path) -> None:
    assert_runs_match_plain(
        REGISTRY, ["Registry.items", "entry.v", "doubled"], ("V = 2", "V = 3"), tmp_path
    )

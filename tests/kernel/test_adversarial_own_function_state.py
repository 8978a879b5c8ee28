"""A function a cached cell defines and calls, changing its own mutable default.

``def add(x, acc=[])`` appending to ``acc``, called in the same cell: after a plain run its
default holds the item, and a later ``add(5)`` returns ``[3, 5]``. A hit defines ``add``
again (definitions are re-made, not stored) with the default as written, so the later call
returned ``[5]``. Such a cell runs now, and ``%persist why`` says so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain, why_of
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

OWN_DEFAULT = [
    "V = 3",
    CACHED + "def add(x, acc=[]):\n    acc.append(x)\n    return acc\n\nfirst = list(add(V))",
    "print(add(5))",
    CACHED + "def keep(x, *, into={}):\n    return into\n\nkept = keep(V)\nsquare = V * V",
]


def test_a_cell_changing_the_default_of_a_function_it_defines_runs(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    assert_runs_match_plain(OWN_DEFAULT, ["first", "square"], ("V = 3", "V = 4"), tmp_path / "runs")
    why = why_of(OWN_DEFAULT, ["c1"], tmp_path)
    assert "default value" in why[0]


# The same through a class the cell defines: a method's default, and a class attribute its
# instances append to (``self.items.append(v)``). A hit re-made the class as written: a
# later ``Acc().add(5)`` gave ``[5]`` (plain: ``[3, 5]``) and ``Reg.items`` was ``[]``.
OWN_CLASS = [
    "V = 3",
    CACHED
    + "class Acc:\n    def add(self, x, into=[]):\n        into.append(x)\n        return into\n\n"
    "a = Acc()\nr = list(a.add(V))",
    CACHED
    + "class Reg:\n    items = []\n    def __init__(self, v):\n        self.items.append(v)\n\n"
    "reg = Reg(V)\nn = V",
    "print(Acc().add(5), Reg.items, reg.items)",
    CACHED + "class Plain:\n    tags = []\n\nplain = Plain()\ncube = V ** 3",
]


def test_a_cell_changing_what_a_class_it_defines_holds_runs(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    assert_runs_match_plain(OWN_CLASS, ["r", "n", "cube"], ("V = 3", "V = 4"), tmp_path / "runs")
    why = why_of(OWN_CLASS, ["c1", "c2"], tmp_path)
    assert "Acc.add()" in why[0]
    assert "Reg.items" in why[1]


# A counter kept as a class attribute (``type(self).count += 1`` in ``__init__``) or as an
# attribute a helper sets on a function the cell defines (``bump(tick)``): a hit re-made them
# as written (``Made.count`` 0, plain 3; ``tick.calls`` missing, an AttributeError where the
# plain run shows 3).
OWN_COUNTERS = [
    "V = 3\ndef bump(f):\n    f.calls = getattr(f, 'calls', 0) + 1",
    CACHED
    + "class Made:\n    count = 0\n    def __init__(self):\n        type(self).count += 1\n\n"
    "made = [Made() for _ in range(V)]\nsize = V",
    CACHED + "def tick():\n    return 1\n\nfor _ in range(V):\n    bump(tick)\ndone = V",
    "print(Made.count, tick.calls)",
    CACHED + "def twice(x):\n    return 2 * x\n\nsix = twice(V)",
]


def test_a_cell_counting_in_what_it_defines_runs(tmp_path: Path) -> None:
    assert_runs_match_plain(OWN_COUNTERS, ["size", "done", "six"], ("V = 3", "V = 4"), tmp_path)

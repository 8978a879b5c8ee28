"""Classes a cell makes by a call and binds to their own name, over an older class of that name.

``Point = namedtuple('Point', ['x', 'y'])`` (Think Python's chapter 18, after a ``class
Point`` cell) makes a class whose module is ``__main__`` and whose name is ``Point``: pickle
stores it as the reference ``__main__.Point``, which a restore in a fresh kernel resolves in
the namespace *before* the cell's variables are bound, where ``Point`` is still the older
``class Point``. ``p = Point(1, 2)`` then made an instance of the wrong class (its repr,
``p[0]``, unpacking and equality all differed from the plain run).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

BY_CALL = [
    "V = 2",
    CACHED + "class Point:\n    def __init__(self, x, y):\n        self.x, self.y = x, y",
    CACHED + "class Shape:\n    sides = 0",
    CACHED + "from collections import namedtuple\nPoint = namedtuple('Point', ['x', 'y'])",
    CACHED + "Shape = type('Shape', (), {'sides': V})\nsquare = Shape()",
    CACHED + "p = Point(1, V)\nq = p._replace(x=V)\nkinds = [Point, Shape]",
]
BY_CALL_CHECKS = [
    "repr(p)",
    "p == Point(1, V)",
    "isinstance(p, tuple)",
    "Point._fields",
    "q",
    "kinds[0] is Point",
    "Shape.sides",
    "square.sides",
    "isinstance(square, Shape)",
]


def test_a_class_made_by_a_call_over_an_older_class_of_its_name(tmp_path: Path) -> None:
    assert_runs_match_plain(BY_CALL, BY_CALL_CHECKS, ("V = 2", "V = 3"), tmp_path)

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

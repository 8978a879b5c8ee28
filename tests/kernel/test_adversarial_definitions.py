"""A cell that only defines functions: what their bodies read is the callers' input.

A ``def`` whose body reads five matplotlib artists took ~1 s to store where the plain cell
took 3 ms (CBE30338's animation notebook): each artist was an input of the defining cell,
and fingerprinting one pickles its whole figure. A cell that only imports and defines, and
calls nothing while doing so (no call outside function bodies, no decorator), runs none of
those bodies; the cells that call the functions have what they read in their keys, so an
upstream edit still makes exactly those cells run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain, why_of
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

DEFINED = [
    "K = 3\nfactor = [2]",
    CACHED + "import math\n\ndef scale(x):\n    return x * K * factor[0]\n\n"
    "class Scaler:\n    def apply(self, x):\n        return scale(x) + K",
    CACHED + "y = scale(2)\nz = Scaler().apply(1)\nw = math.floor(y / 3)",
    "factor[0] = 5",
    CACHED + "v = scale(1)",
]


def test_a_cell_only_defining_is_keyed_without_what_its_functions_read(tmp_path: Path) -> None:
    assert_runs_match_plain(DEFINED, ["y", "z", "w", "v"], ("K = 3", "K = 4"), tmp_path)
    (tmp_path / "why").mkdir()
    why_of(DEFINED, [], tmp_path / "why")
    edited = [c.replace("K = 3", "K = 4") for c in DEFINED]
    defining, calling = why_of(edited, ["c1", "c2"], tmp_path / "why")
    assert "restored" in defining
    assert "ran" in calling

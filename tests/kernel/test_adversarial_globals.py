"""Globals a cell reaches through the functions it defines and calls.

Each notebook runs plain, then under ``%%persist`` cold, warm in a fresh kernel, after an
upstream edit and after the edit is undone: every run must show what a plain run shows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

# A function the cell defines and calls, declaring ``global counter`` and updating it: the
# analysis took ``counter += 10`` for a local of the function, so the value it started from
# was no input. After an upstream edit of ``counter``, the hit restored the sum made from the
# old value (11 where a re-run gives 12).
GLOBAL_DECLARED = [
    "V = 1\ncounter = 0\ndef bump(k):\n    global counter\n    counter += k",
    CACHED + "bump(V)\nbumped = True",
    CACHED + "def local_bump():\n    global counter\n    counter += 10\nlocal_bump()",
    CACHED + "def reset():\n    global total\n    total = 5\nreset()",
    "print(counter, total)",
]


def test_a_global_a_cells_own_function_updates_is_an_input(tmp_path: Path) -> None:
    assert_runs_match_plain(GLOBAL_DECLARED, ["counter"], ("V = 1", "V = 2"), tmp_path)

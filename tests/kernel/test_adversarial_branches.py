"""Names a cell binds only on some paths (a branch, a loop, a ``try`` or ``with`` body).

``if flag: x = 1`` then ``y = x * 2``: with ``flag`` false, ``y`` is made from the ``x`` of
the cells above. The analysis took any binding as done for the statements after it, so ``x``
was no input: after an upstream edit of ``x`` every such cell was restored with the old
``y`` (10 where a re-run gives 12). Such a *maybe read* is now an input exactly when the run
left the name as it was (the entry's ``kept:`` check); bound by the run, its old value was
not read, and the cell is restored in the kernel that ran it as in a fresh one.

Each notebook runs plain, then under ``%%persist`` cold, warm in a fresh kernel, after an
upstream edit and after the edit is undone: every run must show what a plain run shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

SKIPPED_BINDINGS = [
    "x = 5\nflag = False\nn = 0\nz = x + 2\ns = 'a'\nu = x * 2\nzero = 0",
    CACHED + "if flag:\n    x = 1\ny = x * 2\ny",
    CACHED + "for i in range(n):\n    z = i\nv = z * 3\nv",
    CACHED + "try:\n    u = int(s)\nexcept ValueError:\n    pass\nq = u + 1\nq",
    CACHED + "while flag:\n    x = 0\n    break\nw = x - 1\nw",
    CACHED + "import contextlib\nwith contextlib.suppress(ZeroDivisionError):\n"
    "    x = 1 / zero\nr = x + 100\nr",
    CACHED + "match n:\n    case 1:\n        z = 0\nm = z * 5\nm",
    CACHED + "if flag:\n    def grow(k):\n        return k\nelse:\n    pass\nG = x * 7",
    CACHED + "k = flag and (x := 0)\nt = x + 3\nt",  # := in an operand never evaluated
    "print(y, v, q, w, r, m, G, t)",
]


def test_a_name_a_skipped_binding_leaves_is_an_input(tmp_path: Path) -> None:
    assert_runs_match_plain(SKIPPED_BINDINGS, ["x", "z", "u"], ("x = 5", "x = 6"), tmp_path)


# The loops that did run: their names were bound by the run, so the values they had before
# were not read; the same kernel's second run is a hit, and so is a fresh kernel's.
RAN_BINDINGS = [
    "%load_ext persist_ext",
    "%config PersistMagics.min_time = 0",
    "n = 3",
    "%%persist loop\nprint('ran')\nfor epoch in range(n):\n    loss = 10 - epoch\nbest = loss",
    "%%persist loop\nprint('ran')\nfor epoch in range(n):\n    loss = 10 - epoch\nbest = loss",
    "%persist why loop",
]


def test_a_name_its_own_loop_bound_is_not_an_input(run_cells: Any, text_of: Any) -> None:
    done = run_cells(RAN_BINDINGS)
    assert "ran" in text_of(done.cells[3])
    assert "persist: restored loop" in text_of(done.cells[4]), text_of(done.cells[5])

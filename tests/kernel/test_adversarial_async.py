"""A ``%%persist`` cell with top-level ``await`` in a kernel.

ipykernel runs a plain cell with top-level ``await`` as a coroutine of the loop that runs
every cell; the ``%%persist`` magic, itself called from a cell, could not (IPython's runner
for the body tried to run that loop again: "RuntimeError: This event loop is already
running", and none of the cell's names were bound). Such a cell now runs as the plain cell
it is, nothing stored, and ``%persist why`` says so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain, why_of
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

AWAITING = [
    "import asyncio\nV = 2",
    CACHED + "async def twice(x):\n    await asyncio.sleep(0)\n    return 2 * x\n"
    "awaited = await twice(V)\nprint('awaited', awaited)",
    CACHED + "async with asyncio.timeout(5):\n    later = await twice(V + 1)\nlater",
    CACHED + "import time\ntime.sleep(0.3)\nslow = awaited + later",
]


def test_a_cell_with_top_level_await_runs_as_in_a_plain_cell(tmp_path: Path) -> None:
    assert_runs_match_plain(AWAITING, ["awaited", "later", "slow"], ("V = 2", "V = 3"), tmp_path)
    awaits, stored = why_of(AWAITING, ["c1", "c3"], tmp_path / "cached")
    assert "top-level await" in awaits
    assert "runs as a plain cell" in awaits
    assert "top-level await" not in stored

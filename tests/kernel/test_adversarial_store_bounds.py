"""Storing a run is bounded even when one call in the pickling blocks.

A value whose ``__reduce__`` blocks (sleeps as on a server that never answers)
must not hold the cell until ``store_timeout`` (two minutes): pickling that writes nothing
for ``STALL_SECONDS`` gives up, the cell has run as a plain cell, and it is recorded as one
that runs, so later runs do not wait again. Nothing here asserts how long anything took.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain, why_of
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

BLOCKED = [
    # Waits as on a server that never answers (an Event the cell read would be an input
    # that cannot be fingerprinted, which makes the cell run for another reason).
    "import time\n"
    "class Stuck:\n    def __reduce__(self):\n        time.sleep(10**6)\n"
    "        return (Stuck, ())",
    "N = 1",
    CACHED + "held = Stuck()\nvalue = N * 2\nprint('made', value)",
    CACHED + "doubled = [N] * 2",
]


def test_a_value_whose_pickling_blocks_makes_the_cell_run_with_a_note(tmp_path: Path) -> None:
    checks = ["value", "type(held).__name__", "doubled"]
    assert_runs_match_plain(BLOCKED, checks, ("N = 1", "N = 2"), tmp_path)
    (why,) = why_of(BLOCKED, ["c2"], tmp_path / "cached")
    assert "storing 'held' stopped: pickling it wrote nothing for" in why

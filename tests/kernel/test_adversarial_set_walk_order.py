"""A cached cell walking a set an upstream cell made: the order is an input, not only the items.

Upstream ``s = set(range(100))`` then discarding all but 7 and 8 walks ``7, 8``; edited to
``s = {7, 8}`` it walks ``8, 7`` (a new 8-slot table: 8 sits in slot 0). A set's fingerprint
does not depend on its order, so ``first = list(s)[0]`` downstream was restored with ``7``
after the edit, where the plain run gives ``8``. A cell walking a set is keyed on the order
the set iterates in.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

WALKED = [
    "s = set(range(100))\nfor i in range(100):\n    if i not in (7, 8):\n        s.discard(i)",
    CACHED + "first = list(s)[0]\nlabels = [f'#{k}' for k in s]",
]


def test_a_cell_walking_a_set_is_keyed_on_its_order(tmp_path: Path) -> None:
    assert_runs_match_plain(
        WALKED, ["first", "labels"], ("s = set(range(100))", "s = {7, 8}"), tmp_path
    )


# Ties go to the item met first: ``max(s, key=...)``, ``sorted(s, key=...)`` (stable) and
# ``s.pop()`` (the first item) take the set's order too. With upstream edited to
# ``s = {7, 8}`` they were restored with 7 and ``[7, 8]`` where the plain run gives 8.
TIES = [
    WALKED[0],
    CACHED + "top = max(s, key=lambda k: 0)\nranked = sorted(s, key=lambda k: 0)",
    CACHED + "picked = s.pop()",
]


def test_a_cell_taking_ties_or_popping_from_a_set_is_keyed_on_its_order(tmp_path: Path) -> None:
    assert_runs_match_plain(
        TIES, ["top", "ranked", "picked", "s"], ("s = set(range(100))", "s = {7, 8}"), tmp_path
    )

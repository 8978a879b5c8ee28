"""Sets of numbers a later cell walks: the order they iterate in is part of what they show.

A set of ints, floats or tuples of them iterates in the same order in every kernel (their
hashes are not salted), an order that comes from its hash table: a sieve discarding the
composites of ``set(range(2, 50))`` keeps its 128-slot table, and walks ``2, 3, 5, 7, 11``.
Pickle stores the items and loads them into a new table sized for 15, so a restored
``primes`` walked ``2, 3, 5, 37, 7, 41, 11, ...``: a later ``print(list(primes)[:12])`` and
``repr(primes)`` differed from the plain run's. Such a set is stored with its table's size
and loaded iterating as it did; one whose order no rebuild gives (its items placed by the
order they were added and removed in) makes its cell run, and ``%persist why`` says so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain, why_of
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

SIEVE = [
    "V = 50",
    CACHED + "primes = set(range(2, V))\nfor i in range(2, V):\n"
    "    for j in range(2 * i, V, i):\n        primes.discard(j)\n"
    "both = [primes, frozenset(primes)]",
    "print(list(primes)[:12], list(both[1])[:12], both[0] is primes)",
]


def test_a_restored_set_of_numbers_iterates_as_the_run_left_it(tmp_path: Path) -> None:
    assert_runs_match_plain(SIEVE, ["primes"], ("V = 50", "V = 60"), tmp_path)


# Pairs kept after removing some: where each sits in the table depends on the
# pairs removed, which no rebuild from the items repeats. The cell runs.
PAIRS = [
    "import random\nV = 0",
    CACHED + "r = random.Random(V)\npairs = {(r.randrange(100), r.randrange(100)) "
    "for _ in range(300)}\nfor p in [(r.randrange(100), r.randrange(100)) for _ in range(600)]:\n"
    "    pairs.discard(p)",
    "print(list(pairs)[:8], hash(tuple(pairs)))",
    CACHED + "label = 'pairs of ' + str(V) + ': ' + str(len(pairs))",
]


def test_a_set_whose_order_cannot_be_rebuilt_makes_its_cell_run(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    assert_runs_match_plain(PAIRS, ["label"], ("V = 0", "V = 1"), tmp_path / "runs")
    why = why_of(PAIRS, ["c1"], tmp_path)
    assert "would iterate in another order once loaded" in why[0]


# Frozen dataclasses hash as the tuple of their fields: a set of them iterates alike in every
# kernel too. With V = 8 no rebuild gives its order (the cell runs); with V = 7 one does.
POINTS = [
    "from dataclasses import dataclass\n\n@dataclass(frozen=True)\nclass P:\n    x: int\n"
    "    y: int\n\nV = 7",
    CACHED + "pts = {P(i, 1) for i in range(200)}\nfor i in range(200):\n    if i % V:\n"
    "        pts.discard(P(i, 1))",
    "print(list(pts)[:6])",
]


def test_a_restored_set_of_frozen_dataclasses_iterates_as_the_run_left_it(
    tmp_path: Path,
) -> None:
    assert_runs_match_plain(POINTS, ["len(pts)"], ("V = 7", "V = 8"), tmp_path)

"""Iterators over dicts and sets, bound by a cell (NetworkX's ``DG.successors(1)``).

Python's pickle reduces a dict's key, value and item iterators (reversed ones too), a set's
and an ``OrderedDict``'s to a list iterator over a copy of what they have left to walk. A
restored cell showed ``<list_iterator ...>`` where a plain run shows
``<dict_keyiterator ...>``, and the iterator no longer followed its dict: after ``d[3] =
'c'``, ``next(k)`` raises in a plain run and went on after a restore. Such a value is not
stored; its cell runs (and says why), and the cells around it are still restored.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

ITERATORS = [
    "from collections import OrderedDict\nd = {1: 'a', 2: 'b'}\nN = 3",
    CACHED + "k = iter(d.items())\nr = reversed(d)\ns = iter({N, 7})\no = iter(OrderedDict(d))",
    CACHED + "doubled = N * 2",
    CACHED + "iter(d)",
    "d[3] = 'c'\ntry:\n    next(k)\n    grew = 'went on'\n"
    "except RuntimeError as exc:\n    grew = str(exc)\n"
    "kinds = [type(v).__name__ for v in (k, r, s, o)]\nleft = sorted(s)",
]


def test_dict_and_set_iterators_stay_what_they_are(tmp_path: Path) -> None:
    assert_runs_match_plain(
        ITERATORS, ["grew", "kinds", "left", "doubled"], ("N = 3", "N = 4"), tmp_path
    )


# pydata-book ch03: ``for letter, names in itertools.groupby(names, first_letter): ...``
# leaves ``names`` bound to the last group, consumed. ``itertools`` pickles a group its
# groupby has moved past as an empty tuple iterator: a restore bound another type.
GROUPS = [
    "import itertools\nN = 3",
    CACHED + "for letter, names in itertools.groupby(['Alan', 'Adam', 'Wes'], lambda x: x[0]):\n"
    "    print(letter, list(names))\nmoved = itertools.groupby('aabbb')\nkey, old = next(moved)\n"
    "key, live = next(moved)",
    CACHED + "doubled = N * 2",
    "rest = (type(names).__name__, type(old).__name__, list(old), list(live), N)",
]


def test_groups_of_itertools_groupby_stay_groups(tmp_path: Path) -> None:
    assert_runs_match_plain(GROUPS, ["rest", "doubled"], ("N = 3", "N = 4"), tmp_path)

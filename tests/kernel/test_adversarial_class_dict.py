"""A notebook class's ``__dict__`` after the cache stored or fingerprinted its instances.

QuantEcon's ``python_oop`` lecture prints ``Consumer.__dict__`` after making a ``Consumer``.
Reducing an instance (pickle, the fingerprint) makes ``copyreg`` cache the class's slot names
on it, so under ``%%persist`` the dict ended with ``'__slotnames__': []``, cold and warm,
where a plain run shows no such entry. The cache's own reductions leave the class as it was
(``features/_slotnames.py``); the cell's own pickling caches them as in a plain run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

CLASS_DICT = [
    "V = 2\nclass Consumer:\n    def __init__(self, w):\n        self.wealth = w\n\n"
    "    def earn(self, y):\n        self.wealth += y\n\nclass Pickled:\n    pass",
    CACHED + "c1 = Consumer(10 * V)\nc1.earn(5)",
    CACHED + "import pickle\nblob = pickle.dumps(Pickled())\nsize = len(blob) + V",
    "print(sorted(Consumer.__dict__), sorted(Pickled.__dict__))",
]


def test_the_cache_leaves_no_slot_names_on_notebook_classes(tmp_path: Path) -> None:
    checks = ["c1.wealth", "'__slotnames__' in Consumer.__dict__", "size"]
    assert_runs_match_plain(CLASS_DICT, checks, ("V = 2", "V = 3"), tmp_path)


# ``functools.cached_property`` holds a lock on Python 3.11: a class with one (and its
# instances) could not be fingerprinted, so every cell reading one warned and ran. Its
# function is the code that counts, as a property's getter is; the value it caches lives in
# the instance's ``__dict__``, restored with the cell's other changes.
CACHED_PROPERTY = [
    "import functools\nV = 3\nclass P:\n    def __init__(self, v):\n        self.v = v\n\n"
    "    @functools.cached_property\n    def sq(self):\n        return [self.v ** 2]\n\np = P(V)",
    CACHED + "s = p.sq\ns.append(V)",
    "print(p.sq, s is p.sq, sorted(vars(p)))",
]


def test_a_cached_property_is_keyed_on_its_function(tmp_path: Path) -> None:
    assert_runs_match_plain(CACHED_PROPERTY, ["s"], ("V = 3", "V = 4"), tmp_path)

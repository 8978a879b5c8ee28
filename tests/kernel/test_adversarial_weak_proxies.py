"""A value holding a dead ``weakref.proxy`` is stored, not a crash of the cell.

QuantEcon's numba lecture: ``qm_numba = jit(qm)``. A numba dispatcher holds
``weakref.proxy`` objects whose referents can be gone by the time the cell ends; the walk
that groups a cell's variables by the objects they share called ``isinstance`` on such a
proxy, which raises ``ReferenceError: weakly-referenced object no longer exists``: the cell
failed under ``%%persist`` only (six cells of the lecture, cold, warm and after the edit).
A dead proxy holds nothing, so the walk passes over it. The class here is numba's pattern
without numba: a proxy to an object that is gone, dropped from its pickled state.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

DEAD_PROXY = [
    "import weakref\nV = 2",
    "class Target:\n    pass\n\n"
    "class Compiled:\n"
    "    def __init__(self, n):\n"
    "        self.n = n\n"
    "        self.target = weakref.proxy(Target())  # its referent is gone at once\n"
    "    def __getstate__(self):\n"
    "        return {'n': self.n}\n"
    "    def __setstate__(self, state):\n"
    "        self.__init__(state['n'])\n"
    "    def __call__(self, x):\n"
    "        return self.n * x",
    CACHED + "compiled = Compiled(V)\nholder = {'c': compiled, 'data': [V, 1]}",
    CACHED + "y = compiled(10)\nprint(y, holder['data'])",
]
DEAD_PROXY_CHECKS = ["y", "compiled.n", "holder['c'] is compiled", "holder['data']"]


def test_a_dead_weak_proxy_in_a_value_is_passed_over(tmp_path: Path) -> None:
    assert_runs_match_plain(DEAD_PROXY, DEAD_PROXY_CHECKS, ("V = 2", "V = 3"), tmp_path)

"""Values whose class has no module (``type(v).__module__ is None``) are not a crash.

"Numerical Python", chapter 3: ``g = sympy.Function("g")(x, y, z)``. sympy makes the class
``g`` at run time with ``__module__`` set to ``None``; the cell cache asked
``type(v).__module__.startswith(...)`` of the cell's values, and the cell failed under
``%%persist`` only (``AttributeError: 'NoneType' object has no attribute 'startswith'``),
then every later cell reading ``g`` (``'partition'``, from fingerprinting it as an input):
63 new failures in the chapter. The pattern without sympy: a class made by ``type`` with
``__module__`` set to ``None`` whose instances pickle through a function (as sympy's do).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

MODULELESS = [
    "V = 2",
    "def make(name):\n"
    "    methods = {'__repr__': lambda self: name + '()',\n"
    "               '__reduce__': lambda self: (build, (name,))}\n"
    "    return type(name, (), {'__module__': None, **methods})\n\n"
    "def build(name):\n"
    "    return make(name)()",
    CACHED + "g = build('g')\nn = V\ng",
    CACHED + "shown = repr(g)\nprint(shown, n)",
    CACHED + "holder = [g, n]\nholder",
]
MODULELESS_CHECKS = ["shown", "n", "type(g).__module__", "holder[0] is g"]


def test_a_value_of_a_class_without_a_module(tmp_path: Path) -> None:
    assert_runs_match_plain(MODULELESS, MODULELESS_CHECKS, ("V = 2", "V = 3"), tmp_path)

"""Data that is callable: an instance whose class defines ``__call__`` is still data.

Think Bayes' ``Pmf`` (a pandas Series subclass of empiricaldist) is callable (``pmf(x)`` looks
up a probability), and so are ``np.poly1d`` and instances of notebook classes with a
``__call__``. ``damage = d6`` must restore ``damage`` as ``d6`` itself, as a re-run binds it:
such inputs were taken for code (``callable``) and left out of the variables a cell's values
may share objects with, so the restore gave ``damage`` a copy (``damage is d6`` False, and a
later change to ``d6`` did not show through ``damage``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

CALLABLE_DATA = [
    "import numpy as np\nV = 2",
    CACHED + "class Scale:\n    def __init__(self, k):\n        self.k = k\n\n"
    "    def __call__(self, x):\n        return x * self.k",
    CACHED + "p = np.poly1d([1, V])\nscale = Scale(V)",
    CACHED + "q = p\nby = scale\ntwice = [by, q]",
    "scale.k = 10\np.coeffs[0] = 7",
]
CALLABLE_DATA_CHECKS = [
    "q is p",
    "by is scale",
    "twice[0] is scale and twice[1] is p",
    "(by(3), q(1))",
]


def test_callable_instances_aliased_by_a_cached_cell_stay_the_same_object(
    tmp_path: Path,
) -> None:
    assert_runs_match_plain(CALLABLE_DATA, CALLABLE_DATA_CHECKS, ("V = 2", "V = 3"), tmp_path)

"""Objects a library keeps as module-level singletons, held by a cached cell's values.

``scipy.stats.t`` (what a statsmodels prediction's ``dist`` holds), ``matplotlib.rcParams``
and ``pandas.options`` are one object each in a process: code that reaches them through a
restored value must reach *that* object, as after a re-run, not a copy that an assignment
through it would leave the library's settings untouched by (statsmodels' ``ols`` example:
``pred_ols.dist`` came back as a second ``t`` distribution).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

SINGLETONS = [
    "import scipy.stats as stats\nimport matplotlib as mpl\nimport pandas as pd\nV = 2",
    CACHED + "dist = stats.t\nparams = mpl.rcParams\nopts = pd.options\n"
    "held = {'dist': stats.norm, 'rows': V}\n"
    "sample = dist.rvs(V, size=3, random_state=0).round(6).tolist()",
    "params['lines.linewidth'] = V + 1\nopts.display.max_rows = 10 + V",
]
SINGLETONS_CHECKS = [
    "dist is stats.t",
    "held['dist'] is stats.norm",
    "params is mpl.rcParams",
    "opts is pd.options",
    "mpl.rcParams['lines.linewidth']",
    "pd.get_option('display.max_rows')",
    "list(vars(dist))",
    "sample",
]


def test_library_singletons_held_by_restored_values_are_the_live_ones(tmp_path: Path) -> None:
    assert_runs_match_plain(SINGLETONS, SINGLETONS_CHECKS, ("V = 2", "V = 3"), tmp_path)

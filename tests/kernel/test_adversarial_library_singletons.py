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


# A variable bound to the interpreter's own list or dict came back as a copy: a later
# ``paths.append('lib')`` no longer reached the imports (and ``mods = sys.modules`` could not
# be stored at all, a warning on every run).
CONTAINERS = [
    "import sys\nimport warnings\nV = 2",
    CACHED + "paths = sys.path\nalso = sys.path\nmods = sys.modules\nargs = sys.argv\n"
    "filters = warnings.filters\nwidth = V * 10",
    "paths.append('lib-' + str(V))",
]
CONTAINERS_CHECKS = [
    "paths is sys.path",
    "also is paths",
    "mods is sys.modules",
    "args is sys.argv",
    "filters is warnings.filters",
    "sys.path[-1]",
    "width",
]


def test_the_interpreters_containers_held_by_variables_are_the_live_ones(tmp_path: Path) -> None:
    assert_runs_match_plain(CONTAINERS, CONTAINERS_CHECKS, ("V = 2", "V = 3"), tmp_path)


# ``re`` keeps the patterns it compiled: ``re.compile(p)`` in a later cell is the object an
# earlier cell compiled. A restored pattern was compiled again with its flags as read back
# (``re.UNICODE`` added, inline flags folded in): another key of that cache, so a later
# cell's ``re.compile(p)`` made a second pattern where a re-run finds the first.
PATTERNS = [
    "import re\nV = 2",
    CACHED + "pat = re.compile(r'\\d+')\nwords = re.compile('[a-z]+', re.I)\n"
    "inline = re.compile('(?i)x')\nraw = re.compile(b'y+')",
    "same = (re.compile(r'\\d+') is pat, re.compile('[a-z]+', re.IGNORECASE) is words,"
    " re.compile('(?i)x') is inline, re.compile(b'y+') is raw)\ncount = V",
]
PATTERNS_CHECKS = ["same", "(pat.flags, words.flags, inline.flags, raw.flags)", "count"]


def test_a_restored_pattern_is_the_one_re_compile_finds(tmp_path: Path) -> None:
    assert_runs_match_plain(PATTERNS, PATTERNS_CHECKS, ("V = 2", "V = 3"), tmp_path)

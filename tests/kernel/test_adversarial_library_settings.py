"""A cell that sets a library's settings through an object a module holds.

"Numerical Python", chapter 8: ``mpmath.mp.dps = 75`` in a cell of its own, then
``val = mpmath.quad(...)`` and ``sympy.sympify(val)``. The assignment sets an attribute of
``mpmath.mp`` (an object held by the module, not a variable the cell binds): a hit restored
nothing and left mpmath at 15 digits, so the later cells that ran printed
``3.14159265358979`` where the plain run prints 75 digits. Such a cell runs now, and says
so; the cells after it compute with the precision it set. (``decimal.getcontext().prec``
is the decimal facet's, re-applied on a hit: the cell stays restorable.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED, UNNAMED

pytestmark = pytest.mark.kernel

SETTINGS = [
    "import decimal\nimport mpmath\nV = 2",
    CACHED + "mpmath.mp.dps = 30 + V",
    CACHED + "decimal.getcontext().prec = 10 + V\nprecise = True",
    CACHED + "third = 1 / 3",
    "print(mpmath.mpf(1) / 3, decimal.Decimal(1) / 7)",
]
SETTINGS_CHECKS = ["mpmath.mp.dps", "decimal.getcontext().prec", "str(mpmath.mpf(2) / 3)"]


def test_settings_set_through_a_module_held_object_are_not_skipped(
    tmp_path: Path,
) -> None:
    assert_runs_match_plain(SETTINGS, SETTINGS_CHECKS, ("V = 2", "V = 3"), tmp_path)


# A cached cell computing at the precision an earlier cell set: after an upstream edit of the
# precision it was restored with the value computed at the old one (1/9 at 50 digits, shown
# with 60: '...111148232843'). The precision is part of the state a hit checks now.
READING = [
    "import mpmath\nV = 2",
    "mpmath.mp.dps = 30 + 10 * V",
    CACHED + "ninth = mpmath.mpf(1) / 9",
]


def test_a_cell_computing_at_a_library_precision_is_keyed_by_it(tmp_path: Path) -> None:
    assert_runs_match_plain(READING, ["str(ninth)"], ("V = 2", "V = 3"), tmp_path)


# A hit re-applies the whole state of a facet the cell changed: every pandas option, all of
# rcParams, the path list. After an upstream cell was edited to set another value, the
# restored cell put the old one back (Pandas-Cookbook ch02: a cell setting max_rows undid
# the edited max_columns). A cell now reads the facets it changes: after such an edit it
# runs, and sets only what it sets.
UPSTREAM_EDITED = [
    "import sys\nimport pandas as pd\nV = 40\npd.options.display.max_columns = V\n"
    "sys.path.append('up-' + str(V))",
    CACHED + "pd.options.display.max_rows = 8\nk = 1",
    CACHED + "sys.path.insert(0, 'mine')\nj = 2",
    CACHED + "doubled = V * 2",
]
UPSTREAM_EDITED_CHECKS = [
    "pd.options.display.max_columns",
    "pd.options.display.max_rows",
    "[p for p in sys.path if p.startswith(('up-', 'mine'))]",
    "doubled",
]


def test_a_restored_cell_leaves_what_an_edited_upstream_cell_set(tmp_path: Path) -> None:
    assert_runs_match_plain(UPSTREAM_EDITED, UPSTREAM_EDITED_CHECKS, ("V = 40", "V = 41"), tmp_path)


# Warning filters are re-applied as the change the cell made (the filters it added or
# removed), not whole: a restored cell adding a filter kept the filter an edited upstream
# cell added from silencing the warning a later cell issues.
FILTERS_EDITED = [
    "import warnings\nV = 1\nif V == 2:\n    warnings.simplefilter('ignore', UserWarning)",
    CACHED + "warnings.filterwarnings('error', message='never issued')\nk = 0",
    "warnings.warn('shown unless ignored upstream')\nshown = V",
]


def test_a_restored_cell_adds_its_warning_filters_to_those_in_force(tmp_path: Path) -> None:
    assert_runs_match_plain(FILTERS_EDITED, ["shown"], ("V = 1", "V = 2"), tmp_path)


# A cell that sets a setting to the value it already has changes nothing its run could show,
# and its entry re-applied nothing. Pandas-Cookbook ch04 has ``pd.options.display.max_rows = 6``
# in two cells: under bare ``%%persist`` both are one entry, the second run's (no change),
# and in a fresh kernel the first cell was restored from it: pandas kept its 60 rows and the
# 43 cells after it showed whole frames. A cell whose code may set a setting is now keyed on
# that setting's state before it; an environment variable is re-applied as the run wrote it.
SETTERS = [
    "import os, sys, warnings\nimport numpy as np\nimport pandas as pd\nV = 2\n"
    "def setup():\n    pd.set_option('display.precision', 3)",
    UNNAMED + "pd.options.display.max_rows = 6",
    UNNAMED + "np.set_printoptions(precision=2)",
    UNNAMED + "if 'lib' not in sys.path:\n    sys.path.insert(0, 'lib')",
    UNNAMED + "os.environ['PERSIST_TEST_MODE'] = 'fast'",
    UNNAMED + "warnings.simplefilter('ignore', UserWarning)",
    UNNAMED + "setup()",
    "shown = repr(pd.Series([0.123456] * 10))\nprinted = str(np.pi * np.ones(2))\n"
    "warnings.warn('shown unless ignored')",
    UNNAMED + "pd.options.display.max_rows = 6",
    UNNAMED + "np.set_printoptions(precision=2)",
    UNNAMED + "if 'lib' not in sys.path:\n    sys.path.insert(0, 'lib')",
    UNNAMED + "os.environ['PERSIST_TEST_MODE'] = 'fast'",
    UNNAMED + "warnings.simplefilter('ignore', UserWarning)",
    UNNAMED + "setup()",
]
SETTERS_CHECKS = [
    "shown",
    "printed",
    "'lib' in sys.path",
    "os.environ.get('PERSIST_TEST_MODE')",
    "warnings.filters[0][:3]",
    "pd.get_option('display.precision')",
    "V",
]


def test_a_cell_setting_what_was_already_set_sets_it_on_a_hit(tmp_path: Path) -> None:
    assert_runs_match_plain(SETTERS, SETTERS_CHECKS, ("V = 2", "V = 3"), tmp_path)


# Hands-On Data Analysis ch04: ``pd.set_option('display.float_format', lambda x: ...)``. The
# options were digested with the lambda's repr, whose address differs in every kernel: in a
# fresh one, every later cell that shows something missed. Digested by its code and the
# values of the globals it reads, they hit there, and miss after an edit of those values.
FLOAT_FORMAT = [
    "import pandas as pd\nV = 2",
    "digits = V\npd.set_option('display.float_format', lambda x: f'{x:.{digits}f}')",
    CACHED + "s = pd.Series([1.23456, 2.5])\ns",
    CACHED + "t = s * 2\nt",
]


def test_cells_shown_under_a_float_format_function_are_restored_in_a_fresh_kernel(
    tmp_path: Path,
) -> None:
    assert_runs_match_plain(FLOAT_FORMAT, ["t.sum()"], ("V = 2", "V = 3"), tmp_path)


# The same through code the cell's own text does not show: a function of a local module
# (``helper.prep()``) or a method of a notebook class (``cfg.apply()``) that sets a setting,
# seeds numpy or registers a colormap. Keyed only on the module's and the class's code, an
# entry stored by a run that found the setting already set re-applied nothing: in a fresh
# kernel the first ``helper.prep()`` was restored from the second's entry (numpy's precision
# stayed 8), and after an upstream edit ``cfg.apply()`` and ``helper.reset()`` left pandas'
# rows and the generator as the edited cell set them; ``helper.reg()`` restored registered
# nothing, so a later ``get_cmap('mine')`` raised. Found by the corpus helper (2026-12-07).
HELPER = (
    "import matplotlib\nimport numpy as np\nfrom matplotlib.colors import ListedColormap\n\n"
    "def prep():\n    np.set_printoptions(precision=2)\n\n"
    "def reset():\n    np.random.seed(42)\n\n"
    "def reg():\n    if 'mine' not in matplotlib.colormaps:\n"
    "        matplotlib.colormaps.register(ListedColormap(['red', 'blue'], name='mine'))\n"
)
INDIRECT = [
    "import matplotlib\nimport numpy as np\nimport pandas as pd\nV = 2\n"
    f"with open('helper.py', 'w') as f:\n    f.write({HELPER!r})\nimport helper\n"
    "class Cfg:\n    def apply(self):\n        pd.set_option('display.max_rows', 6)\ncfg = Cfg()",
    UNNAMED + "helper.prep()",
    UNNAMED + "helper.prep()",
    "pd.set_option('display.max_rows', 4 + V)\nnp.random.seed(40 + V)",
    UNNAMED + "cfg.apply()",
    UNNAMED + "helper.reset()",
    UNNAMED + "helper.reg()",
    "drawn = np.random.rand()",
]
INDIRECT_CHECKS = [
    "np.get_printoptions()['precision']",
    "pd.get_option('display.max_rows')",
    "drawn",
    "matplotlib.colormaps['mine'].name",
    "V",
]


def test_settings_made_through_a_local_module_or_a_method_are_made_on_a_hit(
    tmp_path: Path,
) -> None:
    assert_runs_match_plain(INDIRECT, INDIRECT_CHECKS, ("V = 2", "V = 3"), tmp_path)


# A library setter held by a variable made in another cell: ``setp()`` runs
# ``np.set_printoptions`` as surely as the call written out.
HELD = [
    "import functools\nimport numpy as np\nimport pandas as pd\nV = 2\n"
    "setp = functools.partial(np.set_printoptions, precision=2)\nso = pd.set_option",
    UNNAMED + "setp()",
    UNNAMED + "setp()",
    "pd.set_option('display.max_rows', 4 + V)",
    UNNAMED + "so('display.max_rows', 6)",
]


def test_a_library_setter_held_by_a_variable_sets_on_a_hit(tmp_path: Path) -> None:
    checks = ["np.get_printoptions()['precision']", "pd.get_option('display.max_rows')", "V"]
    assert_runs_match_plain(HELD, checks, ("V = 2", "V = 3"), tmp_path)

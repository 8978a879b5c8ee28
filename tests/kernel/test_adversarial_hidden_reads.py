"""Globals a cell reads through code its own text does not show (issue #13.3).

A notebook function is keyed on the globals its code looks up; a name it reads only inside a
string (``d.query("a > @thresh")``, ``pd.eval``, a patsy formula) is read too, as in a cell,
and code reading the namespace by computed names (the ``__main__`` module, the shell's
``user_ns``) makes the cell run, saying why. Found by the corpus helper (2026-12-07): after
an upstream edit of ``thresh``, cells calling such functions were restored with the old
results.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain, why_of
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

STRINGS = [
    "import pandas as pd\nimport statsmodels.formula.api as smf",
    "thresh = 1",
    "df = pd.DataFrame({'a': range(6), 'y': [0.0, 1.0, 4.0, 9.0, 16.0, 25.0]})\n"
    "def over(d):\n    return d.query('a > @thresh')\n"
    "def scaled(d):\n    return d.eval('a * @thresh')\n"
    "def fit(d):\n    return smf.ols('y ~ I(a ** thresh)', data=d).fit().params.round(4).tolist()",
    CACHED + "rows = len(over(df))",
    CACHED + "values = scaled(df).tolist()",
    CACHED + "params = fit(df)",
]


def test_a_function_reading_a_global_inside_a_string_is_keyed_on_it(tmp_path: Path) -> None:
    checks = ["rows", "values", "params"]
    assert_runs_match_plain(STRINGS, checks, ("thresh = 1", "thresh = 2"), tmp_path)


COMPUTED = [
    "thresh = 1\nname = 'thresh'",
    "def through_main():\n    import __main__\n    return __main__.thresh * 1000",
    CACHED + "by_main = through_main()",
    CACHED + "by_shell = get_ipython().user_ns[name]",
    CACHED + "kept = thresh + 1",
]


def test_reads_by_computed_names_make_the_cell_run_and_say_why(tmp_path: Path) -> None:
    assert_runs_match_plain(
        COMPUTED, ["by_main", "by_shell", "kept"], ("thresh = 1", "thresh = 2"), tmp_path
    )
    (tmp_path / "why").mkdir()
    said = why_of(COMPUTED, ["c2", "c3"], tmp_path / "why")
    assert "through_main reads notebook variables by names it computes" in said[0]
    assert "the namespace through user_ns" in said[1]

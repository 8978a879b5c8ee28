"""A statsmodels formula model restored by a hit: where its formula looks names up.

"Numerical Python", chapter 14: ``model = smf.ols("y ~ x1 + x2 + x1*x2", data)``, then
``result = model.fit()`` in several cells, and ``result.predict(df_new)`` with a frame
lacking ``x1``. patsy looks a name the data lacks up in the namespace the formula was
evaluated in: the notebook's, where ``x1`` is a 100-row array (plain: "Number of rows
mismatch between data argument and x1 (20 versus 100)"). statsmodels does not pickle
that namespace: unpickling a formula model re-evaluates the formula in the namespace two
frames above the code calling ``pickle.load`` (``PandasData.__setstate__``), which was the
cell cache's own module: after a hit, "NameError: name 'x1' is not defined", and a formula
calling a function of the notebook named ``center`` got patsy's own ``center`` (which
subtracts the training mean): other predictions, silently. A hit unpickles from frames whose
namespace is the notebook's, as a cell calling ``pickle.load`` does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel


FORMULAS = [
    "import numpy as np\nimport pandas as pd\nimport statsmodels.formula.api as smf\nN = 30",
    "rng = np.random.default_rng(0)\nx1 = rng.normal(size=N)\n"
    "data = pd.DataFrame({'x1': x1, 'y': 3 * x1 + rng.normal(size=N)})\n"
    "def center(v):\n    return v - 1.5",
    CACHED + "result = smf.ols('y ~ x1', data).fit()\nprint(round(result.params['x1'], 6))",
    CACHED + "centered = smf.ols('y ~ center(x1)', data).fit()\nprint(centered.params.round(6))",
    "def outcome(f):\n    try:\n        return f()\n    except Exception as exc:\n"
    "        return f'{type(exc).__name__}: {exc}'",
]
FORMULA_CHECKS = [
    "outcome(lambda: result.predict(pd.DataFrame({'z': [1.0, 2.0]})).tolist())",
    "outcome(lambda: centered.predict(pd.DataFrame({'x1': [0.0, 1.0]})).round(6).tolist())",
]


def test_a_restored_formula_model_looks_names_up_in_the_notebook(tmp_path: Path) -> None:
    assert_runs_match_plain(FORMULAS, FORMULA_CHECKS, ("N = 30", "N = 40"), tmp_path)

"""Variables a restore binds that the cell neither read nor bound (co-variables of its outputs).

A cell that mutates an input is stored with every variable sharing objects with it (an older
alias must see the mutation), including variables the cell never names. Restoring binds them
all, so when an upstream edit rebinds one of them (and leaves the cell's inputs as they
were) the restore must not put back the value the stored run saw (statsmodels'
``arima_alternative_estimators_seasonal_differencing``: ``res_hr.plot_diagnostics()`` caches
attributes on ``res_hr``; its entry held the edited cell's ``ax``, which the restore put back
from before the edit).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain, why_of
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

# ``panel`` shares ``meta`` with ``model`` and depends on ``V``; the cached cell reads only
# ``model`` and mutates it. ``b`` is ``a`` before the edit and a list of its own after it.
COVARIABLES = [
    "V = 2",
    "meta = {'unit': 'cm'}\nmodel = {'meta': meta, 'cache': {}}\na = [1]",
    "panel = {'label': V, 'meta': meta}\nb = a if V == 2 else [V]",
    CACHED + "model['cache']['k'] = 1\na.append(5)\ndone = True",
]
COVARIABLES_CHECKS = [
    "panel['label']",
    "panel['meta'] is model['meta']",
    "b",
    "b is a",
    "a",
    "model['cache']",
]


def test_a_restore_never_binds_back_a_variable_an_upstream_edit_rebound(tmp_path: Path) -> None:
    assert_runs_match_plain(COVARIABLES, COVARIABLES_CHECKS, ("V = 2", "V = 3"), tmp_path)
    edited = [c.replace("V = 2", "V = 3") for c in COVARIABLES]
    (why,) = why_of(edited, ["c3"], tmp_path / "cached")
    assert "variable panel, stored with what the cell changed" in why

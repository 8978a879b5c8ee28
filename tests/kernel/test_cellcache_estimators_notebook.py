"""A fitted model restored in a new kernel is the same input to the cells that use it.

An unpickled scikit-learn forest holds copies of names the fitted one shared, so its plain
pickle differs; its fingerprint must not (issue #13.6: handson-ml2 02 re-ran an 89 s
cross-validation on every warm run because of it).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.kernel

CELLS = [
    "%load_ext persist_ext\n%config PersistMagics.min_time = 0",
    "import numpy as np\nfrom sklearn.ensemble import RandomForestRegressor",
    "%%persist fit\nX = np.random.default_rng(0).random((60, 3))\n"
    "forest = RandomForestRegressor(n_estimators=3, random_state=42).fit(X, X.sum(axis=1))",
    "%%persist score\nscore = forest.score(X, X.sum(axis=1))\nprint(round(score, 6))",
]


def test_a_cell_using_a_restored_forest_is_restored_too(run_cells, text_of) -> None:
    cold = run_cells(CELLS)
    warm = run_cells(CELLS)
    assert "persist: restored fit" in text_of(warm.cells[2])
    shown = text_of(warm.cells[3])
    assert "persist: restored score" in shown, shown
    assert text_of(cold.cells[3]).split()[0] == shown.split()[0]  # the same score

"""Checkpoints in real kernels: save in one kernel, restore in a fresh one (a restart)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.kernel


def test_restarted_kernel_gets_back_to_where_it_was(run_cells, text_of) -> None:
    first = run_cells(
        [
            "%load_ext persist_ext",
            "import numpy as np\n"
            "class Model:\n"
            "    def __init__(self, w):\n"
            "        self.w = w\n"
            "    def predict(self, x):\n"
            "        return self.w * x\n"
            "weights = np.arange(5.0)\n"
            "model = Model(3)\n"
            "log = open('log.txt', 'w')",
            "%persist checkpoint",
        ]
    )
    saved = text_of(first.cells[2])
    assert "saved 3 variable(s), 1 module(s)" in saved
    assert "skipped log" in saved  # an open file is reported, not silently dropped

    # A new kernel knows nothing of np, Model, weights or model until restore.
    second = run_cells(
        [
            "%load_ext persist_ext",
            "%persist restore",
            "print(np.__name__, weights.sum(), model.predict(2), type(model).__name__)",
        ]
    )
    assert "restored 3 variable(s)" in text_of(second.cells[1])
    assert text_of(second.cells[2]).strip() == "numpy 10.0 6 Model"

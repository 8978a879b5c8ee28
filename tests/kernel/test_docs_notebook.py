"""README's promises that need a real kernel, each run as written through nbclient."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parents[2]

HELPERS = (ROOT / "tests/data/readme_taste_helpers.py").read_text()


def test_readme_taste_cell_is_restored_in_a_new_kernel(run_cells, text_of, tmp_path) -> None:
    """README "A taste" (and docs/cell-cache.md: "after a kernel restart"): the
    `%%persist load_data` cell as written, run in one kernel, is restored with its output in
    the next one, where `frame` and `model` (an instance of a notebook class) are back."""
    readme = (ROOT / "README.md").read_text()
    (cell,) = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "load_data" in b]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "raw.csv").write_text("a,b\n1,2\n")
    cells = ["%load_ext persist_ext", HELPERS, cell, "print(type(model).__name__, frame)"]
    first = run_cells(cells)
    assert "plotted 0.5 2" in text_of(first.cells[2])
    assert "persist: restored" not in text_of(first.cells[2])
    second = run_cells(cells)  # a fresh kernel
    shown = text_of(second.cells[2])
    assert "plotted 0.5 2" in shown  # "Outputs come back too"
    assert "persist: restored load_data" in shown
    assert "Model ['a,b', '1,2']" in text_of(second.cells[3])

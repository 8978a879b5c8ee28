"""``python -m benchmarks.kernel_costs`` runs end to end (its numbers are in the README).

Only that it runs and what it reports are checked here, never a speed: the notebooks are
three one-line cells, run plain, cold, warm and plain again in fresh kernels.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import kernel_costs

pytestmark = pytest.mark.kernel


def test_kernel_costs_reports_every_variant_of_a_trivial_notebook(tmp_path: Path, capsys) -> None:
    rows = tmp_path / "rows.json"
    args = ["--trivial", "3", "--rounds", "1", "--scratch", str(tmp_path), "--json", str(rows)]
    assert kernel_costs.main(args) == 0
    (row,) = json.loads(rows.read_text())
    assert row["notebook"] == "trivial-3"
    assert row["cells"] == 3
    assert row["failures"] == []
    assert row["restored"] == 0  # one-line cells run: nothing is worth restoring
    for key in ("cpu_plain", "cpu_cold", "cpu_warm", "cpu_plain_again"):
        assert row[key] > 0, key
    out = capsys.readouterr().out
    assert "least CPU of the rounds" in out
    assert "per cell: plain" in out


def test_a_notebooks_data_is_where_it_looks_in_every_kernel(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "numbers.txt").write_text("1 2 3")
    cells = ["total = sum(map(int, open('input/numbers.txt').read().split()))", "print(total)"]
    row = kernel_costs._one(cells, [(str(data), "input")], None)
    assert row["failures"] == []  # a missing file would fail the first cell

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
    literal, calling = json.loads(rows.read_text())
    assert literal["notebook"] == "trivial-3"
    assert literal["cells"] == 3
    assert calling["notebook"] == "trivial-calls-3"
    assert calling["cells"] == 4  # the function, then three cells calling it
    for row in (literal, calling):
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
    (tmp_path / "helper.py").write_text("X = 1")
    # A cell's error is the notebook's own (the runner allows it): a missing file ends
    # the kernel instead, which the runner reports as a failure.
    cells = [
        "import os\n"
        "if not (os.path.exists('input/numbers.txt') and os.path.exists('helper.py')):\n"
        "    os._exit(3)",
        "import helper\nprint(helper.X)",
    ]
    copies = [(str(data), "input"), (str(tmp_path / "helper.py"), "helper.py")]
    row = kernel_costs._one(cells, copies, None)
    assert row["failures"] == []
    assert kernel_costs._one(cells, copies[:1], None)["failures"]  # the check can fail

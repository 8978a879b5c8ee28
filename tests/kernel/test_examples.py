"""Every notebook in examples/ runs top to bottom in a fresh kernel, twice (the second run
exercises whatever the first one cached)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.kernel

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs_twice_without_errors(notebook: Path, run_notebook, tmp_path: Path) -> None:
    copy = tmp_path / notebook.name
    shutil.copy(notebook, copy)
    for _ in range(2):
        executed = run_notebook(copy)
        errors = [
            output
            for cell in executed.cells
            for output in cell.get("outputs", [])
            if output.output_type == "error"
        ]
        assert not errors, f"{notebook.name}: {errors[0]['ename']}: {errors[0]['evalue']}"

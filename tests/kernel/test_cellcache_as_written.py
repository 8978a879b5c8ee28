"""Cells whose code shows they cost less to run than to look up run as written (#13.6).

A ``%%persist`` cell that only imports, defines and binds values written in it (``x = 5``,
``labels = ['a', 'b']``, ``print(x)``, ``def f(...)``) is run as the plain cell it is: the
``%%persist`` line is taken off before IPython runs it, nothing is analysed further, keyed,
looked up or stored, and no store is created for it. Such a cell shows what the plain cell
shows (its ``Out[n]`` and ``_`` too), ``%persist why`` says why it ran and ``%persist list``
lists it. The other cells of the notebook are cached as before (automatic policy).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from .conftest import execute, outputs_text
from .test_cellcache_fidelity_notebooks import seen

pytestmark = pytest.mark.kernel

CELLS = [
    "x = 5\nlabels = ['a', 'b', 1024]\nprint(f'{x:03d}', labels)\nlabels",
    "labels.append(x * 2)\nfor label in labels:\n    print(label)\nlen(labels), labels[-1]",
    "def scale(values, k=2):\n    return [k * v for v in values]\nclass Box:\n    size: int = 3",
    "import time\ntime.sleep(0.2)\ntotal = scale([x, x + 1])\ntotal",
    "print(_, Out[max(Out)], total, Box.size)",
]
CHECKS = "print(sorted(k for k in globals() if k in {'x', 'labels', 'total', 'scale', 'Box'}))"


def _notebook(cells: list[str], cached: bool, extra: list[str] = ()) -> nbformat.NotebookNode:
    sources = ["%load_ext persist_ext"] if cached else ["pass"]
    sources += [f"%%persist c{i}\n{c}" if cached and i < 4 else c for i, c in enumerate(cells)]
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(s) for s in [*sources, CHECKS, *extra]]
    return notebook


def test_cheap_cells_run_as_written_and_show_what_plain_cells_show(tmp_path: Path) -> None:
    plain_dir, cached_dir = tmp_path / "plain", tmp_path / "cached"
    plain_dir.mkdir()
    cached_dir.mkdir()
    edited = [c.replace("x = 5", "x = 7") for c in CELLS]
    plain = seen(execute(_notebook(CELLS, False), plain_dir))
    plain_edit = seen(execute(_notebook(edited, False), plain_dir))
    assert plain != plain_edit
    asked = [*(f"%persist why c{i}" for i in range(4)), "%persist list"]
    cold = execute(_notebook(CELLS, True, asked), cached_dir)
    assert seen(cold)[: len(plain)] == plain
    why_values, why_small, why_defs, why_sleep, listed = (outputs_text(c) for c in cold.cells[-5:])
    assert "it only imports, defines and binds values written in it" in why_values
    assert "seen from its code: nothing was looked up or stored" in why_values
    assert "it computes only on small values" in why_small
    assert "seen from its code and the sizes of what it reads" in why_small
    assert "it only imports and defines" in why_defs
    assert "nothing was stored for it yet" in why_sleep  # cached as before
    assert "runs: it only imports, defines and binds values written in it" in listed
    assert "runs: it only imports and defines" in listed
    assert "runs: it computes only on small values" in listed
    warm = execute(_notebook(CELLS, True), cached_dir)
    assert seen(warm) == plain
    assert "persist: restored c3" in outputs_text(warm.cells[4])  # the sleeping cell only
    assert not any("persist: restored" in outputs_text(c) for c in warm.cells[1:4])
    assert seen(execute(_notebook(edited, True), cached_dir)) == plain_edit


def test_a_notebook_of_cheap_cells_creates_no_store(tmp_path: Path) -> None:
    cells = ["x = 5\nprint(x)", "def f():\n    return g()", "import os\ny = [x, os]"]
    ran = execute(_notebook(cells, True, ["%persist why c2", "%persist list"]), tmp_path)
    assert "seen from its code" in outputs_text(ran.cells[-2])
    listed = outputs_text(ran.cells[-1])  # listed, though no store exists
    assert all(f"c{i} " in listed for i in range(3)), listed
    assert not (tmp_path / ".persist").exists()


def test_a_cell_reading_a_module_or_large_values_is_looked_up_as_before(
    tmp_path: Path,
) -> None:
    cells = ["import os\nsep = os.sep", "big = list(range(100_000))", "k = big[0]"]
    ran = execute(
        _notebook(cells, True, ["%persist why c0", "%persist why c1", "%persist why c2"]), tmp_path
    )
    for cell in ran.cells[-3:]:
        why = outputs_text(cell)
        assert "seen from its code" not in why
        assert "nothing was stored for it yet" in why


def test_a_library_call_on_small_values_runs_as_written(tmp_path: Path) -> None:
    cells = [
        "import numpy as np\nimport pandas as pd",
        "x = np.arange(10)\ns = pd.Series([1, 2, 3], index=['a', 'b', 'c'])\ns",
        "x[::2] * 2, x.sum(), np.sin(x)",  # x is small: read as such by the next cell
        "print(x.shape, int(x.sum()), list(s.index))",
    ]
    plain_dir, cached_dir = tmp_path / "plain", tmp_path / "cached"
    plain_dir.mkdir()
    cached_dir.mkdir()
    plain = seen(execute(_notebook(cells, False), plain_dir))
    asked = ["%persist why c1", "%persist why c2"]
    cold = execute(_notebook(cells, True, asked), cached_dir)
    assert seen(cold)[: len(plain)] == plain
    for cell in cold.cells[-2:]:
        assert "numerical libraries' functions" in outputs_text(cell)
    assert seen(execute(_notebook(cells, True), cached_dir)) == plain  # and warm

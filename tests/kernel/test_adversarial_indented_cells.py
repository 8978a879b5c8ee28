"""A ``%%persist`` cell whose body starts indented, run again as the plain cell it is.

Think Python's chapters 16-18 have cells that hold one indented method (``    def
translated(self, dx=0, dy=0): ...``), which IPython dedents before running. Under the automatic
policy such a cell (it only defines) is recorded as one that runs; in a later kernel the runs
index hands its body to IPython as a plain cell, after IPython's own cleanup (which dedents a
cell's first line, the ``%%persist`` line) had run: the body kept its indentation and failed
with ``IndentationError: unexpected indent`` where the plain cell defines the method.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from .test_cellcache_fidelity_notebooks import execute, seen

pytestmark = pytest.mark.kernel

INDENTED = [
    "class Point:\n    def __init__(self, x):\n        self.x = x",
    "    def shifted(self, d=1):\n        return Point(self.x + d)",
    "\n    >>> def doubled(self):\n    ...     return Point(2 * self.x)",
    "Point.shifted, Point.doubled = shifted, doubled\nprint(Point(2).shifted().doubled().x)",
]


def notebook(cached: bool) -> nbformat.NotebookNode:
    # The automatic policy (no min_time): cheap cells are recorded as cells that run.
    sources = ["%load_ext persist_ext"] if cached else []
    sources += [f"%%persist c{i}\n{cell}" if cached else cell for i, cell in enumerate(INDENTED)]
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    return book


def test_indented_bodies_run_as_the_plain_cells_do(tmp_path: Path) -> None:
    plain = seen(execute(notebook(cached=False), tmp_path))
    assert plain[-1] == ["stdout:6\n"]
    for _ in ("cold", "warm", "again"):
        assert seen(execute(notebook(cached=True), tmp_path))[1:] == plain

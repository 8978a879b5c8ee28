"""%%persist in real notebooks run by nbclient: each run is a fresh kernel on the same store.

A fresh kernel per run is exactly "a kernel restart between runs". A file counter written by
the cached cell's body proves whether the body executed.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.kernel

SETUP = [
    "%load_ext persist_ext",
    "%matplotlib inline\nimport pandas as pd\nimport matplotlib.pyplot as plt",
    "def scale(x):\n    return x * FACTOR",
    "def helper(x):\n    return scale(x) + 1",
    "FACTOR = 2",
]

CACHED = (
    "%%persist work\n"
    "with open('runs.txt', 'a') as counter:\n"
    "    counter.write('x')\n"
    "frame = pd.DataFrame({'v': [helper(i) for i in range(n)]}, index=list('abcde')[:n])\n"
    "print('computed', len(frame))\n"
    "plt.plot(frame.v)\n"
    "plt.show()\n"
    "frame"
)


def notebook(n: int = 5, helper: str | None = None) -> list[str]:
    cells = list(SETUP)
    if helper is not None:
        cells[3] = helper
    return [*cells, f"n = {n}", CACHED, "print('total', frame.v.sum(), frame.index.tolist())"]


def kinds(cell) -> list[str]:
    found = []
    for output in cell.outputs:
        if output.output_type == "stream":
            found.append(f"stream:{output.name}")
        else:
            found.append("+".join(sorted(output.get("data", {}))))
    return found


def test_second_run_restores_variables_and_outputs_without_executing(
    run_cells, text_of, tmp_path: Path
) -> None:
    first = run_cells(notebook())
    second = run_cells(notebook())  # a new kernel: the restart case
    assert (tmp_path / "runs.txt").read_text() == "x"  # the body ran once
    cached_first, cached_second = first.cells[-2], second.cells[-2]
    assert "computed 5" in text_of(cached_second)
    assert "persist: restored work from" in text_of(cached_second)
    # Same outputs in the same order: text, the figure, the DataFrame's HTML table.
    assert kinds(cached_first)[:3] == kinds(cached_second)[:3]
    assert any("image/png" in k for k in kinds(cached_second))
    html = [o for o in cached_second.outputs if "text/html" in o.get("data", {})]
    assert html
    assert "<table" in html[0].data["text/html"]
    # Variables are back: the next cell uses them.
    assert "total 25 ['a', 'b', 'c', 'd', 'e']" in text_of(second.cells[-1])


def test_changed_input_or_helper_reexecutes_and_why_says_which(
    run_cells, text_of, tmp_path: Path
) -> None:
    run_cells(notebook())
    changed = run_cells(notebook(n=4))
    assert (tmp_path / "runs.txt").read_text() == "xx"
    assert "total 16" in text_of(changed.cells[-1])
    # The helper edited three cells above the cached cell, in a function it calls.
    edited = run_cells(
        [*notebook(n=4, helper="def helper(x):\n    return scale(x) + 2"), "%persist why work"]
    )
    assert (tmp_path / "runs.txt").read_text() == "xxx"
    assert "total 20" in text_of(edited.cells[-2])
    assert "function helper changed" in text_of(edited.cells[-1])


def test_unnamed_cell_hits_after_a_restart(run_notebook, text_of, tmp_path: Path) -> None:
    # JupyterLab sends each cell's id (an unnamed cell is then named ``cell-<id>``); nbclient
    # does not, so here the cell is named after its code digest.
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(s)
        for s in [
            # min_time = 0: this cell is so cheap it would otherwise be run, not restored.
            "%load_ext persist_ext\n%config PersistMagics.min_time = 0",
            "%%persist\nwith open('runs.txt', 'a') as f:\n    f.write('x')\nanswer = 6 * 7",
            "print('answer', answer)",
            "%persist list",
        ]
    ]
    path = tmp_path / "unnamed.ipynb"
    nbformat.write(nb, path)
    run_notebook(path)
    second = run_notebook(path)
    assert (tmp_path / "runs.txt").read_text() == "x"
    assert "answer 42" in text_of(second.cells[2])
    listing = text_of(second.cells[3])
    assert "cell-" in listing
    assert listing.rstrip().endswith("1")


def test_failing_cell_stops_the_notebook_and_is_not_cached(run_cells, tmp_path: Path) -> None:
    cells = ["%load_ext persist_ext", "%%persist bad\nopen('runs.txt', 'a').write('x')\n1 / 0"]
    first = run_cells(cells, allow_errors=True)
    errors = [o for o in first.cells[1].outputs if o.output_type == "error"]
    assert errors
    assert errors[0].ename == "ZeroDivisionError"
    run_cells(cells, allow_errors=True)
    assert (tmp_path / "runs.txt").read_text() == "xx"

"""%%persist in a real JupyterLab: run a notebook, restart the kernel, run it again.

The second run must show the restored outputs (text, figure, DataFrame table) and the
"restored" notice without executing the body (a file counter proves it); an unnamed cached
cell is named after the cell id JupyterLab sends. Screenshots go to ``artifacts/``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from ._notebooks import open_notebook, run_all, wait_kernel_idle, write_notebook

pytestmark = pytest.mark.browser

CELLS = [
    "%load_ext persist_ext\n%matplotlib inline\n"
    "import pandas as pd\nimport matplotlib.pyplot as plt",
    "n = 6",
    "%%persist demo\n"
    "with open('cellcache-runs.txt', 'a') as counter:\n"
    "    counter.write('x')\n"
    "table = pd.DataFrame({'x': range(n), 'square': [i * i for i in range(n)]})\n"
    "print('computed', len(table), 'rows')\n"
    "plt.figure(figsize=(4, 2))\n"
    "plt.plot(table.x, table.square, marker='o')\n"
    "plt.show()\n"
    "table",
    "%%persist\nanswer = 6 * 7",
    "print('sum of squares', table.square.sum(), 'answer', answer)",
    "%persist list",
]


def _last_cell_text(page: Any) -> str:
    return page.evaluate(
        """() => {
            const cells = document.querySelectorAll('.jp-Notebook .jp-Cell');
            const last = cells[cells.length - 1];
            return last ? last.querySelector('.jp-OutputArea').innerText : '';
        }"""
    )


def _run_all_and_wait(page: Any) -> None:
    run_all(page)
    deadline = time.time() + 120
    while time.time() < deadline and "demo" not in _last_cell_text(page):
        time.sleep(0.25)
    assert "demo" in _last_cell_text(page), "the notebook did not finish running"


def test_restored_outputs_after_a_kernel_restart(
    page: Any, lab: Any, artifacts: Path, page_errors: list[str]
) -> None:
    path = "cellcache-demo.ipynb"
    write_notebook(lab.root, path, CELLS)
    counter = lab.root / "cellcache-runs.txt"
    open_notebook(page, path)
    _run_all_and_wait(page)
    assert counter.read_text() == "x"
    page.screenshot(path=str(artifacts / "cellcache-first-run.png"), full_page=True)

    # Restart the kernel (a new process: nothing in memory), then run everything again.
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.restartKernel()")
    wait_kernel_idle(page)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    _run_all_and_wait(page)
    assert counter.read_text() == "x", "the cached cell body ran again after the restart"
    notebook = page.locator(".jp-Notebook")
    text = notebook.inner_text()
    assert "persist: restored demo from" in text
    assert "computed 6 rows" in text
    assert "sum of squares 55 answer 42" in text
    # Restored rich outputs: the figure and the DataFrame's HTML table are on the page.
    cached = page.locator(".jp-Notebook .jp-Cell").nth(2)
    assert cached.locator(".jp-OutputArea img").count() >= 1
    assert cached.locator(".jp-OutputArea table").count() >= 1
    # The unnamed cell is named after the id JupyterLab sent with the execution.
    assert "cell-cellcache-demo-3" in _last_cell_text(page)
    cached.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "cellcache-restored.png"), full_page=True)
    assert not page_errors

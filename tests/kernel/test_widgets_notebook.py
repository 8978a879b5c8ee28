"""A notebook runs a task group on a process pool with the live displays; the saved notebook
and its nbconvert HTML show the final numbers (not the first frame, not a widget placeholder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbconvert
import nbformat
import pytest

TASKS_MODULE = """
import time

def square(x):
    time.sleep(0.02)
    print(f"squared {x}")
    return x * x
"""


def _build(tmp_path: Path, n: int) -> object:
    (tmp_path / "nbtasks.py").write_text(TASKS_MODULE)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from persist_ext.storage._store import Store\n"
            "from persist_ext.features._tasks._group import TaskGroup\n"
            "from persist_ext.interfaces.widgets._tasks import display_tasks\n"
            "from persist_ext.interfaces.widgets._markers import display_markers\n"
            "import nbtasks\n"
            "fired = []\n"
            f"store = Store({str(tmp_path / 'store')!r})\n"
            "group = TaskGroup('nbdemo', store, executor='processes', max_workers=2,\n"
            "                  on_complete=lambda result: fired.append(len(result.results)))\n"
            f"keys = group.map(nbtasks.square, range({n}), key=str)\n"
            "view = display_tasks(group, interval=0.1)\n"
            "markers = display_markers(group, interval=0.1)"
        ),
        nbformat.v4.new_code_cell("result = group.run().wait()\nprint(len(result.results), fired)"),
        # The displays stop polling by themselves once everything is settled.
        nbformat.v4.new_code_cell(
            "import time\n"
            "deadline = time.time() + 30\n"
            "while (view.poller.running or markers.poller.running) and time.time() < deadline:\n"
            "    time.sleep(0.1)\n"
            "print(view.poller.running, markers.poller.running, view.poller.updates > 1)"
        ),
    ]
    return nb


@pytest.mark.kernel
def test_task_group_displays_leave_final_numbers(tmp_path: Path, run_notebook: Any) -> None:
    n = 40
    path = tmp_path / "widgets.ipynb"
    nbformat.write(_build(tmp_path, n), path)
    nb = run_notebook(path)
    assert f"{n} [{n}]" in nb.cells[1].outputs[0]["text"]
    assert "False False True" in nb.cells[2].outputs[0]["text"]
    tasks_out, markers_out = nb.cells[0].outputs
    # Finished: each output was replaced by its static snapshot (text/html + text/plain).
    assert "application/vnd.jupyter.widget-view+json" not in tasks_out["data"]
    assert f"{n}/{n}" in tasks_out["data"]["text/plain"]
    assert f"{n} done" in tasks_out["data"]["text/html"]
    assert "finished" in tasks_out["data"]["text/html"]
    assert "completion callback fired at" in markers_out["data"]["text/plain"]
    assert f"tasks {n}/{n}" in markers_out["data"]["text/plain"]

    html, _ = nbconvert.HTMLExporter().from_notebook_node(nb)
    (tmp_path / "executed.html").write_text(html)
    assert f"{n} done" in html
    assert f"{n}/{n}" in html
    assert "completion callback fired at" in html
    # Nothing of the first frame survives: no 0/N, no 0%, no unknown ETA.
    assert f" 0/{n}" not in html
    assert "<b>nbdemo</b> 100%" in html
    assert "ETA ?" not in html


@pytest.mark.kernel
def test_a_group_shown_as_a_cell_result_ends_as_final_numbers(
    tmp_path: Path, run_notebook: Any
) -> None:
    # `group.run()` as the last line of a cell displays the group itself: a live view
    # (chosen by persist_ext's registered renderer), never a frozen "0%" snapshot.
    n = 30
    (tmp_path / "nbtasks.py").write_text(TASKS_MODULE)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import persist_ext, nbtasks\n"
            f"store = persist_ext.Store({str(tmp_path / 'store')!r})\n"
            "group = persist_ext.TaskGroup('shown', store, executor='processes', max_workers=2)\n"
            f"keys = group.map(nbtasks.square, range({n}), key=str)\n"
            "group.run()"
        ),
        nbformat.v4.new_code_cell(
            "import time\n"
            "group.wait()\n"
            "time.sleep(1.0)  # the live view's last poll lands while this cell runs\n"
            "print('waited')"
        ),
    ]
    path = tmp_path / "shown.ipynb"
    nbformat.write(nb, path)
    nb = run_notebook(path)
    (shown,) = nb.cells[0].outputs
    assert "application/vnd.jupyter.widget-view+json" not in shown["data"]
    assert f"{n}/{n}" in shown["data"]["text/plain"]
    html, _ = nbconvert.HTMLExporter().from_notebook_node(nb)
    assert f" 0/{n}" not in html
    assert "ETA ?" not in html

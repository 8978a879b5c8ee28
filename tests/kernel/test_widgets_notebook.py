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


def _stream_text(cell: Any) -> str:
    return "".join(o["text"] for o in cell.outputs if o["output_type"] == "stream")


def _display_text(cell: Any) -> str:
    return "".join(
        o["data"].get("text/plain", "")
        for o in cell.outputs
        if o["output_type"] in ("display_data", "execute_result")
    )


@pytest.mark.kernel
def test_on_complete_output_lands_in_the_cell_that_started_the_group(
    tmp_path: Path, run_notebook: Any
) -> None:
    (tmp_path / "nbtasks.py").write_text(TASKS_MODULE)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import time, nbtasks\n"
            "from persist_ext import Store, TaskGroup, set_wait_policy\n"
            f"store = Store({str(tmp_path / 'store')!r})\n"
            "def report(result):\n"
            "    print(f'CALLBACK {len(result.results)} results')\n"
            "first = TaskGroup('first', store, on_complete=report)\n"
            "keys = first.map(nbtasks.square, range(20), key=str)\n"
            # A headless run (nbclient) waits at the end of this cell: the callback prints
            # while the cell still runs, straight into it.
            "first.run();"
        ),
        # As in JupyterLab: the cell ends before the group does.
        nbformat.v4.new_code_cell(
            "set_wait_policy('never')\n"
            "second = TaskGroup('second', store, on_complete=report)\n"
            "keys = second.map(nbtasks.square, range(30), key=str)\n"
            "second.run();"
        ),
        nbformat.v4.new_code_cell("second.wait()\ntime.sleep(0.5)\nprint('waited')"),
    ]
    path = tmp_path / "callback.ipynb"
    nbformat.write(nb, path)
    nb = run_notebook(path)
    assert "CALLBACK 20 results" in _stream_text(nb.cells[0])
    # The interactive path: the callback fired during the third cell; its output went to the
    # area the second cell keeps for it (a widget, plus text for saved notebooks).
    assert "CALLBACK 30 results" in _display_text(nb.cells[1])
    assert "CALLBACK" not in _stream_text(nb.cells[2]) + _display_text(nb.cells[2])
    html, _ = nbconvert.HTMLExporter().from_notebook_node(nb)
    shown = html.split('<script type="application/vnd.jupyter.widget-state+json">')[0]
    # As text, not only inside saved widget state.
    assert shown.count("CALLBACK 20 results") == 1
    assert shown.count("CALLBACK 30 results") == 1


@pytest.mark.kernel
def test_progress_loops_save_truthful_snapshots(tmp_path: Path, run_notebook: Any) -> None:
    store = str(tmp_path / "loops")
    setup = f"import time\nfrom persist_ext import progress\nSTORE = {store!r}"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(setup),
        nbformat.v4.new_code_cell(
            "for i in progress(range(40), desc='plain'):\n    time.sleep(0.005)"
        ),
        nbformat.v4.new_code_cell(
            "for epoch in progress(range(3), desc='epochs'):\n"
            "    for batch in progress(range(10), desc='batches'):\n"
            "        time.sleep(0.002)"
        ),
        nbformat.v4.new_code_cell(
            "for i in progress(range(10), desc='broken'):\n"
            "    if i == 4:\n"
            "        raise ValueError('bad item')"
        ),
        nbformat.v4.new_code_cell(
            "for x in progress(list('abcdefgh'), name='letters', store=STORE):\n"
            "    if x == 'e':\n"
            "        break"
        ),
    ]
    path = tmp_path / "loops.ipynb"
    nbformat.write(nb, path)
    first = run_notebook(path, allow_errors=True)
    plain, nested, broken, named = (first.cells[i].outputs[0]["data"] for i in (1, 2, 3, 4))
    assert "application/vnd.jupyter.widget-view+json" not in plain
    assert "100%" in plain["text/plain"]
    assert "40/40 it" in plain["text/plain"]
    assert "finished" in plain["text/plain"]
    assert "3/3 it" in nested["text/plain"]
    assert "batches" not in nested["text/plain"]  # finished inner bars leave no row
    assert "did not finish" in broken["text/plain"]
    assert "ETA" not in broken["text/plain"]  # a loop that stopped will not finish
    assert "— 4/10 it done" in broken["text/plain"]
    assert "running at" not in broken["text/plain"]
    assert "4/8 it" in named["text/plain"]
    # A new kernel runs the named loop again: it skips what the first run did, and says so.
    nb.cells[4].source = nb.cells[4].source.replace("'e'", "'zz'")
    nbformat.write(nb, path)
    second = run_notebook(path, allow_errors=True)
    resumed = second.cells[4].outputs[0]["data"]["text/plain"]
    assert "8/8 it" in resumed
    assert "4 skipped: done earlier" in resumed
    for executed in (first, second):
        html, _ = nbconvert.HTMLExporter().from_notebook_node(executed)
        assert "ETA unknown" not in html
        assert "ETA ?" not in html


@pytest.mark.kernel
def test_closing_group_and_store_ends_displays_with_the_final_state(
    tmp_path: Path, run_notebook: Any
) -> None:
    (tmp_path / "nbtasks.py").write_text(TASKS_MODULE)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import nbtasks\n"
            "from persist_ext import Store, TaskGroup, display_markers, display_tasks\n"
            "from persist_ext import set_wait_policy\n"
            "set_wait_policy('never')  # as in JupyterLab: nothing waits for the group\n"
            f"store = Store({str(tmp_path / 'store')!r})\n"
            "group = TaskGroup('closing', store, max_workers=2,\n"
            "                  on_complete=lambda r: print('done', len(r.results)))\n"
            "keys = group.map(nbtasks.square, range(60), key=str)\n"
            "display_tasks(group, interval=5)\n"
            "display_markers(group, interval=5)\n"
            "group.run();"
        ),
        # Closed at once, while the displays watch and the tasks still run.
        nbformat.v4.new_code_cell("group.close()\nstore.close()\nprint('closed')"),
    ]
    path = tmp_path / "closing.ipynb"
    nbformat.write(nb, path)
    nb = run_notebook(path)
    shown = [o for o in nb.cells[0].outputs if o["output_type"] == "display_data"]
    (tasks_out,) = [o for o in shown if "persist-ext-taskgroup" in o["data"].get("text/html", "")]
    (markers_out,) = [o for o in shown if "persist-ext-markers" in o["data"].get("text/html", "")]
    # The callback fired while the second cell closed the group: its output is in this cell.
    assert "done 60" in _display_text(nb.cells[0])
    for out in (tasks_out, markers_out):
        text = out["data"]["text/plain"] + out["data"]["text/html"]
        assert "cannot read" not in text
        assert "Error" not in text
        assert "stopped watching" not in text
    assert "60/60" in tasks_out["data"]["text/plain"]
    assert "finished" in tasks_out["data"]["text/plain"]
    assert "tasks 60/60" in markers_out["data"]["text/plain"]

"""A real notebook run through nbclient: the tracker's widget output carries final numbers."""

from __future__ import annotations

from pathlib import Path

import nbclient
import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.kernel
def test_tracker_widget_output_in_saved_notebook(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from persist_ext.features._progress import register_live_renderer\n"
            "from persist_ext.features._pod._tracker import Tracker\n"
            "from persist_ext.interfaces.widgets import live_progress\n"
            "register_live_renderer(live_progress)\n"
            f"tracker = Tracker({str(tmp_path / 'jobs')!r}, title='jobs')\n"
            "tracker.add_many(range(20))\n"
            "tracker"
        ),
        nbformat.v4.new_code_cell(
            "for i in range(20):\n    if tracker.try_it(i):\n        tracker.mark_done(i)"
        ),
    ]
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}
    )
    client.execute()
    outputs = nb.cells[0].outputs
    assert len(outputs) == 1
    data = outputs[0]["data"]
    # The display was updated after the loop cell: every task done, it became its static
    # snapshot with the final counts (no widget placeholder left in the saved notebook).
    assert "application/vnd.jupyter.widget-view+json" not in data
    assert "20 done, 0 to do" in data["text/plain"]
    assert "persist-ext-progress" in data["text/html"]
    assert "20/20" in data["text/html"]


@pytest.mark.kernel
def test_unfinished_tracker_output_is_refreshed_after_later_cells(run_cells) -> None:
    """docs/pod-and-tracker.md: in a headless run the snapshot is refreshed after every later
    cell that changed it, so nbconvert saves real counts. Six of ten tasks done in a later
    cell: the saved output of the cell showing the tracker said "waiting to start ... 0/10"."""
    done = run_cells(
        [
            "from persist_ext import Tracker\n"
            "tracker = Tracker('jobs', title='jobs')\n"
            "tracker.add_many(range(10))\n"
            "tracker",
            "for i in range(6):\n    if tracker.try_it(i):\n        tracker.mark_done(i)",
            "print('last cell')",
        ]
    )
    (output,) = done.cells[0].outputs
    text = output["data"]["text/plain"]
    assert "6 done, 4 to do" in text
    assert "0/10 done" not in text
    assert "6/10" in output["data"]["text/html"]

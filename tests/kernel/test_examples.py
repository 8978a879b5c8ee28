"""Every notebook in examples/ tells the truth when executed headless.

Each example runs twice in one folder, as a newcomer would: first with
``jupyter nbconvert --to notebook --execute`` (then converted to HTML, as GitHub or a report
would show it), then with papermill (the second run exercises whatever the first cached).
The saved ``.ipynb`` and the HTML are read, not only checked for exceptions: every
task-group, marker and progress display ends at its final state (no first frame, no
``ETA ?``, no "not started", no "running at", no error line), every ``on_complete`` print is in
the cell that started its group, and the run leaves no file behind beside the notebook.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat import NotebookNode

pytestmark = pytest.mark.kernel

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.ipynb"))

# What each example's on_complete prints, and a line of code of the cell that starts it.
CALLBACK_PRINTS = {
    "02-task-groups": ("group.run()", "COMPLETE: 56 scores, 4 failures"),
    "03-widgets": ("group.run()", "all done"),
}
# A display of persist_ext's progress family, recognized by its HTML class.
DISPLAY_CLASSES = ("persist-ext-taskgroup", "persist-ext-markers", "persist-ext-progress")
# Words that only an unfinished, stale or broken display shows.
UNTRUE = (
    "ETA ?",
    "ETA unknown",
    "not started",
    "no run yet",
    "waiting to start",
    "waiting for completion",
    "running at",
    "stopped watching",
    "cannot read progress",
    "Error displaying widget",
    "Traceback",
)


def _displays(nb: NotebookNode) -> list[tuple[int, dict]]:
    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if any(c in data.get("text/html", "") for c in DISPLAY_CLASSES):
                found.append((index, data))
    return found


def _check_saved(nb: NotebookNode, stem: str) -> None:
    errors = [
        f"{o.ename}: {o.evalue}"
        for cell in nb.cells
        for o in cell.get("outputs", [])
        if o.output_type == "error"
    ]
    assert not errors, f"{stem}: {errors}"
    stderr = "".join(
        o.text
        for cell in nb.cells
        for o in cell.get("outputs", [])
        if o.output_type == "stream" and o.name == "stderr"
    )
    assert "Traceback" not in stderr, f"{stem} wrote a traceback: {stderr[-2000:]}"
    for index, data in _displays(nb):
        text = data.get("text/plain", "") + data.get("text/html", "")
        for word in UNTRUE:
            assert word not in text, f"{stem} cell {index}: display says {word!r}:\n{text}"
        # Final: the live widget was replaced by its static snapshot.
        assert "application/vnd.jupyter.widget-view+json" not in data, f"{stem} cell {index}"
        assert "finished" in text or "all markers done" in text, f"{stem} cell {index}: {text}"
    if stem in CALLBACK_PRINTS:
        marker, printed = CALLBACK_PRINTS[stem]
        (cell,) = [c for c in nb.cells if c.cell_type == "code" and marker in c.source]
        streams = "".join(o.text for o in cell.outputs if o.output_type == "stream")
        assert printed in streams, f"{stem}: on_complete output missing from its cell"


def _check_html(html: str, stem: str) -> None:
    for word in UNTRUE:
        assert word not in html, f"{stem}.html says {word!r}"
    if stem in CALLBACK_PRINTS:
        assert CALLBACK_PRINTS[stem][1] in html


def _jupyter(*args: str, cwd: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jupyter", *args], cwd=cwd, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-4000:]


@pytest.mark.parametrize("notebook", EXAMPLES, ids=lambda p: p.stem)
def test_example_tells_the_truth_headless(notebook: Path, tmp_path: Path) -> None:
    import papermill

    work = tmp_path / "examples"
    work.mkdir()
    shutil.copy(notebook, work / notebook.name)
    before = {p.name for p in work.iterdir()}
    out_dir = tmp_path / "out"

    # 1. nbconvert executes and saves; the saved notebook then becomes HTML.
    _jupyter(
        "nbconvert",
        "--to",
        "notebook",
        "--execute",
        "--ExecutePreprocessor.timeout=300",
        f"--output-dir={out_dir}",
        str(work / notebook.name),
        cwd=work,
    )
    executed = out_dir / notebook.name
    _check_saved(nbformat.read(executed, as_version=4), notebook.stem)
    _jupyter("nbconvert", "--to", "html", f"--output-dir={out_dir}", str(executed), cwd=work)
    _check_html((out_dir / f"{notebook.stem}.html").read_text(), notebook.stem)

    # 2. papermill, in the same folder (the stores of the first run are there now).
    paper = out_dir / f"{notebook.stem}.papermill.ipynb"
    papermill.execute_notebook(
        str(work / notebook.name),
        str(paper),
        cwd=str(work),
        kernel_name="python3",
        progress_bar=False,
        execution_timeout=300,
    )
    _check_saved(nbformat.read(paper, as_version=4), notebook.stem)

    # Nothing but git-ignored stores is left beside the notebook.
    left = {p.name for p in work.iterdir()} - before - {".persist"}
    assert not left, f"{notebook.name} left files behind: {sorted(left)}"

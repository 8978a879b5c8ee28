"""A process-pool task group in the Persist panel: live while the kernel is busy, then read from
the store after the kernel is killed; failed tasks replayed from the panel."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from ._notebooks import open_notebook, write_notebook
from ._panel import confirm_dialog, open_store, open_tab

pytestmark = pytest.mark.browser

TASKS = """
import time


def slow(x):
    time.sleep(0.8)
    print("finished", x)
    return x * x


def boom(x):
    raise ValueError(f"bad input {x}")
"""

CELLS = [
    "from persist_ext import TaskGroup\nimport panel_tasks\n"
    "group = TaskGroup('crunch', executor='processes', max_workers=2)\n"
    "group.map(panel_tasks.boom, range(2), key=lambda x: f'bad{x}')\n"
    "group.map(panel_tasks.slow, range(60), key=lambda x: f't{x:02d}')\n"
    "group.run()",
    "group.wait()  # keeps the kernel busy while the group runs",
]


def _counts(card: Any) -> dict[str, int]:
    text = card.locator(".jp-persist-counts").inner_text()
    found = dict(
        (name, int(n))
        for n, name in re.findall(r"(\d+) (done|failed|running|interrupted|to do)", text)
    )
    return found


def _kernel_pid(lab: Any, path: str) -> int:
    """The pid of the kernel of notebook ``path`` (from its session and the process table)."""
    import psutil

    (session,) = [s for s in lab.api("api/sessions") if s["path"] == path]
    kernel_id = session["kernel"]["id"]
    for process in psutil.process_iter(["cmdline"]):
        if any(kernel_id in part for part in process.info["cmdline"] or ()):
            return process.pid
    raise AssertionError(f"no process runs kernel {kernel_id}")


def _kernel_busy(page: Any) -> bool:
    """The notebook's last cell (``group.wait()``) is running or queued: the kernel is busy."""
    return page.evaluate(
        """() => {
            const cells = document.querySelectorAll('.jp-Notebook .jp-Cell');
            return cells[cells.length - 1].querySelector('.jp-InputPrompt').innerText
                .includes('*');
        }"""
    )


def _kill_tree(pid: int) -> None:
    import psutil

    parent = psutil.Process(pid)
    family = [parent, *parent.children(recursive=True)]
    for process in family:
        try:
            process.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(family, timeout=30)


def test_a_running_group_live_then_after_the_kernel_is_killed(
    page: Any, lab: Any, artifacts: Path, page_errors: list[str]
) -> None:
    (lab.root / "panel_tasks.py").write_text(TASKS)
    path = write_notebook(lab.root, "panel-groups.ipynb", CELLS)
    from persist_ext.storage._store import Store

    Store(lab.root / ".persist").close()
    open_notebook(page, path)
    # The panel is open on the store's groups before the group exists: it appears live.
    panel = open_store(page, ".persist")
    open_tab(panel, "groups")
    # Start the run without waiting for it (the command's promise ends with the last cell).
    page.evaluate("() => { void window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    card = panel.locator('li.jp-persist-group[data-group="crunch"]')
    card.wait_for(timeout=60_000)
    page.wait_for_function(
        "() => document.querySelector('#persist-ext-sidebar li[data-group=\"crunch\"]')"
        ".dataset.state === 'running'",
        timeout=60_000,
    )
    # The panel advances on its own (no clicks) while the kernel is busy in group.wait().
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(set(seen)) < 3:
        assert _kernel_busy(page)
        done = _counts(card)["done"]
        if not seen or done != seen[-1]:
            seen.append(done)
        time.sleep(0.3)
    assert len(set(seen)) >= 3, f"the progress did not advance live: {seen}"
    assert seen == sorted(seen)
    assert card.get_attribute("data-state") == "running"
    page.screenshot(path=str(artifacts / "panel-group-running.png"))

    # Kill the kernel (and its pool) mid-run: the panel reads the store without it.
    pid = _kernel_pid(lab, path)
    before = _counts(card)
    assert before["done"] < 60
    _kill_tree(pid)
    page.wait_for_function(
        "() => document.querySelector('#persist-ext-sidebar li[data-group=\"crunch\"]')"
        ".dataset.state !== 'running'",
        timeout=60_000,
    )
    after = _counts(card)
    assert after["done"] >= before["done"]
    assert after["failed"] == 2
    assert card.get_attribute("data-state") in ("interrupted", "idle", "failed")
    # JupyterLab tells about the dead kernel in a dialog: dismiss it (the panel needs no kernel).
    dialog = page.locator(".jp-Dialog")
    try:
        dialog.wait_for(timeout=15_000)
        page.screenshot(path=str(artifacts / "panel-group-kernel-died.png"))
        dialog.locator("button.jp-mod-accept, button.jp-mod-reject").first.click()
        dialog.wait_for(state="detached", timeout=30_000)
    except Exception:  # no dialog shown (e.g. the restart was quick): nothing to dismiss
        pass
    card.locator(".jp-persist-name").click()
    table = card.locator("table.jp-persist-tasks")
    table.wait_for(timeout=30_000)
    assert "ValueError: bad input" in table.inner_text()
    # No process runs the group: tasks it left claimed are "interrupted", never "running".
    assert " running" not in card.locator(".jp-persist-counts").inner_text()
    statuses = [td.inner_text() for td in table.locator("tbody td:nth-child(2)").all()]
    assert "running" not in statuses
    page.screenshot(path=str(artifacts / "panel-group-after-kill.png"))

    # With no process running it, the failed tasks can be marked for replay: one from its
    # row, then the rest with "Replay failed".
    card.locator('button[aria-label="Replay task bad0"]').click()
    confirm_dialog(page, "Replay")
    page.wait_for_function(
        "() => /1 failed/.test(document.querySelector("
        "'#persist-ext-sidebar li[data-group=\"crunch\"] .jp-persist-counts').innerText)",
        timeout=60_000,
    )
    replay = card.locator("button.jp-persist-replay")
    assert replay.is_enabled()
    replay.click()
    confirm_dialog(page, "Replay")
    page.wait_for_function(
        "() => /0 failed/.test(document.querySelector("
        "'#persist-ext-sidebar li[data-group=\"crunch\"] .jp-persist-counts').innerText)",
        timeout=60_000,
    )
    reply = lab.api("persist-ext/api/stores/group?path=.persist&name=crunch&status=unstarted")
    assert {"bad0", "bad1"} <= {row["task"] for row in reply["tasks"]}
    assert not os.path.exists(f"/proc/{pid}")
    assert not page_errors

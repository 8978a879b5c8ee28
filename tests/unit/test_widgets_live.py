"""The one live-display mechanism: run ends, closed stores, ordered reads, wait policy."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from persist_ext import ProgressError, Store, TaskGroup, WaitPolicy, set_wait_policy, wait_policy
from persist_ext.features._progress import (
    ProgressSnapshot,
    RunWatch,
    running_work,
    watch_run,
)
from persist_ext.interfaces.widgets._kernel import KernelRunWatch, kernel_waits
from persist_ext.interfaces.widgets._live import displays_of
from persist_ext.interfaces.widgets._markers import MarkerProgress
from persist_ext.interfaces.widgets._tasks import TaskGroupProgress
from persist_ext.storage._memory import MemoryStore


def _gated(x: int, gate: threading.Event) -> int:
    gate.wait(30)
    return x


def test_the_end_of_a_run_refreshes_its_displays_before_close_returns(tmp_path: Path) -> None:
    # The displays never poll here (30 s interval, never shown): only the end of the run can
    # bring them the final numbers, and it must do so before the store can be closed.
    store = Store(tmp_path / "s")
    gate = threading.Event()
    group = TaskGroup("g", store, max_workers=4)
    group.map(lambda x: _gated(x, gate), range(12), key=str)
    view = TaskGroupProgress(group, interval=30)
    markers = MarkerProgress(group, interval=30)
    assert view.snapshot.settled == 0
    group.run()
    gate.set()
    group.close()
    store.close()
    assert view.snapshot.finished
    assert view.snapshot.done == 12
    assert view.done
    assert "finished at" in view.snapshot_html()
    assert markers.state.complete
    assert "tasks 12/12" in markers.snapshot_text()
    # Reading a closed store later ends nothing and says nothing wrong: the state is final.
    view.refresh()
    markers.refresh()
    for display in (view, markers):
        text = display.snapshot_text() + display.snapshot_html()
        assert "stopped watching" not in text
        assert "Error" not in text
        assert "cannot read" not in text
    view.close()
    markers.close()


def test_a_closed_store_ends_an_unfinished_display_with_its_last_state(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    group = TaskGroup("half", store)
    group.map(abs, range(-4, 0), key=str)
    group.run().wait()
    # Another process's view of a bigger group: 4 of 6 settled, nothing running here.
    other = TaskGroup("half", store)
    other.map(abs, range(-6, 0), key=str)
    view = TaskGroupProgress(other, interval=30)
    assert (view.snapshot.settled, view.snapshot.total) == (4, 6)
    store.close()
    view.refresh()  # what the poller or the end of a cell does next
    assert view.done
    assert not view.snapshot.finished
    words = view.status_words()
    assert words.startswith("stopped watching at ")
    assert words.endswith("(store closed) — 4/6 done")
    html = view.snapshot_html()
    assert "stopped watching at" in html
    assert "4/6" in html
    assert "cannot read" not in html  # no error line
    assert "Error" not in html
    view.close()
    group.close()


def test_reads_are_applied_in_order() -> None:
    class Counting:
        def __init__(self) -> None:
            self.n = 0

        def progress(self) -> ProgressSnapshot:
            return ProgressSnapshot("c", total=10, done=self.n, todo=10 - self.n)

    source = Counting()
    view = TaskGroupProgress(source, interval=30)
    old = view._read_in_order()  # a poller read that started first ...
    source.n = 10
    new = view._read_in_order()  # ... and a later one (the end of the run)
    view._apply_in_order(new)
    view._apply_in_order(old)  # finishing late, it must not draw over the newer state
    assert view.snapshot.done == 10
    view.close()


def test_a_new_run_revives_the_displays_of_its_group() -> None:
    group = TaskGroup("again", MemoryStore())
    group.map(abs, [-1, -2], key=str)
    group.run().wait()
    view = TaskGroupProgress(group, interval=30)
    assert view.done
    watch = KernelRunWatch(group)  # what the next run() creates
    assert view in displays_of(group)
    watch.ended()
    assert view.done
    view.close()
    assert view not in displays_of(group)
    group.close()


def test_run_watch_registry() -> None:
    watch = watch_run("work")
    assert isinstance(watch, RunWatch)
    assert watch in running_work()
    assert watch.call(lambda a, b: a + b, 1, 2) == 3
    assert not watch.wait(0)
    watch.ended()
    assert watch.wait(0)
    assert watch not in running_work()


def test_wait_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        assert set_wait_policy("always", timeout=5) == WaitPolicy("always", 5.0)
        assert kernel_waits()
        set_wait_policy("never")
        assert not kernel_waits()
        set_wait_policy("auto")
        assert not kernel_waits()  # no kernel request: interactive
        for bad in ({"mode": "sometimes"}, {"timeout": -1}, {"timeout": "soon"}):
            with pytest.raises(ProgressError):
                set_wait_policy(**bad)  # type: ignore[arg-type]
        assert wait_policy() == WaitPolicy()  # a bad call changes nothing
    finally:
        set_wait_policy()


def test_wait_policy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import persist_ext.features._progress as progress_module

    monkeypatch.setattr(progress_module, "_policy", None)
    monkeypatch.setenv("PERSIST_EXT_WAIT", "always")
    assert wait_policy().mode == "always"
    monkeypatch.setattr(progress_module, "_policy", None)
    monkeypatch.setenv("PERSIST_EXT_WAIT", "maybe")
    with pytest.raises(ProgressError, match="PERSIST_EXT_WAIT"):
        wait_policy()
    monkeypatch.setattr(progress_module, "_policy", None)


def test_kernel_waits_follows_the_request(monkeypatch: pytest.MonkeyPatch) -> None:
    class Kernel:
        def __init__(self, allow_stdin: bool) -> None:
            self.request = {"header": {"msg_id": "m"}, "content": {"allow_stdin": allow_stdin}}

        def get_parent(self, channel: str) -> dict[str, Any]:
            return self.request

    class Shell:
        def __init__(self, allow_stdin: bool) -> None:
            self.kernel = Kernel(allow_stdin)

    assert kernel_waits(Shell(allow_stdin=False))  # nbclient: nbconvert, papermill
    assert not kernel_waits(Shell(allow_stdin=True))  # JupyterLab, Notebook 7

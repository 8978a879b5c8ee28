"""Task-group and marker displays, driven through trait values (no front end)."""

from __future__ import annotations

import threading
import time
from typing import Any

import ipywidgets  # noqa: F401 - required, never skipped
import pytest

from persist_ext.features._progress import ProgressSnapshot
from persist_ext.features._tasks._group import TaskGroup
from persist_ext.features._tasks._markers import (
    build_tree,
    complete_leaf,
    marker_persist,
    paths_to_root,
)
from persist_ext.interfaces.widgets._live import Poller
from persist_ext.interfaces.widgets._markers import MarkerProgress
from persist_ext.interfaces.widgets._tasks import TaskGroupProgress, task_table_html
from persist_ext.storage._memory import MemoryStore


def _slow_square(x: int, gate: threading.Event) -> int:
    gate.wait(10)
    return x * x


def test_group_display_follows_a_running_group() -> None:
    gate = threading.Event()
    group = TaskGroup("w", MemoryStore(), max_workers=2)
    group.map(lambda x: _slow_square(x, gate), range(6), key=str)
    view = TaskGroupProgress(group, interval=0.1)
    assert view.bar.value == 0
    assert view.bar.max == 6
    group.run()
    view.poller.start()
    deadline = time.time() + 5
    while view.snapshot.running == 0 and time.time() < deadline:
        time.sleep(0.05)
    assert view.snapshot.running >= 1
    assert "running" in view.table.value  # the task table lists running tasks
    gate.set()
    group.wait()
    view.poller.join(5)
    assert not view.poller.running  # stopped by itself once finished
    assert view.bar.value == 6
    assert view.bar.bar_style == "success"
    bundle = view._repr_mimebundle_()
    assert "6/6" in bundle["text/plain"]
    assert "100%" in bundle["text/plain"]
    assert "6 done" in bundle["text/html"]
    assert "finished" in bundle["text/html"]
    view.close()
    group.close()


def test_failures_are_counted_and_listed() -> None:
    def boom(x: int) -> int:
        raise ValueError(f"bad input {x}")

    group = TaskGroup("f", MemoryStore())
    group.map(boom, [1, 2], key=str)
    group.run().wait()
    view = TaskGroupProgress(group)
    assert view.snapshot.failed == 2
    assert view.bar.bar_style == "warning"
    assert "bad input 1" in view.table.value
    assert "2 failed" in view.counts.value
    view.close()
    group.close()


def test_table_orders_running_and_failed_first_and_caps_rows() -> None:
    rows = (
        *tuple({"task": f"t{i}", "status": "scheduled"} for i in range(60)),
        {"task": "x", "status": "failed", "error": "Traceback...\nKeyError: 'k'", "tries": 2},
        {"task": "y", "status": "running", "output": "step 1\nstep 2\n"},
    )
    table = task_table_html(rows, max_rows=5)
    assert table.index(">y<") < table.index(">x<") < table.index(">t0<")
    assert "step 2" in table
    assert "KeyError" in table
    assert "and 57 more" in table


def test_poller_rate_is_bounded_and_errors_back_off() -> None:
    with pytest.raises(ValueError, match="interval"):
        Poller(lambda: 0, lambda _: None, lambda _: False, interval=0)
    fast = Poller(lambda: 0, lambda _: None, lambda _: False, interval=0.001)
    assert fast.interval == 0.1
    errors: list[BaseException] = []

    def failing() -> Any:
        raise OSError("store unreachable")

    def record(exc: BaseException) -> None:
        errors.append(exc)
        if len(errors) == 3:
            p.stop()

    p = Poller(failing, lambda _: None, lambda _: True, interval=0.1, on_error=record)
    started = time.monotonic()
    p.start()
    p.join(30)
    # Backing off, not spinning: waits of 0.2 s then 0.4 s separate the three failures.
    assert len(errors) == 3
    assert time.monotonic() - started >= 0.6
    assert isinstance(p.last_error, OSError)


def test_source_without_progress_is_rejected() -> None:
    with pytest.raises(TypeError, match=r"progress\(\)"):
        TaskGroupProgress(object())  # type: ignore[arg-type]


def test_snapshot_of_a_fixed_source() -> None:
    class Fixed:
        def progress(self) -> ProgressSnapshot:
            return ProgressSnapshot("fixed", total=10, done=4, running=1, todo=5)

    view = TaskGroupProgress(Fixed())
    assert view.bar.value == 4
    assert view.bar.bar_style == "info"
    assert "4 done" in view.snapshot_html()
    # Not finished: the saved snapshot says so in words, with the time of the state.
    assert "running at " in view.snapshot_html()
    assert "— 4/10 done, 1 running" in view.snapshot_text()
    view.close()


def test_marker_display_levels_groups_and_completion() -> None:
    store = MemoryStore()
    root = build_tree("g/1", [f"k{i}" for i in range(25)], batch_size=10)
    marker_persist(root, store=store)
    view = MarkerProgress(store, "g/1/root", grace=0)
    assert view.state.levels == ((0, 25), (0, 3), (0, 1))
    assert [b.value for b in view.bars] == [0, 0, 0]
    paths = paths_to_root(root)
    for i in range(10):  # completes the first group of ten
        complete_leaf(store, f"g/1/t/{i}", paths[f"g/1/t/{i}"])
    state = view.refresh()
    assert state.levels == ((10, 25), (1, 3), (0, 1))
    assert [done for _, done in state.groups[0]] == [True, False, False]
    assert "running at " in view.snapshot_text()
    assert "10/25 tasks done" in view.snapshot_text()
    for i in range(10, 25):
        complete_leaf(store, f"g/1/t/{i}", paths[f"g/1/t/{i}"])
    state = view.refresh()
    assert state.complete
    assert view.bars[-1].bar_style == "success"
    assert "all markers done" in view.banner.value
    assert "all markers done" in view._repr_mimebundle_()["text/html"]
    view.close()


def test_marker_display_of_a_group_shows_the_callback_moment() -> None:
    fired: list[float] = []
    group = TaskGroup("m", MemoryStore(), on_complete=lambda _r: fired.append(time.time()))
    view = MarkerProgress(group)
    assert "waiting to start at " in view.snapshot_text()
    group.map(lambda x: x + 1, range(30), key=str)
    group.run().wait()
    state = view.refresh()
    assert fired
    assert state.complete
    assert state.callback_at is not None
    assert state.levels[0] == (30, 30)
    assert "completion callback fired at" in view.banner.value
    view.close()
    group.close()


def test_marker_display_rejects_bad_input() -> None:
    with pytest.raises(TypeError, match="root marker id"):
        MarkerProgress(MemoryStore())
    with pytest.raises(TypeError, match="TaskGroup"):
        MarkerProgress(42)

"""ProgressWidget: trait values, throttling, static snapshot in the display bundle (no browser)."""

from __future__ import annotations

from pathlib import Path

import ipywidgets  # required, never skipped
import pytest

from persist_ext.features._pod._tracker import Tracker
from persist_ext.features._progress import ProgressSnapshot
from persist_ext.interfaces.widgets import ProgressWidget, live_progress

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class Fixed:
    """A source without observers."""

    def __init__(self, snap: ProgressSnapshot) -> None:
        self.snap = snap

    def progress(self) -> ProgressSnapshot:
        return self.snap


def test_traits_follow_the_tracker_live(tmp_path: Path) -> None:
    tracker = Tracker(tmp_path / "jobs", max_tries=1)
    tracker.add_many(["a", "b", "c", "d"])
    widget = ProgressWidget(tracker, interval=0)
    assert widget.title.value == "jobs"
    assert (widget.done_bar.value, widget.done_bar.max) == (0, 4)
    tracker.mark_done("a")  # the observer hook redraws, no explicit refresh
    tracker.abort("b")
    assert widget.done_bar.value == 1
    assert widget.failed_bar.value == 1
    assert widget.done_bar.bar_style == "success"
    assert widget.failed_bar.bar_style == "danger"
    assert widget.status.value.startswith("50% 2/4 | 1 done, 1 failed, 2 to do")
    state = widget.done_bar.get_state()
    assert state["value"] == 1
    assert state["max"] == 4
    widget.close()
    tracker.mark_done("c")  # closed widgets stop following
    assert widget.done_bar.value == 1
    tracker.close()


def test_refreshes_are_throttled(tmp_path: Path) -> None:
    tracker = Tracker(tmp_path / "t")
    tracker.add_many(range(100))
    widget = ProgressWidget(tracker, interval=3600)
    for i in range(100):
        tracker.mark_done(i)
    # No redraw within the interval, however many changes; an explicit refresh draws.
    assert widget.done_bar.value == 0
    widget.refresh()
    assert widget.done_bar.value == 100
    widget.close()
    tracker.close()


def test_bundle_carries_a_static_snapshot() -> None:
    source = Fixed(ProgressSnapshot("load", total=10, done=3, failed=1, todo=6))
    widget = ProgressWidget(source)
    bundle = widget._repr_mimebundle_()
    assert WIDGET_VIEW in bundle
    assert bundle[WIDGET_VIEW]["model_id"] == widget.model_id
    assert bundle["text/plain"].startswith("load [")
    assert "3 done, 1 failed, 6 to do" in bundle["text/plain"]
    assert "persist-ext-progress" in bundle["text/html"]
    widget.close()


def test_finished_source_publishes_its_static_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    published: list[bool] = []
    source = Fixed(ProgressSnapshot("x", total=2, todo=2))
    widget = ProgressWidget(source, interval=0.001)
    monkeypatch.setattr(widget, "publish_snapshot", lambda final=False: published.append(final))
    source.snap = ProgressSnapshot("x", total=2, done=2, finished=True)
    widget.refresh()
    assert published == [True]
    assert "2 done" in widget.snapshot_text()
    widget.refresh()  # still finished: not published again
    assert published == [True]
    widget.close()


def test_live_progress_picks_push_or_polling_display() -> None:
    from persist_ext.interfaces.widgets._tasks import TaskGroupProgress

    observed = Fixed(ProgressSnapshot("obs", total=1, todo=1))
    observed.add_observer = lambda callback: None  # a Tracker-like, in-process source
    polled = Fixed(ProgressSnapshot("polled", total=1, todo=1))
    push, poll = live_progress(observed), live_progress(polled)
    assert isinstance(push, ProgressWidget)
    assert isinstance(poll, TaskGroupProgress)
    push.close()
    poll.close()


def test_a_source_already_shown_live_is_not_shown_twice() -> None:
    from persist_ext.interfaces.widgets._tasks import TaskGroupProgress

    source = Fixed(ProgressSnapshot("fit", total=3, todo=3))
    first = live_progress(source)
    assert isinstance(first, TaskGroupProgress)
    first.poller.start()  # what displaying it does
    try:
        second = live_progress(source)
        assert second._repr_mimebundle_()["text/plain"] == "fit: live progress is shown above."
    finally:
        first.close()
    assert isinstance(live_progress(source), TaskGroupProgress)  # the first one is gone


def test_nested_loops_are_single_html_rows_of_the_outermost_bar() -> None:
    # An inner loop may start thousands of times: each start adds one HTML widget (a full
    # bar is ~7 widget models), and loops nested deeper go to the same outermost bar.
    outer = ProgressWidget(Fixed(ProgressSnapshot("epochs", total=3, done=1, todo=2)))
    inner = outer.add_child(Fixed(ProgressSnapshot("batches", total=10, done=4, todo=6)))
    assert isinstance(inner, ipywidgets.HTML)
    assert "batches" in inner.value
    assert "4/10" in inner.value
    deeper = inner.add_child(Fixed(ProgressSnapshot("steps", total=2, done=2, finished=True)))
    assert list(outer.rows.children) == [inner, deeper]
    text = outer.snapshot_text().splitlines()
    assert text[0].startswith("epochs [")
    assert "batches" in text[1]
    assert "4/10" in text[1]
    assert "steps" in text[2]
    assert "running at" not in deeper.value  # a finished row says so, not a moment
    assert "batches" in outer.snapshot_html()
    deeper.remove_child(inner)  # any row removes through the outermost bar
    assert list(outer.rows.children) == [deeper]
    outer.close()

"""Live task-group progress: bar (done, failed, running, to do), rate, ETA and a task table.

The display reads :class:`~persist_ext.features._progress.ProgressSnapshot` objects from any
progress source (a task group, a tracker) through the one live mechanism of ``_live.py``: a
kernel-side poller thread keeps it moving while the cell blocks, after the cell returned,
and when the tasks run in worker processes or on Dask (workers write to the store; only the
kernel draws).
"""

from __future__ import annotations

import html
import time
import weakref
from typing import Any, ClassVar

import ipywidgets as widgets

from ..._errors import InvalidArgumentError
from ..._format import format_duration
from ...features._progress import (
    ProgressSnapshot,
    ProgressSource,
    eta_text,
    rate_text,
    snapshot_text,
)
from ._live import LiveDisplay, clock

__all__ = ["TaskGroupProgress", "display_tasks", "task_table_html", "tasks_html", "tasks_text"]

# Statuses that need attention first in a long table (triggers' vocabulary plus ours).
_STATUS_RANK = {"running": 0, "failed": 1, "abandoned": 2, "scheduled": 3, "retrying": 3}
_STATUS_COLOR = {
    "running": "#1e88e5",
    "failed": "#e53935",
    "abandoned": "#e53935",
    "finished": "#43a047",
    "done": "#43a047",
    "skipped": "#757575",
    "replayed": "#757575",
}
_CELL = "padding:1px 8px;text-align:left;border-bottom:1px solid #ddd"


def _first(row: dict[str, Any], *names: str, default: Any = "") -> Any:
    for name in names:
        value = row.get(name)
        if value is not None and value != "":
            return value
    return default


def _last_line(text: Any, limit: int = 120) -> str:
    lines = [ln for ln in str(text).splitlines() if ln.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _row_cells(row: dict[str, Any]) -> tuple[str, str, str, str, str, str]:
    seconds = _first(row, "time", "duration", "elapsed", "seconds", default=None)
    started = row.get("started")
    if seconds is None and isinstance(started, (int, float)) and row.get("status") == "running":
        seconds = max(0.0, time.time() - started)  # running: time so far
    when = (
        format_duration(float(seconds)) if isinstance(seconds, (int, float)) else str(seconds or "")
    )
    return (
        str(_first(row, "task", "name", "key", "id")),
        str(_first(row, "status", default="?")),
        str(_first(row, "tries", "attempts", default="")),
        when,
        _last_line(_first(row, "output", "last_line", "stdout")),
        _last_line(_first(row, "error", "exception")),
    )


def task_table_html(rows: tuple[dict[str, Any], ...], max_rows: int = 50) -> str:
    """An HTML table of task rows: running and failed tasks first, at most ``max_rows``.

    >>> print(task_table_html(({"task": "t#0", "status": "failed", "error": "boom"},))[:40])
    <table class="persist-ext-tasks" style="
    """
    if not rows:
        return ""
    order = sorted(
        range(len(rows)),
        key=lambda i: (_STATUS_RANK.get(str(rows[i].get("status", "")), 9), i),
    )
    shown = [rows[i] for i in order[:max_rows]]
    head = "".join(
        f'<th style="{_CELL}">{h}</th>'
        for h in ("task", "status", "tries", "time", "last output", "error")
    )
    body = []
    for row in shown:
        task, status, tries, when, output, error = (html.escape(c) for c in _row_cells(row))
        color = _STATUS_COLOR.get(status, "inherit")
        body.append(
            f'<tr><td style="{_CELL}">{task}</td>'
            f'<td style="{_CELL};color:{color}">{status}</td>'
            f'<td style="{_CELL}">{tries}</td><td style="{_CELL}">{when}</td>'
            f'<td style="{_CELL}">{output}</td><td style="{_CELL};color:#e53935">{error}</td></tr>'
        )
    more = ""
    if len(rows) > max_rows:
        more = f"<div>… and {len(rows) - max_rows} more tasks</div>"
    return (
        '<table class="persist-ext-tasks" style="border-collapse:collapse;'
        'font-family:monospace;font-size:12px">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"
    )


def _counts_html(snap: ProgressSnapshot) -> str:
    parts = [
        f'<span style="color:#43a047">{snap.done} done</span>',
        f'<span style="color:#e53935">{snap.failed} failed</span>',
        f'<span style="color:#1e88e5">{snap.running} running</span>',
        f"<span>{snap.todo} to do</span>",
    ]
    note = f" · {html.escape(snap.note)}" if snap.note else ""
    return (
        f"{snap.settled}/{snap.total} · {' · '.join(parts)} · {rate_text(snap)} · "
        f"{eta_text(snap)}{note}"
    )


def _moment(snap: ProgressSnapshot, status: str) -> str:
    # Finished: when. Otherwise the display's own sentence ("running at ... — 38/80 done").
    if snap.finished:
        return f"finished at {clock(snap.updated)}"
    return status or f"as of {clock(snap.updated)}"


def tasks_html(snap: ProgressSnapshot, max_rows: int = 50, status: str = "") -> str:
    """Static HTML of a task group: stacked bar, counts, rate, ETA, the state's moment, table.

    This is what a saved notebook, ``nbconvert --to html`` and GitHub show. ``status`` is the
    live display's sentence for an unfinished state (``"running at 14:02:05 — 38/80 done"``).
    """
    total = max(snap.total, 1)
    segments = "".join(
        f'<div style="width:{100.0 * n / total:.2f}%;background:{color}"></div>'
        for n, color in (
            (snap.done, "#43a047"),
            (snap.failed, "#e53935"),
            (snap.running, "#1e88e5"),
        )
    )
    return (
        '<div class="persist-ext-taskgroup" style="font-family:sans-serif;font-size:13px">'
        f"<b>{html.escape(snap.title)}</b> {snap.fraction:.0%} "
        f'<span style="color:#757575">({html.escape(_moment(snap, status))})</span>'
        '<div style="display:flex;width:360px;height:12px;background:#e0e0e0;margin:2px 0">'
        f"{segments}</div><div>{_counts_html(snap)}</div>"
        f"{task_table_html(snap.rows, max_rows)}</div>"
    )


def tasks_text(snap: ProgressSnapshot, status: str = "") -> str:
    """Plain text of a task group: the progress line and the state's moment."""
    return f"{snapshot_text(snap)} | {_moment(snap, status)}"


class TaskGroupProgress(LiveDisplay, widgets.VBox):
    """A live display of a task group (or any progress source): bar, counts, task table.

    Displaying it starts a kernel-side poller that reads ``source.progress()`` at most every
    ``interval`` seconds (never faster than 10 per second) until the snapshot says finished;
    the end of a run, a closed store and the end of every cell refresh it too (see
    ``_live.py``).

    Parameters
    ----------
    source
        Anything with ``progress() -> ProgressSnapshot`` (a ``TaskGroup``, a ``Tracker``).
    interval
        Seconds between reads of the store (>= 0.1).
    max_rows
        Most task rows shown; running and failed tasks come first.

    Examples
    --------
    >>> from persist_ext.features._progress import ProgressSnapshot
    >>> class Fixed:
    ...     def progress(self):
    ...         return ProgressSnapshot("demo", total=4, done=3, failed=1, finished=True)
    >>> w = TaskGroupProgress(Fixed())
    >>> w.bar.value, w.bar.max, w.bar.bar_style
    (4, 4, 'warning')
    """

    _views: ClassVar[weakref.WeakSet[TaskGroupProgress]] = weakref.WeakSet()

    def __init__(
        self, source: ProgressSource, *, interval: float = 0.25, max_rows: int = 50
    ) -> None:
        if not callable(getattr(source, "progress", None)):
            raise InvalidArgumentError(
                f"TaskGroupProgress needs an object with a progress() method returning a "
                f"ProgressSnapshot (a TaskGroup or Tracker), got {type(source).__name__}"
            )
        if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 0:
            raise InvalidArgumentError(
                f"max_rows= is how many task rows to show, an int >= 0, not {max_rows!r}"
            )
        self.source = source
        self.max_rows = max_rows
        self.title = widgets.HTML()
        self.bar = widgets.IntProgress(min=0, max=1, value=0, layout=widgets.Layout(width="360px"))
        self.counts = widgets.HTML()
        self.table = widgets.HTML(layout=widgets.Layout(max_height="320px", overflow="auto"))
        self.moment = widgets.HTML()
        super().__init__(
            children=[self.title, widgets.HBox([self.bar, self.counts]), self.moment, self.table]
        )
        self.add_class("persist-ext-taskgroup")
        TaskGroupProgress._views.add(self)
        self._init_live(source, interval=interval, poll=True)

    @property
    def snapshot(self) -> ProgressSnapshot:
        """The snapshot on screen."""
        return self.state  # type: ignore[no-any-return]

    @classmethod
    def showing(cls, source: Any) -> bool:
        """Whether a live view of ``source`` is already displayed and still updating."""
        return any(
            view.source is source and view.poller is not None and view.poller.active
            for view in list(cls._views)
        )

    # -- the LiveDisplay contract ----------------------------------------------------------

    def read(self) -> ProgressSnapshot:
        return self.source.progress()

    def is_final(self, state: ProgressSnapshot) -> bool:
        return state.finished

    def has_started(self, state: ProgressSnapshot) -> bool:
        return state.started is not None or state.settled > 0 or state.running > 0

    def progress_words(self, state: ProgressSnapshot) -> str:
        words = f"{state.settled}/{state.total} done"
        return f"{words}, {state.running} running" if state.running else words

    def draw(self, state: ProgressSnapshot) -> None:
        """Draw ``state`` (the poller, a run's end and the cell end call this)."""
        self.title.value = f"<b>{html.escape(state.title)}</b>"
        self.bar.max = max(state.total, 1)
        self.bar.value = min(state.settled, self.bar.max)
        if state.finished:
            self.bar.bar_style = "warning" if state.failed else "success"
        else:
            # Failed tasks are counted in the bar; a red bar would read "all failed".
            self.bar.bar_style = "info"
        self.counts.value = _counts_html(state)
        moment = html.escape(_moment(state, self.status_words()))
        self.moment.value = f'<span style="color:#757575">{moment}</span>'
        self.table.value = task_table_html(state.rows, self.max_rows)

    def update(self, snap: ProgressSnapshot) -> None:
        """Draw a given snapshot (it becomes the state shown)."""
        self._apply_in_order((self._next_seq(), snap))

    def state_text(self, state: ProgressSnapshot, status: str) -> str:
        return tasks_text(state, status)

    def state_html(self, state: ProgressSnapshot, status: str) -> str:
        return tasks_html(state, self.max_rows, status)


def display_tasks(
    source: ProgressSource, *, interval: float = 0.25, max_rows: int = 50
) -> TaskGroupProgress:
    """Display a live progress view of ``source`` and return it.

    The view keeps updating after the cell returns, until the source reports finished.

    Examples
    --------
    ::

        group = TaskGroup("fit", store=store)
        group.map(fit_one, params)
        display_tasks(group)          # shows the bar and task table
        group.run(executor=ProcessPoolExecutor(4))
    """
    from IPython.display import display

    view = TaskGroupProgress(source, interval=interval, max_rows=max_rows)
    display(view)
    return view

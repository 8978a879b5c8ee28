"""ProgressWidget: the live bar of an in-process source (a Tracker, a ``progress()`` loop).

The source changes in the kernel's own thread (the cell's loop), so the widget does not poll:
a source that offers ``add_observer(callback)`` calls it after each change and the widget
redraws at most ``1 / interval`` times per second (the shared mechanism of ``_live.py``,
which also publishes the final snapshot and re-publishes at the end of every cell). Nested
loops show as rows of their outer loop's widget (:meth:`ProgressWidget.add_child`): a
:class:`LoopRow` is one HTML widget (an inner loop may start thousands of times; a full
widget per start would cost ~7 widget models each).
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from ...features._progress import (
    ProgressSnapshot,
    ProgressSource,
    eta_text,
    rate_text,
    snapshot_html,
    snapshot_text,
)
from ._live import LiveDisplay, clock

__all__ = ["LoopRow", "ProgressWidget", "live_progress", "progress_html", "progress_text"]


def _label(snap: ProgressSnapshot) -> str:
    # The counts part of the text renderer, without its ASCII bar (the widget draws bars).
    text = snapshot_text(snap, width=0)
    return text.split("] ", 1)[-1].strip()


def _loop_line(snap: ProgressSnapshot) -> str:
    """``'45% 45/100 it | 9.8/s | ETA 5.6 s'`` (loops: no failed/to-do vocabulary)."""
    unit = f" {snap.unit}" if snap.unit else ""
    if snap.total <= 0 and not snap.finished:
        head = f"{snap.done:,}{unit}"
    else:
        head = f"{snap.fraction:4.0%} {snap.done:,}/{snap.total:,}{unit}"
    parts = [head, rate_text(snap), eta_text(snap)]
    if snap.note:
        parts.append(snap.note)
    return " | ".join(parts)


def _is_loop(snap: ProgressSnapshot) -> bool:
    return bool(snap.unit)


def progress_text(snap: ProgressSnapshot, status: str = "", width: int = 30) -> str:
    """One line: title, ASCII bar, counts, rate, ETA, and the state's moment if not final."""
    if _is_loop(snap):
        filled = round(snap.fraction * width) if snap.total > 0 else 0
        bar = "#" * filled + "-" * (width - filled)
        line = f"{snap.title} [{bar}] {_loop_line(snap)}"
    else:
        line = snapshot_text(snap, width)
    return f"{line} | {status}" if status else line


def progress_html(snap: ProgressSnapshot, status: str = "") -> str:
    """Static HTML of a bar; ``status`` is the sentence of an unfinished state."""
    if not _is_loop(snap):
        body = snapshot_html(snap)
    else:
        pct = 100.0 * snap.fraction if snap.total > 0 else 0.0
        color = "#43a047" if snap.finished or not status.startswith("stopped") else "#fb8c00"
        body = (
            '<div class="persist-ext-progress" style="font-family:monospace">'
            f"<b>{html.escape(snap.title)}</b> "
            '<div style="display:inline-block;vertical-align:middle;width:240px;height:10px;'
            f'background:#eee"><div style="width:{pct:.1f}%;height:10px;background:{color}">'
            f"</div></div> <span>{html.escape(_loop_line(snap))}</span></div>"
        )
    if status:
        body = f'<div>{body}<div style="color:#757575">{html.escape(status)}</div></div>'
    return body


class _FollowsProgress(LiveDisplay):
    """The LiveDisplay contract for a progress source, shared by the bar and its rows."""

    _ended_phrase = "stopped"
    source: ProgressSource
    interval: float

    def _follow(self, source: ProgressSource, interval: float) -> None:
        # Last in the widget's __init__: reads the first state.
        self._init_live(source, interval=max(interval, 1e-3), poll=False, throttle=interval)
        add_observer = getattr(source, "add_observer", None)
        if callable(add_observer):
            add_observer(self.notify)

    @property
    def snapshot(self) -> ProgressSnapshot:
        """The snapshot on screen."""
        return self.state  # type: ignore[no-any-return]

    def read(self) -> ProgressSnapshot:
        return self.source.progress()

    def is_final(self, state: ProgressSnapshot) -> bool:
        return state.finished

    def has_started(self, state: ProgressSnapshot) -> bool:
        return state.started is not None or state.settled > 0

    def progress_words(self, state: ProgressSnapshot) -> str:
        unit = f" {state.unit}" if state.unit else ""
        if state.total <= 0:
            return f"{state.done:,}{unit} done"
        return f"{state.settled:,}/{state.total:,}{unit} done"

    def close(self) -> None:
        """Stop following the source and close the widget's models."""
        remove = getattr(self.source, "remove_observer", None)
        if callable(remove):
            remove(self.notify)
        super().close()  # type: ignore[misc]


class LoopRow(_FollowsProgress, widgets.HTML):
    """A nested loop's row under its outermost bar: one HTML widget, drawn from the snapshot.

    Loops nested deeper add their rows to the same outermost bar.
    """

    def __init__(self, source: ProgressSource, root: ProgressWidget, *, interval: float) -> None:
        self.source = source
        self.interval = interval
        self._root = root
        super().__init__()
        self._follow(source, interval)

    def draw(self, state: ProgressSnapshot) -> None:
        # A final state says "finished" itself (the status sentence is for unfinished ones;
        # it is drawn before the display records that the state is final).
        self.value = progress_html(state, "" if state.finished else self.status_words())

    def state_text(self, state: ProgressSnapshot, status: str) -> str:
        return progress_text(state, status)

    def state_html(self, state: ProgressSnapshot, status: str) -> str:
        return progress_html(state, status)

    def add_child(self, source: ProgressSource) -> LoopRow:
        """A loop nested in this row's loop: a row of the outermost bar too."""
        return self._root.add_child(source)

    def remove_child(self, child: LoopRow) -> None:
        """Take a row away (see :meth:`ProgressWidget.remove_child`)."""
        self._root.remove_child(child)


class ProgressWidget(_FollowsProgress, widgets.VBox):
    """A title, a *done* and a *failed* bar, and a label with counts, rate and ETA.

    Parameters
    ----------
    source
        Anything with ``progress() -> ProgressSnapshot``; if it also has
        ``add_observer(callback)`` the widget follows it live.
    interval
        Minimum seconds between two live refreshes (0.1 = at most 10 per second).

    Examples
    --------
    >>> import tempfile
    >>> from persist_ext.features._pod._tracker import Tracker
    >>> tracker = Tracker(tempfile.mkdtemp(), title="jobs")
    >>> tracker.add_many(["a", "b"])
    >>> w = ProgressWidget(tracker)
    >>> tracker.mark_done("a"); _ = w.refresh()
    >>> (w.done_bar.value, w.done_bar.max, w.status.value.split(" |")[0])
    (1, 2, '50% 1/2')
    >>> w.close(); tracker.close()
    """

    def __init__(self, source: ProgressSource, *, interval: float = 0.1) -> None:
        self.source = source
        self.interval = interval
        self.title = widgets.Label()
        self.done_bar = widgets.IntProgress(
            min=0, max=1, value=0, bar_style="success", description="done"
        )
        self.failed_bar = widgets.IntProgress(
            min=0, max=1, value=0, bar_style="danger", description="failed"
        )
        self.status = widgets.Label()
        self.moment = widgets.HTML()
        self.rows = widgets.VBox()  # nested loops
        super().__init__(
            children=[
                self.title,
                widgets.HBox([self.done_bar, self.failed_bar]),
                self.status,
                self.moment,
                self.rows,
            ]
        )
        self.add_class("persist-ext-progress")
        self._children: list[LoopRow] = []
        self._follow(source, interval)

    # -- the LiveDisplay contract ----------------------------------------------------------

    def draw(self, state: ProgressSnapshot) -> None:
        total = max(state.total, 1)
        loop = _is_loop(state)
        self.title.value = state.title
        self.done_bar.max = total
        self.done_bar.value = min(state.done, total) if state.total > 0 else 0
        self.failed_bar.max = total
        self.failed_bar.value = min(state.failed, total)
        self.failed_bar.layout.display = "none" if loop else None
        self.done_bar.description = "" if loop else "done"
        if state.total <= 0 and loop:
            self.done_bar.bar_style = "info"
        elif loop and not state.finished and self._ended_reason is not None:
            self.done_bar.bar_style = "warning"
        else:
            self.done_bar.bar_style = "success"
        self.status.value = _loop_line(state) if loop else _label(state)
        status = self.status_words()
        if state.finished:
            status = f"finished at {clock(state.updated)}"
        self.moment.value = f'<span style="color:#757575">{html.escape(status)}</span>'

    def state_text(self, state: ProgressSnapshot, status: str) -> str:
        lines = [progress_text(state, status)]
        lines += ["  " + child.snapshot_text() for child in self._children]
        return "\n".join(lines)

    def state_html(self, state: ProgressSnapshot, status: str) -> str:
        inner = "".join(
            f'<div style="margin-left:1.5em">{child.snapshot_html()}</div>'
            for child in self._children
        )
        return progress_html(state, status) + inner

    def _cell_ended(self, own: bool = True) -> None:
        # A loop left unfinished by its cell (its body raised) is over: let it say so.
        for widget in [*self._children, self]:
            hook = getattr(widget.source, "cell_ended", None)
            if callable(hook):
                hook()
        super()._cell_ended(own)

    # -- nested loops ----------------------------------------------------------------------

    def add_child(self, source: ProgressSource) -> LoopRow:
        """Show ``source`` as a row under this bar (a nested loop); returns its widget."""
        child = LoopRow(source, self, interval=self.interval)
        self._children.append(child)
        self.rows.children = (*self.rows.children, child)
        return child

    def remove_child(self, child: LoopRow) -> None:
        """Take a nested row away (a finished inner loop that does not leave its bar)."""
        if child in self._children:
            self._children.remove(child)
            self.rows.children = tuple(c for c in self.rows.children if c is not child)
            child.close()


def live_progress(source: ProgressSource) -> ProgressWidget:
    """The live renderer factory for push-driven sources (see ``widgets/__init__.py``)."""
    return ProgressWidget(source)

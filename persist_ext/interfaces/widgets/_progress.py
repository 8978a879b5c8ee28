"""ProgressWidget: a live ipywidgets-8 progress display for any ProgressSource.

How it stays live without threads: a source that offers ``add_observer(callback)`` (a
:class:`~persist_ext.Tracker` does) calls the widget after each status change, and the widget
refreshes at most ``1 / interval`` times per second (10 by default). Those comm messages go out
from the kernel's main thread while the cell's loop runs. After every cell, an IPython
``post_execute`` hook refreshes each displayed widget once more, so the final numbers always
show, and updates the widget's display output through its display handle: the output's
``text/plain`` and ``text/html`` entries carry the latest snapshot, which is what a saved
notebook or nbconvert shows when no widget manager is there to draw the live view.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

import ipywidgets as widgets

from ...features._progress import (
    ProgressSnapshot,
    ProgressSource,
    snapshot_html,
    snapshot_text,
)

__all__ = ["ProgressWidget", "live_progress"]

_live: weakref.WeakSet[ProgressWidget] = weakref.WeakSet()
_hook_installed = False


def _label(snap: ProgressSnapshot) -> str:
    # The counts part of the text renderer, without its ASCII bar (the widget draws bars).
    text = snapshot_text(snap, width=0)
    return text.split("] ", 1)[-1].strip()


class ProgressWidget(widgets.VBox):
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
    >>> tracker.mark_done("a"); _ = w.refresh(force=True)
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
        super().__init__(
            children=[self.title, widgets.HBox([self.done_bar, self.failed_bar]), self.status]
        )
        self.snapshot: ProgressSnapshot = source.progress()
        self._last = 0.0
        self._handle: Any = None
        self._shown: tuple[int, ...] | None = None  # counts in the static output
        self._draw(self.snapshot)
        add_observer = getattr(source, "add_observer", None)
        if callable(add_observer):
            add_observer(self._on_change)

    def _on_change(self, _source: Any) -> None:
        self.refresh()

    def _draw(self, snap: ProgressSnapshot) -> None:
        total = max(snap.total, 1)
        with self.hold_sync():  # one comm message per refresh, not one per trait
            self.title.value = snap.title
            self.done_bar.max = total
            self.done_bar.value = min(snap.done, total)
            self.failed_bar.max = total
            self.failed_bar.value = min(snap.failed, total)
            self.status.value = _label(snap)

    def refresh(self, force: bool = False) -> bool:
        """Redraw from a fresh snapshot; throttled to one per ``interval`` unless ``force``.

        Returns whether it redrew. When the work is finished the static output is updated too.
        """
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return False
        self._last = now
        self.snapshot = self.source.progress()
        self._draw(self.snapshot)
        if self.snapshot.finished:
            self.update_static()
        return True

    def _counts(self) -> tuple[int, ...]:
        s = self.snapshot
        return (s.total, s.done, s.failed, s.running, s.todo)

    def update_static(self) -> None:
        """Re-send the display output so its text/html snapshot shows the latest counts."""
        if self._handle is not None and self._counts() != self._shown:
            self._shown = self._counts()
            self._handle.update(self._repr_mimebundle_(), raw=True)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data = super()._repr_mimebundle_(**kwargs)
        data["text/plain"] = snapshot_text(self.snapshot)
        data["text/html"] = snapshot_html(self.snapshot)
        return data

    def _ipython_display_(self) -> None:
        # Displayed through a handle so the static snapshot can be refreshed at the end.
        from IPython.display import display

        self._shown = self._counts()
        self._handle = display(self._repr_mimebundle_(), raw=True, display_id=True)
        _live.add(self)
        _install_hook()

    def close(self) -> None:
        """Stop following the source and close the widget's models."""
        remove = getattr(self.source, "remove_observer", None)
        if callable(remove):
            remove(self._on_change)
        _live.discard(self)
        for child in (self.title, self.done_bar, self.failed_bar, self.status, *self.children):
            child.close()
        super().close()


def _after_cell(*_args: Any) -> None:
    for widget in list(_live):
        try:
            widget.refresh(force=True)
            widget.update_static()
        except Exception:  # e.g. the source was closed: stop following it
            _live.discard(widget)


def _install_hook() -> None:
    global _hook_installed
    if _hook_installed:
        return
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        shell.events.register("post_execute", _after_cell)
        _hook_installed = True


def live_progress(source: ProgressSource) -> ProgressWidget:
    """The live renderer factory for ``register_live_renderer`` (see features/_progress.py)."""
    return ProgressWidget(source)

"""The one live-display mechanism of persist_ext: every display (task group, markers, tracker,
``progress()`` loop, stash browser) is a :class:`LiveDisplay`.

A display reads its *state* from a source and draws it. It never lies:

- **Updates.** Sources whose work runs elsewhere (a task group: workers write to the store)
  are read by a :class:`Poller` thread in the kernel; sources that change in the kernel's own
  thread (a Tracker, a loop) *push*: they call :meth:`LiveDisplay.notify`, which redraws at
  most ``1 / interval`` times per second. Both paths end in one locked ``_apply``; a state
  read before the one on screen is never drawn over it.
- **Run ends.** A task group's ``run()`` announces itself with ``watch_run`` (features layer);
  ``_kernel.KernelRunWatch`` re-reads every display of the group when the run
  ends, in the group's own thread, before ``close()`` can return: the displays hold the final
  numbers before anyone can close the store.
- **Closing.** A store closed under a display ends it with the last state it read, saying
  "stopped watching ... (store closed)" unless that state was already final. No error line.
- **Saved notebooks.** Each output also carries ``text/plain`` and ``text/html`` of the state,
  in words when the work is not over ("running at 14:02:05 — 38/80 done"). At the end of
  every cell, ``_kernel._Cells`` re-reads each shown display and re-publishes it
  (``update_display``) if it was shown in that cell, its work is now over, or the run is
  headless (nbclient: then every changed display); a display whose work is over becomes its
  static snapshot.
  nbclient (nbconvert, papermill) applies such updates whichever cell is running; in JupyterLab
  and Notebook 7 the live widget, updated over its comm, carries the numbers in any case.
- **Headless runs.** In a non-interactive run (see ``WaitPolicy``) the end of each cell waits
  for task groups still running, so the notebook saved by nbconvert or papermill holds their
  final state and the output of their ``on_complete``.
- **Callback output.** ``on_complete`` output goes to the cell that called ``run()``: printed
  there while that cell still runs; afterwards appended to an output area displayed by
  ``run()`` in that cell (a widget, so JupyterLab and Notebook 7 show it at any time).

The poller and the callback run in kernel threads; comm and display messages from a kernel
thread are safe in ipykernel >= 6 (iopub goes through its own thread).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from typing import Any

from ..._errors import InvalidArgumentError, StoreClosedError
from ..._threads import HousekeepingThread

__all__ = ["MIN_INTERVAL", "LiveDisplay", "Poller", "clock", "displays_of"]

log = logging.getLogger("persist_ext")

#: The fastest a display refreshes: at most 10 updates per second.
MIN_INTERVAL = 0.1


def _shell() -> Any:
    # A running IPython shell has imported IPython; a plain script need not pay for it.
    ipython = sys.modules.get("IPython")
    return None if ipython is None else ipython.get_ipython()


def clock(ts: float) -> str:
    """Local wall-clock time of an epoch timestamp: ``'14:02:05'``."""
    return time.strftime("%H:%M:%S", time.localtime(ts))


# --- the displays --------------------------------------------------------------------------

_displays: weakref.WeakSet[LiveDisplay] = weakref.WeakSet()


def displays_of(source: Any) -> list[LiveDisplay]:
    """Every live display (shown or not, not closed) that watches ``source``."""
    return [d for d in list(_displays) if d._source is source and not d._closed]


class LiveDisplay:
    """Mixin for ipywidgets: a source read into a state, drawn live, and saved truthfully.

    Put the mixin first in the bases. A display that follows a source calls
    :meth:`_init_live` at the end of its ``__init__`` and implements:

    ``read()``
        Read the source's current state (any object).
    ``draw(state)``
        Set widget traits for ``state`` (runs in whichever thread applied the state).
    ``is_final(state)``
        Whether nothing about the work can change any more.
    ``state_text(state, status)`` / ``state_html(state, status)``
        The static snapshot; ``status`` is the sentence about the state's moment
        (:meth:`status_words`).
    ``progress_words(state)``
        ``'38/80 done'``: how far the work is, for the status sentence.
    ``has_started(state)``
        Whether any of the work has started (else "waiting to start").

    A display without a source (the stash browser) only implements :meth:`snapshot_text`
    and :meth:`snapshot_html`; it still gets the cell-end publishing.
    """

    _display_id: str | None = None
    _source: Any = None
    _closed: bool = False
    _final: bool = False
    _ended_reason: str | None = None
    _ended_at: float | None = None
    _published: Any = None
    #: How the status sentence starts when the display stopped following its source.
    _ended_phrase = "stopped watching"
    poller: Poller | None = None

    # -- the contract (sources) -----------------------------------------------------------

    def read(self) -> Any:
        """Read the source's current state."""
        raise NotImplementedError  # pragma: no cover - abstract

    def draw(self, state: Any) -> None:
        """Draw ``state`` into the widget's traits."""
        raise NotImplementedError  # pragma: no cover - abstract

    def is_final(self, state: Any) -> bool:
        """Whether the work shown by ``state`` is over."""
        return False

    def has_started(self, state: Any) -> bool:
        """Whether any of the work shown by ``state`` has started."""
        return True

    def progress_words(self, state: Any) -> str:
        """How far the work is, in a few words (``'38/80 done'``)."""
        return ""

    def state_text(self, state: Any, status: str) -> str:
        """Plain-text snapshot of ``state``."""
        raise NotImplementedError  # pragma: no cover - abstract

    def state_html(self, state: Any, status: str) -> str:
        """Static HTML snapshot of ``state`` (inline styles only, no scripts)."""
        raise NotImplementedError  # pragma: no cover - abstract

    # -- life cycle ---------------------------------------------------------------------------

    def _init_live(
        self, source: Any, *, interval: float, poll: bool, throttle: float | None = None
    ) -> None:
        """Read the first state and set up updates (call last in the subclass ``__init__``)."""
        if interval <= 0:
            raise InvalidArgumentError(f"interval must be positive seconds, got {interval!r}")
        self._source = source
        self._lock = threading.RLock()
        self._seq = 0  # the order of reads; a read older than the state shown is dropped
        self._shown_seq = -1
        self._last_draw = 0.0
        self._throttle = max(0.0, interval if throttle is None else throttle)
        self._stale_since: float | None = None
        self.state: Any = None
        self.poller = (
            Poller(
                self._read_in_order,
                self._apply_in_order,
                lambda _seq_state: self._final or self._ended_reason is not None,
                interval=interval,
                on_error=self._read_failed,
            )
            if poll
            else None
        )
        _displays.add(self)
        self._apply_in_order(self._read_in_order())

    def _next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def _read_in_order(self) -> tuple[int, Any]:
        seq = self._next_seq()
        return seq, self.read()

    def _apply_in_order(self, seq_state: tuple[int, Any]) -> None:
        seq, state = seq_state
        with self._lock:
            if seq <= self._shown_seq or self._closed:
                return
            self._shown_seq = seq
            self._apply(state)

    def _apply(self, state: Any) -> None:
        self.state = state
        self._stale_since = None
        final = self.is_final(state)
        self.draw(state)
        self._last_draw = time.monotonic()
        if final and not self._final:
            self._final = True
            if self.poller is not None:
                self.poller.stop()
            self.publish_snapshot(final=True)
        elif not final and self._final:
            self._final = False  # the work started again (a new run, new tracker keys)

    def _read_failed(self, exc: BaseException) -> None:
        if isinstance(exc, StoreClosedError):
            self.end("store closed")
            return
        # A busy store (lock timeout on a loaded machine) is not news: keep the last state,
        # say how old it is, and retry.
        log.debug("persist_ext display: read failed (%s); retrying", exc)
        if self._stale_since is None:
            self._stale_since = time.time()
            with self._lock:
                self.draw(self.state)

    def refresh(self) -> Any:
        """Read the source now and draw it; returns the state shown.

        A closed store ends the display (see :meth:`end`) instead of raising.
        """
        if self._source is None or self._closed:
            return self.state
        try:
            self._apply_in_order(self._read_in_order())
        except StoreClosedError:
            self.end("store closed")
        return self.state

    def notify(self, *_args: Any) -> None:
        """The source changed: redraw, at most once per ``interval`` (push-driven sources)."""
        if time.monotonic() - self._last_draw >= self._throttle:
            self.refresh()

    def revive(self) -> None:
        """The work runs again (a new run of a group): follow it until it is over again."""
        if self._closed or self._source is None:
            return
        with self._lock:
            self._ended_reason = None
        self.refresh()
        if self.poller is not None and not self._final and self._display_id is not None:
            self.poller.start()

    def end(self, reason: str) -> None:
        """Stop following the source and keep the last state read, saying why.

        The display is not closed: it goes on showing that state (a final state stays
        "finished"; another one says "stopped watching at ... (reason)").
        """
        with self._lock:
            if self._ended_reason is not None or self._closed:
                return
            if not self._final:
                self._ended_reason = reason
                self._ended_at = time.time()
            if self.poller is not None:
                self.poller.stop()
            if self.state is not None:
                self.draw(self.state)
        self.publish_snapshot(final=True)

    @property
    def done(self) -> bool:
        """Whether the display will not change any more (work over, or watching ended)."""
        return self._final or self._ended_reason is not None

    def status_words(self) -> str:
        """The sentence about the moment of the state shown.

        ``'running at 14:02:05 — 38/80 done'``, ``'waiting to start at ...'``,
        ``'stopped watching at ... (store closed) — 38/80 done'``, or ``''`` when the state is
        final (the snapshot then says "finished" itself).
        """
        state = self.state
        if state is None or self._final:
            return ""
        words = self.progress_words(state)
        tail = f" — {words}" if words else ""
        if self._ended_reason is not None:
            when = clock(self._ended_at or time.time())
            return f"{self._ended_phrase} at {when} ({self._ended_reason}){tail}"
        when = clock(self._stale_since or time.time())
        if self._stale_since is not None:
            return f"as of {when} (store busy, retrying){tail}"
        if not self.has_started(state):
            return f"waiting to start at {when}{tail}"
        return f"running at {when}{tail}"

    # -- snapshots and display ---------------------------------------------------------------

    def snapshot_text(self) -> str:
        """Plain-text description of the current state."""
        return self.state_text(self.state, self.status_words())

    def snapshot_html(self) -> str:
        """Static HTML description of the current state."""
        return self.state_html(self.state, self.status_words())

    def _is_done(self) -> bool:
        # Displays without a source (the browser) never become static.
        return self._source is not None and self.done

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(super()._repr_mimebundle_(**kwargs) or {})  # type: ignore[misc]
        bundle["text/plain"] = self.snapshot_text()
        bundle["text/html"] = self.snapshot_html()
        return bundle

    def _ipython_display_(self) -> None:
        from IPython.display import display

        from ._kernel import _Cells

        if self._display_id is None:
            self._display_id = uuid.uuid4().hex
        _displays.add(self)
        cells = _Cells.install()
        bundle = self._repr_mimebundle_()
        if self._is_done():
            bundle = {k: bundle[k] for k in ("text/plain", "text/html")}
        self._published = self._publish_key()
        display(bundle, raw=True, display_id=self._display_id)
        if cells is not None:
            cells.shown(self)
        if self.poller is not None and not self.done:
            self.poller.start()

    def _publish_key(self) -> Any:
        return (self.snapshot_text(), self._is_done())

    def publish_snapshot(self, final: bool = False) -> None:
        """Re-publish this display's output so it carries the current snapshot.

        With ``final=True`` (the work is over, or watching ended) the output becomes the
        static snapshot alone: a saved notebook, nbconvert, GitHub and a notebook reopened
        without a kernel then all show the same numbers instead of a widget placeholder.
        Safe from any thread; does nothing if the display was never shown or outside IPython.
        """
        if self._display_id is None or _shell() is None:
            return
        from IPython.display import update_display

        # Sent with the kernel's *current* parent on purpose: front ends only listen to the
        # request that is executing. nbclient applies an update by display id whichever cell
        # is running; JupyterLab applies it only within the displaying cell, so there the
        # live widget carries later numbers.
        bundle = self._repr_mimebundle_()
        if final:
            bundle = {k: bundle[k] for k in ("text/plain", "text/html")}
        self._published = self._publish_key()
        update_display(bundle, raw=True, display_id=self._display_id)

    def _cell_ended(self, own: bool = True) -> None:
        """Called at the end of every cell for a shown display (``own``: shown in that cell).

        The display is read again (its widget follows over its comm). Its output is
        re-published when it was shown in the ending cell, or when its work is over and the
        output does not say so yet. Interactively, outputs of earlier cells are not
        re-published for every change (a front end that applies the update re-renders the
        widget); a headless run passes ``own=True`` for all, its saved file being all there is.
        """
        if self._closed or self._display_id is None:
            return
        if self._source is not None and not self._ended_reason:
            try:
                self.refresh()
            except Exception as exc:  # a broken source must not break the user's cell
                log.debug("persist_ext display: refresh at cell end failed: %s", exc)
                return
        if self._publish_key() != self._published and (own or self._is_done()):
            self.publish_snapshot(final=self._is_done())

    def close(self) -> None:
        """Stop updating, then close this widget and every widget shown inside it."""
        self._closed = True
        poller = getattr(self, "poller", None)  # absent if __init__ raised early
        if poller is not None:
            poller.stop()
        _displays.discard(self)
        pending = list(getattr(self, "children", ()))
        while pending:
            child = pending.pop()
            pending.extend(getattr(child, "children", ()))
            child.close()
        super().close()  # type: ignore[misc]


class Poller:
    """Call ``fetch`` periodically in a daemon thread and hand each result to ``apply``.

    Parameters
    ----------
    fetch
        Reads the current state; runs in the poller thread.
    apply
        Draws it (sets widget traits); runs in the poller thread of the kernel process.
    is_final
        True when nothing will change any more: the poller applies it and stops.
    interval
        Seconds between reads, at least :data:`MIN_INTERVAL`. The poller backs off to twice
        the time a read took, so a slow store is never hammered.
    on_final
        Called once after the final state was applied.
    on_error
        Called with an exception raised by ``fetch``; polling continues with back-off
        (``on_error`` may call :meth:`stop`).

    Examples
    --------
    >>> seen = []
    >>> p = Poller(lambda: len(seen), seen.append, lambda n: n >= 2, interval=0.1)
    >>> p.start().join(5)
    >>> seen
    [0, 1, 2]
    """

    def __init__(
        self,
        fetch: Callable[[], Any],
        apply: Callable[[Any], None],
        is_final: Callable[[Any], bool],
        *,
        interval: float = 0.25,
        on_final: Callable[[], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        if interval <= 0:
            raise InvalidArgumentError(f"interval must be positive seconds, got {interval!r}")
        self.interval = max(MIN_INTERVAL, float(interval))
        self._fetch, self._apply, self._is_final = fetch, apply, is_final
        self._on_final, self._on_error = on_final, on_error
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self.updates = 0
        self.last_error: BaseException | None = None

    @property
    def running(self) -> bool:
        """Whether the polling thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def active(self) -> bool:
        """Whether the thread is alive and has not been asked to stop."""
        return self.running and not self._stop.is_set()

    def start(self) -> Poller:
        """Start polling (a no-op if already running); returns self."""
        if not self.active:
            if self.running:  # stopping: let it finish its read before starting anew
                self.join(5)
            self._stop.clear()
            self._thread = HousekeepingThread(target=self._run, name="persist-ext-poller")
            self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the thread to stop after its current read."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread to end."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        delay = self.interval
        while not self._stop.is_set():
            if os.getpid() != self._pid:  # a forked child never talks to the front end
                return
            started = time.monotonic()
            try:
                state = self._fetch()
            except Exception as exc:  # keep the display alive, back off
                self.last_error = exc
                if self._on_error is not None:
                    self._on_error(exc)
                delay = min(5.0, delay * 2)
                self._stop.wait(delay)
                continue
            took = time.monotonic() - started
            self._apply(state)
            self.updates += 1
            if self._is_final(state):
                if self._on_final is not None:
                    self._on_final()
                return
            delay = max(self.interval, 2 * took)
            self._stop.wait(delay)

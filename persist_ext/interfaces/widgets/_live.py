"""What every persist_ext display shares: a truthful static snapshot and a kernel-side poller.

A live widget alone leaves nothing useful in a saved notebook: without the kernel (or without
saved widget state) a front end shows "model not found", and nbconvert / GitHub show nothing
or the first frame. So each display's mimebundle also carries ``text/plain`` and ``text/html``
of its *latest* state, and the display is re-published (``update_display``) when the
displaying cell ends and when the tracked work finishes.

Live updates come from :class:`Poller`, a daemon thread in the kernel process. The kernel
process owns the widget comm, so workers (processes, Dask) only ever write to the store; the
poller reads the store and sets widget traits. Comm messages from a kernel thread are safe in
ipykernel >= 6 (iopub goes through its own thread).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

__all__ = ["MIN_INTERVAL", "LiveDisplay", "Poller"]

#: The fastest a display refreshes: at most 10 updates per second.
MIN_INTERVAL = 0.1


def _shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    return get_ipython()


class LiveDisplay:
    """Mixin for ipywidgets that keeps a static snapshot in every output it is shown in.

    Subclasses implement :meth:`snapshot_text` and :meth:`snapshot_html`; they describe the
    widget's current state with real numbers. Put the mixin first in the bases so that its
    ``_repr_mimebundle_`` wraps the widget's.
    """

    _display_id: str | None = None
    _hook_registered: bool = False

    def snapshot_text(self) -> str:
        """Plain-text description of the current state."""
        raise NotImplementedError  # pragma: no cover - abstract

    def snapshot_html(self) -> str:
        """Static HTML description of the current state (no scripts, inline styles only)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(super()._repr_mimebundle_(**kwargs) or {})  # type: ignore[misc]
        bundle["text/plain"] = self.snapshot_text()
        bundle["text/html"] = self.snapshot_html()
        return bundle

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if self._display_id is None:
            self._display_id = uuid.uuid4().hex
        shell = _shell()
        display(self._repr_mimebundle_(), raw=True, display_id=self._display_id)
        if shell is not None and not self._hook_registered:
            shell.events.register("post_run_cell", self._after_cell)
            self._hook_registered = True
        self._on_displayed()

    def _on_displayed(self) -> None:
        """Called after each display: a display with a ``poller`` polls until it is done."""
        poller = getattr(self, "poller", None)
        if poller is not None and not self._is_done():
            poller.start()

    def close(self) -> None:
        """Stop polling, then close this widget and every widget shown inside it."""
        poller = getattr(self, "poller", None)  # absent if __init__ raised early
        if poller is not None:
            poller.stop()
        pending = list(getattr(self, "children", ()))
        while pending:
            child = pending.pop()
            pending.extend(getattr(child, "children", ()))
            child.close()
        super().close()  # type: ignore[misc]

    def _is_done(self) -> bool:
        """Whether the state shown can no longer change (then outputs become static)."""
        return False

    def _after_cell(self, *_args: Any) -> None:
        # The displaying cell is ending: its output area still listens, so store the state
        # it ends with. Later changes are published again when the work finishes.
        shell = _shell()
        if shell is not None and self._hook_registered:
            try:
                shell.events.unregister("post_run_cell", self._after_cell)
            except ValueError:
                pass
            self._hook_registered = False
        self.publish_snapshot(final=self._is_done())

    def publish_snapshot(self, final: bool = False) -> None:
        """Re-publish this display's outputs so they carry the current snapshot.

        With ``final=True`` (the tracked work is over) the outputs become the static snapshot
        alone: nothing will change any more, and a saved notebook, nbconvert, GitHub and a
        reopened notebook without a kernel then all show the same final numbers instead of a
        widget placeholder. Safe to call from the poller thread; does nothing if the widget was
        never displayed or outside a kernel.
        """
        if self._display_id is None or _shell() is None:
            return
        from IPython.display import update_display

        # Sent with the kernel's *current* parent on purpose: front ends only listen to the
        # request that is executing. While the displaying cell runs that is its own request;
        # later, nbclient (and the classic notebook) apply an update by display id whichever
        # cell is running, while JupyterLab applies it only within the displaying cell, so
        # there the live widget (and saved widget state) carries the final numbers.
        bundle = self._repr_mimebundle_()
        if final:
            bundle = {k: bundle[k] for k in ("text/plain", "text/html")}
        update_display(bundle, raw=True, display_id=self._display_id)


class Poller:
    """Call ``fetch`` periodically in a daemon thread and hand each result to ``apply``.

    Parameters
    ----------
    fetch
        Reads the current state (e.g. ``source.progress``); runs in the poller thread.
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
        Called with an exception raised by ``fetch``; polling continues with back-off.

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
            raise ValueError(f"interval must be positive seconds, got {interval!r}")
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
        if not self.running:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="persist-ext-poller", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the thread to stop after its current read."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread to end."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        delay = self.interval
        while not self._stop.is_set():
            if os.getpid() != self._pid:  # a forked child never talks to the front end
                return
            started = time.monotonic()
            try:
                state = self._fetch()
            except Exception as exc:  # keep the display alive; show the error, back off
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

"""Sync every open POD at interpreter exit, on ``SIGTERM`` and on Ctrl-C (``SIGINT``).

The handlers are installed once, from the main thread only (``signal.signal`` refuses other
threads), and chain to whatever handler was installed before: after syncing, ``SIGINT`` still
raises ``KeyboardInterrupt`` (or runs the previous handler) and ``SIGTERM`` still terminates
the process with the signal's status. A handler that fires while the main thread is itself in
the middle of a sync is deferred until that sync commits, so a signal never tears a sync.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

__all__ = ["main_thread_sync", "register", "registered", "unregister"]

log = logging.getLogger("persist_ext")


class _Syncable(Protocol):
    pid: int

    def sync_for_exit(self) -> None: ...

    def release(self) -> None: ...


_open: dict[str, _Syncable] = {}
_installed = False
_previous: dict[int, Any] = {}
_depth = 0  # syncs in progress on the main thread
_deferred: list[tuple[int, Any]] = []


def registered(key: str) -> _Syncable | None:
    """The open POD state for ``key`` (a resolved path) in this process, if any."""
    state = _open.get(key)
    if state is not None and state.pid != os.getpid():
        # Inherited through fork: it belongs to the parent, never to us.
        del _open[key]
        return None
    return state


def register(key: str, state: _Syncable) -> None:
    """Track an opened POD state so exit and signals sync it; installs the hooks once."""
    _open[key] = state
    _install()


def unregister(key: str) -> None:
    """Forget a closed POD state."""
    _open.pop(key, None)


@contextmanager
def main_thread_sync() -> Iterator[None]:
    """Mark a sync in progress, so that a signal arriving meanwhile waits for its commit."""
    global _depth
    on_main = threading.current_thread() is threading.main_thread()
    if on_main:
        _depth += 1
    try:
        yield
    finally:
        if on_main:
            _depth -= 1
            if _depth == 0 and _deferred:
                signum, frame = _deferred.pop(0)
                _deferred.clear()
                _on_signal(signum, frame)


def _sync_all() -> None:
    pid = os.getpid()
    for state in list(_open.values()):
        if state.pid != pid:
            continue
        try:
            state.sync_for_exit()
        except Exception:  # one bad POD must not stop the others from saving
            log.exception("persist_ext: could not sync a POD at exit")


def _at_exit() -> None:
    _sync_all()
    pid = os.getpid()
    for state in list(_open.values()):
        if state.pid == pid:
            state.release()


def _on_signal(signum: int, frame: Any) -> None:
    if _depth > 0:
        _deferred.append((signum, frame))
        return
    _sync_all()
    previous = _previous.get(signum)
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_IGN:
        return
    elif signum == signal.SIGINT:
        raise KeyboardInterrupt
    else:
        # Default action: die of the same signal, so the exit status is the usual one.
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    atexit.register(_at_exit)
    if threading.current_thread() is not threading.main_thread():
        return  # signal.signal only works there; atexit still covers normal exits
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous: Callable[..., Any] | int | None = signal.getsignal(signum)
        if previous == signal.SIG_IGN:
            continue  # the program chose to ignore it; keep it that way
        _previous[signum] = previous
        signal.signal(signum, _on_signal)

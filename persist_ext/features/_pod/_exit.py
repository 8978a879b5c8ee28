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
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

__all__ = ["main_thread_sync", "open_states", "register", "registered", "unregister"]

log = logging.getLogger("persist_ext")


class _Syncable(Protocol):
    pid: int
    root: Any

    def sync_for_exit(self) -> None: ...

    def release(self) -> None: ...


_open: dict[int, _Syncable] = {}  # every open state of this process, by id()
_shared: dict[str, _Syncable] = {}  # the state handles share, by resolved path
_installed = False
_previous: dict[int, Any] = {}
_depth = 0  # syncs in progress on the main thread
_deferred: list[tuple[int, Any]] = []


def _forget_inherited() -> None:
    # States inherited through fork belong to the parent, never to us.
    pid = os.getpid()
    for ident, state in list(_open.items()):
        if state.pid != pid:
            del _open[ident]
    for key, state in list(_shared.items()):
        if state.pid != pid:
            del _shared[key]


def registered(key: str) -> _Syncable | None:
    """The shared open POD state for ``key`` (a resolved path) in this process, if any."""
    _forget_inherited()
    return _shared.get(key)


def open_states(key: str) -> list[_Syncable]:
    """Every open state on ``key`` in this process (shared or opened with ``clone=False``)."""
    _forget_inherited()
    return [s for s in _open.values() if str(s.root) == key]


def register(key: str, state: _Syncable, *, shared: bool = True) -> None:
    """Track an opened POD state so exit and signals sync it; installs the hooks once."""
    _open[id(state)] = state
    if shared:
        _shared[key] = state
    _install()


def unregister(key: str, state: _Syncable | None = None) -> None:
    """Forget a closed POD state (the shared one on ``key`` unless ``state`` is given)."""
    if state is None:
        state = _shared.get(key)
    if state is None:
        return
    _open.pop(id(state), None)
    if _shared.get(key) is state:
        del _shared[key]


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
        except Exception as exc:  # one bad POD must not stop the others from saving
            log.exception("persist_ext: could not sync a POD at exit")
            # A log may go nowhere at exit: say it where the user sees it (issue #12).
            sys.stderr.write(
                f"persist_ext: the POD at {state.root} could not be saved at exit: {exc}\n"
            )


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

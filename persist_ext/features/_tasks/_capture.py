"""Per-thread capture of ``sys.stdout`` / ``sys.stderr`` for tasks running on threads.

``contextlib.redirect_stdout`` swaps a process-wide attribute, so two tasks on two threads
would mix their output. While any capture is active (or a run holds the routers with
:func:`routers_held`), ``sys.stdout`` / ``sys.stderr`` are a router that writes to the
calling thread's buffer when that thread is capturing and to the original stream otherwise
(the kernel's own output is untouched). Output written by C code or subprocesses straight
to file descriptors 1 and 2 is not captured.

Cost: a run holds the routers for its whole duration, so one try only points the thread at
its :class:`Captured` (buffers are made on the first write: a task that prints nothing
creates none). Installing and removing the routers around every try was the largest cost
of a no-op task on threads.
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

__all__ = ["Captured", "capture_output", "routers_held"]

_local = threading.local()
_install_lock = threading.Lock()
_active = 0


class Captured:
    """Text written by the task (filled when the ``with`` block ends)."""

    __slots__ = ("_buffers", "stderr", "stdout")

    def __init__(self) -> None:
        self.stdout = ""
        self.stderr = ""
        self._buffers: dict[str, io.StringIO] = {}

    def buffer(self, slot: str) -> io.StringIO:
        """The buffer of ``slot`` (``"stdout"`` / ``"stderr"``), made on first use."""
        found = self._buffers.get(slot)
        if found is None:
            found = self._buffers[slot] = io.StringIO()
        return found

    def close(self) -> None:
        """Copy the buffers' text into ``stdout`` / ``stderr``."""
        buffers = self._buffers
        if buffers:
            self.stdout = buffers["stdout"].getvalue() if "stdout" in buffers else ""
            self.stderr = buffers["stderr"].getvalue() if "stderr" in buffers else ""


class _Router(io.TextIOBase):
    def __init__(self, original: TextIO, slot: str) -> None:
        self.original = original
        self.slot = slot

    def _target(self) -> Any:
        captured = getattr(_local, "captured", None)
        return captured.buffer(self.slot) if captured is not None else self.original

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        target = self._target()
        if hasattr(target, "flush"):
            target.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)


def _hold() -> None:
    global _active
    with _install_lock:
        # Install a router when none is in place — also while other captures run, if
        # someone (a test harness, a kernel) replaced sys.stdout since they began.
        if not isinstance(sys.stdout, _Router):
            sys.stdout = _Router(sys.stdout, "stdout")
        if not isinstance(sys.stderr, _Router):
            sys.stderr = _Router(sys.stderr, "stderr")
        _active += 1


def _release() -> None:
    global _active
    with _install_lock:
        _active -= 1
        # Restore only our own routers: if someone replaced sys.stdout meanwhile, their
        # stream stays and ours is simply dropped from the chain.
        if _active == 0:
            if isinstance(sys.stdout, _Router):
                sys.stdout = sys.stdout.original
            if isinstance(sys.stderr, _Router):
                sys.stderr = sys.stderr.original


@contextmanager
def routers_held() -> Iterator[None]:
    """Keep the routers installed for a whole run (the original streams come back after)."""
    _hold()
    try:
        yield
    finally:
        _release()


class capture_output:
    """Capture what the current thread prints to stdout and stderr.

    >>> with capture_output() as out:
    ...     print("hello")
    >>> out.stdout
    'hello\\n'
    """

    __slots__ = ("_captured", "_held", "_previous")

    def __enter__(self) -> Captured:
        # While a run holds the routers (routers_held) and they are still in place, a try
        # only points its thread at its buffers: no lock per try, which four threads
        # running no-op tasks would otherwise queue on.
        self._held = not (_active and type(sys.stdout) is _Router and type(sys.stderr) is _Router)
        if self._held:
            _hold()
        self._previous = getattr(_local, "captured", None)
        captured = self._captured = Captured()
        _local.captured = captured
        return captured

    def __exit__(self, *exc: object) -> None:
        _local.captured = self._previous
        self._captured.close()
        if self._held:
            _release()

"""Per-thread capture of ``sys.stdout`` / ``sys.stderr`` for tasks running on threads.

``contextlib.redirect_stdout`` swaps a process-wide attribute, so two tasks on two threads
would mix their output. While any capture is active, ``sys.stdout`` / ``sys.stderr`` are a
router that writes to the calling thread's buffer when that thread is capturing and to the
original stream otherwise (the kernel's own output is untouched). Output written by C code
or subprocesses straight to file descriptors 1 and 2 is not captured.
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

__all__ = ["Captured", "capture_output"]

_local = threading.local()
_install_lock = threading.Lock()
_active = 0


class _Router(io.TextIOBase):
    def __init__(self, original: TextIO, slot: str) -> None:
        self.original = original
        self.slot = slot

    def _target(self) -> Any:
        buffers = getattr(_local, "buffers", None)
        return buffers[self.slot] if buffers else self.original

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


class Captured:
    """Text written by the task (filled when the ``with`` block ends)."""

    stdout: str = ""
    stderr: str = ""


@contextmanager
def capture_output() -> Iterator[Captured]:
    """Capture what the current thread prints to stdout and stderr.

    >>> with capture_output() as out:
    ...     print("hello")
    >>> out.stdout
    'hello\\n'
    """
    global _active
    with _install_lock:
        # Install a router when none is in place — also while other captures run, if
        # someone (a test harness, a kernel) replaced sys.stdout since they began.
        if not isinstance(sys.stdout, _Router):
            sys.stdout = _Router(sys.stdout, "stdout")
        if not isinstance(sys.stderr, _Router):
            sys.stderr = _Router(sys.stderr, "stderr")
        _active += 1
    previous = getattr(_local, "buffers", None)
    buffers = {"stdout": io.StringIO(), "stderr": io.StringIO()}
    _local.buffers = buffers
    captured = Captured()
    try:
        yield captured
    finally:
        _local.buffers = previous
        captured.stdout = buffers["stdout"].getvalue()
        captured.stderr = buffers["stderr"].getvalue()
        with _install_lock:
            _active -= 1
            # Restore only our own routers: if someone replaced sys.stdout meanwhile, their
            # stream stays and ours is simply dropped from the chain.
            if _active == 0:
                if isinstance(sys.stdout, _Router):
                    sys.stdout = sys.stdout.original
                if isinstance(sys.stderr, _Router):
                    sys.stderr = sys.stderr.original

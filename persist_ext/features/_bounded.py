"""Bounds on pickling a value to store it: at most so many bytes, at most so many seconds.

A cell that builds a huge object (or one that reaches much more than it seems to, through
references) must not make the store step run out of memory or hang the kernel: the pickle
is written into a :class:`BoundedSink` that gives up past the byte limit or the deadline
set by :func:`store_limits`, with a :class:`~persist_ext.SerializationError` naming the
limit and how to change it. The caller then keeps the cell's results in memory only (the
cell itself already ran normally).
"""

from __future__ import annotations

import _weakrefset
import contextlib
import contextvars
import io
import math
import signal
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .._errors import SerializationError, StalledError
from .._format import format_duration, format_size

__all__ = [
    "STALL_SECONDS",
    "BoundedSink",
    "StoreLimits",
    "current_limits",
    "interrupt_at",
    "stall_limits",
    "store_limits",
]

#: Pickling that writes nothing for this long is blocked, not working: a ``__reduce__`` or
#: ``__getstate__`` waiting on an event, a lock or a server. A large value keeps writing
#: (a frame every 64 KiB, each out-of-band buffer), however long it takes in all.
STALL_SECONDS = 10.0


@dataclass(frozen=True)
class StoreLimits:
    """At most ``max_bytes`` pickled (``None``: no limit), until ``deadline`` (monotonic)."""

    max_bytes: int | None = None
    deadline: float | None = None
    seconds: float | None = None
    hint: str = ""  # how to change the limits, appended to the message
    stall: float | None = None  # seconds without a write before giving up (with a deadline)


_LIMITS: contextvars.ContextVar[StoreLimits | None] = contextvars.ContextVar(
    "persist_ext_store_limits", default=None
)


@contextmanager
def store_limits(
    max_bytes: int | None, seconds: float | None, *, hint: str = ""
) -> Iterator[StoreLimits]:
    """Bound every :class:`BoundedSink` made inside the block (``None``: no bound).

    With a time limit, pickling that writes nothing for :data:`STALL_SECONDS` also gives up
    (:class:`~persist_ext.StalledError`), sooner than the limit.
    """
    deadline = None if seconds is None else time.monotonic() + seconds
    stall = None if seconds is None else STALL_SECONDS
    limits = StoreLimits(max_bytes, deadline, seconds, hint, stall)
    token = _LIMITS.set(limits)
    try:
        yield limits
    finally:
        _LIMITS.reset(token)


def stall_limits() -> StoreLimits:
    """Limits that bound only a stall: pickling that writes nothing for
    :data:`STALL_SECONDS` gives up with a :class:`~persist_ext.StalledError`, whatever its
    size or total time (checkpoints, which have neither limit)."""
    return StoreLimits(deadline=math.inf, stall=STALL_SECONDS)


def current_limits() -> StoreLimits | None:
    """The limits in force (from :func:`store_limits`), if any."""
    return _LIMITS.get()


class BoundedSink(io.BytesIO):
    """A ``BytesIO`` for a pickler that raises once the limits in force are passed.

    Picklers write in frames of at most 64 KiB, so the check runs often enough to stop a
    runaway pickle early; large out-of-band buffers are counted through :meth:`buffers`.
    """

    def __init__(self, limits: StoreLimits | None = None) -> None:
        super().__init__()
        self._limits = limits if limits is not None else current_limits()
        self._outside = 0
        self.progress = time.monotonic()  # when it was last written to

    def write(self, data: Any) -> int:
        written = super().write(data)
        if self._limits is not None:
            self.progress = time.monotonic()
            self._check(self.tell())
        return written

    def buffers(self, collect: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """A ``buffer_callback`` that counts each out-of-band buffer, then ``collect``-s it."""
        if self._limits is None:
            return collect

        def counted(buffer: Any) -> Any:
            self._outside += memoryview(buffer.raw()).nbytes
            self.progress = time.monotonic()
            self._check(self.tell())
            return collect(buffer)

        return counted

    def _check(self, inline: int) -> None:
        limits = self._limits
        assert limits is not None
        total = inline + self._outside
        if limits.max_bytes is not None and total > limits.max_bytes:
            raise SerializationError(
                f"it is larger than the store limit of {format_size(limits.max_bytes)} "
                f"(gave up after {format_size(total)}){limits.hint}"
            )
        if limits.deadline is not None and time.monotonic() > limits.deadline:
            raise self._too_slow(total)

    def _too_slow(self, total: int | None = None) -> SerializationError:
        limits = self._limits
        assert limits is not None
        if total is None:
            total = self.tell() + self._outside
        return SerializationError(
            f"pickling it took longer than the store limit of "
            f"{format_duration(limits.seconds or 0.0)} (gave up after "
            f"{format_size(total)}){limits.hint}"
        )

    def interruptible(self) -> contextlib.AbstractContextManager[None]:
        """A block in which pickling is interrupted at the deadline, even inside one call
        that blocks (:func:`interrupt_at`)."""
        limits = self._limits
        if limits is None or limits.deadline is None:
            return contextlib.nullcontext()
        if limits.stall is None:
            return interrupt_at(limits.deadline, self._too_slow)
        return interrupt_at(
            limits.deadline,
            self._too_slow,
            stall=(limits.stall, lambda: self.progress, self._stalled),
        )

    def _stalled(self) -> StalledError:
        limits = self._limits
        assert limits is not None
        return StalledError(
            f"pickling it wrote nothing for {format_duration(limits.stall or 0.0)} (a "
            "__reduce__ or __getstate__ that waits on an event, a lock or a server?)"
        )


@contextmanager
def interrupt_at(
    deadline: float | None,
    error: Callable[[], BaseException],
    *,
    stall: tuple[float, Callable[[], float], Callable[[], BaseException]] | None = None,
) -> Iterator[None]:
    """Raise ``error()`` inside the block once ``time.monotonic()`` passes ``deadline``.

    ``stall`` = (seconds, progress, stalled): also raise ``stalled()`` once ``progress()``
    (when the work last moved on) is that many seconds old, before the deadline.

    Checking a deadline between writes cannot stop one call that blocks (a ``__reduce__``
    that sleeps or waits on a server): a timer signal (``SIGALRM``) interrupts it. Only in
    the main thread, where signals are handled. A timer someone else set (a test runner's
    timeout) is put back afterwards with the time it had left; when it would fire first,
    or inside another such block, the block runs unbounded (the deadline checks of
    :class:`BoundedSink` still apply); when it comes due while stalls are still watched
    for, it is put back then and fires.
    """
    if (
        deadline is None
        or _ARMED[0]
        or not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGALRM) is None  # set from C: cannot be put back
    ):
        yield
        return
    ours = max(deadline - time.monotonic(), 0.001)
    first = ours if stall is None else min(ours, stall[0])
    delay, interval = signal.getitimer(signal.ITIMER_REAL)
    if delay and delay <= first:
        yield
        return
    started = time.monotonic()
    theirs = started + delay if delay else None  # when the other timer is due
    handed = [False]  # the other timer's handler is back in place, due now

    def expired(signum: int, frame: Any) -> None:
        if not _ARMED[0]:
            return
        if _in_finalizer(frame):
            # Raised in a weakref callback or a __del__ (the garbage collector ran one in
            # the middle of the pickling), the error would be printed as "Exception ignored
            # in ..." into the cell's output and lost: asked again once it has returned.
            signal.setitimer(signal.ITIMER_REAL, _RETRY_SECONDS)
            return
        now = time.monotonic()
        if theirs is not None and now >= theirs and now < deadline:
            # Still watching for a stall when the other timer is due: it goes first.
            _ARMED[0] = False
            handed[0] = True
            signal.signal(signal.SIGALRM, previous)
            signal.setitimer(signal.ITIMER_REAL, 0.001, interval)
            return
        if stall is not None and now < deadline:
            seconds, progress, stalled = stall
            idle = now - progress()
            if idle < seconds:  # it moved on meanwhile: look again when it may have stalled
                later = min(deadline - now, seconds - idle)
                if theirs is not None:
                    later = min(later, theirs - now)
                signal.setitimer(signal.ITIMER_REAL, max(later, 0.001))
                return
            _ARMED[0] = False  # once: the error unwinds the block
            raise stalled()
        _ARMED[0] = False
        raise error()

    previous = signal.signal(signal.SIGALRM, expired)
    _ARMED[0] = True
    try:
        signal.setitimer(signal.ITIMER_REAL, first)
        yield
    finally:
        _ARMED[0] = False
        if not handed[0]:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            if delay:
                left = max(delay - (time.monotonic() - started), 0.001)
                signal.setitimer(signal.ITIMER_REAL, left, interval)


_ARMED = [False]  # an interrupt_at block is active (they do not nest)
_RETRY_SECONDS = 0.001
# Where an exception raised is not propagated but printed and dropped: weakref callbacks
# (WeakKeyDictionary's, WeakSet's, weakref.finalize) and __del__ methods.
_FINALIZER_FILES = frozenset({weakref.__file__, _weakrefset.__file__})


def _in_finalizer(frame: Any) -> bool:
    """Whether ``frame`` runs inside a weakref callback or a ``__del__`` (on its stack)."""
    while frame is not None:
        code = frame.f_code
        if code.co_name == "__del__" or code.co_filename in _FINALIZER_FILES:
            return True
        frame = frame.f_back
    return False

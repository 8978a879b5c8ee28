"""``progress()``: a tqdm-style bar for any loop that can also resume after a crash.

``for item in progress(items)`` shows a live bar (done, rate, ETA) in a notebook and a text
line elsewhere; loops inside loops show as rows of the outer bar. With ``name=`` the loop
is *resumable*: every finished item is recorded in a :class:`~persist_ext.Tracker` (JSON on
disk, under ``<store>/progress/<name>``), and the same loop run again — after an exception,
a kernel restart, a crash — skips the items already done and says so.

An item counts as done when the loop asks for the next one: the body ran to the end for it.
An item whose body raised or ``break``-ed is not done and runs again next time. Marks reach
the disk at least every ``sync_every`` seconds and when the loop ends, so a crash (SIGKILL,
out of memory) repeats at most the items of that window.

The model draws nothing: it produces :class:`~persist_ext.features._progress.ProgressSnapshot`
objects and tells its observers (the widget registered by ``persist_ext/__init__.py``) that
it changed, at most every ``mininterval`` seconds. The per-item cost of the plain (not
resumable) loop is a generator step, an add and a compare, like tqdm's; see
``benchmarks/bench_loop.py``.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from .._config import default_directory
from .._errors import ProgressError
from ..storage._names import safe_name
from ._progress import ProgressSnapshot, display_progress, eta_text, rate_text

__all__ = ["LoopProgress", "progress"]

_local = threading.local()  # the stack of loops running in this thread (nesting)


def _stack() -> list[LoopProgress]:
    stack: list[LoopProgress] | None = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def _in_kernel() -> bool:
    # A Jupyter kernel (it has a front end that can show widgets and keeps outputs).
    shell_module = sys.modules.get("IPython")
    if shell_module is None:
        return False
    shell = shell_module.get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _default_key(item: Any, index: int) -> str | int:
    # Items that name themselves (ids, paths, URLs, numbers) are their own keys, so a list
    # that grows or is reordered still resumes correctly; anything else is its position.
    if isinstance(item, str) or (isinstance(item, int) and not isinstance(item, bool)):
        return item
    return f"#{index}"


def _tracker_dir(store: Any) -> Path:
    if store is None:
        return default_directory()
    if isinstance(store, (str, os.PathLike)):
        return Path(store).expanduser()
    directory = getattr(store, "directory", None)
    if isinstance(directory, Path):
        return directory
    raise ProgressError(
        f"progress(name=..., store=...) keeps its records in a directory; got a "
        f"{type(store).__name__}. Pass a Store, a directory path, or nothing (the default "
        "directory)."
    )


class LoopProgress:
    """A progress bar over an iterable (or updated by hand), resumable when named.

    Use :func:`progress` to make one. Iterate it like the iterable, or call :meth:`update`
    yourself (``total=`` then says how many steps there are).

    Parameters
    ----------
    iterable
        What to loop over (None: count with :meth:`update`).
    total
        Number of items (default: ``len(iterable)`` when it has one; unknown otherwise).
    name
        Makes the loop resumable: items done by an earlier run of the loop with this name
        are skipped. Also the bar's title unless ``desc`` is given.
    desc
        The bar's title (default: ``name``, else ``"progress"``).
    store
        Where a named loop keeps its records: a ``Store`` (its directory), a directory path,
        or None for the default directory (``PERSIST_EXT_DIR`` or ``.persist``). The
        records are a Tracker in ``<directory>/progress/<name>``.
    key
        ``key(item) -> str | int``: how a named loop recognizes an item. Default: the item
        itself when it is a ``str`` or an ``int``, else its position (``"#17"``).
    leave
        Keep the bar when the loop ends (default: top-level bars stay, nested ones go).
    unit
        Name of one item in the text (default ``"it"``).
    mininterval
        Least seconds between two redraws (default 0.1).
    sync_every
        Most seconds a named loop's done marks wait before reaching the disk (default 1.0).
    disable
        Draw nothing and record nothing: a plain loop.
    file
        Where the text bar goes outside a notebook (default ``sys.stderr``).
    """

    def __init__(
        self,
        iterable: Iterable[Any] | None = None,
        *,
        total: int | None = None,
        name: str | None = None,
        desc: str | None = None,
        store: Any = None,
        key: Callable[[Any], Any] | None = None,
        leave: bool | None = None,
        unit: str = "it",
        mininterval: float = 0.1,
        sync_every: float = 1.0,
        disable: bool = False,
        file: TextIO | None = None,
    ) -> None:
        if iterable is None and total is None and not disable:
            total = 0
        if total is not None and (
            isinstance(total, bool) or not isinstance(total, int) or total < 0
        ):
            raise ProgressError(f"progress total must be an int >= 0 or None, got {total!r}.")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise ProgressError(f"progress name must be a non-empty str, got {name!r}.")
        if name is None and (store is not None or key is not None):
            raise ProgressError(
                "progress(store=..., key=...) only apply to a resumable loop: give it a "
                "name=... too."
            )
        if key is not None and not callable(key):
            raise ProgressError(f"progress key must be a function item -> key, got {key!r}.")
        for label, value in (("mininterval", mininterval), ("sync_every", sync_every)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ProgressError(f"progress {label} must be seconds > 0, got {value!r}.")
        if iterable is not None and not hasattr(iterable, "__iter__"):
            raise ProgressError(f"progress needs an iterable, got a {type(iterable).__name__}.")
        if total is None and iterable is not None:
            try:
                total = len(iterable)  # type: ignore[arg-type]
            except (TypeError, AttributeError):
                total = None
        self.iterable = iterable
        self.total = total
        self.name = name
        self.desc = desc or name or "progress"
        self.unit = unit
        self.leave = leave
        self.mininterval = float(mininterval)
        self.sync_every = float(sync_every)
        self.disable = disable
        self.file = file
        self.n = 0
        #: Items of this loop skipped because an earlier run did them (named loops).
        self.skipped = 0
        #: Items recorded done before this run started (named loops).
        self.done_before = 0
        self.started: float | None = None
        #: When the loop ended (wall clock); a later snapshot's rate stops there.
        self.ended: float | None = None
        # The last clock reading in the loop, as (items done then, time.monotonic()), and the
        # monotonic time of `started`: a loop whose body raised is closed only at the end of
        # its cell, so its rate is taken at the last reading, not at the close.
        self._seen: tuple[int, float] | None = None
        self._t0 = 0.0
        self._rate_items: int | None = None
        self._late = False
        self._items: weakref.ref[Iterator[Any]] | None = None
        self.closed = False
        self.stopped_reason: str | None = None
        self.parent: LoopProgress | None = None
        self.display: Any = None
        self._key = key or _default_key
        self._observers: list[Callable[[Any], None]] = []
        self._last_draw = 0.0
        self._text_len = 0
        self._thread: threading.Thread | None = None
        self._tracker: Any = None
        if name is not None and not disable:
            self._open_tracker(store)

    # -- resumable records -------------------------------------------------------------------

    def _open_tracker(self, store: Any) -> None:
        from ._pod import Tracker

        path = _tracker_dir(store) / "progress" / safe_name(self.name or "")
        self._tracker = Tracker(path, title=self.desc)
        self.done_before = self._tracker.num_done()

    @property
    def tracker(self) -> Any:
        """The :class:`~persist_ext.Tracker` of a named loop (None for a plain one)."""
        return self._tracker

    # -- the model ------------------------------------------------------------------------------

    def progress(self) -> ProgressSnapshot:
        """The loop's state now."""
        total = self.total if self.total is not None else 0
        finished = self.closed and self.stopped_reason is None
        if finished and self.total is None:
            total = self.n
        notes = []
        if self.skipped:
            notes.append(f"{self.skipped} skipped: done earlier")
        elif self.done_before and not self.closed:
            notes.append(f"resuming: {self.done_before} done earlier")
        return ProgressSnapshot(
            title=self.desc,
            total=total,
            done=self.n,
            todo=max(total - self.n, 0),
            started=self.started,
            # A snapshot read after the loop ended (the end-of-cell re-publish) must not
            # stretch the elapsed time to now: the rate of a finished loop stays its own.
            updated=self.ended if self.ended is not None else time.time(),
            finished=finished,
            rate_items=self._rate_items,
            stopped=bool(self.closed and self.stopped_reason),
            note="; ".join(notes),
            resumed=self.skipped,
            unit=self.unit,
        )

    def add_observer(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(self)`` when the loop's state changed (at most every mininterval)."""
        self._observers.append(callback)

    def remove_observer(self, callback: Callable[[Any], None]) -> None:
        """Stop calling ``callback`` (no error if it was not registered)."""
        if callback in self._observers:
            self._observers.remove(callback)

    # -- drawing ------------------------------------------------------------------------------

    def _start(self) -> None:
        if self.started is not None:
            return
        self.started = time.time()
        self._thread = threading.current_thread()
        stack = _stack()
        self.parent = stack[-1] if stack else None
        stack.append(self)
        if self.leave is None:
            self.leave = self.parent is None
        if _in_kernel():
            parent_display = self.parent.display if self.parent is not None else None
            add_child = getattr(parent_display, "add_child", None)
            self.display = add_child(self) if callable(add_child) else display_progress(self)
        elif self.done_before:
            self._write_line(
                f"{self.desc}: resuming, {self.done_before} item(s) done in an earlier run "
                "will be skipped"
            )
        # The clock starts once the bar is shown: setting up a widget (importing ipywidgets
        # the first time) is not the loop's work and must not lower its rate.
        self.started = time.time()
        self._t0 = time.monotonic()
        self._seen = (self.n, self._t0)
        self._draw(self._t0)

    def _draw(self, now: float) -> None:
        self._last_draw = now
        for callback in list(self._observers):
            callback(self)
        if self.display is None and not self.disable:
            self._draw_text()

    def _text_line(self) -> str:
        snap = self.progress()
        unit = f" {self.unit}" if self.unit else ""
        if snap.total > 0:
            width = 20
            filled = round(snap.fraction * width)
            body = (
                f"{snap.fraction:4.0%} [{'#' * filled}{'-' * (width - filled)}] "
                f"{snap.done:,}/{snap.total:,}{unit}"
            )
        else:
            body = f"{snap.done:,}{unit}"
        parts = [f"{self.desc} {body}", rate_text(snap), eta_text(snap)]
        if self.stopped_reason:
            parts[-1] = self.stopped_reason
        if snap.note:
            parts.append(snap.note)
        line = " | ".join(parts)
        if self.parent is not None:
            line = f"{self.parent._short()} > {line}"
        return line

    def _short(self) -> str:
        total = f"/{self.total:,}" if self.total is not None else ""
        head = f"{self.parent._short()} > " if self.parent is not None else ""
        return f"{head}{self.desc} {self.n:,}{total}"

    def _stream(self) -> TextIO:
        return self.file if self.file is not None else sys.stderr

    def _write_line(self, text: str) -> None:
        stream = self._stream()
        if self._text_len:
            stream.write("\n")
            self._text_len = 0
        stream.write(text + "\n")
        stream.flush()

    def _draw_text(self, final: bool = False) -> None:
        stream = self._stream()
        isatty = getattr(stream, "isatty", lambda: False)()
        if not isatty:
            # A log file or a pipe: one line when a bar that stays ends, no carriage returns.
            if final and (self.leave or self.stopped_reason):
                stream.write(self._text_line() + "\n")
                stream.flush()
            return
        line = self._text_line()
        pad = " " * max(0, self._text_len - len(line))
        stream.write(f"\r{line}{pad}")
        self._text_len = len(line)
        if final:
            stream.write("\n" if self.leave or self.stopped_reason else "\r")
            self._text_len = 0
        stream.flush()

    # -- iterating ------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            raise ProgressError(
                "this progress bar has no iterable; call update() or pass one: progress(items)."
            )
        items = self._iterate(self.iterable)
        # Weak: a loop whose body raised stays suspended while the traceback holds it;
        # cell_ended() closes it then, so its own bookkeeping (the count) runs.
        self._items = weakref.ref(items)
        return items

    def _iterate(self, iterable: Iterable[Any]) -> Iterator[Any]:
        if self.disable:
            yield from iterable
            return
        self._start()
        if self._tracker is not None:
            yield from self._resumable()
            return
        # The hot loop: locals only; the clock is read every `every` items, adapted so that
        # a read happens about twice per mininterval (like tqdm's miniters).
        n = self.n
        every = 1
        next_check = n + every
        mininterval = self.mininterval
        last = self._last_draw
        clock = time.monotonic
        exhausted = False
        try:
            for item in iterable:
                yield item
                n += 1
                if n >= next_check:
                    self.n = n  # nested loops show it as their prefix
                    now = clock()
                    self._seen = (n, now)
                    elapsed = now - last
                    if elapsed >= mininterval:
                        self._draw(now)
                        last = now
                    if elapsed < mininterval / 4 and every < 65536:
                        every *= 2
                    elif elapsed > mininterval and every > 1:
                        every //= 2
                    next_check = n + every
            exhausted = True
        finally:
            self.n = n
            self._finish(exhausted)

    def _resumable(self) -> Iterator[Any]:
        tracker = self._tracker
        key_of = self._key
        sync_every = self.sync_every
        clock = time.monotonic
        last_sync = clock()
        exhausted = False
        try:
            for index, item in enumerate(self.iterable):  # type: ignore[arg-type]
                key = key_of(item, index) if key_of is _default_key else key_of(item)  # type: ignore[call-arg]
                if isinstance(key, bool) or not isinstance(key, (str, int)):
                    raise ProgressError(
                        f"progress key of item {index} is {key!r}; a resumable loop needs "
                        "str or int keys (pass key=lambda item: ... returning one)."
                    )
                if tracker.check(key):
                    self.skipped += 1
                else:
                    tracker.try_it(key)
                    yield item
                    tracker.mark_done(key)
                self.n += 1
                now = clock()
                self._seen = (self.n, now)
                if now - last_sync >= sync_every:
                    tracker.sync()
                    last_sync = now
                if now - self._last_draw >= self.mininterval:
                    self._draw(now)
            exhausted = True
        finally:
            self._finish(exhausted)

    # -- by hand -----------------------------------------------------------------------------

    def update(self, n: int = 1) -> None:
        """Count ``n`` more items done (for loops you drive yourself)."""
        if isinstance(n, bool) or not isinstance(n, int):
            raise ProgressError(f"progress update() takes an int count, got {n!r}.")
        if self.disable:
            return
        self._start()
        self.n += n
        now = time.monotonic()
        self._seen = (self.n, now)
        if now - self._last_draw >= self.mininterval or (
            self.total is not None and self.n >= self.total
        ):
            self._draw(now)

    def set_description(self, desc: str) -> None:
        """Change the bar's title."""
        self.desc = str(desc)

    # -- ending -------------------------------------------------------------------------------

    def _finish(self, exhausted: bool) -> None:
        if exhausted:
            if self.total is None:
                self.total = self.n
            self.close()
        else:
            self.close(reason="did not finish")

    def close(self, reason: str | None = None) -> None:
        """End the bar: final when every item is done, else it says where it stopped.

        Called by the loop itself when it ends (also on ``break``); call it after
        :meth:`update`-driven work. A named loop's records reach the disk here.
        """
        if self.closed:
            return
        if reason is None and self.total is not None and self.n < self.total:
            reason = "did not finish"
        self.closed = True
        self.ended = time.time()
        self.stopped_reason = reason
        if self._late and self._seen is not None and self.started is not None:
            # Closed at the end of the cell, after the body raised: the loop's work ended at
            # (about) its last clock reading, not now.
            self._rate_items, seen_at = self._seen
            self.ended = self.started + (seen_at - self._t0)
        stack = _stack() if self._thread is threading.current_thread() else []
        if self in stack:
            stack.remove(self)
        if self._tracker is not None and not self._tracker.closed:
            self._tracker.sync()
        if self.disable or self.started is None:
            return
        for callback in list(self._observers):
            callback(self)
        display = self.display
        if display is None:
            self._draw_text(final=True)
            if self.parent is not None and not self.parent.closed:
                self.parent._draw(time.monotonic())
            return
        finished = reason is None
        if hasattr(display, "refresh"):
            display.refresh()
        if not finished and hasattr(display, "end"):
            display.end(reason or "stopped")
        parent_display = self.parent.display if self.parent is not None else None
        remove = getattr(parent_display, "remove_child", None)
        if finished and not self.leave and remove is not None:
            remove(display)

    def cell_ended(self) -> None:
        """The notebook cell running this loop ended: a loop left unfinished is over.

        A loop whose body raised is never resumed, and Python keeps its generator alive
        with the traceback; this is when the bar learns that it stopped.
        """
        if not self.closed and self._thread is threading.main_thread():
            self._late = True
            items = self._items() if self._items is not None else None
            if items is not None and hasattr(items, "close"):
                items.close()  # its `finally` counts the items done and closes the bar
            self.close(reason="did not finish")  # no-op if that closed it

    def __enter__(self) -> LoopProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        if self.total is None:
            raise TypeError("this progress bar's total is unknown")
        return self.total

    def __repr__(self) -> str:
        return self._text_line()

    # -- pandas ---------------------------------------------------------------------------------

    @classmethod
    def pandas(cls, **kwargs: Any) -> None:
        """Add ``progress_apply`` (and ``progress_map``) to pandas objects, as tqdm does.

        ``Series.progress_apply``, ``Series.progress_map``, ``DataFrame.progress_apply`` and
        ``GroupBy.progress_apply`` take the same arguments as ``apply`` / ``map`` and show a
        bar while they run; ``kwargs`` (``desc=``, ``mininterval=``, ...) go to every bar.
        """
        import pandas as pd
        from pandas.core.groupby import DataFrameGroupBy, SeriesGroupBy

        def counted(bar: LoopProgress, func: Callable[..., Any]) -> Callable[..., Any]:
            def call(*args: Any, **kw: Any) -> Any:
                try:
                    return func(*args, **kw)
                finally:
                    bar.update(1)

            return call

        def wrap(method: str, total_of: Callable[..., int]) -> Callable[..., Any]:
            def progress_method(self: Any, func: Any, *args: Any, **kw: Any) -> Any:
                options = {"desc": f"{method}", **kwargs}
                bar = cls(total=total_of(self, *args, **kw), **options)
                try:
                    result = getattr(self, method)(counted(bar, func), *args, **kw)
                except BaseException:
                    bar.close(reason="did not finish")
                    raise
                bar.total = bar.n if bar.total is None else bar.total
                bar.n = min(bar.n, bar.total) if bar.total else bar.n
                bar.close()
                return result

            progress_method.__name__ = f"progress_{method}"
            return progress_method

        def frame_total(self: Any, *args: Any, **kw: Any) -> int:
            axis = kw.get("axis", args[0] if args else 0)
            return len(self) if axis in (1, "columns") else len(self.columns)

        pd.Series.progress_apply = wrap("apply", lambda s, *a, **k: len(s))
        pd.Series.progress_map = wrap("map", lambda s, *a, **k: len(s))
        pd.DataFrame.progress_apply = wrap("apply", frame_total)
        for groupby in (DataFrameGroupBy, SeriesGroupBy):
            groupby.progress_apply = wrap("apply", lambda g, *a, **k: int(g.ngroups))


def progress(iterable: Iterable[Any] | None = None, **options: Any) -> LoopProgress:
    """Wrap a loop in a live progress bar; with ``name=`` the loop resumes after a crash.

    Parameters
    ----------
    iterable
        What to loop over; None to count with ``update()``.
    **options
        ``total``, ``name``, ``desc``, ``store``, ``key``, ``leave``, ``unit``,
        ``mininterval``, ``sync_every``, ``disable``, ``file``: see :class:`LoopProgress`.

    Returns
    -------
    LoopProgress
        Iterate it like ``iterable``.

    Raises
    ------
    ProgressError
        For bad options (a negative total, ``store=`` without ``name=``, ...), before
        anything is recorded.

    Examples
    --------
    >>> import io, tempfile
    >>> out = io.StringIO()
    >>> [x * x for x in progress(range(4), desc="squares", file=out)]
    [0, 1, 4, 9]
    >>> print(out.getvalue().splitlines()[-1].split(" |")[0])
    squares 100% [####################] 4/4 it
    >>> where = tempfile.mkdtemp()
    >>> for x in progress(["a", "b", "c"], name="letters", store=where, file=out):
    ...     if x == "b":
    ...         break
    >>> seen = [x for x in progress(["a", "b", "c"], name="letters", store=where, file=out)]
    >>> seen  # "a" was done by the first run
    ['b', 'c']
    >>> progress(range(3), store=where)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    persist_ext._errors.ProgressError: progress(store=..., key=...) only apply to a ...
    """
    return LoopProgress(iterable, **options)


progress.pandas = LoopProgress.pandas  # type: ignore[attr-defined]

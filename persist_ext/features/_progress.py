"""Progress as data: the one message that models send to renderers, and work that outlives a cell.

Models (a :class:`~persist_ext.Tracker`, a task group, a :func:`~persist_ext.progress` loop)
compute a :class:`ProgressSnapshot`; they draw nothing. Renderers turn snapshots into text,
static HTML (what a saved notebook keeps) or a live widget. The live widget lives in the
interface layer, so it is injected through :func:`register_live_renderer` by
``persist_ext/__init__.py`` rather than imported from here.

Work that keeps running after the cell that started it (a task group's ``run()``) announces
itself with :func:`watch_run`; the returned :class:`RunWatch` is told when the run ends and
calls the completion callback. The interface layer registers a kernel-aware watch (see
``interfaces/widgets/_live.py``) that refreshes every display of the work when the run ends,
sends the callback's output to the cell that started the run, and lets a non-interactive
notebook run wait for the work before the kernel stops (:func:`set_wait_policy`).
"""

from __future__ import annotations

import html
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from .._errors import ProgressError
from .._format import format_duration

__all__ = [
    "WAIT_ENV_VAR",
    "ProgressSnapshot",
    "ProgressSource",
    "RunWatch",
    "WaitPolicy",
    "display_progress",
    "eta_text",
    "rate_text",
    "register_live_renderer",
    "register_run_watch",
    "running_work",
    "set_wait_policy",
    "snapshot_html",
    "snapshot_text",
    "wait_policy",
    "watch_run",
]


@dataclass(frozen=True)
class ProgressSnapshot:
    """The state of a long-running piece of work at one instant.

    ``done + failed + running + todo == total`` for models that know every item;
    ``rows`` holds optional per-item rows (task tables) and ``levels`` the marker tree's
    completion per level as ``(done, total)`` pairs, root last. ``resumed`` counts items
    settled by an earlier session (a resumed loop skips them): they do not count towards the
    rate. ``unit`` names an item in text (``"it"`` for loops; empty for tasks). ``stopped``
    marks work that ended without finishing (a loop that raised or broke out early): it has
    no ETA. ``rate_items``, when set, is how many items the rate counts up to ``updated`` (a
    loop closed after its last clock reading counted fewer items then than it has now).
    ``busy``, when set, is the seconds the work actually ran (a task group resumed days later
    did not run in between): the rate divides by it instead of ``updated - started``.
    """

    title: str
    total: int
    done: int = 0
    failed: int = 0
    running: int = 0
    todo: int = 0
    started: float | None = None
    updated: float = field(default_factory=time.time)
    finished: bool = False
    rows: tuple[dict[str, Any], ...] = ()
    levels: tuple[tuple[int, int], ...] = ()
    note: str = ""
    resumed: int = 0
    unit: str = ""
    stopped: bool = False
    rate_items: int | None = None
    busy: float | None = None

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # A notebook's ``group.progress()`` shows the line every renderer draws, not the
        # fields (``repr`` keeps them); unfinished work says when it was read.
        printer.text(snapshot_text(self) + _as_of(self))

    def _repr_html_(self) -> str:
        as_of = _as_of(self)
        return snapshot_html(self) + (f"<div>{html.escape(as_of[3:])}</div>" if as_of else "")

    @property
    def settled(self) -> int:
        """Items that will not run again (done or failed for good)."""
        return self.done + self.failed

    @property
    def fraction(self) -> float:
        """Settled share of the total, 0.0 to 1.0 (1.0 for an empty total)."""
        return 1.0 if self.total <= 0 else min(1.0, self.settled / self.total)

    @property
    def rate(self) -> float | None:
        """Items settled per second since ``started``, or None before anything settled."""
        counted = self.settled if self.rate_items is None else self.rate_items
        session = counted - self.resumed
        if self.started is None or session <= 0:
            return None
        elapsed = self.updated - self.started if self.busy is None else self.busy
        return session / max(elapsed, 1e-9)

    @property
    def eta(self) -> float | None:
        """Seconds until every item is settled at the current rate, or None if unknown."""
        rate = self.rate
        remaining = self.total - self.settled
        if self.finished or remaining <= 0:
            return 0.0
        if self.stopped:
            return None
        if not rate:
            return None
        return remaining / rate


@runtime_checkable
class ProgressSource(Protocol):
    """Anything that can report its progress."""

    def progress(self) -> ProgressSnapshot: ...


def rate_text(snap: ProgressSnapshot) -> str:
    """``'12.5/s'`` (or ``'-/s'`` before anything settled in this session)."""
    rate = snap.rate
    if not rate:
        return "-/s"
    return f"{rate:.1f}/s" if rate >= 1 else f"{1 / rate:.1f} s each"


def eta_text(snap: ProgressSnapshot) -> str:
    """``'finished'``, ``'ETA 4.2 s'``, ``'ETA unknown'`` before a rate is known, or
    ``'stopped'`` for work that ended unfinished (no ETA: nothing more will come)."""
    if snap.finished:
        return "finished"
    if snap.stopped:
        return "stopped"
    eta = snap.eta
    return "ETA unknown" if eta is None else f"ETA {format_duration(eta)}"


def _counts(snap: ProgressSnapshot) -> str:
    parts = [f"{snap.done} done"]
    if snap.failed:
        parts.append(f"{snap.failed} failed")
    if snap.running:
        parts.append(f"{snap.running} running")
    parts.append(f"{snap.todo} to do")
    return f"{', '.join(parts)} | {rate_text(snap)} | {eta_text(snap)}"


def _as_of(snap: ProgressSnapshot) -> str:
    """``' | read at 20:18:41, not finished then'`` for unfinished work, else ``''``."""
    if snap.finished or snap.stopped:
        return ""
    return (
        f" | read at {time.strftime('%H:%M:%S', time.localtime(snap.updated))}, not finished then"
    )


def snapshot_text(snap: ProgressSnapshot, width: int = 30) -> str:
    """One line of plain text with a bar, counts, rate and ETA.

    >>> print(snapshot_text(ProgressSnapshot("load", total=4, done=1, todo=3), width=8))
    load [##------]  25% 1/4 | 1 done, 3 to do | -/s | ETA unknown
    """
    filled = round(snap.fraction * width)
    bar = "#" * filled + "-" * (width - filled)
    line = (
        f"{snap.title} [{bar}] {snap.fraction:4.0%} {snap.settled}/{snap.total} | {_counts(snap)}"
    )
    return f"{line} | {snap.note}" if snap.note else line


def snapshot_html(snap: ProgressSnapshot) -> str:
    """A static HTML snapshot (what a saved notebook and nbconvert show)."""
    pct = f"{snap.fraction:.0%}"
    failed_pct = 0.0 if snap.total <= 0 else 100.0 * snap.failed / snap.total
    done_pct = 0.0 if snap.total <= 0 else 100.0 * snap.done / snap.total
    return (
        '<div class="persist-ext-progress" style="font-family:monospace">'
        f"<b>{html.escape(snap.title)}</b> {pct} ({snap.settled}/{snap.total})"
        '<div style="display:flex;width:320px;height:10px;background:#eee">'
        f'<div style="width:{done_pct:.1f}%;background:#4caf50"></div>'
        f'<div style="width:{failed_pct:.1f}%;background:#e53935"></div></div>'
        f"<span>{html.escape(_counts(snap))}</span></div>"
    )


_live_renderer: Callable[[ProgressSource], Any] | None = None


def register_live_renderer(factory: Callable[[ProgressSource], Any] | None) -> None:
    """Install the factory that builds a live display for a source (None removes it)."""
    global _live_renderer
    _live_renderer = factory


def display_progress(source: ProgressSource) -> Any:
    """Display ``source`` live if a renderer is registered, else as a static snapshot.

    Returns the live display object (a widget) or None.
    """
    from IPython.display import HTML, display

    if _live_renderer is not None:
        live = _live_renderer(source)
        display(live)
        return live
    display(HTML(snapshot_html(source.progress())))
    return None


# --- work that outlives the cell that started it ---------------------------------------------

#: Environment variable that sets the default :class:`WaitPolicy` mode.
WAIT_ENV_VAR = "PERSIST_EXT_WAIT"
_WAIT_MODES = ("auto", "always", "never")


@dataclass(frozen=True)
class WaitPolicy:
    """Whether a cell waits, at its end, for task groups that are still running.

    ``mode`` is ``"auto"`` (wait in non-interactive runs: ``jupyter nbconvert --execute``,
    papermill, anything driving the kernel through nbclient; never in JupyterLab or
    Notebook 7), ``"always"`` or ``"never"``. ``timeout`` bounds each wait in seconds
    (None: until the work ends). Without the wait, a headless run that starts a group in its
    last cell would save the first frame of every display: the kernel stops before the work
    ends, and nothing sent after the last cell reaches the saved notebook.
    """

    mode: Literal["auto", "always", "never"] = "auto"
    timeout: float | None = None

    def __post_init__(self) -> None:
        if self.mode not in _WAIT_MODES:
            raise ProgressError(
                f"wait policy mode must be one of {', '.join(map(repr, _WAIT_MODES))}, "
                f"got {self.mode!r} (set_wait_policy('auto') restores the default)."
            )
        timeout = self.timeout
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0
        ):
            raise ProgressError(
                f"wait policy timeout must be None or seconds >= 0, got {timeout!r}."
            )


def _policy_from_env() -> WaitPolicy:
    mode = os.environ.get(WAIT_ENV_VAR, "auto").strip().lower() or "auto"
    if mode not in _WAIT_MODES:
        raise ProgressError(
            f"{WAIT_ENV_VAR}={mode!r} is not a wait mode; use auto, always or never."
        )
    return WaitPolicy(mode)  # type: ignore[arg-type]


_policy: WaitPolicy | None = None


def wait_policy() -> WaitPolicy:
    """The current :class:`WaitPolicy` (from ``PERSIST_EXT_WAIT`` until set in code)."""
    global _policy
    if _policy is None:
        _policy = _policy_from_env()
    return _policy


def set_wait_policy(
    mode: Literal["auto", "always", "never"] = "auto", timeout: float | None = None
) -> WaitPolicy:
    """Choose whether cells wait at their end for task groups that are still running.

    Parameters
    ----------
    mode
        ``"auto"`` (the default: wait only in non-interactive runs such as
        ``jupyter nbconvert --execute`` and papermill), ``"always"`` or ``"never"``.
    timeout
        Most seconds one cell waits (None: until the work ends). Work still running after
        the timeout keeps running; its displays say so in words.

    Returns
    -------
    WaitPolicy
        The policy now in force.

    Raises
    ------
    ProgressError
        For an unknown mode or a negative timeout (nothing is changed).

    Examples
    --------
    >>> set_wait_policy("never")
    WaitPolicy(mode='never', timeout=None)
    >>> set_wait_policy("sometimes")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    persist_ext._errors.ProgressError: wait policy mode must be one of 'auto', ...
    >>> set_wait_policy()
    WaitPolicy(mode='auto', timeout=None)
    """
    global _policy
    policy = WaitPolicy(mode, timeout)  # validates before anything changes
    _policy = WaitPolicy(policy.mode, None if timeout is None else float(timeout))
    return _policy


class RunWatch:
    """What a running piece of work tells the displays: it started, it ended.

    A task group creates one per ``run()`` through :func:`watch_run`, calls :meth:`call` to
    run its completion callback and :meth:`ended` once the run is over (after the callback,
    with the group no longer running). This base class needs no kernel; the interface layer
    registers a subclass that also updates displays and routes the callback's output.

    Examples
    --------
    >>> watch = RunWatch("work")
    >>> watch.running, watch.call(len, "abc")
    (True, 3)
    >>> watch.ended(); watch.running, watch.wait(0)
    (False, True)
    """

    def __init__(self, source: Any) -> None:
        self.source = source
        self.started = time.time()
        self._ended = threading.Event()

    @property
    def running(self) -> bool:
        """Whether the run has not ended yet."""
        return not self._ended.is_set()

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call the completion callback ``fn(*args)`` (subclasses route its output)."""
        return fn(*args)

    def ended(self) -> None:
        """The run is over: its final state is in the store."""
        self._ended.set()
        _running.discard(self)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until :meth:`ended` (at most ``timeout`` seconds); True if it ended."""
        return self._ended.wait(timeout)


_running: weakref.WeakSet[RunWatch] = weakref.WeakSet()
_watch_factory: Callable[[Any], RunWatch] | None = None


def register_run_watch(factory: Callable[[Any], RunWatch] | None) -> None:
    """Install the factory :func:`watch_run` uses (None: the plain :class:`RunWatch`)."""
    global _watch_factory
    _watch_factory = factory


def watch_run(source: Any) -> RunWatch:
    """Announce that ``source`` starts running; returns the watch to report its end to."""
    watch = _watch_factory(source) if _watch_factory is not None else RunWatch(source)
    if watch.running:
        _running.add(watch)
    return watch


def running_work() -> list[RunWatch]:
    """Watches of runs that have not ended, oldest first."""
    return sorted((w for w in list(_running) if w.running), key=lambda w: w.started)

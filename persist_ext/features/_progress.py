"""Progress as data: the one message that models send to renderers.

Models (a :class:`~persist_ext.Tracker`, a task group) compute a :class:`ProgressSnapshot`;
they draw nothing. Renderers turn snapshots into text, static HTML (what a saved notebook
keeps) or a live widget. The live widget lives in the interface layer, so it is injected
through :func:`register_live_renderer` by ``persist_ext/__init__.py`` rather than imported
from here.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .._format import format_duration

__all__ = [
    "ProgressSnapshot",
    "ProgressSource",
    "display_progress",
    "register_live_renderer",
    "snapshot_html",
    "snapshot_text",
]


@dataclass(frozen=True)
class ProgressSnapshot:
    """The state of a long-running piece of work at one instant.

    ``done + failed + running + todo == total`` for models that know every item;
    ``rows`` holds optional per-item rows (task tables) and ``levels`` the marker tree's
    completion per level as ``(done, total)`` pairs, root last.
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
        if self.started is None or self.settled == 0:
            return None
        elapsed = max(self.updated - self.started, 1e-9)
        return self.settled / elapsed

    @property
    def eta(self) -> float | None:
        """Seconds until every item is settled at the current rate, or None if unknown."""
        rate = self.rate
        remaining = self.total - self.settled
        if self.finished or remaining <= 0:
            return 0.0
        if not rate:
            return None
        return remaining / rate


@runtime_checkable
class ProgressSource(Protocol):
    """Anything that can report its progress."""

    def progress(self) -> ProgressSnapshot: ...


def _counts(snap: ProgressSnapshot) -> str:
    parts = [f"{snap.done} done"]
    if snap.failed:
        parts.append(f"{snap.failed} failed")
    if snap.running:
        parts.append(f"{snap.running} running")
    parts.append(f"{snap.todo} to do")
    rate = f"{snap.rate:.1f}/s" if snap.rate else "-/s"
    eta = "finished" if snap.finished else f"ETA {format_duration(snap.eta)}"
    return f"{', '.join(parts)} | {rate} | {eta}"


def snapshot_text(snap: ProgressSnapshot, width: int = 30) -> str:
    """One line of plain text with a bar, counts, rate and ETA.

    >>> print(snapshot_text(ProgressSnapshot("load", total=4, done=1, todo=3), width=8))
    load [##------]  25% 1/4 | 1 done, 3 to do | -/s | ETA ?
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

"""Human-readable sizes, durations and ages, shared by every layer's text and HTML."""

from __future__ import annotations

import math
import time

__all__ = ["format_ago", "format_duration", "format_size"]


def format_size(size: int | None) -> str:
    """Human size: ``'812 B'``, ``'1.2 MB'``; ``'?'`` when unknown.

    >>> format_size(812), format_size(1_234_567), format_size(None)
    ('812 B', '1.2 MB', '?')
    """
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return "?"  # pragma: no cover - loop always returns


def format_ago(when: float | None, now: float | None = None) -> str:
    """How long ago a timestamp was: ``'just now'``, ``'42 s ago'``, ``'2 h ago'``; ``'?'``
    when unknown. The one age format of every surface (magics, widgets, the panel).

    >>> format_ago(100.0, now=142.0), format_ago(0.0, now=7200.0), format_ago(None)
    ('42 s ago', '2 h ago', '?')
    """
    if when is None:
        return "?"
    delta = max((now or time.time()) - when, 0.0)
    if delta < 5:
        return "just now"
    for span, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if delta >= span:
            return f"{int(delta // span)} {unit} ago"
    return f"{int(delta)} s ago"


def format_duration(seconds: float | None) -> str:
    """Human duration: ``'4.2 ms'``, ``'3.2 s'``, ``'4 min 05 s'``, ``'2 h 03 min'``; ``'?'``
    when unknown.

    >>> format_duration(0.0042), format_duration(3.21), format_duration(245)
    ('4.2 ms', '3.2 s', '4 min 05 s')
    >>> format_duration(7380), format_duration(None)
    ('2 h 03 min', '?')
    """
    if seconds is None or math.isnan(seconds) or math.isinf(seconds):
        return "?"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"

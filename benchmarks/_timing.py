"""Timing helpers every benchmark module shares: one row format, one way to take a median."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

__all__ = ["median_seconds", "print_rows", "row"]


def row(name: str, value: float, unit: str) -> dict[str, Any]:
    """One measurement in the runner's format."""
    return {"name": name, "value": round(value, 4), "unit": unit}


def median_seconds(
    fn: Callable[[], Any], repeat: int, before: Callable[[], Any] | None = None
) -> float:
    """Median wall time of ``repeat`` calls of ``fn``; ``before`` runs untimed before each.

    Garbage is collected before each call and the result dropped right after, so one
    call's leftovers do not slow the next.
    """
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        gc.collect()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        del result
    return statistics.median(times)


def print_rows(rows: list[dict[str, Any]]) -> None:
    """Print rows as aligned text (each module's ``main()``)."""
    for r in rows:
        print(f"{r['name']:<70} {r['value']:>12} {r['unit']}")

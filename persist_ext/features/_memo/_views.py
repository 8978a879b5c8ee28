"""``%persist list`` for cached functions: one row per function, and the combined listing."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from ..._format import format_ago, format_duration, format_size
from ...storage._protocol import KeyValueStore
from .._usage import flush_uses
from ._layout import CallEntry, iter_calls

__all__ = ["CallTable", "Listing", "call_table"]


@dataclass
class CallTable:
    """Cached functions: calls stored, hits, bytes, last use, longest original run."""

    entries: list[CallEntry]

    HEADERS = ["function", "calls", "hits", "size", "last used", "slowest call"]

    def rows(self) -> list[list[str]]:
        by_function: dict[str, list[CallEntry]] = {}
        for entry in self.entries:
            by_function.setdefault(entry.name, []).append(entry)
        rows = []
        for name, calls in sorted(by_function.items()):
            rows.append(
                [
                    name,
                    str(len(calls)),
                    str(sum(c.hits for c in calls)),
                    format_size(sum(c.size for c in calls)),
                    format_ago(max(c.last_used for c in calls)),
                    format_duration(max(c.duration for c in calls)),
                ]
            )
        return rows

    def __repr__(self) -> str:
        rows = self.rows()
        if not rows:
            return "No cached function calls."
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(self.HEADERS)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(self.HEADERS, widths))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
        return "\n".join(line.rstrip() for line in lines)

    def _repr_html_(self) -> str:
        rows = self.rows()
        if not rows:
            return "<p>No cached function calls.</p>"
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.HEADERS)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def call_table(store: KeyValueStore) -> CallTable:
    """Every cached call in ``store`` (use records flushed first, so hits are current)."""
    flush_uses()
    return CallTable(list(iter_calls(store)))


@dataclass
class Listing:
    """``%persist list``: the cell table, then (when there are any) the cached functions.

    ``entries`` are the cell table's rows and ``calls`` the cached-function table, so code
    reading the cell listing keeps working.
    """

    cells: Any
    calls: CallTable

    @property
    def entries(self) -> Any:
        return getattr(self.cells, "entries", [])

    def __repr__(self) -> str:
        if not self.calls.entries:
            return repr(self.cells)
        return f"{self.cells!r}\n\ncached functions:\n{self.calls!r}"

    def _repr_html_(self) -> str:
        render = getattr(self.cells, "_repr_html_", None)
        cells = render() if callable(render) else f"<pre>{html.escape(repr(self.cells))}</pre>"
        if not self.calls.entries:
            return cells
        return f"{cells}<p><b>cached functions</b></p>{self.calls._repr_html_()}"

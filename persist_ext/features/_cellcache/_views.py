"""Small result objects for ``%persist list / show / info``: plain text and an HTML table.

The magics return these objects and IPython displays them (text in a terminal, HTML in a
notebook); nothing here prints.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from typing import Any

from ..._format import format_ago, format_duration, format_size
from ._entry import Manifest, StoredCell

__all__ = [
    "EntryDetails",
    "EntryTable",
    "StoreSummary",
]


def _table_text(headers: list[str], rows: list[list[str]]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    body = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join([line, *body]).rstrip()


def _table_html(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@dataclass
class EntryTable:
    """``%persist list``: one row per stored cell run (name, size, age, run time, hits).

    A cell that is run rather than restored (cheaper to run, or with effects that cannot be
    re-applied) shows ``runs: <why>`` instead of a hit count. When a cell has several stored
    runs (one per set of inputs), an ``inputs`` column shows what tells them apart: the key
    parts that differ between its runs, with a short digest of each (``var:n 3f2a9c1b``).
    """

    entries: list[StoredCell]
    directory: str = ""

    HEADERS = ["name", "variables", "size", "age", "run time", "hits"]

    def headers(self) -> list[str]:
        return self.HEADERS + (["inputs"] if self._differing() else [])

    def _differing(self) -> dict[str, list[str]]:
        """Per cell name with several runs: the key parts whose digests differ between them."""
        by_name: dict[str, list[StoredCell]] = {}
        for entry in self.entries:
            by_name.setdefault(entry.name, []).append(entry)
        found = {}
        for name, runs in by_name.items():
            if len(runs) > 1:
                parts = sorted({p for run in runs for p in run.digests})
                found[name] = [p for p in parts if len({r.digests.get(p) for r in runs}) > 1]
        return found

    def rows(self) -> list[list[str]]:
        differing = self._differing()
        rows = []
        for e in self.entries:
            row = [
                e.name,
                ", ".join(e.variables) or "-",
                format_size(e.size),
                format_ago(e.created),
                format_duration(e.duration),
                f"runs: {e.run_reason}" if e.run_reason else str(e.hits),
            ]
            if differing:
                parts = differing.get(e.name, [])
                row.append(", ".join(f"{p} {e.digests.get(p, '-')}" for p in parts) or "-")
            rows.append(row)
        return rows

    def __repr__(self) -> str:
        if not self.entries:
            return f"No cached cells in {self.directory or 'the store'}."
        return _table_text(self.headers(), self.rows())

    def _repr_html_(self) -> str:
        if not self.entries:
            return f"<p>{html.escape(repr(self))}</p>"
        return _table_html(self.headers(), self.rows())


@dataclass
class EntryDetails:
    """``%persist show NAME``: what one stored run holds and what its key is made of."""

    manifest: Manifest
    hits: int = 0
    expires: float | None = None

    def lines(self) -> list[str]:
        m = self.manifest
        out = [
            f"cell {m.name}: stored {format_ago(m.created)} "
            f"({time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(m.created))}), "
            f"original run took {format_duration(m.duration)}, restored {self.hits} times",
            f"key {m.key}",
            "variables:" if m.variables else "variables: none",
        ]
        stored_with = m.stored_with()
        for var in sorted(m.variables):
            mark = " (mutated in place)" if var in m.mutated else ""
            size = (
                f"stored with {', '.join(stored_with[var])}"
                if var in stored_with
                else format_size(m.sizes.get(var, 0))
            )
            out.append(f"  {var}: {m.types.get(var, '?')}, {size}{mark}")
        out.append(f"outputs: {m.n_outputs}")
        out.append("key components:")
        out += [f"  {c} = {v}" for c, v in sorted(m.components.items())]
        if self.expires:
            out.append(
                f"expires: {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(self.expires))}"
            )
        return out

    def __repr__(self) -> str:
        return "\n".join(self.lines())

    def _repr_html_(self) -> str:
        return "<pre>" + html.escape(repr(self)) + "</pre>"


@dataclass
class StoreSummary:
    """``%persist info``: where the store is, how many cached cells, how much space."""

    directory: str
    exists: bool
    entries: int = 0  # cached cells (by name)
    runs: int = 0  # stored runs of them (a cell keeps one per set of inputs, up to `keep`)
    size: int = 0
    volume: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    debris_files: int = 0  # blobs of killed writers, removed on the store's next open
    debris_bytes: int = 0

    def __repr__(self) -> str:
        if not self.exists:
            return f"persist_ext store: {self.directory} (not created yet)"
        text = (
            f"persist_ext store: {self.directory}\n"
            f"cached cells: {self.entries}"
            + (f" ({self.runs} stored runs)" if self.runs > self.entries else "")
            + f", {format_size(self.size)} of variables"
        )
        if self.volume is not None:
            text += f"\non disk: {format_size(self.volume)}"
        if self.debris_files:
            text += (
                f"\ncrash debris: {self.debris_files} orphan file(s) of killed writers, "
                f"{format_size(self.debris_bytes)} (removed on the next open of the store)"
            )
        return text

    def _repr_html_(self) -> str:
        return "<pre>" + html.escape(repr(self)) + "</pre>"

"""Cached calls as budget units: one unit per call, marker = its result."""

from __future__ import annotations

from collections.abc import Iterator

from ...storage._protocol import KeyValueStore
from .._budget import Unit, orphans, register_units
from ._layout import PREFIX, RESULT, iter_calls

__all__ = ["list_call_units"]


def list_call_units(store: KeyValueStore) -> Iterator[Unit]:
    """One :class:`Unit` per cached call (size: its result; last use: its newest hit)."""
    for entry in iter_calls(store):
        yield Unit(
            kind="call",
            name=entry.call or entry.name,
            prefix=entry.prefix,
            marker=f"{entry.prefix}{RESULT}",
            size=entry.size,
            last_used=entry.last_used,
        )


def call_debris(store: KeyValueStore, older_than: float) -> list[str]:
    """Keys of calls that have no result (use records or claims left behind)."""
    return orphans(store, PREFIX, 3, RESULT, older_than)


register_units("call", list_call_units, debris=call_debris)

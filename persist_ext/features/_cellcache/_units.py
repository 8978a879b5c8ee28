"""Cached cell runs as budget units, and the record of their last use.

A unit is one stored run of a cell: every key under ``cell/<name>/<key>/`` (manifest,
outputs, variables, hit counter, use record), present as long as its manifest is. Its last
use is the time of its newest hit, kept as JSON at ``cell/<name>/<key>/used`` (the use
record of ``features/_usage.py``, noted on every hit), else the time it was stored.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...storage._protocol import KeyValueStore
from .._budget import Unit, orphans, register_units
from .._usage import read_use, touch
from ._entry import PREFIX

__all__ = ["USED", "list_cell_units", "record_use"]

USED = "used"


def record_use(store: KeyValueStore, entry_prefix: str, *, when: float | None = None) -> None:
    """Note that the run at ``entry_prefix`` was restored (at ``when``; JSON, never a pickle).

    A hit goes through :func:`~persist_ext.features._usage.note_use` (batched); this writes
    one use at once.
    """
    touch(store, f"{entry_prefix}{USED}", when=when)


def list_cell_units(store: KeyValueStore) -> Iterator[Unit]:
    """One :class:`Unit` per stored cell run (described from entry headers only)."""
    groups: dict[str, list[str]] = {}
    for key in store.keys(PREFIX):
        parts = key.split("/")
        if len(parts) < 4:
            continue
        groups.setdefault("/".join(parts[:3]) + "/", []).append(key)
    for prefix, keys in groups.items():
        marker = f"{prefix}manifest"
        if marker not in keys:
            continue  # values of a run still being stored, or debris: not a unit
        manifest = store.info(marker)
        if manifest is None:
            continue
        size = 0
        for key in keys:
            info = manifest if key == marker else store.info(key)
            size += info.size if info is not None else 0
        last_used, _ = read_use(store, f"{prefix}{USED}")
        created = float(manifest.meta.get("created", manifest.created))
        yield Unit(
            kind="cell",
            name=str(manifest.meta.get("name", prefix.split("/")[1])),
            prefix=prefix,
            marker=marker,
            size=size,
            last_used=max(created, last_used or 0.0),
        )


def cell_debris(store: KeyValueStore, older_than: float) -> list[str]:
    """Keys of cell runs that have no manifest (a killed store, a counter after an eviction)."""
    return orphans(store, PREFIX, 3, "manifest", older_than)


register_units("cell", list_cell_units, debris=cell_debris)

"""Read-only views of the cell entries in a store, and clearing them (``list/show/info/clear``)."""

from __future__ import annotations

from typing import Any

from ...storage._protocol import KeyValueStore
from .._checkpoint._links import is_pinned
from ._entry import FILES_KEY, Manifest, StoredCell, cell_prefix, delete_entry, iter_manifests
from ._views import EntryDetails, StoreSummary

__all__ = ["clear_entries", "entry_details", "latest_manifest", "store_summary", "stored_entries"]


def latest_manifest(
    store: KeyValueStore, name: str, seen: list[str] | None = None
) -> Manifest | None:
    """The newest readable manifest of cell ``name`` (``None`` when there is none).

    ``seen`` gets the key of every manifest of the cell found, readable or not.
    """
    best: tuple[float, str] | None = None
    try:
        for store_key, info in iter_manifests(store, name):
            if seen is not None:
                seen.append(store_key)
            created = float(info.meta.get("created", info.created))
            if best is None or created > best[0]:
                best = (created, store_key)
        if best is None:
            return None
        return Manifest.from_dict(store.get(best[1]))
    except Exception:  # an unreadable entry is reported when the cell runs
        return None


def _hits(store: KeyValueStore, entry_prefix: str) -> int:
    try:
        return int(store.get(f"{entry_prefix}hits", 0))
    except Exception:
        return 0


def stored_entries(store: KeyValueStore) -> list[StoredCell]:
    """Every stored cell run, newest first, described from manifest metadata only."""
    found = []
    for store_key, info in iter_manifests(store):
        meta = info.meta
        found.append(
            StoredCell(
                store_key=store_key,
                name=str(meta.get("name", store_key.split("/")[1])),
                created=float(meta.get("created", info.created)),
                duration=float(meta.get("duration", 0.0)),
                size=int(meta.get("size", 0)),
                variables=list(meta.get("variables", [])),
                hits=_hits(store, store_key[: -len("manifest")]),
                expires=info.expires,
                run_reason=str(meta.get("run_reason", "")) if meta.get("mode") == "run" else "",
                digests=dict(meta.get("digests", {})),
            )
        )
    found.sort(key=lambda e: e.created, reverse=True)
    return found


def entry_details(store: KeyValueStore, name: str) -> EntryDetails:
    """The newest entry of ``name`` in detail; ``KeyError`` when there is none."""
    manifest = latest_manifest(store, name)
    if manifest is None:
        raise KeyError(name)
    info = store.info(f"{manifest.entry_prefix}manifest")
    return EntryDetails(
        manifest,
        hits=_hits(store, manifest.entry_prefix),
        expires=info.expires if info else None,
    )


def clear_entries(store: KeyValueStore, name: str | None = None) -> int:
    """Remove one cell's entries (every cell's with ``None``); return how many runs.

    Manifests go first, so a concurrent reader sees a miss rather than a half-deleted entry;
    values no manifest points to (left by a crash mid-store) go as well.
    """
    prefixes = {k[: -len("manifest")] for k, _ in iter_manifests(store, name)}
    removed = sum(delete_entry(store, p) for p in sorted(prefixes))
    for key in list(store.keys(cell_prefix(name) if name else "cell/")):
        if not is_pinned(store, key):  # values a checkpoint links to stay
            store.delete(key)
    if name is None:
        store.delete(FILES_KEY)
    return removed


def store_summary(store: KeyValueStore, directory: str, exists: bool) -> StoreSummary:
    """Path, number of cached cells, bytes of variables and (for a Store) bytes on disk."""
    if not exists:
        return StoreSummary(directory=directory, exists=False)
    entries = stored_entries(store)
    volume = None
    measure = getattr(store, "volume", None)
    if callable(measure):
        try:
            volume = int(measure())
        except Exception:
            volume = None
    debris: list[Any] = []
    find_debris = getattr(store, "debris", None)  # stores with files: crash debris
    if callable(find_debris):
        try:
            debris = list(find_debris())
        except Exception:
            debris = []
    return StoreSummary(
        directory=directory,
        exists=True,
        entries=len({e.name for e in entries}),
        runs=len(entries),
        size=sum(e.size for e in entries),
        volume=volume,
        debris_files=len(debris),
        debris_bytes=sum(_size_of(path) for path in debris),
    )


def _size_of(path: Any) -> int:
    try:
        return int(path.stat().st_size)
    except OSError:
        return 0

"""Checkpoint history: listing it, keeping it within a budget, and what the budget protects.

A :class:`Budget` bounds the history by count, total bytes and age. :func:`prune` removes
the oldest states beyond it — never a state a checkpoint name points to, never the one the
live namespace is at — and then the objects no remaining state references; what it removed
is returned so the caller reports it (history is never pruned silently).

:func:`protected_keys` lists every key the history keeps: a store-wide eviction policy must
leave them alone (everything under ``checkpoint/`` that :func:`prune` has not removed, and
the ``%%persist`` values checkpoint objects link to, see ``_links``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from ... import _limits as limits
from ..._errors import CheckpointError
from ..._format import format_size
from ...storage._protocol import KeyValueStore
from ._layout import OBJ, PREFIX, REF, SEQ, STATE, iter_states, list_refs, object_key
from ._links import LINK_KIND, PIN, pinned_keys, release
from ._report import HistoryRow, HistoryTable

__all__ = ["Budget", "history_table", "parse_size", "protected_keys", "prune"]

# Objects younger than this are never swept: another process may be between writing its
# objects and writing the state that references them.
_GRACE = 600.0


def parse_size(text: str | int) -> int:
    """Bytes of history budget: any size :func:`persist_ext._limits.parse_size` reads
    (``"20GB"``, ``"512MiB"``, ``1000``); ``""`` or ``0`` means no limit (0).

    >>> parse_size("1.5GB"), parse_size("512MiB"), parse_size("")
    (1500000000, 536870912, 0)
    """
    if text == "" or text == 0 or (isinstance(text, str) and not text.strip()):
        return 0
    return limits.parse_size(text)


@dataclass(frozen=True)
class Budget:
    """How much history to keep: at most ``count`` states, ``bytes`` of objects, ``age`` s.

    ``0`` / ``None`` means no limit on that axis.

    Examples
    --------
    >>> Budget(count=50, age=7 * 86400)
    Budget(count=50, bytes=0, age=604800)
    >>> Budget(count=-1)
    Traceback (most recent call last):
    persist_ext._errors.CheckpointError: History budget count=-1 must be >= 0 (0: no limit).
    """

    count: int = 200
    bytes: int = 0
    age: float | None = None

    def __post_init__(self) -> None:
        for axis in ("count", "bytes"):
            if getattr(self, axis) < 0:
                raise CheckpointError(
                    f"History budget {axis}={getattr(self, axis)} must be >= 0 (0: no limit)."
                )
        if self.age is not None and self.age <= 0:
            raise CheckpointError(f"History budget age={self.age} must be > 0 seconds or None.")

    def __repr__(self) -> str:
        age = None if self.age is None else int(self.age)
        return f"Budget(count={self.count}, bytes={self.bytes}, age={age})"

    def describe(self) -> str:
        parts = [f"at most {self.count} checkpoints" if self.count else "any number"]
        if self.bytes:
            parts.append(f"{format_size(self.bytes)}")
        if self.age:
            parts.append(f"{self.age / 86400:g} days")
        return ", ".join(parts)


def _state_objects(store: KeyValueStore, key: str) -> dict[str, int]:
    data = store.get(key, None)
    if not isinstance(data, dict):
        return {}
    return {d: int(g.get("size", 0)) for d, g in data.get("groups", {}).items()}


def prune(
    store: KeyValueStore, budget: Budget, protect: Iterable[int] = ()
) -> tuple[list[int], str]:
    """Remove the oldest states beyond ``budget`` and the objects only they referenced.

    States a name points to and the ids in ``protect`` are never removed. Returns the
    removed ids and which limit removed them (empty when nothing was removed).
    """
    # The common case after every cell: one key listing, no state read.
    if not (budget.bytes or budget.age) and (
        not budget.count or sum(1 for _ in store.keys(STATE)) <= budget.count
    ):
        return [], ""
    states = list(iter_states(store))
    keep = set(protect) | set(list_refs(store).values())
    now = time.time()
    removable = [sid for sid, _ in states if sid not in keep]  # oldest first
    doomed: list[int] = []
    reasons: list[str] = []
    if budget.age:
        old = [
            sid for sid, meta in states if sid in removable and now - meta["created"] > budget.age
        ]
        if old:
            doomed += old
            reasons.append(f"older than {budget.age / 86400:g} days")
    if budget.count and len(states) - len(doomed) > budget.count:
        over = len(states) - len(doomed) - budget.count
        extra = [sid for sid in removable if sid not in doomed][:over]
        if extra:
            doomed += extra
            reasons.append(f"more than {budget.count} checkpoints")
    objects = {sid: _state_objects(store, f"{STATE}{sid:08d}") for sid, _ in states}

    def total(excluded: set[int]) -> int:
        sizes: dict[str, int] = {}
        for sid, _ in states:
            if sid not in excluded:
                sizes.update(objects[sid])
        return sum(sizes.values())

    if budget.bytes:
        gone = set(doomed)
        if total(gone) > budget.bytes:
            for sid in removable:
                if sid in gone:
                    continue
                gone.add(sid)
                doomed.append(sid)
                if total(gone) <= budget.bytes:
                    break
            reasons.append(f"more than {format_size(budget.bytes)}")
            left = total(gone)
            if left > budget.bytes:
                reasons.append(
                    f"still {format_size(left)}: named and current checkpoints are never pruned"
                )
    if not doomed:
        return [], ""
    for sid in doomed:
        store.delete(f"{STATE}{sid:08d}")
    # Objects only the removed states used go now (they belonged to complete states, so no
    # writer is between writing them and its state); other debris after a grace period.
    kept: set[str] = set()
    for sid, _ in states:
        if sid not in doomed:
            kept.update(objects[sid])
    for sid in doomed:
        for digest in objects[sid]:
            if digest not in kept:
                drop_object(store, digest)
    sweep(store)
    return sorted(doomed), " and ".join(reasons)


def sweep(store: KeyValueStore) -> int:
    """Delete objects no state references (older than a grace period); return how many."""
    referenced: set[str] = set()
    for key in list(store.keys(STATE)):
        referenced.update(object_key(d) for d in _state_objects(store, key))
    removed = 0
    now = time.time()
    for key in list(store.keys(OBJ)):
        if key in referenced:
            continue
        info = store.info(key)
        if info is not None and now - info.created > _GRACE:
            removed += int(drop_object(store, key[len(OBJ) :]))
    return removed


def drop_object(store: KeyValueStore, digest: str) -> bool:
    """Delete one object; a link to a %%persist value also releases that value (``_links``)."""
    key = object_key(digest)
    info = store.info(key)
    if info is None:
        return False
    with store.transact():
        deleted = store.delete(key)
        target = info.meta.get("cell") if info.meta.get("kind") == LINK_KIND else None
        if deleted and isinstance(target, str):
            release(store, digest, target)
    return bool(deleted)


def protected_keys(store: KeyValueStore) -> set[str]:
    """Every store key the checkpoint history keeps (evicting one would break an undo).

    The names, the id counter, every state within the history budget and every object
    those states reference. A store-wide budget or eviction must skip these keys; the
    history's own budget (``%config PersistMagics.history_*``) is what shrinks them.

    Examples
    --------
    >>> from persist_ext.storage._memory import MemoryStore
    >>> from persist_ext.features._checkpoint import save_checkpoint
    >>> store = MemoryStore()
    >>> _ = save_checkpoint({"x": [1, 2]}, store)
    >>> sorted(k.split("/")[1] for k in protected_keys(store))
    ['obj', 'ref', 'seq', 'state']
    """
    keys = {k for k in store.keys(REF)}
    if SEQ in store:
        keys.add(SEQ)
    for key in list(store.keys(STATE)):
        keys.add(key)
        keys.update(object_key(d) for d in _state_objects(store, key))
    keys.update(store.keys(PIN))
    # %%persist values a checkpoint links to (they live under cell/, pinned there).
    return {k for k in keys if k.startswith(PREFIX)} | pinned_keys(store)


def history_table(
    store: KeyValueStore, current: int | None = None, budget: Budget | None = None
) -> HistoryTable:
    """Every state, oldest first, described from the summaries kept beside them."""
    names: dict[int, list[str]] = {}
    for name, sid in list_refs(store).items():
        names.setdefault(sid, []).append(name)
    rows = [
        HistoryRow(
            id=sid,
            created=float(meta["created"]),
            ref=str(meta.get("ref", "")),
            names=tuple(sorted(names.get(sid, []))),
            parent=meta.get("parent"),
            cell=str(meta.get("cell", "")),
            variables=int(meta.get("variables", 0)),
            added=int(meta.get("added", 0)),
            current=sid == current,
        )
        for sid, meta in iter_states(store)
    ]
    return HistoryTable(rows, budget.describe() if budget else "")

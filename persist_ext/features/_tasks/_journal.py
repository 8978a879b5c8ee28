"""The journal: a task group's instance records, written in batches ("pages").

Writing one store entry per task per state change costs ~100 us on the diskcache ``Store``
(serializer, header, one SQLite statement each), which alone would exceed the bookkeeping
budget. Instead every change of instance records goes into a *page*:
``group_keys(g).page(seq)`` holds ``{"r": {instance: record}, "v": {instance: small
result}, "k": [instances whose result has its own key]}``, written with one ``set`` per
batch. ``seq`` comes from the store's atomic ``incr`` inside the writer's transaction, so
pages commit in ``seq`` order and reading them in key order replays history; a later page's
record for an instance replaces an earlier one.

Small results (None, bool, int, float, complex, and str/bytes up to 4 KiB) ride in the page;
anything else is stored under ``group_keys(g).result(instance)`` with the store's own
serializers (numpy arrays, frames, ...), in the same transaction.

Pages pile up over runs; :meth:`Journal.compact` (called when a run is prepared) folds them
into one. A reader that finds a page gone (compacted meanwhile) reads everything again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...storage._protocol import KeyValueStore
from ._keys import group_keys

__all__ = ["Journal", "inline_value", "page_outline", "page_prefix"]

_INLINE = (type(None), bool, int, float, complex)
_INLINE_TEXT = (str, bytes)
_INLINE_LIMIT = 4096
_COMPACT_AFTER = 64
_TIMES = (int, float)


def page_prefix(group: str) -> str:
    """Store key prefix of a group's pages."""
    return group_keys(group).log_prefix


def _last_line(text: Any, limit: int = 200) -> str:
    if not text or not isinstance(text, str):
        return ""
    for line in reversed(text.splitlines()):
        if line.strip():
            return line.strip()[:limit]
    return ""


def page_outline(records: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """JSON-only outline of instance records: what a reader that never unpickles may show.

    Per instance: ``task``, ``status``, and when they are set ``tries``, ``started``,
    ``ended``, the last line of its output (``output``) and of its error (``error``), at
    most 200 characters each. A field at its default (``tries`` 0, a time None, an empty
    line) is left out: readers (the Jupyter server) take it with ``.get()`` and that
    default. The outline goes into the JSON header of every page, and encoding it was the
    largest cost of writing a page (10,000 records' outlines per run, twice: scheduled,
    then finished).
    """
    outline = {}
    for name, record in records.items():
        get = record.get
        entry: dict[str, Any] = {"task": str(get("task", "")), "status": str(get("status", ""))}
        tries = get("tries")
        if tries:
            entry["tries"] = int(tries)
        started, ended = get("started"), get("ended")
        if started is not None and type(started) in _TIMES:
            entry["started"] = started
        if ended is not None and type(ended) in _TIMES:
            entry["ended"] = ended
        out, error = get("stdout"), get("error")
        if out:
            line = _last_line(out)
            if line:
                entry["output"] = line
        if error:
            line = _last_line(error)
            if line:
                entry["error"] = line
        outline[name] = entry
    return outline


def inline_value(value: Any) -> bool:
    """True when ``value`` is small and plain enough to ride inside a journal page."""
    kind = type(value)
    if kind in _INLINE:
        return True
    return kind in _INLINE_TEXT and len(value) <= _INLINE_LIMIT


class Journal:
    """The pages of one group, and the state they add up to (records and small results).

    ``records`` maps instance names to plain record dicts (the newest one), ``values`` the
    instances' inline results, ``external`` the instances whose result has its own key;
    ``seq`` is the last page applied. :meth:`refresh` reads only pages written since.
    """

    def __init__(self, store: KeyValueStore, group: str) -> None:
        self.store = store
        self.group = group
        self.keys = group_keys(group)
        self.prefix = self.keys.log_prefix
        self.records: dict[str, dict[str, Any]] = {}
        self.values: dict[str, Any] = {}
        self.external: set[str] = set()
        self.seq = 0
        self.pages = 0

    # -- writing (inside the caller's store.transact()) ---------------------------------------

    def write(
        self,
        records: dict[str, dict[str, Any]],
        values: dict[str, Any] | None = None,
        external: Iterable[str] = (),
    ) -> int:
        """Append one page; call inside ``store.transact()``. Returns its sequence number."""
        seq = self.store.incr(self.keys.log_seq)
        page = {"r": records, "v": dict(values or {}), "k": list(external)}
        # The JSON header repeats each record's outline, so the Jupyter server (the Persist
        # panel) reads a group's progress without decoding the page.
        self.store.set(self.keys.page(seq), page, meta={"r": page_outline(records)})
        return seq

    def compact(self) -> bool:
        """Fold every page into one (call inside ``store.transact()`` after :meth:`load`)."""
        keys = list(self.store.keys(self.prefix))
        if len(keys) <= _COMPACT_AFTER:
            return False
        self.write(self.records, self.values, ())
        for key in keys:
            self.store.delete(key)
        self.pages = 1
        return True

    # -- reading ----------------------------------------------------------------------------

    def load(self) -> set[str]:
        """Read every page again; returns the instance names read."""
        self.records, self.values, self.external = {}, {}, set()
        self.seq = self.pages = 0
        return self.refresh()

    def refresh(self) -> set[str]:
        """Apply pages written since the last read; returns the instance names they touched."""
        for _ in range(5):
            keys = [
                k for k in self.store.keys(self.prefix) if int(k[len(self.prefix) :]) > self.seq
            ]
            changed: set[str] = set()
            for key in keys:
                page = self.store.get(key, None)
                if page is None:  # compacted away since the listing: start over
                    break
                self.apply_page(self.keys.page_seq(key), page, changed)
            else:
                return changed
            self.records, self.values, self.external = {}, {}, set()
            self.seq = self.pages = 0
        return set(self.records)

    def apply_page(self, seq: int, page: dict[str, Any], changed: set[str] | None) -> None:
        """Apply page ``seq`` (read from the store or just written by this process); the
        instance names it touches are added to ``changed`` (None: the caller knows them)."""
        self.records.update(page["r"])
        if changed is not None:
            changed.update(page["r"])
        for name in page["k"]:
            self.values.pop(name, None)
            self.external.add(name)
        for name, value in page["v"].items():
            self.values[name] = value
            self.external.discard(name)
        self.seq = seq
        self.pages += 1

    def result(self, name: str, default: Any) -> Any:
        """The stored result of instance ``name`` (inline or under its own key)."""
        if name in self.values:
            return self.values[name]
        return self.store.get(self.keys.result(name), default)

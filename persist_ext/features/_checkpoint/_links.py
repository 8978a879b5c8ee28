"""Checkpoint objects shared with the cell cache: a value ``%%persist`` stored is not written twice.

When a ``%%persist`` cell stores its variables (or restores them on a hit), the cell
cache's entry already holds their bytes. The magic *offers* that entry to the checkpoint
session (:class:`Offer`: the variables of one entry, the ids of their values, the entry's
key). The next checkpoint packs those variables as usual (the digest is computed anyway);
when a packed group has exactly the offered variables and they are still the very objects
the entry was made from, with no cell run in between, the group's content *is* the entry's
content, so the checkpoint records a **link** instead of the payload::

    checkpoint/obj/<digest>      {"cell": "<cell entry key>"}   (JSON, meta kind
                                 "checkpoint-link"): the group's content lives there
    checkpoint/pin/<entry key>   {"objects": [<digest>, ...]}   the link objects using it

Content addressing still holds: a later checkpoint (any process) that packs the same
content finds ``checkpoint/obj/<digest>`` and writes nothing.

**The reference keeps the entry alive** (the safe choice: nothing is ever re-stored at
delete time, and nothing a checkpoint needs can disappear): a pinned key is never deleted by
``%persist clear``, by the cell cache replacing or pruning its runs, by a store budget's
eviction (``protected_keys`` lists it) or by ``%persist gc``. The cell's *entry* goes (its
manifest is deleted, so the cell runs again); only the value the history needs stays, and
it is counted in the checkpoint unit of ``%persist info``. When the history's own budget
prunes the last state using a link, :func:`release` drops the pin and deletes the value if
no cell entry uses it any more. Entries stored with an expiry (``--expire``) are never
linked: the store would drop them on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...storage._protocol import KeyValueStore
from ._layout import PREFIX, object_key

__all__ = [
    "LINK_KIND",
    "PIN",
    "Offer",
    "is_pinned",
    "link_target",
    "load_linked",
    "offers_from_entry",
    "orphan_size",
    "pinned_keys",
    "release",
    "usable",
    "write_link",
]

PIN = f"{PREFIX}pin/"
LINK_KIND = "checkpoint-link"
_CELL_PREFIX = "cell/"
_RESULT = "<result>"  # the cell cache's name for a cell's last expression (not a variable)


@dataclass(frozen=True)
class Offer:
    """Variables a cell entry holds, as the namespace had them when it was stored/restored."""

    names: tuple[str, ...]
    key: str
    idents: tuple[int, ...]


def offers_from_entry(
    variables: Mapping[str, str], namespace: Mapping[str, Any]
) -> dict[tuple[str, ...], Offer]:
    """One :class:`Offer` per entry of a ``%%persist`` run (``variables``: name -> entry key).

    Variables sharing an entry are one group; the cell's result and names no longer in the
    namespace are left out (an entry missing a variable is then not offered at all).
    """
    by_key: dict[str, list[str]] = {}
    for name, key in variables.items():
        if isinstance(key, str) and key.startswith(_CELL_PREFIX):
            by_key.setdefault(key, []).append(name)
    offers: dict[tuple[str, ...], Offer] = {}
    for key, names in by_key.items():
        if _RESULT in names or any(n not in namespace for n in names):
            continue
        group = tuple(sorted(names))
        offers[group] = Offer(group, key, tuple(id(namespace[n]) for n in group))
    return offers


def usable(store: KeyValueStore, key: str) -> bool:
    """Whether a cell entry value can be linked: present, and not set to expire."""
    try:
        info = store.info(key)
    except Exception:
        return False
    return info is not None and info.expires is None


def _pin_key(key: str) -> str:
    return f"{PIN}{key}"


def is_pinned(store: KeyValueStore, key: str) -> bool:
    """Whether a checkpoint links to the cell-cache value at ``key`` (so it must stay)."""
    if not key.startswith(_CELL_PREFIX):
        return False
    try:
        return _pin_key(key) in store
    except Exception:
        return True  # cannot tell: keeping a value is always safe


def pinned_keys(store: KeyValueStore) -> set[str]:
    """Every cell-cache key some checkpoint object links to."""
    return {k[len(PIN) :] for k in store.keys(PIN)}


def write_link(store: KeyValueStore, digest: str, key: str, names: tuple[str, ...]) -> int:
    """Record that object ``digest`` is the cell value at ``key``; return the bytes written.

    Call inside the save's transaction, after :func:`usable` said yes: the pin is written
    before the link object, so a value a link names is always pinned.
    """
    pin = _pin_key(key)
    current = store.get(pin, None)
    objects = list(current.get("objects", [])) if isinstance(current, dict) else []
    if digest not in objects:
        objects.append(digest)
    pin_info = store.set(pin, {"objects": objects}, serializer="json")
    info = store.set(
        object_key(digest),
        {"cell": key, "names": list(names)},
        meta={"kind": LINK_KIND, "cell": key, "variables": list(names)},
        serializer="json",
    )
    return int(info.size) + int(pin_info.size)


def link_target(stored: Any) -> str | None:
    """The cell key a stored checkpoint object links to (``None``: it holds its payload)."""
    if isinstance(stored, dict) and isinstance(stored.get("cell"), str):
        return str(stored["cell"])
    return None


def load_linked(store: KeyValueStore, key: str, names: tuple[str, ...]) -> dict[str, Any]:
    """The variables of a linked group, read from the cell cache's entry.

    Raises
    ------
    KeyError
        The value is gone (removed by something that ignored the pin).
    """
    from .._covars import load_groups

    if key not in store:
        raise KeyError(f"the %%persist value it shares ({key}) was removed from the store")
    return load_groups(store, {n: key for n in names})


def _entry_uses(store: KeyValueStore, key: str) -> bool:
    """Whether the cell entry ``key`` belongs to still exists and names it."""
    parts = key.split("/")
    if len(parts) < 5:
        return False
    manifest = store.get("/".join(parts[:3]) + "/manifest", None)
    variables = manifest.get("variables", {}) if isinstance(manifest, dict) else {}
    return isinstance(variables, dict) and key in variables.values()


def release(store: KeyValueStore, digest: str, key: str) -> None:
    """Link object ``digest`` is gone: unpin ``key`` (and delete it if nothing uses it)."""
    pin = _pin_key(key)
    current = store.get(pin, None)
    objects = [d for d in (current or {}).get("objects", []) if d != digest]
    if objects:
        store.set(pin, {"objects": objects}, serializer="json")
        return
    store.delete(pin)
    if not _entry_uses(store, key):
        store.delete(key)


def orphan_size(store: KeyValueStore) -> int:
    """Bytes of pinned values whose cell entry is gone (kept only for the history)."""
    size = 0
    for key in pinned_keys(store):
        if not _entry_uses(store, key):
            info = store.info(key)
            size += info.size if info is not None else 0
    return size

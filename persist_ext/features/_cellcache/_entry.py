"""How a cached cell lives in a store: per-variable entries, outputs, and a manifest written last.

Layout (keys of any :class:`~persist_ext.storage._protocol.KeyValueStore`)::

    cell/<name>/<key>/manifest            what the run produced; its presence means "complete"
    cell/<name>/<key>/hits                how many times the entry was restored
    cell/<name>/<key>/<run>/outputs       the recorded outputs, in order
    cell/<name>/<key>/<run>/g<i>          one entry per group of variables sharing objects
                                          (``features._covars``; a lone array is mmap-able)
    cellcache/files                       size, mtime and digest of ``--deps`` files

``<name>`` is the cell's name made file-safe, ``<key>`` the 32-hex cell key and ``<run>`` a
random id of the run that wrote the values. Values are written first and the manifest last,
so a crash mid-store leaves values no manifest points to (removed by the next store of that
cell) and never an entry that claims to be complete. Because each run writes under its own
``<run>`` id, two kernels storing the same cell at once cannot mix their values: the
manifest is added atomically, the first one wins and the loser deletes its own values.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ...storage._names import safe_name
from ...storage._protocol import EntryInfo, KeyValueStore
from .._checkpoint._links import is_pinned
from .._covars import Group, save_groups
from ._capture import shown_count

__all__ = [
    "FILES_KEY",
    "MANIFEST_FORMAT",
    "PREFIX",
    "RESULT",
    "Manifest",
    "StoredCell",
    "cell_prefix",
    "delete_entry",
    "iter_manifests",
    "new_run_id",
    "write_entry",
    "write_manifest",
]

PREFIX = "cell/"
FILES_KEY = "cellcache/files"
MANIFEST_FORMAT = 2
RESULT = "<result>"  # the value of the cell's last expression, stored with the variables
# Outputs whose record is at most this big are also kept inside the manifest, like small
# groups (``SavedGroups.small``): a hit then reads one record (the manifest, authenticated
# like every record) instead of one per group plus the outputs, reads that cost more than
# a small cell's whole restore.
INLINE_BYTES = 4096


@functools.lru_cache(maxsize=1024)
def cell_prefix(name: str) -> str:
    """``cell/<safe name>/``: the prefix of every entry of one cell (remembered: a hit
    needs it twice)."""
    return f"{PREFIX}{safe_name(name)}/"


def new_run_id() -> str:
    """A random id for one run's values (16 hex digits, as ``uuid4().hex[:16]`` gave, without
    building a UUID: every run of a cell that runs makes one)."""
    return os.urandom(8).hex()


@dataclass
class Manifest:
    """The description of one stored run of a cell (stored as a plain dict).

    ``variables`` maps each stored name to its value's store key; ``mutated`` lists the
    names among them that were inputs changed in place; ``deleted`` the names the cell
    deleted; ``sizes`` the payload bytes per variable; ``options`` the key-affecting
    arguments (``deps``, ``env``, ``ignore``) so ``%persist why`` can rebuild the key.

    ``checks`` are compared before a hit, beside the key: ``state:FACET`` (global state the
    cell read), ``read:PATH`` (files it read), ``listed:PATH`` (folders it listed: the
    names in them), ``wrote:PATH`` (files it wrote, which must still hold what it wrote).
    ``state`` holds global state to re-apply, ``dirs`` the folders it created, ``modules``
    the modules it imported. ``mode`` is ``"run"`` for a
    cell that is run rather than restored (``run_reason`` says why).
    """

    name: str
    key: str
    run: str
    code: str
    components: dict[str, str]
    reaches: dict[str, list[str]] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    mutated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    outputs_key: str = ""
    n_outputs: int = 0
    created: float = field(default_factory=time.time)
    duration: float = 0.0
    reason: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, str] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    dirs: list[str] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)
    groups: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    mode: str = "restore"
    run_reason: str = ""
    format: int = MANIFEST_FORMAT
    #: Where the cell lives, when known: the notebook's path (relative to the Jupyter
    #: server's root, from ``JPY_SESSION_NAME``) and the notebook cell id.
    notebook: str = ""
    cell_id: str = ""
    #: Copies of small groups (store key -> their pickle, ``SavedGroups.small``) and of
    #: small outputs, read with the manifest; their entries are written all the same.
    inline: dict[str, bytes] = field(default_factory=dict)
    inline_outputs: list[dict[str, Any]] | None = None

    @property
    def size(self) -> int:
        """Total payload bytes of the stored variables (each shared entry counted once)."""
        return sum(self.sizes.values())

    @property
    def entry_prefix(self) -> str:
        return f"{cell_prefix(self.name)}{self.key}/"

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: Any) -> Manifest:
        """Rebuild from a stored dict; ``ValueError`` when it is not a manifest."""
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            raise ValueError("not a cell manifest of a known format")
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**fields)

    def stored_with(self) -> dict[str, list[str]]:
        """Each variable whose bytes are counted on another of its entry -> its partners."""
        return {
            var: sorted(partners)
            for var, partners in self.groups.items()
            if partners and not self.sizes.get(var)
        }

    def meta(self) -> dict[str, Any]:
        """The small JSON kept beside the manifest (listed without decoding it)."""
        return {
            "kind": "cell",
            "name": self.name,
            # The run's folder: its group entries (``<entry prefix><run>/g<i>``) carry
            # each variable's summary, which the panel shows beside this meta.
            "run": self.run,
            "created": self.created,
            "duration": self.duration,
            "size": self.size,
            "variables": sorted(v for v in self.variables if v != RESULT),
            "code": self.components.get("code", ""),
            # For the Persist panel, which reads this JSON and never the manifest itself.
            "notebook": self.notebook,
            "cell_id": self.cell_id,
            "types": dict(self.types),
            "sizes": dict(self.sizes),
            # Variables stored in one entry with others, whose bytes are counted on the
            # first of them: their own size is 0, which alone would read as "empty".
            "stored_with": self.stored_with(),
            "n_outputs": self.n_outputs,
            "inputs": sorted(k for k in self.components if k != "code"),
            # Short digests of the key's parts: what tells two stored runs of a cell apart.
            "digests": {k: str(v)[:8] for k, v in self.components.items()},
            "source": self.code[:2000],  # the cell's text, shown (never run) by the panel
            "mode": self.mode,
            "run_reason": self.run_reason,
        }


@dataclass
class StoredCell:
    """One line of ``%persist list``: a manifest's key and meta, plus its hit count."""

    store_key: str
    name: str
    created: float
    duration: float
    size: int
    variables: list[str]
    hits: int
    expires: float | None = None
    run_reason: str = ""
    digests: dict[str, str] = field(default_factory=dict)


def iter_manifests(
    store: KeyValueStore, name: str | None = None
) -> Iterator[tuple[str, EntryInfo]]:
    """``(manifest key, info)`` of every stored cell run (or of one cell), without decoding."""
    prefix = cell_prefix(name) if name else PREFIX
    for key in store.keys(prefix):
        if key.endswith("/manifest"):
            info = store.info(key)
            if info is not None:
                yield key, info


def write_entry(
    store: KeyValueStore,
    manifest: Manifest,
    values: dict[str, Any],
    outputs: list[dict[str, Any]],
    *,
    groups: list[Group] | None = None,
    expire: float | None = None,
    replace: bool = False,
) -> tuple[bool, dict[str, Exception]]:
    """Store each group of values, then the outputs, then the manifest (last).

    ``groups`` (from :func:`~persist_ext.features._covars.group_variables`) says which
    values share objects and go in one entry; by default each value is its own group.
    Returns ``(stored, failures)``. When any value cannot be stored, the values already
    written are removed and nothing claims to be cached: ``failures`` maps each variable to
    its error. With ``replace=False`` the manifest is only added if no other process stored
    the same entry meanwhile (``stored`` is then ``False`` and our values are removed).
    """
    base = f"{manifest.entry_prefix}{manifest.run}/"
    if groups is None:
        groups = [Group((name,)) for name in values]
    saved = save_groups(store, base, values, groups, expire=expire)
    written = list(saved.written)
    failures: dict[str, Exception] = dict(saved.failures)
    manifest.variables.update(saved.keys)
    manifest.types.update(saved.types)
    counted: set[str] = set()
    for var, key in sorted(saved.keys.items()):
        partners = saved.partners(var)
        if partners:
            manifest.groups[var] = partners
        # An entry shared by several variables is counted once, on the first of them.
        manifest.sizes[var] = 0 if key in counted else saved.sizes[key]
        counted.add(key)
    if not failures:
        manifest.outputs_key = f"{base}outputs"
        manifest.n_outputs = shown_count(outputs)
        try:
            info = store.set(manifest.outputs_key, outputs, expire=expire)
            written.append(manifest.outputs_key)
            if int(info.size) <= INLINE_BYTES:
                manifest.inline_outputs = outputs
        except Exception as exc:  # an output that cannot be pickled (should not happen)
            failures["<outputs>"] = exc
    if failures:
        _delete_keys(store, written)
        return False, failures
    manifest.inline = dict(saved.small)
    return write_manifest(store, manifest, expire=expire, replace=replace, written=written), {}


def write_manifest(
    store: KeyValueStore,
    manifest: Manifest,
    *,
    expire: float | None = None,
    replace: bool = False,
    written: Iterable[str] = (),
) -> bool:
    """Write ``manifest`` last; without ``replace``, only if no other process did first."""
    manifest_key = f"{manifest.entry_prefix}manifest"
    if replace:
        old = store.get(manifest_key, None) if manifest_key in store else None
        store.set(manifest_key, manifest.to_dict(), expire=expire, meta=manifest.meta())
        if isinstance(old, dict) and old.get("run") and old.get("run") != manifest.run:
            _delete_run(store, manifest.entry_prefix, old["run"])
        return True
    added = store.add(manifest_key, manifest.to_dict(), expire=expire, meta=manifest.meta())
    if not added:
        _delete_keys(store, written)
    return bool(added)


def _delete_keys(store: KeyValueStore, keys: Iterable[str]) -> None:
    for key in keys:
        if is_pinned(store, key):
            continue  # a checkpoint links to this value (features._checkpoint._links)
        try:
            store.delete(key)
        except Exception:  # best effort: orphans are harmless and removed later
            pass


def _delete_run(store: KeyValueStore, entry_prefix: str, run: str) -> None:
    _delete_keys(store, list(store.keys(f"{entry_prefix}{run}/")))


def delete_entry(store: KeyValueStore, entry_prefix: str) -> int:
    """Remove one stored run: the manifest first (so it stops being a hit), then the rest."""
    manifest_key = f"{entry_prefix}manifest"
    removed = 1 if store.delete(manifest_key) else 0
    rest = [k for k in store.keys(entry_prefix) if k != manifest_key]
    _delete_keys(store, rest)
    return removed

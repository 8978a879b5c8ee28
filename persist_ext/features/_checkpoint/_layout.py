"""Where checkpoints live in a store: content-addressed objects, states, and names.

Layout (keys of any :class:`~persist_ext.storage._protocol.KeyValueStore`)::

    checkpoint/obj/<digest>     one group of variables (pickle + out-of-band buffers),
                                addressed by its content: written once, shared by every state
    checkpoint/state/<id>       one state of the namespace (JSON): variable -> object digest,
                                modules, unstorable variables, parent state, the cell that
                                led to it, bytes it added
    checkpoint/ref/<name>       checkpoint name -> state id (JSON); ``auto`` is the one the
                                automatic checkpoints move
    checkpoint/seq              the last state id handed out (atomic ``incr``)

A save writes the new objects, then the state, then moves the name (one atomic ``set``): a
crash at any point leaves the name on the previous state, which is complete. States are JSON
and their summary (``meta``) is enough to list them, so describing history never unpickles.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..._errors import CheckpointError, UnknownCheckpointError
from ...storage._protocol import KeyValueStore

__all__ = [
    "AUTO",
    "OBJ",
    "PREFIX",
    "REF",
    "STATE",
    "State",
    "check_name",
    "iter_states",
    "list_refs",
    "object_key",
    "read_ref",
    "read_state",
    "resolve",
    "write_state",
]

PREFIX = "checkpoint/"
OBJ = f"{PREFIX}obj/"
STATE = f"{PREFIX}state/"
REF = f"{PREFIX}ref/"
SEQ = f"{PREFIX}seq"
AUTO = "auto"
FORMAT = 2
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,99}$")


def check_name(name: str) -> str:
    """Validate a checkpoint name (letters, digits, ``_ . -``; not starting with a digit)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise CheckpointError(
            f"Checkpoint name {name!r} is not valid: use letters, digits, '_', '.' or '-', "
            "starting with a letter (ids like 12 are state ids, see %persist history)."
        )
    return name


def object_key(digest: str) -> str:
    """The store key of a content-addressed group."""
    return f"{OBJ}{digest}"


@dataclass
class State:
    """One saved state of a namespace (stored as JSON under ``checkpoint/state/<id>``).

    ``variables`` maps each variable to the digest of the group holding it; ``groups`` each
    digest to its variables and payload bytes; ``modules`` alias → module name; ``skipped``
    unstorable variables → reason; ``recipes`` unstorable variables → the cells that rebuild
    them, ``[[seq, code], ...]`` in their original order (when re-running them is safe,
    see ``_rebuild``); ``added`` the bytes this state wrote.
    """

    id: int
    ref: str
    parent: int | None
    created: float = field(default_factory=time.time)
    cell: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    modules: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    recipes: dict[str, Any] = field(default_factory=dict)
    added: int = 0
    format: int = FORMAT

    @property
    def key(self) -> str:
        return f"{STATE}{self.id:08d}"

    @property
    def size(self) -> int:
        """Payload bytes of every object this state references."""
        return sum(int(g.get("size", 0)) for g in self.groups.values())

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: Any) -> State:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("not a checkpoint state of a known format")
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def meta(self) -> dict[str, Any]:
        """What ``history`` shows, kept beside the state and read without decoding it."""
        return {
            "kind": "checkpoint",
            "id": self.id,
            "ref": self.ref,
            "parent": self.parent,
            "created": self.created,
            "cell": self.cell[:200],
            "variables": len(self.variables),
            "added": self.added,
            "size": self.size,
        }


def new_state_id(store: KeyValueStore) -> int:
    """A fresh state id, unique across every process using the store."""
    return int(store.incr(SEQ))


def write_state(store: KeyValueStore, state: State) -> None:
    """Write the state record (JSON, so reading it never unpickles)."""
    store.set(state.key, state.to_dict(), meta=state.meta(), serializer="json")


def set_ref(store: KeyValueStore, name: str, state_id: int) -> None:
    """Point checkpoint ``name`` at a state: the commit point of a save."""
    store.set(f"{REF}{name}", {"state": state_id}, serializer="json")


def read_ref(store: KeyValueStore, name: str) -> int | None:
    """The state id a checkpoint name points to (``None`` if there is no such name)."""
    data = store.get(f"{REF}{name}", None)
    return int(data["state"]) if isinstance(data, dict) and "state" in data else None


def list_refs(store: KeyValueStore) -> dict[str, int]:
    """Every checkpoint name and its state id."""
    refs = {}
    for key in store.keys(REF):
        state = read_ref(store, key[len(REF) :])
        if state is not None:
            refs[key[len(REF) :]] = state
    return refs


def read_state(store: KeyValueStore, state_id: int) -> State | None:
    """The state with this id, or ``None`` when it does not exist (or was pruned)."""
    data = store.get(f"{STATE}{state_id:08d}", None)
    if data is None:
        return None
    try:
        return State.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(
            f"Checkpoint state {state_id} in the store is not readable ({exc}); "
            "delete it with %persist clear or save a new checkpoint."
        ) from exc


def iter_states(store: KeyValueStore) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(id, meta)`` of every state, oldest first, without decoding any of them."""
    for key in sorted(store.keys(STATE)):
        info = store.info(key)
        if info is not None and info.meta.get("kind") == "checkpoint":
            yield int(info.meta["id"]), info.meta


def resolve(store: KeyValueStore, target: str | int) -> State:
    """The state a name (``"default"``) or an id (``12``, ``"12"``) designates.

    Raises
    ------
    UnknownCheckpointError
        No such name or id; the message lists the names and the range of ids that exist.
    """
    state_id: int | None
    if isinstance(target, int) or (isinstance(target, str) and target.isdigit()):
        state_id = int(target)
    else:
        state_id = read_ref(store, check_name(str(target)))
    state = read_state(store, state_id) if state_id is not None else None
    if state is None:
        refs = list_refs(store)
        ids = [i for i, _ in iter_states(store)]
        names = ", ".join(sorted(refs)) or "none"
        span = f"{ids[0]}..{ids[-1]}" if ids else "none"
        raise UnknownCheckpointError(
            f"No checkpoint named {target!r} in the store. Names: {names}; state ids: {span} "
            "(see %persist history); save one with %persist checkpoint [NAME].",
            names=sorted(refs),
            ids=ids,
        )
    return state

"""How cached calls live in a store (the one module that knows these keys).

Layout (keys of any :class:`~persist_ext.storage._protocol.KeyValueStore`)::

    memo/<function>/<key>/result   the return value; its JSON meta describes the call
    memo/<function>/<key>/used     JSON {"last_used", "hits"}: use record (batched writes)
    memo/<function>/<key>/lock     JSON claim of the process computing it (atomic ``add``,
                                   a lease refreshed while it runs)

``<function>`` is the function's name made file-safe: its qualified name for a function
defined in the notebook (``slow``, ``Model.fit``), ``module.qualname`` otherwise; ``<key>``
is the 32-hex call key (which includes the function's code, so two functions sharing a name
never share a call). The
result is written with one ``set``: it is there whole or not at all, and its presence
makes the call a hit. Its meta (``kind: "call"``, the function's name, a short repr of the
call, how long it took, the key components) is what ``%persist list``, the stash browser
and the Persist panel show; nothing is unpickled to describe a call.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ...storage._names import safe_name
from ...storage._protocol import EntryInfo, KeyValueStore
from .._usage import read_use

__all__ = [
    "LOCK",
    "PREFIX",
    "RESULT",
    "USED",
    "CallEntry",
    "call_prefix",
    "function_prefix",
    "iter_calls",
    "lock_key",
    "result_key",
    "used_key",
]

PREFIX = "memo/"
RESULT = "result"
USED = "used"
LOCK = "lock"


def function_prefix(name: str) -> str:
    """``memo/<function>/``: every cached call of one function (by its display name)."""
    return f"{PREFIX}{safe_name(name)}/"


def call_prefix(function_id: str, key: str) -> str:
    """``memo/<function>/<key>/``: one cached call (one budget unit)."""
    return f"{function_prefix(function_id)}{key}/"


def result_key(function_id: str, key: str) -> str:
    return f"{call_prefix(function_id, key)}{RESULT}"


def used_key(function_id: str, key: str) -> str:
    return f"{call_prefix(function_id, key)}{USED}"


def lock_key(function_id: str, key: str) -> str:
    return f"{call_prefix(function_id, key)}{LOCK}"


@dataclass
class CallEntry:
    """One cached call, described from its result's meta and its use record."""

    prefix: str
    function: str
    name: str
    call: str
    size: int
    created: float
    duration: float
    hits: int
    last_used: float
    expires: float | None
    components: dict[str, str]

    @classmethod
    def from_info(cls, store: KeyValueStore, info: EntryInfo) -> CallEntry:
        meta = info.meta
        prefix = info.key[: -len(RESULT)]
        last, hits = read_use(store, f"{prefix}{USED}")
        created = float(meta.get("created", info.created))
        return cls(
            prefix=prefix,
            function=str(meta.get("function", "?")),
            name=str(meta.get("name", meta.get("function", "?"))),
            call=str(meta.get("call", "")),
            size=int(info.size),
            created=created,
            duration=float(meta.get("duration", 0.0)),
            hits=hits,
            last_used=max(created, last or 0.0),
            expires=info.expires,
            components=dict(meta.get("components", {})),
        )


def iter_calls(store: KeyValueStore, name: str | None = None) -> Iterator[CallEntry]:
    """Every cached call (of one function, or all), described without decoding results."""
    prefix = function_prefix(name) if name else PREFIX
    for key in store.keys(prefix):
        if not key.endswith(f"/{RESULT}"):
            continue
        info = store.info(key)
        if info is not None and info.meta.get("kind") == "call":
            yield CallEntry.from_info(store, info)

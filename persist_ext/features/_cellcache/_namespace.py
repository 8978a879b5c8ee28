"""What a cell did to the notebook's namespace, and what kinds of value it holds.

A cold ``%%persist`` cell looks at the whole namespace several times (what it bound, which
classes and ``lru_cache`` functions the notebook has). The namespace grows by a name or two
with every cell (``_i12``, ``_12``) besides the notebook's own variables, so a Python loop
over it cost a notebook of a few hundred cells ~0.3 µs a name, per look, per cell. These
loops run in C (``map``, ``compress``), and a per-value test is asked once per distinct type.

>>> before = {"a": 1, "b": [], "c": "x"}
>>> after = {"a": 1, "b": [], "c": "x", "d": 2.0, "e": None}
>>> rebound(after, before)
['b', 'd', 'e']
>>> removed(before, {"a": 1})
['b', 'c']
>>> ns = {"int": int, "n": 3, "Point": type("Point", (), {})}
>>> names_of_kind(ns, lambda kind: issubclass(kind, type))
['int', 'Point']
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from itertools import compress, repeat
from typing import Any

__all__ = ["names_of_kind", "rebound", "removed"]

_ABSENT = object()


def rebound(ns: dict[str, Any], before: dict[str, Any]) -> list[str]:
    """The names of ``ns`` bound since ``before`` (a copy of it) was taken, or bound to
    another object (identity: a name rebound to an equal object counts), in ``ns`` order."""
    ns = ns.copy()  # one step under the GIL: another thread may bind names meanwhile
    old = map(before.get, ns, repeat(_ABSENT))
    return list(compress(ns, map(operator.is_not, old, ns.values())))


def removed(before: dict[str, Any], ns: dict[str, Any]) -> list[str]:
    """The names of ``before`` that ``ns`` no longer has, in ``before`` order."""
    gone = before.keys() - ns.keys()
    return [name for name in before if name in gone] if gone else []


def names_of_kind(ns: dict[str, Any], kind: Callable[[type], bool]) -> list[str]:
    """The names of ``ns`` whose value's type satisfies ``kind``, in ``ns`` order;
    ``kind`` is asked once per distinct type."""
    ns = ns.copy()  # one step under the GIL: another thread may bind names meanwhile
    types = list(map(type, ns.values()))
    wanted = {t for t in set(types) if kind(t)}
    if not wanted:
        return []
    return list(compress(ns, map(wanted.__contains__, types)))

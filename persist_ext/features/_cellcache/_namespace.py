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

The copy taken before a run (:func:`snapshot`) holds weakly what can be held so, as a plain
cell lets the old object of a name it binds anew go at once:

>>> class Noisy:
...     def __del__(self):
...         print("freed")
>>> ns = {"a": Noisy(), "n": 1}
>>> before = snapshot(ns)
>>> ns["a"] = None
freed
>>> rebound(ns, before), value_before(before, "a") is GONE
(['a'], True)
>>> ns = {"int": int, "n": 3, "Point": type("Point", (), {})}
>>> names_of_kind(ns, lambda kind: issubclass(kind, type))
['int', 'Point']
"""

from __future__ import annotations

import functools
import operator
import types
import weakref
from collections.abc import Callable
from itertools import compress, filterfalse, repeat
from typing import Any

__all__ = [
    "GONE",
    "freed_with_finalizer",
    "held_strongly",
    "names_of_kind",
    "rebound",
    "removed",
    "snapshot",
    "value_before",
]

_ABSENT = object()
GONE = object()
""":func:`value_before` of a name whose old object has been freed since the snapshot."""


class _Weak(weakref.ref):  # type: ignore[type-arg]
    """A snapshot's weak hold of a value (a class of its own: a notebook's value may be a
    ``weakref.ref`` itself)."""

    __slots__ = ()


class _WeakFinalized(_Weak):
    """A weak hold of a value whose class has a finalizer (``__del__``) in Python."""

    __slots__ = ()


_WEAK = (_Weak, _WeakFinalized)

# Code is held as it is: functions, classes and modules are not data whose going matters,
# and the cell cache compares them (``lru_cache`` wrappers, the functions a key reaches).
_CODE = (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.ModuleType,
    type,
    type(functools.lru_cache(maxsize=None)(len)),
    weakref.ref,
)


# type -> how a snapshot holds its values: _Weak, _WeakFinalized, or None (as they are).
_HOLDS: dict[type, Any] = {}


def _hold_for(kind: type) -> Any:
    hold: Any
    if not kind.__weakrefoffset__ or issubclass(kind, _CODE):
        hold = None
    elif isinstance(getattr(kind, "__del__", None), types.FunctionType):
        # A ``__del__`` in Python: code of a library or of the notebook that shows or does
        # something (a generator's or a file's own finalizer is left out: the first does
        # nothing unless suspended in a ``try``, the second flushes what it holds).
        hold = _WeakFinalized
    else:
        hold = _Weak
    _HOLDS[kind] = hold
    return hold


def snapshot(ns: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``ns`` to compare with after a run (:func:`rebound`, :func:`removed`,
    :func:`value_before`) that does not keep the notebook's data alive.

    A plain cell that binds a name anew lets its old object go at once: its memory, and
    what its finalizer does (matplotlib's "Animation was deleted without rendering
    anything" warning, a file flushed and closed, a ``TemporaryDirectory`` removed), in the
    cell and in that order. A copy holding it would put all that after the cell, outside
    its outputs. So every value that can be held weakly is; the rest (lists, dicts,
    numbers, strings) is held, so that no id is reused by another object meanwhile.
    """
    snap = ns.copy()
    kinds = list(map(type, snap.values()))
    if len(_HOLDS) > 4096:  # classes made at run time, by the thousand
        _HOLDS.clear()
    for kind in set(kinds).difference(_HOLDS):
        _hold_for(kind)
    holds = list(map(_HOLDS.__getitem__, kinds))
    names = list(compress(snap, holds))
    if names:
        # In C: a notebook holds hundreds of names, a cold cell takes this copy each run.
        chosen = compress(holds, holds)
        snap.update(zip(names, map(operator.call, chosen, map(snap.__getitem__, names))))
    return snap


def freed_with_finalizer(before: dict[str, Any]) -> list[str]:
    """The names of ``before`` (:func:`snapshot`) whose old object, one whose class has a
    finalizer in Python, has been freed since: what that finalizer did (printed, warned, wrote) is
    part of the cell's run, at the moment the name was bound anew."""
    held = compress(
        before.items(), map(operator.is_, map(type, before.values()), repeat(_WeakFinalized))
    )
    return [n for n, v in held if v() is None]


def value_before(before: dict[str, Any], name: str, default: Any = None) -> Any:
    """The object ``name`` had in ``before`` (:func:`snapshot`), :data:`GONE` if it has been
    freed since, ``default`` if the name was not bound."""
    value = before.get(name, default)
    if type(value) in _WEAK:
        value = value()
        return GONE if value is None else value
    return value


def held_strongly(before: dict[str, Any], name: str) -> bool:
    """Whether ``before`` (:func:`snapshot`) holds a reference to ``name``'s old object."""
    return type(before.get(name)) not in _WEAK


def rebound(ns: dict[str, Any], before: dict[str, Any]) -> list[str]:
    """The names of ``ns`` bound since ``before`` (a copy of it) was taken, or bound to
    another object (identity: a name rebound to an equal object counts), in ``ns`` order."""
    ns = ns.copy()  # one step under the GIL: another thread may bind names meanwhile
    old = map(before.get, ns, repeat(_ABSENT))
    found = list(compress(ns, map(operator.is_not, old, ns.values())))
    # Held weakly by a snapshot: compared through the reference (the C pass above sees
    # the reference, never the value).
    olds: list[Any] = list(map(before.get, found))
    weak = list(map(_WEAK.__contains__, map(type, olds)))
    if not any(weak):
        return found
    names = list(compress(found, weak))
    now = [ref() for ref in compress(olds, weak)]  # None: freed, so rebound
    same = map(operator.is_, now, map(ns.__getitem__, names))
    alive = map(operator.is_not, now, repeat(None))
    kept = set(compress(names, map(operator.and_, same, alive)))
    return list(filterfalse(kept.__contains__, found))


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

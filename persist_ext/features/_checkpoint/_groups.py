"""What the live namespace is known to hold, and how changed variables are regrouped.

:class:`Baseline` remembers, for every variable saved or restored in this process, the
``id()`` of its value and the digest of the group that holds it. :func:`regroup` packs only
the variables that may have changed (see ``_tracking``): variables whose pickles reach a
common object become one group (pickled together, so sharing survives), including a
changed variable that now shares with an unchanged one.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._pack import PackedGroup, pack_group

__all__ = ["Baseline", "Known", "is_immutable", "regroup"]

_SCALARS = (int, float, complex, bool, str, bytes, type(None), range, types.ModuleType)


def is_immutable(value: Any, depth: int = 3) -> bool:
    """True when a value cannot change without being rebound (so ``id()`` is enough)."""
    if isinstance(value, _SCALARS):
        return True
    if type(value) in (tuple, frozenset) and depth > 0 and len(value) <= 256:
        return all(is_immutable(item, depth - 1) for item in value)
    return False


@dataclass
class Known:
    """A variable as last saved or restored: its value's id and its group's digest."""

    ident: int
    digest: str


@dataclass
class GroupInfo:
    """A group as last saved or restored (``sharing`` is computed lazily)."""

    names: tuple[str, ...]
    size: int
    sharing: frozenset[int] | None = None


@dataclass
class Baseline:
    """What the live namespace held at the last save or restore in this process."""

    known: dict[str, Known] = field(default_factory=dict)
    groups: dict[str, GroupInfo] = field(default_factory=dict)
    failed: dict[str, tuple[int, str]] = field(default_factory=dict)  # name -> (id, reason)

    def forget(self, names: Iterable[str]) -> None:
        for name in names:
            self.known.pop(name, None)

    def record(self, digest: str, names: Iterable[str], ns: Mapping[str, Any], size: int) -> None:
        names = tuple(names)
        for name in names:
            if name in ns:
                self.known[name] = Known(id(ns[name]), digest)
        info = self.groups.get(digest)
        if info is None or info.names != names:
            self.groups[digest] = GroupInfo(names, size)

    def is_clean(self, name: str, value: Any) -> bool:
        known = self.known.get(name)
        return known is not None and known.ident == id(value)

    def members(self, name: str) -> tuple[str, ...]:
        known = self.known.get(name)
        if known is None or known.digest not in self.groups:
            return (name,)
        return self.groups[known.digest].names


class _Union:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def join(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)


@dataclass
class Regrouped:
    """The outcome of :func:`regroup`: packed groups of changed variables, and failures."""

    packs: list[PackedGroup] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)


def _reason(exc: BaseException) -> str:
    text = str(exc).split("\n")[0]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def regroup(
    ns: Mapping[str, Any],
    dirty: set[str],
    clean: Iterable[str],
    baseline: Baseline,
) -> Regrouped:
    """Pack the ``dirty`` variables, in groups that keep shared objects shared.

    A clean variable that shares an object with a dirty one is pulled in (its group is
    repacked with it). Variables that cannot be pickled are returned in ``failures`` with
    the reason, and the rest is still packed.
    """
    out = Regrouped()
    singles: dict[str, PackedGroup] = {}
    pending = set(dirty)
    clean_set = set(clean) - pending
    while pending:
        name = pending.pop()
        try:
            singles[name] = pack_group({name: ns[name]}, ns)
        except BaseException as exc:  # any unpicklable value is reported, never fatal
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            out.failures[name] = _reason(exc)
            continue
        if not singles[name].sharing:
            continue
        # A changed value that now reaches an object of an unchanged group joins it.
        for other in list(clean_set):
            group = baseline.groups.get(baseline.known[other].digest)
            if group is None:
                continue
            if group.sharing is None:
                members = {m: ns[m] for m in group.names if m in ns}
                try:
                    group.sharing = pack_group(members, ns, digest=False).sharing
                except Exception:
                    group.sharing = frozenset()
            if group.sharing & singles[name].sharing:
                for member in group.names:
                    if member in clean_set:
                        clean_set.discard(member)
                        pending.add(member)
    union = _Union()
    owner: dict[int, str] = {}
    for name, packed in singles.items():
        union.find(name)
        for ident in packed.sharing:
            if ident in owner:
                union.join(name, owner[ident])
            else:
                owner[ident] = name
    components: dict[str, list[str]] = {}
    for name in singles:
        components.setdefault(union.find(name), []).append(name)
    for names in components.values():
        if len(names) == 1:
            out.packs.append(singles[names[0]])
            continue
        names.sort()
        # Objects several members reach (memory of numpy views among them): stored once.
        seen: set[int] = set()
        shared: set[int] = set()
        for name in names:
            shared |= seen & singles[name].sharing
            seen |= singles[name].sharing
        try:
            out.packs.append(pack_group({n: ns[n] for n in names}, ns, shared=shared))
        except Exception:  # pickled alone each worked: keep them apart rather than fail
            out.packs.extend(singles[n] for n in names)
    return out

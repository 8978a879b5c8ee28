"""Store budgets: what a "unit" is, how much a store holds, and least-recently-used eviction.

Features describe what they keep in a store as **units**: a whole cached cell run (its
variables, outputs and manifest), a whole cached function call, a task group, a checkpoint.
Each feature registers one *lister* (:func:`register_units`) returning its units with their
size, last use and whether they are protected; this module never learns their key layouts.

A unit is identified by a key ``prefix`` (every key under it belongs to the unit) and a
``marker`` key whose presence makes the unit exist (a cell's manifest, a call's result). An
eviction deletes the marker first and then everything under the prefix, in one store
transaction per unit, so a reader sees the whole unit or nothing. On the embedded
:class:`~persist_ext.Store` the transaction is one SQLite transaction: a process killed
during an eviction leaves every unit whole or gone, never partial.

Order and rules (:func:`plan_eviction`):

1. evictable units unused for longer than ``max_age`` go first;
2. then least recently used first (a hit counts as use) while the cached units outnumber
   ``max_count``;
3. then least recently used first while the store's bytes exceed ``max_size``.

Protected units (a task group that has unsettled tasks, a checkpoint) are never evicted;
they count towards ``max_size``, and a notice says when they alone keep a store over it.

A unit's last use comes from its use record (``_usage.py``: written for every hit, read
with ``info()``, never decoded).
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .._errors import EvictionWarning, InvalidArgumentError
from .._format import format_ago, format_size
from .._limits import ENV_MAX_AGE, ENV_MAX_COUNT, ENV_MAX_SIZE, Budget
from ..storage._protocol import KeyValueStore
from ._usage import flush_uses

__all__ = [
    "DEBRIS_AGE",
    "DryRun",
    "EvictionReport",
    "InfoWithUsage",
    "StoreUsage",
    "Unit",
    "any_budget",
    "budget_of",
    "collect",
    "enforce_budget",
    "evict",
    "list_units",
    "notify",
    "orphans",
    "plan_eviction",
    "register_units",
    "store_usage",
]

_log = logging.getLogger("persist_ext")

# Lister modules of the built-in features, imported on first use (each registers itself).
_BUILTIN = (
    "persist_ext.features._cellcache._units",
    "persist_ext.features._memo._units",
    "persist_ext.features._tasks._units",
    "persist_ext.features._checkpoint_units",
)


@dataclass(frozen=True)
class Unit:
    """One evictable (or protected) thing a feature keeps in a store.

    Attributes
    ----------
    kind
        ``"cell"``, ``"call"``, ``"tasks"``, ``"checkpoint"`` (or a third-party kind).
    name
        What a notice calls it: the cell name, ``function(args)``, the group name.
    prefix
        Every store key starting with it belongs to the unit.
    marker
        The key whose presence makes the unit exist; deleted first.
    size
        Payload bytes of the unit's entries.
    last_used
        When it was stored or last hit (seconds since the epoch).
    protected
        Why it must never be evicted (``""``: evictable).
    counted
        Whether it counts towards ``max_count`` (cached cells and calls do).
    """

    kind: str
    name: str
    prefix: str
    marker: str
    size: int
    last_used: float
    protected: str = ""
    counted: bool = True


Lister = Callable[[KeyValueStore], Iterable[Unit]]
Pinner = Callable[[KeyValueStore], Iterable[str]]

Debris = Callable[[KeyValueStore, float], Iterable[str]]

_LISTERS: dict[str, tuple[Lister, Pinner | None]] = {}
_DEBRIS: dict[str, Debris] = {}
#: Keys left without their unit's marker are only debris once this old: a writer may be
#: storing a unit right now (values first, marker last).
DEBRIS_AGE = 3600.0
_LOADED = False
_LOAD_LOCK = threading.Lock()


def register_units(
    kind: str, lister: Lister, *, pinned: Pinner | None = None, debris: Debris | None = None
) -> None:
    """Register the function listing a feature's units (replaces an earlier one of ``kind``).

    ``debris(store, older_than)``, when given, returns keys of the feature's layout that
    belong to no unit (left by a killed writer, or written after an eviction) and are older
    than ``older_than`` seconds; ``%persist gc`` removes them.
    ``pinned(store)``, when given, returns keys that must survive the eviction of any unit
    (e.g. values a checkpoint shares with a cached cell).
    """
    _LISTERS[kind] = (lister, pinned)
    if debris is not None:
        _DEBRIS[kind] = debris


def _load_builtin() -> None:
    global _LOADED
    if _LOADED:
        return
    with _LOAD_LOCK:
        if not _LOADED:
            for module in _BUILTIN:
                try:
                    importlib.import_module(module)
                except ImportError as exc:  # a feature that is not there lists nothing
                    _log.debug("budget: no unit lister %s (%s)", module, exc)
            _LOADED = True


def list_units(store: KeyValueStore) -> list[Unit]:
    """Every unit of every registered feature in ``store`` (described, never decoded)."""
    _load_builtin()
    flush_uses()  # hits noted in memory count as use too
    found: list[Unit] = []
    for kind, (lister, _) in sorted(_LISTERS.items()):
        try:
            found.extend(lister(store))
        except Exception as exc:  # one feature's unreadable entries must not hide the rest
            _log.warning("budget: listing %s units failed: %s", kind, exc)
    return found


def orphans(
    store: KeyValueStore, root: str, depth: int, marker: str, older_than: float
) -> list[str]:
    """Keys under ``root`` grouped by their first ``depth`` path parts, in groups that have no
    ``marker`` leaf and whose newest key is older than ``older_than`` seconds.

    The debris finder of a feature whose units are ``<root><a>/<b>/...`` prefixes.
    """
    groups: dict[str, list[str]] = {}
    for key in store.keys(root):
        parts = key.split("/")
        if len(parts) > depth:
            groups.setdefault("/".join(parts[:depth]) + "/", []).append(key)
    cutoff = time.time() - older_than
    found: list[str] = []
    for prefix, keys in groups.items():
        if f"{prefix}{marker}" in keys:
            continue
        infos = [store.info(k) for k in keys]
        if all(i is None or i.created < cutoff for i in infos):
            found.extend(keys)
    return found


def _pinned(store: KeyValueStore) -> set[str]:
    keys: set[str] = set()
    for _, pinner in _LISTERS.values():
        if pinner is not None:
            keys.update(pinner(store))
    return keys


# --------------------------------------------------------------------------------------------
# Budget and usage
# --------------------------------------------------------------------------------------------


def any_budget(stores: Iterable[KeyValueStore], *, configured: bool = False) -> bool:
    """Whether a budget may be in force for any of ``stores``, without touching them.

    True when the caller has limits of its own (``configured``: the magics' traitlets), a
    ``PERSIST_EXT_MAX_*`` variable is set, or a store has its own ``budget=``. A per-cell
    hook asks this first: with no budget anywhere it costs three dict lookups.
    """
    if configured or any(os.environ.get(name) for name in _ENV_LIMITS):
        return True
    return any(getattr(store, "budget", None) is not None for store in stores)


_ENV_LIMITS = (ENV_MAX_SIZE, ENV_MAX_COUNT, ENV_MAX_AGE)


def budget_of(store: KeyValueStore, fallback: Budget | None = None) -> Budget:
    """The budget in force for ``store``: its own ``budget=`` over ``fallback`` over the env.

    ``fallback`` is what the caller knows (the magics' traitlets); a malformed environment
    variable is ignored with a logged warning here (``%persist gc`` reports it).
    """
    own = Budget.coerce(getattr(store, "budget", None))
    try:
        env: Budget | None = Budget.from_env()
    except ValueError as exc:
        _log.warning("budget: %s", exc)
        env = None
    base = fallback.over(env) if fallback is not None else env
    return own.over(base) if own is not None else (base or Budget())


@dataclass
class StoreUsage:
    """What a store holds, measured in units: ``%persist info`` shows it beside the budget."""

    budget: Budget
    units: list[Unit] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(u.size for u in self.units)

    @property
    def count(self) -> int:
        return sum(1 for u in self.units if u.counted)

    @property
    def protected_size(self) -> int:
        return sum(u.size for u in self.units if u.protected)

    def lines(self) -> list[str]:
        by_kind: dict[str, list[Unit]] = {}
        for unit in self.units:
            by_kind.setdefault(unit.kind, []).append(unit)
        parts = [
            f"{len(units)} {kind} ({format_size(sum(u.size for u in units))})"
            for kind, units in sorted(by_kind.items())
        ]
        out = [
            f"budget: {self.budget.describe()}"
            + ("" if not self.budget.is_empty else " (nothing is ever evicted)"),
            f"usage: {format_size(self.size)} in {self.count} cached unit(s)"
            + (f"; {', '.join(parts)}" if parts else ""),
        ]
        if self.protected_size:
            out.append(
                f"protected (never evicted): {format_size(self.protected_size)} "
                "(checkpoints, task groups still running)"
            )
        oldest = min((u.last_used for u in self.units if not u.protected), default=None)
        if oldest is not None:
            out.append(f"least recently used: {format_ago(oldest)}")
        return out

    def __repr__(self) -> str:
        return "\n".join(self.lines())


def store_usage(store: KeyValueStore, budget: Budget | None = None) -> StoreUsage:
    """Units and totals of ``store`` under ``budget`` (default: :func:`budget_of`)."""
    return StoreUsage(budget if budget is not None else budget_of(store), list_units(store))


# --------------------------------------------------------------------------------------------
# Planning and evicting
# --------------------------------------------------------------------------------------------


def _age(seconds: float) -> str:
    for unit, span in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= span:
            return f"{seconds / span:.0f} {unit}"
    return f"{seconds:.0f} s"


def plan_eviction(
    units: Iterable[Unit], budget: Budget, *, now: float | None = None
) -> list[tuple[Unit, str]]:
    """The units to evict to meet ``budget``, in eviction order, each with its reason.

    Examples
    --------
    >>> old = Unit("call", "f(1)", "memo/f/a/", "memo/f/a/result", 10, last_used=0.0)
    >>> new = Unit("call", "f(2)", "memo/f/b/", "memo/f/b/result", 10, last_used=5.0)
    >>> [(u.name, why) for u, why in plan_eviction([new, old], Budget(max_count=1), now=9)]
    [('f(1)', 'max-count 1')]
    """
    now = time.time() if now is None else now
    units = list(units)
    chosen: list[tuple[Unit, str]] = []
    gone: set[int] = set()
    evictable = sorted((u for u in units if not u.protected), key=lambda u: u.last_used)
    if budget.max_age is not None:
        for unit in evictable:
            if now - unit.last_used > budget.max_age:
                chosen.append((unit, f"unused for {_age(now - unit.last_used)}"))
                gone.add(id(unit))
    if budget.max_count is not None:
        count = sum(1 for u in units if u.counted and id(u) not in gone)
        for unit in evictable:
            if count <= budget.max_count:
                break
            if unit.counted and id(unit) not in gone:
                chosen.append((unit, f"max-count {budget.max_count}"))
                gone.add(id(unit))
                count -= 1
    if budget.max_size is not None:
        size = sum(u.size for u in units if id(u) not in gone)
        for unit in evictable:
            if size <= budget.max_size:
                break
            if id(unit) not in gone:
                chosen.append((unit, f"max-size {format_size(budget.max_size)}"))
                gone.add(id(unit))
                size -= unit.size
    return chosen


def _delete_unit(store: KeyValueStore, unit: Unit, pinned: set[str]) -> bool:
    # One transaction per unit: on the embedded Store a kill at any instant leaves the
    # unit whole (rolled back) or gone (committed). The marker goes first, so on stores
    # whose transaction is only a lock (Redis) a reader already sees a miss.
    with store.transact():
        if unit.marker not in store:
            return False  # evicted or replaced by another process meanwhile
        store.delete(unit.marker)
        for key in list(store.keys(unit.prefix)):
            if key not in pinned:
                store.delete(key)
    return True


@dataclass
class EvictionReport:
    """What an eviction did: units removed with their reasons, and what is left over."""

    budget: Budget
    evicted: list[tuple[Unit, str]] = field(default_factory=list)
    remaining: StoreUsage | None = None
    failed: dict[str, str] = field(default_factory=dict)
    debris: int = 0

    @property
    def freed(self) -> int:
        return sum(u.size for u, _ in self.evicted)

    def __bool__(self) -> bool:
        return bool(self.evicted or self.failed or self.debris)

    def notice(self) -> str:
        """The one-line notice: what was evicted, why, and what still exceeds the budget."""
        if not self.evicted:
            text = f"persist: nothing to evict ({self.budget.describe()})"
        else:
            names = [f"{u.kind} {u.name}" for u, _ in self.evicted]
            shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
            reasons = sorted({why for _, why in self.evicted})
            text = (
                f"persist: evicted {len(names)} least recently used unit(s) "
                f"({format_size(self.freed)}): {shown} — {'; '.join(reasons)}"
            )
        rest = self.remaining
        budget = self.budget
        if rest is not None and budget.max_size is not None and rest.size > budget.max_size:
            text += (
                f"; still {format_size(rest.size)} > {format_size(budget.max_size)}: "
                f"{format_size(rest.protected_size)} is protected"
            )
        if self.debris:
            text += f"; removed {self.debris} orphan entr{'y' if self.debris == 1 else 'ies'}"
        if self.failed:
            text += f"; could not evict {', '.join(sorted(self.failed))}"
        return text

    def __repr__(self) -> str:
        return self.notice()


def evict(store: KeyValueStore, plan: Iterable[tuple[Unit, str]], budget: Budget) -> EvictionReport:
    """Remove the planned units, one transaction each; return the report."""
    report = EvictionReport(budget)
    pinned = _pinned(store)
    for unit, why in plan:
        if unit.protected:
            continue
        try:
            if _delete_unit(store, unit, pinned):
                report.evicted.append((unit, why))
        except Exception as exc:  # a locked store: report, keep the unit whole
            report.failed[f"{unit.kind} {unit.name}"] = f"{type(exc).__name__}: {exc}"
    return report


def enforce_budget(
    store: KeyValueStore, budget: Budget | None = None, *, now: float | None = None
) -> EvictionReport:
    """Evict least recently used units until ``store`` meets ``budget``.

    ``budget`` defaults to :func:`budget_of` ``(store)``; an empty budget evicts nothing.
    The report's :meth:`~EvictionReport.notice` is the one line to show the user.

    Examples
    --------
    >>> from persist_ext.storage._memory import MemoryStore
    >>> enforce_budget(MemoryStore(), Budget()).evicted
    []
    """
    if not isinstance(store, KeyValueStore):
        raise InvalidArgumentError(
            f"enforce_budget() needs a store such as persist_ext.Store('.persist'), not "
            f"{type(store).__name__} {store!r}"
        )
    budget = Budget.coerce(budget)  # a Budget, a dict of its fields, or None
    budget = budget if budget is not None else budget_of(store)
    if budget.is_empty:
        return EvictionReport(budget)
    units = list_units(store)
    report = evict(store, plan_eviction(units, budget, now=now), budget)
    gone = {id(u) for u, _ in report.evicted}
    report.remaining = StoreUsage(budget, [u for u in units if id(u) not in gone])
    return report


def notify(report: EvictionReport) -> None:
    """Show an eviction's notice: printed in a kernel or shell, else an :class:`EvictionWarning`."""
    if not report:
        return
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    _log.info("%s", report.notice())
    if shell is not None:
        print(report.notice())
    else:
        warnings.warn_explicit(
            report.notice(), EvictionWarning, "persist_ext", 1, module="persist_ext.budget"
        )


# --------------------------------------------------------------------------------------------
# What the magics show
# --------------------------------------------------------------------------------------------


@dataclass
class InfoWithUsage:
    """``%persist info``: the store summary, then the budget and the usage in units."""

    summary: Any
    usage: StoreUsage

    def __repr__(self) -> str:
        return f"{self.summary!r}\n" + "\n".join(self.usage.lines())

    def _repr_html_(self) -> str:
        import html

        return "<pre>" + html.escape(repr(self)) + "</pre>"


def collect(
    store: KeyValueStore, budget: Budget, *, dry_run: bool = False
) -> EvictionReport | DryRun:
    """``%persist gc``: apply ``budget`` now and remove debris (keys of no unit, older than
    :data:`DEBRIS_AGE`); with ``dry_run`` only say what would go."""
    _load_builtin()
    if dry_run:
        return DryRun(budget, plan_eviction(list_units(store), budget))
    report = enforce_budget(store, budget)
    pinned = _pinned(store)
    for kind, finder in sorted(_DEBRIS.items()):
        try:
            for key in list(finder(store, DEBRIS_AGE)):
                if key not in pinned and store.delete(key):
                    report.debris += 1
        except Exception as exc:  # debris is housekeeping; report, keep going
            report.failed[f"{kind} debris"] = f"{type(exc).__name__}: {exc}"
    return report


@dataclass
class DryRun:
    """What ``%persist gc --dry-run`` would evict."""

    budget: Budget
    plan: list[tuple[Unit, str]] = field(default_factory=list)

    def notice(self) -> str:
        if not self.plan:
            return f"persist: nothing would be evicted ({self.budget.describe()})"
        names = [f"{u.kind} {u.name}" for u, _ in self.plan]
        size = format_size(sum(u.size for u, _ in self.plan))
        reasons = sorted({why for _, why in self.plan})
        return (
            f"persist: would evict {len(names)} unit(s) ({size}): {', '.join(names)} — "
            f"{'; '.join(reasons)}"
        )

    def __repr__(self) -> str:
        return self.notice()

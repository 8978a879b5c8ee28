"""Warnings a cell issued, and what the warning filters in force did with each of them.

A cell's output depends on the filters earlier cells set only through the warnings it
issues: ``simplefilter('ignore')`` upstream hides a warning, ``'error'`` makes it raise.
Keying every cell on the whole filter list would make cells stored by a process with other
default filters (a test runner's, ``PYTHONWARNINGS``) miss even when they warn nothing, so
only a cell that warned is checked, and only on what the filters do with *its* warnings.

While the cell runs, :func:`watch_warnings` puts a filter entry in front of the others that
matches nothing but sees every warning that reaches the filters (the C implementation
calls its message's ``match``, its module's ``match`` and ``issubclass`` of its category,
in that order, for every ``warnings.warn`` and every warning issued from C code such as
numpy's). The filters a cell adds itself come before it: what they decide is the cell's
own doing, the same in a re-run. The entry is put in without telling the warnings module
that the filters changed, so which warnings count as already shown is left alone.

:func:`warning_checks` turns what was seen into checks of the entry (``warned:...``), each
holding what the filters in force before the run decided for that warning;
:func:`stale_warnings` tells which of them the filters in force now decide otherwise.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import xxhash

__all__ = [
    "WarningWatch",
    "filters_version",
    "forget_shown_warnings",
    "stale_warnings",
    "warning_checks",
    "watch_warnings",
]

PREFIX = "warned:"

#: Distinct warnings remembered per run; past that (a loop warning with a changing text)
#: the cell is checked on the whole filter list instead (``state:warnings``).
MAX_DISTINCT = 64
#: A longer text is not kept; the whole filter list is checked instead.
MAX_TEXT = 2000


@dataclass
class WarningWatch:
    """Warnings seen during one run: (category MRO names, text, module).

    A warning the filters let through as ``default`` (or ``once``, ``module``) is noted as
    shown, and its repeats do not reach the filters again: how often it was issued is not
    known, so the action is compared exactly (``always`` is not ``default``).
    """

    seen: set[tuple[tuple[str, ...], str, str]] = field(default_factory=set)
    overflow: bool = False
    _text: str = ""
    _module: str = ""

    def _see(self, category: Any) -> None:
        text, module = self._text, self._module
        if not isinstance(category, type) or len(text) > MAX_TEXT:
            self.overflow = True
            return
        key = (tuple(_qualified(c) for c in category.__mro__), text, module)
        if key not in self.seen and len(self.seen) >= MAX_DISTINCT:
            self.overflow = True
            return
        self.seen.add(key)


def _qualified(cls: Any) -> str:
    return f"{getattr(cls, '__module__', '')}.{getattr(cls, '__qualname__', '')}"


class _Noted:
    """The filter's message or module pattern: notes the warning's text (or module) on the
    watch and lets the match go on to the category, which decides."""

    def __init__(self, watch: WarningWatch, field: str) -> None:
        self.watch, self.field = watch, field

    @property
    def pattern(self) -> str:
        """What a compiled pattern has: code that copies the filter list and puts it back
        with ``filterwarnings`` reads it (scikit-learn's ``Parallel``, around every job of
        ``cross_val_score`` and ``GridSearchCV``). The copy of the watch's entry then
        matches every text and module, and nothing else: its category never matches."""
        return ""

    def match(self, value: Any) -> bool:
        setattr(self.watch, self.field, value if isinstance(value, str) else str(value))
        return True


class _Category(type):
    """Metaclass of the filter's category: ``issubclass`` notes the warning, then fails, so
    the entry never matches and the filters behind it decide as they would without it."""

    watch: WarningWatch | None = None

    def __subclasscheck__(cls, subclass: Any) -> bool:
        watch = cls.watch
        if watch is not None:
            try:
                watch._see(subclass)
            except Exception:  # never let the watch change what the warning does
                watch.overflow = True
        return False


@contextmanager
def watch_warnings() -> Iterator[WarningWatch]:
    """See every warning that reaches the filters inside the block (see the module doc)."""
    watch = WarningWatch()
    category = _Category("PersistWatchedWarning", (Warning,), {})
    category.watch = watch
    entry = ("ignore", _Noted(watch, "_text"), category, _Noted(watch, "_module"), 0)
    filters: list[Any] = warnings.filters  # type: ignore[assignment]
    filters.insert(0, entry)
    try:
        yield watch
    finally:
        category.watch = None
        # Wherever it is now (the cell added filters in front of it), and in the list the
        # module holds now (``catch_warnings`` entered and not left swaps in a copy).
        now: list[Any] = warnings.filters  # type: ignore[assignment]
        for held in {id(filters): filters, id(now): now}.values():
            held[:] = [f for f in held if f is not entry]


def _matches(pattern: Any, text: str) -> bool:
    # As the C implementation: None matches, a plain str must be equal, else ``.match``.
    if pattern is None:
        return True
    if type(pattern) is str:
        return pattern == text
    return bool(pattern.match(text))


def _outcome(filters: list[Any], mro: tuple[str, ...], text: str, module: str) -> str:
    """What ``filters`` decide for a warning: the entries that may apply, in order, up to
    the first that applies on every line (an entry for one line number may or may not)."""
    names = set(mro)
    decided = []
    for entry in filters:
        try:
            action, message, category, where, lineno = entry
            if isinstance(type(category), _Category):
                continue
            if not (
                _qualified(category) in names
                and _matches(message, text)
                and _matches(where, module)
            ):
                continue
        except Exception:  # an entry we cannot read: it may apply
            decided.append(f"? {entry!r}")
            continue
        if lineno:
            decided.append(f"{action} at line {lineno}")
            continue
        decided.append(str(action))
        break
    else:
        decided.append(str(getattr(warnings, "defaultaction", "default")))
    return xxhash.xxh3_64_hexdigest("\n".join(decided).encode())


def warning_checks(watch: WarningWatch, filters: list[Any]) -> dict[str, str]:
    """Checks of the entry: each warning seen -> what ``filters`` (those in force before
    the run) decided for it. Empty when the run warned nothing or saw too much to list
    (``watch.overflow``: the caller checks the whole filter list)."""
    if watch.overflow:
        return {}
    return {
        PREFIX + json.dumps([list(mro), text, module]): _outcome(filters, mro, text, module)
        for mro, text, module in sorted(watch.seen)
    }


def stale_warnings(checks: dict[str, str]) -> list[tuple[str, str, str]]:
    """The ``warned:`` checks the filters in force now decide otherwise:
    (component, category name, text)."""
    found = []
    filters = list(warnings.filters)
    for component, old in checks.items():
        if not component.startswith(PREFIX):
            continue
        try:
            mro, text, module = json.loads(component[len(PREFIX) :])
            new = _outcome(filters, tuple(mro), text, module)
            name = str(mro[0]).rpartition(".")[2]
        except Exception:  # not a check this version wrote: it cannot be confirmed
            found.append((component, "a warning", ""))
            continue
        if new != old:
            found.append((component, name, text))
    return found


class _VersionProbe(Warning):
    """Issued only by :func:`filters_version`, under a filter entry that ignores it."""


def filters_version() -> Any:
    """The warnings module's filters version now, read without changing it (``None``: not
    known here).

    Every change of the filters (``simplefilter``, entering or leaving ``catch_warnings``,
    as scikit-learn does around its metrics and jobs) bumps it, and a module's
    ``__warningregistry__`` forgets the warnings it showed when its version is not the
    current one: the same warning from the same line is shown again. A registry handed to
    ``warn_explicit`` is stamped with the current version before the filters are asked;
    the probe's entry, put in front without telling the module, then ignores it.
    """
    registry: dict[Any, Any] = {}
    entry = ("ignore", None, _VersionProbe, None, 0)
    filters: list[Any] = warnings.filters  # type: ignore[assignment]
    try:
        filters.insert(0, entry)
        try:
            warnings.warn_explicit("", _VersionProbe, "", 0, registry=registry)
        finally:
            filters[:] = [f for f in filters if f is not entry]
    except Exception:  # filters that are not a plain list here: unknown
        return None
    return registry.get("version")


def forget_shown_warnings() -> None:
    """Bump the filters version, as a cell's ``catch_warnings`` does: every module's
    registry forgets which warnings it showed (the filters themselves are unchanged)."""
    with warnings.catch_warnings():
        pass

"""Budgets: the limits a store keeps to (bytes, cached units, age), and reading them from text.

Shared by every layer: a :class:`~persist_ext.Store` accepts a ``budget=``, the eviction in
:mod:`persist_ext.features._budget` applies one, and the magics read one from traitlets and
``%persist gc`` flags. Where a budget comes from, first found wins per limit:

1. the ``budget=`` argument of the store object (``Store(path, budget=Budget(...))``);
2. the traitlets ``c.PersistMagics.max_size / max_count / max_age`` (in a kernel);
3. the environment variables ``PERSIST_EXT_MAX_SIZE``, ``PERSIST_EXT_MAX_COUNT``,
   ``PERSIST_EXT_MAX_AGE`` (e.g. ``10G``, ``500``, ``30d``).

With no limit from any of them nothing is ever evicted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ._errors import InvalidArgumentError

__all__ = [
    "ENV_MAX_AGE",
    "ENV_MAX_COUNT",
    "ENV_MAX_SIZE",
    "Budget",
    "parse_duration",
    "parse_size",
]

ENV_MAX_SIZE = "PERSIST_EXT_MAX_SIZE"
ENV_MAX_COUNT = "PERSIST_EXT_MAX_COUNT"
ENV_MAX_AGE = "PERSIST_EXT_MAX_AGE"

_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(s|min|m|h|d|w)?", re.IGNORECASE)
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?)(b?)$", re.IGNORECASE)
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}


def parse_duration(text: str) -> float:
    """Seconds in a duration: ``"90"``, ``"90s"``, ``"10m"``, ``"1h30m"``, ``"7d"``, ``"2w"``.

    Raises
    ------
    ValueError
        The text is not a positive duration; the message shows the accepted forms.

    Examples
    --------
    >>> parse_duration("1h30m"), parse_duration("45")
    (5400.0, 45.0)
    >>> parse_duration("soon")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    persist_ext._errors.InvalidArgumentError: Cannot read 'soon' as a duration; use e.g. 90s, ...
    """
    cleaned = text.strip().lower().replace(" ", "")
    pos, total = 0, 0.0
    while pos < len(cleaned):
        match = _PART.match(cleaned, pos)
        if match is None or match.end() == pos:
            break
        total += float(match.group(1)) * _UNITS[(match.group(2) or "s").lower()]
        pos = match.end()
    if not cleaned or pos != len(cleaned) or total <= 0:
        raise InvalidArgumentError(
            f"Cannot read {text!r} as a duration; use e.g. 90s, 10m, 2h, 7d, 1w or 1h30m."
        )
    return total


def parse_size(text: str | int) -> int:
    """Bytes in a size: ``1000``, ``"512M"``, ``"10G"``, ``"1.5GB"``, ``"2GiB"``.

    ``K/M/G/T`` are powers of 1000 (like ``format_size`` prints them); ``Ki/Mi/Gi/Ti``
    powers of 1024.

    Examples
    --------
    >>> parse_size("10G"), parse_size("2GiB"), parse_size(4096)
    (10000000000, 2147483648, 4096)
    >>> parse_size("lots")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    persist_ext._errors.InvalidArgumentError: Cannot read 'lots' as a size; use e.g. 500M, ...
    """
    if isinstance(text, bool):
        raise InvalidArgumentError(
            f"Cannot read {text!r} as a size; use e.g. 500M, 10G, 1.5T or 2GiB."
        )
    if isinstance(text, int):
        if text <= 0:
            raise InvalidArgumentError(f"A size must be positive, not {text}.")
        return text
    match = _SIZE.match(str(text).strip().replace(" ", ""))
    if match is None or float(match.group(1)) <= 0:
        raise InvalidArgumentError(
            f"Cannot read {text!r} as a size; use e.g. 500M, 10G, 1.5T or 2GiB."
        )
    base = 1024 if match.group(3) else 1000
    return int(float(match.group(1)) * base ** _POWERS[match.group(2).lower()])


def _count(text: str | int) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        value = 0
    if isinstance(text, bool) or value <= 0 or str(text).strip() != str(value):
        raise InvalidArgumentError(
            f"Cannot read {text!r} as a count of cached units; use e.g. 500."
        )
    return value


@dataclass(frozen=True)
class Budget:
    """Limits a store keeps to; ``None`` means "no limit" for that dimension.

    Parameters
    ----------
    max_size
        Total bytes of everything stored (bytes, or text like ``"10G"``).
    max_count
        Number of cached units: cached cell runs plus cached function calls.
    max_age
        Seconds (or text like ``"30d"``) since a cached unit was last used (stored or hit).

    Examples
    --------
    >>> Budget(max_size="10G", max_age="30d")
    Budget(max_size=10000000000, max_count=None, max_age=2592000.0)
    >>> Budget().is_empty
    True
    >>> Budget(max_size="ten gigs")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    persist_ext._errors.InvalidArgumentError: Cannot read 'ten gigs' as a size; use e.g. ...
    """

    max_size: int | None = None
    max_count: int | None = None
    max_age: float | None = None

    def __init__(
        self,
        max_size: int | str | None = None,
        max_count: int | str | None = None,
        max_age: float | str | None = None,
    ) -> None:
        size = None if max_size in (None, "") else parse_size(max_size)  # type: ignore[arg-type]
        count = None if max_count in (None, "") else _count(max_count)  # type: ignore[arg-type]
        age: float | None
        if max_age in (None, ""):
            age = None
        elif isinstance(max_age, (int, float)) and not isinstance(max_age, bool):
            if max_age <= 0:
                raise InvalidArgumentError(f"max_age must be positive seconds, not {max_age}.")
            age = float(max_age)
        else:
            age = parse_duration(str(max_age))
        object.__setattr__(self, "max_size", size)
        object.__setattr__(self, "max_count", count)
        object.__setattr__(self, "max_age", age)

    @property
    def is_empty(self) -> bool:
        """True when no limit is set (nothing will be evicted)."""
        return self.max_size is None and self.max_count is None and self.max_age is None

    def over(self, other: Budget | None) -> Budget:
        """This budget's limits, with ``other``'s filling the ones this one leaves unset."""
        if other is None:
            return self
        values = {
            f.name: getattr(self, f.name)
            if getattr(self, f.name) is not None
            else getattr(other, f.name)
            for f in fields(self)
        }
        return Budget(**values)

    @classmethod
    def coerce(cls, value: Budget | Mapping[str, Any] | None) -> Budget | None:
        """A :class:`Budget` from a budget, a mapping of its fields, or ``None``."""
        if value is None or isinstance(value, Budget):
            return value
        if isinstance(value, Mapping):
            unknown = set(value) - {"max_size", "max_count", "max_age"}
            if unknown:
                raise InvalidArgumentError(
                    f"Unknown budget field(s) {sorted(unknown)}; use max_size, max_count, max_age."
                )
            return cls(**value)
        raise InvalidArgumentError(
            f"budget must be a persist_ext.Budget or a dict of its fields, not "
            f"{type(value).__name__}."
        )

    @classmethod
    def of(
        cls,
        budget: Budget | Mapping[str, Any] | None = None,
        *,
        max_size: int | str | None = None,
        max_count: int | str | None = None,
        max_age: float | str | None = None,
    ) -> Budget | None:
        """A store's ``budget=`` and ``max_size= / max_count= / max_age=`` arguments as one
        budget (the keyword limits win); ``None`` when none was given.

        >>> Budget.of({"max_count": 5}, max_size="1G")
        Budget(max_size=1000000000, max_count=5, max_age=None)
        >>> Budget.of() is None
        True
        """
        base = cls.coerce(budget)
        if max_size is None and max_count is None and max_age is None:
            return base
        return cls(max_size, max_count, max_age).over(base)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Budget:
        """The budget set by ``PERSIST_EXT_MAX_SIZE / _MAX_COUNT / _MAX_AGE``.

        A malformed value raises ``ValueError`` naming the variable.
        """
        env = os.environ if environ is None else environ
        try:
            return cls(
                max_size=env.get(ENV_MAX_SIZE) or None,
                max_count=env.get(ENV_MAX_COUNT) or None,
                max_age=env.get(ENV_MAX_AGE) or None,
            )
        except ValueError as exc:
            raise InvalidArgumentError(
                f"{exc} (from the environment: {ENV_MAX_SIZE}, {ENV_MAX_COUNT}, {ENV_MAX_AGE})"
            ) from None

    def describe(self) -> str:
        """``"max-size 10.0 GB, max-age 30d"``; ``"no budget"`` when empty."""
        from ._format import format_size

        parts = []
        if self.max_size is not None:
            parts.append(f"max-size {format_size(self.max_size)}")
        if self.max_count is not None:
            parts.append(f"max-count {self.max_count}")
        if self.max_age is not None:
            parts.append(f"max-age {_age_text(self.max_age)}")
        return ", ".join(parts) or "no budget"


def _age_text(seconds: float) -> str:
    for unit, span in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= span and seconds % span == 0:
            return f"{int(seconds // span)}{unit}"
    return f"{seconds:g}s"

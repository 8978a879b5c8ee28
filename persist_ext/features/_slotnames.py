"""Reductions made by the cache leave no trace on the classes they reduce.

Pickling or fingerprinting an instance (``object.__reduce_ex__``) asks
``copyreg._slotnames(cls)`` for the class's slot names, and that function caches them on the
class: ``cls.__slotnames__ = []``. A notebook that prints ``Consumer.__dict__`` after a cell
made a ``Consumer`` then shows ``'__slotnames__': []`` under ``%%persist`` (the cache stored
or fingerprinted the instance), where a plain run shows nothing of the kind.

:func:`untraced` marks the calling thread's reductions: while it is active, a slot-names
entry the reduction cached on a class that had none is taken off again. The wrapper put in
``copyreg`` once behaves exactly as ``copyreg._slotnames`` elsewhere (user code pickling in
the cell itself, other threads), so only the cache's own reductions are untraced.

>>> class Plain:
...     pass
>>> with untraced():
...     _ = Plain().__reduce_ex__(5)  # as pickle and the fingerprint reduce it
>>> "__slotnames__" in Plain.__dict__
False
>>> _ = Plain().__reduce_ex__(5)
>>> "__slotnames__" in Plain.__dict__
True
"""

from __future__ import annotations

import copyreg
import functools
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["traced", "untraced"]

_state = threading.local()
_original: Any = None
_install = threading.Lock()


def _slotnames(cls: type) -> Any:
    had = "__slotnames__" in cls.__dict__
    names = _original(cls)
    if not had and getattr(_state, "active", False):
        try:
            del cls.__slotnames__  # type: ignore[attr-defined]
        except (AttributeError, TypeError):  # a class that refuses attributes kept none
            pass
    return names


def _installed() -> None:
    global _original
    with _install:
        if _original is None:
            _original = copyreg._slotnames  # type: ignore[attr-defined]
            copyreg._slotnames = _slotnames  # type: ignore[attr-defined]


class _Marked:
    """Marks this thread's reductions while active (a class, not a generator: the cell
    cache enters one on every cell)."""

    __slots__ = ("_active", "_outer")

    def __init__(self, active: bool) -> None:
        self._active = active
        self._outer = False

    def __enter__(self) -> None:
        if _original is None:
            _installed()
        self._outer = getattr(_state, "active", False)
        _state.active = self._active

    def __exit__(self, *exc: object) -> None:
        _state.active = self._outer

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """As a decorator: each call is marked (by an instance of its own: calls nest)."""
        active = self._active

        @functools.wraps(func)
        def marked(*args: Any, **kwargs: Any) -> Any:
            with _Marked(active):
                return func(*args, **kwargs)

        return marked


def untraced() -> Any:
    """Within it, this thread's reductions leave no ``__slotnames__`` on classes."""
    return _Marked(True)


def traced() -> Any:
    """Within it (the cell's own code), reductions behave as in a plain run."""
    return _Marked(False)

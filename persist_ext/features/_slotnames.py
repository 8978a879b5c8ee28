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
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def _marked(active: bool) -> Iterator[None]:
    _installed()
    outer = getattr(_state, "active", False)
    _state.active = active
    try:
        yield
    finally:
        _state.active = outer


def untraced() -> Any:
    """Within it, this thread's reductions leave no ``__slotnames__`` on classes."""
    return _marked(True)


def traced() -> Any:
    """Within it (the cell's own code), reductions behave as in a plain run."""
    return _marked(False)

"""Work done when the process exits normally, behind one ``atexit`` callback.

The extension writes deferred records at exit (use records, cells that run, learned costs,
removals of old files). Each part registers here instead of with :mod:`atexit`, so whether
a session ran ``%%persist`` cells, opened a store or stored anything, ``atexit`` holds what
it holds in a plain session with the extension loaded: the one callback registered when this
module is first imported.
"""

from __future__ import annotations

import atexit
from collections.abc import Callable
from typing import Any

__all__ = ["at_exit"]

_HOOKS: list[Callable[[], Any]] = []


def at_exit(hook: Callable[[], Any]) -> None:
    """Call ``hook()`` when the process exits normally; the last registered runs first, as
    with :func:`atexit.register`, and one that raises does not keep the others from running."""
    _HOOKS.append(hook)


def _run_hooks() -> None:
    while _HOOKS:  # popped: a hook may register another (a flush that opens a store)
        hook = _HOOKS.pop()
        try:
            hook()
        except Exception:  # a failed flush loses its own records only
            pass


atexit.register(_run_hooks)

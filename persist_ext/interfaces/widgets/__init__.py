"""Widget renderers (ipywidgets / anywidget). Importing this package does not import ipywidgets.

``live_progress(source)`` is the factory ``persist_ext/__init__.py`` registers with
``persist_ext.features._progress.register_live_renderer``; ``ProgressWidget`` is loaded on
first attribute access.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ProgressWidget", "live_progress"]


def live_progress(source: Any) -> Any:
    """Build the live display for ``source`` (imports ipywidgets on first use).

    Sources that notify observers in-process (a Tracker driven by a loop in the cell) get
    the push-driven :class:`ProgressWidget`; any other source (a task group whose work runs
    in other processes) gets the store-polling task view, which keeps updating after the
    cell returns.
    """
    if callable(getattr(source, "add_observer", None)):
        from ._progress import live_progress as _live_progress

        return _live_progress(source)
    from ._tasks import TaskGroupProgress

    return TaskGroupProgress(source)


def __getattr__(name: str) -> Any:
    if name == "ProgressWidget":
        from ._progress import ProgressWidget

        return ProgressWidget
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

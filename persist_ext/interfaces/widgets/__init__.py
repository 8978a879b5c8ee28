"""Widget renderers (ipywidgets / anywidget). Importing this package does not import ipywidgets.

``live_progress(source)`` and ``watch_run_in_kernel(source)`` are the factories
``persist_ext/__init__.py`` registers with ``persist_ext.features._progress``
(``register_live_renderer``, ``register_run_watch``); ``ProgressWidget`` is loaded on first
attribute access. Every display is a ``_live.LiveDisplay``.
"""

from __future__ import annotations

import html
from typing import Any

__all__ = ["ProgressWidget", "live_progress", "watch_run_in_kernel"]


def watch_run_in_kernel(source: Any) -> Any:
    """The run watch of a task group's ``run()`` (see ``_live.KernelRunWatch``)."""
    from ._kernel import KernelRunWatch

    return KernelRunWatch(source)


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

    if TaskGroupProgress.showing(source):
        # `display_tasks(group)` then `group.run()`: one live view of a group is enough.
        return _ShownAbove(source)
    return TaskGroupProgress(source)


class _ShownAbove:
    """Displayed instead of a second live view of a source that is already on screen."""

    def __init__(self, source: Any) -> None:
        self.title = getattr(source.progress(), "title", "")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, str]:
        text = f"{self.title}: live progress is shown above."
        return {"text/plain": text, "text/html": f"<i>{html.escape(text)}</i>"}


def __getattr__(name: str) -> Any:
    if name == "ProgressWidget":
        from ._progress import ProgressWidget

        return ProgressWidget
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

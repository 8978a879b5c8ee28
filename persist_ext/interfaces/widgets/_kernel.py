"""The kernel side of every display: cell boundaries, task-group runs, callback output.

:class:`_Cells` hooks IPython's ``pre_run_cell`` / ``post_run_cell`` once: it knows which
cell runs, and at the end of each cell it waits for running task groups when the run is
non-interactive (:func:`kernel_waits`, see ``WaitPolicy``) and then lets every shown
:class:`~._live.LiveDisplay` re-read and re-publish its state. :class:`KernelRunWatch` is what
``TaskGroup.run()`` gets from ``watch_run`` in a kernel: it re-reads the group's displays when
the run ends and sends the completion callback's output to the cell that started the run.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ...features._progress import RunWatch, running_work, wait_policy
from ._live import LiveDisplay, _shell, displays_of

__all__ = ["KernelRunWatch", "headless", "kernel_waits"]

log = logging.getLogger("persist_ext")


# --- cells: what happens at the end of each one ------------------------------------------


def _parent_request(shell: Any) -> dict[str, Any]:
    kernel = getattr(shell, "kernel", None)
    get_parent = getattr(kernel, "get_parent", None)
    if not callable(get_parent):
        return {}
    try:
        return get_parent("shell") or {}
    except Exception:  # an older ipykernel without channels
        return {}


def kernel_waits(shell: Any = None) -> bool:
    """Whether the cell now running waits, at its end, for work still running.

    ``auto`` waits when the request did not allow stdin: nbclient (nbconvert, papermill)
    sends ``allow_stdin=False``; JupyterLab, Notebook 7 and VS Code send True.
    """
    policy = wait_policy()
    if policy.mode != "auto":
        return policy.mode == "always"
    return headless(shell)


def headless(shell: Any = None) -> bool:
    """Whether the request now running comes from nbclient (nbconvert, papermill): it does
    not allow stdin, where JupyterLab, Notebook 7 and VS Code do (a terminal IPython has no
    request: interactive)."""
    shell = shell if shell is not None else _shell()
    request = _parent_request(shell)
    if not request:
        return False
    return not request.get("content", {}).get("allow_stdin", True)


class _Cells:
    """The kernel's cell boundaries: which cell runs, and the work done at each cell's end."""

    _instance: _Cells | None = None
    _install_lock = threading.Lock()

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.lock = threading.RLock()
        self.current: str | None = self._msg_id() if _executing(shell) else None
        self._shown: weakref.WeakSet[LiveDisplay] = weakref.WeakSet()
        self._this_cell: weakref.WeakSet[LiveDisplay] = weakref.WeakSet()
        shell.events.register("pre_run_cell", self._pre)
        shell.events.register("post_run_cell", self._post)

    @classmethod
    def install(cls) -> _Cells | None:
        """The instance for the running IPython shell (registered once), or None."""
        shell = _shell()
        if shell is None:
            return None
        with cls._install_lock:
            if cls._instance is None or cls._instance.shell is not shell:
                cls._instance = cls(shell)
            return cls._instance

    def _msg_id(self) -> str:
        request = _parent_request(self.shell)
        return str(request.get("header", {}).get("msg_id") or uuid.uuid4().hex)

    def shown(self, display: LiveDisplay) -> None:
        self._shown.add(display)
        self._this_cell.add(display)

    def _pre(self, *_args: Any) -> None:
        with self.lock:
            self.current = self._msg_id()
            self._this_cell = weakref.WeakSet()

    def _post(self, *_args: Any) -> None:
        try:
            if kernel_waits(self.shell):
                timeout = wait_policy().timeout
                for watch in running_work():
                    watch.wait(timeout)
            own = set(self._this_cell)
            # Headless, the saved notebook is all there is: every display whose numbers
            # changed is re-published, whichever cell showed it (nbclient applies updates by
            # display id). Interactive front ends follow the widget instead.
            everywhere = headless(self.shell)
            for display in list(self._shown):
                display._cell_ended(own=everywhere or display in own)
        finally:
            with self.lock:
                self.current = None


def _executing(shell: Any) -> bool:
    # A cell is running when the main thread serves an execute request (not, e.g., a widget
    # button's comm message).
    if threading.current_thread() is not threading.main_thread():
        return False
    header = _parent_request(shell).get("header", {})
    return header.get("msg_type") == "execute_request"


# --- task-group runs -----------------------------------------------------------------------


class _ThreadOutput(io.TextIOBase):
    """``sys.stdout`` / ``sys.stderr`` stand-in that diverts writes of one thread to a buffer."""

    def __init__(self, original: Any, thread: threading.Thread, sink: io.StringIO) -> None:
        self.original, self.thread, self.sink = original, thread, sink

    def write(self, text: str) -> int:
        if threading.current_thread() is self.thread:
            return self.sink.write(text)
        return int(self.original.write(text) or 0)

    def flush(self) -> None:
        if threading.current_thread() is not self.thread:
            self.original.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)


@contextmanager
def _captured_thread_output() -> Iterator[io.StringIO]:
    # Only this thread's output is diverted: the main thread may be printing in another cell.
    sink = io.StringIO()
    thread = threading.current_thread()
    out = _ThreadOutput(sys.stdout, thread, sink)
    err = _ThreadOutput(sys.stderr, thread, sink)
    sys.stdout, sys.stderr = out, err  # type: ignore[assignment]
    try:
        yield sink
    finally:
        # Someone may have replaced them meanwhile; then ours are pass-throughs left in place.
        if sys.stdout is out:
            sys.stdout = out.original
        if sys.stderr is err:
            sys.stderr = err.original


class _CallbackOutput:
    """Where ``on_complete`` prints when its group's cell has ended: an Output widget there."""

    def __init__(self, title: str) -> None:
        import ipywidgets as widgets

        self.title = title
        self.widget = widgets.Output()
        self.widget.add_class("persist-ext-callback-output")
        self.text = ""
        self.display_id = uuid.uuid4().hex

    def bundle(self) -> dict[str, Any]:
        data: dict[str, Any] = dict(self.widget._repr_mimebundle_() or {})
        data["text/plain"] = self.text
        return data

    def show(self) -> None:
        from IPython.display import display

        display(self.bundle(), raw=True, display_id=self.display_id)

    def append(self, text: str) -> None:
        from IPython.display import update_display

        self.text += text
        self.widget.append_stdout(text)  # a comm message: reaches the cell at any time
        # Front ends that apply a late update (nbclient, the classic notebook) keep plain text:
        # what a saved notebook and its HTML show without a widget manager. JupyterLab and
        # Notebook 7 ignore it and show the widget.
        update_display({"text/plain": self.text}, raw=True, display_id=self.display_id)


class KernelRunWatch(RunWatch):
    """A run in a kernel: refreshes its displays when it ends and routes its callback output.

    Created by ``watch_run`` (registered by ``persist_ext/__init__.py``) when a task group
    starts a run.
    """

    def __init__(self, source: Any) -> None:
        super().__init__(source)
        cells = _Cells.install()
        self._cells = cells
        self._origin: str | None = None
        self._output: _CallbackOutput | None = None
        for display in displays_of(source):
            display.revive()
        if cells is None or not _executing(cells.shell):
            return
        with cells.lock:
            self._origin = cells.current
        if getattr(source, "on_complete", None) is not None and not kernel_waits(cells.shell):
            # An interactive run: the callback will most likely fire after this cell has
            # ended, when only widgets still reach it.
            self._output = _CallbackOutput(str(getattr(source, "name", "")))
            self._output.show()

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        cells = self._cells
        if cells is None or self._origin is None:
            return fn(*args)
        with cells.lock:
            if cells.current == self._origin:
                # The cell that started the run is still running (it waits, or the run was
                # short): output from this thread goes to the kernel's current request.
                return fn(*args)
        with _captured_thread_output() as sink:
            try:
                return fn(*args)
            finally:
                self._deliver(sink.getvalue())

    def _deliver(self, text: str) -> None:
        if not text:
            return
        if self._output is not None:
            self._output.append(text)
            return
        # No output area in the starting cell (it waited, then timed out): say whose output
        # this is, wherever output goes now.
        name = getattr(self.source, "name", "")
        sys.stdout.write(f"[on_complete of task group {name!r}, started in an earlier cell]\n")
        sys.stdout.write(text)

    def ended(self) -> None:
        # Runs in the group's thread before it reports the run over, so close() (which waits
        # for it) cannot close the store before the displays read their final state.
        for display in displays_of(self.source):
            try:
                display.refresh()
            except Exception as exc:
                log.debug("persist_ext display: final refresh failed: %s", exc)
        super().ended()

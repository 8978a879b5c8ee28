"""Run a cell while recording its outputs in order, and replay recorded outputs.

The cell's body runs through IPython's own steps (:func:`_run_cell`: its transform, compile
cache, display hook and error display, so IPython syntax, the last-expression display, ``;``
suppression, tracebacks and ``post_execute`` hooks such as matplotlib's inline
``flush_figures`` behave exactly as in a bare cell) while three taps record what the user
sees, in one ordered list:

* ``sys.stdout`` / ``sys.stderr`` are wrapped by a tee that forwards every write (and the
  streams' own ``write``, which a logging handler made earlier holds, goes through it too);
* ``shell.display_pub.publish`` / ``clear_output`` (``display()``, rich reprs, figures);
* ``shell.displayhook.write_format_data`` (the value of the last expression).

``IPython.utils.capture.capture_output`` captures display data too, but it swallows the
outputs during the run and loses the interleaving of text and displays; a cached cell must
look the same on its first run as on its replays.

Recorded events are plain JSON-ready dicts::

    {"kind": "stream", "name": "stdout", "text": "..."}
    {"kind": "display", "data": {...}, "metadata": {...}, "transient": {...}, "update": False}
    {"kind": "result", "data": {...}, "metadata": {...}}
    {"kind": "clear", "wait": False}
"""

from __future__ import annotations

import asyncio
import codeop
import contextlib
import re
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from IPython.core import interactiveshell as _interactiveshell
from IPython.core.async_helpers import _pseudo_sync_runner
from IPython.core.error import InputRejected
from IPython.core.inputtransformer2 import TransformerManager as _TransformerManager
from IPython.core.interactiveshell import ExecutionInfo, ExecutionResult

from ...storage._usercode import type_module
from .._covars import import_quietly
from .._slotnames import traced
from ._analysis import analyze_cell, take_tree
from ._costs import CollectorClock, without_import_timer
from ._warned import filters_version, forget_shown_warnings

__all__ = [
    "RunOutcome",
    "awaits_in_running_loop",
    "recording",
    "replay_outputs",
    "run_plain",
    "run_recorded",
    "running_cell_number",
    "shown_as_recorded",
    "transformed",
    "unmagic_history",
]

# A widget view refers to a comm model that only exists in the kernel that made it; replayed
# after a restart it would render as an error, so that MIME type is not recorded.
_NO_RESULT: Any = object()
# Marks a stream event written while the display hook formatted the cell's result.
FORMATTING = "formatting"
_VOLATILE_MIME = frozenset({"application/vnd.jupyter.widget-view+json"})


@dataclass
class RunOutcome:
    """What happened when a cell ran under :func:`run_recorded`."""

    outputs: list[dict[str, Any]] = field(default_factory=list)
    #: Seconds the run took, without full garbage collections (``collected``): what running
    #: it again costs (:class:`~._costs.CollectorClock`).
    duration: float = 0.0
    collected: float = 0.0  # seconds of full garbage collections during the run
    error: BaseException | None = None
    result: Any = None  # the value of the last expression, when it was displayed
    has_result: bool = False
    widgets: bool = False  # it showed a widget, which lives only in the kernel that made it
    tracebacks: bool = False  # a traceback was shown though the cell ran (a formatter raised)


class _Tee:
    """Forward writes to the real stream and record them (unless IPython itself is writing)."""

    def __init__(self, stream: Any, name: str, sink: _Sink) -> None:
        self._stream = stream
        self._write = stream.write  # bound before the stream's own write is tapped
        self._name = name
        self._sink = sink

    def write(self, text: str) -> int:
        if text and not self._sink.shell_is_writing():
            # Before the write: whether the kernel already sent what was written earlier.
            self._sink.stream(self._name, text, self._stream)
        return self._write(text)  # type: ignore[no-any-return]

    @property
    def tappable(self) -> bool:
        """Whether :meth:`tap` can route the real stream's own ``write`` (not a C stream)."""
        return isinstance(getattr(self._stream, "__dict__", None), dict)

    def tap(self) -> Any:
        """The real stream's own ``write`` routed through this tee, for the block: code
        holding the stream itself (a logging handler an earlier cell's ``basicConfig``
        made, ``err = sys.stderr``) writes there, not to ``sys.stderr``."""
        if not self.tappable:
            return contextlib.nullcontext()  # a C stream (terminal): no instance attribute
        return _patched(self._stream, "write", self.write)

    @property
    def stream(self) -> Any:
        """The real stream this tee forwards to."""
        return self._stream

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _Sink:
    def __init__(self, shell: Any, seen: dict[str, bool] | None = None) -> None:
        self.shell = shell
        self.events: list[dict[str, Any]] = []
        self.seen = seen if seen is not None else {}
        self._held: dict[str, str] = {}  # kernel stream text not sent yet, by first write
        self._kernel_streams: dict[str, Any] = {}
        self.warned: list[dict[str, Any]] = []  # warnings shown, in order (see _WarningTap)
        self.stderr_taps: list[list[str]] = []  # stderr text written while one is shown
        # True while the display hook formats the cell's result: what the value's own code
        # prints then (a ``__repr__`` that prints) is marked, see replay_outputs.
        self.formatting = False

    def shell_is_writing(self) -> bool:
        # The plain terminal shell prints display data, ``Out[n]`` and tracebacks to
        # sys.stdout; those are recorded through their own taps (or not at all).
        return bool(
            getattr(self.shell.display_pub, "is_publishing", False)
            or getattr(self.shell.displayhook, "is_active", False)
            or getattr(self.shell, "showing_traceback", False)
        )

    def stream(self, name: str, text: str, real: Any = None) -> None:
        """Record ``text`` written to stream ``name`` in the order the front end shows it.

        A kernel's stream (ipykernel's ``OutStream``) sends what was written in batches: on
        a timer (``flush_interval`` after the first unsent write), and before every display,
        result or clear, stdout first. So ``print(a, file=sys.stderr); print(b)`` shows b
        before a. Text is held per stream until the kernel has sent it (its
        ``_flush_pending`` is false again) or a flush point comes, and recorded then: a
        replay, which writes and flushes each event in turn, shows the same order.
        """
        if name == "stderr":
            for tap in self.stderr_taps:
                tap.append(text)
        if self.formatting:
            # Written while the result is formatted, so shown before it: an event of its own.
            self.flush_held()
            self.events.append({"kind": "stream", "name": name, "text": text, FORMATTING: True})
            return
        if not isinstance(getattr(real, "_flush_pending", None), bool):
            self._append(name, text)  # a plain stream (terminal IPython): as written
            return
        self._kernel_streams[name] = real
        for held in list(self._held):  # in the order their batches started
            if not self._kernel_streams[held]._flush_pending:
                self._append(held, self._held.pop(held))  # sent by the kernel's timer
        self._held[name] = self._held.get(name, "") + text

    def flush_held(self) -> None:
        """A flush point (display, result, clear, the end of the cell): stdout, then stderr."""
        for name in ("stdout", "stderr"):
            if name in self._held:
                self._append(name, self._held.pop(name))

    def _append(self, name: str, text: str) -> None:
        last = self.events[-1] if self.events else None
        if (
            last is not None
            and last["kind"] == "stream"
            and last["name"] == name
            and not last.get(FORMATTING)
        ):
            last["text"] += text
        else:
            self.events.append({"kind": "stream", "name": name, "text": text})

    def display(self, kind: str, data: Any, metadata: Any, **extra: Any) -> None:
        self.flush_held()
        kept = {k: v for k, v in dict(data or {}).items() if k not in _VOLATILE_MIME}
        if len(kept) != len(data or {}):
            self.seen["widgets"] = True
        if not kept:
            return
        self.events.append({"kind": kind, "data": kept, "metadata": dict(metadata or {}), **extra})


class _WarningTap:
    """``warnings._showwarnmsg`` while a cell is recorded: notes each warning shown, with
    the text it wrote to stderr and the module whose registry remembers it.

    A warning shown once (the ``default`` action) is not shown again from the same place:
    the module's ``__warningregistry__`` remembers it. A hit that showed the recorded text
    as is would show it where a re-run shows nothing (the same cell run again in the
    kernel), and leave the registry unmarked, so a later cell would show it where a plain
    run does not. :func:`replay_outputs` issues each warning again instead
    (:func:`_reissued`): the filters and registries in force decide, as in a plain run.

    Code that changes the filters (scikit-learn enters ``catch_warnings`` around its
    metrics and jobs) makes every registry forget what it showed: a plain run shows the
    same warning again after that, from the same line, in this cell or a later one. Where
    the filters version moved during the run (before a warning shown, or after the last),
    a reset is recorded in its place, and a hit resets the registries there too
    (:func:`forget_shown_warnings`).
    """

    def __init__(self, sink: _Sink, original: Any) -> None:
        self.sink, self.original = sink, original
        self.version = filters_version()

    def note_reset(self) -> None:
        """Record a reset if the filters version moved since the last look."""
        version = filters_version()
        if version is not None and self.version is not None and version != self.version:
            self.sink.warned.append({"kind": _RESET})
        self.version = version

    def __call__(self, msg: Any) -> Any:
        tap: list[str] = []
        self.sink.stderr_taps.append(tap)
        try:
            return self.original(msg)
        finally:
            self.sink.stderr_taps.remove(tap)
            text = "".join(tap)
            if text:
                try:
                    self._note(msg, text)
                except Exception:  # never change what the warning does; its text replays
                    pass

    def _note(self, msg: Any, text: str) -> None:
        self.note_reset()
        category, lineno = msg.category, msg.lineno
        module = _issuing_module(msg.filename, lineno)
        if module is None or not isinstance(category, type):
            return
        self.sink.warned.append(
            {
                "kind": _WARNED,
                "category": f"{category.__module__}:{category.__qualname__}",
                "message": str(msg.message),
                "filename": str(msg.filename),
                "lineno": int(lineno),
                "module": module,
                "shown": text,
            }
        )


_WARNED = "warned"
_RESET = "warnings reset"  # the filters version moved: registries forget what they showed


def shown_count(outputs: list[dict[str, Any]]) -> int:
    """How many of the recorded events are outputs the cell showed (a warning's record and
    a registry reset are not: the warning's text is in its stderr stream).

    >>> shown_count([{"kind": _RESET}, {"kind": "stream", "name": "stdout", "text": "1\\n"}])
    1
    """
    return sum(1 for event in outputs if event.get("kind") not in (_WARNED, _RESET))


def _issuing_module(filename: Any, lineno: Any) -> str | None:
    """The module (``__name__`` of the frame's globals) whose code issued the warning shown
    now: the frame at its file and line, whose globals hold the registry that remembers it."""
    frame: Any = sys._getframe(2)
    for _ in range(64):
        if frame is None:
            return None
        if frame.f_code.co_filename == filename and frame.f_lineno == lineno:
            name = frame.f_globals.get("__name__")
            return name if isinstance(name, str) else None
        frame = frame.f_back
    return None


def _reissued(shell: Any, record: dict[str, Any]) -> bool:
    """Issue a recorded warning again (its registry and the filters decide, and remember it,
    as in a plain run); whether it would be shown. Unknown parts: it is shown."""
    try:
        module_name, _, qualname = record["category"].partition(":")
        category: Any = sys.modules.get(module_name) or import_quietly(module_name)
        for part in qualname.split("."):
            category = getattr(category, part)
        if not (isinstance(category, type) and issubclass(category, Warning)):
            return True
        module = record["module"]
        ns = getattr(shell, "user_ns", None) or {}
        if module == ns.get("__name__", "__main__"):
            where = ns
        else:
            where = vars(sys.modules.get(module) or import_quietly(module))
        registry = where.setdefault("__warningregistry__", {})
    except Exception:
        return True
    shown: list[Any] = []
    try:
        with _patched(warnings, "_showwarnmsg", shown.append):
            warnings.warn_explicit(
                record["message"],
                category,
                record["filename"],
                record["lineno"],
                module=module,
                registry=registry,
            )
    except Exception:  # the filters now raise it: the entry's checks make the cell run first
        return True
    return bool(shown)


class _patched:
    """Set an instance attribute for the duration of the block, then remove it again.

    A class rather than a ``@contextmanager`` generator: a cached cell's run patches about
    ten attributes, and a generator-based manager costs about three times as much each.
    """

    __slots__ = ("_had_own", "_name", "_obj", "_previous", "_replacement")

    def __init__(self, obj: Any, name: str, replacement: Any) -> None:
        self._obj, self._name, self._replacement = obj, name, replacement
        self._had_own = False
        self._previous: Any = None

    def __enter__(self) -> None:
        own = vars(self._obj)
        self._had_own = self._name in own
        self._previous = own.get(self._name)
        setattr(self._obj, self._name, self._replacement)

    def __exit__(self, *exc: object) -> None:
        if self._had_own:
            setattr(self._obj, self._name, self._previous)
        else:
            try:
                delattr(self._obj, self._name)
            except AttributeError:
                pass


@contextmanager
def recording(
    shell: Any,
    source: str | None = None,
    seen: dict[str, bool] | None = None,
    displayed: list[Any] | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """Record everything the shell shows during the block; yields the event list.

    With ``source`` (the cell being run), a trailing ``;`` in it silences the last
    expression as in a plain cell (the shell would otherwise look at the ``%%persist``
    cell's own text). ``seen["widgets"]`` is set when a widget was shown (not recorded).
    ``displayed`` receives each value the display hook shows as a result, in order.

    Examples
    --------
    >>> from IPython.testing.globalipapp import get_ipython  # the shell tests share
    >>> shell = get_ipython()
    >>> with recording(shell) as events:
    ...     print("hello")
    hello
    >>> events
    [{'kind': 'stream', 'name': 'stdout', 'text': 'hello\\n'}]
    """
    sink = _Sink(shell, seen)
    pub = shell.display_pub
    hook = shell.displayhook
    original_publish = pub.publish
    original_clear = pub.clear_output
    original_write = hook.write_format_data

    def publish(data: Any, metadata: Any = None, *args: Any, **kwargs: Any) -> Any:
        sink.display(
            "display",
            data,
            metadata,
            transient=kwargs.get("transient"),
            update=bool(kwargs.get("update", False)),
        )
        return original_publish(data, metadata, *args, **kwargs)

    def clear_output(wait: bool = False) -> Any:
        sink.flush_held()
        sink.events.append({"kind": "clear", "wait": bool(wait)})
        return original_clear(wait)

    def write_format_data(format_dict: Any, md_dict: Any = None) -> Any:
        sink.display("result", format_dict, md_dict)
        return original_write(format_dict, md_dict)

    original_format = hook.compute_format_data

    def compute_format_data(value: Any) -> Any:
        sink.formatting = True
        try:
            return original_format(value)
        finally:
            sink.formatting = False

    original_fill = hook.fill_exec_result

    def fill_exec_result(value: Any) -> Any:
        # The value shown as the cell's result, kept here too: a ``run_cell`` the cell makes
        # itself ends by dropping the display hook's reference to the running cell's
        # result, which then never receives it.
        if displayed is not None:
            displayed.append(value)
        return original_fill(value)

    def quiet() -> bool:
        return bool(hook.semicolon_at_end_of_expression(source or ""))

    out, err = _Tee(sys.stdout, "stdout", sink), _Tee(sys.stderr, "stderr", sink)
    tap = _WarningTap(sink, warnings._showwarnmsg)  # type: ignore[attr-defined]
    # The kernel's streams are tapped in place (their own ``write``), not replaced: a cell
    # binding ``out = sys.stdout`` or making a handler that keeps ``sys.stderr`` holds the
    # kernel's stream itself, as in a plain run, not a tee of ours outliving the cell. Only
    # a stream that cannot be tapped (a C stream: a terminal) is replaced for the block.
    replaced = [(name, tee) for name, tee in (("stdout", out), ("stderr", err)) if not tee.tappable]
    for name, tee in replaced:
        setattr(sys, name, tee)
    try:
        with (
            out.tap(),
            err.tap(),
            _patched(pub, "publish", publish),
            _patched(pub, "clear_output", clear_output),
            _patched(hook, "write_format_data", write_format_data),
            _patched(hook, "compute_format_data", compute_format_data),
            _patched(hook, "fill_exec_result", fill_exec_result),
            _patched(hook, "quiet", quiet if source is not None else hook.quiet),
            _patched(warnings, "_showwarnmsg", tap),
        ):
            yield sink.events
    finally:
        tap.note_reset()
        sink.flush_held()
        # First: the last event is the cell's last output (``ends_in_open_line``).
        sink.events[:0] = sink.warned
        # Only undo our own wrappers: a cell that replaced sys.stdout for good keeps its own.
        for name, tee in replaced:
            if getattr(sys, name) is tee:
                setattr(sys, name, tee.stream)


_TRANSFORMED: dict[str, str] = {}
# The transform made afresh by the last call of transformed(), if that call made one: the
# body's run moments later reuses it (nothing ran in between that could
# change what the transformers give: same namespace, same transformers).
_FRESH: list[tuple[str, str] | None] = [None]


def transformed(shell: Any, cell: str, *, new_run: bool = False) -> str:
    """``shell.transform_cell(cell)``, remembered by text (the same cell runs many times).

    A cell magic's body and the text its run executes differ by the final newline, which
    IPython's static transforms add anyway: both are remembered as one, and transformed as
    the body (the text with its final newline), which is what the plain cell is transformed
    as. A body ending in a blank line keeps it: the plain cell's code has that line, and a
    traceback of an error on one of the last lines shows it. ``new_run``: a new cell run
    starts (what an earlier run transformed afresh is not reused by this one).
    """
    cell = cell[:-1] if cell.endswith("\n") else cell
    found = _TRANSFORMED.get(cell)
    if new_run or (_FRESH[0] is not None and _FRESH[0][0] != cell):
        _FRESH[0] = None
    if found is None:
        found = _untouched(shell, cell + "\n")
        if found is None:
            found = shell.transform_cell(cell + "\n")
        if len(_TRANSFORMED) > 1024:
            _TRANSFORMED.clear()
        _TRANSFORMED[cell] = found
        _FRESH[0] = (cell, found)
    return found


# What IPython's static transforms act on: magics, shell escapes and help (``%``, ``!``,
# ``?``), a line starting with an autocall escape (``,`` ``;`` ``/``), pasted prompts
# (``>>>``, ``...``, ``In [``), and what dedenting changes (a first line indented, a line of
# only blanks, which dedent empties). A cell with none of these comes back as it is.
_IPYTHON_SYNTAX = re.compile(r"[%!?\r]|>>>|^[ \t]*(?:[,;/]|\.\.\.|In \[)|^[ \t\f\v]+$", re.M)
NEUTRAL_TRANSFORMERS: list[Any] = []
"""Input transformers of the shell that change no cell without ``%`` (this package's own,
such as the runs index's): while only these and IPython's are installed, :func:`transformed`
may take its fast path. Any other transformer makes it ask IPython."""


def _untouched(shell: Any, cell: str) -> str | None:
    """``shell.transform_cell(cell)`` without tokenizing the cell (the most part of its
    40-100 µs), when IPython's transforms would leave it as it is: plain Python (see
    :data:`_IPYTHON_SYNTAX`) and only IPython's own transformers installed, plus those in
    :data:`NEUTRAL_TRANSFORMERS`. A one-line cell still goes through IPython's prefilter,
    as in ``transform_cell`` (``who`` is ``%who``). ``None``: ask IPython."""
    if not cell or cell[0] in " \t\n" or _IPYTHON_SYNTAX.search(cell):
        return None
    manager = getattr(shell, "input_transformer_manager", None)
    if (
        type(manager) is not _TransformerManager
        or getattr(shell, "input_transformers_post", None)
        or manager.line_transforms != _DEFAULT[1]
        or manager.token_transformers != _DEFAULT[2]
        or any(
            t not in _DEFAULT[0] and t not in NEUTRAL_TRANSFORMERS
            for t in manager.cleanup_transforms
        )
    ):
        return None
    text = cell if cell.endswith("\n") else cell + "\n"
    if len(text.splitlines()) == 1:
        # One line: IPython's dynamic transforms (automagic, autocall, macros), as it does.
        with shell.builtin_trap:
            text = shell.prefilter_manager.prefilter_lines(text) + "\n"
    return text


def _default_transforms() -> tuple[list[Any], list[Any], list[Any]]:
    manager = _TransformerManager()
    return manager.cleanup_transforms, manager.line_transforms, manager.token_transformers


_DEFAULT = _default_transforms()


# How IPython's history holds a ``%%persist`` cell: the magic call its transformers make.
_MAGIC_CALL = "get_ipython().run_cell_magic('persist',"


def unmagic_history(shell: Any, source: str) -> None:
    """Make ``In[n]`` and ``_ih[-1]`` hold the cell's transformed body, as a plain cell's do
    (and as a cell the runs index knows, whose ``%%persist`` line is taken off before IPython
    sees it), not the ``run_cell_magic('persist', ...)`` call. The history database and the
    raw inputs (``_i``, ``_iN``) keep what was typed."""
    history = getattr(getattr(shell, "history_manager", None), "input_hist_parsed", None)
    if (
        isinstance(history, list)
        and history
        and isinstance(history[-1], str)
        and history[-1].startswith(_MAGIC_CALL)
    ):
        history[-1] = source.rstrip("\n")


def _transform_for_run(shell: Any, source: str) -> str:
    """The transformed text the body of this cell run executes.

    Tokenizing a cell costs 0.2-1 ms; a plain cell does it once, and so does a ``%%persist``
    cell: the transform :func:`transformed` has just made afresh for this run is reused. One
    remembered from an earlier run is not (it could predate a transformer, or an autocall
    name), nor with user ``input_transformers_post``, which are called as often as in a
    plain cell.
    """
    fresh, _FRESH[0] = _FRESH[0], None
    reusable = fresh is not None and fresh[0] == source
    if reusable and not getattr(shell, "input_transformers_post", True):
        return fresh[1]  # type: ignore[index]
    # ``source`` is the body without its final newline (see :func:`transformed`).
    text = _untouched(shell, source + "\n")
    return shell.transform_cell(source + "\n") if text is None else text


@contextmanager
def _errors_shown(shell: Any, show: bool, seen: dict[str, bool] | None = None) -> Iterator[None]:
    """With ``show=False`` the cell's traceback is not shown (the caller re-raises it).

    Other tracebacks (a display formatter that raised while the cell itself ran) are shown
    as in a plain cell, and noted in ``seen["tracebacks"]``: they are not recorded outputs.
    """
    original = shell.showtraceback

    def showtraceback(*args: Any, **kwargs: Any) -> Any:
        shown = kwargs.get("exc_tuple") or (args[0] if args else None) or sys.exc_info()
        without_import_timer(shown[1])
        if kwargs.get("running_compiled_code") or kwargs.get("exception_only"):
            if not show:
                if kwargs.get("running_compiled_code"):
                    _render_later(shell)
                return None  # the cell's own error
        elif seen is not None:
            seen["tracebacks"] = True
        return original(*args, **kwargs)

    def syntax_later(*args: Any, **kwargs: Any) -> None:
        _render_syntax_later(shell)  # the cell's own syntax error, shown by the caller

    if show:
        with _patched(shell, "showtraceback", showtraceback):
            yield
        return
    with (
        _patched(shell, "showtraceback", showtraceback),
        _patched(shell, "showsyntaxerror", syntax_later),
        _patched(shell, "showindentationerror", syntax_later),
        _patched(_interactiveshell, "warn", _warn_but_exit_hint),
    ):
        yield


def _warn_but_exit_hint(
    message: Any, category: Any = None, stacklevel: int = 1, source: Any = None, **kwargs: Any
) -> None:
    """IPython's ``warn`` while a cell's own errors are hidden: after a ``SystemExit``
    (``sys.exit()``, argparse's ``parse_args()``) IPython warns "To exit: use 'exit'...".
    The caller re-raises the exit, and IPython shows it then warns, in a plain cell's order;
    warned here too, the hint came before the error (and once only: one place warns)."""
    if isinstance(message, str) and message.startswith("To exit: use"):
        return
    # One frame deeper than IPython's call: the warning names the place IPython named.
    warnings.warn(message, category, stacklevel + 1, source, **kwargs)


class _CellTraceback:
    """An exception's ``_render_traceback_``: its cell's traceback, formatted when it was raised.

    Re-raised from the magic, the exception carries the magic's frames too: IPython would
    show them (and format every one, twice: shown and stored, which costs more than most
    failing cells). IPython uses an exception's ``_render_traceback_`` when it has one; this
    one gives the traceback a plain cell shows, formatted once. It serves only the cell that
    raised it (same execution count) and is removed when that cell ends, so a later re-raise
    of the same object is formatted afresh.
    """

    def __init__(self, shell: Any, value: BaseException, lines: list[str]) -> None:
        self.shell = shell
        self.value = value
        self.lines = lines
        self.count = shell.execution_count

    def __call__(self) -> list[str]:
        if self.shell.execution_count == self.count:
            return list(self.lines)
        value = self.value
        return list(
            self.shell.InteractiveTB.structured_traceback(type(value), value, value.__traceback__)
        )

    def show_syntax_error_as_recorded(self) -> None:
        """Until the cell ends, the shell shows this syntax error as a plain cell does.

        IPython shows a ``SyntaxError`` through ``showsyntaxerror``, which ignores
        ``_render_traceback_`` and, for one re-raised from running code, lists every frame
        (the magic's and the shell's) above the offending line.
        """
        shell = self.shell
        if "showsyntaxerror" in vars(shell):
            return  # patched by someone else meanwhile: leave theirs alone
        original = shell.showsyntaxerror

        def showsyntaxerror(*args: Any, **kwargs: Any) -> Any:
            value = sys.exc_info()[1]
            if value is self.value and shell.execution_count == self.count:
                return shell._showtraceback(type(value), value, self())
            return original(*args, **kwargs)

        shell.showsyntaxerror = showsyntaxerror
        self._shows_syntax = showsyntaxerror

    def forget(self, *_args: Any) -> None:
        """Called once, at the end of the cell (``post_run_cell``): the value is plain again."""
        try:
            self.shell.events.unregister("post_run_cell", self.forget)
        except ValueError:
            pass
        if vars(self.value).get("_render_traceback_") is self:
            del self.value._render_traceback_  # type: ignore[attr-defined]
        shows = getattr(self, "_shows_syntax", None)
        if shows is not None and vars(self.shell).get("showsyntaxerror") is shows:
            del self.shell.showsyntaxerror


def _render_later(shell: Any) -> None:
    """Format the cell's error now, as a plain cell shows it (see :class:`_CellTraceback`)."""
    _etype, value, tb = sys.exc_info()
    if value is None or tb is None or hasattr(value, "_render_traceback_"):
        return
    try:
        # tb_offset=1: the shell's own run_code frame, as for a plain cell.
        lines = list(shell.InteractiveTB.structured_traceback(type(value), value, tb, tb_offset=1))
        value._render_traceback_ = _CellTraceback(shell, value, lines)  # type: ignore[attr-defined]
    except Exception:  # IPython formats the re-raised error itself
        return


def _render_syntax_later(shell: Any) -> None:
    """Format the cell's syntax error now, as a plain cell shows it (no frames above it)."""
    etype, value, _tb = sys.exc_info()
    if not isinstance(value, SyntaxError) or hasattr(value, "_render_traceback_"):
        return
    try:
        lines = list(shell.SyntaxTB.structured_traceback(etype, value, []))
        value._render_traceback_ = _CellTraceback(shell, value, lines)  # type: ignore[attr-defined]
    except Exception:  # IPython formats the re-raised error itself
        return


def _forget_rendering_after_the_cell(shell: Any, error: BaseException | None) -> None:
    render = vars(error).get("_render_traceback_") if error is not None else None
    if isinstance(render, _CellTraceback):
        if isinstance(error, SyntaxError):
            render.show_syntax_error_as_recorded()
        # Fires at the end of the ``%%persist`` cell, once the error has been shown.
        shell.events.register("post_run_cell", render.forget)


def running_cell_number(shell: Any) -> int:
    """The number of the cell running now: the ``n`` of its ``In[n]``.

    IPython (9) numbers a cell as it starts, so while it runs ``shell.execution_count`` is
    already the next cell's number; the cell's own is on its ``ExecutionResult``, which the
    display hook holds while it runs.
    """
    running = getattr(getattr(shell, "displayhook", None), "exec_result", None)
    number = getattr(running, "execution_count", None)
    return number if isinstance(number, int) else int(shell.execution_count)


_DEPTH = re.compile(r"at the recursion depth (\d+)")
_TOP_DEPTH: list[int | None] = [None]  # the recursion depth of a top-level cell's pre_run_cell


def recursion_depth() -> int | None:
    """The interpreter's recursion depth here (what the recursion limit is counted against,
    C-level calls included), or ``None`` when this Python does not tell it."""
    limit = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(1)  # refused, naming the depth: "... at the recursion depth N"
    except RecursionError as exc:
        found = _DEPTH.search(str(exc))
        return int(found[1]) if found else None
    except Exception:
        return None
    sys.setrecursionlimit(limit)  # accepted (a Python without the check): put back
    return None


# IPython's ``await`` check (``should_run_async``) compiles the cell, and a compiler warning
# (``"is" with a literal``) shows once per check: a plain cell shows it as often as its front
# end asks (ipykernel twice, before running the cell and in ``run_cell``; a terminal once).
# [asks of the running top-level cell, asks since it started]; counted by the magics' wrapper.
_AWAIT_CHECKS = [0, 0]


def note_await_check() -> None:
    """Called each time the shell's ``should_run_async`` is asked (the magics wrap it)."""
    _AWAIT_CHECKS[1] += 1


def top_level_cell_starts() -> None:
    """``pre_run_cell`` of a top-level cell: the ``await`` checks asked so far were its own."""
    _AWAIT_CHECKS[0], _AWAIT_CHECKS[1] = _AWAIT_CHECKS[1], 0


def top_level_cell_ends() -> None:
    """``post_run_cell`` of a top-level cell: checks asked from now on are the next cell's."""
    _AWAIT_CHECKS[1] = 0


def _plain_await_checks(shell: Any, source: str, text: str, made: int) -> None:
    """The ``await`` checks a plain cell gets that this run has not ``made``: their compiler
    warnings show as the plain cell's do, before it runs. Asked only of a cell whose compile
    can warn (:attr:`CellCode.compile_warns`): a check compiles the whole cell."""
    missing = _AWAIT_CHECKS[0] - made
    if missing <= 0:
        return
    try:
        warns = analyze_cell(text).compile_warns  # analysed already: a cached lookup
    except SyntaxError:
        warns = True  # the checks fail as the plain cell's do
    for _ in range(missing if warns else 0):
        shell.should_run_async(source, transformed_cell=text, preprocessing_exc_tuple=None)


def note_top_level_cell() -> None:
    """Called from a top-level ``%%persist`` cell's ``pre_run_cell`` hook: where a plain
    cell's code starts, counted as the body's (:func:`_plain_stack_room`) is."""
    _TOP_DEPTH[0] = recursion_depth()


# How many levels deeper the body's code runs than _plain_stack_room's measure, less how many a
# plain cell's code runs below its pre_run_cell hook's measure (note_top_level_cell). To within
# a few levels: C-level calls between the measures count or not as the interpreter specializes
# the code (one level in a warm process here, two in one CI run):
# tests/unit/test_cellcache_capture.py recurses as deep as it can both ways.
_BELOW_HOOK = 3


@contextmanager
def _plain_stack_room() -> Iterator[None]:
    """The body gets the stack room a plain cell's code has.

    It runs a dozen levels deeper than the same plain cell (the cell's magic call, the
    magic, the cache), so a recursion that fits in a plain cell raised RecursionError, and
    one that fails anyway failed elsewhere, with another message (pytudes' Mean Misanthrope
    Density: "maximum recursion depth exceeded while calling a Python object"). The
    recursion limit is raised by the difference while the body runs, and put back after,
    unless the cell set a limit of its own. Called directly from :func:`_run_cell`, whose
    depth it measures.
    """
    outer = _TOP_DEPTH[0]
    inner = recursion_depth() if outer is not None else None
    if outer is None or inner is None or inner + _BELOW_HOOK <= outer:
        yield
        return
    raised = inner + _BELOW_HOOK - outer
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(limit + raised)
    try:
        yield
    finally:
        if sys.getrecursionlimit() == limit + raised:
            sys.setrecursionlimit(limit)


def _run_cell(shell: Any, source: str) -> Any:
    """Run a cell magic's body as the cell's own code; the shell's ``ExecutionResult``.

    What ``shell.run_cell`` does for a cell, without what the ``%%persist`` cell around it
    has done already: no second ``pre_run_cell``/``post_run_cell`` and ``pre_execute``
    events, no second history or output tee, no ``await`` check of a text without ``await``
    or ``async``. That machinery cost a cold cell as much again as a plain cell's (~0.15 ms
    CPU in a kernel). IPython's own steps are kept, in its order: the compile cache names
    the code ``In[n]`` as a plain cell's (tracebacks cite it), syntax and transform errors
    are shown as it shows them, the last expression goes through the display hook (``Out``,
    ``_``, ``;``), and a cell that succeeded gets its ``post_execute`` hooks at once
    (matplotlib's inline figures are shown there, while the outputs are still recorded;
    a failing cell leaves them to the ``%%persist`` cell, after its error, as in a plain
    cell).
    """
    # A cell magic's body ends with the newline IPython adds; without it the shell names the
    # cell's code exactly as it names the same plain cell (error messages cite that name).
    source = source[:-1] if source.endswith("\n") else source
    info = ExecutionInfo(
        raw_cell=source, store_history=False, silent=False, shell_futures=True, cell_id=None
    )
    result = ExecutionResult(info)
    if not source or source.isspace():
        return result
    try:
        text = _transform_for_run(shell, source)
    except Exception as exc:
        shell.showtraceback(sys.exc_info())
        result.error_before_exec = exc
        return result
    made = 0 if shell.trio_runner or not _may_be_async(source) else 1  # see _runner_for
    _plain_await_checks(shell, source, text, made)
    shell.logger.log(text, source)
    compiler = shell.compile
    hook = shell.displayhook
    with shell.builtin_trap:
        raw = _plain_raw_cell(shell, source)
        name = compiler.cache(text, running_cell_number(shell), raw_code=raw)
        with shell.display_trap:
            try:
                tree = shell.transform_ast(_parsed(shell, text, name))
            except BaseException as exc:
                if not _shown_as_ipython_shows(shell, exc):
                    raise
                result.error_before_exec = exc
                return result
            runner = _runner_for(shell, source, text)
            running, hook.exec_result = hook.exec_result, result
            try:
                with _plain_stack_room():
                    nodes = shell.run_ast_nodes(
                        tree.body,
                        name,
                        interactivity=shell.ast_node_interactivity,
                        compiler=compiler,
                        result=result,
                    )
                    runner(nodes)
            except BaseException as exc:  # what IPython's run_cell does with a runner's error
                result.error_in_exec = exc
                shell.showtraceback(running_compiled_code=True)
            finally:
                hook.exec_result = running
    if result.success:
        shell.events.trigger("post_execute")
    return result


# The flags of a compiler no ``from __future__`` import has changed (IPython's is one): the
# tree it makes is then the one ``ast.parse`` makes (tests/unit/test_cellcache_capture.py).
_PLAIN_PARSE = codeop.Compile().flags


def _parsed(shell: Any, text: str, name: str) -> Any:
    """The tree of ``text`` to run: the one the analysis made of it just now when that is the
    tree the shell's compiler would make (no ``__future__`` flag, no AST transformer to
    change it), else the compiler's own parse."""
    compiler = shell.compile
    if compiler.flags & ~_PLAIN_PARSE == 0 and not shell.ast_transformers:
        tree = take_tree(text)
        if tree is not None:
            return tree
    return compiler.ast_parse(text, filename=name)


def _plain_raw_cell(shell: Any, source: str) -> str:
    """The text of the same cell without its ``%%persist`` line, as the plain cell has it.

    IPython names a cell's code after a hash of its raw text (ipykernel:
    ``/tmp/ipykernel_<pid>/<hash>.py``), which a ``SyntaxError`` and a warning cite. A cell
    magic's body is not that text: IPython ends it with a newline and empties lines of
    blanks, so a cell ending in a newline or holding a line of spaces was named otherwise
    than the plain cell. The running cell's raw text after its first line is; ``source``
    when this body is not that cell's (the magic called from code).
    """
    running = getattr(getattr(shell, "displayhook", None), "exec_result", None)
    raw = getattr(getattr(running, "info", None), "raw_cell", None)
    if not isinstance(raw, str):
        return source
    first, newline, rest = raw.partition("\n")
    if not newline or not first.lstrip().startswith("%%persist") or rest.split() != source.split():
        return source
    return rest


def _shown_as_ipython_shows(shell: Any, exc: BaseException) -> bool:
    """Show an error raised before the cell's code ran (parse, AST transform) as
    ``run_cell`` shows it; ``False``: not one ``run_cell`` shows."""
    if isinstance(exc, shell.custom_exceptions):
        shell.CustomTB(*sys.exc_info())
    elif isinstance(exc, IndentationError):
        shell.showindentationerror()
    elif isinstance(exc, (OverflowError, SyntaxError, ValueError, TypeError, MemoryError)):
        shell.showsyntaxerror()
    elif isinstance(exc, InputRejected):
        shell.showtraceback()
    else:
        return False
    return True


def awaits_in_running_loop(shell: Any, source: str) -> bool:
    """Whether ``source`` has top-level ``await`` (``async for``, ``async with``) while an
    event loop runs this thread: in a Jupyter kernel, whose loop runs every cell. IPython
    runs such a plain cell as a coroutine of that loop; a ``%%persist`` magic, itself
    called from a cell, cannot (running the body's coroutine would need a second loop:
    "This event loop is already running")."""
    if "await" not in source and "async" not in source:
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False  # a terminal or a script: the magic runs it in a loop of its own
    try:
        return _may_run_async(shell, source, transformed(shell, source))
    except Exception:
        return False  # the magic reports it, as usual


def _runner_for(shell: Any, source: str, text: str) -> Any:
    """What drives the body's coroutine, as ``run_cell`` chooses it."""
    if shell.trio_runner:
        return shell.trio_runner
    return shell.loop_runner if _may_run_async(shell, source, text) else _pseudo_sync_runner


def _may_run_async(shell: Any, source: str, text: str) -> bool:
    """Whether IPython runs ``source`` (transformed: ``text``) as a coroutine: its ``await``
    check (a compile of the whole cell), asked only of a text that could have top-level
    ``await``, ``async for`` or ``async with``."""
    return _may_be_async(source) and bool(
        shell.should_run_async(source, transformed_cell=text, preprocessing_exc_tuple=None)
    )


def _may_be_async(source: str) -> bool:
    return "await" in source or "async" in source


def run_plain(shell: Any, source: str, *, show_errors: bool = True) -> RunOutcome:
    """Run ``source`` as a cell without recording (a cell that is not going to be stored).

    Only the ``;`` handling is patched, so the cell shows exactly what a plain cell would.
    """
    hook = shell.displayhook
    text = transformed(shell, source)
    start = time.perf_counter()
    with (
        CollectorClock() as clock,
        _patched(hook, "quiet", lambda: bool(hook.semicolon_at_end_of_expression(text))),
        _errors_shown(shell, show_errors),
    ):
        result = _run_cell(shell, source)
    elapsed = time.perf_counter() - start
    # After the shell's own methods are back: the error is shown from the caller's cell.
    _forget_rendering_after_the_cell(shell, result.error_before_exec or result.error_in_exec)
    outcome = _timed(elapsed, clock)
    outcome.error = result.error_before_exec or result.error_in_exec
    return outcome


def _timed(elapsed: float, clock: CollectorClock) -> RunOutcome:
    collected = min(clock.stop(), elapsed)
    return RunOutcome(duration=elapsed - collected, collected=collected)


def run_recorded(shell: Any, source: str, *, show_errors: bool = True) -> RunOutcome:
    """Run ``source`` as a cell in ``shell`` and record its outputs.

    The traceback of a failing cell is shown as usual (unless ``show_errors=False``);
    ``RunOutcome.error`` holds the exception (``error_before_exec`` for a syntax error,
    else ``error_in_exec``).
    """
    start = time.perf_counter()
    seen: dict[str, bool] = {}
    displayed: list[Any] = []
    with (
        CollectorClock() as clock,
        recording(shell, transformed(shell, source), seen, displayed) as events,
        _errors_shown(shell, show_errors, seen),
        traced(),  # the cell's own pickling caches slot names as in a plain run
    ):
        result = _run_cell(shell, source)
    elapsed = time.perf_counter() - start
    _forget_rendering_after_the_cell(shell, result.error_before_exec or result.error_in_exec)
    outcome = _timed(elapsed, clock)
    outcome.outputs = events
    outcome.widgets = bool(seen.get("widgets"))
    outcome.tracebacks = bool(seen.get("tracebacks"))
    outcome.error = result.error_before_exec or result.error_in_exec
    outcome.has_result = any(e["kind"] == "result" for e in events)
    outcome.result = displayed[-1] if outcome.has_result and displayed else None
    return outcome


def ends_in_open_line(outputs: list[dict[str, Any]]) -> bool:
    """Whether the last of ``outputs`` is printed text without a final newline
    (``print(x, end=' ')``): a line written after it would join that line.

    >>> ends_in_open_line([{"kind": "stream", "name": "stdout", "text": "1 2 "}])
    True
    >>> ends_in_open_line([{"kind": "stream", "name": "stdout", "text": "done\\n"}])
    False
    """
    if not outputs:
        return False
    last = outputs[-1]
    text = last.get("text")
    return (
        last.get("kind") == "stream"
        and last.get("name") != "stderr"
        and isinstance(text, str)
        and bool(text)
        and not text.endswith("\n")
    )


def replay_outputs(shell: Any, outputs: list[dict[str, Any]], result: Any = _NO_RESULT) -> None:
    """Show recorded outputs again, in their original order.

    The last expression's value, when given as ``result``, goes through the shell's
    display hook as in a plain run: it becomes ``Out[n]`` and ``_`` and is shown as the
    cell's result (with its recorded representations when they are known to be what
    formatting it now would give, see :func:`shown_as_recorded`). Without it the
    recorded representations are shown as display data. Recorded warnings are issued
    again (:class:`_WarningTap`): one a plain run would not show now is left out.
    """
    if outputs and outputs[0].get("kind") in (_WARNED, _RESET):
        outputs = _without_unshown_warnings(shell, outputs)
    # Whether the value is formatted again, not shown as recorded: when nothing was recorded
    # of it, or it would not show as recorded (asked once, and only then: checking a
    # frame's object columns walks them). A cell has one result.
    first = None
    if result is not _NO_RESULT:
        first = next((e for e in outputs if e.get("kind") == "result"), None)
    again = first is not None and (
        not first.get("data")
        or not shown_as_recorded(result)
        or _printed_by_user_code(shell, result)
    )
    if again:
        # What formatting the value printed (a ``__repr__`` that prints) is printed again
        # by formatting it now, in its place before the result: not shown twice.
        outputs = [e for e in outputs if not e.get(FORMATTING)]
    for event in outputs:
        kind = event.get("kind")
        if kind == "stream":
            stream = sys.stderr if event.get("name") == "stderr" else sys.stdout
            stream.write(event.get("text", ""))
            stream.flush()
        elif kind == "result" and result is not _NO_RESULT:
            sys.stdout.flush()
            sys.stderr.flush()
            _display_result(shell, result, event, again)
        elif kind in ("display", "result"):
            sys.stdout.flush()
            sys.stderr.flush()
            kwargs: dict[str, Any] = {}
            if event.get("transient"):
                kwargs["transient"] = event["transient"]
            if event.get("update"):
                kwargs["update"] = True
            shell.display_pub.publish(
                data=renumbered(event["data"]), metadata=event.get("metadata") or {}, **kwargs
            )
        elif kind == "clear":
            shell.display_pub.clear_output(wait=bool(event.get("wait")))


def _without_unshown_warnings(shell: Any, outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``outputs`` without the text of recorded warnings a plain run would not show now
    (each issued again, in order, the registries reset where the run's were: they remember
    it as a plain run's would)."""
    hidden = []
    for event in outputs:
        kind = event.get("kind")
        if kind == _RESET:
            forget_shown_warnings()
        elif kind == _WARNED and not _reissued(shell, event):
            hidden.append(event["shown"])
    if not hidden:
        return outputs
    kept = []
    for event in outputs:
        if event.get("kind") == "stream" and event.get("name") == "stderr" and hidden:
            text = event.get("text", "")
            while hidden and hidden[0] in text:
                text = text.replace(hidden.pop(0), "", 1)
            if not text:
                continue
            event = {**event, "text": text}
        kept.append(event)
    return kept


# HTML numbered per session: scikit-learn's estimator diagrams take their ids from two
# counters (``sk-container-id-3``, ``sk-estimator-id-7``; its CSS and toggles refer to them).
_SESSION_ID = re.compile(r"\b(sk-container-id|sk-estimator-id)-\d+\b")
_ID_MODULES = ("sklearn.utils._repr_html.estimator", "sklearn.utils._estimator_html_repr")


def renumbered(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with the session-numbered ids of its HTML drawn again, as a re-run draws them.

    A recorded diagram shown as is would repeat ids this session already gave out (two
    diagrams on the page then toggle each other) and leave the counters where they were, so
    every later diagram would be numbered unlike a plain run's. Each distinct id, in order of
    first appearance (the order the library drew them in), takes the counter's next id.
    """
    html = data.get("text/html") if isinstance(data, dict) else None
    if not isinstance(html, str) or "-id-" not in html:
        return data
    counters = {}
    for name in _ID_MODULES:
        module = sys.modules.get(name)
        for attr in ("_CONTAINER_ID_COUNTER", "_ESTIMATOR_ID_COUNTER"):
            counter: Any = getattr(module, attr, None)
            prefix = getattr(counter, "prefix", None)
            if isinstance(prefix, str) and callable(getattr(counter, "get_id", None)):
                counters[prefix] = counter
    if not counters:
        return data  # the library is not loaded: nothing this session numbered yet
    drawn: dict[str, str] = {}

    def draw(match: re.Match[str]) -> str:
        old = match[0]
        if old not in drawn:
            counter = counters.get(match[1])
            try:
                drawn[old] = str(counter.get_id()) if counter is not None else old
            except Exception:  # a changed library: the recorded id is shown
                drawn[old] = old
        return drawn[old]

    return {**data, "text/html": _SESSION_ID.sub(draw, html)}


# Result types whose representations depend only on their value, the library and display
# settings that a hit checks first (pandas options, %precision, formatters): showing the
# recorded ones is showing what formatting them again would give. Formatting a frame costs
# more than restoring it (an HTML table: milliseconds), often more than the cell's own work.
_PLAIN_SCALARS = (bool, int, float, complex, str, bytes, type(None))
# Objects of these exact types print the same whatever the notebook defines (a subclass of
# str may override __str__); an object column holding anything else is formatted again.
_PLAIN_ELEMENTS = frozenset({str, int, float, bool, type(None)})
_ELEMENTS_CHECKED = 10_000  # past this many elements an object column is formatted again


def shown_as_recorded(value: Any) -> bool:
    """Whether ``value``'s recorded representations can stand for formatting it again.

    True for builtin scalars and strings, matplotlib's own artists (their representation
    is of the moment the cell showed them, before the figure was drawn), and for pandas
    objects whose every column and index level holds numbers, dates, booleans, categories
    or strings. Anything whose
    representation could come from code defined in the notebook (instances of its classes,
    also inside object columns or containers), numpy arrays (print options are not checked)
    and everything else is formatted again, as in a plain run.
    """
    if type(value) in _PLAIN_SCALARS or _library_artist(value):
        return True
    pandas = sys.modules.get("pandas")
    if pandas is None:
        return False
    try:
        if pandas.get_option("display.float_format") is not None:
            return False  # a function, perhaps defined in the notebook
        if type(value) is pandas.DataFrame:
            if not (_safe_index(pandas, value.index) and _safe_index(pandas, value.columns)):
                return False
            return all(
                _plain_dtype(pandas, dtype) or _safe_1d(pandas, value.iloc[:, i])
                for i, dtype in enumerate(value.dtypes)
            )
        if type(value) is pandas.Series:
            return _safe_1d(pandas, value) and _safe_index(pandas, value.index)
        if isinstance(value, pandas.Index):
            return _safe_index(pandas, value)
    except Exception:  # an odd object: formatting it again is always right
        return False
    return False


def _library_artist(value: Any) -> bool:
    """A matplotlib artist of the library's own class, other than a figure.

    Its representation is matplotlib's, made from its own state (``Text(0.5, 0, 'Value')``)
    when the cell showed it; the inline backend then draws the figure, which moves labels
    and ticks, and the value is stored as drawn. Formatting the restored value again would
    show the moved artist, not what a re-run shows. (A figure is shown as an image, drawn
    from settings a hit checks apart: it is formatted again.)
    """
    artist = sys.modules.get("matplotlib.artist")
    if artist is None or not isinstance(value, artist.Artist):
        return False
    if not type_module(value).startswith(("matplotlib.", "mpl_toolkits.")):
        return False  # a notebook's subclass may print itself otherwise
    figure = sys.modules.get("matplotlib.figure")
    return figure is None or not isinstance(value, figure.FigureBase)


def _safe_index(pandas: Any, index: Any) -> bool:
    if not all(type(name) in _PLAIN_SCALARS for name in index.names):
        return False
    if type(index) is pandas.MultiIndex:
        return all(_safe_1d(pandas, level) for level in index.levels)
    return _safe_1d(pandas, index)


def _plain_dtype(pandas: Any, dtype: Any) -> bool:
    """Numbers, dates, booleans, strings, periods, intervals (no Python objects)."""
    if isinstance(dtype, pandas.CategoricalDtype):
        return False  # its categories decide
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(dtype, numpy.dtype):
        return dtype.kind in "biufcmM"
    # pandas' own extension types (nullable numbers, strings, periods, intervals, zones).
    return type_module(dtype).split(".")[0] == "pandas" and (
        getattr(dtype, "kind", "O") in "biufcmMU"
        or isinstance(
            dtype,
            (pandas.StringDtype, pandas.PeriodDtype, pandas.IntervalDtype, pandas.DatetimeTZDtype),
        )
    )


def _safe_1d(pandas: Any, values: Any) -> bool:
    dtype = values.dtype
    if _plain_dtype(pandas, dtype):
        return True
    if isinstance(dtype, pandas.CategoricalDtype):
        return _safe_1d(pandas, dtype.categories)
    if getattr(dtype, "kind", "") != "O" or len(values) > _ELEMENTS_CHECKED:
        return False
    return set(map(type, values)) <= _PLAIN_ELEMENTS


def _display_result(shell: Any, result: Any, event: dict[str, Any], again: bool) -> None:
    """The display hook on ``result`` (``Out[n]``, ``_``), formatted ``again`` or shown as
    recorded (when that is exact, see :func:`replay_outputs`)."""
    hook = shell.displayhook
    if again:
        hook(result)
        return
    recorded = (dict(event["data"]), dict(event.get("metadata") or {}))
    with _patched(hook, "compute_format_data", lambda _value: recorded):
        hook(result)


def _printed_by_user_code(shell: Any, value: Any) -> bool:
    """Whether a display formatter has a printer for ``value`` that is not a library's.

    A printer registered by the notebook (``formatter.for_type``) may have been redefined
    since the run was recorded: then the value is formatted again.
    """
    formatter = getattr(shell, "display_formatter", None)
    for each in dict(getattr(formatter, "formatters", {}) or {}).values():
        try:
            printer = each.lookup(value)
        except Exception:  # KeyError: no printer for this type (the usual case)
            continue
        module = getattr(getattr(printer, "__func__", printer), "__module__", None) or ""
        if not module.startswith(("IPython.", "pandas.", "numpy.", "matplotlib.")):
            return True
    return False

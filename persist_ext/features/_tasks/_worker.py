"""The function that runs inside a worker (a thread, a process or a Dask worker).

It receives a picklable :class:`TaskCall`, runs the task with retries up to ``max_tries``,
captures its output, and returns a :class:`TaskOutcome`: the final instance record and the
result. It writes nothing per task in the common case: the group's driver, in the process
that runs the group, batches outcomes into one store transaction (see ``_driver.py``).

"Running" (the try count and start time, which must survive a crash) is reported two ways:

- in the driver's process (threads, an in-process Dask cluster) the worker hands the record
  to the driver's queue, which writes it with the next batch (a few milliseconds later);
- in another process it writes a one-record journal page itself, through a store reopened
  from the call's :class:`~._storespec.StoreSpec`.

Workers never talk to widgets or the kernel.
"""

from __future__ import annotations

import os
import threading
import time
import traceback as _traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ._capture import capture_output
from ._journal import Journal
from ._storespec import StoreSpec, open_store

__all__ = ["TaskCall", "TaskOutcome", "register_sink", "run_task", "unregister_sink"]


class Sink(Protocol):
    """What a worker in the driver's process reports to."""

    def running(self, name: str, record: dict[str, Any]) -> None: ...

    def settled_elsewhere(self, name: str) -> bool: ...


# token -> (pid, sink). The pid guards against a sink inherited through fork().
_SINKS: dict[str, tuple[int, Sink]] = {}
_SINKS_LOCK = threading.Lock()


def register_sink(token: str, sink: Sink) -> None:
    """Make ``sink`` the receiver of running-reports for calls carrying ``token``."""
    with _SINKS_LOCK:
        _SINKS[token] = (os.getpid(), sink)


def unregister_sink(token: str) -> None:
    """Forget the sink registered under ``token``."""
    with _SINKS_LOCK:
        _SINKS.pop(token, None)


@dataclass
class TaskCall:
    """Everything a worker needs to run one task instance."""

    spec: StoreSpec
    group: str
    task: str
    instance: str
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    max_tries: int = 1
    record: dict[str, Any] = field(default_factory=dict)
    sink: str = ""
    capture: bool = True


@dataclass
class TaskOutcome:
    """What the worker hands back: the final record (None: not run) and the result."""

    record: dict[str, Any] | None
    value: Any = None
    ok: bool = False
    ended: float = 0.0


def run_task(call: TaskCall) -> TaskOutcome:
    """Run ``call.fn`` with retries up to ``max_tries``; return the final record and value."""
    live = _SINKS.get(call.sink)
    sink = live[1] if live is not None and live[0] == os.getpid() else None
    if sink is not None and sink.settled_elsewhere(call.instance):
        # Skipped or abandoned after it was scheduled: don't run.
        return TaskOutcome(None, ended=time.time())
    record = dict(call.record)
    while True:
        record["status"] = "running"
        record["tries"] = int(record.get("tries", 0)) + 1
        record["started"] = time.time()
        record["ended"] = None
        if sink is not None:
            sink.running(call.instance, dict(record))
        else:
            _report_running(call, dict(record))
        ok, value, error, trace, out, err = _attempt(call)
        record["ended"] = time.time()
        record["stdout"], record["stderr"] = out, err
        if ok:
            record["status"] = "finished"
            record["has_result"] = True
            record["error"] = record["traceback"] = ""
            record["logs"] = [{**entry, "resolved": True} for entry in record.get("logs", ())]
            return TaskOutcome(record, value, True, record["ended"])
        record["status"] = "failed"
        record["error"], record["traceback"] = error, trace
        entry = {"level": "error", "message": error, "resolved": False, "try": record["tries"]}
        record["logs"] = [*record.get("logs", ()), entry]
        if record["tries"] >= call.max_tries:
            return TaskOutcome(record, None, False, record["ended"])


def _report_running(call: TaskCall, record: dict[str, Any]) -> None:
    # Another process: the try must be on record before the task runs, so a crash that
    # takes the task down still counts it against max_tries.
    store = open_store(call.spec)
    with store.transact():
        Journal(store, call.group).write({call.instance: record})


def _attempt(call: TaskCall) -> tuple[bool, Any, str, str, str, str]:
    if not call.capture:
        try:
            return True, call.fn(*call.args, **call.kwargs), "", "", "", ""
        except Exception as exc:
            return False, None, _describe(exc), _traceback.format_exc(), "", ""
    with capture_output() as captured:
        try:
            value = call.fn(*call.args, **call.kwargs)
            ok, error, trace = True, "", ""
        except Exception as exc:
            value, ok, error, trace = None, False, _describe(exc), _traceback.format_exc()
    return ok, value, error, trace, captured.stdout, captured.stderr


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"

"""The function that runs inside a worker (a thread, a process or a Dask worker): one try.

It receives a picklable :class:`TaskCall`, runs the task once, captures its output, and
returns a :class:`TaskOutcome`: the instance record after that try and the result. Whether
a failed try is retried is not decided here but by the driver (``is_settled``), so a try
that kills its worker process counts exactly like one that raised. The worker writes
nothing per task in the common case: the driver, in the process that runs the group,
batches outcomes into one store transaction (``_driver.py``).

"Running" (the try count and start time, which must survive a crash) is reported two ways:

- in the driver's process (threads, an in-process Dask cluster) the worker hands the record
  to the driver's queue, which writes it with the next batch (a few milliseconds later);
- in another process it writes a one-record journal page itself, through a store reopened
  from the call's :class:`~._storespec.StoreSpec`.

``timeout``: on ``executor="processes"`` the pool kills the worker process (``_pool.py``).
On threads and Dask the try runs in a helper thread and is recorded failed when it overruns.
Python cannot stop a thread: on threads the helper runs on in the background until the
function returns (abandoned); on a Dask worker that has a nanny the outcome names the worker
and the driver restarts it, which stops the function (``_dask.py``); a Dask worker without a
nanny cannot be restarted, and the try is abandoned there. Workers never talk to widgets or
the kernel.
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
from ._dask import HungWorker, where_am_i
from ._journal import Journal
from ._storespec import StoreSpec, open_store

__all__ = [
    "Sink",
    "TaskCall",
    "TaskOutcome",
    "failed_record",
    "register_sink",
    "run_task",
    "running_record",
    "unregister_sink",
]


class Sink(Protocol):
    """What a worker in the driver's process reports to."""

    def running(self, call: TaskCall, started: float) -> None: ...

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


@dataclass(slots=True)
class TaskCall:
    """Everything a worker needs to run one try of one task instance."""

    spec: StoreSpec
    group: str
    task: str
    instance: str
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)
    sink: str = ""
    capture: bool = True
    timeout: float | None = None  # enforced here (threads, Dask); None: not here
    stop_hung: bool = False  # the driver restarts a Dask worker (with a nanny) left hung


@dataclass(slots=True)
class TaskOutcome:
    """What the worker hands back: the record after the try (None: not run) and the result."""

    record: dict[str, Any] | None
    value: Any = None
    ok: bool = False
    ended: float = 0.0
    hung: HungWorker | None = None  # the Dask worker to restart: the try is still running there


def failed_record(record: dict[str, Any], error: str, trace: str) -> dict[str, Any]:
    """``record`` after a failed try: status, error, traceback and an unresolved log entry.

    The one way a failure is written, whether the task raised, timed out, killed its
    worker, or returned a value that could not be stored.
    """
    entry = {"level": "error", "message": error, "resolved": False, "try": record.get("tries", 0)}
    return {
        **record,
        "status": "failed",
        "has_result": False,
        "ended": record.get("ended") or time.time(),
        "error": error,
        "traceback": trace,
        "logs": [*record.get("logs", ()), entry],
    }


def running_record(call: TaskCall, started: float) -> dict[str, Any]:
    """The record of ``call``'s instance while this try runs (tries counted, started)."""
    return {
        **call.record,
        "status": "running",
        "tries": int(call.record.get("tries", 0)) + 1,
        "started": started,
        "ended": None,
    }


def run_task(call: TaskCall) -> TaskOutcome:
    """Run one try of ``call.fn``; return the record after it and the value."""
    live = _SINKS.get(call.sink)
    sink = live[1] if live is not None and live[0] == os.getpid() else None
    started = time.time()
    if sink is not None:
        if sink.settled_elsewhere(call.instance):
            # Skipped or abandoned after it was scheduled: don't run.
            return TaskOutcome(None, ended=started)
        # The driver builds the running record only if the try outlives its batch.
        sink.running(call, started)
    else:
        _report_running(call, running_record(call, started))
    hung = None
    if call.timeout is None:
        ok, value, error, trace, out, err = _attempt(call)
    else:
        ok, value, error, trace, out, err, hung = _attempt_with_timeout(call, call.timeout)
    ended = time.time()
    # copy() and item assignments: the same dict as a {**call.record, ...} display, in a
    # third of the time (once per try).
    record = call.record.copy()
    record["tries"] = int(record.get("tries", 0)) + 1
    record["started"] = started
    record["ended"] = ended
    record["stdout"] = out
    record["stderr"] = err
    if ok:
        record["status"] = "finished"
        record["has_result"] = True
        record["error"] = record["traceback"] = ""
        logs = record.get("logs")
        if logs:
            record["logs"] = [{**entry, "resolved": True} for entry in logs]
        return TaskOutcome(record, value, True, ended)
    return TaskOutcome(failed_record(record, error, trace), None, False, ended, hung)


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


def _attempt_with_timeout(
    call: TaskCall, timeout: float
) -> tuple[bool, Any, str, str, str, str, HungWorker | None]:
    box: list[tuple[bool, Any, str, str, str, str]] = []
    helper = threading.Thread(
        target=lambda: box.append(_attempt(call)),
        name=f"persist-ext-task-{call.instance}",
        daemon=True,
    )
    helper.start()
    helper.join(timeout)
    if box:
        return (*box[0], None)
    error, hung = _overran(call, timeout, where_am_i())
    return False, None, error, "", "", "", hung


def _overran(
    call: TaskCall, timeout: float, where: HungWorker | None
) -> tuple[str, HungWorker | None]:
    """The recorded error of a try that overran, and the Dask worker to restart (if any)."""
    head = f"TaskTimeoutError: task {call.task!r} ({call.instance}) ran longer than its timeout "
    if where is None:  # a thread of the group's process
        return (
            f"{head}of {timeout:g} s and was abandoned (a thread cannot be stopped: it runs on "
            "in the background until the function returns; use executor='processes' to kill it)"
        ), None
    worker = f"the Dask worker {where.address} (pid {where.pid})"
    if where.has_nanny and call.stop_hung:
        return (
            f"{head}of {timeout:g} s on {worker}; that worker is restarted by its nanny to "
            "stop it (Dask runs the other tasks it held again)"
        ), where
    reason = (
        "has no nanny"
        if not where.has_nanny
        else "belongs to an executor given without its Client (pass the Client itself)"
    )
    return (
        f"{head}of {timeout:g} s on {worker} and was abandoned: that worker {reason}, so it "
        "cannot be restarted and the function runs on in one of its threads until it returns"
    ), None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"

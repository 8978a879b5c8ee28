"""The function that runs inside a worker (a thread, a process or a Dask worker).

It receives a picklable :class:`TaskCall`, opens the group's store from its
:class:`~._storespec.StoreSpec`, and records everything in the store: ``running`` with the
try count and start time, then the result (through the store's serializers), the final
status, captured output and the traceback, and the task's leaf in the marker tree, the last
three in one store transaction. It never talks to widgets or the kernel: the driver and the
progress model read the store.
"""

from __future__ import annotations

import time
import traceback as _traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._capture import capture_output
from ._markers import complete_leaf
from ._model import TaskInstance, TaskStatus
from ._session import instance_key, result_key
from ._storespec import StoreSpec, open_store

__all__ = ["TaskCall", "TaskOutcome", "run_task"]


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
    leaf_id: str = ""
    path: list[tuple[str, int]] = field(default_factory=list)
    combiners: tuple[Any, Any] = (None, None)
    capture: bool = True


@dataclass
class TaskOutcome:
    """What the worker hands back: the final record and whether it completed the group."""

    record: dict[str, Any]
    completed_root: bool
    ended: float


def run_task(call: TaskCall) -> TaskOutcome:
    """Run ``call.fn`` with retries up to ``max_tries`` and record everything in the store."""
    store = open_store(call.spec)
    key = instance_key(call.group, call.instance)
    stored = store.get(key, None)
    instance = (
        TaskInstance.load(stored)
        if stored is not None
        else TaskInstance(name=call.instance, task=call.task)
    )
    if instance.resolved:
        # Skipped or abandoned after it was scheduled, or finished by another run: don't run.
        return TaskOutcome(instance.to_record(), False, time.time())
    while True:
        instance.status = TaskStatus.RUNNING
        instance.tries += 1
        instance.started = time.time()
        instance.ended = None
        store.set(key, instance.dump())
        ok, value, error, trace, out, err = _attempt(call)
        instance.ended = time.time()
        instance.stdout, instance.stderr = out, err
        if ok:
            try:
                return _settle_finished(call, store, key, instance, value)
            except Exception as exc:  # the result could not be stored: a failure, not silence
                ok = False
                error = f"the task returned a value that could not be stored: {exc!r}"
                trace = _traceback.format_exc()
        instance.status = TaskStatus.FAILED
        instance.error, instance.traceback = error, trace
        instance.logs.append(
            {"level": "error", "message": error, "resolved": False, "try": instance.tries}
        )
        if instance.tries < call.max_tries:
            store.set(key, instance.dump())
            continue
        with store.transact():
            store.set(key, instance.dump())
            completed = complete_leaf(store, call.leaf_id, call.path, combiners=call.combiners)
        return TaskOutcome(instance.to_record(), completed, instance.ended)


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


def _settle_finished(
    call: TaskCall, store: Any, key: str, instance: TaskInstance, value: Any
) -> TaskOutcome:
    instance.status = TaskStatus.FINISHED
    instance.has_result = True
    instance.error = instance.traceback = ""
    instance.resolve_logs()
    with store.transact():
        store.set(result_key(call.group, call.instance), value)
        store.set(key, instance.dump())
        completed = complete_leaf(
            store, call.leaf_id, call.path, result=value, combiners=call.combiners
        )
    return TaskOutcome(instance.to_record(), completed, instance.ended or time.time())

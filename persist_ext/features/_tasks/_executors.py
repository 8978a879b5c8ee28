"""Turning ``executor=`` into a ``concurrent.futures.Executor``, and checking what it needs.

``"threads"`` (default) and ``"processes"`` create a pool the group owns and shuts down on
``close()`` — ``"processes"`` is a supervised :class:`~._pool.WorkerPool`, where a worker
that dies or overruns the timeout fails only its own task; an ``Executor`` instance or a Dask
``distributed.Client`` is borrowed and left running (a borrowed ``ProcessPoolExecutor``
breaks as a whole when a worker dies: every task it was still holding fails). A Dask client
is used through ``client.get_executor(pure=False)``, which returns standard
``concurrent.futures`` futures.
"""

from __future__ import annotations

import difflib
import os
import pickle
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..._errors import TaskError
from ...storage._usercode import type_module
from ._pool import WorkerPool
from ._storespec import StoreSpec

__all__ = [
    "ExecutorChoice",
    "check_executor",
    "check_picklable",
    "check_store",
    "resolve_executor",
]


@dataclass
class ExecutorChoice:
    """The executor to submit to, whether we own it, and whether it crosses processes."""

    executor: Executor
    owned: bool
    kind: str  # "threads", "processes", "dask" or "custom"
    #: The ``distributed.Client`` given as ``executor=`` (None otherwise): restarts a Dask
    #: worker left running a hung try (``_dask.py``).
    client: Any = None
    #: Threads of a pool the group created (None: unknown, e.g. a borrowed executor).
    slots: int | None = None

    @property
    def kills_on_timeout(self) -> bool:
        """True when the executor itself stops an overrunning task (our supervised pool)."""
        return isinstance(self.executor, WorkerPool)

    @property
    def needs_pickling(self) -> bool:
        """True when task functions and arguments travel to another process by pickle."""
        return self.kind == "processes"

    @property
    def may_leave_process(self) -> bool:
        """True when workers may run in another process (they must reopen the store)."""
        return self.kind in ("processes", "dask")

    def stop_now(self) -> bool:
        """Kill the worker processes of a pool the group created; True if there was one."""
        if self.owned and isinstance(self.executor, WorkerPool):
            self.executor.kill_all()
            return True
        return False

    def shutdown(self, wait: bool = True) -> None:
        """Shut the executor down if the group created it (``wait``: for running tasks)."""
        if self.owned:
            self.executor.shutdown(wait=wait, cancel_futures=True)


def _is_dask_client(obj: Any) -> bool:
    return type_module(obj).startswith("distributed") and hasattr(obj, "get_executor")


def resolve_executor(
    executor: Any, max_workers: int | None, timeout: float | None = None
) -> ExecutorChoice:
    """Build or wrap the executor named by ``executor``.

    >>> choice = resolve_executor("threads", 2)
    >>> choice.kind, choice.owned
    ('threads', True)
    >>> choice.shutdown()
    >>> resolve_executor("gpu", None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    persist_ext._errors.TaskError: Unknown executor 'gpu'; ...
    """
    if executor == "threads":
        workers = max_workers or min(32, (os.cpu_count() or 1) + 4)
        pool = ThreadPoolExecutor(workers, thread_name_prefix="persist-ext-task")
        return ExecutorChoice(pool, True, "threads", slots=workers)
    if executor == "processes":
        return ExecutorChoice(WorkerPool(max_workers, timeout=timeout), True, "processes")
    if _is_dask_client(executor):
        return ExecutorChoice(executor.get_executor(pure=False), False, "dask", client=executor)
    if isinstance(executor, (ProcessPoolExecutor, WorkerPool)):
        return ExecutorChoice(executor, False, "processes")
    if isinstance(executor, ThreadPoolExecutor):
        return ExecutorChoice(executor, False, "threads")
    if isinstance(executor, Executor):
        kind = "dask" if type_module(executor).startswith("distributed") else "custom"
        return ExecutorChoice(executor, False, kind)
    raise _unknown(executor)


def check_executor(executor: Any) -> None:
    """Raise :class:`TaskError` unless :func:`resolve_executor` accepts ``executor``.

    Nothing is started: a group checks its ``executor=`` when it is made, before it
    opens a store.

    >>> check_executor("thread")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    persist_ext._errors.TaskError: Unknown executor 'thread' (did you mean 'threads'?); ...
    """
    named = isinstance(executor, str) and executor in ("threads", "processes")
    if not (named or _is_dask_client(executor) or isinstance(executor, Executor)):
        raise _unknown(executor)


def _unknown(executor: Any) -> TaskError:
    close = (
        difflib.get_close_matches(executor.lower(), ["threads", "processes"], n=1, cutoff=0.6)
        if isinstance(executor, str)
        else []
    )
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return TaskError(
        f"Unknown executor {executor!r}{hint}; use 'threads', 'processes', a "
        "concurrent.futures.Executor or a dask.distributed Client."
    )


def check_picklable(fns: Iterable[Callable[..., Any]], choice: ExecutorChoice) -> None:
    """Raise :class:`TaskError` naming the first task function a process pool cannot receive."""
    if not choice.needs_pickling:
        return
    seen: set[int] = set()
    for fn in fns:
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        try:
            pickle.dumps(fn)
        except Exception as exc:
            name = getattr(fn, "__qualname__", repr(fn))
            raise TaskError(
                f"The task function {name!r} cannot be sent to a process pool ({exc}). Define "
                "it at module level (not a lambda, nested function or notebook closure), or "
                "run the group with executor='threads' or a Dask client (which uses "
                "cloudpickle).",
                task=name,
            ) from exc


def check_store(spec: StoreSpec, choice: ExecutorChoice) -> None:
    """Raise :class:`TaskError` when worker processes could not reopen the store."""
    if choice.kind == "processes" and not spec.reopenable:
        raise TaskError(
            f"Process workers cannot reach a {spec.type_name}: it lives in this process only. "
            "Use Store(directory) or RedisStore(url), or run the group on threads."
        )

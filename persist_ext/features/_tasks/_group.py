"""TaskGroup: many tasks, tracked in a store, resumable, with a completion callback.

The public facade. Declaring (``map``/``submit``) only records what to run, in memory;
``run()`` claims the group (:class:`~._runner.RunnerLease`: one runner per group), asks
:class:`~._state.GroupState` — the owner of everything the group stores — to prepare the
run, and starts a background :class:`~._driver.Driver` thread that submits every
unresolved task to the executor and returns at once. The driver hands outcomes back to the
state in batches, which records them and fires the callback (``_completion.py``: exactly
once, and called again on resume if the process calling it died during the call).

A task's journey: ``TaskGroup.run`` → ``GroupState.prepare`` → ``Driver`` submits →
``run_task`` in a worker → ``Driver`` collects → ``GroupState.record`` (records, results,
marker tree in one transaction) → ``GroupState.fire`` → ``on_complete``; displays read the
store through ``TaskProgress``.
"""

from __future__ import annotations

import enum
import fnmatch
import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from ..._errors import TaskError, TaskInterruptedWarning
from ..._threads import HousekeepingThread
from ...storage._protocol import KeyValueStore
from .._progress import RunWatch, watch_run
from ._driver import Driver
from ._executors import (
    ExecutorChoice,
    check_executor,
    check_picklable,
    check_store,
    resolve_executor,
)
from ._model import GroupResult, TaskFailure, TaskInstance, TaskStatus, validate_key
from ._progress import TaskProgress
from ._runner import RunnerLease
from ._session import SessionBackend, StoreSessionBackend, session_backend
from ._state import Definition, GroupState
from ._storespec import spec_for

__all__ = ["TaskGroup", "running_groups", "wait_for_running_groups"]

Callback = Callable[[GroupResult], Any]
_ABSENT = object()

# Every group of this process that is running now (for a kernel that must wait for them
# before shutting down: see wait_for_running_groups).
_RUNNING: weakref.WeakSet[TaskGroup] = weakref.WeakSet()


def running_groups() -> list[TaskGroup]:
    """The task groups of this process that are running now."""
    return [g for g in list(_RUNNING) if g.running]


def wait_for_running_groups(timeout: float | None = None) -> list[TaskGroup]:
    """Wait until every running group of this process has finished its run.

    Returns the groups still running when ``timeout`` seconds passed (``[]``: all done).
    A front end calls this before a non-interactive kernel shuts down, so the saved
    notebook holds every group's final numbers.
    """
    import time

    deadline = None if timeout is None else time.monotonic() + timeout
    for group in running_groups():
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            group.wait(left)
        except TimeoutError:
            pass
    return running_groups()


class _State(enum.Enum):
    IDLE = "idle"
    RUNNING = "running"
    CLOSED = "closed"


def _check_callable(fn: Any, method: str) -> None:
    if not callable(fn):
        raise TaskError(
            f"TaskGroup.{method}() needs a function to run, not {type(fn).__name__} {fn!r}; "
            f"e.g. group.{method}(download, ...)"
        )


class TaskGroup:
    """A named group of tasks whose state lives in a store.

    Parameters
    ----------
    name : str
        The group's name; the same name on the same store resumes the same group.
    store : KeyValueStore, optional
        Where everything is recorded (default: ``Store()`` in the default directory). Use a
        ``Store(directory)`` or ``RedisStore(url)`` when workers run in other processes.
    executor : "threads", "processes", Executor or dask.distributed.Client
        Where tasks run (default threads). ``"processes"`` is a supervised pool: a task that
        kills its worker (exit, signal, OOM) fails alone and the worker is replaced.
        Executors you pass in are not shut down.
    max_workers : int, optional
        Pool size for ``"threads"`` / ``"processes"``.
    max_tries : int
        Attempts per instance, counted across runs (default 1: no retries). A try that
        kills its worker process or overruns ``timeout`` counts as one.
    timeout : float, optional
        Seconds one try of a task may run; an overrunning try is recorded failed. On
        ``"processes"`` its worker is killed. On a Dask ``Client`` the worker that runs it
        is restarted through its nanny (Dask runs the other tasks it held again); a worker
        without a nanny, or an executor passed instead of the Client, leaves the try
        abandoned. On threads it is abandoned: Python cannot stop a thread, so the function
        runs on in the background until it returns.
    on_complete : callable, optional
        Called once with a :class:`GroupResult` when every task is settled (finished,
        skipped, abandoned, or failed with no tries left). If the process calling it dies
        during the call, the next run, resume or ``wait()`` calls it again.
    batch_size, group_size : int
        Shape of the marker tree (leaves per node, nodes per node above).
    capture : bool
        Capture each task's stdout/stderr (default True).
    leaf_combiner, internal_vertex_combiner : callable, optional
        Combine results up the marker tree; the root's value is ``GroupResult.combined``.
    flush_interval : float
        Seconds the driver lets worker reports pile up before writing them as one batch
        (default 0.02). A crash loses at most the completions of that window (those tasks
        run again on resume); larger values cost less per task.
    close_grace : float or None
        How long :meth:`close` waits without any task finishing before it records the
        tasks still running as interrupted and returns (default 3600 s; None: as long as
        tasks run). Interrupted tasks run again on the next ``run()``.
    session : SessionBackend or str, optional
        A session backend of the ``002`` seed (an instance, or the name it is registered
        under). The group keeps its own records in ``store`` and writes every change
        through to this backend too; an empty store is seeded from it.

    Examples
    --------
    >>> from persist_ext.storage._memory import MemoryStore
    >>> group = TaskGroup("squares", MemoryStore())
    >>> keys = group.map(lambda x: x * x, [1, 2, 3], key=str)
    >>> group.run().wait().results
    {'1': 1, '2': 4, '3': 9}
    >>> group.submit(print, key="1")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    persist_ext._errors.TaskError: Duplicate task key '1' in group 'squares'; ...
    >>> group.close()
    """

    def __init__(
        self,
        name: str,
        store: KeyValueStore | None = None,
        *,
        executor: Any = "threads",
        max_workers: int | None = None,
        max_tries: int = 1,
        timeout: float | None = None,
        on_complete: Callback | None = None,
        batch_size: int = 10,
        group_size: int = 10,
        capture: bool = True,
        leaf_combiner: Callable[[list[Any]], Any] | None = None,
        internal_vertex_combiner: Callable[[list[Any]], Any] | None = None,
        flush_interval: float = 0.02,
        session: SessionBackend | str | None = None,
        close_grace: float | None = 3600.0,
    ) -> None:
        name = validate_key(name, what="group name")
        if "/" in name:
            raise TaskError(f"Invalid group name {name!r}: '/' is not allowed.", task=name)
        if not isinstance(flush_interval, (int, float)) or not 0 <= flush_interval <= 1:
            raise TaskError(
                f"flush_interval must be seconds between 0 and 1, got {flush_interval!r}."
            )
        if isinstance(max_tries, bool) or not isinstance(max_tries, int) or max_tries < 1:
            raise TaskError(f"max_tries must be an int >= 1, got {max_tries!r}.")
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0
        ):
            raise TaskError(f"timeout must be seconds > 0 (or None), got {timeout!r}.")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise TaskError(f"batch_size must be an int >= 1, got {batch_size!r}.")
        if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 2:
            raise TaskError(f"group_size must be an int >= 2, got {group_size!r}.")
        if max_workers is not None and (
            isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1
        ):
            raise TaskError(
                f"max_workers must be an int >= 1 (or None: a pool sized for this machine), "
                f"got {max_workers!r}."
            )
        if store is not None and not isinstance(store, KeyValueStore):
            raise TaskError(
                f"store must be a store such as Store('.persist') or RedisStore(url) (a "
                f"KeyValueStore), not {type(store).__name__} {store!r}."
            )
        self.close_grace = _check_seconds(close_grace, "close_grace", True)
        check_executor(executor)
        if on_complete is not None and not callable(on_complete):
            raise TaskError(
                f"on_complete must be a function taking the group's result, not "
                f"{type(on_complete).__name__} {on_complete!r}; e.g. on_complete=print."
            )
        mirror = _session_arg(session, name)
        if store is None:
            from ...storage._store import Store

            store = Store()
        self.name = name
        self.store = store
        self.on_complete = on_complete
        self.capture = capture
        self.flush_interval = float(flush_interval)
        self.timeout = None if timeout is None else float(timeout)
        self.state = GroupState(
            name,
            store,
            max_tries=max_tries,
            batch_size=batch_size,
            group_size=group_size,
            combiners=(leaf_combiner, internal_vertex_combiner),
            mirror=mirror,
        )
        self._executor_arg = executor
        self._max_workers = max_workers
        self._choice: ExecutorChoice | None = None
        self._defs: dict[str, Definition] = {}
        self._auto_counts: dict[str, int] = {}
        self._status = _State.IDLE
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._driver: Driver | None = None
        self._lease = RunnerLease(store, name)
        self._progress: TaskProgress | None = None
        self._watch: RunWatch | None = None

    # -- what the group records (the state owns it) -------------------------------------------

    @property
    def session(self) -> StoreSessionBackend:
        """The group's session (the ``002`` seed's API over its records)."""
        return self.state.session

    @property
    def max_tries(self) -> int:
        """Attempts per instance."""
        return self.state.max_tries

    @property
    def callback_error(self) -> BaseException | None:
        """What the completion callback raised, if it did."""
        return self.state.callback_error

    @property
    def callback_called_at(self) -> float | None:
        """When this process called the completion callback (epoch seconds)."""
        return self.state.callback_called_at

    @property
    def last_task_ended(self) -> float | None:
        """When the last task recorded by this process ended (epoch seconds)."""
        return self.state.last_task_ended

    def declared_keys(self) -> list[str]:
        """Task keys declared in this process, in declaration order."""
        return list(self._defs)

    # -- declaring ------------------------------------------------------------------------

    def map(self, fn: Callable[..., Any], items: Iterable[Any], key: Any = None) -> list[str]:
        """Declare one task ``fn(item)`` per item; returns the keys.

        ``key`` is a function ``item -> key``, an iterable of keys, or None for
        ``f"{fn.__name__}-{n}"`` (stable while the declaration order is). A key that
        repeats raises :class:`TaskError`.
        """
        _check_callable(fn, "map")
        try:
            iterator = iter(items)
        except TypeError as exc:
            raise TaskError(
                f"TaskGroup.map() needs an iterable of items, not {type(items).__name__} "
                f"{items!r}; e.g. group.map({getattr(fn, '__name__', 'fn')}, [{items!r}]) "
                "for one task."
            ) from exc
        items = list(iterator)
        if key is None:
            keys = [self._auto_key(fn) for _ in items]
        elif callable(key):
            keys = [validate_key(key(item)) for item in items]
        else:
            keys = [validate_key(k) for k in key]
            if len(keys) != len(items):
                raise TaskError(f"map got {len(items)} items but {len(keys)} keys.")
        with self._lock:
            self._check_declarable(keys)
            for k, item in zip(keys, items):
                self._defs[k] = Definition(fn, (item,), {})
        return keys

    def submit(self, fn: Callable[..., Any], *args: Any, key: Any = None, **kwargs: Any) -> str:
        """Declare one task ``fn(*args, **kwargs)``; returns its key.

        ``key=`` names it (like Dask's ``submit``); a function taking its own ``key``
        argument should be wrapped with ``functools.partial``.
        """
        _check_callable(fn, "submit")
        k = self._auto_key(fn) if key is None else validate_key(key)
        with self._lock:
            self._check_declarable([k])
            self._defs[k] = Definition(fn, args, kwargs)
        return k

    def _auto_key(self, fn: Callable[..., Any]) -> str:
        base = getattr(fn, "__name__", type(fn).__name__).replace("#", "_").strip("<>") or "task"
        n = self._auto_counts.get(base, 0)
        self._auto_counts[base] = n + 1
        return f"{base}-{n}"

    def _check_declarable(self, keys: list[str]) -> None:
        if self._status is _State.CLOSED:
            raise TaskError(f"Task group {self.name!r} is closed; create a new TaskGroup.")
        if self._status is _State.RUNNING:
            raise TaskError(
                f"Task group {self.name!r} is running; call wait() before adding tasks."
            )
        seen: set[str] = set()
        for k in keys:
            if k in self._defs or k in seen:
                raise TaskError(
                    f"Duplicate task key {k!r} in group {self.name!r}; every task needs its "
                    "own key (pass key=... to map/submit).",
                    task=k,
                )
            seen.add(k)

    def __len__(self) -> int:
        return len(self._defs) or len(self.session.tasks)

    # -- running --------------------------------------------------------------------------

    @property
    def root_id(self) -> str | None:
        """Id of the marker tree's root (``"<group>/<generation>/root"``), None before a run.

        Read the tree with the marker functions, e.g. ``marker_get(group.root_id,
        store=group.store)``.
        """
        self.state.tree.load()
        return self.state.tree.root_id

    @property
    def running(self) -> bool:
        """True while the driver is submitting or collecting tasks."""
        return self._status is _State.RUNNING

    def run(self, keys: Iterable[Any] | None = None) -> TaskGroup:
        """Start running every unresolved task (or only ``keys``); returns at once.

        Finished, skipped and abandoned tasks are not run again; failed ones are retried
        while their instance has tries left. Call :meth:`wait` to block. Raises
        :class:`~persist_ext._errors.GroupBusyError` when another live process is running
        (some of) the same tasks of this group.
        """
        with self._lock:
            if self._status is _State.CLOSED:
                raise TaskError(f"Task group {self.name!r} is closed; create a new TaskGroup.")
            if self._status is _State.RUNNING:
                raise TaskError(f"Task group {self.name!r} is already running; call wait().")
            if not self._defs:
                raise TaskError(
                    f"Task group {self.name!r} has no tasks declared in this process; declare "
                    "them with map() or submit() (the same keys resume the stored group)."
                )
            wanted = None if keys is None else [validate_key(k) for k in keys]
            unknown = [k for k in wanted or () if k not in self._defs]
            if unknown:
                raise TaskError(f"Unknown task keys {unknown[:5]} in group {self.name!r}.")
            if self._choice is None:
                self._choice = resolve_executor(self._executor_arg, self._max_workers, self.timeout)
            spec = spec_for(self.store)
            check_store(spec, self._choice)
            check_picklable((d.fn for d in self._defs.values()), self._choice)
            self._lease.acquire(wanted)
            try:
                scheduled = self.state.prepare(self._defs, wanted)
            except BaseException:
                self._lease.release()
                raise
            self._driver = Driver(
                self.state,
                self._choice,
                dict(self._defs),
                spec,
                flush_interval=self.flush_interval,
                capture=self.capture,
                timeout=self.timeout,
                on_complete=self._routed_on_complete(),
            )
            self._status = _State.RUNNING
            _RUNNING.add(self)
            # Displays follow the run; the callback's output goes to the cell running this.
            self._watch = watch_run(self)
            self._thread = HousekeepingThread(
                target=self._drive,
                args=(self._driver, scheduled),
                name=f"persist-ext-group-{self.name}",
            )
            self._thread.start()
        return self

    def _drive(self, driver: Driver, scheduled: list[Any]) -> None:
        try:
            driver.run(scheduled)
        finally:
            self.state.sync_mirror(force=True)
            self._lease.release()
            with self._lock:
                if self._status is _State.RUNNING:
                    self._status = _State.IDLE
            if self._watch is not None:
                self._watch.ended()  # after IDLE: the displays read the final state

    def _routed_on_complete(self) -> Callback | None:
        """``on_complete``, called through the run's watch, which routes its output to the
        cell that started the run (None when there is no callback)."""
        if self.on_complete is None:
            return None
        # A weak reference: the driver keeps this function, and the group keeps the driver.
        # A cycle would leave a dropped group (10,000 records) to the cyclic garbage
        # collector, whose next full pass then lands in the middle of another run.
        ref = weakref.ref(self)

        def call(result: GroupResult) -> Any:
            group = ref()
            if group is None or group.on_complete is None:
                return None
            watch = group._watch
            if watch is None:
                return group.on_complete(result)
            return watch.call(group.on_complete, result)

        return call

    def wait(self, timeout: float | None = None) -> GroupResult:
        """Block until the current run is over; returns the group's :class:`GroupResult`.

        Raises ``TimeoutError`` if ``timeout`` seconds pass first (the run continues). Also
        calls a completion callback that a dead process claimed and never finished.
        """
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise TimeoutError(f"Task group {self.name!r} is still running after {timeout}s.")
        if not self.running:
            self.state.fire(self._routed_on_complete())
        return self.result()

    def done(self) -> bool:
        """True when not running and every declared task is settled."""
        return not self.running and self.state.root_done()

    def cancel(self) -> int:
        """Cancel tasks not started yet (they stay ``scheduled`` and resume on the next run).

        Returns how many were cancelled; never waits for running tasks.
        """
        driver = self._driver
        return driver.cancel() if driver is not None else 0

    def close(
        self, timeout: float | None = None, *, grace: float | object | None = _ABSENT
    ) -> None:
        """Wait for the current run, then shut down a pool the group created. Never waits
        forever for a hung task.

        close() waits while the run makes progress. It stops waiting when ``timeout``
        seconds have passed (if given), or when no try has ended for ``grace`` seconds
        (default: the group's ``close_grace``, one hour; ``grace=None`` waits as long as
        tries run). Then the run is *interrupted*: tasks not started stay scheduled, tries
        still running are recorded as interrupted (status ``running``, the try counted) so
        the next ``run()`` runs them again, worker processes of a pool the group created
        are killed, and a :class:`~persist_ext._errors.TaskInterruptedWarning` names the
        tasks. Threads cannot be stopped: a hung function goes on in the background until
        it returns, and its outcome is not recorded. Finished tasks and their results are
        never touched.
        """
        if self._status is _State.CLOSED:
            return
        grace = self.close_grace if grace is _ABSENT else _check_seconds(grace, "grace", True)
        thread = self._thread
        driver = self._driver
        interrupted = False
        if thread is not None and driver is not None and thread.is_alive():
            interrupted = self._wait_while_progressing(thread, driver, timeout, grace)  # type: ignore[arg-type]
        if self._choice is not None:
            # After an interruption a hung thread may still run: never wait for it.
            self._choice.shutdown(
                wait=not interrupted and (thread is None or not thread.is_alive())
            )
        self._status = _State.CLOSED
        # The run's watch refers to the group: dropping it lets a closed group that goes
        # out of scope be freed at once (see _routed_on_complete).
        self._watch = None

    def _wait_while_progressing(
        self,
        thread: threading.Thread,
        driver: Driver,
        timeout: float | None,
        grace: float | None,
    ) -> bool:
        """Join the driver while tries keep ending; interrupt the run (and warn) when
        they stop. True if the run was interrupted."""
        import time
        import warnings

        deadline = None if timeout is None else time.monotonic() + timeout
        reason = ""
        while thread.is_alive():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                reason = f"after close(timeout={timeout:g})"
                break
            quiet = now - driver.last_progress
            if grace is not None and quiet >= grace:
                reason = f"after {quiet:.3g} s in which no task finished (grace={grace:g})"
                break
            slices = [0.25]
            if deadline is not None:
                slices.append(deadline - now)
            if grace is not None:
                slices.append(grace - quiet)
            thread.join(max(0.01, min(slices)))
        if not thread.is_alive():
            return False
        driver.interrupt()
        # The driver writes what came back and the interrupted records, then returns
        # (a store transaction: give it time on a loaded machine, never forever).
        thread.join(60.0)
        killed = self._choice is not None and self._choice.stop_now()
        names = driver.interrupted
        if not names:
            return True
        shown = ", ".join(repr(n) for n in names[:10]) + (" ..." if len(names) > 10 else "")
        kind = self._choice.kind if self._choice is not None else "threads"
        if killed:
            how = "their worker processes were killed"
        elif kind == "threads":
            how = (
                "they run in threads, which Python cannot stop: each goes on in the background "
                "until it returns, and its outcome is not recorded"
            )
        else:
            how = (
                f"the {kind} executor was asked to cancel them; one already running goes on "
                "until it returns (the executor is not ours to stop), and its outcome is not "
                "recorded"
            )
        warnings.warn(
            f"TaskGroup {self.name!r}: close() stopped waiting {reason}; {len(names)} "
            f"task(s) still running were recorded as interrupted: {shown}. The next run() of "
            f"this group runs them again; {how}.",
            TaskInterruptedWarning,
            stacklevel=3,
        )
        return True

    def __enter__(self) -> TaskGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- results ---------------------------------------------------------------------------

    def status(self, key: Any) -> TaskStatus:
        """The status of a task's current instance (``unstarted`` if never prepared)."""
        k = validate_key(key)
        if k not in self._defs and k not in self.session.tasks:
            raise TaskError(f"No task {k!r} in group {self.name!r}.", task=k)
        instance = self.state.current(k)
        return TaskStatus.UNSTARTED if instance is None else instance.status

    def result(self, key: Any = None) -> Any:
        """One task's result (``key`` given), or the :class:`GroupResult` of the whole group.

        For one task: raises :class:`TaskError` with the traceback if it failed, or if it
        has not finished.
        """
        if key is None:
            return self.state.group_result()
        k = validate_key(key)
        instance = self.state.current(k)
        if instance is None or instance.status is not TaskStatus.FINISHED:
            status = "not prepared" if instance is None else instance.status.value
            detail = f"\n{instance.traceback}" if instance and instance.traceback else ""
            raise TaskError(f"Task {k!r} has no result (status: {status}).{detail}", task=k)
        value = self.state.result_of(instance.name, _ABSENT)
        if value is _ABSENT:
            raise TaskError(f"Task {k!r} finished but its result is not in the store.", task=k)
        return value

    def failures(self) -> dict[str, TaskFailure]:
        """Tasks whose current instance failed, with error, traceback and output."""
        return self.state.group_result(load_results=False).failures

    def read_task(self, task_name: Any) -> Any:
        """The stored result of a task (the workflow-storage seed's ``read_task``).

        Raises ``FileNotFoundError`` when the task has no result yet (as the seed does:
        callers use it to mean "not computed").
        """
        try:
            return self.result(task_name)
        except TaskError as exc:
            raise FileNotFoundError(str(exc)) from exc

    def list_tasks(self, pattern: str = "*") -> list[str]:
        """Sorted names of tasks that have a result, filtered by a glob ``pattern``."""
        self.state.refresh()
        names = [
            config.name
            for config in self.session.tasks.values()
            if (inst := self.session.current_instance(config.name)) is not None
            and inst.status is TaskStatus.FINISHED
        ]
        return sorted(n for n in names if fnmatch.fnmatchcase(n, pattern))

    # -- resolving instances ------------------------------------------------------------------

    def _instance(self, instance: TaskInstance | str) -> TaskInstance:
        name = instance.name if isinstance(instance, TaskInstance) else str(instance)
        if "#" not in name:
            current = self.state.current(name)
            if current is None:
                raise TaskError(f"No task {name!r} in group {self.name!r}.", task=name)
            name = current.name
        fresh = self.state.instance(name)
        if fresh is None:
            raise TaskError(f"No instance {name!r} in group {self.name!r}.", task=name)
        return fresh

    def skip(self, instance: TaskInstance | str) -> TaskInstance:
        """Resolve an unresolved instance (or a task's current one) as ``skipped``, unrun."""
        return self._resolve(instance, TaskStatus.SKIPPED)

    def abandon(self, instance: TaskInstance | str) -> TaskInstance:
        """Resolve an unresolved instance as ``abandoned`` (give up on it)."""
        return self._resolve(instance, TaskStatus.ABANDONED)

    def _resolve(self, instance: TaskInstance | str, status: TaskStatus) -> TaskInstance:
        target = self._instance(instance)
        if self.state.resolve(target, status, running=self.running):
            self.state.fire(self._routed_on_complete())
        return target

    def replay(self, instance: TaskInstance | str, *, run: bool = True) -> TaskInstance:
        """Mark a failed instance ``replayed`` and clone it as the task's next instance.

        The clone (``task#1``, ...) has ``{"parent": ..., "depth": ...}`` metadata and a
        fresh try budget. With ``run=True`` (and the group idle) it starts running now.
        """
        clone = self.state.replay(self._instance(instance), running=self.running)
        if run and not self.running and clone.task in self._defs:
            self.run([clone.task])
        return clone

    # -- progress ----------------------------------------------------------------------------

    def progress_model(self) -> TaskProgress:
        """The group's progress model (created once): what every display reads."""
        if self._progress is None:
            self._progress = TaskProgress(self)
        return self._progress

    def progress(self) -> Any:
        """A :class:`~persist_ext.features._progress.ProgressSnapshot` read from the store."""
        return self.progress_model().progress()

    def counts(self) -> dict[str, int]:
        """Number of instances per status (all eight statuses, zeros included)."""
        return self.progress_model().counts()

    def __repr__(self) -> str:
        return self.progress_model().text()

    def _repr_html_(self) -> str:
        # A static snapshot, for front ends that render HTML without running IPython's
        # display hook.
        from .._progress import snapshot_html

        return snapshot_html(self.progress())

    def _ipython_display_(self) -> None:
        # In a notebook a group shows as a live display that keeps updating after the cell
        # returns and ends as the final numbers, never as a frozen "0%" snapshot.
        from .._progress import display_progress

        display_progress(self)


def _check_seconds(value: Any, what: str, none_ok: bool) -> float | None:
    if value is None and none_ok:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise TaskError(
            f"{what} must be seconds >= 0{' or None' if none_ok else ''}, got {value!r}."
        )
    return float(value)


def _session_arg(session: SessionBackend | str | None, name: str) -> SessionBackend | None:
    if session is None:
        return None
    if isinstance(session, str):
        return session_backend(session)(name)
    if isinstance(session, SessionBackend):
        return session
    raise TaskError(
        f"session must be a SessionBackend or the name of a registered backend, got "
        f"{type(session).__name__}."
    )

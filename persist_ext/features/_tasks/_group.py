"""TaskGroup: many tasks, tracked in a store, resumable, with a completion callback.

Declaring (``map``/``submit``) only records what to run, in memory; ``run()`` persists the
task list, builds the marker tree, and starts a background *driver* thread that submits every
unresolved task to the executor and returns at once. Workers report to the driver, which
writes their records, output and results to the store in batches (one transaction per
``flush_interval``, see ``_driver.py``) and fires the callback.

Exactly once: the callback fires in whichever process first claims it with the store's
atomic ``add`` (``mark_reached(root, "callback")``) after seeing the marker tree's root done,
so concurrent completions in several processes, a resume after a crash, and several
observers all end with one call. (A process killed between claiming and calling loses that
call; the window is a few microseconds.)
"""

from __future__ import annotations

import enum
import fnmatch
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import Any

from ..._errors import TaskError
from ...storage._leases import hold as hold_lease
from ...storage._protocol import KeyValueStore
from ._executors import ExecutorChoice, check_picklable, check_store, resolve_executor
from ._model import GroupResult, TaskFailure, TaskInstance, TaskStatus, validate_key
from ._runs import Definition, GroupRuns
from ._session import StoreSessionBackend

__all__ = ["TaskGroup"]

Callback = Callable[[GroupResult], Any]
_ABSENT = object()


class _State(enum.Enum):
    IDLE = "idle"
    RUNNING = "running"
    CLOSED = "closed"


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
        Where tasks run (default threads). Executors you pass in are not shut down.
    max_workers : int, optional
        Pool size for ``"threads"`` / ``"processes"``.
    max_tries : int
        Attempts per instance, counted across runs (default 1: no retries).
    on_complete : callable, optional
        Called once with a :class:`GroupResult` when every task is settled (finished,
        skipped, abandoned, or failed with no tries left).
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
        on_complete: Callback | None = None,
        batch_size: int = 10,
        group_size: int = 10,
        capture: bool = True,
        leaf_combiner: Callable[[list[Any]], Any] | None = None,
        internal_vertex_combiner: Callable[[list[Any]], Any] | None = None,
        flush_interval: float = 0.02,
    ) -> None:
        name = validate_key(name, what="group name")
        if "/" in name:
            raise TaskError(f"Invalid group name {name!r}: '/' is not allowed.", task=name)
        if not isinstance(flush_interval, (int, float)) or not 0 <= flush_interval <= 1:
            raise TaskError(
                f"flush_interval must be seconds between 0 and 1, got {flush_interval!r}."
            )
        if not isinstance(max_tries, int) or max_tries < 1:
            raise TaskError(f"max_tries must be an int >= 1, got {max_tries!r}.")
        if store is None:
            from ...storage._store import Store

            store = Store()
        self.name = name
        self.store = store
        self.max_tries = max_tries
        self.on_complete = on_complete
        self.capture = capture
        self.flush_interval = float(flush_interval)
        self.session = StoreSessionBackend(name, store)
        self._executor_arg = executor
        self._max_workers = max_workers
        self._choice: ExecutorChoice | None = None
        self._defs: dict[str, Definition] = {}
        self._auto_counts: dict[str, int] = {}
        self._state = _State.IDLE
        self._lock = threading.RLock()
        self._driver: threading.Thread | None = None
        self._futures: list[Future[Any]] = []
        self._fired = threading.Event()
        self.callback_error: BaseException | None = None
        self.last_task_ended: float | None = None
        self.callback_called_at: float | None = None
        self._runs = GroupRuns(
            self, batch_size, group_size, (leaf_combiner, internal_vertex_combiner)
        )

    # -- declaring ------------------------------------------------------------------------

    def map(self, fn: Callable[..., Any], items: Iterable[Any], key: Any = None) -> list[str]:
        """Declare one task ``fn(item)`` per item; returns the keys.

        ``key`` is a function ``item -> key``, an iterable of keys, or None for
        ``f"{fn.__name__}-{n}"`` (stable while the declaration order is). A key that
        repeats raises :class:`TaskError`.
        """
        items = list(items)
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
        if self._state is _State.CLOSED:
            raise TaskError(f"Task group {self.name!r} is closed; create a new TaskGroup.")
        if self._state is _State.RUNNING:
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
        self._runs._load_tree_meta()
        return self._runs.root_id

    @property
    def running(self) -> bool:
        """True while the driver is submitting or collecting tasks."""
        return self._state is _State.RUNNING

    def run(self, keys: Iterable[Any] | None = None) -> TaskGroup:
        """Start running every unresolved task (or only ``keys``); returns at once.

        Finished, skipped and abandoned tasks are not run again; failed ones are retried
        while their instance has tries left. Call :meth:`wait` to block.
        """
        with self._lock:
            if self._state is _State.CLOSED:
                raise TaskError(f"Task group {self.name!r} is closed; create a new TaskGroup.")
            if self._state is _State.RUNNING:
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
                self._choice = resolve_executor(self._executor_arg, self._max_workers)
            check_store(self._runs.spec, self._choice)
            check_picklable((d.fn for d in self._defs.values()), self._choice)
            calls = self._runs.prepare(wanted)
            self._state = _State.RUNNING
            self._fired.clear()
            self._driver = threading.Thread(
                target=self._drive, args=(calls,), name=f"persist-ext-group-{self.name}"
            )
            self._driver.daemon = True
            self._driver.start()
        return self

    def _drive(self, calls: list[Any]) -> None:
        try:
            # The lease tells other processes (the Persist panel) that this group is running;
            # the OS drops it if this process dies.
            with hold_lease(self.store, f"tasks/{self.name}"):
                self._runs.drive(calls)
        finally:
            with self._lock:
                if self._state is _State.RUNNING:
                    self._state = _State.IDLE

    def wait(self, timeout: float | None = None) -> GroupResult:
        """Block until the current run is over; returns the group's :class:`GroupResult`.

        Raises ``TimeoutError`` if ``timeout`` seconds pass first (the run continues).
        """
        driver = self._driver
        if driver is not None:
            driver.join(timeout)
            if driver.is_alive():
                raise TimeoutError(f"Task group {self.name!r} is still running after {timeout}s.")
        return self.result()

    def done(self) -> bool:
        """True when not running and every declared task is settled."""
        return not self.running and self._runs.root_done()

    def cancel(self) -> int:
        """Cancel tasks not started yet (they stay ``scheduled`` and resume on the next run).

        Returns how many were cancelled.
        """
        return sum(1 for f in list(self._futures) if f.cancel())

    def close(self) -> None:
        """Wait for the current run, then shut down a pool the group created."""
        if self._state is _State.CLOSED:
            return
        if self._driver is not None:
            self._driver.join()
        if self._choice is not None:
            self._choice.shutdown()
        self._state = _State.CLOSED

    def __enter__(self) -> TaskGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- results ---------------------------------------------------------------------------

    def _current(self, key: str) -> TaskInstance | None:
        if key not in self.session.tasks:
            return None
        return self.session.current_instance(key)

    def status(self, key: Any) -> TaskStatus:
        """The status of a task's current instance (``unstarted`` if never prepared)."""
        k = validate_key(key)
        if k not in self._defs and k not in self.session.tasks:
            raise TaskError(f"No task {k!r} in group {self.name!r}.", task=k)
        instance = self._current(k)
        if instance is None:
            return TaskStatus.UNSTARTED
        fresh = self.session.refresh_instance(instance.name)
        return (fresh or instance).status

    def result(self, key: Any = None) -> Any:
        """One task's result (``key`` given), or the :class:`GroupResult` of the whole group.

        For one task: raises :class:`TaskError` with the traceback if it failed, or if it
        has not finished.
        """
        if key is None:
            return self._runs.group_result()
        k = validate_key(key)
        instance = self._current(k)
        if instance is not None:
            instance = self.session.refresh_instance(instance.name) or instance
        if instance is None or instance.status is not TaskStatus.FINISHED:
            status = "not prepared" if instance is None else instance.status.value
            detail = f"\n{instance.traceback}" if instance and instance.traceback else ""
            raise TaskError(f"Task {k!r} has no result (status: {status}).{detail}", task=k)
        value = self.session.result(instance.name, _ABSENT)
        if value is _ABSENT:
            raise TaskError(f"Task {k!r} finished but its result is not in the store.", task=k)
        return value

    def failures(self) -> dict[str, TaskFailure]:
        """Tasks whose current instance failed, with error, traceback and output."""
        return self._runs.group_result(load_results=False).failures

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
        self.session.refresh()
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
            current = self._current(name)
            if current is None:
                raise TaskError(f"No task {name!r} in group {self.name!r}.", task=name)
            name = current.name
        fresh = self.session.refresh_instance(name)
        if fresh is None:
            raise TaskError(f"No instance {name!r} in group {self.name!r}.", task=name)
        return fresh

    def skip(self, instance: TaskInstance | str) -> TaskInstance:
        """Resolve an unresolved instance (or a task's current one) as ``skipped``, unrun."""
        return self._runs.resolve(self._instance(instance), TaskStatus.SKIPPED)

    def abandon(self, instance: TaskInstance | str) -> TaskInstance:
        """Resolve an unresolved instance as ``abandoned`` (give up on it)."""
        return self._runs.resolve(self._instance(instance), TaskStatus.ABANDONED)

    def replay(self, instance: TaskInstance | str, *, run: bool = True) -> TaskInstance:
        """Mark a failed instance ``replayed`` and clone it as the task's next instance.

        The clone (``task#1``, ...) has ``{"parent": ..., "depth": ...}`` metadata and a
        fresh try budget. With ``run=True`` (and the group idle) it starts running now.
        """
        clone = self._runs.replay(self._instance(instance))
        if run and not self.running and clone.task in self._defs:
            self.run([clone.task])
        return clone

    # -- progress ----------------------------------------------------------------------------

    def progress(self) -> Any:
        """A :class:`~persist_ext.features._progress.ProgressSnapshot` read from the store."""
        return self._runs.progress_model().progress()

    def counts(self) -> dict[str, int]:
        """Number of instances per status (all eight statuses, zeros included)."""
        return self._runs.progress_model().counts()

    def __repr__(self) -> str:
        return self._runs.progress_model().text()

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

"""The machinery behind :class:`TaskGroup`: preparing a run, driving it, firing the callback.

Split from ``_group.py`` so the public class stays a readable list of operations.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import time
import traceback as _traceback
from collections.abc import Callable
from concurrent.futures import Future, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..._errors import TaskError
from ._markers import (
    build_tree,
    complete_leaf,
    mark_reached,
    marker_get,
    marker_persist,
    paths_to_root,
    sweep,
)
from ._model import GroupResult, TaskFailure, TaskInstance, TaskStatus
from ._session import instance_key, result_key
from ._storespec import spec_for
from ._worker import TaskCall, TaskOutcome, run_task

if TYPE_CHECKING:
    from ._group import TaskGroup
    from ._progress import TaskProgress

__all__ = ["Definition", "GroupRuns"]

log = logging.getLogger("persist_ext")

_RUNNABLE = frozenset({TaskStatus.UNSTARTED, TaskStatus.SCHEDULED, TaskStatus.RUNNING})


@dataclass
class Definition:
    """A declared call: what a task runs."""

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """Short text for the task's configuration record."""
        name = getattr(self.fn, "__qualname__", type(self.fn).__name__)
        parts = [_short(a) for a in self.args] + [
            f"{k}={_short(v)}" for k, v in self.kwargs.items()
        ]
        return f"{name}({', '.join(parts)})"


def _short(value: Any, limit: int = 40) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class GroupRuns:
    """Run preparation, the driver loop, the marker tree and the callback for one group."""

    def __init__(
        self,
        group: TaskGroup,
        batch_size: int,
        group_size: int,
        combiners: tuple[Any, Any],
    ) -> None:
        self.group = group
        self.store = group.store
        self.batch_size = batch_size
        self.group_size = group_size
        self.combiners = combiners
        self.spec = spec_for(group.store)
        self.root_id: str | None = None
        self.keys: list[str] = []
        self._index: dict[str, int] = {}
        self._paths: dict[str, list[tuple[str, int]]] = {}
        self._progress: TaskProgress | None = None

    # -- the marker tree ---------------------------------------------------------------------

    @property
    def _tree_key(self) -> str:
        return f"tasks/{self.group.name}/tree"

    def _ensure_tree(self, keys: list[str]) -> bool:
        """Load or build the tree for the declared key set; True if it already existed."""
        name = self.group.name
        digest = hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()
        with self.store.transact():
            meta = self.store.get(self._tree_key, None)
            existed = meta is not None and meta["digest"] == digest
            if not existed:
                gen = 1 if meta is None else int(meta["gen"]) + 1
                root = build_tree(
                    f"{name}/{gen}", keys, batch_size=self.batch_size, group_size=self.group_size
                )
                marker_persist(root, save_leaves=False, store=self.store)
                meta = {
                    "gen": gen,
                    "digest": digest,
                    "keys": list(keys),
                    "batch_size": self.batch_size,
                    "group_size": self.group_size,
                    "root": root.id,
                }
                self.store.set(self._tree_key, meta)
        # A tree built by another process (or an earlier run) is authoritative: same key set,
        # its order and shape.
        tree = build_tree(
            f"{name}/{meta['gen']}",
            meta["keys"],
            batch_size=meta["batch_size"],
            group_size=meta["group_size"],
        )
        self.root_id = tree.id
        self.keys = list(meta["keys"])
        self._index = {key: i for i, key in enumerate(self.keys)}
        self._paths = {}
        leaf_paths = paths_to_root(tree)
        for index, key in enumerate(self.keys):
            self._paths[key] = leaf_paths.get(f"{tree.id.rsplit('/', 1)[0]}/t/{index}", [])
        return existed

    def _leaf_id(self, key: str) -> str:
        assert self.root_id is not None
        return f"{self.root_id.rsplit('/', 1)[0]}/t/{self._index[key]}"

    def _load_tree_meta(self) -> bool:
        if self.root_id is not None:
            return True
        meta = self.store.get(self._tree_key, None)
        if meta is None:
            return False
        self._ensure_tree(list(meta["keys"]))
        return True

    def root_done(self) -> bool:
        """True when the marker tree's root is done."""
        if not self._load_tree_meta():
            return False
        root = marker_get(self.root_id, store=self.store)  # type: ignore[arg-type]
        return bool(root and root.done)

    def _settled(self, instance: TaskInstance) -> bool:
        if instance.status is TaskStatus.FAILED:
            return instance.tries >= self.group.max_tries
        return instance.resolved and instance.status is not TaskStatus.REPLAYED

    # -- preparing a run -------------------------------------------------------------------

    def prepare(self, wanted: list[str] | None) -> list[TaskCall]:
        """Persist declarations and the tree, repair after a crash, schedule what must run.

        Runs inside one store transaction, so several processes preparing the same group
        (each running some of its keys) see and write a consistent state.
        """
        group, session = self.group, self.group.session
        with self.store.transact():
            session.reload()
            for key, definition in group._defs.items():
                config = session.add_task(key, description=definition.describe())
                if config.instances == 0:
                    session.create_instance(config)
            meta = session.metadata
            meta.setdefault("created", _dt.datetime.now(_dt.timezone.utc))
            meta["last_run"] = _dt.datetime.now(_dt.timezone.utc)
            meta["max_tries"] = group.max_tries
            existed = self._ensure_tree(list(group._defs))
            if existed:
                self._repair()
            calls = []
            selected = set(wanted) if wanted is not None else None
            for key, definition in group._defs.items():
                if selected is not None and key not in selected:
                    continue
                instance = session.current_instance(key)
                assert instance is not None
                if instance.status in _RUNNABLE or (
                    instance.status is TaskStatus.FAILED and instance.tries < group.max_tries
                ):
                    instance.status = TaskStatus.SCHEDULED
                    session.update_instance(instance)
                    calls.append(self._call(key, instance, definition))
            session.save()
        return calls

    def _call(self, key: str, instance: TaskInstance, definition: Definition) -> TaskCall:
        return TaskCall(
            spec=self.spec,
            group=self.group.name,
            task=key,
            instance=instance.name,
            fn=definition.fn,
            args=definition.args,
            kwargs=definition.kwargs,
            max_tries=self.group.max_tries,
            leaf_id=self._leaf_id(key),
            path=self._paths[key],
            combiners=self.combiners,
            capture=self.group.capture,
        )

    def _repair(self) -> None:
        """Mark leaves of settled tasks a crash left unmarked, then recompute the tree."""
        session = self.group.session
        with self.store.transact():
            for key in self.keys:
                instance = session.current_instance(key) if key in session.tasks else None
                if instance is not None and self._settled(instance):
                    complete_leaf(self.store, self._leaf_id(key), self._paths[key])
        sweep(self.store, self.root_id, combiners=self.combiners)  # type: ignore[arg-type]

    # -- driving ---------------------------------------------------------------------------

    def drive(self, calls: list[TaskCall]) -> None:
        """Submit every call, collect outcomes, fire the callback when the root is done."""
        group = self.group
        executor = group._choice.executor  # type: ignore[union-attr]
        futures: dict[Future[Any], TaskCall] = {}
        try:
            for call in calls:
                futures[executor.submit(run_task, call)] = call
        except Exception as exc:  # e.g. the executor was shut down: record, don't lose
            for call in calls[len(futures) :]:
                self._record_driver_failure(call, exc)
        group._futures = list(futures)
        for future in as_completed(futures):
            call = futures[future]
            try:
                outcome = future.result()
            except BaseException as exc:
                outcome = self._record_driver_failure(call, exc)
            if outcome is None:
                continue
            instance = TaskInstance.from_record(outcome.record)
            group.session.update_instance(instance)
            group.session._dirty_instances.discard(instance.name)
            if group.last_task_ended is None or outcome.ended > group.last_task_ended:
                group.last_task_ended = outcome.ended
            if outcome.completed_root:
                self.maybe_fire()
        group._futures = []
        self.maybe_fire()

    def _record_driver_failure(self, call: TaskCall, exc: BaseException) -> TaskOutcome | None:
        """The worker could not run or report (unpicklable argument, dead process, ...)."""
        if isinstance(exc, KeyboardInterrupt):
            return None
        record = self.store.get(instance_key(call.group, call.instance), None)
        instance = (
            TaskInstance.load(record)
            if record
            else TaskInstance(name=call.instance, task=call.task)
        )
        if instance.resolved:
            return TaskOutcome(instance.to_record(), False, time.time())
        message = f"the task could not be run by the executor: {type(exc).__name__}: {exc}"
        instance.status = TaskStatus.FAILED
        instance.tries = max(instance.tries, self.group.max_tries)
        instance.ended = time.time()
        instance.error = message
        instance.traceback = "".join(_traceback.format_exception(exc))
        instance.logs.append({"level": "error", "message": message, "resolved": False})
        with self.store.transact():
            self.store.set(instance_key(call.group, call.instance), instance.dump())
            completed = complete_leaf(self.store, call.leaf_id, call.path)
        return TaskOutcome(instance.to_record(), completed, instance.ended)

    def maybe_fire(self) -> bool:
        """Fire the callback if the root is done and no process has claimed it yet."""
        group = self.group
        if group.on_complete is None or group._fired.is_set() or not self.root_done():
            return False
        if not mark_reached(self.root_id, "callback", store=self.store):  # type: ignore[arg-type]
            group._fired.set()
            return False
        group._fired.set()
        group.callback_called_at = time.time()
        try:
            group.on_complete(self.group_result())
        except Exception as exc:
            group.callback_error = exc
            log.exception("The completion callback of task group %r raised", group.name)
        return True

    # -- results -------------------------------------------------------------------------

    def group_result(self, load_results: bool = True) -> GroupResult:
        """Results, failures and skipped tasks of the current instances, from the store."""
        session = self.group.session
        session.reload()
        results: dict[str, Any] = {}
        failures: dict[str, TaskFailure] = {}
        skipped: list[str] = []
        for key in session.tasks:
            instance = session.current_instance(key)
            if instance is None:
                continue
            if instance.status is TaskStatus.FINISHED and load_results:
                results[key] = self.store.get(result_key(self.group.name, instance.name), None)
            elif instance.status is TaskStatus.FAILED:
                failures[key] = TaskFailure(
                    key,
                    instance.name,
                    instance.error,
                    instance.traceback,
                    instance.tries,
                    instance.stdout,
                    instance.stderr,
                )
            elif instance.status in (TaskStatus.SKIPPED, TaskStatus.ABANDONED):
                skipped.append(key)
        combined = None
        if any(self.combiners) and self._load_tree_meta():
            root = marker_get(self.root_id, load_results=True, store=self.store)  # type: ignore[arg-type]
            combined = root.result if root else None
        return GroupResult(
            self.group.name,
            results,
            failures,
            tuple(skipped),
            completed=time.time() if self.root_done() else None,
            combined=combined,
        )

    # -- skip, abandon, replay ---------------------------------------------------------------

    def resolve(self, instance: TaskInstance, status: TaskStatus) -> TaskInstance:
        """Resolve an unresolved instance as skipped/abandoned and settle its leaf."""
        if instance.resolved:
            raise TaskError(
                f"{instance.name} is already {instance.status.value}; only unresolved "
                "instances can be skipped or abandoned.",
                task=instance.name,
            )
        if instance.status is TaskStatus.RUNNING and self.group.running:
            raise TaskError(
                f"{instance.name} is running; wait() or cancel() before resolving it.",
                task=instance.name,
            )
        instance.status = status
        instance.resolve_logs()
        instance.ended = instance.ended or time.time()
        completed = False
        self._load_tree_meta()
        with self.store.transact():
            self.store.set(instance_key(self.group.name, instance.name), instance.dump())
            if self.root_id is not None and instance.task in self._paths:
                completed = complete_leaf(
                    self.store, self._leaf_id(instance.task), self._paths[instance.task]
                )
        self.group.session.update_instance(instance)
        self.group.session._dirty_instances.discard(instance.name)
        if completed:
            self.maybe_fire()
        return instance

    def replay(self, instance: TaskInstance) -> TaskInstance:
        """Mark a failed instance replayed and install its clone (unstarted)."""
        if instance.status is not TaskStatus.FAILED:
            raise TaskError(
                f"Only failed instances can be replayed; {instance.name} is "
                f"{instance.status.value}.",
                task=instance.name,
            )
        if self.group.running:
            raise TaskError(
                f"Task group {self.group.name!r} is running; wait() before replaying.",
                task=instance.name,
            )
        session = self.group.session
        instance.status = TaskStatus.REPLAYED
        instance.resolve_logs()
        session.update_instance(instance)
        clone = session.clone_instance(instance)
        session.save()
        return clone

    # -- progress --------------------------------------------------------------------------

    def progress_model(self) -> TaskProgress:
        """The group's progress model (created once)."""
        if self._progress is None:
            from ._progress import TaskProgress

            self._progress = TaskProgress(self.group)
        return self._progress

"""The machinery behind :class:`TaskGroup`: preparing a run, driving it, firing the callback.

Split from ``_group.py`` so the public class stays a readable list of operations.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..._errors import TaskError
from ._driver import Driver
from ._markers import (
    leaf_paths,
    mark_reached,
    marker_get,
    persist_shape,
    settle_leaves,
)
from ._model import GroupResult, TaskFailure, TaskInstance, TaskStatus
from ._storespec import spec_for
from ._worker import TaskCall

if TYPE_CHECKING:
    from ._group import TaskGroup
    from ._progress import TaskProgress

__all__ = ["Definition", "GroupRuns", "LazyResults"]

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
        self._leaf_prefix = ""
        self._leaf_paths: list[list[tuple[str, int]]] = []
        self._batch_size = batch_size
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
                # One record for the whole tree, not one per internal node (1,111 for
                # 10,000 tasks at ~100 us each on a diskcache Store).
                root_id = persist_shape(
                    f"{name}/{gen}",
                    len(keys),
                    batch_size=self.batch_size,
                    group_size=self.group_size,
                    store=self.store,
                )
                meta = {
                    "gen": gen,
                    "digest": digest,
                    "keys": list(keys),
                    "batch_size": self.batch_size,
                    "group_size": self.group_size,
                    "root": root_id,
                }
                self.store.set(self._tree_key, meta)
        # A tree built by another process (or an earlier run) is authoritative: same key set,
        # its order and shape.
        prefix = f"{name}/{meta['gen']}"
        self.root_id = f"{prefix}/root"
        self._leaf_prefix = f"{prefix}/t/"
        self.keys = list(meta["keys"])
        self._index = {key: i for i, key in enumerate(self.keys)}
        self._batch_size = int(meta["batch_size"])
        self._leaf_paths = leaf_paths(
            prefix, len(self.keys), batch_size=meta["batch_size"], group_size=meta["group_size"]
        )
        return existed

    def _leaf_id(self, key: str) -> str:
        return f"{self._leaf_prefix}{self._index[key]}"

    def _path(self, key: str) -> list[tuple[str, int]]:
        return self._leaf_paths[self._index[key]]

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
            session.journal.compact()
            for key, definition in group._defs.items():
                config = session.add_task(key, description=definition.describe())
                if config.instances == 0:
                    session.create_instance(config)
            meta = session.metadata
            meta.setdefault("created", _dt.datetime.now(_dt.timezone.utc))
            meta["last_run"] = _dt.datetime.now(_dt.timezone.utc)
            meta["max_tries"] = group.max_tries
            if self._ensure_tree(list(group._defs)):
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
            self.spec,
            self.group.name,
            key,
            instance.name,
            definition.fn,
            definition.args,
            definition.kwargs,
            self.group.max_tries,
            instance.to_record(),
            "",
            self.group.capture,
        )

    def _repair(self) -> None:
        """Count leaves of settled tasks that the tree does not count yet (idempotent)."""
        session = self.group.session
        leaves = []
        for key in self.keys:
            instance = session.current_instance(key) if key in session.tasks else None
            if instance is not None and self._settled(instance):
                leaves.append((self._leaf_id(key), self._path(key)))
        with self.store.transact():
            settle_leaves(self.store, leaves, batch_size=self._batch_size, combiners=self.combiners)

    # -- driving ---------------------------------------------------------------------------

    def drive(self, calls: list[TaskCall]) -> None:
        """Submit every call, write outcomes in batches, fire the callback when done."""
        Driver(self, self.group.flush_interval).run(calls)
        self.maybe_fire()

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
        """Results, failures and skipped tasks of the current instances, from the store.

        ``results`` is a mapping that reads each value when it is first accessed (small
        values are already in memory from the journal), so building one is cheap.
        """
        session = self.group.session
        session.refresh()
        finished: dict[str, str] = {}
        failures: dict[str, TaskFailure] = {}
        skipped: list[str] = []
        for key in session.tasks:
            instance = session.current_instance(key)
            if instance is None:
                continue
            if instance.status is TaskStatus.FINISHED:
                finished[key] = instance.name
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
            LazyResults(session, finished if load_results else {}),
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
        session = self.group.session
        record = instance.to_record()
        with self.store.transact():
            seq = session.journal.write({instance.name: record})
            if self.root_id is not None and instance.task in self._index:
                leaf = (self._leaf_id(instance.task), self._path(instance.task))
                completed = settle_leaves(
                    self.store, [leaf], batch_size=self._batch_size, combiners=self.combiners
                )
        session.applied(seq, {instance.name: record})
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


class LazyResults(Mapping[str, Any]):
    """Task key -> result, each read from the store when first accessed (then kept).

    Compares equal to a dict with the same items; ``dict(results)`` loads everything.
    """

    def __init__(self, session: Any, names: dict[str, str]) -> None:
        self._session = session
        self._names = names
        self._loaded: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key not in self._loaded:
            name = self._names[key]
            self._loaded[key] = self._session.result(name, None)
        return self._loaded[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        # Printing is asking to see them: load everything and show a plain dict.
        return repr(dict(self))

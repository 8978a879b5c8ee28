"""The owner of a task group's persisted state: records, marker tree, callback.

:class:`GroupState` is the only object that writes a group's state to its store. It holds
the session (task configurations, instance records via the journal), the marker tree and
the completion protocol, and offers the operations a run needs:

- :meth:`prepare` — persist declarations and the tree, repair after a crash, and say which
  instances must run;
- :meth:`record` — write one batch of outcomes (records, results, settled leaves) in one
  store transaction; True when it completed the tree;
- :meth:`fire` — call the completion callback under the exactly-once protocol;
- :meth:`resolve` / :meth:`replay` — skip, abandon, replay an instance;
- :meth:`group_result` and the read accessors the facade and the progress model use.

Whether an instance is settled or must run again is never decided here by hand: it asks
:func:`~._model.is_settled`. Store keys come from :mod:`._keys`.
"""

from __future__ import annotations

import datetime as _dt
import logging
import time
import traceback as _traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..._errors import TaskError
from ...storage._protocol import KeyValueStore
from ._completion import Completion
from ._keys import group_keys
from ._model import (
    GroupResult,
    TaskFailure,
    TaskInstance,
    TaskStatus,
    as_status,
    instance_name,
    is_settled,
)
from ._session import SessionBackend, StoreSessionBackend
from ._tree import GroupTree
from ._worker import failed_record

__all__ = ["Batch", "Definition", "GroupState", "LazyResults", "Scheduled"]

log = logging.getLogger("persist_ext")

_SET_ASIDE = frozenset({TaskStatus.SKIPPED, TaskStatus.ABANDONED})
_MIRROR_EVERY = 1.0


@dataclass
class Definition:
    """A declared call: what a task runs."""

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """Short text for the task's configuration record."""
        name = getattr(self.fn, "__qualname__", type(self.fn).__name__)
        args, kwargs = self.args, self.kwargs
        if len(args) == 1 and not kwargs:  # map(): one argument (10,000 per run)
            return f"{name}({_short(args[0])})"
        parts = [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()]
        return f"{name}({', '.join(parts)})"


def _short(value: Any, limit: int = 40) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Scheduled(NamedTuple):
    """An instance :meth:`GroupState.prepare` scheduled: task key, instance, its record.

    A tuple, not an object: the garbage collector untracks a tuple of strings and an
    untracked record, so a run's 10,000 of them cost its passes nothing.
    """

    task: str
    instance: str
    record: dict[str, Any]


@dataclass
class Batch:
    """Outcomes to write together: new records (instance name -> record), inline results,
    large results, the task keys whose current instance settled, and their results for
    the tree's combiners."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    large: dict[str, Any] = field(default_factory=dict)
    settled: dict[str, str] = field(default_factory=dict)  # task key -> instance name
    results: dict[str, Any] = field(default_factory=dict)


class GroupState:
    """Everything group ``name`` has stored in ``store`` (see the module docstring)."""

    def __init__(
        self,
        name: str,
        store: KeyValueStore,
        *,
        max_tries: int,
        batch_size: int,
        group_size: int,
        combiners: tuple[Any, Any] = (None, None),
        mirror: SessionBackend | None = None,
    ) -> None:
        self.name = name
        self.store = store
        self.keys = group_keys(name)
        self.max_tries = max_tries
        self.session = StoreSessionBackend(name, store)
        self.tree = GroupTree(store, name, batch_size, group_size, combiners)
        self.completion = Completion(store)
        self.mirror = mirror
        self._mirrored = 0.0
        self._fired = False
        self._aside: set[str] = set()
        self.last_task_ended: float | None = None
        self.callback_called_at: float | None = None
        self.callback_error: BaseException | None = None

    # -- the rule -------------------------------------------------------------------------

    def settled(self, instance: TaskInstance) -> bool:
        """True when ``instance`` will not run again (:func:`~._model.is_settled`)."""
        return is_settled(instance.status, instance.tries, self.max_tries)

    def set_aside(self, name: str) -> bool:
        """True when instance ``name`` was skipped or abandoned in this process during the
        run (it must not run, and a late outcome must not overwrite that)."""
        return name in self._aside

    # -- preparing a run -------------------------------------------------------------------

    def prepare(
        self, definitions: Mapping[str, Definition], wanted: list[str] | None
    ) -> list[Scheduled]:
        """Persist declarations and the tree, repair after a crash, schedule what must run.

        Runs inside one store transaction, so several processes preparing the same group
        (each running some of its keys) see and write a consistent state.
        """
        session = self.session
        self._import_mirror()
        selected = set(wanted) if wanted is not None else None
        with self.store.transact():
            session.reload()
            session.journal.compact()
            known = session.tasks
            # Tasks never declared before (every task of a first run): configurations and
            # scheduled records in bulk, no object per instance.
            fresh = session.add_scheduled(
                {key: d.describe() for key, d in definitions.items() if key not in known},
                selected,
            )
            first_run = len(fresh) == len(definitions)
            if not first_run:
                for key in definitions:
                    config = known[key]
                    if config.instances == 0:
                        session.create_instance(config)
            meta = session.metadata
            now = _dt.datetime.now(_dt.timezone.utc)
            meta.setdefault("created", now)
            meta["last_run"] = now
            meta["max_tries"] = self.max_tries
            if self.tree.ensure(list(definitions)):
                self._repair()
            if first_run:
                # Every task is new: its record is the one just made, in declaration
                # order, scheduled unless the run selected other keys.
                scheduled = [
                    Scheduled(record["task"], name, record)
                    for name, record in fresh.items()
                    if record["status"] == "scheduled"
                ]
            else:
                scheduled = []
                for key in definitions:
                    if selected is not None and key not in selected:
                        continue
                    name = instance_name(key, 0)
                    record = fresh.get(name)
                    if record is not None and record["task"] == key:
                        scheduled.append(Scheduled(key, name, record))
                        continue
                    instance = session.current_instance(key)
                    if instance is None or self.settled(instance):
                        continue
                    instance.status = TaskStatus.SCHEDULED
                    session.update_instance(instance)
                    scheduled.append(Scheduled(key, instance.name, instance.to_record()))
            session.save()
        self._fired = False
        self.sync_mirror(force=True)
        return scheduled

    def _repair(self) -> None:
        """Count leaves of settled tasks that the tree does not count yet (idempotent)."""
        session = self.session
        settled = []
        in_tree = set(self.tree.task_keys)
        for key, record in session.current_records():
            if (
                key in in_tree
                and record is not None
                and is_settled(record["status"], record.get("tries", 0), self.max_tries)
            ):
                settled.append(key)
        self.tree.settle(settled)

    # -- recording outcomes ----------------------------------------------------------------

    def record(self, batch: Batch) -> bool:
        """Write ``batch`` in one transaction; True if it completed the marker tree.

        A large result that cannot be stored turns its task into a failure (never silence).
        If the transaction fails nothing of the batch is stored: its tasks stay unsettled
        and run again on resume.
        """
        store, records = self.store, batch.records
        try:
            with store.transact():
                for name, value in batch.large.items():
                    try:
                        store.set(self.keys.result(name), value)
                    except Exception as exc:
                        records[name] = _unstorable(records[name], exc, self.max_tries)
                        task = records[name]["task"]
                        batch.results.pop(task, None)
                external = [n for n in batch.large if records[n]["status"] == "finished"]
                seq = self.session.journal.write(records, batch.values, external)
                completed = self.tree.settle(batch.settled, batch.results)
        except Exception:
            log.exception("Task group %r could not record a batch", self.name)
            return False
        self.session.applied(seq, records, batch.values, external)
        ended = max((r.get("ended") or 0.0 for r in records.values()), default=0.0)
        if ended and (self.last_task_ended is None or ended > self.last_task_ended):
            self.last_task_ended = ended
        self.sync_mirror()
        return completed

    # -- the completion callback ---------------------------------------------------------

    def fire(self, on_complete: Callable[[GroupResult], Any] | None) -> bool:
        """Call ``on_complete`` if the tree is complete and no live process has (or is).

        Also finishes a call a dead process claimed and never finished (see
        :mod:`._completion`). True if this process called it.
        """
        if on_complete is None or self._fired or not self.tree.root_done():
            return False
        root = self.tree.root_id
        assert root is not None

        def call() -> None:
            self.callback_called_at = time.time()
            on_complete(self.group_result())

        try:
            fired = self.completion.fire(root, call)
        except Exception as exc:
            self.callback_error = exc
            log.exception("The completion callback of task group %r raised", self.name)
            fired = True
        self._fired = self.completion.state(root) == "done" or fired
        return fired

    # -- reading -------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read journal pages written since the last read (workers, other processes)."""
        self.session.refresh()

    def current(self, key: str) -> TaskInstance | None:
        """Task ``key``'s current instance as stored now, or None if never prepared."""
        if key not in self.session.tasks:
            return None
        instance = self.session.current_instance(key)
        if instance is None:
            return None
        return self.session.refresh_instance(instance.name) or instance

    def instance(self, name: str) -> TaskInstance | None:
        """Instance ``name`` as stored now."""
        return self.session.refresh_instance(name)

    def result_of(self, name: str, default: Any = None) -> Any:
        """The stored result of instance ``name``."""
        return self.session.result(name, default)

    def root_done(self) -> bool:
        """True when every task of the current tree is settled."""
        return self.tree.root_done()

    def group_result(self, load_results: bool = True) -> GroupResult:
        """Results, failures and skipped tasks of the current instances, from the store.

        ``results`` is a mapping that reads each value when it is first accessed (small
        values are already in memory from the journal), so building one is cheap.
        """
        session = self.session
        session.refresh()
        finished: dict[str, str] = {}
        failures: dict[str, TaskFailure] = {}
        skipped: list[str] = []
        # Plain records, not instance objects: this runs once per completed run of
        # 10,000 tasks (the callback's argument) and for every progress read.
        for key, record in session.current_records():
            if record is None:
                continue
            status = record["status"]
            if status == "finished" or status is TaskStatus.FINISHED:
                finished[key] = record["name"]
                continue
            status = as_status(status)
            if status is TaskStatus.FAILED:
                failures[key] = TaskFailure(
                    key,
                    record["name"],
                    record.get("error", ""),
                    record.get("traceback", ""),
                    int(record.get("tries", 0)),
                    record.get("stdout", ""),
                    record.get("stderr", ""),
                )
            elif status in _SET_ASIDE:
                skipped.append(key)
        return GroupResult(
            self.name,
            LazyResults(session, finished if load_results else {}),
            failures,
            tuple(skipped),
            completed=time.time() if self.root_done() else None,
            combined=self.tree.combined(),
        )

    # -- skip, abandon, replay ---------------------------------------------------------

    def resolve(self, instance: TaskInstance, status: TaskStatus, *, running: bool) -> bool:
        """Resolve an unresolved instance as skipped/abandoned and settle its leaf.

        Returns True when that completed the tree. ``running``: the group is running now.
        """
        if instance.resolved:
            raise TaskError(
                f"{instance.name} is already {instance.status.value}; only unresolved "
                "instances can be skipped or abandoned.",
                task=instance.name,
            )
        if instance.status is TaskStatus.RUNNING and running:
            raise TaskError(
                f"{instance.name} is running; wait() or cancel() before resolving it.",
                task=instance.name,
            )
        instance.status = status
        instance.resolve_logs()
        instance.ended = instance.ended or time.time()
        self._aside.add(instance.name)
        self.tree.load()
        record = instance.to_record()
        with self.store.transact():
            seq = self.session.journal.write({instance.name: record})
            completed = self.tree.settle([instance.task])
        self.session.applied(seq, {instance.name: record})
        self.sync_mirror(force=True)
        return completed

    def replay(self, instance: TaskInstance, *, running: bool) -> TaskInstance:
        """Mark a failed instance replayed and install its clone (unstarted)."""
        if instance.status is not TaskStatus.FAILED:
            raise TaskError(
                f"Only failed instances can be replayed; {instance.name} is "
                f"{instance.status.value}.",
                task=instance.name,
            )
        if running:
            raise TaskError(
                f"Task group {self.name!r} is running; wait() before replaying.",
                task=instance.name,
            )
        session = self.session
        instance.status = TaskStatus.REPLAYED
        instance.resolve_logs()
        session.update_instance(instance)
        clone = session.clone_instance(instance)
        session.save()
        self.sync_mirror(force=True)
        return clone

    # -- a custom session backend (the 002 seed's) ------------------------------------------

    def sync_mirror(self, force: bool = False) -> None:
        """Copy the session into the custom backend (at most once a second unless forced)."""
        if self.mirror is None:
            return
        now = time.monotonic()
        if not force and now - self._mirrored < _MIRROR_EVERY:
            return
        self._mirrored = now
        session = self.session
        session.refresh()
        self.mirror.install(session.tasks, session.instances, session.metadata)
        self.mirror.save()

    def _import_mirror(self) -> None:
        """Seed an empty store from the custom backend (a session saved elsewhere)."""
        if self.mirror is None or self.keys.configs in self.store:
            return
        mirror = self.mirror
        if not mirror.tasks:
            return
        self.session.install(mirror.tasks, mirror.instances, mirror.metadata)
        self.session.save()


def _unstorable(record: dict[str, Any], exc: Exception, max_tries: int) -> dict[str, Any]:
    # Storing the same value again would fail again: settle it (every try used).
    error = f"the task returned a value that could not be stored: {exc!r}"
    failed = failed_record(record, error, "".join(_traceback.format_exception(exc)))
    failed["tries"] = max(int(record.get("tries", 0)), max_tries)
    return failed


class LazyResults(Mapping[str, Any]):
    """Task key -> result, each read from the store when first accessed (then kept).

    Compares equal to a dict with the same items; ``dict(results)`` loads everything.
    """

    def __init__(self, session: StoreSessionBackend, names: dict[str, str]) -> None:
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

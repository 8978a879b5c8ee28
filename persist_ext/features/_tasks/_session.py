"""Session storage: the tasks, instances and metadata of one group, as the ``002`` seed.

A *session* (one per task group, ``uid`` = the group's name) has three parts:

- ``tasks``: task key -> :class:`TaskConfig`;
- ``instances``: instance name (``key#0``, ``key#1``, ...) -> :class:`TaskInstance`;
- ``metadata``: a dict (datetimes round-trip).

:class:`SessionBackend` implements the seed's API on top of two methods a backend provides,
``_load_from_backend()`` and ``_save()``. :class:`StoreSessionBackend` keeps each record under
its own key in a :class:`KeyValueStore` (so a worker process updates one instance without
rewriting the session). Other backends register under the entry-point group
``persist_ext.session_backends`` and are selected by name with :func:`open_session`.
"""

from __future__ import annotations

import copy
import importlib.metadata
import json
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from ..._errors import TaskError
from ...storage._protocol import KeyValueStore
from ._journal import Journal
from ._keys import group_keys
from ._model import (
    UNRESOLVED,
    TaskConfig,
    TaskInstance,
    from_json_data,
    instance_name,
    new_record,
    to_json_data,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "SEED_ENTRY_POINT_GROUP",
    "SessionBackend",
    "StoreSessionBackend",
    "open_session",
    "session_backend",
]

ENTRY_POINT_GROUP = "persist_ext.session_backends"
#: The seed's own entry-point group: backends written for triggers register here.
SEED_ENTRY_POINT_GROUP = "triggers.storage_backends"
_GROUPS = (ENTRY_POINT_GROUP, SEED_ENTRY_POINT_GROUP)


_INSTANCE_FIELDS = frozenset(TaskInstance.__dataclass_fields__) - {"name", "task", "status"}


class SessionBackend:
    """The seed's session API; subclasses provide ``_load_from_backend`` and ``_save``.

    ``_load_from_backend()`` returns ``(configs, instances, metadata)`` (dicts keyed by
    task key and instance name); ``_save()`` writes ``self._configs``, ``self._instances``
    and ``self._metas``. ``self._dirty_configs`` / ``self._dirty_instances`` name what
    changed since the last save, for backends that can write less. ``_serialize`` and
    ``_deserialize`` turn a value into JSON-ready data and back, datetimes included.

    Iterating a session yields its instances (order undefined, as in the seed).

    Examples
    --------
    >>> from persist_ext.storage._memory import MemoryStore
    >>> session = open_session("demo", "store", store=MemoryStore())
    >>> first = session.create_instance(session.add_task("load"))
    >>> first.name, session[first.name].status.value
    ('load#0', 'unstarted')
    >>> session["nope#0"]  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    KeyError: "No instance 'nope#0' in session 'demo'; ..."
    """

    name = "base"

    def __init__(self, uid: str) -> None:
        if not isinstance(uid, str) or not uid or "/" in uid:
            raise TaskError(f"A session uid must be a non-empty str without '/', got {uid!r}.")
        self.uid = uid
        self._configs: dict[str, TaskConfig] = {}
        self._instances: dict[str, TaskInstance] = {}
        self._metas: dict[str, Any] = {}
        self._dirty_configs: set[str] = set()
        self._dirty_instances: set[str] = set()
        self._loaded = False
        self._lock = threading.RLock()

    # -- what a backend implements ------------------------------------------------------

    def _load_from_backend(
        self,
    ) -> tuple[dict[str, TaskConfig], dict[str, TaskInstance], dict[str, Any]]:
        raise TaskError(
            f"{type(self).__name__} must implement _load_from_backend() returning "
            "(configs, instances, metadata)."
        )

    def _save(self) -> None:
        raise TaskError(f"{type(self).__name__} must implement _save().")

    # -- loading and saving -------------------------------------------------------------

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if not self._loaded:
                configs, instances, metas = self._load_from_backend()
                self._configs = dict(configs)
                self._instances = dict(instances)
                self._metas = dict(metas)
                self._loaded = True

    def reload(self) -> None:
        """Forget the in-memory state and read it again from the backend."""
        with self._lock:
            self._loaded = False
            self._dirty_configs.clear()
            self._dirty_instances.clear()
            self._ensure_loaded()

    def save(self) -> None:
        """Write the session through ``_save()``."""
        with self._lock:
            self._ensure_loaded()
            self._save()
            self._dirty_configs.clear()
            self._dirty_instances.clear()

    def install(
        self,
        configs: dict[str, TaskConfig],
        instances: dict[str, TaskInstance],
        metadata: dict[str, Any],
    ) -> None:
        """Replace the whole session with copies of these (marked for the next save).

        How a :class:`~persist_ext.TaskGroup` given a custom backend (``session=``) hands
        it the group's state.
        """
        with self._lock:
            self._ensure_loaded()
            self._configs = {k: TaskConfig.from_record(v.to_record()) for k, v in configs.items()}
            self._instances = {
                k: TaskInstance.from_record(copy.deepcopy(v.to_record()))
                for k, v in instances.items()
            }
            self._metas = copy.deepcopy(dict(metadata))
            self._dirty_configs = set(self._configs)
            self._dirty_instances = set(self._instances)

    # -- the three parts --------------------------------------------------------------

    @property
    def tasks(self) -> dict[str, TaskConfig]:
        """Task key -> :class:`TaskConfig`, in declaration order."""
        self._ensure_loaded()
        return self._configs

    @property
    def instances(self) -> dict[str, TaskInstance]:
        """Instance name -> :class:`TaskInstance` (may include instances that never ran)."""
        self._ensure_loaded()
        return self._instances

    @property
    def metadata(self) -> dict[str, Any]:
        """Session metadata; call :meth:`save` after changing it."""
        self._ensure_loaded()
        return self._metas

    def __getitem__(self, name: str) -> TaskInstance:
        self._ensure_loaded()
        try:
            return self._instances[name]
        except KeyError:
            raise KeyError(
                f"No instance {name!r} in session {self.uid!r}; instance names look like "
                "'task#0' (see .instances)."
            ) from None

    def __iter__(self) -> Iterator[TaskInstance]:
        self._ensure_loaded()
        return iter(list(self._instances.values()))

    def __len__(self) -> int:
        self._ensure_loaded()
        return len(self._instances)

    def __contains__(self, name: object) -> bool:
        self._ensure_loaded()
        return name in self._instances

    # -- the seed's methods ------------------------------------------------------------

    def add_task(self, task: TaskConfig | str, *, description: str = "") -> TaskConfig:
        """Install a task configuration (kept if one with that name exists); returns it."""
        config = task if isinstance(task, TaskConfig) else TaskConfig(str(task), description)
        with self._lock:
            self._ensure_loaded()
            existing = self._configs.get(config.name)
            if existing is not None:
                return existing
            config.order = len(self._configs)
            self._configs[config.name] = config
            self._dirty_configs.add(config.name)
            return config

    def _config(self, task_config: TaskConfig | str) -> TaskConfig:
        name = task_config.name if isinstance(task_config, TaskConfig) else str(task_config)
        self._ensure_loaded()
        config = self._configs.get(name)
        if config is None:
            raise TaskError(
                f"No task {name!r} in session {self.uid!r}; add it first (add_task).", task=name
            )
        return config

    def create_instance(self, task_config: TaskConfig | str, **kwargs: Any) -> TaskInstance:
        """Create the next instance of a task (``f"{task}#{n}"``), status ``unstarted``.

        Keyword arguments go to :class:`TaskInstance` (``kwargs=``, ``metadata=``, ...);
        ``name``, ``task`` and ``status`` are set here and cannot be given.
        """
        unknown = set(kwargs) - _INSTANCE_FIELDS
        if unknown:
            raise TaskError(
                f"create_instance got unknown or fixed fields {sorted(unknown)}; "
                f"allowed: {sorted(_INSTANCE_FIELDS)}."
            )
        with self._lock:
            config = self._config(task_config)
            name = instance_name(config.name, config.instances)
            config.instances += 1
            fields = copy.deepcopy(kwargs) if kwargs else {}
            instance = TaskInstance(name=name, task=config.name, **fields)
            self._instances[name] = instance
            self._dirty_configs.add(config.name)
            self._dirty_instances.add(name)
            return instance

    def clone_instance(self, task_instance: TaskInstance | str) -> TaskInstance:
        """Install a copy of an instance as the task's next instance (used by replay).

        The clone's ``kwargs`` are a deep copy (never shared with the original) and its
        metadata says ``{"parent": <original name>, "depth": <original depth + 1>}``.
        """
        name = task_instance.name if isinstance(task_instance, TaskInstance) else task_instance
        original = self[name]
        metadata = copy.deepcopy(original.metadata)
        metadata.update(parent=original.name, depth=int(original.metadata.get("depth", 0)) + 1)
        return self.create_instance(
            original.task, kwargs=copy.deepcopy(original.kwargs), metadata=metadata
        )

    def update_instance(self, instance: TaskInstance) -> None:
        """Install ``instance`` (a changed record) and mark it for the next save."""
        with self._lock:
            self._ensure_loaded()
            self._instances[instance.name] = instance
            self._dirty_instances.add(instance.name)

    def get_instances_with_unresolved_logs(self) -> list[TaskInstance]:
        """Instances with at least one log entry nobody resolved (e.g. a failure)."""
        return [i for i in self if i.unresolved_logs]

    def get_unresolved_instances(self) -> list[TaskInstance]:
        """Instances whose status is unstarted, scheduled, running or failed."""
        return [i for i in self if i.status in UNRESOLVED]

    def get_unresolved_tasks(self) -> list[TaskConfig]:
        """Tasks with no instance yet, or with at least one unresolved instance."""
        self._ensure_loaded()
        unresolved = {i.task for i in self.get_unresolved_instances()}
        return [c for c in self._configs.values() if c.instances == 0 or c.name in unresolved]

    def instances_of_task(self, task_config: TaskConfig | str) -> list[TaskInstance]:
        """Every instance created for a task, oldest first."""
        config = self._config(task_config)
        names = (instance_name(config.name, n) for n in range(config.instances))
        return [self._instances[n] for n in names if n in self._instances]

    def current_instance(self, task_config: TaskConfig | str) -> TaskInstance | None:
        """The task's newest instance, or None before the first one."""
        config = self._config(task_config)
        if not config.instances:
            return None
        return self._instances.get(instance_name(config.name, config.instances - 1))

    # -- serialization helpers for custom backends -----------------------------------------

    @staticmethod
    def _serialize(value: Any) -> Any:
        """JSON-ready form of records and metadata; datetimes, dates and tuples are tagged.

        Works on one record, on ``self._configs`` / ``self._instances`` as a whole (the
        seed's recipe: ``self._serialize(self._configs)``), and on metadata; records nested
        in dicts and lists are tagged so :meth:`_deserialize` rebuilds them.

        >>> data = SessionBackend._serialize({"t": TaskConfig("t")})
        >>> SessionBackend._deserialize(json.loads(json.dumps(data)))["t"].name
        't'
        """
        if isinstance(value, (TaskConfig, TaskInstance)):
            return {"__record__": type(value).__name__, "data": to_json_data(value.to_record())}
        if isinstance(value, dict) and any(
            isinstance(v, (TaskConfig, TaskInstance, dict, list)) for v in value.values()
        ):
            if not all(isinstance(k, str) for k in value):
                raise TaskError("Keys of session data must be str to be saved as JSON.")
            return {k: SessionBackend._serialize(v) for k, v in value.items()}
        if isinstance(value, list):
            return [SessionBackend._serialize(v) for v in value]
        return to_json_data(value)

    @staticmethod
    def _deserialize(value: Any) -> Any:
        """Inverse of :meth:`_serialize` (records nested in dicts and lists included)."""
        if isinstance(value, dict) and "__record__" in value:
            cls = TaskConfig if value["__record__"] == "TaskConfig" else TaskInstance
            return cls.from_record(from_json_data(value["data"]))
        if isinstance(value, dict) and not any(k.startswith("__") for k in value):
            return {k: SessionBackend._deserialize(v) for k, v in value.items()}
        if isinstance(value, list):
            return [SessionBackend._deserialize(v) for v in value]
        return from_json_data(value)

    def __repr__(self) -> str:
        state = f"{len(self._configs)} tasks, {len(self._instances)} instances"
        return f"<{type(self).__name__} {self.uid!r}: {state if self._loaded else 'not loaded'}>"


class StoreSessionBackend(SessionBackend):
    """A session kept in a :class:`KeyValueStore`, one entry per record.

    Layout (keys from :func:`~._keys.group_keys`): metadata (a dict), task configurations
    (JSON text), journal pages of instance records and small results (:mod:`._journal`),
    and the results too large for a page.
    ``_save()`` writes only what changed, in one store transaction and one page.
    """

    name = "store"

    def __init__(self, uid: str, store: KeyValueStore | None = None) -> None:
        super().__init__(uid)
        if store is None:
            from ...storage._store import Store

            store = Store()
        self.store = store
        self.keys = group_keys(uid)
        self.journal = Journal(store, uid)
        self._pending: dict[str, dict[str, Any]] = {}
        self._unsaved: dict[str, dict[str, Any]] = {}

    def _load_from_backend(
        self,
    ) -> tuple[dict[str, TaskConfig], dict[str, TaskInstance], dict[str, Any]]:
        stored = self.store.get(self.keys.configs, "{}")
        records = json.loads(stored) if isinstance(stored, str) else stored
        configs = sorted((TaskConfig.from_record(r) for r in records.values()), key=_order)
        self.journal.load()
        instances = {
            name: TaskInstance.from_record(record) for name, record in self.journal.records.items()
        }
        metas = self.store.get(self.keys.metadata, {})
        return {c.name: c for c in configs}, instances, dict(metas)

    def _save(self) -> None:
        records = dict(self._unsaved)
        records.update((name, self._instances[name].to_record()) for name in self._dirty_instances)
        with self.store.transact():
            if self._dirty_configs:
                configs = {name: c.to_record() for name, c in self._configs.items()}
                self.store.set(self.keys.configs, json.dumps(configs, separators=(",", ":")))
            seq = self.journal.write(records) if records else 0
            self.store.set(self.keys.metadata, dict(self._metas))
        self._unsaved = {}
        if seq:
            self.applied(seq, records, install=False)

    def applied(
        self,
        seq: int,
        records: dict[str, dict[str, Any]],
        values: dict[str, Any] | None = None,
        external: Any = (),
        *,
        install: bool = True,
    ) -> None:
        """Take in a page this process wrote (call after its transaction committed).

        When no other writer came in between, the page is applied from memory; otherwise
        the journal is read from where this session left it, which includes the page.
        """
        with self._lock:
            if not self._loaded:
                return
            if seq == self.journal.seq + 1:
                page = {"r": records, "v": values or {}, "k": list(external)}
                self.journal.apply_page(seq, page, None)  # the names are records' keys
                if install:
                    # Records become TaskInstance objects when someone reads them
                    # (_materialize), not once per state change in the driver.
                    self._pending.update(records)
            else:
                for name in self.journal.refresh():
                    self._pending[name] = self.journal.records[name]

    # -- records become TaskInstance objects when someone reads them -----------------------
    #
    # The driver hands the session every record it writes (10,000 per run); building an
    # object for each is the cost of a no-op task. ``_pending`` holds the records newer
    # than ``_instances`` (name -> plain record); an accessor converts only what it returns.

    def _materialize(self, name: str | None = None) -> None:
        """Turn pending records into instances: one (``name``) or all."""
        self._ensure_loaded()
        pending = self._pending
        if not pending:
            return
        with self._lock:
            if name is not None:
                record = pending.pop(name, None)
                if record is not None:
                    self._instances[name] = TaskInstance.from_record(record)
                return
            self._pending = {}
            for key, record in pending.items():
                self._instances[key] = TaskInstance.from_record(record)

    @property
    def instances(self) -> dict[str, TaskInstance]:
        """Instance name -> :class:`TaskInstance` (may include instances that never ran)."""
        self._materialize()
        return self._instances

    def __getitem__(self, name: str) -> TaskInstance:
        self._materialize(name)
        return super().__getitem__(name)

    def __iter__(self) -> Iterator[TaskInstance]:
        self._materialize()
        return super().__iter__()

    def __len__(self) -> int:
        self._ensure_loaded()
        return len(self._instances.keys() | self._pending.keys())

    def __contains__(self, name: object) -> bool:
        self._ensure_loaded()
        return name in self._instances or name in self._pending

    def instances_of_task(self, task_config: TaskConfig | str) -> list[TaskInstance]:
        """Every instance created for a task, oldest first."""
        self._materialize()
        return super().instances_of_task(task_config)

    def current_instance(self, task_config: TaskConfig | str) -> TaskInstance | None:
        """The task's newest instance, or None before the first one."""
        config = self._config(task_config)
        if not config.instances:
            return None
        name = instance_name(config.name, config.instances - 1)
        self._materialize(name)
        return self._instances.get(name)

    def task_keys(self) -> list[str]:
        """Task keys in declaration order (no instance object is built)."""
        self._ensure_loaded()
        return list(self._configs)

    def current_record(self, key: str) -> dict[str, Any] | None:
        """The plain record of task ``key``'s newest instance (None: no instance), without
        building an object: what progress counts and group results read."""
        self._ensure_loaded()
        config = self._configs.get(key)
        return None if config is None else self._newest(config)

    def current_records(self) -> list[tuple[str, dict[str, Any] | None]]:
        """``(task key, current_record(key))`` for every task in declaration order, in one
        pass (what a group's result and its repair read, 10,000 tasks at a time)."""
        self._ensure_loaded()
        # A list built in one loop, not a generator: this runs twice at the end of every
        # run (the callback's result and wait()'s).
        record_of, current = self._record_of, []
        with self._lock:
            for key, config in self._configs.items():
                n = config.instances
                current.append((key, record_of(instance_name(key, n - 1)) if n else None))
        return current

    def _newest(self, config: TaskConfig) -> dict[str, Any] | None:
        n = config.instances
        return self._record_of(instance_name(config.name, n - 1)) if n else None

    def _record_of(self, name: str) -> dict[str, Any] | None:
        """Instance ``name``'s newest record: changed here and unsaved, written by this
        process, read from the journal, or an instance object's."""
        if name in self._dirty_instances:
            return self._instances[name].to_record()
        record = self._pending.get(name)
        if record is None:
            record = self.journal.records.get(name)
        if record is None:
            instance = self._instances.get(name)
            return None if instance is None else instance.to_record()
        return record

    def update_instance(self, instance: TaskInstance) -> None:
        """Install ``instance`` (a changed record) and mark it for the next save."""
        with self._lock:
            self._ensure_loaded()
            self._pending.pop(instance.name, None)
            super().update_instance(instance)

    def add_scheduled(self, new: Mapping[str, str], selected: set[str] | None) -> dict[str, Any]:
        """Declare tasks not in the session yet (key -> description) with their first
        instance, ``scheduled`` when ``selected`` is None or holds the key (``unstarted``
        otherwise); returns instance name -> record. Written by the next :meth:`save`.

        What :meth:`add_task` + :meth:`create_instance` do for one task, for 10,000 at a
        time: no instance object is built until someone reads one.
        """
        records: dict[str, Any] = {}
        with self._lock:
            self._ensure_loaded()
            configs = self._configs
            order = len(configs)
            for key, description in new.items():
                if key in configs:
                    raise TaskError(f"Task {key!r} is already in session {self.uid!r}.", task=key)
                configs[key] = TaskConfig(key, description, order, 1)
                order += 1
                name = instance_name(key, 0)
                status = "scheduled" if selected is None or key in selected else "unstarted"
                records[name] = new_record(name, key, status)
            self._dirty_configs.update(new)
            self._pending.update(records)
            self._unsaved.update(records)
        return records

    def reload(self) -> None:
        """Forget the in-memory state and read it again from the store."""
        with self._lock:
            self._pending = {}
            self._unsaved = {}
            super().reload()

    def install(
        self,
        configs: dict[str, TaskConfig],
        instances: dict[str, TaskInstance],
        metadata: dict[str, Any],
    ) -> None:
        """Replace the whole session with copies of these (marked for the next save)."""
        with self._lock:
            self._ensure_loaded()
            self._pending = {}
            self._unsaved = {}
            super().install(configs, instances, metadata)

    def refresh(self) -> set[str]:
        """Read journal pages written since the last read (by workers, other processes)."""
        with self._lock:
            self._ensure_loaded()
            changed = self.journal.refresh()
            for name in changed:
                if name not in self._dirty_instances:
                    self._pending[name] = self.journal.records[name]
            return changed

    def refresh_instance(self, name: str) -> TaskInstance | None:
        """The instance ``name`` as currently stored (newer journal pages applied)."""
        self.refresh()
        self._materialize(name)
        return self._instances.get(name)

    def result(self, name: str, default: Any = None) -> Any:
        """The stored result of instance ``name`` (``default`` when it has none)."""
        return self.journal.result(name, default)


def _order(config: TaskConfig) -> int:
    return config.order


_BUILTIN: dict[str, type[SessionBackend]] = {"store": StoreSessionBackend}


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    found: list[importlib.metadata.EntryPoint] = []
    for group in _GROUPS:
        found.extend(importlib.metadata.entry_points(group=group))
    return found


def session_backend(name: str) -> type[SessionBackend]:
    """The backend class registered as ``name`` (built-in ``"store"`` or an entry point).

    Packages register theirs under ``persist_ext.session_backends`` or, as the triggers
    seed names it, ``triggers.storage_backends``::

        [project.entry-points."triggers.storage_backends"]
        mine = "my_pkg.sessions:MySessionBackend"
    """
    if name in _BUILTIN:
        return _BUILTIN[name]
    entries = _entry_points()
    for entry in entries:
        if entry.name == name:
            cls = entry.load()
            if not (isinstance(cls, type) and issubclass(cls, SessionBackend)):
                raise TaskError(
                    f"Session backend {name!r} ({entry.value}) is not a SessionBackend subclass; "
                    "derive it from persist_ext.SessionBackend."
                )
            return cls
    known = sorted({*_BUILTIN, *(e.name for e in entries)})
    raise TaskError(
        f"Unknown session backend {name!r}; known backends: {', '.join(known)}. Register one "
        f"under the entry-point group {SEED_ENTRY_POINT_GROUP!r} or {ENTRY_POINT_GROUP!r}."
    )


def open_session(uid: str, backend: str = "store", **options: Any) -> SessionBackend:
    """Open the session ``uid`` with the backend registered as ``backend``.

    >>> from persist_ext.storage._memory import MemoryStore
    >>> open_session("g", "store", store=MemoryStore()).uid
    'g'
    """
    return session_backend(backend)(uid, **options)

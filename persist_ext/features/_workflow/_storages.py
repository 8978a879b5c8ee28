"""``storage_factory``: build a workflow storage from a plain dict, and the built-in kinds.

>>> storage = storage_factory({"kind": "memory"})
>>> storage.save("operations", "node2", {"answer": 42})
>>> storage.list_tasks("operations")
['node2']
>>> storage.read_task("operations", "node2")
{'answer': 42}

Kinds: ``"diskcache"`` (the default when ``kind`` is omitted), ``"file"`` (one file per task
under ``<path>/<workflow_name>/<task_name>``), ``"memory"`` and ``"redis"``. Third-party
packages add kinds through the entry-point group ``persist_ext.storage``: the entry point's
name is the kind and it loads a callable taking the options as keyword arguments.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import shutil
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..._config import default_directory
from ..._errors import StoreConfigError
from ...storage._atomic import atomic_write
from ...storage._names import not_a_folder, resolve_inside
from ...storage._protocol import KeyValueStore
from ._base import FILE_PROTOCOL, S3_PROTOCOL, SideFiles, WorkflowStorage

__all__ = [
    "ENTRY_POINT_GROUP",
    "FILE_PROTOCOL",
    "S3_PROTOCOL",
    "DiskCacheStorage",
    "FileStorage",
    "KeyValueStorage",
    "MemoryStorage",
    "RedisStorage",
    "SideFiles",
    "WorkflowStorage",
    "storage_factory",
]

ENTRY_POINT_GROUP = "persist_ext.storage"
_SIDE_DIR = ".side"  # safe_name never yields a leading dot, so no task can collide with it


class FileStorage(WorkflowStorage):
    """One file per task: ``<path>/<workflow_name>/<task_name>`` (the seed's layout).

    Names are made safe with :func:`~persist_ext.storage._names.safe_name` (``<locals>``,
    dots, slashes are escaped), so no name can leave ``path``. Files are replaced atomically
    and carry a checksum. Side files of persistent serializers live in
    ``<path>/<workflow_name>/.side/<task_name>/``.

    Parameters
    ----------
    path
        Root directory (created on first write); default ``<default store dir>/workflows``.
    durable
        fsync every write (survives power loss; costs a disk flush per task).

    Examples
    --------
    >>> import tempfile
    >>> storage = FileStorage(tempfile.mkdtemp())
    >>> storage.save("wf", "fit.<locals>.inner", [1, 2])
    >>> storage.list_tasks("wf")
    ['fit.<locals>.inner']
    >>> storage.read_task("wf", "missing")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    FileNotFoundError: No result for task 'missing' of workflow 'wf' ...
    """

    kind = "file"

    def __init__(self, path: str | os.PathLike[str] | None = None, *, durable: bool = False):
        super().__init__()
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise StoreConfigError(
                f"FileStorage path must be a str or os.PathLike naming a folder, not "
                f"{type(path).__name__} {path!r}; e.g. {{'kind': 'file', 'options': "
                "{'path': 'results'}}."
            )
        self.path = Path(path) if path is not None else default_directory() / "workflows"
        blocker = not_a_folder(self.path)
        if blocker is not None:
            raise StoreConfigError(
                f"FileStorage keeps results in a folder, and {self.path} cannot be one: "
                f"{blocker} is a file; pass a folder path (it is created if missing)."
            )
        self.durable = durable

    def __repr__(self) -> str:
        return f"FileStorage({str(self.path)!r})"

    def _file(self, *parts: str) -> Path:
        return resolve_inside(self.path, Path(*parts))

    def _create_workflow(self, w: str) -> None:
        self._file(w).mkdir(parents=True, exist_ok=True)

    def _workflows(self) -> list[str]:
        if not self.path.is_dir():
            return []
        return [p.name for p in self.path.iterdir() if p.is_dir() and not p.name.startswith(".")]

    def _write(self, w: str, t: str, blob: bytes) -> None:
        atomic_write(self._file(w, t), blob, durable=self.durable)

    def _read(self, w: str, t: str) -> bytes:
        try:
            return self._file(w, t).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise FileNotFoundError(
                f"No result for task {_plain(t)!r} of workflow {_plain(w)!r} in {self!r}."
            ) from None

    def _names(self, w: str) -> list[str]:
        folder = self._file(w)
        if not folder.is_dir():
            return []
        # Dot files are atomic_write's temporaries and the side-file folder.
        return [p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]

    def _delete(self, w: str, t: str) -> None:
        self._file(w, t).unlink(missing_ok=True)

    def _delete_workflow(self, w: str) -> None:
        shutil.rmtree(self._file(w), ignore_errors=True)

    def _side_write(self, w: str, t: str, name: str, data: bytes | bytearray | memoryview) -> None:
        atomic_write(self._file(w, _SIDE_DIR, t, name), data, durable=self.durable)

    def _side_read(self, w: str, t: str, name: str) -> bytes:
        return self._file(w, _SIDE_DIR, t, name).read_bytes()

    def _side_path(self, w: str, t: str, name: str) -> Path | None:
        path = self._file(w, _SIDE_DIR, t, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def _side_delete(self, w: str, t: str, name: str) -> None:
        self._file(w, _SIDE_DIR, t, name).unlink(missing_ok=True)

    def _side_delete_all(self, w: str, t: str) -> None:
        shutil.rmtree(self._file(w, _SIDE_DIR, t), ignore_errors=True)


class MemoryStorage(WorkflowStorage):
    """Results kept in this process only, pickled like every other kind (thread-safe).

    Reading returns a fresh copy, so mutating it does not change the stored result.
    """

    kind = "memory"

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._tasks: dict[str, dict[str, bytes]] = {}
        self._side: dict[tuple[str, str], dict[str, bytes]] = {}

    def __repr__(self) -> str:
        return "MemoryStorage()"

    def _create_workflow(self, w: str) -> None:
        with self._lock:
            self._tasks.setdefault(w, {})

    def _workflows(self) -> list[str]:
        with self._lock:
            return list(self._tasks)

    def _write(self, w: str, t: str, blob: bytes) -> None:
        with self._lock:
            self._tasks.setdefault(w, {})[t] = blob

    def _read(self, w: str, t: str) -> bytes:
        with self._lock:
            try:
                return self._tasks[w][t]
            except KeyError:
                raise FileNotFoundError(
                    f"No result for task {_plain(t)!r} of workflow {_plain(w)!r} in {self!r}."
                ) from None

    def _names(self, w: str) -> list[str]:
        with self._lock:
            return list(self._tasks.get(w, ()))

    def _delete(self, w: str, t: str) -> None:
        with self._lock:
            self._tasks.get(w, {}).pop(t, None)

    def _delete_workflow(self, w: str) -> None:
        with self._lock:
            self._tasks.pop(w, None)
            for key in [k for k in self._side if k[0] == w]:
                del self._side[key]

    def _side_write(self, w: str, t: str, name: str, data: bytes | bytearray | memoryview) -> None:
        with self._lock:
            self._side.setdefault((w, t), {})[name] = bytes(data)

    def _side_read(self, w: str, t: str, name: str) -> bytes:
        with self._lock:
            try:
                return self._side[w, t][name]
            except KeyError:
                raise FileNotFoundError(f"No side file {name!r} for task {_plain(t)!r}.") from None

    def _side_delete(self, w: str, t: str, name: str) -> None:
        with self._lock:
            self._side.get((w, t), {}).pop(name, None)

    def _side_delete_all(self, w: str, t: str) -> None:
        with self._lock:
            self._side.pop((w, t), None)


class KeyValueStorage(WorkflowStorage):
    """The workflow API on any :class:`~persist_ext.storage._protocol.KeyValueStore`.

    Keys: ``workflows/<workflow>/tasks/<task>`` for results (checksummed blobs),
    ``workflows/<workflow>/side/<task>/<name>`` for side files and
    ``workflows/<workflow>/.workflow`` marking an empty workflow; names are made safe, so
    ``/`` inside a name cannot fake a level.
    """

    kind = "keyvalue"

    def __init__(self, store: KeyValueStore) -> None:
        super().__init__()
        if not isinstance(store, KeyValueStore):
            raise TypeError(f"store must implement KeyValueStore, got {type(store).__name__}.")
        self.store = store

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.store!r})"

    def close(self) -> None:
        """Close the underlying store."""
        self.store.close()

    def __enter__(self) -> KeyValueStorage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _create_workflow(self, w: str) -> None:
        self.store.add(f"workflows/{w}/.workflow", True)

    def _workflows(self) -> list[str]:
        return sorted({k.split("/", 2)[1] for k in self.store.keys("workflows/")})

    def _write(self, w: str, t: str, blob: bytes) -> None:
        self.store.set(f"workflows/{w}/tasks/{t}", blob)

    def _read(self, w: str, t: str) -> bytes:
        blob = self.store.get(f"workflows/{w}/tasks/{t}", None)
        if blob is None:
            raise FileNotFoundError(
                f"No result for task {_plain(t)!r} of workflow {_plain(w)!r} in {self!r}."
            )
        return bytes(blob)

    def _names(self, w: str) -> list[str]:
        prefix = f"workflows/{w}/tasks/"
        return [k[len(prefix) :] for k in self.store.keys(prefix)]

    def _delete(self, w: str, t: str) -> None:
        self.store.delete(f"workflows/{w}/tasks/{t}")

    def _delete_workflow(self, w: str) -> None:
        for key in list(self.store.keys(f"workflows/{w}/")):
            self.store.delete(key)

    def _side_write(self, w: str, t: str, name: str, data: bytes | bytearray | memoryview) -> None:
        self.store.set(f"workflows/{w}/side/{t}/{name}", bytes(data))

    def _side_read(self, w: str, t: str, name: str) -> bytes:
        data = self.store.get(f"workflows/{w}/side/{t}/{name}", None)
        if data is None:
            raise FileNotFoundError(f"No side file {name!r} for task {_plain(t)!r}.")
        return bytes(data)

    def _side_delete(self, w: str, t: str, name: str) -> None:
        self.store.delete(f"workflows/{w}/side/{t}/{name}")

    def _side_delete_all(self, w: str, t: str) -> None:
        for key in list(self.store.keys(f"workflows/{w}/side/{t}/")):
            self.store.delete(key)


class DiskCacheStorage(KeyValueStorage):
    """Workflow results in a :class:`~persist_ext.Store` (diskcache) directory: the default.

    Parameters
    ----------
    path
        The store directory; default: the default store directory (``.persist/``).
    **options
        Passed to :class:`~persist_ext.Store` (e.g. ``durable=True``).
    """

    kind = "diskcache"

    def __init__(self, path: str | os.PathLike[str] | None = None, **options: Any) -> None:
        from ...storage._store import Store

        super().__init__(Store(path, **options))


class RedisStorage(KeyValueStorage):
    """Workflow results on a Redis server shared by every worker (:class:`RedisStore`).

    Parameters
    ----------
    url
        A Redis URL such as ``"redis://host:6379/0"``.
    **options
        Passed to :class:`~persist_ext.storage._redis.RedisStore` (e.g. ``namespace``).
    """

    kind = "redis"

    def __init__(self, url: str = "redis://localhost:6379/0", **options: Any) -> None:
        from ...storage._redis import RedisStore

        super().__init__(RedisStore(url, **options))


_BUILTIN: dict[str, type[WorkflowStorage]] = {
    "diskcache": DiskCacheStorage,
    "file": FileStorage,
    "memory": MemoryStorage,
    "redis": RedisStorage,
}


def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def storage_factory(config: dict[str, Any] | None = None) -> Any:
    """Build a workflow storage from ``{"kind": ..., "options": {...}}``.

    Parameters
    ----------
    config
        ``kind`` names the storage (default ``"diskcache"``); ``options`` are passed to its
        constructor as keyword arguments (``path`` for ``"file"`` and ``"diskcache"``,
        ``url`` for ``"redis"``).

    Returns
    -------
    WorkflowStorage
        An object with ``new_workflow``, ``save``, ``read_task``, ``list_tasks``,
        ``remove_task``, ``remove_workflow``, ``register_persistent_serializers`` and
        ``protocols``.

    Raises
    ------
    StoreConfigError
        (also a ``ValueError`` and a ``TypeError``) ``config`` is not a dict, its ``kind`` is
        unknown or not a name (the message lists the known ones), it has unknown keys, or
        ``options`` the kind does not accept.

    Examples
    --------
    >>> import tempfile
    >>> storage = storage_factory({"kind": "file", "options": {"path": tempfile.mkdtemp()}})
    >>> type(storage).__name__
    'FileStorage'
    >>> storage_factory({"kind": "S4"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    persist_ext._errors.StoreConfigError: Unknown storage kind 'S4'; known kinds: ...
    """
    if config is not None and not isinstance(config, Mapping):
        raise StoreConfigError(
            f"storage_factory takes a dict such as {{'kind': 'file', 'options': {{'path': "
            f"'results'}}}}, not {type(config).__name__} {config!r}."
        )
    config = dict(config or {})
    extra = set(config) - {"kind", "options"}
    if extra:
        raise StoreConfigError(
            f"Storage config keys {sorted(extra)} are not understood; use "
            '{"kind": ..., "options": {...}}.'
        )
    kind = config.get("kind", "diskcache")  # absent: the default; given, it must be a name
    options = config.get("options") or {}
    if not isinstance(options, dict):
        raise StoreConfigError(f"Storage options must be a dict, got {type(options).__name__}.")
    factory: Any = _BUILTIN.get(kind) if isinstance(kind, str) else None
    if factory is None:
        plugins = _entry_points()
        if not isinstance(kind, str) or kind not in plugins:
            known = ", ".join(sorted(set(_BUILTIN) | set(plugins)))
            raise StoreConfigError(
                f"Unknown storage kind {kind!r}; known kinds: {known}. Third-party kinds "
                f"register under the entry-point group {ENTRY_POINT_GROUP!r}."
            )
        factory = plugins[kind].load()
    try:
        return factory(**options)
    except TypeError as exc:
        if "argument" not in str(exc):
            raise
        raise StoreConfigError(
            f"Storage kind {kind!r} rejected its options {options!r}: {exc}"
        ) from exc


def _plain(name: str) -> str:
    from ._base import unsafe

    with contextlib.suppress(Exception):
        return unsafe(name)
    return name

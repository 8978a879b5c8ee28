"""The workflow storage API shared by every storage kind, and its pickling machinery.

A workflow storage keeps one result per ``(workflow_name, task_name)``. Each result is stored
as one signed record of ``storage/_entry.py`` (the framing every store shares) whose
serializer is ``"workflow"`` and whose payload is::

    u64 len(refs) | refs (pickle of [(serializer name, pid), ...]) | pickle of the object

The whole payload is signed. Its checksum and MAC are verified before either pickle is
loaded: a mismatch raises :class:`~persist_ext.InvalidPickle`, a result not signed with this
machine's secret :class:`~persist_ext.UntrustedEntryError`. ``refs`` lists the side objects
written by persistent serializers, so removing a task removes them without unpickling the
result.

Persistent serializers (the seed's ``register_persistent_serializers``) divert objects of
chosen types out of the pickle through pickle's persistent ids: a serializer class has
``serializer_class`` (a type or tuple of types), ``name``, and classmethods
``pickle(obj, protocols) -> (name, pid)``, ``unpickle(pid, protocols)`` and
``remove(pid, protocols)``. ``protocols["FILE_PROTOCOL"]`` is a :class:`SideFiles` for the task
being saved or read: where the serializer writes its side files, whatever the storage kind.
``protocols["S3_PROTOCOL"]`` is ``None`` (no built-in kind stores on S3); user keys added to
``storage.protocols`` are passed through unchanged.
"""

from __future__ import annotations

import abc
import contextlib
import fnmatch
import io
import logging
import pickle
import struct
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ..._errors import CorruptEntryError, InvalidArgumentError, SerializationError
from ...storage._entry import Where, open_named, seal
from ...storage._names import safe_name

__all__ = ["FILE_PROTOCOL", "S3_PROTOCOL", "SideFiles", "WorkflowStorage"]

logger = logging.getLogger("persist_ext")

FILE_PROTOCOL = "FILE_PROTOCOL"
S3_PROTOCOL = "S3_PROTOCOL"
_SERIALIZER = "workflow"  # sealed here, decoded here: not in the serializer registry
_U64 = struct.Struct("<Q")
_PID_TAG = "persist_ext.serializer"


class SideFiles:
    """The side files of one task: what ``protocols["FILE_PROTOCOL"]`` gives a serializer.

    Names are free-form (made safe internally); :meth:`new_name` makes a unique one.
    Files are written atomically and removed with the task.

    Examples
    --------
    >>> class TextSerializer:  # a persistent serializer storing str values in side files
    ...     serializer_class = str
    ...     name = "text"
    ...     @classmethod
    ...     def pickle(cls, obj, protocols):
    ...         files = protocols["FILE_PROTOCOL"]
    ...         pid = files.new_name("text")
    ...         files.write(pid, obj.encode())
    ...         return cls.name, pid
    ...     @classmethod
    ...     def unpickle(cls, pid, protocols):
    ...         return protocols["FILE_PROTOCOL"].read(pid).decode()
    ...     @classmethod
    ...     def remove(cls, pid, protocols):
    ...         protocols["FILE_PROTOCOL"].remove(pid)
    """

    def __init__(self, storage: WorkflowStorage, workflow_name: str, task_name: str) -> None:
        self._storage = storage
        self._workflow = workflow_name
        self._task = task_name

    def new_name(self, hint: str = "obj") -> str:
        """A fresh, unique side-file name starting with ``hint``."""
        return f"{hint}-{uuid.uuid4().hex}"

    def write(self, name: str, data: bytes | bytearray | memoryview) -> None:
        """Write (replace) side file ``name`` atomically."""
        self._storage._side_write(self._workflow, self._task, safe_name(name), data)

    def read(self, name: str) -> bytes:
        """Read side file ``name``; ``FileNotFoundError`` if it does not exist."""
        return self._storage._side_read(self._workflow, self._task, safe_name(name))

    @contextlib.contextmanager
    def open(self, name: str, mode: str = "rb") -> Iterator[BinaryIO]:
        """Open side file ``name`` for reading (``"rb"``) or atomic writing (``"wb"``)."""
        if mode == "rb":
            local = self.path(name)
            if local is not None:
                with open(local, "rb") as handle:
                    yield handle
            else:
                yield io.BytesIO(self.read(name))
        elif mode == "wb":
            buffer = io.BytesIO()
            yield buffer
            self.write(name, buffer.getbuffer())
        else:
            raise InvalidArgumentError(f"mode must be 'rb' or 'wb', got {mode!r}.")

    def path(self, name: str) -> Path | None:
        """The local path of side file ``name`` when the storage keeps files, else ``None``.

        Serializers that write with their own libraries (HDF5, zarr) may use it; they must
        still treat the write as replacing the whole file.
        """
        return self._storage._side_path(self._workflow, self._task, safe_name(name))

    def remove(self, name: str) -> None:
        """Remove side file ``name`` (no error if it is already gone)."""
        self._storage._side_delete(self._workflow, self._task, safe_name(name))


class _Pickler(pickle.Pickler):
    def __init__(self, file: BinaryIO, storage: WorkflowStorage, protocols: dict) -> None:
        super().__init__(file, protocol=5)
        self._serializers = tuple(storage._serializers.values())
        self._protocols = protocols
        self.refs: list[tuple[str, Any]] = []

    def persistent_id(self, obj: Any) -> Any:
        for serializer in self._serializers:
            if isinstance(obj, serializer.serializer_class):
                name, pid = serializer.pickle(obj, self._protocols)
                self.refs.append((name, pid))
                return (_PID_TAG, name, pid)
        return None


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: BinaryIO, storage: WorkflowStorage, protocols: dict) -> None:
        super().__init__(file)
        self._storage = storage
        self._protocols = protocols

    def persistent_load(self, pid: Any) -> Any:
        _, name, inner = pid
        return self._storage._serializer_named(name).unpickle(inner, self._protocols)


class WorkflowStorage(abc.ABC):
    """Base of every storage kind: the workflow API over a handful of blob operations.

    Subclasses implement ``_write``/``_read``/``_names``/``_delete``/``_delete_workflow``/
    ``_create_workflow``/``_workflows`` and the ``_side_*`` operations, all on *safe* names
    (see :func:`~persist_ext.storage._names.safe_name`).
    """

    kind = ""

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def __init__(self) -> None:
        self._serializers: dict[str, Any] = {}
        self.protocols: dict[str, Any] = {FILE_PROTOCOL: None, S3_PROTOCOL: None}

    # -- serializers --------------------------------------------------------------------------
    def register_persistent_serializers(self, *serializers: Any) -> None:
        """Divert objects of the serializers' types to side files (see the module docstring).

        Later registrations with the same ``name`` replace earlier ones; the first
        registered serializer whose ``serializer_class`` matches an object handles it.

        Raises
        ------
        TypeError
            A serializer lacks ``serializer_class``, ``name``, ``pickle``, ``unpickle`` or
            ``remove``.
        """
        for serializer in serializers:
            missing = [
                attr
                for attr in ("serializer_class", "name", "pickle", "unpickle", "remove")
                if not hasattr(serializer, attr)
            ]
            if missing or not isinstance(serializer.name, str) or not serializer.name:
                raise InvalidArgumentError(
                    f"{serializer!r} is not a persistent serializer: it needs "
                    "serializer_class, a non-empty str name, and pickle/unpickle/remove "
                    f"classmethods (missing: {', '.join(missing) or 'name'})."
                )
            self._serializers[serializer.name] = serializer

    def _serializer_named(self, name: str) -> Any:
        try:
            return self._serializers[name]
        except KeyError:
            raise SerializationError(
                f"This result was stored with the persistent serializer {name!r}, which is "
                "not registered on this storage; call "
                f"storage.register_persistent_serializers(<the {name!r} class>) first."
            ) from None

    def _protocols_for(self, workflow: str, task: str) -> dict[str, Any]:
        protocols = dict(self.protocols)
        protocols[FILE_PROTOCOL] = SideFiles(self, workflow, task)
        return protocols

    # -- framing ------------------------------------------------------------------------------
    def _encode(self, workflow: str, task: str, obj: Any) -> tuple[bytes, list]:
        protocols = self._protocols_for(workflow, task)
        buffer = io.BytesIO()
        pickler = _Pickler(buffer, self, protocols)
        try:
            pickler.dump(obj)
        except Exception as exc:
            self._remove_refs(pickler.refs, protocols)  # no orphan side files
            if isinstance(exc, SerializationError):
                raise
            name = f"{type(obj).__module__}.{type(obj).__qualname__}"
            raise SerializationError(
                f"Cannot save task {task!r} of workflow {workflow!r}: its result of type "
                f"{name} cannot be pickled ({type(exc).__name__}: {exc}). Return plain data, "
                "or register a persistent serializer for the offending type.",
                type_name=name,
            ) from exc
        refs = pickle.dumps(pickler.refs, protocol=5)
        body = [_U64.pack(len(refs)), refs, buffer.getbuffer()]
        summary = {"type": "workflow result", "task": task, "workflow": workflow}
        # Signed for its file name (the safe task name), like every file, so a result copied
        # over another task's is refused and persist_ext.trust re-signs it by its name.
        record = seal(task, _SERIALIZER, body, summary=summary).record()
        return record, pickler.refs

    def _verified_body(self, workflow: str, task: str, blob: bytes) -> memoryview:
        where = Where(
            f"Task {task!r} of workflow {workflow!r} in {self!r}",
            str(getattr(self, "path", "")) or None,
        )
        name, body = open_named(task, blob, where)
        if name != _SERIALIZER or len(body) < 8:
            raise CorruptEntryError(
                f"{where.label} is not a workflow result; remove it (remove_task) and run the "
                "task again.",
                key=f"{workflow}/{task}",
            )
        return body

    def _refs(self, workflow: str, task: str, blob: bytes) -> list[tuple[str, Any]]:
        body = self._verified_body(workflow, task, blob)
        (n,) = _U64.unpack_from(body, 0)
        return pickle.loads(body[8 : 8 + n])

    def _remove_refs(self, refs: list[tuple[str, Any]], protocols: dict[str, Any]) -> None:
        for name, pid in refs:
            try:
                self._serializer_named(name).remove(pid, protocols)
            except Exception as exc:  # cleanup must not hide the error being handled
                logger.warning(
                    "could not remove side object %r of serializer %r: %s", pid, name, exc
                )

    # -- the workflow API ---------------------------------------------------------------------
    def new_workflow(self, workflow_name: str) -> None:
        """Create the (empty) workflow ``workflow_name``; nothing happens if it exists."""
        self._create_workflow(safe_name(workflow_name))

    def save(self, workflow_name: str, task_name: str, obj: Any) -> None:
        """Store ``obj`` as the result of ``task_name``, replacing any previous result.

        The write is atomic: a reader sees the old result or the new one. An unpicklable
        ``obj`` raises :class:`~persist_ext.SerializationError` and keeps the old result.
        """
        w, t = safe_name(workflow_name), safe_name(task_name)
        blob, refs = self._encode(w, t, obj)
        try:
            old = self._refs(w, t, self._read(w, t))
        except (FileNotFoundError, CorruptEntryError):
            old = []  # unreadable or untrusted: its side files are never trusted either
        self._write(w, t, blob)
        stale = [ref for ref in old if ref not in refs]
        self._remove_refs(stale, self._protocols_for(w, t))

    def read_task(self, workflow_name: str, task_name: str) -> Any:
        """Return the stored result of ``task_name``.

        Raises
        ------
        FileNotFoundError
            The task has no stored result (workflows use this as "not computed yet").
        InvalidPickle
            The stored bytes do not match their checksum.
        UntrustedEntryError
            The result is not signed with this machine's secret (never unpickled).
        """
        w, t = safe_name(workflow_name), safe_name(task_name)
        body = self._verified_body(w, t, self._read(w, t))
        (n,) = _U64.unpack_from(body, 0)
        payload = io.BytesIO(body[8 + n :])
        return _Unpickler(payload, self, self._protocols_for(w, t)).load()

    def list_tasks(self, workflow_name: str, pattern: str = "*") -> list[str]:
        """Sorted names of the stored tasks matching the glob ``pattern`` ([] if none)."""
        names = (unsafe(n) for n in self._names(safe_name(workflow_name)))
        return sorted(n for n in names if fnmatch.fnmatchcase(n, pattern))

    def list_workflows(self) -> list[str]:
        """Sorted names of the workflows in this storage."""
        return sorted(unsafe(n) for n in self._workflows())

    def remove_task(
        self, workflow_name: str, task_name: str | None = None, pattern: str | None = None
    ) -> list[str]:
        """Remove one task (``task_name``) or every task matching ``pattern``.

        Side objects of persistent serializers are removed too. Returns the removed names.

        Raises
        ------
        ValueError
            Neither or both of ``task_name`` and ``pattern`` were given.
        FileNotFoundError
            ``task_name`` has no stored result.
        """
        if (task_name is None) == (pattern is None):
            raise InvalidArgumentError(
                "Give exactly one of task_name or pattern (remove_workflow removes them all)."
            )
        names = (
            [task_name] if task_name is not None else self.list_tasks(workflow_name, pattern or "*")
        )
        w = safe_name(workflow_name)
        for name in names:
            t = safe_name(name)  # type: ignore[arg-type]
            blob = self._read(w, t)  # FileNotFoundError for a missing named task
            try:
                refs = self._refs(w, t, blob)
            except CorruptEntryError:
                refs = []  # a damaged or untrusted result is removed all the same
            self._delete(w, t)
            self._remove_refs(refs, self._protocols_for(w, t))
            self._side_delete_all(w, t)
        return names  # type: ignore[return-value]

    def remove_workflow(self, workflow_name: str) -> None:
        """Remove the workflow, its tasks and their side objects (no error if absent)."""
        w = safe_name(workflow_name)
        for name in self.list_tasks(workflow_name):
            self.remove_task(workflow_name, name)
        self._delete_workflow(w)

    # -- what each kind implements, on safe names --------------------------------------------
    @abc.abstractmethod
    def _create_workflow(self, w: str) -> None: ...

    @abc.abstractmethod
    def _workflows(self) -> list[str]: ...

    @abc.abstractmethod
    def _write(self, w: str, t: str, blob: bytes) -> None: ...

    @abc.abstractmethod
    def _read(self, w: str, t: str) -> bytes:
        """The task's blob; ``FileNotFoundError`` if absent."""

    @abc.abstractmethod
    def _names(self, w: str) -> list[str]: ...

    @abc.abstractmethod
    def _delete(self, w: str, t: str) -> None: ...

    @abc.abstractmethod
    def _delete_workflow(self, w: str) -> None: ...

    @abc.abstractmethod
    def _side_write(
        self, w: str, t: str, name: str, data: bytes | bytearray | memoryview
    ) -> None: ...

    @abc.abstractmethod
    def _side_read(self, w: str, t: str, name: str) -> bytes: ...

    @abc.abstractmethod
    def _side_delete(self, w: str, t: str, name: str) -> None: ...

    @abc.abstractmethod
    def _side_delete_all(self, w: str, t: str) -> None: ...

    def _side_path(self, w: str, t: str, name: str) -> Path | None:
        return None  # only storages that keep real files have paths


def unsafe(name: str) -> str:
    """Invert :func:`~persist_ext.storage._names.safe_name` (its ``%XX`` escapes)."""
    from urllib.parse import unquote

    return unquote(name, errors="surrogateescape")

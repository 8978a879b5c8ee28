"""tastypy's ``SharedPOD`` / ``SharedTracker``: one POD served to many processes.

A POD's directory is locked by the one process that opens it (see ``_open``). To let worker
processes read and write it too, :class:`SharedPOD` starts a *server* process that opens the
POD and executes, one at a time, the calls its clients send over a pipe. The ``SharedPOD``
object is the client: hand it to child processes (as an argument of
``multiprocessing.Process`` or through inheritance); every call it forwards holds one lock
shared by all of them, so calls never interleave, and ``with shared.locked():`` makes a
sequence of calls atomic.

Values come back as copies, so a nested change goes through ``shared.set``, which forwards
the whole access path: ``shared.set["k"]["items"].append(1)``, ``shared.set["k"]["n"] += 1``,
``del shared.set["k"]["old"]``.
"""

from __future__ import annotations

import contextlib
import fcntl
import multiprocessing
import operator
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..._errors import PODError
from ..._exit import at_exit
from ._dict import DEFAULT_FILE_SIZE, DEFAULT_SYNC_AT, POD
from ._tracker import Tracker

__all__ = ["SharedPOD", "SharedTracker"]

ITER_CHUNK = 1000  # keys per round trip while iterating: other processes get turns between
_CLOSE = "close"
_ITER = "iter"
_CALL = "call"
_DEEP = "deep"


def _serve(
    kind: type[POD], kwargs: dict[str, Any], conn: Any, client_end: Any, lock_path: str
) -> None:
    """The server process: open the POD, then answer requests until asked to close, or
    until every client is gone (the creator killed: what it was told is stored is synced).

    A request is ``(id, kind, ...)`` and its reply ``(id, status, value)``: a client killed
    after asking leaves its reply unread, and the next client skips it by its id.
    """
    client_end.close()  # a forked server holds a copy: the pipe must end when the clients do
    try:
        pod = kind(**kwargs)
    except BaseException as exc:
        conn.send((None, "err", _sendable(exc)))
        return
    conn.send((None, "ok", None))
    while True:
        try:
            ident, *message = conn.recv()
        except (EOFError, OSError):  # every client is gone: keep what was acknowledged
            pod.close()
            with contextlib.suppress(OSError):
                os.unlink(lock_path)
            return
        try:
            if message[0] == _CLOSE:
                pod.close()
                conn.send((ident, "ok", None))
                return
            if message[0] == _ITER:
                _, with_values, start = message
                keys = pod.keys()[start : start + ITER_CHUNK]
                rows = [(k, pod.peek(k)) for k in keys] if with_values else keys
                reply: Any = (rows, start + ITER_CHUNK < len(pod))
            elif message[0] == _DEEP:
                reply = _call_deep(pod, *message[1:])
            else:
                _, name, args, kwargs = message
                reply = getattr(pod, name)(*args, **kwargs)
                if isinstance(reply, Iterator):  # generators cannot cross the pipe
                    reply = list(reply)
                elif reply is pod:
                    reply = None
        except BaseException as exc:
            conn.send((ident, "err", _sendable(exc)))
        else:
            conn.send((ident, "ok", reply))


def _sendable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else a ``PODError`` carrying its text."""
    from multiprocessing.reduction import ForkingPickler

    try:
        ForkingPickler.loads(ForkingPickler.dumps(exc))
        return exc
    except Exception:
        return PODError(f"{type(exc).__name__}: {exc}")


def _call_deep(pod: POD, keys: tuple[Any, ...], method: str, args: tuple, kwargs: dict) -> Any:
    """Apply ``method`` to the value at ``pod[keys[0]][keys[1]]...`` (the pod itself for
    ``()``); an in-place operator a value lacks (``int += 1``) falls back to the plain one,
    whose result the caller's ``__setitem__`` then stores, as in Python."""
    target: Any = pod
    for key in keys:
        target = target[key]  # pod[key] marks the top-level key dirty
    func = getattr(target, method, None)
    if func is None and method.startswith("__i"):
        func = getattr(target, "__" + method[3:], None)
    if func is None:
        raise PODError(
            f"{type(target).__name__} at {list(keys)} has no method {method!r}; "
            "see docs/pod-and-tracker.md (SharedPOD)"
        )
    result = func(*args, **kwargs)
    if result is NotImplemented:
        raise PODError(f"{method} is not supported between {type(target).__name__} and {args!r}")
    return result


class _ProcessLock:
    """A reentrant lock shared by processes that a killed holder does not keep.

    ``flock`` on a file each process opens itself: the kernel releases it when the holder
    dies (a ``multiprocessing.RLock`` held by a SIGKILLed worker blocks every other process
    forever). Threads of one process queue on a ``threading.RLock`` first.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._fd: int | None = None
        self._depth = 0
        self._threads = threading.RLock()

    def __getstate__(self) -> str:
        return self.path

    def __setstate__(self, path: str) -> None:
        self.__init__(path)  # type: ignore[misc]

    def acquire(self) -> None:
        if self._pid != os.getpid():  # a forked child: nothing of the parent's hold is ours
            self._reset()
        self._threads.acquire()
        if self._depth == 0:
            try:
                if self._fd is None:
                    self._fd = os.open(self.path, os.O_RDWR)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except BaseException:
                self._threads.release()
                raise
        self._depth += 1

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()

    def __enter__(self) -> None:
        self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
            self._fd = None


class _Path:
    """``shared.set[...]``: records the keys and forwards what is done at their end."""

    __slots__ = ("_call", "_keys")

    def __init__(self, call: Callable[..., Any], keys: tuple[Any, ...] = ()) -> None:
        self._call = call
        self._keys = keys

    def __getitem__(self, key: Any) -> _Path:
        return _Path(self._call, (*self._keys, key))

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self._call(self._keys, name, args, kwargs)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._call(self._keys, "__setitem__", (key, value), {})

    def __delitem__(self, key: Any) -> None:
        self._call(self._keys, "__delitem__", (key,), {})

    def __repr__(self) -> str:
        return f"<SharedPOD.set path {list(self._keys)}>"


def _operator(name: str) -> Callable[..., Any]:
    def forward(self: _Path, *args: Any) -> Any:
        return self._call(self._keys, name, args, {})

    forward.__name__ = name
    return forward


for _name in dir(operator):  # += -= |= ... and the binary forms, as tastypy's DeepProxy
    if _name.startswith("__i") and _name.endswith("__") and _name not in ("__index__",):
        setattr(_Path, _name, _operator(_name))
        setattr(_Path, "__" + _name[3:], _operator("__" + _name[3:]))


class SharedPOD:
    """A POD that several processes use at once (tastypy's ``SharedPersistentOrderedDict``).

    Make **one** per directory and pass it to the child processes. A server process holds
    the POD; each call is forwarded to it under a lock, so processes never interleave, and
    ``with shared.locked():`` makes several calls atomic. Read with ``shared[key]`` (a copy);
    change nested values through ``shared.set``: ``shared.set["k"]["n"] += 1``. Iteration
    (``keys()``, ``items()``, ``for key in shared``) fetches keys in chunks. ``close()``
    syncs and stops the server; it also happens when the creating process exits.
    """

    _kind: type[POD] = POD

    def __init__(
        self,
        path: Any,
        init: Any = None,
        gzipped: bool | None = None,
        file_size: int = DEFAULT_FILE_SIZE,
        sync_at: int = DEFAULT_SYNC_AT,
        clone: bool = True,
        **options: Any,
    ) -> None:
        kwargs = dict(path=path, init=init, gzipped=gzipped, file_size=file_size)
        kwargs.update(sync_at=sync_at, **options)
        self._conn, server_end = multiprocessing.Pipe()
        handle, lock_path = tempfile.mkstemp(prefix="persist_ext-sharedpod-", suffix=".lock")
        os.close(handle)
        self._lock = _ProcessLock(lock_path)
        self._asked = 0  # requests sent by this process: (pid, n) names each reply
        self._server: Any = multiprocessing.Process(
            target=_serve,
            args=(self._kind, kwargs, server_end, self._conn, lock_path),
            daemon=True,
        )
        self._server.start()
        server_end.close()
        self._open = True
        try:
            self._receive()  # the server's open: a bad path or argument raises here
        except BaseException:
            self._open = False
            self._server.join(10)
            os.unlink(lock_path)
            raise
        self.set = _Path(self._deep)
        at_exit(self._close_at_exit)

    # --- plumbing -------------------------------------------------------------------------
    def _receive(self, ident: Any = None) -> Any:
        try:
            while True:
                answered, status, value = self._conn.recv()
                if answered == ident:
                    break  # else the reply to a client killed before it read it
        except (EOFError, OSError):
            self._open = False
            raise PODError(
                "the SharedPOD's server process is gone; open a new SharedPOD (what it "
                "acknowledged before was synced)"
            ) from None
        if status == "err":
            if isinstance(value, BaseException):
                raise value
            raise PODError(str(value))
        return value

    def _request(self, message: tuple[Any, ...]) -> Any:
        if not self._open:
            raise PODError("this SharedPOD is closed; open a new SharedPOD(path)")
        with self._lock:
            ident = (os.getpid(), self._asked)
            self._asked += 1
            self._conn.send((ident, *message))
            return self._receive(ident)

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._request((_CALL, name, args, kwargs))

    def _deep(self, keys: tuple[Any, ...], method: str, args: tuple, kwargs: dict) -> Any:
        return self._request((_DEEP, keys, method, args, kwargs))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or not callable(getattr(self._kind, name, None)):
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")
        return lambda *args, **kwargs: self._call(name, *args, **kwargs)

    def __getstate__(self) -> dict[str, Any]:  # a child gets the pipe and lock, not the server
        state = dict(self.__dict__)
        state["_server"] = None
        del state["set"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.set = _Path(self._deep)

    # --- locking --------------------------------------------------------------------------
    def lock(self) -> None:
        """Block every other process's calls until :meth:`unlock`."""
        self._lock.acquire()

    def unlock(self) -> None:
        """Let other processes call again."""
        self._lock.release()

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Only this process calls within the block: ``with shared.locked(): ...``."""
        with self._lock:
            yield

    # --- the mapping ----------------------------------------------------------------------
    def __getitem__(self, key: Any) -> Any:
        return self._call("__getitem__", key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._call("__setitem__", key, value)

    def __delitem__(self, key: Any) -> None:
        self._call("__delitem__", key)

    def __contains__(self, key: Any) -> bool:
        return bool(self._call("__contains__", key))

    def __len__(self) -> int:
        return int(self._call("__len__"))

    def _chunks(self, with_values: bool) -> Iterator[Any]:
        start, more = 0, True
        while more:
            rows, more = self._request((_ITER, with_values, start))
            yield from (tuple(row) for row in rows) if with_values else rows
            start += ITER_CHUNK

    def __iter__(self) -> Iterator[Any]:
        return self._chunks(False)

    def iterkeys(self) -> Iterator[Any]:
        """Keys in insertion order, fetched in chunks."""
        return self._chunks(False)

    def iteritems(self) -> Iterator[tuple[Any, Any]]:
        """``(key, value)`` pairs in insertion order, fetched in chunks."""
        return self._chunks(True)

    def itervalues(self) -> Iterator[Any]:
        """Values in insertion order, fetched in chunks."""
        return (value for _, value in self._chunks(True))

    def keys(self) -> list[Any]:
        """A list of the keys in insertion order."""
        return list(self._chunks(False))

    def items(self) -> list[tuple[Any, Any]]:
        """A list of ``(key, value)`` pairs in insertion order."""
        return list(self._chunks(True))

    def values(self) -> list[Any]:
        """A list of the values in insertion order."""
        return [value for _, value in self._chunks(True)]

    # --- lifetime -------------------------------------------------------------------------
    def close(self) -> None:
        """Sync and stop the server process (only the process that made it stops it)."""
        if not self._open:
            return
        try:
            with self._lock:
                ident = (os.getpid(), self._asked)
                self._asked += 1
                self._conn.send((ident, _CLOSE))
                self._receive(ident)
        finally:
            self._open = False
            self._lock.close()
            if self._server is not None:  # the creator: the server and the lock file go
                self._server.join(10)
                with contextlib.suppress(OSError):
                    os.unlink(self._lock.path)

    def _close_at_exit(self) -> None:
        if self._open and self._server is not None:
            self.close()

    def __enter__(self) -> SharedPOD:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "open" if self._open else "closed"
        return f"<{type(self).__name__} ({state})>"


class SharedTracker(SharedPOD):
    """A Tracker that several processes use at once (tastypy's ``SharedProgressTracker``).

    Every Tracker method (``add``, ``try_it``, ``mark_done``, ``increment_tries``,
    ``num_done``, ``todo_items``...) runs in the server process, one call at a time; the
    iterators come back as lists. See :class:`SharedPOD` for sharing and locking.
    """

    _kind = Tracker

    def __init__(self, path: Any, max_tries: int = 0, *args: Any, **options: Any) -> None:
        """``SharedTracker(path, max_tries, init, gzipped, file_size, sync_at, clone, ...)``:
        the arguments of :class:`~persist_ext.Tracker`, in tastypy's order."""
        super().__init__(path, *args, max_tries=max_tries, **options)
        self.max_tries = max_tries

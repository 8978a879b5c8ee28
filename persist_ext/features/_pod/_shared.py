"""tastypy's ``SharedPOD`` / ``SharedTracker``: one POD served to many processes.

A POD's directory is locked by the one process that opens it (see ``_open``). To let worker
processes read and write it too, :class:`SharedPOD` starts a *server* process that opens the
POD and executes, one at a time, the calls its clients send, each client process over its own
authenticated Unix-socket connection (a client killed mid-request tears only its own). The
``SharedPOD`` object is the client: hand it to child processes (as an argument of
``multiprocessing.Process`` or through inheritance); every call it forwards holds one lock
shared by all of them (an ``flock``, released when a holder dies), so calls never interleave,
and ``with shared.locked():`` makes a sequence of calls atomic. A pipe to the creator is the
server's lifeline: when it ends (``close()``, or the creator and its children are gone) the
POD is closed, so what was acknowledged is synced.

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
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Client, Listener
from typing import Any

from ..._errors import PODError
from ..._exit import at_exit
from ..._threads import HousekeepingThread
from ._dict import DEFAULT_FILE_SIZE, DEFAULT_SYNC_AT, POD
from ._tracker import Tracker

__all__ = ["SharedPOD", "SharedTracker"]

ITER_CHUNK = 1000  # keys per round trip while iterating: other processes get turns between
_ITER = "iter"
_CALL = "call"
_DEEP = "deep"


def _serve(
    kind: type[POD], kwargs: dict[str, Any], lifeline: Any, client_end: Any, folder: str, key: bytes
) -> None:
    """The server process: open the POD, answer every client's connection, and close the POD
    (syncing what it acknowledged) when the creator asks, or when its lifeline ends (the
    creator and every process that inherited the lifeline are gone).

    Each client process has its own connection, so a client killed in the middle of sending
    or reading a request tears only its own: the server drops that connection and goes on.
    Requests are served one at a time.
    """
    client_end.close()  # a forked server holds a copy: the lifeline must end with its clients
    try:
        pod = kind(**kwargs)
        listener = Listener(os.path.join(folder, "socket"), family="AF_UNIX", authkey=key)
    except BaseException as exc:
        lifeline.send((None, "err", _sendable(exc)))
        return
    calls = threading.Lock()

    def serve_one(conn: Any) -> None:
        with conn:
            while True:
                try:
                    ident, *message = conn.recv()
                except Exception:  # EOF, or a frame torn by a client killed mid-send
                    return
                with calls:
                    status, value = _answer(pod, message)
                try:
                    conn.send((ident, status, value))
                except Exception:
                    return

    def accept() -> None:
        while True:
            try:
                conn = listener.accept()
            except Exception:  # a failed handshake; or the listener closed at the end
                if listener._listener is None:  # type: ignore[attr-defined]
                    return
                continue
            HousekeepingThread(target=serve_one, args=(conn,)).start()

    HousekeepingThread(target=accept).start()
    lifeline.send((None, "ok", None))
    with contextlib.suppress(BaseException):
        lifeline.recv()  # the creator's close(), or EOF: it is gone
    with calls:  # no call is half done: every acknowledged change is in the POD
        try:
            pod.close()
            outcome: tuple[str, Any] = ("ok", None)
        except BaseException as exc:
            outcome = ("err", _sendable(exc))
    with contextlib.suppress(BaseException):
        lifeline.send((None, *outcome))
    listener.close()
    shutil.rmtree(folder, ignore_errors=True)


def _answer(pod: POD, message: list[Any]) -> tuple[str, Any]:
    """Run one request on the POD: ``("ok", reply)`` or ``("err", exception)``."""
    try:
        if message[0] == _ITER:
            _, with_values, start = message
            keys = pod.keys()[start : start + ITER_CHUNK]
            rows = [(k, pod.peek(k)) for k in keys] if with_values else keys
            return "ok", (rows, start + ITER_CHUNK < len(pod))
        if message[0] == _DEEP:
            return "ok", _call_deep(pod, *message[1:])
        _, name, args, kwargs = message
        reply = getattr(pod, name)(*args, **kwargs)
        if isinstance(reply, Iterator):  # generators cannot cross the connection
            reply = list(reply)
        elif reply is pod:
            reply = None
        return "ok", reply
    except BaseException as exc:
        return "err", _sendable(exc)


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
        self._folder = tempfile.mkdtemp(prefix="persist_ext-sharedpod-")  # 0700: ours only
        self._key = secrets.token_bytes(32)  # clients authenticate to the server with it
        lock_path = os.path.join(self._folder, "lock")
        open(lock_path, "wb").close()
        self._lock = _ProcessLock(lock_path)
        self._client: Any = None
        self._client_pid = 0
        self._asked = 0  # requests sent by this process: (pid, n) names each reply
        self._lifeline, server_end = multiprocessing.Pipe()
        self._server: Any = multiprocessing.Process(
            target=_serve,
            args=(self._kind, kwargs, server_end, self._lifeline, self._folder, self._key),
            daemon=True,
        )
        self._server.start()
        server_end.close()
        self._open = True
        try:
            self._outcome(self._lifeline)  # the server's open: a bad path or argument raises
        except BaseException:
            self._open = False
            self._server.join(10)
            shutil.rmtree(self._folder, ignore_errors=True)
            raise
        self.set = _Path(self._deep)
        at_exit(self._close_at_exit)

    # --- plumbing -------------------------------------------------------------------------
    def _outcome(self, conn: Any, ident: Any = None) -> Any:
        try:
            answered, status, value = conn.recv()
        except (EOFError, OSError):
            answered, status, value = ident, "gone", None
        if status == "gone" or answered != ident:
            self._open = False
            raise PODError(
                "the SharedPOD's server process is gone (its creator ended); open a new "
                "SharedPOD (what it acknowledged was synced)"
            )
        if status == "err":
            if isinstance(value, BaseException):
                raise value
            raise PODError(str(value))
        return value

    def _connection(self) -> Any:
        if self._client is None or self._client_pid != os.getpid():
            try:
                self._client = Client(
                    os.path.join(self._folder, "socket"), family="AF_UNIX", authkey=self._key
                )
            except OSError:
                self._client = None
                self._open = False
                raise PODError(
                    "the SharedPOD's server process is gone (its creator ended); open a new "
                    "SharedPOD (what it acknowledged was synced)"
                ) from None
            self._client_pid = os.getpid()
        return self._client

    def _request(self, message: tuple[Any, ...]) -> Any:
        if not self._open:
            raise PODError("this SharedPOD is closed; open a new SharedPOD(path)")
        with self._lock:
            conn = self._connection()
            ident = (os.getpid(), self._asked)
            self._asked += 1
            try:
                conn.send((ident, *message))
            except OSError:
                pass  # the server is gone: _outcome says so
            return self._outcome(conn, ident)

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._request((_CALL, name, args, kwargs))

    def _deep(self, keys: tuple[Any, ...], method: str, args: tuple, kwargs: dict) -> Any:
        return self._request((_DEEP, keys, method, args, kwargs))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or not callable(getattr(self._kind, name, None)):
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")
        return lambda *args, **kwargs: self._call(name, *args, **kwargs)

    def __getstate__(self) -> dict[str, Any]:  # a child connects itself; the server stays
        state = dict(self.__dict__)
        state.update(_server=None, _client=None, _client_pid=0)
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
        """Sync and stop the server process (only the process that made it stops it; in
        another process this closes only its own connection)."""
        if not self._open:
            return
        self._open = False
        if self._client is not None and self._client_pid == os.getpid():
            self._client.close()
            self._client = None
        if self._server is None:
            self._lock.close()
            return
        try:
            with self._lock:
                self._lifeline.send((None, "close"))
                self._outcome(self._lifeline)
        finally:
            self._lock.close()
            self._server.join(10)
            shutil.rmtree(self._folder, ignore_errors=True)

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

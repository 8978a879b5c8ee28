"""A supervised process pool: a crashing or hanging task fails only itself.

``concurrent.futures.ProcessPoolExecutor`` breaks as a whole when one worker dies: every
pending future fails with ``BrokenProcessPool`` and the pool is unusable. :class:`WorkerPool`
(what ``executor="processes"`` builds) gives each worker process a supervising thread in
the parent that hands it one call at a time and watches the process while it runs:

- the call returns → its future gets the result (or the exception);
- the process dies (``os._exit``, a signal, the kernel's OOM killer) → that call's future
  fails with :class:`~persist_ext._errors.WorkerDiedError` naming the exit code or signal,
  and a fresh process takes the next call; every other call runs normally;
- the call overruns ``timeout`` → the process is killed and the future fails with
  :class:`~persist_ext._errors.TaskTimeoutError`; a fresh process takes the next call.

Worker processes never outlive their parent: each asks Linux to kill it when the parent
dies (``PR_SET_PDEATHSIG``) and a watchdog thread exits when its parent pid changes (other
systems), so the workers of a killed kernel stop within about a second.
"""

from __future__ import annotations

import ctypes
import faulthandler
import functools
import multiprocessing
import os
import pickle
import queue
import signal
import sys
import threading
import time
from concurrent.futures import Executor, Future
from multiprocessing.connection import Connection, wait
from typing import Any

from ..._errors import TaskTimeoutError, WorkerDiedError
from ..._threads import HousekeepingThread

__all__ = ["WorkerPool", "describe_exit"]

_STOP = object()
_POLL = 1.0
# Creating a worker (pipe, fork, closing the child's end here) is one step at a time: a
# process forked by another thread in the middle of it would inherit this worker's ends of
# its pipes, and the worker's death would then never show (no EOF, no sentinel).
_SPAWN_LOCK = threading.Lock()
# A forked worker answers _READY once it has proved usable (_check_fork). A healthy fork
# answers in milliseconds; the bound leaves room for a machine loaded many times over.
_READY = b"ready"
_START_TIMEOUT = 10.0
_START_TRIES = 5


def describe_exit(exitcode: int | None) -> str:
    """``"exit code 3"`` / ``"signal 9 (SIGKILL)"`` for a process's ``exitcode``."""
    if exitcode is None:
        return "an unknown cause"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "?"
        hint = ": killed from outside, e.g. by the out-of-memory killer" if -exitcode == 9 else ""
        return f"signal {-exitcode} ({name}){hint}"
    return f"exit code {exitcode}"


@functools.cache
def _prctl() -> Any:
    """libc's ``prctl`` (Linux), looked up in the parent: a forked child then needs no
    ``dlopen`` (and none of the loader's locks) to call it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except Exception:
        return None


def _die_with_parent(parent: int) -> None:
    prctl = _prctl()  # looked up by the parent before the fork (ensure)
    if prctl is not None:
        try:
            prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except Exception:
            pass

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(0.5)

    HousekeepingThread(target=watch, name="persist-ext-parent-watch").start()
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _check_fork(conn: Connection) -> None:
    """Prove this forked worker usable, then say so to the parent.

    ``fork()`` copies every lock of the parent in the state it had at that instant, and a
    lock another thread held then stays held forever in the child. SQLite's process-wide
    mutexes are the ones met here: the parent's threads write the group's records while a
    supervisor forks a worker, and the worker's first act for a task (its running record)
    opens a store. A worker that cannot open and lock a SQLite file hangs in this check
    instead, before it is given anything, and the parent replaces it (:meth:`_Worker.ensure`).
    (The other thing ``fork()`` copies, SQLite's record of which file locks this process
    holds, is kept clean by forking only between store writes: ``storage/_forkgate.py``.)
    """
    import sqlite3
    import tempfile

    with tempfile.TemporaryDirectory(prefix="persist-ext-worker-") as folder:
        db = sqlite3.connect(os.path.join(folder, "check.db"))
        try:
            db.execute("PRAGMA user_version").fetchone()  # a shared lock on the file
        finally:
            db.close()
    conn.send_bytes(_READY)


def _ready(conn: Connection) -> bool:
    """True when the worker at the other end of ``conn`` sent ``b"ready"`` in time."""
    try:
        return bool(wait([conn], _START_TIMEOUT)) and conn.recv_bytes() == _READY
    except (EOFError, OSError):
        return False


def _worker_main(conn: Connection, parent: int) -> None:
    # A worker that hangs before it is ready (see _check_fork) says where, on its stderr,
    # before the parent gives up on it. (File descriptor 2: ``sys.stderr`` may be a
    # stream of pytest or ipykernel without one.)
    faulthandler.dump_traceback_later(_START_TIMEOUT * 0.8, file=2)
    _die_with_parent(parent)
    _check_fork(conn)
    faulthandler.cancel_dump_traceback_later()
    # The parent reports a crash with its signal; a fault handler inherited from it (pytest,
    # IPython) would only add a traceback dump to the parent's stderr.
    faulthandler.disable()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C / kernel interrupt: the parent's
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            os._exit(0)
        fn, args, kwargs = pickle.loads(data)
        try:
            reply = (True, fn(*args, **kwargs))
        except BaseException as exc:
            reply = (False, exc)
        try:
            payload = pickle.dumps(reply)
        except Exception as exc:
            payload = pickle.dumps((False, RuntimeError(f"result could not be pickled: {exc!r}")))
        try:
            conn.send_bytes(payload)
        except (BrokenPipeError, OSError):
            os._exit(0)


class _Worker:
    """One worker process and the pipe to it (owned by one supervising thread)."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.process: Any = None
        self.conn: Connection | None = None

    def ensure(self) -> None:
        """A live worker that has proved usable (see :func:`_check_fork`), started if needed."""
        if self.process is not None and self.process.is_alive():
            return
        _prctl()  # for the child (see _prctl)
        failed = []
        for _ in range(_START_TRIES):
            with _SPAWN_LOCK:
                parent_end, child_end = self.ctx.Pipe()
                process = self.ctx.Process(
                    target=_worker_main, args=(child_end, os.getpid()), name="persist-ext-worker"
                )
                process.daemon = True
                process.start()  # between store writes: storage/_forkgate.py
                child_end.close()
            self.process, self.conn = process, parent_end
            if _ready(parent_end):
                return
            hung = process.is_alive()
            exitcode = self.kill()  # a fork that copied a lock held by another thread
            failed.append("no answer" if hung else describe_exit(exitcode))
        raise RuntimeError(
            f"{_START_TRIES} worker processes in a row did not start within "
            f"{_START_TIMEOUT:.0f} s each ({', '.join(failed)}; the machine may be overloaded)"
        )

    def kill(self) -> int | None:
        process = self.process
        if process is None:
            return None
        if process.is_alive():
            process.kill()
        process.join(5)
        if self.conn is not None:
            self.conn.close()
        self.process = self.conn = None
        return process.exitcode

    def stop(self) -> None:
        if self.conn is not None:
            self.conn.close()  # EOF: the worker exits
        if self.process is not None:
            self.process.join(2)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(2)
        self.process = self.conn = None


class WorkerPool(Executor):
    """``max_workers`` supervised worker processes (see the module docstring).

    ``timeout`` (seconds, optional) bounds every call; ``mp_context`` is a
    ``multiprocessing`` context (default: the platform's default, as
    ``ProcessPoolExecutor`` uses).
    """

    def __init__(
        self,
        max_workers: int | None = None,
        *,
        timeout: float | None = None,
        mp_context: Any = None,
    ) -> None:
        self.max_workers = max_workers or os.cpu_count() or 1
        self.timeout = timeout
        self._ctx = mp_context or multiprocessing.get_context()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self._shutdown = False
        self.replaced = 0  # worker processes replaced after a death or a timeout

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Schedule ``fn(*args, **kwargs)`` in a worker process."""
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new tasks after shutdown")
            future: Future[Any] = Future()
            self._queue.put((future, fn, args, kwargs))
            if len(self._threads) < self.max_workers:
                worker = _Worker(self._ctx)
                thread = HousekeepingThread(
                    target=self._serve, args=(worker,), name="persist-ext-pool"
                )
                self._workers.append(worker)
                self._threads.append(thread)
                thread.start()
        return future

    def _serve(self, worker: _Worker) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                future, fn, args, kwargs = item
                if not future.set_running_or_notify_cancel():
                    continue
                self._run_one(worker, future, fn, args, kwargs)
        finally:
            worker.stop()

    def _run_one(
        self, worker: _Worker, future: Future[Any], fn: Any, args: Any, kwargs: Any
    ) -> None:
        try:
            payload = pickle.dumps((fn, args, kwargs))
        except Exception as exc:
            future.set_exception(exc)
            return
        try:
            worker.ensure()
            if worker.conn is None or worker.process is None:
                raise RuntimeError("the worker process did not start")
            worker.conn.send_bytes(payload)
        except Exception as exc:
            worker.kill()
            future.set_exception(exc)
            return
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        conn, sentinel = worker.conn, worker.process.sentinel
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            # Wake every second to ask the kernel (waitpid) whether the worker still lives:
            # its pipe and sentinel can miss a death when another process of this kernel
            # (forked by other code at the wrong moment) holds copies of their ends.
            ready = wait([conn, sentinel], _POLL if left is None else min(left, _POLL))
            if not ready and worker.process.is_alive() and (left is None or left > _POLL):
                continue
            if not ready and not worker.process.is_alive():
                ready = [sentinel]
            if conn in ready:
                try:
                    ok, value = pickle.loads(conn.recv_bytes())
                except (EOFError, OSError):
                    pass  # the process died while answering: handled as a death below
                except Exception as exc:  # the result cannot be unpickled here
                    future.set_exception(exc)
                    return
                else:
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
                    return
            if conn in ready or sentinel in ready:
                exitcode = worker.kill()
                self.replaced += 1
                future.set_exception(
                    WorkerDiedError(f"the worker process died ({describe_exit(exitcode)})")
                )
                return
            if not ready:  # the timeout passed
                worker.kill()
                self.replaced += 1
                future.set_exception(
                    TaskTimeoutError(
                        f"the task ran longer than its timeout of {self.timeout:g} s; its "
                        "worker process was killed"
                    )
                )
                return

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the workers; ``cancel_futures`` cancels calls not started yet."""
        with self._lock:
            if self._shutdown:
                threads = []
            else:
                self._shutdown = True
                threads = list(self._threads)
        if cancel_futures:
            pending = []
            while True:
                try:
                    pending.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            for item in pending:
                if item is not _STOP:
                    item[0].cancel()
        for _ in threads:
            self._queue.put(_STOP)
        if wait:
            for thread in threads:
                thread.join()

    def kill_all(self) -> None:
        """Kill every worker process now (their running calls fail as worker deaths)."""
        for worker in list(self._workers):
            process = worker.process
            if process is not None and process.is_alive():
                process.kill()

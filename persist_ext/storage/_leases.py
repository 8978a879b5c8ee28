"""Leases: who is writing a part of a directory store right now, across processes.

A writer (a kernel storing a cell, a process driving a task group) holds a lease on a name
such as ``cell/<name>`` or ``tasks/<group>`` while it writes; a mutation from another
process (the Jupyter server deleting that cell, replaying that group's failed tasks) takes
the same lease *without waiting* and refuses when it is held.

A lease is a POSIX record lock (``fcntl.lockf``) on ``<store>/leases/<digest>``. The kernel
releases it when the holder exits or is killed, so a crashed kernel never leaves a group
"running" forever; and record locks are not inherited by ``fork()``, so process-pool workers
of a dead kernel do not keep it either. Stores without a directory (memory, Redis) have no
leases: every call here is then a no-op that reports "free".
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["LEASES_DIRNAME", "hold", "is_held", "lease_path", "try_hold"]

LEASES_DIRNAME = "leases"
# Record locks belong to a process, not a thread, and closing ANY descriptor of the file
# drops them: so this process tracks the leases it took with try_hold() itself, never
# takes one twice, and is_held() never opens (and closes) a file it holds.
_MINE: set[Path] = set()
_MINE_LOCK = threading.Lock()

try:  # POSIX only; elsewhere leases are advisory no-ops.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def lease_path(directory: str | os.PathLike[str], name: str) -> Path:
    """The lock file of lease ``name`` in the store at ``directory``."""
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return Path(directory) / LEASES_DIRNAME / digest


def _directory_of(store: Any) -> Path | None:
    directory = getattr(store, "directory", None)
    return None if directory is None else Path(directory)


def _open(path: Path) -> int:
    path.parent.mkdir(exist_ok=True)
    # O_NOFOLLOW: a planted symlink must not make us create or lock a file elsewhere.
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    return os.open(path, flags, 0o666)


@contextmanager
def hold(store: Any, name: str) -> Iterator[None]:
    """Hold lease ``name`` of ``store`` (waiting for it) for the ``with`` block.

    A store without a directory, or a lease file that cannot be created (a read-only
    store), holds nothing: leases guard against concurrent mutation, they never stop work.
    """
    directory = _directory_of(store)
    fd = -1
    if directory is not None and fcntl is not None:
        try:
            fd = _open(lease_path(directory, name))
            fcntl.lockf(fd, fcntl.LOCK_EX)
        except OSError:
            if fd >= 0:
                os.close(fd)
            fd = -1
    try:
        yield
    finally:
        if fd >= 0:
            os.close(fd)  # closing releases the record lock


@contextmanager
def try_hold(directory: str | os.PathLike[str], name: str) -> Iterator[bool]:
    """Take lease ``name`` of the store at ``directory`` if it is free; yields whether taken.

    While the block runs with ``True``, writers of that name wait. ``False`` means another
    process holds it (a kernel writing that cell, a process running that group).
    """
    if fcntl is None:  # pragma: no cover - Windows
        yield True
        return
    path = lease_path(directory, name)
    with _MINE_LOCK:
        if path in _MINE:
            taken = False
        else:
            _MINE.add(path)
            taken = True
    if not taken:
        yield False
        return
    fd = -1
    try:
        fd = _open(path)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True
    finally:
        if fd >= 0:
            os.close(fd)
        with _MINE_LOCK:
            _MINE.discard(path)


def is_held(directory: str | os.PathLike[str], name: str) -> bool:
    """Whether another process holds lease ``name`` now (never creates the lease file)."""
    path = lease_path(directory, name)
    if fcntl is None or not path.is_file() or path.is_symlink():
        return False
    with _MINE_LOCK:  # held throughout: our close() must not drop a lease try_hold() took
        if path in _MINE:
            return False  # ours, for a mutation running now: not another process's
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return False
        try:
            # A shared lock is refused exactly when someone holds the exclusive one.
            fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(fd)
        return False

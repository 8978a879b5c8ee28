"""Atomic file replacement: a reader sees the old file or the new one, never a torn one.

Every module that writes a file under a store root goes through :func:`atomic_write`
(or :func:`atomic_writer` for streamed writes), so that a crash or ``SIGKILL`` at any instant
leaves either the previous contents or the complete new contents.

With ``durable=True`` the data and the directory entry are fsynced, which also survives power
loss at the cost of one or two disk flushes per write (milliseconds on SSDs, tens of
milliseconds on spinning disks or network filesystems).

Files are created with mode ``0o666`` minus the process umask (like ``open()``), so a folder
shared by a group works; only the secret (``_trust.py``) is private. A file being written is
held with an exclusive ``flock`` until it is renamed or committed: :func:`is_locked` tells a
live writer's file from the debris of a killed one, which :func:`remove_dead_temps` removes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "atomic_write",
    "atomic_writer",
    "create_locked",
    "dead_temps",
    "fsync_directory",
    "is_locked",
    "remove_dead_temps",
]

# A file that is still empty may be a writer's between create and lock: spare it this long.
_FRESH_EMPTY_SECONDS = 30.0
_TEMP = re.compile(r"\..+\.[0-9a-f]{16}\.tmp\Z")


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """Flush a directory entry (a rename or a new file) to disk."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_locked(path: str | os.PathLike[str]) -> BinaryIO:
    """Create ``path`` exclusively (mode 0o666 minus the umask) and hold an ``flock`` on it.

    The lock lives as long as the returned file object is open; the kernel drops it when
    the process dies, which is how cleanup recognises a dead writer's file.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # a file system without flock: age guards still protect the file
        pass
    return os.fdopen(fd, "wb")


def is_locked(path: str | os.PathLike[str], *, fresh: float = _FRESH_EMPTY_SECONDS) -> bool | None:
    """Whether a live process holds ``path`` (``None``: it is gone or is not a regular file).

    A file that is still empty and was created less than ``fresh`` seconds ago counts as
    held: its writer may not have taken the lock yet.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        if info.st_size == 0 and time.time() - info.st_mtime < fresh:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return False
        return False
    finally:
        os.close(fd)  # also releases the probe's lock


@contextlib.contextmanager
def atomic_writer(
    path: str | os.PathLike[str], *, durable: bool = False, mkdir: bool = True
) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path``; on success rename it over ``path``.

    If the body raises, the temporary file is removed and ``path`` is untouched.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.bin"
    >>> with atomic_writer(target) as f:
    ...     _ = f.write(b"hello")
    >>> target.read_bytes()
    b'hello'
    """
    path = Path(path)
    if mkdir:
        path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.parent / f".{path.name[:200]}.{secrets.token_hex(8)}.tmp"
        try:
            handle = create_locked(tmp)
            break
        except FileExistsError:  # pragma: no cover - 64 random bits collided
            continue
    try:
        with handle:
            yield handle
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
            # Renamed while still locked: cleanup never sees an unlocked live temp file.
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if durable:
        fsync_directory(path.parent)


def atomic_write(
    path: str | os.PathLike[str], data: bytes | bytearray | memoryview, *, durable: bool = False
) -> None:
    """Replace ``path`` with ``data`` atomically (see :func:`atomic_writer`)."""
    with atomic_writer(path, durable=durable) as handle:
        handle.write(data)


def dead_temps(directory: str | os.PathLike[str]) -> list[Path]:
    """Temporary files of :func:`atomic_writer` in ``directory`` whose writer is dead."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    return [
        Path(entry.path)
        for entry in entries
        if _TEMP.match(entry.name) and is_locked(entry.path) is False
    ]


def remove_dead_temps(directory: str | os.PathLike[str]) -> int:
    """Remove the temporary files killed writers left in ``directory``; return how many.

    A temporary file a live writer still holds is never removed.
    """
    removed = 0
    for path in dead_temps(directory):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed += 1
    return removed

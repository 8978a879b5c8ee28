"""Whether an SQLite database in WAL mode saw a commit, without a query.

In WAL mode every connection, in any process, shares the *wal-index* in the ``-shm`` file
beside the database. Its first 48 bytes are the header every commit rewrites: ``iChange``
counts transactions, and the last frame, page count, checksums and salts move with them
(https://www.sqlite.org/walformat.html, "The WAL-Index Header"). Reading them from a
memory map costs a memory copy, where ``PRAGMA data_version`` costs a statement (several
times more in a notebook cell, where SQLite's code is no longer in the CPU's caches).

Two equal reads prove nothing was committed in between; different reads only say that
something may have been (a reader refreshing its view never writes the header, but the
header has two copies and a writer's copy may be seen half-written): the caller then asks
SQLite itself. :class:`WalIndex` is only opened beside a connection that has read the
database (so the ``-shm`` file is in use and SQLite neither truncates nor removes it while
that connection stays open), and is dropped with that connection.

>>> import sqlite3, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "db")
>>> con = sqlite3.connect(path, isolation_level=None)
>>> con.execute("PRAGMA journal_mode=wal").fetchone()
('wal',)
>>> _ = con.execute("CREATE TABLE t (a)")
>>> index = WalIndex.beside(path)
>>> before = index.header()
>>> index.header() == before
True
>>> other = sqlite3.connect(path, isolation_level=None)
>>> _ = other.execute("INSERT INTO t VALUES (1)")
>>> index.header() == before
False
>>> index.close(); other.close(); con.close()
"""

from __future__ import annotations

import mmap
import os

__all__ = ["HEADER_SIZE", "WalIndex"]

HEADER_SIZE = 48
"""Bytes of the wal-index header (``WalIndexHdr``): the copy readers trust comes first."""


class WalIndex:
    """A read-only map of the header of a database's wal-index (its ``-shm`` file)."""

    __slots__ = ("_map",)

    def __init__(self, mapped: mmap.mmap) -> None:
        self._map = mapped

    @classmethod
    def beside(cls, database: str | os.PathLike[str]) -> WalIndex | None:
        """The wal-index of ``database``, or ``None`` when it has none to map (not in WAL
        mode, an in-memory wal-index under an exclusive lock, a platform without it)."""
        try:
            # O_NOFOLLOW: a planted symlink maps nothing (the pragma then answers).
            flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
            fd = os.open(f"{os.fspath(database)}-shm", flags)
        except OSError:
            return None
        try:
            if os.fstat(fd).st_size < HEADER_SIZE:
                return None  # not initialised yet
            return cls(mmap.mmap(fd, HEADER_SIZE, access=mmap.ACCESS_READ))
        except (OSError, ValueError):
            return None
        finally:
            os.close(fd)  # the map keeps its own reference to the file

    def header(self) -> bytes:
        """The header's bytes now."""
        return self._map[:HEADER_SIZE]

    def close(self) -> None:
        """Unmap (a closed index must not be read)."""
        self._map.close()

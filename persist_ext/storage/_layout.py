"""What files make a store directory, known without opening it (standard library only).

A directory store is diskcache's SQLite index ``cache.db`` (with its ``-wal``/``-shm``
files while open) beside its blob folders. Code that must not pay for opening a store (the
cell cache's first lookup, the server's listing) asks here.

>>> import os, tempfile
>>> folder = tempfile.mkdtemp()
>>> holds_store(folder), store_can_start(os.path.join(folder, "new", ".persist"))
(False, True)
"""

from __future__ import annotations

import os

from .._cwd import absolute

__all__ = ["INDEX_FILE", "INDEX_FILES", "StoreAbsence", "holds_store", "store_can_start"]

#: diskcache's index of a store directory.
INDEX_FILE = "cache.db"
#: The index and SQLite's write-ahead log and shared memory beside it.
INDEX_FILES = frozenset({INDEX_FILE, f"{INDEX_FILE}-wal", f"{INDEX_FILE}-shm"})


def holds_store(directory: str | os.PathLike[str]) -> bool:
    """Whether a store was ever opened in ``directory`` (its index file exists)."""
    return os.path.lexists(os.path.join(directory, INDEX_FILE))


def store_can_start(directory: str | os.PathLike[str]) -> bool:
    """Whether ``directory`` holds no store yet and one could be created there.

    True when the nearest existing folder on its path is a directory this process may
    write; a path through a file, or a read-only folder, is not (opening the store there
    then says what is wrong).
    """
    path = absolute(directory)
    if os.path.lexists(os.path.join(path, INDEX_FILE)):
        return False
    while not os.path.lexists(path):
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent
    return os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK)


class StoreAbsence:
    """:func:`store_can_start` for one store directory, asked before every cached cell.

    The walk up to the nearest existing folder is made while the answer is no; once the
    store could start there, only its index file is looked for (one file-system call
    instead of about five) until it appears.

    >>> import os, tempfile
    >>> folder = os.path.join(tempfile.mkdtemp(), ".persist")
    >>> absent = StoreAbsence(folder)
    >>> absent(), absent()
    (True, True)
    >>> os.makedirs(folder); open(os.path.join(folder, INDEX_FILE), "w").close()
    >>> absent()
    False
    """

    __slots__ = ("_can_start", "_directory", "_index")

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self._directory = absolute(directory)
        self._index = os.path.join(self._directory, INDEX_FILE)
        self._can_start = False

    def __call__(self) -> bool:
        if self._can_start and not os.path.lexists(self._index):
            return True
        self._can_start = store_can_start(self._directory)
        return self._can_start

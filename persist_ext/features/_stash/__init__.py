"""zensols.persist's API: the Stash family, ``PersistedWork`` / ``@persisted`` (``_persisted``).

Stashes are dict-like stores that are stacked to build richer ones; see ``docs/stashes.md``.
Every name here is re-exported from :mod:`persist_ext.stash` (the module a zensols.persist
user imports instead of ``zensols.persist``).
"""

from __future__ import annotations

from ._base import (
    CloseableStash,
    DelegateDefaults,
    DelegateStash,
    KeyLimitStash,
    PreemptiveStash,
    PrimeableStash,
    ProtectiveStash,
    ReadOnlyStash,
    SortedStash,
    Stash,
    chunks,
)
from ._dealloc import Deallocatable, dealloc
from ._directory import DirectoryStash, IncrementKeyDirectoryStash, ShelveStash, open_shelve
from ._diskcache import DiskCacheStash
from ._factory import FactoryStash, OneShotFactoryStash
from ._memory import CacheStash, DictionaryStash, LRUCacheStash, UnionStash
from ._multiprocess import MultiProcessStash
from ._persisted import PersistableContainer, PersistedWork, persisted
from ._text import FileTextUtil
from ._zip import ZipStash

shelve = open_shelve  # the seed's name: ``with shelve(path) as stash:``

__all__ = [
    "CacheStash",
    "CloseableStash",
    "Deallocatable",
    "DelegateDefaults",
    "DelegateStash",
    "DictionaryStash",
    "DirectoryStash",
    "DiskCacheStash",
    "FactoryStash",
    "FileTextUtil",
    "IncrementKeyDirectoryStash",
    "KeyLimitStash",
    "LRUCacheStash",
    "MultiProcessStash",
    "OneShotFactoryStash",
    "PersistableContainer",
    "PersistedWork",
    "PreemptiveStash",
    "PrimeableStash",
    "ProtectiveStash",
    "ReadOnlyStash",
    "ShelveStash",
    "SortedStash",
    "Stash",
    "UnionStash",
    "ZipStash",
    "chunks",
    "dealloc",
    "open_shelve",
    "persisted",
    "shelve",
]

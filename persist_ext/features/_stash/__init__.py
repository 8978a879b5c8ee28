"""zensols.persist's API: the Stash family, ``PersistedWork`` / ``@persisted`` (``_persisted``).

Stashes are dict-like stores that are stacked to build richer ones; see ``docs/stashes.md``. Every class here is re-exported from :mod:`persist_ext`.
"""

from __future__ import annotations

from ._base import (
    CloseableStash,
    DelegateStash,
    KeyLimitStash,
    PreemptiveStash,
    PrimeableStash,
    ReadOnlyStash,
    SortedStash,
    Stash,
    chunks,
)
from ._directory import DirectoryStash, IncrementKeyDirectoryStash, ShelveStash
from ._diskcache import DiskCacheStash
from ._factory import FactoryStash, OneShotFactoryStash
from ._memory import CacheStash, DictionaryStash, UnionStash
from ._multiprocess import MultiProcessStash

__all__ = [
    "CacheStash",
    "CloseableStash",
    "DelegateStash",
    "DictionaryStash",
    "DirectoryStash",
    "DiskCacheStash",
    "FactoryStash",
    "IncrementKeyDirectoryStash",
    "KeyLimitStash",
    "MultiProcessStash",
    "OneShotFactoryStash",
    "PreemptiveStash",
    "PrimeableStash",
    "ReadOnlyStash",
    "ShelveStash",
    "SortedStash",
    "Stash",
    "UnionStash",
    "chunks",
]

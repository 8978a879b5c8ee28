"""zensols.persist's API under persist_ext: change ``zensols.persist`` to ``persist_ext.stash``.

The Stash family, ``PersistedWork`` / ``@persisted`` / ``PersistableContainer``, the
deallocation helpers, the seed's small utilities and ``PersistableError`` (raised when a stash
or persisted work is misused), with the originals' names and semantics (and without their
unsafe defects: see docs/stashes.md).

>>> from persist_ext.stash import DictionaryStash, LRUCacheStash
>>> stash = LRUCacheStash(1)
>>> stash["a"] = 1; stash["b"] = 2
>>> list(stash.keys())
['b']
"""

from ._errors import PersistableError
from .features._stash import *  # noqa: F403 - this module is exactly that list
from .features._stash import __all__ as _stash_names

__all__ = ["PersistableError", *_stash_names]

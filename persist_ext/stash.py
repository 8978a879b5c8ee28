"""zensols.persist's API under persist_ext: change ``zensols.persist`` to ``persist_ext.stash``.

The Stash family, ``PersistedWork`` / ``@persisted`` / ``PersistableContainer``, the
deallocation helpers and the seed's small utilities, with the originals' names and semantics
(and without their unsafe defects: see docs/stashes.md).

>>> from persist_ext.stash import DictionaryStash, LRUCacheStash
>>> stash = LRUCacheStash(1)
>>> stash["a"] = 1; stash["b"] = 2
>>> list(stash.keys())
['b']
"""

from .features._stash import *  # noqa: F403 - this module is exactly that list
from .features._stash import __all__ as __all__

"""Function caching: ``persist_ext.cache``, keyed on arguments, code and the globals it reads.

Modules, one concept each:

* ``_key``: the call key (arguments + the cell cache's code components), revalidated cheaply;
* ``_layout``: the store layout of cached calls (the only module that knows the keys);
* ``_runtime``: the default store, batched use records, leases of calls being computed;
* ``_cached``: :func:`cache` and :class:`CachedFunction` (lookup, dedup, store, why, clear);
* ``_views``: the "cached functions" table of ``%persist list``;
* ``_units``: cached calls as budget units (``features/_budget.py``).
"""

from __future__ import annotations

from ._cached import CachedFunction, cache

__all__ = ["CachedFunction", "cache"]

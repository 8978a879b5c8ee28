"""The cell cache behind ``%%persist``: key a cell on its code and inputs, restore on a hit.

Modules, one concept each:

* ``_analysis``: normalized code digest and the names a cell reads / defines;
* ``_key``: the key components (inputs, user code, files, packages) and their digest;
* ``_capture``: run a cell recording its outputs in order; replay them;
* ``_state``: global state (RNG, rcParams, options, cwd, ...) snapshotted around a run;
* ``_effects``: files read, written, created or removed during a run (audit events);
* ``_fidelity``: checks before a hit and re-application of effects after it;
* ``_entry``: the store layout (an entry per group of co-variables, manifest written last;
  grouping in :mod:`persist_ext.features._covars`);
* ``_explain``: which key component differs (``%persist why``);
* ``_views``: result objects for ``list`` / ``show`` / ``info``;
* ``_inspect``: reading and clearing the entries of a store;
* ``_cache``: :class:`CellCache`, the facade the magics call.
"""

from __future__ import annotations

from ._cache import CellCache, CellOptions, CellResult
from ._explain import Difference, Explanation

__all__ = ["CellCache", "CellOptions", "CellResult", "Difference", "Explanation"]

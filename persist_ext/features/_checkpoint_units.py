"""Checkpoints as budget units: counted in ``%persist info``, never evicted by a store budget.

The checkpoint history (states, names and the objects they reference) is one protected
unit; its own history budget (``_checkpoint._history``) is what prunes it. Every key the
history protects is also *pinned*: evicting any other unit never deletes it.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..storage._protocol import KeyValueStore
from ._budget import Unit, register_units
from ._checkpoint._history import protected_keys
from ._checkpoint._layout import PREFIX, REF, STATE
from ._checkpoint._links import orphan_size

__all__ = ["list_checkpoint_units"]


def list_checkpoint_units(store: KeyValueStore) -> Iterator[Unit]:
    """The checkpoint history as one protected :class:`Unit` (none when there is none)."""
    size, newest, states = 0, 0.0, 0
    for key in list(store.keys(PREFIX)):
        info = store.info(key)
        if info is not None:
            size += info.size
            newest = max(newest, info.created)
            states += key.startswith(STATE)
    # %%persist values only a checkpoint still links to (their cell entry was cleared).
    size += orphan_size(store)
    if not size and not states:
        return
    names = sorted(k[len(REF) :] for k in store.keys(REF))
    yield Unit(
        kind="checkpoint",
        name=f"history ({states} state(s); {', '.join(names) or 'no names'})",
        prefix=PREFIX,
        marker=REF,
        size=size,
        last_used=newest,
        protected="checkpoints are kept by the undo history and its own budget",
        counted=False,
    )


register_units("checkpoint", list_checkpoint_units, pinned=protected_keys)

"""Notebook checkpoints: incremental, shared-object-faithful states of a namespace.

``_pack`` (a group of variables ↔ one content-addressed pickle), ``_layout`` (keys, state
records, names), ``_tracking`` (what a cell may have changed), ``_rebuild`` (which cells
made an unstorable value, and whether re-running them is safe), ``_links`` (objects shared
with ``%%persist`` entries), ``_groups``
(baseline of the live namespace; regrouping changed variables), ``_save`` / ``_load``
(write a state; load what differs), ``_history`` (listing, budget, protected keys),
``_report`` (what the shell shows), ``_session`` (the facade and the Python API),
``_commands`` (one handler per ``%persist`` checkpoint subcommand).

Checkpoints are pickles: restore only checkpoints you wrote yourself (a store configured
to authenticate its entries refuses any it did not write).
"""

from ._history import Budget, parse_size, protected_keys
from ._layout import AUTO, PREFIX
from ._rebuild import CellLog
from ._report import CheckpointReport, HistoryTable
from ._session import (
    CheckpointSession,
    list_checkpoints,
    restore_checkpoint,
    save_checkpoint,
    session_for,
)

__all__ = [
    "AUTO",
    "PREFIX",
    "Budget",
    "CellLog",
    "CheckpointReport",
    "CheckpointSession",
    "HistoryTable",
    "list_checkpoints",
    "parse_size",
    "protected_keys",
    "restore_checkpoint",
    "save_checkpoint",
    "session_for",
]

"""What a checkpoint command did, as the shell shows it (reports and the history table)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..._format import format_ago, format_size

__all__ = ["CheckpointReport", "HistoryRow", "HistoryTable"]

_VERBS = {
    "save": "saved",
    "restore": "restored",
    "checkout": "checked out",
    "undo": "undid to",
    "unchanged": "unchanged",
}


@dataclass
class CheckpointReport:
    """What a save, restore, checkout or undo did.

    ``variables`` are the variables of the state; ``written`` those whose objects were
    written now; ``shared`` those whose content a ``%%persist`` entry already held (linked
    to it, not written again); the rest were ``unchanged`` and only referenced.
    ``loaded`` are those read back from the store by a restore (the rest already held the
    same value); ``overwritten`` live variables a restore replaced with a different value;
    ``removed`` variables a checkout deleted because the state did not have them;
    ``skipped`` unstorable variables with the reason (``new_skips``: those the previous
    state did not skip); ``rerun`` variables rebuilt by re-running the cells that made
    them; ``pruned`` old states removed to keep history within its budget.
    """

    name: str
    action: str
    state: int | None = None
    variables: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    shared: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    loaded: list[str] = field(default_factory=list)
    overwritten: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    modules: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    rerun: list[str] = field(default_factory=list)
    new_skips: list[str] = field(default_factory=list)
    pruned: list[int] = field(default_factory=list)
    prune_reason: str = ""
    bytes_written: int = 0
    seconds: float = 0.0
    created: float | None = None
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        where = f" #{self.state}" if self.state is not None else ""
        verb = _VERBS.get(self.action, self.action)
        head = f"checkpoint {self.name!r}{where}: {verb} {len(self.variables)} variable(s)"
        parts = [head]
        if self.modules:
            parts.append(f"{len(self.modules)} module(s)")
        if self.action == "save":
            shared = f"{len(self.shared)} shared with %%persist, " if self.shared else ""
            parts.append(
                f"{len(self.written)} written ({format_size(self.bytes_written)}), "
                f"{shared}{len(self.unchanged)} unchanged"
            )
        elif self.action != "unchanged":
            parts.append(f"{len(self.loaded)} loaded, {len(self.unchanged)} already current")
        line = ", ".join(parts) + f" in {self.seconds:.3f}s"
        if self.created is not None and self.action != "save":
            line += f" (saved {format_ago(self.created)})"
        if self.overwritten:
            line += f"\n  overwrote {', '.join(sorted(self.overwritten))} (they had other values)"
        if self.removed:
            line += f"\n  removed {', '.join(sorted(self.removed))} (not in that checkpoint)"
        for var in sorted(self.rerun):
            line += f"\n  rebuilt {var} by re-running the cell(s) that made it"
        for var, reason in sorted(self.skipped.items()):
            line += f"\n  skipped {var}: {reason}"
        if self.pruned:
            ids = ", ".join(f"#{i}" for i in self.pruned)
            line += f"\n  pruned {len(self.pruned)} old checkpoint(s) {ids}: {self.prune_reason}"
        for note in self.notes:
            line += f"\n  {note}"
        return line

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


@dataclass(frozen=True)
class HistoryRow:
    """One state in ``%persist history``."""

    id: int
    created: float
    ref: str
    names: tuple[str, ...]
    parent: int | None
    cell: str
    variables: int
    added: int
    current: bool


@dataclass
class HistoryTable:
    """``%persist history``: every state, oldest first; ``*`` marks the live namespace's."""

    rows: list[HistoryRow]
    budget: str = ""

    def __str__(self) -> str:
        if not self.rows:
            return "No checkpoints yet: %persist checkpoint, or %persist autocheckpoint on."
        lines = [f"{'':1} {'id':>5}  {'when':<19} {'names':<14} {'vars':>4} {'added':>9}  cell"]
        for r in self.rows:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.created))
            cell = " ".join(r.cell.split())[:60]
            names = ",".join(r.names)[:14]
            mark = "*" if r.current else ""
            lines.append(
                f"{mark:1} {r.id:>5}  {when:<19} {names:<14} {r.variables:>4} "
                f"{format_size(r.added):>9}  {cell}"
            )
        if self.budget:
            lines.append(f"history budget: {self.budget}")
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

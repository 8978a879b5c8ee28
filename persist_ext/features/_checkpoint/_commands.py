"""The ``%persist`` checkpoint subcommands, one small handler each (the magic's table).

Each handler takes the session, the words after the subcommand and the parsed options, and
returns what the shell displays. Misuse raises :class:`~persist_ext.CheckpointError`, which
the magic shows as a one-line usage error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..._errors import CheckpointError
from ._session import CheckpointSession

__all__ = ["HANDLERS", "AutoCheckpoint"]


@dataclass(frozen=True)
class AutoCheckpoint:
    """Result of ``%persist autocheckpoint on|off``."""

    on: bool

    def __repr__(self) -> str:
        if self.on:
            return (
                "persist: checkpointing after every cell (%persist history, %persist undo, "
                "%persist checkout ID)"
            )
        return "persist: automatic checkpoints are off"


def _at_most(sub: str, rest: list[str], n: int) -> None:
    if len(rest) > n:
        raise CheckpointError(f"%persist {sub} got unexpected arguments: {' '.join(rest[n:])!r}.")


def _checkpoint(s: CheckpointSession, rest: list[str], inc: Any, exc: Any, full: bool) -> Any:
    _at_most("checkpoint", rest, 1)
    return s.checkpoint(rest[0] if rest else "default", include=inc, exclude=exc or (), full=full)


def _restore(s: CheckpointSession, rest: list[str], *_: Any) -> Any:
    _at_most("restore", rest, 1)
    return s.restore(rest[0] if rest else None)


def _checkout(s: CheckpointSession, rest: list[str], *_: Any) -> Any:
    if len(rest) != 1:
        raise CheckpointError(
            "%persist checkout needs one checkpoint id or name; see %persist history."
        )
    return s.checkout(rest[0])


def _undo(s: CheckpointSession, rest: list[str], *_: Any) -> Any:
    _at_most("undo", rest, 0)
    return s.undo()


def _history(s: CheckpointSession, rest: list[str], *_: Any) -> Any:
    _at_most("history", rest, 0)
    return s.history()


def _autocheckpoint(s: CheckpointSession, rest: list[str], *_: Any) -> AutoCheckpoint:
    if len(rest) != 1 or rest[0].lower() not in ("on", "off"):
        raise CheckpointError("Use %persist autocheckpoint on, or %persist autocheckpoint off.")
    return AutoCheckpoint(rest[0].lower() == "on")


HANDLERS: dict[str, Callable[..., Any]] = {
    "checkpoint": _checkpoint,
    "restore": _restore,
    "checkout": _checkout,
    "undo": _undo,
    "history": _history,
    "autocheckpoint": _autocheckpoint,
}

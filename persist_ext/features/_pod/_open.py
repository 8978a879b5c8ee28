"""How a path becomes a POD state: argument checks, sharing (``clone``), tastypy folders.

* Every handle opened on one path in one process shares one :class:`PODState` (tastypy's
  ``clone=True``, the default). ``clone=False`` asks for a separate copy; two separate writers
  of one directory would overwrite each other's changes, so it is refused while the path is
  open elsewhere in this process.
* A state whose directory was removed or replaced meanwhile (``shutil.rmtree`` then a new POD)
  is dropped with a note on stderr and never writes into the new directory.
* A folder written by the original tastypy (``0.json``, ``1.json``, ...) is read in place,
  read-only (see :mod:`persist_ext.features._pod._tastypy`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..._errors import ConcurrentAccessError, PODError
from ...storage._names import not_a_folder
from . import _exit as _pod_exit
from ._files import MANIFEST_NAME, is_pod_file
from ._state import PODState
from ._tastypy import legacy_files, read_legacy

__all__ = ["check_count", "check_path", "open_state"]


def check_path(path: Any) -> Path:
    """``path`` as an absolute directory path; PODError naming the fix for anything else."""
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise PODError(
            f"a POD path must be a str or os.PathLike naming a directory, not "
            f"{type(path).__name__}: {path!r}; e.g. POD('work/progress.pod')"
        )
    text = os.fspath(path)
    if not isinstance(text, str) or not text or "\x00" in text:
        raise PODError(
            f"a POD path must be a non-empty directory name without NUL bytes, not {path!r}"
        )
    return Path(text).expanduser().resolve()


def check_count(name: str, value: Any, minimum: int = 1) -> int:
    """An int >= ``minimum`` (not a bool), or PODError naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PODError(f"{name} must be an int >= {minimum}, not {value!r}")
    return value


def _check_flag(name: str, value: Any, allow_none: bool = False) -> None:
    if not (isinstance(value, bool) or (allow_none and value is None)):
        allowed = "True, False or None" if allow_none else "True or False"
        raise PODError(f"{name} must be {allowed}, not {value!r}")


def _read_only_reason(root: Path) -> str:
    return (
        f"{root} is a folder written by tastypy, opened read-only so that it stays untouched; "
        f"to change it, convert it once with POD.from_tastypy({str(root)!r}, 'new.pod') "
        "(Tracker.from_tastypy for a tracker) and open the new path"
    )


def open_state(
    path: Any,
    *,
    file_size: Any,
    durable: Any,
    gzipped: Any,
    clone: Any,
    sync_after: Any,
) -> PODState:
    """The state for ``path``: the shared one if open, else a new one (see module docs)."""
    root = check_path(path)
    check_count("file_size", file_size)
    _check_flag("durable", durable)
    _check_flag("gzipped", gzipped, allow_none=True)
    _check_flag("clone", clone)
    if sync_after is not None and (
        isinstance(sync_after, bool)
        or not isinstance(sync_after, (int, float))
        or not 0 < sync_after < float("inf")
    ):
        raise PODError(
            f"sync_after must be a positive number of seconds or None, not {sync_after!r}"
        )
    key = str(root)
    for other in _pod_exit.open_states(key):
        if other.is_stale():  # type: ignore[attr-defined]
            other.detach()  # type: ignore[attr-defined]
    shared = _pod_exit.registered(key)
    if clone and shared is not None:
        state: PODState = shared  # type: ignore[assignment]
        if gzipped is not None and state.readonly is None and gzipped != state.gzipped:
            raise PODError(
                f"the POD at {root} is open with gzipped={state.gzipped}; open it with "
                f"gzipped={state.gzipped} or leave gzipped out"
            )
        _adopt_sync_after(state, sync_after)
        return state
    if _pod_exit.open_states(key):
        raise ConcurrentAccessError(
            f"the POD at {root} is already open in this process; a second, separate copy "
            "(clone=False) would overwrite the other's changes. Use the open POD, open it with "
            "clone=True (the default) to share it, or close the other one first"
        )
    blocker = not_a_folder(root)
    if blocker == root:
        raise PODError(f"a POD path must be a directory, but {root} is a file; choose another path")
    if blocker is not None:
        raise PODError(
            f"a POD path must be a directory, but {root} cannot be one: {blocker} is a file; "
            "choose another path"
        )
    if root.is_dir() and not (root / MANIFEST_NAME).exists():
        if legacy_files(root) is not None:
            chunks, _ = read_legacy(root)
            state = PODState.read_in_place(root, chunks, _read_only_reason(root))
            _pod_exit.register(key, state, shared=clone)
            return state
        # A POD's own files without a manifest: a first sync in flight in another process
        # (which holds the lock: opening waits for it, ConcurrentAccessError) or a killed
        # one (its leftovers are removed when the POD opens).
        foreign = [p.name for p in root.iterdir() if not is_pod_file(p.name)][:3]
        if foreign:
            raise PODError(
                f"{root} is not empty and is not a POD directory (it holds {foreign}); "
                "give POD an empty or new directory"
            )
    state = PODState(root, file_size, durable, gzipped)
    _adopt_sync_after(state, sync_after)
    _pod_exit.register(key, state, shared=clone)
    return state


def _adopt_sync_after(state: PODState, sync_after: float | None) -> None:
    # Handles sharing a state share its background syncs: the tightest bound asked wins.
    if (
        sync_after is not None
        and state.readonly is None
        and (state.sync_after is None or sync_after < state.sync_after)
    ):
        state.sync_after = float(sync_after)

"""The few changes the panel may make to a store: delete a cell, a variant, cached calls or an
entry; replay.

Each takes the writer's lease without waiting (``storage/_leases``): while a kernel stores
that cell or a process runs that group, the change is refused with the reason
(:class:`LeaseHeldError`), and while the change runs, writers wait. Deletes of a cell go
through the cell cache's own :func:`delete_entry` in one store transaction, so a cell's
manifest, variables, outputs and hit counter disappear together. Nothing here decodes an
entry except ``replay``, which uses the task engine itself on the group's own records.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..._errors import PersistError, StoreError
from ...features._cellcache._entry import cell_prefix, delete_entry
from ...features._memo._layout import LOCK, RESULT
from ...features._memo._layout import PREFIX as MEMO_PREFIX
from ...features._tasks._keys import GROUPS_PREFIX
from ...storage._leases import try_hold
from ._groups import group_keys
from ._stores import read_headers

__all__ = ["LeaseHeldError", "clear_calls", "delete_cell", "delete_entry_key", "replay_failed"]

_VARIANT = re.compile(r"^[0-9a-f]{8,64}$")
# Keys owned by a feature's layout: deleting one alone would leave the rest inconsistent.
_OWNED = ("cell/", GROUPS_PREFIX, "checkpoint/", "cellcache/", MEMO_PREFIX)
_CALL_KEY = re.compile(r"^[0-9a-f]{32}$")


class LeaseHeldError(StoreError):
    """Another process is writing what the request wants to change."""


def _open_store(directory: Path) -> Any:
    from ...storage._store import Store

    return Store(directory)


def delete_cell(directory: Path, name: str, variant: str | None = None) -> int:
    """Delete every stored variant of cell ``name`` (or one ``variant``); returns how many."""
    prefix = cell_prefix(name)
    if variant is not None and not _VARIANT.match(variant):
        raise PersistError(f"Variant {variant!r} is not a cell key (hex digits); list cells first.")
    with try_hold(directory, prefix) as taken:
        if not taken:
            raise LeaseHeldError(
                f"Cell {name!r} is being stored by a kernel right now; try again in a moment."
            )
        with _open_store(directory) as store, store.transact():
            variants = {
                key[len(prefix) :].split("/", 1)[0]
                for key in store.keys(prefix)
                if key.endswith("/manifest")
            }
            chosen = sorted(variants) if variant is None else [variant]
            removed = 0
            for digest in chosen:
                if digest in variants:
                    removed += delete_entry(store, f"{prefix}{digest}/")
            if variant is None:  # orphans of interrupted runs go with the cell
                for key in list(store.keys(prefix)):
                    store.delete(key)
    return removed


def delete_entry_key(directory: Path, key: str) -> bool:
    """Delete one plain entry (a stash value); feature-owned keys are refused."""
    if key.startswith(_OWNED):
        raise PersistError(
            f"{key!r} belongs to a cached cell, a cached function call, a task group or a "
            "checkpoint; delete the whole cell or call from the Cells or Functions tab (or with "
            "%persist clear, f.clear()) so nothing is left half-deleted."
        )
    with _open_store(directory) as store:
        return bool(store.delete(key))


def clear_calls(directory: Path, function: str, call: str | None = None) -> int:
    """Delete every stored call of ``function`` (its key in the listing), or one ``call``.

    Returns how many calls were removed. Raises :class:`PersistError` for a malformed name
    and :class:`LeaseHeldError` while a process computes one of those calls.
    """
    if not function or "/" in function or function in (".", ".."):
        raise PersistError(f"{function!r} is not a cached function's key; list functions first.")
    if call is not None and not _CALL_KEY.match(call):
        raise PersistError(f"Call {call!r} is not a call key (32 hex digits); list calls first.")
    prefix = f"{MEMO_PREFIX}{function}/" + (f"{call}/" if call else "")
    with _open_store(directory) as store, store.transact():
        keys = list(store.keys(prefix))
        locks = [k for k in keys if k.endswith(f"/{LOCK}") and store.info(k) is not None]
        if locks:
            raise LeaseHeldError(
                f"{len(locks)} call(s) of {function!r} are being computed by a process right "
                "now; clear them when it is done."
            )
        results = [k for k in keys if k.endswith(f"/{RESULT}")]
        for key in results:  # results first: a reader sees a miss, never debris
            store.delete(key)
        for key in keys:
            store.delete(key)
    return len(results)


def replay_failed(directory: Path, group: str, tasks: list[str] | None = None) -> list[str] | None:
    """Mark the failed tasks of ``group`` (or only ``tasks``) for replay; returns the instances.

    Refused while a process runs the group. The replayed tasks run the next time the group
    runs (``group.run()`` in a notebook), each with a fresh try budget. Returns None, having
    written nothing, when the store has no group ``group`` (its task configurations); raises
    :class:`PersistError`, having written nothing, when ``tasks`` names a task the group
    does not have.
    """
    from ...features._tasks import TaskGroup
    from ...features._tasks._keys import group_keys as task_group_keys
    from ...features._tasks._model import TaskStatus

    configs = task_group_keys(group).configs
    # Read-only first: an unknown name takes no lease and opens no writer.
    if not read_headers(directory, [configs]):
        return None
    with try_hold(directory, group_keys(group)["lease"]) as taken:
        if not taken:
            raise LeaseHeldError(
                f"Task group {group!r} is running in another process; replay its failed tasks "
                "when the run is over (or after stopping it)."
            )
        with _open_store(directory) as store:
            if configs not in store:  # removed since the look above
                return None
            handle = TaskGroup(group, store)
            try:
                current: dict[str, Any] = {}
                for instance in handle.session:
                    best = current.get(instance.task)
                    if best is None or _number(instance.name) > _number(best.name):
                        current[instance.task] = instance
                wanted = set(tasks) if tasks else None
                if wanted is not None:
                    # A mistyped name would otherwise answer "nothing replayed", as if the
                    # task had not failed: refuse before writing anything, naming them.
                    _refuse_unknown(group, wanted - current.keys())
                replayed = []
                for task, instance in sorted(current.items()):
                    if instance.status is not TaskStatus.FAILED:
                        continue
                    if wanted is not None and task not in wanted:
                        continue
                    clone = handle.replay(instance.name, run=False)
                    replayed.append(clone.name)
            finally:
                handle.close()
    return replayed


def _refuse_unknown(group: str, unknown: set[str]) -> None:
    if not unknown:
        return
    names = sorted(unknown)
    shown = ", ".join(repr(name) for name in names[:10])
    more = f" and {len(names) - 10} more" if len(names) > 10 else ""
    raise PersistError(
        f"Task group {group!r} has no task {shown}{more}; nothing was replayed. Name tasks by "
        'their key as the group\'s task table lists them (or send no "tasks" to replay '
        "every failed task)."
    )


def _number(name: str) -> int:
    _, _, number = name.rpartition("#")
    return int(number) if number.isdigit() else 0

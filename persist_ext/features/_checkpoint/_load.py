"""Loading a state into a namespace: only the groups that differ from what it holds.

``restore`` merges a state into the namespace (variables it does not have are left alone);
``checkout`` makes the namespace *be* the state (variables it does not have are removed,
except unstorable ones it could not have saved). Both say which live values they replaced.
"""

from __future__ import annotations

import importlib
import time
from typing import Any

from ...storage._protocol import KeyValueStore
from .._slotnames import untraced
from ._groups import is_immutable
from ._layout import State, object_key
from ._links import link_target, load_linked
from ._pack import pack_group, unpack_group
from ._rebuild import run_rebuilds
from ._report import CheckpointReport
from ._save import Live, candidates

__all__ = ["load_state"]


@untraced()  # see _save.save_state
def _live_digest(live: Live, name: str, members: tuple[str, ...]) -> str | None:
    """The digest the live value(s) would have, when cheaply known or computable."""
    ns = live.namespace
    known = live.baseline.known.get(name)
    value = ns.get(name)
    unchanged = known is not None and known.ident == id(value)
    if unchanged and (name not in live.touched or is_immutable(value)):
        return known.digest  # type: ignore[union-attr]
    if any(m not in ns for m in members):
        return None
    try:
        return pack_group({m: ns[m] for m in members}, ns).digest
    except Exception:
        return None


def load_state(
    live: Live, store: KeyValueStore, state: State, *, action: str, exact: bool
) -> CheckpointReport:
    """Put ``state`` into ``live.namespace``, reading only groups that differ from it.

    ``exact=True`` (checkout, undo) also removes variables the state does not have.
    """
    start = time.perf_counter()
    ns = live.namespace
    report = CheckpointReport(name=state.ref, action=action, state=state.id, created=state.created)
    for alias, module_name in state.modules.items():
        try:
            ns[alias] = importlib.import_module(module_name)
            report.modules[alias] = module_name
        except ImportError as exc:
            report.skipped[alias] = f"module {module_name} cannot be imported: {exc}"
    for digest, group in state.groups.items():
        members = tuple(n for n in group["names"] if state.variables.get(n) == digest)
        if not members:
            continue
        stored_names = tuple(group["names"])
        current = all(
            _live_digest(live, m, stored_names) == digest for m in members if m in ns
        ) and all(m in ns for m in members)
        if current:
            report.unchanged.extend(members)
            live.baseline.record(digest, stored_names, _view(ns, stored_names), group["size"])
            continue
        try:
            values = _read_group(store, digest, stored_names, ns)
        except Exception as exc:  # one broken group must not block the others
            for m in members:
                report.skipped[m] = f"{type(exc).__name__}: {exc}"
            continue
        for m in members:
            if m in ns and ns[m] is not values[m]:
                report.overwritten.append(m)
            ns[m] = values[m]
            report.loaded.append(m)
        live.baseline.record(digest, members, ns, group["size"])
    if exact:
        keep = set(state.variables) | set(state.modules) | set(state.skipped)
        for name in candidates(ns, None, ()):
            if name not in keep:
                del ns[name]
                report.removed.append(name)
        live.baseline.forget(report.removed)
    wanted = [n for n in state.recipes if exact or n not in ns]
    rebuilt, failed = run_rebuilds(ns, state.recipes, wanted)
    report.rerun.extend(rebuilt)
    report.skipped.update(failed)
    for name, reason in state.skipped.items():
        if name not in report.rerun:
            report.skipped.setdefault(name, reason)
    # Replaced values were only "newer" when the namespace did not just come from there.
    report.overwritten = sorted(set(report.overwritten))
    report.variables = sorted(set(report.loaded) | set(report.unchanged))
    live.head = state.id
    if exact:
        live.touched.clear()
    else:
        live.touched.difference_update(report.variables)
    report.seconds = time.perf_counter() - start
    return report


def _read_group(
    store: KeyValueStore, digest: str, names: tuple[str, ...], ns: Any
) -> dict[str, Any]:
    """A group's variables: its own pickle, or the %%persist entry it is linked to."""
    stored = store.get(object_key(digest))
    target = link_target(stored)
    if target is not None:
        return load_linked(store, target, names)
    return unpack_group(stored, ns)


def _view(ns: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {n: ns[n] for n in names if n in ns}

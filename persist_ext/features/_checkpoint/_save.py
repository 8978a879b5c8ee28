"""Saving a state: pack what changed, write new objects, then the state and the name.

The commit order is the crash-safety argument: large objects (content-addressed, so writing
one twice is harmless), then one transaction holding the small objects, the state record and
the name. A process killed at any point leaves every name on a complete state.
"""

from __future__ import annotations

import re
import time
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..._errors import CheckpointError
from ...storage._protocol import KeyValueStore
from .._slotnames import untraced
from ._groups import Baseline, is_immutable, regroup
from ._layout import (
    OBJ,
    State,
    new_state_id,
    object_key,
    read_ref,
    read_state,
    set_ref,
    write_state,
)
from ._links import Offer, usable, write_link
from ._rebuild import CellLog, plan_rebuilds
from ._report import CheckpointReport

__all__ = ["Live", "candidates", "save_state"]

# Names IPython puts in every user namespace; the shell recreates them itself.
SHELL_NAMES = frozenset({"In", "Out", "exit", "quit", "get_ipython", "open"})
# IPython's own underscore names: _, __, ___, _i, _ii, _i3, _3, _ih, _oh, _dh, __builtins__...
_SHELL_PRIVATE = re.compile(r"^(_+|_i+|_i?\d+|_ih|_oh|_dh|__\w+__)$")


@dataclass
class Live:
    """A namespace as this process knows it: baseline, names touched since, current state.

    ``tracks_cells`` is true when something reports every executed cell (the IPython
    hooks): only then is a value whose id did not change trusted to be unchanged unless
    a cell named it; otherwise every mutable value is rehashed at each save.
    """

    namespace: Any
    baseline: Baseline = field(default_factory=Baseline)
    touched: set[str] = field(default_factory=set)
    head: int | None = None
    tracks_cells: bool = False
    cells: list[str] = field(default_factory=list)
    log: CellLog = field(default_factory=CellLog)
    modules: dict[str, str] = field(default_factory=dict)
    # Cell-cache entries holding live values (``_links``): variables -> offer, and the
    # digests found to equal an entry's content -> (entry key, variables).
    offers: dict[tuple[str, ...], Offer] = field(default_factory=dict)
    links: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)


def candidates(
    namespace: Mapping[str, Any], include: Iterable[str] | None, exclude: Iterable[str]
) -> list[str]:
    """The variables a save considers; an unknown ``include`` name is a CheckpointError."""
    excluded = set(exclude)
    if include is not None:
        include = list(include)
        unknown = [n for n in include if n not in namespace]
        if unknown:
            defined = sorted(n for n in namespace if _eligible(n))
            raise CheckpointError(
                f"Cannot checkpoint {', '.join(map(repr, unknown))}: not defined. "
                f"Defined variables: {', '.join(defined) or 'none'}."
            )
        # Named explicitly, a _private variable is saved too (never IPython's own).
        return [n for n in include if n not in excluded and not _shell_owned(n)]
    return [n for n in namespace if _eligible(n) and n not in excluded]


def _eligible(name: str) -> bool:
    return not name.startswith("_") and name not in SHELL_NAMES


def _shell_owned(name: str) -> bool:
    return name in SHELL_NAMES or bool(_SHELL_PRIVATE.match(name))


def _dirty(live: Live, names: list[str], full: bool) -> set[str]:
    ns, base = live.namespace, live.baseline
    dirty = set()
    for name in names:
        value = ns[name]
        # Rebound (or never seen) values changed; one a cell named may have changed in
        # place; without cell tracking any mutable value may have.
        suspect = name in live.touched or not live.tracks_cells
        if full or not base.is_clean(name, value) or (suspect and not is_immutable(value)):
            dirty.add(name)
    # A member of a group that changed makes its whole old group repack (composition).
    for name in list(dirty):
        for member in base.members(name):
            if member in ns and member in names:
                dirty.add(member)
    return dirty


@untraced()  # pickling the namespace leaves no __slotnames__ on its classes
def save_state(
    live: Live,
    store: KeyValueStore,
    ref: str,
    *,
    include: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    cell: str = "",
    full: bool = False,
    _healed: bool = False,
) -> CheckpointReport:
    """Save the live namespace (or part of it) as a new state and point ``ref`` at it.

    A partial save (``include`` or ``exclude``) merges into ``ref``'s current state: the
    variables it does not cover keep their saved values. When nothing differs from the
    state ``ref`` would be based on, no state is written (the report says ``unchanged``).
    """
    start = time.perf_counter()
    ns = live.namespace
    partial = include is not None or bool(list(exclude))
    exclude = list(exclude)
    names = candidates(ns, include, exclude)
    report = CheckpointReport(name=ref, action="save")
    modules = {n: ns[n].__name__ for n in names if isinstance(ns[n], types.ModuleType)}
    values = [n for n in names if n not in modules]
    dirty = _dirty(live, values, full)
    # A value that could not be stored and was not touched since fails the same way again:
    # carry its reason instead of trying (and failing) to pickle it after every cell.
    carried = {
        n: live.baseline.failed[n][1]
        for n in dirty
        if n in live.baseline.failed
        and live.baseline.failed[n][0] == id(ns[n])
        and n not in live.touched
        and not full
    }
    dirty -= set(carried)
    clean = [n for n in values if n not in dirty and n not in carried]
    regrouped = regroup(ns, dirty, clean, live.baseline)
    regrouped.failures.update(carried)
    for name in dirty:
        if name in regrouped.failures:
            live.baseline.failed[name] = (id(ns[name]), regrouped.failures[name])
        else:
            live.baseline.failed.pop(name, None)

    ref_state_id = read_ref(store, ref)
    base_id = live.head if live.head is not None else ref_state_id
    if partial:
        base_id = ref_state_id
    base_state = read_state(store, base_id) if base_id is not None else None

    state = State(id=0, ref=ref, parent=base_id, cell=cell)
    if partial and base_state is not None:
        covered = set(names) | set(include or ())
        for var, digest in base_state.variables.items():
            if var not in covered:
                state.variables[var] = digest
                state.groups[digest] = base_state.groups[digest]
        state.modules = {k: v for k, v in base_state.modules.items() if k not in covered}
        state.skipped = {k: v for k, v in base_state.skipped.items() if k not in covered}
        state.recipes = {k: v for k, v in base_state.recipes.items() if k not in covered}
    state.modules.update(modules)
    # Unchanged variables reference the objects they are already in.
    for name in clean:
        digest = live.baseline.known[name].digest
        info = live.baseline.groups[digest]
        state.variables[name] = digest
        state.groups[digest] = {"names": list(info.names), "size": info.size}
    new_packs = []
    for packed in regrouped.packs:
        for name in packed.names:
            state.variables[name] = packed.digest
        state.groups[packed.digest] = {"names": list(packed.names), "size": packed.size}
        new_packs.append(packed)
    for name, reason in regrouped.failures.items():
        state.skipped[name] = reason
        state.variables.pop(name, None)
    # What cannot be stored is rebuilt on restore by the cells that made it, when safe.
    recipes, refusals = plan_rebuilds(live.log, regrouped.failures, state.variables, state.modules)
    state.recipes.update(recipes)
    for name, cells in recipes.items():
        state.skipped[name] = (
            f"{regrouped.failures[name]} (rebuilt on restore by re-running "
            f"{len(cells)} cell(s) that made it)"
        )
    for name, refusal in refusals.items():
        state.recipes.pop(name, None)
        state.skipped[name] = f"{regrouped.failures[name]} (not rebuilt on restore: {refusal})"
    # Groups whose members all moved elsewhere are no longer part of the state.
    used = set(state.variables.values())
    state.groups = {d: g for d, g in state.groups.items() if d in used}

    if base_state is not None and _same(state, base_state):
        if ref_state_id != base_state.id:
            set_ref(store, ref, base_state.id)
        _remember(live, regrouped.packs, ns, base_state.id, names)
        report.action = "unchanged" if ref_state_id == base_state.id else "save"
        report.state = base_state.id
        report.variables = sorted(state.variables)
        report.unchanged = list(report.variables)
        report.modules = dict(state.modules)
        report.skipped = dict(state.skipped)
        report.created = base_state.created
        report.seconds = time.perf_counter() - start
        return report

    written: list[str] = []
    shared: list[str] = []
    fresh = {p.digest for p in new_packs}
    # Referenced, not rewritten: each must still be there (another kernel's pruning or a
    # clear may have removed it). Values still live are simply written again.
    gone = _absent(store, used - fresh)
    if gone:
        live_names = {n for n in values if state.variables.get(n) in gone}
        if not _healed and {state.variables[n] for n in live_names} == gone:
            live.baseline.forget(live_names)
            return save_state(
                live, store, ref, include=include, exclude=exclude, cell=cell, full=full,
                _healed=True,
            )  # fmt: skip
        lost = sorted(n for n, d in state.variables.items() if d in gone and n not in ns)
        raise CheckpointError(
            f"Checkpoint {ref!r} refers to stored values that were removed from the store "
            f"({', '.join(lost) or 'unknown variables'}); save the whole namespace under a "
            "new name, e.g. %persist checkpoint fresh."
        )
    # Large objects first, each on its own (a long transaction would hold the store's write
    # lock while gigabytes are written); then the small objects, the id, the state and the
    # name in one transaction: a small change costs one commit, and the name never points
    # to a state that is not complete.
    # A group whose content a %%persist entry already holds is linked to it, not written.
    linked = _linkable(live, new_packs, store)
    large = [p for p in new_packs if p.size >= _LARGE and p.digest not in linked]
    for packed in large:
        _write_object(store, packed, state, written)
    with store.transact():
        for packed in new_packs:
            if packed.digest in linked:
                _link_object(store, packed, linked[packed.digest], state, written, shared)
            elif packed.size < _LARGE:
                _write_object(store, packed, state, written)
        state.id = new_state_id(store)
        state.created = time.time()
        write_state(store, state)
        set_ref(store, ref, state.id)
    _remember(live, regrouped.packs, ns, state.id, names)
    report.state = state.id
    report.variables = sorted(state.variables)
    report.written = sorted(written)
    report.shared = sorted(shared)
    report.unchanged = sorted(set(state.variables) - set(written) - set(shared))
    report.modules = dict(state.modules)
    report.skipped = dict(state.skipped)
    before = set(base_state.skipped) if base_state is not None else set()
    report.new_skips = sorted(set(state.skipped) - before)
    report.bytes_written = state.added
    report.created = state.created
    report.seconds = time.perf_counter() - start
    return report


_LARGE = 1 << 20


def _write_object(store: KeyValueStore, packed: Any, state: State, written: list[str]) -> None:
    key = object_key(packed.digest)
    if key not in store:  # content-addressed: an equal group is already stored
        info = store.set(
            key,
            packed.value(),
            meta={"kind": "checkpoint-object", "variables": list(packed.names)},
        )
        state.added += int(info.size)
        written.extend(packed.names)


def _linkable(live: Live, packs: list[Any], store: KeyValueStore) -> dict[str, str]:
    """Digest -> cell-cache key, for the packs whose content a ``%%persist`` entry holds.

    An offer matches a pack of exactly its variables whose values are still the objects
    the entry was stored from or restored into (no cell has named them since: ``note_cell``
    drops an offer then), so the pack's digest is the entry's content; it is remembered so
    the same content packed again later (after an undo, say) links too.
    """
    ns = live.namespace
    found: dict[str, str] = {}
    for packed in packs:
        names = tuple(sorted(packed.names))
        offer = live.offers.pop(names, None)
        if offer is not None and all(
            n in ns and id(ns[n]) == ident for n, ident in zip(offer.names, offer.idents)
        ):
            live.links[packed.digest] = (offer.key, names)
        link = live.links.get(packed.digest)
        if link is not None and link[1] == names and object_key(packed.digest) not in store:
            if usable(store, link[0]):
                found[packed.digest] = link[0]
            else:
                live.links.pop(packed.digest, None)
    return found


def _link_object(
    store: KeyValueStore,
    packed: Any,
    key: str,
    state: State,
    written: list[str],
    shared: list[str],
) -> None:
    # Inside the save's transaction: the value is checked again under the write lock.
    if object_key(packed.digest) in store:
        return
    if key not in store:
        _write_object(store, packed, state, written)
        return
    state.added += write_link(store, packed.digest, key, tuple(packed.names))
    shared.extend(packed.names)


def _absent(store: KeyValueStore, digests: set[str]) -> set[str]:
    """The digests whose objects are not in the store (one key listing when there are many)."""
    if len(digests) <= 2:
        return {d for d in digests if object_key(d) not in store}
    present = {key[len(OBJ) :] for key in store.keys(OBJ)}
    return digests - present


def _remember(live: Live, packs: list[Any], ns: Any, head: int, names: list[str]) -> None:
    for packed in packs:
        live.baseline.record(packed.digest, packed.names, ns, packed.size)
        live.baseline.groups[packed.digest].sharing = packed.sharing
    live.baseline.forget(n for n in list(live.baseline.known) if n not in ns)
    live.touched.difference_update(names)
    live.head = head


def _same(new: State, old: State) -> bool:
    return (
        new.variables == old.variables
        and new.modules == old.modules
        and set(new.skipped) == set(old.skipped)
        and new.recipes == old.recipes
    )

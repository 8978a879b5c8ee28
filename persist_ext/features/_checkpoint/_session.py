"""The checkpoint facade: one :class:`CheckpointSession` per namespace and store.

The session keeps what makes checkpoints incremental (the baseline of ids and digests, the
names executed cells touched) and offers every command: ``checkpoint``, ``restore``,
``checkout``, ``undo``, ``history``, and ``after_cell`` for automatic checkpoints. The
module-level functions (:func:`save_checkpoint`, ...) reuse one session per
``(namespace, store)`` pair in a process, so repeated saves from Python are incremental too.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from ..._errors import CheckpointError
from ...storage._protocol import KeyValueStore
from ._history import Budget, history_table, protected_keys, prune
from ._layout import AUTO, STATE, check_name, list_refs, read_ref, read_state, resolve
from ._links import offers_from_entry
from ._load import load_state
from ._rebuild import CellLog
from ._report import CheckpointReport, HistoryTable
from ._save import Live, save_state
from ._tracking import Mentions, mentions, names_in_cell, touched_names

__all__ = [
    "CheckpointSession",
    "list_checkpoints",
    "restore_checkpoint",
    "save_checkpoint",
    "session_for",
]


class CheckpointSession:
    """Checkpoints of one namespace in one store, with history, undo and checkout.

    Parameters
    ----------
    namespace
        The variables (an IPython ``user_ns``, or any dict).
    store
        Any :class:`~persist_ext.storage._protocol.KeyValueStore`.
    budget
        How much history to keep (see :class:`Budget`); pruning is always reported.

    Examples
    --------
    >>> from persist_ext.storage._memory import MemoryStore
    >>> ns = {"rows": [1, 2, 3]}
    >>> session = CheckpointSession(ns, MemoryStore())
    >>> first = session.checkpoint()
    >>> ns["rows"].append(4)
    >>> session.note_cell("rows.append(4)")
    >>> second = session.checkpoint()
    >>> second.written, second.state == first.state + 1
    (['rows'], True)
    >>> print(session.undo().removed, ns["rows"])
    [] [1, 2, 3]
    """

    def __init__(
        self,
        namespace: MutableMapping[str, Any],
        store: KeyValueStore,
        budget: Budget | None = None,
    ) -> None:
        self.namespace = namespace
        self.store = store
        self.budget = budget or Budget()
        self.live = Live(namespace)
        self._noted: Any = None
        self._adopted = False
        # Cells noted and not yet analysed: (number, code, what it mentioned then).
        self._pending: list[tuple[int, str, Mentions]] = []
        self._count = 0  # cells noted so far
        self._offered: dict[tuple[str, ...], int] = {}  # offer -> cells noted before it

    def on_post_run_cell(self, result: Any) -> None:
        """IPython ``post_run_cell`` hook: note what the cell may have changed (never raises)."""
        info = getattr(result, "info", None)
        code = getattr(info, "transformed_cell", None) or getattr(info, "raw_cell", "") or ""
        try:
            self.note_cell(code, result)
        except Exception:  # noting is an optimisation; a failure only means more rehashing
            self.live.tracks_cells = False

    # ------------------------------------------------------------------ cells
    def note_cell(self, code: str, token: Any = None) -> None:
        """Record an executed cell: the names it may have changed, and what it bound.

        Once called, the session trusts cells to name what they change (values no cell
        named are not rehashed); call :meth:`checkpoint` with ``full=True`` to rehash all.
        ``token`` identifies the execution (IPython's result object): a cell reported twice
        (by the session's own shell hook and by the magics) is noted once.

        Noting costs a scan of the cell's identifiers; what it may have changed is worked
        out from that when a checkpoint, a restore or a link to a ``%%persist`` entry
        needs it (a session that never saves never parses a cell).
        """
        if token is not None:
            if token is self._noted:
                return
            self._noted = token
        self.live.tracks_cells = True
        if code.strip():
            self.live.cells = [*self.live.cells[-9:], code]
        if not self._adopted:
            self.live.log.note(code, self.namespace)
        if self._needs_cells():
            # What it mentioned is taken now (the shell's log just did: shared), the rest
            # when needed.
            seen = self.live.log.last_mentions(code) or mentions(code, self.namespace)
            self._pending.append((self._count, code, seen))
        self._count += 1
        if len(self._pending) > _MAX_PENDING:
            if self._tracked():
                self._settle()
            else:  # only offers wait for these cells: give them up (a link only saves bytes)
                self._pending.clear()
                self._offered.clear()
                self.live.offers.clear()

    def note_running(self, code: str) -> None:
        """A magic in the cell running now saves: count what that cell may have changed.

        (``x[:] = 7`` then ``%persist checkpoint`` in one cell: the cell is noted only after
        it ends.) The cell is still noted as usual when it ends.
        """
        self.live.touched |= names_in_cell(code, self.namespace)

    def offer(self, variables: Mapping[str, str]) -> None:
        """A ``%%persist`` run just stored or restored these variables (name -> entry key).

        Called by the magic at the end of the cell, before the cell is noted. The next
        checkpoint that packs exactly an entry's variables, still the same objects and not
        named by any cell since, links to the entry instead of writing the bytes again
        (``_links``).
        """
        offers = offers_from_entry(variables, self.namespace)
        self.live.offers.update(offers)
        for names in offers:
            self._offered[names] = self._count  # the cell running now may name them

    def _tracked(self) -> bool:
        """Whether there is a baseline: a value no cell named since it is not rehashed."""
        return bool(self.live.baseline.known or self.live.baseline.failed)

    def _needs_cells(self) -> bool:
        """Whether what cells change matters: for the baseline, or for an offer (dropped
        when a cell names its variables)."""
        return self._tracked() or bool(self.live.offers)

    def _settle(self) -> None:
        """Work out what the cells noted since the last look may have changed."""
        pending, self._pending = self._pending, []
        tracked = self._tracked()
        for names in [n for n in self._offered if n not in self.live.offers]:
            del self._offered[names]  # used (or replaced) by a save
        for count, code, seen in pending:
            if not tracked and not any(count > at for at in self._offered.values()):
                continue  # nothing to learn from this cell
            touched = touched_names(code, seen, lambda: set(self.namespace))
            if tracked:
                self.live.touched |= touched
            # An offered %%persist entry holds the values only while no later cell names them.
            for names, at in list(self._offered.items()):
                if count > at and touched.intersection(names):
                    self.live.offers.pop(names, None)
                    del self._offered[names]

    def adopt(self, log: CellLog) -> None:
        """Use the shell's :class:`CellLog` (it saw every cell, with its effects, from the
        first one on) instead of the session's own: the shell notes each cell there."""
        self.live.log = log
        self._adopted = True

    def after_cell(
        self, code: str, token: Any = None, label: str | None = None
    ) -> CheckpointReport | None:
        """The automatic checkpoint after a cell: a new ``auto`` state if anything changed.

        ``code`` is what ran (IPython's transformed cell); ``label`` the cell as the user
        wrote it, shown by ``history`` (default: ``code``).
        """
        self.note_cell(code, token)
        report = self.checkpoint(AUTO, cell=code if label is None else label)
        return None if report.action == "unchanged" else report

    # ------------------------------------------------------------------ commands
    def checkpoint(
        self,
        name: str = "default",
        *,
        include: Iterable[str] | None = None,
        exclude: Iterable[str] = (),
        cell: str | None = None,
        full: bool = False,
    ) -> CheckpointReport:
        """Save the namespace (or part of it) as checkpoint ``name`` (:func:`save_checkpoint`)."""
        check_name(name)
        if isinstance(include, str) or isinstance(exclude, str):
            raise CheckpointError("include= and exclude= take lists of names, not one string.")
        text = cell if cell is not None else (self.live.cells[-1] if self.live.cells else "")
        self._settle()
        report = save_state(
            self.live, self.store, name, include=include, exclude=exclude, cell=text, full=full
        )
        self.live.cells.clear()
        if report.action != "unchanged":
            protect = {self.live.head} if self.live.head is not None else set()
            report.pruned, report.prune_reason = prune(self.store, self.budget, protect)
        return report

    def restore(self, target: str | int | None = None) -> CheckpointReport:
        """Merge a checkpoint into the namespace (variables it lacks are left alone).

        ``target`` is a name or a state id; ``None`` means the newest of ``default`` and
        ``auto`` (where the notebook was). Raises :class:`~persist_ext.UnknownCheckpointError`
        listing what exists.
        """
        target = self._default_target() if target is None else target
        state = resolve(self.store, target)
        self._settle()
        report = load_state(self.live, self.store, state, action="restore", exact=False)
        return _named_as_asked(report, target)

    def checkout(self, target: str | int) -> CheckpointReport:
        """Make the namespace exactly a checkpoint, loading only the variables that differ.

        Unsaved changes are first saved as an ``auto`` state, so checking out never loses
        work: ``%persist history`` shows the state to come back to.
        """
        state = resolve(self.store, target)
        before = self._save_pending()
        self._settle()
        report = load_state(self.live, self.store, state, action="checkout", exact=True)
        if before is not None:
            report.notes.append(f"unsaved changes were saved first as #{before}")
        return _named_as_asked(report, target)

    def undo(self) -> CheckpointReport:
        """Go back to the state before the last change (the parent of the current state)."""
        self._save_pending()
        current = self.live.head
        state = read_state(self.store, current) if current is not None else None
        if state is None or state.parent is None:
            raise CheckpointError(
                "Nothing to undo: no earlier checkpoint of this namespace "
                "(%persist autocheckpoint on records one after every cell)."
            )
        parent = read_state(self.store, state.parent)
        if parent is None:
            raise CheckpointError(
                f"Cannot undo past #{state.id}: its parent #{state.parent} was pruned by the "
                "history budget (see %persist history)."
            )
        self._settle()
        report = load_state(self.live, self.store, parent, action="undo", exact=True)
        report.notes.append(f"back from #{state.id}; %persist checkout {state.id} to redo")
        return report

    def history(self) -> HistoryTable:
        """Every state, oldest first; ``*`` marks the one the namespace is at."""
        return history_table(self.store, self.live.head, self.budget)

    def protected_keys(self) -> set[str]:
        """Store keys the history keeps (see :func:`protected_keys`)."""
        return protected_keys(self.store)

    # ------------------------------------------------------------------ helpers
    def _save_pending(self) -> int | None:
        if self.live.head is None and not list(self.store.keys(STATE)):
            return None
        self._settle()
        report = save_state(self.live, self.store, AUTO, cell="(saved before checkout)")
        return report.state if report.action == "save" else None

    def _default_target(self) -> str:
        refs = {n: read_ref(self.store, n) for n in ("default", AUTO)}
        present = {n: sid for n, sid in refs.items() if sid is not None}
        if not present:
            return "default"  # resolve() then lists what exists
        return max(present, key=lambda n: present[n])


def _named_as_asked(report: CheckpointReport, target: str | int) -> CheckpointReport:
    """Report under the name the user gave: one state can carry several names (a named
    checkpoint of the state ``auto`` already points at), and ``%persist restore
    before-tuning`` must not answer "checkpoint 'auto'". An id keeps the state's own name."""
    if isinstance(target, str) and not target.isdigit():
        report.name = target
    return report


# One session per (namespace, store) in this process, so Python calls are incremental too.
# A session holds its namespace and store (ids must stay meaningful), so the registry keeps
# the most recently used few; an evicted pair simply starts a new baseline (a full rehash).
_MAX_SESSIONS = 16
_MAX_PENDING = 1000  # cells noted before their analysis is done anyway (bounded memory)
_SESSIONS: OrderedDict[tuple[int, int], CheckpointSession] = OrderedDict()


def session_for(
    namespace: MutableMapping[str, Any], store: KeyValueStore, budget: Budget | None = None
) -> CheckpointSession:
    """The session of ``namespace`` in ``store`` (created on first use)."""
    _check_args(namespace, store)
    key = (id(namespace), id(store))
    session = _SESSIONS.get(key)
    if session is not None and session.namespace is namespace and session.store is store:
        _SESSIONS.move_to_end(key)
        if budget is not None:
            session.budget = budget
        return session
    session = CheckpointSession(namespace, store, budget)
    _SESSIONS[key] = session
    _attach_to_shell(session, True)
    while len(_SESSIONS) > _MAX_SESSIONS:
        _, old = _SESSIONS.popitem(last=False)
        _attach_to_shell(old, False)
    return session


def _check_args(namespace: Any, store: Any) -> None:
    """Bad arguments fail here, naming the fix, before anything is read or written."""
    if not isinstance(namespace, MutableMapping):
        raise CheckpointError(
            f"the namespace to checkpoint is a dict such as globals() or the shell's user_ns, "
            f"not {type(namespace).__name__} {namespace!r}"
        )
    _check_store(store)


def _check_store(store: Any) -> None:
    if not isinstance(store, KeyValueStore):
        raise CheckpointError(
            f"checkpoints live in a store such as persist_ext.Store('.persist'), not "
            f"{type(store).__name__} {store!r}"
        )


def _attach_to_shell(session: CheckpointSession, attach: bool) -> None:
    """Inside IPython, hear about every cell run in this namespace (saves stay incremental)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or shell.user_ns is not session.namespace:
        return
    if attach:
        shell.events.register("post_run_cell", session.on_post_run_cell)
        return
    try:
        shell.events.unregister("post_run_cell", session.on_post_run_cell)
    except ValueError:
        pass


def save_checkpoint(
    namespace: MutableMapping[str, Any],
    store: KeyValueStore,
    name: str = "default",
    *,
    include: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    full: bool = False,
) -> CheckpointReport:
    """Save the variables of ``namespace`` (a kernel's ``user_ns``) as checkpoint ``name``.

    Only what changed since the last save of this namespace is written; unchanged values
    are referenced by content. Variables that share objects are stored together and come
    back shared. ``include`` / ``exclude`` make a *partial* checkpoint that merges into
    ``name``: variables it does not cover keep their saved values (nothing is lost).
    Unstorable variables (open files, locks, generators) are listed in the report with the
    reason, never fatal.

    Raises
    ------
    CheckpointError
        A bad name, or an ``include`` name that is not defined (the message lists what is).

    Examples
    --------
    >>> from persist_ext.storage._memory import MemoryStore
    >>> store = MemoryStore()
    >>> ns = {"x": 41, "np": __import__("math")}
    >>> print(save_checkpoint(ns, store))  # doctest: +ELLIPSIS
    checkpoint 'default' #1: saved 1 variable(s), 1 module(s), 1 written (...), 0 unchanged in ...s
    >>> fresh = {}
    >>> _ = restore_checkpoint(fresh, store)
    >>> fresh["x"], fresh["np"].__name__
    (41, 'math')
    >>> save_checkpoint(ns, store, include=["y"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    persist_ext._errors.CheckpointError: Cannot checkpoint 'y': not defined. Defined ...: np, x.
    """
    return session_for(namespace, store).checkpoint(
        name, include=include, exclude=exclude, full=full
    )


def restore_checkpoint(
    namespace: MutableMapping[str, Any], store: KeyValueStore, name: str | int | None = None
) -> CheckpointReport:
    """Put checkpoint ``name`` (a name or a state id) back into ``namespace``.

    Only variables whose values differ from the namespace's are read. Live values that
    differ are replaced and listed in ``report.overwritten``; variables the checkpoint does
    not have are left alone. ``None``: the newest of ``default`` and ``auto``.

    Raises
    ------
    UnknownCheckpointError
        No such checkpoint (also a ``KeyError``); the message lists the names and ids.
    """
    return session_for(namespace, store).restore(name)


def list_checkpoints(store: KeyValueStore) -> list[str]:
    """Names of the checkpoints in ``store``, sorted."""
    _check_store(store)
    return sorted(list_refs(store))

"""The cell cache: look a cell up by its key, restore it on a hit, run and store it on a miss.

:class:`CellCache` is what ``%%persist`` calls; it works on any
:class:`~persist_ext.storage._protocol.KeyValueStore` and an IPython shell.

The user's cell never fails because of the cache: an input that cannot be fingerprinted, a
variable that cannot be stored and an entry that cannot be read each produce a
:class:`~persist_ext.CellCacheWarning` / :class:`~persist_ext.UnstorableVariableWarning`
and the cell simply runs.
"""

from __future__ import annotations

import io
import math
import os
import re
import sys
import threading
import time
import types
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xxhash

from ..._cwd import getcwd
from ..._errors import (
    ByNameError,
    CellCacheError,
    CellCacheWarning,
    CellRaisedError,
    LiveLayoutError,
    SerializationError,
    SharedInputError,
    StalledError,
    UnstorableVariableWarning,
)
from ..._exit import at_exit
from ..._format import format_ago, format_duration, format_size
from ...storage._leases import hold as hold_lease
from ...storage._protocol import KeyValueStore
from ...storage._usercode import is_user_code, type_module
from .._bounded import store_limits
from .._covars import (
    HeldCodeError,
    LossyStateError,
    bound_data,
    closed_handle,
    discarding_output,
    group_variables,
    held_by_function,
    held_weakly,
    load_groups,
    memory_shared_with,
)
from .._slotnames import untraced
from .._usage import flush_uses, note_use
from ._analysis import CellCode, analyze_cell
from ._capture import (
    RunOutcome,
    awaits_in_running_loop,
    ends_in_open_line,
    replay_outputs,
    run_plain,
    run_recorded,
    running_cell_number,
    transformed,
    unmagic_history,
)
from ._cheap import runs_as_written
from ._costs import (
    READ_RATE,
    RUNS_WRITE_EVERY,
    CollectorClock,
    CostModel,
    KnownRun,
    RunsIndex,
    buffer_nbytes,
    much_slower,
    over_budget,
    rough_size,
    run_instead,
    slower_to_restore,
    store_budget,
    timed_imports,
)
from ._effects import watch_files
from ._entry import (
    FILES_KEY,
    RESULT,
    Manifest,
    StoredCell,
    cell_prefix,
    delete_entry,
    iter_manifests,
    new_run_id,
    write_entry,
    write_manifest,
)
from ._explain import Difference, Explanation, diff_components
from ._fidelity import (
    cache_states,
    covariable_checks,
    reapply,
    reapply_for_imports,
    record_effects,
    reimport,
    stale_checks,
)
from ._inspect import (
    clear_entries,
    entry_details,
    latest_manifest,
    store_summary,
    stored_entries,
)
from ._key import (
    HELD_ABSENT,
    CellKey,
    FileDigests,
    _is_code,
    build_key,
    file_components,
    fingerprint_after,
    imported_user_files,
)
from ._namespace import (
    GONE,
    freed_with_finalizer,
    held_strongly,
    rebound,
    removed,
    snapshot,
    value_before,
)
from ._state import (
    CHECKED_FACETS,
    capture_all,
    figure_printers_differ,
    future_flags,
    generators_moved,
    seeded_generators,
    state_digests,
    watch_env_reads,
    watch_env_writes,
    watch_filter_calls,
)
from ._units import USED
from ._views import EntryDetails, EntryTable, StoreSummary
from ._warned import watch_warnings

__all__ = ["CellCache", "CellOptions", "CellResult"]

# Names IPython maintains itself (_, __, _i, _5, _i5, _ih, _oh, _dh), and the registry of
# warnings shown from the cell's code, which a hit marks by issuing them again (_capture).
_INTERNAL = re.compile(r"^(_+|_i+|_\d+|_i\d+|_ih|_oh|_dh|__warningregistry__)$")
_UNDERSCORES = frozenset({"_", "__", "___"})
# A cell that runs faster than this is always run rather than restored: reading any entry
# back (manifest, values, outputs) costs more, so restoring could only be slower. Above it,
# with ``min_time=None`` (the default), the session's measured costs decide (``_costs``).
CHEAP_SECONDS = 0.0005
AWAITS = (
    "it has top-level await, which the cache cannot run inside the kernel's event loop: "
    "it runs as a plain cell, nothing is stored"
)
DEFAULT_MAX_STORE_BYTES = 4 << 30  # CellOptions.max_store_bytes
DEFAULT_STORE_SECONDS = 120.0  # CellOptions.store_seconds
_LIMIT_HINT = (
    "; raise PersistMagics.max_store_size / PersistMagics.store_timeout to cache it, or "
    "leave it out with --vars"
)
_SEEDS = re.compile(r"\bseed\s*\(")
#: Why a cell of only ``import``/``def``/``class`` statements runs (``%persist list``/why).
ONLY_DEFINITIONS = "it only imports and defines, which a restore would run again anyway"
#: Why a cell seen cheap before it runs runs as written (``_cheap.runs_as_written``).
AS_WRITTEN = {
    "definitions": ONLY_DEFINITIONS + " (seen from its code: nothing was looked up or stored)",
    "values": (
        "it only imports, defines and binds values written in it, which costs less than "
        "looking it up (seen from its code: nothing was looked up or stored)"
    ),
    "small": (
        "it computes only on small values (numbers, short strings, small lists and arrays) "
        "with builtins, their own methods and numerical libraries' functions, which costs "
        "less than looking it up (seen from its code and the sizes of what it reads: "
        "nothing was looked up or stored)"
    ),
}
NEVER_RESTORED = (
    "it draws from a global random generator that no cell seeded, whose state differs in "
    "every kernel and after every draw, so it could never be restored"
)
# Checks of a run that a re-run would not repeat the same way (unseeded draws, file writes).
_REPEATS_DIFFER = ("wrote:", "state:random", "state:numpy.random")


class _OverBudget(Exception):
    """Storing a run passed the policy's budget (``_costs.store_budget``)."""


def _within(seconds: float | None, deadline: float | None) -> float | None:
    """The pickling limit: the user's ``seconds``, or less if ``deadline`` comes first."""
    if deadline is None:
        return seconds
    left = max(deadline - time.perf_counter(), 0.001)
    return left if seconds is None else min(seconds, left)


@dataclass(frozen=True)
class CellOptions:
    """How one ``%%persist`` run behaves (the magic's arguments after config defaults).

    Examples
    --------
    >>> options = CellOptions(name="load", expire=3600.0)
    >>> options.name, options.expire, options.keep
    ('load', 3600.0, 3)
    """

    name: str | None = None
    refresh: bool = False
    expire: float | None = None
    variables: tuple[str, ...] | None = None
    deps: tuple[str, ...] = ()
    env: bool = False
    ignore: tuple[str, ...] = ()
    mmap: bool = False
    keep: int = 3
    cell_id: str | None = None
    #: A cell that ran faster than this many seconds is run, not restored. ``None``: cells
    #: under 0.5 ms, and those cheaper to run than to restore or well under the cost of
    #: storing them (``_costs.run_instead``); ``0.0`` stores every cell.
    min_time: float | None = None
    show_errors: bool = True  # False: the caller shows the cell's error (re-raises it)
    #: Storing gives up (the cell ran; it is not cached) past this many bytes or seconds
    #: of pickling one run's values (``None``: no limit): a huge or runaway object must
    #: not exhaust memory or hang the kernel.
    max_store_bytes: int | None = DEFAULT_MAX_STORE_BYTES
    store_seconds: float | None = DEFAULT_STORE_SECONDS


@dataclass
class CellResult:
    """What a ``%%persist`` run did. ``hit`` runs restored; misses ran the cell."""

    name: str
    hit: bool
    manifest: Manifest | None = None
    stored: bool = False
    reason: list[Difference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The restored output ends in a printed line with no newline (a notice starts anew).
    open_line: bool = False

    def notice(self) -> str:
        """The one-line message shown after a hit (or a short summary after a miss)."""
        m = self.manifest
        if self.hit and m is not None:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(m.created))
            extra = "".join(f"; {note}" for note in self.notes)
            return (
                f"persist: restored {self.name} from {when} ({format_ago(m.created)}; "
                f"original run took {format_duration(m.duration)}{extra})"
            )
        if self.stored and m is not None:
            return (
                f"persist: stored {self.name} ({', '.join(sorted(m.variables)) or 'no variables'})"
            )
        return f"persist: ran {self.name} (not stored)"


@dataclass
class _LastRun:
    key: CellKey
    hit: bool
    headline: str
    reason: list[Difference]
    old: dict[str, str] = field(default_factory=dict)

    def decided(self, what: str) -> None:
        """Add what was decided after the run to why it ran (``%persist why``'s first line)."""
        self.headline += f"; {what}"


def _warn(category: type[Warning], message: str) -> None:
    # warn_explicit with a fresh registry: the same problem on a re-run is reported again
    # (plain warnings.warn would show it once per session), and user filters still apply.
    warnings.warn_explicit(message, category, "%%persist", 1, module="persist_ext.cellcache")


class _Progress:
    """How far :meth:`CellCache._execute` got: whether the cell's body ran and succeeded."""

    __slots__ = ("body_succeeded",)

    def __init__(self) -> None:
        self.body_succeeded = False


def _named(var: str) -> str:
    """A stored variable as a reason names it (the value of the last expression: its result)."""
    return "its result" if var == RESULT else repr(var)


class CellCache:
    """Cache notebook cells in a store.

    Parameters
    ----------
    store
        Where entries live (a :class:`~persist_ext.storage._store.Store` in a directory,
        a ``MemoryStore`` in tests, a ``RedisStore`` shared by several machines).
    opener
        Instead of ``store``: a function that opens it, called the first time the store is
        needed (a cell the ``runs`` index knows never needs it).
    absent
        With ``opener``: whether the store does not exist yet (and could be created). While
        it does not, nothing is stored there, so lookups miss without opening it: a first
        run whose cells all run (cheaper than restoring them) never opens it, and pays for
        it only at exit, when the records of those cells are written. ``None``: the store
        is opened for the first lookup.
    runs
        The store's :class:`~._costs.RunsIndex` of cells known to run (``None``: none).
    deferred_runs
        Write the records of cells decided to run (``mode="run"`` manifests) in batches,
        one store transaction for all those of about a second (:meth:`flush_runs`, before
        any listing or lookup that needs them, and at exit), rather than one signed write
        per cheap cell. Until then they are known in this session only.

    Examples
    --------
    >>> from IPython.core.interactiveshell import InteractiveShell
    >>> from persist_ext.storage._memory import MemoryStore  # doctest: +SKIP
    >>> cache = CellCache(MemoryStore())  # doctest: +SKIP
    >>> shell = InteractiveShell.instance()  # doctest: +SKIP
    >>> cache.run(shell, "x = 6 * 7", CellOptions(name="answer")).hit  # doctest: +SKIP
    False
    >>> cache.run(shell, "x = 6 * 7", CellOptions(name="answer")).hit  # doctest: +SKIP
    True
    """

    def __init__(
        self,
        store: KeyValueStore | None = None,
        *,
        opener: Callable[[], KeyValueStore] | None = None,
        absent: Callable[[], bool] | None = None,
        runs: RunsIndex | None = None,
        deferred_runs: bool = False,
    ) -> None:
        if (store is None) == (opener is None):
            raise TypeError("CellCache takes a store or an opener, not both or neither")
        self._open = store
        self._opener = opener
        self._absent = absent
        #: Cells known to run (skip analysis, key, lookup and the store); ``None``: no index.
        self.runs = runs
        self._token: str | None = None  # the index key of the cell being run
        self._deferred = deferred_runs
        # Entry prefix -> a "runs" manifest not yet written, with (expire, replace, keep).
        self._pending: dict[str, tuple[Manifest, float | None, bool, int]] = {}
        # The names of the cells in ``_pending`` (asked about by every cell that is looked up:
        # a scan of the records grew with the notebook, ~1 ms a cell after 300 cells).
        self._pending_names: set[str] = set()
        self._pending_since = 0.0
        self._at_exit = False
        self._last: dict[str, _LastRun] = {}
        self._last_name: str | None = None
        self._files: FileDigests | None = None
        self._manifests: dict[str, Manifest] = {}
        # Entry prefix -> the store's change token when its manifest was last seen stored.
        self._seen: dict[str, Any] = {}
        self._outputs_memo: dict[str, list[dict[str, Any]]] = {}
        #: What restores and stores cost in this session (decides run vs restore).
        self.costs = CostModel(open_cost=0.0 if store is not None else None)
        self._restored_once = False
        # Cells found with no stored run just before this run: their first write has no
        # older entry to prune (a listing of the store's keys saved per new cell).
        self._unstored: set[str] = set()
        self._seeded = _SeedScan()
        # Cells run as written in this session (name -> when, run time, why): `%persist list` rows.
        self._as_written: dict[str, tuple[float, float, str]] = {}

    @property
    def store(self) -> KeyValueStore:
        """The store, opened on first use (see ``opener``)."""
        if self._open is None:
            assert self._opener is not None
            started = time.perf_counter()
            self._open = self._opener()
            self.costs.observe_open(time.perf_counter() - started)
        return self._open

    @property
    def opened(self) -> bool:
        """Whether the store was opened (a cell or command needed it)."""
        return self._open is not None

    @property
    def pending(self) -> bool:
        """Whether records of cells decided to run wait to be written (:meth:`flush_runs`)."""
        return bool(self._pending)

    def _may_hold(self) -> bool:
        """Whether the store may hold entries: it is open, or it is not known absent."""
        return self._open is not None or self._absent is None or not self._absent()

    # ------------------------------------------------------------------ naming and key
    @staticmethod
    def default_name(digest: str, cell_id: str | None) -> str:
        """Name of an unnamed cell: its notebook cell id, else its code's ``digest``."""
        if cell_id:
            return f"cell-{cell_id}"
        return f"cell-{digest[:12]}"

    def _file_digests(self) -> FileDigests:
        if self._files is None:
            try:
                cached = self.store.get(FILES_KEY, None) if self._may_hold() else None
            except Exception:  # an unreadable digest cache only costs a re-hash
                cached = None
            self._files = FileDigests(cached if isinstance(cached, dict) else None)
        return self._files

    def key_for(self, shell: Any, code: CellCode, options: CellOptions) -> CellKey:
        """The key of ``code`` in ``shell``'s namespace now."""
        files = None
        if options.deps:
            digests = self._file_digests()
            files = file_components(options.deps, digests)
            if digests.changed:
                try:
                    self.store.set(FILES_KEY, digests.cache)
                    digests.changed = False
                except Exception:
                    pass
        return build_key(
            code,
            shell.user_ns,
            hidden=getattr(shell, "user_ns_hidden", None),
            ignore=options.ignore,
            files=files,
            env=options.env,
            digests=self._file_digests(),
        )

    # ------------------------------------------------------------------ run
    def run(
        self,
        shell: Any,
        cell: str,
        options: CellOptions | None = None,
        *,
        looked_up: str | None = None,
    ) -> CellResult:
        """Restore ``cell`` from the store if its key matches, else run it and store it.

        ``looked_up``: the cell's runs-index key, which :meth:`known_run` just found
        nothing under (the index is not asked again).

        Raises
        ------
        CellRaisedError
            The cell raised (its traceback was already shown, unless
            ``options.show_errors`` is false); nothing was stored. ``original`` is the
            cell's own exception.
        """
        options = options or CellOptions()
        token = looked_up
        if token is None and self.runs is not None and not options.refresh:
            token = self.runs.token(cell, _decided_by(options))  # made once per run
            known = self.runs.get(token)
            if known is not None:
                return self._run_known(shell, cell, token, known, options)
        outer, self._token = self._token, token
        try:
            with untraced():  # what the cache pickles or fingerprints (not the cell's code)
                return self._run(shell, cell, options)
        finally:
            self._token = outer

    def known_run(self, cell: str, options: CellOptions) -> tuple[str | None, KnownRun | None]:
        """The runs index's key of ``cell`` with ``options`` and its record there: a cell
        decided earlier to run, which runs with nothing looked up. Record ``None``: not
        known; key ``None`` too: the index is not asked (none, or ``--refresh``)."""
        if self.runs is None or options.refresh:
            return None, None
        token = self.runs.token(cell, _decided_by(options))
        return token, self.runs.get(token)

    def awaiting_run(self, shell: Any, cell: str, options: CellOptions) -> KnownRun | None:
        """A cell with top-level ``await`` in a kernel (whose event loop runs the cell): it
        runs as the plain cell it is, nothing looked up or stored (the magic could not run
        it, see :func:`awaits_in_running_loop`). ``None``: the magic runs it as usual."""
        if not awaits_in_running_loop(shell, cell):
            return None
        try:
            code = analyze_cell(transformed(shell, cell))
        except SyntaxError:
            return None  # the magic shows the error
        name = options.name or self.default_name(code.digest, options.cell_id)
        return KnownRun(name, 0.0, AWAITS)

    def cheap_as_written(
        self, cell: str, options: CellOptions, namespace: dict[str, Any] | None = None
    ) -> KnownRun | None:
        """A cell whose code shows it costs less to run than to look up (it only imports,
        defines, binds values, or computes on small values of ``namespace`` with builtins;
        see ``_cheap.runs_as_written``): it runs as the plain cell it is, nothing analysed
        further, keyed, looked up or stored. Only with the automatic policy and no option
        naming what to keep (``--vars``, ``--deps``, ``--env``, ``--ignore``, ``--mmap``,
        ``--expire``, ``min_time``).
        ``None``: the magic runs it as usual."""
        if options.refresh or _decided_by(options)[2:] != _AUTOMATIC:
            return None
        cheap = runs_as_written(cell, namespace)
        if cheap is None:
            return None
        kind, digest = cheap
        name = options.name or self.default_name(digest, options.cell_id)
        return KnownRun(name, 0.0, AS_WRITTEN[kind])

    def ran_plain(self, known: KnownRun, duration: float | None = None) -> None:
        """A cell that ran as the plain cell it is, without the magic and without the runs
        index (one :meth:`awaiting_run` or :meth:`cheap_as_written` gave): ``why`` says so,
        and ``%persist list`` for one cheaper to run."""
        self._last_name = known.name
        self._remember(known.name, CellKey("", {}), False, known.reason, [])
        if known.reason in AS_WRITTEN.values():
            self._as_written[known.name] = (time.time(), duration or 0.0, known.reason)

    def ran_known(self, token: str, known: KnownRun, duration: float | None) -> None:
        """A cell the runs index knows ran as a plain cell, without the magic: ``why`` says
        so, and a run much longer than the index's record drops it from the index (its
        inputs may have grown), so the next run looks it up and decides again."""
        self._last_name = known.name
        headline = f"{known.reason} (known from an earlier run: nothing was looked up)"
        self._remember(known.name, CellKey("", {}), False, headline, [])
        if self.runs is not None and duration is not None and much_slower(known.duration, duration):
            self.runs.forget(token)

    def _run_known(
        self, shell: Any, cell: str, token: str, known: KnownRun, options: CellOptions
    ) -> CellResult:
        """Run a cell the index says runs: what a plain cell does, nothing looked up."""
        # A new run: no earlier transform is reused.
        unmagic_history(shell, transformed(shell, cell, new_run=True))
        outcome = run_plain(shell, cell, show_errors=options.show_errors)
        self.ran_known(token, known, None if outcome.error else outcome.duration)
        self._raise_if_failed(known.name, outcome)
        return CellResult(name=known.name, hit=False, notes=[f"ran: {known.reason}"])

    def _note_runs(self, manifest: Manifest) -> None:
        """The cell being run is stored as one that runs: the index skips it next time."""
        if self.runs is not None and self._token is not None and manifest.mode == "run":
            self.runs.note(self._token, manifest.name, manifest.duration, manifest.run_reason)

    def _run(self, shell: Any, cell: str, options: CellOptions) -> CellResult:
        # Asked once per run (a few file-system calls): from here on the store is open, or it
        # was absent and only this run (or a write it triggers) would open it.
        if self._may_hold():
            self.store  # noqa: B018 - opened now: a store that cannot open fails before the cell
        source = transformed(shell, cell, new_run=True)
        unmagic_history(shell, source)
        try:
            code: CellCode | None = analyze_cell(source)
        except SyntaxError:
            code = None
        if code is None:
            # `%persist why` explains this cell, not the one before it.
            if options.name or options.cell_id:
                name = options.name or f"cell-{options.cell_id}"
            else:
                name = f"cell-{xxhash.xxh3_128_hexdigest(source.encode('utf-8', 'replace'))[:12]}"
            self._last_name = name
            headline = "its code has a syntax error, so nothing was stored"
            self._remember(name, CellKey("", {}), False, headline, [])
            # The shell reports the syntax error as usual (or the caller, re-raising it);
            # run outside the handler above, so the error is not chained to the analysis'.
            outcome = run_recorded(shell, cell, show_errors=options.show_errors)
            raise CellRaisedError(
                "%%persist: the cell has a syntax error; nothing was cached.",
                original=outcome.error,
            ) from None
        name = options.name or self.default_name(code.digest, options.cell_id)
        self._last_name = name
        uncertain = code.uncertain if options.deps else code.uncertain + code.unseen_reads
        if uncertain:
            # What the cell reads or does cannot be known from its code: it always runs.
            return self._run_uncertain(shell, cell, code, name, options, uncertain)
        key = self.key_for(shell, code, options)
        if key.uncertain:  # nor from the code of the notebook functions it calls
            return self._run_uncertain(shell, cell, code, name, options, key.uncertain)
        missing = options.deps and [
            c[5:] for c, d in key.components.items() if c.startswith("file:") and d == "missing"
        ]
        if missing:
            _warn(
                CellCacheWarning,
                f"%%persist {name}: --deps names no existing file ({', '.join(missing[:3])}); "
                "the cell is keyed on its absence and runs again once it exists. Check the "
                f"path (a relative one is taken from the working directory, {getcwd()}).",
            )
        if key.unhashable:
            for var, why in key.unhashable.items():
                _warn(
                    CellCacheWarning,
                    f"%%persist {name}: input {var!r} cannot be fingerprinted ({why}); the cell "
                    f"runs every time and is not stored. Pass --ignore {var} to leave it out "
                    "of the key.",
                )
            self._remember(
                name, key, False, "inputs cannot be fingerprinted: " + ", ".join(key.unhashable), []
            )
            self._execute(shell, cell, code, name, key, options, reason=[])
            return CellResult(name=name, hit=False, notes=["not stored: unfingerprintable input"])
        entry_prefix = f"{cell_prefix(name)}{key.digest}/"
        stale: list[Difference] = []
        replace = options.refresh
        if not options.refresh:
            manifest = self._lookup(entry_prefix, name)
            if manifest is not None and manifest.mode == "run":
                headline = manifest.run_reason
                self._note_runs(manifest)
                self._remember(name, key, False, headline, [])
                self._execute(shell, cell, code, name, key, options, reason=[])
                return CellResult(name=name, hit=False, notes=[f"ran: {headline}"])
            if manifest is not None:
                cheaper = self._run_not_restore(manifest, options, code)
                if cheaper:
                    self._remember(name, key, False, cheaper, [])
                    result = self._execute(shell, cell, code, name, key, options, reason=[])
                    self._demote(manifest, cheaper, options)
                    result.notes.append(f"ran: {cheaper}")
                    return result
                started = time.perf_counter()
                with CollectorClock() as clock:  # a full collection is not the restore's cost
                    stale = stale_checks(shell, manifest.checks, self._file_digests())
                    restored = None if stale else self._restore(shell, code, manifest, options)
                elapsed = time.perf_counter() - started
                elapsed -= min(clock.stop(), elapsed)
                replace = True  # whatever happens next replaces this entry
                if not stale:
                    if isinstance(restored, list):
                        self._remember(name, key, True, "", [])
                        self._timed_restore(manifest, elapsed, options)
                        return CellResult(
                            name=name,
                            hit=True,
                            manifest=manifest,
                            notes=restored,
                            open_line=ends_in_open_line(self._outputs(manifest)),
                        )
                    if restored:
                        stale = [Difference("entry", name, "changed", None, None, restored)]
        if name in self._pending_names:
            self.flush_runs()  # what `why` compares with must be in the store
        seen: list[str] = []
        previous = latest_manifest(self.store, name, seen) if self.opened else None
        if seen:
            self._unstored.discard(name)
        else:
            self._unstored.add(name)
        if options.refresh:
            headline, reason = "--refresh was given", []
        elif stale:
            headline, reason = "what it read or wrote changed since it was stored", stale
        elif previous is None:
            headline, reason = "nothing was stored for it yet", []
        else:
            reason = diff_components(previous.components, key.components, key.reaches)
            headline = "it differs from the stored entry" if reason else "its entry was unusable"
        self._remember(name, key, False, headline, reason, previous.components if previous else {})
        result = self._execute(
            shell, cell, code, name, key, options, reason=reason, store=True, replace=replace
        )
        if result.manifest is not None and result.manifest.mode == "run":
            # `why` says what was decided as well as why the cell ran this time.
            self._last[name].decided(
                f"from now on it is run, not restored: {result.manifest.run_reason}"
            )
            result.notes.append(f"runs: {result.manifest.run_reason}")
        return result

    def _remember(
        self,
        name: str,
        key: CellKey,
        hit: bool,
        headline: str,
        reason: list[Difference],
        old: dict[str, str] | None = None,
    ) -> None:
        self._last[name] = _LastRun(key, hit, headline, reason, dict(old or {}))

    def raised(self, name: str, error: type[BaseException]) -> None:
        """The last run of cell ``name`` raised ``error``: ``%persist why`` says so."""
        last = self._last.get(name)
        if last is not None:
            last.decided(f"it raised {error.__name__}, so nothing was stored")

    def _raise_if_failed(self, name: str, outcome: RunOutcome) -> None:
        """The cell raised: :class:`CellRaisedError` carrying its own exception."""
        if outcome.error is not None:
            self.raised(name, type(outcome.error))
            raise CellRaisedError(
                f"%%persist {name}: the cell raised {type(outcome.error).__name__}; "
                "nothing was cached.",
                original=outcome.error,
            )

    def _run_uncertain(
        self,
        shell: Any,
        cell: str,
        code: CellCode,
        name: str,
        options: CellOptions,
        uncertain: Iterable[str],
    ) -> CellResult:
        """Run a cell whose inputs or effects cannot be known, as a plain cell, saying why."""
        headline = "its inputs or effects cannot be known: " + "; ".join(uncertain)
        self._remember(name, CellKey("", {}), False, headline, [])
        self._execute(shell, cell, code, name, CellKey("", {}), options, reason=[])
        return CellResult(name=name, hit=False, notes=[f"ran: {headline}"])

    def _lookup(self, entry_prefix: str, name: str) -> Manifest | None:
        pending = self._pending.get(entry_prefix)
        if pending is not None:
            return pending[0]
        if not self.opened:
            return None  # absent when this run started (``_run``): nothing was stored there
        known = self._manifests.get(entry_prefix)
        if known is not None:
            # Entries are immutable once written, so the one read earlier is still right if
            # it is still there (not expired or cleared meanwhile, by this session or
            # another process such as the panel).
            if self._still_stored(entry_prefix):
                return known
            self._manifests.pop(entry_prefix, None)
            return None
        try:
            data = self.store.get(f"{entry_prefix}manifest", None)
            manifest = None if data is None else Manifest.from_dict(data)
            if manifest is not None:
                self._remember_manifest(manifest)
            return manifest
        except Exception as exc:
            self._report_corrupt(name, entry_prefix, exc)
            return None

    def _still_stored(self, entry_prefix: str) -> bool:
        """Whether the manifest remembered for ``entry_prefix`` is still in the store.

        While the store's change token (``Store.change_token``: one query, no row read; it
        moves with every write, removal and expiry, by any process) has not moved since the
        entry was last seen, nothing was removed: no further look. Otherwise a membership
        test decides, and the token is remembered.
        """
        changes = getattr(self.store, "change_token", None)
        try:
            token = changes() if changes is not None else None
            if token is not None and token == self._seen.get(entry_prefix):
                return True
            present = f"{entry_prefix}manifest" in self.store
        except Exception:
            present = False
        if not present:
            self._seen.pop(entry_prefix, None)
            return False
        self._seen[entry_prefix] = token  # read before the look: a later change moves it
        return True

    def _timed_restore(self, manifest: Manifest, seconds: float, options: CellOptions) -> None:
        """Learn from a hit's cost; an entry slower to restore than to run becomes "runs".

        Only with the automatic policy (``min_time=None``), and only when the restore took
        clearly longer than the original run (``_costs.slower_to_restore``). The entry's
        values are dropped; the cell runs from now on, which is always right, and
        ``%persist list`` shows why. Not for an entry whose re-run would give later cells
        other values (unseeded draws) or write files again.
        """
        first = not self._restored_once
        self._restored_once = True
        if not first:  # the session's first hit also pays for imports and warm-up
            self.costs.observe_restore(seconds, manifest.size)
        if first or options.min_time is not None or options.variables is not None:
            return
        if any(c.startswith(_REPEATS_DIFFER) for c in manifest.checks):
            return
        why = slower_to_restore(manifest.duration, seconds)
        if why:
            self._demote(manifest, why, options)

    def _run_not_restore(
        self, manifest: Manifest, options: CellOptions, code: CellCode
    ) -> str | None:
        """Why a stored entry is better run than restored now (the session's restores are
        timed, and its original run took less than one; or the cell only imports and
        defines, which its restore runs anyway), or ``None``.

        Not for an entry whose re-run would give later cells other values (it drew
        unseeded random numbers) or write files again.
        """
        if options.min_time is not None or options.variables is not None:
            return None
        if manifest.mode != "restore":
            return None
        if any(c.startswith(_REPEATS_DIFFER) for c in manifest.checks):
            return None
        if code.only_definitions:
            return ONLY_DEFINITIONS
        if not self.costs.learned_restores():
            return None
        estimate = self.costs.restore_estimate(manifest.size)
        if manifest.duration >= estimate:
            return None
        return (
            f"it runs in {format_duration(manifest.duration)}, faster than restoring it "
            f"(about {format_duration(estimate)} here)"
        )

    def _demote(self, manifest: Manifest, why: str, options: CellOptions) -> None:
        """Replace a stored entry by one that says the cell runs (its values are dropped)."""
        demoted = Manifest(
            name=manifest.name,
            key=manifest.key,
            run=new_run_id(),
            code=manifest.code,
            components=manifest.components,
            reaches=manifest.reaches,
            duration=manifest.duration,
            options=manifest.options,
            notebook=manifest.notebook,
            cell_id=manifest.cell_id,
            mode="run",
            run_reason=why,
        )
        self.flush_hits()
        self._write_run_mode(demoted, options, replace=True, now=True)

    def _remember_manifest(self, manifest: Manifest) -> None:
        if len(self._manifests) > 4096:
            self._manifests.clear()
            self._seen.clear()
        self._manifests[manifest.entry_prefix] = manifest

    def _report_corrupt(self, name: str, entry_prefix: str, exc: BaseException) -> None:
        self._manifests.pop(entry_prefix, None)
        _warn(
            CellCacheWarning,
            f"%%persist {name}: the stored entry cannot be read ({type(exc).__name__}: {exc}); "
            "it was removed and the cell runs again.",
        )
        try:
            delete_entry(self.store, entry_prefix)
        except Exception:
            pass

    def _restore(
        self, shell: Any, code: CellCode, manifest: Manifest, options: CellOptions
    ) -> list[str] | str:
        """Put the stored run back; its notes, or why it could not be (the cell then runs)."""
        ns = shell.user_ns
        undo = reapply_for_imports(shell, manifest.state, manifest.dirs)
        try:
            if code.definition_module is not None:
                # Imports, functions and classes are re-created by running their statements
                # (modules and functions are not data); values that need them load after.
                filename = shell.compile.cache(code.source, running_cell_number(shell))
                # With the shell's __future__ flags, as the run compiled them (annotations).
                compiled = compile(
                    code.definition_module,
                    filename,
                    "exec",
                    flags=future_flags(shell),
                    dont_inherit=True,
                )
                # The recorded output shows what they printed and warned: a warning issued
                # now (a module's first import) would mark its registry, and the replayed one
                # would then be taken for shown already.
                with discarding_output(), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    exec(compiled, ns)
            problem = reimport(manifest.modules) or figure_printers_differ(shell, manifest.state)
            if problem:
                reapply(shell, undo, [])
                return problem
            # What decoding prints is not the cell's output: a user class's __getattr__
            # asked for __setstate__ by pickle prints nothing in a plain run.
            with discarding_output():
                values = load_groups(
                    self.store,
                    manifest.variables,
                    mmap=options.mmap,
                    live=ns,
                    # --mmap maps arrays from their entries; small groups come inline.
                    small=None if options.mmap else manifest.inline,
                )
            outputs = self._outputs(manifest)
        except Exception as exc:
            reapply(shell, undo, [])
            if isinstance(exc, LiveLayoutError):
                return f"an input it views is laid out otherwise now ({exc})"
            if f"{manifest.entry_prefix}manifest" not in self.store:
                # Removed meanwhile (pruned, cleared, expired, or by another process).
                self._manifests.pop(manifest.entry_prefix, None)
                return "its entry was removed"
            self._report_corrupt(manifest.name, manifest.entry_prefix, exc)
            return "its entry could not be read"
        has_result = RESULT in values
        result = values.pop(RESULT, None)
        for var in manifest.deleted:
            ns.pop(var, None)
        # Inputs the run changed in place (and their aliases): the objects a re-run changes.
        changed = {
            id(ns[v]): (ns[v], values[v])
            for v in manifest.mutated
            if v in ns and v in values and ns[v] is not values[v]
        }
        ns.update(values)
        if changed:
            _swap_shown(shell, changed)
        reapply(shell, manifest.state, manifest.dirs)
        if has_result:
            replay_outputs(shell, outputs, result)
        else:
            replay_outputs(shell, outputs)
        self._count_hit(manifest)
        return list(manifest.notes)

    def _outputs(self, manifest: Manifest) -> list[dict[str, Any]]:
        """The recorded outputs of a run (read once per session: they are never mutated)."""
        if not manifest.outputs_key:
            return []
        if manifest.inline_outputs is not None:
            return manifest.inline_outputs
        found = self._outputs_memo.get(manifest.outputs_key)
        if found is None:
            found = self.store.get(manifest.outputs_key)
            if len(self._outputs_memo) > 256:
                self._outputs_memo.clear()
            self._outputs_memo[manifest.outputs_key] = found
        return found  # type: ignore[no-any-return]

    def _count_hit(self, manifest: Manifest) -> None:
        # One use-recording mechanism for cells and functions (features/_usage.py): noted in
        # memory, written in batches; the hit counter key is what listings show.
        prefix = manifest.entry_prefix
        note_use(self.store, f"{prefix}{USED}", f"{prefix}manifest", counter=f"{prefix}hits")

    def flush_hits(self) -> None:
        """Write the hits, last uses and deferred "runs" records noted in memory now
        (before listings and anything else that reads them)."""
        self.flush_runs()
        flush_uses(self.store)

    def flush_runs(self) -> None:
        """Write the deferred records of cells decided to run, in one transaction."""
        if not self._pending:
            return
        taken, self._pending = self._pending, {}
        self._pending_names = set()
        written = []
        try:
            with self.store.transact():
                for manifest, expire, replace, keep in taken.values():
                    if write_manifest(self.store, manifest, expire=expire, replace=replace):
                        written.append((manifest, keep))
                    else:  # another process stored this run first: look it up next time
                        self._manifests.pop(manifest.entry_prefix, None)
        except Exception:  # only a record of a cell that runs: it runs and decides again
            for manifest, *_ in taken.values():
                self._manifests.pop(manifest.entry_prefix, None)
            return
        for manifest, keep in written:
            self._prune(manifest, keep=keep)

    def flush_due(self) -> None:
        """Between cells: write deferred records and the runs index, at most once a second.

        Records wait while the store is not open: they need not open it (a first run whose
        cells all run creates it at exit, or for the first cell stored or command).
        """
        if (
            self._pending
            and self._open is not None
            and time.monotonic() - self._pending_since >= RUNS_WRITE_EVERY
        ):
            self.flush_runs()
        if self.runs is not None:
            self.runs.flush_due()

    def _execute(
        self,
        shell: Any,
        cell: str,
        code: CellCode,
        name: str,
        key: CellKey,
        options: CellOptions,
        *,
        reason: list[Difference],
        store: bool = False,
        replace: bool = False,
    ) -> CellResult:
        """Run the cell; with ``store``, record the run (:meth:`_run_and_record`).

        A cell that ran and succeeded never fails because recording it did (an object in a
        state one of the cache's steps cannot read): it is not cached, and a warning says so.
        """
        progress = _Progress()
        try:
            return self._run_and_record(
                shell, cell, code, name, key, options, progress, reason, store, replace
            )
        except Exception as exc:
            if not progress.body_succeeded:
                raise
            _warn(
                CellCacheWarning,
                f"%%persist {name}: could not record this run ({type(exc).__name__}: {exc}); "
                "the cell ran but is not cached.",
            )
            return CellResult(name=name, hit=False, reason=reason)

    def _run_and_record(
        self,
        shell: Any,
        cell: str,
        code: CellCode,
        name: str,
        key: CellKey,
        options: CellOptions,
        progress: _Progress,
        reason: list[Difference],
        store: bool,
        replace: bool,
    ) -> CellResult:
        ns = shell.user_ns
        started = time.perf_counter()
        # Held so that an id cannot be reused by a new object meanwhile, weakly where a plain
        # cell would free it now (``snapshot``); a run that is not stored compares nothing.
        before = snapshot(ns) if store else {}
        state_before = capture_all(shell) if store else {}
        threads_before = tuple(threading.enumerate()) if store else ()
        caches_before = cache_states(before) if store else {}
        imports = None
        if store:
            with (
                watch_files() as watch,
                timed_imports() as imports,
                watch_warnings() as warned,
                watch_env_reads() as env_reads,
                watch_env_writes() as env_writes,
                watch_filter_calls() as filter_calls,
            ):
                outcome = run_recorded(shell, cell, show_errors=options.show_errors)
        else:
            outcome = run_plain(shell, cell, show_errors=options.show_errors)
        self._raise_if_failed(name, outcome)
        progress.body_succeeded = True
        result = CellResult(name=name, hit=False, reason=reason)
        if not store:
            return result
        if self.opened:  # uses are noted by hits, which opened it
            flush_uses(self.store)
        manifest = Manifest(
            name=name,
            key=key.digest,
            run=new_run_id(),
            code=cell,
            components=key.components,
            reaches=key.reaches,
            duration=outcome.duration,
            reason=[d.message for d in reason],
            options={
                "deps": list(options.deps),
                "env": options.env,
                "ignore": list(options.ignore),
            },
            notebook=_notebook_path(shell),
            cell_id=options.cell_id or "",
        )
        floor = CHEAP_SECONDS if options.min_time is None else options.min_time
        if outcome.duration < floor and options.variables is None:
            manifest.mode = "run"
            manifest.run_reason = (
                f"it runs in {format_duration(outcome.duration)}, faster than a restore"
            )
            result.stored = self._write_run_mode(manifest, options, replace)
            result.manifest = manifest
            return result
        if outcome.widgets:
            manifest.mode = "run"
            manifest.run_reason = "it shows widgets, which live only in the kernel that made them"
            result.stored = self._write_run_mode(manifest, options, replace)
            result.manifest = manifest
            return result
        if outcome.tracebacks:
            manifest.mode = "run"
            manifest.run_reason = "showing its output raised an error, which a restore cannot show"
            result.stored = self._write_run_mode(manifest, options, replace)
            result.manifest = manifest
            return result
        # Decided before the changes are fingerprinted and the effects recorded: for a cheap
        # cell those cost more than the cell itself, and none of it is needed to run it.
        imported = imports.seconds if imports else 0.0
        written = _bytes_of(watch.written)
        cheaper = self._cheaper_to_run(
            shell,
            before,
            code,
            key,
            outcome,
            options,
            state_before,
            imported,
            written,
        )
        # A cell that writes files is stored so that later cells reading them find what they
        # read before; but not when writing its files back alone is clearly slower than the
        # whole cell (an 800 MB np.memmap made in milliseconds; the demotion rule): it runs
        # and rewrites them, as the plain cell does.
        writes = bool(watch.written or watch.created_dirs)
        if writes and slower_to_restore(outcome.duration, written / READ_RATE):
            writes = False
        if cheaper is NEVER_RESTORED and not writes:
            # Not stored, and not recorded as a cell that runs either (a record would make it
            # run for good): once a cell upstream seeds the generator, the next run stores it.
            # Storing it took as long as its run, on every run, for a check that never held.
            self._last[name].decided(f"it is not stored: {NEVER_RESTORED}")
            result.notes.append(f"not stored: {NEVER_RESTORED}")
            return result
        if cheaper and not writes:
            manifest.mode = "run"
            manifest.run_reason = cheaper
            result.stored = self._write_run_mode(manifest, options, replace)
            result.manifest = manifest
            return result
        values, mutated, deleted, orphaned = self._changes(shell, before, code, key, options)
        manifest.mutated, manifest.deleted = mutated, deleted
        # Digests of the snapshot taken before the run, made only now that it is stored.
        checked = [f for f in state_before if f in CHECKED_FACETS]
        digests_before = state_digests(shell, checked, state_before)
        effects = record_effects(
            shell,
            state_before,
            capture_all(shell),
            watch,
            outcome.outputs,
            values,
            reads_plotting=any(
                f"module:{n}" in key.components
                and key.components[f"module:{n}"].startswith(("matplotlib", "seaborn"))
                for n in code.reads
            ),
            reads_numpy=any(
                key.components.get(f"module:{n}", "").startswith(("numpy", "pandas"))
                for n in code.reads
            )
            or any(type_module(v).startswith(("numpy", "pandas")) for v in values.values()),
            seeds_first=code.seeds_first,
            targets=code.targets,
            mutated=mutated,
            seedings=code.seedings,
            registrations=code.registrations,
            threads=threads_before,
            env_reads=env_reads,
            env_writes=env_writes,
            filter_calls=filter_calls,
            settings=code.settings,
            functions={
                c[9:]: (value_before(before, c[9:]), d)
                for c, d in key.components.items()
                if c.startswith("function:") and c[9:] in before
            },
            inputs={n: value_before(before, n) for n in code.reads if n in before},
            source=code.source,
            definitions=code.definition_module.body if code.definition_module else (),
            digests=self._file_digests(),
            before_digests=digests_before,
            warned=warned,
            caches=caches_before,
        )
        file_digests = self._file_digests()
        for path, digest in key.named_files.items():
            # Files the cell names and did not write: what it read (C readers included).
            if path in watch.written:
                continue
            try:
                after = file_digests.digest(Path(path))
            except CellCacheError:  # no longer a regular file (a pipe, a device)
                after = "missing"
            if after == digest:
                effects.checks.setdefault(f"read:{path}", digest)
            elif after != "missing":
                # Changed by the run though no write was seen: a library writing from C
                # (pyarrow's ``to_parquet``, HDF5). What the cell wrote, as a file it was
                # seen writing: a hit needs it as the run left it.
                effects.checks.setdefault(f"wrote:{path}", after)
            else:
                effects.unrestorable.append(f"it removes {path}, which a restore would not redo")
        for var, held in key.conditional.items():
            # Read after a binding of its own that may not have run (``if flag: x = 1`` then
            # ``y = x * 2``): the value before the run was read when the run left it as it
            # was. Then it must be the same on a hit; bound anew by the run, it was not read.
            bound = var in ns and (held == HELD_ABSENT or value_before(before, var) is not ns[var])
            if not bound:
                effects.checks[f"kept:{var}"] = held
        for path in key.named_absent:
            # Named, looked for maybe (``os.path.exists``), and still not there after the run.
            if not os.path.lexists(path):
                effects.checks.setdefault(f"absent:{path}", "absent")
            elif path not in watch.written and os.path.isfile(path):
                # Made by the run, unseen (written from C): as above.
                effects.checks.setdefault(f"wrote:{path}", file_digests.digest(Path(path)))
        if code.definition_module is not None:
            # ``sys.path.insert(0, 'lib')`` then ``import helpers`` in this cell: the module
            # was not found when the key was made, and its import read no source when its
            # bytecode was cached. What the cell computed with it depends on its source.
            for source in imported_user_files(code.definition_module):
                if f"file:{source}" not in key.components:
                    effects.checks.setdefault(
                        f"read:{source}", self._file_digests().digest(Path(source))
                    )
        self._save_file_digests()
        if orphaned:
            effects.unrestorable.append(
                f"it changes what {', '.join(orphaned)} held, then binds the name anew, and "
                "something else still holds the changed object (a hit could not change it)"
            )
        finalized = freed_with_finalizer(before)
        if finalized:
            effects.unrestorable.append(
                f"it binds {', '.join(finalized)} anew and the object bound before has a "
                "finalizer (__del__), which ran in the cell; a restore would run it at "
                "another moment"
            )
        if effects.unrestorable:
            manifest.mode = "run"
            manifest.run_reason = "; ".join(effects.unrestorable)
            result.stored = self._write_run_mode(manifest, options, replace)
            result.manifest = manifest
            return result
        manifest.checks = effects.checks
        manifest.state = effects.state
        manifest.dirs = effects.dirs
        manifest.modules = effects.modules
        manifest.notes = effects.notes
        if outcome.has_result:
            values[RESULT] = outcome.result
        unchanged = {
            v
            for v in key.fingerprints
            if v not in mutated and v in ns and value_before(before, v) is ns[v]
        }
        try:
            groups = self._groups(shell, values, before, code, mutated, unchanged)
            manifest.checks.update(covariable_checks(ns, groups, values, key.fingerprints, mutated))
        except Exception as exc:  # an object in a state the walk cannot read
            # The cell ran. What its variables share is unknown, and a restore could split
            # objects a re-run keeps shared: not stored, it runs next time and says why.
            manifest.mode = "run"
            manifest.run_reason = (
                f"what its variables share could not be told ({type(exc).__name__}: {exc})"
            )
            result.stored = self._write_run_mode(manifest, options, replace)
            result.manifest = manifest
            return result
        stored_values = {n: ns.get(n, values.get(n)) for g in groups for n in g.names}
        if RESULT in values:
            stored_values[RESULT] = values[RESULT]
        # The automatic policy gives storing a budget (``_costs.store_budget``); a cell that
        # drew unseeded numbers or wrote files is stored whatever it costs (see there).
        deadline = None
        if (
            options.min_time is None
            and options.variables is None
            and not any(c.startswith(_REPEATS_DIFFER) for c in effects.checks)
        ):
            elapsed = outcome.duration + outcome.collected  # the clock time the run took
            deadline = started + elapsed + store_budget(outcome.duration)
        try:
            if deadline is not None and time.perf_counter() > deadline:
                raise _OverBudget
            result.stored = self._store(
                manifest, stored_values, outcome, options, groups, replace, deadline=deadline
            )
        except _OverBudget:
            manifest.mode = "run"
            manifest.run_reason = over_budget(
                outcome.duration,
                time.perf_counter() - started - outcome.duration - outcome.collected,
            )
            manifest.variables, manifest.sizes, manifest.groups = {}, {}, {}
            manifest.outputs_key = ""
            result.stored = self._write_run_mode(manifest, options, replace)
        result.manifest = manifest
        if result.stored:
            # What storing cost the notebook: the snapshots before the run and everything
            # after it (changes, effects, pickling, writes), which a cell that runs skips.
            ran = outcome.duration
            spent = time.perf_counter() - started - ran - outcome.collected
            self.costs.observe_store(spent, manifest.size)
            if manifest.mode == "restore":
                # What its restores save pays for opening the store (a cell stored whatever
                # it costs has the store opened anyway).
                chosen = options.min_time is None and options.variables is None
                self.costs.bank(
                    ran - imported - self.costs.restore_estimate(manifest.size)
                    if chosen and not watch.written
                    else math.inf
                )
        return result

    def _cheaper_to_run(
        self,
        shell: Any,
        before: dict[str, Any],
        code: CellCode,
        key: CellKey,
        outcome: RunOutcome,
        options: CellOptions,
        state_before: dict[str, Any],
        imported: float,
        written: int = 0,
    ) -> str | None:
        """Why this run is better run again than stored (automatic policy), or ``None``.

        ``imported``: seconds the run spent importing, which a restore spends too.
        ``written``: bytes of the files it wrote, which a restore writes back.

        Running is what a plain cell does, so it is always right. Storing is kept for a
        cell that writes files, and for one that drew random numbers from a global
        generator it did not seed: run again it would give later cells other values, so
        they would miss. What would be stored is sized roughly: the names it bound anew
        and the inputs it may have changed, and its outputs.
        """
        if options.min_time is not None or options.variables is not None:
            return None
        ns = shell.user_ns
        kept = {var: ns[var] for var in rebound(ns, before) if not _INTERNAL.match(var)}
        kept.update((var, ns[var]) for var in key.fingerprints if var in ns)
        if outcome.has_result:
            kept[RESULT] = outcome.result
        generators = [f for f in ("random", "numpy.random") if f in state_before]
        if generators and code.seeds_first:
            seeded = seeded_generators(ns, code.seeds_first)
            generators = [f for f in generators if f not in seeded]
        draws = bool(generators) and generators_moved(shell, state_before, generators)
        if code.only_definitions and not draws:
            # A hit re-runs a cell's imports, defs and classes (they are not data): for a
            # cell of nothing else, restoring costs its run plus the lookup and the store.
            return ONLY_DEFINITIONS
        nbytes = rough_size(kept, outcome.outputs) + written
        if draws and not self._seeded(shell):
            # Drawn from a generator that no cell seeded: another kernel starts it elsewhere,
            # so this cell's key never matches again and storing it buys no hit. Decided by
            # its cost like any cell: a cheap one is recorded as a cell that runs (the next
            # run looks nothing up, where the lookup alone could open the store); one worth
            # storing is neither stored nor recorded, so that once a cell upstream seeds the
            # generator, the next run stores it.
            cheap = run_instead(
                self.costs, outcome.duration, nbytes, draws_unseeded=False, imported=imported
            )
            return cheap or NEVER_RESTORED
        return run_instead(
            self.costs, outcome.duration, nbytes, draws_unseeded=draws, imported=imported
        )

    def _groups(
        self,
        shell: Any,
        values: dict[str, Any],
        before: dict[str, Any],
        code: CellCode,
        mutated: list[str],
        unchanged: set[str],
    ) -> list[Any]:
        """Groups of variables sharing objects that include something the cell changed.

        Besides the changed variables, the candidates are the names the cell read (a new
        variable may share objects with them) and, when the cell mutated an input, every
        data variable of the namespace (an older alias of the mutated object). Inputs
        ``unchanged`` (fingerprinted before and after the run) are kept live: a hit links
        the restored variables to their objects instead of replacing them.
        """
        ns = shell.user_ns
        hidden = getattr(shell, "user_ns_hidden", {})
        candidates: dict[str, Any] = dict(values)
        names = list(ns) if mutated else [*code.reads, *code.mentioned]
        for var in names:
            if var in candidates or var not in ns or _INTERNAL.match(var):
                continue
            value = ns[var]
            # Code is left out; a callable instance is data (Think Bayes' ``Pmf``, a
            # ``np.poly1d``): ``damage = d6`` must restore ``damage`` as ``d6`` itself. So is
            # a method bound to data (``add = totals.append``): restored apart from
            # ``totals``, it would go on changing the old list.
            if var in hidden and hidden[var] is value:
                continue
            if _is_code(value) or isinstance(value, (types.MethodType, types.MethodWrapperType)):
                bound = bound_data(value)
                # Not a method of the kernel's machinery (``write = sys.stdout.write``):
                # walking it would reach the shell and every variable through it.
                if bound is None or isinstance(bound, io.IOBase) or _kernel_object(bound):
                    continue
            if isinstance(value, io.IOBase):
                continue
            candidates[var] = value
        # A function holding an object the cell changed in place (``def f(acc=totals)``, a
        # closure over it), or a weak reference to it, would keep the old object after a
        # restore: such a cell runs.
        holders = {}
        if mutated:
            for var, fn in ns.items():
                held = held_by_function(fn)
                if held and is_user_code(fn):
                    holders[var] = held
                elif not held:
                    weakly = held_weakly(fn)  # ``r = weakref.ref(box)``
                    if weakly:
                        holders[var] = weakly
        live = unchanged - set(values)
        if mutated:
            # An unchanged view of memory the run changed through another (``x.sort()`` on
            # a column of ``b``, ``y`` another column): stored with them, not linked live,
            # or a hit would link the restored arrays to the live, unchanged memory.
            live -= memory_shared_with(ns, live, mutated)
        groups = group_variables(candidates, live=live, holders=holders)
        return [g for g in groups if any(n in values for n in g.names)]

    def _write_run_mode(
        self, manifest: Manifest, options: CellOptions, replace: bool, *, now: bool = False
    ) -> bool:
        if self._deferred and not now:
            if not self._pending:
                self._pending_since = time.monotonic()
            self._pending_names.add(manifest.name)
            self._pending[manifest.entry_prefix] = (
                manifest,
                options.expire,
                replace,
                max(options.keep, 1),
            )
            self._remember_manifest(manifest)
            self._note_runs(manifest)
            if not self._at_exit:
                self._at_exit = True
                at_exit(self.flush_runs)
            return True
        try:
            written = write_manifest(self.store, manifest, expire=options.expire, replace=replace)
        except Exception:
            return False
        if written:
            self._remember_manifest(manifest)
            self._prune(manifest, keep=max(options.keep, 1))
            self._note_runs(manifest)
        return written

    def _save_file_digests(self) -> None:
        digests = self._file_digests()
        if digests.changed:
            try:
                self.store.set(FILES_KEY, digests.cache)
                digests.changed = False
            except Exception:
                pass

    def _changes(
        self, shell: Any, before: dict[str, Any], code: CellCode, key: CellKey, options: CellOptions
    ) -> tuple[dict[str, Any], list[str], list[str], list[str]]:
        """What the run changed: (variables to store, inputs it mutated in place, names it
        deleted, inputs it changed and then bound anew, see :func:`_changed_then_rebound`)."""
        ns = shell.user_ns
        hidden = getattr(shell, "user_ns_hidden", {})
        changed: dict[str, Any] = {}
        # Identity catches rebinding by called functions (``global``); the static list
        # catches a rebinding to the very same object (small ints, interned strings).
        candidates = rebound(ns, before)
        again = [v for v in code.assigns if v in ns and value_before(before, v) is ns[v]]
        if again:
            order = dict(zip(ns, range(len(ns))))
            candidates = sorted({*candidates, *again}, key=order.__getitem__)
        for var in candidates:
            value = ns[var]
            if var in _UNDERSCORES and var in code.assigns:
                # ``_ = plt.hist(...)``: the user's own ``_``, which the shell then leaves
                # alone (a later shown value does not replace it); a hit must bind it too.
                changed[var] = value
                continue
            if _INTERNAL.match(var) or (var in hidden and hidden[var] is value):
                continue
            if var in code.definitions and _is_definition(value):
                continue  # re-created on a hit by re-running its statement
            if isinstance(value, io.IOBase) and value.closed and not closed_handle(value):
                continue  # a dead handle of another kind: not data (open() ones are kept)
            changed[var] = value
        mutated = [
            var
            for var, digest in key.fingerprints.items()
            if var in ns
            and value_before(before, var) is ns[var]
            and fingerprint_after(ns[var]) != digest
        ]
        for var in mutated:
            changed[var] = ns[var]
        deleted = [v for v in removed(before, ns) if not _INTERNAL.match(v)]
        if options.variables is not None:
            missing = [v for v in options.variables if v not in ns]
            if missing:
                _warn(
                    CellCacheWarning,
                    f"%%persist: --vars names {', '.join(missing)}, which the cell did not define.",
                )
            changed = {v: ns[v] for v in options.variables if v in ns}
            mutated = [v for v in mutated if v in changed]
        return changed, mutated, deleted, _changed_then_rebound(before, ns, key.fingerprints)

    def _store(
        self,
        manifest: Manifest,
        values: dict[str, Any],
        outcome: RunOutcome,
        options: CellOptions,
        groups: list[Any],
        replace: bool,
        *,
        deadline: float | None = None,
    ) -> bool:
        """Write the run's values, outputs and manifest; whether it is now stored.

        Raises
        ------
        _OverBudget
            Pickling passed ``deadline`` (``time.perf_counter()``, the policy's budget):
            nothing was kept and nothing was said; the caller makes the cell one that runs.
        """
        too_big = _over_limit(values, options.max_store_bytes)
        if too_big:
            for var in too_big:
                _warn(
                    UnstorableVariableWarning,
                    f"%%persist {manifest.name}: could not store variable {var!r} because it "
                    f"holds {format_size(too_big[var])}, more than the store limit of "
                    f"{format_size(options.max_store_bytes or 0)}{_LIMIT_HINT}. The cell ran; "
                    "nothing was cached, so it runs again next time.",
                )
            return False
        try:
            # The lease makes a delete from another process (the Persist panel) wait or refuse
            # while this cell's values and manifest are being written; the limits bound the
            # pickling of every group (``features._bounded``).
            with (
                hold_lease(self.store, cell_prefix(manifest.name)),
                store_limits(
                    options.max_store_bytes,
                    _within(options.store_seconds, deadline),
                    hint=_LIMIT_HINT,
                ),
            ):
                stored, failures = write_entry(
                    self.store,
                    manifest,
                    values,
                    outcome.outputs,
                    groups=groups,
                    expire=options.expire,
                    replace=replace,
                )
        except Exception as exc:  # the store itself failed (disk full, locked too long)
            _warn(
                CellCacheWarning,
                f"%%persist {manifest.name}: could not write to the store ({type(exc).__name__}: "
                f"{exc}); the cell ran but is not cached.",
            )
            return False
        if (
            failures
            and deadline is not None
            and time.perf_counter() >= deadline
            and all(isinstance(exc, SerializationError) for exc in failures.values())
        ):
            raise _OverBudget
        # ``out = sys.stdout``: the kernel's own objects, which live only in that kernel.
        kernel = sorted(v for v in failures if v != RESULT and _kernel_object(values.get(v)))
        quiet = {
            v
            for v, exc in failures.items()
            if v == RESULT
            or callable(values.get(v))
            or v in kernel
            or isinstance(
                exc, (SharedInputError, StalledError, LossyStateError, ByNameError, HeldCodeError)
            )
        }
        if failures and quiet == set(failures):
            # Functions made by assignment (lambdas) are code and an unpicklable result
            # (``d.keys()``) is only shown: nothing the user did wrong, so no warning; the
            # cell simply runs next time, as %persist list and why say. So does a value
            # whose pickling blocked (``features._bounded.STALL_SECONDS``): stored again
            # next time, it would block again.
            names = sorted("its result" if v == RESULT else v for v in quiet)
            shared = [
                exc
                for exc in failures.values()
                if isinstance(exc, (SharedInputError, LossyStateError, ByNameError))
            ]
            stalled = [v for v, exc in failures.items() if isinstance(exc, StalledError)]
            code = [(v, exc) for v, exc in failures.items() if isinstance(exc, HeldCodeError)]
            manifest.mode = "run"
            if kernel:
                manifest.run_reason = (
                    f"{_named(kernel[0])} is one of the kernel's own objects (an output "
                    "stream, a socket), which live only in the kernel that made them"
                )
            elif code:
                var, held = code[0]
                manifest.run_reason = (
                    f"{_named(var)} holds {held}, which is code, not data: it cannot be stored"
                )
            elif stalled:
                var = stalled[0]
                manifest.run_reason = f"storing {_named(var)} stopped: {failures[var]}"
            elif shared:
                manifest.run_reason = str(shared[0])
            else:
                manifest.run_reason = f"{', '.join(names)} cannot be stored (code, not data)"
            manifest.variables, manifest.sizes, manifest.groups = {}, {}, {}
            manifest.outputs_key = ""
            return self._write_run_mode(manifest, options, replace)
        # One warning per reason: variables stored together (a group sharing objects, or
        # all of them once grouping gave up) fail together. Inputs linked into the group
        # (``f = K`` shares the int) are not the cell's variables and are not named.
        reasons: dict[str, list[str]] = {}
        for var, failure in failures.items():
            if var in quiet:
                continue  # the loud failures below say the cell is not cached
            names = reasons.setdefault(str(failure).rstrip("."), [])
            if var == RESULT:
                names.append("the value of its last expression")
            elif var in values:
                names.append(repr(var))
            elif var == "<outputs>":
                names.append("its outputs")
        for reason, names in reasons.items():
            if len(names) == 1:
                named = (
                    names[0] if names[0].startswith(("the ", "its ")) else f"variable {names[0]}"
                )
            else:
                named = f"variables {', '.join(names)}" if names else "its variables"
            _warn(
                UnstorableVariableWarning,
                f"%%persist {manifest.name}: could not store {named} because {reason}. "
                "Nothing was cached, so the cell runs again next time; leave it out with "
                "--vars (store only the names you need).",
            )
        if stored:
            self._remember_manifest(manifest)
            self._prune(manifest, keep=max(options.keep, 1))
        return stored

    def _prune(self, manifest: Manifest, keep: int) -> None:
        """Drop the cell's entries for older code; keep the ``keep`` newest for this code.

        Several entries of the same code are what let a cell that mutates its input (run
        twice in one kernel) still hit after a restart, or a parameter toggled back.
        """
        if manifest.name in self._unstored:
            # Nothing was stored for it when it started: nothing older to drop. (Another
            # process's write meanwhile is pruned by the next write of this cell.)
            self._unstored.discard(manifest.name)
            return
        try:
            entries = []
            for store_key, info in iter_manifests(self.store, manifest.name):
                if store_key.startswith(manifest.entry_prefix):
                    continue
                same_code = info.meta.get("code") == manifest.components.get("code")
                entries.append((same_code, info.meta.get("created", info.created), store_key))
            entries.sort(reverse=True)
            for index, (same_code, _, store_key) in enumerate(entries):
                if not same_code or index >= keep - 1:
                    self._manifests.pop(store_key[: -len("manifest")], None)
                    delete_entry(self.store, store_key[: -len("manifest")])
        except Exception:  # pruning is housekeeping; a failure must not fail the cell
            pass

    # ------------------------------------------------------------------ inspection
    def _latest(self, name: str) -> Manifest | None:
        self.flush_runs()
        return latest_manifest(self.store, name)

    def entries(self) -> list[StoredCell]:
        """Every stored cell run, newest first."""
        self.flush_hits()
        return stored_entries(self.store)

    def ran_as_written(self) -> list[StoredCell]:
        """The cells of this session that ran as written (:meth:`cheap_as_written`), as
        rows of ``%persist list`` (nothing of them is stored; no store is needed)."""
        return [
            StoredCell("", name, at, took, size=0, variables=[], hits=0, run_reason=why)
            for name, (at, took, why) in self._as_written.items()
        ]

    def list(self, directory: str = "") -> EntryTable:
        """``%persist list``: name, variables, size, age, original run time, hits; then the
        cells of this session that ran as written (:meth:`cheap_as_written`), not stored."""
        entries = self.entries()
        stored = {entry.name for entry in entries}
        entries += [row for row in self.ran_as_written() if row.name not in stored]
        return EntryTable(entries, directory=directory)

    def show(self, name: str) -> EntryDetails:
        """``%persist show NAME``; ``KeyError`` when nothing is stored under ``name``."""
        self.flush_hits()
        return entry_details(self.store, name)

    def clear(self, name: str | None = None) -> int:
        """Remove one cell's entries (or all with ``name=None``); return how many runs."""
        self.flush_runs()
        # What this session remembers of the cleared runs goes too: `why` must not say
        # "restored from the cache" about an entry that is gone.
        if name is None:
            self._files = None
            self._last.clear()
            self._as_written.clear()
        else:
            self._last.pop(name, None)
            self._as_written.pop(name, None)
        self._manifests.clear()
        if self.runs is not None:
            self.runs.forget_name(name)  # cleared cells decide again
        return clear_entries(self.store, name)

    def info(self, directory: str, exists: bool) -> StoreSummary:
        """``%persist info``: store path, cached cells, total size."""
        self.flush_runs()
        return store_summary(self.store, directory, exists)

    def explain_last(self, name: str | None = None, *, verbose: bool = False) -> Explanation | None:
        """Why cell ``name`` (default: the last ``%%persist`` cell) was restored or ran in
        this session, or ``None`` when it has not run here. Reads the store only for a
        restored cell (its entry's age): a session whose cells all ran has no store."""
        name = name or self._last_name
        last = self._last.get(name) if name is not None else None
        if name is None or last is None:
            return None
        if last.hit:
            stored = self._latest(name)
            when = format_ago(stored.created) if stored else "earlier"
            exp = Explanation(name, f"{name} was restored from the cache (stored {when}).")
            old = stored.components if stored else last.old
        else:
            exp = Explanation(name, f"{name} ran because {last.headline}:", last.reason)
            if not last.reason:
                exp.headline = f"{name} ran because {last.headline}."
            old = last.old
        if verbose:
            exp.details = _component_lines(old, last.key.components)
        return exp

    def why(self, shell: Any, name: str | None = None, *, verbose: bool = False) -> Explanation:
        """Explain the last run of cell ``name`` (default: the last ``%%persist`` cell).

        For a cell not run in this session, the stored code is keyed against the current
        namespace and files, which says whether it would be restored and if not, why.
        """
        name = name or self._last_name
        if name is None:
            raise LookupError("No %%persist cell has run yet; give a cell name: %persist why NAME")
        known = self.explain_last(name, verbose=verbose)
        if known is not None:
            return known
        stored = self._latest(name)
        if stored is None:
            raise LookupError(f"Nothing is stored for a cell named {name!r}; see %persist list.")
        options = _stored_options(stored)
        code = analyze_cell(shell.transform_cell(stored.code))
        key = self.key_for(shell, code, options)
        diffs = diff_components(stored.components, key.components, key.reaches)
        if not diffs and stored.mode != "run":
            # What a hit checks beside the key: files read or listed, global state read.
            diffs = stale_checks(shell, stored.checks, self._file_digests())
        if key.unhashable:
            headline = (
                f"{name} would run: inputs cannot be fingerprinted ({', '.join(key.unhashable)})."
            )
        elif diffs:
            headline = f"{name} would run again because:"
        else:
            headline = f"{name} would be restored: its code and inputs match the stored entry."
        exp = Explanation(name, headline, diffs)
        if verbose:
            exp.details = _component_lines(stored.components, key.components)
        return exp


def _over_limit(values: dict[str, Any], max_bytes: int | None) -> dict[str, int]:
    """Values whose own buffer (``nbytes``: arrays) is already past the byte limit.

    Such values are stored without pickling (raw arrays), where the bounded sink cannot see
    them; anything else is bounded while it is pickled.
    """
    if max_bytes is None:
        return {}
    found = {}
    for var, value in values.items():
        size = buffer_nbytes(value)
        if size is not None and size > max_bytes:
            found["the value of its last expression" if var == RESULT else var] = size
    return found


class _SeedScan:
    """Whether a cell of this session seeded a global generator (``seed(`` in its text).

    When the shell keeps no history, it is assumed so (such cells are then stored as
    before). A generator seeded elsewhere (a helper module) counts as unseeded: its cells
    run, which is always right. Each input is read once: the scan goes on from where the
    last one stopped (from the start again after the history was reset).
    """

    def __init__(self) -> None:
        self._history: list[Any] | None = None
        self._read = 0
        self._found = False

    def __call__(self, shell: Any) -> bool:
        history = getattr(getattr(shell, "history_manager", None), "input_hist_raw", None)
        if not isinstance(history, list) or len(history) < 2:
            return True
        if history is not self._history or len(history) < self._read:
            self._history, self._read, self._found = history, 0, False
        if not self._found:
            fresh = history[self._read :]
            self._found = any(_SEEDS.search(text) for text in fresh if isinstance(text, str))
        self._read = len(history)
        return self._found


def _bytes_of(paths: Iterable[str]) -> int:
    """The size of the files at ``paths`` that exist now (those a cell wrote)."""
    total = 0
    for path in paths:
        try:
            total += os.stat(path).st_size
        except OSError:  # removed since, or not a file we may look at: nothing to restore
            continue
    return total


def _decided_by(options: CellOptions) -> tuple[Any, ...]:
    """What, besides the cell's text, decides whether it runs (the index key's parts)."""
    return (
        options.name,
        options.cell_id,
        options.min_time,
        options.variables,
        options.deps,
        options.env,
        options.ignore,
        options.mmap,
        options.expire,
    )


#: The options under which a cell's code alone may decide that it runs (what
#: :func:`_decided_by` gives after the name and cell id): the automatic policy, with
#: nothing that makes a cell worth storing whatever it costs.
_AUTOMATIC = _decided_by(CellOptions())[2:]


def _stored_options(manifest: Manifest) -> CellOptions:
    data = manifest.options
    return CellOptions(
        deps=tuple(data.get("deps", ())),
        env=bool(data.get("env", False)),
        ignore=tuple(data.get("ignore", ())),
    )


def _component_lines(old: dict[str, str], new: dict[str, str]) -> list[str]:
    if not old and not new:  # a cell that ran as it is (uncertain inputs, the runs index)
        return ["components: none (no key was made for this run)"]
    lines = ["components (stored -> now):"]
    for component in sorted(set(old) | set(new)):
        a, b = old.get(component, "-"), new.get(component, "-")
        mark = "  " if a == b else "* "
        lines.append(f"{mark}{component}: {a[:16]} -> {b[:16]}")
    return lines


def _notebook_path(shell: Any) -> str:
    """The running notebook's path relative to the server root, or "" outside Jupyter."""
    path = os.environ.get("JPY_SESSION_NAME") or getattr(shell, "user_ns", {}).get("__session__")
    return path if isinstance(path, str) and path.endswith(".ipynb") else ""


_KERNEL_PACKAGES = ("IPython", "ipykernel", "jupyter_client", "zmq", "tornado", "traitlets")


def _kernel_object(obj: Any) -> bool:
    """Whether ``obj`` belongs to the kernel's machinery (the shell, its streams, sockets)."""
    return type_module(obj).partition(".")[0] in _KERNEL_PACKAGES


def _is_definition(value: Any) -> bool:
    return isinstance(value, (types.ModuleType, types.FunctionType, type)) or callable(value)


# References to an input's old object while a run is examined: the local name and
# ``sys.getrefcount``'s own argument, and the snapshot taken before the run if it holds it.
_OWN_REFERENCES = 2
_ABSENT = object()


def _swap_shown(shell: Any, changed: dict[int, tuple[Any, Any]]) -> None:
    """Give IPython's output history the restored objects where it holds ones the run
    changed in place (``changed``: id of the object before -> it, and the restored one).

    ``lst`` shown by an earlier cell is ``Out[3]``, ``_3`` and maybe ``_``: a re-run's
    ``lst.append(1)`` changes the object they hold, so ``print(_3)`` shows the item and
    ``Out[3] is lst``; a hit binds ``lst`` to another object, and the history would keep
    showing the old one. (An object held inside a shown one, ``(lst, 2)``, is not reached.)
    """
    ns = shell.user_ns

    def restored(value: Any) -> Any:
        pair = changed.get(id(value))
        return pair[1] if pair is not None and pair[0] is value else _ABSENT

    history = ns.get("_oh")
    if isinstance(history, dict):
        for number, value in list(history.items()):
            new = restored(value)
            if new is not _ABSENT:
                history[number] = new
                if ns.get(f"_{number}") is value:
                    ns[f"_{number}"] = new
    hook = getattr(shell, "displayhook", None)
    for unders in ("_", "__", "___"):
        value = ns.get(unders, _ABSENT)
        new = restored(value)
        if new is _ABSENT:
            continue
        ns[unders] = new
        if getattr(hook, unders, _ABSENT) is value:
            # The display hook keeps them too, and stops updating them when they differ
            # (it takes that for the user's own ``_``).
            setattr(hook, unders, new)


def _changed_then_rebound(
    before: dict[str, Any], ns: dict[str, Any], fingerprints: dict[str, str]
) -> list[str]:
    """Inputs whose object the run changed before binding their name to another object
    (``a.append(1)`` then ``a = [0]``) while something else still holds the changed object
    (``alias = a`` upstream, a view of an array, ``Out[3]``). A hit binds the name, and the
    mutation of the old object, which a re-run makes, is missing: such a cell runs.

    An old object held by nothing else (``df.dropna(inplace=True)`` then ``df = df[...]``,
    the usual case) is unreachable after the run: nothing can see its change. One shown
    by an earlier cell is held by IPython's output history (``Out``, ``_``, the display
    hook and the execution results keep references), which cannot be told from a variable
    by a reference count: that cell runs too.
    """
    found = []
    for var, digest in fingerprints.items():
        old = value_before(before, var, _ABSENT)
        if old is _ABSENT or old is GONE or ns.get(var, _ABSENT) is old:
            continue  # freed: nothing holds it
        own = _OWN_REFERENCES + held_strongly(before, var)
        if sys.getrefcount(old) > own and fingerprint_after(old) != digest:
            found.append(var)
    return found

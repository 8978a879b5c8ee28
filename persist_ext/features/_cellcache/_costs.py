"""Whether a cell is cheaper to run than to restore: what restores and stores cost here.

A ``%%persist`` cell is worth storing only when restoring it later is faster than running
it again, and when its run is not so cheap that storing it (fingerprints, pickles, four
signed writes) costs the notebook more than running it every time would. Time the run spent
importing modules (:func:`timed_imports`) does not count: a restore in a fresh kernel
imports them too (the modules the cell binds, the classes of its values), so storing saves
none of it. ``import pandas as pd; df = pd.DataFrame(...)`` is run, not restored. Both costs depend
on the store (a local folder, Redis across a network), the machine and the size of what is
kept, so :class:`CostModel` learns them in the session from the restores and stores it
timed, starting from priors measured on a local store; past that, each byte costs a fixed
throughput.

:func:`run_instead` applies the rule to one finished run and says why in words that
``%persist list`` (``runs: ...``) and ``%persist why`` show. A cell that is run rather than
restored is always right: it does what a plain cell does. What it gives up is only speed,
and for a cell that draws unseeded random numbers also the hits of the cells after it
(their inputs change on every run), so such a cell is stored as before.

Storing a run is also given a budget, :func:`store_budget`: a share of the run's own time.
Some values cost far more to store than to compute (a figure of a hundred axes: walking and
pickling its artists took three times its drawing, and reading it back more than drawing
it); a store that passes its budget gives up (nothing half-written is kept) and the cell
runs from then on, saying so (:func:`over_budget`). The cold run pays at most the budget for
such a cell, and every later run pays nothing. Cells that drew unseeded random numbers or
wrote files are exempt, as above.

:class:`RunsIndex` remembers, across kernels, which cells were decided to run: a JSON file
in the store's folder (``runs.json``), keyed by a digest of the cell's text and the options
that decide it, read once per kernel. A cell found there runs at once, without analysis,
key, manifest lookup or even opening the store. That is always right (it is what a plain
cell does), so the file needs no signature: whatever it says, a cell it names runs, and a
damaged or tampered file only makes cells run or go through the full lookup. A run that
takes much longer than the one recorded (:func:`much_slower`: its inputs may have grown)
drops the cell from the index, so the next run decides again.
"""

from __future__ import annotations

import builtins
import gc
import json
import math
import os
import re
import statistics
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xxhash

from ..._exit import at_exit
from ..._format import format_duration
from ...storage._atomic import atomic_write
from ...storage._usercode import is_user_code

__all__ = [
    "STORE_SHARE",
    "CollectorClock",
    "CostModel",
    "ImportClock",
    "KnownRun",
    "RunsIndex",
    "buffer_nbytes",
    "much_slower",
    "over_budget",
    "rough_size",
    "run_instead",
    "slower_to_restore",
    "store_budget",
    "timed_imports",
    "without_import_timer",
]

#: Priors for the fixed part of one restore and one store (seconds), before the session has
#: timed any: a hit on a local store reads one signed record and replays the outputs; a
#: miss pickles the values and writes values, outputs, manifest and use record.
RESTORE_PRIOR = 0.002
#: Seconds a fresh kernel takes to open a local store before its first lookup (importing the
#: storage modules, opening SQLite, reading the signing key): ~30 ms of CPU here.
OPEN_PRIOR = 0.03
STORE_PRIOR = 0.005
#: Before any restore is timed, a restore is taken to cost this share of a timed store
#: (both read and write the same records; a slow store or a loaded machine slows both).
RESTORE_PER_STORE = 0.5
#: Restores timed before the session's own restore cost is trusted over the priors.
LEARNED = 3
#: Bytes per second past the fixed part (reading and unpickling; pickling, hashing, writing).
READ_RATE = 1.0e9
WRITE_RATE = 0.5e9
#: A cell whose run takes less than this share of what storing it costs is run every time:
#: storing would cost the notebook more than a few re-runs of the cell.
STORE_SHARE = 1.0
#: Import time below this is not worth a mention in the reason a cell runs.
CHEAP_IMPORTS = 0.001
_KEPT = 64  # timings remembered per kind (the median of these is the estimate)
#: An entry whose restore took more than this many times its original run, and this many
#: seconds more, becomes one that runs: a one-off slow read must not turn off a useful entry.
DEMOTE_FACTOR = 2.0
DEMOTE_MARGIN = 0.002
#: Storing a run may take at most this share of the run's own time: past it, storing costs
#: the cold run more than a restore could ever save on one later run.
STORE_BUDGET_SHARE = 1.0
#: ... and never less than this (seconds): a store of a few milliseconds is not cut short,
#: whatever the run took (its cost is within the noise of a loaded machine).
STORE_BUDGET_FLOOR = 0.02


class CostModel:
    """Restore and store costs of cell runs, learned from the ones timed in this session.

    Opening the store is paid once per kernel, by the first cell that looks something up,
    and only when some cell was stored (cells known to run never open it). So the cells
    stored must together save more than the opening costs: until the savings of the cells
    stored in this session (:meth:`bank`) cover it, what is left of it (:meth:`unpaid_open`)
    counts as part of the next cell's restore. ``open_cost=0``: the store is already open
    (given to the cache, a server store), nothing is charged.

    Examples
    --------
    >>> costs = CostModel()
    >>> costs.restore_estimate(0) == RESTORE_PRIOR
    True
    >>> for _ in range(LEARNED):
    ...     costs.observe_restore(0.010, 0)
    >>> round(costs.restore_estimate(10**9), 3)  # fixed part learned, plus 1 GB at 1 GB/s
    1.01
    >>> costs.unpaid_open() == OPEN_PRIOR
    True
    >>> costs.bank(0.025)  # a stored cell saves 25 ms per later run
    >>> round(costs.unpaid_open(), 3)
    0.005
    """

    def __init__(self, open_cost: float | None = None) -> None:
        self._restore: deque[float] = deque(maxlen=_KEPT)
        self._store: deque[float] = deque(maxlen=_KEPT)
        self._open = OPEN_PRIOR if open_cost is None else open_cost
        self._banked = 0.0

    def observe_open(self, seconds: float) -> None:
        """Opening the store took ``seconds`` in this session."""
        if self._open:
            self._open = seconds

    def bank(self, seconds: float) -> None:
        """A cell was stored whose restore saves ``seconds`` over running it (``inf``: a
        cell stored whatever it costs, so the store is opened anyway)."""
        self._banked += max(seconds, 0.0)

    def unpaid_open(self) -> float:
        """Seconds of opening the store that the cells stored so far do not make up for."""
        return max(self._open - self._banked, 0.0)

    def observe_restore(self, seconds: float, nbytes: int) -> None:
        """A hit of an entry holding ``nbytes`` took ``seconds``."""
        self._restore.append(max(seconds - nbytes / READ_RATE, 0.0))

    def observe_store(self, seconds: float, nbytes: int) -> None:
        """Storing a run of ``nbytes`` took ``seconds``."""
        self._store.append(max(seconds - nbytes / WRITE_RATE, 0.0))

    def learned_restores(self) -> bool:
        """Whether enough restores were timed in this session to trust their median."""
        return len(self._restore) >= LEARNED

    def restore_estimate(self, nbytes: int) -> float:
        """Seconds a hit of an entry of ``nbytes`` is expected to take."""
        if self._restore:
            fixed = _learned(self._restore, RESTORE_PRIOR)
        elif self._store:
            stores = _learned(self._store, STORE_PRIOR)
            fixed = max(RESTORE_PRIOR, RESTORE_PER_STORE * stores)
        else:
            fixed = RESTORE_PRIOR
        return fixed + nbytes / READ_RATE

    def store_estimate(self, nbytes: int) -> float:
        """Seconds storing a run of ``nbytes`` is expected to take."""
        return _learned(self._store, STORE_PRIOR) + nbytes / WRITE_RATE


def _learned(timed: deque[float], prior: float) -> float:
    """The fixed part of a cost: the median of the timings, the prior counting as
    ``LEARNED - 1`` of them until ``LEARNED`` were timed.

    One timing is not a fixed part: the first cell stored in a session may be a figure of
    16 axes whose walk and pickling took 1.4 s for 1.6 MB, and taken alone it made every
    later restore look like 0.7 s, so every later cell under that ran instead of being
    stored (in the warm run too). A store that is slow for every cell (a network) is
    learned from the third timing on.

    >>> from collections import deque
    >>> _learned(deque([1.4]), 0.005), _learned(deque([0.03, 0.02, 0.04]), 0.005)
    (0.005, 0.03)
    """
    if not timed:
        return prior
    if len(timed) >= LEARNED:
        return statistics.median(timed)
    return statistics.median([*timed, *[prior] * (LEARNED - 1)])


def rough_size(values: dict[str, Any], outputs: list[dict[str, Any]]) -> int:
    """Bytes a run would store, roughly: array buffers, frame columns, output text.

    Cheap (no pickling, no walk of containers): it only has to tell a cell of a few bytes
    from one of megabytes.
    """
    total = 0
    for value in values.values():
        total += _value_size(value)
    for event in outputs:
        if event.get("kind") == "stream":
            total += len(event.get("text", ""))
        for data in (event.get("data") or {}).values():
            total += len(data) if isinstance(data, (str, bytes)) else 64
    return total


def buffer_nbytes(value: Any) -> int | None:
    """``value.nbytes`` (an array's buffer), or ``None``; never asked of an instance of a
    user class, whose attribute lookup is its own code (a ``__getattr__`` that prints).

    >>> import numpy as np
    >>> buffer_nbytes(np.zeros(4)), buffer_nbytes([1, 2])
    (32, None)
    """
    if is_user_code(type(value)):
        return None
    nbytes = getattr(value, "nbytes", None)
    return nbytes if isinstance(nbytes, int) else None


def _value_size(value: Any) -> int:
    nbytes = buffer_nbytes(value)
    if nbytes is not None:
        return nbytes
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(value, pandas.DataFrame):
        # 8 bytes an element and an index label, as pandas' shallow ``memory_usage`` counts
        # numbers and object pointers: ``memory_usage`` itself builds Series on every call
        # (0.5-2 ms with pandas 3, in every cold cell reading a frame), more than many of
        # the cells this is asked about take to run.
        try:
            return (int(value.size) + len(value.index)) * 8
        except Exception:
            return 0
    try:
        return sys.getsizeof(value)
    except Exception:
        return 0


class ImportClock:
    """Seconds the thread spent in ``import`` statements during :func:`timed_imports`."""

    __slots__ = ("seconds",)

    def __init__(self) -> None:
        self.seconds = 0.0


class _ImportTimer:
    """``builtins.__import__`` while :func:`timed_imports` runs: the outermost imports timed."""

    __slots__ = ("clock", "depth", "real", "thread")

    def __init__(self, real: Any, clock: ImportClock) -> None:
        self.real = real
        self.clock = clock
        self.thread = threading.get_ident()
        self.depth = 0

    def __call__(
        self,
        name: str,
        globals: Any = None,
        locals: Any = None,
        fromlist: Any = (),
        level: int = 0,
    ) -> Any:
        if self.depth or threading.get_ident() != self.thread:
            return self.real(name, globals, locals, fromlist, level)
        self.depth += 1
        started = time.perf_counter()
        try:
            return self.real(name, globals, locals, fromlist, level)
        finally:
            self.depth -= 1
            self.clock.seconds += time.perf_counter() - started

    # The cell can see the wrapper (``vars(builtins)``, a module's ``__dict__``): it shows as
    # the function it wraps, by ``repr`` and by IPython's pretty printer, as in a plain run.
    def __repr__(self) -> str:
        return repr(self.real)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.pretty(self.real)


# A module warning "for its importer" at import (``warnings.warn(..., stacklevel=2)``: tqdm's
# autonotebook, ``import scipy.misc``) names the frame that imported it, skipping the import
# machinery's frames, which Python knows by a file name holding "importlib" and "_bootstrap".
# The timer's frame is one of them: named so, the warning names the cell's line, as in a plain
# run (and a DeprecationWarning is shown, by IPython's filter for ``__main__``), not this file.
_ImportTimer.__call__.__code__ = _ImportTimer.__call__.__code__.replace(
    co_filename=f"<importlib._bootstrap: persist_ext's import timer, {__file__}>"
)


def without_import_timer(error: BaseException | None) -> None:
    """Take the import timer's frames out of the tracebacks of ``error`` and its chain, in place.

    An ``import`` of the cell's that fails then shows the traceback a plain cell shows
    (the import machinery's own frames are left out of it by Python), not a frame of ours:
    also when it is the cause or context of what the cell raised (``pd.read_pickle`` of an
    old pickle retrying after a failed import).
    """
    code = _ImportTimer.__call__.__code__
    pending, seen = [error], set()
    while pending:
        error = pending.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        pending += [error.__cause__, error.__context__]
        tb = error.__traceback__
        while tb is not None:
            following = tb.tb_next
            while following is not None and following.tb_frame.f_code is code:
                following = following.tb_next
            tb.tb_next = following
            tb = following


class CollectorClock:
    """Seconds the cyclic garbage collector spends in full collections from now until
    :meth:`stop`: time a cell's run pays for the whole session's objects, not its own work.

    A full (generation 2) collection walks every object of the process, ~0.1-0.2 s with
    numpy, pandas and matplotlib loaded, and falls on whichever cell's allocation tips it:
    a one-line cell timed with one looked slower than a restore plus opening the store, was
    stored, and so opened the store (another 0.1 s) in the cold run and again in the warm one.
    Its run time is measured without it (a run of it again would not repeat it). Younger
    generations are left in: their cost follows the cell's own allocations. The collector's
    callback is installed only while a clock runs (nested clocks share it).
    """

    __slots__ = ("_start", "_stopped")

    def __init__(self) -> None:
        if not _FULL["users"]:
            gc.callbacks.append(_on_collection)
        _FULL["users"] += 1
        self._start = _FULL["seconds"]
        self._stopped: float | None = None

    def __enter__(self) -> CollectorClock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> float:
        """The seconds of full collections since the clock started (the same on every call)."""
        if self._stopped is None:
            self._stopped = _FULL["seconds"] - self._start
            _FULL["users"] -= 1
            if not _FULL["users"] and _on_collection in gc.callbacks:
                gc.callbacks.remove(_on_collection)
        return self._stopped


# Seconds of full collections seen while some CollectorClock ran, when the one under way
# started (0.0: none), and how many clocks run.
_FULL: dict[str, Any] = {"seconds": 0.0, "started": 0.0, "users": 0}


def _on_collection(phase: str, info: dict[str, Any]) -> None:
    if info.get("generation") != 2:
        return
    if phase == "start":
        _FULL["started"] = time.perf_counter()
    elif _FULL["started"]:
        _FULL["seconds"] += time.perf_counter() - _FULL["started"]
        _FULL["started"] = 0.0


class timed_imports:  # used as a function: ``with timed_imports() as clock``
    """Time the outermost ``import`` statements this thread runs in the block.

    ``builtins.__import__`` is wrapped for the block only (nested imports, made by the
    modules being imported, pass straight through), and put back unless something else
    replaced it meanwhile. A failing import's traceback holds the wrapper's frame: the
    cell's tracebacks go through :func:`without_import_timer` before they are shown. A
    class rather than a ``@contextmanager`` generator: every stored run enters one.

    >>> with timed_imports() as clock:
    ...     import json
    >>> clock.seconds >= 0.0
    True
    """

    __slots__ = ("_real", "_timed")

    def __enter__(self) -> ImportClock:
        self._real = builtins.__import__
        clock = ImportClock()
        self._timed = _ImportTimer(self._real, clock)
        builtins.__import__ = self._timed
        return clock

    def __exit__(self, *exc: object) -> None:
        if builtins.__import__ is self._timed:
            builtins.__import__ = self._real


def run_instead(
    costs: CostModel,
    duration: float,
    nbytes: int,
    *,
    draws_unseeded: bool,
    imported: float = 0.0,
) -> str | None:
    """Why a run of ``duration`` seconds storing ``nbytes`` should be run, not restored.

    ``None``: store it. A cell that drew random numbers from a generator it did not seed
    is stored whatever its cost (running it again would change what later cells read).
    ``imported`` seconds of the run were imports, which a restore pays too: only the rest
    is saved by storing.

    Examples
    --------
    >>> costs = CostModel()
    >>> run_instead(costs, 0.5, 0, draws_unseeded=False) is None
    True
    >>> why = run_instead(costs, 0.5, 0, draws_unseeded=False, imported=0.499)
    >>> why.split(", faster")[0]
    'it runs in 1.0 ms besides 499.0 ms of imports, which a restore repeats'
    """
    if draws_unseeded:
        return None
    imported = min(max(imported, 0.0), duration)
    own = duration - imported
    runs = f"it runs in {format_duration(own)}"
    if imported >= CHEAP_IMPORTS:
        runs += f" besides {format_duration(imported)} of imports, which a restore repeats"
    restore = costs.restore_estimate(nbytes)
    unpaid = costs.unpaid_open()
    if own < restore + unpaid:
        if unpaid:
            return (
                f"{runs}, faster than restoring it (about {format_duration(restore)}, plus "
                f"{format_duration(unpaid)} to open the store, which no cell stored "
                "so far saves)"
            )
        return f"{runs}, faster than restoring it (about {format_duration(restore)})"
    store = costs.store_estimate(nbytes)
    if own < STORE_SHARE * store:
        return f"{runs}, less than storing it costs (about {format_duration(store)})"
    return None


def store_budget(duration: float) -> float:
    """Seconds storing a run of ``duration`` seconds may take before it gives up.

    Examples
    --------
    >>> store_budget(0.001) == STORE_BUDGET_FLOOR
    True
    >>> store_budget(3.0) == 3.0 * STORE_BUDGET_SHARE
    True
    """
    return max(STORE_BUDGET_FLOOR, STORE_BUDGET_SHARE * duration)


def over_budget(duration: float, spent: float) -> str:
    """Why a run whose store gave up after ``spent`` seconds is run from now on."""
    return (
        f"storing it takes longer than running it (gave up after {format_duration(spent)}; "
        f"it runs in {format_duration(duration)})"
    )


def slower_to_restore(duration: float, seconds: float) -> str | None:
    """Why an entry whose run took ``duration`` and whose restore took ``seconds`` should
    be run from now on (clearly slower to restore than to run), or ``None``.

    Examples
    --------
    >>> slower_to_restore(0.001, 0.0015) is None  # within the margin: noise
    True
    >>> slower_to_restore(0.001, 0.050)
    'it runs in 1.0 ms, faster than restoring it (took 50.0 ms)'
    """
    if seconds < DEMOTE_FACTOR * duration or seconds - duration < DEMOTE_MARGIN:
        return None
    return (
        f"it runs in {format_duration(duration)}, faster than restoring it "
        f"(took {format_duration(seconds)})"
    )


def much_slower(recorded: float, seconds: float) -> bool:
    """Whether a run of ``seconds`` took much longer than the ``recorded`` one (same rule
    as :func:`slower_to_restore`: twice as long and 2 ms more), so it is decided again.

    Examples
    --------
    >>> much_slower(0.001, 0.0015), much_slower(0.001, 0.050)
    (False, True)
    """
    return seconds >= DEMOTE_FACTOR * recorded and seconds - recorded >= DEMOTE_MARGIN


#: The index's file, in the store's folder (beside diskcache's ``cache.db``).
RUNS_FILE = "runs.json"
_RUNS_VERSION = 1
_RUNS_MAX_BYTES = 4 << 20  # a larger file is not read (the cells then take the full path)
_RUNS_MAX_CELLS = 20_000
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
#: Seconds between two writes of the index while cells keep adding to it (and at exit).
RUNS_WRITE_EVERY = 1.0


@dataclass(frozen=True)
class KnownRun:
    """A cell the index says runs: its name, the run time recorded, and why it runs."""

    name: str
    duration: float
    reason: str


def _known(value: Any) -> KnownRun | None:
    """A :class:`KnownRun` from one JSON record, or ``None`` when it is not one."""
    if not isinstance(value, dict):
        return None
    name, duration, reason = value.get("name"), value.get("duration"), value.get("reason")
    if not (isinstance(name, str) and 0 < len(name) <= 512 and name.isprintable()):
        return None
    if not isinstance(reason, str) or len(reason) > 2000:
        return None
    if isinstance(duration, bool) or not isinstance(duration, (int, float)):
        return None
    if not math.isfinite(duration) or duration < 0:
        return None
    return KnownRun(name, float(duration), reason)


class RunsIndex:
    """Cells known to run rather than restore, for one store folder (see the module doc).

    Read on first use (one small JSON file), written by :meth:`flush` (atomically, merged
    with what another kernel wrote meanwhile) when cells were added or dropped: the magic
    calls it after a cell, at most every :data:`RUNS_WRITE_EVERY` seconds, and at exit.
    Never a pickle; anything that is not a well-formed record is ignored.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> index = RunsIndex(folder)
    >>> token = RunsIndex.token("x = 1", ("cell-a",))
    >>> index.note(token, "cell-a", 0.0003, "it runs in 0.3 ms, faster than a restore")
    >>> index.flush()
    >>> RunsIndex(folder).get(token).name
    'cell-a'
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.path = Path(directory) / RUNS_FILE
        self._cells: dict[str, KnownRun] | None = None
        self._added: dict[str, KnownRun] = {}
        self._dropped: set[str] = set()
        self._dropped_names: set[str] = set()
        self._dropped_all = False
        self._written = time.monotonic()
        self._at_exit = False

    @staticmethod
    def token(cell: str, decided_by: tuple[Any, ...]) -> str:
        """The index key of ``cell`` run with the options ``decided_by`` (their ``repr``)."""
        return xxhash.xxh3_128_hexdigest(f"{decided_by!r}\0{cell}".encode("utf-8", "replace"))

    def _read(self) -> dict[str, KnownRun]:
        try:
            with open(self.path, "rb") as handle:
                raw = handle.read(_RUNS_MAX_BYTES + 1)
        except OSError:
            return {}
        if len(raw) > _RUNS_MAX_BYTES:
            return {}
        try:
            data = json.loads(raw)
        except ValueError:
            return {}
        if not isinstance(data, dict) or data.get("version") != _RUNS_VERSION:
            return {}
        cells = data.get("cells")
        if not isinstance(cells, dict):
            return {}
        found: dict[str, KnownRun] = {}
        for token, record in cells.items():
            known = _known(record)
            if known is not None and isinstance(token, str) and _TOKEN.match(token):
                found[token] = known
        return found

    def _loaded(self) -> dict[str, KnownRun]:
        if self._cells is None:
            self._cells = self._read()
        return self._cells

    def get(self, token: str) -> KnownRun | None:
        """The cell recorded under ``token`` as one that runs, or ``None``."""
        return self._loaded().get(token)

    def note(self, token: str, name: str, duration: float, reason: str) -> None:
        """Record that the cell under ``token`` runs (written by the next :meth:`flush`)."""
        known = _known({"name": name, "duration": duration, "reason": reason})
        if known is None:
            return
        cells = self._loaded()
        if cells.get(token) == known:
            return
        cells[token] = known
        self._added[token] = known
        self._dropped.discard(token)
        if not self._at_exit:
            self._at_exit = True
            at_exit(self.flush)

    def forget(self, token: str) -> None:
        """Drop one cell: its next run decides again (full lookup)."""
        if self._loaded().pop(token, None) is not None or token in self._added:
            self._added.pop(token, None)
            self._dropped.add(token)

    def forget_name(self, name: str | None) -> None:
        """Drop every record of the cell ``name`` (all cells with ``None``): ``%persist clear``."""
        cells = self._loaded()
        if name is None:
            cells.clear()
            self._added.clear()
            self._dropped_all = True
        else:
            for token in [t for t, known in cells.items() if known.name == name]:
                self.forget(token)
            self._dropped_names.add(name)
        self.flush()

    @property
    def dirty(self) -> bool:
        """Whether changes wait for :meth:`flush`."""
        return bool(self._added or self._dropped or self._dropped_names or self._dropped_all)

    def flush_due(self) -> None:
        """:meth:`flush` if there is something to write and the last write is old enough."""
        if self.dirty and time.monotonic() - self._written >= RUNS_WRITE_EVERY:
            self.flush()

    def flush(self) -> None:
        """Write the changes, merged into what the file holds now; never raises."""
        if not self.dirty:
            return
        try:
            if not self.path.parent.is_dir():
                # No store here (not made yet, or removed): nothing to remember it by. Ask
                # again in a second, not after every cell.
                self._written = time.monotonic()
                return
            merged = {} if self._dropped_all else self._read()
            for token in self._dropped:
                merged.pop(token, None)
            if self._dropped_names:
                merged = {t: k for t, k in merged.items() if k.name not in self._dropped_names}
            merged.update(self._added)
            while len(merged) > _RUNS_MAX_CELLS:
                merged.pop(next(iter(merged)))
            payload = {
                "version": _RUNS_VERSION,
                "cells": {
                    t: {"name": k.name, "duration": k.duration, "reason": k.reason}
                    for t, k in merged.items()
                },
            }
            atomic_write(self.path, json.dumps(payload).encode(), durable=False)
        except Exception:
            return  # the index is only a shortcut: the cells take the full path next time
        self._added.clear()
        self._dropped.clear()
        self._dropped_names.clear()
        self._dropped_all = False
        self._written = time.monotonic()

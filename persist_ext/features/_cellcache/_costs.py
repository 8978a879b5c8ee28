"""Whether a cell is cheaper to run than to restore: what restores and stores cost here.

A ``%%persist`` cell is worth storing only when restoring it later is faster than running
it again, and when its run is not so cheap that storing it (fingerprints, pickles, four
signed writes) costs the notebook more than running it every time would. Both costs depend
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
"""

from __future__ import annotations

import statistics
import sys
from collections import deque
from typing import Any

from ..._format import format_duration

__all__ = [
    "STORE_SHARE",
    "CostModel",
    "over_budget",
    "rough_size",
    "run_instead",
    "slower_to_restore",
    "store_budget",
]

#: Priors for the fixed part of one restore and one store (seconds), before the session has
#: timed any: a hit on a local store reads one signed record and replays the outputs; a
#: miss pickles the values and writes values, outputs, manifest and use record.
RESTORE_PRIOR = 0.002
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

    Examples
    --------
    >>> costs = CostModel()
    >>> costs.restore_estimate(0) == RESTORE_PRIOR
    True
    >>> costs.observe_restore(0.010, 0)
    >>> round(costs.restore_estimate(10**9), 3)  # fixed part learned, plus 1 GB at 1 GB/s
    1.01
    """

    def __init__(self) -> None:
        self._restore: deque[float] = deque(maxlen=_KEPT)
        self._store: deque[float] = deque(maxlen=_KEPT)

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
            fixed = statistics.median(self._restore)
        elif self._store:
            fixed = max(RESTORE_PRIOR, RESTORE_PER_STORE * statistics.median(self._store))
        else:
            fixed = RESTORE_PRIOR
        return fixed + nbytes / READ_RATE

    def store_estimate(self, nbytes: int) -> float:
        """Seconds storing a run of ``nbytes`` is expected to take."""
        fixed = statistics.median(self._store) if self._store else STORE_PRIOR
        return fixed + nbytes / WRITE_RATE


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


def _value_size(value: Any) -> int:
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    usage = getattr(value, "memory_usage", None)
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(value, (pandas.DataFrame, pandas.Series)):
        try:
            used = usage(index=True) if callable(usage) else 0
            return int(used.sum() if hasattr(used, "sum") else used)
        except Exception:
            return 0
    try:
        return sys.getsizeof(value)
    except Exception:
        return 0


def run_instead(
    costs: CostModel, duration: float, nbytes: int, *, draws_unseeded: bool
) -> str | None:
    """Why a run of ``duration`` seconds storing ``nbytes`` should be run, not restored.

    ``None``: store it. A cell that drew random numbers from a generator it did not seed
    is stored whatever its cost (running it again would change what later cells read).
    """
    if draws_unseeded:
        return None
    restore = costs.restore_estimate(nbytes)
    if duration < restore:
        return (
            f"it runs in {format_duration(duration)}, faster than restoring it "
            f"(about {format_duration(restore)})"
        )
    store = costs.store_estimate(nbytes)
    if duration < STORE_SHARE * store:
        return (
            f"it runs in {format_duration(duration)}, less than storing it costs "
            f"(about {format_duration(store)})"
        )
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

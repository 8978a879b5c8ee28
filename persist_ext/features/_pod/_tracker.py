"""Tracker / ProgressTracker: a POD of task records that resumes long loops after a crash.

Each value is a dict with ``_tries`` (attempts so far), ``_done`` and ``_aborted`` — the
*bookkeeping* — plus any fields you attach. The bookkeeping is never lost because of a user's
field (issue #12): a record whose fields are not all JSON is saved without the bad fields
(each keeps its last saved value), the marks always reach disk, and what was left out is said
on stderr. Marks also reach disk within ``sync_after`` seconds (1 s by default) in the
background, so a hard kill loses at most the last second of marks.

Counters are kept incrementally (a status cache refreshed only for the keys touched since the
last count), so :meth:`ProgressTracker.progress` stays cheap inside a loop over a million
tasks and a live progress bar can poll it ten times a second.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from ..._errors import DuplicateKeyError, PODError
from .._progress import ProgressSnapshot, display_progress, snapshot_html, snapshot_text
from ._dict import DEFAULT_FILE_SIZE, DEFAULT_SYNC_AT, PersistentOrderedDict, _pairs
from ._files import describe_unstorable, encode_value
from ._open import check_count
from ._state import PODState
from ._tastypy import DEFAULT_PROGRESS_TRACKER_MAPPING

__all__ = ["ProgressTracker", "Tracker"]

_NEW = DEFAULT_PROGRESS_TRACKER_MAPPING
DEFAULT_SYNC_AFTER = 1.0


def encode_record(key: Any, value: Any, old_line: str | None) -> tuple[str | None, str | None]:
    """Encode a task record, keeping its bookkeeping apart from the user's fields.

    The whole record when it is JSON. Otherwise every field that is JSON is saved — always
    ``_tries``, ``_done`` and ``_aborted`` — and each field that is not keeps its last saved
    value (or stays unsaved); the problem names those fields.
    """
    try:
        return encode_value(key, value), None
    except PODError as whole:
        if not isinstance(value, dict):
            return None, str(whole)
    old: dict[str, Any] = {}
    if old_line is not None:
        try:
            saved = json.loads(old_line)[1]
            old = saved if isinstance(saved, dict) else {}
        except (ValueError, IndexError, TypeError):
            old = {}
    kept: dict[Any, Any] = {}
    reasons = []
    for field, item in value.items():
        try:
            encode_value(key, {field: item})
        except PODError:
            reasons.append(describe_unstorable({field: item}, f"tracker[{key!r}]"))
            name = field if isinstance(field, str) else json.dumps(field)
            if name in old:
                kept[name] = old[name]
            continue
        kept[field] = item
    try:
        text = encode_value(key, kept)
    except PODError as exc:  # cannot happen for fields that encoded one by one
        return None, str(exc)
    return text, (
        f"task {key!r}: {'; '.join(reasons)}: not saved (a field keeps its last saved value, "
        "if any). Its _done/_tries/_aborted marks and its other fields were saved. Store "
        "JSON in task records, e.g. tracker[key]['result'] = vars(result) or str(result)"
    )


def _status(value: Any) -> tuple[bool, bool, int]:
    if not isinstance(value, dict):
        return False, False, 0
    tries = value.get("_tries", 0)
    return bool(value.get("_done")), bool(value.get("_aborted")), tries if type(tries) is int else 0


class _Counts:
    """Status cache shared by every tracker handle on one path (lives in the POD state)."""

    def __init__(self, state: PODState) -> None:
        self.state = state
        self.status: dict[Any, tuple[bool, bool, int]] | None = None
        self.stale: set[Any] = set()
        self.done = self.aborted = self.tried = 0
        self.open_tries: Counter[int] = Counter()  # tries of keys neither done nor aborted
        self.observers: list[Callable[[Any], None]] = []
        self.started: float | None = None
        self.changed: float | None = None  # when this session last changed a status
        self.baseline = 0  # settled count when this session's first change happened
        state.watchers.append(self.touch)

    def touch(self, key: Any) -> None:
        if key is None:
            self.status = None
        elif self.status is not None:
            self.stale.add(key)

    def _apply(self, entry: tuple[bool, bool, int], sign: int) -> None:
        done, aborted, tries = entry
        self.done += sign * done
        self.aborted += sign * (aborted and not done)
        self.tried += sign * (tries > 0)
        if not done and not aborted:
            self.open_tries[tries] += sign

    def refresh(self) -> None:
        state = self.state
        if self.status is None:
            self.done = self.aborted = self.tried = 0
            self.open_tries = Counter()
            self.status = {}
            self.stale = set(state.iter_keys())
        for key in self.stale:
            old = self.status.pop(key, None)
            if old is not None:
                self._apply(old, -1)
            if state.contains(key):
                new = _status(state.get(key))
                self.status[key] = new
                self._apply(new, +1)
        self.stale = set()

    def exhausted(self, max_tries: int) -> int:
        if max_tries < 1:
            return 0
        return sum(n for tries, n in self.open_tries.items() if tries >= max_tries)


class ProgressTracker(PersistentOrderedDict):
    """A POD whose values record tasks: how often tried, done, aborted; resumable loops.

    Parameters
    ----------
    path
        Directory of the underlying POD.
    max_tries
        :meth:`try_it` refuses a task already tried this many times (0 = no limit).
    init, file_size, sync_at, durable
        As for :class:`~persist_ext.POD`.
    title
        Name shown by progress displays (default: the directory name).

    Examples
    --------
    >>> import tempfile
    >>> tracker = Tracker(tempfile.mkdtemp(), max_tries=2)
    >>> for name in ["a", "b", "a", "a"]:
    ...     if not tracker.try_it(name):
    ...         continue
    ...     if name == "b":
    ...         tracker.mark_done(name)
    ...         tracker[name]["result"] = 42
    >>> tracker.num_done(), tracker.tries("a"), tracker.check("b"), tracker.check("zzz")
    (1, 2, True, False)
    >>> list(tracker.todo_keys())
    []
    >>> tracker.close()
    """

    def __init__(
        self,
        path: Any,
        max_tries: int = 0,
        init: Mapping[Any, Any] | Iterable[tuple[Any, Any]] | None = None,
        gzipped: bool | None = None,
        file_size: int = DEFAULT_FILE_SIZE,
        sync_at: int = DEFAULT_SYNC_AT,
        clone: bool = True,
        *,
        durable: bool = False,
        sync_after: float | None = DEFAULT_SYNC_AFTER,
        title: str | None = None,
    ) -> None:
        check_count("max_tries (0 = unlimited)", max_tries, minimum=0)
        if title is not None and not isinstance(title, str):
            raise PODError(f"title must be a str or None, not {type(title).__name__}")
        super().__init__(
            path,
            gzipped=gzipped,
            file_size=file_size,
            sync_at=sync_at,
            clone=clone,
            durable=durable,
            sync_after=sync_after,
        )
        self.max_tries = max_tries
        self.title = title or self.path.name
        state = self._state
        with state.lock:
            state.encoder = encode_record
            if "tracker" not in state.extras:
                state.extras["tracker"] = _Counts(state)
        self._counts: _Counts = state.extras["tracker"]
        if init:
            self.update(init)

    # --- records --------------------------------------------------------------------------

    def __setitem__(self, key: Any, value: Any) -> None:
        """Set a task record; bookkeeping fields it leaves out keep their current values.

        ``tracker[key] = {"result": 42}`` keeps the task's ``_done``/``_tries``/``_aborted``
        (new tasks get the defaults), so replacing a record never loses its marks.
        """
        if not isinstance(value, Mapping):
            raise PODError(
                f"tracker values are task records (dicts), not {type(value).__name__}: "
                f"tracker[{key!r}] = {value!r}; store it in a field, e.g. "
                f"tracker[{key!r}]['value'] = ..."
            )
        with self._state.lock:
            record = dict(value)
            current = self.peek(key) if key in self else {}
            base = current if isinstance(current, dict) else {}
            for field, default in _NEW:
                record.setdefault(field, base.get(field, default))
            super().__setitem__(key, record)
            self._changed()

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Merge fields into task records, adding tasks that are new (tastypy's semantics).

        ``update({"a": {"result": 1}}, [("b", {...})], c={...})``: for each key, :meth:`add`
        it if absent, then ``dict.update`` its record with the given fields. ``update(key)``
        (one str or int) marks that key dirty, as for a POD.
        """
        if len(args) == 1 and not kwargs and type(args[0]) in (str, int):
            self.mark_dirty(args[0])
            return
        with self._state.lock:
            for key, fields in _pairs(args, kwargs):
                if not isinstance(fields, Mapping):
                    raise PODError(
                        f"Tracker.update() merges dicts of fields into task records; the "
                        f"value for {key!r} is a {type(fields).__name__}: {fields!r}"
                    )
                merged = dict(self.peek(key)) if key in self else {}
                merged.update(fields)
                self[key] = merged

    def _store_converted(self, key: Any, value: Any) -> None:
        # A plain POD converted into a tracker: wrap values as tastypy's convert_to_tracker did.
        self[key] = value if isinstance(value, Mapping) else {"val": value}

    # --- adding tasks ---------------------------------------------------------------------

    def add(self, key: Any) -> None:
        """Track a new task: not done, not aborted, 0 tries.

        Raises :class:`~persist_ext.DuplicateKeyError` if it is already tracked.
        """
        with self._state.lock:
            if key in self:
                raise DuplicateKeyError(
                    f"task {key!r} is already tracked; use add_if_absent() to skip known tasks"
                )
            self[key] = dict(_NEW)

    def add_if_absent(self, key: Any) -> None:
        """Like :meth:`add`, but a task already tracked is left as it is."""
        with self._state.lock:
            if key not in self:
                self.add(key)

    def add_many(self, keys: Iterable[Any]) -> None:
        """:meth:`add` each key."""
        for key in keys:
            self.add(key)

    def add_many_if_absent(self, keys: Iterable[Any]) -> None:
        """:meth:`add_if_absent` each key."""
        for key in keys:
            self.add_if_absent(key)

    # --- status ---------------------------------------------------------------------------

    def _record(self, key: Any) -> dict[str, Any]:
        # Status reads must not dirty the key (a million check() calls would rewrite all).
        try:
            value = self.peek(key)
        except KeyError:
            raise KeyError(self._not_tracked(key)) from None
        if not isinstance(value, dict):
            raise PODError(
                f"tracker value for {key!r} is a {type(value).__name__}, not a task record "
                "dict; assign dicts (or use add()) in a Tracker"
            )
        return value

    def _not_tracked(self, key: Any) -> str:
        # 3 and "3" are different keys (JSON keeps their type): name the one that is tracked.
        other: Any = None
        if isinstance(key, int) and not isinstance(key, bool):
            other = str(key)
        elif isinstance(key, str) and key.lstrip("-").isdecimal():
            other = int(key)
        hint = (
            f" ({other!r} is: str and int keys differ)"
            if other is not None and other in self
            else ""
        )
        return (
            f"task {key!r} is not tracked{hint}; add it with tracker.add({key!r}), or call "
            f"tracker.try_it({key!r}), which adds it"
        )

    def check(self, key: Any) -> bool:
        """Whether ``key`` is done (False for an unknown key)."""
        return key in self and bool(self._record(key).get("_done"))

    done = check

    def aborted(self, key: Any) -> bool:
        """Whether ``key`` was aborted."""
        return bool(self._record(key).get("_aborted"))

    def tries(self, key: Any) -> int:
        """How many times ``key`` has been tried."""
        return int(self._record(key).get("_tries", 0))

    def should_do(self, key: Any, allow_aborted: bool = False) -> bool:
        """Not done, not aborted (unless ``allow_aborted``) and tried fewer than ``max_tries``."""
        record = self._record(key)
        return (
            not record.get("_done")
            and (self.max_tries < 1 or int(record.get("_tries", 0)) < self.max_tries)
            and (allow_aborted or not record.get("_aborted"))
        )

    def should_do_add(self, key: Any, allow_aborted: bool = False) -> bool:
        """Add ``key`` if new, then return :meth:`should_do` (no try is counted)."""
        with self._state.lock:
            self.add_if_absent(key)
            return self.should_do(key, allow_aborted)

    def try_it(self, key: Any, allow_aborted: bool = False) -> bool:
        """Add ``key`` if new; if it should be done, count a try and return True.

        Returns False, without counting a try, for a task that is done, aborted, or already
        tried ``max_tries`` times.
        """
        with self._state.lock:
            if key not in self:
                self.add(key)
            if not self.should_do(key, allow_aborted):
                return False
            self.increment_tries(key)
            return True

    def _set(self, key: Any, field: str, value: Any) -> None:
        state = self._state
        with state.lock:
            state.check_writable()
            record = self._record(key)  # KeyError / PODError before anything changes
            self._start_session()
            self._maybe_sync()  # what is due goes first, so this change stays dirty
            record[field] = value
            # Not "handed out": the tracker made this change itself, nothing follows it.
            state.mark(key)
            state.notify(key)
            self._changed()

    def mark_done(self, key: Any) -> None:
        """Mark ``key`` done."""
        self._set(key, "_done", True)

    def mark_not_done(self, key: Any) -> None:
        """Mark ``key`` not done."""
        self._set(key, "_done", False)

    def abort(self, key: Any) -> None:
        """Mark ``key`` aborted: :meth:`try_it` skips it until :meth:`unabort`."""
        self._set(key, "_aborted", True)

    def unabort(self, key: Any) -> None:
        """Clear the aborted mark of ``key``."""
        self._set(key, "_aborted", False)

    def increment_tries(self, key: Any) -> None:
        """Count one more try of ``key``."""
        self._set(key, "_tries", self.tries(key) + 1)

    def decrement_tries(self, key: Any) -> None:
        """Count one try fewer of ``key`` (not below 0)."""
        self._set(key, "_tries", max(0, self.tries(key) - 1))

    def reset_tries(self, key: Any) -> None:
        """Set the tries of ``key`` back to 0."""
        self._set(key, "_tries", 0)

    # --- iterators ------------------------------------------------------------------------

    def todo_keys(self, allow_aborted: bool = False) -> Iterator[Any]:
        """Keys still to do (see :meth:`should_do`), in insertion order."""
        for key in list(self):
            if key in self and self.should_do(key, allow_aborted):
                yield key

    def todo_items(self, allow_aborted: bool = False) -> Iterator[tuple[Any, Any]]:
        """``(key, record)`` for the keys still to do (records read through ``pod[key]``)."""
        for key in self.todo_keys(allow_aborted):
            yield key, self[key]

    def todo_values(self, allow_aborted: bool = False) -> Iterator[Any]:
        """Records of the keys still to do."""
        for key in self.todo_keys(allow_aborted):
            yield self[key]

    def try_keys(self, allow_aborted: bool = False) -> Iterator[Any]:
        """Like :meth:`todo_keys`, counting a try for each key yielded."""
        for key in self.todo_keys(allow_aborted):
            self.increment_tries(key)
            yield key

    # --- counters -------------------------------------------------------------------------

    def _counted(self) -> _Counts:
        with self._state.lock:
            self._state.check_open()
            self._counts.refresh()
            return self._counts

    def num_done(self) -> int:
        """Tasks done. (``len(tracker)`` is the number of tasks.)"""
        return self._counted().done

    def num_tried(self) -> int:
        """Tasks tried at least once."""
        return self._counted().tried

    def num_aborted(self) -> int:
        """Tasks aborted and not done."""
        return self._counted().aborted

    def num_failed(self) -> int:
        """Tasks given up on: aborted, or tried ``max_tries`` times without being done."""
        counts = self._counted()
        return counts.aborted + counts.exhausted(self.max_tries)

    def num_todo(self) -> int:
        """Tasks neither done nor given up on."""
        return len(self) - self.num_done() - self.num_failed()

    def _fraction(self, n: int) -> float:
        return n / len(self) if len(self) else 0.0

    def fraction_done(self) -> float:
        """Done share of all tasks, 0.0 to 1.0 (0.0 when there are none)."""
        return self._fraction(self.num_done())

    def fraction_tried(self) -> float:
        """Tried share of all tasks."""
        return self._fraction(self.num_tried())

    def fraction_aborted(self) -> float:
        """Aborted share of all tasks."""
        return self._fraction(self.num_aborted())

    @staticmethod
    def percent(fraction: float, decimals: int = 2) -> str:
        """Format a fraction as a percentage string: ``percent(0.347) == '34.70 %'``."""
        return f"{100 * fraction:.{decimals}f} %"

    def percent_done(self, decimals: int = 2) -> str:
        """E.g. ``'34.70 %'``."""
        return self.percent(self.fraction_done(), decimals)

    def percent_not_done(self, decimals: int = 2) -> str:
        """Share of tasks not done, e.g. ``'65.30 %'``."""
        return self.percent(1 - self.fraction_done() if len(self) else 0.0, decimals)

    def percent_tried(self, decimals: int = 2) -> str:
        """Share of tasks tried at least once."""
        return self.percent(self.fraction_tried(), decimals)

    def percent_aborted(self, decimals: int = 2) -> str:
        """Share of tasks aborted."""
        return self.percent(self.fraction_aborted(), decimals)

    # --- progress display -----------------------------------------------------------------

    def add_observer(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(tracker)`` after every status change (used by live displays)."""
        self._counts.observers.append(callback)

    def remove_observer(self, callback: Callable[[Any], None]) -> None:
        """Stop calling ``callback`` (no error if it was not registered)."""
        if callback in self._counts.observers:
            self._counts.observers.remove(callback)

    def _start_session(self) -> None:
        counts = self._counts
        if counts.started is None:
            counts.refresh()
            counts.baseline = counts.done + counts.aborted + counts.exhausted(self.max_tries)
            counts.started = time.time()

    def _changed(self) -> None:
        self._counts.changed = time.time()
        for callback in list(self._counts.observers):
            callback(self)

    def progress(self) -> ProgressSnapshot:
        """Counts now: done, failed (aborted or out of tries), to do, with rate and ETA."""
        counts = self._counted()
        total = len(self)
        failed = counts.aborted + counts.exhausted(self.max_tries)
        settled = counts.done + failed
        finished = total > 0 and settled == total
        # Tasks settled by an earlier run do not count towards this session's rate, and a
        # finished tracker's moment is its last change, however late it is read.
        updated = counts.changed if finished and counts.changed is not None else time.time()
        return ProgressSnapshot(
            title=self.title,
            total=total,
            done=counts.done,
            failed=failed,
            todo=total - settled,
            started=counts.started,
            updated=updated,
            finished=finished,
            resumed=counts.baseline if counts.started is not None else settled,
            note=f"{counts.tried} tried" + (f", max_tries={self.max_tries}" * bool(self.max_tries)),
        )

    def __repr__(self) -> str:
        if self.closed:
            return super().__repr__()
        return snapshot_text(self.progress())

    def _repr_html_(self) -> str:
        return snapshot_html(self.progress())

    def _ipython_display_(self) -> None:
        display_progress(self)


Tracker = ProgressTracker

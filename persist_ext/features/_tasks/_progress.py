"""The progress model of a task group: counts, rate, ETA, rows, marker levels. Draws nothing.

It reads the store, so it is current whichever process or machine runs the tasks (workers
never send widget messages). It follows the group's journal: each read applies only the
pages written since the previous one. Renderers (text here, widgets in the interface
layer) consume the :class:`~persist_ext.features._progress.ProgressSnapshot` it returns.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from .._progress import ProgressSnapshot, snapshot_text
from ._journal import Journal
from ._markers import level_completion
from ._model import TaskInstance, TaskStatus, is_settled, split_instance_name

if TYPE_CHECKING:
    from ._group import TaskGroup

__all__ = ["TaskProgress"]

_FINAL = frozenset({TaskStatus.FINISHED, TaskStatus.SKIPPED, TaskStatus.ABANDONED})
_ROW_ORDER = {
    TaskStatus.RUNNING: 0,
    TaskStatus.FAILED: 1,
    TaskStatus.SCHEDULED: 2,
    TaskStatus.UNSTARTED: 3,
}


class TaskProgress:
    """Implements ``ProgressSource`` for a :class:`TaskGroup`.

    ``max_rows`` bounds the per-task rows in a snapshot (running and failed tasks first).

    Examples
    --------
    >>> from persist_ext.storage._memory import MemoryStore
    >>> from persist_ext.features._tasks import TaskGroup
    >>> group = TaskGroup("p", MemoryStore())
    >>> _ = group.map(abs, [-1, -2]); _ = group.run().wait()
    >>> snap = TaskProgress(group).progress()
    >>> (snap.total, snap.done, snap.finished, snap.levels)
    (2, 2, True, ((2, 2), (1, 1)))
    >>> group.close()
    """

    def __init__(self, group: TaskGroup, *, max_rows: int = 200) -> None:
        self.group = group
        self.max_rows = max_rows
        # A reader of its own: polling from a widget thread never touches the session.
        self._journal = Journal(group.store, group.name)
        self._records: dict[str, TaskInstance] = {}
        self._lock = threading.Lock()

    def _refresh(self) -> dict[str, TaskInstance]:
        with self._lock:
            before = self._journal.seq
            changed = self._journal.refresh()
            if self._journal.seq < before or not self._journal.seq:
                self._records = {}  # read from scratch (compacted)
            for name in changed:
                self._records[name] = TaskInstance.from_record(self._journal.records[name])
            return dict(self._records)

    def _current(self, records: dict[str, TaskInstance]) -> dict[str, TaskInstance]:
        latest: dict[str, tuple[int, TaskInstance]] = {}
        for name, instance in records.items():
            _, number = split_instance_name(name)
            if instance.task not in latest or number > latest[instance.task][0]:
                latest[instance.task] = (number, instance)
        return {task: pair[1] for task, pair in latest.items()}

    def counts(self) -> dict[str, int]:
        """Instances per status, over every instance (replayed ones included)."""
        counts = {status.value: 0 for status in TaskStatus}
        for instance in self._refresh().values():
            counts[instance.status.value] += 1
        return counts

    def progress(self) -> ProgressSnapshot:
        """A snapshot: current instance per task, counted as done/failed/running/to do."""
        records = self._refresh()
        current = self._current(records)
        declared = set(self.group.declared_keys()) | set(current)
        max_tries = self.group.max_tries
        done = failed = running = 0
        by_status: dict[str, int] = {}
        starts = [i.started for i in current.values() if i.started is not None]
        now = time.time()
        for instance in current.values():
            by_status[instance.status.value] = by_status.get(instance.status.value, 0) + 1
            if instance.status in _FINAL:
                done += 1
            elif is_settled(instance.status, instance.tries, max_tries):
                failed += 1  # failed with every try used
            elif instance.status is TaskStatus.RUNNING:
                running += 1
        total = len(declared)
        todo = total - done - failed - running
        rows = sorted(
            (i for i in current.values() if i.status not in _FINAL),
            key=lambda i: (_ROW_ORDER.get(i.status, 9), i.name),
        )[: self.max_rows]
        levels: tuple[tuple[int, int], ...] = ()
        tree = self.group.state.tree
        if tree.load() and tree.root_id is not None:
            levels = level_completion(self.group.store, tree.root_id, len(tree.task_keys))
        note = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items()))
        finished = total > 0 and done + failed == total and not self.group.running
        ends = [i.ended for i in current.values() if i.ended is not None]
        return ProgressSnapshot(
            title=self.group.name,
            total=total,
            done=done,
            failed=failed,
            running=running,
            todo=max(todo, 0),
            started=min(starts) if starts else None,
            # A finished group's moment is when its last task settled, whenever it is read;
            # its rate is over the time its tasks ran, not the days between two runs.
            updated=max(ends) if finished and ends else now,
            finished=finished,
            busy=_busy_seconds(_spans(current.values(), now)),
            rows=tuple(_row(i) for i in rows),
            levels=levels,
            note=note,
        )

    def text(self) -> str:
        """Plain text: the progress line, then one line per marker level and unsettled task."""
        snap = self.progress()
        lines = [f"<TaskGroup {snap_line(snap)}>"]
        for depth, (done, total) in enumerate(snap.levels):
            label = "tasks" if depth == 0 else ("root" if depth == len(snap.levels) - 1 else "")
            lines.append(f"  level {depth} {label:5} {done}/{total} done".rstrip())
        for row in snap.rows[:10]:
            error = f"  {row['error']}" if row["error"] else ""
            lines.append(f"  {row['instance']}: {row['status']} (tries {row['tries']}){error}")
        if len(snap.rows) > 10:
            lines.append(f"  ... {len(snap.rows) - 10} more")
        return "\n".join(lines)


def snap_line(snap: ProgressSnapshot) -> str:
    """The one-line text form of a snapshot."""
    return snapshot_text(snap)


def _row(instance: TaskInstance) -> dict[str, Any]:
    return {
        "task": instance.task,
        "instance": instance.name,
        "status": instance.status.value,
        "tries": instance.tries,
        "started": instance.started,
        "ended": instance.ended,
        "duration": instance.duration,
        "error": instance.error.splitlines()[0][:120] if instance.error else "",
        "output": _last_line(instance.stdout),
    }


def _last_line(text: str) -> str:
    """The last non-empty line of captured stdout, at most 120 characters."""
    for line in reversed(text.splitlines()):
        if line.strip():
            return line.strip()[:120]
    return ""


def _spans(instances: Any, now: float) -> list[tuple[float, float]]:
    """``(started, ended)`` of each instance that started. A running one runs until ``now``;
    one that started and never ended (its process died) counts as no time at all."""
    spans = []
    for i in instances:
        if i.started is None:
            continue
        if i.ended is not None:
            end = i.ended
        else:
            end = now if i.status is TaskStatus.RUNNING else i.started
        spans.append((i.started, end))
    return spans


def _busy_seconds(spans: list[tuple[float, float]]) -> float | None:
    """Seconds covered by the union of ``spans`` (when at least one task ran); None if empty.

    >>> _busy_seconds([(0.0, 2.0), (1.0, 3.0), (100.0, 101.0)])
    4.0
    """
    if not spans:
        return None
    spans = sorted(spans)
    total = 0.0
    start, end = spans[0]
    for s, e in spans[1:]:
        if s > end:
            total += end - start
            start, end = s, e
        elif e > end:
            end = e
    return total + (end - start)

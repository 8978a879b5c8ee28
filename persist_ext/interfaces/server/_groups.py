"""Task groups as the server sees them: read from a store's index, no kernel involved.

Everything here comes from JSON headers (never from a decoded value), so it works on a
store whose kernel died, or on another machine's shared store:

- the journal pages ``tasks/<group>/log/<seq>`` carry an outline of each instance record in
  their header (``meta["r"]``, see ``features/_tasks/_journal.page_outline``); applied in
  key order they give every instance's latest status, tries, times, last output line and
  error line;
- the marker tree's ``...@done`` entries (one per settled internal node) give its levels,
  and ``...@reached/...`` entries when the completion callback fired (their creation time);
- the lease ``tasks/<group>`` (``storage/_leases``) tells whether a process runs the group.

The store keys of a group come from the task engine's key module
(``features/_tasks/_keys.py``) through :func:`group_keys`.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...features._tasks._keys import (
    CALLBACK_POINT,
    GROUPS_PREFIX,
    ROOT_NODE,
    configs_glob,
    group_of_configs_key,
    internal_level,
    is_reached_flag,
    split_group_marker,
)
from ...features._tasks._keys import group_keys as task_group_keys
from ...storage._leases import is_held
from ._index import index_signature
from ._stores import read_headers, read_keys

__all__ = ["GroupState", "group_keys", "list_groups", "read_group"]

# The statuses of features/_tasks/_model.TaskStatus, as stored.
_DONE = frozenset({"finished", "skipped", "abandoned"})
_TODO = frozenset({"unstarted", "scheduled"})
_ROW_ORDER = {"running": 0, "failed": 1, "scheduled": 2, "unstarted": 3}
_INSTANCE = re.compile(r"^(?P<task>.*)#(?P<n>\d+)$")


def group_keys(group: str) -> dict[str, str]:
    """The store keys (and prefixes) of task group ``group`` that the server reads.

    ``pages``: journal pages (prefix); ``markers``: marker tree entries (prefix);
    ``lease``: the lease name a running process holds. Spelled by the task engine's own
    key module (``features/_tasks/_keys.py``); an invalid name is a ``TaskError``.
    """
    keys = task_group_keys(group)
    return {
        "root": keys.prefix,
        "pages": keys.log_prefix,
        "markers": keys.markers_prefix,
        "lease": keys.lease,
    }


@dataclass
class _Journal:
    """Instance outlines of one group, applied page by page (cached between requests)."""

    last_page: str | None = None
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    signature: tuple[int, ...] = ()


_CACHE: dict[tuple[str, str], _Journal] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 64


def _journal(store: Path, group: str) -> _Journal:
    """The group's instance outlines, reading only pages written since the last call."""
    cache_key = (str(store), group)
    signature = index_signature(store)
    with _CACHE_LOCK:
        journal = _CACHE.get(cache_key)
    if journal is not None and journal.signature == signature:
        return journal
    prefix = group_keys(group)["pages"]
    fresh = journal is None
    if journal is not None:
        # Pages are appended in key order; a compaction removes older ones and writes a
        # newer one holding everything. A missing last page means: read all again.
        still_there = journal.last_page is None or read_headers(store, [journal.last_page])
        if not still_there:
            fresh = True
    if fresh:
        journal = _Journal()
    assert journal is not None
    pages = read_headers(store, prefix=prefix, after=journal.last_page)
    records = dict(journal.records)
    for page in pages:
        outline = page.get("meta", {}).get("r")
        if isinstance(outline, dict):
            for name, record in outline.items():
                if isinstance(record, dict):
                    records[str(name)] = record
    updated = _Journal(pages[-1]["key"] if pages else journal.last_page, records, signature)
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[cache_key] = updated
    return updated


def _current(records: dict[str, dict[str, Any]]) -> dict[str, tuple[str, dict[str, Any]]]:
    """The latest instance of each task (replays make ``task#1``, ``task#2``, ...)."""
    latest: dict[str, tuple[int, str, dict[str, Any]]] = {}
    for name, record in records.items():
        match = _INSTANCE.match(name)
        number = int(match["n"]) if match else 0
        task = str(record.get("task") or (match["task"] if match else name))
        if task not in latest or number > latest[task][0]:
            latest[task] = (number, name, record)
    return {task: (name, record) for task, (_, name, record) in latest.items()}


@dataclass
class GroupState:
    """What the panel shows of one group (see :meth:`to_json`)."""

    name: str
    counts: dict[str, int]
    total: int
    started: float | None
    updated: float | None
    running_process: bool
    rows: list[dict[str, Any]]
    levels: list[dict[str, Any]]
    completed: float | None
    callback: float | None
    version: str
    callback_finished: float | None = None
    callback_attempts: int = 0

    def rate(self) -> float | None:
        """Tasks settled per second since the first start."""
        settled = self.counts["done"] + self.counts["failed"]
        if self.started is None or not settled:
            return None
        end = time.time() if self.running_process else (self.updated or time.time())
        elapsed = max(end - self.started, 1e-6)
        return settled / elapsed

    def to_json(self, *, offset: int = 0, limit: int | None = None) -> dict[str, Any]:
        """The reply of ``GET /persist-ext/api/stores/group`` (rows paged)."""
        rate = self.rate()
        left = self.counts["running"] + self.counts["todo"]
        rows = self.rows[offset:] if limit is None else self.rows[offset : offset + limit]
        return {
            "name": self.name,
            "total": self.total,
            "counts": self.counts,
            "started": self.started,
            "updated": self.updated,
            "running": self.running_process,
            "state": self.state(),
            "rate": rate,
            "eta": (left / rate) if rate and left and self.running_process else None,
            "levels": self.levels,
            "completed": self.completed,
            "callback": self.callback,
            "callback_finished": self.callback_finished,
            "callback_attempts": self.callback_attempts,
            "version": self.version,
            "tasks": rows,
            "tasks_total": len(self.rows),
            "offset": offset,
        }

    def state(self) -> str:
        """``running``, ``interrupted`` (records say running, no process holds it), ``done``,
        ``failed`` (settled with failures) or ``idle``."""
        if self.running_process:
            return "running"
        if self.counts["running"]:
            return "interrupted"
        if self.total and self.counts["todo"] == 0:
            return "failed" if self.counts["failed"] else "done"
        return "idle"


def read_group(store: Path, group: str, *, status: str = "") -> GroupState:
    """The state of ``group`` in ``store``, from headers only; ``status`` filters the rows."""
    keys = group_keys(group)
    journal = _journal(store, group)
    current = _current(journal.records)
    counts = {"done": 0, "failed": 0, "running": 0, "todo": 0}
    rows: list[dict[str, Any]] = []
    starts: list[float] = []
    ends: list[float] = []
    for task, (name, record) in current.items():
        state = str(record.get("status", ""))
        if state in _DONE:
            counts["done"] += 1
        elif state == "failed":
            counts["failed"] += 1
        elif state == "running":
            counts["running"] += 1
        elif state != "replayed":
            counts["todo"] += 1
        started, ended = record.get("started"), record.get("ended")
        if isinstance(started, (int, float)):
            starts.append(float(started))
        if isinstance(ended, (int, float)):
            ends.append(float(ended))
        if status and state != status:
            continue
        rows.append(
            {
                "task": task,
                "instance": name,
                "status": state,
                "tries": record.get("tries", 0),
                "started": started,
                "ended": ended,
                "duration": (ended - started)
                if isinstance(started, (int, float)) and isinstance(ended, (int, float))
                else None,
                "output": str(record.get("output", "")),
                "error": str(record.get("error", "")),
            }
        )
    rows.sort(key=lambda row: (_ROW_ORDER.get(row["status"], 9), row["task"]))
    tree = _markers(store, keys["markers"])
    levels, completed, callback = tree.levels, tree.completed, tree.claimed
    running = is_held(store, keys["lease"])
    version = f"{journal.last_page or ''}|{len(journal.records)}|{int(running)}|{len(levels)}"
    version += f"|{completed}|{callback}|{tree.finished}|{sum(lv['done'] for lv in levels)}"
    return GroupState(
        name=group,
        counts=counts,
        total=len(current),
        started=min(starts) if starts else None,
        updated=max(ends) if ends else None,
        running_process=running,
        rows=rows,
        levels=levels,
        completed=completed,
        callback=callback,
        version=version,
        callback_finished=tree.finished,
        callback_attempts=tree.attempts,
    )


#: Settled nodes listed per level (the count covers all of them).
MAX_LEVEL_NODES = 200
_CLAIM = re.compile(rf"^{re.escape(CALLBACK_POINT)}(?:-(\d+))?$")


@dataclass
class _Tree:
    """What the marker entries' headers tell of the newest tree of a group."""

    levels: list[dict[str, Any]]
    completed: float | None
    claimed: float | None  # when the completion callback was first claimed (it fired)
    finished: float | None  # when it returned (or raised): it is never called again
    attempts: int  # claims: more than one means an owner died during the callback


def _markers(store: Path, prefix: str) -> _Tree:
    """Settled internal nodes level by level (index and time) of the newest tree, when the
    root settled, and the completion callback's claims and end."""
    entries = read_headers(store, prefix=prefix)
    by_gen: dict[int, dict[int, list[tuple[int, float]]]] = {}
    root_done: dict[int, float] = {}
    claims: dict[int, list[float]] = {}
    finished: dict[int, float] = {}
    for entry in entries:
        # The layout below the markers prefix is the task engine's (_keys.py).
        parsed = split_group_marker(entry["key"][len(prefix) :])
        if parsed is None:
            continue
        gen, node, flag = parsed
        if flag == "done":
            level = internal_level(node)
            if node == ROOT_NODE:
                root_done[gen] = entry["created"]
            elif level is not None:
                index = int(node.rpartition(".")[2])
                by_gen.setdefault(gen, {}).setdefault(level, []).append((index, entry["created"]))
        elif is_reached_flag(flag) and node == ROOT_NODE:
            point = flag.partition("/")[2]
            if point == f"{CALLBACK_POINT}-done":
                finished[gen] = entry["created"]
            elif _CLAIM.match(point):
                claims.setdefault(gen, []).append(entry["created"])
    gens = set(by_gen) | set(root_done) | set(claims) | set(finished)
    if not gens:
        return _Tree([], None, None, None, 0)
    gen = max(gens)
    levels = []
    for level, nodes in sorted(by_gen.get(gen, {}).items()):
        nodes.sort()
        levels.append(
            {
                "level": level,
                "done": len(nodes),
                "nodes": [
                    {"node": f"n{level}.{index}", "index": index, "done": when}
                    for index, when in nodes[:MAX_LEVEL_NODES]
                ],
            }
        )
    times = claims.get(gen, [])
    return _Tree(
        levels, root_done.get(gen), min(times) if times else None, finished.get(gen), len(times)
    )


def list_groups(store: Path) -> list[dict[str, Any]]:
    """Every group of ``store`` with its counts and state (no task rows)."""
    names = sorted(
        name
        for key in read_keys(store, prefix=GROUPS_PREFIX, glob=configs_glob())
        if (name := group_of_configs_key(key)) is not None
    )
    groups = []
    for name in names:
        state = read_group(store, name)
        reply = state.to_json(limit=0)
        reply.pop("tasks")
        groups.append(reply)
    return groups

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
from ...features._tasks._shape import level_counts
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
    ``lease``: the lease name a running process holds; ``tree``: the current tree's record.
    Spelled by the task engine's own key module (``features/_tasks/_keys.py``); an invalid
    name is a ``TaskError``.
    """
    keys = task_group_keys(group)
    return {
        "root": keys.prefix,
        "pages": keys.log_prefix,
        "markers": keys.markers_prefix,
        "lease": keys.lease,
        "tree": keys.tree,
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


#: Shortest span a rate (and an ETA) is computed over.
MIN_RATE_SECONDS = 1.0


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
    callback_owner: dict[str, Any] | None = None

    def rate(self) -> float | None:
        """Tasks settled per second since the first start; None before a second has passed.

        A group settled within milliseconds would otherwise show rates such as
        "11701.9/s" (7 tasks / 0.6 ms): a number from clock noise, not a rate.
        """
        settled = self.counts["done"] + self.counts["failed"]
        if self.started is None or not settled:
            return None
        end = time.time() if self.running_process else (self.updated or time.time())
        elapsed = end - self.started
        return settled / elapsed if elapsed >= MIN_RATE_SECONDS else None

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
            "callback_owner": self.callback_owner,
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


def _bucket(state: str) -> str:
    """A stored status as one of the panel's counts: done, failed, running, todo ("" for
    a replayed instance, whose clone carries on)."""
    if state in _DONE:
        return "done"
    if state in ("failed", "running"):
        return state
    return "" if state == "replayed" else "todo"


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
        bucket = _bucket(state)
        if bucket:
            counts[bucket] += 1
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
    statuses = {task: _bucket(str(rec.get("status", ""))) for task, (_, rec) in current.items()}
    tree = _markers(store, keys["markers"], _shape(store, keys["tree"]), statuses)
    levels, completed, callback = tree.levels, tree.completed, tree.claimed
    running = is_held(store, keys["lease"])
    version = f"{journal.last_page or ''}|{len(journal.records)}|{int(running)}|{len(levels)}"
    version += f"|{completed}|{callback}|{tree.finished}|{sum(lv['done'] for lv in levels)}"
    version += f"|{tree.owner.get('pid') if tree.owner else ''}"
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
        callback_owner=tree.owner,
    )


#: Settled nodes listed per level (the count covers all of them).
MAX_LEVEL_NODES = 200
_CLAIM = re.compile(rf"^{re.escape(CALLBACK_POINT)}(?:-(\d+))?$")
_OWNER = re.compile(rf"^{re.escape(CALLBACK_POINT)}-owner-(\d+)$")


@dataclass
class _Tree:
    """What the marker entries' headers tell of the newest tree of a group."""

    levels: list[dict[str, Any]]
    completed: float | None
    claimed: float | None  # when the completion callback was first claimed (it fired)
    finished: float | None  # when it returned (or raised): it is never called again
    attempts: int  # claims: more than one means an owner died during the callback
    owner: dict[str, Any] | None = None  # host, pid, time of the last claim's process


#: Bytes read of the tree record (its header holds the key order; see _tasks/_tree.py).
TREE_HEADER_BYTES = 4 << 20


@dataclass(frozen=True)
class _Shape:
    """The current tree's shape and key order, from its record's header meta."""

    gen: int
    leaves: int
    batch_size: int
    group_size: int
    keys: list[str] | None  # None: not in the header (a huge group, or an older store)

    def level_counts(self) -> list[int]:
        """Nodes per level: ``[leaves, level 1, ..., root]`` (the task engine's rule)."""
        return level_counts(self.leaves, self.batch_size, self.group_size)


def _shape(store: Path, key: str) -> _Shape | None:
    rows = read_headers(store, [key], header_bytes=TREE_HEADER_BYTES)
    meta = rows[0].get("meta") if rows else None
    if not isinstance(meta, dict):
        return None
    try:
        gen, leaves = int(meta["gen"]), int(meta["leaves"])
        batch, group = int(meta["batch_size"]), int(meta["group_size"])
    except (KeyError, TypeError, ValueError):
        return None
    if leaves < 0 or batch < 1 or group < 2:
        return None
    keys = meta.get("keys")
    ordered = [str(k) for k in keys] if isinstance(keys, list) and len(keys) == leaves else None
    return _Shape(gen, leaves, batch, group, ordered)


def _owner(meta: Any, created: float) -> dict[str, Any] | None:
    if not isinstance(meta, dict) or not meta.get("host"):
        return None
    pid = meta.get("pid")
    at = meta.get("at")
    return {
        "host": str(meta["host"]),
        "pid": pid if isinstance(pid, int) else None,
        "at": at if isinstance(at, (int, float)) else created,
    }


def _markers(
    store: Path,
    prefix: str,
    shape: _Shape | None = None,
    statuses: dict[str, str] | None = None,
) -> _Tree:
    """The newest tree level by level, when its root settled, and its completion callback.

    Every level lists its settled nodes (index and time). With the tree's ``shape`` (from
    its record's header) each level also has its node count and, with the key order and
    the tasks' ``statuses``, each node its tasks done / failed / running / to do.
    """
    entries = read_headers(store, prefix=prefix)
    by_gen: dict[int, dict[int, list[tuple[int, float]]]] = {}
    root_done: dict[int, float] = {}
    claims: dict[int, list[float]] = {}
    finished: dict[int, float] = {}
    owners: dict[int, dict[int, dict[str, Any]]] = {}
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
            claimer = _OWNER.match(point)
            if point == f"{CALLBACK_POINT}-done":
                finished[gen] = entry["created"]
            elif _CLAIM.match(point):
                claims.setdefault(gen, []).append(entry["created"])
            elif claimer is not None:
                described = _owner(entry.get("meta"), entry["created"])
                if described is not None:
                    owners.setdefault(gen, {})[int(claimer[1])] = described
    gens = set(by_gen) | set(root_done) | set(claims) | set(finished)
    if shape is not None:
        gens.add(shape.gen)
    if not gens:
        return _Tree([], None, None, None, 0)
    gen = max(gens)
    if shape is not None and shape.gen != gen:
        shape = None  # a newer tree than the record describes: settled nodes only
    levels = _levels(by_gen.get(gen, {}), shape, statuses or {})
    times = claims.get(gen, [])
    by_attempt = owners.get(gen, {})
    owner = by_attempt[max(by_attempt)] if by_attempt else None
    return _Tree(
        levels,
        root_done.get(gen),
        min(times) if times else None,
        finished.get(gen),
        len(times),
        owner,
    )


def _levels(
    settled: dict[int, list[tuple[int, float]]], shape: _Shape | None, statuses: dict[str, str]
) -> list[dict[str, Any]]:
    """Internal levels (1 .. below the root): settled nodes, and with ``shape`` node counts
    (``total``), nodes holding a failed task (``failing``) and per-node task counts."""
    totals = shape.level_counts() if shape is not None else []
    top = len(totals) - 1  # the root's level
    numbers = sorted(set(settled) | set(range(1, top)))
    # Task counts per node, level by level: level 1 from the tasks in key order (one pass),
    # each level above by summing its children (O(tasks + nodes) in all).
    counts: dict[int, list[dict[str, int]]] = {}
    if shape is not None and shape.keys is not None:
        below = [{"done": 0, "failed": 0, "running": 0, "todo": 0, "total": 0}]
        below = [dict(below[0]) for _ in range(totals[1] if top > 1 else 0)]
        for position, key in enumerate(shape.keys):
            if not below:
                break
            parent = below[position // shape.batch_size]
            parent["total"] += 1
            bucket = statuses.get(key, "todo")
            if bucket:
                parent[bucket] += 1
        counts[1] = below
        for level in range(2, top):
            above: list[dict[str, int]] = []
            for index in range(totals[level]):
                children = below[index * shape.group_size : (index + 1) * shape.group_size]
                above.append({k: sum(c[k] for c in children) for k in children[0]})
            counts[level] = below = above
    levels = []
    for level in numbers:
        times = dict(settled.get(level, []))
        row: dict[str, Any] = {"level": level, "done": len(times)}
        if shape is None or level >= top:
            row["nodes"] = [
                {"node": f"n{level}.{index}", "index": index, "done": when}
                for index, when in sorted(times.items())[:MAX_LEVEL_NODES]
            ]
            levels.append(row)
            continue
        row["total"] = totals[level]
        tasks = counts.get(level)
        row["failing"] = None if tasks is None else sum(t["failed"] > 0 for t in tasks)
        nodes: list[dict[str, Any]] = []
        for index in range(min(totals[level], MAX_LEVEL_NODES)):
            item: dict[str, Any] = {
                "node": f"n{level}.{index}",
                "index": index,
                "done": times.get(index),
            }
            if tasks is not None:
                item["tasks"] = tasks[index]
            nodes.append(item)
        row["nodes"] = nodes
        levels.append(row)
    return levels


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

"""Records of a task group: statuses, task configurations, task instances, failures.

The vocabulary is the one of the session-storage seed (``002``): a *task* (:class:`TaskConfig`)
is something to do, declared once with a stable key; an *instance* (:class:`TaskInstance`) is
one attempt-series of it, named ``f"{key}#{n}"``. ``task#0`` is the first; replaying a failed
instance creates ``task#1`` with ``{"parent": "task#0", "depth": 1}`` in its metadata.

Records are stored as plain dicts (``to_record`` / ``from_record``) so any process, an older
persist_ext, the server extension or a browser can read them without importing these classes.
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..._errors import TaskError

__all__ = [
    "RESOLVED",
    "UNRESOLVED",
    "GroupResult",
    "TaskConfig",
    "TaskFailure",
    "TaskInstance",
    "TaskStatus",
    "as_status",
    "from_json_data",
    "instance_name",
    "is_settled",
    "new_record",
    "split_instance_name",
    "to_json_data",
    "validate_key",
]


class TaskStatus(str, Enum):
    """Status of a task instance (the seed's eight words).

    Unresolved: ``unstarted``, ``scheduled``, ``running``, ``failed``.
    Resolved: ``finished``, ``skipped``, ``replayed``, ``abandoned``.

    >>> TaskStatus("failed").resolved, str(TaskStatus.FINISHED)
    (False, 'finished')
    """

    UNSTARTED = "unstarted"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    FAILED = "failed"
    FINISHED = "finished"
    SKIPPED = "skipped"
    REPLAYED = "replayed"
    ABANDONED = "abandoned"

    def __str__(self) -> str:
        return self.value

    @property
    def resolved(self) -> bool:
        """True for statuses after which the instance never runs again."""
        return self in RESOLVED


UNRESOLVED = frozenset(
    {TaskStatus.UNSTARTED, TaskStatus.SCHEDULED, TaskStatus.RUNNING, TaskStatus.FAILED}
)
RESOLVED = frozenset(
    {TaskStatus.FINISHED, TaskStatus.SKIPPED, TaskStatus.REPLAYED, TaskStatus.ABANDONED}
)

_MAX_KEY = 200

# Lookups by member or by stored string (hot paths: 10,000 tasks a run). A str-mixin
# member hashes by its name, so a member and its value never collide as keys here.
_MEMBER: dict[Any, TaskStatus] = {**{m: m for m in TaskStatus}, **{m.value: m for m in TaskStatus}}
_VALUE: dict[TaskStatus, str] = {m: m.value for m in TaskStatus}
_SETTLED: dict[Any, bool] = {
    **{m: m in RESOLVED for m in TaskStatus},
    **{m.value: m in RESOLVED for m in TaskStatus},
}


def as_status(status: TaskStatus | str) -> TaskStatus:
    """``status`` as a :class:`TaskStatus` (a stored string or a member)."""
    member = _MEMBER.get(status)
    return member if member is not None else TaskStatus(status)


def is_settled(status: TaskStatus | str, tries: int, max_tries: int) -> bool:
    """The one rule for "is this instance done with, or must it run (again)?".

    Settled: finished, skipped, abandoned, replayed (its clone carries on), or failed with
    every try used (``tries >= max_tries``). Anything else — unstarted, scheduled, running
    (interrupted by a crash), failed with tries left — runs on the next run or retry.
    Every caller (preparing a run, retrying after a failed try, repairing the marker tree,
    counting progress) asks this function.

    >>> is_settled("failed", 1, 2), is_settled("failed", 2, 2), is_settled("running", 5, 1)
    (False, True, False)
    """
    settled = _SETTLED.get(status)
    if settled is None:
        status = TaskStatus(status)  # raises on an unknown status
        settled = status in RESOLVED
    if status == "failed":
        return tries >= max_tries
    return settled


def validate_key(key: Any, *, what: str = "task key") -> str:
    """Return ``key`` as a str, or raise :class:`TaskError` saying what a key may be.

    Keys are ``str`` or ``int`` (ints become their decimal text), non-empty, at most 200
    characters, without ``#`` (it separates a key from its instance number) or control
    characters.

    >>> validate_key(7), validate_key("img-001.png")
    ('7', 'img-001.png')
    >>> validate_key("a#1")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    persist_ext._errors.TaskError: Invalid task key 'a#1': '#' is reserved ...
    """
    if isinstance(key, bool) or not isinstance(key, (str, int)):
        raise TaskError(
            f"Invalid {what} {key!r} of type {type(key).__name__}: use a str or an int "
            "(for example key=lambda item: str(item)).",
            task=str(key),
        )
    text = str(key)
    if not text or len(text) > _MAX_KEY:
        raise TaskError(
            f"Invalid {what} {text!r}: it must have 1 to {_MAX_KEY} characters.", task=text
        )
    if "#" in text:
        raise TaskError(
            f"Invalid {what} {text!r}: '#' is reserved for instance numbers ('key#1'); "
            "use another character.",
            task=text,
        )
    if any(ord(c) < 32 for c in text):
        raise TaskError(f"Invalid {what} {text!r}: control characters are not allowed.", task=text)
    return text


def instance_name(task: str, number: int) -> str:
    """The seed's instance naming: ``instance_name("load", 1) == "load#1"``."""
    return f"{task}#{number}"


def split_instance_name(name: str) -> tuple[str, int]:
    """Inverse of :func:`instance_name`: ``"load#1" -> ("load", 1)``."""
    task, sep, number = name.rpartition("#")
    if not sep or not number.isdigit():
        raise TaskError(
            f"{name!r} is not an instance name; instance names look like 'task#0'.", task=name
        )
    return task, int(number)


@dataclass
class TaskConfig:
    """A declared task: its key, a description of the call, and how many instances it has.

    ``instances`` counts the instances created so far (``key#0`` .. ``key#{instances-1}``);
    the last one is the current one.
    """

    name: str
    description: str = ""
    order: int = 0
    instances: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        """A plain dict for the store (the fields in declaration order)."""
        return {
            "name": self.name,
            "description": self.description,
            "order": self.order,
            "instances": self.instances,
            "options": self.options,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> TaskConfig:
        """Rebuild from :meth:`to_record` output (unknown fields are ignored)."""
        known = {k: record[k] for k in cls.__dataclass_fields__ if k in record}
        return cls(**known)


@dataclass
class TaskInstance:
    """One instance of a task and everything recorded about it.

    ``tries`` counts attempts started (an attempt interrupted by a crash counts, but does
    not stop the task from being resumed); ``started``/``ended`` are epoch seconds of the
    last attempt; ``logs`` holds ``{"level", "message", "resolved"}`` dicts (a failure adds
    an unresolved ``error`` entry; replay, skip and abandon resolve them).
    """

    name: str
    task: str
    status: TaskStatus = TaskStatus.UNSTARTED
    tries: int = 0
    kwargs: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    started: float | None = None
    ended: float | None = None
    stdout: str = ""
    stderr: str = ""
    error: str = ""
    traceback: str = ""
    logs: list[dict[str, Any]] = field(default_factory=list)
    has_result: bool = False

    def __post_init__(self) -> None:
        self.status = as_status(self.status)

    @property
    def resolved(self) -> bool:
        """True when the instance will not run again."""
        return self.status.resolved

    @property
    def is_resolved(self) -> bool:
        """triggers' name for :attr:`resolved`."""
        return self.status.resolved

    @property
    def depth(self) -> int:
        """How many clones separate this instance from the first (``metadata['depth']``, 0
        when absent, as in triggers): 1 for a replay of a first instance."""
        return int(self.metadata.get("depth", 0))

    @property
    def logs_resolved(self) -> bool:
        """True when no log entry is left to deal with (triggers' name)."""
        return not self.unresolved_logs

    @property
    def duration(self) -> float | None:
        """Seconds of the last attempt, or None if it has not ended."""
        if self.started is None or self.ended is None:
            return None
        return self.ended - self.started

    @property
    def unresolved_logs(self) -> list[dict[str, Any]]:
        """Log entries nobody has dealt with yet."""
        return [entry for entry in self.logs if not entry.get("resolved")]

    def resolve_logs(self) -> None:
        """Mark every log entry as dealt with."""
        for entry in self.logs:
            entry["resolved"] = True

    def to_record(self) -> dict[str, Any]:
        """A plain dict for the store (status as its string)."""
        # The instance dict holds exactly the dataclass fields; copying it is ~10x faster
        # than a comprehension over the fields, which matters at 10,000 tasks per run.
        record = self.__dict__.copy()
        record["status"] = _VALUE[self.status]
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> TaskInstance:
        """Rebuild from :meth:`to_record` output (unknown fields are ignored)."""
        known = {k: record[k] for k in cls.__dataclass_fields__ if k in record}
        return cls(**known)

    def dump(self) -> str | dict[str, Any]:
        """The stored form: tagged JSON text (readable anywhere, cheap to store).

        Datetimes round-trip; tuples come back as lists (as with any JSON). Falls back to
        the plain dict when ``kwargs`` or ``metadata`` hold values JSON cannot represent;
        :meth:`load` reads both.
        """
        record = self.to_record()
        try:
            return json.dumps(record, separators=(",", ":"), default=_json_default)
        except (TypeError, ValueError):
            return record

    @classmethod
    def load(cls, stored: str | dict[str, Any]) -> TaskInstance:
        """Rebuild from :meth:`dump` output."""
        if isinstance(stored, str):
            return cls.from_record(json.loads(stored, object_hook=_json_hook))
        return cls.from_record(stored)

    def copy(self) -> TaskInstance:
        """A deep copy (no mutable field is shared with the original)."""
        return copy.deepcopy(self)


def new_record(name: str, task: str, status: str) -> dict[str, Any]:
    """The stored record of a new instance (a task's first, before it runs).

    Only ``name``, ``task`` and ``status``: a stored record may leave out any other field
    at its :class:`TaskInstance` default (:meth:`TaskInstance.from_record` restores it,
    and every other reader uses ``.get()`` with that default, as an earlier persist_ext
    does too). A first run writes 10,000 of these in one journal page: a third of the
    bytes to pickle of a record with every field, and a dict of only strings is one the
    cyclic garbage collector untracks (so are the finished records workers copy from it),
    where a record holding the default empty ``logs`` list and ``kwargs``/``metadata``
    dicts was walked by every one of its passes (25-40 % of a run's CPU).
    """
    return {"name": name, "task": task, "status": status}


@dataclass(frozen=True)
class TaskFailure:
    """A task that failed for good: its key, instance, error text, traceback and output."""

    task: str
    instance: str
    error: str
    traceback: str
    tries: int
    stdout: str = ""
    stderr: str = ""

    def __str__(self) -> str:
        return f"{self.instance} failed after {self.tries} tries: {self.error}"


@dataclass(frozen=True)
class GroupResult:
    """What the completion callback receives: results, failures and the skipped tasks.

    ``results`` maps task keys to values (finished tasks), ``failures`` task keys to
    :class:`TaskFailure`, ``skipped`` lists keys resolved without a result (skipped or
    abandoned); ``completed`` is when the group was seen complete (None if it is not);
    ``combined`` is the marker tree's combined result when combiners were given.
    """

    group: str
    results: Mapping[str, Any]  # a dict, or LazyResults decoding each result when read
    failures: dict[str, TaskFailure]
    skipped: tuple[str, ...] = ()
    completed: float | None = None
    combined: Any = None

    @property
    def ok(self) -> bool:
        """True when no task failed."""
        return not self.failures

    def __repr__(self) -> str:
        return (
            f"GroupResult({self.group!r}: {len(self.results)} results, "
            f"{len(self.failures)} failures, {len(self.skipped)} skipped)"
        )


def _json_default(value: Any) -> Any:
    # Called by the C encoder only for what JSON lacks; tuples already became lists.
    if isinstance(value, _dt.datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, _dt.date):
        return {"__date__": value.isoformat()}
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _json_hook(obj: dict[str, Any]) -> Any:
    if "__datetime__" in obj and len(obj) == 1:
        return _dt.datetime.fromisoformat(obj["__datetime__"])
    if "__date__" in obj and len(obj) == 1:
        return _dt.date.fromisoformat(obj["__date__"])
    return obj


def to_json_data(value: Any) -> Any:
    """JSON-ready form of records and metadata; datetimes, dates and tuples are tagged.

    >>> to_json_data({"at": _dt.date(2024, 1, 2), "pair": (1, 2)})
    {'at': {'__date__': '2024-01-02'}, 'pair': {'__tuple__': [1, 2]}}
    """
    if isinstance(value, TaskStatus):
        return value.value
    if isinstance(value, _dt.datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, _dt.date):
        return {"__date__": value.isoformat()}
    if isinstance(value, tuple):
        return {"__tuple__": [to_json_data(v) for v in value]}
    if isinstance(value, list):
        return [to_json_data(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TaskError("Keys of session metadata and kwargs must be str to be saved as JSON.")
        return {k: to_json_data(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TaskError(
        f"A {type(value).__name__} cannot be saved as JSON; store plain data (str, numbers, "
        "lists, dicts, datetimes) in metadata and kwargs."
    )


def from_json_data(value: Any) -> Any:
    """Inverse of :func:`to_json_data`."""
    if isinstance(value, list):
        return [from_json_data(v) for v in value]
    if isinstance(value, dict):
        if "__datetime__" in value:
            return _dt.datetime.fromisoformat(value["__datetime__"])
        if "__date__" in value:
            return _dt.date.fromisoformat(value["__date__"])
        if "__tuple__" in value:
            return tuple(from_json_data(v) for v in value["__tuple__"])
        return {k: from_json_data(v) for k, v in value.items()}
    return value

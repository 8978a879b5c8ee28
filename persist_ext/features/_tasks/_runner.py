"""Who runs a group: process identities, liveness, and the one-runner lease.

One group, one runner. A process that runs a group (or some of its keys) holds an entry in
the group's ``runner`` record (:meth:`~._keys.GroupKeys.runner`) for the length of the run:
its pid, host, process start time, since when, and the keys it runs (``None``: all). A
second process whose keys overlap a live holder's is refused with
:class:`~persist_ext._errors.GroupBusyError` naming the holder; it takes over only when the
holder is dead. Disjoint key sets (``run(["a"])`` here, ``run(["b"])`` there) may run at the
same time — the marker tree still completes, and calls the callback, exactly once.

Dead or alive: on the same machine a holder is alive while a process with its pid and its
start time exists (pid reuse cannot fool it). On another machine it is alive while its
heartbeat — refreshed every :data:`HEARTBEAT` seconds by a thread of the holder — is younger
than :data:`STALE_AFTER`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..._errors import GroupBusyError
from ..._threads import HousekeepingThread
from ...storage._leases import try_hold
from ...storage._protocol import KeyValueStore
from ._keys import group_keys

__all__ = ["HEARTBEAT", "STALE_AFTER", "Identity", "RunnerLease", "this_process"]

HEARTBEAT = 5.0
STALE_AFTER = 30.0


def _start_time(pid: int) -> str:
    """The kernel's start time of process ``pid`` ("" when unknown or gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode(errors="replace")
    except OSError:
        return ""
    # Field 22 (starttime), counted after the command name, which may hold spaces.
    return stat.rsplit(")", 1)[-1].split()[19]


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class Identity:
    """A process, as recorded in the store: pid, host, and its start time there."""

    pid: int
    host: str
    started: str

    def to_record(self) -> dict[str, Any]:
        """Plain dict for the store."""
        return {"pid": self.pid, "host": self.host, "started": self.started}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Identity:
        """Inverse of :meth:`to_record` (tolerates missing fields)."""
        return cls(
            int(record.get("pid", 0)), str(record.get("host", "")), str(record.get("started", ""))
        )

    def alive(self, beat: float | None = None) -> bool:
        """True while this process exists (see the module docstring for other hosts)."""
        if self.host == socket.gethostname():
            if self.pid == os.getpid():
                return True
            if not _pid_exists(self.pid):
                return False
            started = _start_time(self.pid)
            return not self.started or not started or started == self.started
        return beat is not None and time.time() - beat < STALE_AFTER

    def describe(self) -> str:
        """``"pid 123 on host"``."""
        return f"pid {self.pid} on {self.host}"


def this_process() -> Identity:
    """The identity of the calling process."""
    pid = os.getpid()
    return Identity(pid, socket.gethostname(), _start_time(pid))


def _overlap(a: list[str] | None, b: list[str] | None) -> bool:
    if a is None or b is None:
        return True
    return not set(a).isdisjoint(b)


class RunnerLease:
    """This process's claim to run (some keys of) one group; see the module docstring."""

    def __init__(self, store: KeyValueStore, group: str) -> None:
        self.store = store
        self.group = group
        self.key = group_keys(group).runner
        self.token = uuid.uuid4().hex
        self.held = False
        self._os_lease = contextlib.ExitStack()

    def acquire(self, keys: Iterable[str] | None) -> None:
        """Claim the run of ``keys`` (None: every key) or raise :class:`GroupBusyError`."""
        wanted = None if keys is None else sorted(keys)
        me = this_process()
        now = time.time()
        with self.store.transact():
            entries = list(self.store.get(self.key, None) or [])
            live = []
            for entry in entries:
                holder = Identity.from_record(entry)
                if entry.get("token") == self.token or not holder.alive(entry.get("beat")):
                    continue  # ours (stale) or a dead holder: taken over
                live.append(entry)
                if _overlap(entry.get("keys"), wanted):
                    since = _dt.datetime.fromtimestamp(entry.get("since", 0)).isoformat(
                        sep=" ", timespec="seconds"
                    )
                    what = "the whole group" if entry.get("keys") is None else "some of its tasks"
                    raise GroupBusyError(
                        f"Task group {self.group!r} is already running {what} in "
                        f"{holder.describe()} (since {since}). Wait for that run to end, or "
                        "stop that process: a dead holder is taken over automatically.",
                        holder=entry,
                    )
            live.append(
                {**me.to_record(), "token": self.token, "since": now, "beat": now, "keys": wanted}
            )
            self.store.set(self.key, live)
        self.held = True
        _HEARTBEATS.add(self)
        self._take_os_lease()

    def _take_os_lease(self) -> None:
        # The directory store's OS-level lease (storage/_leases) is what the Jupyter server
        # reads as "this group is running"; the kernel drops it when this process dies. Not
        # waiting for it: a runner of other keys of the group may hold it.
        directory = getattr(self.store, "directory", None)
        if directory is None:
            return
        try:
            self._os_lease.enter_context(try_hold(directory, group_keys(self.group).lease))
        except OSError:  # a read-only store: leases guard mutations, they never stop work
            pass

    def beat(self) -> None:
        """Refresh this holder's heartbeat (other hosts judge liveness by it)."""
        if not self.held:
            return
        with self.store.transact():
            entries = list(self.store.get(self.key, None) or [])
            for entry in entries:
                if entry.get("token") == self.token:
                    entry["beat"] = time.time()
            self.store.set(self.key, entries)

    def release(self) -> None:
        """End the claim (idempotent)."""
        if not self.held:
            return
        self.held = False
        _HEARTBEATS.discard(self)
        self._os_lease.close()
        try:
            with self.store.transact():
                entries = [
                    e for e in self.store.get(self.key, None) or [] if e.get("token") != self.token
                ]
                if entries:
                    self.store.set(self.key, entries)
                else:
                    self.store.delete(self.key)
        except Exception:  # a closed store: the entry is dead with this process anyway
            pass

    @staticmethod
    def holders(store: KeyValueStore, group: str) -> list[dict[str, Any]]:
        """The live holders of ``group`` (for displays: who runs it, since when)."""
        entries = store.get(group_keys(group).runner, None) or []
        return [e for e in entries if Identity.from_record(e).alive(e.get("beat"))]


class _Heartbeats:
    """One daemon thread refreshing every held lease of this process."""

    def __init__(self) -> None:
        self._leases: weakref.WeakSet[RunnerLease] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, lease: RunnerLease) -> None:
        with self._lock:
            self._leases.add(lease)
            if self._thread is None or not self._thread.is_alive():
                self._thread = HousekeepingThread(
                    target=self._loop, name="persist-ext-runner-heartbeat"
                )
                self._thread.start()

    def discard(self, lease: RunnerLease) -> None:
        with self._lock:
            self._leases.discard(lease)

    def _loop(self) -> None:
        while True:
            time.sleep(HEARTBEAT)
            with self._lock:
                leases = list(self._leases)
            for lease in leases:
                try:
                    lease.beat()
                except Exception:  # the store closed under us: the run ends anyway
                    pass


_HEARTBEATS = _Heartbeats()

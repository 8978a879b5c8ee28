"""Stores for the server tests, written through persist_ext's own feature APIs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

from persist_ext.features._cellcache._entry import Manifest, new_run_id, write_entry
from persist_ext.features._tasks import TaskGroup
from persist_ext.storage._store import Store


def store_cell(
    directory: Path,
    name: str,
    *,
    digest: str = "0123456789abcdef0123456789abcdef",
    values: dict | None = None,
    notebook: str = "analysis/run.ipynb",
    cell_id: str = "c0ffee",
    hits: int = 0,
) -> Manifest:
    """One stored variant of a cached cell, as ``%%persist`` would write it."""
    manifest = Manifest(
        name=name,
        key=digest,
        run=new_run_id(),
        code="frame = load()\ntotal = frame.sum()",
        components={"code": "aa", "var:alpha": "bb", "file:data.csv": "cc"},
        duration=2.5,
        notebook=notebook,
        cell_id=cell_id,
    )
    with Store(directory) as store:
        stored, failures = write_entry(
            store, manifest, values or {"total": 42, "rows": list(range(10))}, [{"x": 1}]
        )
        assert stored
        assert not failures
        for _ in range(hits):
            store.incr(f"{manifest.entry_prefix}hits")
    return manifest


def fill(directory: Path, keys: Iterable[str], value: Any = None) -> None:
    """Set ``keys`` in the store at ``directory`` (each to its index, or to ``value``).

    Written 10,000 to a transaction, as a stash of many small entries is.
    """
    names = list(keys)
    with Store(directory) as store:
        for start in range(0, len(names), 10_000):
            with store.transact():
                for i in range(start, min(start + 10_000, len(names))):
                    store.set(names[i], i if value is None else value)


def _square_or_fail(task: tuple[int, bool]) -> int:
    number, failing = task
    if failing:
        raise ValueError(f"bad input {number}")
    return number * number


def run_group(
    directory: Path, name: str, keys: list[str], *, failing: Collection[str] = (), **options: Any
) -> None:
    """Run the task group ``name`` to its end: one task per key, in order, squaring its index;
    the tasks of ``failing`` raise ``ValueError("bad input <index>")``. ``options`` go to
    :class:`TaskGroup` (``batch_size``, ``max_tries``, ``on_complete``...)."""
    with Store(directory) as store:
        group = TaskGroup(name, store, **options)
        group.map(
            _square_or_fail,
            [(i, key in failing) for i, key in enumerate(keys)],
            key=lambda task: keys[task[0]],
        )
        group.run().wait()
        group.close()


def run_tree_group(directory: Path, name: str) -> None:
    """A small marker tree with failures: tasks k0..k6, 3 per level-1 node, 2 nodes per node
    above; k3 and k6 fail (once: ``max_tries=1``); a completion callback ran."""
    keys = [f"k{x}" for x in range(7)]
    run_group(
        directory,
        name,
        keys,
        failing={"k3", "k6"},
        batch_size=3,
        group_size=2,
        max_tries=1,
        on_complete=lambda result: None,
    )


HOLDER = """
import sys, time
from pathlib import Path
from persist_ext.storage._leases import hold
from persist_ext.storage._store import Store

store = Store(sys.argv[1])
with hold(store, sys.argv[2]):
    print("held", flush=True)
    sys.stdin.readline()  # until the test says so
"""


class LeaseHolder:
    """Another process holding a writer's lease (a kernel storing a cell, a running group)."""

    def __init__(self, directory: Path, name: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(HOLDER), str(directory), name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "held"

    def release(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        self.process.wait(timeout=30)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)

"""Stores for the server tests, written through persist_ext's own feature APIs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from persist_ext.features._cellcache._entry import Manifest, new_run_id, write_entry
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

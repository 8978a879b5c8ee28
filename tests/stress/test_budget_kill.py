"""An eviction SIGKILLed at random instants leaves every unit whole or gone, never partial.

The child keeps storing cached cell runs (a manifest, two variables — one a blob file —
and the outputs) and cached calls (a result and a use record), each written whole in one
transaction, and applies a small ``max_count`` budget after each, so it is evicting most of
the time. After every kill the parent checks each unit: its marker (manifest, result) is
present and every key it names loads, or no key of it is left at all.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

from persist_ext._limits import Budget
from persist_ext.features._budget import enforce_budget, list_units
from persist_ext.features._cellcache._entry import Manifest, write_entry
from persist_ext.features._usage import touch
from persist_ext.storage._store import Store

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and fork are POSIX"),
]

THRESHOLD = 64 * 1024
KILLS = 30


def _writer(directory: str, started: multiprocessing.synchronize.Event) -> None:
    store = Store(directory, large_threshold=THRESHOLD)
    started.set()
    n = store.incr("n")
    while True:
        n = store.incr("n")
        key = f"{n:032x}"
        manifest = Manifest(name=f"c{n}", key=key, run="r", code="", components={})
        with store.transact():
            stored, _ = write_entry(
                store, manifest, {"big": np.full(20_000, n), "small": [n] * 10}, [{"n": n}]
            )
            assert stored
            call = f"memo/f/{key}/"
            store.set(f"{call}result", np.full(20_000, n), meta={"kind": "call", "name": "f"})
            touch(store, f"{call}used")
        enforce_budget(store, Budget(max_count=4))


def _check(store: Store) -> None:
    prefixes = {"/".join(k.split("/")[:3]) + "/" for k in store.keys("cell/")}
    prefixes |= {"/".join(k.split("/")[:3]) + "/" for k in store.keys("memo/")}
    for prefix in prefixes:
        keys = set(store.keys(prefix))
        if prefix.startswith("cell/"):
            marker = f"{prefix}manifest"
            assert marker in keys, f"partial cell unit left: {sorted(keys)}"
            manifest = store.get(marker)
            for var_key in manifest["variables"].values():
                assert var_key in keys, f"{var_key} missing from a whole unit"
                store.get(var_key)
            assert store.get(manifest["outputs_key"]) == [{"n": int(manifest["key"], 16)}]
        else:
            assert f"{prefix}result" in keys, f"partial call unit left: {sorted(keys)}"
            assert f"{prefix}used" in keys
            value = store.get(f"{prefix}result")
            assert (value == int(prefix.split("/")[2], 16)).all()


def test_sigkill_during_eviction_leaves_units_whole_or_gone(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    rng = random.Random(4321)
    directory = str(tmp_path / "store")
    for _ in range(KILLS):
        started = ctx.Event()
        child = ctx.Process(target=_writer, args=(directory, started))
        child.start()
        assert started.wait(30), "writer did not start"
        child.join(rng.uniform(0.05, 0.4))
        os.kill(child.pid, signal.SIGKILL)
        child.join(10)
        assert child.exitcode == -signal.SIGKILL
        with Store(directory, large_threshold=THRESHOLD) as store:
            _check(store)
    with Store(directory, large_threshold=THRESHOLD) as store:
        assert store.get("n") > 10, "the writer made too little progress to mean anything"
        assert len(list_units(store)) <= 2 * 5  # the budget held (plus one unit per kill)

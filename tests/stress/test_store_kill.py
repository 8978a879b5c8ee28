"""A writer SIGKILLed at random instants leaves every key at its old or its new value.

The child overwrites small, mid-size (inline) and large (blob file) values in rounds; each
value encodes the round that wrote it. After every kill the parent checks that each value
decodes, is internally consistent (not torn), never goes back to an older round, and that
the store still accepts writes. Orphan blobs from interrupted writes are then cleaned up.
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

from persist_ext.storage._disk import BLOB_DIR
from persist_ext.storage._store import Store

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and fork are POSIX"),
]

THRESHOLD = 256 * 1024
LARGE = 160_000  # float64 elements: 1.28 MB, a blob file
MID = 20_000  # 160 KB: inline in SQLite
KEYS = 4
KILLS = 50


def _writer(directory: str, started: multiprocessing.synchronize.Event) -> None:
    store = Store(directory, large_threshold=THRESHOLD)
    started.set()
    r = store.get("round", 0)
    while True:
        r += 1
        for i in range(KEYS):
            store.set(f"large/{i}", np.full(LARGE, float(r)), meta={"round": r})
            store.set(f"mid/{i}", np.full(MID, r, dtype=np.int64))
            store.set(f"small/{i}", {"round": r, "i": i, "pad": "x" * (i * 100)})
            with store.transact():
                store.set(f"pair/{i}/a", r)
                store.set(f"pair/{i}/b", -r)
        store.set("round", r)


def _round_of(store: Store, key: str) -> int:
    value = store.get(key)
    if key.startswith("large/"):
        assert value.shape == (LARGE,)
        assert (value == value[0]).all(), f"torn {key}"
        assert store.info(key).meta["round"] == int(value[0])
        return int(value[0])
    if key.startswith("mid/"):
        assert value.shape == (MID,)
        assert (value == value[0]).all(), f"torn {key}"
        return int(value[0])
    if key.startswith("small/"):
        i = int(key.rsplit("/", 1)[1])
        assert value == {"round": value["round"], "i": i, "pad": "x" * (i * 100)}
        return int(value["round"])
    return abs(int(value))  # round, pair/*/a (= r) and pair/*/b (= -r)


def test_sigkill_at_random_moments_never_tears(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    rng = random.Random(1234)
    directory = str(tmp_path / "store")
    seen: dict[str, int] = {}
    for _ in range(KILLS):
        started = ctx.Event()
        child = ctx.Process(target=_writer, args=(directory, started))
        child.start()
        assert started.wait(30), "writer did not start"
        # Random instant inside the write loop (one round takes tens of milliseconds).
        child.join(rng.uniform(0.0, 0.15))
        os.kill(child.pid, signal.SIGKILL)
        child.join(10)
        assert child.exitcode == -signal.SIGKILL

        with Store(directory, large_threshold=THRESHOLD) as store:
            last = store.get("round", 0)
            for key in store:
                r = _round_of(store, key)
                assert r >= seen.get(key, 0), f"{key} went back from {seen.get(key)} to {r}"
                assert r <= last + 1, f"{key} is ahead of the finished rounds"
                seen[key] = r
            for i in range(KEYS):
                if f"pair/{i}/a" in store:  # a transaction is all or nothing
                    assert store.get(f"pair/{i}/a") == -store.get(f"pair/{i}/b")
            store.set("probe", np.ones(LARGE))  # still usable
            assert store.delete("probe")

    assert seen.get("round", 0) > 0, "the writer never finished a round"
    with Store(directory, large_threshold=THRESHOLD) as store:
        store.cleanup(older_than=-1)  # no writer is alive: every unreferenced blob is junk
        referenced = sum(1 for _, info in store.items_info("large/"))
        files = list((Path(directory) / BLOB_DIR).glob("*.bin"))
        assert len(files) == referenced

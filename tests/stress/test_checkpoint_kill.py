"""A process SIGKILLed while it writes a checkpoint leaves the previous one intact.

The child saves checkpoint rounds over a namespace of several arrays (blob files) and small
values, each encoding its round; the parent kills it at random instants and checks that the
checkpoint restores completely, consistently (every value from one round) and never goes
back to an older round.
"""

from __future__ import annotations

import multiprocessing
import random
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from persist_ext.features._checkpoint import restore_checkpoint, save_checkpoint
from persist_ext.storage._store import Store

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and fork are POSIX"),
]

ARRAYS = 4
SIZE = 400_000  # float64: 3.2 MB each, a blob file
KILLS = 12


def _saver(directory: str, started: multiprocessing.synchronize.Event) -> None:
    store = Store(directory)
    ns: dict = {}
    try:
        restore_checkpoint(ns, store, "work")
        r = int(ns["round"])
    except KeyError:
        r = 0
    started.set()
    while True:
        r += 1
        ns.update({f"a{i}": np.full(SIZE, float(r)) for i in range(ARRAYS)})
        ns["round"] = r
        ns["shared"] = ns["alias"] = [r]
        save_checkpoint(ns, store, "work")


def test_sigkill_during_checkpoint_keeps_previous_one(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    rng = random.Random(7)
    directory = str(tmp_path / "store")
    last = 0
    for _ in range(KILLS):
        started = ctx.Event()
        child = ctx.Process(target=_saver, args=(directory, started))
        child.start()
        assert started.wait(60), "saver did not start"
        time.sleep(rng.uniform(0.01, 0.4))
        child.kill()
        child.join()
        assert child.exitcode == -signal.SIGKILL
        with Store(directory) as store:
            ns: dict = {}
            try:
                report = restore_checkpoint(ns, store, "work")
            except KeyError:
                assert last == 0  # killed before the very first checkpoint completed
                continue
            assert not report.skipped
            r = ns["round"]
            assert r >= last
            for i in range(ARRAYS):
                assert ns[f"a{i}"].shape == (SIZE,)
                assert (ns[f"a{i}"] == r).all()
            assert ns["shared"] == [r]
            assert ns["shared"] is ns["alias"]
            last = r
    assert last > 0

"""What a cell leaves running in the process: signal handlers, threads.

A hit sets no handler and starts no thread, so a later cell that sends the signal (the
default action of SIGUSR1 ends the process: the kernel died) or waits for the thread's work
would see something else than after a re-run. Such cells run, and ``%persist why`` says why.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain, why_of
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

HANDLERS = [
    "import signal, os, sys\nV = 1\nhits = []",
    CACHED + "def on_usr1(signum, frame):\n    hits.append(V)\n"
    "signal.signal(signal.SIGUSR1, on_usr1)\ninstalled = V",
    CACHED + "tracing = sys.gettrace() is None\ndoubled = [V] * 2",
    "os.kill(os.getpid(), signal.SIGUSR1)\nprint(hits)",
]


# A thread running notebook code after the cell ended: its work lands in ``results`` later.
# (Finished before the cell's values are stored, its work is stored with them: either way a
# later cell sees the finished work, as after a re-run.)
THREADS = [
    "import threading, time\nN = 3\nresults = []",
    CACHED + "def fill():\n    time.sleep(0.3)\n    results.extend(range(N))\n"
    "threading.Thread(target=fill, name='filler').start()\nstarted = N",
    CACHED + "doubled = [N] * 2",
    "for t in threading.enumerate():\n    if t.name == 'filler':\n        t.join()\nprint(results)",
]


CASES = {
    "signal handler": (HANDLERS, ["hits", "installed", "doubled"], ("V = 1", "V = 2"), "signal"),
    "thread": (THREADS, ["results", "started", "doubled"], ("N = 3", "N = 4"), "threads"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_what_a_cell_leaves_running_is_never_skipped(case: str, tmp_path: Path) -> None:
    cells, checks, edit, named = CASES[case]
    assert_runs_match_plain(cells, checks, edit, tmp_path)
    (why,) = why_of(cells, ["c1"], tmp_path / "cached")
    assert named in why

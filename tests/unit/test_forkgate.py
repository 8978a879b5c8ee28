"""A fork waits for the store writes of other threads, and nothing makes it wait forever."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def test_a_reloaded_gate_still_lets_a_process_fork(tmp_path: Path) -> None:
    """``%autoreload`` re-runs a changed module in the same namespace: the fork hooks stay
    registered once (twice, the second would wait for the first's lock: every fork hung)."""
    script = textwrap.dedent(
        f"""
        import importlib, multiprocessing
        import persist_ext.storage._forkgate as gate
        from persist_ext.storage._store import Store

        importlib.reload(gate)
        importlib.reload(gate)
        store = Store({str(tmp_path)!r})

        def child():
            Store({str(tmp_path)!r}).set("child", 1)

        process = multiprocessing.get_context("fork").Process(target=child)
        process.start()
        process.join(60)
        assert process.exitcode == 0, process.exitcode
        with gate.WRITING:  # a write of the forking thread itself is not waited for
            assert gate.writers_elsewhere() == 0
        print(store.get("child"))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"

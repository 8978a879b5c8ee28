"""SIGKILL a process at random moments while it syncs: every reopen holds a synced state."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from persist_ext.features._pod import POD

REPO = Path(__file__).resolve().parents[2]

# Shared by the writer process and the checker: the POD's content after sync number ``step``.
STEPS = """
import random

def apply_step(pod, step):
    rng = random.Random(step)
    if step == 0:
        for i in range(400):
            pod[i] = {"v": 0, "pad": "x" * 40}
    else:
        for _ in range(60):
            key = rng.randrange(500)
            if key in pod and rng.random() < 0.2:
                del pod[key]
            else:
                pod[key] = {"v": step, "pad": "y" * rng.randrange(80)}
    pod["step"] = step
"""

WRITER = (
    STEPS
    + """
import sys
from persist_ext.features._pod import POD
pod = POD(sys.argv[1], file_size=20, sync_at=10**9)
step = pod.peek("step") + 1 if "step" in pod else 0
print("ready", flush=True)
while True:
    apply_step(pod, step)
    pod.sync()
    print("synced", step, flush=True)  # an acknowledgement: this state must survive a kill
    step += 1
"""
)


def expected_after(step: int) -> dict:
    namespace: dict = {}
    exec(STEPS, namespace)
    model: dict = {}

    class Model(dict):
        def peek(self, key):
            return self[key]

    model = Model()
    for s in range(step + 1):
        namespace["apply_step"](model, s)
    return dict(model)


@pytest.mark.slow
def test_sigkill_during_sync_never_loses_a_synced_state(tmp_path: Path) -> None:
    path = tmp_path / "pod"
    rng = random.Random(1234)
    seen_steps = []
    for attempt in range(50):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout.readline().strip() == "ready", writer.stderr.read()
        if attempt % 10 == 0:  # sometimes wait for one acknowledged sync, whatever the load
            assert writer.stdout.readline().startswith("synced"), writer.stderr.read()
        time.sleep(rng.uniform(0.0, 0.08))
        writer.kill()
        writer.wait(timeout=60)
        # Only whole lines: a kill can land between two writes of one print (a pipe's buffer
        # filling mid-line), leaving "synced" without its step at the end.
        acknowledged = [
            int(line.split()[1])
            for line in writer.stdout
            if line.startswith("synced ") and line.endswith("\n")
        ]
        writer.stdout.close()
        writer.stderr.close()
        with POD(path) as pod:  # must open, whatever the moment of the kill
            if "step" not in pod:
                assert len(pod) == 0
                assert not acknowledged
                assert not seen_steps
                continue
            step = pod.peek("step")
            # Nothing acknowledged is lost: the reopened state is at least the last one synced.
            assert step >= max(acknowledged, default=-1)
            assert dict(pod.items()) == expected_after(step)
            seen_steps.append(step)
    # The writer resumed from each reopened state: no state ever went backwards. (How far it
    # got depends on the machine's load, so it is not asserted.)
    assert seen_steps == sorted(seen_steps)
    assert seen_steps

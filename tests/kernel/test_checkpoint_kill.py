"""A kernel SIGKILLed in the middle of ``%persist checkpoint`` leaves the previous one intact."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pytest
from jupyter_client.manager import KernelManager

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX"),
]

ARRAYS = 6
SIZE = 8_000_000  # float64: 64 MB each, so a checkpoint takes long enough to be cut


def _namespace(round_: int) -> str:
    return (
        "import numpy as np\n"
        f"round_ = {round_}\n"
        + "".join(f"a{i} = np.full({SIZE}, {float(round_)})\n" for i in range(ARRAYS))
        + "alias = shared = [round_]"
    )


def test_sigkill_during_checkpoint_keeps_the_previous_one(tmp_path: Path, run_cells, text_of):
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(tmp_path))
    client = km.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        for code in ("%load_ext persist_ext", _namespace(1), "%persist checkpoint work"):
            reply = client.execute_interactive(code, timeout=300)
            assert reply["content"]["status"] == "ok", reply["content"]
        client.execute_interactive(_namespace(2), timeout=300)
        blobs = tmp_path / ".persist" / "blobs"
        before = {p.name for p in blobs.iterdir()}
        client.execute("%persist checkpoint work")
        # Kill as soon as the second checkpoint has started writing its objects.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not ({p.name for p in blobs.iterdir()} - before):
            time.sleep(0.005)
        assert {p.name for p in blobs.iterdir()} - before, "the checkpoint never started"
        km.signal_kernel(signal.SIGKILL)
        while km.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not km.is_alive()
    finally:
        client.stop_channels()
        km.cleanup_resources()
    nb = run_cells(
        [
            "%load_ext persist_ext",
            "%persist restore work",
            "import json\nprint(json.dumps([round_, alias is shared, alias]"
            f" + [float(a{0}.min()), float(a{ARRAYS - 1}.max())]))",
        ]
    )
    restored = text_of(nb.cells[2]).strip()
    # The killed save never became the checkpoint: everything is from round 1, consistently.
    assert restored == "[1, true, [1], 1.0, 1.0]", restored

"""persist_ext.storage._allocator: restored data leaves malloc as the original run would.

Measured in page faults (a count, not a time), in fresh interpreters: one that got 16 MiB
through the store's read buffer, and one that got them from an anonymous mapping without
telling the allocator (what a restore did before).
"""

from __future__ import annotations

import subprocess
import sys

_PROGRAM = """
import mmap, resource, sys
import numpy as np
from persist_ext.storage._disk import fresh_buffer

if sys.argv[1] == "restored":
    payload = fresh_buffer(16 << 20)
else:
    payload = mmap.mmap(-1, 16 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)

def columns():  # what a take of a 200-column frame allocates: 72 KB a column
    blocks = [np.empty(9000) for _ in range(200)]
    for block in blocks:
        block.fill(1.0)

columns()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    columns()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(kind: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM, kind], capture_output=True, text=True, check=True
    )
    return int(done.stdout.split()[-1])


def test_after_a_restore_freed_arrays_are_reused_not_faulted_in_again() -> None:
    # Without the allocator told, the heap's 14 MB freed by each round went back to the
    # system and came back page by page (~3,500 faults a round).
    unnoticed = _faults("unnoticed")
    restored = _faults("restored")
    assert unnoticed > 20 * 1000, unnoticed  # the effect is there to remove
    assert restored < unnoticed / 10, (restored, unnoticed)

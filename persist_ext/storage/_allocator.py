"""What the C allocator would have learnt from restored data, had it passed through it.

glibc's ``malloc`` serves a block above its mmap threshold (128 KiB at start) from a fresh
mapping, and each ``free`` of such a block raises the threshold to that block's size (up
to 32 MiB) and the heap's trim threshold to twice that. A process that has made and
dropped large arrays (a plain notebook, reading a data set and computing on it) therefore
keeps freed heap memory for later arrays; one that has not gives the heap back to the
system whenever 128 KiB of its top are free, and faults fresh pages in for the next
allocation.

A restore reads payloads into anonymous mappings of its own (page aligned, with huge
pages: :func:`persist_ext.storage._disk.fresh_buffer`), which ``malloc`` never sees. So a
kernel whose data came from the store was left with the allocator of a process that had
done nothing: ThinkStats2's resampling loop (a thousand ``df.loc[rows]`` of a 244-column
frame, 72 KB a column) ran 1.9x slower on the restored frame than on the frame the cell
had made, all of it in page faults. :func:`note_block` makes the allocator take and free
one block of the restored size (no page of it is touched: a map and an unmap), which sets
its thresholds as the original run's allocations would have.

Elsewhere than glibc (macOS, musl) it does nothing.
"""

from __future__ import annotations

import functools
import sys
import threading
from typing import Any

__all__ = ["note_block"]

#: glibc's ``DEFAULT_MMAP_THRESHOLD_MAX`` on 64-bit systems: the threshold rises no higher.
_MAX = 32 << 20
#: Its starting threshold: smaller blocks come from the heap already.
_MIN = 128 << 10


@functools.cache
def _glibc() -> Any:
    """glibc's ``malloc``/``free`` through ctypes, or ``None``; loaded on the first block
    large enough to note (not when the store's modules are imported)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - glibc only (musl has no such function)
    except (OSError, AttributeError):
        return None
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.restype = None
    libc.free.argtypes = [ctypes.c_void_p]
    return libc


_LOCK = threading.Lock()
_noted = [0]  # the largest block noted so far: a smaller one changes nothing


def note_block(size: int) -> None:
    """Take and free one ``malloc`` block of ``size`` bytes (at most 32 MiB), once per
    size larger than any noted before: the allocator's thresholds then are what they would
    be had the restored data been allocated and freed through it.

    >>> note_block(1 << 20)  # glibc: a map and an unmap; elsewhere nothing
    """
    size = min(size, _MAX)
    if size < _MIN or size <= _noted[0]:
        return
    with _LOCK:
        libc = _glibc()
        if libc is None or size <= _noted[0]:
            return
        _noted[0] = size
        block = libc.malloc(size)
        if block:
            libc.free(block)

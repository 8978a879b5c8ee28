"""A cell writing into a file-backed ``np.memmap``: the file is the effect.

IPython Cookbook, chapter 4 ("memory mapping"): ``f = np.memmap('memmapped.dat', ...,
mode='w+')``, then ``for i in range(ncols): f[:, i] = np.random.rand(nrows)`` in a cell of
its own, ``x = f[:, -1]``, ``del f`` and the file opened again: ``np.array_equal(f[:, -1],
x)``. The writes go to the file through the mapping, which the cache's file watch does not
see: a hit restored ``f`` and left the file as the re-run ``mode='w+'`` made it (zeros), so
the comparison printed ``False`` where the plain run prints ``True``. A cell assigning into
a memmap opened for writing (``r+``, ``w+``) runs now, and says so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

MEMMAP = [
    "import numpy as np\nnrows, ncols = 1000, 4",
    CACHED + "f = np.memmap('memmapped.dat', dtype=np.float32, mode='w+', shape=(nrows, ncols))",
    CACHED + "for i in range(ncols):\n    f[:, i] = np.arange(nrows) * (i + 1)",
    CACHED + "x = f[:, -1]",
    "del f",
    CACHED + "f = np.memmap('memmapped.dat', dtype=np.float32, shape=(nrows, ncols))",
    CACHED + "copy = np.memmap('memmapped.dat', dtype=np.float32, mode='c', shape=(nrows, ncols))",
    CACHED + "copy[0, 0] = -1.0",
]
MEMMAP_CHECKS = [
    "np.array_equal(f[:, -1], x)",
    "float(f.sum())",
    "float(x.sum())",
    "float(copy[0, 0])",
    "type(f).__name__, f.mode, type(copy).__name__, copy.mode",
    "float(np.fromfile('memmapped.dat', dtype=np.float32).sum())",
]


def test_a_cell_writing_into_a_file_backed_memmap_runs(tmp_path: Path) -> None:
    assert_runs_match_plain(MEMMAP, MEMMAP_CHECKS, ("1000, 4", "1000, 5"), tmp_path)


# The same writes made without an item assignment in the cell's code: a method, a numpy
# function, an augmented assignment. Each changes the memmap in place, so its file.
WRITES = [
    "import numpy as np\nnrows, ncols = 1000, 4",
    CACHED + "f = np.memmap('writes.dat', dtype=np.float32, mode='w+', shape=(nrows, ncols))",
    CACHED + "f.fill(3)",
    CACHED + "f += 1",
    CACHED + "np.copyto(f[:, 0], np.arange(nrows))",
    CACHED + "total = float(f.sum())",
    "del f",
    CACHED + "g = np.memmap('writes.dat', dtype=np.float32, mode='r', shape=(nrows, ncols))",
]
WRITES_CHECKS = [
    "total",
    "float(g.sum())",
    "float(np.fromfile('writes.dat', dtype=np.float32).sum())",
]


def test_a_cell_writing_into_a_memmap_by_a_method_or_function_runs(tmp_path: Path) -> None:
    assert_runs_match_plain(WRITES, WRITES_CHECKS, ("1000, 4", "1000, 5"), tmp_path)

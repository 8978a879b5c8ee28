"""A cell reading a matplotlib axes or line kept by an earlier cell.

matplotlib pickles each transform's parents (the transforms derived from it, held weakly)
in a dict keyed by ``id()``: the same figure fingerprinted differently in every kernel, so a
cell with such an input never hit in a new kernel, and paid the fingerprint and the store on
every run (0.7 s a run for a cell of 2 ms in EngComp's Fourier notebook). The parents are no
part of a fingerprint now; what the figure holds still is.

Left as it is: a figure *restored* from the store does not fingerprint as the one its cell
made (its callback registries and stacks load with other counters), so a cell reading the
axes of a restored cell still runs in a new kernel; here the figure is made by a plain cell.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED, build, execute

pytestmark = pytest.mark.kernel

FIGURE = [
    "import matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt\nN = 3",
    "fig, ax = plt.subplots()\nline, = ax.plot(list(range(N)))\nplt.close(fig)",
    CACHED + "points = len(ax.lines) + len(line.get_xdata(orig=True))",
]


def test_a_cell_reading_an_axes_hits_in_a_new_kernel(tmp_path: Path) -> None:
    assert_runs_match_plain(FIGURE, ["points"], ("N = 3", "N = 4"), tmp_path)
    again = tmp_path / "again"
    again.mkdir()
    notebook = build(FIGURE, ["points"], cached=True)
    execute(notebook, again)  # stored
    warm = execute(notebook, again)  # a new kernel
    reading = warm.cells[-2]  # the cell reading `line` and `ax` (the checks' cell is last)
    assert any("persist: restored" in o.get("text", "") for o in reading.outputs)

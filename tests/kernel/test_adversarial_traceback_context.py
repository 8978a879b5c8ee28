"""A failing cell's traceback shows the same lines of the cell under ``%%persist`` as plain.

CFDPython's Step 5 (``barbagroup/CFDPython``, lesson 07): cells end with blank lines, and
their last line but two raises (``fig.gca(projection='3d')``, gone from matplotlib). IPython
shows up to three lines of the cell after the failing one; the plain traceback showed the
blank line 34, the ``%%persist`` one stopped at line 33. The magic's body was transformed
without its final newline, as if IPython had added it: a body ending in a blank line lost
that line from the code the traceback reads.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .test_cellcache_fidelity_notebooks import CACHED, build, execute

pytestmark = pytest.mark.kernel

_ANSI = re.compile(r"\x1b\[[0-9;]*m")

CELLS = [
    CACHED + "x = 1\ny = 2\nraise ValueError(x)\n\n",
    CACHED + "z = 3\nraise KeyError(z)\n\n\n",
    CACHED + "w = 4\n\nraise TypeError(w)\n",
]


def tracebacks(cells: list[str], cached: bool, cwd: Path) -> list[str]:
    ran = execute(build(cells, [], cached=cached), cwd)
    return [
        _ANSI.sub("", "\n".join(output.traceback))
        for cell in ran.cells
        for output in cell.outputs
        if output.output_type == "error"
    ]


def test_a_failing_cell_ending_in_blank_lines_shows_them_in_its_traceback(
    tmp_path: Path,
) -> None:
    plain = tracebacks(CELLS, False, tmp_path)
    assert len(plain) == 3
    assert "      4 \n" in plain[0]  # the blank line after the failing one
    assert tracebacks(CELLS, True, tmp_path) == plain  # cold
    assert tracebacks(CELLS, True, tmp_path) == plain  # again (failing cells are not stored)

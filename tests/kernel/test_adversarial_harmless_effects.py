"""Cells whose effects leave nothing for a restore to redo are restored.

Found with sympy's LaTeX printing (``init_printing()`` upstream, then a cell showing an
expression): rendering it imports pyplot for the first time and writes a ``.tex`` file in a
temporary folder it removes again. Both made the cell "unrestorable" though neither leaves
anything behind: pyplot's open figures went from unknown to none (taken for a change of the
open figures), and ``shutil.rmtree`` removes a tree's files by name relative to their
folder's descriptor, which was resolved against the working directory (taken for the removal
of a file there). A cell that removes a file that existed before it still runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain, why_of
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

HARMLESS = [
    "N = 3",
    CACHED + "import matplotlib.pyplot as plt\ny = N * 2",
    CACHED + "import os, tempfile\nwith tempfile.TemporaryDirectory() as d:\n"
    "    with open(os.path.join(d, 'part.txt'), 'w') as fh:\n        fh.write(str(y))\n"
    "    z = len(os.listdir(d)) + N",
]


def test_importing_pyplot_and_a_temporary_folder_are_restored(tmp_path: Path) -> None:
    assert_runs_match_plain(HARMLESS, ["y", "z"], ("N = 3", "N = 4"), tmp_path)
    warm = tmp_path / "why"
    warm.mkdir()
    why_of(HARMLESS, [], warm)
    assert all("restored" in line for line in why_of(HARMLESS, ["c1", "c2"], warm))


def test_removing_a_file_that_existed_before_the_cell_runs(tmp_path: Path) -> None:
    cells = [
        "N = 3\nopen('old.txt', 'w').write('old')",
        CACHED + "import os\nos.remove('old.txt')\ngone = N",
    ]
    (tmp_path / "w").mkdir()
    why_of(cells, [], tmp_path / "w")
    (line,) = why_of(cells, ["c1"], tmp_path / "w")
    assert "it removes or renames files" in line
    assert "old.txt" in line

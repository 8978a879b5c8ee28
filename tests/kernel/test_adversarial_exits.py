"""A cell that exits: ``sys.exit()``, or a script's ``argparse`` pasted into a notebook.

IPython shows the ``SystemExit`` and then warns "To exit: use 'exit', 'quit', or Ctrl-D.".
Under ``%%persist`` the body's own run warned first and the error came after, when the
magic re-raised it (IPython warns once from one place, so the second warning was not
shown): the failing cell's outputs came in another order than a plain run's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

EXITS = [
    "import argparse, sys\nN = 3",
    CACHED + "doubled = N * 2",
    CACHED + "print('before', N)\nsys.exit(N)",
    CACHED + "parser = argparse.ArgumentParser(prog='train')\n"
    "parser.add_argument('--epochs', type=int, required=True)\nargs = parser.parse_args([])",
    "after = doubled + N",
]


def test_a_cell_that_exits_shows_what_a_plain_one_shows(tmp_path: Path) -> None:
    assert_runs_match_plain(EXITS, ["after"], ("N = 3", "N = 4"), tmp_path)

"""A notebook that replaces ``os.getcwd`` (Think Python's chapter 13 fakes a home directory).

``os.path.abspath``, ``os.path.realpath`` and ``Path.resolve`` call ``os.getcwd`` through the
``os`` module: with it replaced, the files a cell reads by a relative path resolved to the
fake directory, where they did not exist, so writing new contents upstream did not change
the reading cell's key (an edit of ``N`` restored the old text of the file). The store
itself went there too (``/home/dinsdale/.persist``, made where the process could).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

FAKE_CWD = [
    CACHED + "import os\n\ndef getcwd():\n    return '/home/dinsdale'\n\nos.getcwd = getcwd",
    CACHED + "os.getcwd()",
    "N = 23",
    CACHED + "writer = open('book.txt', 'w')\nwriter.write(str(N))\nwriter.close()",
    CACHED + "data = open('book.txt').read()\ndata",
    CACHED + "from pathlib import Path\nsize = Path('book.txt').stat().st_size\nsize",
]
FAKE_CWD_CHECKS = ["data", "size", "os.getcwd()", "os.path.basename(os.path.realpath('.'))"]


def test_files_read_by_relative_path_under_a_replaced_getcwd(tmp_path: Path) -> None:
    assert_runs_match_plain(FAKE_CWD, FAKE_CWD_CHECKS, ("N = 23", "N = 24"), tmp_path)
    # The store is where the notebook runs, not in the directory ``os.getcwd`` pretends.
    assert (tmp_path / "cached" / ".persist").is_dir()

"""A file a cell writes from C code, which the file watch does not see.

pyarrow writes a parquet file from C++ (no Python ``open``): a cell writing one to a path it
names was stored without the file, so after an edit and its undo the first cell was
restored while the file kept the edited run's rows, and a later cell read those. A file the
cell names (a literal or a ``str`` input) that its run changed, seen or not, is checked on a
hit as the run left it: otherwise the cell runs and writes it again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

PARQUET = [
    "import pandas as pd\nN = 3\nPATH = 'rows.parquet'",
    CACHED + "pd.DataFrame({'a': range(N)}).to_parquet(PATH)\nwritten = True",
    CACHED + "back = pd.read_parquet(PATH)\nsize = len(back)",
]


def test_a_parquet_file_written_from_cpp_is_checked_on_a_hit(tmp_path: Path) -> None:
    assert_runs_match_plain(PARQUET, ["size"], ("N = 3", "N = 4"), tmp_path)

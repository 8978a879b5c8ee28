"""An object an earlier cell showed, changed in place by a cached cell: ``Out`` holds it.

``lst = [1]`` shown as a cell's last line is ``Out[3]`` and ``_3``; a cached
``lst.append(V)`` changes that very object in a plain run, so a later ``print(_3)`` shows
``[1, 3]`` and ``Out[3] is lst``. A hit bound ``lst`` to the restored list and left the
history holding the old one: ``[1]`` and ``False`` (likewise a frame shown, then given a
column in place). A hit now gives the output history (``Out``, ``_n``, ``_``, ``__``,
``___``) the restored objects where it held the ones the cell changed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

SHOWN = [
    "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2]})\ndf",
    "lst = [1]\nlst",
    "V = 3",
    CACHED + "df['b'] = df['a'] * V\nlst.append(V)",
    "print(Out[2].columns.tolist(), _3, Out[2] is df, _3 is lst, Out[3] is lst, _ is lst)",
]


def test_the_output_history_holds_what_a_hit_changed_in_place(tmp_path: Path) -> None:
    assert_runs_match_plain(SHOWN, ["lst"], ("V = 3", "V = 4"), tmp_path)

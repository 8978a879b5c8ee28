"""A pandas Index over a read-only array comes back read-only.

Think Bayes 2 (chapters 9 and 11): ``pd.Series(probs, index=bids)`` with ``bids`` a Pmf's
``qs`` (an Index's values: a read-only view under pandas' copy-on-write). The new Series' index
holds that read-only view; restored, its data was writeable (the store's Arrow format, which
a numeric Series is stored in, gives arrays back writeable), so ``np.asarray(s.index)[0] = 0``
would change an Index in place where the plain run raises.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

READ_ONLY = [
    "import numpy as np\nimport pandas as pd\nV = 2",
    CACHED + "base = pd.Series([1.0, 2.0, 3.0], index=[10.0, 20.0, 30.0])",
    CACHED + "s = pd.Series([V, 2.0, 3.0], index=base.index.values)\n"
    "window = np.arange(6.0)[1:4]\nwindow.flags.writeable = False\nheld = {'w': window}",
]
READ_ONLY_CHECKS = [
    "s",
    "np.asarray(s.index).flags.writeable",
    "held['w'].flags.writeable",
    "held['w'].tolist()",
]


def test_an_index_over_a_read_only_array_stays_read_only(tmp_path: Path) -> None:
    assert_runs_match_plain(READ_ONLY, READ_ONLY_CHECKS, ("V = 2", "V = 3"), tmp_path)

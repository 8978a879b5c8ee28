"""Views made by ``as_strided``: what their ``base`` is after a hit.

IPython Cookbook, chapter 4 ("stride tricks", "rolling average"): ``b =
np.lib.stride_tricks.as_strided(a, (n, n), (0, 8))`` in a cell after the one making ``a``.
numpy makes such a view on a ``DummyArray`` holding ``a`` (``b.base.base is a``;
``sliding_window_view`` too); a hit re-made it directly on ``a``, so ``b.base is a`` held
after a restore only. A view ``as_strided`` made on its root at offset 0 is re-made by
``as_strided`` now.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

STRIDED = [
    "import numpy as np\n"
    "from numpy.lib.stride_tricks import as_strided, sliding_window_view\nN = 6",
    CACHED + "a = np.arange(float(N))",
    CACHED + "b = as_strided(a, (N, N), (0, a.itemsize))\nw = sliding_window_view(a, 3)",
    CACHED + "c = np.arange(N * 2)\nd = as_strided(c, (N, 2), (2 * c.itemsize, c.itemsize))",
]
STRIDED_CHECKS = [
    "b.base is a",
    "type(b.base).__name__",
    "b.base.base is a",
    "b.flags.writeable",
    "b.sum()",
    "type(w.base).__name__",
    "w.base.base is a",
    "w.flags.writeable",
    "w.tolist()",
    "d.base is c",
    "d.base.base is c",
    "d.tolist()",
]


def test_views_made_by_as_strided_keep_their_base(tmp_path: Path) -> None:
    assert_runs_match_plain(STRIDED, STRIDED_CHECKS, ("N = 6", "N = 7"), tmp_path)

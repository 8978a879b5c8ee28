"""Arrays and scalars of numpy's ``long long`` (``np.longlong``, type code ``'q'``).

numpy pickles ``dtype('q')`` as ``dtype('i8')``, which loads as ``dtype('l')`` where both are
64 bits (Linux): a restored array of ``np.longlong`` had another ``dtype.char`` and ``num``,
and its items were ``numpy.int64`` where a plain run has ``numpy.longlong`` (found in
unpingco's decision_trees notebook, whose loop variable came from such an array). Such
dtypes are stored by their own type code.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

LONG_LONG = [
    "import numpy as np\nN = 3",
    CACHED + "a = np.array([1, N], dtype=np.longlong)\ns = a[1]\nu = np.ulonglong(N)\nv = a[::2]",
    "kinds = [type(x).__name__ for x in (s, u)] + [a.dtype.char, a.dtype.num, v.base is a]\n"
    "total = int(a.sum())",
]


def test_long_long_arrays_and_scalars_keep_their_type(tmp_path: Path) -> None:
    assert_runs_match_plain(LONG_LONG, ["kinds", "total"], ("N = 3", "N = 4"), tmp_path)

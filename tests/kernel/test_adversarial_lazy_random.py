"""numpy 2 imports ``numpy.random`` on its first use: a cached cell seeding it then.

``import numpy as np`` no longer imports ``numpy.random``; the first ``np.random.seed(0)``
does. The state snapshot taken before such a cell saw no numpy RNG at all, so the cell's
seeding and draws had to be found as a state the cell created, recorded and re-applied by a
hit: otherwise the next cell draws from wherever a fresh kernel's generator starts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel


LAZY = [
    "import numpy as np",
    CACHED + "np.random.seed(0)\nfirst = np.random.rand(3)",
    CACHED + "second = np.random.rand(2) * 10",
]
LAZY_CHECKS = ["first.tolist()", "second.tolist()", "float(np.random.rand())"]


def test_a_cell_seeding_numpy_random_on_its_first_import_re_seeds_on_a_hit(
    tmp_path: Path,
) -> None:
    assert_runs_match_plain(LAZY, LAZY_CHECKS, ("* 10", "* 100"), tmp_path)

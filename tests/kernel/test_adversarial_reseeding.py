"""A cell that seeds a global generator and ends where the generator already was.

Numerical Python, chapter 17: cell 21 seeds numpy's generator and draws ``N`` normals;
cell 70 seeds it again and draws 6000. With ``N`` 6000 the state after cell 70 is the one
before it, so its run changed no state that a hit had to re-apply. After an upstream edit
(``N`` 9000) cell 70 was restored, and the generator stayed where cell 21 left it: every
later draw differed from the plain run, which seeds again. A cell that seeds a generator
sets its state whatever it was before: a hit re-applies the state it left.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel


RESEED = [
    "import numpy as np\nimport random",
    CACHED + "N = 6000\nnp.random.seed(0)\nfirst = np.random.randn(N)\nrandom.seed(1)\n"
    "r = [random.random() for _ in range(N)]",
    CACHED + "np.random.seed(0)\nsecond = np.random.randn(3 * 2000)\nrandom.seed(1)\n"
    "s = [random.random() for _ in range(3 * 2000)]",
]
RESEED_CHECKS = [
    "float(first.sum())",
    "float(second.sum())",
    "float(np.random.rand())",
    "random.random()",
]


def test_a_seeding_cell_that_ends_where_it_started_re_seeds_on_a_hit(tmp_path: Path) -> None:
    assert_runs_match_plain(RESEED, RESEED_CHECKS, ("N = 6000", "N = 9000"), tmp_path)


# A cell that draws before it seeds (or only defines a function that seeds): what it drew
# came from the state upstream cells left, so after an upstream edit that moves the
# generator, a hit would bring back the old draws.
DRAW_THEN_SEED = [
    "import numpy as np",
    CACHED + "N = 3\nnp.random.seed(0)\nup = np.random.rand(N)",
    CACHED + "x = float(np.random.rand())\nnp.random.seed(1)\ny = float(np.random.rand())",
    CACHED + "def reset():\n    np.random.seed(0)\nz = float(np.random.rand())",
]
DRAW_THEN_SEED_CHECKS = ["x", "y", "z", "float(np.random.rand())"]


def test_a_cell_drawing_before_it_seeds_is_checked_against_its_start(tmp_path: Path) -> None:
    assert_runs_match_plain(DRAW_THEN_SEED, DRAW_THEN_SEED_CHECKS, ("N = 3", "N = 5"), tmp_path)

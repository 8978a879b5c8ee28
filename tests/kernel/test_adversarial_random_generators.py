"""Random generators held across cells, and what else holds their bit generator.

``bg = rng.bit_generator`` in a plain cell, then a cached cell drawing from ``rng``: a hit
put back a ``rng`` whose bit generator was a new object, so ``bg is rng.bit_generator`` was
False and ``bg.random_raw()`` drew from where ``bg`` stood before the cell (a Generator holds
its bit generator in a C field, which the grouping walk did not see: ``rng`` and ``bg`` were
stored apart). They are one group now, restored sharing it, as after a re-run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

HELD = [
    "import random\nimport numpy as np\nV = 0",
    CACHED + "rng = np.random.default_rng(V)\nrs = np.random.RandomState(V)\nr = random.Random(V)\n"
    "a = rng.random()",
    "bg = rng.bit_generator\nmt = rs._bit_generator",
    CACHED + "d = rng.random() + rs.rand() + r.random()",
    "print(bg is rng.bit_generator, bg.random_raw(), mt is rs._bit_generator, mt.random_raw())\n"
    "print(rng.random(), rs.rand(), r.random())",
]


def test_a_generator_and_its_bit_generator_stay_one_object(tmp_path: Path) -> None:
    assert_runs_match_plain(HELD, ["a", "d"], ("V = 0", "V = 1"), tmp_path)

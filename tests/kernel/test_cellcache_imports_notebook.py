"""``%%persist`` imports nothing the plain cells would not (issue #13.2 and #13.6).

``sys.modules`` is state a later cell can see, and an import costs time the plain run never
spends. numpy loads ``numpy.random`` on first use; the cache's watch of numpy's generator
must not be that first use.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.kernel

CELLS = ["import numpy as np\nx = np.arange(3)", "y = x.sum()"]
PROBE = "import sys\nprint(sorted(m for m in sys.modules if m.startswith('numpy.random')))"


def test_a_cell_that_does_not_draw_leaves_numpy_random_unimported(run_cells, text_of) -> None:
    plain = run_cells([*CELLS, PROBE])
    assert text_of(plain.cells[-1]).strip() == "[]"  # the premise: numpy loads it lazily
    cached = run_cells(["%load_ext persist_ext", *(f"%%persist\n{c}" for c in CELLS), PROBE])
    assert text_of(cached.cells[-1]).strip() == "[]"
    seeded = run_cells(
        [
            "%load_ext persist_ext",
            "%%persist\nimport numpy as np\nnp.random.seed(1)\nx = np.random.random()",
            "print(x == __import__('numpy').random.RandomState(1).random_sample())",
        ]
    )
    assert text_of(seeded.cells[-1]).strip() == "True"

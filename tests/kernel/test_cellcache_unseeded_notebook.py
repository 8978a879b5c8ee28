"""A cell drawing from a global generator that no cell seeded (issue #13.6).

A new kernel starts numpy's generator from fresh entropy, so such a cell's key (which holds
the generator's state) never matches in another kernel: storing it buys no hit, and it is
decided by its cost like any cell. Seeded in the notebook, it is stored as before (later
cells would otherwise read other numbers and miss).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.kernel

DRAW = "%%persist draw\nimport numpy as np\ndrawn = np.random.random(3)"


def test_an_unseeded_draw_is_decided_by_cost_and_a_seeded_one_is_stored(run_cells, text_of) -> None:
    ran = run_cells(
        [
            "%load_ext persist_ext",
            DRAW,
            "print(repr(str(get_ipython().run_line_magic('persist', 'why draw'))))",
        ]
    )
    why = text_of(ran.cells[-1])
    assert "runs in" in why, why  # cheap: run, not stored
    seeded = run_cells(
        [
            "%load_ext persist_ext",
            # No floor: a run under 0.5 ms would otherwise run without a look at its draws.
            "%config PersistMagics.min_time = 0",
            "import numpy as np\nnp.random.seed(0)",
            DRAW.replace("draw\n", "draw_seeded\n"),
            "print(repr(str(get_ipython().run_line_magic('persist', 'why draw_seeded'))))",
        ]
    )
    why = text_of(seeded.cells[-1])
    assert "nothing was stored for it yet" in why, why
    assert "from now on it is run" not in why, why

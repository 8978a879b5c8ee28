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


SLOW_DRAW = "%%persist slow_draw\ntime.sleep(0.05)\ndrawn = np.random.random(3)"
WHY = "print(repr(str(get_ipython().run_line_magic('persist', 'why slow_draw'))))"


def test_an_unseeded_draw_worth_storing_is_not_stored_until_a_cell_seeds(
    run_cells, text_of
) -> None:
    # Worth storing by its cost, but its check of the generator's state could never hold (a
    # new kernel, or the same one after the draw, has another state): storing it cost a run's
    # worth on every run for nothing. Not recorded as a cell that runs either, so seeding the
    # generator upstream later makes the next run store it.
    ran = run_cells(
        [
            "%load_ext persist_ext\nimport time\nimport numpy as np\nimport numpy.random",
            SLOW_DRAW,
            WHY,
            "print('entries', len(get_ipython().run_line_magic('persist', 'list').entries))",
            "np.random.seed(0)",
            SLOW_DRAW,
            WHY,
        ]
    )
    why = text_of(ran.cells[2])
    assert "it is not stored: it draws from a global random generator that no cell seeded" in why
    assert "entries 0" in text_of(ran.cells[3])
    seeded = text_of(ran.cells[6])
    assert "not stored" not in seeded, seeded
    assert "from now on it is run" not in seeded, seeded


CHEAP_DRAW = "%%persist cheap_draw\ntime.sleep(0.003)\ndrawn = np.random.random(3)"


def test_a_cheap_unseeded_draw_is_recorded_as_a_cell_that_runs(run_cells, text_of) -> None:
    # Above the floor (so its draws are looked at) but far cheaper than a restore plus the
    # store's opening: decided by its cost like any cell, so the next kernel runs it with
    # nothing looked up (a lookup would open the store for a key that never matches).
    # numpy.random imported beforehand (numpy loads it on first use): its state is then
    # seen before the cell, and the draw is seen.
    setup = "%load_ext persist_ext\nimport time\nimport numpy as np\nimport numpy.random"
    why = "print(repr(str(get_ipython().run_line_magic('persist', 'why cheap_draw'))))"
    first = text_of(run_cells([setup, CHEAP_DRAW, why]).cells[2])
    assert "runs in" in first, first
    assert "not stored" not in first, first
    again = text_of(run_cells([setup, CHEAP_DRAW, why]).cells[2])
    assert "known from an earlier run: nothing was looked up" in again, again

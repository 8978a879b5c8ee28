"""Checkpoints in a real kernel share the values of %%persist cells (never stored twice)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.kernel

_STORE_BYTES = (
    "import os\n"
    "def store_bytes():\n"
    "    return sum(os.path.getsize(os.path.join(d, f))\n"
    "               for d, _, files in os.walk('.persist') for f in files)\n"
)


def test_a_100mb_persist_value_is_stored_once_and_survives_clear(
    run_cells, text_of, tmp_path
) -> None:
    first = run_cells(
        [
            "%load_ext persist_ext",
            "%persist autocheckpoint on",
            _STORE_BYTES + "import numpy as np\nbefore = store_bytes()",
            "%%persist big\nbig = np.random.default_rng(0).random(100_000_000 // 8)",
            "import json\n"
            "grown = store_bytes() - before\n"
            "state = get_ipython().run_line_magic('persist', 'history').rows[-1].id\n"
            "json.dump({'state': state, 'total': float(big.sum())}, open('saved.json', 'w'))\n"
            "print(round(grown / big.nbytes, 2))",
            "%persist clear big",
            "big[:] = 0",
            "%persist undo",
            "print(float(big.sum()) == json.load(open('saved.json'))['total'])",
        ]
    )
    ratio = float(text_of(first.cells[4]).strip())
    # One copy (the cell entry) plus small records; two copies would be >= 2.
    assert 0.95 <= ratio < 1.3, ratio
    assert "Removed 1 cached run(s) of big" in text_of(first.cells[5])
    assert "undid to" in text_of(first.cells[7])
    assert text_of(first.cells[8]).strip() == "True"

    # A restarted kernel restores the state from the value the cleared cell left pinned.
    saved = json.loads((tmp_path / "saved.json").read_text())
    second = run_cells(
        [
            "%load_ext persist_ext",
            f"%persist restore {saved['state']}",
            f"print(float(big.sum()) == {saved['total']!r}, big.shape)",
        ]
    )
    assert "restored" in text_of(second.cells[1])
    assert text_of(second.cells[2]).strip() == "True (12500000,)"


def test_the_global_random_generators_come_back_as_the_global_ones(run_cells, text_of) -> None:
    # scipy's frozen distributions draw from numpy's global RandomState, ``random.random`` is
    # a method of random's: restored with copies, they no longer follow np.random.seed nor
    # advance the global state (the cell cache's fix of 7c0d466, for checkpoints).
    run_cells(
        [
            "%load_ext persist_ext",
            "import random\nimport numpy as np\nfrom scipy import stats\n"
            "X = stats.poisson(3.5)\npicker = random.random\nrng = np.random.mtrand._rand",
            "%persist checkpoint",
        ]
    )
    back = run_cells(
        [
            "%load_ext persist_ext",
            "%persist restore",
            "import random\nimport numpy as np\nfrom scipy import stats\n"
            "np.random.seed(0)\nrandom.seed(0)\n"
            "restored = (X.rvs(size=5).tolist(), np.random.rand(), picker())\n"
            "np.random.seed(0)\nrandom.seed(0)\n"
            "fresh = (stats.poisson(3.5).rvs(size=5).tolist(), np.random.rand(), random.random())\n"
            "print(restored == fresh, X.random_state is np.random.mtrand._rand, "
            "rng is np.random.mtrand._rand, picker.__self__ is random._inst)",
        ]
    )
    assert text_of(back.cells[2]).strip() == "True True True True"

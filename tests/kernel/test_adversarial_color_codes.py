"""matplotlib's one-letter colors, which seaborn re-points: global state a hit re-applies.

"Numerical Python", chapters 14 and 15: an early cell calls ``sns.set(style="whitegrid")``,
which (``set_theme(color_codes=True)``) points ``"b"``, ``"r"``, ``"k"``... at seaborn's
palette in a dict ``matplotlib.colors`` holds, not in rcParams. After a hit of that cell the
codes stayed matplotlib's: ``smg.plot_fit`` (drawing with ``"bo"`` and ``"rD"``) drew pure
blue and red in a cell that ran after it, and ch15's Lasso paths (``color='k'``) another
black. The codes are a state facet now: re-applied by a hit, and checked for a cell that
draws.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel


CODES = [
    "import matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt\n"
    "import matplotlib.colors as mcolors\nimport seaborn as sns\nPALETTE = 'deep'",
    CACHED + "sns.set_color_codes(PALETTE)",
    "fig, ax = plt.subplots()\nline, = ax.plot([0, 1], 'b')\n"
    "shown = mcolors.to_hex(line.get_color())",
]
CODES_CHECKS = ["mcolors.to_hex('b')", "mcolors.to_hex('k')", "shown"]


def test_color_codes_set_by_a_cached_cell_are_re_applied(tmp_path: Path) -> None:
    assert_runs_match_plain(CODES, CODES_CHECKS, ("'deep'", "'muted'"), tmp_path)

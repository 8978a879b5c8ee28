"""Figures a cached cell leaves open, with a backend that keeps them (issue #13).

The inline backend closes a cell's figures when it ends; ``%matplotlib notebook``, widget
and non-interactive backends keep them open, and a later ``plt.plot`` draws into the
current one. A restore replays the figure's image but cannot reopen it: such a cell runs.
Seen in "A Whirlwind Tour of Python" (15-Preview-of-Data-Science-Tools, ``%matplotlib
notebook``): one figure fewer open after the warm run than after a plain run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

CELLS = [
    "import matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt\nV = 2",
    CACHED + "values = list(range(V * 1000))",
    CACHED + "plt.plot(values[:V]);",
    "plt.plot([V, V]);",  # into the figure the cached cell left open
]
CHECKS = [
    "plt.get_fignums()",
    "[len(plt.figure(n).axes[0].lines) for n in plt.get_fignums()]",
    "len(values)",
]


def test_a_cell_leaving_a_figure_open_is_run_not_restored(tmp_path: Path) -> None:
    assert_runs_match_plain(CELLS, CHECKS, ("V = 2", "V = 3"), tmp_path)


# A cached cell that switches the backend (scientific-python-lectures 4: ``matplotlib.use(
# 'svg')``, then a cell saving its figure to a file): skipped on a hit, the inline backend
# stayed, and the next plotting cell showed its figure where a re-run shows nothing.
BACKEND = [
    "import matplotlib\nimport matplotlib.pyplot as plt",
    "N = 2",
    CACHED + "matplotlib.use('agg')\nchosen = N",
    "fig, ax = plt.subplots()\nax.plot(range(N))\nprint(matplotlib.get_backend())",
]


def test_a_backend_chosen_by_a_cached_cell_is_chosen_again(tmp_path: Path) -> None:
    checks = ["matplotlib.get_backend()", "chosen"]
    assert_runs_match_plain(BACKEND, checks, ("N = 2", "N = 3"), tmp_path)


# A cached cell that closes the figures open when it starts (AnatomyOfMatplotlib parts 2
# and 4, ``matplotlib.use('nbagg')``: its ``plt.show()`` pops every open figure). Its stored
# run opened and closed one figure, so it left the open figures as it found them; after an
# edit, an upstream cell that failed left a figure open, which a restore did not close: one
# figure more open at the end than after a plain run. The figures open when a cell starts
# are read by it (``plt.show()``, ``plt.close('all')``, ``plt.plot`` into the current one).
CLOSING = [
    "import matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt",
    "N = 2",
    "left_open = [plt.figure() for _ in range(N - 2)]",  # none, one after the edit
    CACHED + "plt.plot([1, 2])\nplt.close('all')\nclosed = True",
]


def test_a_cell_closing_the_figures_it_found_open_runs_when_others_are_open(
    tmp_path: Path,
) -> None:
    checks = ["plt.get_fignums()", "len(left_open)", "closed"]
    assert_runs_match_plain(CLOSING, checks, ("N = 2", "N = 3"), tmp_path)


# The kernel's first figure (trekhleb's homemade-machine-learning, 2026-12-06: the first
# plotting cell of every notebook that does not run ``%matplotlib inline`` first): drawing
# it imports the inline backend, which registers IPython's figure printers. That change of
# the display formatters made the cell run on every run. A hit imports the backend again,
# which registers them as the run did; the restored figure is neither shown twice nor
# lost, and a later cell shows a figure it holds (`fig`) as an image, as a re-run does.
FIRST_FIGURE = [
    "import matplotlib.pyplot as plt\nimport numpy as np",
    "N = 3",
    CACHED + "fig, ax = plt.subplots(figsize=(2, 2))\nax.plot(np.arange(N))",
    "fig",
    "plt.figure(figsize=(1, 1))\nplt.plot([1, 2])",
]
FIRST_FIGURE_CHECKS = [
    "len(plt.get_fignums())",
    "ax.figure is fig",
    "ax.lines[0].get_ydata().tolist()",
    "sorted(m for m, f in get_ipython().display_formatter.formatters.items()"
    " if any('Figure' in str(t) for t in f.type_printers))",
]


def test_the_cell_drawing_the_first_figure_is_restored_with_its_printers(
    tmp_path: Path,
) -> None:
    assert_runs_match_plain(FIRST_FIGURE, FIRST_FIGURE_CHECKS, ("N = 3", "N = 4"), tmp_path)

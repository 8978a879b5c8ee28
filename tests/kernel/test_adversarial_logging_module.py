"""A cell logging under the levels upstream cells set.

``logging.warning(...)``, ``from logging import warning``, ``logging.getLogger("nb")`` and a
notebook function calling ``logging.warning`` log through the root logger, which
``logging.basicConfig(level=...)`` upstream configures; a library logs through its own
(matplotlib's ``findfont`` warnings, silenced upstream by
``logging.getLogger("matplotlib").setLevel(logging.ERROR)``). A logger input stood in a
key for its configuration; the module stood as its name only, and a library's logger not
at all, so after an upstream edit of the level a hit showed the stored ``WARNING:root:...``
or ``findfont`` lines where a re-run showed nothing. The loggers' levels and handlers are
now checked before every hit (the ``logging.levels`` facet).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

LOGGING = [
    "import logging\nlogging.basicConfig(level=logging.WARNING, force=True)\nK = 1",
    CACHED + "logging.warning('loaded %s', K)\nx = K",
    CACHED + "from logging import warning\nwarning('warned %s', K)\ny = K",
    CACHED + "logging.getLogger('nb.sub').warning('sub %s', K)\nz = K",
    "print(x, y, z)",
]


def test_a_hit_logs_as_the_level_set_upstream_lets_it(tmp_path: Path) -> None:
    edit = ("level=logging.WARNING", "level=logging.ERROR")
    assert_runs_match_plain(LOGGING, [], edit, tmp_path)


THROUGH_A_FUNCTION = [
    "import logging\nlogging.basicConfig(level=logging.WARNING, force=True)\nK = 1",
    "def work(k):\n    logging.warning('working %s', k)\n    return k",
    CACHED + "r = work(K)",
    "print(r)",
]


def test_a_hit_of_a_cell_calling_a_logging_function_logs_as_the_level_lets_it(
    tmp_path: Path,
) -> None:
    edit = ("level=logging.WARNING", "level=logging.ERROR")
    assert_runs_match_plain(THROUGH_A_FUNCTION, [], edit, tmp_path)


LIBRARY = [
    "import logging\nimport matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt\n"
    "logging.getLogger('matplotlib').setLevel(logging.WARNING)",
    CACHED + "fig = plt.figure()\nfig.text(0, 0, 'x', family='NoSuchFontAtAll')\n"
    "fig.canvas.draw()\nplt.close(fig)\ndone = 1",
    "print(done)",
]


def test_a_hit_shows_a_librarys_log_lines_as_the_level_set_upstream_lets_it(
    tmp_path: Path,
) -> None:
    edit = ("setLevel(logging.WARNING)", "setLevel(logging.ERROR)")
    assert_runs_match_plain(LIBRARY, [], edit, tmp_path)

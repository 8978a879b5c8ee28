"""A cell logging through ``logging``'s own functions, under a level an upstream cell set.

``logging.warning(...)``, ``from logging import warning`` and ``logging.getLogger("nb")``
log through the root logger, which ``logging.basicConfig(level=...)`` upstream configures.
A logger input stood in a key for its configuration; the module stood as its name only, so
after an upstream edit to ``level=logging.ERROR`` a hit showed the stored
``WARNING:root:...`` lines where a re-run showed nothing. The configuration of the loggers
is now part of the key of a cell that reads or imports ``logging``, or calls a notebook
function that reads it.
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

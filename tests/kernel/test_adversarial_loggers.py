"""A cell logging through a logger of the notebook.

A logger held its handlers' streams, and in a kernel those hold the kernel: it could not be
fingerprinted, so every cell naming one ran each time with a warning. A logger now stands
in a key for its configuration (levels, handlers, formats, streams along the way its
records propagate): the cell is restored with its log lines, and an upstream change of
level or format makes it run. A cell that logs into a file (through a handler opened
before it, which the file watch does not see) runs, since a hit would not write there;
before, a logger writing only to a file was fingerprinted by its name and such a cell was
restored without its lines in the file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

# The root stays at WARNING: the INFO lines libraries log (persist_ext's own, once, when it
# makes the user's secret) stay out of the output, as with logging's defaults.
SETUP = (
    "import logging\nlogging.basicConfig(level=logging.WARNING, force=True)\n"
    "log = logging.getLogger('nb')\nLEVEL = logging.INFO\nlog.setLevel(LEVEL)\nN = 3"
)
LOGGED = [
    SETUP,
    CACHED + "log.info('n is %s', N)\nlog.warning('careful')\nm = N + 1",
    "log.info('after')",
]


def test_a_cell_logging_is_restored_and_runs_when_the_level_changes(tmp_path: Path) -> None:
    edit = ("LEVEL = logging.INFO", "LEVEL = logging.WARNING")
    assert_runs_match_plain(LOGGED, ["m"], edit, tmp_path)


FILED = [
    "import logging\nlog = logging.getLogger('filed')\nlog.propagate = False\n"
    "log.addHandler(logging.FileHandler('run.log', mode='w'))\nlog.setLevel(logging.INFO)\nN = 3",
    CACHED + "log.info('n is %s', N)\nm = N + 1",
    CACHED + "log.info('again %s', m)",
    CACHED + "quiet = not log.isEnabledFor(logging.DEBUG)\nlog.debug('not written')",
]


def test_a_cell_logging_to_a_file_runs_so_the_file_holds_its_lines(tmp_path: Path) -> None:
    checks = ["open('run.log').read()", "m", "quiet"]
    assert_runs_match_plain(FILED, checks, ("N = 3", "N = 4"), tmp_path)

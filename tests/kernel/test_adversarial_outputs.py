"""Outputs written to both streams: a restore shows them in the order a re-run shows them.

ipykernel sends each stream in batches (on a timer, and stdout then stderr before a display
or at the end of the cell), so the front end shows a fast cell's stdout before its stderr
whatever order they were written in; text written a while apart arrives in that order.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

STREAMS = [
    "import sys, time\nfrom IPython.display import display, Markdown",
    "N = 3",
    CACHED + "print('err', N, file=sys.stderr)\nprint('out', N)\ndisplay(Markdown('**shown**'))\n"
    "print('late err', file=sys.stderr)\nvalues = list(range(N))\nvalues",
    CACHED + "print('first err', file=sys.stderr)\nprint('first out')\ntime.sleep(0.6)\n"
    "print('second err', N, file=sys.stderr)\nprint('second out')\nslept = N",
]


def test_stdout_and_stderr_come_back_in_the_order_a_rerun_shows(tmp_path: Path) -> None:
    assert_runs_match_plain(STREAMS, ["values", "slept"], ("N = 3", "N = 4"), tmp_path)


# Warning filters an upstream cell sets: the stored run of a cell that warns showed nothing
# (filtered out); edited upstream to turn warnings into errors (or to show them), a restore
# would still show nothing.
FILTERED = [
    "import warnings\nN = 1",
    "warnings.simplefilter('ignore' if N == 1 else 'error', UserWarning)",
    CACHED + "try:\n    warnings.warn('careful', UserWarning)\n    outcome = 'quiet'\n"
    "except UserWarning:\n    outcome = 'raised'",
    CACHED + "doubled = [N] * 2",
]


@pytest.mark.xfail(
    strict=True,
    reason="warning filters are re-applied but not checked before a hit; checking them for "
    "every cell makes cells stored by another process with other default filters (a test "
    "runner's, PYTHONWARNINGS) miss, and pytest.warns around a lookup changes them",
)
def test_warning_filters_set_upstream_are_read_by_a_cell_that_warns(tmp_path: Path) -> None:
    assert_runs_match_plain(FILTERED, ["outcome", "doubled"], ("N = 1", "N = 2"), tmp_path)

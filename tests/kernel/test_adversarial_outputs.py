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

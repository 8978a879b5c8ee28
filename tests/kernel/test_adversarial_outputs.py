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


# An artist as the cell's result (introduction_to_ml_with_python 04: ``plt.xlabel("Value")``
# last): a plain run shows its repr before the inline backend draws the figure, which then
# moves the label (``Text(0.5, 0, 'Value')``, then ``Text(0.5, 17.2, 'Value')``). The value
# is stored as drawn; formatting it again on a hit showed the moved label.
ARTIST = [
    "%matplotlib inline\nimport matplotlib.pyplot as plt",
    "N = 3",
    CACHED + "plt.plot(range(N))\nplt.xlabel(f'Value {N}')",
    CACHED + "fig, ax = plt.subplots()\nax.plot(range(N))\nax.set_title(f'N = {N}')",
]


def test_an_artist_result_is_shown_as_the_run_showed_it(tmp_path: Path) -> None:
    assert_runs_match_plain(ARTIST, ["fig.axes[0].get_title()"], ("N = 3", "N = 4"), tmp_path)

"""A cached cell that does not parse fails as the plain cell fails, with the same message.

IPython names a cell's code after a hash of its text (``/tmp/ipykernel_<pid>/<hash>.py``) and a
``SyntaxError``'s message cites that name. pytudes' Babylonian digits, edited (the corpus
runner's edit landed inside a string of four-byte characters): the plain run said ``...
(1023061902.py, line 3)``, the cached run ``... (2877384629.py, line 3)``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

SYNTAX = [
    "V = 2",
    CACHED + "x = 'unterminated\ny = V",
    CACHED + "z = V * 2\nif z > 3:\nprint(z)",
    CACHED + "w = V + 1",
]
SYNTAX_CHECKS = ["w"]


def test_a_cached_cell_that_does_not_parse_shows_the_plain_message(tmp_path: Path) -> None:
    assert_runs_match_plain(SYNTAX, SYNTAX_CHECKS, ("V = 2", "V = 3"), tmp_path)


# IPython ends a cell magic's body with a newline and empties lines of blanks: the cached
# cell's code was named after that body, not after the cell's text as the plain cell is.
BLANKS = [
    "V = 2",
    CACHED + "x = {'a': 1, 'b\n     \ny = V",
    CACHED + "def f():\n    return V\nz = 'oops\n",
    CACHED + "import warnings\nw = V + 1\n    \nwarnings.warn(f'w is {w}')\n",
]
BLANKS_CHECKS = ["w"]


def test_a_cell_ending_in_a_newline_or_holding_blanks_is_named_as_the_plain_cell(
    tmp_path: Path,
) -> None:
    assert_runs_match_plain(BLANKS, BLANKS_CHECKS, ("V = 2", "V = 3"), tmp_path)

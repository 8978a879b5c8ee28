"""What a cell shows of ``builtins.__import__`` while it runs under ``%%persist``.

QuantEcon's lecture on names and namespaces shows ``mathfoo.__dict__``, whose
``__builtins__`` entry is the ``builtins`` module's dict. A cached cell's imports are timed
by wrapping ``builtins.__import__`` for the run, and the cold run showed the wrapper
(``<persist_ext.features._cellcache._costs._ImportTimer at 0x...>``) where the plain run
shows ``<function __import__(name, globals=None, ...)>``. The wrapper is shown as the
function it wraps, by ``repr`` and by IPython's pretty printer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

SHOWN = [
    "import builtins\nV = 2",
    CACHED + "import json\nshown = repr(builtins.__import__)\nprinted = str(__import__)\nv = V",
    CACHED + "{'v': v, 'import': builtins.__import__}",
    CACHED + "print(builtins.__import__, v)",
]
SHOWN_CHECKS = ["shown", "printed", "v"]


def test_the_import_timer_shows_as_the_function_it_wraps(tmp_path: Path) -> None:
    assert_runs_match_plain(SHOWN, SHOWN_CHECKS, ("V = 2", "V = 3"), tmp_path)

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


# A module warning at its first import: "for its importer" (``stacklevel=2``, as tqdm's
# autonotebook and ``import scipy.misc`` do) named the import timer's frame instead of the
# cell's line, and a DeprecationWarning was not shown at all (IPython shows those for
# ``__main__`` only); one at the module's own line was lost by a restore (re-running the
# cell's ``import`` marked it shown before the recorded one was replayed).
WARNING_MODULES = {"oldapi": ("FutureWarning", 2), "depr": ("DeprecationWarning", 2)}
WARNING_MODULES["helper"] = ("UserWarning", 1)
IMPORT_WARNINGS = [
    CACHED + "import oldapi\nk = oldapi.VALUE * N",
    CACHED + "import depr\nd = depr.VALUE * N",
    CACHED + "import helper\nv = helper.VALUE * N\nv",
]


def test_warnings_at_import_name_the_cell_and_survive_a_restore(tmp_path: Path) -> None:
    lib = tmp_path / "lib"  # one folder for both runs: a warning names the module's file
    lib.mkdir()
    for name, (kind, level) in WARNING_MODULES.items():
        warn = f"warnings.warn({name + ' is going away'!r}, {kind}, stacklevel={level})"
        (lib / f"{name}.py").write_text(f"import warnings\n{warn}\nVALUE = 3\n")
    cells = [f"import sys\nsys.path.insert(0, {str(lib)!r})\nN = 2", *IMPORT_WARNINGS]
    assert_runs_match_plain(cells, ["k", "d", "v"], ("N = 2", "N = 3"), tmp_path)

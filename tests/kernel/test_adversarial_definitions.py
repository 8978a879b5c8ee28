"""A cell that only defines functions: what their bodies read is the callers' input.

A ``def`` whose body reads five matplotlib artists took ~1 s to store where the plain cell
took 3 ms (CBE30338's animation notebook): each artist was an input of the defining cell,
and fingerprinting one pickles its whole figure. A cell that only imports and defines, and
calls nothing while doing so (no call outside function bodies, no decorator), runs none of
those bodies; the cells that call the functions have what they read in their keys, so an
upstream edit still makes exactly those cells run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain, why_of
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

DEFINED = [
    "K = 3\nfactor = [2]",
    CACHED + "import math\n\ndef scale(x):\n    return x * K * factor[0]\n\n"
    "class Scaler:\n    def apply(self, x):\n        return scale(x) + K",
    CACHED + "y = scale(2)\nz = Scaler().apply(1)\nw = math.floor(y / 3)",
    "factor[0] = 5",
    CACHED + "v = scale(1)",
]


def test_a_cell_only_defining_is_keyed_without_what_its_functions_read(tmp_path: Path) -> None:
    assert_runs_match_plain(DEFINED, ["y", "z", "w", "v"], ("K = 3", "K = 4"), tmp_path)
    (tmp_path / "why").mkdir()
    why_of(DEFINED, [], tmp_path / "why")
    edited = [c.replace("K = 3", "K = 4") for c in DEFINED]
    defining, calling = why_of(edited, ["c1", "c2"], tmp_path / "why")
    assert "restored" in defining
    assert "ran" in calling


# A hit re-makes the cell's definitions before it puts its values back: a default or a class
# attribute reading a value the same cell set (``N = 10`` then ``def f(n=N)``) read the one an
# earlier cell left (``f(1)`` was 2, not 10, in a fresh kernel). Such a cell runs, and says so.
DEFAULTS_FROM_THE_CELL = [
    "N = 2\nSCALE = 1.5\nM = 1\nbase = N",
    CACHED + "N = 10\nSCALE = N * 2\n\ndef f(x, n=N):\n    return x * n\n\n"
    "class C:\n    size = SCALE\n\ny = f(1)",
    CACHED + "z = f(2) + C.size",
    # A later class binding the same name (``class D: M = 0``) does not hide that read.
    CACHED + "M = 5\n\ndef g(x, m=M):\n    return x + m\n\nclass D:\n    M = 0\n\nw = g(1)",
    "seen = (f(1), C.size, f.__defaults__, N, y, z, base, g(1), w)",
]


def test_definitions_reading_values_the_cell_sets_read_those(tmp_path: Path) -> None:
    edit = ("N = 2\n", "N = 3\n")
    assert_runs_match_plain(DEFAULTS_FROM_THE_CELL, ["seen"], edit, tmp_path)
    why, why_g = why_of(DEFAULTS_FROM_THE_CELL, ["c1", "c3"], tmp_path / "cached")
    assert "its definitions read N, SCALE, which it sets" in why, why
    assert "its definitions read M, which it sets" in why_g, why_g


# Definitions and imports re-made by a hit keep the stream they find: ``OUT = sys.stdout`` in
# a module, a ``logging.StreamHandler(sys.stdout)``, a default ``out=sys.stdout``, a class
# attribute. They kept the sink that silenced the restore, and printed nothing afterwards.
STREAMS = [
    "import sys\nsys.path.insert(0, LIB)\nV = 1",
    CACHED + "import rep\nimport logmod\nimport sys\n\n"
    "def report(msg, out=sys.stdout):\n    print('report:', msg, file=out)\n\n"
    "class P:\n    stream = sys.stderr\n\n"
    "    def say(self, m):\n        print(m, file=self.stream)\n\n"
    "v = V",
    "rep.report('hello')\nlogmod.work()\nreport('direct')\nP().say('to stderr')\n"
    "seen = (rep.OUT is sys.stdout, report.__defaults__[0] is sys.stdout, "
    "P.stream is sys.stderr, v)",
]
STREAM_MODULES = {
    "rep.py": "import sys\nOUT = sys.stdout\n\n"
    "def report(msg):\n    print('report:', msg, file=OUT)\n",
    "logmod.py": "import logging, sys\nlog = logging.getLogger('logmod')\n"
    "log.setLevel(logging.INFO)\nlog.addHandler(logging.StreamHandler(sys.stdout))\n\n"
    "def work():\n    log.info('working')\n",
}


def test_definitions_and_imports_re_made_by_a_hit_keep_the_kernel_streams(tmp_path: Path) -> None:
    lib = tmp_path / "lib"  # one folder for both runs
    lib.mkdir()
    for name, text in STREAM_MODULES.items():
        (lib / name).write_text(text)
    cells = [STREAMS[0].replace("LIB", repr(str(lib))), *STREAMS[1:]]
    assert_runs_match_plain(cells, ["seen"], ("V = 1", "V = 2"), tmp_path)

"""What a hit leaves in the kernel besides variables: caches of notebook functions, the
input history, exit callbacks.

Each notebook runs plain, then under ``%%persist`` cold, warm in a fresh kernel, after an
upstream edit and after the edit is undone: every run must show what a plain run shows.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from ._adversarial import assert_runs_match_plain, why_of
from .test_cellcache_fidelity_notebooks import CACHED, build, execute, seen

pytestmark = pytest.mark.kernel

# A function under functools.lru_cache, defined in the cached cell or in an earlier one and
# called by it: a hit defines it again with an empty cache (or calls nothing), so its
# cache_info() and contents would differ from a re-run's. Such cells run, with a note.
LRU = [
    "import functools\nV = 2\n@functools.lru_cache(maxsize=None)\ndef cube(x):\n    return x ** 3",
    CACHED + "@functools.lru_cache(maxsize=None)\ndef square(x):\n    return x * x\n"
    "squares = [square(i) for i in range(V)] + [square(0)]",
    CACHED + "cubes = [cube(i) for i in range(V)]",
    CACHED + "defined_only = V\n@functools.cache\ndef unused(x):\n    return x",
]
LRU_CHECKS = ["square.cache_info()", "cube.cache_info()", "unused.cache_info()", "squares"]


def test_a_cell_filling_an_lru_cache_is_never_restored_with_it_empty(tmp_path: Path) -> None:
    assert_runs_match_plain(LRU, LRU_CHECKS, ("V = 2", "V = 3"), tmp_path)
    defined, called = why_of(LRU, ["c1", "c2"], tmp_path / "cached")
    assert "it calls square(), whose lru_cache" in defined
    assert "it calls cube(), whose lru_cache" in called


# The input history: a plain cell's In[n] / _ih[-1] is its (transformed) body; a %%persist
# cell's was the run_cell_magic call. And the extension's exit flushes: a cell that stores
# or is recorded as one that runs must not register atexit callbacks a plain cell does not.
HISTORY = [
    "import atexit\nV = 2",
    CACHED + "last = _ih[-1]\nx = V\nlater = In[len(In) - 1]",
    CACHED + "y = x + 1",
    "print(repr(In[-2]))",
    "callbacks = atexit._ncallbacks()",
]
HISTORY_CHECKS = ["last", "later", "y", "callbacks"]


# float('nan') is not equal to itself: ``in``, ``list.index``, dict keys and sets find it by
# identity. Pickle does not keep the identity of floats, so a restore made new NaN objects:
# ``n in lst`` was False and ``d[n]`` a KeyError. Module constants (np.nan) and a NaN of an
# earlier cell (``shared``) must come back as those very objects.
NAN = [
    "import math\nimport numpy as np\nV = 2\nshared = float('nan')",
    CACHED + "n = float('nan')\nlst = [n, n, np.nan, math.nan, shared]\nd = {n: V}\n"
    "marks = {np.nan: V}\nkept = [shared]",
]
NAN_CHECKS = [
    "lst[0] is lst[1] is n",
    "[np.nan in lst, math.nan in lst, shared in lst, shared in kept]",
    "d[n]",
    "marks[np.nan]",
    "len(set(lst))",
]


# A NullHandler a cell adds to a logger of its own: with it, a warning logged there while
# no other handler is set shows nothing; a hit that skipped it let Python's last resort
# handler print the warning. (Libraries add NullHandlers to their own loggers: those do
# not count.)
NULL_HANDLER = [
    "import logging\nV = 2",
    CACHED + "quiet = logging.getLogger('notebook.quiet')\n"
    "quiet.addHandler(logging.NullHandler())\nx = V",
    CACHED + "y = V * 2",
    "quiet.warning('a plain run hides this')",
]
NULL_HANDLER_CHECKS = ["len(quiet.handlers)", "y"]

# A name bound anew lets its old object go at once in a plain cell: what its finalizer does
# (matplotlib's "Animation was deleted without rendering anything", here a print) shows in
# that cell, before what follows; and the memory is free for the rest of the cell. The copy
# of the namespace a cold run compares with afterwards held the old object to the end of
# the cell: the print came after the cell's own, outside its recorded outputs.
FINALIZERS = [
    "import gc, weakref\nclass Noisy:\n    def __init__(self, n):\n        self.n = n\n"
    "    def __del__(self):\n        print('freed', self.n)\nV = 2\nthing = Noisy(0)\n"
    "import numpy as np\nbig = np.ones(1000)",
    CACHED + "old = weakref.ref(big)\nthing = Noisy(V)\nprint('after')\n"
    "big = np.zeros(1000)\nold_freed = old() is None\ndel old",
    "print('next')",
    CACHED + "y = V * 2",
]
FINALIZER_CHECKS = ["thing.n", "old_freed", "y"]


def test_an_object_let_go_is_freed_in_the_cell_as_in_a_plain_run(tmp_path: Path) -> None:
    assert_runs_match_plain(FINALIZERS, FINALIZER_CHECKS, ("V = 2", "V = 3"), tmp_path)
    # The cell whose old object has a finalizer runs every time: a restore would run the
    # finalizer at another moment (and show its output twice with the recorded one).
    (why,) = why_of(FINALIZERS, ["c1"], tmp_path / "cached")
    assert "thing anew and the object bound before has a finalizer" in why


# A class of the notebook whose special methods print when they run (python-science's
# w4-python-classes teaches them so). Storing a cell described each stored instance by
# calling its ``__repr__``: the cell showed "in __repr__" once more per instance, cold and
# in the outputs a hit shows.
NOISY_REPR = [
    "V = 2\nclass Vector:\n    def __init__(self, x):\n        print('in __init__')\n"
    "        self.x = x\n    def __repr__(self):\n        print('in __repr__')\n"
    "        return f'Vector({self.x})'",
    CACHED + "v = Vector(V)\nvs = [v, Vector(V + 1)]",
    CACHED + "w = Vector(V * 2)\nw",
]
NOISY_REPR_CHECKS = ["v.x", "vs[1].x", "w.x"]
# And one whose attribute lookup prints (``__getattr__``): storing asked it for ``nbytes``,
# a restore's unpickling asks it for ``__setstate__``.
NOISY_LOOKUP = [
    "V = 2\nclass Proxy:\n    def __init__(self, d):\n        self.d = d\n"
    "    def __getattr__(self, name):\n        print('looking up', name)\n"
    "        if name.startswith('__'):\n            raise AttributeError(name)\n"
    "        return self.d.get(name)",
    CACHED + "p = Proxy({'a': V})\nq = [p]",
    CACHED + "print(p.a)\nr = Proxy({'b': V + 1})",
]


def test_storing_an_instance_never_runs_its_classes_code(tmp_path: Path) -> None:
    for cells, checks, folder in (
        (NOISY_REPR, NOISY_REPR_CHECKS, tmp_path / "repr"),
        (NOISY_LOOKUP, ["p.d", "r.d"], tmp_path / "lookup"),
    ):
        folder.mkdir()
        assert_runs_match_plain(cells, checks, ("V = 2", "V = 3"), folder)


# IPython's ``await`` check compiles a cell before it runs (ipykernel asks twice), and a
# compiler warning shows once per compile: three times for a plain cell of a lesson on
# ``is`` and ``==`` (DS-python-data-analysis' python recap), once under ``%%persist``.
COMPILE_WARNINGS = ["V = 2", CACHED + "same = 1 is 1.0\nw = V * 2", "after = 2 is 2.0"]


def test_a_cells_compiler_warnings_show_as_often_as_in_a_plain_run(tmp_path: Path) -> None:
    assert_runs_match_plain(COMPILE_WARNINGS, ["same", "w"], ("V = 2", "V = 3"), tmp_path)


NOTEBOOKS = {
    "history": (HISTORY, HISTORY_CHECKS),
    "nan": (NAN, NAN_CHECKS),
    "null_handler": (NULL_HANDLER, NULL_HANDLER_CHECKS),
}


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_a_hit_leaves_what_a_plain_run_does(name: str, tmp_path: Path) -> None:
    cells, checks = NOTEBOOKS[name]
    assert_runs_match_plain(cells, checks, ("V = 2", "V = 3"), tmp_path)


# A warning a library issues is shown once per place (the ``default`` action): the module's
# __warningregistry__ remembers it. A hit showed the recorded text as is: the same cell run
# again in the kernel showed it where a re-run shows nothing, and a later cell reaching the
# same warning showed it again because the hit had not marked it shown.
# The library lives outside both runs' folders: its path is in the warning's text.
LIBWARN = "import sys\nsys.path.insert(0, {lib!r})\nimport libwarn\nV = 2"
LIBRARY = 'import warnings\ndef f(v):\n    warnings.warn("once")\n    return v\n'


def test_a_warning_shown_once_per_place_is_shown_as_in_a_plain_run(tmp_path: Path) -> None:
    lib = tmp_path / "wlib"
    lib.mkdir()
    (lib / "libwarn.py").write_text(LIBRARY)
    setup = LIBWARN.format(lib=str(lib))
    cells = [setup, CACHED + "a = libwarn.f(V)", "b = libwarn.f(V)"]
    assert_runs_match_plain(cells, ["a", "b"], ("V = 2", "V = 3"), tmp_path)
    # The same cell run twice in one kernel: the second run shows nothing, hit or not.
    load = "%load_ext persist_ext\n%config PersistMagics.min_time = 0"
    for cached in (False, True):
        cell = ("%%persist twice\n" if cached else "") + "a = libwarn.f(V)"
        notebook = nbformat.v4.new_notebook()
        notebook.cells = [nbformat.v4.new_code_cell(s) for s in (load, setup, cell, cell)]
        shown = seen(execute(notebook, tmp_path / ("cached" if cached else "plain")))
        assert [bool(shown[2]), shown[3]] == [True, []]


# Changing the warning filters (scikit-learn enters ``catch_warnings`` around its metrics,
# pandas around every dtype it parses) makes every registry forget what it showed: the same
# warning from the same line is shown again after it. A hit issued the recorded warnings
# again with nothing in between: intro_to_ml's classification_report cells showed one of
# their three UndefinedMetricWarnings, then none; and a hit of a cell that only changed the
# filters left a later plain cell's warning unshown.
RESETTING = (
    "import warnings\n"
    "def metric(v):\n"
    "    for _ in range(3):\n"
    "        with warnings.catch_warnings():\n"
    "            pass\n"
    '        warnings.warn("ill-defined")\n'
    "    return v\n"
    "def parse(v):\n"
    "    with warnings.catch_warnings():\n"
    "        pass\n"
    "    return v\n" + LIBRARY
)


def test_warnings_shown_again_after_the_filters_changed_are_shown_so_on_a_hit(
    tmp_path: Path,
) -> None:
    lib = tmp_path / "wlib"
    lib.mkdir()
    (lib / "libwarn.py").write_text(RESETTING)
    cells = [
        LIBWARN.format(lib=str(lib)),
        "first = libwarn.f(V)",
        CACHED + "parsed = libwarn.parse(V)",
        "again = libwarn.f(V)",
        CACHED + "a = libwarn.metric(V)",
        CACHED + "b = libwarn.metric(V)",
    ]
    assert_runs_match_plain(cells, ["a", "b"], ("V = 2", "V = 3"), tmp_path)
    # What a plain run shows, for the record: "once" again after parse(), all three each time.
    shown = seen(execute(build(cells, [], cached=False), tmp_path / "plain"))
    text = ["".join(parts).count("UserWarning") for parts in shown]
    assert text[2:7] == [1, 0, 1, 3, 3]


# A cell the runs index knows runs as its body, but ipykernel names a cell's file by a digest
# of its raw text, %%persist line included: its warnings showed another file than a plain
# run's (and functions it defines had another co_filename).
KNOWN_RUN = [
    "import functools, warnings\nV = 2\n@functools.lru_cache(maxsize=None)\ndef cube(x):\n"
    "    return x ** 3",
    CACHED + "def where():\n    pass\nwarnings.warn('from the cell')\nfirst = cube(V)",
    CACHED + "second = V * 2",
    "print(where.__code__.co_filename.rpartition('/')[2])",
]


def test_a_cell_known_to_run_is_named_as_the_plain_cell(tmp_path: Path) -> None:
    assert_runs_match_plain(KNOWN_RUN, ["first", "second"], ("V = 2", "V = 3"), tmp_path)


# The decimal context an upstream cell set (``getcontext().prec = 5``): how every Decimal
# operation of the cell rounds. It was re-applied when a cell set it, but not checked before
# a hit of a cell computing with it: an upstream edit to 8 digits restored 0.14286 where a
# re-run prints 0.14285714.
DECIMAL_CONTEXT = [
    "import decimal\ndecimal.getcontext().prec = 5",
    CACHED + "x = decimal.Decimal(1) / decimal.Decimal(7)\nprint(x)",
]


def test_the_decimal_context_set_upstream_is_checked_before_a_hit(tmp_path: Path) -> None:
    assert_runs_match_plain(DECIMAL_CONTEXT, ["x"], ("prec = 5", "prec = 8"), tmp_path)

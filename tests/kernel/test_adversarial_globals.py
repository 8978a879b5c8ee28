"""Globals a cell reaches through the functions it defines and calls.

Each notebook runs plain, then under ``%%persist`` cold, warm in a fresh kernel, after an
upstream edit and after the edit is undone: every run must show what a plain run shows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain, why_of
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

# A function the cell defines and calls, declaring ``global counter`` and updating it: the
# analysis took ``counter += 10`` for a local of the function, so the value it started from
# was no input. After an upstream edit of ``counter``, the hit restored the sum made from the
# old value (11 where a re-run gives 12).
GLOBAL_DECLARED = [
    "V = 1\ncounter = 0\ndef bump(k):\n    global counter\n    counter += k",
    CACHED + "bump(V)\nbumped = True",
    CACHED + "def local_bump():\n    global counter\n    counter += 10\nlocal_bump()",
    CACHED + "def reset():\n    global total\n    total = 5\nreset()",
    "print(counter, total)",
]


def test_a_global_a_cells_own_function_updates_is_an_input(tmp_path: Path) -> None:
    assert_runs_match_plain(GLOBAL_DECLARED, ["counter"], ("V = 1", "V = 2"), tmp_path)


# Notebook functions held in data: in a dict, a list, a functools.partial, an attribute of an
# instance, and the methods of an instance held in a list. A function's code digest leaves out
# the globals it reads (``K``), which the key takes only from functions the cell names: called
# through the data holding them, all five cells were restored with K's old value after an
# upstream edit (20 where a re-run gives 30).
HELD = [
    "K = 2\nimport functools\ndef scale(x):\n    return x * K\n"
    "class Model:\n    def predict(self, x):\n        return x + K\n"
    "ops = {'f': scale, 'g': lambda x: x + K}\npart = functools.partial(scale)\n"
    "class Holder:\n    def __init__(self, fn):\n        self.fn = fn\n"
    "h = Holder(scale)\nmodels = [Model()]\nregistry = {'ops': ops}",
    CACHED + "a = ops['f'](10)\nb = ops['g'](10)",
    CACHED + "c = part(10)",
    CACHED + "d = h.fn(10)",
    CACHED + "e = models[0].predict(10)",
    CACHED + "f = registry['ops']['f'](10)",
]


def test_globals_read_by_functions_held_in_data_are_inputs(tmp_path: Path) -> None:
    checks = ["a", "b", "c", "d", "e", "f"]
    assert_runs_match_plain(HELD, checks, ("K = 2", "K = 3"), tmp_path)


# A notebook function held by a library object (scikit-learn's FunctionTransformer): the
# object is fingerprinted by its pickle, which names the function only. An upstream edit of
# the function's body, or of a global it reads, left the cell restored with the old result.
IN_LIBRARY = [
    "import numpy as np\nfrom sklearn.preprocessing import FunctionTransformer\nK = 2\n"
    "def f(x):\n    return x * K + 1",
    "tr = FunctionTransformer(f)",
    CACHED + "out = tr.transform(np.ones((2, 1))).tolist()",
]


@pytest.mark.parametrize(
    "edit", [("K = 2", "K = 3"), ("x * K + 1", "x * K + 2")], ids=["global", "body"]
)
def test_a_notebook_function_held_by_a_library_object_is_keyed_by_code_and_globals(
    edit: tuple[str, str], tmp_path: Path
) -> None:
    assert_runs_match_plain(IN_LIBRARY, ["out"], edit, tmp_path)


# The whole namespace read without globals(): ``%who`` lists the notebook's variables (an
# upstream cell binding one more restored the old list), and ``import __main__ as m`` then
# ``m.x`` (the cell ran, but warned that ``__main__.get_ipython`` and the exit helpers cannot
# be fingerprinted, which a plain run does not show). Both now run as plain cells.
WHOLE_NAMESPACE = [
    "V = 1\nif V == 2:\n    extra = 5",
    CACHED + "%who",
    CACHED + "import __main__ as m\ny = m.V * 2",
    CACHED + "z = [V] * 2",
    # The same namespace by another path (restored stale after the edit before).
    CACHED + "import sys\nw = sys.modules['__main__'].V + 10",
    CACHED + "here = sys.modules[__name__]\nv = getattr(here, 'V') * 3",
]


def test_cells_reading_the_whole_namespace_run(tmp_path: Path) -> None:
    assert_runs_match_plain(WHOLE_NAMESPACE, ["y", "z", "w", "v"], ("V = 1", "V = 2"), tmp_path)


# Notebook functions reading globals by names they compute: ``globals()[name]``, ``eval`` of a
# string, the ``__main__`` module. Their code names no variable, so none was an input: after an
# upstream edit of ``x`` the first cell was restored with the old value (20 where a re-run
# gives 30). The cells now run as plain cells, saying why (no warning), as a cell calling
# ``globals()`` itself does.
COMPUTED_NAMES = [
    "import __main__\nV = 2\nx = V\n"
    "def by_globals(name):\n    return globals()[name]\n\n"
    "def by_eval(text):\n    return eval(text)\n\n"
    "def by_main():\n    return __main__.x\n\n"
    "import sys\ndef by_sys_modules():\n    return sys.modules['__main__'].x\n\n"
    "class Reader:\n    def read(self):\n        return globals()['x']\n\n"
    "ops = {'read': by_globals}",
    CACHED + "a = by_globals('x') * 10",
    CACHED + "b = by_eval('x + 1')",
    CACHED + "c = by_main() * 100",
    CACHED + "d = Reader().read() + 1000",
    CACHED + "e = ops['read']('x') - 1",
    CACHED + "f = [x] * 2",
    CACHED + "g = by_sys_modules() + 5",
]


def test_globals_read_by_computed_names_in_notebook_functions_make_the_cell_run(
    tmp_path: Path,
) -> None:
    checks = ["a", "b", "c", "d", "e", "f", "g"]
    assert_runs_match_plain(COMPUTED_NAMES, checks, ("V = 2", "V = 3"), tmp_path)
    (tmp_path / "why").mkdir()
    why = why_of(COMPUTED_NAMES[:2], ["c1"], tmp_path / "why")[0]
    assert "by_globals reads notebook variables by names it computes, through globals()" in why

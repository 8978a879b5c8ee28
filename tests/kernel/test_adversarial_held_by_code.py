"""Objects held by code: methods bound to data, partials, closures, default values, indexes.

A cell that changes an object in place is stored with every variable sharing that object, and
a hit binds them all to the restored copies. What holds the object without being a variable
of data kept the old one: ``add = acc.add`` went on adding to the old ``acc`` (and a key
leaving out ``acc`` restored ``total()`` of the old one after an upstream edit),
``append = items.append`` and ``functools.partial(list.extend, parts)`` likewise, and a
function whose default value or closure holds the object cannot be restored at all (it is
code, by reference): such a cell runs, and says why.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain, why_of
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

HELD = [
    "import functools\nimport pandas as pd\nV = 3\n"
    "class Acc:\n    def __init__(self):\n        self.v = []\n"
    "    def add(self, x):\n        self.v.append(x)\n"
    "acc = Acc()\nadd = acc.add\n"
    "items = [1]\nappend = items.append\n"
    "parts = [1]\nextend = functools.partial(list.extend, parts)\n"
    "kept = [1]\ndef keep(x, into=kept):\n    into.append(x)\n    return into\n"
    "seen = [1]\ndef watcher(held):\n    return lambda: held\nwatch = watcher(seen)\n"
    "class Tag:\n    def __init__(self):\n        self.v = 0\n"
    "tag = Tag()\nlabels = pd.Index([tag, Tag()], dtype=object)\n"
    "import sys\nwrite = sys.stdout.write\nmagic = get_ipython().run_line_magic\nnotes = []",
    CACHED + "add(V)",
    CACHED + "acc.v.append(V + 1)",
    CACHED + "append(V)",
    CACHED + "extend([V])",
    CACHED + "parts.append(V)",
    CACHED + "kept.append(V)",
    CACHED + "seen.append(V)",
    CACHED + "labels[0].v = V",
    CACHED + "doubled = [V] * 2",
    # Methods of the kernel's shell and streams are not walked: the shell holds every
    # variable, which would then be stored with ``notes`` and fail to pickle (a warning).
    CACHED + "notes.append(V)",
    "write(str(notes) + '\\n')\nadd(10)\nappend(10)\nextend([10])\nkeep(10)",
]
HELD_CHECKS = [
    "acc.v",
    "add.__self__ is acc",
    "items",
    "append.__self__ is items",
    "parts",
    "extend.args[0] is parts",
    "kept",
    "keep.__defaults__[0] is kept",
    "seen",
    "watch() is seen",
    "tag.v",
]


def test_objects_held_by_code_see_what_a_restored_cell_changed(tmp_path: Path) -> None:
    assert_runs_match_plain(HELD, HELD_CHECKS, ("V = 3", "V = 4"), tmp_path)
    (kept, seen) = why_of(HELD, ["c6", "c7"], tmp_path / "cached")
    assert "keep holds objects it changed" in kept
    assert "watch holds objects it changed" in seen


# A notebook method bound to a name reads the data it is bound to: ``total()`` is an input
# of ``acc`` as much as ``acc.total()`` is. The key took the method's code only, so after an
# upstream edit of what ``acc`` holds the hit restored the old sum (3 where a re-run gives 4).
BOUND_INPUT = [
    "V = 3\nclass Acc:\n    def __init__(self):\n        self.v = []\n"
    "    def total(self):\n        return sum(self.v)\n"
    "acc = Acc()\ntotal = acc.total\nlate = Acc()\nlate_total = late.total",
    "acc.v.append(V)",
    CACHED + "t = total()",
    "late.v.append(V * 2)",
    CACHED + "u = late_total()",
]


def test_data_a_bound_method_reads_is_an_input(tmp_path: Path) -> None:
    assert_runs_match_plain(BOUND_INPUT, ["t", "u"], ("V = 3", "V = 4"), tmp_path)


# A function ``exec`` makes with globals of its own has no module (``sympy.lambdify``'s):
# pickle stored it as ``__main__.g``, the name this very cell binds, so in a fresh kernel the
# entry could not be read ("its entry could not be read"), and the cell stored it again on
# every run. Such a function is code: the cell runs and says so; the cells after it hit.
MADE_BY_EXEC = [
    "N = 3",
    CACHED + "made = {}\nexec('def g(a):\\n    return a + N', {'N': N}, made)\ng = made['g']",
    CACHED + "h = g(1)",
    CACHED + "doubled = [N] * 2",
    "after = (g(2), h)",
]


def test_a_function_made_by_exec_is_code_and_its_cell_runs(tmp_path: Path) -> None:
    assert_runs_match_plain(MADE_BY_EXEC, ["after", "doubled"], ("N = 3", "N = 4"), tmp_path)
    (made,) = why_of(MADE_BY_EXEC, ["c1"], tmp_path / "cached")
    assert "holds g(), a function made by exec, which is code" in made


# A slot's method-wrapper (``put = acc.__setitem__``, in a ``functools.partial`` too) holds
# its object as a bound method does, and a dict view (``ks = d.keys()``) its dict: the walk
# stopped at both, so a hit bound ``acc`` and ``d`` to restored copies while ``put(...)``
# went on filling the old dict and ``ks`` went on showing it (``['a']`` where a re-run
# shows ``['a', 'b', 'c']``). Both are walked now, and a view is stored as a view of the
# stored dict.
WRAPPERS_AND_VIEWS = [
    "import functools\nV = 3\nacc = {}\nput = acc.__setitem__\n"
    "setz = functools.partial(acc.__setitem__, 'z')\n"
    "d = {'a': 1}\nks = d.keys()\nvs = d.values()\nits = d.items()",
    CACHED + "acc['x'] = V",
    CACHED + "d['b'] = V",
    CACHED + "doubled = [V] * 2",
    "put('y', 10)\nsetz(11)\nd['c'] = 12",
]
WRAPPERS_AND_VIEWS_CHECKS = [
    "sorted(acc.items())",
    "put.__self__ is acc",
    "setz.func.__self__ is acc",
    "sorted(ks)",
    "sorted(vs)",
    "sorted(its)",
    "doubled",
]


def test_method_wrappers_and_dict_views_see_what_a_restored_cell_changed(tmp_path: Path) -> None:
    assert_runs_match_plain(
        WRAPPERS_AND_VIEWS, WRAPPERS_AND_VIEWS_CHECKS, ("V = 3", "V = 4"), tmp_path
    )


# Holders no ``__dict__`` shows. A weak reference (``r = weakref.ref(box)``, a
# ``WeakValueDictionary``) went on seeing the old object, which a hit freed: ``r()`` gave
# None and ``reg['b']`` a KeyError where a re-run gives the changed box. A mappingproxy, a
# memoryview and a numpy ``flat`` kept viewing the old dict, buffer and array (``b'axc'``
# where a re-run shows ``b'exc'``). Such a cell runs and says which holder it is.
HELD_IN_C = [
    "import types, weakref\nimport numpy as np\nV = 3\n"
    "class Box:\n    def __init__(self):\n        self.v = []\n"
    "box = Box()\nr = weakref.ref(box)\n"
    "other = Box()\nreg = weakref.WeakValueDictionary({'b': other})\n"
    "d = {'a': 1}\nro = types.MappingProxyType(d)\n"
    "buf = bytearray(b'abc')\nmv = memoryview(buf)\n"
    "a = np.arange(4)\nflat = a.flat",
    CACHED + "box.v.append(V)",
    CACHED + "other.v.append(V)",
    CACHED + "d['b'] = V",
    CACHED + "buf[0] = 100 + V",
    CACHED + "a[0] = 100 + V",
    CACHED + "doubled = [V] * 2",
    "mv[1] = 120\nflat[1] = 50",
]
HELD_IN_C_CHECKS = [
    "r() is box",
    "box.v",
    "reg['b'] is other",
    "reg['b'].v",
    "dict(ro)",
    "bytes(buf)",
    "bytes(mv)",
    "a.tolist()",
    "flat.base is a",
    "doubled",
]


def test_weak_references_and_c_views_see_what_a_restored_cell_changed(tmp_path: Path) -> None:
    assert_runs_match_plain(HELD_IN_C, HELD_IN_C_CHECKS, ("V = 3", "V = 4"), tmp_path)
    weak, mapping = why_of(HELD_IN_C, ["c1", "c3"], tmp_path / "cached")
    assert "r holds objects it changed" in weak
    assert "a mappingproxy it holds sees another object" in mapping


# A notebook closure held in data (``h.get = make(acc)``, an instance attribute) sees ``acc``
# as a closure bound to a name does; the walk stopped at the function, so a hit bound ``acc``
# to a restored copy while ``h.get()`` returned the old list (``[1]`` where a re-run shows
# ``[1, 9]``). The walk goes on through a notebook function's closure and defaults now: the
# cell runs and says which function it is.
CLOSURE_IN_DATA = [
    "V = 3\nacc = []\ndef make(a):\n    def get():\n        return a\n    return get\n"
    "class H:\n    pass\nh = H()\nh.get = make(acc)",
    CACHED + "acc.append(V)",
    CACHED + "doubled = [V] * 2",
    "h.get().append(9)",
]


def test_a_closure_held_in_data_sees_what_a_restored_cell_changed(tmp_path: Path) -> None:
    assert_runs_match_plain(
        CLOSURE_IN_DATA, ["acc", "h.get() is acc", "doubled"], ("V = 3", "V = 4"), tmp_path
    )
    (why,) = why_of(CLOSURE_IN_DATA, ["c1"], tmp_path / "cached")
    assert "get()" in why

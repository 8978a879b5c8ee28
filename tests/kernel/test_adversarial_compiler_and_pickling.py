"""Process state a skipped cell would have set that no namespace variable holds.

* ``from __future__ import annotations`` in a cell: IPython's compiler keeps the flag, and
  every later cell is compiled with it (annotations are not evaluated). A hit restored the
  cell's variables but not the flag: a later cell annotating with a name defined further
  down raised ``NameError`` in the warm run only, and functions a restore re-created had
  evaluated annotations where a plain run keeps strings.
* ``copyreg.pickle(Point, reducer)``: how every later pickle of a ``Point`` is made. A hit
  skipped the registration, and a later cell's pickle round trip gave another value.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

FUTURE = [
    CACHED + "from __future__ import annotations\nN = 3",
    CACHED + "def scaled(x: Scale) -> Scale:\n    return x * N",
    "class Scale:\n    pass\nhints = sorted(scaled.__annotations__.values())\nvalue = scaled(N)",
]

COPYREG = [
    "import copyreg, pickle\nclass Point:\n    def __init__(self, v):\n        self.v = v\nN = 3",
    CACHED + "copyreg.pickle(Point, lambda p: (Point, (p.v * N,)))\ndoubled = N * 2",
    CACHED + "tripled = N * 3",
    "back = pickle.loads(pickle.dumps(Point(2))).v + doubled + tripled",
]


def test_future_imports_of_a_restored_cell_apply_to_later_cells(tmp_path: Path) -> None:
    assert_runs_match_plain(FUTURE, ["hints", "value"], ("N = 3", "N = 4"), tmp_path)


def test_a_copyreg_registration_is_not_skipped(tmp_path: Path) -> None:
    assert_runs_match_plain(COPYREG, ["back"], ("N = 3", "N = 4"), tmp_path)

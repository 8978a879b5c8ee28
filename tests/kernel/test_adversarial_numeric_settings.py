"""numpy's error handling and print options, pandas' options, read by a cell that shows nothing.

A cached cell computing on arrays of an upstream cell (``r = (a / a).tolist()``) or
formatting one into a string (``text = str(arr)``) depends on ``np.seterr`` and
``np.set_printoptions`` as set upstream, though it shows nothing: those were checked only
for a cell that showed something or named numpy's module. After an upstream edit to
``np.seterr(all='raise')`` a hit gave ``[nan, nan]`` where a re-run raised, and after
``precision=5`` it kept ``[0.333 0.667]`` where a re-run made ``[0.33333 0.66667]``. So
does a cell formatting a list of numpy scalars (``f"{scores}"``): ``[0.5, 0.25]`` under
``legacy='1.25'``, ``[np.float64(0.5), np.float64(0.25)]`` without; and a cell calling a
notebook function that divides by zero with numpy (``[nan, nan]`` where a re-run raised).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

NUMERIC = [
    "import numpy as np\nimport pandas as pd\nnp.seterr(all='ignore')\n"
    "np.set_printoptions(precision=3)\npd.set_option('display.max_rows', 6)\n"
    "a = np.zeros(2)\narr = np.array([1 / 3, 2 / 3])\nframe = pd.DataFrame({'a': range(20)})",
    CACHED + "r = (a / a).tolist()",
    CACHED + "text = str(arr)",
    CACHED + "table = repr(frame)",
    "print(r, text)\nprint(table)",
]


@pytest.mark.parametrize(
    "edit",
    [
        ("all='ignore'", "all='raise'"),
        ("precision=3", "precision=5"),
        ("'display.max_rows', 6", "'display.max_rows', 10"),
    ],
    ids=["seterr", "printoptions", "pandas-option"],
)
def test_a_hit_computes_and_formats_under_the_settings_upstream(
    edit: tuple[str, str], tmp_path: Path
) -> None:
    assert_runs_match_plain(NUMERIC, [], edit, tmp_path)


SCALARS = [
    "import numpy as np\nnp.set_printoptions(legacy='1.25')\n"
    "scores = [np.float64(0.5), np.float64(0.25)]\nbest = {'a': np.float64(0.5)}",
    CACHED + "summary = f'scores: {scores} {best}'",
    "print(summary)",
]


def test_a_hit_formats_numpy_scalars_in_lists_under_the_print_options_upstream(
    tmp_path: Path,
) -> None:
    assert_runs_match_plain(SCALARS, [], ("legacy='1.25'", "legacy=False"), tmp_path)


THROUGH_A_FUNCTION = [
    "import numpy as np\nnp.seterr(all='ignore')\n"
    "def ratios():\n    return (np.zeros(2) / 0).tolist()",
    CACHED + "r = ratios()",
    "print(r)",
]


def test_a_hit_of_a_cell_calling_numpy_through_a_function_computes_under_seterr_upstream(
    tmp_path: Path,
) -> None:
    assert_runs_match_plain(THROUGH_A_FUNCTION, [], ("all='ignore'", "all='raise'"), tmp_path)


# Arrays held in attributes of notebook objects (``r.arr`` of a notebook class, a
# ``SimpleNamespace``), read by the cell or by a notebook function it calls: the cell was
# not taken for one computing on numpy objects, so neither the print options nor seterr
# were part of its checks. After an upstream edit to ``precision=3``, a hit kept
# ``'[0.33333333 0.66666667]'`` where a re-run made ``'[0.333 0.667]'``; after
# ``all='raise'``, it restored ``[1.0, nan]`` where a re-run raised.
IN_ATTRIBUTES = [
    "import numpy as np\nimport types\nnp.seterr(all='ignore')\nnp.set_printoptions(precision=8)\n"
    "class Result:\n    pass\nr = Result()\nr.arr = np.array([1 / 3, 2 / 3])\n"
    "ns = types.SimpleNamespace(arr=np.array([1.0, 0.0]))\n"
    "def shown():\n    return str(r.arr)",
    CACHED + "text = str(r.arr)",
    CACHED + "ratio = (ns.arr / ns.arr).tolist()",
    CACHED + "through = shown()",
    "print(text, through)",
]


@pytest.mark.parametrize(
    "edit",
    [("all='ignore'", "all='raise'"), ("precision=8", "precision=3")],
    ids=["seterr", "printoptions"],
)
def test_a_hit_formats_arrays_held_in_attributes_under_the_settings_upstream(
    edit: tuple[str, str], tmp_path: Path
) -> None:
    assert_runs_match_plain(IN_ATTRIBUTES, ["ratio"], edit, tmp_path)

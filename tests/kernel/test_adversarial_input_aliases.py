"""Inputs that are one object, or two equal ones: a key of their values told them apart.

``a = b = []`` and ``a, b = [], []`` fingerprint alike, value by value. A cached
``a.append(1); shown = str(b)`` then gives ``[1]`` for the first and ``[]`` for the second:
after an upstream edit from one to the other, a hit restored the other run's ``shown`` (and,
edited the other way, left ``b`` the live list while binding ``a`` to a restored one). Which
inputs are one object is part of the key (``aliases``), and ``%persist why`` says so; so
is which input is held inside another (``row = grid[0]``) and which arrays share memory
(``b = a[::2]``, a view, against ``a[::2].copy()``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain, why_of
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

ONE_OBJECT = [
    "a = b = []\nc = [0]",
    CACHED + "a.append(1)\nshown = str(b)",
    CACHED + "doubled = c * 2",
    "print(shown, a, b, a is b)",
]


def test_inputs_that_are_one_object_are_keyed_so(tmp_path: Path) -> None:
    edit = ("a = b = []", "a, b = [], []")
    assert_runs_match_plain(ONE_OBJECT, ["shown", "doubled"], edit, tmp_path)


APART = [
    "a, b = [], []\nc = [0]",
    CACHED + "a.append(1)\nshown = str(b)",
    CACHED + "doubled = c * 2",
    "print(shown, a, b, a is b)",
]


def test_inputs_that_become_one_object_are_keyed_so(tmp_path: Path) -> None:
    edit = ("a, b = [], []", "a = b = []")
    assert_runs_match_plain(APART, ["shown", "doubled"], edit, tmp_path)
    (tmp_path / "why").mkdir()
    why_of(APART, ["c1"], tmp_path / "why")  # stored apart, then asked once one object
    (why,) = why_of([cell.replace(*edit) for cell in APART], ["c1"], tmp_path / "why")
    assert "what its inputs share changed" in why
    assert "now a=b, was nothing" in why


# Within one input: ``[[0]] * 3`` holds one row three times, ``[[0] for _ in range(3)]``
# three rows; an instance's attributes may be one list or two. Equal value by value, so a
# hit of ``grid[0].append(1)`` after an upstream edit between the two restored the other
# run's grid (``[[0, 1], [0, 1], [0, 1]]`` where a re-run shows ``[[0, 1], [0], [0]]``). A
# container met again in the walk is fingerprinted as a reference to where it was met.
WITHIN_ONE_INPUT = [
    "class Pair:\n    pass\np = Pair()\np.a = p.b = []\ngrid = [[0]] * 3\nc = [0]",
    CACHED + "grid[0].append(1)\nrows = str(grid)",
    CACHED + "p.a.append(1)\nshown = str(p.b)",
    CACHED + "doubled = c * 2",
]


def test_what_one_input_shares_within_it_is_keyed(tmp_path: Path) -> None:
    edit = ("p.a = p.b = []\ngrid = [[0]] * 3", "p.a, p.b = [], []\ngrid = [[0] for _ in 'abc']")
    assert_runs_match_plain(WITHIN_ONE_INPUT, ["rows", "shown", "grid", "doubled"], edit, tmp_path)


# One input inside another, and an array viewing another: ``row = grid[0]`` and
# ``b = a[::2]`` against ``list(grid[0])`` and ``a[::2].copy()``. A hit of a cell changing
# ``grid[0]`` and ``a`` in place restored what it saw of ``row`` and ``b`` in the other run
# (``[0, 1]`` and ``50`` where a re-run shows ``[0]`` and ``0``).
HELD_AND_VIEWED = [
    "import numpy as np\ngrid = [[0], [0]]\nrow = grid[0]\na = np.arange(6)\nb = a[::2]\nc = [0]",
    CACHED + "grid[0].append(1)\na[0] = 50\nshown = (str(row), int(b[0]))",
    CACHED + "doubled = c * 2",
]


def test_inputs_held_in_or_viewing_another_are_keyed_so(tmp_path: Path) -> None:
    edit = (
        "row = grid[0]\na = np.arange(6)\nb = a[::2]",
        "row = list(grid[0])\na = np.arange(6)\nb = a[::2].copy()",
    )
    assert_runs_match_plain(
        HELD_AND_VIEWED, ["shown", "row", "b.tolist()", "doubled"], edit, tmp_path
    )


# Sharing a walk of the inputs' values did not see, each case a notebook and the upstream
# edit from sharing to not (or back); after the edit, a hit restored the other run's values:
#
# * ``held-in-an-attribute``, ``held-in-a-set-item``: an input held in another input's
#   instance attribute (``row = t.rows[0]``) or in an instance inside a set (``data =
#   n.data``, ``bag = {n}``). Attributes and a set's items are each hashed on their own, and
#   what they entered was forgotten after each. Edited to ``list(t.rows[0])``, a hit of
#   ``t.rows[0].append(1)`` restored ``shown`` ``[0, 1]`` where a re-run shows ``[0]``.
# * ``view-in-a-container``: ``d = {'v': a[::2]}`` and ``a``: arrays are not containers.
#   Edited to ``a[::2].copy()``, a hit of ``a[0] = 50`` restored ``shown`` ``50`` where a
#   re-run shows ``0``. An array is met by the memory it views.
# * ``shared-by-set-items``: two items of one set holding one list (made in a function, no
#   variable names it): ``{Node(shared), Node(shared)}`` fingerprinted as ``{Node([0]),
#   Node([0])}``; a hit of ``touch(bag)`` restored ``[2, 2]`` where a re-run shows ``[1, 2]``.
# * ``in-a-library-object``: scikit-learn's ``make_pipeline(StandardScaler(), model)``
#   holds ``model`` itself (fingerprinted by its pickle) and ``pipe.fit`` fits it. Edited
#   to ``clone(model)``, a hit restored ``fitted`` True where a re-run leaves it unfitted.
# * ``one-array-twice``: ``[np.zeros(3)] * 2`` hashed as two equal arrays; a hit of
#   ``L[0][0] = 5`` restored ``shown`` 5.0 where a re-run shows 0.0.
HIDDEN_SHARING: dict[str, tuple[list[str], list[str], tuple[str, str]]] = {
    "held-in-an-attribute": (
        [
            "class Table:\n    pass\nt = Table()\nt.rows = [[0], [0]]\nrow = t.rows[0]\nc = [0]",
            CACHED + "t.rows[0].append(1)\nshown = str(row)",
        ],
        ["shown", "row", "t.rows"],
        ("row = t.rows[0]", "row = list(t.rows[0])"),
    ),
    "held-in-a-set-item": (
        [
            "class Node:\n    def __init__(self, data):\n        self.data = data\n"
            "n = Node([0])\nbag = {n}\ndata = n.data\nc = [0]",
            CACHED + "data.append(1)\nsize = len(bag)",
        ],
        ["size", "data", "[m.data for m in bag]", "n.data"],
        ("data = n.data", "data = list(n.data)"),
    ),
    "view-in-a-container": (
        [
            "import numpy as np\na = np.arange(6)\nd = {'v': a[::2]}\nc = [0]",
            CACHED + "a[0] = 50\nshown = int(d['v'][0])",
        ],
        ["shown", "d['v'].tolist()", "a.tolist()"],
        ("{'v': a[::2]}", "{'v': a[::2].copy()}"),
    ),
    "shared-by-set-items": (
        [
            "class Node:\n    def __init__(self, data):\n        self.data = data\n"
            "def touch(b):\n    one = next(iter(b))\n    one.data.append(1)\n"
            "    return sorted(len(m.data) for m in b)\n"
            "def make():\n    shared = [0]\n    return {Node(shared), Node(shared)}\n"
            "bag = make()\nc = [0]",
            CACHED + "lengths = touch(bag)",
        ],
        ["lengths", "sorted(len(m.data) for m in bag)"],
        ("return {Node(shared), Node(shared)}", "return {Node([0]), Node([0])}"),
    ),
    "in-a-library-object": (
        [
            "import numpy as np\nfrom sklearn.base import clone\n"
            "from sklearn.linear_model import LinearRegression\n"
            "from sklearn.pipeline import make_pipeline\n"
            "from sklearn.preprocessing import StandardScaler\n"
            "X = np.arange(10.0).reshape(5, 2)\ny = np.arange(5.0)\nmodel = LinearRegression()\n"
            "pipe = make_pipeline(StandardScaler(), model)\nc = [0]",
            CACHED + "pipe.fit(X, y)\nfitted = hasattr(model, 'coef_')",
        ],
        ["fitted", "hasattr(model, 'coef_')"],
        ("StandardScaler(), model)", "StandardScaler(), clone(model))"),
    ),
    "one-array-twice": (
        [
            "import numpy as np\nL = [np.zeros(3)] * 2\nc = [0]",
            CACHED + "L[0][0] = 5\nshown = float(L[1][0])",
        ],
        ["shown", "[a.tolist() for a in L]"],
        ("[np.zeros(3)] * 2", "[np.zeros(3) for _ in 'ab']"),
    ),
}


@pytest.mark.parametrize("case", sorted(HIDDEN_SHARING))
def test_sharing_a_walk_of_the_values_did_not_see_is_keyed(case: str, tmp_path: Path) -> None:
    cells, checks, edit = HIDDEN_SHARING[case]
    # A cell reading nothing shared, which must still be restored warm.
    assert_runs_match_plain(
        [*cells, CACHED + "doubled = c * 2"], [*checks, "doubled"], edit, tmp_path
    )


# pandas objects are not containers to the fingerprint: a frame held by a notebook object
# (``m = Model(df)``), one frame held twice (``[df, df]``) and a frame's index bound to a
# name (``idx = df.index``) were not seen shared. After upstream edits to ``df.copy()``,
# ``[df, df.copy()]`` and ``df.index.copy()``, hits restored ``['a', 'b']`` and ``'k'``
# where a re-run shows ``['a']`` and ``None``.
FRAMES_SHARED = [
    "import pandas as pd\nclass Model:\n    def __init__(self, df):\n        self.df = df\n"
    "df = pd.DataFrame({'a': [1, 2]}, index=['x', 'y'])\nm = Model(df)\nidx = df.index\n"
    "def make():\n    made = pd.DataFrame({'a': [1, 2]})\n    return [made, made]\n"
    "frames = make()\nc = [0]",
    CACHED + "df['b'] = df['a'] * 2\ncols = list(m.df.columns)",
    CACHED + "frames[0]['b'] = 1\nsecond = list(frames[1].columns)",
    CACHED + "df.index.name = 'k'\nshown = idx.name",
    CACHED + "doubled = c * 2",
]


@pytest.mark.parametrize(
    "edit",
    [
        ("m = Model(df)", "m = Model(df.copy())"),
        ("return [made, made]", "return [made, made.copy()]"),
        ("idx = df.index", "idx = df.index.copy()"),
    ],
    ids=["held-by-an-object", "held-twice", "its-index"],
)
def test_frames_shared_with_other_inputs_are_keyed_so(
    edit: tuple[str, str], tmp_path: Path
) -> None:
    checks = ["cols", "second", "shown", "list(m.df.columns)", "idx.name", "doubled"]
    assert_runs_match_plain(FRAMES_SHARED, checks, edit, tmp_path)


# A variable the cell does not read, sharing an input the cell changes in place: ``b`` in
# ``a = b = []``, ``row`` in ``row = grid[0]``. The stored run knows them (they are stored
# with the input), but an entry stored when they did not share (``a, b = [], []``) was
# restored for a kernel where they do: the hit bound ``a`` to the stored list and left ``b``
# the old one (plain: ``b`` ``[1]``, ``a is b``; cached: ``b`` ``[]``, ``a is b`` False),
# and the other way round an entry stored with ``b`` gave ``b`` the stored ``[1]`` where a
# re-run leaves it ``[]``. What shares the input is checked before a hit.
ALIAS_NOT_READ = [
    "a = b = []\ngrid = [[0], [0]]\nrow = grid[0]\nc = [0]",
    CACHED + "a.append(1)\ngrid[0].append(1)\nn = len(a) + len(grid)",
    CACHED + "doubled = c * 2",
]


@pytest.mark.parametrize(
    ("cells", "edit"),
    [
        (ALIAS_NOT_READ, ("a = b = []", "a, b = [], []")),
        (
            [c.replace("a = b = []", "a, b = [], []") for c in ALIAS_NOT_READ],
            ("a, b = [], []", "a = b = []"),
        ),
        (ALIAS_NOT_READ, ("row = grid[0]", "row = list(grid[0])")),
    ],
    ids=["one-object", "two-objects", "held-inside"],
)
def test_a_variable_sharing_an_input_changed_in_place_is_checked(
    cells: list[str], edit: tuple[str, str], tmp_path: Path
) -> None:
    checks = ["a", "b", "a is b", "grid", "row", "row is grid[0]", "doubled"]
    assert_runs_match_plain(cells, checks, edit, tmp_path)


def test_why_names_the_variables_sharing_an_input_changed_in_place(tmp_path: Path) -> None:
    edit = ("a = b = []", "a, b = [], []")
    why_of([cell.replace(*edit) for cell in ALIAS_NOT_READ], ["c1"], tmp_path)
    (why,) = why_of(ALIAS_NOT_READ, ["c1"], tmp_path)
    assert "the variables sharing objects with a" in why
    assert "then: none; now: b" in why

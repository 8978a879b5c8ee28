"""Values whose every property must come back from a restore, not only their data."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain, why_of
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

# A frame that refuses duplicate labels (Arrow would drop the flag) and a masked array with a
# hard mask (numpy's pickle drops it: assigning to a masked element would then unmask it).
FLAGS = [
    "import numpy as np\nimport pandas as pd",
    "N = 3",
    CACHED + "strict = pd.DataFrame({'v': range(N)}).set_flags(allows_duplicate_labels=False)\n"
    "hard = np.ma.masked_array(np.arange(float(N)), mask=[0, 1] + [0] * (N - 2), "
    "hard_mask=True)",
    "hard[1] = 99.0",
]
FLAGS_CHECKS = [
    "len(strict)",
    "strict.flags.allows_duplicate_labels",
    "hard.hardmask",
    "hard.mask.tolist()",
    "hard.data.tolist()",
]


def test_frame_flags_and_hard_masks_survive_a_restore(tmp_path: Path) -> None:
    assert_runs_match_plain(FLAGS, FLAGS_CHECKS, ("N = 3", "N = 4"), tmp_path)


# An iterator over a list a plain cell made: the cached cell consumes from it. Restored with
# a list of its own, it would no longer see the list grow (pickled apart, not linked).
ITERATOR = [
    "N = 1",
    "lst = [1, 2, 3]\nit = iter(lst)",
    CACHED + "a = next(it) * N",
    "lst.append(9)\nrest = list(it)",
]


def test_an_iterator_stays_linked_to_the_list_it_walks(tmp_path: Path) -> None:
    assert_runs_match_plain(ITERATOR, ["a", "rest"], ("N = 1", "N = 2"), tmp_path)


# A read-only window view (as_strided keeps its array behind a DummyArray base): restored as
# a copy, it was writeable and no longer saw its array change.
WINDOWS = [
    "import numpy as np",
    "N = 5",
    "x = np.arange(float(N))",
    CACHED + "w = np.lib.stride_tricks.sliding_window_view(x, 2)\ntotal = w.sum()",
    "x[0] = 100.0\n"
    "try:\n    w[0, 0] = 1.0\n    wrote = True\nexcept ValueError:\n    wrote = False",
]


def test_a_read_only_window_view_stays_a_read_only_view(tmp_path: Path) -> None:
    checks = ["total", "w.flags.writeable", "w[0].tolist()", "wrote"]
    assert_runs_match_plain(WINDOWS, checks, ("N = 5", "N = 6"), tmp_path)


# An input read by a cell whose values are too many objects to walk for sharing
# (sklearn_tutorial 04.1: an 8 x 8 grid of digit images, after ``X = digits.data``): the walk
# gave up, and every variable went into one pickle, the input too, so a restore replaced ``X``
# with a copy that ``digits`` no longer held.
UNWALKED = [
    "import numpy as np",
    "digits = {'data': np.arange(5.0)}\nX = digits['data']",
    "ROWS = 250_000",
    CACHED + "rows = [[i] for i in range(ROWS)]\ntotal = X.sum() + len(rows)",
    "X[0] = 7.0",
]


def test_an_input_stays_the_live_object_when_outputs_are_too_many_to_walk(
    tmp_path: Path,
) -> None:
    checks = ["digits['data'] is X", "digits['data'].tolist()", "total"]
    assert_runs_match_plain(UNWALKED, checks, ("ROWS = 250_000", "ROWS = 250_001"), tmp_path)


# An object holding numpy's global RandomState (scipy's frozen distributions draw from it:
# scientific-python-lectures 3, ``X = stats.poisson(3.5)`` then ``X.rvs(...)``): restored
# with a copy of the generator, it no longer drew after np.random.seed nor advanced it.
GLOBAL_RNG = [
    "import random\nimport numpy as np\nfrom scipy import stats",
    "MU = 3.5",
    CACHED + "X = stats.poisson(MU)\npicker = random.random",
    "np.random.seed(0)\nrandom.seed(0)\ndraws = X.rvs(size=5).tolist()\n"
    "after = np.random.rand()\npicked = picker()",
]


def test_the_global_random_generators_stay_the_global_ones(tmp_path: Path) -> None:
    checks = ["draws", "after", "picked", "X.random_state is np.random.mtrand._rand"]
    assert_runs_match_plain(GLOBAL_RNG, checks, ("MU = 3.5", "MU = 4.5"), tmp_path)


# A frame built column by column holds one block per column; pandas warns when a frame of
# over 100 blocks gets another column (ThinkStats2 chap10: ``live['residual'] = ...`` after
# ``first.MakeFrames()``). Restored through Arrow it came back as one block, and the later
# cell no longer warned as a re-run does.
FRAGMENTED = [
    "import numpy as np\nimport pandas as pd",
    "N = 3",
    CACHED + "df = pd.DataFrame({'a': np.arange(float(N))})\n"
    "for i in range(90):\n    df[f'c{i}'] = float(i)",
    "for i in range(15):\n    df[f'd{i}'] = float(i)",
]


def test_a_fragmented_frame_comes_back_with_its_blocks(tmp_path: Path) -> None:
    assert_runs_match_plain(
        FRAGMENTED, ["df.shape", "len(df._mgr.blocks)"], ("N = 3", "N = 4"), tmp_path
    )


# Notebook classes whose own pickling leaves state out: a ``__getstate__`` dropping a cache
# (restored empty, where a re-run holds what the cell put there) and a ``__reduce__`` that
# passes only the constructor's arguments (an attribute set later is gone). The fingerprint
# of such an instance counted its reduction only, so an upstream edit of the dropped cache
# restored a stale reading and a cell filling it was not seen changing it. They are now
# fingerprinted by what they hold, and a run whose values would not load as they are runs
# again instead of being stored.
LOSSY = [
    "N = 1\n"
    "class Model:\n"
    "    def __init__(self):\n"
    "        self.w = 0\n"
    "        self._cache = {}\n"
    "    def __getstate__(self):\n"
    "        return {k: v for k, v in self.__dict__.items() if k != '_cache'}\n"
    "    def __setstate__(self, state):\n"
    "        self.__dict__.update(state)\n"
    "        self._cache = {}\n"
    "class P:\n"
    "    def __init__(self, x):\n"
    "        self.x = x\n"
    "    def __reduce__(self):\n"
    "        return (P, (self.x,))",
    "m = Model()\nm._cache['seed'] = N",
    CACHED + "seeded = m._cache.get('seed', 0) * 10",
    CACHED + "m._cache['k'] = N\nmade = Model()\nmade._cache['x'] = N\np = P(N)\np.extra = N + 5",
    CACHED + "plain = [N] * 3",
]
LOSSY_CHECKS = ["seeded", "m._cache", "made._cache", "p.extra", "plain"]


def test_instances_whose_pickling_drops_state_are_not_restored_without_it(
    tmp_path: Path,
) -> None:
    assert_runs_match_plain(LOSSY, LOSSY_CHECKS, ("N = 1", "N = 2"), tmp_path)
    (why,) = why_of(LOSSY, ["c3"], tmp_path / "cached")
    assert "a Model it holds is loaded by the notebook's own code (Model.__setstate__)" in why


# Checking that an instance loads as it is must not run the notebook's own code: a
# constructor that counts what it made (called again by a rebuild from ``__reduce__``) left
# the cold run with 6 made where the plain run has 3, and stored that count for the warm run.
COUNTED = [
    "N = 1\n"
    "made = {'count': 0}\n"
    "class Node:\n"
    "    def __init__(self, x):\n"
    "        self.x = x\n"
    "        made['count'] += 1\n"
    "    def __reduce__(self):\n"
    "        return (Node, (self.x,))",
    CACHED + "nodes = [Node(i * N) for i in range(3)]",
    CACHED + "total = sum(n.x for n in nodes)",
]


def test_checking_a_reduction_runs_no_notebook_code(tmp_path: Path) -> None:
    assert_runs_match_plain(COUNTED, ["made", "total"], ("N = 1", "N = 2"), tmp_path)


# Datetime and timedelta arrays held in a container or a pickled frame (a datetime column
# beside an hourly index): numpy exports no buffer for them, and storing failed with "cannot
# include dtype 'M' in a buffer" (a warning the plain run does not show; the cell ran every
# time).
DATETIMES = [
    "import numpy as np\nimport pandas as pd\nN = 3",
    CACHED + "days = np.arange('2020-01', '2020-02', dtype='datetime64[D]')[:N]\n"
    "spans = {'days': days, 'gaps': np.diff(days)}\n"
    "frame = pd.DataFrame({'t': days}, index=pd.date_range('2021', periods=N, freq='h'))",
]


def test_datetime_arrays_in_containers_and_frames_are_stored(tmp_path: Path) -> None:
    checks = ["spans", "spans['days'] is days", "frame", "frame.index.freq"]
    assert_runs_match_plain(DATETIMES, checks, ("N = 3", "N = 4"), tmp_path)


# Members of an Enum defined in the notebook: enum's own reduction loads them by value from the
# live class (``c is Color.RED`` after a restore). Since notebook classes loaded through their
# own code are not stored, a cell holding one ran every time.
ENUM_MEMBERS = [
    "N = 1\nimport enum\nclass Color(enum.Enum):\n    RED = 1\n    BLUE = 2",
    CACHED + "c = Color.RED if N == 1 else Color.BLUE\ncolors = {c: N, Color.BLUE: 0}",
    "print(c is Color.RED, list(colors)[1] is Color.BLUE, colors[c])",
]


def test_members_of_a_notebook_enum_are_stored_and_stay_members(tmp_path: Path) -> None:
    assert_runs_match_plain(ENUM_MEMBERS, ["c"], ("N = 1", "N = 2"), tmp_path)


# numpy polynomials (numerical-python-book-code ch07): numpy's own state of one adds
# ``symbol``, ``domain`` and ``window`` to what the instance holds, so a restore had three
# attributes a re-run's polynomial lacks.
POLYNOMIALS = [
    "import numpy as np\nfrom numpy import polynomial as P",
    "C = 2",
    CACHED + "p1 = P.Polynomial([1, C, 3])\nc1 = P.Chebyshev([1, 2, 3])\n"
    "f1 = P.Polynomial.fit([0, 1, 2, 3], [1, 2, 5, 9 + C], 2)",
]


def test_numpy_polynomials_come_back_with_the_attributes_they_had(tmp_path: Path) -> None:
    checks = [
        "sorted(vars(p1))",
        "sorted(vars(c1))",
        "sorted(vars(f1))",
        "p1.domain is P.Polynomial.domain",
        "p1.roots().round(6).tolist()",
        "f1.domain.tolist()",
    ]
    assert_runs_match_plain(POLYNOMIALS, checks, ("C = 2", "C = 3"), tmp_path)

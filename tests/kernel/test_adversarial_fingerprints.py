"""What a value's fingerprint must tell apart: everything a later cell can observe of it.

An input's fingerprint is its part of the key, and the fingerprints before and after a cell
run are how an input changed in place is found. Two values a re-run would treat differently
(a later cell sees a difference) must not fingerprint alike: the restore would be stale after
an upstream edit, or skip a change the cell made.

Each notebook runs plain, then under ``%%persist`` cold, warm in a fresh kernel, after an
upstream edit and after the edit is undone: every run must show what a plain run shows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain, why_of
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

# A dict's insertion order is what ``list(d)``, a DataFrame built from it, ``json.dumps`` and
# a plot's legend show. Hashed as an unordered mapping, an upstream dict literal edited only
# in its order restored the frame with the old columns, and a cell that moved a key to the
# end (``d[k] = d.pop(k)``) was not seen changing it: a hit left the old order.
DICT_ORDER = [
    "import pandas as pd\nimport collections\nparams = {'a': 1, 'b': 2}",
    CACHED + "frame = pd.DataFrame([params])\ncols = list(frame.columns)",
    CACHED + "moved = dict(params)\nmoved['a'] = moved.pop('a')\n"
    "counts = collections.Counter(params)\nshown = counts.most_common()",
    CACHED + "params['a'] = params.pop('a')\nkeys_now = True",
    "print(list(params), list(moved), list(counts))",
]


def test_a_dicts_order_is_part_of_its_fingerprint(tmp_path: Path) -> None:
    edit = ("{'a': 1, 'b': 2}", "{'b': 2, 'a': 1}")
    assert_runs_match_plain(DICT_ORDER, ["cols", "shown"], edit, tmp_path)


# The order a set of strings iterates in comes from the kernel's string hash seed, new in
# every kernel: ``enumerate(set(words))`` in a cached cell numbered the words in the stored
# kernel's order, while a later plain cell iterating the same set in a fresh kernel walked
# them in another, so ``idx[w]`` no longer matched positions (a vocabulary and its inverse
# disagreed). Such a cell is keyed on the hash seed: restored within the kernel that ran it,
# run in a fresh one, and ``%persist why`` says why. ``sorted(set(...))`` and sets of
# numbers do not depend on the seed.
SET_ORDER = [
    "V = 1\nwords = ['alpha', 'beta', 'gamma', 'delta', 'eps', 'zeta']\nvocab = set(words)\n"
    "numbers = {3, 1, 2}",
    CACHED + "labels = list(set(words))[: V + 2]\nidx = {w: i for i, w in enumerate(vocab)}",
    CACHED + "ordered = sorted(set(words))[: V + 2]\nfirst_numbers = list(numbers)[:V]",
    "print([w for w in set(words)][: V + 2] == labels, [idx[w] for w in vocab] == "
    "list(range(len(idx))))",
]


def test_a_cell_iterating_a_set_of_strings_is_keyed_on_the_hash_seed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Kernels inherit this process's environment, where dask's multiprocessing scheduler
    # (run by other tests) fixes PYTHONHASHSEED: then every kernel iterates sets alike and
    # the cell is rightly restored in each. Here the seed is salted per kernel, as by default.
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    assert_runs_match_plain(SET_ORDER, ["ordered", "first_numbers"], ("V = 1", "V = 2"), tmp_path)
    iterating, sorting = why_of(SET_ORDER, ["c1", "c2"], tmp_path / "cached")
    assert "iterates a set" in iterating
    assert "was restored" in sorting


# What pandas keeps beside the data: a Series' ``attrs`` and the duplicate-labels flag of a
# Series or DataFrame. Left out of the fingerprint, a cell setting them on an input was not
# seen changing it, and a hit left the input without them.
PANDAS_META = [
    "V = 1\nimport pandas as pd\ns = pd.Series([1, 2])\ndf = pd.DataFrame({'a': [1]})",
    CACHED + "s.attrs['unit'] = f'm{V}'\ns.flags.allows_duplicate_labels = False\n"
    "df.flags.allows_duplicate_labels = False\nx = V",
    "print(s.attrs, s.flags.allows_duplicate_labels, df.flags.allows_duplicate_labels)",
]


def test_what_pandas_keeps_beside_the_data_is_part_of_the_fingerprint(tmp_path: Path) -> None:
    assert_runs_match_plain(PANDAS_META, ["x"], ("V = 1", "V = 2"), tmp_path)


# Instances of the notebook's subclasses of list and dict, with attributes of their own: they
# were hashed by their items only. An upstream edit of ``h.best`` restored a cell reading it
# with the old value, and attributes a cell set on such an input were left out by a hit.
SUBCLASS_ATTRIBUTES = [
    "V = 1\nclass History(list):\n    pass\nclass Cfg(dict):\n    pass",
    "h = History([1])\nh.best = V\ncfg = Cfg(a=1)\ncfg.note = 'x'",
    CACHED + "doubled = h.best * 2",
    CACHED + "cfg.note = f'n{len(h)}'\nh.tag = 'seen'\nset_them = True",
    "print(h.tag, cfg.note)",
]


def test_attributes_of_container_subclasses_are_part_of_the_fingerprint(tmp_path: Path) -> None:
    checks = ["doubled", "set_them"]
    assert_runs_match_plain(SUBCLASS_ATTRIBUTES, checks, ("V = 1", "V = 2"), tmp_path)


# Whether an array is writeable (``arr.setflags(write=False)``): assigning into it raises
# where a writeable one changes. Left out of the fingerprint, an upstream edit making an
# input writeable restored the run in which assigning failed, and a cell making an input
# read-only was not seen changing it, so a hit left it writeable.
READONLY = [
    "import numpy as np\nx = np.arange(3)\ny = np.arange(3)",
    "x.setflags(write=False)",
    CACHED + "y.setflags(write=False)\ntwice = y * 2",
    CACHED + "try:\n    x[0] = 5\n    wrote = True\nexcept ValueError:\n    wrote = False",
]


def test_whether_an_array_is_writeable_is_part_of_its_fingerprint(tmp_path: Path) -> None:
    checks = ["twice", "wrote", "x", "x.flags.writeable", "y.flags.writeable"]
    edit = ("x.setflags(write=False)", "x.setflags(write=True)")
    assert_runs_match_plain(READONLY, checks, edit, tmp_path)


# A DatetimeIndex's frequency: ``repr`` shows it, ``shift`` and ``asfreq`` use it, and a frame
# indexed by it keeps it. Left out of the fingerprint, an upstream ``date_range`` edited into
# the same dates without a frequency restored a cell with the old one.
FREQUENCY = [
    "import pandas as pd\nstamps = pd.date_range('2020-01-01', periods=3)",
    CACHED + "shown = repr(stamps)\nframe = pd.DataFrame({'x': range(3)}, index=stamps)\n"
    "freq = frame.index.freqstr",
]


def test_a_datetime_index_frequency_is_part_of_its_fingerprint(tmp_path: Path) -> None:
    edit = (
        "pd.date_range('2020-01-01', periods=3)",
        "pd.DatetimeIndex(['2020-01-01', '2020-01-02', '2020-01-03'])",
    )
    assert_runs_match_plain(FREQUENCY, ["shown", "freq"], edit, tmp_path)


# Notebook subclasses of pandas and numpy types with attributes of their own: a frame
# subclass's ``_metadata`` (``t.unit``) and an array subclass's ``__dict__`` (``q.unit``) were
# not hashed, so an upstream edit of ``t.unit`` restored a stale label and a cell changing it
# was not seen; numpy's pickle of an array subclass drops its attributes, so ``q`` came back
# with the default unit. Now both are hashed, and ``q``'s cell runs (it cannot be stored
# as it is).
LIBRARY_SUBCLASSES = [
    "V = 1\nimport numpy as np\nimport pandas as pd\n"
    "class Tagged(pd.DataFrame):\n    _metadata = ['unit']\n"
    "    @property\n    def _constructor(self):\n        return Tagged\n"
    "class Q(np.ndarray):\n    def __array_finalize__(self, obj):\n"
    "        self.unit = getattr(obj, 'unit', 'm')",
    "t = Tagged({'a': [1, 2]})\nt.unit = 'm' * V",
    CACHED + "label = f'{t.unit}: {t.a.sum()}'",
    CACHED + "q = np.arange(3.0).view(Q)\nq.unit = 'km' * V",
    CACHED + "t.unit = t.unit + '!'\nmarked = True",
    "print(q.unit, t.unit)",
]


def test_attributes_of_library_subclasses_are_part_of_the_fingerprint(tmp_path: Path) -> None:
    checks = ["label", "marked"]
    assert_runs_match_plain(LIBRARY_SUBCLASSES, checks, ("V = 1", "V = 2"), tmp_path)


# An array's byte order shows (``a.dtype``, ``a.tobytes()``, ``a.view(...)``), but equal
# values in either order hashed alike: after an upstream edit to ``'>i4'``, a hit restored
# ``'<i4'`` and the little-endian bytes.
BYTE_ORDER = [
    "import numpy as np\na = np.arange(3, dtype='<i4')",
    CACHED + "kind = a.dtype.str\nraw = a.tobytes()[:8]",
    CACHED + "total = int(a.sum())",
]


def test_an_arrays_byte_order_is_part_of_its_fingerprint(tmp_path: Path) -> None:
    assert_runs_match_plain(BYTE_ORDER, ["kind", "raw", "total"], ("'<i4'", "'>i4'"), tmp_path)


# A NaN's sign shows (``math.copysign(1, x)``, ``np.signbit``; ``inf * 0`` is a negative NaN
# on x86), but every NaN float hashed alike: after an upstream edit from ``-math.nan`` to
# ``math.nan``, a hit restored ``sign`` -1.0 where a re-run shows 1.0. And a NaN the cell
# made came back as ``float('nan')``: ``y = x * 1`` of a negative NaN restored positive
# (``math.copysign(1, y)`` 1.0 on the warm run, -1.0 on the plain one).
NAN_SIGN = [
    "import math\nx = -math.nan\nc = [0]",
    CACHED + "sign = math.copysign(1, x)\ny = x * 1\nvals = [x, y]",
    CACHED + "doubled = c * 2",
    "print(math.copysign(1, y), [math.copysign(1, v) for v in vals])",
]


def test_a_nans_sign_is_part_of_its_fingerprint_and_restored(tmp_path: Path) -> None:
    edit = ("x = -math.nan", "x = math.nan")
    assert_runs_match_plain(NAN_SIGN, ["sign", "doubled"], edit, tmp_path)

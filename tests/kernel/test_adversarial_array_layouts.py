"""Arrays come back with the layout, type, dtype and bytes a re-run makes.

Fortran order, a transpose, a strided and a reversed view, a big-endian dtype, a record
array, a matrix, a 0-d array, datetimes and an aligned structured dtype: each is compared
by its flags, strides, dtype, type and raw bytes (``tobytes(order='A')``). The aligned
structured array came back with the padding between its fields holding whatever the fresh
memory held (numpy copies such an array field by field), so its bytes differed from a
re-run's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

LAYOUTS = [
    "import numpy as np\nN = 3",
    CACHED + "f = np.asfortranarray(np.arange(N * 4.0).reshape(N, 4))\n"
    "big = np.arange(N * 100, dtype='>i4')\n"
    "rec = np.rec.array([(1, 2.0), (N, 4.0)], names='a,b')\n"
    "mat = np.matrix([[1, 2], [N, 4]])\n"
    "aligned = np.zeros(N, dtype=np.dtype([('a', 'u1'), ('b', 'f8')], align=True))\n"
    "aligned['a'] = np.arange(N)\n"
    "zero_d = np.array(N * 1.5)\n"
    "dt = np.arange(0, N, dtype='datetime64[ms]')\n"
    "t = np.arange(N * 6.0).reshape(N, 6).T\n"
    "strided = np.arange(N * 10.0)[::3]\n"
    "backwards = np.arange(N * 5.0)[::-1]\n"
    "bools = np.ones((N, 2), dtype=bool, order='F')",
    "arrays = {'f': f, 'big': big, 'rec': rec, 'mat': mat, 'aligned': aligned, "
    "'zero_d': zero_d, 'dt': dt, 't': t, 'strided': strided, 'backwards': backwards, "
    "'bools': bools}\n"
    "layouts = [(n, v.flags.c_contiguous, v.flags.f_contiguous, v.strides, v.dtype.str, "
    "type(v).__name__, v.dtype.isalignedstruct, v.tobytes(order='A').hex()) "
    "for n, v in arrays.items()]",
]


def test_arrays_keep_their_layout_and_bytes(tmp_path: Path) -> None:
    assert_runs_match_plain(LAYOUTS, ["layouts"], ("N = 3", "N = 4"), tmp_path)


# A lone np.longdouble array could not be stored at all (its preview range was a numpy
# scalar JSON cannot hold), and a dtype's metadata was dropped by the raw array format.
SPECIAL_DTYPES = [
    "import numpy as np\nimport pandas as pd\nN = 3",
    CACHED + "ld = np.arange(N, dtype=np.longdouble) / 3\n"
    "half = np.arange(N, dtype=np.float16) / 3\n"
    "objrec = np.array([(1, [N]), (2, {'k': N})], dtype=[('i', 'i4'), ('o', 'O')])\n"
    "nat = np.array(['NaT', '2020-01-01'], dtype='datetime64[D]')\n"
    "meta = np.zeros(N, dtype=np.dtype('f8', metadata={'unit': 'm'}))\n"
    "masked = np.ma.masked_array(np.arange(N), mask=[1] + [0] * (N - 1))\n"
    "record = np.zeros(1, dtype=[('a', 'i4'), ('b', 'f4')])[0]\n"
    "cats = pd.CategoricalIndex(['a', 'b', 'a'] * N, categories=['b', 'a'], ordered=True)\n"
    "spans = pd.timedelta_range('1D', periods=N, freq='6h', name='td')\n"
    "days = pd.date_range('2020-01-01', periods=N, freq='B', tz='Europe/Paris')",
    "described = [(type(v).__name__, str(getattr(v, 'dtype', None)), repr(v)) for v in "
    "(ld, half, objrec, nat, meta, masked, record, cats, spans, days)]\n"
    "extra = (meta.dtype.metadata, masked[0] is np.ma.masked, days.freqstr, spans.freq, "
    "ld.dtype, objrec['o'][1])",
]


def test_special_dtypes_are_stored_and_come_back_whole(tmp_path: Path) -> None:
    assert_runs_match_plain(SPECIAL_DTYPES, ["described", "extra"], ("N = 3", "N = 4"), tmp_path)


# A masked array views the data it was made from: numpy's reduction stored a copy, so after
# a restore ``m`` no longer changed with ``x``, nor ``m[1:4]``'s mask with ``m``'s.
MASKED_VIEWS = [
    "import numpy as np\nN = 3\nx = np.arange(N * 2.0)",
    CACHED + "m = np.ma.masked_array(x, mask=x < 2, fill_value=-1.0)\n"
    "part = m[1:4]\n"
    "own = np.ma.masked_array(np.arange(N * 2.0))\n"
    "hard = np.ma.masked_array(x[::2], mask=[0, 1, 0], hard_mask=True)",
    "x[3] = 100.0\npart[0] = np.ma.masked\nhard[1] = 5.0\n"
    "seen = (m.tolist(), part.tolist(), hard.tolist(), m.mask.tolist(), m.fill_value, "
    "np.shares_memory(m, x), own.base is None, part.base is x, m.base is x)",
]


def test_masked_arrays_stay_views_of_their_data(tmp_path: Path) -> None:
    assert_runs_match_plain(MASKED_VIEWS, ["seen"], ("N = 3", "N = 4"), tmp_path)

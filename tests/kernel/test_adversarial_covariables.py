"""Variables a restore binds that the cell neither read nor bound (co-variables of its outputs).

A cell that mutates an input is stored with every variable sharing objects with it (an older
alias must see the mutation), including variables the cell never names. Restoring binds them
all, so when an upstream edit rebinds one of them (and leaves the cell's inputs as they
were) the restore must not put back the value the stored run saw (statsmodels'
``arima_alternative_estimators_seasonal_differencing``: ``res_hr.plot_diagnostics()`` caches
attributes on ``res_hr``; its entry held the edited cell's ``ax``, which the restore put back
from before the edit).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain, why_of
from .test_cellcache_fidelity_notebooks import CACHED, build, execute

pytestmark = pytest.mark.kernel

# ``panel`` shares ``meta`` with ``model`` and depends on ``V``; the cached cell reads only
# ``model`` and mutates it. ``b`` is ``a`` before the edit and a list of its own after it.
COVARIABLES = [
    "V = 2",
    "meta = {'unit': 'cm'}\nmodel = {'meta': meta, 'cache': {}}\na = [1]",
    "panel = {'label': V, 'meta': meta}\nb = a if V == 2 else [V]",
    CACHED + "model['cache']['k'] = 1\na.append(5)\ndone = True",
]
COVARIABLES_CHECKS = [
    "panel['label']",
    "panel['meta'] is model['meta']",
    "b",
    "b is a",
    "a",
    "model['cache']",
]


def test_a_restore_never_binds_back_a_variable_an_upstream_edit_rebound(tmp_path: Path) -> None:
    assert_runs_match_plain(COVARIABLES, COVARIABLES_CHECKS, ("V = 2", "V = 3"), tmp_path)
    edited = [c.replace("V = 2", "V = 3") for c in COVARIABLES]
    (why,) = why_of(edited, ["c3"], tmp_path / "cached")
    assert "variable panel, stored with what the cell changed" in why


# A cell changing an input's object, then binding the name to another: ``alias`` (a list) and
# ``other`` (a view of ``base``) still hold the changed objects, which a re-run changes again.
# The restore bound ``a`` and ``base`` only: ``alias`` stayed [1] where a re-run gives [1, 2]
# (likewise the view). Such a cell runs now; one whose old object nothing else holds
# (``frame.dropna(inplace=True)`` then ``frame = ...``) is still restored.
REBOUND = [
    "import numpy as np\nimport pandas as pd\nV = 2\na = [1]\nalias = a\n"
    "base = np.zeros(3)\nother = base[1:]",
    CACHED + "a.append(V)\na = [0]",
    CACHED + "base += V\nbase = base * 2",
    CACHED + "frame = pd.DataFrame({'x': [1.0, None, float(V)]})",
    CACHED + "frame.dropna(inplace=True)\nframe = frame.reset_index(drop=True)",
    "shown = pd.DataFrame({'x': [1.0, None]})",
    "shown",
    CACHED + "shown['y'] = V\nshown = shown.dropna()",
]


def test_an_input_changed_then_rebound_still_held_elsewhere_makes_the_cell_run(
    tmp_path: Path,
) -> None:
    checks = [
        "a",
        "alias",
        "base.tolist()",
        "other.tolist()",
        "frame.to_dict()",
        "shown.y.tolist()",
    ]
    assert_runs_match_plain(REBOUND, checks, ("V = 2", "V = 3"), tmp_path)
    (tmp_path / "why").mkdir()
    kept, viewed, dropped, shown = why_of(REBOUND, ["c1", "c2", "c4", "c7"], tmp_path / "why")
    assert "it changes what a held, then binds the name anew" in kept
    assert "it changes what base held, then binds the name anew" in viewed
    assert "then binds the name anew" not in dropped
    # Held by IPython's output history (Out[7], _): the cell runs as well.
    assert "it changes what shown held, then binds the name anew" in shown


# Python objects held in pandas object columns: copy on write copies a column's array, never
# the lists and dicts in it. The walk for co-variables took a frame for its own identity and
# its index only, so ``lst`` and ``s`` were stored apart: a hit on the cell mutating ``s[0]``
# bound a new ``s`` whose list was not ``lst`` (``lst`` stayed [1] where a re-run gives [1,
# 3]), and likewise the other way round and through a DataFrame's column of dicts.
OBJECT_COLUMNS = [
    "import pandas as pd\nV = 3\nlst = [1]\ns = pd.Series([lst, [2]])\n"
    "meta = {'k': 0}\n"
    "frame = pd.DataFrame({'meta': [meta, {}], 'x': [1.0, 2.0], 't': ['a', 'b']})\n"
    "other = [5]\nholder = pd.Series([other], dtype=object)",
    CACHED + "s[0].append(V)",
    CACHED + "frame.loc[0, 'meta']['k'] = V",
    CACHED + "other.append(V)",
]


def test_objects_held_in_pandas_object_columns_stay_shared(tmp_path: Path) -> None:
    checks = [
        "lst",
        "s[0] is lst",
        "meta",
        "frame.loc[0, 'meta'] is meta",
        "holder[0]",
        "holder[0] is other",
    ]
    assert_runs_match_plain(OBJECT_COLUMNS, checks, ("V = 3", "V = 4"), tmp_path)


# Attributes a notebook sets on pandas objects (pandas allows them with a warning). The
# handbook's 03.11 sets ``data.columns = [...]`` on what is, there, a Series (its CSV is
# downloaded by a shell cell): the walk for co-variables took that list for the frame's
# column index and failed, so every later cached cell that stored anything raised an
# AttributeError of persist_ext's after its figure. And ``df.name = 'train'`` (a common
# label for printing) is left out of pandas' pickle and was not in a frame's fingerprint:
# the cell setting it was restored without setting it, and the next cell failed with "no
# attribute 'name'". The walk reads a frame's own axes, a walk that fails leaves the cell run
# (not failed), and such attributes are fingerprinted, stored and restored.
ATTRIBUTES = [
    "import pandas as pd\nimport warnings\nwarnings.simplefilter('ignore')\nV = 3\n"
    "s = pd.Series([1, 2], index=['columns', 'b'])\ns.columns = ['a', 'b']\n"
    "df = pd.DataFrame({'a': [1, 2]})",
    CACHED + "doubled = [V] * 2",
    CACHED + "s['b'] = V",
    CACHED + "df.name = f'train{V}'\nn = len(df)",
    CACHED + "made = pd.DataFrame({'a': [1, V]})\nmade.name = f'test{V}'",
]


def test_attributes_a_notebook_sets_on_pandas_objects_are_kept(tmp_path: Path) -> None:
    checks = ["doubled", "s.tolist()", "s.columns", "df.name", "n", "made.name"]
    assert_runs_match_plain(ATTRIBUTES, checks, ("V = 3", "V = 4"), tmp_path)


# A pandas indexer kept in a variable (``loc = df.loc``) holds its frame in a C attribute the
# walk for co-variables did not see: a hit on the cell changing ``df`` in place bound a new
# ``df`` while ``loc`` kept the old frame (``loc[0, 'a']`` gave 1 where a re-run gives 4). The
# two are now stored together; as ``loc`` is not what the run left before the cell runs in a
# new kernel, that cell runs (a lost hit, not a wrong one), and the cell after it is restored.
INDEXER = [
    "import pandas as pd\nV = 3\ndf = pd.DataFrame({'a': [1, 2]})\nloc = df.loc\nat = df.at",
    CACHED + "df['a'] += V",
    "r = loc[0, 'a']\ns = at[1, 'a']",
    CACHED + "total = int(df.a.sum()) * 10",
]


def test_an_indexer_kept_in_a_variable_stays_bound_to_its_frame(tmp_path: Path) -> None:
    checks = ["r", "s", "df.a.tolist()", "total", "loc.obj is df"]
    assert_runs_match_plain(INDEXER, checks, ("V = 3", "V = 4"), tmp_path)


# Models fitted through the container holding them: ``pipe.fit`` fits ``model`` and
# ``scaler``, the loop fits ``lr`` and ``rd`` through ``models``. Those variables are stored
# with what the cell changed, and were checked before a hit against what the run left, which
# they never are in a new kernel: the cell ran every time (the costly cell of a notebook). They
# are now checked to be still held by the input (whose fingerprint covers their content): the
# one cached cell is restored, and an upstream edit of the data, of what a held model is,
# or of its content still makes it run.
FITTED = [
    "V = 3\nimport numpy as np\nfrom sklearn.linear_model import LinearRegression, Ridge\n"
    "from sklearn.pipeline import make_pipeline\nfrom sklearn.preprocessing import StandardScaler\n"
    "model = LinearRegression()\nscaler = StandardScaler()\npipe = make_pipeline(scaler, model)\n"
    "lr = LinearRegression()\nrd = Ridge()\nmodels = {'lr': lr, 'rd': rd}\n"
    "X = np.arange(6.0).reshape(3, 2)\ny = np.array([1.0, 2.0, 3.0])",
    "rd = Ridge(alpha=2.0) if V == 4 else rd\nmodels['rd'] = rd\n"
    "lr.set_params(fit_intercept=V == 3)",
    CACHED + "pipe.fit(X, y)\nfor m in models.values():\n    m.fit(X, y)",
]
FITTED_CHECKS = [
    "round(float(model.coef_[0]), 6)",
    "pipe[-1] is model and pipe[0] is scaler",
    "scaler.mean_",
    "round(float(lr.intercept_), 6)",
    "models['lr'] is lr and models['rd'] is rd",
    "round(float(rd.coef_[0]), 6)",
]


def test_models_fitted_through_the_container_holding_them_are_restored(tmp_path: Path) -> None:
    assert_runs_match_plain(FITTED, FITTED_CHECKS, ("V = 3", "V = 4"), tmp_path)


# DS-python-data-analysis, numpy recap: ``x, y = b_data[:, 1], b_data[:, 3]`` then
# ``x.sort(); plt.plot(x, y, 'o')``. ``y`` is unchanged, so it was linked live, and with it
# the memory it views: the restored ``b`` and ``x`` were the live, unsorted ones (the figure
# held ``y``). An unchanged view of memory the run changed through another is stored too.
SORTED_VIEW = [
    "import numpy as np\nimport matplotlib.pyplot as plt\nV = 3",
    CACHED + "b = np.array([[5., 3, 9, 1, 7], [2, 8, 4, 6, 0], [9, V, 7, 3, 5], [4, 6, 2, 8, 1]])",
    CACHED + "x, y = b[:, 1], b[:, 3]",
    CACHED + "x.sort()\nplt.plot(x, y, 'o')\nheld = [y]",
    "print(b[:, 1].tolist(), x.tolist())",
]
SORTED_VIEW_CHECKS = [
    "b.tolist()",
    "np.shares_memory(x, b) and np.shares_memory(y, b)",
    "held[0] is y",
]


def test_a_view_sorted_in_place_beside_an_unchanged_one_comes_back_sorted(
    tmp_path: Path,
) -> None:
    assert_runs_match_plain(SORTED_VIEW, SORTED_VIEW_CHECKS, ("V = 3", "V = 4"), tmp_path)


# ``y = df['price'].values`` views the frame's column (copy on write copies neither): a later
# ``df.loc[...] = ...`` in place changes ``y`` too. Stored apart, the frame and ``y`` came back
# as two copies, and after that change ``y`` still held the old prices.
FRAME_VIEWS = [
    "import numpy as np\nimport pandas as pd\nN = 3",
    CACHED + "df = pd.DataFrame({'price': [50.0, 150.0, 120.0 * N], 'n': [1, 2, 3]})\n"
    "y = df['price'].values\n"
    "both = df[['price']].to_numpy()\n"
    "s = pd.Series(np.arange(N * 1.0))\n"
    "sv = s.to_numpy()",
    "df.loc[df.price > 100, 'price'] = 100.0\n"
    "s.iloc[0] = 7.0\n"
    "seen = (y.tolist(), both.tolist(), sv.tolist(), np.shares_memory(y, df.values), "
    "np.shares_memory(sv, s.values))",
]


def test_arrays_viewing_a_frame_made_in_the_same_cell_still_view_it(tmp_path: Path) -> None:
    assert_runs_match_plain(FRAME_VIEWS, ["seen"], ("N = 3", "N = 4"), tmp_path)


# The same views of a frame an earlier cell made: made on the live frame's columns again. The
# edit builds an equal frame whose columns pandas holds in other arrays: the entry cannot be
# made on it, and the cell runs (its key, the frame's data, is unchanged).
INPUT_FRAME_VIEWS = [
    "import numpy as np\nimport pandas as pd\nLAYOUT = 1\n"
    "parts = [pd.DataFrame({'price': [50.0, 150.0, 120.0]}), "
    "pd.DataFrame({'q': [1.0, 2.0, 3.0]}), pd.DataFrame({'n': [1, 2, 3]})]\n"
    "df = pd.concat(parts, axis=1) if LAYOUT == 2 else "
    "pd.DataFrame({k: p.iloc[:, 0] for p in parts for k in p})",
    CACHED + "X = df.drop(columns='n').values\ny = df['n'].values\ntotal = float(X.sum())",
    "df.loc[df.price > 100, 'price'] = 100.0\ndf.loc[0, 'n'] = 99\n"
    "seen = (LAYOUT, X.tolist(), y.tolist(), total)",
]


def test_arrays_viewing_an_input_frame_still_view_it(tmp_path: Path) -> None:
    assert_runs_match_plain(INPUT_FRAME_VIEWS, ["seen"], ("LAYOUT = 1", "LAYOUT = 2"), tmp_path)
    # After the edit the cell ran, quietly (the entry is sound), and says why.
    edited = [c.replace("LAYOUT = 1", "LAYOUT = 2") for c in INPUT_FRAME_VIEWS]
    (why,) = why_of(edited, ["c1"], tmp_path / "cached")
    assert "laid out otherwise" in why, why
    assert "cannot be read" not in why


# A later cached cell sets the frame in place: ``y``, made with the frame upstream and never
# named by that cell, views the memory it changed, and is stored and restored with it (it
# came back holding the old prices).
FRAME_SET_LATER = [
    "import numpy as np\nimport pandas as pd\nN = 3",
    CACHED + "df = pd.DataFrame({'a': [1.0, 2.0, 3.0 * N], 'b': [4.0, 5.0, 6.0]})\n"
    "y = df['a'].values",
    CACHED + "df.loc[0, 'a'] = 9.0\ntotal = df['a'].sum()",
    "df.loc[1, 'a'] = -1.0\nseen = (y.tolist(), total, df['a'].tolist())",
]


def test_an_array_viewing_a_frame_set_by_a_later_cell_sees_the_change(tmp_path: Path) -> None:
    assert_runs_match_plain(FRAME_SET_LATER, ["seen"], ("N = 3", "N = 4"), tmp_path)


# The same for views of an input array: made on the memory of the live array's root again.
# The edit makes an equal array owning its memory (no longer a reshaped view of a 1-D one):
# the entry cannot be made on it, and the cell runs quietly (its key, the data, is unchanged).
INPUT_ARRAY_VIEWS = [
    "import numpy as np\nOWN = 0\ngrid = np.arange(12.0).reshape(3, 4)\n"
    "grid = grid.copy() if OWN else grid",
    CACHED + "row = grid[1]\ncol = grid[:, 2]\ntotal = float(row.sum())",
    "grid[1, 2] = -1.0\nseen = (OWN, row.tolist(), col.tolist(), total, grid.base is None)",
]


def test_arrays_viewing_an_input_array_still_view_it(tmp_path: Path) -> None:
    assert_runs_match_plain(INPUT_ARRAY_VIEWS, ["seen"], ("OWN = 0", "OWN = 1"), tmp_path)
    # In a store holding only the first layout's entry, the edited notebook's cell runs,
    # quietly (the entry is sound), and says why.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    execute(build(INPUT_ARRAY_VIEWS, [], cached=True), fresh)
    edited = [c.replace("OWN = 0", "OWN = 1") for c in INPUT_ARRAY_VIEWS]
    (why,) = why_of(edited, ["c1"], fresh)
    assert "laid out otherwise" in why, why

"""A hit leaves the shell as a re-run would: sharing, results, global state, hidden inputs.

Each test runs a cell under the cache, then puts the namespace (and the global state) back
the way a fresh kernel would have it before that cell, and runs the cell again: the
second run must be a hit (or a miss that says why) and leave the same state as a run.
"""

from __future__ import annotations

import os
import random
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from IPython.utils.capture import capture_output

from persist_ext.features._cellcache import CellCache, CellOptions


@pytest.fixture
def shell(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator:
    from IPython.testing.globalipapp import get_ipython

    ip = get_ipython()
    monkeypatch.setitem(sys.modules, "__main__", ip.user_module)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    plain = ip.display_formatter.formatters["text/plain"]
    precision = plain.float_precision
    before = set(ip.user_ns)
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        yield ip
    finally:
        for name in set(ip.user_ns) - before:
            del ip.user_ns[name]
        plain.float_precision = precision
        np.random.set_state(np_state)
        random.setstate(py_state)
        pd.reset_option("display.max_rows")


def run(cache: CellCache, shell, cell: str, **options):
    options.setdefault("min_time", 0.0)
    options.setdefault("name", "c")
    with capture_output() as captured:
        result = cache.run(shell, cell, CellOptions(**options))
    return result, captured


def forget(shell, *names: str) -> None:
    for name in names:
        shell.user_ns.pop(name, None)


# ----------------------------------------------------------------------- sharing
def test_two_names_for_one_list_stay_one_list(shell, cache) -> None:
    run(cache, shell, "a = b = []")
    forget(shell, "a", "b")
    assert run(cache, shell, "a = b = []")[0].hit
    shell.user_ns["a"].append(1)
    assert shell.user_ns["b"] == [1]


def test_new_name_for_an_input_object_stays_that_object(shell, cache) -> None:
    shell.user_ns["data"] = [1, 2]
    run(cache, shell, "alias = data")
    shell.user_ns["data"] = [1, 2]  # a fresh kernel: equal value, new object
    forget(shell, "alias")
    assert run(cache, shell, "alias = data")[0].hit
    assert shell.user_ns["alias"] is shell.user_ns["data"]


def test_mutated_input_keeps_its_older_aliases(shell, cache) -> None:
    shell.run_cell("items = []\nkept = items")
    run(cache, shell, "items.append(1)")
    shell.run_cell("items = []\nkept = items")
    assert run(cache, shell, "items.append(1)")[0].hit
    assert shell.user_ns["kept"] is shell.user_ns["items"] == [1]


def test_views_of_an_input_made_in_later_cells_stay_views_of_the_live_input(shell, cache) -> None:
    # PythonDataScienceHandbook 02.02: grid in one cell, vsplit and hsplit in two more.
    shell.user_ns["np"] = np
    cells = ["upper, lower = np.vsplit(grid, [2])", "left, right = np.hsplit(grid, [2])"]
    shell.run_cell("grid = np.arange(16).reshape((4, 4))")
    for name, cell in zip("ab", cells):
        run(cache, shell, cell, name=name)
    shell.run_cell("grid = np.arange(16).reshape((4, 4))")  # a fresh kernel's grid
    forget(shell, "upper", "lower", "left", "right")
    for name, cell in zip("ab", cells):
        assert run(cache, shell, cell, name=name)[0].hit
    ns = shell.user_ns
    assert np.shares_memory(ns["upper"], ns["left"])
    assert np.shares_memory(ns["grid"], ns["right"])
    ns["upper"][0, 0] = -1
    assert ns["grid"][0, 0] == ns["left"][0, 0] == -1


def test_restored_array_owns_its_memory_so_later_views_have_it_as_base(shell, cache) -> None:
    # handson-ml2 tools_numpy: ``m2 = np.arange(5); m2`` then ``m2r = m2.reshape(1, 5)``.
    shell.user_ns["np"] = np
    cells = ["m2 = np.arange(5)\nm2", "m2r = m2.reshape(1, 5)\nm2r"]
    for name, cell in zip("ab", cells):
        run(cache, shell, cell, name=name)
    forget(shell, "m2", "m2r")
    for name, cell in zip("ab", cells):
        assert run(cache, shell, cell, name=name)[0].hit
    assert shell.user_ns["m2"].base is None
    assert shell.user_ns["m2r"].base is shell.user_ns["m2"]


def test_record_array_view_of_an_input_stays_a_view(shell, cache) -> None:
    shell.user_ns["np"] = np
    make = "data = np.zeros(3, dtype=[('age', 'i4')])"
    shell.run_cell(make)
    run(cache, shell, "rec = data.view(np.recarray)")
    shell.run_cell(make)
    forget(shell, "rec")
    assert run(cache, shell, "rec = data.view(np.recarray)")[0].hit
    rec = shell.user_ns["rec"]
    assert type(rec) is np.recarray
    assert rec.base is shell.user_ns["data"]


def test_object_held_inside_an_input_makes_the_cell_run(shell, cache) -> None:
    # A restore would bind a copy where a run binds the input's own list: the cell runs.
    shell.user_ns["d"] = {"k": [1]}
    result, _ = run(cache, shell, "inner = d['k']")
    assert result.manifest is not None
    assert result.manifest.mode == "run"
    assert "held inside d" in result.manifest.run_reason
    shell.user_ns["d"] = {"k": [1]}
    result, _ = run(cache, shell, "inner = d['k']")
    assert not result.hit
    assert shell.user_ns["inner"] is shell.user_ns["d"]["k"]


def test_handle_left_by_with_open_is_a_closed_handle_again(shell, cache, tmp_path) -> None:
    # handson-ml2 tools_numpy: ``f`` was an array, then ``with open(...) as f:`` rebinds it.
    (tmp_path / "data.bin").write_bytes(b"xyz")
    cell = (
        "with open('data.bin', 'rb') as f:\n    content = f.read()\n"
        "with open('data.bin', 'rt') as g:\n    text = g.read()"
    )
    shell.user_ns["f"] = np.arange(3)
    run(cache, shell, cell)
    shell.user_ns["f"] = np.arange(3)
    assert run(cache, shell, cell)[0].hit
    f = shell.user_ns["f"]
    assert type(f).__name__ == "BufferedReader"
    assert f.closed
    assert shell.user_ns["content"] == b"xyz"
    assert shell.user_ns["g"].mode == "rt"
    assert shell.user_ns["g"].closed


def test_numpy_view_is_restored_linked_to_its_base(shell, cache) -> None:
    shell.user_ns["np"] = np
    cell = "base = np.zeros(10)\nview = base[2:6]"
    run(cache, shell, cell)
    forget(shell, "base", "view")
    assert run(cache, shell, cell)[0].hit
    shell.user_ns["view"][:] = 1
    assert shell.user_ns["base"].sum() == 4


def test_figure_and_axes_keep_their_identity(shell, cache) -> None:
    plt = pytest.importorskip("matplotlib.pyplot")
    shell.user_ns["plt"] = plt
    # Closed as the inline backend closes a cell's figures (one left open makes it run:
    # tests/kernel/test_adversarial_open_figures.py).
    cell = "fig, ax = plt.subplots()\nline = ax.plot([1, 2])\nplt.close(fig)"
    try:
        run(cache, shell, cell)
        forget(shell, "fig", "ax", "line")
        assert run(cache, shell, cell)[0].hit
        ns = shell.user_ns
        assert ns["ax"].figure is ns["fig"]
        assert ns["line"][0].axes is ns["ax"]
    finally:
        plt.close("all")


def test_instance_of_a_notebook_class_is_an_instance_of_the_live_class(shell, cache) -> None:
    define = "class Point:\n    def __init__(self, x):\n        self.x = x"
    shell.run_cell(define)
    run(cache, shell, "p = Point(3)")
    forget(shell, "p")
    shell.run_cell(define)  # a new kernel defines a new class object
    assert run(cache, shell, "p = Point(3)")[0].hit
    assert isinstance(shell.user_ns["p"], shell.user_ns["Point"])


def test_module_bound_by_assignment_is_the_module(shell, cache) -> None:
    shell.user_ns["np"] = np
    run(cache, shell, "m = np\nmods = {'np': np}\ntotal = 1")
    forget(shell, "m", "mods", "total")
    assert run(cache, shell, "m = np\nmods = {'np': np}\ntotal = 1")[0].hit
    assert shell.user_ns["m"] is np
    assert shell.user_ns["mods"]["np"] is np


# ----------------------------------------------------------------------- outputs
def test_last_expression_becomes_the_result_and_underscore(shell, cache) -> None:
    cell = "frame = pd.DataFrame({'a': [1, 2]})\nframe"
    shell.user_ns["pd"] = pd
    run(cache, shell, cell)
    forget(shell, "frame", "_")
    result, _ = run(cache, shell, cell)
    assert result.hit
    assert shell.user_ns["_"] is shell.user_ns["frame"]


def test_trailing_semicolon_hides_the_result_on_run_and_hit(shell, cache) -> None:
    first, out1 = run(cache, shell, "x = 41\nx + 1;")
    assert out1.stdout == ""
    assert cache.store.get(first.manifest.outputs_key) == []
    second, out2 = run(cache, shell, "x = 41\nx + 1;")
    assert second.hit
    assert out2.stdout == ""


# ----------------------------------------------------------------------- global state
def test_seeding_the_rng_is_reapplied_on_a_hit(shell, cache) -> None:
    shell.user_ns["np"] = np
    cell = "np.random.seed(0)\nrandom_ready = True"
    run(cache, shell, cell)
    expected = np.random.rand(3)
    np.random.seed(123)  # a fresh kernel starts from another state
    result, _ = run(cache, shell, cell)
    assert result.hit
    np.testing.assert_array_equal(np.random.rand(3), expected)
    assert any("numpy RNG state" in note for note in result.notes)


def test_a_seeding_cell_that_left_the_rng_where_it_was_sets_it_on_a_hit(shell, cache) -> None:
    # Numerical Python ch17: seeded upstream to the very state the cell ends in, its run
    # changed nothing; after an upstream edit moved the generator, a hit must still seed.
    shell.user_ns.update(np=np, rnd=random)
    np.random.seed(0)
    random.seed(5)
    cell = "np.random.seed(0)\nrnd.seed(5)\nready = True"
    run(cache, shell, cell)
    np.random.seed(123)  # an upstream cell drew more numbers this time
    random.seed(9)
    result, _ = run(cache, shell, cell)
    assert result.hit
    np.testing.assert_array_equal(np.random.rand(3), np.random.RandomState(0).rand(3))
    assert random.random() == random.Random(5).random()


def test_a_generator_seeded_only_in_a_function_the_cell_defines_is_left_alone(shell, cache) -> None:
    shell.user_ns["np"] = np
    cell = "def reset():\n    np.random.seed(0)\n\nready = True"
    np.random.seed(7)
    run(cache, shell, cell)
    np.random.seed(8)
    assert run(cache, shell, cell)[0].hit
    np.testing.assert_array_equal(np.random.rand(3), np.random.RandomState(8).rand(3))


def test_a_function_that_may_seed_a_generator_it_left_unmoved_keeps_the_hit_to_its_start(
    shell, cache
) -> None:
    # Seeding through a notebook function: whether it ran is not known, so a hit is only
    # taken where the generator started as it did when the cell was stored.
    shell.user_ns["np"] = np
    shell.run_cell("def reset():\n    np.random.seed(0)")
    np.random.seed(0)
    run(cache, shell, "reset()\nready = True")
    np.random.seed(123)
    result, _ = run(cache, shell, "reset()\nready = True")
    assert not result.hit
    np.testing.assert_array_equal(np.random.rand(3), np.random.RandomState(0).rand(3))
    np.random.seed(123)  # where the run stored last started
    assert run(cache, shell, "reset()\nready = True")[0].hit


def test_seeds_first_are_the_seedings_before_anything_that_could_draw() -> None:
    from persist_ext.features._cellcache._analysis import analyze_cell

    def first(source: str) -> tuple[str, ...]:
        return analyze_cell(source).seeds_first

    assert first("import numpy as np\nSEED = 1\nnp.random.seed(SEED)\nx = f()") == (
        "np.random.seed",
    )
    # Setup before the seeding draws nothing: magics, styles, seaborn, options, warnings.
    setup = (
        "get_ipython().run_line_magic('matplotlib', 'inline')\nplt.style.use('ggplot')\n"
        "sns.set()\npd.set_option('display.width', 80)\nwarnings.filterwarnings('ignore')\n"
    )
    assert first(setup + "np.random.seed(0)\nrandom.seed(1)") == ("np.random.seed", "random.seed")
    # After anything else that runs code, the generator may have been drawn from.
    assert first("x = np.random.rand()\nnp.random.seed(0)") == ()
    assert first("data = load()\nnp.random.seed(0)") == ()
    assert first("get_ipython().run_line_magic('run', 'draw.py')\nnp.random.seed(0)") == ()
    assert first("class A:\n    v = np.random.rand()\nnp.random.seed(0)") == ()
    assert first("def f(a=np.random.rand()):\n    pass\nnp.random.seed(0)") == ()
    # A seeding call only defined, never made: nothing is seeded.
    assert first("def reset():\n    np.random.seed(0)\nz = np.random.rand()") == ()
    assert first("def f():\n    return g()\nnp.random.seed(0)") == ("np.random.seed",)


def test_seeding_calls_are_found_and_resolved_to_their_generators() -> None:
    from persist_ext.features._cellcache._analysis import analyze_cell
    from persist_ext.features._cellcache._state import seeded_generators

    code = analyze_cell(
        "np.random.seed(0)\nfor i in range(2):\n    go(i).seed(i)\nrng.seed(1)\n"
        "def f():\n    random.seed(2)\nlambda: setstate(s)\nset_state(t)"
    )
    assert set(code.seedings) == {"np.random.seed", "rng.seed", "set_state"}
    ns = {"np": np, "rng": np.random.RandomState(0), "set_state": np.random.set_state}
    assert seeded_generators(ns, code.seedings) == {"numpy.random"}
    assert seeded_generators({"r": random}, ["r.setstate", "r.random"]) == {"random"}
    # A module's __getattr__ (numpy's lazy ``random``) is never called: it would import.
    lazy, asked = types.ModuleType("lazy"), []
    lazy.__getattr__ = lambda name: asked.append(name)  # type: ignore[method-assign]
    assert seeded_generators({"lazy": lazy}, ["lazy.random.seed"]) == set()
    assert asked == []


def test_drawing_from_the_rng_keys_on_the_state_before(shell, cache) -> None:
    shell.user_ns["np"] = np
    np.random.seed(1)
    run(cache, shell, "draw = np.random.rand()")
    np.random.seed(1)
    assert run(cache, shell, "draw = np.random.rand()")[0].hit
    np.random.seed(2)
    result, _ = run(cache, shell, "draw = np.random.rand()")
    assert not result.hit
    assert "numpy RNG state" in str(cache.why(shell, "c"))
    assert shell.user_ns["draw"] == np.random.RandomState(2).rand()


def test_rcparams_and_pandas_options_and_precision_are_reapplied(shell, cache) -> None:
    mpl = pytest.importorskip("matplotlib")
    shell.user_ns.update(pd=pd, mpl=mpl)
    cell = (
        "mpl.rcParams['lines.linewidth'] = 7\n"
        "pd.set_option('display.max_rows', 7)\n"
        "get_ipython().run_line_magic('precision', '2')\n"
        "configured = True"
    )
    with mpl.rc_context():
        width = mpl.rcParams["lines.linewidth"]
        run(cache, shell, cell)
        mpl.rcParams["lines.linewidth"] = width
        pd.reset_option("display.max_rows")
        shell.display_formatter.formatters["text/plain"].float_precision = ""
        result, _ = run(cache, shell, cell)
        assert result.hit
        assert mpl.rcParams["lines.linewidth"] == 7
        assert pd.get_option("display.max_rows") == 7
        assert shell.display_formatter.formatters["text/plain"].float_precision == "2"


def test_warning_filters_and_scikit_learn_config_are_reapplied(shell, cache) -> None:
    import warnings

    import sklearn

    shell.user_ns.update(warnings=warnings, sklearn=sklearn)
    cell = (
        "warnings.simplefilter('ignore', UserWarning)\n"
        "sklearn.set_config(display='text')\n"
        "configured = True"
    )
    with warnings.catch_warnings(), sklearn.config_context():
        run(cache, shell, cell)
        filters = list(warnings.filters)
        warnings.resetwarnings()  # a fresh kernel's filters, scikit-learn's default display
        sklearn.set_config(display="diagram")
        result, _ = run(cache, shell, cell)
        assert result.hit
        # The filter the cell added, on the filters in force, as a re-run leaves them (not
        # the whole list the stored run saw: an upstream cell's filters are not undone).
        assert filters[0] == ("ignore", None, UserWarning, None, 0)
        assert list(warnings.filters) == [filters[0]]
        assert sklearn.get_config()["display"] == "text"
        assert any("warning filters" in note for note in result.notes)
        with warnings.catch_warnings(record=True) as shown:
            warnings.warn("silenced by the restored cell", stacklevel=1)
        assert shown == []


def test_numpy_error_handling_is_reapplied_and_read_by_cells_that_show(shell, cache) -> None:
    shell.user_ns["np"] = np
    cell = "np.seterr(all='ignore')\nquiet = 1"
    with np.errstate():
        run(cache, shell, cell)
        np.seterr(divide="warn", over="warn", invalid="warn")  # a fresh kernel's
        result, _ = run(cache, shell, cell)
        assert result.hit
        assert np.geterr()["divide"] == "ignore"  # later cells print no RuntimeWarning
    shown = "print(np.ones(2) / 0)"
    with np.errstate(divide="warn"):
        run(cache, shell, shown, name="shown")
    with np.errstate(divide="ignore"):
        result, out = run(cache, shell, shown, name="shown")
    assert not result.hit  # its recorded RuntimeWarning would be shown where none is due
    assert "RuntimeWarning" not in out.stderr


def test_a_cell_configuring_logging_runs(shell, cache) -> None:
    import logging

    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    shell.user_ns["logging"] = logging
    cell = "logging.basicConfig(level=logging.INFO, force=True)\nconfigured = 1"
    try:
        first, _ = run(cache, shell, cell)
        assert first.manifest is not None
        assert first.manifest.mode == "run"  # its handlers cannot be stored and put back
        assert "logging configuration (logger root)" in first.manifest.run_reason
        root.setLevel(level)
        root.handlers[:] = handlers
        second, _ = run(cache, shell, cell)
        assert not second.hit
        assert root.level == logging.INFO  # the cell ran: logging is configured as it says
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers


def test_a_cell_setting_an_attribute_of_a_notebook_class_runs(shell, cache) -> None:
    shell.run_cell("class Config:\n    scale = 1")
    cell = "Config.scale = 5\nready = 1"
    first, _ = run(cache, shell, cell)
    assert first.manifest is not None
    assert first.manifest.mode == "run"
    assert "attributes of the notebook's classes" in first.manifest.run_reason
    shell.user_ns["Config"].scale = 1
    second, _ = run(cache, shell, cell)
    assert not second.hit
    assert shell.user_ns["Config"].scale == 5
    # Defining a class (a new one each run) and using it stays cacheable.
    defining = "class Local:\n    size = 2\nmade = Local.size * 3"
    run(cache, shell, defining, name="defining")
    assert run(cache, shell, defining, name="defining")[0].hit


def test_plotting_cell_keys_on_rcparams(shell, cache) -> None:
    plt = pytest.importorskip("matplotlib.pyplot")
    shell.user_ns["plt"] = plt
    cell = "fig = plt.figure()\nplt.plot([1, 2])\nsize = fig.get_size_inches().tolist()"
    with plt.rc_context():
        run(cache, shell, cell)
        plt.close("all")
        plt.rcParams["figure.figsize"] = (2, 2)
        result, _ = run(cache, shell, cell)
        plt.close("all")
    assert not result.hit
    assert shell.user_ns["size"] == [2.0, 2.0]


def test_cwd_env_sys_path_and_folders_are_reapplied(shell, cache, tmp_path: Path) -> None:
    cell = (
        "import os, sys\n"
        "os.makedirs('out/figs', exist_ok=True)\n"
        "os.environ['PERSIST_TEST_VAR'] = 'on'\n"
        "sys.path.append('/nowhere/persist-test')\n"
        "os.chdir('out')"
    )
    try:
        run(cache, shell, cell)
        os.chdir(tmp_path)
        (tmp_path / "out" / "figs").rmdir()
        (tmp_path / "out").rmdir()
        os.environ.pop("PERSIST_TEST_VAR")
        sys.path.remove("/nowhere/persist-test")
        result, _ = run(cache, shell, cell)
        assert result.hit
        assert Path.cwd() == tmp_path / "out"
        assert (tmp_path / "out" / "figs").is_dir()
        assert os.environ["PERSIST_TEST_VAR"] == "on"
        assert "/nowhere/persist-test" in sys.path
    finally:
        os.environ.pop("PERSIST_TEST_VAR", None)


def test_environment_variables_the_cell_reads_are_checked_before_a_hit(
    shell, cache, monkeypatch
) -> None:
    monkeypatch.setenv("PERSIST_TEST_MODE", "a")
    shell.user_ns["os"] = os
    cell = "mode = os.environ.get('PERSIST_TEST_MODE')"
    run(cache, shell, cell)
    assert run(cache, shell, cell)[0].hit
    monkeypatch.setenv("PERSIST_TEST_UNREAD", "x")  # a variable it does not read
    assert run(cache, shell, cell)[0].hit
    monkeypatch.setenv("PERSIST_TEST_MODE", "b")
    result, _ = run(cache, shell, cell)
    assert not result.hit
    assert shell.user_ns["mode"] == "b"
    assert "environment variable PERSIST_TEST_MODE" in str(cache.why(shell, "c"))


def test_environment_reads_of_libraries_are_not_the_cells() -> None:
    from persist_ext.features._cellcache._state import watch_env_reads

    original = type(os.environ).__getitem__
    with watch_env_reads() as seen:
        os.path.expanduser("~")  # posixpath reads HOME for itself
    assert "HOME" not in seen
    assert type(os.environ).__getitem__ is original


def test_an_environment_variable_set_to_its_own_value_is_set_by_a_hit(
    shell, cache, monkeypatch
) -> None:
    # The run wrote the value the variable had: no change to see, but a re-run sets it.
    monkeypatch.setenv("PERSIST_TEST_MODE", "fast")
    shell.user_ns["os"] = os
    cell = "os.environ['PERSIST_TEST_MODE'] = 'fast'\ndone = 1"
    run(cache, shell, cell)
    monkeypatch.delenv("PERSIST_TEST_MODE")
    assert run(cache, shell, cell)[0].hit
    assert os.environ.get("PERSIST_TEST_MODE") == "fast"


def test_a_warning_filter_already_in_force_is_asked_for_again_by_a_hit(shell, cache) -> None:
    import warnings

    shell.user_ns["warnings"] = warnings
    cell = "warnings.simplefilter('ignore', UserWarning)\ndone = 1"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("error", RuntimeWarning)  # in front of it
        run(cache, shell, cell)  # asked for what was in force: no change
        warnings.resetwarnings()
        warnings.simplefilter("error", RuntimeWarning)
        result, _ = run(cache, shell, cell)
        assert result.hit
        assert [f[:3] for f in warnings.filters] == [
            ("ignore", None, UserWarning),
            ("error", None, RuntimeWarning),
        ]


def test_filters_asked_for_inside_catch_warnings_are_not_the_runs() -> None:
    import warnings

    from persist_ext.features._cellcache._state import watch_filter_calls

    with warnings.catch_warnings():
        with watch_filter_calls() as calls:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # put back when the block ends
            warnings.filterwarnings("error", message="boom", category=UserWarning)
        assert [(item[0], item[2], append) for item, append in calls] == [
            ("error", UserWarning, False)
        ]
        assert warnings.filters[0] == calls[0][0]


def test_environment_writes_are_seen_whoever_makes_them() -> None:
    from persist_ext.features._cellcache._state import watch_env_writes

    original = type(os.environ).__setitem__, type(os.environ).__delitem__
    try:
        with watch_env_writes() as written:
            os.environ.update(PERSIST_TEST_A="1")
            os.environ.pop("PERSIST_TEST_A")
            os.environ.setdefault("HOME", "elsewhere")  # present: nothing written
    finally:
        os.environ.pop("PERSIST_TEST_A", None)
    assert written == {"PERSIST_TEST_A"}
    assert (type(os.environ).__setitem__, type(os.environ).__delitem__) == original


@pytest.mark.parametrize(
    ("setup", "cell", "check"),
    [
        ("pd.set_option('display.max_rows', 6)", "pd.options.display.max_rows = 6",
         "pd.get_option('display.max_rows')"),
        ("np.set_printoptions(precision=2)", "np.set_printoptions(precision=2)",
         "np.get_printoptions()['precision']"),
        ("sys.path.insert(0, 'lib')", "if 'lib' not in sys.path:\n    sys.path.insert(0, 'lib')",
         "'lib' in sys.path"),
    ],
)  # fmt: skip
def test_a_setting_set_to_the_value_it_had_is_set_by_a_hit_from_another_state(
    shell, cache, setup: str, cell: str, check: str
) -> None:
    import numpy as np
    import pandas as pd

    shell.user_ns.update(pd=pd, np=np, sys=sys)
    want = None
    with pd.option_context("display.max_rows", 60), np.printoptions(precision=8):
        paths = list(sys.path)
        try:
            shell.run_cell(setup)
            run(cache, shell, cell)  # no change: it was set already
            want = shell.ev(check)
            pd.reset_option("display.max_rows")
            np.set_printoptions(precision=8)
            sys.path[:] = paths
            result, _ = run(cache, shell, cell)  # another state: runs, as a re-run would
            assert not result.hit
            assert shell.ev(check) == want
        finally:
            sys.path[:] = paths


def test_a_path_the_cell_names_that_does_not_exist_is_checked_before_a_hit(
    shell, cache, tmp_path: Path
) -> None:
    shell.user_ns["os"] = os
    cell = "found = os.path.exists('marker.txt')"
    run(cache, shell, cell)
    assert run(cache, shell, cell)[0].hit
    (tmp_path / "marker.txt").write_text("x")
    result, _ = run(cache, shell, cell)
    assert not result.hit
    assert shell.user_ns["found"] is True


def test_written_file_that_changed_makes_the_cell_run(shell, cache, tmp_path: Path) -> None:
    cell = "with open('made.txt', 'w') as fh:\n    fh.write('made')"
    run(cache, shell, cell)
    assert run(cache, shell, cell)[0].hit
    (tmp_path / "made.txt").write_text("edited by hand")
    result, _ = run(cache, shell, cell)
    assert not result.hit
    assert (tmp_path / "made.txt").read_text() == "made"
    assert "made.txt" in str(cache.why(shell, "c"))


def test_removing_files_is_never_skipped(shell, cache, tmp_path: Path) -> None:
    cell = "import os\nif os.path.exists('tmp.txt'):\n    os.remove('tmp.txt')\ncleaned = 1"
    (tmp_path / "tmp.txt").write_text("x")
    run(cache, shell, cell)
    (tmp_path / "tmp.txt").write_text("x")
    result, _ = run(cache, shell, cell)
    assert not result.hit
    assert not (tmp_path / "tmp.txt").exists()
    assert "removes" in str(cache.why(shell, "c"))


# ----------------------------------------------------------------------- hidden inputs
def test_names_inside_query_strings_are_inputs(shell, cache) -> None:
    shell.user_ns.update(df=pd.DataFrame({"x": [1, 5, 9]}), thr=4)
    cell = "picked = df.query('x > @thr')"
    run(cache, shell, cell)
    shell.user_ns["thr"] = 6
    result, _ = run(cache, shell, cell)
    assert not result.hit
    assert shell.user_ns["picked"]["x"].tolist() == [9]
    assert "thr" in str(cache.why(shell, "c"))


def test_default_value_of_a_function_is_an_input(shell, cache) -> None:
    shell.run_cell("LIMIT = 1\ndef cap(v, limit=LIMIT):\n    return min(v, limit)")
    run(cache, shell, "capped = cap(10)")
    shell.run_cell("LIMIT = 5\ndef cap(v, limit=LIMIT):\n    return min(v, limit)")
    result, _ = run(cache, shell, "capped = cap(10)")
    assert not result.hit
    assert shell.user_ns["capped"] == 5


def test_helper_mutating_a_global_is_restored(shell, cache) -> None:
    shell.run_cell("LOG = []\ndef note(v):\n    LOG.append(v)")
    run(cache, shell, "note(1)\nnoted = True")
    shell.run_cell("LOG = []")
    assert run(cache, shell, "note(1)\nnoted = True")[0].hit
    assert shell.user_ns["LOG"] == [1]


def test_file_read_by_the_cell_is_part_of_its_key(shell, cache, tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a\n1\n")
    cell = "loaded = pd.read_csv('data.csv')"
    shell.user_ns["pd"] = pd
    run(cache, shell, cell)
    assert run(cache, shell, cell)[0].hit
    (tmp_path / "data.csv").write_text("a\n2\n")
    result, _ = run(cache, shell, cell)
    assert not result.hit
    assert shell.user_ns["loaded"]["a"].tolist() == [2]
    assert "data.csv" in str(cache.why(shell, "c"))


def test_eval_of_a_computed_string_always_runs_and_says_why(shell, cache) -> None:
    shell.user_ns["expr"] = "1 + 1"
    run(cache, shell, "value = eval(expr)")
    result, _ = run(cache, shell, "value = eval(expr)")
    assert not result.hit
    assert not result.stored
    assert "eval" in str(cache.why(shell, "c"))


def test_shell_commands_always_run(shell, cache) -> None:
    cell = shell.transform_cell("!true\nx = 1")
    assert "system" in cell
    run(cache, shell, "!true\nx = 1")
    assert not run(cache, shell, "!true\nx = 1")[0].hit


# ----------------------------------------------------------------------- cheap cells
def test_a_cell_cheaper_than_a_restore_runs_and_list_says_so(shell, cache) -> None:
    shell.user_ns["counter"] = []
    first, _ = run(cache, shell, "counter.append(1)", min_time=1.0)
    assert first.manifest is not None
    assert first.manifest.mode == "run"
    second, _ = run(cache, shell, "counter.append(1)", min_time=1.0)
    assert not second.hit
    assert shell.user_ns["counter"] == [1, 1]
    assert "runs: it runs in" in repr(cache.list())


# ----------------------------------------------------------------------- bounded work
def test_huge_input_is_not_fingerprinted_and_the_cell_runs(shell, cache, monkeypatch) -> None:
    from persist_ext._errors import CellCacheWarning
    from persist_ext.features._cellcache import _key

    monkeypatch.setattr(_key, "FINGERPRINT_BUDGET", 1000)
    shell.user_ns["rows"] = [{"i": i} for i in range(5000)]
    with pytest.warns(CellCacheWarning, match="more than 1,000 Python objects"):
        result, _ = run(cache, shell, "n = len(rows)")
    assert not result.hit
    assert shell.user_ns["n"] == 5000


def test_an_input_at_the_budget_is_refused_without_walking_its_items(
    shell, cache, monkeypatch
) -> None:
    # A list of exactly a million floats (the IPython Cookbook's numpy recipe) was walked item
    # by item before it was refused, in every cell reading it: that notebook ran 12 times
    # slower warm than plain. Its items alone pass the budget, so it is refused at once.
    from persist_ext._errors import CellCacheWarning
    from persist_ext.features._cellcache import _key

    monkeypatch.setattr(_key, "FINGERPRINT_BUDGET", 1000)
    walked: list[int] = []
    real_iter = _key.builtin_iter

    def counted(obj):
        walked.append(len(obj))
        return real_iter(obj)

    monkeypatch.setattr(_key, "builtin_iter", counted)
    shell.user_ns["xs"] = [i + 0.5 for i in range(1000)]  # 1 + 1,000 objects: over
    shell.user_ns["table"] = {i: -i for i in range(600)}  # 1 + 1,200 references: over
    with pytest.warns(CellCacheWarning, match="cannot be fingerprinted") as warned:
        result, _ = run(cache, shell, "total = sum(xs) + len(table)")
    refused = " ".join(str(w.message) for w in warned)
    assert "input 'xs' cannot" in refused
    assert "input 'table' cannot" in refused
    assert not result.hit
    assert shell.user_ns["total"] == sum(i + 0.5 for i in range(1000)) + 600
    assert walked == []
    assert _key._too_large([0.5] * 999) is None  # under the budget: walked and counted
    assert walked == [999]


def test_frames_count_their_object_elements_against_the_fingerprint_budget() -> None:
    from persist_ext.features._cellcache import _key

    numbers = pd.DataFrame(np.zeros((600, 10)))  # 6,000 elements, none an object
    words = pd.DataFrame({"w": ["x"] * 600, "n": np.zeros(600)})  # 600 objects
    assert _key._too_large([numbers, [0.5] * 5_000], budget=10_000) is None
    assert _key._too_large([words, [0.5] * 9_000], budget=10_000) is None
    assert _key._too_large([words, [0.5] * 9_500], budget=10_000) is not None
    assert _key._too_large(pd.Series(["x"] * 11_000), budget=10_000) is not None
    assert _key._too_large(pd.Series(np.zeros(11_000)), budget=10_000) is None


def test_an_input_holding_the_session_is_not_walked(shell, cache, monkeypatch) -> None:
    # A widget holds its comm, the comm the kernel, the kernel the shell and every variable
    # of the notebook: such an input is named as holding the session at once, not walked.
    from persist_ext._errors import CellCacheWarning
    from persist_ext.features._cellcache import _key

    visited: list[int] = []
    real_iter = _key.builtin_iter

    def counted(obj):
        visited.append(1)
        return real_iter(obj)

    monkeypatch.setattr(_key, "builtin_iter", counted)
    shell.user_ns["bulk"] = [[i] for i in range(20_000)]  # what walking the namespace meets
    shell.user_ns["holder"] = types.SimpleNamespace(comm=types.SimpleNamespace(kernel=shell))
    with pytest.warns(CellCacheWarning, match="holds the IPython shell or kernel"):
        result, _ = run(cache, shell, "seen = holder.comm is not None")
    assert not result.hit
    assert shell.user_ns["seen"] is True
    assert len(visited) < 100  # the namespace's 20,000 lists were not walked


def test_cyclic_values_are_fingerprinted_stored_and_restored(shell, cache) -> None:
    shell.run_cell("loop = []\nloop.append(loop)")
    cell = "ring = {'self': None}\nring['self'] = ring\nsize = len(loop)"
    run(cache, shell, cell)
    forget(shell, "ring", "size")
    assert run(cache, shell, cell)[0].hit
    assert shell.user_ns["ring"]["self"] is shell.user_ns["ring"]


def test_a_cell_showing_widgets_runs_and_says_why(shell, cache, monkeypatch) -> None:
    pytest.importorskip("ipywidgets")
    formatter = shell.display_formatter
    monkeypatch.setattr(formatter, "active_types", list(formatter.formatters))
    cell = "import ipywidgets\nslider = ipywidgets.IntSlider(3)\ndisplay(slider)"
    first, _ = run(cache, shell, cell)
    assert first.manifest is not None
    assert first.manifest.mode == "run"
    second, _ = run(cache, shell, cell)
    assert not second.hit
    assert "widgets" in str(cache.why(shell, "c"))


def test_lambdas_and_unpicklable_results_make_the_cell_run_without_a_warning(
    shell, cache, recwarn
) -> None:
    for cell in ("square = lambda v: v * v\nsquares = [1, 4]", "(v for v in 'ab')"):
        first, out = run(cache, shell, cell)
        assert first.manifest is not None
        assert first.manifest.mode == "run"
        assert "cannot be stored" in first.manifest.run_reason
        assert not run(cache, shell, cell)[0].hit
        assert not out.stderr
    assert not [w for w in recwarn if "persist" in str(w.message)]


def test_globals_read_by_methods_of_an_input_instance_are_inputs(shell, cache) -> None:
    shell.run_cell(
        "SCALE = 2\nclass Box:\n    def __init__(self, v):\n        self.v = v\n"
        "    def scaled(self):\n        return self.v * SCALE\nbox = Box(3)"
    )
    run(cache, shell, "big = box.scaled()")
    shell.run_cell("SCALE = 10")
    result, _ = run(cache, shell, "big = box.scaled()")
    assert not result.hit
    assert shell.user_ns["big"] == 30


def test_files_named_in_the_cell_are_keyed_even_when_read_by_c_code(
    shell, cache, tmp_path: Path
) -> None:
    pytest.importorskip("pyarrow")
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "t.parquet")
    shell.user_ns.update(pd=pd, source=str(tmp_path / "t.parquet"))
    for cell in ("table = pd.read_parquet('t.parquet')", "table = pd.read_parquet(source)"):
        run(cache, shell, cell)
        assert run(cache, shell, cell)[0].hit
        pd.DataFrame({"a": [2]}).to_parquet(tmp_path / "t.parquet")
        result, _ = run(cache, shell, cell)
        assert not result.hit
        assert shell.user_ns["table"]["a"].tolist() == [2]
        assert "t.parquet" in str(cache.why(shell, "c"))
        pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "t.parquet")


def test_a_display_printer_registered_or_removed_is_seen_by_every_snapshot(shell) -> None:
    """The printer tables are named once and remembered by their items: a printer added,
    replaced or removed in place (same tables, same lengths) still shows in the next snapshot."""
    from persist_ext.features._cellcache._state import capture_all

    class Thing:
        pass

    def first(obj, p, cycle):
        p.text("first")

    def second(obj, p, cycle):
        p.text("second")

    plain = shell.display_formatter.formatters["text/plain"]
    before = capture_all(shell, ["ipython.printers"])["ipython.printers"]
    assert capture_all(shell, ["ipython.printers"])["ipython.printers"] == before
    plain.for_type(Thing, first)
    try:
        with_first = capture_all(shell, ["ipython.printers"])["ipython.printers"]
        assert set(with_first) - set(before) == {
            f"text/plain:{__name__}.{Thing.__qualname__}={__name__}.{first.__qualname__}"
        }
        plain.type_printers[Thing] = second  # replaced in place: same table, same length
        with_second = capture_all(shell, ["ipython.printers"])["ipython.printers"]
        assert set(with_second) - set(before) == {
            f"text/plain:{__name__}.{Thing.__qualname__}={__name__}.{second.__qualname__}"
        }
    finally:
        plain.type_printers.pop(Thing, None)
    assert capture_all(shell, ["ipython.printers"])["ipython.printers"] == before


def test_a_partial_printer_is_named_without_the_addresses_of_its_arguments(shell) -> None:
    """A user's printer that is a ``functools.partial`` over an object is named by its
    arguments with their addresses taken out, as functions are: the same registration in
    another kernel (another address) digests alike, so a stored cell's printer check holds;
    an argument whose ``repr`` raises is named by its type."""
    import functools

    from persist_ext.features._cellcache._state import capture_all

    class Thing:
        pass

    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    def show(style, obj, p, cycle):
        p.text("thing")

    plain = shell.display_formatter.formatters["text/plain"]
    before = set(capture_all(shell, ["ipython.printers"])["ipython.printers"])
    try:
        plain.for_type(Thing, functools.partial(show, object()))
        first = set(capture_all(shell, ["ipython.printers"])["ipython.printers"]) - before
        plain.for_type(Thing, functools.partial(show, object()))  # another address
        second = set(capture_all(shell, ["ipython.printers"])["ipython.printers"]) - before
        assert first == second
        assert len(first) == 1
        assert " at 0x" not in next(iter(first))
        plain.for_type(Thing, functools.partial(show, style=Broken()))
        (broken,) = set(capture_all(shell, ["ipython.printers"])["ipython.printers"]) - before
        assert f"{show.__qualname__}(style=<" in broken  # its type, cut at 80 characters
    finally:
        plain.type_printers.pop(Thing, None)


def test_figure_printers_are_named_by_format_and_checked_after_a_reimport(shell) -> None:
    """IPython's figure printers (partials of ``print_figure``, one per format) are kept in
    the snapshot with their format, so a change of formats is seen; a hit whose imports
    register other formats than the run's is refused with a reason."""
    from IPython.core.pylabtools import select_figure_formats

    from persist_ext.features._cellcache._state import capture_all, figure_printers_differ

    formatters = shell.display_formatter.formatters
    tables = {mime: dict(f.type_printers) for mime, f in formatters.items()}
    try:
        select_figure_formats(shell, {"png"})
        png = capture_all(shell, ["ipython.printers"])["ipython.printers"]
        assert [e for e in png if "matplotlib.figure.Figure" in e] == [
            "image/png:matplotlib.figure.Figure=IPython.core.pylabtools.print_figure("
            "base64=True, fmt='png')"
        ]
        assert figure_printers_differ(shell, {"ipython.printers": png}) is None
        assert figure_printers_differ(shell, {}) is None  # nothing recorded: nothing to check
        select_figure_formats(shell, {"svg"})
        svg = capture_all(shell, ["ipython.printers"])["ipython.printers"]
        assert svg != png
        assert "figure formats" in (figure_printers_differ(shell, {"ipython.printers": png}) or "")
    finally:
        for mime, table in tables.items():
            formatters[mime].type_printers = table


def test_display_snapshots_are_taken_again_only_when_a_formatter_changed(
    shell, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While no dict the display facets read changed (their version tags), the display
    settings and printers are not read again; a precision, an ``enabled`` flag, a printer
    table replaced whole or changed in place each show in the next snapshot."""
    from persist_ext.features._cellcache import _state
    from persist_ext.features._cellcache._state import capture_all

    names = ["ipython.display", "ipython.printers"]
    first = capture_all(shell, names)
    reads: list[str] = []
    for fn in ("_display_settings", "_printers_named"):
        real = getattr(_state, fn)
        monkeypatch.setattr(
            _state, fn, lambda shell, _real=real, _fn=fn: reads.append(_fn) or _real(shell)
        )
    assert capture_all(shell, names) == first
    assert reads == []  # nothing changed: nothing read again
    plain = shell.display_formatter.formatters["text/plain"]
    html = shell.display_formatter.formatters["text/html"]
    tables = plain.type_printers
    try:
        plain.float_precision = "%.2f"
        assert capture_all(shell, names)["ipython.display"]["float_precision"] == "%.2f"
        html.enabled = not html.enabled
        assert capture_all(shell, names)["ipython.display"]["text/html"] == html.enabled

        def shown(obj, p, cycle):
            p.text("shown")

        plain.type_printers = {**tables, complex: shown}  # a table replaced whole
        label = f"text/plain:builtins.complex={__name__}.{shown.__qualname__}"
        assert label in capture_all(shell, names)["ipython.printers"]
        del plain.type_printers[complex]  # changed in place
        assert label not in capture_all(shell, names)["ipython.printers"]
    finally:
        plain.type_printers = tables
        plain.float_precision = ""
        html.enabled = first["ipython.display"]["text/html"]
    assert capture_all(shell, names) == first


def test_pandas_options_changed_any_way_are_seen_by_the_next_snapshot(shell) -> None:
    """The flattened options are reused while the options tree is unchanged: a change by
    ``set_option``, by attribute, or written into pandas' own tree is still seen, and no
    two snapshots share one dict."""
    from persist_ext.features._cellcache._state import capture_all

    config = pd._config.config._global_config

    def options() -> dict:
        return capture_all(shell, ["pandas.options"])["pandas.options"]

    before = options()
    again = options()
    assert again == before
    assert again is not before
    again["display.max_rows"] = -1  # a snapshot is the caller's: the next one is unchanged
    assert options() == before
    try:
        pd.set_option("display.max_rows", 7)
        assert options()["display.max_rows"] == 7
        pd.options.display.max_rows = 8
        assert options()["display.max_rows"] == 8
        config["display"]["max_rows"] = 9  # no pandas function involved
        assert options()["display.max_rows"] == 9
    finally:
        pd.reset_option("display.max_rows")
    assert options() == before


def test_state_snapshots_see_rcparams_and_imported_modules(shell) -> None:
    """rcParams are copied without the backend keys and a change shows; a module imported
    between two snapshots is named as added, one removed is not."""
    import matplotlib

    from persist_ext.features._cellcache._state import capture_all, changes_between

    rc = capture_all(shell, ["rcParams"])["rcParams"]
    assert "backend" not in rc
    assert "backend_fallback" not in rc
    skipped = ("backend", "backend_fallback")
    assert rc == {k: v for k, v in dict.items(matplotlib.rcParams) if k not in skipped}
    with matplotlib.rc_context({"lines.linewidth": 7.5}):
        assert capture_all(shell, ["rcParams"])["rcParams"]["lines.linewidth"] == 7.5
    before = capture_all(shell, ["sys.modules"])
    fake = type(sys)("persist_ext_test_fake_module")
    sys.modules[fake.__name__] = fake
    try:
        after = capture_all(shell, ["sys.modules"])
    finally:
        del sys.modules[fake.__name__]
    assert changes_between(before, after).added_modules == [fake.__name__]
    assert changes_between(after, before).added_modules == []


def test_rcparams_and_module_snapshots_are_reused_only_while_their_dict_is_unchanged(
    shell,
) -> None:
    """rcParams and ``sys.modules`` snapshots are reused while their dict's version tag has
    not moved (nothing is copied then); any change of the dict shows in the next snapshot:
    a value set through rcParams, through ``dict.__setitem__`` (no matplotlib code), the
    same value set again, a module added or removed."""
    import matplotlib

    from persist_ext.features._cellcache import _state
    from persist_ext.features._cellcache._state import capture_all, dict_version

    assert dict_version(matplotlib.rcParams) is not None  # the fast way is taken here

    def rc() -> dict:
        return capture_all(shell, ["rcParams"])["rcParams"]

    def modules() -> dict:
        return capture_all(shell, ["sys.modules"])["sys.modules"]

    first = rc()
    assert rc() is first  # unchanged: the same snapshot, not a new copy
    old = matplotlib.rcParams["lines.linewidth"]
    try:
        matplotlib.rcParams["lines.linewidth"] = old + 1.5
        assert rc()["lines.linewidth"] == old + 1.5
        dict.__setitem__(matplotlib.rcParams, "lines.linewidth", old + 2.5)
        assert rc()["lines.linewidth"] == old + 2.5
        matplotlib.rcParams["lines.linewidth"] = old
        assert rc() == first
    finally:
        matplotlib.rcParams["lines.linewidth"] = old
    seen = modules()
    assert modules() is seen
    fake = type(sys)("persist_ext_test_versioned_module")
    sys.modules[fake.__name__] = fake
    try:
        assert fake.__name__ in modules()
    finally:
        del sys.modules[fake.__name__]
    assert fake.__name__ not in modules()
    # A version tag that does not behave as one (another Python) turns the reuse off.
    saved = _state._VERSION_CHECK[0]
    _state._VERSION_CHECK[0] = False
    try:
        assert dict_version(matplotlib.rcParams) is None
        assert rc() is not rc()
        assert rc() == first
    finally:
        _state._VERSION_CHECK[0] = saved


def test_library_class_snapshots_are_reused_only_while_the_class_is_unchanged(shell) -> None:
    """pandas' and matplotlib's classes are copied for the snapshot only when their
    namespace's version tag moved: an unchanged class gives the same copy (the patch check
    then compares nothing), and an attribute set, replaced or removed (``tqdm.pandas()``)
    shows in the next snapshot."""
    import pandas as pd

    from persist_ext.features._cellcache import _state
    from persist_ext.features._cellcache._state import capture_all, patched_attributes

    def classes() -> dict:
        return capture_all(shell, ["library.classes"])["library.classes"]

    first = classes()
    again = classes()
    assert again["pandas.DataFrame"] is first["pandas.DataFrame"]  # not copied again
    assert patched_attributes(first, again) == []
    try:
        pd.DataFrame.persist_ext_patched = lambda self: 1
        patched = classes()
        assert patched_attributes(again, patched) == ["DataFrame.persist_ext_patched"]
        pd.DataFrame.persist_ext_patched = lambda self: 2  # replaced by another function
        replaced = classes()
        assert patched_attributes(patched, replaced) == ["DataFrame.persist_ext_patched"]
    finally:
        del pd.DataFrame.persist_ext_patched
    assert patched_attributes(replaced, classes()) == ["DataFrame.persist_ext_patched"]
    assert patched_attributes(first, classes()) == []
    # Without trusted version tags every snapshot is a copy.
    saved = _state._VERSION_CHECK[0]
    _state._VERSION_CHECK[0] = False
    try:
        assert classes()["pandas.DataFrame"] is not classes()["pandas.DataFrame"]
    finally:
        _state._VERSION_CHECK[0] = saved


def test_local_module_snapshots_see_every_change_while_reused(shell, tmp_path: Path) -> None:
    """A local module's variables are captured afresh only when its dict changed; what its
    containers hold is looked at every time (a ``register(x)`` appending to a list never
    rebinds a name), and any name bound, rebound or removed shows."""
    import importlib

    from persist_ext.features._cellcache._state import capture_all

    (tmp_path / "helpers_snap.py").write_text("REGISTRY = []\nCONFIG = {}\nSCALE = 2\n")
    (tmp_path / "helpers_flat.py").write_text("SCALE = 2\ndef f():\n    return SCALE\n")
    sys.path.insert(0, str(tmp_path))
    helpers = importlib.import_module("helpers_snap")
    flat = importlib.import_module("helpers_flat")
    try:

        def flat_snap() -> tuple:
            return capture_all(shell, ["modules.local"])["modules.local"]["helpers_flat"]

        unchanged = flat_snap()
        assert flat_snap() is unchanged  # reused: nothing walked again
        flat.SCALE = 3
        assert flat_snap() != unchanged

        def snap() -> tuple:
            return capture_all(shell, ["modules.local"])["modules.local"]["helpers_snap"]

        first = snap()
        assert snap() == first
        helpers.REGISTRY.append(object())
        appended = snap()
        assert appended != first
        helpers.CONFIG["k"] = 1
        assert snap() != appended
        configured = snap()
        helpers.SCALE = 3  # rebinding
        assert snap() != configured
        helpers.SCALE = 2
        helpers.NEW = 1  # a new name
        assert dict(e[:2] for e in snap())["NEW"] == id(1)
        del helpers.NEW
        helpers.REGISTRY.clear()
        helpers.CONFIG.clear()
        assert snap() == first
    finally:
        sys.modules.pop("helpers_snap", None)
        sys.modules.pop("helpers_flat", None)


def test_dict_version_tags_are_checked_before_they_are_trusted() -> None:
    """The check that turns the reuse on accepts this Python's version tags, and a read of
    something that is not a version (here: a dict's item count) is refused."""
    from persist_ext.features._cellcache import _state

    assert _state._versions_behave()
    real = _state._version_view
    try:
        import ctypes

        _state._version_view = lambda mapping: ctypes.c_ssize_t.from_address(  # ma_used
            id(mapping) + object.__basicsize__
        )
        assert not _state._versions_behave()
    finally:
        _state._version_view = real


def test_an_environment_variable_removed_by_a_cell_is_removed_again_on_a_hit(
    shell, cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERSIST_TEST_GONE", "here")
    monkeypatch.setenv("PERSIST_TEST_CHANGED", "old")
    cell = (
        "import os\ndel os.environ['PERSIST_TEST_GONE']\nos.environ['PERSIST_TEST_CHANGED'] = 'néw'"
    )
    run(cache, shell, cell)
    os.environ["PERSIST_TEST_GONE"] = "here"
    os.environ["PERSIST_TEST_CHANGED"] = "old"
    result, _ = run(cache, shell, cell)
    assert result.hit
    assert "PERSIST_TEST_GONE" not in os.environ
    assert os.environ["PERSIST_TEST_CHANGED"] == "néw"


# ----------------------------------------------------------------------- top-level await
def test_a_cell_with_top_level_await_runs_as_a_coroutine(shell, cache) -> None:
    """The nested run skips IPython's ``await`` check only for a text without ``await`` or
    ``async``: a cell awaiting at top level still runs, stored or not, and the shell's
    own check is back afterwards."""
    cell = "import asyncio\nawait asyncio.sleep(0)\nawaited = 3"
    for min_time in (0.0, 60.0):  # stored, then a cell that runs
        forget(shell, "awaited")
        result, captured = run(cache, shell, cell, min_time=min_time, name=f"a{min_time}")
        assert not result.hit
        assert shell.user_ns["awaited"] == 3
        assert "Error" not in captured.stdout + captured.stderr
        assert "should_run_async" not in vars(shell)


def test_a_cell_the_cell_runs_is_still_checked_for_await(shell, cache) -> None:
    """A cell without ``await`` that runs another cell (``%run`` of a notebook does) leaves
    that cell's ``await`` check to IPython."""
    shell.user_ns["inner"] = "import asyncio\nawait asyncio.sleep(0)\ninner_value = 5"
    result, _ = run(cache, shell, "ran = get_ipython().run_cell(inner).success")
    assert not result.hit
    assert shell.user_ns["ran"] is True
    assert shell.user_ns["inner_value"] == 5
    assert "should_run_async" not in vars(shell)


def test_registering_calls_are_found_except_decorators_a_hit_runs_again() -> None:
    from persist_ext.features._cellcache._analysis import analyze_cell

    code = analyze_cell(
        "matplotlib.colormaps.register(cm)\n"
        "pd.api.extensions.register_dataframe_accessor('geo')(Geo)\n"
        "@pd.api.extensions.register_series_accessor('s')\nclass S:\n    pass\n"
        "fm.fontManager.addfont(path)\nnp.random.seed(0)\nlocale.setlocale(locale.LC_ALL, 'C')"
    )
    assert set(code.registrations) == {
        "matplotlib.colormaps.register",
        "pd.api.extensions.register_dataframe_accessor",
        "fm.fontManager.addfont",
        "locale.setlocale",
    }


def test_a_function_valued_option_is_digested_by_its_code_and_the_globals_it_reads() -> None:
    from persist_ext.features._cellcache._state import _json_digest

    namespace: dict = {}
    exec("digits = 2\nshow = lambda x: f'{x:.{digits}f}'", namespace)
    first = _json_digest({"display.float_format": namespace["show"]})
    exec("show = lambda x: f'{x:.{digits}f}'", namespace)  # made again: another object
    assert _json_digest({"display.float_format": namespace["show"]}) == first
    namespace["digits"] = 3
    assert _json_digest({"display.float_format": namespace["show"]}) != first
    exec("show = lambda x: f'{x:.{digits + 1}f}'", namespace)
    assert _json_digest({"display.float_format": namespace["show"]}) != first


def test_a_cell_taking_from_a_generator_runs_quietly_and_says_why(shell, cache, recwarn) -> None:
    # A generator cannot be fingerprinted: the cell ran with a warning that suggested
    # ``--ignore g``, which would restore ``first`` and leave ``g`` where it was.
    shell.run_cell("def gen():\n    yield from range(10)\ng = gen()")
    for expected in (0, 1):
        result, out = run(cache, shell, "first = next(g)")
        assert not result.hit
        assert result.manifest is None
        assert shell.user_ns["first"] == expected
        assert not out.stderr
    assert not [w for w in recwarn if "persist" in str(w.message)]
    assert "it reads g, a generator, whose position a restore cannot move on" in str(
        cache.why(shell, "c")
    )


def test_numeric_objects_are_numpys_and_pandas_own_and_those_held_in_attributes() -> None:
    # A cell reading them formats and computes under numpy's print options and seterr
    # (docs/cell-cache.md). ``numpyro`` and ``pandas_datareader`` are other packages.
    from persist_ext.features._cellcache._fidelity import _holds_numeric, _numeric_global

    class Distribution:
        pass

    Distribution.__module__ = "numpyro.distributions"

    class Reader:
        pass

    Reader.__module__ = "pandas_datareader.data"
    assert not _holds_numeric(Distribution())
    assert not _holds_numeric([Reader()])
    assert not _numeric_global(types.ModuleType("numpyro"))
    assert _numeric_global(types.ModuleType("numpy.linalg"))
    held = types.SimpleNamespace(label="x", arr=np.zeros(2))
    assert _holds_numeric(held)
    assert _holds_numeric({"result": held})
    assert _numeric_global(held)
    assert not _holds_numeric(types.SimpleNamespace(label="x", n=[1, 2]))


def test_the_variables_sharing_an_input_changed_in_place_are_checked() -> None:
    # ``b = a`` and ``row = grid[0]`` share what the cell changes; a hit replacing ``a`` and
    # ``grid`` with stored objects is right only while they are those the run had.
    from persist_ext.features._cellcache._fidelity import covariable_checks, stale_checks
    from persist_ext.features._cellcache._key import FileDigests

    shared: list = []
    grid = [[0], [0]]
    ns = {"a": shared, "b": shared, "grid": grid, "row": grid[0], "n": 2, "_": shared}
    inputs = {"a": "digest", "grid": "digest"}
    checks = covariable_checks(ns, [], {"a": shared, "grid": grid, "n": 2}, inputs, ["a", "grid"])
    assert checks == {"sharers:a": "b|a;grid;n", "sharers:grid": "row|a;grid;n"}
    shell = types.SimpleNamespace(user_ns=ns)
    assert stale_checks(shell, checks, FileDigests()) == []
    ns["b"] = list(shared)  # upstream ``b = list(a)``: the entry's run had ``b`` sharing
    (stale,) = stale_checks(shell, checks, FileDigests())
    assert "then: b; now: none" in stale.message

"""The cell key: each kind of change invalidates it; comments and formatting do not."""

from __future__ import annotations

import functools
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from persist_ext.features._cellcache._analysis import analyze_cell, normalize_code
from persist_ext.features._cellcache._explain import diff_components
from persist_ext.features._cellcache._key import FileDigests, build_key, file_components


def key(source: str, ns: dict, **kwargs) -> str:
    return build_key(analyze_cell(source), ns, **kwargs).digest


# --------------------------------------------------------------------------- analysis


def test_comments_blank_lines_and_formatting_do_not_change_the_code_digest() -> None:
    a = "x = f(1, 2)\ny = x + 1\n"
    b = "# setup\nx = f( 1,2 )  # call\n\n\ny = (x\n     + 1)\n"
    assert normalize_code(a) == normalize_code(b)
    assert normalize_code(a) != normalize_code("x = f(1, 3)\ny = x + 1\n")


@pytest.mark.parametrize(
    ("source", "settings"),
    [
        ("pd.options.display.max_rows = 6", ("pandas.options",)),
        ("from pandas import set_option\nset_option('display.width', 9)", ("pandas.options",)),
        ("np.set_printoptions(precision=2)", ("numpy.printoptions",)),
        ("if 'lib' not in sys.path:\n    sys.path.insert(0, 'lib')", ("sys.path",)),
        ("from sys import path\npath.append('lib')", ("sys.path",)),
        ("plt.style.use('ggplot')", ("matplotlib.backend", "rcParams")),
        ("sns.set()", ("matplotlib.colorcodes", "rcParams")),
        ("get_ipython().run_line_magic('precision', '3')", ("ipython.display",)),
        ("get_ipython().run_line_magic('cd', 'data')", ("cwd",)),
        ("os.chdir('data')", ("cwd",)),
        ("sklearn.set_config(display='text')", ("sklearn.config",)),
        ("sys.setrecursionlimit(10000)", ("python",)),
        ("logging.basicConfig(level=logging.INFO)", ("logging",)),
        (
            "get_ipython().run_line_magic('config', \"InlineBackend.figure_format = 'svg'\")",
            ("ipython.interactivity", "ipython.printers"),
        ),
        # Not setters: the builtin set, os.path, a variable named like a magic, an import.
        ("s = set([1])\np = os.path.join('a', 'b')\nprecision = 0.5", ()),
        ("import matplotlib.pyplot as plt", ()),
    ],
)
def test_the_settings_a_cell_may_set_are_found_by_the_names_it_uses(
    source: str, settings: tuple[str, ...]
) -> None:
    assert analyze_cell(source).settings == settings


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("f(a)(b)", "f(a, b)"),  # the same names and calls, another shape
        ("a - (b - c)", "(a - b) - c"),
        ("x = [[1], 2]", "x = [[1, 2]]"),
        ("x = 1", "x = 1.0"),
        ("x = 1", "x = True"),
        ("x = 'a'", "x = b'a'"),
        ("x = 'a\\x00b'", "x = 'a'"),
        ("global a, b\na = 1", "global a\nb = 1"),
        ("def f(a, b=1): pass", "def f(a=1, b=None): pass"),
        ("if a:\n    b\nc", "if a:\n    b\n    c"),
    ],
)
def test_cells_of_different_code_have_different_digests(a: str, b: str) -> None:
    assert normalize_code(a) != normalize_code(b)
    assert analyze_cell(a).digest == normalize_code(a)


@pytest.mark.parametrize(
    ("source", "reads"),
    [
        ("y = x + 1", ("x",)),
        ("x = 1\ny = x + 1", ()),  # assigned before it is read: not an input
        ("x = x + 1", ("x",)),
        ("arr += 1", ("arr",)),
        ("items.append(4)", ("items",)),
        ('df = load()\ndf["c"] = df.a * 2', ("load",)),
        ("for i in items:\n    total = total + i", ("items", "total")),
        ("r = [i * k for i in range(n)]", ("k", "range", "n")),
        ("def f():\n    return w\nv = f()", ("w",)),  # read at call time
        ("def f():\n    return w\nw = 2\nv = f()", ()),  # ...and assigned by the cell
        # ``global n`` in the cell's function: ``n += 1`` reads the namespace's n
        ("def f():\n    global n\n    n += 1\nf()", ("n",)),
        ("def f():\n    n = 0\n    n += 1\nf()", ()),  # a local of f
        ("try:\n    v = 1\nexcept E as e:\n    print(e)", ("E", "print")),
        ("obj.attr = value", ("obj", "value")),
    ],
)
def test_inputs_are_names_read_before_the_cell_assigns_them(source: str, reads: tuple) -> None:
    assert analyze_cell(source).reads == reads


@pytest.mark.parametrize(
    ("source", "reads", "maybe"),
    [
        ("if c:\n    x = 1\ny = x", ("c",), ("x",)),
        ("if c:\n    x = 1\nelse:\n    x = 2\ny = x", ("c",), ()),  # bound either way
        ("if a:\n    x = 1\nelif b:\n    x = 2\ny = x", ("a", "b"), ("x",)),
        ("for i in r:\n    x = i\n    z = x + i\nw = x", ("r",), ("x",)),
        ("while c:\n    x = 1\ny = x", ("c",), ("x",)),
        ("try:\n    x = f()\nexcept E:\n    pass\ny = x", ("E", "f"), ("x",)),
        ("try:\n    pass\nfinally:\n    x = 1\ny = x", (), ()),  # finally always runs
        ("with m as f:\n    x = f\ny = (x, f)", ("m",), ("x",)),  # suppressing managers
        ("match p:\n    case 1:\n        x = 1\ny = x", ("p",), ("x",)),
        ("if c:\n    T = 1\ndef g():\n    return T\ng()", ("c",), ("T",)),
        ("y = a and (b := f())\nz = b", ("a", "f"), ("b",)),  # := where it may not run
        ("y = (b := 1) if c else 2\nz = b", ("c",), ("b",)),
        ("if (n := len(a)) > 3:\n    pass\nz = n", ("len", "a"), ()),  # a test always runs
        # bound again after the maybe read: an input like any other
        ("for i in r:\n    x = i\ny = x\nx = 0", ("r", "x"), ()),
    ],
)
def test_a_name_read_after_a_binding_that_may_not_run_is_a_maybe_read(
    source: str, reads: tuple, maybe: tuple
) -> None:
    code = analyze_cell(source)
    assert (code.reads, code.maybe_reads) == (reads, maybe)


def test_a_name_in_a_string_is_the_cells_own_once_bound_for_sure() -> None:
    assert analyze_cell('raw = [1, 2]\ntable = {"raw": raw}\nplot(label="raw")').mentioned == ()
    assert analyze_cell('q = df.query("a > @thr")\nthr = 3').mentioned == ("a", "thr")
    assert analyze_cell('if c:\n    thr = 1\nq = df.query("a > @thr")').mentioned == ("a", "thr")


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("get_ipython().run_line_magic('who', '')", "the whole namespace through %who"),
        ("get_ipython().run_line_magic('whos', '')", "the whole namespace through %whos"),
        ("names = dir()", "the whole namespace through dir()"),
        ("import __main__ as m\ny = m.x", "through the __main__ module"),
        ("from __main__ import x", "through the __main__ module"),
        ("y = sys.modules['__main__'].x", "through the __main__ module"),
        ("m = sys.modules.get(__name__)", "through the __main__ module"),
        ("m = importlib.import_module('__main__')", "through the __main__ module"),
    ],
)
def test_a_cell_listing_or_reaching_the_namespace_is_uncertain(source: str, reason: str) -> None:
    assert any(reason in why for why in analyze_cell(source).uncertain)


@pytest.mark.parametrize(
    ("source", "early"),
    [
        ("N = 10\ndef f(x, n=N):\n    return x + n", "N"),
        ("SCALE = 2\nclass C:\n    size = SCALE", "SCALE"),
        ("T = int\ndef f(x: T, *, k=lambda: 0) -> None:\n    pass", "T"),
        ("D = deco\n@D\ndef f():\n    pass", "D"),
        # A later class binding the name does not hide what an earlier ``def`` reads.
        ("N = 10\ndef f(x, n=N):\n    return x + n\nclass C:\n    N = 1", "N"),
    ],
)
def test_a_definition_reading_a_value_its_cell_sets_is_uncertain(source: str, early: str) -> None:
    reasons = analyze_cell(source).uncertain
    assert f"its definitions read {early}, which it sets" in " ".join(reasons), reasons


def test_a_definition_reading_only_earlier_cells_values_is_certain() -> None:
    source = "def f(x, n=N):\n    return x + M\nclass C(B):\n    k = K\nM = 1"
    assert analyze_cell(source).uncertain == ()


def test_another_module_looked_up_by_name_is_not_the_namespace() -> None:
    assert (
        analyze_cell("np = sys.modules['numpy']\nm = importlib.import_module('os')").uncertain == ()
    )


def test_definitions_are_imports_functions_and_classes() -> None:
    code = analyze_cell(
        "import numpy as np\nfrom os import path\ndef f(): pass\nclass A: pass\nx = 1"
    )
    assert code.definitions == {"np", "path", "f", "A"}
    assert code.imported_modules == ("numpy", "os")
    assert "x" in code.assigns


# --------------------------------------------------------------------------- key


def test_same_code_and_inputs_give_the_same_key_across_formatting() -> None:
    ns = {"x": np.arange(10), "n": 3}
    assert key("y = x * n", ns) == key("y = x*n   # scaled", ns)


def test_a_changed_input_value_changes_the_key() -> None:
    assert key("y = x * 2", {"x": np.arange(10)}) != key("y = x * 2", {"x": np.arange(11)})
    df = pd.DataFrame({"a": [1, 2]})
    df2 = df.copy()
    df2.loc[0, "a"] = 5
    assert key("s = df.a.sum()", {"df": df}) != key("s = df.a.sum()", {"df": df2})


def test_a_name_the_cell_only_writes_is_not_part_of_the_key() -> None:
    assert key("y = 1", {"y": 5}) == key("y = 1", {"y": 6})


def test_changed_helper_three_levels_down_changes_the_key_and_is_named() -> None:
    ns: dict = {}
    exec("def leaf(x):\n    return x + 1\ndef mid(x):\n    return leaf(x) * 2\n", ns)
    exec("def top(x):\n    return mid(x) - 1\n", ns)
    ns.pop("__builtins__")
    for fn in ("leaf", "mid", "top"):
        ns[fn].__module__ = "__main__"
    before = build_key(analyze_cell("y = top(3)"), ns)
    exec("def leaf(x):\n    return x + 2\n", ns)
    ns["leaf"].__module__ = "__main__"
    after = build_key(analyze_cell("y = top(3)"), ns)
    assert before.digest != after.digest
    messages = [
        d.message for d in diff_components(before.components, after.components, after.reaches)
    ]
    assert "function leaf changed" in messages
    assert any(m.startswith("function top changed through") and "leaf" in m for m in messages)


def test_a_global_read_by_a_helper_is_an_input() -> None:
    ns: dict = {"THRESHOLD": 1}
    exec("def over(xs):\n    return [x for x in xs if x > THRESHOLD]\n", ns)
    ns.pop("__builtins__")
    ns["over"].__module__ = "__main__"
    a = build_key(analyze_cell("r = over([1, 2, 3])"), ns)
    ns["THRESHOLD"] = 2
    b = build_key(analyze_cell("r = over([1, 2, 3])"), ns)
    assert a.digest != b.digest
    assert [d.message for d in diff_components(a.components, b.components)] == [
        "global (read by a function) THRESHOLD changed"
    ]


def test_a_global_read_by_a_function_held_in_data_is_an_input() -> None:
    """``ops["f"](10)``: the function is reached through a dict, a partial, a callback
    attribute or a nested dict; the globals it reads are inputs as for ``over(...)``."""
    ns: dict = {"K": 1}
    exec("def scale(x):\n    return x * K\n", ns)
    ns.pop("__builtins__")
    ns["scale"].__module__ = "__main__"
    ns["holders"] = {"ops": {"f": functools.partial(ns["scale"])}}
    code = analyze_cell("r = holders['ops']['f'](10)")
    a = build_key(code, ns)
    ns["K"] = 2
    b = build_key(code, ns)
    assert [d.message for d in diff_components(a.components, b.components)] == [
        "global (read by a function) K changed"
    ]


def test_a_global_a_function_reads_inside_a_string_is_an_input() -> None:
    """``d.query("a > @thresh")`` in a notebook function reads ``thresh`` as in a cell; its
    parameters, its docstring and names holding code are not inputs."""
    ns: dict = {"__name__": "__main__", "thresh": 1, "d": [], "a": 5, "np": np}
    exec(
        "def over(d):\n    'Rows of d over a.'\n    return d.query('a > @thresh and np.pi')\n",
        ns,
    )
    ns.pop("__builtins__")
    code = analyze_cell("r = over(df)")
    before = build_key(code, ns)
    assert {"global:thresh", "global:a"} <= set(before.components)
    assert "global:d" not in before.components  # its parameter, as the docstring's d
    assert "global:np" not in before.components
    ns["thresh"] = 2
    after = build_key(code, ns)
    assert [d.message for d in diff_components(before.components, after.components)] == [
        "global (read by a function) thresh changed"
    ]


@pytest.mark.parametrize(
    ("body", "how"),
    [
        ("    import __main__\n    return __main__.thresh", "the __main__"),
        ("    return get_ipython().user_ns['thresh']", "the user_ns"),
    ],
)
def test_a_function_reading_the_namespace_by_computed_names_is_uncertain(
    body: str, how: str
) -> None:
    ns: dict = {"__name__": "__main__", "thresh": 1}
    exec(f"def peek():\n{body}\n", ns)
    ns.pop("__builtins__")
    key = build_key(analyze_cell("r = peek()"), ns)
    assert key.uncertain == [f"peek reads notebook variables by names it computes, through {how}"]


def test_a_cell_reading_the_shells_namespace_is_uncertain() -> None:
    assert analyze_cell("v = get_ipython().user_ns[name]").uncertain == (
        "it reads or sets the namespace through user_ns",
    )
    assert analyze_cell("user_ns = {}\nv = user_ns['k']").uncertain == ()  # a variable


def test_an_attribute_named_like_a_variable_is_not_a_global_read() -> None:
    """``self.frame`` in a helper's class does not read the notebook's ``frame``: the cell
    that defines ``frame`` keys the same before and after, so it hits on its second run."""
    ns: dict = {}
    exec(
        "class Model:\n    def __init__(self, frame):\n        self.frame = frame\n"
        "    def size(self):\n        return len(self.frame)\n"
        "def fit(rows):\n    return Model(rows)\n",
        ns,
    )
    ns.pop("__builtins__")
    for name in ("Model", "fit"):
        ns[name].__module__ = "__main__"
    cell = analyze_cell("frame = [1, 2]\nmodel = fit(frame)")
    before = build_key(cell, ns)
    ns["frame"] = [1, 2]
    after = build_key(cell, ns)
    assert "global:frame" not in after.components
    assert before.digest == after.digest


def test_unfingerprintable_input_is_reported_not_dropped_unless_ignored() -> None:
    import threading

    lock = threading.Lock()
    built = build_key(analyze_cell("with lock:\n    y = 1"), {"lock": lock})
    assert "lock" in built.unhashable
    assert "lock" in built.unhashable["lock"] or "_thread" in built.unhashable["lock"]
    ignored = build_key(analyze_cell("with lock:\n    y = 1"), {"lock": lock}, ignore=["lock"])
    assert ignored.unhashable == {}


def test_modules_are_keyed_by_name_and_packages_only_with_env() -> None:
    import json as json_module

    plain = build_key(analyze_cell("s = np.sum(x)"), {"np": np, "x": [1]})
    assert plain.components["module:np"] == "numpy"
    assert not any(c.startswith("package:") for c in plain.components)
    env = build_key(analyze_cell("s = np.sum(x)"), {"np": np, "x": [1]}, env=True)
    assert env.components["package:numpy"] == np.__version__
    assert "python" in env.components
    swapped = build_key(analyze_cell("s = np.sum(x)"), {"np": json_module, "x": [1]})
    assert swapped.digest != plain.digest


def test_env_keys_a_package_the_cell_is_first_to_import(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/cell-cache.md: `--env` keys on the versions of the packages the cell uses, also
    one the cell itself imports first (its installed version, read without importing it)."""
    monkeypatch.delitem(sys.modules, "numpy")  # not imported yet in this "kernel"
    key = build_key(analyze_cell("import numpy as np\narr = np.arange(3)"), {}, env=True)
    assert "numpy" not in sys.modules  # keying imported nothing
    assert key.components["package:numpy"] == np.__version__
    local = build_key(analyze_cell("import not_a_distribution_xyz"), {}, env=True)
    assert not any(c.startswith("package:") for c in local.components)


def test_deps_file_content_changes_the_key_and_size_mtime_shortcut_skips_rehash(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    digests = FileDigests()
    first = file_components([str(data)], digests)
    assert digests.changed
    digests.changed = False
    assert file_components([str(data)], digests) == first
    assert not digests.changed  # unchanged size and mtime: not re-read
    data.write_text("a,b\n1,3\n")
    stat = data.stat()
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    second = file_components([str(data)], digests)
    assert second != first
    diffs = diff_components(first, second)
    assert [d.kind for d in diffs] == ["file"]
    assert str(data) in diffs[0].message


def test_deps_globs_directories_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.txt").write_text("x")
    (tmp_path / "d" / "y.txt").write_text("y")
    found = file_components([str(tmp_path / "d"), str(tmp_path / "*.none")], FileDigests())
    assert sorted(Path(k[5:]).name for k in found if k.startswith("file:")) == [
        "*.none",
        "x.txt",
        "y.txt",
    ]
    assert found[f"file:{(tmp_path / '*.none').resolve()}"] == "missing"
    created = tmp_path / "later.txt"
    before = file_components([str(created)], FileDigests())
    created.write_text("now")
    time.sleep(0.01)
    after = file_components([str(created)], FileDigests())
    assert [d.message for d in diff_components(before, after)] == [f"file {created} was created"]


def test_code_change_is_reported_first() -> None:
    a = build_key(analyze_cell("y = x + 1"), {"x": 1})
    b = build_key(analyze_cell("y = x + 2"), {"x": 2})
    messages = [d.message for d in diff_components(a.components, b.components)]
    assert messages[0].startswith("the cell's code changed")
    assert "input x changed" in messages


def test_a_logger_is_keyed_by_its_configuration_or_not_at_all(tmp_path: Path) -> None:
    import io
    import logging
    import logging.handlers

    log = logging.getLogger("test_cellcache_key.configured")
    log.propagate = False
    handler = logging.StreamHandler(sys.__stdout__)
    log.addHandler(handler)
    try:
        log.setLevel(logging.INFO)
        info = key("log.info('x')", {"log": log})
        assert key("log.info('x')", {"log": log}) == info
        log.setLevel(logging.WARNING)
        assert key("log.info('x')", {"log": log}) != info
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        formatted = key("log.info('x')", {"log": log})
        assert formatted != info
        # A file handler of logging's own is keyed by its file (a cell writing there runs).
        filed = logging.FileHandler(tmp_path / "run.log", delay=True)
        log.addHandler(filed)
        assert key("log.info('x')", {"log": log}) != formatted
        log.removeHandler(filed)
        # Records sent where no run is watched (a stream of the notebook, a queue): the
        # logger cannot stand in a key, and the cell runs, saying why.
        for other in (
            logging.StreamHandler(io.StringIO()),
            logging.handlers.QueueHandler(__import__("queue").Queue()),
        ):
            log.addHandler(other)
            built = build_key(analyze_cell("log.info('x')"), {"log": log})
            assert "log" in built.unhashable
            assert "records may go somewhere" in built.unhashable["log"]
            log.removeHandler(other)
    finally:
        log.handlers.clear()


# --------------------------------------------------------------------------- large dicts


def test_a_large_dict_of_atoms_keeps_its_digest_only_while_unchanged() -> None:
    """A word index read by cell after cell is fingerprinted once per change, not before
    and after every cell; any change of it gives a new digest, as a fresh fingerprint."""
    from persist_ext.features._cellcache._key import (
        DIGEST_MEMO_ITEMS,
        _remembered_digest,
        bounded_fingerprint,
    )
    from persist_ext.storage._fingerprint import fingerprint

    words = {f"w{i}": i for i in range(DIGEST_MEMO_ITEMS + 10)}
    first = bounded_fingerprint(words)
    assert _remembered_digest(words) == first  # kept
    assert bounded_fingerprint(words) == first == fingerprint(words)
    changes = [
        lambda d: d.__setitem__("w3", -3),  # a value replaced
        lambda d: d.__setitem__("new", 1.5),  # a key added
        lambda d: d.pop("w5"),
        lambda d: dict.__setitem__(d, "w7", "seven"),
        lambda d: d.update({"w8": None}),
        lambda d: d.__setitem__("w9", d.pop("w9")),  # same items, another order
        lambda d: d.clear(),
    ]
    seen = {first}
    for change in changes:
        change(words)
        digest = bounded_fingerprint(words)
        assert digest == fingerprint(words)
        assert digest not in seen
        seen.add(digest)

    # Another dict at the address of one freed is never taken for it.
    for _ in range(20):
        table = {str(i): i for i in range(DIGEST_MEMO_ITEMS)}
        kept = bounded_fingerprint(table)
        del table
        other = {str(i): i + 1 for i in range(DIGEST_MEMO_ITEMS)}
        assert bounded_fingerprint(other) == fingerprint(other) != kept
        del other


def test_a_large_dict_holding_mutable_values_is_fingerprinted_each_time() -> None:
    from persist_ext.features._cellcache._key import (
        DIGEST_MEMO_ITEMS,
        _remembered_digest,
        bounded_fingerprint,
    )

    groups = {i: [i] for i in range(DIGEST_MEMO_ITEMS)}
    before = bounded_fingerprint(groups)
    assert _remembered_digest(groups) is None
    groups[3].append(4)  # the dict itself is unchanged
    assert bounded_fingerprint(groups) != before
    keys = {(i, i): 1 for i in range(DIGEST_MEMO_ITEMS)}  # tuple keys: not atoms
    bounded_fingerprint(keys)
    assert _remembered_digest(keys) is None


def test_a_cell_reading_a_changed_large_dict_misses() -> None:
    from persist_ext.features._cellcache._key import DIGEST_MEMO_ITEMS

    ns = {"big": {str(i): str(i) for i in range(DIGEST_MEMO_ITEMS)}}
    first = key("n = len(big) + len(big['7'])", ns)
    assert key("n = len(big) + len(big['7'])", ns) == first
    ns["big"]["7"] = "seven"
    assert key("n = len(big) + len(big['7'])", ns) != first


def test_a_method_of_a_large_dict_keeps_its_digest_only_while_the_dict_is_unchanged() -> None:
    """``unscramble = terms.get`` (pytudes' Anigrams): the method fingerprints its dict."""
    from persist_ext.features._cellcache._key import (
        DIGEST_MEMO_ITEMS,
        _remembered_digest,
        bounded_fingerprint,
    )
    from persist_ext.storage._fingerprint import fingerprint

    terms = {f"t{i}": f"w{i}" for i in range(DIGEST_MEMO_ITEMS)}
    unscramble = terms.get
    first = bounded_fingerprint(unscramble)
    assert _remembered_digest(unscramble) == first == fingerprint(unscramble)
    terms["t1"] = "changed"
    assert bounded_fingerprint(unscramble) == fingerprint(unscramble) != first
    for _ in range(20):  # another method of it, maybe at the same address, is not taken for it
        method = terms.get
        kept = bounded_fingerprint(method)
        del method
        other = terms.keys
        assert bounded_fingerprint(other) == fingerprint(other) != kept
        del other

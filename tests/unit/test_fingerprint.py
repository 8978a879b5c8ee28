"""fingerprint / fingerprint_code / referenced_user_code."""

from __future__ import annotations

import collections
import dataclasses
import enum
import functools
import importlib
import json
import os
import subprocess
import sys
import textwrap
import threading
import types
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from persist_ext._errors import FingerprintError
from persist_ext.storage._fingerprint import (
    fingerprint,
    fingerprint_code,
    is_user_code,
    referenced_user_code,
)


def _module(source: str, name: str = "fp_user_code") -> dict:
    """Run ``source`` as user code (a module not in sys.modules) and return its namespace."""
    namespace: dict = {"__name__": name}
    exec(compile(textwrap.dedent(source), f"<{name}>", "exec"), namespace)
    return namespace


# ------------------------------------------------------------------------------ values


def test_digest_shape() -> None:
    digest = fingerprint(1)
    assert len(digest) == 32
    int(digest, 16)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"a": 1, "b": 2}, dict([("a", 1), ("b", 2)])),
        ({1, 2, 3}, {3, 2, 1}),
        (frozenset("abc"), frozenset("cba")),
        ([1, [2, (3, "x")]], [1, [2, (3, "x")]]),
        (float("nan"), float("nan")),
        (b"abc", b"abc"),
        (np.arange(10.0), np.arange(10.0)),
    ],
)
def test_equal_values_equal_digests(a, b) -> None:
    assert fingerprint(a) == fingerprint(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([1, 2], (1, 2)),
        (["ab"], ["a", "b"]),
        (1, True),
        (1, 1.0),
        (1.0, np.float64(1.0)),
        ("1", 1),
        (b"a", bytearray(b"a")),
        ([1, 2], [2, 1]),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}),  # the order list(d) and a DataFrame show
        ({"a": 1}, {"a": 2}),
        (np.zeros(4), np.zeros(4, dtype=np.float32)),
        (np.zeros((2, 2)), np.zeros(4)),
        (None, 0),
        (collections.OrderedDict(a=1, b=2), collections.OrderedDict(b=2, a=1)),
        (10**30, 10**30 + 1),
        (-1, 255),
    ],
)
def test_different_values_different_digests(a, b) -> None:
    assert fingerprint(a) != fingerprint(b)


def test_arrays_layout_does_not_matter_contents_do() -> None:
    a = np.arange(24.0).reshape(4, 6)
    assert fingerprint(a) == fingerprint(np.asfortranarray(a))
    assert fingerprint(a[:, ::2]) == fingerprint(np.ascontiguousarray(a[:, ::2]))
    # Byte order is not layout: ``a.dtype`` and ``a.tobytes()`` show it.
    assert fingerprint(a.astype(">f8")) != fingerprint(a)
    assert fingerprint(a.astype(">f8")) == fingerprint(a.astype(">f8"))
    b = a.copy()
    b[3, 5] += 1e-12
    assert fingerprint(a) != fingerprint(b)
    assert fingerprint(np.array(["a", "bc"])) != fingerprint(np.array(["ab", "c"]))


def test_object_arrays_and_memoryviews() -> None:
    objs = np.array([{"a": 1}, None, "x"], dtype=object)
    assert fingerprint(objs) == fingerprint(np.array([{"a": 1}, None, "x"], dtype=object))
    a = np.arange(10.0)
    assert fingerprint(memoryview(a)) == fingerprint(memoryview(a.copy()))
    assert fingerprint(memoryview(a)[::2]) == fingerprint(memoryview(a[::2].copy()))
    assert fingerprint(memoryview(a)) != fingerprint(memoryview(a.astype(np.int64)))


def test_pandas_objects() -> None:
    def frame() -> pd.DataFrame:
        return pd.DataFrame(
            {
                "x": np.arange(5.0),
                "n": np.arange(5),
                "s": list("abcde"),
                "c": pd.Categorical(list("aabbc")),
                "i": pd.array([1, None, 3, 4, 5], dtype="Int64"),
                "t": pd.date_range("2024-01-01", periods=5),
            }
        )

    df = frame()
    assert fingerprint(df) == fingerprint(frame())
    changed = frame()
    changed.loc[2, "s"] = "z"
    assert fingerprint(df) != fingerprint(changed)
    assert fingerprint(df) != fingerprint(df.rename(columns={"x": "y"}))
    assert fingerprint(df) != fingerprint(df.set_index(pd.Index(list("vwxyz"))))
    assert fingerprint(df["x"]) == fingerprint(frame()["x"])
    assert fingerprint(df["x"]) != fingerprint(df["x"].rename("other"))
    # What pandas keeps beside the data: attrs, the duplicate-labels flag.
    tagged = frame()["x"]
    tagged.attrs["unit"] = "m"
    assert fingerprint(df["x"]) != fingerprint(tagged)
    assert fingerprint(df["x"]) != fingerprint(df["x"].set_flags(allows_duplicate_labels=False))
    assert fingerprint(df) != fingerprint(df.set_flags(allows_duplicate_labels=False))
    # And attributes the notebook set on it, which pandas' pickle leaves out.
    named = frame()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns that they are not columns
        named.name = "train"
    assert fingerprint(df) != fingerprint(named)
    mi = pd.MultiIndex.from_product([[1, 2], ["a", "b"]])
    assert fingerprint(mi) == fingerprint(pd.MultiIndex.from_product([[1, 2], ["a", "b"]]))


def test_cycles_are_handled() -> None:
    a: list = [1]
    a.append(a)
    b: list = [1]
    b.append(b)
    assert fingerprint(a) == fingerprint(b)
    d: dict = {}
    d["self"] = d
    fingerprint(d)


def test_entered_reports_the_containers_met_anywhere_inside() -> None:
    # Also those inside an instance's attributes and a set's items, which are hashed each on
    # its own (what one entered is forgotten before the next): ``row = t.rows[0]``.
    ns = _module(
        """
        class Node:
            def __init__(self, rows):
                self.rows = rows
        """
    )
    rows = [[0], [1]]
    node = ns["Node"](rows)
    bag = {node}
    entered: set[int] = set()
    digest = fingerprint(bag, entered=entered)
    assert {id(bag), id(node), id(rows), id(rows[0]), id(rows[1])} <= entered
    assert digest == fingerprint(bag)  # reporting them changes no digest


def test_what_items_of_a_set_or_attributes_share_counts() -> None:
    # Each item is hashed on its own, so what two of them hold in common is told apart from
    # equal copies only by a digest of its own: appending to one node's list shows in the
    # other node in the first set only.
    ns = _module(
        """
        class Node:
            def __init__(self, data):
                self.data = data
        """
    )
    node = ns["Node"]
    shared = [0]
    assert fingerprint({node(shared), node(shared)}) != fingerprint({node([0]), node([0])})
    other = [0]
    assert fingerprint({node(shared), node(shared)}) == fingerprint({node(other), node(other)})
    row = [0]
    one, two = node([row]), node([list(row)])
    one.more, two.more = [row], [[0]]
    assert fingerprint(one) != fingerprint(two)  # ``one.data[0] is one.more[0]``
    assert fingerprint({node([0]), node([1])}) == fingerprint({node([1]), node([0])})


def test_entered_reports_the_memory_of_arrays_met() -> None:
    base = np.arange(6)
    entered: set[int] = set()
    fingerprint({"v": base[::2]}, entered=entered)
    assert id(base) in entered  # ``a`` and ``d = {'v': a[::2]}`` share memory
    entered.clear()
    fingerprint({"v": base[::2].copy()}, entered=entered)
    assert id(base) not in entered


def test_a_nans_sign_counts_not_its_payload() -> None:
    import math
    import struct

    negative = -math.nan
    other_payload = struct.unpack("<d", struct.pack("<Q", 0x7FF8000000000001))[0]
    assert fingerprint(negative) != fingerprint(math.nan)
    assert fingerprint([negative, 1]) != fingerprint([math.nan, 1])
    assert fingerprint({"x": negative}) != fingerprint({"x": math.nan})
    assert fingerprint(complex(0, negative)) != fingerprint(complex(0, math.nan))
    assert fingerprint(other_payload) == fingerprint(math.nan)
    assert fingerprint(np.array([negative])) != fingerprint(np.array([math.nan]))


def test_one_arrays_memory_met_twice_counts_not_a_frames_blocks() -> None:
    # Writing through one shows in the other: ``[a, a]`` and ``[a, a[::2]]`` are not
    # ``[a, a.copy()]``. A lone array hashes as before; so does a frame however pandas
    # grouped its columns in blocks.
    a = np.zeros(4)
    assert fingerprint([a, a]) != fingerprint([a, a.copy()])
    assert fingerprint([a, a[::2]]) != fingerprint([a, a[::2].copy()])
    assert fingerprint({"x": a, "y": a}) == fingerprint({"x": a, "y": a})
    assert fingerprint([a, np.zeros(4)]) == fingerprint([np.zeros(4), np.zeros(4)])
    one_block = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    two_blocks = pd.DataFrame({"a": [1.0, 2.0]})
    two_blocks["b"] = [3.0, 4.0]
    assert len(one_block._mgr.blocks) != len(two_blocks._mgr.blocks)
    assert fingerprint(one_block) == fingerprint(two_blocks)


def test_entered_reports_what_a_library_objects_pickle_holds() -> None:
    # ``model`` inside ``make_pipeline(scaler, model)``: a fit of the one fits the other.
    inner = [1, 2]
    outer = types.SimpleNamespace(items=inner, label="x")
    entered: set[int] = set()
    digest = fingerprint(outer, entered=entered)
    assert id(inner) in entered
    assert digest == fingerprint(outer)


def test_a_frame_met_twice_is_one_object_and_its_index_is_reported() -> None:
    frame = pd.DataFrame({"a": [1, 2]}, index=["x", "y"])
    assert fingerprint([frame, frame]) != fingerprint([frame, frame.copy()])
    assert fingerprint(frame) == fingerprint(frame.copy())  # alone: as before
    entered: set[int] = set()
    fingerprint({"df": frame, "n": 1}, entered=entered)
    assert {id(frame), id(frame.index)} <= entered  # ``Model(df)``, ``idx = df.index``


def test_objects_via_pickle_and_subclasses() -> None:
    Point = collections.namedtuple("Point", "x y")
    assert fingerprint(Point(1, 2)) != fingerprint((1, 2))
    # Counts in their order: list(c) and most_common() ties show it.
    assert fingerprint(collections.Counter("aab")) != fingerprint(collections.Counter("baa"))
    assert fingerprint(collections.defaultdict(list)) != fingerprint(collections.defaultdict(set))
    import datetime
    import decimal
    import pathlib

    for value in (
        datetime.datetime(2024, 1, 2, 3, 4),
        decimal.Decimal("1.10"),
        pathlib.Path("/x/y"),
        range(10),
        slice(1, 2),
        1 + 2j,
    ):
        assert fingerprint(value) == fingerprint(value)


def test_unfingerprintable_value_names_its_type() -> None:
    with pytest.raises(FingerprintError, match=r"_thread\.lock") as info:
        fingerprint({"nested": [threading.Lock()]})
    assert info.value.type_name == "_thread.lock"
    assert isinstance(info.value, TypeError)
    with pytest.raises(FingerprintError, match="generator"):
        fingerprint(x for x in [])


def test_instances_of_user_classes() -> None:
    src = """
    class Box:
        def __init__(self, a, b):
            self.a, self.b = a, b
        def get(self):
            return 1
    """
    ns = _module(src)
    box = ns["Box"](1, [2])
    assert fingerprint(box) == fingerprint(_module(src)["Box"](1, [2]))
    flipped = ns["Box"].__new__(ns["Box"])
    flipped.b, flipped.a = [2], 1  # attribute order does not matter
    assert fingerprint(box) == fingerprint(flipped)
    assert fingerprint(box) != fingerprint(ns["Box"](1, [3]))
    assert fingerprint(box) != fingerprint(
        _module(src.replace("return 1", "return 2"))["Box"](1, [2])
    )
    box.me = box  # cycles through instance state
    fingerprint(box)
    with pytest.raises(FingerprintError, match="lock"):
        fingerprint(ns["Box"](threading.Lock(), 1))


def test_what_an_instance_holds_beside_its_own_reduction_counts() -> None:
    ns = _module("""
    class Model:
        def __init__(self):
            self.w, self._cache = 0, {}
        def __getstate__(self):
            return {"w": self.w}
    class Point:
        __slots__ = ("x", "__y")
        def __init__(self, x):
            self.x = x
        def __reduce__(self):
            return (Point, (self.x,))
    """)
    first, second = ns["Model"](), ns["Model"]()
    assert fingerprint(first) == fingerprint(second)
    second._cache["k"] = 1  # left out of its state, still seen by later cells
    assert fingerprint(first) != fingerprint(second)
    near, far = ns["Point"](1), ns["Point"](1)
    assert fingerprint(near) == fingerprint(far)
    far._Point__y = 2  # a private slot the reduction leaves out
    assert fingerprint(near) != fingerprint(far)


def test_a_datetime_index_frequency_counts() -> None:
    daily = pd.date_range("2020-01-01", periods=3)
    listed = pd.DatetimeIndex(["2020-01-01", "2020-01-02", "2020-01-03"])
    assert fingerprint(daily) != fingerprint(listed)
    assert fingerprint(daily) == fingerprint(pd.DatetimeIndex(listed, freq="D"))
    assert fingerprint(pd.Series(1, index=daily)) != fingerprint(pd.Series(1, index=listed))


@given(
    st.lists(st.one_of(st.none(), st.text(max_size=4)), max_size=12),
    st.lists(st.integers(0, 12), max_size=3),
    st.sampled_from(["string", "large_string"]),
)
def test_arrow_strings_hash_by_content_however_they_are_chunked(
    strings: list[str | None], cuts: list[int], kind: str
) -> None:
    """Arrow-backed string columns (pandas 3's ``str``) are hashed from their buffers: the
    same strings give the same fingerprint in any chunking, slice or offset width, and any
    change of a string, its boundary or its missingness gives another."""
    import pyarrow as pa
    from pandas.arrays import ArrowStringArray

    def series(chunks: list[list[str | None]], width: str = kind) -> pd.Series:
        arrow = pa.chunked_array([pa.array(c, type=width) for c in chunks], type=width)
        return pd.Series(ArrowStringArray(arrow))

    bounds = sorted({min(cut, len(strings)) for cut in cuts})
    pieces = [strings[a:b] for a, b in zip([0, *bounds], [*bounds, len(strings)])]
    whole = fingerprint(series([strings]))
    assert fingerprint(series(pieces)) == whole
    padded = pa.chunked_array([pa.array(["pad", *strings], type=kind)]).slice(1)
    assert fingerprint(pd.Series(ArrowStringArray(padded))) == whole
    other = "large_string" if kind == "string" else "string"
    assert fingerprint(series([strings], other)) == whole
    # Any other strings: a changed one, a moved boundary, a missing one made empty.
    for i, item in enumerate(strings):
        for changed in (None if item is not None else "", (item or "") + "x"):
            edited = [*strings[:i], changed, *strings[i + 1 :]]
            assert fingerprint(series([edited])) != whole
    assert fingerprint(series([["ab", "c"]])) != fingerprint(series([["a", "bc"]]))


def test_attributes_of_notebook_subclasses_of_frames_and_arrays_count() -> None:
    ns = _module("""
    import numpy as np
    import pandas as pd
    class Tagged(pd.DataFrame):
        _metadata = ["unit"]
    class Q(np.ndarray):
        pass
    """)
    first, second = ns["Tagged"]({"a": [1]}), ns["Tagged"]({"a": [1]})
    first.unit, second.unit = "m", "km"
    assert fingerprint(first) != fingerprint(second)
    assert fingerprint(first) != fingerprint(pd.DataFrame({"a": [1]}))
    near, far = np.arange(2.0).view(ns["Q"]), np.arange(2.0).view(ns["Q"])
    far.unit = "km"
    assert fingerprint(near) != fingerprint(far)


def test_whether_an_array_or_memoryview_is_writeable_counts() -> None:
    frozen = np.arange(3)
    frozen.setflags(write=False)
    assert fingerprint(frozen) != fingerprint(np.arange(3))
    assert fingerprint(frozen[1:]) != fingerprint(np.arange(3)[1:])
    assert fingerprint(memoryview(b"ab")) != fingerprint(memoryview(bytearray(b"ab")))


# ------------------------------------------------------------------------------ code


def test_attributes_of_container_subclasses_count() -> None:
    class History(list):
        pass

    class AttrDict(dict):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.__dict__ = self  # attributes are its items: a cycle back to it

    first, second = History([1]), History([1])
    first.best, second.best = 1, 2
    assert fingerprint(first) != fingerprint(second)
    second.best = 1
    assert fingerprint(first) == fingerprint(second)
    assert fingerprint(AttrDict(a=1)) != fingerprint(AttrDict(a=2))


def test_user_code_inside_a_pickled_library_object_counts_by_code() -> None:
    """A library object holding a notebook function (a FunctionTransformer's ``func``) is
    hashed by its pickle, which would only name the function."""
    import types

    src = "def f(x):\n    return x * K\n"
    first, second = _module(src)["f"], _module(src.replace("* K", "+ K"))["f"]
    reached: dict = {}
    digest = fingerprint(types.SimpleNamespace(fn=first), reached)
    assert digest == fingerprint(types.SimpleNamespace(fn=_module(src)["f"]))
    assert digest != fingerprint(types.SimpleNamespace(fn=second))
    assert list(reached.values()) == [first]  # the globals it reads are the caller's to add


def test_functions_by_code() -> None:
    one = _module("def f(x):\n    return x + 1\n")["f"]
    same = _module("def f(x):\n    return x + 1  # a comment\n\n\n")["f"]
    other = _module("def f(x):\n    return x + 2\n")["f"]
    assert fingerprint_code(one) == fingerprint_code(same)  # comments/lines do not count
    assert fingerprint_code(one) != fingerprint_code(other)
    assert fingerprint(one) == fingerprint_code(one).__class__(fingerprint(same))


def test_defaults_closures_and_nested_code() -> None:
    src = """
    def make(k):
        def inner(x, scale=2):
            def deeper():
                return x * k
            return deeper() * scale
        return inner
    """
    a, b = _module(src)["make"](1), _module(src)["make"](1)
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint(_module(src)["make"](2))  # closure value
    changed = _module(src.replace("x * k", "x + k"))["make"](1)
    assert fingerprint(a) != fingerprint(changed)  # nested code object
    c = _module(src)["make"](1)
    c.__defaults__ = (3,)
    assert fingerprint(a) != fingerprint(c)


def test_attributes_of_functions_count_and_unhashable_ones_by_type() -> None:
    ns = _module("""
    import functools
    def scale(x):
        return x * scale.factor
    scale.factor = 2
    @functools.singledispatch
    def show(x):
        return "obj"
    """)
    before = fingerprint_code(ns["scale"])
    ns["scale"].factor = 3
    assert fingerprint_code(ns["scale"]) != before
    shown = fingerprint_code(ns["show"])  # its _clear_cache (a weak dict's method) by type
    ns["show"].register(int, lambda x: "int")
    assert fingerprint_code(ns["show"]) != shown


def test_referenced_user_functions_transitively() -> None:
    src = """
    LIMIT = 3
    def leaf(x):
        return x - 1
    def helper(x):
        return leaf(x) + 1
    def main(x):
        return helper(x) * LIMIT + len([x])
    """
    ns = _module(src)
    changed = _module(src.replace("x - 1", "x - 2"))
    assert fingerprint_code(ns["main"]) != fingerprint_code(changed["main"])
    assert sorted(referenced_user_code(ns["main"])) == ["fp_user_code:helper", "fp_user_code:leaf"]


def test_recursion_between_functions_terminates() -> None:
    src = """
    def even(n):
        return True if n == 0 else odd(n - 1)
    def odd(n):
        return False if n == 0 else even(n - 1)
    """
    ns = _module(src)
    assert fingerprint_code(ns["even"]) == fingerprint_code(_module(src)["even"])
    assert fingerprint_code(ns["even"]) != fingerprint_code(ns["odd"])
    assert set(referenced_user_code(ns["even"])) == {"fp_user_code:odd"}


def test_classes_by_code() -> None:
    src = """
    def helper(v):
        return v * 2
    class Point:
        def __init__(self, x=0):
            self.x = x
        def double(self):
            return helper(self.x)
        @property
        def neg(self):
            return -self.x
        @staticmethod
        def make():
            return Point(1)
    """
    ns = _module(src)
    assert fingerprint(ns["Point"]) == fingerprint(_module(src)["Point"])
    assert fingerprint(ns["Point"]) != fingerprint(
        _module(src.replace("-self.x", "self.x"))["Point"]
    )
    assert fingerprint(ns["Point"]) != fingerprint(_module(src.replace("v * 2", "v * 3"))["Point"])
    assert "fp_user_code:helper" in referenced_user_code(ns["Point"])


def test_library_code_is_hashed_by_name() -> None:
    assert not is_user_code(json.dumps)
    assert not is_user_code(np.mean)
    assert not is_user_code(fingerprint)  # persist_ext itself
    assert is_user_code(_module("def f():\n    pass\n")["f"])
    assert is_user_code(test_digest_shape)  # tests live outside site-packages
    assert fingerprint(json.dumps) == fingerprint(json.dumps)
    assert fingerprint(np.mean) != fingerprint(np.sum)
    assert fingerprint(len) != fingerprint(max)
    assert fingerprint(np) != fingerprint(json)
    assert fingerprint(functools.partial(max, 1)) != fingerprint(functools.partial(max, 2))


def test_a_module_made_at_run_time_is_user_code(monkeypatch: pytest.MonkeyPatch) -> None:
    # ``types.ModuleType('cfg')`` put in ``sys.modules`` holds the notebook's data; built-in
    # modules, namespace packages and libraries' lazy proxies (subclasses) do not.
    class LazyProxy(types.ModuleType):
        pass

    made, proxy = types.ModuleType("fp_made_cfg"), LazyProxy("fp_lazy_proxy")
    monkeypatch.setitem(sys.modules, "fp_made_cfg", made)
    monkeypatch.setitem(sys.modules, "fp_lazy_proxy", proxy)
    assert is_user_code(made)
    assert not is_user_code(proxy)
    assert not is_user_code(sys)
    assert not is_user_code(importlib.import_module("mpl_toolkits"))  # a namespace package


def test_enum_and_methods() -> None:
    class Color(enum.Enum):
        RED = 1
        BLUE = 2

    assert fingerprint(Color.RED) != fingerprint(Color.BLUE)

    @dataclasses.dataclass
    class Acc:
        n: int

        def add(self, k):
            return self.n + k

    assert fingerprint(Acc(1).add) == fingerprint(Acc(1).add)
    assert fingerprint(Acc(1).add) != fingerprint(Acc(2).add)


def test_fingerprint_code_rejects_values() -> None:
    with pytest.raises(TypeError, match="not int"):
        fingerprint_code(3)


_CHILD = """
import json, sys
import numpy as np
from persist_ext.storage._fingerprint import fingerprint
ns = {"__name__": "fp_user_code"}
exec("def f(x):\\n    return {'k': x}\\n", ns)
values = [{"b": 1, "a": [1.5, "x", None]}, {"x", "y", "z"}, np.arange(7.0), ns["f"],
          frozenset({("a", 1), ("b", 2)}), b"bytes"]
print(json.dumps([fingerprint(v) for v in values]))
"""


def _digests_in_child(seed: str) -> list[str]:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    out = subprocess.run(
        [sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_stable_across_processes_and_hash_seeds() -> None:
    first = _digests_in_child("1")
    assert first == _digests_in_child("12345")
    assert len(set(first)) == len(first)


@pytest.mark.parametrize(
    ("value", "digest"),
    [
        ([*range(-3, 300, 7), 2**70, -(2**70), 0], "6e6ac39ae3c95ba204f34c1e035ea557"),
        ((0.5, -0.0, float("nan"), float("inf"), 1e-300), "3cea9e81df012dc955ad900251786970"),
        (["", "a", "données", "\udc80", "x" * 50], "26460aaa80f56882c123a36366515db9"),
        (
            [1, "a", 2.0, [3, 4], {"k": 5}, None, True, 2**100, -1, (1.5, "z")],
            "bf81cca50a61cb5b1454818c87e33edd",
        ),
    ],
    ids=["ints", "floats", "strs", "mixed"],
)
def test_sequences_keep_the_digests_stores_were_keyed_by(value: object, digest: str) -> None:
    """Digests made before lists of numbers and strings were framed in one pass: a store's
    cached calls and cells, keyed by them, are still found."""
    assert fingerprint(value) == digest


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**200), max_value=2**200),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=50),
    st.text(max_size=5000, alphabet=st.characters(codec="utf-8")),
)


@given(
    st.recursive(_scalars, lambda inner: st.tuples(inner, inner) | st.tuples(inner), max_leaves=20)
)
def test_small_values_fast_path_gives_the_general_digest(value) -> None:
    # Small scalars and tuples of them skip the hasher object (the arguments of most cached
    # calls); the digest must be the one the general path gives, or keys would change.
    import xxhash

    from persist_ext.storage._fingerprint import _Hasher

    h = xxhash.xxh3_128()
    _Hasher().feed(h, value)
    assert fingerprint(value) == h.hexdigest()


def test_a_fitted_forest_has_the_fingerprint_of_its_restored_copy() -> None:
    # A fitted forest shares interned parameter names that its unpickled copy holds as
    # copies: the same model, but a cell reading it missed after every restore (seen in
    # handson-ml2 02: an 89 s cross-validation ran again on the warm run).
    import pickle

    from sklearn.ensemble import RandomForestRegressor

    rng = np.random.default_rng(0)
    features = rng.random((40, 3))
    forest = RandomForestRegressor(n_estimators=2, random_state=42)
    forest.fit(features, features.sum(axis=1))
    restored = pickle.loads(pickle.dumps(forest))
    assert pickle.dumps(restored) != pickle.dumps(forest)  # the premise: other pickles
    assert fingerprint(restored) == fingerprint(forest)
    forest.set_params(max_depth=3)
    assert fingerprint(restored) != fingerprint(forest)


def test_pickling_an_instance_leaves_its_class_digest_unchanged() -> None:
    """Pickling an instance adds copyreg's ``__slotnames__`` cache to its class; that is not
    code, so a cell storing an instance of a notebook class hits on its second run."""
    cls = _module("class Model:\n    def __init__(self, a):\n        self.a = a\n")["Model"]
    before = fingerprint(cls)
    cls(1).__reduce_ex__(4)  # what pickle.dumps does first
    assert "__slotnames__" in vars(cls)
    assert fingerprint(cls) == before


_FIGURE = """
import matplotlib
matplotlib.use("agg")
import matplotlib.pyplot as plt
from persist_ext.storage._fingerprint import fingerprint
padding = [object() for _ in range({pad})]  # other ids in each process
fig, ax = plt.subplots()
line, = ax.plot([1, 2, 3])
plt.close(fig)
first = [fingerprint(v) for v in (fig, ax, line)]
again = [fingerprint(v) for v in (fig, ax, line)]
cid = fig.canvas.mpl_connect("draw_event", print)
line.set_ydata([3, 2, 1])
changed = fingerprint(line) != first[2]
print(first == again, changed, cid, *first)
"""


def test_a_matplotlib_figure_has_one_fingerprint_in_every_process() -> None:
    # Transforms pickle their parents keyed by id(), and a callback registry's pickling
    # takes the next callback id: the same figure had another digest every time, and each
    # fingerprint moved the ids that mpl_connect returns.
    plain = subprocess.run(
        [
            sys.executable,
            "-c",
            'import matplotlib\nmatplotlib.use("agg")\n'
            "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\n"
            'print(fig.canvas.mpl_connect("draw_event", print))',
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    seen = []
    for pad in (0, 1000):
        out = subprocess.run(
            [sys.executable, "-c", _FIGURE.format(pad=pad)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert out[:2] == ["True", "True"]  # stable in-process; a change in the data is seen
        assert out[2] == plain[0]  # fingerprinting took no callback id
        seen.append(out[3:])
    assert seen[0] == seen[1]


def test_arrays_in_a_library_object_count_by_dtype_not_by_dtype_object() -> None:
    # An array loaded from a pickle has a dtype object of its own: a line of it and another
    # array pickled otherwise than the line the cell made (two dtypes, not one shared).
    import pickle

    import matplotlib

    matplotlib.use("agg")
    import numpy as np
    from matplotlib.lines import Line2D

    x = np.linspace(0, 1, 5)
    loaded = pickle.loads(pickle.dumps(x))
    assert fingerprint(Line2D(x, x.copy())) == fingerprint(Line2D(loaded, x.copy()))
    assert fingerprint(Line2D(x, x.copy())) != fingerprint(Line2D(x, x * 2))
    narrow = np.linspace(0, 1, 5, dtype=np.float32)
    assert fingerprint(Line2D(x, x.copy())) != fingerprint(Line2D(narrow, x.copy()))


def _matplotlib_objects_pickled(monkeypatch, *values) -> list[int]:
    """How many matplotlib objects each fingerprint of ``values`` pickled."""
    from persist_ext.storage import _fingerprint

    real = _fingerprint._matplotlib_content
    seen = collections.Counter()

    def counted(obj):
        seen["objects"] += 1
        return real(obj)

    monkeypatch.setattr(_fingerprint, "_matplotlib_content", counted)
    counts = []
    for value in values:
        seen["objects"] = 0
        fingerprint(value)
        counts.append(seen["objects"])
    return counts


def _subplots(rows: int, columns: int):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(rows, columns)
    return plt, fig, ax


def test_objects_shared_by_the_items_of_a_sequence_are_pickled_once(monkeypatch) -> None:
    # ``fig, ax = plt.subplots(4, 4)``: each of the 16 axes in ``ax`` (an object array)
    # reaches the whole figure. The items share one pickler, so the figure is written once
    # and referred to after; each item wrote it whole before (6 s for a cell reading ``ax``).
    plt, fig, ax = _subplots(4, 4)
    try:
        alone, items = _matplotlib_objects_pickled(monkeypatch, fig, ax)
        assert items <= 1.2 * alone, (items, alone)
    finally:
        plt.close(fig)


def test_a_library_object_held_twice_is_told_from_two_equal_copies() -> None:
    # As within one pickle: the second item refers to the first (mutating one changes both),
    # where a copy is written out again.
    import copy
    import types

    shared = types.SimpleNamespace(values=[1, 2, 3])
    assert fingerprint([shared, shared]) != fingerprint([shared, copy.deepcopy(shared)])
    assert fingerprint([shared, shared]) == fingerprint([shared, shared])
    other = types.SimpleNamespace(values=[1, 2, 3])
    assert fingerprint([shared, other]) == fingerprint([copy.deepcopy(shared), other])


def test_a_notebook_object_holding_the_axes_pickles_the_figure_once(monkeypatch) -> None:
    # Its attributes are hashed unordered (each on its own), but within one attribute the
    # list of axes shares a pickler as a list does anywhere.
    ns = _module("class Panels:\n    def __init__(self, axes):\n        self.axes = axes\n")
    plt, fig, ax = _subplots(3, 3)
    try:
        alone, held = _matplotlib_objects_pickled(monkeypatch, fig, ns["Panels"](list(ax.flat)))
        assert held <= 1.2 * alone, (held, alone)
    finally:
        plt.close(fig)


def test_attributes_sharing_an_object_fingerprint_alike_whatever_order_they_were_set() -> None:
    # Attributes are hashed unordered: no pickler is shared between them (which one wrote
    # the shared object and which referred to it would follow the order they were set in).
    import types

    ns = _module("class Pair:\n    pass\n")
    shared = types.SimpleNamespace(values=[1, 2, 3])
    first, second = ns["Pair"](), ns["Pair"]()
    first.a, first.b = shared, shared
    second.b, second.a = shared, shared
    assert list(vars(first)) != list(vars(second))
    assert fingerprint(first) == fingerprint(second)


class _Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y


def test_containers_met_again_are_hashed_as_references() -> None:
    # ``[[0]] * 3`` holds one row three times: appending to it shows in every row.
    assert fingerprint([[0]] * 3) != fingerprint([[0], [0], [0]])
    row = [0]
    assert fingerprint([row, row]) == fingerprint([[0]] * 2)
    assert fingerprint({"x": row, "y": row}) != fingerprint({"x": [0], "y": [0]})
    # Tuples: only ``is`` tells a shared one apart; a value sharing nothing is unchanged.
    pair = (1, 2)
    assert fingerprint([pair, pair]) == fingerprint([(1, 2), (1, 2)])
    # Items of a set hash each on its own, in no order: what one of them shares with
    # another is not seen (sets of instances walk in the order of their ids).
    first, second = _Point(1, 2), _Point(1, 2)
    first.tags = second.tags = []  # type: ignore[attr-defined]
    assert fingerprint({first, second}) == fingerprint({second, first})


def test_attributes_that_are_one_object_are_part_of_an_instances_fingerprint() -> None:
    shared, apart = _Point(1, 2), _Point(1, 2)
    shared.a = shared.b = []  # type: ignore[attr-defined]
    apart.a, apart.b = [], []  # type: ignore[attr-defined]
    assert fingerprint(shared) != fingerprint(apart)

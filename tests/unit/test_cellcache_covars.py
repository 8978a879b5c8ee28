"""Co-variables: variables sharing objects are grouped, stored in one entry, loaded shared."""

from __future__ import annotations

import dataclasses
import enum
import warnings

import numpy as np
import pandas as pd
import pytest

from persist_ext._errors import ByNameError, LiveLayoutError, SharedInputError
from persist_ext.features._covars import (
    Group,
    LossyStateError,
    dumps_shared,
    group_variables,
    load_groups,
    loads_shared,
    save_groups,
)
from persist_ext.storage._memory import MemoryStore
from persist_ext.storage._store import Store


def roundtrip(values: dict, store=None) -> dict:
    store = store or MemoryStore()
    saved = save_groups(store, "t/", values, group_variables(values))
    assert not saved.failures
    return load_groups(store, saved.keys)


def names(groups: list[Group]) -> list[tuple[str, ...]]:
    return [g.names for g in groups]


def test_groups_follow_shared_objects_not_equal_values() -> None:
    shared, inner = [], {"k": [1]}
    values = {"a": shared, "b": shared, "c": [], "x": [inner], "y": {"z": inner}, "n": 5}
    assert names(group_variables(values)) == [("a", "b"), ("c",), ("x", "y"), ("n",)]


def test_scalars_strings_modules_and_functions_never_link_variables() -> None:
    values = {"a": [1, "s", np, len], "b": [1, "s", np, len]}
    assert names(group_variables(values)) == [("a",), ("b",)]


def test_instances_link_through_their_attributes() -> None:
    class Box:
        def __init__(self, item):
            self.item = item

    item = [1]
    assert names(group_variables({"p": Box(item), "q": Box(item)})) == [("p", "q")]


def test_exhausted_budget_groups_everything_and_says_so() -> None:
    values = {"big": [[i] for i in range(1000)], "other": [1], "third": {}}
    groups = group_variables(values, budget=100)
    assert names(groups) == [("big", "other", "third")]
    assert not groups[0].complete


def test_an_object_reached_from_several_variables_is_walked_once() -> None:
    # The walk of a later variable stops where an earlier one's went (meeting it is enough
    # to group them): three names holding one graph of ~2,000 objects spend the budget once,
    # where each walked it whole before (``fig``, ``ax`` and ``axi`` of ``plt.subplots(4,
    # 4)``: ~350,000 objects each).
    graph = [[i] for i in range(1000)]
    values = {"graph": graph, "holder": {"g": graph}, "pair": (graph, [graph])}
    groups = group_variables(values, budget=2500)
    assert names(groups) == [("graph", "holder", "pair")]
    assert groups[0].complete


def test_aliases_come_back_as_one_object(tmp_path) -> None:
    shared = [1, 2]
    with Store(tmp_path / "s") as store:
        back = roundtrip({"a": shared, "b": shared, "c": [shared]}, store)
    assert back["a"] is back["b"] is back["c"][0]


def test_numpy_view_stays_a_view_of_its_base(tmp_path) -> None:
    base = np.arange(12.0)
    base.shape = (3, 4)  # in place: base still owns its memory
    view = base[1:, ::2]
    with Store(tmp_path / "s") as store:
        back = roundtrip({"base": base, "view": view}, store)
    assert back["view"].base is back["base"]
    assert back["base"].base is None  # owns its memory, like the original
    np.testing.assert_array_equal(back["view"], view)
    assert back["view"].strides == view.strides
    back["view"][0, 0] = -1
    assert back["base"][1, 0] == -1


def test_views_of_an_unnamed_array_share_it_as_before() -> None:
    flat = np.arange(12.0)
    values = {"grid": flat.reshape(3, 4), "row": flat[4:8]}
    assert values["grid"].base is values["row"].base
    back = roundtrip(values)
    assert back["grid"].base is back["row"].base is not None
    back["row"][0] = 99
    assert back["grid"][1, 0] == 99


def test_arrays_viewing_a_frame_are_stored_with_it_and_still_view_it(tmp_path) -> None:
    """``y = df['price'].values`` views the frame's column (copy on write copies neither):
    the two are one group, and after a restore setting the frame in place changes ``y``."""
    df = pd.DataFrame({"price": [50.0, 150.0], "n": [1, 2]})
    s = pd.Series([1.0, 2.0])
    values = {"df": df, "y": df["price"].values, "s": s, "sv": s.to_numpy(), "z": np.ones(2)}
    assert names(group_variables(values)) == [("df", "y"), ("s", "sv"), ("z",)]
    with Store(tmp_path / "s") as store:
        back = roundtrip(values, store)
    back["df"].loc[1, "price"] = 100.0
    back["s"].iloc[0] = 7.0
    assert back["y"].tolist() == [50.0, 100.0]
    assert back["sv"].tolist() == [7.0, 2.0]
    assert not back["y"].flags.writeable  # pandas hands out read-only views


def test_fortran_and_read_only_arrays_keep_their_layout_and_flags() -> None:
    base = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    frozen = np.arange(3)
    frozen.flags.writeable = False
    back = roundtrip({"base": base, "col": base[:, 1], "frozen": frozen, "alias": frozen})
    assert back["base"].flags.f_contiguous
    assert not back["base"].flags.c_contiguous
    assert back["col"].base is back["base"]
    assert not back["frozen"].flags.writeable
    assert back["alias"] is back["frozen"]


def test_live_variables_are_referenced_not_stored() -> None:
    grid, kept = np.arange(16.0).reshape(4, 4), [1]
    values = {"grid": grid, "upper": grid[:2], "alias": kept, "kept": kept}
    groups = group_variables(values, live=["grid", "kept"])
    assert [g.live for g in groups] == [("grid",), ("kept",)]
    store = MemoryStore()
    saved = save_groups(store, "t/", values, groups)
    assert sorted(saved.keys) == ["alias", "upper"]  # the live ones are not stored
    live_grid, live_kept = np.arange(16.0).reshape(4, 4), [1]  # a fresh kernel's objects
    back = load_groups(store, saved.keys, live={"grid": live_grid, "kept": live_kept})
    assert back["alias"] is live_kept
    assert back["upper"].base is live_grid.base
    assert np.shares_memory(back["upper"], live_grid)
    with pytest.raises(Exception, match="'grid', which is not defined"):
        load_groups(store, saved.keys, live={"kept": live_kept})
    # Equal data laid out otherwise: not corrupt, the entry cannot be made on it.
    with pytest.raises(LiveLayoutError, match="memory layout"):
        load_groups(store, saved.keys, live={"grid": np.ones((4, 4)), "kept": live_kept})


def test_object_inside_a_live_variable_is_refused() -> None:
    d = {"k": [1]}
    values = {"d": d, "inner": d["k"]}
    saved = save_groups(MemoryStore(), "t/", values, group_variables(values, live=["d"]))
    assert isinstance(saved.failures["inner"], SharedInputError)


def test_modules_are_kept_by_reference() -> None:
    back = roundtrip({"m": np, "mods": [np, pd]})
    assert back["m"] is np
    assert back["mods"][1] is pd


def test_matplotlib_axes_keep_their_figure() -> None:
    plt = pytest.importorskip("matplotlib.pyplot")
    fig, ax = plt.subplots()
    ax.plot([1, 2])
    try:
        groups = group_variables({"fig": fig, "ax": ax})
        assert names(groups) == [("ax", "fig")]
        back = roundtrip({"fig": fig, "ax": ax})
        assert back["ax"].figure is back["fig"]
    finally:
        plt.close("all")


@pytest.mark.parametrize(
    "value",
    [
        pd.DataFrame({"v": [1, 2]}, index=pd.period_range("2020-01", periods=2, freq="M")),
        pd.DataFrame({"lists": [[1, 2], [3]], "dicts": [{"a": 1}, {}]}),
        pd.Series([1.0, 2.0], index=pd.date_range("2021-01-01", periods=2, freq="D")),
        np.ma.masked_array(np.array([1, "a", None], dtype=object), mask=[0, 1, 0]),
        pd.period_range("2020Q1", periods=3, freq="Q"),
    ],
    ids=["period-index", "object-columns", "datetime-freq", "object-masked", "period-range"],
)
def test_pandas_and_masked_values_round_trip_exactly(value, tmp_path) -> None:
    with Store(tmp_path / "s") as store:
        back = roundtrip({"v": value}, store)["v"]
    assert type(back) is type(value)
    if isinstance(value, np.ma.MaskedArray):
        assert back.mask.tolist() == value.mask.tolist()
        assert back.data.tolist() == value.data.tolist()
        assert back.fill_value == value.fill_value
    elif isinstance(value, pd.Index):
        assert back.equals(value)
        assert back.freq == value.freq
    else:
        assert back.equals(value)
        assert back.index.equals(value.index)
        assert type(back.index) is type(value.index)
        assert getattr(back.index, "freq", None) == getattr(value.index, "freq", None)
        assert list(np.atleast_1d(back.dtypes)) == list(np.atleast_1d(value.dtypes))
    if isinstance(value, pd.DataFrame) and "lists" in value:
        assert back["lists"][0] == [1, 2]
        assert isinstance(back["lists"][0], list)


def test_lone_owning_array_keeps_the_raw_format(tmp_path) -> None:
    with Store(tmp_path / "s") as store:
        saved = save_groups(store, "t/", {"a": np.zeros(4)}, [Group(("a",))])
        assert store.info(saved.keys["a"]).serializer == "numpy"


@pytest.mark.parametrize("order", ["C", "F"])
def test_small_owning_array_owns_its_memory_again(tmp_path, order: str) -> None:
    # handson-ml2 tools_numpy: ``m2r = m2.reshape(1, 5)`` then ``m2r.base is m2``.
    value = np.arange(6).reshape(2, 3).copy(order=order)
    structured = np.zeros(3, dtype=[("name", "U4"), ("age", "i4")])
    with Store(tmp_path / "s") as store:
        saved = save_groups(
            store, "t/", {"a": value, "s": structured}, [Group(("a",)), Group(("s",))]
        )
        loaded = load_groups(store, saved.keys)
        back = loaded["a"]
    assert back.base is None
    assert loaded["s"].base is None
    assert back.flags.f_contiguous == value.flags.f_contiguous
    np.testing.assert_array_equal(back, value)
    assert back[:1].base is back


def test_unpicklable_group_is_reported_and_others_stored() -> None:
    store = MemoryStore()
    values = {"ok": [1], "bad": (lambda: 1)}
    saved = save_groups(store, "t/", values, group_variables(values))
    assert set(saved.failures) == {"bad"}
    assert load_groups(store, {"ok": saved.keys["ok"]}) == {"ok": [1]}


class DropsItsCache:
    """Its ``__getstate__`` leaves the cache out; loaded, it has no ``_cache`` at all."""

    def __init__(self) -> None:
        self.w, self._cache = 0, {}

    def __getstate__(self) -> dict:
        return {"w": self.w}


class ResetsItsCache(DropsItsCache):
    """Its own ``__setstate__`` puts an empty cache back."""

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _cache={})


class KeepsEverything:
    def __init__(self) -> None:
        self.w, self._cache = 0, {"k": 1}

    def __getstate__(self) -> dict:
        return dict(self.__dict__)


MADE: list[int] = []


class Counted:
    """A constructor that does more than build the instance (a registry of those made)."""

    def __init__(self, x: int) -> None:
        self.x = x
        MADE.append(x)

    def __reduce__(self) -> tuple:
        return (Counted, (self.x,))


@dataclasses.dataclass(frozen=True, slots=True)
class Frozen:
    a: int
    b: list


class Shade(enum.Enum):
    DARK = 1
    LIGHT = 2


def test_members_of_a_notebook_enum_are_stored_as_the_live_members() -> None:
    back = roundtrip({"shades": [Shade.DARK, Shade.LIGHT]})["shades"]
    assert back[0] is Shade.DARK
    assert back[1] is Shade.LIGHT


def test_instances_whose_own_pickling_loses_state_are_refused() -> None:
    filled, kept = DropsItsCache(), KeepsEverything()
    filled._cache["k"] = 1
    values = {"filled": filled, "empty": [DropsItsCache()], "kept": kept}
    saved = save_groups(MemoryStore(), "t/", values, group_variables(values))
    assert set(saved.failures) == {"filled", "empty"}
    assert all(isinstance(exc, LossyStateError) for exc in saved.failures.values())
    assert "would not load as it is" in str(saved.failures["filled"])
    back = roundtrip({"kept": kept, "f": Frozen(1, [2])})
    assert back["kept"]._cache == {"k": 1}
    assert back["f"] == Frozen(1, [2])


def test_the_check_never_runs_the_notebooks_own_loading_code() -> None:
    # Rebuilding a Counted would append to MADE, and a ResetsItsCache's __setstate__ could do
    # anything: storing a run must not change what the run left, so neither is rebuilt, and
    # neither is stored (the cell runs again; an instance that would load as it was is
    # refused too, since that cannot be known without running its code).
    made = [Counted(1), Counted(2)]
    assert MADE == [1, 2]
    values = {"made": made, "reset": ResetsItsCache()}
    saved = save_groups(MemoryStore(), "t/", values, group_variables(values))
    assert MADE == [1, 2]
    assert set(saved.failures) == {"made", "reset"}
    assert "Counted" in str(saved.failures["made"])
    assert "ResetsItsCache.__setstate__" in str(saved.failures["reset"])


def test_datetime_arrays_that_own_their_memory_round_trip() -> None:
    days = np.array(["2020-01-01", "NaT"], dtype=">M8[D]")
    grid = np.asfortranarray(np.arange(4, dtype="m8[s]").reshape(2, 2))
    back = roundtrip({"held": [days, grid]})["held"]
    assert back[0].dtype == days.dtype
    assert back[0].tolist() == days.tolist()
    assert back[1].flags.f_contiguous
    assert (back[1] == grid).all()


def test_a_notebook_class_made_by_a_call_is_not_stored_by_its_own_name() -> None:
    # ``Point = namedtuple('Point', ...)`` in a notebook: module ``__main__``, qualified name
    # the variable's. Pickled by name, a restore would find an older ``Point`` there.
    import collections
    import sys
    import types

    main = types.ModuleType("__main__")
    point = collections.namedtuple("Point", ["x", "y"], module="__main__")
    main.Point = point
    saved_main = sys.modules["__main__"]
    sys.modules["__main__"] = main
    try:
        values = {"Point": point, "origin": [point(0, 0)], "n": 1, "alias": point}
        saved = save_groups(MemoryStore(), "t/", values, group_variables(values))
        # Bound to another name only (``alias``), the reference is to ``Point``, bound too.
        assert sorted(saved.failures) == ["Point", "alias", "origin"]
        assert all(isinstance(e, ByNameError) for e in saved.failures.values())
        # Not bound by the values stored (an input made by an earlier cell): stored by name.
        kept = {"origin": [point(0, 0)]}
        assert roundtrip(kept)["origin"] == [(0, 0)]
    finally:
        sys.modules["__main__"] = saved_main


def test_dumps_shared_round_trip_without_a_store() -> None:
    base = np.arange(4)
    data, buffers = dumps_shared([base, base[1:]])
    a, b = loads_shared(data, [bytearray(bytes(buf.raw())) for buf in buffers])
    assert b.base is a


def test_plain_numeric_frames_use_arrow_and_come_back_equal(tmp_path) -> None:
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame(
        {"a": np.arange(5), "b": np.linspace(0, 1, 5), "t": pd.date_range("2020", periods=5)}
    )
    series = pd.Series([1.5, 2.5], index=pd.Index([10, 20], name="k"), name="s")
    with Store(tmp_path / "s") as store:
        for value in (frame, series):
            saved = save_groups(store, "t/", {"v": value}, [Group(("v",))])
            assert store.info(saved.keys["v"]).serializer == "arrow"
            back = load_groups(store, saved.keys)["v"]
            assert back.equals(value)
            assert type(back.index) is type(value.index)
            assert list(np.atleast_1d(back.dtypes)) == list(np.atleast_1d(value.dtypes))
        daily = pd.DataFrame({"a": [1, 2]}, index=pd.date_range("2020", periods=2, freq="D"))
        saved = save_groups(store, "t/", {"v": daily}, [Group(("v",))])
        assert store.info(saved.keys["v"]).serializer == "pickle"


def test_broadcast_views_store_without_a_warning_and_warn_on_write_again() -> None:
    # handson-ml2 math_differential_calculus: a 3D axes holds np.broadcast_arrays results;
    # reading their writeable flag warned into the user's cell while the cell was stored.
    row, column = np.broadcast_arrays(np.arange(3.0), np.arange(2.0)[:, None])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = roundtrip({"row": row, "column": column, "ro": np.arange(3.0)[1:]})
    for name, value in (("row", row), ("column", column)):
        assert got[name].shape == value.shape
        assert got[name].strides == value.strides
        assert np.array_equal(got[name], value)
        assert "WARN_ON_WRITE=True" in str(got[name].flags)
    assert "WARN_ON_WRITE=True" not in str(got["ro"].flags)
    with pytest.warns(DeprecationWarning, match="broadcast_arrays"):
        got["row"][0, 0] = 5.0
    assert got["row"][1, 0] == 5.0  # one row of memory, as before


def test_exhausted_budget_keeps_inputs_live(tmp_path) -> None:
    # An input read by a cell stays the live object even when the cell's values were too
    # many to walk; a value holding something inside the input is still refused.
    x = [1.0]
    values = {"big": [[i] for i in range(1000)], "x": x}
    groups = group_variables(values, budget=100, live=["x"])
    assert groups[0].live == ("x",)
    assert not groups[0].complete
    with Store(tmp_path / "s") as store:
        saved = save_groups(store, "t/", values, groups)
        back = load_groups(store, saved.keys, live={"x": x})
    assert "x" not in saved.keys
    assert back["big"] == values["big"]
    inner = {"k": [1]}
    held = {"big": [[i] for i in range(1000)], "d": inner, "k": inner["k"]}
    with pytest.raises(SharedInputError):
        dumps_shared({"big": held["big"], "k": held["k"]}, live={"d": inner})


def test_global_generators_come_back_as_the_global_ones(tmp_path) -> None:
    import random

    held = {"rng": np.random.mtrand._rand, "draw": random.random}
    with Store(tmp_path / "s") as store:
        back = roundtrip({"held": held}, store)
    assert back["held"]["rng"] is np.random.mtrand._rand
    assert back["held"]["draw"].__self__ is random._inst  # type: ignore[attr-defined]


def test_nan_objects_keep_their_identity(tmp_path) -> None:
    # NaN is not equal to itself: ``in``, dict keys and sets find it by identity, which
    # pickle does not keep for floats. One NaN held twice is one object again, np.nan and
    # math.nan are the modules' own, and a live input's NaN is the live object.
    import math

    n, live = float("nan"), float("nan")
    values = {"n": n, "lst": [n, n, np.nan, math.nan], "d": {n: 1}, "other": [1.5]}
    groups = group_variables(values)
    assert names(groups) == [("d", "lst", "n"), ("other",)]
    assert groups[0].nans
    assert not groups[1].nans
    with Store(tmp_path / "s") as store:
        back = roundtrip(values, store)
    assert back["lst"][0] is back["lst"][1] is back["n"]
    assert back["lst"][2] is np.nan
    assert back["lst"][3] is math.nan
    assert back["d"][back["n"]] == 1
    kept = {"live": live, "held": [live]}
    groups = group_variables(kept, live=["live"])
    store = MemoryStore()
    saved = save_groups(store, "t/", kept, groups)
    assert load_groups(store, saved.keys, live={"live": live})["held"][0] is live
    with pytest.raises(SharedInputError):  # a NaN inside a live input cannot be referred to
        dumps_shared({"first": [kept["held"][0]]}, live={"held": kept["held"]})


def test_a_nans_sign_is_restored(tmp_path) -> None:
    # ``math.copysign(1, x)`` and ``np.signbit`` show it (``inf * 0`` is a negative NaN on
    # x86); a NaN loaded as ``float("nan")`` was positive.
    import math

    negative, positive = -math.nan, float("nan")
    values = {"n": negative, "lst": [negative, positive, negative]}
    with Store(tmp_path / "s") as store:
        back = roundtrip(values, store)
    assert [math.copysign(1, v) for v in back["lst"]] == [-1.0, 1.0, -1.0]
    assert back["lst"][0] is back["lst"][2] is back["n"]


def test_object_labels_are_not_stored_as_arrow_strings(tmp_path) -> None:
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"a": [1, 2]})
    frame.columns = pd.Index(["a"], dtype=object)
    with Store(tmp_path / "s") as store:
        back = roundtrip({"v": frame}, store)["v"]
    assert back.columns.dtype == frame.columns.dtype


def test_an_index_over_a_read_only_array_stays_read_only() -> None:
    # A Series whose index holds a view of another Index's values (read-only): the store's
    # Arrow format would give it back writeable.
    base = pd.Series([1.0, 2.0, 3.0], index=[10.0, 20.0, 30.0])
    s = pd.Series([2.0, 2.0, 3.0], index=base.index.values)
    assert not np.asarray(s.index).flags.writeable
    back = roundtrip({"s": s})["s"]
    assert not np.asarray(back.index).flags.writeable
    pd.testing.assert_series_equal(back, s)


def test_the_interpreters_containers_are_stored_by_name() -> None:
    """``paths = sys.path`` loads as ``sys.path`` itself (one object for every name bound
    to it), not a copy; ``sys.modules``, which holds modules, can be stored at all."""
    import sys
    import warnings

    from persist_ext.features._covars import dumps_shared, loads_shared

    values = {"paths": sys.path, "also": sys.path, "mods": sys.modules, "n": [1]}
    values["filters"] = warnings.filters
    data, buffers = dumps_shared(values)
    back = loads_shared(data, buffers)
    assert back["paths"] is sys.path
    assert back["also"] is sys.path
    assert back["mods"] is sys.modules
    assert back["filters"] is warnings.filters
    assert back["n"] == [1]
    assert back["n"] is not values["n"]


def _sieve(n: int) -> set[int]:
    primes = set(range(2, n))
    for i in range(2, n):
        for j in range(2 * i, n, i):
            primes.discard(j)
    return primes


def test_a_set_of_numbers_loads_iterating_in_its_order() -> None:
    # Left with 15 items in a 128-slot table: pickle's new set, sized for 15, walks
    # 2, 3, 5, 37, 7, 41...; the stored one is rebuilt in a table of the original size.
    primes = _sieve(50)
    frozen = frozenset(primes)
    values = {"primes": primes, "both": [primes, frozen]}
    (group,) = group_variables(values)
    assert group.sets
    loaded = roundtrip(values)
    assert list(loaded["primes"]) == list(primes)
    assert list(loaded["both"][1]) == list(frozen)
    assert loaded["both"][0] is loaded["primes"]


def test_a_set_no_rebuild_orders_as_it_was_is_not_stored() -> None:
    import random

    r = random.Random(0)
    pairs = {(r.randrange(100), r.randrange(100)) for _ in range(300)}
    for p in [(r.randrange(100), r.randrange(100)) for _ in range(600)]:
        pairs.discard(p)
    saved = save_groups(MemoryStore(), "t/", {"pairs": pairs}, group_variables({"pairs": pairs}))
    assert isinstance(saved.failures["pairs"], LossyStateError)
    assert "iterate in another order" in str(saved.failures["pairs"])

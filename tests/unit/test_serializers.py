"""The serializer registry: type dispatch, defaults, custom serializers, summaries."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from persist_ext._errors import SerializationError
from persist_ext.storage._serializers import (
    Serializer,
    dump_value,
    register_serializer,
    serializer_for,
    serializer_named,
    summarize,
    unregister_type,
)
from persist_ext.storage._store import Store


def round_trip(value: Any, serializer: str | None = None) -> tuple[str, Any]:
    chosen, buffers = dump_value(value, serializer)
    payload = b"".join(bytes(memoryview(b).cast("B")) for b in buffers)
    return chosen.name, chosen.load(memoryview(payload))


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y


class Point3(Point):
    pass


class PointSerializer(Serializer):
    name = "test-point"

    def dump(self, value: Point) -> Sequence[bytes]:
        return [f"{type(value).__name__},{value.x},{value.y}".encode()]

    def load(self, data: memoryview) -> Point:
        kind, x, y = bytes(data).decode().split(",")
        return (Point3 if kind == "Point3" else Point)(int(x), int(y))


@pytest.fixture
def point_serializer() -> PointSerializer:
    ser = register_serializer(PointSerializer(), Point, replace=True)
    yield ser
    unregister_type(Point)


def test_defaults() -> None:
    assert serializer_for(np.zeros(3)).name == "numpy"
    assert serializer_for(np.memmap).name == "pickle"  # a class object, not an array
    assert serializer_for(pd.DataFrame({"a": [1]})).name == "arrow"
    assert serializer_for(pd.Series([1.0])).name == "arrow"
    assert serializer_for([1]).name == "pickle"
    assert serializer_named("json").name == "json"


def test_numpy_declines_what_raw_bytes_cannot_hold() -> None:
    assert serializer_for(np.array([None, 1])).name == "pickle"
    assert serializer_for(np.zeros(2, dtype=[("a", "i4"), ("b", "f8")])).name == "pickle"
    assert serializer_for(np.ma.masked_array([1, 2], mask=[0, 1])).name == "pickle"
    masked = np.ma.masked_array([1, 2], mask=[0, 1])
    name, out = round_trip(masked)
    assert name == "pickle"
    assert isinstance(out, np.ma.MaskedArray)
    assert out.mask.tolist() == [False, True]


def test_most_specific_type_in_mro_wins(point_serializer: PointSerializer) -> None:
    assert serializer_for(Point(1, 2)) is point_serializer
    assert serializer_for(Point3(1, 2)) is point_serializer

    class Special(PointSerializer):
        name = "test-point3"

    special = register_serializer(Special(), Point3, replace=True)
    try:
        assert serializer_for(Point3(1, 2)) is special
        assert serializer_for(Point(1, 2)) is point_serializer
    finally:
        unregister_type(Point3)


def test_custom_serializer_used_by_store(tmp_path: Path, point_serializer: PointSerializer) -> None:
    with Store(tmp_path) as store:
        assert store.set("p", Point(3, 4)).serializer == "test-point"
        out = store.get("p")
        assert (type(out), out.x, out.y) == (Point, 3, 4)


def test_register_rejects_clashes_and_non_serializers(point_serializer: PointSerializer) -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_serializer(PointSerializer())

    class Other(PointSerializer):
        name = "test-point-other"

    with pytest.raises(ValueError, match="already uses serializer 'test-point'"):
        register_serializer(Other(), Point)
    with pytest.raises(TypeError, match="Serializer instance with a name"):
        register_serializer(object())  # type: ignore[arg-type]

    class Nameless(Serializer):
        pass

    with pytest.raises(TypeError, match="with a name"):
        register_serializer(Nameless())


def test_unknown_serializer_name_lists_known() -> None:
    with pytest.raises(KeyError, match=r"known: .*json.*numpy.*pickle"):
        serializer_named("nope")


def test_a_failing_type_serializer_falls_back_to_pickle() -> None:
    frame = pd.DataFrame({"mixed": [1, "a", 2.5]}, dtype=object)
    name, out = round_trip(frame)
    assert name == "pickle"
    pd.testing.assert_frame_equal(out, frame)


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"a": [1, 2, 3], "b": [0.5, None, 2.0], "c": ["x", "y", "z"]}),
        pd.DataFrame({"t": pd.date_range("2024-01-01", periods=3, tz="UTC")}, index=[5, 6, 7]),
        pd.DataFrame({"cat": pd.Categorical(["a", "b", "a"])}).set_index(pd.Index([1, 2, 3])),
        pd.DataFrame({"x": range(4)}, index=pd.Index(list("abcd"), name="letter")),
    ],
    ids=["mixed-columns", "tz-index", "categorical", "named-index"],
)
def test_frames_via_arrow_round_trip(frame: pd.DataFrame) -> None:
    name, out = round_trip(frame)
    assert name == "arrow"
    pd.testing.assert_frame_equal(out, frame)


@pytest.mark.parametrize(
    "index",
    [pd.date_range("2012-01-01", periods=3), pd.Index([3, 1, 2]), pd.Index([0.5, 1.5, 2.5])],
    ids=["datetime", "int", "float"],
)
def test_arrow_restores_an_index_that_owns_writable_memory(index: pd.Index) -> None:
    """A run leaves the index's array writable; Arrow's own views are read-only."""
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]}, index=index)
    assert np.asarray(frame.index).flags.writeable
    for value in (frame, frame["x"]):
        name, out = round_trip(value)
        assert name == "arrow"
        assert np.asarray(out.index).flags.writeable
        assert out.index.equals(value.index)


def test_series_via_arrow_keeps_name_and_index() -> None:
    series = pd.Series([1.0, 2.0], index=["a", "b"], name="s")
    name, out = round_trip(series)
    assert name == "arrow"
    pd.testing.assert_series_equal(out, series)
    unnamed = pd.Series([1, 2])
    pd.testing.assert_series_equal(round_trip(unnamed)[1], unnamed)


def test_frames_arrow_cannot_hold_are_pickled() -> None:
    numeric_cols = pd.DataFrame({0: [1], 1: [2]})
    dup = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with_attrs = pd.DataFrame({"a": [1]})
    with_attrs.attrs["unit"] = "m"
    for frame in (numeric_cols, dup, with_attrs):
        name, out = round_trip(frame)
        assert name == "pickle"
        pd.testing.assert_frame_equal(out, frame)
    assert round_trip(with_attrs)[1].attrs == {"unit": "m"}


def test_pickle_keeps_big_buffers_out_of_band() -> None:
    value = {"a": np.arange(1000.0), "b": bytearray(b"xyz")}
    chosen, buffers = dump_value(value)
    assert chosen.name == "pickle"
    assert any(memoryview(b).nbytes == 8000 for b in buffers)
    _name, out = round_trip(value)
    np.testing.assert_array_equal(out["a"], value["a"])
    assert out["a"].flags.writeable


@pytest.mark.parametrize(
    ("bad", "type_name"),
    [
        ((lambda: 1), "function"),
        (threading.RLock(), "_thread.RLock"),
        ((i for i in range(2)), "generator"),
    ],
)
def test_unpicklable_message(bad: Any, type_name: str | None) -> None:
    with pytest.raises(SerializationError, match="Cannot pickle a value of type") as err:
        dump_value(bad)
    if type_name:
        assert err.value.type_name == type_name
    assert "register_serializer" in str(err.value)
    assert err.value.__cause__ is not None


def test_json_only_when_asked() -> None:
    assert round_trip({"a": (1, 2)}, "json") == ("json", {"a": [1, 2]})
    with pytest.raises(SerializationError, match="JSON"):
        dump_value(float("nan"), "json")


def test_explicit_serializer_failure_is_clear() -> None:
    with pytest.raises(SerializationError, match="'numpy' cannot store a value of type list"):
        dump_value([1], "numpy")


def test_summaries() -> None:
    assert summarize(np.zeros((2, 3)))["shape"] == [2, 3]
    frame = summarize(pd.DataFrame({"a": [1], "b": [2]}))
    assert frame["shape"] == [1, 2]
    assert frame["columns"] == ["a", "b"]
    assert frame["repr"].startswith("DataFrame 1x2")
    assert summarize("x" * 1000)["len"] == 1000
    assert len(summarize("x" * 1000)["repr"]) <= 120
    assert summarize(pd.Series([1, 2]))["dtype"] == "int64"

    class BadRepr:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert "BadRepr" in summarize(BadRepr())["repr"]  # described, never raised


def test_summaries_never_run_the_code_of_a_users_class() -> None:
    # A teaching notebook's class that prints in ``__repr__`` (python-science's
    # w4-python-classes): storing its instances showed "in __repr__" once more per variable.
    calls: list[str] = []

    class Vector:
        def __init__(self, x: int) -> None:
            self.x = x

        def __repr__(self) -> str:
            calls.append("repr")
            return f"Vector({self.x})"

        @property
        def shape(self) -> tuple[int, ...]:
            calls.append("shape")
            return (1,)

    assert summarize(Vector(1)) == {
        "type": Vector.__module__ + "." + Vector.__qualname__,
        "repr": "<Vector object>",
    }
    held = summarize({"a": [Vector(1), 2], "b": (Vector(2),)})
    assert held["repr"] == "{'a': [<Vector object>, 2], 'b': (<Vector object>,)}"
    assert calls == []
    assert summarize([1, "x"])["repr"] == "[1, 'x']"  # builtins and libraries as before


def test_array_and_series_summaries_show_both_ends_in_one_line() -> None:
    # Their own repr formats every element shown and is cut at 120 characters: a summary
    # of 100 floats ended before the last ones and formatted all of them to get there.
    text = summarize(np.arange(100.0))["repr"]
    assert text.startswith("array([")
    assert "97., 98., 99.]" in text
    assert text.endswith("dtype=float64)")
    grid = summarize(np.arange(24).reshape(2, 3, 4))["repr"]
    assert "\n" not in grid
    assert summarize(np.ma.masked_array(np.arange(50)))["repr"].startswith("MaskedArray([")
    series = summarize(pd.Series(np.arange(100.0), name="a"))["repr"]
    assert series.startswith("Series of 100 float64: [0.0, 1.0")
    assert summarize(np.arange(3))["repr"] == "array([0, 1, 2])"  # small: its own repr


def test_default_load_file_reads_and_maps(tmp_path: Path) -> None:
    ser = serializer_named("pickle")
    _, buffers = dump_value({"x": np.arange(100.0)})
    path = tmp_path / "p.bin"
    path.write_bytes(b"".join(bytes(memoryview(b).cast("B")) for b in buffers))
    size = path.stat().st_size
    np.testing.assert_array_equal(ser.load_file(path, size)["x"], np.arange(100.0))
    mapped = ser.load_file(path, size, mmap=True)["x"]
    np.testing.assert_array_equal(mapped, np.arange(100.0))
    assert not mapped.flags.writeable


def test_frame_summary_carries_a_json_head_for_browsers() -> None:
    import json

    import pandas as pd

    from persist_ext.storage._serializers import summarize

    frame = pd.DataFrame({"a": range(10), "t": pd.date_range("2020-01-01", periods=10)})
    head = summarize(frame)["head"]
    assert head["columns"] == ["a", "t"]
    assert head["index"] == [0, 1, 2, 3, 4]
    assert head["data"][0] == [0, "2020-01-01T00:00:00.000"]
    json.dumps(head)  # JSON-safe


def _arrow_payload(value: Any) -> bytes:
    chosen, buffers = dump_value(value)
    assert chosen.name == "arrow"
    return b"".join(bytes(memoryview(b).cast("B")) for b in buffers)


def test_arrow_dump_hands_over_the_columns_own_memory() -> None:
    import pyarrow as pa

    frame = pd.DataFrame({"x": np.arange(100_000, dtype=np.float64)})
    _, buffers = dump_value(frame)
    column = frame["x"].to_numpy()
    addresses = {b.address for b in buffers if isinstance(b, pa.Buffer)}
    assert column.ctypes.data in addresses  # written straight from the frame, not a copy


def test_arrow_payload_is_aligned_for_mapping() -> None:
    payload = _arrow_payload(pd.DataFrame({"a": [1, 2, 3]}))
    (n,) = np.frombuffer(payload[:4], dtype="<u4")
    assert (4 + int(n)) % 64 == 0
    assert payload[4 + int(n) : 4 + int(n) + 6] == b"ARROW1"


def test_arrow_load_file_maps_the_blob(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"a": np.arange(1000), "b": np.arange(1000) * 0.5, "s": [str(i % 7) for i in range(1000)]},
        index=pd.RangeIndex(10, 1010, name="row"),
    )
    path = tmp_path / "frame.bin"
    path.write_bytes(_arrow_payload(frame))
    ser = serializer_named("arrow")
    out = ser.load_file(path, path.stat().st_size)
    pd.testing.assert_frame_equal(out, frame)
    out.loc[10, "a"] = -1  # the default result is an ordinary, writable frame
    assert out.loc[10, "a"] == -1
    mapped = ser.load_file(path, path.stat().st_size, mmap=True)
    pd.testing.assert_frame_equal(mapped, frame)
    with pytest.raises(ValueError, match="read-only"):
        mapped.loc[10, "a"] = -1  # zero-copy views of the mapped file, like np.memmap
    with pytest.raises(ValueError, match="expected"):
        ser.load_file(path, path.stat().st_size + 1)


def test_arrow_entries_written_before_alignment_still_load(tmp_path: Path) -> None:
    import pyarrow as pa

    frame = pd.DataFrame({"a": [1.5, 2.5]})
    sink = pa.BufferOutputStream()
    table = pa.Table.from_pandas(frame, preserve_index=True)
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    head = b'{"kind": "frame"}'
    old = len(head).to_bytes(4, "little") + head + sink.getvalue().to_pybytes()
    path = tmp_path / "old.bin"
    path.write_bytes(old)
    ser = serializer_named("arrow")
    pd.testing.assert_frame_equal(ser.load(memoryview(old)), frame)
    pd.testing.assert_frame_equal(ser.load_file(path, len(old)), frame)


def test_arrow_keeps_a_range_index_as_metadata() -> None:
    frame = pd.DataFrame({"a": np.arange(1000, dtype=np.float64)}, index=pd.RangeIndex(5, 2005, 2))
    payload = _arrow_payload(frame)
    assert len(payload) < 1000 * 8 + 4096  # no int64 column for the index
    _, out = round_trip(frame)
    assert isinstance(out.index, pd.RangeIndex)
    pd.testing.assert_frame_equal(out, frame, check_index_type=True)


def test_long_long_arrays_keep_their_type(tmp_path: Path) -> None:
    # '<i8' is what numpy calls both; loaded back it is ``long`` ('l') on Linux.
    for kind in (np.longlong, np.ulonglong):
        array = np.array([1, 2], dtype=kind)
        name, back = round_trip(array)
        assert name == "numpy"
        assert back.dtype.char == array.dtype.char
        assert type(back[0]) is kind
    store = Store(tmp_path / "s")
    store.set("big", np.arange(100_000, dtype=np.longlong))
    assert store.get("big").dtype.char == "q"
    assert store.get("big", mmap=True).dtype.char == "q"
    store.close()

"""Store: the diskcache-backed KeyValueStore (round trips, blobs, errors, concurrency)."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import diskcache
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from persist_ext._errors import (
    CorruptEntryError,
    SerializationError,
    StoreClosedError,
    StoreError,
    UntrustedEntryError,
)
from persist_ext.storage._disk import BLOB_DIR, drain_removals, translate_errors
from persist_ext.storage._protocol import MISSING, EntryInfo, KeyValueStore
from persist_ext.storage._store import Store
from persist_ext.storage._store_scan import prefix_end

SMALL = 4096  # a low threshold so tests exercise blob files with small arrays


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store(tmp_path / "s", large_threshold=SMALL) as s:
        yield s


def blob_files(store: Store) -> list[str]:
    drain_removals()  # replaced large blobs are deleted in the background
    blobs = store.directory / BLOB_DIR
    return sorted(p.name for p in blobs.glob("*.bin")) if blobs.is_dir() else []


def test_is_a_key_value_store(store: Store) -> None:
    assert isinstance(store, KeyValueStore)


def test_configured_never_to_evict(store: Store) -> None:
    cache = store._cache
    assert cache.eviction_policy == "none"
    assert cache.size_limit >= 1 << 60


def test_default_directory_follows_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSIST_EXT_DIR", str(tmp_path / "env"))
    with Store() as s:
        assert s.directory == tmp_path / "env"
        assert (tmp_path / "env" / "cache.db").is_file()


@pytest.mark.parametrize(
    "value",
    [None, 0, -(2**80), 3.5, "text", b"bytes", [1, (2, 3)], {"a": {1, 2}}, {"nested": [None]}],
)
def test_round_trip_small_values(store: Store, value: object) -> None:
    info = store.set("k", value)
    assert info.key == "k"
    assert info.serializer == "pickle"
    assert store.get("k") == value


def test_get_missing_raises_keyerror_or_returns_default(store: Store) -> None:
    with pytest.raises(KeyError):
        store.get("nope")
    assert store.get("nope", None) is None
    assert store.get("nope", default=5) == 5
    assert store.get("nope", MISSING if False else 7) == 7


def test_large_array_goes_to_one_blob_and_is_replaced(store: Store) -> None:
    a = np.arange(10_000, dtype=np.float64)
    info = store.set("arr", a)
    assert info.serializer == "numpy"
    assert info.size > a.nbytes
    assert len(blob_files(store)) == 1
    out = store.get("arr")
    np.testing.assert_array_equal(out, a)
    assert out.flags.writeable
    store.set("arr", a * 2)  # overwrite removes the old blob after commit
    assert len(blob_files(store)) == 1
    np.testing.assert_array_equal(store.get("arr"), a * 2)
    store.set("arr", "small now")
    assert blob_files(store) == []
    assert store.get("arr") == "small now"


@pytest.mark.parametrize(
    "array",
    [
        np.arange(6000, dtype=np.int32).reshape(60, 100),
        np.asfortranarray(np.arange(6000.0).reshape(60, 100)),
        np.arange(12000.0)[::2],
        np.zeros((0, 3)),
        np.array(3.5),
        np.array(["a", "bc"] * 2000),
        np.arange(3000, dtype=">i8"),
        np.ones(5000, dtype=bool),
        np.arange(3000).astype("datetime64[s]"),
    ],
    ids=["int2d", "fortran", "strided", "empty", "scalar", "unicode", "bigendian", "bool", "dt"],
)
def test_numpy_round_trips_exactly(store: Store, array: np.ndarray) -> None:
    store.set("a", array)
    out = store.get("a")
    assert out.dtype == array.dtype
    assert out.shape == array.shape
    np.testing.assert_array_equal(out, array)


def test_mmap_returns_read_only_memmap(store: Store) -> None:
    a = np.random.default_rng(0).random((300, 40))
    store.set("a", a)
    m = store.get("a", mmap=True)
    assert isinstance(m, np.memmap)
    assert not m.flags.writeable
    np.testing.assert_array_equal(m, a)
    with pytest.raises(ValueError, match="read-only"):
        m[0, 0] = 1
    # The mapping survives the entry being replaced or deleted (the inode stays alive).
    store.delete("a")
    np.testing.assert_array_equal(m, a)


def test_mmap_of_small_or_pickled_values_still_works(store: Store) -> None:
    store.set("s", np.arange(3))
    np.testing.assert_array_equal(store.get("s", mmap=True), np.arange(3))
    big = {"x": np.ones(4000)}
    store.set("d", big)
    out = store.get("d", mmap=True)
    np.testing.assert_array_equal(out["x"], big["x"])


def test_object_arrays_fall_back_to_pickle(store: Store) -> None:
    a = np.array([{"a": 1}, None, "x"] * 2000, dtype=object)
    assert store.set("o", a).serializer == "pickle"
    assert list(store.get("o")) == list(a)


def test_pickled_out_of_band_arrays_come_back_writable(store: Store) -> None:
    value = {"w": np.ones(3000), "b": np.zeros(10)}
    store.set("v", value)
    out = store.get("v")
    out["w"][0] = 5.0
    assert out["w"].flags.writeable
    assert out["b"].flags.writeable


def test_info_describes_without_decoding(store: Store) -> None:
    class Unloadable:
        def __reduce__(self):
            return (_explode, ())

    store.set("u", [Unloadable()], meta={"owner": "me", "n": 2}, expire=100)
    info = store.info("u")
    assert isinstance(info, EntryInfo)
    assert info.meta == {"owner": "me", "n": 2}
    assert info.summary["type"] == "list"
    assert info.summary["len"] == 1
    assert info.expires is not None
    assert info.expires > time.time() + 90
    assert info.to_json()["key"] == "u"
    assert store.info("absent") is None
    with pytest.raises(CorruptEntryError, match="boom"):
        store.get("u")


def _explode() -> None:
    raise RuntimeError("boom")


def test_summary_of_array_and_json_serializer(store: Store) -> None:
    info = store.set("a", np.zeros((3, 4), dtype=np.float32))
    assert info.summary["shape"] == [3, 4]
    assert info.summary["dtype"] == "float32"
    assert store.set("j", {"a": [1, 2]}, serializer="json").serializer == "json"
    assert store.get("j") == {"a": [1, 2]}
    with pytest.raises(SerializationError, match="not JSON"):
        store.set("j", {1, 2}, serializer="json")
    with pytest.raises(SerializationError, match="No serializer named 'nope'"):
        store.set("j", 1, serializer="nope")
    assert store.get("j") == {"a": [1, 2]}


def test_meta_must_be_json(store: Store) -> None:
    store.set("k", 1)
    with pytest.raises(SerializationError, match="meta"):
        store.set("k", 2, meta={"when": object()})
    with pytest.raises(TypeError, match="meta must be a dict"):
        store.set("k", 2, meta=[1])  # type: ignore[arg-type]
    assert store.get("k") == 1


def test_a_summary_json_cannot_hold_is_named_as_the_serializers_not_meta(store: Store) -> None:
    """A registered serializer whose ``summarize`` returns what JSON cannot hold is named,
    with what it must return; the caller's ``meta`` is not blamed; nothing is written."""
    from persist_ext.storage._serializers import Serializer, register_serializer

    class Sets(Serializer):
        name = "test-sets-summary"

        def dump(self, value):
            return [json.dumps(sorted(value)).encode()]

        def load(self, data):
            return set(json.loads(bytes(data)))

        def summarize(self, value):
            return {"type": "set", "members": value}  # a set: not JSON

    register_serializer(Sets(), replace=True)
    with pytest.raises(SerializationError, match="'test-sets-summary' serializer's summary") as e:
        store.set("s", {1, 2}, serializer="test-sets-summary", meta={"owner": "me"})
    assert "`meta`" not in str(e.value)
    assert "s" not in store


@pytest.mark.parametrize(
    ("bad", "type_name"),
    [
        (lambda: None, "function"),
        ({"f": lambda: None}, "dict"),
        (threading.Lock(), "_thread.lock"),
        ((i for i in range(3)), "generator"),
    ],
    ids=["lambda", "lambda-in-dict", "lock", "generator"],
)
def test_unpicklable_value_names_type_and_keeps_old(
    store: Store, bad: object, type_name: str
) -> None:
    store.set("k", "old")
    store.set("big", np.ones(5000))
    with pytest.raises(SerializationError, match="register_serializer") as err:
        store.set("k", bad)
    assert err.value.type_name == type_name
    assert type_name in str(err.value)
    with pytest.raises(SerializationError):
        store.set("big", [np.ones(5000), bad])
    assert store.get("k") == "old"
    np.testing.assert_array_equal(store.get("big"), np.ones(5000))
    assert len(blob_files(store)) == 1


def test_keys_prefix_sorted_and_batched(store: Store) -> None:
    names = [f"cell/{i:04d}" for i in range(2500)] + ["cellar", "task/a", "a"]
    with store.transact():
        for name in names:
            store.set(name, 1)
    assert list(store.keys("cell/")) == sorted(n for n in names if n.startswith("cell/"))
    assert list(store.keys()) == sorted(names)
    assert list(store.keys("zzz")) == []
    assert len(store) == len(names)
    assert [k for k, _ in store.items_info("task/")] == ["task/a"]


def _vm_steps(store: Store, prefix: str) -> tuple[list[str], int]:
    """The keys under ``prefix`` and the SQLite VM steps listing them took."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0  # 0: go on

    connection = store._open_cache()._con
    connection.set_progress_handler(count, 1)
    try:
        found = list(store.keys(prefix))
    finally:
        connection.set_progress_handler(None, 1)
    return found, steps


def test_keys_reads_only_its_prefix(store: Store) -> None:
    # A prefix listing is a range read bounded at the prefix's end: thousands of keys of a
    # neighbouring prefix cost it nothing (the same SQLite steps as with ten).
    mine = ["cell/b/manifest", "cell/b/r1/outputs"]
    for key in mine:
        store.set(key, 1)
    store.set("cell/a/manifest", 1)
    store.set("cell/c/manifest", 1)
    few = _vm_steps(store, "cell/b/")
    with store.transact():
        for i in range(3000):
            store.set(f"cell/c{i:04d}/manifest", 1)  # sort right after cell/b/
    many = _vm_steps(store, "cell/b/")
    assert few[0] == many[0] == mine
    assert few[1] == many[1]


@pytest.mark.parametrize(
    "prefix",
    ["cell/a/", "cell/a", "cell/\U0010ffff", "cell/\ud7ff", "cell/\ue000", "z\U0010ffff\U0010ffff"],
)
def test_keys_boundaries(store: Store, prefix: str) -> None:
    # Keys on both sides of a prefix's range, including the code points where the next
    # string is not simply the last character plus one, and more than one batch inside.
    around = ["\U0010ffff", "\ud7ff", "\ue000", "\x00", "/", "0", "", "\uffff", "\U00010000"]
    names = {prefix[:-1] + c for c in around} | {prefix + c for c in around}
    names |= {prefix + f"{i:04d}" for i in range(1100)} | {"cell", "cellar", "z", "{"}
    with store.transact():
        for name in names:
            store.set(name, 1)
    expected = sorted(n for n in names if n.startswith(prefix))
    assert list(store.keys(prefix)) == expected
    assert list(store.keys()) == sorted(names)


@given(st.text(max_size=4), st.lists(st.text(max_size=6), max_size=30))
@settings(max_examples=200, deadline=None)
def test_prefix_end_bounds_exactly_the_prefixed_strings(prefix: str, others: list[str]) -> None:
    end = prefix_end(prefix)
    for text in [*others, prefix, *(prefix + o for o in others)]:
        # SQLite's order of text: its UTF-8 bytes (surrogates cannot be stored at all).
        if any(0xD800 <= ord(c) <= 0xDFFF for c in text + prefix):
            continue
        inside = text.encode() >= prefix.encode() and (end is None or text.encode() < end.encode())
        assert inside == text.startswith(prefix)


def test_expired_entries_disappear(store: Store) -> None:
    store.set("gone", 1, expire=0.05)
    store.set("stays", 2)
    time.sleep(0.1)
    assert "gone" not in store
    assert store.get("gone", None) is None
    assert list(store.keys()) == ["stays"]
    assert len(store) == 1


def test_large_replaced_blobs_are_removed_in_the_background(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from persist_ext.storage import _disk

    monkeypatch.setattr(_disk, "BACKGROUND_REMOVE_BYTES", 1)  # every blob counts as large
    store = Store(tmp_path / "bg", large_threshold=SMALL)
    for i in range(5):
        store.set("a", np.full(5000, float(i)))
        store.set(f"gone{i}", np.ones(5000))
        assert store.delete(f"gone{i}")
    np.testing.assert_array_equal(store.get("a"), np.full(5000, 4.0))
    store.close()  # waits for the remover: only the live value's file is left
    blobs = sorted((tmp_path / "bg" / BLOB_DIR).glob("*.bin"))
    assert len(blobs) == 1
    with Store(tmp_path / "bg") as again:
        np.testing.assert_array_equal(again.get("a"), np.full(5000, 4.0))


def test_add_is_set_if_absent(store: Store) -> None:
    assert store.add("k", np.ones(5000)) is True
    assert store.add("k", np.zeros(5000)) is False
    np.testing.assert_array_equal(store.get("k"), np.ones(5000))
    assert len(blob_files(store)) == 1  # the losing blob was removed


def test_add_many_blobs_expired_rows_and_rollback(store: Store) -> None:
    assert store.add("big", np.ones(5000)) is True
    store.set("old", 1, expire=0.05)
    time.sleep(0.1)
    added = store.add_many({"big": np.zeros(5000), "new": np.full(5000, 2.0), "old": 2})
    assert added == {"new", "old"}
    np.testing.assert_array_equal(store.get("big"), np.ones(5000))
    np.testing.assert_array_equal(store.get("new"), np.full(5000, 2.0))
    assert store.get("old") == 2
    assert store.info("old").expires is None
    assert len(blob_files(store)) == 2  # the losing blob was removed

    # Inside a transaction that fails, nothing of the call stays (rows and blobs).
    def fail_after_adding() -> None:
        with store.transact():
            assert store.add_many({"r1": 1, "r2": np.ones(5000)}) == {"r1", "r2"}
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError, match="rolled back"):
        fail_after_adding()
    assert "r1" not in store
    assert "r2" not in store
    assert len(blob_files(store)) == 2


def test_add_many_writes_the_rows_add_writes(store: Store) -> None:
    """The persisted layout is add's: an earlier version reads these rows as its own."""
    now = time.time()
    store.add("one", now)
    store.add_many([("many", now), ("more", now)])
    con = store._cache._con
    columns = "raw, expire_time, access_count, tag, size, mode, filename, typeof(value)"
    rows = {
        key: con.execute(f"SELECT {columns} FROM Cache WHERE key = ?", (key,)).fetchall()
        for key in ("one", "many", "more")
    }
    assert len(rows["one"]) == 1
    assert rows["one"] == rows["many"] == rows["more"]
    assert store.info("many").summary == store.info("one").summary
    # Each record is signed for its own key: moved under another key, it is refused.
    con.execute(
        "UPDATE Cache SET value = (SELECT value FROM Cache WHERE key = 'many') WHERE key = 'more'"
    )
    with pytest.raises(UntrustedEntryError):
        store.get("more")


def _run_to_the_end(procs: list[Any]) -> None:
    """Start ``procs``, wait for each, and check that each exited normally."""
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0


def _add_many_race(directory: str, worker: int, barrier: Any) -> None:
    with Store(directory) as s:
        barrier.wait(30)
        won = s.add_many([(f"k{i}", worker) for i in range(200)])
        s.set(f"won/{worker}", sorted(won))
    os._exit(0)  # skip atexit handlers inherited through fork


def test_add_many_racing_processes_each_key_won_once(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    Store(tmp_path).close()
    barrier = ctx.Barrier(8)
    _run_to_the_end(
        [ctx.Process(target=_add_many_race, args=(str(tmp_path), w, barrier)) for w in range(8)]
    )
    with Store(tmp_path) as s:
        won = {w: s.get(f"won/{w}") for w in range(8)}
        claimed = [key for keys in won.values() for key in keys]
        assert sorted(claimed) == sorted(f"k{i}" for i in range(200))  # each key exactly once
        for w, keys in won.items():
            assert all(s.get(key) == w for key in keys)


def test_delete_contains_len(store: Store) -> None:
    store.set("a", np.ones(5000))
    assert "a" in store
    assert 3 not in store
    assert len(store) == 1
    assert store.delete("a") is True
    assert store.delete("a") is False
    assert "a" not in store
    assert len(store) == 0
    assert blob_files(store) == []


def test_incr_keeps_meta_and_rejects_non_ints(store: Store) -> None:
    assert store.incr("n") == 1
    assert store.incr("n", 5) == 6
    store.set("m", 10, meta={"unit": "tasks"})
    assert store.incr("m", -3) == 7
    assert store.info("m").meta == {"unit": "tasks"}
    with pytest.raises(KeyError):
        store.incr("absent", default=None)
    store.set("s", "text")
    with pytest.raises(StoreError, match="needs an int"):
        store.incr("s")
    assert store.get("s") == "text"


def test_transact_rolls_back_and_keeps_old_blob(store: Store) -> None:
    store.set("a", np.ones(5000))

    def aborted() -> None:
        with store.transact():
            store.set("a", np.zeros(5000))
            store.set("b", 1)
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        aborted()
    np.testing.assert_array_equal(store.get("a"), np.ones(5000))
    assert "b" not in store
    with store.transact(), store.transact():  # nesting is allowed
        store.set("a", 2)
    assert store.get("a") == 2
    assert blob_files(store) == []


def test_user_oserror_in_transact_is_not_translated(store: Store) -> None:
    with pytest.raises(FileNotFoundError), store.transact():
        raise FileNotFoundError("mine")


def test_closed_store_raises(store: Store) -> None:
    store.set("k", 1)
    store.close()
    store.close()  # idempotent
    for call in (
        lambda: store.get("k"),
        lambda: store.set("k", 2),
        lambda: store.info("k"),
        lambda: list(store.keys()),
        lambda: len(store),
        lambda: "k" in store,
        lambda: store.volume(),
    ):
        with pytest.raises(StoreClosedError, match="closed"):
            call()
    assert isinstance(StoreClosedError("x"), RuntimeError)
    with Store(store.directory) as again:
        assert again.get("k") == 1


def test_bad_keys(store: Store) -> None:
    with pytest.raises(TypeError, match="keys are str"):
        store.set(("a", 1), 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="keys are str"):
        store.get(1)  # type: ignore[arg-type]


def test_read_only_mode_describes_but_never_decodes(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="No store at"):
        Store(tmp_path / "none", read_only=True)
    with Store(tmp_path / "s", large_threshold=SMALL) as writer:
        writer.set("a", np.ones(5000), meta={"m": 1})
        with Store(tmp_path / "s", read_only=True) as reader:
            assert list(reader.keys()) == ["a"]
            assert reader.info("a").meta == {"m": 1}
            assert "a" in reader
            assert len(reader) == 1
            assert reader.volume() > 0
            with pytest.raises(StoreError, match="read_only"):
                reader.get("a")
            with pytest.raises(StoreError, match="read_only"):
                reader.set("b", 1)
            with pytest.raises(StoreError, match="read_only"):
                reader.delete("a")
        # Opening read-only did not reset the no-eviction settings.
        assert writer._cache.eviction_policy == "none"


def test_corrupted_blob_file_gives_clear_error_and_is_replaceable(store: Store) -> None:
    store.set("a", np.ones(5000))
    (blob,) = (store.directory / BLOB_DIR).glob("*.bin")
    with open(blob, "r+b") as handle:
        handle.truncate(100)
    with pytest.raises(CorruptEntryError, match="'a'") as err:
        store.get("a")
    assert err.value.key == "a"
    assert store.info("a").summary["shape"] == [5000]  # still describable
    store.set("a", 5)
    assert store.get("a") == 5


def test_missing_blob_file_is_corrupt_not_hang(store: Store) -> None:
    store.set("a", np.ones(5000))
    (blob,) = (store.directory / BLOB_DIR).glob("*.bin")
    blob.unlink()
    with pytest.raises(CorruptEntryError, match="missing"):
        store.get("a")


def test_foreign_entry_is_corrupt(store: Store) -> None:
    store._cache.set("raw", b"not ours")
    with pytest.raises(CorruptEntryError, match="not written by persist_ext"):
        store.get("raw")


def test_unknown_serializer_is_reported(store: Store) -> None:
    from persist_ext.storage._entry import seal

    store._cache.set("x", seal("x", "gone", [b""], summary={}).record())
    with pytest.raises(CorruptEntryError, match="No serializer named 'gone'"):
        store.get("x")


def test_cleanup_removes_dead_writers_orphans_only(store: Store) -> None:
    from persist_ext.storage._atomic import create_locked

    store.set("keep", np.ones(5000))
    blobs = store.directory / BLOB_DIR
    dead = blobs / ("0" * 32 + ".bin")
    live = blobs / ("1" * 32 + ".bin")
    dead.write_bytes(b"torn")  # nobody holds it: a killed writer's blob
    with create_locked(live) as handle:  # a live writer holds its blob until it commits
        handle.write(b"in flight")
        handle.flush()
        assert [p.name for p in store.debris()] == [dead.name]
        assert store.cleanup() == 1
        assert not dead.exists()
        assert live.exists()
    np.testing.assert_array_equal(store.get("keep"), np.ones(5000))
    assert store.cleanup() == 1  # released without a row: debris now
    assert len(blob_files(store)) == 1


def test_volume_counts_blobs(store: Store) -> None:
    before = store.volume()
    store.set("a", np.ones(100_000))
    assert store.volume() >= before + 800_000


def test_durable_mode_round_trips(tmp_path: Path) -> None:
    with Store(tmp_path / "d", durable=True, large_threshold=SMALL) as s:
        s.set("a", np.arange(5000))
        s.set("b", "x")
        np.testing.assert_array_equal(s.get("a"), np.arange(5000))
        assert s._cache.sqlite_synchronous == 2


def test_invalid_threshold(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="large_threshold"):
        Store(tmp_path, large_threshold=0)


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (diskcache.Timeout(), StoreError),
        (sqlite3.DatabaseError("file is not a database"), StoreError),
        (sqlite3.OperationalError("database is locked"), StoreError),
        (sqlite3.InterfaceError("bad"), StoreError),
        (__import__("pickle").PicklingError("x"), SerializationError),
        (__import__("pickle").UnpicklingError("x"), CorruptEntryError),
        (OSError(28, "No space left on device"), StoreError),
    ],
)
def test_error_translation_is_complete_and_chained(raised: Exception, expected: type) -> None:
    with pytest.raises(expected) as err, translate_errors("k", where="testing"):
        raise raised
    assert err.value.__cause__ is raised


def test_translation_passes_ours_and_keyerror_through() -> None:
    for exc in (KeyError("k"), StoreError("s"), SerializationError("x")):
        with pytest.raises(type(exc)) as err, translate_errors():
            raise exc
        assert err.value is exc


def test_unreadable_index_is_a_store_error(tmp_path: Path) -> None:
    tmp_path.joinpath("cache.db").write_bytes(b"garbage" * 1000)
    with pytest.raises(StoreError, match="cannot be read"):
        Store(tmp_path)


def _hammer(directory: str, worker: int) -> None:
    with Store(directory, large_threshold=SMALL) as s:
        for i in range(30):
            s.incr("counter")
            if s.add("winner", worker):
                s.set("winner-proc", worker)
            s.set(f"w{worker}/{i}", np.full(1000, worker))


@pytest.mark.slow
def test_several_processes_share_one_store(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    _run_to_the_end([ctx.Process(target=_hammer, args=(str(tmp_path), w)) for w in range(3)])
    with Store(tmp_path) as s:
        assert s.get("counter") == 90
        assert s.get("winner") == s.get("winner-proc")
        assert len(list(s.keys("w1/"))) == 30
        np.testing.assert_array_equal(s.get("w2/29"), np.full(1000, 2))


def test_threads_share_one_store(store: Store) -> None:
    def work() -> None:
        for _ in range(50):
            store.incr("n")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get("n") == 200


# --------------------------------------------------------------------------- model test

KEYS = st.sampled_from(["a", "b", "c/1", "c/2"])
VALUES = st.one_of(
    st.integers(-5, 5),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=3),
    st.integers(1, 3000).map(lambda n: np.arange(n, dtype=np.int16)),
)


def _same(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b)
    return a == b and type(a) is type(b)


class StoreMachine(RuleBasedStateMachine):
    """Random set/get/delete/add/incr/reopen sequences behave like a dict."""

    def __init__(self) -> None:
        super().__init__()
        import tempfile

        self.directory = tempfile.mkdtemp(prefix="store-model-")
        self.store = Store(self.directory, large_threshold=1024)
        self.model: dict[str, object] = {}

    @rule(key=KEYS, value=VALUES)
    def set(self, key: str, value: object) -> None:
        self.store.set(key, value)
        self.model[key] = value

    @rule(key=KEYS)
    def get(self, key: str) -> None:
        if key in self.model:
            assert _same(self.store.get(key), self.model[key])
        else:
            with pytest.raises(KeyError):
                self.store.get(key)

    @rule(key=KEYS)
    def delete(self, key: str) -> None:
        assert self.store.delete(key) == (key in self.model)
        self.model.pop(key, None)

    @rule(key=KEYS, value=VALUES)
    def add(self, key: str, value: object) -> None:
        added = self.store.add(key, value)
        assert added == (key not in self.model)
        self.model.setdefault(key, value)

    @precondition(lambda self: any(type(v) is int for v in self.model.values()))
    @rule(data=st.data(), delta=st.integers(-3, 3))
    def incr(self, data: st.DataObject, delta: int) -> None:
        ints = sorted(k for k, v in self.model.items() if type(v) is int)
        key = data.draw(st.sampled_from(ints))
        self.model[key] = self.model[key] + delta  # type: ignore[operator]
        assert self.store.incr(key, delta) == self.model[key]

    @rule()
    def reopen(self) -> None:
        self.store.close()
        self.store = Store(self.directory, large_threshold=1024)

    @invariant()
    def same_keys(self) -> None:
        assert list(self.store.keys()) == sorted(self.model)
        assert len(self.store) == len(self.model)

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.directory, ignore_errors=True)


StoreMachine.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_store_behaves_like_a_dict = StoreMachine.TestCase


class _Tripwire:
    """Unpickling this creates a file: proof that a pickle was loaded."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_foreign_diskcache_pickles_are_never_unpickled(tmp_path) -> None:
    import diskcache

    from persist_ext import CorruptEntryError, Store

    folder, wire = tmp_path / "foreign", tmp_path / "tripwire"
    with diskcache.Cache(str(folder), eviction_policy="least-recently-stored") as foreign:
        foreign["evil"] = _Tripwire(str(wire))
        foreign["plain"] = b"bytes written by another tool"
    with Store(folder, read_only=True) as store:
        assert sorted(store.keys()) == ["evil", "plain"]
        with pytest.raises(CorruptEntryError, match="not written by persist_ext"):
            store.info("evil")
    with Store(folder) as store, pytest.raises(CorruptEntryError, match="never unpickles"):
        store.get("evil")
    assert not wire.exists()


def test_read_only_open_keeps_a_foreign_cache_settings(tmp_path) -> None:
    import diskcache

    from persist_ext import Store

    folder = tmp_path / "foreign"
    with diskcache.Cache(str(folder), eviction_policy="least-recently-stored") as foreign:
        foreign["k"] = 1
    Store(folder, read_only=True).close()
    with diskcache.Cache(str(folder)) as again:
        assert again.eviction_policy == "least-recently-stored"
        assert again.size_limit == 2**30


def _vm_flags(address: int) -> list[str]:
    """The ``VmFlags`` of this process's mapping holding ``address`` (Linux ``smaps``)."""
    inside = False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            first = line.split(" ", 1)[0]
            if "-" in first and not first.endswith(":"):
                low, high = (int(x, 16) for x in first.split("-"))
                inside = low <= address < high
            elif inside and line.startswith("VmFlags:"):
                return line.split()[1:]
    raise AssertionError(f"no mapping holds {address:#x}")


_HUGE_PAGE_CHECK = """
import sys, tempfile, numpy as np
from persist_ext import Store
sys.path.insert(0, sys.argv[1])
from test_store import _vm_flags
with tempfile.TemporaryDirectory() as folder, Store(folder) as store:
    store.set("a", np.ones(1 << 20))
    array = store.get("a")
    print("hg" in _vm_flags(array.ctypes.data))
    del array
"""


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="Linux smaps only")
@pytest.mark.parametrize(("setting", "expected"), [(None, "True"), ("0", "False")])
def test_large_reads_get_the_huge_page_advice_numpy_gives(setting, expected) -> None:
    """A restore gets the pages ``np.load`` would (docs/function-cache.md, "Speed")."""
    import os
    import subprocess
    import sys

    env = dict(os.environ)
    env.pop("NUMPY_MADVISE_HUGEPAGE", None)
    if setting is not None:
        env["NUMPY_MADVISE_HUGEPAGE"] = setting  # numpy's own switch turns it off for both
    out = subprocess.run(
        [sys.executable, "-c", _HUGE_PAGE_CHECK, str(Path(__file__).parent)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert out.stdout.strip() == expected
    if setting is None:
        probe = np.empty(1 << 20)  # numpy advises the same for its own arrays (past the
        assert "hg" in _vm_flags(probe.ctypes.data + (1 << 16))  # allocator's first page)


def test_get_inside_a_transaction_sees_its_own_writes_only(store: Store) -> None:
    """Small values are read with the index query on this thread's connection: a block's
    own uncommitted writes are visible to it, and to no other thread until it commits."""
    store.set("t", 0)
    seen: list[object] = []
    with store.transact():
        store.set("t", 1)
        store.set("new", {"a": 1})
        assert store.get("t") == 1
        assert store.get("new") == {"a": 1}
        reader = threading.Thread(
            target=lambda: seen.extend([store.get("t"), store.get("new", None)])
        )
        reader.start()
        reader.join()
    assert seen == [0, None]
    assert store.get("t") == 1
    inside: list[object] = []

    def rolled_back() -> None:
        with store.transact():
            store.set("t", 2)
            inside.append(store.get("t"))
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        rolled_back()
    assert inside == [2]
    assert store.get("t") == 1


@pytest.mark.parametrize(
    "value",
    [
        0.0,
        1.5,
        -2.25e-300,
        float("inf"),
        float("nan"),
        0,
        -7,
        2**63,
        10**39,
        10**45,
        True,
        False,
        None,
    ],
)
def test_plain_values_encode_as_the_general_path_does(
    value: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Numbers, bools and None (a task group's done flags) take a shortcut in encode_entry:
    # the record must be the same bytes the general path writes.
    from persist_ext.storage import _entry

    monkeypatch.setattr(_entry.time, "time", lambda: 1234.5)
    fast = _entry.encode_entry("k", value)
    monkeypatch.setattr(_entry, "_PLAIN", {})
    slow = _entry.encode_entry("k", value)
    assert fast.record() == slow.record()
    assert fast.info == slow.info


def test_a_lock_held_too_long_is_called_a_lock_not_a_corrupt_index(tmp_path: Path) -> None:
    """SQLite's own "database is locked" (what opening a store meets, after diskcache's
    60 s of retries) is a wait that ran out, not a bad file: the error says so and suggests
    waiting, not moving the store aside."""
    holder = sqlite3.connect(tmp_path / "index.db", isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")  # another connection holds the write lock
    waiter = sqlite3.connect(tmp_path / "index.db", isolation_level=None, timeout=0)
    try:
        with pytest.raises(StoreError, match="store lock") as err, translate_errors(where="x"):
            waiter.execute("INSERT INTO t VALUES (1)")
        assert isinstance(err.value.__cause__, sqlite3.OperationalError)
        assert "corrupt" not in str(err.value)
        assert "larger timeout" in str(err.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        waiter.close()

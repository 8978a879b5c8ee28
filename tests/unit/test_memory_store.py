"""MemoryStore, and the KeyValueStore contract it shares with Store."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from persist_ext._errors import SerializationError, StoreClosedError, StoreError
from persist_ext.storage._memory import MemoryStore
from persist_ext.storage._protocol import KeyValueStore
from persist_ext.storage._store import Store


@pytest.fixture(params=["memory", "disk"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KeyValueStore]:
    s = MemoryStore() if request.param == "memory" else Store(tmp_path, large_threshold=4096)
    yield s
    s.close()


def test_contract_basics(store: KeyValueStore) -> None:
    assert isinstance(store, KeyValueStore)
    info = store.set("a/1", {"x": 1}, meta={"m": True})
    assert (info.key, info.serializer, info.meta) == ("a/1", "pickle", {"m": True})
    assert info.summary["type"] == "dict"
    assert info.size > 0
    assert store.get("a/1") == {"x": 1}
    assert store.info("a/1").meta == {"m": True}
    assert store.add("a/1", 2) is False
    assert store.add("a/2", 2) is True
    assert list(store.keys("a/")) == ["a/1", "a/2"]
    assert len(store) == 2
    assert "a/2" in store
    assert store.delete("a/2")
    assert "a/2" not in store
    assert store.incr("n", 2) == 2
    assert store.incr("n") == 3
    with pytest.raises(KeyError):
        store.get("zz")
    assert store.get("zz", None) is None


def test_contract_get_returns_a_copy(store: KeyValueStore) -> None:
    value = {"list": [1, 2], "arr": np.arange(3)}
    store.set("k", value)
    out = store.get("k")
    out["list"].append(3)
    out["arr"][0] = 99
    again = store.get("k")
    assert again["list"] == [1, 2]
    assert again["arr"][0] == 0


def test_contract_unpicklable_keeps_old(store: KeyValueStore) -> None:
    store.set("k", 1)
    with pytest.raises(SerializationError, match=r"_thread\.lock"):
        store.set("k", threading.Lock())
    with pytest.raises(SerializationError, match="meta"):
        store.set("k", 2, meta={"x": object()})
    assert store.get("k") == 1


def test_contract_transact_rollback(store: KeyValueStore) -> None:
    store.set("a", 1)

    def aborted() -> None:
        with store.transact():
            store.set("a", 2)
            store.set("b", 3)
            raise ValueError

    with pytest.raises(ValueError):
        aborted()
    assert store.get("a") == 1
    assert "b" not in store


def test_contract_expiry(store: KeyValueStore) -> None:
    store.set("e", 1, expire=0.05)
    assert store.info("e").expires is not None
    time.sleep(0.1)
    assert "e" not in store
    assert list(store.keys()) == []
    assert len(store) == 0


def test_contract_incr_errors(store: KeyValueStore) -> None:
    with pytest.raises(KeyError):
        store.incr("missing", default=None)
    store.set("s", "x")
    with pytest.raises(StoreError, match="needs an int"):
        store.incr("s")
    store.set("flag", True)
    with pytest.raises(StoreError, match="bool"):
        store.incr("flag")


def test_contract_closed(store: KeyValueStore) -> None:
    store.close()
    with pytest.raises(StoreClosedError):
        store.set("k", 1)
    with pytest.raises(StoreClosedError):
        store.get("k")


def test_contract_numpy_and_json(store: KeyValueStore) -> None:
    a = np.arange(10_000.0).reshape(100, 100)
    assert store.set("a", a).serializer == "numpy"
    np.testing.assert_array_equal(store.get("a", mmap=True), a)
    assert store.set("j", [1, "x"], serializer="json").serializer == "json"
    assert store.get("j") == [1, "x"]


def test_memory_store_threads_incr_atomically() -> None:
    store = MemoryStore()

    def work() -> None:
        for _ in range(200):
            store.incr("n")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get("n") == 800


def test_memory_store_volume_items_and_repr() -> None:
    with MemoryStore() as store:
        store.set("a", b"x" * 100)
        assert store.volume() >= 100
        assert [k for k, _ in store.items_info()] == ["a"]
        assert "1 entries" in repr(store)
    assert "closed" in repr(store)


def test_memory_store_nested_transact_keeps_outer_snapshot() -> None:
    store = MemoryStore()
    store.set("a", 1)

    def aborted() -> None:
        with store.transact():
            store.set("a", 2)
            with store.transact():
                store.set("a", 3)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        aborted()
    assert store.get("a") == 1


def test_memory_store_rollback_restores_only_what_changed() -> None:
    store = MemoryStore()
    store.set("keep", 1)
    store.set("gone", 2)

    def change_then_fail() -> None:
        with store.transact():
            store.set("keep", 10)
            store.set("keep", 11)
            store.delete("gone")
            store.set("new", 3)
            assert store.add("added", 4)
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        change_then_fail()
    assert (store.get("keep"), store.get("gone")) == (1, 2)
    assert "new" not in store
    assert "added" not in store
    with store.transact():
        store.set("new", 3)
    assert store.get("new") == 3

"""RedisStore against a real redis-server (the ``redis_server`` fixture in conftest.py)."""

from __future__ import annotations

import multiprocessing
import pickle
import threading
import uuid

import numpy as np
import pytest
from _noted import Noted

from persist_ext._errors import (
    CorruptEntryError,
    SerializationError,
    StoreClosedError,
    StoreConfigError,
    StoreError,
)
from persist_ext.storage._protocol import KeyValueStore
from persist_ext.storage._redis import RedisStore


@pytest.fixture
def store(redis_server: str):
    # A fresh namespace per test: tests never see each other's keys.
    s = RedisStore(redis_server, namespace=f"t{uuid.uuid4().hex[:12]}")
    yield s
    if not s._closed:
        s.clear()
        s.close()


def test_is_a_key_value_store(store: RedisStore) -> None:
    assert isinstance(store, KeyValueStore)


def test_set_get_roundtrip_and_info(store: RedisStore) -> None:
    arr = np.arange(1000.0).reshape(10, 100)
    info = store.set("cell/a/x", arr, meta={"cell": "a"})
    assert info.key == "cell/a/x"
    assert info.summary["shape"] == [10, 100]
    np.testing.assert_array_equal(store.get("cell/a/x"), arr)
    described = store.info("cell/a/x")
    assert described is not None
    assert described.meta == {"cell": "a"}
    assert described.summary["dtype"] == "float64"
    assert described.serializer == info.serializer
    assert described.size == info.size
    assert store.info("nope") is None


def test_miss_raises_keyerror_or_returns_default(store: RedisStore) -> None:
    with pytest.raises(KeyError):
        store.get("missing")
    assert store.get("missing", None) is None
    assert "missing" not in store


def test_large_header_is_read_in_full(store: RedisStore) -> None:
    meta = {"blob": "x" * 10_000}
    store.set("k", 1, meta=meta)
    assert store.info("k").meta == meta
    assert store.get("k") == 1


def test_serializers_from_the_registry(store: RedisStore) -> None:
    assert store.set("arr", np.zeros(3)).serializer == "numpy"
    assert store.set("js", {"a": [1, 2]}, serializer="json").serializer == "json"
    assert store.get("js") == {"a": [1, 2]}
    assert store.info("js").serializer == "json"
    arr = store.get("arr")
    arr[0] = 1.0  # values come back writable


def test_add_sets_only_if_absent(store: RedisStore) -> None:
    assert store.add("once", 1) is True
    assert store.add("once", 2) is False
    assert store.get("once") == 1


def test_delete_contains_len_keys(store: RedisStore) -> None:
    for key in ["tasks/g/1", "tasks/g/2", "tasks/h/1", "cell/x"]:
        store.set(key, key)
    assert len(store) == 4
    assert list(store.keys("tasks/g/")) == ["tasks/g/1", "tasks/g/2"]
    assert list(store.keys()) == sorted(["tasks/g/1", "tasks/g/2", "tasks/h/1", "cell/x"])
    assert store.delete("cell/x") is True
    assert store.delete("cell/x") is False
    assert "cell/x" not in store


def test_keys_prefix_with_glob_characters_is_literal(store: RedisStore) -> None:
    store.set("a*b", 1)
    store.set("axb", 2)
    assert list(store.keys("a*")) == ["a*b"]


def test_incr_is_a_counter(store: RedisStore) -> None:
    assert store.incr("n") == 1
    assert store.incr("n", 5) == 6
    assert store.incr("m", 1, default=10) == 11
    assert store.get("n") == 6
    assert store.info("n").serializer == "int"
    store.set("value", "text")
    with pytest.raises(StoreError, match="needs an int value"):
        store.incr("value")
    assert store.get("value") == "text"


def test_incr_is_atomic_across_threads(store: RedisStore) -> None:
    def work() -> None:
        for _ in range(100):
            store.incr("count")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get("count") == 400


def test_expire(store: RedisStore) -> None:
    info = store.set("short", 1, expire=30)
    assert info.expires is not None
    assert store._client.pttl(store._key("short")) > 0
    with pytest.raises(ValueError, match="positive"):
        store.set("bad", 1, expire=0)


def test_transact_serializes_read_modify_write(store: RedisStore) -> None:
    store.set("total", 0)

    def work() -> None:
        for _ in range(20):
            with store.transact():
                store.set("total", store.get("total") + 1)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get("total") == 60
    with store.transact(), store.transact():  # re-entrant within a thread
        store.set("nested", True)
    assert store.get("nested") is True


def test_unpicklable_value_is_refused_and_nothing_lost(store: RedisStore) -> None:
    store.set("k", "old")
    with pytest.raises(SerializationError, match=r"_thread\.lock"):
        store.set("k", threading.Lock())
    assert store.get("k") == "old"


def test_foreign_or_damaged_entries_raise_corrupt(store: RedisStore) -> None:
    store._client.set(store._key("foreign"), b"not ours")
    with pytest.raises(CorruptEntryError, match="not written by persist_ext"):
        store.get("foreign")
    store.set("k", [1, 2, 3])
    raw = store._client.get(store._key("k"))
    store._client.set(store._key("k"), raw[:-5])
    with pytest.raises(CorruptEntryError, match="truncated"):
        store.get("k")


def test_bad_key_type_and_namespace() -> None:
    with pytest.raises(ValueError, match="namespace"):
        RedisStore("redis://127.0.0.1:1/0", namespace="a:b")


def test_closed_store_refuses(store: RedisStore) -> None:
    store.close()
    with pytest.raises(StoreClosedError):
        store.get("x")
    other = RedisStore(store.url, namespace=store.namespace)
    with pytest.raises(TypeError, match="str"):
        other.set(3, 1)  # type: ignore[arg-type]
    other.close()


def test_unreachable_server_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="Redis at"):
        RedisStore("redis://127.0.0.1:1/0")  # opening checks the server's settings


# --- a server that would lose entries is refused (issue #12) --------------------------------


@pytest.mark.parametrize("policy", ["allkeys-lru", "volatile-lru", "allkeys-random"])
def test_an_evicting_server_is_refused_naming_the_setting(redis_factory, policy: str) -> None:
    url = redis_factory("--maxmemory-policy", policy)
    with pytest.raises(StoreConfigError, match="maxmemory-policy") as caught:
        RedisStore(url)
    message = str(caught.value)
    assert repr(policy) in message
    assert "CONFIG SET maxmemory-policy noeviction" in message
    assert "allow_eviction=True" in message


def test_eviction_can_be_allowed_explicitly(redis_factory) -> None:
    url = redis_factory("--maxmemory-policy", "allkeys-lru")
    with RedisStore(url, allow_eviction=True, namespace="a") as store:
        assert store.eviction_policy == "allkeys-lru"
        store.set("k", 1)
        assert store.get("k") == 1
    with RedisStore(url + "?allow_eviction=1", namespace="b") as store:  # for %%persist --store
        assert store.allow_eviction
        clone = pickle.loads(pickle.dumps(store))  # workers reopen with the same choice
        assert clone.allow_eviction
        clone.close()
    with pytest.raises(StoreConfigError, match="allow_eviction"):
        RedisStore(url + "?allow_eviction=maybe")
    with RedisStore(url, allow_eviction=True, namespace="c") as store:
        from persist_ext.features._tasks._storespec import spec_for

        # What a task group's worker process opens: the same choice, not a refusal.
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(1) as pool:
            assert pool.apply(_allows_eviction_in_worker, (spec_for(store),)) is True


def _allows_eviction_in_worker(spec: object) -> bool:
    from persist_ext.features._tasks._storespec import open_store

    return open_store(spec).allow_eviction  # type: ignore[arg-type, attr-defined]


def test_the_policy_is_checked_on_each_open(redis_server: str) -> None:
    with RedisStore(redis_server) as store:
        assert store.eviction_policy == "noeviction"
        store._client.config_set("maxmemory-policy", "allkeys-lfu")
        try:
            with pytest.raises(StoreConfigError, match="allkeys-lfu"):
                RedisStore(redis_server)
        finally:
            store._client.config_set("maxmemory-policy", "noeviction")


def test_a_full_server_refuses_writes_and_keeps_every_entry(redis_factory) -> None:
    url = redis_factory("--maxmemory", "3mb", "--maxmemory-policy", "noeviction")
    with RedisStore(url) as store:
        written: list[str] = []

        def fill() -> None:
            for i in range(1000):
                store.set(f"blob/{i}", b"x" * 100_000)
                written.append(f"blob/{i}")

        with pytest.raises(StoreError, match="is full") as caught:
            fill()
        assert "maxmemory" in str(caught.value)
        stored = len(written)
        assert stored > 0
        assert len(store) == stored  # nothing written before was dropped
        assert store.get("blob/0") == b"x" * 100_000


def test_magic_with_an_evicting_redis_says_what_to_change(redis_factory, tmp_path) -> None:
    from IPython.core.error import UsageError
    from IPython.testing.globalipapp import get_ipython

    url = redis_factory("--maxmemory-policy", "allkeys-lru")
    ip = get_ipython()
    ip.run_line_magic("load_ext", "persist_ext")
    try:
        with pytest.raises((StoreConfigError, UsageError), match="maxmemory-policy"):
            ip.run_cell_magic("persist", f"c --store {url}", "x = 1")
    finally:
        ip.run_line_magic("unload_ext", "persist_ext")


def test_pickles_by_url(store: RedisStore) -> None:
    store.set("shared", 42)
    clone = pickle.loads(pickle.dumps(store))
    assert clone.get("shared") == 42
    clone.close()


def _add_in_child(url: str, namespace: str, key: str, start: object, queue: object) -> None:
    s = RedisStore(url, namespace=namespace)
    start.wait()  # type: ignore[attr-defined]
    queue.put(s.add(key, multiprocessing.current_process().name))  # type: ignore[attr-defined]
    s.close()


def test_add_across_processes_exactly_one_wins(store: RedisStore) -> None:
    ctx = multiprocessing.get_context("spawn")
    for attempt in range(3):
        key = f"race/{attempt}"
        start, queue = ctx.Event(), ctx.Queue()
        procs = [
            ctx.Process(target=_add_in_child, args=(store.url, store.namespace, key, start, queue))
            for _ in range(2)
        ]
        for p in procs:
            p.start()
        start.set()
        results = [queue.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(timeout=60)
            assert p.exitcode == 0
        assert sorted(results) == [False, True]
        assert store.get(key) in {p.name for p in procs}


def test_change_token_moves_when_the_server_evicts(redis_factory) -> None:
    """A server allowed to evict drops keys without any RedisStore writing: the token sees it."""
    import redis

    # allkeys-random: looking the key up below would keep it young under an LRU policy.
    url = redis_factory("--maxmemory", "4mb", "--maxmemory-policy", "allkeys-random")
    with RedisStore(url, allow_eviction=True, namespace="ev") as store:
        store.set("kept/0", b"x" * 200_000)
        before = store.change_token()
        other = redis.Redis.from_url(url)  # another application filling the server
        try:
            for i in range(2000):  # ~20 keys fit: each write evicts one at random
                other.set(f"elsewhere:{i % 100}", b"y" * 200_000)
                if "kept/0" not in store:
                    break
        finally:
            other.close()
        assert "kept/0" not in store  # evicted by the server, not by a RedisStore
        assert store.change_token() != before


def test_the_change_counter_is_not_an_entry(store: RedisStore) -> None:
    store.set("a", 1)
    token = store.change_token()
    assert token is not None
    assert list(store.keys()) == ["a"]
    assert len(store) == 1
    store.set("#changes", 2)  # no entry key can be the counter
    assert store.get("#changes") == 2
    assert store.change_token() != token
    assert sorted(store.keys()) == ["#changes", "a"]


def test_cached_hits_notice_a_result_deleted_through_another_handle(store: RedisStore) -> None:
    from persist_ext import cache

    note = Noted()  # counts runs without being part of the key

    @cache(store=store)
    def square(x: int) -> list[int]:
        note(x)
        return [x * x]

    assert square(3) == [9]
    assert square(3) == [9]  # kept in memory, checked with the change token
    assert note.calls == [3]
    with RedisStore(store.url, namespace=store.namespace) as other:  # "another process"
        for key in list(other.keys("memo/")):
            other.delete(key)
    assert square(3) == [9]
    assert note.calls == [3, 3]

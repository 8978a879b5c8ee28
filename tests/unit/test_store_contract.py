"""One contract for every key-value store: Store, MemoryStore and RedisStore (issue #12).

Every test here runs against each kind (``store`` is parametrized; Redis is a real
``redis-server`` started by ``tests/conftest.py``). A new kind of store joins by adding one
entry to ``KINDS``. The last tests drive ``%%persist --store`` through a real IPython shell on
each kind, which is how a store is used from a notebook.
"""

from __future__ import annotations

import inspect
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from IPython.utils.capture import capture_output

from persist_ext import (
    InvalidKeyError,
    KeyValueStore,
    MemoryStore,
    PersistError,
    RedisStore,
    SerializationError,
    Store,
    StoreClosedError,
    StoreConfigError,
    StoreError,
)

KINDS = ["Store", "MemoryStore", "RedisStore"]


def open_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest):
    if kind == "Store":
        return Store(tmp_path / "store")
    if kind == "MemoryStore":
        return MemoryStore()
    url = request.getfixturevalue("redis_server")
    return RedisStore(url, namespace=f"c{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator:
    s = open_store(request.param, tmp_path, request)
    yield s
    if isinstance(s, RedisStore) and not s._closed:
        s.clear()
    s.close()


class Unpicklable:
    def __reduce__(self):
        raise TypeError("no pickling")


# --- shape ----------------------------------------------------------------------------------

PROTOCOL = [
    "set",
    "get",
    "add",
    "add_many",
    "delete",
    "info",
    "keys",
    "items_info",
    "incr",
    "transact",
    "volume",
    "change_token",
    "close",
    "__contains__",
    "__len__",
]


@pytest.mark.parametrize("method", PROTOCOL)
def test_every_kind_takes_the_same_arguments(method: str) -> None:
    """A caller written against one store works on all (``add(meta=...)`` once did not)."""

    def shape(cls: type) -> list[tuple[str, object, object]]:
        params = list(inspect.signature(getattr(cls, method)).parameters.values())[1:]
        return [(p.name, p.kind, p.default) for p in params]

    shapes = {cls.__name__: shape(cls) for cls in (Store, MemoryStore, RedisStore)}
    assert len({repr(s) for s in shapes.values()}) == 1, shapes


def test_is_a_key_value_store(store) -> None:
    assert isinstance(store, KeyValueStore)


# --- values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [None, 0, -3, 2.5, "text", "ünïcode", b"\x00bytes", [1, "a", None], {"a": {"b": [1, 2]}}],
)
def test_set_get_round_trip(store, value) -> None:
    store.set("k", value)
    assert store.get("k") == value
    assert type(store.get("k")) is type(value)


def test_arrays_and_copies(store) -> None:
    array = np.arange(12, dtype="float32").reshape(3, 4)
    store.set("arr", array)
    back = store.get("arr", mmap=True)  # mmap is accepted by every kind
    np.testing.assert_array_equal(back, array)
    assert back.dtype == array.dtype
    store.set("list", [1, 2])
    got = store.get("list")
    got.append(3)
    assert store.get("list") == [1, 2]  # a stored value is never changed through a copy


def test_miss(store) -> None:
    with pytest.raises(KeyError):
        store.get("missing")
    assert store.get("missing", None) is None
    assert store.get("missing", 7) == 7
    assert store.info("missing") is None
    assert "missing" not in store
    assert store.delete("missing") is False


def test_info_describes_without_decoding(store) -> None:
    before = time.time()
    info = store.set("k", {"x": list(range(100))}, meta={"run": 3, "who": "me"})
    assert info.key == "k"
    assert info.meta == {"run": 3, "who": "me"}
    again = store.info("k")
    assert again.meta == {"run": 3, "who": "me"}
    assert again.serializer == info.serializer
    assert again.size == info.size > 0
    assert again.summary["type"] == "dict"
    assert before - 1 <= again.created <= time.time() + 1
    assert again.expires is None


def test_set_replaces_value_and_meta(store) -> None:
    store.set("k", 1, meta={"v": 1})
    store.set("k", 2)
    assert store.get("k") == 2
    assert store.info("k").meta == {}


def test_add_only_if_absent_with_meta_and_serializer(store) -> None:
    assert store.add("k", {"a": 1}, meta={"m": 1}, serializer="json") is True
    assert store.add("k", {"a": 2}, meta={"m": 2}) is False
    assert store.get("k") == {"a": 1}
    info = store.info("k")
    assert info.meta == {"m": 1}
    assert info.serializer == "json"


def test_add_many_sets_only_absent_keys_and_says_which(store) -> None:
    assert store.add("b", "old", meta={"m": 0})
    assert store.add_many({"a": 1, "b": 2, "c": 3}) == {"a", "c"}
    assert [store.get(k) for k in "abc"] == [1, "old", 3]
    assert store.info("b").meta == {"m": 0}  # the present key is untouched, meta included
    # Pairs: one value object for several keys (each gets its own record, signed for it); a
    # repeated key keeps its first value; a key set earlier in the call is not reported.
    now = time.time()
    assert store.add_many([("x", now), ("y", now), ("x", 0.0), ("a", now)]) == {"x", "y"}
    assert (store.get("x"), store.get("y"), store.get("a")) == (now, now, 1)
    assert store.info("y").key == "y"
    assert store.add_many([]) == set()
    assert store.add_many({"x": 1, "y": 2}) == set()


def test_add_many_meta_expire_and_serializer(store) -> None:
    added = store.add_many({"m1": {"v": 1}, "m2": {"v": 2}}, meta={"u": 1}, serializer="json")
    assert added == {"m1", "m2"}
    for key in ("m1", "m2"):
        assert store.info(key).meta == {"u": 1}
        assert store.info(key).serializer == "json"
    assert store.get("m2") == {"v": 2}
    assert store.add_many({"short": 1}, expire=0.5) == {"short"}
    deadline = time.monotonic() + 30
    while "short" in store and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.add_many({"short": 2, "m1": 3}) == {"short"}  # an expired key is absent
    assert store.get("short") == 2


def test_add_many_is_all_or_nothing(store) -> None:
    store.set("k", "before")
    with pytest.raises(SerializationError):
        store.add_many([("new", 1), ("bad", Unpicklable()), ("k", 2)])
    with pytest.raises(InvalidKeyError):
        store.add_many([("new", 1), (3, 2)])
    assert "new" not in store
    assert "bad" not in store
    assert store.get("k") == "before"


@pytest.mark.parametrize("key", ["données/été", "键/値", "emoji/\U0001f600", "a\x00b"])
def test_keys_beyond_ascii(store, key: str) -> None:
    """The direct index read of small values takes the same keys as every other call."""
    store.set(key, {"k": key})
    assert store.get(key) == {"k": key}
    assert store.info(key).key == key
    assert key in store
    assert list(store.keys(key[:3])) == [key]
    assert store.delete(key) is True
    assert store.get(key, "gone") == "gone"


def test_delete_contains_len_keys(store) -> None:
    for key in ["b/2", "a/1", "a/2", "a*[x]?"]:
        store.set(key, key)
    assert len(store) == 4
    assert list(store.keys()) == sorted(["b/2", "a/1", "a/2", "a*[x]?"])
    assert list(store.keys("a/")) == ["a/1", "a/2"]
    assert list(store.keys("a*")) == ["a*[x]?"]  # a prefix is literal, never a pattern
    assert [k for k, _ in store.items_info("a/")] == ["a/1", "a/2"]
    assert store.volume() > 0
    assert store.delete("a/1") is True
    assert "a/1" not in store
    assert 3 not in store  # not a str: simply absent
    assert len(store) == 3


def test_incr(store) -> None:
    assert store.incr("hits") == 1
    assert store.incr("hits", 10) == 11
    assert store.get("hits") == 11
    assert store.incr("fresh", 5, default=100) == 105
    with pytest.raises(KeyError):
        store.incr("absent", default=None)
    store.set("counter", 41, meta={"m": 1})
    assert store.incr("counter") == 42  # an int stored with set() counts on,
    assert store.info("counter").meta == {"m": 1}  # keeping its meta
    store.set("text", "x")
    with pytest.raises(StoreError, match="int"):
        store.incr("text")
    assert store.get("text") == "x"


def test_expire(store) -> None:
    info = store.set("short", 1, expire=0.5)
    assert info.expires == pytest.approx(info.created + 0.5, abs=0.01)
    deadline = time.monotonic() + 30
    while "short" in store and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "short" not in store
    assert store.get("short", "gone") == "gone"


def test_transact_groups_writes(store) -> None:
    with store.transact() as tx:
        tx.set("a", 1)
        with store.transact():  # re-entrant
            tx.set("b", tx.get("a") + 1)
    assert (store.get("a"), store.get("b")) == (1, 2)


def test_unstorable_value_changes_nothing(store) -> None:
    store.set("k", "before")
    with pytest.raises(SerializationError):
        store.set("k", Unpicklable())
    with pytest.raises(SerializationError):
        store.add("new", Unpicklable())
    assert store.get("k") == "before"
    assert "new" not in store


# --- change_token: moves with every change, never with a read ----------------------------


def _in_a_transaction(who) -> None:
    with who.transact():
        who.set("t", 1)


def _clear(who) -> None:  # what f.clear() and %persist clear do
    who.set("x", 1)
    for key in list(who.keys()):
        who.delete(key)


CHANGES = [
    ("set", lambda who: who.set("k", 1)),
    ("set the same value again", lambda who: who.set("k", 1)),
    ("add", lambda who: who.add(f"new-{id(who)}", 1)),
    ("delete", lambda who: who.delete("k")),
    ("incr of a new counter", lambda who: who.incr("n")),
    ("incr of a counter", lambda who: who.incr("n", 5)),
    ("set an int", lambda who: who.set("n", 41, meta={"m": 1})),
    ("incr of an int stored with set", lambda who: who.incr("n")),
    ("a transaction", _in_a_transaction),
    ("clear", _clear),
]


def test_change_token_moves_after_every_kind_of_change(store) -> None:
    """What ``persist_ext.cache`` relies on to serve results kept in memory: a change of any
    kind, by this object or another one of the same store, never leaves the token as it was."""
    same = store  # another handle on the same data, where the kind has one
    if isinstance(store, Store):
        same = Store(store.directory)
    elif isinstance(store, RedisStore):
        same = RedisStore(store.url, namespace=store.namespace)
    try:
        for who in (store, same):
            for what, change in CHANGES:
                before = store.change_token()
                assert before is not None
                change(who)
                after = store.change_token()
                assert after is not None
                assert after != before, (what, who is store)
    finally:
        if same is not store:
            same.close()


def test_change_token_moves_when_an_entry_expires(store) -> None:
    store.set("keep", 1)
    store.set("short", 1, expire=0.3)
    before = store.change_token()
    deadline = time.monotonic() + 30
    while "short" in store and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "short" not in store  # whoever sees it gone sees a new token
    assert store.change_token() != before


def test_change_token_moves_when_a_budget_evicts(store) -> None:
    from persist_ext import Budget, cache
    from persist_ext.features._budget import enforce_budget

    @cache(store=store)
    def double(x):
        return [x] * 100

    for x in range(3):
        double(x)
    before = store.change_token()
    report = enforce_budget(store, Budget(max_count=1))
    assert len(report.evicted) == 2
    assert store.change_token() != before


@pytest.fixture
def quiet_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator:
    """A store whose server nobody else uses (Redis counts every key it expires, anyone's)."""
    kind = request.param
    if kind == "RedisStore":
        s: Any = RedisStore(request.getfixturevalue("redis_factory")(), namespace="quiet")
    else:
        s = open_store(kind, tmp_path, request)
    yield s
    s.close()


@pytest.mark.parametrize("quiet_store", KINDS, indirect=True)
def test_change_token_stays_while_nothing_changes(quiet_store) -> None:
    store = quiet_store
    store.set("a", {"x": 1})
    store.set("later", 1, expire=3600)
    store.incr("n")
    first = store.change_token()
    assert first is not None
    assert store.change_token() == first
    _ = store.get("a"), store.info("a"), store.get("n"), store.info("missing")
    _ = "a" in store, "missing" in store, len(store), list(store.keys()), store.volume()
    _ = list(store.items_info()), store.get("missing", None)
    with store.transact():
        pass
    time.sleep(0.2)
    assert store.change_token() == first  # reads, an empty transaction and time change nothing


def test_change_token_of_a_closed_store_raises(store) -> None:
    store.close()
    with pytest.raises(StoreClosedError):
        store.change_token()


# --- bad input: a PersistError naming the fix, before anything is touched -------------------


@pytest.mark.parametrize("key", [3, b"bytes", None, ("a", 1)])
def test_key_that_is_not_a_str(store, key) -> None:
    for call in (
        lambda: store.set(key, 1),
        lambda: store.add(key, 1),
        lambda: store.get(key),
        lambda: store.info(key),
        lambda: store.delete(key),
        lambda: store.incr(key),
    ):
        with pytest.raises(InvalidKeyError, match="keys are str") as caught:
            call()
        assert isinstance(caught.value, (PersistError, TypeError))


def test_key_with_a_lone_surrogate(store) -> None:
    key = "file-\udc80.csv"  # what os.listdir returns for a name that is not UTF-8
    for call in (
        lambda: store.set(key, 1),
        lambda: store.add(key, 1),
        lambda: store.get(key),
        lambda: store.delete(key),
    ):
        with pytest.raises(InvalidKeyError, match="surrogateescape"):
            call()
    assert len(store) == 0


def test_bad_meta_and_expire(store) -> None:
    with pytest.raises(StoreConfigError, match="meta must be a dict"):
        store.set("k", 1, meta=["not", "a", "dict"])
    with pytest.raises(SerializationError, match="meta"):
        store.set("k", 1, meta={"x": object()})
    for expire in (-1, 0, "soon"):
        with pytest.raises(StoreConfigError, match="expire"):
            store.set("k", 1, expire=expire)
    assert "k" not in store


def test_closed_store_refuses(store) -> None:
    store.set("k", 1)
    store.close()
    for call in (lambda: store.get("k"), lambda: store.set("k", 2), lambda: store.add("n", 1)):
        with pytest.raises(StoreClosedError):
            call()


# --- %%persist --store on every kind --------------------------------------------------------


@pytest.fixture
def shell(ip: Any) -> Any:
    ip.run_line_magic("config", "PersistMagics.min_time = 0")  # every cell is restorable
    return ip


def run_cell(ip, line: str, body: str) -> str:
    with capture_output() as out:
        ip.run_cell_magic("persist", line, body)
    return out.stdout


@pytest.mark.parametrize("kind", ["directory", "redis"])
def test_persist_magic_store_hit_and_miss(
    shell, kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if kind == "redis":
        location = request.getfixturevalue("redis_server")
    else:
        location = str(tmp_path / "cells")
    log = tmp_path / "runs.log"  # the cell appends a line each time it really runs
    body = (
        "with open(log, 'a') as f:\n    f.write('ran\\n')\n"
        "squares = [i * i for i in range(n)]\nprint(sum(squares))"
    )
    shell.user_ns.update(log=str(log), n=5)
    assert run_cell(shell, f"sq --store {location}", body) == "30\n"  # miss: runs
    shell.user_ns.pop("squares")
    second = run_cell(shell, f"sq --store {location}", body)
    # hit: restored, not run
    assert "persist: restored sq" in second, shell.run_line_magic(
        "persist", f"why sq --store {location}"
    )
    assert log.read_text() == "ran\n"
    assert shell.user_ns["squares"][-1] == 16
    shell.user_ns["n"] = 6  # an input changed: a miss again
    assert run_cell(shell, f"sq --store {location}", body).startswith("55\n")
    assert log.read_text() == "ran\nran\n"

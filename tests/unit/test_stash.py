"""The abstract Stash, the framework stashes, the in-memory and the factory stashes."""

from __future__ import annotations

import pytest

from persist_ext._errors import PersistableError
from persist_ext.features._stash import (
    CacheStash,
    CloseableStash,
    DelegateStash,
    DictionaryStash,
    FactoryStash,
    KeyLimitStash,
    OneShotFactoryStash,
    PreemptiveStash,
    PrimeableStash,
    ReadOnlyStash,
    SortedStash,
    Stash,
    UnionStash,
    chunks,
)


class RangeStash(ReadOnlyStash):
    """Keys '0'..'n-1', each value the square; counts loads."""

    def __init__(self, n: int, **kwargs):
        super().__init__(**kwargs)
        self.n = n
        self.loads: list[str] = []

    def load(self, name):
        self.loads.append(name)
        return int(name) ** 2 if self.exists(name) else None

    def keys(self):
        return map(str, range(self.n))

    def exists(self, name):
        return name.isdigit() and int(name) < self.n


class MinimalStash(Stash):
    """Only the four abstract methods: exercises every derived method of Stash."""

    def __init__(self):
        self.data: dict = {}

    def load(self, name):
        return self.data.get(name)

    def dump(self, name, inst):
        self.data[name] = inst

    def delete(self, name=None):
        self.data.pop(name, None)

    def keys(self):
        return list(self.data)


# --- Stash ----------------------------------------------------------------------------------


def test_stash_is_abstract():
    with pytest.raises(TypeError):
        Stash()  # type: ignore[abstract]


def test_derived_methods_of_the_base_class():
    stash = MinimalStash()
    stash["a"] = 1
    stash.dump("b", None)
    stash["c"] = 3
    assert stash["a"] == 1
    assert stash["b"] is None  # a stored None is a value
    assert stash.get("zz", "default") == "default"
    assert stash.exists("b")
    assert "c" in stash
    assert "zz" not in stash
    assert len(stash) == 3
    assert list(stash) == [("a", 1), ("b", None), ("c", 3)]  # (key, value) pairs
    assert list(stash.items()) == list(stash)
    assert list(stash.values()) == [1, None, 3]
    assert list(stash.key_groups(2)) == [["a", "b"], ["c"]]
    with pytest.raises(KeyError):
        stash["zz"]
    with pytest.raises(KeyError):
        del stash["zz"]
    del stash["a"]
    stash.delete("never-there")  # delete() of a missing key is a no-op
    assert list(stash.keys()) == ["b", "c"]
    stash.clear()
    assert len(stash) == 0
    assert bool(stash) is True  # truthiness never counts keys


def test_chunks():
    assert list(chunks(range(5), 2)) == [[0, 1], [2, 3], [4]]
    assert list(chunks([], 3)) == []
    with pytest.raises(ValueError, match="at least 1"):
        list(chunks(range(3), 0))


# --- ReadOnlyStash --------------------------------------------------------------------------


def test_read_only_stash_ignores_writes_unless_strict():
    lenient = RangeStash(3)
    lenient.dump("9", 1)
    lenient.delete("0")
    lenient.clear()
    del lenient["0"]
    assert dict(lenient.items()) == {"0": 0, "1": 1, "2": 4}
    strict = RangeStash(3, strict=True)
    for action in (
        lambda: strict.dump("9", 1),
        lambda: strict.delete("0"),
        strict.clear,
        lambda: strict.__setitem__("9", 1),
    ):
        with pytest.raises(PersistableError, match="read-only"):
            action()


# --- CloseableStash / DelegateStash -------------------------------------------------------


class Closing(DictionaryStash, CloseableStash):
    def __init__(self):
        super().__init__()
        self.closed = False

    def close(self):
        self.closed = True


def test_delegate_stash_forwards_everything():
    inner = Closing()
    outer = DelegateStash(inner)
    outer["a"] = 1
    assert inner.data == {"a": 1}
    assert outer.load("a") == 1
    assert outer.get("b", 2) == 2
    assert outer.exists("a")
    assert list(outer.keys()) == ["a"]
    assert outer["a"] == 1
    outer.delete("a")
    assert inner.data == {}
    inner["x"] = 1
    outer.clear()
    assert inner.data == {}
    with outer:
        pass
    assert inner.closed


def test_delegate_stash_requires_a_delegate():
    with pytest.raises(PersistableError, match="needs a delegate"):
        DelegateStash(None)  # type: ignore[arg-type]
    with pytest.raises(PersistableError, match="needs a delegate"):
        DelegateStash({"a": 1})  # type: ignore[arg-type]


def test_delegate_attr_forwarding_is_opt_in():
    inner = DictionaryStash({"a": 1})
    with pytest.raises(AttributeError, match="data"):
        DelegateStash(inner).data
    assert DelegateStash(inner, delegate_attr=True).data == {"a": 1}


# --- KeyLimitStash / SortedStash ------------------------------------------------------------


def test_key_limit_stash():
    limited = KeyLimitStash(DictionaryStash({"a": 1, "b": 2, "c": 3}), limit=2)
    assert list(limited.keys()) == ["a", "b"]
    assert len(limited) == 2
    assert "c" not in limited
    assert limited.get("c", "no") == "no"
    assert limited.load("c") is None
    assert dict(limited.items()) == {"a": 1, "b": 2}
    with pytest.raises(KeyError):
        limited["c"]
    with pytest.raises(ValueError, match=">= 0"):
        KeyLimitStash(DictionaryStash(), limit=-1)


def test_sorted_stash():
    stash = SortedStash(DictionaryStash({"b": 2, "c": 3, "a": 1}))
    assert stash.keys() == ["a", "b", "c"]
    assert list(stash) == [("a", 1), ("b", 2), ("c", 3)]
    assert list(SortedStash(stash.delegate, sort_function=lambda k: -ord(k)).values()) == [3, 2, 1]


# --- PreemptiveStash / PrimeableStash -------------------------------------------------------


class KeysOnly(DictionaryStash):
    """Fails if a value is loaded: has_data must come from keys() alone."""

    def load(self, name):
        raise AssertionError("has_data must not load values")


def test_preemptive_stash_has_data_from_keys_only():
    inner = KeysOnly()
    stash = PreemptiveStash(inner)
    assert stash.has_data is False
    inner.data["a"] = 1
    assert stash.has_data is False  # remembered until reset
    stash._reset_has_data()
    assert stash.has_data is True
    stash.clear()
    assert stash.has_data is False


def test_preemptive_get_treats_none_as_missing():
    stash = PreemptiveStash(DictionaryStash({"a": 1}))
    assert stash.get("a") == 1
    assert stash.get("b", "d") == "d"


class Primed(PrimeableStash, DelegateStash):
    def __init__(self, delegate):
        super().__init__(delegate)
        self.primes = 0

    def prime(self):
        super().prime()
        self.primes += 1


def test_primeable_stash_primes_before_every_operation():
    inner_primed = Primed(DictionaryStash())
    stash = Primed(inner_primed)
    stash.dump("a", 1)
    stash.load("a")
    stash.get("a")
    stash.exists("a")
    list(stash.keys())
    stash.delete("a")
    assert stash.primes == 6
    assert inner_primed.primes >= 6  # a primeable delegate is primed too


# --- DictionaryStash ------------------------------------------------------------------------


def test_dictionary_stash():
    backing = {"a": 1}
    stash = DictionaryStash(backing)
    assert stash.data is backing
    assert stash.load("zz") is None
    assert stash.get("zz", 5) == 5
    stash["b"] = None
    assert stash["b"] is None
    assert len(stash) == 2
    stash.delete("zz")
    stash.delete()
    assert backing == {}


# --- CacheStash -----------------------------------------------------------------------------


class CountingStash(DictionaryStash):
    def __init__(self, data=None):
        super().__init__(data)
        self.reads = 0

    def load(self, name):
        self.reads += 1
        return super().load(name)

    def get(self, name, default=None):
        self.reads += 1
        return super().get(name, default)


def test_cache_stash_reads_through_once():
    slow = CountingStash({"a": 1})
    cached = CacheStash(slow)
    assert cached["a"] == 1
    assert cached["a"] == 1
    assert cached.load("a") == 1
    assert slow.reads == 1


def test_cache_stash_does_not_cache_a_miss():
    slow = CountingStash()
    cached = CacheStash(slow)
    assert cached.get("k") is None
    assert cached.load("k") is None
    assert "k" not in cached.cache_stash.data
    slow.dump("k", "created later")
    assert cached["k"] == "created later"


def test_cache_stash_caches_a_stored_none():
    slow = CountingStash({"n": None})
    cached = CacheStash(slow)
    assert cached.load("n") is None
    assert cached.get("n", "d") is None
    assert cached.cache_stash.data == {"n": None}


def test_cache_stash_writes_and_deletes_through():
    slow = DictionaryStash()
    cached = CacheStash(slow)
    cached["a"] = 1
    cached["a"] = 2  # the cache must not keep serving 1
    assert cached["a"] == 2
    assert slow.data == {"a": 2}
    del cached["a"]
    assert "a" not in cached
    assert slow.data == {}
    cached["b"] = 1
    cached.clear()
    assert slow.data == {}
    assert cached.cache_stash.data == {}


def test_cache_stash_over_read_only_delegate():
    cached = CacheStash(RangeStash(3))
    assert cached["2"] == 4
    cached.delete("2")
    assert cached["2"] == 4  # the delegate is untouched
    cached.clear()
    assert len(cached) == 3


# --- UnionStash -----------------------------------------------------------------------------


def test_union_stash():
    first = DictionaryStash({"a": 1, "n": None})
    second = DictionaryStash({"a": 9, "b": 2})
    union = UnionStash([first, second])
    assert union["a"] == 1
    assert union["b"] == 2
    assert union["n"] is None  # the first stash that *has* the key wins
    assert union.get("zz", "default") == "default"
    assert union.load("zz") is None
    assert list(union.keys()) == ["a", "n", "b"]
    assert len(union) == 3
    assert list(union.values()) == [1, None, 2]
    union.dump("c", 3)  # read-only: ignored
    assert "c" not in union
    with pytest.raises(PersistableError):
        UnionStash([first], strict=True).dump("c", 3)
    with pytest.raises(TypeError, match="joins stashes"):
        UnionStash([{"a": 1}])  # type: ignore[list-item]


# --- FactoryStash ---------------------------------------------------------------------------


def test_factory_stash_creates_and_keeps():
    backing = DictionaryStash()
    factory = RangeStash(4)
    stash = FactoryStash(backing, factory)
    assert list(stash.keys()) == ["0", "1", "2", "3"]  # from the factory: no data yet
    assert stash["3"] == 9
    assert backing.data == {"3": 9}
    assert stash["3"] == 9
    assert factory.loads == ["3"]
    assert list(stash.keys()) == ["3"]  # the delegate has data now
    assert "2" in stash  # the factory can create it


def test_factory_stash_does_not_store_a_factory_miss():
    backing = DictionaryStash()
    stash = FactoryStash(backing, RangeStash(2))
    assert stash.get("7", "none") == "none"
    assert backing.data == {}
    with pytest.raises(KeyError):
        stash["7"]
    keeps_none = FactoryStash(DictionaryStash(), RangeStash(2), dump_factory_nones=True)
    keeps_none.load("7")
    assert keeps_none.delegate.data == {"7": None}


def test_factory_stash_without_preemption_lists_factory_keys():
    stash = FactoryStash(DictionaryStash({"0": 0}), RangeStash(2), enable_preemptive=False)
    assert list(stash.keys()) == ["0", "1"]


def test_factory_stash_clear_clears_a_writable_factory():
    factory = DictionaryStash({"x": 1})
    stash = FactoryStash(DictionaryStash(), factory)
    assert stash["x"] == 1
    stash.clear()
    assert factory.data == {}
    assert stash.delegate.data == {}
    with pytest.raises(PersistableError, match="factory"):
        FactoryStash(DictionaryStash(), None)  # type: ignore[arg-type]


# --- OneShotFactoryStash --------------------------------------------------------------------


def test_one_shot_factory_runs_once_with_a_callable():
    calls = []

    def work():
        calls.append(1)
        return ((str(i), i * 10) for i in range(3))

    stash = OneShotFactoryStash(DictionaryStash(), worker=work)
    assert "1" in stash  # even a membership test primes first
    assert stash["2"] == 20
    assert len(stash) == 3
    assert dict(stash.items())["0"] == 0
    assert len(calls) == 1


def test_one_shot_factory_with_an_iterable_and_a_subclass_property():
    stash = OneShotFactoryStash(DictionaryStash(), worker=[("a", 1), ("b", 2)])
    assert dict(stash.items()) == {"a": 1, "b": 2}

    class Sub(OneShotFactoryStash):
        @property
        def worker(self):
            return iter([("k", "v")])

    assert Sub(DictionaryStash())["k"] == "v"


def test_one_shot_factory_skips_work_when_delegate_has_data():
    stash = OneShotFactoryStash(
        DictionaryStash({"old": 1}), worker=lambda: pytest.fail("must not run")
    )
    assert dict(stash.items()) == {"old": 1}


def test_one_shot_factory_without_worker():
    with pytest.raises(PersistableError, match="no worker"):
        OneShotFactoryStash(DictionaryStash())["a"]


def test_one_shot_factory_worker_may_read_the_stash():
    holder = {}

    def work():
        assert len(holder["stash"].delegate) == 0
        yield "a", 1

    stash = OneShotFactoryStash(DictionaryStash(), worker=work)
    holder["stash"] = stash
    assert stash["a"] == 1

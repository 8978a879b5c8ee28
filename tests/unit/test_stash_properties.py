"""Property test: every writable stash behaves like a dict under random operation sequences."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from persist_ext.features._stash import (
    CacheStash,
    DictionaryStash,
    DirectoryStash,
    DiskCacheStash,
    IncrementKeyDirectoryStash,
    ShelveStash,
    Stash,
)

# Keys include the awkward ones: path separators, dots, '%', non-ASCII, control characters.
KEYS = st.one_of(
    st.sampled_from(["a", "b", "../up", "a/b", ".hidden", "..", "100%", "ünï", "x y", "%2E"]),
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=6),
)
VALUES = st.one_of(
    st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=3)
)


def _ops(keys: st.SearchStrategy[str]) -> st.SearchStrategy[list[tuple]]:
    op = st.one_of(
        st.tuples(st.just("set"), keys, VALUES),
        st.tuples(st.just("set"), keys, VALUES),
        st.tuples(st.just("getitem"), keys),
        st.tuples(st.just("get"), keys),
        st.tuples(st.just("delitem"), keys),
        st.tuples(st.just("delete"), keys),
        st.tuples(st.just("contains"), keys),
        st.tuples(st.just("len")),
        st.tuples(st.just("items")),
        st.tuples(st.just("clear")),
    )
    return st.lists(op, max_size=25)


def check_against_dict(stash: Stash, ops: list[tuple], model: dict | None = None) -> None:
    model = {} if model is None else model
    sentinel = object()
    for op, *args in ops:
        if op == "set":
            key, value = args
            stash[key] = value
            model[key] = value
        elif op == "getitem":
            (key,) = args
            if key in model:
                assert stash[key] == model[key]
            else:
                with pytest.raises(KeyError):
                    stash[key]
        elif op == "get":
            (key,) = args
            assert stash.get(key, sentinel) == model.get(key, sentinel)
        elif op == "delitem":
            (key,) = args
            if key in model:
                del stash[key]
                del model[key]
            else:
                with pytest.raises(KeyError):
                    del stash[key]
        elif op == "delete":
            (key,) = args
            stash.delete(key)
            model.pop(key, None)
        elif op == "contains":
            (key,) = args
            assert (key in stash) == (key in model)
        elif op == "len":
            assert len(stash) == len(model)
        elif op == "items":
            assert sorted(stash.keys()) == sorted(model)
            assert dict(stash) == model  # iteration yields (key, value) pairs
        elif op == "clear":
            stash.clear()
            model.clear()
    assert dict(stash.items()) == model


class _TempDir(AbstractContextManager):
    def __enter__(self) -> Path:
        self._tmp = tempfile.TemporaryDirectory()
        return Path(self._tmp.name)

    def __exit__(self, *exc: object) -> None:
        self._tmp.cleanup()


STASHES: dict[str, Callable[[Path], Stash]] = {
    "DictionaryStash": lambda _: DictionaryStash(),
    "DirectoryStash": lambda d: DirectoryStash(d / "stash"),
    "DirectoryStash-pattern": lambda d: DirectoryStash(d, pattern="v-{name}.pkl"),
    "ShelveStash": lambda d: ShelveStash(d / "shelf"),
    "ShelveStash-open": lambda d: ShelveStash(d / "shelf", auto_close=False),
    "CacheStash-Directory": lambda d: CacheStash(DirectoryStash(d)),
    "CacheStash-Dictionary": lambda _: CacheStash(DictionaryStash()),
    "DiskCacheStash": lambda d: DiskCacheStash(d / "store"),
    "CacheStash-DiskCache": lambda d: CacheStash(DiskCacheStash(d / "store")),
}


@pytest.mark.parametrize("kind", sorted(STASHES))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_ops(KEYS))
def test_stash_behaves_like_a_dict(kind: str, ops: list[tuple]) -> None:
    with _TempDir() as directory:
        stash = STASHES[kind](directory)
        try:
            check_against_dict(stash, ops)
        finally:
            close = getattr(stash, "close", None)
            if close is not None:
                close()


@settings(max_examples=40, deadline=None)
@given(ops=_ops(st.integers(1, 12).map(str)), appends=st.lists(VALUES, max_size=4))
def test_increment_key_stash_behaves_like_a_dict(ops: list[tuple], appends: list[Any]) -> None:
    with _TempDir() as directory:
        stash = IncrementKeyDirectoryStash(directory)
        model: dict[str, Any] = {}
        check_against_dict(stash, ops, model)
        for value in appends:
            expected = str(max(map(int, model), default=0) + 1)
            assert stash.dump(value) == expected
            model[expected] = value
            assert stash.load() == value
        assert dict(stash.items()) == model


@settings(max_examples=25, deadline=None)
@given(ops=_ops(KEYS))
def test_cache_stash_stays_coherent_with_its_delegate(ops: list[tuple]) -> None:
    with _TempDir() as directory:
        delegate = DirectoryStash(directory)
        check_against_dict(CacheStash(delegate), ops)
        reopened = DirectoryStash(directory)
        assert dict(reopened.items()) == dict(CacheStash(delegate).items())

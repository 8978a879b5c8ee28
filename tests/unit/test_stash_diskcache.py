"""DiskCacheStash on the real diskcache Store."""

from __future__ import annotations

import os
import pickle
import threading

import pytest

from persist_ext._errors import SerializationError
from persist_ext.features._stash import DirectoryStash, DiskCacheStash, MultiProcessStash
from persist_ext.storage._store import Store


def test_crud(tmp_path):
    with DiskCacheStash(tmp_path / "store") as stash:
        assert list(stash.keys()) == []
        assert len(stash) == 0
        stash["a"] = {"x": 1}
        stash["n"] = None
        stash["../odd key/ü"] = [1, 2]
        assert stash["a"] == {"x": 1}
        assert stash["n"] is None
        assert stash["../odd key/ü"] == [1, 2]
        assert stash.load("missing") is None
        assert stash.get("missing", 5) == 5
        assert sorted(stash.keys()) == sorted(["a", "n", "../odd key/ü"])
        assert dict(stash) == {"a": {"x": 1}, "n": None, "../odd key/ü": [1, 2]}
        with pytest.raises(KeyError):
            stash["missing"]
        del stash["a"]
        stash.delete("missing")
        assert "a" not in stash
        stash.clear()
        assert len(stash) == 0


def test_values_survive_reopening(tmp_path):
    with DiskCacheStash(tmp_path) as stash:
        stash["k"] = list(range(10))
    with DiskCacheStash(tmp_path) as again:
        assert again["k"] == list(range(10))


def test_default_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("PERSIST_EXT_DIR", str(tmp_path / "env-store"))
    with DiskCacheStash() as stash:
        stash["k"] = 1
    assert (tmp_path / "env-store").is_dir()


def test_shares_a_store_without_touching_other_keys(tmp_path):
    store = Store(tmp_path)
    try:
        store.set("cell/abc/manifest", {"keep": True})
        stash = DiskCacheStash(store)
        other = DiskCacheStash(store, prefix="other/")
        stash["a"] = 1
        other["a"] = 2
        assert stash["a"] == 1
        assert other["a"] == 2
        stash.clear()
        assert store.get("cell/abc/manifest") == {"keep": True}
        assert other["a"] == 2
        stash.close()  # a store passed in stays open
        assert store.get("other/a") == 2
    finally:
        store.close()


def test_bad_input(tmp_path):
    with DiskCacheStash(tmp_path) as stash:
        stash["k"] = "old"
        with pytest.raises(SerializationError):
            stash["k"] = threading.Lock()
        assert stash["k"] == "old"
        with pytest.raises(TypeError, match="non-empty str"):
            stash[3] = 1  # type: ignore[index]
    with pytest.raises(TypeError, match="KeyValueStore"):
        DiskCacheStash(42)  # type: ignore[arg-type]
    store = Store(tmp_path / "s")
    try:
        with pytest.raises(TypeError, match="only apply"):
            DiskCacheStash(store, durable=True)
    finally:
        store.close()


def test_numpy_values(tmp_path):
    import numpy as np

    with DiskCacheStash(tmp_path) as stash:
        array = np.arange(200_000, dtype="float64")
        stash["arr"] = array
        np.testing.assert_array_equal(stash["arr"], array)


class Squares(MultiProcessStash):
    def _create_data(self):
        return range(6)

    def _process(self, chunk):
        for i in chunk:
            yield str(i), (i * i, os.getpid())


def test_multiprocess_workers_write_the_store_directly(tmp_path):
    stash = Squares(DiskCacheStash(tmp_path), workers=2, chunk_size=2)
    values = dict(stash.items())
    assert {k: v[0] for k, v in values.items()} == {str(i): i * i for i in range(6)}
    assert os.getpid() not in {pid for _, pid in values.values()}
    stash.close()


def test_pickles_when_it_owns_the_store(tmp_path):
    with DiskCacheStash(tmp_path) as stash:
        stash["a"] = 1
        clone = pickle.loads(pickle.dumps(stash))
        assert clone["a"] == 1
        clone.close()


def test_directory_and_diskcache_stashes_agree(tmp_path):
    directory = DirectoryStash(tmp_path / "d")
    with DiskCacheStash(tmp_path / "c") as cache:
        for stash in (directory, cache):
            stash["x"] = (1, "two")
        assert directory["x"] == cache["x"]

"""The REST API of the server extension, against a real Jupyter server that requires a token."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import diskcache
import numpy as np
import pytest
from tornado.httpclient import HTTPClientError

from persist_ext.storage._store import Store


class _Tripwire:
    """Unpickling this creates a file: proof that the server decoded a value."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


@pytest.fixture
def stores(jp_root_dir: Path) -> Path:
    """A persist_ext store, another tool's diskcache cache, and things that are not stores."""
    with Store(jp_root_dir / "project" / ".persist") as store:
        store.set("cell/load", np.zeros((1000, 300)))  # large: payload in its own file
        store.set("answer", 42)
        store.set("gone", 1, expire=0.001)
    with diskcache.Cache(jp_root_dir / "results") as cache:
        cache.set("blob", b"\x00" * 10)
        cache.set("count", 7)
        cache.set("text", "x" * 100_000)
        cache.set("evil", _Tripwire(jp_root_dir / "UNPICKLED"))
        cache.set(("tuple", "key"), 1)
    # Not stores: hidden tool folders are skipped, plain folders have no index.
    with diskcache.Cache(jp_root_dir / ".hidden" / "cache"):
        pass
    (jp_root_dir / "data").mkdir()
    time.sleep(0.01)  # let "gone" expire
    return jp_root_dir


async def _get_json(jp_fetch, *parts: str, **kwargs) -> dict:
    response = await jp_fetch("persist-ext", "api", *parts, **kwargs)
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.body)


async def test_stores_lists_every_store_under_the_root(jp_fetch, stores: Path) -> None:
    reply = await _get_json(jp_fetch, "stores")
    assert reply["root"] == str(stores.resolve())
    assert reply["truncated"] is False
    by_path = {store["path"]: store for store in reply["stores"]}
    assert sorted(by_path) == ["project/.persist", "results"]
    project = by_path["project/.persist"]
    assert project["entries"] == 2  # the expired entry is not counted
    assert project["size"] > 2_400_000  # the array's blob file is counted
    assert project["error"] is None
    assert by_path["results"]["entries"] == 5


async def test_entries_come_from_the_stored_summaries(jp_fetch, stores: Path) -> None:
    reply = await _get_json(jp_fetch, "stores", "entries", params={"path": "project/.persist"})
    assert reply["path"] == "project/.persist"
    assert reply["truncated"] is False
    by_key = {entry["key"]: entry for entry in reply["entries"]}
    assert set(by_key) == {"cell/load", "answer"}
    array = by_key["cell/load"]
    assert array["type"] == "numpy.ndarray"
    assert array["summary"]["shape"] == [1000, 300]
    assert array["size"] == 1000 * 300 * 8 + 64
    assert by_key["answer"]["type"] == "int"
    for entry in reply["entries"]:
        assert entry["created"] > 0
        assert set(entry) >= {"key", "type", "size", "created", "serializer", "summary"}


async def test_foreign_caches_are_described_but_never_unpickled(jp_fetch, stores: Path) -> None:
    index = stores / "results" / "cache.db"
    settings_before = _settings(index)
    reply = await _get_json(jp_fetch, "stores", "entries", params={"path": "results"})
    by_key = {entry["key"]: entry for entry in reply["entries"]}
    assert set(by_key) == {"blob", "count", "text", "evil", "<pickled key>"}
    assert by_key["blob"]["type"] == "bytes"
    assert by_key["blob"]["size"] == 10
    assert by_key["count"]["type"] == "int"
    assert by_key["text"]["type"] == "str"
    assert by_key["text"]["size"] >= 100_000
    assert by_key["evil"]["type"] == "pickled object"
    assert not (stores / "UNPICKLED").exists()
    assert _settings(index) == settings_before  # browsing changed nothing


def _settings(index: Path) -> dict:
    with sqlite3.connect(f"{index.as_uri()}?mode=ro", uri=True) as connection:
        return dict(connection.execute("SELECT key, value FROM Settings").fetchall())


async def test_requests_without_a_token_are_refused(jp_fetch, stores: Path) -> None:
    for parts in (("stores",), ("stores", "entries")):
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch(
                "persist-ext",
                "api",
                *parts,
                params={"path": "results"},
                headers={"Authorization": ""},
                follow_redirects=False,
            )
        assert info.value.code == 403


@pytest.mark.parametrize("path", ["../outside", "/etc", "project/../../x", "results/../.."])
async def test_paths_outside_the_root_are_refused(jp_fetch, stores: Path, path: str) -> None:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("persist-ext", "api", "stores", "entries", params={"path": path})
    assert info.value.code == 400
    assert "root" in json.loads(info.value.response.body)["message"]


async def test_symlink_out_of_the_root_is_refused(
    jp_fetch, stores: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    with diskcache.Cache(outside / ".persist") as cache:
        cache.set("secret", 1)
    (stores / "link").symlink_to(outside, target_is_directory=True)
    reply = await _get_json(jp_fetch, "stores")
    assert all(not store["path"].startswith("link") for store in reply["stores"])
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("persist-ext", "api", "stores", "entries", params={"path": "link/.persist"})
    assert info.value.code == 400


@pytest.mark.parametrize(("path", "code"), [("data", 404), ("missing", 404), ("", 400)])
async def test_non_stores_are_reported_clearly(
    jp_fetch, stores: Path, path: str, code: int
) -> None:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("persist-ext", "api", "stores", "entries", params={"path": path})
    assert info.value.code == code
    assert json.loads(info.value.response.body)["message"]


async def test_unreadable_index_is_reported_not_crashing(jp_fetch, stores: Path) -> None:
    broken = stores / "broken"
    broken.mkdir()
    (broken / "cache.db").write_bytes(b"this is not sqlite")
    reply = await _get_json(jp_fetch, "stores")
    row = next(store for store in reply["stores"] if store["path"] == "broken")
    assert row["entries"] == 0
    assert "cache.db" in row["error"]
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("persist-ext", "api", "stores", "entries", params={"path": "broken"})
    assert info.value.code == 422

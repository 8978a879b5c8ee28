"""The REST API of the server extension, against a real Jupyter server that requires a token."""

from __future__ import annotations

import json
from pathlib import Path

import diskcache
import pytest
from tornado.httpclient import HTTPClientError


@pytest.fixture
def stores(jp_root_dir: Path) -> Path:
    """Two stores under the server root: a notebook's ``.persist`` and a named cache."""
    with diskcache.Cache(jp_root_dir / "project" / ".persist") as cache:
        cache.set("cell/load", b"\x00" * 10)
        cache.set("answer", 42)
        cache.set("big", "x" * 100_000)
        cache.set(("tuple", "key"), [1, 2, 3])
    with diskcache.Cache(jp_root_dir / "results"):
        pass
    # Not stores: hidden tool folders are skipped, plain folders have no index.
    with diskcache.Cache(jp_root_dir / ".hidden" / "cache"):
        pass
    (jp_root_dir / "data").mkdir()
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
    assert project["entries"] == 4
    assert project["size"] > 100_000  # the large string lives in its own file
    assert project["error"] is None
    assert by_path["results"]["entries"] == 0


async def test_entries_describe_values_without_decoding(jp_fetch, stores: Path) -> None:
    reply = await _get_json(jp_fetch, "stores", "entries", params={"path": "project/.persist"})
    assert reply["path"] == "project/.persist"
    assert reply["truncated"] is False
    by_key = {entry["key"]: entry for entry in reply["entries"]}
    assert set(by_key) == {"cell/load", "answer", "big", "<pickled key>"}
    assert by_key["answer"]["type"] == "int"
    assert by_key["cell/load"]["type"] == "bytes"
    assert by_key["cell/load"]["size"] == 10
    assert by_key["big"]["type"] == "str"
    assert by_key["big"]["size"] >= 100_000
    assert by_key["<pickled key>"]["type"] == "pickled object"
    for entry in reply["entries"]:
        assert entry["created"] > 0
        assert set(entry) >= {"key", "type", "size", "created", "serializer", "summary"}


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
    assert info.value.code == 409

"""A hostile folder under the root: links out of it, crafted indices, absurd input (issue #11.4).

Against a real Jupyter server: the API answers a 4xx (or a store row with an error) quickly,
never reads outside the root, and Jupyter's other endpoints keep answering meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import diskcache
import pytest
from tornado.httpclient import HTTPClientError

from persist_ext._errors import StoreError
from persist_ext.interfaces.server._index import open_index
from persist_ext.storage._store import Store

SECRET = "secret-key-outside-the-root"


@pytest.fixture
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store outside the server's root, holding a key nobody should see through the API."""
    directory = tmp_path_factory.mktemp("outside") / "store"
    with Store(directory) as store:
        store.set(SECRET, {"password": "hunter2"})
    return directory


async def _fetch(jp_fetch, *parts: str, **params):
    try:
        response = await jp_fetch("persist-ext", "api", *parts, params=params)
    except HTTPClientError as exc:
        return exc.code, json.loads(exc.response.body)
    return response.code, json.loads(response.body)


async def test_a_symlinked_index_is_never_followed(
    jp_fetch, jp_root_dir: Path, outside: Path
) -> None:
    trap = jp_root_dir / "trap"
    trap.mkdir()
    (trap / "cache.db").symlink_to(outside / "cache.db")
    code, stores = await _fetch(jp_fetch, "stores")
    assert code == 200
    row = next(store for store in stores["stores"] if store["path"] == "trap")
    assert row["entries"] == 0
    assert "symbolic link" in row["error"]
    for route in ("entries", "cells", "groups"):
        code, reply = await _fetch(jp_fetch, "stores", route, path="trap")
        assert code == 422
        assert "symbolic link" in reply["message"]
        assert SECRET not in json.dumps(reply)


@pytest.mark.parametrize("side", ["-wal", "-shm"])
async def test_symlinked_side_files_are_refused(
    jp_fetch, jp_root_dir: Path, outside: Path, side: str
) -> None:
    trap = jp_root_dir / "trap"
    with Store(trap) as store:
        store.set("inside", 1)
    target = outside / "elsewhere"
    target.write_bytes(b"")
    side_file = trap / f"cache.db{side}"
    side_file.unlink(missing_ok=True)
    side_file.symlink_to(target)
    code, reply = await _fetch(jp_fetch, "stores", "entries", path="trap")
    assert code == 422
    assert "symbolic link" in reply["message"]


async def test_a_symlinked_store_folder_is_refused(
    jp_fetch, jp_root_dir: Path, outside: Path
) -> None:
    (jp_root_dir / "link").symlink_to(outside, target_is_directory=True)
    code, stores = await _fetch(jp_fetch, "stores")
    assert all(not store["path"].startswith("link") for store in stores["stores"])
    code, reply = await _fetch(jp_fetch, "stores", "entries", path="link")
    assert code in (400, 404)
    assert SECRET not in json.dumps(reply)


async def test_a_symlinked_blob_is_not_counted_or_read(
    jp_fetch, jp_root_dir: Path, outside: Path
) -> None:
    big = outside / "big.bin"
    big.write_bytes(b"\0" * 5_000_000)
    with Store(jp_root_dir / "s") as store:
        store.set("x", 1)
    (jp_root_dir / "s" / "blobs").mkdir(exist_ok=True)
    (jp_root_dir / "s" / "blobs" / "planted.bin").symlink_to(big)
    _code, stores = await _fetch(jp_fetch, "stores")
    row = next(store for store in stores["stores"] if store["path"] == "s")
    assert row["size"] < 1_000_000


def _recursive_view_index(directory: Path, *, as_settings: bool = False) -> None:
    """A diskcache-looking index whose ``Cache`` (or ``Settings``) is an endless view."""
    directory.mkdir(parents=True)
    connection = sqlite3.connect(directory / "cache.db")
    endless = (
        "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) "
        "SELECT 'k' || x AS key, 1 AS raw, 0.0 AS store_time, NULL AS expire_time, "
        "1 AS mode, NULL AS filename, 0 AS size, x AS value, 'key' AS value2 FROM r"
    )
    if as_settings:
        connection.execute(
            "CREATE TABLE Cache (rowid INTEGER PRIMARY KEY, key BLOB, raw INTEGER, "
            "store_time REAL, expire_time REAL, access_time REAL, access_count INTEGER, "
            "tag BLOB, size INTEGER, mode INTEGER, filename TEXT, value BLOB)"
        )
        connection.execute(
            "CREATE VIEW Settings AS WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
            "FROM r) SELECT 'count' AS key, x AS value FROM r"
        )
    else:
        connection.execute(f"CREATE VIEW Cache AS {endless}")
    connection.commit()
    connection.close()


@pytest.mark.parametrize("as_settings", [False, True])
async def test_a_crafted_index_answers_an_error_and_jupyter_keeps_answering(
    jp_fetch, jp_root_dir: Path, as_settings: bool
) -> None:
    _recursive_view_index(jp_root_dir / "hostile", as_settings=as_settings)
    stores_call = asyncio.ensure_future(_fetch(jp_fetch, "stores"))
    entries_call = asyncio.ensure_future(_fetch(jp_fetch, "stores", "entries", path="hostile"))
    # Jupyter's own endpoints answer while persist_ext's requests are in flight.
    specs = await jp_fetch("api", "kernelspecs")
    assert specs.code == 200
    code, stores = await asyncio.wait_for(stores_call, timeout=60)
    assert code == 200
    row = next(store for store in stores["stores"] if store["path"] == "hostile")
    if as_settings:  # the view is never read: the real (empty) Cache table is counted
        assert row["error"] is None
        assert row["entries"] == 0
    else:
        assert row["error"]
    code, reply = await asyncio.wait_for(entries_call, timeout=60)
    if as_settings:
        assert code == 200  # the Cache table is real (and empty); Settings is not needed
    else:
        assert code == 422
        assert "not a diskcache index" in reply["message"]


def test_sqlite_work_is_bounded_by_a_deadline(tmp_path: Path) -> None:
    with Store(tmp_path / "s") as store:
        store.set("a", 1)
    started = time.monotonic()
    with (
        pytest.raises(StoreError, match="longer than the server allows"),
        open_index(tmp_path / "s", deadline=0.2) as connection,
    ):
        connection.execute(
            "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT count(*) FROM r"
        ).fetchone()
    # Property, not speed: the endless query was stopped (it would never end otherwise).
    assert time.monotonic() - started < 600


def test_the_index_is_opened_read_only(tmp_path: Path) -> None:
    with diskcache.Cache(tmp_path / "c") as cache:
        cache.set("a", 1)
    with open_index(tmp_path / "c") as connection, pytest.raises(sqlite3.Error):
        connection.execute("DELETE FROM Cache")
    with diskcache.Cache(tmp_path / "c") as cache:
        assert cache.get("a") == 1


@pytest.mark.parametrize(
    "path",
    [
        "x" * 5000,
        "a/" + "y" * 300,
        "/" * 3,
        "~root",
        "a\\..\\..\\etc",
        "%2e%2e/%2e%2e",
        "\u202e/evil",
    ],
)
async def test_absurd_paths_are_4xx_with_a_message(jp_fetch, jp_root_dir: Path, path: str) -> None:
    for route in ("entries", "cells", "groups", "group"):
        code, reply = await _fetch(jp_fetch, "stores", route, path=path, name="g")
        assert 400 <= code < 500, (route, code)
        assert reply["message"]


async def test_an_absurd_group_name_is_4xx(jp_fetch, jp_root_dir: Path) -> None:
    Store(jp_root_dir / ".persist").close()
    for name in ("../../x", "a" * 5000, "*", "[", "g/../../log"):
        code, reply = await _fetch(jp_fetch, "stores", "group", path=".persist", name=name)
        assert 400 <= code < 500
        assert reply["message"]

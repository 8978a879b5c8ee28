"""The Persist panel's API against a real Jupyter server: paging, cells, groups, mutations."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

from persist_ext.features._cellcache._entry import Manifest, cell_prefix, new_run_id, write_entry
from persist_ext.features._cellcache._views import EntryDetails
from persist_ext.features._covars import Group
from persist_ext.storage._store import Store

from ._seed import LeaseHolder, fill, run_group, store_cell


async def _get(jp_fetch, route: str, **params) -> dict:
    response = await jp_fetch("persist-ext", "api", *route.split("/"), params=params)
    assert response.code == 200
    return json.loads(response.body)


async def _error(jp_fetch, route: str, method: str = "GET", body=None, **params) -> tuple:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(
            "persist-ext", "api", *route.split("/"), method=method, params=params, body=body
        )
    return info.value.code, json.loads(info.value.response.body)["message"]


# -- stores -----------------------------------------------------------------------------------


async def test_nested_stores_are_listed_with_their_own_sizes(jp_fetch, jp_root_dir: Path) -> None:
    import numpy as np

    with Store(jp_root_dir / ".persist") as outer:
        outer.set("small", 1)
    with Store(jp_root_dir / ".persist" / "widgets-demo") as inner:
        inner.set("big", np.zeros(1_000_000))  # 8 MB, in the nested store only
    reply = await _get(jp_fetch, "stores")
    by_path = {store["path"]: store for store in reply["stores"]}
    assert set(by_path) == {".persist", ".persist/widgets-demo"}
    assert by_path[".persist"]["nested"] == [".persist/widgets-demo"]
    assert by_path[".persist/widgets-demo"]["size"] > 8_000_000
    assert by_path[".persist"]["size"] < 1_000_000  # the nested store's bytes are its own
    assert by_path[".persist/widgets-demo"]["entries"] == 1


# -- entries: paging and filtering in SQL -------------------------------------------------------


@pytest.fixture
def stash(jp_root_dir: Path) -> Path:
    fill(jp_root_dir / "stash", (f"runs/{i:05d}" for i in range(1200)))
    fill(jp_root_dir / "stash", (f"images/img-{i:04d}.png" for i in range(300)), b"x")
    return jp_root_dir


async def test_every_entry_is_reachable_page_by_page(jp_fetch, stash: Path) -> None:
    seen: list[str] = []
    after = None
    while True:
        params = {"path": "stash", "limit": "250"}
        if after is not None:
            params["after"] = after
        page = await _get(jp_fetch, "stores/entries", **params)
        assert page["total"] == 1500
        seen += [entry["key"] for entry in page["entries"]]
        if page["next"] is None:
            break
        after = page["next"]
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen)) == 1500


async def test_offset_pages_match_cursor_pages(jp_fetch, stash: Path) -> None:
    first = await _get(jp_fetch, "stores/entries", path="stash", limit="100")
    second = await _get(jp_fetch, "stores/entries", path="stash", limit="100", after=first["next"])
    by_offset = await _get(jp_fetch, "stores/entries", path="stash", limit="100", offset="100")
    assert [e["key"] for e in second["entries"]] == [e["key"] for e in by_offset["entries"]]


async def test_prefix_and_glob_filters(jp_fetch, stash: Path) -> None:
    images = await _get(jp_fetch, "stores/entries", path="stash", prefix="images/", limit="1000")
    assert images["total"] == 300
    assert all(e["key"].startswith("images/") for e in images["entries"])
    globbed = await _get(jp_fetch, "stores/entries", path="stash", glob="runs/*7", limit="1000")
    assert globbed["total"] == 120
    assert all(e["key"].endswith("7") for e in globbed["entries"])
    nothing = await _get(jp_fetch, "stores/entries", path="stash", prefix="nope/")
    assert nothing["total"] == 0
    assert nothing["entries"] == []
    assert nothing["next"] is None


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "1001"},
        {"limit": "ten"},
        {"offset": "-1"},
        {"offset": "9" * 40},
        {"prefix": "x" * 5000},
        {"after": "k" * 5000},
    ],
)
async def test_malformed_arguments_are_400_with_a_message(
    jp_fetch, stash: Path, params: dict
) -> None:
    code, message = await _error(jp_fetch, "stores/entries", path="stash", **params)
    assert code == 400
    assert message


# -- cells ----------------------------------------------------------------------------------------


async def test_cells_are_listed_by_name_notebook_and_cell(jp_fetch, jp_root_dir: Path) -> None:
    directory = jp_root_dir / ".persist"
    store_cell(directory, "load", hits=3)
    store_cell(directory, "load", digest="f" * 32, cell_id="c0ffee")
    store_cell(directory, "plot", digest="a" * 32, notebook="b.ipynb", cell_id="beef")
    reply = await _get(jp_fetch, "stores/cells", path=".persist")
    cells = {cell["name"]: cell for cell in reply["cells"]}
    assert set(cells) == {"load", "plot"}
    load = cells["load"]
    assert len(load["variants"]) == 2
    assert load["notebook"] == "analysis/run.ipynb"
    assert load["cell_id"] == "c0ffee"
    assert load["hits"] == 3
    variant = next(v for v in load["variants"] if v["variant"] == "0123456789abcdef" * 2)
    assert variant["hits"] == 3
    assert variant["duration"] == 2.5
    assert variant["outputs"] == 1
    assert variant["inputs"] == ["file:data.csv", "var:alpha"]
    by_var = {v["name"]: v for v in variant["variables"]}
    assert by_var["total"]["type"] == "int"
    assert by_var["rows"]["type"] == "list"
    assert by_var["rows"]["size"] > 0


async def test_a_variable_packed_with_others_says_so_instead_of_0_bytes(
    jp_fetch, jp_root_dir: Path
) -> None:
    manifest = Manifest(
        name="packed", key="d" * 32, run=new_run_id(), code="big = ...", components={"code": "aa"}
    )
    with Store(jp_root_dir / ".persist") as store:
        values = {"big": list(range(100)), "view": [1], "alone": 3}
        stored, _ = write_entry(
            store, manifest, values, [], groups=[Group(("big", "view")), Group(("alone",))]
        )
    assert stored
    reply = await _get(jp_fetch, "stores/cells", path=".persist")
    (variant,) = reply["cells"][0]["variants"]
    by_var = {v["name"]: v for v in variant["variables"]}
    counted, partner = sorted(("big", "view"), key=lambda n: -(by_var[n]["size"] or 0))
    assert by_var[counted]["size"] > 0
    assert by_var[counted]["stored_with"] == []
    assert by_var[partner]["size"] == 0
    assert by_var[partner]["stored_with"] == [counted]
    assert by_var["alone"]["stored_with"] == []
    # %persist show says the same in words.
    assert f"  {partner}: list, stored with {counted}" in EntryDetails(manifest).lines()


async def test_deleting_a_variant_then_the_cell_removes_everything(
    jp_fetch, jp_root_dir: Path
) -> None:
    directory = jp_root_dir / ".persist"
    store_cell(directory, "load", hits=1)
    store_cell(directory, "load", digest="f" * 32)
    store_cell(directory, "keep", digest="e" * 32)
    await jp_fetch(
        "persist-ext",
        "api",
        "stores",
        "cells",
        method="DELETE",
        params={"path": ".persist", "name": "load", "variant": "f" * 32},
    )
    with Store(directory) as store:
        left = list(store.keys(cell_prefix("load")))
    assert left
    assert not any("f" * 32 in key for key in left)
    await jp_fetch(
        "persist-ext",
        "api",
        "stores",
        "cells",
        method="DELETE",
        params={"path": ".persist", "name": "load"},
    )
    with Store(directory) as store:
        assert list(store.keys(cell_prefix("load"))) == []  # manifest, values, outputs, hits
        assert list(store.keys(cell_prefix("keep")))  # another cell is untouched
    code, _ = await _error(jp_fetch, "stores/cells", method="DELETE", path=".persist", name="load")
    assert code == 404


async def test_a_cell_being_stored_by_a_kernel_is_not_deleted(jp_fetch, jp_root_dir: Path) -> None:
    directory = jp_root_dir / ".persist"
    store_cell(directory, "load")
    holder = LeaseHolder(directory, cell_prefix("load"))
    try:
        code, message = await _error(
            jp_fetch, "stores/cells", method="DELETE", path=".persist", name="load"
        )
        assert code == 409
        assert "being stored" in message
        with Store(directory) as store:
            assert any(k.endswith("/manifest") for k in store.keys(cell_prefix("load")))
    finally:
        holder.release()
    await jp_fetch(
        "persist-ext",
        "api",
        "stores",
        "cells",
        method="DELETE",
        params={"path": ".persist", "name": "load"},
    )


async def test_cell_and_group_entries_cannot_be_deleted_one_by_one(
    jp_fetch, jp_root_dir: Path
) -> None:
    manifest = store_cell(jp_root_dir / ".persist", "load")
    code, message = await _error(
        jp_fetch,
        "stores/entries",
        method="DELETE",
        path=".persist",
        key=f"{manifest.entry_prefix}manifest",
    )
    assert code == 400
    assert "whole cell" in message


async def test_a_stash_entry_is_deleted(jp_fetch, stash: Path) -> None:
    await jp_fetch(
        "persist-ext",
        "api",
        "stores",
        "entries",
        method="DELETE",
        params={"path": "stash", "key": "runs/00001"},
    )
    with Store(stash / "stash") as store:
        assert "runs/00001" not in store
        assert "runs/00002" in store


# -- task groups ----------------------------------------------------------------------------------


def _run_group(directory: Path, name: str = "squares") -> None:
    keys = [f"ok{x:02d}" for x in range(20)] + [f"bad{x}" for x in range(3)]
    run_group(directory, name, keys, failing=keys[20:], max_tries=1)


async def test_groups_are_read_from_the_store_without_a_kernel(jp_fetch, jp_root_dir: Path) -> None:
    directory = jp_root_dir / ".persist"
    await asyncio.to_thread(_run_group, directory)
    reply = await _get(jp_fetch, "stores/groups", path=".persist")
    (group,) = reply["groups"]
    assert group["name"] == "squares"
    assert group["total"] == 23
    assert group["counts"] == {"done": 20, "failed": 3, "running": 0, "todo": 0}
    assert group["running"] is False
    assert group["state"] == "failed"
    detail = await _get(jp_fetch, "stores/group", path=".persist", name="squares", limit="2")
    assert detail["tasks_total"] == 23
    assert [row["status"] for row in detail["tasks"]] == ["failed", "failed"]  # failures first
    assert "ValueError: bad input" in detail["tasks"][0]["error"]
    assert detail["levels"]
    assert detail["completed"] is not None
    failed = await _get(jp_fetch, "stores/group", path=".persist", name="squares", status="failed")
    assert {row["task"] for row in failed["tasks"]} == {"bad0", "bad1", "bad2"}


async def test_replay_marks_failed_tasks_and_is_refused_while_running(
    jp_fetch, jp_root_dir: Path
) -> None:
    directory = jp_root_dir / ".persist"
    await asyncio.to_thread(_run_group, directory)
    holder = LeaseHolder(directory, "tasks/squares")
    try:
        detail = await _get(jp_fetch, "stores/group", path=".persist", name="squares")
        assert detail["running"] is True
        assert detail["state"] == "running"
        code, message = await _error(
            jp_fetch,
            "stores/group/replay",
            method="POST",
            body="{}",
            path=".persist",
            name="squares",
        )
        assert code == 409
        assert "running in another process" in message
    finally:
        holder.kill()  # a killed process drops its lease
    response = await jp_fetch(
        "persist-ext",
        "api",
        "stores",
        "group",
        "replay",
        method="POST",
        body=json.dumps({"tasks": ["bad0", "bad2"]}),
        params={"path": ".persist", "name": "squares"},
    )
    assert sorted(json.loads(response.body)["replayed"]) == ["bad0#1", "bad2#1"]
    detail = await _get(jp_fetch, "stores/group", path=".persist", name="squares")
    assert detail["counts"] == {"done": 20, "failed": 1, "running": 0, "todo": 2}
    assert detail["running"] is False


async def test_a_waiting_request_answers_when_the_group_changes(
    jp_fetch, jp_root_dir: Path
) -> None:
    directory = jp_root_dir / ".persist"
    await asyncio.to_thread(_run_group, directory)
    first = await _get(jp_fetch, "stores/group", path=".persist", name="squares")
    # Unchanged: the request waits, then answers with the same version.
    same = await _get(
        jp_fetch,
        "stores/group",
        path=".persist",
        name="squares",
        since=first["version"],
        wait="1",
    )
    assert same["version"] == first["version"]
    # A change while waiting (another process replays a task) ends the wait with news.
    timer = threading.Timer(0.5, lambda: _replay_in_thread(directory))
    timer.start()
    try:
        news = await _get(
            jp_fetch,
            "stores/group",
            path=".persist",
            name="squares",
            since=first["version"],
            wait="20",
        )
    finally:
        timer.join()
    assert news["version"] != first["version"]
    assert news["counts"]["todo"] == 1


def _replay_in_thread(directory: Path) -> None:
    from persist_ext.interfaces.server._mutations import replay_failed

    replay_failed(directory, "squares", ["bad1"])


async def test_unknown_group_is_404(jp_fetch, jp_root_dir: Path) -> None:
    Store(jp_root_dir / ".persist").close()
    code, message = await _error(jp_fetch, "stores/group", path=".persist", name="nope")
    assert code == 404
    assert "nope" in message


async def test_the_groups_list_waits_for_news_too(jp_fetch, jp_root_dir: Path) -> None:
    directory = jp_root_dir / ".persist"
    await asyncio.to_thread(_run_group, directory)
    first = await _get(jp_fetch, "stores/groups", path=".persist")
    same = await _get(jp_fetch, "stores/groups", path=".persist", since=first["version"], wait="1")
    assert same["version"] == first["version"]
    timer = threading.Timer(0.5, lambda: _replay_in_thread(directory))
    timer.start()
    try:
        news = await _get(
            jp_fetch, "stores/groups", path=".persist", since=first["version"], wait="20"
        )
    finally:
        timer.join()
    assert news["version"] != first["version"]
    assert news["groups"][0]["counts"]["todo"] == 1


async def test_replay_of_an_unknown_group_is_404_and_writes_nothing(
    jp_fetch, jp_root_dir: Path
) -> None:
    before = await _ran_group_keys(jp_root_dir / ".persist")
    for name in ("nope", "squares-not", "squ*"):
        code, message = await _replay_error(jp_fetch, name, {})
        assert code == 404
        assert f"No task group {name!r}" in message
    assert await _ran_group_keys(jp_root_dir / ".persist", run=False) == before


async def _ran_group_keys(directory: Path, run: bool = True) -> list[str]:
    """Every key of ``directory`` (after running the "squares" group there when ``run``)."""
    if run:
        await asyncio.to_thread(_run_group, directory)
    with Store(directory) as store:
        return sorted(store.keys(""))


async def _replay_error(jp_fetch, name: str, body: dict) -> tuple:
    return await _error(
        jp_fetch,
        "stores/group/replay",
        method="POST",
        body=json.dumps(body),
        path=".persist",
        name=name,
    )


async def test_replay_naming_unknown_tasks_is_refused_naming_them_and_writes_nothing(
    jp_fetch, jp_root_dir: Path
) -> None:
    before = await _ran_group_keys(jp_root_dir / ".persist")
    code, message = await _replay_error(jp_fetch, "squares", {"tasks": ["bad0", "bad9", "nope"]})
    assert code == 400
    assert "'bad9'" in message
    assert "'nope'" in message
    assert "'bad0'" not in message  # it exists (and failed): not among the unknown
    # bad0 was not replayed either:
    assert await _ran_group_keys(jp_root_dir / ".persist", run=False) == before

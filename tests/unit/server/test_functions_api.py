"""Cached functions in the panel's API (issue #17): listed by name from headers, cleared whole."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

from persist_ext import cache
from persist_ext.features._budget import flush_uses
from persist_ext.features._memo._layout import PREFIX
from persist_ext.interfaces.server._functions import list_functions
from persist_ext.storage._store import Store


def _seed(directory: Path) -> dict[str, list]:
    """Two cached functions: ``double`` (3 calls, one hit twice) and ``shout`` (1 call)."""
    store = Store(directory)

    @cache(store=store)
    def double(x: int) -> list[int]:
        return [x] * 2000

    @cache(store=store)
    def shout(text: str) -> str:
        return text.upper()

    for x in (1, 2, 3, 1, 1):
        double(x)
    shout("hi")
    flush_uses()
    store.close()
    return {"double": [1, 2, 3], "shout": ["hi"]}


async def _call(jp_fetch, method: str = "GET", **params) -> tuple[int, dict]:
    try:
        response = await jp_fetch(
            "persist-ext", "api", "stores", "functions", method=method, params=params
        )
    except HTTPClientError as exc:
        return exc.code, json.loads(exc.response.body)
    return response.code, json.loads(response.body)


def _memo_keys(directory: Path) -> list[str]:
    with Store(directory) as store:
        return sorted(store.keys(PREFIX))


def test_functions_are_listed_by_name_with_calls_hits_and_sizes(
    tmp_path: Path, monkeypatch
) -> None:
    _seed(tmp_path / "s")
    monkeypatch.setattr(pickle, "loads", _refuse)  # describing never decodes a result
    functions = {f["name"].rsplit(".", 1)[-1]: f for f in list_functions(tmp_path / "s")}
    assert set(functions) == {"double", "shout"}
    double = functions["double"]
    assert double["calls_total"] == len(double["calls"]) == 3
    assert double["hits"] == 2  # double(1) ran once and was a hit twice
    assert double["size"] == sum(c["size"] for c in double["calls"]) > 3 * 2000
    assert sorted(c["call"] for c in double["calls"]) == ["double(1)", "double(2)", "double(3)"]
    by_call = {c["call"]: c for c in double["calls"]}
    assert by_call["double(1)"]["hits"] == 2
    assert by_call["double(1)"]["last_used"] >= by_call["double(1)"]["created"]
    assert double["calls"][0]["call"] == "double(1)"  # most recently used first
    assert not any(c["computing"] for c in double["calls"])
    assert functions["shout"]["calls_total"] == 1


def _refuse(*args, **kwargs):
    raise AssertionError("the server must not unpickle a cached result")


async def test_clear_one_call_then_a_whole_function(jp_fetch, jp_root_dir: Path) -> None:
    _seed(jp_root_dir / "s")
    code, reply = await _call(jp_fetch, path="s")
    assert code == 200
    double = next(f for f in reply["functions"] if f["name"].endswith("double"))
    one = next(c for c in double["calls"] if c["call"] == "double(2)")

    code, reply = await _call(jp_fetch, "DELETE", path="s", name=double["key"], call=one["key"])
    assert (code, reply["deleted"]) == (200, 1)
    assert not any(f"/{one['key']}/" in key for key in _memo_keys(jp_root_dir / "s"))
    code, reply = await _call(jp_fetch, path="s")
    double = next(f for f in reply["functions"] if f["name"].endswith("double"))
    assert sorted(c["call"] for c in double["calls"]) == ["double(1)", "double(3)"]

    code, reply = await _call(jp_fetch, "DELETE", path="s", name=double["key"])
    assert (code, reply["deleted"]) == (200, 2)
    assert not any(k.startswith(f"{PREFIX}{double['key']}/") for k in _memo_keys(jp_root_dir / "s"))
    code, reply = await _call(jp_fetch, path="s")
    assert [f["name"].rsplit(".", 1)[-1] for f in reply["functions"]] == ["shout"]


def test_a_cleared_call_runs_again(tmp_path: Path) -> None:
    runs: list[int] = []
    store = Store(tmp_path / "s")

    @cache(store=store)
    def square(x: int) -> int:
        runs.append(x)
        return x * x

    assert square(4) == 16
    flush_uses()
    function = list_functions(tmp_path / "s")[0]
    from persist_ext.interfaces.server._mutations import clear_calls

    assert clear_calls(tmp_path / "s", function["key"], function["calls"][0]["key"]) == 1
    assert square(4) == 16
    assert runs == [4, 4]  # a miss after the clear, computed again
    store.close()


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"name": "../x"}, 400),
        ({"name": "nope"}, 404),
        ({"name": "f", "call": "not-hex"}, 400),
        ({"name": "f", "call": "0" * 32}, 404),
    ],
)
async def test_bad_clears_are_refused_with_the_reason(
    jp_fetch, jp_root_dir: Path, params: dict, code: int
) -> None:
    _seed(jp_root_dir / "s")
    before = _memo_keys(jp_root_dir / "s")
    got, reply = await _call(jp_fetch, "DELETE", path="s", **params)
    assert got == code
    assert reply["message"]
    assert _memo_keys(jp_root_dir / "s") == before


async def test_a_call_being_computed_cannot_be_cleared(jp_fetch, jp_root_dir: Path) -> None:
    _seed(jp_root_dir / "s")
    _, reply = await _call(jp_fetch, path="s")
    shout = next(f for f in reply["functions"] if f["name"].endswith("shout"))
    call = shout["calls"][0]["key"]
    with Store(jp_root_dir / "s") as store:  # a process's claim, as the memo runtime writes it
        store.add(f"{PREFIX}{shout['key']}/{call}/lock", {"pid": 1}, expire=60)
    before = _memo_keys(jp_root_dir / "s")
    got, reply = await _call(jp_fetch, "DELETE", path="s", name=shout["key"])
    assert got == 409
    assert "being computed" in reply["message"]
    assert _memo_keys(jp_root_dir / "s") == before
    _, reply = await _call(jp_fetch, path="s")
    shout = next(f for f in reply["functions"] if f["name"].endswith("shout"))
    assert shout["computing"] == 1


async def test_a_plain_entry_delete_refuses_memo_keys(jp_fetch, jp_root_dir: Path) -> None:
    _seed(jp_root_dir / "s")
    key = next(k for k in _memo_keys(jp_root_dir / "s") if k.endswith("/result"))
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(
            "persist-ext",
            "api",
            "stores",
            "entries",
            method="DELETE",
            params={"path": "s", "key": key},
        )
    assert info.value.code == 400
    assert key in _memo_keys(jp_root_dir / "s")

"""Listing stores remembers quiet stores (issue #15.3) and stays exact when they change."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import numpy as np

from persist_ext.interfaces.server import _stores
from persist_ext.interfaces.server._stores import find_stores
from persist_ext.storage._disk import drain_removals
from persist_ext.storage._store import Store

from ._seed import fill


def _age(store: Path, seconds: float = 60.0) -> None:
    """Make ``store`` look still for ``seconds`` (its files' mtimes moved back)."""
    past = time.time() - seconds
    for path in [store, *store.rglob("*")]:
        os.utime(path, (past, past), follow_symlinks=False)


def _disk_bytes(store: Path, nested: set[Path] = frozenset()) -> int:
    total = 0
    for path in store.rglob("*"):
        if path.is_file() and not any(n in path.parents for n in nested):
            total += path.stat().st_size
    return total


def _listed(root: Path) -> dict[str, _stores.StoreSummary]:
    stores, truncated = find_stores(root)
    assert not truncated
    return {store.path: store for store in stores}


def test_a_quiet_store_is_remembered_and_read_again_once_it_changes(tmp_path: Path) -> None:
    _stores._SCANS.clear()
    store_dir = tmp_path / ".persist"
    with Store(store_dir) as store:
        store.set("big", np.arange(2_000_000, dtype=np.float64))  # a blob file
        store.set("small", 1)
    _listed(tmp_path)  # a reader creates SQLite's side files (-shm) in the store
    _age(store_dir)
    first = _listed(tmp_path)[".persist"]
    assert str(store_dir) in _stores._SCANS  # quiet: remembered
    assert first.entries == 2
    assert first.size == _disk_bytes(store_dir)
    again = _listed(tmp_path)[".persist"]
    assert (again.entries, again.size) == (first.entries, first.size)

    with Store(store_dir) as store:
        store.delete("big")
        store.set("more", [1, 2, 3])
    drain_removals()
    _listed(tmp_path)  # the writer's close removed the side files; the reader makes them again
    changed = _listed(tmp_path)[".persist"]
    assert str(store_dir) not in _stores._SCANS  # written just now: not remembered
    assert changed.entries == 2
    assert changed.size == _disk_bytes(store_dir)
    assert changed.size < first.size - 15_000_000  # the 16 MB blob is gone from the count


def test_a_store_being_written_is_never_remembered(tmp_path: Path) -> None:
    _stores._SCANS.clear()
    with Store(tmp_path / "live") as store:
        store.set("a", 1)
    assert _listed(tmp_path)["live"].entries == 1
    assert str(tmp_path / "live") not in _stores._SCANS  # changed just now: read every time


def test_a_remembered_count_drops_when_an_entry_expires(tmp_path: Path) -> None:
    _stores._SCANS.clear()
    store_dir = tmp_path / "exp"
    with Store(store_dir) as store:
        store.set("stays", 1)
        store.set("goes", 2, expire=1.5)
    _age(store_dir)
    assert _listed(tmp_path)["exp"].entries == 2
    assert str(store_dir) in _stores._SCANS
    time.sleep(1.6)
    assert _listed(tmp_path)["exp"].entries == 1  # no write happened: expiry alone


def test_nested_store_bytes_stay_out_of_the_parent_when_both_are_remembered(
    tmp_path: Path,
) -> None:
    _stores._SCANS.clear()
    outer_dir, inner_dir = tmp_path / ".persist", tmp_path / ".persist" / "demo"
    with Store(outer_dir) as outer:
        outer.set("small", 1)
    with Store(inner_dir) as inner:
        inner.set("big", np.zeros(1_000_000))
    _listed(tmp_path)  # a reader creates SQLite's side files (-shm) in each store
    _age(outer_dir)
    for _ in range(2):  # computed, then remembered
        listed = _listed(tmp_path)
        assert listed[".persist"].nested == [".persist/demo"]
        assert listed[".persist"].size == _disk_bytes(outer_dir, {inner_dir})
        assert listed[".persist/demo"].size == _disk_bytes(inner_dir)
        assert listed[".persist/demo"].size > 8_000_000
    assert {str(outer_dir), str(inner_dir)} <= set(_stores._SCANS)


def test_a_listing_on_a_budget_shows_counting_never_a_stale_count(
    tmp_path: Path, monkeypatch
) -> None:
    """Counts not read within the budget are ``None`` ("counting…"), exact once read, and
    a remembered count is never shown for a store written since (issue #15.3)."""
    _stores._SCANS.clear()
    _stores._COUNTER.forget()
    dirs = [tmp_path / f"s{i}" for i in range(4)]
    for i, directory in enumerate(dirs):
        fill(directory, (f"k{j}" for j in range(i + 1)))
    _listed(tmp_path)  # SQLite's side files exist from here on
    _stores._SCANS.clear()
    _stores._COUNTER.forget()
    for directory in dirs:
        _age(directory)
    gate = threading.Event()
    real_count = _stores._count

    def gated(store: Path, **kwargs):
        gate.wait(30)
        return real_count(store, **kwargs)

    monkeypatch.setattr(_stores, "_count", gated)
    try:
        waiting, _ = find_stores(tmp_path, budget=0.1)
        assert [s.entries for s in waiting] == [None] * 4
        assert [s.size for s in waiting] == [_disk_bytes(d) for d in dirs]  # sizes are known
        gate.set()
        counted = _listed(tmp_path)  # no budget: waits for every count
        assert [counted[f"s{i}"].entries for i in range(4)] == [1, 2, 3, 4]
        gate.clear()
        remembered, _ = find_stores(tmp_path, budget=0.1)  # nothing read: all remembered
        assert [s.entries for s in remembered] == [1, 2, 3, 4]
        with Store(dirs[0]) as store:
            store.set("new", 1)
        _age(dirs[0])  # quiet again, but its index is not the one that was counted
        after, _ = find_stores(tmp_path, budget=0.1)
        assert [s.entries for s in after] == [None, 2, 3, 4]
        gate.set()
        assert _listed(tmp_path)["s0"].entries == 2
    finally:
        gate.set()


def _memo_counts(memo: Path) -> dict:
    try:
        return json.loads(memo.read_text())["counts"]
    except (OSError, ValueError, KeyError):
        return {}  # not written yet, or being replaced


def test_remembered_counts_survive_a_restart_and_never_outlive_a_change(
    tmp_path: Path, monkeypatch
) -> None:
    """A restarted server (a new counter reading the memo file) lists unchanged stores
    without reading their indexes; a store written since is counted again (#15.1)."""
    memo = tmp_path / "cache" / "store-counts.json"
    root = tmp_path / "root"
    dirs = [root / f"s{i}" for i in range(3)]
    for i, directory in enumerate(dirs):
        fill(directory, (f"k{j}" for j in range(i + 1)))
    find_stores(root)  # SQLite's side files exist from here on
    for directory in dirs:
        _age(directory)
    _stores._SCANS.clear()
    monkeypatch.setattr(_stores, "_COUNTER", _stores._Counter(memo))
    assert [s.entries for s in find_stores(root)[0]] == [1, 2, 3]
    # Counter threads save as they finish: wait for the file that holds all three counts
    # (one saved after the first count alone would make the "restart" below miss two).
    deadline = time.monotonic() + 30
    while len(_memo_counts(memo)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_memo_counts(memo)) == 3

    with Store(dirs[2]) as store:  # changed while the server was down
        store.set("new", 1)
    _age(dirs[2])
    _stores._SCANS.clear()
    monkeypatch.setattr(_stores, "_COUNTER", _stores._Counter(memo))  # a new server
    gate = threading.Event()
    real_count = _stores._count
    monkeypatch.setattr(
        _stores, "_count", lambda store, **kw: gate.wait(30) and real_count(store, **kw)
    )
    try:
        listed, _ = find_stores(root, budget=0.1)
        assert [s.entries for s in listed] == [1, 2, None]  # no index read; s2 is counted again
        gate.set()
        assert [s.entries for s in find_stores(root)[0]] == [1, 2, 4]
    finally:
        gate.set()


def test_a_malformed_memo_file_is_ignored(tmp_path: Path, monkeypatch) -> None:
    with Store(tmp_path / "root" / "s") as store:
        store.set("a", 1)
    memo = tmp_path / "m.json"
    key = list(_stores._scan_key(str(tmp_path / "root" / "s")))
    for text in ("{", "[]", '{"format": 1, "counts": {"%s": [%s, "9", null]}}'):
        memo.write_text(text % (tmp_path / "root" / "s", key) if "%" in text else text)
        monkeypatch.setattr(_stores, "_COUNTER", _stores._Counter(memo))
        _stores._SCANS.clear()
        assert [s.entries for s in find_stores(tmp_path / "root")[0]] == [1]


def test_the_memo_file_is_in_the_users_cache_or_where_configured(monkeypatch) -> None:
    monkeypatch.delenv("PERSIST_EXT_LISTING_MEMO", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere/cache")
    assert _stores.memo_path() == Path("/somewhere/cache/persist_ext/store-counts.json")
    monkeypatch.setenv("PERSIST_EXT_LISTING_MEMO", "/elsewhere/counts.json")
    assert _stores.memo_path() == Path("/elsewhere/counts.json")
    monkeypatch.setenv("PERSIST_EXT_LISTING_MEMO", "")
    assert _stores.memo_path() is None


def test_servers_sharing_the_memo_file_keep_each_others_counts(tmp_path: Path, monkeypatch) -> None:
    memo = tmp_path / "m.json"
    roots = [tmp_path / "a", tmp_path / "b"]
    for root in roots:
        with Store(root / "s") as store:
            store.set("x", 1)
        find_stores(root)
        _age(root / "s")
    for root in roots:  # two servers, one after the other, on different roots
        monkeypatch.setattr(_stores, "_COUNTER", _stores._Counter(memo))
        _stores._SCANS.clear()
        find_stores(root)
        deadline = time.monotonic() + 30
        while str(root / "s") not in memo.read_text() if memo.exists() else True:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    text = memo.read_text()
    assert str(roots[0] / "s") in text
    assert str(roots[1] / "s") in text


def test_a_store_written_just_now_is_counted_even_on_no_budget(tmp_path: Path) -> None:
    """Recently written stores are waited for (their counts cannot be remembered)."""
    with Store(tmp_path / "fresh") as store:
        store.set("a", 1)
        store.set("b", 2)
    listed, _ = find_stores(tmp_path, budget=0.0)
    assert [s.entries for s in listed] == [2]

"""Unstorable values in a real kernel: rebuilt after a restart by re-running their cells, or
named with the reason (a generator, open files, a lock, sqlite3 connections)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.kernel


def test_unstorable_values_are_rebuilt_or_named_after_a_restart(
    run_cells, text_of, tmp_path: Path
) -> None:
    (tmp_path / "notes.bin").write_bytes(b"HEADbody")
    first = run_cells(
        [
            "%load_ext persist_ext",
            "import sqlite3, threading",
            "rows = [(1, 'a'), (2, 'b')]",
            "db = sqlite3.connect(':memory:')\ndb.execute('create table t (k, v)')",
            "db.executemany('insert into t values (?, ?)', rows)\ndb.commit()",
            "squares = (k * k for k, _ in rows)",
            "first = next(squares)",
            "lock = threading.Lock()",
            "lock.acquire()",
            "raw = open('notes.bin', 'rb')",
            "header = raw.read(4)",
            "disk = sqlite3.connect('app.db')",
            "disk.execute('create table t (k)')\ndisk.execute('insert into t values (7)')\n"
            "disk.commit()",
            "log = open('log.txt', 'w')",
            "%persist checkpoint",
        ]
    )
    saved = text_of(first.cells[-1])
    for name in ("db", "squares", "lock", "raw", "disk"):
        assert f"skipped {name}: " in saved
    assert saved.count("rebuilt on restore by re-running") == 5, saved
    assert "skipped log: " in saved
    assert "not rebuilt on restore: its cell calls open() in a way that may write" in saved

    second = run_cells(
        [
            "%load_ext persist_ext",
            "%persist restore",
            "print(first, list(squares))",
            "print(lock.locked(), header, raw.read())",
            "print(db.execute('select count(*), sum(k) from t').fetchall())",
            "print(disk.execute('select count(*) from t').fetchall())",
            "print('log' in globals())",
        ]
    )
    restored = text_of(second.cells[1])
    for name in ("db", "squares", "lock", "raw", "disk"):
        assert f"rebuilt {name} by re-running the cell(s) that made it" in restored
    assert "skipped log: " in restored
    assert text_of(second.cells[2]).strip() == "1 [4]"  # next(squares) was replayed
    assert text_of(second.cells[3]).strip() == "True b'HEAD' b'body'"
    assert text_of(second.cells[4]).strip() == "[(2, 3)]"  # in memory: its cells replayed
    assert text_of(second.cells[5]).strip() == "[(1,)]"  # a file: reconnected, not replayed
    assert text_of(second.cells[6]).strip() == "False"
    assert (tmp_path / "log.txt").read_text() == ""

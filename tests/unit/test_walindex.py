"""The wal-index header as a commit detector (``storage._walindex``) and the store's
change token built on it: every commit, by any connection or process, moves it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from persist_ext import Store
from persist_ext.storage._walindex import WalIndex


@pytest.fixture
def database(tmp_path: Path):
    path = tmp_path / "db"
    con = sqlite3.connect(path, isolation_level=None)
    assert con.execute("PRAGMA journal_mode=wal").fetchone() == ("wal",)
    con.execute("CREATE TABLE t (a)")
    yield path, con
    con.close()


def test_every_commit_rewrites_the_header_and_reads_do_not(database) -> None:
    path, con = database
    index = WalIndex.beside(path)
    assert index is not None
    other = sqlite3.connect(path, isolation_level=None)
    statements = [
        "INSERT INTO t VALUES (1)",
        "PRAGMA wal_checkpoint(TRUNCATE)",  # the WAL starts over: the next commit resets it
        "INSERT INTO t VALUES (2)",
        "PRAGMA wal_checkpoint(RESTART)",
        "UPDATE t SET a = 3",
        "DELETE FROM t",
    ]
    for statement in statements:
        before = index.header()
        con.execute("SELECT count(*) FROM t").fetchall()  # a read rewrites nothing
        assert index.header() == before
        other.execute(statement).fetchall()
        if not statement.startswith("PRAGMA"):
            assert index.header() != before, statement
    other.close()
    index.close()


def test_no_index_without_wal(tmp_path: Path) -> None:
    path = tmp_path / "rollback.db"
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("CREATE TABLE t (a)")
    assert WalIndex.beside(path) is None
    con.close()
    assert WalIndex.beside(tmp_path / "absent.db") is None


_WRITER = (
    "import sys, sqlite3; from persist_ext import Store; s = Store(sys.argv[1]); "
    "con = sqlite3.connect(sys.argv[1] + '/cache.db', isolation_level=None); "
    "con.execute('PRAGMA wal_checkpoint(TRUNCATE)').fetchall(); con.close(); "
    "s.set(sys.argv[2], 1); s.close()"
)


def test_the_token_moves_with_every_commit_of_another_process(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    store.set("a", 1)
    token = store.change_token()
    for round_ in range(4):
        # Several calls with nothing committed: the header is mapped and compared.
        assert store.change_token() == token
        assert store.change_token() == token
        # Another process checkpoints (the WAL starts over) and writes.
        subprocess.run(
            [sys.executable, "-c", _WRITER, str(store.directory), f"k{round_}"], check=True
        )
        moved = store.change_token()
        assert moved != token, round_
        token = moved
    store.close()


def test_a_planted_symlink_is_not_mapped(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_bytes(b"x" * 4096)
    (tmp_path / "db-shm").symlink_to(target)
    assert WalIndex.beside(tmp_path / "db") is None

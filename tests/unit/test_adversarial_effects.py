"""What the file watch sees that a restore could not redo: programs, putenv, SQLite databases."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

from persist_ext.features._cellcache._effects import watch_files


def test_programs_are_seen_except_machine_probes(tmp_path: Path) -> None:
    with watch_files() as watch:
        subprocess.run(["uname"], capture_output=True, check=True)
        subprocess.run("true", shell=True, check=True)
        os.system("true")
    assert watch.commands == {"sh"}


def test_putenv_and_sqlite_databases_are_seen(tmp_path: Path) -> None:
    db = tmp_path / "data.sqlite"
    with watch_files() as watch:
        os.putenv("PERSIST_EXT_TEST_PUT", "1")
        os.unsetenv("PERSIST_EXT_TEST_GONE")
        sqlite3.connect(db).close()
        sqlite3.connect(":memory:").close()
    assert watch.putenv == {"PERSIST_EXT_TEST_PUT": "1", "PERSIST_EXT_TEST_GONE": None}
    assert watch.databases == {str(db.resolve())}

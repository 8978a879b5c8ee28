"""A store never reads, deletes or follows anything outside its directory, whatever its index
says: absolute names, ``..``, symbolic links. Such a row is refused; the store stays usable."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from persist_ext import DirectoryStash, Store, StoreError
from persist_ext.storage._disk import BLOB_DIR, MODE_BLOB


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file outside every store, in a folder of its own (``removedirs`` would take it)."""
    folder = tmp_path / "outside" / "deep"
    folder.mkdir(parents=True)
    path = folder / "precious.txt"
    path.write_text("keep me")
    return path


def edit_row(directory: Path, key: str, **columns: object) -> None:
    con = sqlite3.connect(directory / "cache.db")
    with con:
        sets = ", ".join(f"{name} = ?" for name in columns)
        con.execute(f"UPDATE Cache SET {sets} WHERE key = ?", (*columns.values(), key))
    con.close()


def hostile_names(victim: Path, store: Path) -> list[str]:
    relative = os.path.relpath(victim, store)
    return [str(victim), f"{BLOB_DIR}/../{relative}", f"{BLOB_DIR}/../../{relative}", relative]


@pytest.mark.parametrize("which", range(4))
def test_hostile_filename_rows_never_touch_outside(
    tmp_path: Path, victim: Path, which: int
) -> None:
    directory = tmp_path / "store"
    with Store(directory) as store:
        store.set("big", np.arange(300_000.0))
        store.set("small", 1)
        store.set("expired", 2)
    name = hostile_names(victim, directory)[which]
    edit_row(directory, "big", filename=name)
    edit_row(directory, "small", filename=name, mode=MODE_BLOB)
    edit_row(directory, "expired", filename=name, mode=MODE_BLOB, expire_time=time.time() - 10)
    (directory / BLOB_DIR / ".last-cleanup").unlink(missing_ok=True)  # daily cleanup: due
    with Store(directory) as store:  # opening cleans up: nothing outside may go
        assert victim.read_text() == "keep me"
        for key in ("big", "small"):
            with pytest.raises(StoreError, match="refused"):
                store.get(key)
            with pytest.raises(StoreError, match="refused"):
                store.info(key)
        assert sorted(store.keys()) == ["big", "small"]
        assert list(store.items_info()) == []  # refused rows are skipped, never followed
        store.cleanup()
        store.set("small", 3)  # overwriting a hostile row drops it, never its "file"
        assert store.get("small") == 3
        assert store.delete("big")
        store.set("new", np.ones(300_000))  # the store stays usable
        np.testing.assert_array_equal(store.get("new"), np.ones(300_000))
    assert victim.read_text() == "keep me"
    assert victim.parent.is_dir()


def test_other_diskcache_modes_are_never_read(tmp_path: Path, victim: Path) -> None:
    directory = tmp_path / "store"
    with Store(directory) as store:
        store.set("k", 1)
    for mode in (2, 3, 4):  # diskcache's binary, text and pickle files
        edit_row(directory, "k", filename=str(victim), mode=mode)
        with Store(directory) as store, pytest.raises(StoreError, match="not written"):
            store.get("k")
    assert victim.read_text() == "keep me"


def test_symlinked_blob_is_refused(tmp_path: Path, victim: Path) -> None:
    directory = tmp_path / "store"
    with Store(directory) as store:
        store.set("big", np.arange(300_000.0))
        (blob,) = (directory / BLOB_DIR).glob("*.bin")
        blob.unlink()
        blob.symlink_to(victim)
        for mmap in (False, True):
            with pytest.raises(StoreError, match="symbolic link"):
                store.get("big", mmap=mmap)
        assert store.delete("big")
    assert victim.read_text() == "keep me"


@pytest.mark.parametrize("name", ["cache.db", "cache.db-wal", BLOB_DIR])
def test_symlinked_index_or_blob_folder_is_refused(tmp_path: Path, victim: Path, name: str) -> None:
    other = tmp_path / "other"
    with Store(other) as store:
        store.set("secret", np.ones(300_000))
    directory = tmp_path / "store"
    with Store(directory) as store:
        store.set("x", 1)
    target = directory / name
    if target.is_dir():
        import shutil

        shutil.rmtree(target)
    elif target.exists():
        target.unlink()
    target.symlink_to(other / name if (other / name).exists() else victim)
    for read_only in (False, True):
        with pytest.raises(StoreError, match="symbolic link"):
            Store(directory, read_only=read_only)
    assert victim.read_text() == "keep me"


def test_cleanup_marker_symlink_is_not_followed(tmp_path: Path, victim: Path) -> None:
    directory = tmp_path / "store"
    with Store(directory) as store:
        store.set("x", np.ones(300_000))
    marker = directory / BLOB_DIR / ".last-cleanup"
    marker.unlink(missing_ok=True)
    missing = victim.parent / "created-by-touch"
    marker.symlink_to(missing)
    before = victim.stat().st_mtime
    with Store(directory) as store:
        store.cleanup()
    assert not missing.exists()
    assert victim.stat().st_mtime == before


def test_orphan_blob_symlink_is_removed_not_followed(tmp_path: Path, victim: Path) -> None:
    directory = tmp_path / "store"
    with Store(directory) as store:
        store.set("x", np.ones(300_000))
    link = directory / BLOB_DIR / ("a" * 32 + ".bin")
    link.symlink_to(victim)
    with Store(directory) as store:
        store.cleanup()
    assert victim.read_text() == "keep me"


KILLED_WRITER = """
import os, sys, numpy as np
from persist_ext.storage import _disk
from persist_ext import Store
store = Store(sys.argv[1])
real = _disk.BlobDisk.write_blob
def write_then_die(self, buffers):
    real(self, buffers)
    os._exit(9)  # killed after writing the blob, before its row commits
_disk.BlobDisk.write_blob = write_then_die
store.set("doomed", np.ones(400_000))
"""


def test_killed_writers_blobs_go_on_next_open_and_show_until_then(tmp_path: Path) -> None:
    directory = tmp_path / "store"
    with Store(directory) as store:
        store.set("kept", np.arange(300_000.0))
    reader = Store(directory, read_only=True)
    for _ in range(2):  # the second writer's open removes the first one's blob
        done = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(directory)], check=False)
        assert done.returncode == 9
    assert len(reader.debris()) == 1  # reported (e.g. by %persist info) until removed
    reader.close()
    with Store(directory) as store:  # the next open removes them
        assert store.debris() == []
        np.testing.assert_array_equal(store.get("kept"), np.arange(300_000.0))
        assert len(list((directory / BLOB_DIR).glob("*.bin"))) == 1


def test_a_live_writers_blob_is_never_removed(tmp_path: Path) -> None:
    directory = tmp_path / "store"
    with Store(directory) as writer:
        writer.set("pending", np.ones(300_000))
        # A blob written by a live process that has not committed its row yet:
        name, _, handle = writer._disk.write_blob([b"x" * 1000])
        with Store(directory) as other:  # another process's open and cleanup
            assert other.debris() == []  # held by a live writer: not debris
            other.cleanup()
            assert (directory / name).exists()
        handle.close()  # the writer "died" without a row: now it is debris
        with Store(directory) as other:
            assert not (directory / name).exists()
        np.testing.assert_array_equal(writer.get("pending"), np.ones(300_000))


def test_dead_writers_temp_files_go_on_the_next_stash_write(tmp_path: Path) -> None:
    stash = DirectoryStash(tmp_path / "d")
    stash.dump("a", 1)
    dead = tmp_path / "d" / ".a.dat.0123456789abcdef.tmp"
    dead.write_bytes(b"half written by a killed process")
    DirectoryStash(tmp_path / "d").dump("b", 2)
    assert not dead.exists()


@pytest.mark.parametrize("umask", [0o002, 0o022, 0o077])
def test_files_follow_the_umask(tmp_path: Path, umask: int) -> None:
    from persist_ext import FileStorage, ShelveStash

    old = os.umask(umask)
    try:
        with Store(tmp_path / "s") as store:
            store.set("big", np.ones(300_000))
            store.set("small", 1)
        stash = DirectoryStash(tmp_path / "d")
        stash.dump("k", 1)
        stash_next = tmp_path / "n"
        from persist_ext import IncrementKeyDirectoryStash

        IncrementKeyDirectoryStash(stash_next).dump({"x": 1})
        FileStorage(tmp_path / "wf").save("w", "t", 1)
        with ShelveStash(tmp_path / "shelf") as shelf:
            shelf["k"] = 1
        from persist_ext import POD

        with POD(tmp_path / "pod") as pod:
            pod["k"] = [1, 2]
    finally:
        os.umask(old)
    files = [
        p
        for root in ("s", "d", "n", "wf", "pod")
        for p in (tmp_path / root).rglob("*")
        if p.is_file() and p.name != ".last-cleanup"
    ]
    assert len(files) >= 5
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path
    for folder in (tmp_path / "s", tmp_path / "s" / BLOB_DIR):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o777 & ~umask, folder


def test_a_long_session_sweeps_other_writers_debris_on_large_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from persist_ext.storage import _store

    directory = tmp_path / "store"
    with Store(directory) as store:
        store.set("kept", np.arange(300_000.0))
        done = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(directory)], check=False)
        assert done.returncode == 9
        assert len(store.debris()) == 1
        monkeypatch.setattr(_store, "DEBRIS_EVERY", 0.0)  # "a minute later"
        store.set("next", np.ones(300_000))  # a large write sweeps
        assert store.debris() == []
        assert len(list((directory / BLOB_DIR).glob("*.bin"))) == 2


def test_persist_info_reports_debris_until_the_next_open(tmp_path: Path) -> None:
    from IPython.testing.globalipapp import get_ipython

    ip = get_ipython()
    ip.run_line_magic("load_ext", "persist_ext")
    directory = tmp_path / "store"
    with Store(directory) as store:
        store.set("kept", np.arange(300_000.0))
    before = repr(ip.run_line_magic("persist", f"info --dir {directory}"))  # opens the store
    assert "crash debris" not in before
    done = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(directory)], check=False)
    assert done.returncode == 9
    after = repr(ip.run_line_magic("persist", f"info --dir {directory}"))
    assert "crash debris: 1 orphan file(s)" in after
    with Store(directory) as store:  # the next open removes it
        assert store.debris() == []
    assert "crash debris" not in repr(ip.run_line_magic("persist", f"info --dir {directory}"))


@pytest.mark.parametrize(
    "sql",
    [
        # Cache as a view that never ends
        "DROP TABLE Cache; CREATE VIEW Cache AS WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL "
        "SELECT n + 1 FROM r) SELECT n AS rowid, n AS key, 1 AS raw, 0 AS store_time, "
        "NULL AS expire_time, 0 AS access_time, 0 AS access_count, NULL AS tag, 0 AS size, "
        "1 AS mode, NULL AS filename, x'00' AS value FROM r",
        # a trigger that spins on every write
        "DROP TRIGGER Settings_count_insert; CREATE TRIGGER Settings_count_insert AFTER INSERT "
        "ON Cache BEGIN SELECT count(*) FROM (WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL "
        "SELECT n + 1 FROM r) SELECT n FROM r); END",
    ],
)
def test_planted_sql_in_the_index_is_refused_quickly(tmp_path: Path, sql: str) -> None:
    directory = tmp_path / "store"
    with Store(directory) as store:
        store.set("x", 1)
    con = sqlite3.connect(directory / "cache.db")
    con.executescript(sql)
    con.close()
    for read_only in (False, True):  # an error naming the problem, not a hang
        with pytest.raises(StoreError, match="never creates"):
            Store(directory, read_only=read_only)


def test_the_triggers_known_without_a_throwaway_cache_are_diskcache_s_own() -> None:
    """Opening a store compares its schema with a built-in list of diskcache's triggers (a
    throwaway cache is made only on a mismatch): the list is what the installed diskcache
    writes, so an unchanged store is never refused and never pays for the throwaway."""
    from persist_ext.storage import _store

    assert _store._diskcache_triggers() == _store._KNOWN_TRIGGERS

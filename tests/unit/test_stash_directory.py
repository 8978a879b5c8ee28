"""DirectoryStash, IncrementKeyDirectoryStash and ShelveStash on a real file system."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import threading
from pathlib import Path

import pytest

from persist_ext._errors import (
    CorruptEntryError,
    InvalidArgumentError,
    InvalidPickle,
    SerializationError,
    UnsafeNameError,
)
from persist_ext.features._stash import (
    DirectoryStash,
    IncrementKeyDirectoryStash,
    KeyLimitStash,
    ShelveStash,
)

# --- DirectoryStash -------------------------------------------------------------------------


def test_directory_stash_crud(tmp_path):
    stash = DirectoryStash(tmp_path / "d")
    assert list(stash.keys()) == []
    assert len(stash) == 0
    assert not (tmp_path / "d").exists()  # reads never create the directory
    stash["a"] = {"x": 1}
    stash["b"] = None
    assert stash["a"] == {"x": 1}
    assert stash["b"] is None
    assert stash.load("missing") is None
    assert stash.get("missing", 5) == 5
    assert sorted(stash.keys()) == ["a", "b"]
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["a.dat", "b.dat"]
    assert dict(stash) == {"a": {"x": 1}, "b": None}
    del stash["a"]
    stash.delete("missing")
    assert list(stash.keys()) == ["b"]
    stash.clear()
    assert len(stash) == 0
    stash.close()


def test_keys_cannot_escape_the_directory(tmp_path):
    root = tmp_path / "root"
    stash = DirectoryStash(root)
    for key in ("../escape", "/etc/passwd", "..", ".hidden", "a/b/c", "fit.<locals>.f", "100%"):
        stash[key] = key
    assert sorted(stash.keys()) == sorted(
        ["../escape", "/etc/passwd", "..", ".hidden", "a/b/c", "fit.<locals>.f", "100%"]
    )
    assert all(p.parent == root and not p.name.startswith(".") for p in root.iterdir())
    assert list(tmp_path.iterdir()) == [root]
    for key, value in stash:
        assert key == value


def test_bad_keys_give_clear_errors(tmp_path):
    stash = DirectoryStash(tmp_path)
    with pytest.raises(UnsafeNameError, match="non-empty string"):
        stash[""] = 1
    with pytest.raises(UnsafeNameError, match="too long"):
        stash["k" * 400] = 1
    assert list(tmp_path.iterdir()) == []


def test_int_keys_are_strings(tmp_path):
    stash = DirectoryStash(tmp_path)
    stash[3] = "three"  # type: ignore[index]
    assert stash["3"] == "three"


def test_pattern(tmp_path):
    stash = DirectoryStash(tmp_path, pattern="item-{name}.pkl")
    stash["a"] = 1
    (tmp_path / "other.txt").write_text("not a key")
    (tmp_path / "item-a.pkl.tmp").write_text("not a key either")
    assert list(stash.keys()) == ["a"]
    assert (tmp_path / "item-a.pkl").is_file()
    for bad in ("no-name.dat", "{name}-{name}", "{name}{other}", "sub/{name}", ".{name}"):
        with pytest.raises(InvalidArgumentError, match="pattern"):
            DirectoryStash(tmp_path, pattern=bad)
    with pytest.raises(InvalidArgumentError, match="path"):
        DirectoryStash(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"path must be a path .*ShelveStash\('work"):
        ShelveStash(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"limit must be an int >= 0 .*, got str '3'"):
        KeyLimitStash(DirectoryStash(tmp_path), limit="3")  # type: ignore[arg-type]


def test_foreign_and_corrupt_files(tmp_path):
    stash = DirectoryStash(tmp_path)
    (tmp_path / "foreign.dat").write_bytes(pickle.dumps("someone else's"))
    with pytest.raises(CorruptEntryError, match="not written by persist_ext"):
        stash["foreign"]
    stash["mine"] = list(range(50))
    data = bytearray((tmp_path / "mine.dat").read_bytes())
    data[-3] ^= 0x01
    (tmp_path / "mine.dat").write_bytes(bytes(data))
    with pytest.raises(InvalidPickle, match="checksum"):
        stash.load("mine")


def test_unpicklable_value_keeps_the_old_one(tmp_path):
    stash = DirectoryStash(tmp_path)
    stash["k"] = "old"
    with pytest.raises(SerializationError, match="lock"):
        stash["k"] = threading.Lock()
    assert stash["k"] == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["k.dat"]  # no temporary file left


def test_durable_writes(tmp_path):
    stash = DirectoryStash(tmp_path, durable=True)
    stash["k"] = b"x" * 10
    assert stash["k"] == b"x" * 10


def test_directory_stash_pickles(tmp_path):
    stash = DirectoryStash(tmp_path, pattern="{name}.bin")
    stash["a"] = 1
    clone = pickle.loads(pickle.dumps(stash))
    assert clone["a"] == 1
    assert clone.pattern == "{name}.bin"


def _writer(path: str, start: int) -> None:
    stash = DirectoryStash(path)
    for i in range(20):
        stash["shared"] = ("x" * 10_000, start + i)


def test_concurrent_writers_never_tear_a_value(tmp_path):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), n * 100)) for n in range(2)]
    for proc in procs:
        proc.start()
    stash = DirectoryStash(tmp_path)
    seen = 0
    while any(p.is_alive() for p in procs) or seen == 0:
        value = stash.get("shared")
        if value is not None:
            assert value[0] == "x" * 10_000
            seen += 1
    for proc in procs:
        proc.join()
        assert proc.exitcode == 0
    assert stash["shared"][1] in {19, 119}


# --- IncrementKeyDirectoryStash -------------------------------------------------------------


def test_increment_key_stash(tmp_path):
    runs = IncrementKeyDirectoryStash(tmp_path, name="run")
    assert runs.load() is None
    assert runs.get_last_key() == "0"
    assert runs.dump({"loss": 1.0}) == "1"
    assert runs.dump(None) == "2"  # one argument, even None, takes the next key
    assert runs.dump("10", "explicit") == "10"
    assert runs.dump("next") == "11"
    assert runs.load() == "next"
    assert runs.load("2") is None
    assert runs["2"] is None
    assert list(runs.keys()) == ["1", "2", "10", "11"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "run-1.dat",
        "run-10.dat",
        "run-11.dat",
        "run-2.dat",
    ]
    assert runs.get_last_key(inc=True) == "12"
    (tmp_path / "run-notanint.dat").write_bytes(b"")
    runs_other = IncrementKeyDirectoryStash(tmp_path, name="other")
    assert list(runs_other.keys()) == []
    assert list(runs.keys()) == ["1", "2", "10", "11"]


def _appender(path: str, count: int) -> None:
    stash = IncrementKeyDirectoryStash(path)
    for i in range(count):
        stash.dump((os.getpid(), i))


def test_concurrent_appends_get_distinct_keys(tmp_path):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_appender, args=(str(tmp_path), 15)) for _ in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
        assert proc.exitcode == 0
    stash = IncrementKeyDirectoryStash(tmp_path)
    assert list(stash.keys()) == [str(i) for i in range(1, 46)]
    assert len(set(stash.values())) == 45
    assert not [p for p in Path(tmp_path).iterdir() if p.name.startswith(".")]


# --- ShelveStash ----------------------------------------------------------------------------


def test_shelve_stash_crud(tmp_path):
    path = tmp_path / "sub" / "db"
    stash = ShelveStash(path)
    stash["a"] = [1]
    stash["n"] = None
    assert not stash.is_open  # auto_close
    assert stash["a"] == [1]
    assert stash["n"] is None
    assert stash.load("zz") is None
    assert stash.get("zz", 3) == 3
    assert sorted(stash.keys()) == ["a", "n"]
    assert len(stash) == 2
    assert ShelveStash(path)["a"] == [1]  # another instance sees it
    del stash["a"]
    stash.delete("never")
    assert list(stash.keys()) == ["n"]
    stash.clear()
    assert len(stash) == 0
    stash["b"] = 2
    stash.delete()
    assert len(stash) == 0


def test_shelve_stash_stays_open_without_auto_close(tmp_path):
    with ShelveStash(tmp_path / "db", auto_close=False) as stash:
        stash["a"] = {"x": 1}
        stash.load("a")["x"] = 2  # writeback=True: in-place changes are kept
        assert stash.is_open
    assert not stash.is_open
    assert ShelveStash(tmp_path / "db")["a"] == {"x": 2}


def test_shelve_stash_bad_input(tmp_path):
    stash = ShelveStash(tmp_path / "db", auto_close=False)
    stash["k"] = "old"
    with pytest.raises(SerializationError, match="lock"):
        stash["k"] = threading.Lock()
    stash.close()  # would fail if the bad value stayed in the writeback cache
    assert stash["k"] == "old"
    with pytest.raises(TypeError, match="keys are str"):
        stash[1] = 2  # type: ignore[index]


def test_shelve_stash_pickles_closed(tmp_path):
    stash = ShelveStash(tmp_path / "db", auto_close=False)
    stash["a"] = 1
    clone = pickle.loads(pickle.dumps(stash))
    assert not clone.is_open
    stash.close()
    assert clone["a"] == 1


def test_symlinked_value_file_is_refused_and_nothing_outside_touched(tmp_path: Path) -> None:
    outside = DirectoryStash(tmp_path / "outside")
    outside["secret"] = {"pin": 1234}  # a valid, signed record: only the link is wrong
    target = outside.key_to_path("secret")
    before = target.read_bytes()
    stash = DirectoryStash(tmp_path / "s")
    stash["a"] = 1
    os.symlink(target, stash.key_to_path("b"))
    for read in (stash.load, stash.get, stash.__getitem__):
        with pytest.raises(CorruptEntryError, match="symbolic link") as caught:
            read("b")
        assert str(stash.key_to_path("b")) in str(caught.value)
    assert stash["a"] == 1
    stash["b"] = 2  # a write replaces the link, never writes through it
    assert not stash.key_to_path("b").is_symlink()
    assert stash["b"] == 2
    stash.delete("b")
    assert target.read_bytes() == before
    assert outside["secret"] == {"pin": 1234}


def test_fifo_value_file_is_refused_without_blocking(tmp_path: Path) -> None:
    stash = DirectoryStash(tmp_path / "s")
    stash["a"] = 1
    os.mkfifo(stash.key_to_path("b"))
    with pytest.raises(CorruptEntryError, match="not a regular file"):
        stash.load("b")
    assert stash["a"] == 1

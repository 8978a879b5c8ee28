"""Nothing runs that the user did not write: every surface refuses planted pickles.

An attacker who can write a store folder (a shared drive, an unzipped archive, a cloned
repository) plants a pickle whose ``__reduce__`` creates a marker file. Three plants per
surface: a *foreign* record (genuine, but signed with another secret: copied from another
user's store), a *forged* one (a made-up MAC) and a *legacy* one (the unsigned formats of
older versions). The marker must never appear, whatever the user runs.
"""

from __future__ import annotations

import contextlib
import dbm
import multiprocessing
import os
import pickle
import sqlite3
import stat
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import persist_ext
from persist_ext import (
    CorruptEntryError,
    DirectoryStash,
    DiskCacheStash,
    PersistedWork,
    ShelveStash,
    Store,
    UntrustedEntryError,
    restore_checkpoint,
    save_checkpoint,
)
from persist_ext.features._workflow import FileStorage
from persist_ext.storage import _trust
from persist_ext.storage._entry import HEADER_FIXED, encode_entry, seal

OTHER_SECRET = "another-users-secret-0123456789abcdef"
KINDS = ["foreign", "forged", "legacy"]
MAC = slice(HEADER_FIXED - 32, HEADER_FIXED)  # where a record keeps its MAC


class Boom:
    """Unpickling this creates ``marker``: the proof that planted code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> Any:
        return (open, (self.marker, "w"))


@contextlib.contextmanager
def other_secret() -> Iterator[None]:
    """Sign as another user would (another machine, another secret)."""
    old = os.environ.get(_trust.ENV_SECRET)
    os.environ[_trust.ENV_SECRET] = OTHER_SECRET
    try:
        yield
    finally:
        if old is None:
            del os.environ[_trust.ENV_SECRET]
        else:
            os.environ[_trust.ENV_SECRET] = old


def planted(kind: str, key: str, marker: Path, *, big: bool = False) -> bytes:
    """A record of ``key`` whose value runs code: signed elsewhere, forged or unsigned."""
    value: Any = [Boom(marker), np.ones(200_000)] if big else Boom(marker)
    if kind == "foreign":
        with other_secret():
            return encode_entry(key, value).record()
    if kind == "forged":
        record = bytearray(encode_entry(key, value).record())
        record[MAC] = os.urandom(32)  # the MAC field: made up, no secret
        return bytes(record)
    body = pickle.dumps(value, protocol=5)
    payload = struct.pack("<IQ", 0, len(body)) + body
    header = b'{"created": 0, "expires": null, "size": %d, "summary": {}}' % len(payload)
    return struct.pack("<4sHI", b"PXE1", 6, len(header)) + b"pickle" + header + payload


def poison_store(directory: Path, kind: str, marker: Path) -> int:
    """Replace every row of a store's index by a planted record, as an attacker would."""
    con = sqlite3.connect(directory / "cache.db")
    with con:
        rows = con.execute("SELECT rowid, key FROM Cache WHERE raw = 1").fetchall()
        for rowid, key in rows:
            con.execute(
                "UPDATE Cache SET value = ?, mode = 1, filename = NULL WHERE rowid = ?",
                (sqlite3.Binary(planted(kind, key, marker)), rowid),
            )
    con.close()
    return len(rows)


@pytest.fixture
def marker(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "PLANTED-CODE-RAN"
    yield path
    assert not path.exists(), "a planted pickle ran"


# --------------------------------------------------------------------------- Store


@pytest.mark.parametrize("kind", KINDS)
def test_store_refuses_planted_inline_records(tmp_path: Path, marker: Path, kind: str) -> None:
    with Store(tmp_path / "s") as store:
        store.set("a", {"fine": 1})
        store.set("n", 5)
    poison_store(tmp_path / "s", kind, marker)
    with Store(tmp_path / "s") as store:
        for key in ("a", "n"):
            with pytest.raises(UntrustedEntryError, match=rf"Entry '{key}'.*persist_ext.trust"):
                store.get(key)
        assert store.info("a") is not None  # describing reads JSON only
        assert sorted(k for k, _ in store.items_info()) == ["a", "n"]
        with pytest.raises(CorruptEntryError):
            store.incr("n")
        store.set("a", 2)  # the store stays usable and the user's write wins
        assert store.get("a") == 2


@pytest.mark.parametrize("kind", ["foreign", "forged"])
def test_store_refuses_planted_blob(tmp_path: Path, marker: Path, kind: str) -> None:
    with Store(tmp_path / "s") as store:
        store.set("big", np.arange(300_000.0))
    con = sqlite3.connect(tmp_path / "s" / "cache.db")
    ((filename,),) = con.execute("SELECT filename FROM Cache WHERE key = 'big'").fetchall()
    with other_secret():
        entry = encode_entry("big", [Boom(marker), np.ones(300_000)])
    header = bytearray(entry.header)
    if kind == "forged":
        header[MAC] = os.urandom(32)
    (tmp_path / "s" / filename).write_bytes(entry.payload())
    with con:
        con.execute("UPDATE Cache SET value = ? WHERE key = 'big'", (bytes(header),))
    con.close()
    with Store(tmp_path / "s") as store:
        with pytest.raises(UntrustedEntryError):
            store.get("big")
        with pytest.raises(UntrustedEntryError):
            store.get("big", mmap=True)


def test_trust_resigns_a_store_the_user_vouches_for(tmp_path: Path) -> None:
    with other_secret(), Store(tmp_path / "s") as store:
        store.set("small", {"a": 1})
        store.set("big", np.arange(300_000.0))
    with Store(tmp_path / "s") as store, pytest.raises(UntrustedEntryError):
        store.get("small")
    report = persist_ext.trust(tmp_path / "s")
    assert (report.signed, report.already, report.corrupt, report.refused) == (2, 0, [], [])
    with Store(tmp_path / "s") as store:
        assert store.get("small") == {"a": 1}
        np.testing.assert_array_equal(store.get("big"), np.arange(300_000.0))
    assert persist_ext.trust(tmp_path / "s").already == 2


def test_trust_converts_unsigned_entries_of_older_versions(tmp_path: Path) -> None:
    with Store(tmp_path / "s") as store:
        store.set("x", 1)
    con = sqlite3.connect(tmp_path / "s" / "cache.db")
    body = pickle.dumps({"old": True}, protocol=5)
    payload = struct.pack("<IQ", 0, len(body)) + body
    header = b'{"created": 1.0, "expires": null, "size": %d, "summary": {}}' % len(payload)
    legacy = struct.pack("<4sHI", b"PXE1", 6, len(header)) + b"pickle" + header + payload
    with con:
        con.execute("UPDATE Cache SET value = ? WHERE key = 'x'", (legacy,))
    con.close()
    with Store(tmp_path / "s") as store, pytest.raises(UntrustedEntryError, match="older"):
        store.get("x")
    assert persist_ext.trust(tmp_path / "s").signed == 1
    with Store(tmp_path / "s") as store:
        assert store.get("x") == {"old": True}


def test_trust_never_signs_a_damaged_entry(tmp_path: Path) -> None:
    with other_secret(), Store(tmp_path / "s") as store:
        store.set("x", list(range(100)))
    con = sqlite3.connect(tmp_path / "s" / "cache.db")
    ((value,),) = con.execute("SELECT value FROM Cache WHERE key = 'x'").fetchall()
    damaged = bytearray(value)
    damaged[-3] ^= 0xFF
    with con:
        con.execute("UPDATE Cache SET value = ? WHERE key = 'x'", (bytes(damaged),))
    con.close()
    report = persist_ext.trust(tmp_path / "s")
    assert report.corrupt == ["x"]
    assert report.signed == 0


# --------------------------------------------------------------------------- features


@pytest.mark.parametrize("kind", KINDS)
def test_cell_cache_never_runs_planted_manifests_or_variables(
    ip: Any, tmp_path: Path, marker: Path, kind: str
) -> None:
    # `ip` sets `PersistMagics.min_time = 0`: every run is stored and every repeat restored,
    # whatever the automatic policy would judge of a cell this cheap on this machine.
    shell = ip
    directory = tmp_path / "cells"
    cell = "x = [1, 2, 3]\ny = len(x)\n"
    shell.run_cell_magic("persist", f"c1 --dir {directory}", cell)
    shell.run_cell_magic("persist", f"c1 --dir {directory}", cell)  # a hit: counter bumped
    assert poison_store(directory, kind, marker) >= 3
    # In this session the manifest already read (and authenticated) is remembered, so the
    # planted rows are never even read: nothing runs.
    shell.run_cell_magic("persist", f"c1 --dir {directory}", cell)
    # A new session (as after a kernel restart) reads the store and refuses every planted row.
    shell.run_line_magic("reload_ext", "persist_ext")
    for line in ("list", "info", "show c1", "why c1", "browse"):
        with contextlib.suppress(Exception):  # a refusal may be an error; code never runs
            shell.run_line_magic("persist", f"{line} --dir {directory}")
    with pytest.warns(persist_ext.CellCacheWarning, match="cannot be read"):
        shell.run_cell_magic("persist", f"c1 --dir {directory}", cell)  # re-runs, warns
    assert shell.user_ns["y"] == 3
    from IPython.utils.capture import capture_output

    with capture_output() as captured:  # ... and stored again: the next run is a hit
        shell.run_cell_magic("persist", f"c1 --dir {directory}", cell)
    assert "restored c1" in captured.stdout


@pytest.mark.parametrize("kind", KINDS)
def test_checkpoint_restore_never_runs_planted_variables(
    tmp_path: Path, marker: Path, kind: str
) -> None:
    with Store(tmp_path / "s") as store:
        save_checkpoint({"a": 1, "b": [1, 2]}, store, "cp")
    poison_store(tmp_path / "s", kind, marker)
    namespace: dict[str, Any] = {}
    with Store(tmp_path / "s") as store, contextlib.suppress(Exception):
        restore_checkpoint(namespace, store, "cp")
    assert "a" not in namespace
    assert "b" not in namespace


def _square(x: int) -> int:
    return x * x


@pytest.mark.parametrize("kind", KINDS)
def test_task_group_resume_never_runs_planted_journals_or_results(
    tmp_path: Path, marker: Path, kind: str
) -> None:
    from persist_ext import TaskGroup

    with Store(tmp_path / "s") as store, TaskGroup("g", store) as group:
        group.map(_square, range(3), key=str)
        group.run().wait()
    poison_store(tmp_path / "s", kind, marker)
    with Store(tmp_path / "s") as store, contextlib.suppress(Exception):
        again = TaskGroup("g", store)
        again.map(_square, range(3), key=str)
        with contextlib.suppress(Exception):
            again.run().wait(timeout=60)
        for key in ("0", "1", "2"):
            with contextlib.suppress(Exception):
                again.result(key)
        again.close()


@pytest.mark.parametrize("kind", KINDS)
def test_diskcache_stash_refuses_planted_values(tmp_path: Path, marker: Path, kind: str) -> None:
    with DiskCacheStash(tmp_path / "s") as stash:
        stash["k"] = {"v": 1}
    poison_store(tmp_path / "s", kind, marker)
    with DiskCacheStash(tmp_path / "s") as stash:
        with pytest.raises(CorruptEntryError):
            stash.load("k")
        assert list(stash.keys()) == ["k"]


def planted_file(kind: str, marker: Path) -> bytes:
    """A planted stash/PersistedWork file (files are keyed ``""``)."""
    if kind == "legacy":
        import xxhash

        body = pickle.dumps(Boom(marker))
        return b"PERSIST-EXT-PICKLE/1\n" + xxhash.xxh3_128_digest(body) + body
    return planted(kind, "", marker)


@pytest.mark.parametrize("kind", KINDS)
def test_directory_stash_refuses_planted_files(tmp_path: Path, marker: Path, kind: str) -> None:
    stash = DirectoryStash(tmp_path / "d")
    stash.dump("k", [1, 2])
    stash.key_to_path("k").write_bytes(planted_file(kind, marker))
    with pytest.raises(UntrustedEntryError, match=r"persist_ext\.trust"):
        stash.load("k")


@pytest.mark.parametrize("kind", KINDS)
def test_persisted_work_refuses_planted_file(tmp_path: Path, marker: Path, kind: str) -> None:
    class Owner:
        pass

    path = tmp_path / "work.dat"
    path.write_bytes(planted_file(kind, marker))
    work = PersistedWork(path, Owner())
    work.worker = lambda: 42
    with pytest.raises(UntrustedEntryError):
        work()


@pytest.mark.parametrize("kind", KINDS)
def test_file_storage_refuses_planted_results(tmp_path: Path, marker: Path, kind: str) -> None:
    storage = FileStorage(tmp_path / "wf")
    storage.save("w", "t", {"ok": 1})
    (file,) = [p for p in (tmp_path / "wf").rglob("*") if p.is_file()]
    body = b"".join(
        [struct.pack("<Q", len(pickle.dumps([]))), pickle.dumps([]), pickle.dumps(Boom(marker))]
    )
    if kind == "legacy":
        import xxhash

        data = b"PXWF1\n" + xxhash.xxh3_128_digest(body) + body
    else:
        with other_secret():
            data = bytearray(seal("", "workflow", [body], summary={}).record())
        if kind == "forged":
            data[MAC] = os.urandom(32)
    file.write_bytes(bytes(data))
    with pytest.raises(UntrustedEntryError):
        storage.read_task("w", "t")
    storage.save("w", "t", {"ok": 2})  # overwriting never unpickles the planted refs
    assert storage.read_task("w", "t") == {"ok": 2}


@pytest.mark.parametrize("kind", [*KINDS, "bare-pickle"])
def test_shelve_stash_refuses_planted_values(tmp_path: Path, marker: Path, kind: str) -> None:
    path = tmp_path / "shelf"
    with ShelveStash(path) as stash:
        stash["k"] = [1, 2]
    value = pickle.dumps(Boom(marker)) if kind == "bare-pickle" else planted(kind, "k", marker)
    with dbm.open(str(path), "w") as db:
        db[b"k"] = value
    with ShelveStash(path) as stash, pytest.raises(CorruptEntryError):
        stash.load("k")


@pytest.mark.parametrize("kind", KINDS)
def test_redis_store_refuses_planted_values(redis_server: str, marker: Path, kind: str) -> None:
    from persist_ext import RedisStore

    with RedisStore(redis_server, namespace="trusttest") as store:
        store.set("k", 1)
        store._client.set(store._key("k"), planted(kind, "k", marker))
        with pytest.raises(CorruptEntryError):
            store.get("k")
        assert store.info("k") is not None  # described from its header
        store.set("k", 2)
        assert store.get("k") == 2
        store.clear()


def test_trust_resigns_a_redis_store(redis_server: str) -> None:
    from persist_ext import RedisStore

    with other_secret(), RedisStore(redis_server, namespace="trustredis") as store:
        store.set("k", {"v": 1}, expire=600)
        store.incr("n")
    with RedisStore(redis_server, namespace="trustredis") as store:
        with pytest.raises(UntrustedEntryError):
            store.get("k")
        report = persist_ext.trust(store)
        assert report.signed == 1
        assert store.get("k") == {"v": 1}
        assert store.get("n") == 1
        assert store._client.ttl(store._key("k")) > 0  # the expiry is kept
        store.clear()


def test_trust_resigns_stash_workflow_and_shelf_files(tmp_path: Path) -> None:
    with other_secret():
        DirectoryStash(tmp_path / "d").dump("k", [1])
        FileStorage(tmp_path / "d" / "wf").save("w", "t", 7)
        with ShelveStash(tmp_path / "d" / "shelf") as shelf:
            shelf["s"] = "v"
    with pytest.raises(UntrustedEntryError):
        DirectoryStash(tmp_path / "d").load("k")
    report = persist_ext.trust(tmp_path / "d")
    assert report.signed >= 3, report
    assert DirectoryStash(tmp_path / "d").load("k") == [1]
    assert FileStorage(tmp_path / "d" / "wf").read_task("w", "t") == 7
    with ShelveStash(tmp_path / "d" / "shelf") as shelf:
        assert shelf["s"] == "v"


def test_trust_of_nothing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(persist_ext.StoreError, match="Nothing persist_ext wrote"):
        persist_ext.trust(tmp_path / "absent")


# --------------------------------------------------------------------------- the secret


def test_secret_is_created_private_in_the_jupyter_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(_trust.ENV_SECRET, raising=False)
    monkeypatch.delenv(_trust.ENV_SECRET_FILE, raising=False)
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter"))
    monkeypatch.setattr(os, "umask", os.umask)  # restored below either way
    old = os.umask(0o002)
    try:
        with Store(tmp_path / "s") as store:
            store.set("x", 1)
            assert store.get("x") == 1
    finally:
        os.umask(old)
    secret = tmp_path / "jupyter" / "persist_ext" / "secret"
    assert _trust.secret_path() == secret
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700
    assert len(secret.read_text().strip()) >= 32


def test_env_secret_and_use_secret_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_trust.ENV_SECRET, OTHER_SECRET)
    with Store(tmp_path / "s") as store:
        store.set("x", 1)
    monkeypatch.delenv(_trust.ENV_SECRET)
    with Store(tmp_path / "s") as store, pytest.raises(UntrustedEntryError):
        store.get("x")
    (tmp_path / "team").write_text(OTHER_SECRET + "\n")
    previous = os.environ.get(_trust.ENV_SECRET_FILE)
    try:
        persist_ext.use_secret_file(tmp_path / "team")  # what the traitlet calls
        assert os.environ[_trust.ENV_SECRET_FILE] == str(tmp_path / "team")
        with Store(tmp_path / "s") as store:
            assert store.get("x") == 1
    finally:
        persist_ext.use_secret_file(None)
        if previous is not None:
            monkeypatch.setenv(_trust.ENV_SECRET_FILE, previous)


def test_a_changed_environment_applies_at_the_next_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No reload: the configuration is compared at every MAC check (docs/security.md)."""
    with Store(tmp_path / "s") as store:
        store.set("x", 1)
        assert store.get("x") == 1  # the key is cached now
        for _ in range(2):
            monkeypatch.setenv(_trust.ENV_SECRET, OTHER_SECRET)
            with pytest.raises(UntrustedEntryError):
                store.get("x")
            monkeypatch.delenv(_trust.ENV_SECRET)
            assert store.get("x") == 1
        # os.environ replaced by another mapping: still seen (the plain lookup is used).
        replaced = dict(os.environ)
        replaced[_trust.ENV_SECRET] = OTHER_SECRET
        monkeypatch.setattr(os, "environ", replaced)
        with pytest.raises(UntrustedEntryError):
            store.get("x")
        del replaced[_trust.ENV_SECRET]
        assert store.get("x") == 1


def test_use_secret_file_rereads_a_rewritten_file(tmp_path: Path) -> None:
    team = tmp_path / "team"
    team.write_text(OTHER_SECRET + "\n")
    previous = os.environ.get(_trust.ENV_SECRET_FILE)
    try:
        persist_ext.use_secret_file(team)
        with Store(tmp_path / "s") as store:
            store.set("x", 1)
            team.write_text("a-rotated-secret-" + "9" * 40 + "\n")
            persist_ext.use_secret_file(team)  # same path: read again
            with pytest.raises(UntrustedEntryError):
                store.get("x")
            team.write_text(OTHER_SECRET + "\n")
            persist_ext.use_secret_file(team)
            assert store.get("x") == 1
    finally:
        persist_ext.use_secret_file(None)
        if previous is not None:
            os.environ[_trust.ENV_SECRET_FILE] = previous


class _OwnBuffer:
    """A user class that hands pickle an out-of-band buffer its owner may decode as code."""

    def __init__(self, data: bytes) -> None:
        self.data = bytearray(data)

    def __reduce_ex__(self, protocol: int) -> Any:
        return (bytearray, (pickle.PickleBuffer(self.data),))


def test_only_array_memory_is_left_to_the_checksum() -> None:
    from persist_ext.storage._serializers import serializer_named

    pickler = serializer_named("pickle")
    for value, whole in (({"a": np.ones(10_000)}, False), ([_OwnBuffer(b"x" * 10_000)], True)):
        buffers = pickler.dump(value)
        size = sum(memoryview(b).nbytes for b in buffers)
        head, tail = pickler.signed_span(buffers, size)
        assert (head + tail == size) is whole
    array = serializer_named("numpy")
    buffers = array.dump(np.ones(10_000))
    assert array.signed_span(buffers, 80_064) == (64, 0)  # dtype and shape only


def test_mac_is_standard_hmac_sha256_of_the_derived_key() -> None:
    import hashlib
    import hmac

    key = _trust._key()
    assert len(key) == 32
    for data in (b"", b"x" * 10, os.urandom(100_000)):
        assert _trust.mac(data[:7], data[7:]) == hmac.digest(key, data, hashlib.sha256)


def test_a_secret_used_earlier_in_the_process_never_verifies(tmp_path: Path, marker: Path) -> None:
    with other_secret():  # e.g. a notebook that opened a colleague's store with their secret
        record = encode_entry("k", Boom(marker)).record()
    with Store(tmp_path / "s") as store:
        store._cache.set("k", record)
        with pytest.raises(UntrustedEntryError):
            store.get("k")


def test_short_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_trust.ENV_SECRET, "short")
    with pytest.raises(persist_ext.StoreError, match="shorter than"):
        encode_entry("k", 1)


def _read_in_worker(directory: str) -> Any:
    with Store(directory) as store:
        return store.get("x")


def test_spawned_worker_processes_verify_with_the_same_secret(tmp_path: Path) -> None:
    with Store(tmp_path / "s") as store:
        store.set("x", {"from": "parent"})
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        assert pool.apply(_read_in_worker, (str(tmp_path / "s"),)) == {"from": "parent"}

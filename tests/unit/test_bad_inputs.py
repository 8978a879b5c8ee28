"""Every bad input across the public API is a PersistError naming the problem (issue #12).

Each case calls one public entry point with something it cannot use and checks that the
error is a :class:`~persist_ext.PersistError` whose message names what was wrong (the
``match``) — never a bare ``TypeError``, ``KeyError``, ``AttributeError``, ``OSError`` or
``UnicodeEncodeError`` from deep inside, and never a silent default.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import persist_ext as pe
from persist_ext import PersistError

Case = tuple[str, Callable[[Path], Any], str]

CASES: list[Case] = [
    # workflow storage (functionfuse)
    ("storage_factory('file')", lambda p: pe.storage_factory("file"), "takes a dict"),
    ("storage_factory kind None", lambda p: pe.storage_factory({"kind": None}), "known kinds"),
    ("storage_factory kind 5", lambda p: pe.storage_factory({"kind": 5}), "known kinds"),
    ("storage_factory unknown", lambda p: pe.storage_factory({"kind": "S4"}), "known kinds"),
    (
        "storage_factory options int",
        lambda p: pe.storage_factory({"kind": "file", "options": 5}),
        "options must be a dict",
    ),
    (
        "storage_factory bad option",
        lambda p: pe.storage_factory({"kind": "file", "options": {"bogus": 1}}),
        "rejected its options",
    ),
    (
        "storage_factory extra key",
        lambda p: pe.storage_factory({"kind": "file", "path": "x"}),
        "not understood",
    ),
    (
        "10,000-char task name",
        lambda p: pe.FileStorage(p / "fs").save("wf", "t" * 10_000, 1),
        "limited to 240 bytes",
    ),
    # checkpoints
    (
        "restore_checkpoint('nope')",
        lambda p: pe.restore_checkpoint({}, pe.MemoryStore(), "nope"),
        "nope",
    ),
    ("restore_checkpoint(store=5)", lambda p: pe.restore_checkpoint({}, 5, "x"), "store such as"),
    (
        "save_checkpoint(namespace=5)",
        lambda p: pe.save_checkpoint(5, pe.MemoryStore()),
        "globals()",
    ),
    ("list_checkpoints(5)", lambda p: pe.list_checkpoints(5), "store such as"),
    # POD / Tracker (tastypy)
    ("POD(123)", lambda p: pe.POD(123), "str or os.PathLike"),
    ("POD(b'x')", lambda p: pe.POD(b"x"), "str or os.PathLike"),
    ("POD file_size=0", lambda p: pe.POD(p / "a", file_size=0), "file_size"),
    ("POD sync_at=-1", lambda p: pe.POD(p / "b", sync_at=-1), "sync_at"),
    ("POD gzipped='yes'", lambda p: pe.POD(p / "c", gzipped="yes"), "gzipped"),
    ("POD sync_after=-1", lambda p: pe.POD(p / "d", sync_after=-1), "sync_after"),
    ("POD on a file", lambda p: pe.POD(_file(p)), "is a file"),
    ("POD tuple key", lambda p: pe.POD(p / "e").__setitem__(("a", 1), 1), "str or int"),
    ("POD set value", lambda p: pe.POD(p / "f").__setitem__("k", {1, 2}), "is a set"),
    ("POD surrogate", lambda p: pe.POD(p / "g").__setitem__("k", "\udc80"), "surrogate"),
    ("Tracker(max_tries=-1)", lambda p: pe.Tracker(p / "t1", max_tries=-1), "max_tries"),
    ("Tracker(max_tries='3')", lambda p: pe.Tracker(p / "t2", max_tries="3"), "max_tries"),
    ("Tracker value 5", lambda p: pe.Tracker(p / "t3").__setitem__("k", 5), "task records"),
    ("ls(5)", lambda p: pe.ls(5), "POD directory"),
    ("ls(missing)", lambda p: pe.ls(p / "missing"), "no such directory"),
    # stores
    ("Store.set surrogate key", lambda p: pe.Store(p / "s").set("\udc80", 1), "surrogate"),
    ("Store.get int key", lambda p: pe.Store(p / "s").get(3), "keys are str"),
    ("Store(5)", lambda p: pe.Store(5), "str or os.PathLike"),
    ("Store on a file", lambda p: pe.Store(os.devnull), "is a file"),
    ("Store large_threshold=0", lambda p: pe.Store(p / "s", large_threshold=0), "large_threshold"),
    ("Store timeout='x'", lambda p: pe.Store(p / "s", timeout="x"), "timeout must be"),
    ("Store timeout=-1", lambda p: pe.Store(p / "s", timeout=-1), "timeout must be"),
    # read_only="no" is truthy: it opened the store read-only.
    ("Store read_only='no'", lambda p: pe.Store(p / "s", read_only="no"), "read_only is True"),
    ("Store durable='yes'", lambda p: pe.Store(p / "s", durable="yes"), "durable is True"),
    ("Store expire=-1", lambda p: pe.Store(p / "s").set("k", 1, expire=-1), "expire"),
    ("Store meta list", lambda p: pe.Store(p / "s").set("k", 1, meta=[1]), "meta must be a dict"),
    ("MemoryStore get int", lambda p: pe.MemoryStore().get(3), "keys are str"),
    ("RedisStore http URL", lambda p: pe.RedisStore("http://x"), "redis://"),
    (
        "RedisStore namespace",
        lambda p: pe.RedisStore("redis://127.0.0.1:1", namespace="a:b"),
        "namespace",
    ),
    # task groups and markers (triggers, furious)
    (
        "TaskGroup max_tries=-1",
        lambda p: pe.TaskGroup("g", max_tries=-1, store=pe.MemoryStore()),
        "max_tries",
    ),
    (
        "TaskGroup timeout=-1",
        lambda p: pe.TaskGroup("g", timeout=-1, store=pe.MemoryStore()),
        "timeout",
    ),
    ("TaskGroup name a/b", lambda p: pe.TaskGroup("a/b", store=pe.MemoryStore()), "'/'"),
    (
        "TaskGroup max_workers=-2",
        lambda p: pe.TaskGroup("g", max_workers=-2, store=pe.MemoryStore()),
        "max_workers",
    ),
    (
        "TaskGroup max_workers='4'",
        lambda p: pe.TaskGroup("g", max_workers="4", store=pe.MemoryStore()),
        "max_workers",
    ),
    ("TaskGroup store=5", lambda p: pe.TaskGroup("g", 5), "KeyValueStore"),
    (
        "MultiProcessStash workers='2'",
        lambda p: _Squares(pe.DictionaryStash(), workers="2"),
        "workers must be an int",
    ),
    (
        "MultiProcessStash chunk_size='2'",
        lambda p: _Squares(pe.DictionaryStash(), chunk_size="2"),
        "chunk_size must be an int",
    ),
    (
        "TaskGroup.map(5)",
        lambda p: pe.TaskGroup("g", store=pe.MemoryStore()).map(5, [1]),
        "function",
    ),
    (
        "TaskGroup.submit(5)",
        lambda p: pe.TaskGroup("g", store=pe.MemoryStore()).submit(5),
        "function",
    ),
    ("marker_get(5)", lambda p: pe.marker_get(5, store=pe.MemoryStore()), "Marker ids are str"),
    (
        "mark_reached(5, 'k')",
        lambda p: pe.mark_reached(5, "k", store=pe.MemoryStore()),
        "Marker ids",
    ),
    ("load_context(5)", lambda p: pe.load_context(5, store=pe.MemoryStore()), "Marker ids"),
    ("store_context dict", lambda p: pe.store_context("ctx1", 5, store=pe.MemoryStore()), "dict"),
    ("open_session(5)", lambda p: pe.open_session(5), "session uid"),
    # stashes and persisted work (zensols)
    ("DirectoryStash(5)", lambda p: pe.DirectoryStash(5), "path must be a path"),
    ("DiskCacheStash(5)", lambda p: pe.DiskCacheStash(5), "path_or_store"),
    ("DiskCacheStash key 5", lambda p: pe.DiskCacheStash(p / "dc").dump(5, 1), "non-empty str"),
    ("PersistedWork(5, None)", lambda p: pe.PersistedWork(5, None), "owner"),
    ("KeyLimitStash limit=-1", lambda p: pe.KeyLimitStash(pe.DictionaryStash(), limit=-1), ">= 0"),
    ("UnionStash([5])", lambda p: pe.UnionStash([5]), "joins stashes"),
    ("@persisted(5)", lambda p: pe.persisted(5), "attribute name"),
    ("UnionStash(5)", lambda p: pe.UnionStash(5), "list of stashes"),
    (
        "KeyLimitStash limit='3'",
        lambda p: pe.KeyLimitStash(pe.DictionaryStash(), limit="3"),
        "limit must be an int",
    ),
    ("DirectoryStash pattern", lambda p: pe.DirectoryStash(p, pattern="x.dat"), "'{name}'"),
    ("DirectoryStash pattern a/", lambda p: pe.DirectoryStash(p, pattern="a/{name}"), "no '/'"),
    ("DiskCacheStash prefix=5", lambda p: pe.DiskCacheStash(p / "dc", prefix=5), "prefix"),
    ("ShelveStash key 5", lambda p: pe.ShelveStash(p / "sh").dump(5, 1), "keys are str"),
    ("DirectoryStash on a file", lambda p: pe.DirectoryStash(_file(p)), "is a file"),
    (
        "IncrementKeyDirectoryStash in a file",
        lambda p: pe.IncrementKeyDirectoryStash(_file(p) / "ik"),
        "is a file",
    ),
    ("ShelveStash in a file", lambda p: pe.ShelveStash(_file(p) / "db"), "is a file"),
    ("FileStorage on a file", lambda p: pe.FileStorage(_file(p)), "is a file"),
    ("Tracker in a file", lambda p: pe.Tracker(_file(p) / "t"), "is a file"),
    ("POD in a file", lambda p: pe.POD(_file(p) / "sub" / "p"), "is a file"),
    (
        "storage_factory path=5",
        lambda p: pe.storage_factory({"kind": "file", "options": {"path": 5}}),
        "path",
    ),
    # budgets
    ("Budget(max_size=-1)", lambda p: pe.Budget(max_size=-1), "positive"),
    ("Budget(max_size='lots')", lambda p: pe.Budget(max_size="lots"), "as a size"),
    ("Budget(max_age='soon')", lambda p: pe.Budget(max_age="soon"), "duration"),
    ("Store(budget=5)", lambda p: pe.Store(p / "b", budget=5), "budget"),
    (
        "remove_task both",
        lambda p: pe.FileStorage(p / "fs").remove_task("wf", "t", pattern="*"),
        "exactly one",
    ),
    # serializers, fingerprints, function cache, progress, displays
    ("register_serializer(5)", lambda p: pe.register_serializer(5), "Serializer instance"),
    ("cache(5)", lambda p: pe.cache(5), "function"),
    ("progress(5)", lambda p: pe.progress(5), "iterable"),
    ("browse(5)", lambda p: pe.browse(5), "cannot browse"),
    ("display_tasks(5)", lambda p: pe.display_tasks(5), "progress()"),
    ("display_markers(5)", lambda p: pe.display_markers(5), "MarkerProgress needs"),
    ("default_directory(5)", lambda p: pe.default_directory(5), "str or os.PathLike"),
]


class _Squares(pe.MultiProcessStash):
    def _create_data(self) -> range:
        return range(3)

    def _process(self, chunk: list[int]) -> Any:
        return ((str(i), i * i) for i in chunk)


def _file(tmp: Path) -> Path:
    path = tmp / "a-file"
    path.write_text("x")
    return path


@pytest.mark.parametrize(("name", "call", "match"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_persist_error_naming_the_problem(
    tmp_path: Path, name: str, call: Callable[[Path], Any], match: str
) -> None:
    with pytest.raises(PersistError) as caught:
        call(tmp_path)
    assert match in str(caught.value), f"{name}: {caught.value}"


@pytest.mark.parametrize(
    ("call", "seed_type"),
    [
        (lambda: pe.storage_factory({"kind": "S4"}), ValueError),  # functionfuse: ValueError
        (lambda: pe.Store(".").get(3), TypeError),
        (lambda: pe.POD("x").__setitem__("k", {1}), ValueError),
        (lambda: pe.DirectoryStash(5), TypeError),
    ],
)
def test_errors_keep_the_builtin_type_callers_may_catch(tmp_path, monkeypatch, call, seed_type):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(seed_type):
        call()


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_deps_refuses_anything_but_regular_files(tmp_path: Path, monkeypatch, kind: str) -> None:
    """``--deps /dev/zero`` used to hash forever; a FIFO would block forever too."""
    from IPython.testing.globalipapp import get_ipython

    if kind == "device":
        target = "/dev/zero"
    else:
        target = str(tmp_path / "pipe")
        os.mkfifo(target)
    ip = get_ipython()
    monkeypatch.setitem(sys.modules, "__main__", ip.user_module)
    monkeypatch.chdir(tmp_path)
    ip.run_line_magic("load_ext", "persist_ext")
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            ip.run_cell_magic("persist", f"c --deps {target} --dir {tmp_path / 's'}", "y = 1")
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    try:
        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        worker.join(120)  # a generous bound: the failure mode was hanging forever
        assert outcome, f"--deps {target} hangs"
        assert isinstance(outcome[0], pe.CellCacheError)
        assert "not a regular file" in str(outcome[0])
        assert target in str(outcome[0])
    finally:
        ip.run_line_magic("unload_ext", "persist_ext")

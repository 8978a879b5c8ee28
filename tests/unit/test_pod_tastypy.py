"""tastypy drop-in (issue #18): its API spellings, its folders, its way of looking at the files."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

import persist_ext as tastypy
from persist_ext import (
    POD,
    DuplicateKeyError,
    JSONSerializer,
    PersistentOrderedDictIntegrityError,
    PODError,
    Tracker,
    ls,
)


def on_disk(path: Path, gzipped: bool = False) -> dict:
    """What tastypy's own tests do: read every data file with ``ls`` + ``read_items``."""
    entries: dict = {}
    for name in ls(path):
        with gzip.open(name) if gzipped else open(name) as handle:
            entries.update(JSONSerializer.read_items(handle))
    return entries


def write_tastypy_folder(path: Path, files: list[list[str]], gzipped: bool = False) -> None:
    """A folder as the original tastypy writes it: N.json, one ``key<TAB>value`` line each."""
    path.mkdir()
    for i, lines in enumerate(files):
        data = "".join(line + "\n" for line in lines).encode()
        name = f"{i}.json" + (".gz" if gzipped else "")
        (path / name).write_bytes(gzip.compress(data) if gzipped else data)


def fingerprint(path: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in path.iterdir()}


LEGACY = [
    ['"a"\t1', '"b\\\\tc"\t{"x": [1, "2"]}'],  # key "b\tc" (a real tab, escaped by tastypy)
    ['"task"\t{"_tries": 2, "_done": true, "_aborted": false, "note": "ok"}'],
]


# --- the names tastypy's users import ------------------------------------------------------


def test_tastypy_names_are_importable_from_persist_ext() -> None:
    assert tastypy.DEFAULT_FILE_SIZE == 1000
    assert tastypy.DEFAULT_SYNC_AT == 1000
    assert dict(tastypy.DEFAULT_PROGRESS_TRACKER_MAPPING) == {
        "_tries": 0,
        "_done": False,
        "_aborted": False,
    }
    assert tastypy.POD is tastypy.PersistentOrderedDict
    assert tastypy.Tracker is tastypy.ProgressTracker
    assert issubclass(tastypy.DuplicateKeyError, tastypy.PersistError)
    assert issubclass(tastypy.PersistentOrderedDictIntegrityError, tastypy.PersistError)


TASTYPY_NAMES = [  # every name tastypy's own test.py and README use
    "POD",
    "PersistentOrderedDict",
    "Tracker",
    "ProgressTracker",
    "DuplicateKeyError",
    "PersistentOrderedDictIntegrityError",
    "DEFAULT_FILE_SIZE",
    "DEFAULT_SYNC_AT",
    "DEFAULT_PROGRESS_TRACKER_MAPPING",
    "JSONSerializer",
    "ls",
]


@pytest.mark.parametrize("module", ["persist_ext", "persist_ext.pod"])
def test_one_import_line_brings_every_tastypy_name(module: str) -> None:
    import importlib

    namespace = importlib.import_module(module)
    missing = [name for name in TASTYPY_NAMES if not hasattr(namespace, name)]
    assert missing == []
    assert set(TASTYPY_NAMES) <= set(namespace.__all__)  # also for "from ... import *"


def test_constructor_takes_tastypy_arguments_positionally(tmp_path: Path) -> None:
    pod = POD(tmp_path / "p", {"a": 1}, True, 5, 100, False)  # init, gzipped, file_size...
    assert (pod["a"], pod.gzipped, pod.file_size, pod.sync_at) == (1, True, 5, 100)
    pod.close()
    tracker = Tracker(tmp_path / "t", 3, None, False, 10, 100, True)
    assert tracker.max_tries == 3
    tracker.close()


def test_list_returning_views_and_iter_methods(tmp_path: Path) -> None:
    with POD(tmp_path / "p") as pod:
        pod.update({"a": 1}, [("b", 2)], c=3)  # several mappings, later ones win
        keys = pod.keys()
        keys.extend(["fake"])  # a copy, as in tastypy
        assert pod.keys() == ["a", "b", "c"]
        assert "fake" not in pod
        assert pod.values() == [1, 2, 3]
        assert pod.items() == [("a", 1), ("b", 2), ("c", 3)]
        assert list(pod.iteritems()) == pod.items()
        assert list(pod.iterkeys()) == pod.keys()
        assert list(pod.itervalues()) == pod.values()


def test_files_read_the_way_tastypy_tests_read_them(tmp_path: Path) -> None:
    path = tmp_path / "p"
    for gzipped in (False, True):
        pod = POD(path / str(gzipped), gzipped=gzipped, clone=False)
        pod["a"] = 1
        assert on_disk(path / str(gzipped), gzipped) == {}  # not synced yet
        for i in range(tastypy.DEFAULT_SYNC_AT):
            pod[str(i)] = i
        entries = on_disk(path / str(gzipped), gzipped)
        assert entries["a"] == 1
        assert len(entries) == tastypy.DEFAULT_FILE_SIZE
        pod.close()


def test_hold_and_unhold(tmp_path: Path) -> None:
    path = tmp_path / "p"
    pod = POD(path)
    pod["a"] = 1
    pod.hold()
    for i in range(tastypy.DEFAULT_SYNC_AT):
        pod[str(i)] = i
    assert "a" not in on_disk(path)
    pod.sync()
    assert on_disk(path)["a"] == 1
    pod["b"] = 2
    for i in range(tastypy.DEFAULT_SYNC_AT):
        pod[str(i)] = i
    assert "b" not in on_disk(path)
    pod.unhold()
    assert on_disk(path)["b"] == 2
    pod.close()


def test_path_from_int_and_revert_find_damage(tmp_path: Path) -> None:
    pod = POD(tmp_path / "p")
    pod.hold()
    for i in range(2 * tastypy.DEFAULT_FILE_SIZE):
        pod[str(i)] = i
    pod.sync()
    lines = Path(pod._path_from_int(0)).read_text().split("\n")
    lines[500] = "bad format"
    Path(pod._path_from_int(0)).write_text("\n".join(lines))
    with pytest.raises(tastypy.PersistentOrderedDictIntegrityError, match="unreadable line"):
        pod.revert()
    pod.close()


def test_read_items_reads_both_formats_and_bytes() -> None:
    lines = [b'{"format": "persist_ext.pod.chunk", "keys": ["a"]}\n', b'["a", 1]\n', b"\n"]
    assert list(JSONSerializer.read_items(lines)) == [("a", 1)]
    assert list(JSONSerializer.read_items(['["x", "y"]\t2\n'])) == [(("x", "y"), 2)]
    with pytest.raises(PersistentOrderedDictIntegrityError, match="line 1"):
        list(JSONSerializer.read_items(["bad format\n"]))
    items = [("t\tab", {"v": "\\"}), ("plain", [1])]
    assert list(JSONSerializer.read_items(JSONSerializer.dump_items(items))) == items


# --- the Tracker's tastypy spellings -------------------------------------------------------


def test_tracker_add_duplicate_should_do_add_and_update(tmp_path: Path) -> None:
    new = dict(tastypy.DEFAULT_PROGRESS_TRACKER_MAPPING)
    with Tracker(tmp_path / "t") as tracker:
        tracker.add("a")
        with pytest.raises(DuplicateKeyError, match="add_if_absent"):
            tracker.add("a")
        assert tracker.should_do_add("a")
        assert tracker["a"] == new
        assert tracker.should_do_add("b")
        assert tracker["b"] == new
        tracker.mark_done("a")
        assert not tracker.should_do_add("a")
        tracker.update({"a": {"foo": 2}, "c": {"_tries": 1}}, [("a", {"bar": 3})], d={"x": 1})
        assert tracker["a"] == {**new, "_done": True, "foo": 2, "bar": 3}
        assert tracker["c"] == {**new, "_tries": 1}
        assert tracker["d"] == {**new, "x": 1}
        with pytest.raises(PODError, match="merges dicts"):
            tracker.update({"e": 5})


# --- folders written by the original tastypy -----------------------------------------------


@pytest.mark.parametrize("gzipped", [False, True])
def test_tastypy_folder_opens_read_only_in_place(tmp_path: Path, gzipped: bool, capsys) -> None:
    folder = tmp_path / "old.pod"
    write_tastypy_folder(folder, LEGACY, gzipped)
    before = fingerprint(folder)
    pod = POD(folder)
    assert pod.read_only
    assert pod.items() == [
        ("a", 1),
        ("b\tc", {"x": [1, "2"]}),
        ("task", {"_tries": 2, "_done": True, "_aborted": False, "note": "ok"}),
    ]
    with pytest.raises(PODError, match=r"read-only.*POD\.from_tastypy"):
        pod["a"] = 2
    pod["b\tc"]["x"].append(3)  # cannot be saved: said at close
    pod.close()
    assert "were not saved" in capsys.readouterr().err
    tracker = Tracker(folder)
    assert tracker.check("task")
    assert tracker.tries("task") == 2
    with pytest.raises(PODError, match=r"Tracker\.from_tastypy"):
        tracker.increment_tries("task")
    tracker.close()
    assert fingerprint(folder) == before  # not even a lock file


@pytest.mark.parametrize("gzipped", [False, True])
def test_from_tastypy_converts_and_leaves_the_original_untouched(
    tmp_path: Path, gzipped: bool
) -> None:
    folder = tmp_path / "old.tracker"
    write_tastypy_folder(folder, LEGACY, gzipped)
    before = fingerprint(folder)
    tracker = Tracker.from_tastypy(folder, tmp_path / "new.tracker", max_tries=3)
    assert isinstance(tracker, Tracker)
    assert tracker.gzipped == gzipped
    assert tracker.check("task")
    assert tracker.tries("task") == 2
    assert tracker["a"] == {"_tries": 0, "_done": False, "_aborted": False, "val": 1}
    tracker.increment_tries("task")
    tracker.close()
    assert fingerprint(folder) == before
    with Tracker(tmp_path / "new.tracker") as again:
        assert again.tries("task") == 3
    with pytest.raises(PODError, match="not empty"):
        POD.from_tastypy(folder, tmp_path / "new.tracker")


def test_from_tastypy_tuple_keys_need_convert_key(tmp_path: Path) -> None:
    folder = tmp_path / "old.pod"
    write_tastypy_folder(folder, [['["a", 1]\t"x"', '"b"\t"y"']])
    with pytest.raises(PODError, match="convert_key"):
        POD.from_tastypy(folder, tmp_path / "new1")
    pod = POD.from_tastypy(
        folder,
        tmp_path / "new2",
        convert_key=lambda k: "/".join(map(str, k)) if isinstance(k, tuple) else k,
    )
    assert pod.items() == [("a/1", "x"), ("b", "y")]
    pod.close()


def test_damaged_tastypy_folder_names_the_file(tmp_path: Path) -> None:
    gap = tmp_path / "gap"
    write_tastypy_folder(gap, [['"a"\t1'], ['"b"\t2'], ['"c"\t3']])
    (gap / "1.json").unlink()
    with pytest.raises(PersistentOrderedDictIntegrityError, match=r"1\.json is missing"):
        POD(gap)
    short = tmp_path / "short"
    write_tastypy_folder(short, [['"a"\t1', '"b"\t2'], ['"c"\t3'], ['"d"\t4']])
    with pytest.raises(PersistentOrderedDictIntegrityError, match=r"1\.json holds 1 entries"):
        POD(short)
    bad = tmp_path / "bad"
    write_tastypy_folder(bad, [['"a"\t1', "bad format"]])
    with pytest.raises(PersistentOrderedDictIntegrityError, match=r"0\.json.*line 2"):
        POD(bad)

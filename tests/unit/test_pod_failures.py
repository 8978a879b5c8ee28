"""POD failure semantics (issue #12): nothing good is lost to one bad value or one bad file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from persist_ext import (
    POD,
    ConcurrentAccessError,
    PersistentOrderedDictIntegrityError,
    PODError,
    StoreClosedError,
)


def chunk_files(path: Path) -> list[Path]:
    manifest = json.loads((path / "pod.json").read_text())
    ext = ".jsonl.gz" if manifest["gzipped"] else ".jsonl"
    return [path / f"{c:06d}.{g}{ext}" for c, g, _ in manifest["chunks"]]


def make(path: Path, n: int = 30, file_size: int = 10) -> None:
    with POD(path, file_size=file_size) as pod:
        for i in range(n):
            pod[f"k{i:02d}"] = {"i": i}


# --- one bad value -------------------------------------------------------------------------


def test_close_saves_every_good_change_then_raises_about_the_bad_one(tmp_path: Path) -> None:
    path = tmp_path / "p"
    pod = POD(path)
    pod["bad"] = {"x": 1}
    pod.sync()
    pod["bad"]["x"] = {1, 2}  # a nested mutation slips past the assignment check
    pod["good"] = [1, 2]
    pod["other"] = "changed"
    with pytest.raises(PODError, match=r"pod\['bad'\]\['x'\] is a set") as caught:
        pod.close()
    assert "could not be saved" in str(caught.value)
    assert pod.closed
    with POD(path) as again:
        assert again["good"] == [1, 2]
        assert again["other"] == "changed"
        assert again["bad"] == {"x": 1}  # its last saved value


def test_with_block_saves_then_raises(tmp_path: Path) -> None:
    path = tmp_path / "p"

    def body() -> None:
        with POD(path) as pod:
            pod["bad"] = {}
            pod["bad"]["s"] = object()
            pod["good"] = 1

    with pytest.raises(PODError, match="'bad'"):
        body()
    with POD(path) as again:
        assert again.items() == [("good", 1)]  # "bad" was new and never writable


def test_with_block_keeps_the_body_exception(tmp_path: Path, capsys) -> None:
    path = tmp_path / "p"

    def body() -> None:
        with POD(path) as pod:
            pod["bad"] = {}
            pod["bad"]["s"] = {1}
            pod["good"] = 1
            raise KeyError("body")

    with pytest.raises(KeyError, match="body"):
        body()
    assert "'bad'" in capsys.readouterr().err  # said on stderr, not hiding the KeyError
    with POD(path) as again:
        assert again["good"] == 1


def test_sync_writes_the_good_keys_and_keeps_the_bad_one_dirty(tmp_path: Path) -> None:
    path = tmp_path / "p"
    pod = POD(path)
    pod["a"] = {"v": 1}
    pod["b"] = 2
    pod["a"]["v"] = {1}
    with pytest.raises(PODError, match=r"pod\['a'\]\['v'\] is a set"):
        pod.sync()
    assert "a" in pod.dirty()
    assert "a" in pod.unsaved
    assert json.loads(chunk_files(path)[0].read_text().splitlines()[1]) == ["b", 2]
    pod["a"]["v"] = [1]  # fixed
    pod.sync()
    assert pod.unsaved == {}
    pod.close()
    with POD(path) as again:
        assert again.items() == [("a", {"v": [1]}), ("b", 2)]


def test_automatic_sync_reports_on_stderr_once_and_never_raises(tmp_path: Path, capsys) -> None:
    pod = POD(tmp_path / "p", sync_at=3)
    pod["bad"] = {}
    pod["bad"]["x"] = {1}
    for i in range(10):
        pod[f"k{i}"] = i  # automatic syncs: an unrelated assignment never raises
    err = capsys.readouterr().err
    assert err.count("pod['bad']['x'] is a set") == 1
    assert pod.peek("k5") == 5
    pod["bad"]["x"] = 1
    pod.close()
    assert POD(tmp_path / "p")["bad"] == {"x": 1}


# --- strings UTF-8 cannot encode ------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["caf\udce9", {"name": "\udc80"}, ["ok", ["x\ud800y"]], {"\udcff": 1}],
)
def test_lone_surrogates_are_refused_at_assignment(tmp_path: Path, value: object) -> None:
    with POD(tmp_path / "p") as pod:
        pod["good"] = 1
        with pytest.raises(PODError, match="surrogate") as caught:
            pod["k"] = value
        assert "surrogateescape" in str(caught.value)  # the fix
        assert "k" not in pod
    assert POD(tmp_path / "p").items() == [("good", 1)]


def test_surrogate_key_is_refused(tmp_path: Path) -> None:
    with POD(tmp_path / "p") as pod, pytest.raises(PODError, match="surrogate"):
        pod["name-\udce9"] = 1


def test_surrogate_slipped_in_by_mutation_fails_only_its_key(tmp_path: Path) -> None:
    path = tmp_path / "p"
    pod = POD(path)
    pod["files"] = []
    pod["files"].append("ok")
    pod.sync()
    pod["files"].append("bad-\udce9")
    pod["n"] = 3
    with pytest.raises(PODError, match="surrogate"):
        pod.close()
    with POD(path) as again:
        assert again.items() == [("files", ["ok"]), ("n", 3)]


# --- missing or damaged chunk files ---------------------------------------------------------


def test_missing_chunk_fails_only_its_keys(tmp_path: Path) -> None:
    path = tmp_path / "p"
    make(path)
    lost = chunk_files(path)[1]
    lost.unlink()
    pod = POD(path)
    assert pod["k05"] == {"i": 5}
    assert pod["k25"] == {"i": 25}
    with pytest.raises(PersistentOrderedDictIntegrityError, match="is missing") as caught:
        pod["k15"]
    message = str(caught.value)
    assert str(lost) in message
    assert "pod.repair()" in message
    assert "backup" in message
    assert caught.value.path == str(lost)
    # A key not found elsewhere may be in the missing file: no false "absent".
    with pytest.raises(PersistentOrderedDictIntegrityError):
        pod["nowhere"]
    pod["k05"] = "changed"  # keys of healthy chunks still work, and sync
    pod.sync()
    seen: list[str] = []
    with pytest.raises(PersistentOrderedDictIntegrityError):
        seen.extend(pod)
    assert seen == [f"k{i:02d}" for i in [*range(10), *range(20, 30)]]
    report = pod.repair()
    assert report.lost_unknown == 10
    assert report.kept == 0
    pod["new"] = 1
    assert "k15" not in pod
    assert len(pod) == 21
    pod.close()
    with POD(path) as again:
        assert again["k05"] == "changed"
        assert again["new"] == 1
        assert len(again) == 21


@pytest.mark.parametrize("damage", ["extra line", "bad line", "truncated", "garbage"])
def test_damaged_chunk_fails_only_its_keys_and_repair_keeps_what_reads(
    tmp_path: Path, damage: str
) -> None:
    path = tmp_path / "p"
    make(path)
    target = chunk_files(path)[1]
    lines = target.read_text().split("\n")
    if damage == "extra line":
        target.write_text(target.read_text() + '"extra-key"\t"extra-val"\n')
    elif damage == "bad line":
        lines[4] = "bad format"  # k13
        target.write_text("\n".join(lines))
    elif damage == "truncated":
        target.write_text("\n".join(lines[:4]) + "\n" + lines[4][:6])  # cut inside k13
    else:
        target.write_bytes(b"\x1f\x8b\xff binary garbage")
    pod = POD(path)
    assert pod["k02"] == {"i": 2}
    assert pod["k22"] == {"i": 22}
    with pytest.raises(PersistentOrderedDictIntegrityError, match=str(target)):
        pod["k11"]
    with pytest.raises(PersistentOrderedDictIntegrityError):
        pod["k11"] = 0  # writing a damaged chunk's key would lose its neighbours
    report = pod.repair()
    assert report.moved == [str(path / "damaged" / target.name)]
    assert (path / "damaged" / target.name).exists()
    kept = {k for k in (f"k{i}" for i in range(10, 20)) if k in pod}
    expected = {
        "extra line": {f"k{i}" for i in range(10, 20)},
        "bad line": {f"k{i}" for i in range(10, 20)} - {"k13"},
        "truncated": {"k10", "k11", "k12"},
        "garbage": set(),
    }[damage]
    assert kept == expected
    assert report.kept == len(expected)
    pod.close()
    with POD(path) as again:
        assert len(again) == 20 + len(expected)
        assert again["k25"] == {"i": 25}


def test_each_line_fills_its_own_key(tmp_path: Path) -> None:
    path = tmp_path / "p"
    make(path, n=5)
    # A POD written before checksums (with them, any edit is a checksum mismatch).
    manifest = json.loads((path / "pod.json").read_text())
    del manifest["checksums"]
    (path / "pod.json").write_text(json.dumps(manifest))
    target = chunk_files(path)[0]
    lines = target.read_text().split("\n")
    lines[1], lines[2] = lines[2], lines[1]  # swap k00 and k01
    target.write_text("\n".join(lines))
    with POD(path) as pod:
        assert pod["k00"] == {"i": 0}
        assert pod["k01"] == {"i": 1}
        assert pod.keys() == ["k00", "k01", "k02", "k03", "k04"]  # the header keeps the order


def test_revert_checks_every_chunk(tmp_path: Path) -> None:
    path = tmp_path / "p"
    make(path)
    pod = POD(path)
    with chunk_files(path)[2].open("a") as handle:
        handle.write('["k29", 0]\n')
    with pytest.raises(PersistentOrderedDictIntegrityError, match="lists 10 keys but holds 11"):
        pod.revert()
    assert pod["k00"] == {"i": 0}  # the rest stays usable
    pod.close()


def test_unreadable_manifest_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "p"
    make(path, n=2)
    (path / "pod.json").write_text("{not json")
    with pytest.raises(PersistentOrderedDictIntegrityError, match=r"pod\.json"):
        POD(path)


# --- the directory itself -------------------------------------------------------------------


def test_a_removed_directory_is_never_written_by_the_old_state(tmp_path: Path, capsys) -> None:
    path = tmp_path / "p"
    old = POD(path)
    old["a"] = 1
    old.sync()
    old["unsynced"] = 2
    shutil.rmtree(path)
    new = POD(path)  # a fresh POD: the old state is dropped, with a note
    assert "was removed or replaced" in capsys.readouterr().err
    assert len(new) == 0
    assert old.closed
    new["b"] = 3
    new.close()
    with POD(path) as again:
        assert again.items() == [("b", 3)]


def test_clone_false_refused_while_open_in_this_process(tmp_path: Path) -> None:
    path = tmp_path / "p"
    first = POD(path)
    assert POD(path)._state is first._state  # clone=True (default) shares
    with pytest.raises(ConcurrentAccessError, match="clone=True"):
        POD(path, clone=False)
    first.close()
    private = POD(path, clone=False)
    with pytest.raises(ConcurrentAccessError, match="already open in this process"):
        POD(path)
    private["x"] = 1
    private.close()
    assert POD(path)["x"] == 1


def test_gzipped_chunks_round_trip_and_the_setting_sticks(tmp_path: Path) -> None:
    path = tmp_path / "p"
    with POD(path, gzipped=True, file_size=3) as pod:
        pod.update((str(i), i) for i in range(7))
    assert [p.name.endswith(".jsonl.gz") for p in chunk_files(path)] == [True] * 3
    with POD(path) as pod:  # gzipped left out: the POD's own setting
        assert pod.gzipped
        assert pod.values() == list(range(7))
    with pytest.raises(PODError, match="gzipped=True"):
        POD(path, gzipped=False)


def test_closed_pod_refuses(tmp_path: Path) -> None:
    pod = POD(tmp_path / "p")
    pod.close()
    with pytest.raises(StoreClosedError, match="open it again"):
        pod["a"] = 1


def test_a_folder_left_by_a_killed_first_sync_opens(tmp_path: Path) -> None:
    # A process killed during its first sync leaves chunk and temporary files and no manifest
    # (one still syncing holds the lock, so opening then waits with ConcurrentAccessError).
    # Those were refused as another program's files ("not empty and is not a POD directory"):
    # the folder could not be opened again without removing them by hand.
    path = tmp_path / "p"
    path.mkdir()
    (path / "000000.1.jsonl").write_text('{"half": ')
    (path / ".000000.1.jsonl.0123456789abcdef.tmp").write_text("")
    with POD(path) as pod:
        assert dict(pod) == {}
        pod["k"] = 1
    assert sorted(p.name for p in path.iterdir() if p.name != ".lock") == [
        "000000.1.jsonl",
        "pod.json",
    ]
    with POD(path) as pod:
        assert pod["k"] == 1
    (tmp_path / "q").mkdir()
    (tmp_path / "q" / "notes.txt").write_text("mine")
    with pytest.raises(PODError, match=r"holds \['notes.txt'\]"):
        POD(tmp_path / "q")

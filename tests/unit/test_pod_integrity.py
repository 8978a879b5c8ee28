"""POD integrity and confinement (issue #11): changed bytes are detected, links are refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from persist_ext import POD, PersistentOrderedDictIntegrityError


def chunk_files(path: Path) -> list[Path]:
    manifest = json.loads((path / "pod.json").read_text())
    ext = ".jsonl.gz" if manifest["gzipped"] else ".jsonl"
    return [path / f"{c:06d}.{g}{ext}" for c, g, _ in manifest["chunks"]]


def make(path: Path, n: int = 30, file_size: int = 10) -> None:
    with POD(path, file_size=file_size) as pod:
        for i in range(n):
            pod[f"k{i:02d}"] = {"i": i}


def flip_digit(target: Path, key: str) -> None:
    """Change one digit of ``key``'s value: the file stays valid JSON lines, same size."""
    text = target.read_text()
    line = next(line for line in text.split("\n") if line.startswith(f'["{key}"'))
    at = max(i for i, c in enumerate(line) if c.isdigit())  # the value's last digit
    changed = line[:at] + str((int(line[at]) + 1) % 10) + line[at + 1 :]
    assert changed != line
    assert json.loads(changed)[0] == key
    target.write_text(text.replace(line, changed))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_manifest_records_a_checksum_per_chunk(tmp_path: Path) -> None:
    make(tmp_path / "p")
    manifest = json.loads((tmp_path / "p" / "pod.json").read_text())
    names = [p.name for p in chunk_files(tmp_path / "p")]
    assert sorted(manifest["checksums"]) == sorted(names)


@pytest.mark.parametrize("fresh", [True, False], ids=["reopened", "open"])
def test_flipped_value_bytes_fail_exactly_that_chunk(tmp_path: Path, fresh: bool) -> None:
    path = tmp_path / "p"
    make(path)
    pod = None if fresh else POD(path)
    if pod is not None:
        assert pod["k00"] == {"i": 0}  # index built before the damage
    target = chunk_files(path)[1]
    flip_digit(target, "k15")
    pod = pod or POD(path)
    for key in ("k15", "k10", "k19"):  # the changed value and its chunk neighbours
        with pytest.raises(PersistentOrderedDictIntegrityError, match="checksum") as caught:
            pod[key]
        assert caught.value.path == str(target)
        assert str(target) in str(caught.value)
        assert "pod.repair()" in str(caught.value)
    assert pod["k05"] == {"i": 5}
    assert pod["k25"] == {"i": 25}
    with pytest.raises(PersistentOrderedDictIntegrityError, match="checksum"):
        pod.revert()
    report = pod.repair()
    assert report.moved == [str(path / "damaged" / target.name)]
    # Repair salvages a mismatched chunk like any damaged one, and says it is unverified.
    assert sorted(report.unverified) == [f"k{i}" for i in range(10, 20)]
    assert pod["k05"] == {"i": 5}
    pod["k15"] = {"i": 15}  # the user restores the value they know
    pod.close()
    with POD(path) as again:
        assert again["k15"] == {"i": 15}
        assert again["k25"] == {"i": 25}
        assert len(again) == 30
        assert again.revert() is None  # every chunk verifies


def test_flipped_header_bytes_are_caught_when_indexing(tmp_path: Path) -> None:
    path = tmp_path / "p"
    make(path)
    target = chunk_files(path)[2]
    target.write_text(target.read_text().replace('"k21"', '"k2X"', 1))  # header only
    pod = POD(path)
    assert pod["k05"] == {"i": 5}
    with pytest.raises(PersistentOrderedDictIntegrityError, match=str(target)):
        pod["k21"]  # not a false "absent"
    with pytest.raises(PersistentOrderedDictIntegrityError, match=str(target)):
        pod["k2X"]  # not the changed header's key
    pod.close()


def test_pod_without_checksums_opens_unverified_until_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "p"
    make(path)
    manifest = json.loads((path / "pod.json").read_text())
    del manifest["checksums"]  # as a persist_ext before checksums wrote it
    (path / "pod.json").write_text(json.dumps(manifest))
    with POD(path) as pod:
        assert len(pod) == 30
        pod["k05"] = "changed"
    manifest = json.loads((path / "pod.json").read_text())
    # The rewritten chunk now has a checksum; the untouched ones stay unverified.
    assert list(manifest["checksums"]) == [chunk_files(path)[0].name]
    flip_digit(chunk_files(path)[1], "k15")  # documented: not detected without a checksum
    with POD(path) as pod:
        assert pod["k15"] == {"i": 16}
        assert pod["k05"] == "changed"
        assert pod["k25"] == {"i": 25}


def test_symlinked_lock_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    path = tmp_path / "p"
    make(path)
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.txt"
    victim.write_text("precious")
    os.chmod(victim, 0o644)
    (path / ".lock").unlink()
    os.symlink(victim, path / ".lock")
    with pytest.raises(PersistentOrderedDictIntegrityError, match="symbolic link") as caught:
        POD(path)
    assert caught.value.path == str(path / ".lock")
    assert victim.read_text() == "precious"
    assert victim.stat().st_mode & 0o777 == 0o644
    # A dangling link would have O_CREAT make a file outside: it is not created.
    (path / ".lock").unlink()
    os.symlink(outside / "created", path / ".lock")
    with pytest.raises(PersistentOrderedDictIntegrityError, match="symbolic link"):
        POD(path)
    assert sorted(os.listdir(outside)) == ["victim.txt"]


def test_symlinked_chunk_is_refused_and_repair_moves_only_the_link(tmp_path: Path) -> None:
    path = tmp_path / "p"
    make(path)
    outside = tmp_path / "outside"
    outside.mkdir()
    target = chunk_files(path)[1]
    planted = outside / target.name
    planted.write_bytes(target.read_bytes())  # same bytes: the checksum alone would pass
    target.unlink()
    os.symlink(planted, target)
    before = snapshot(outside)
    pod = POD(path)
    with pytest.raises(PersistentOrderedDictIntegrityError, match="symbolic link") as caught:
        pod["k15"]
    assert caught.value.path == str(target)
    assert pod["k25"] == {"i": 25}
    pod["k25"] = "changed"
    pod.sync()
    report = pod.repair()
    assert report.kept == 0
    assert report.lost_unknown == 10
    moved = path / "damaged" / target.name
    assert moved.is_symlink()  # the link was moved, never followed
    assert "k15" not in pod
    pod.close()
    assert snapshot(outside) == before


def test_symlinked_manifest_and_damaged_folder_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "p"
    make(path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "pod.json").write_bytes((path / "pod.json").read_bytes())
    (path / "pod.json").unlink()
    os.symlink(outside / "pod.json", path / "pod.json")
    with pytest.raises(PersistentOrderedDictIntegrityError, match="symbolic link"):
        POD(path)
    (path / "pod.json").unlink()
    os.replace(outside / "pod.json", path / "pod.json")
    # A damaged chunk and a planted damaged/ link: repair moves nothing outside.
    flip_digit(chunk_files(path)[0], "k03")
    os.symlink(outside, path / "damaged")
    pod = POD(path)
    with pytest.raises(PersistentOrderedDictIntegrityError, match="not a directory"):
        pod.repair()
    assert os.listdir(outside) == []
    assert pod["k15"] == {"i": 15}
    pod.close()


def test_a_fifo_planted_as_a_chunk_is_refused_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "p"
    make(path)
    target = chunk_files(path)[1]
    target.unlink()
    os.mkfifo(target)
    with POD(path) as pod:
        with pytest.raises(PersistentOrderedDictIntegrityError, match="not a regular file"):
            pod["k15"]
        assert pod["k25"] == {"i": 25}

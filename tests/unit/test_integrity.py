"""Nothing corrupt is returned: flipped bytes in any payload are a CorruptEntryError naming
the entry (arrays, Arrow frames, pickles; inline rows, blob files, stash and workflow files)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from persist_ext import (
    CorruptEntryError,
    DirectoryStash,
    InvalidPickle,
    PersistedWork,
    Store,
    UntrustedEntryError,
    persisted,
)
from persist_ext.features._workflow import FileStorage
from persist_ext.storage._disk import BLOB_DIR
from persist_ext.storage._entry import encode_entry

VALUES = {
    "array": lambda n: np.arange(n, dtype=np.float64),
    "frame": lambda n: pd.DataFrame({"a": np.arange(n, dtype=np.float64), "b": np.ones(n)}),
    "pickle": lambda n: {"list": list(range(n)), "array": np.arange(n)},
}


def flip(data: bytearray, positions: list[int]) -> None:
    for at in positions:
        data[at] ^= 0x5A


def spread(size: int, start: int, count: int = 16) -> list[int]:
    """``count`` offsets spread over ``[start, size)``: header bytes, data bytes, the end."""
    step = max((size - start) // count, 1)
    return [min(start + i * step, size - 1) for i in range(count)]


@pytest.mark.parametrize("kind", sorted(VALUES))
@pytest.mark.parametrize("where", ["blob", "inline"])
def test_flipped_payload_bytes_are_detected(tmp_path: Path, kind: str, where: str) -> None:
    n = 200_000 if where == "blob" else 2_000
    value = VALUES[kind](n)
    with Store(tmp_path / "s") as store:
        store.set("k", value)
        if where == "blob":
            (blob,) = (tmp_path / "s" / BLOB_DIR).glob("*.bin")
            data = bytearray(blob.read_bytes())
            flip(data, spread(len(data), len(data) // 2))
            blob.write_bytes(bytes(data))
        else:
            con = sqlite3.connect(tmp_path / "s" / "cache.db")
            ((raw,),) = con.execute("SELECT value FROM Cache WHERE key = 'k'").fetchall()
            data = bytearray(raw)
            flip(data, spread(len(data), len(data) - 200))  # inside the payload
            with con:
                con.execute("UPDATE Cache SET value = ? WHERE key = 'k'", (bytes(data),))
            con.close()
        with pytest.raises(CorruptEntryError, match="'k'"):
            store.get("k")


@pytest.mark.parametrize("kind", sorted(VALUES))
def test_one_flipped_bit_anywhere_in_a_blob_is_detected(tmp_path: Path, kind: str) -> None:
    with Store(tmp_path / "s") as store:
        store.set("k", VALUES[kind](200_000))
        (blob,) = (tmp_path / "s" / BLOB_DIR).glob("*.bin")
        original = blob.read_bytes()
        for at in (0, 100, len(original) // 3, len(original) - 1):
            data = bytearray(original)
            data[at] ^= 0x01
            blob.write_bytes(bytes(data))
            with pytest.raises(CorruptEntryError, match="'k'"):
                store.get("k")
        blob.write_bytes(original)
        assert store.get("k") is not None


def test_a_blob_hashed_by_a_second_thread_while_read_is_checked_as_well(tmp_path: Path) -> None:
    """Large blobs are hashed behind the read (``_disk.HASH_BEHIND_BYTES``): a real 64 MiB
    payload, intact and with one bit flipped in its first, a middle and its last chunk."""
    from persist_ext.storage import _disk

    array = np.random.default_rng(3).random(_disk.HASH_BEHIND_BYTES // 8 + 1000)
    with Store(tmp_path / "s") as store:
        store.set("k", array)
        (blob,) = (tmp_path / "s" / BLOB_DIR).glob("*.bin")
        assert blob.stat().st_size >= _disk.HASH_BEHIND_BYTES  # the threaded path
        np.testing.assert_array_equal(store.get("k"), array)
        original = blob.read_bytes()
        for at in (5000, len(original) // 2 + 7, len(original) - 1):
            data = bytearray(original)
            data[at] ^= 0x01
            blob.write_bytes(bytes(data))
            with pytest.raises(CorruptEntryError, match="'k'"):
                store.get("k")
        blob.write_bytes(original[: -(9 << 20)])  # truncated by more than a chunk
        with pytest.raises(InvalidPickle, match="'k'"):
            store.get("k")
        blob.write_bytes(original)
        np.testing.assert_array_equal(store.get("k"), array)


def test_truncated_blob_is_detected(tmp_path: Path) -> None:
    with Store(tmp_path / "s") as store:
        store.set("k", np.arange(200_000.0))
        (blob,) = (tmp_path / "s" / BLOB_DIR).glob("*.bin")
        blob.write_bytes(blob.read_bytes()[:-8])
        for mmap in (False, True):
            with pytest.raises(InvalidPickle, match="'k'"):
                store.get("k", mmap=mmap)


def test_mmap_restore_authenticates_the_header_but_not_the_data(tmp_path: Path) -> None:
    """Documented in docs/security.md: a mapped array's data bytes are not checksummed."""
    with Store(tmp_path / "s") as store:
        store.set("k", np.zeros(200_000))
        (blob,) = (tmp_path / "s" / BLOB_DIR).glob("*.bin")
        data = bytearray(blob.read_bytes())
        data[10] ^= 0x01  # inside the signed JSON header (dtype, shape)
        blob.write_bytes(bytes(data))
        with pytest.raises(CorruptEntryError):
            store.get("k", mmap=True)
        data[10] ^= 0x01
        data[-1] = 1  # a data byte: the mapped restore does not read it to verify
        blob.write_bytes(bytes(data))
        assert store.get("k", mmap=True).shape == (200_000,)
        with pytest.raises(InvalidPickle):
            store.get("k")  # a full restore does


def test_flipped_bytes_in_stash_and_workflow_files(tmp_path: Path) -> None:
    stash = DirectoryStash(tmp_path / "d")
    stash.dump("k", {"a": list(range(1000))})
    storage = FileStorage(tmp_path / "wf")
    storage.save("w", "t", list(range(1000)))
    (result,) = [p for p in (tmp_path / "wf").rglob("*") if p.is_file()]
    for path in (stash.key_to_path("k"), result):
        data = bytearray(path.read_bytes())
        flip(data, spread(len(data), len(data) - 500))
        path.write_bytes(bytes(data))
    with pytest.raises(InvalidPickle, match="checksum"):
        stash.load("k")
    with pytest.raises(InvalidPickle, match="checksum"):
        storage.read_task("w", "t")


def test_files_swapped_between_names_are_refused_not_returned(tmp_path: Path) -> None:
    # Someone who can write the folder renames signed files: each file is bound to its name,
    # so a key never returns the value written under another one.
    stash = DirectoryStash(tmp_path / "d")
    stash.dump("a", [1, 2])
    stash.dump("b", {"x": 3})
    storage = FileStorage(tmp_path / "wf")
    storage.save("w", "t1", "one")
    storage.save("w", "t2", "two")
    assert (_Owner(tmp_path / "pa.dat", "A").value, _Owner(tmp_path / "pb.dat", "B").value) == (
        "A",
        "B",
    )
    pairs = [
        (stash.key_to_path("a"), stash.key_to_path("b")),
        (tmp_path / "wf" / "w" / "t1", tmp_path / "wf" / "w" / "t2"),
        (tmp_path / "pa.dat", tmp_path / "pb.dat"),
    ]
    for one, two in pairs:
        first, second = one.read_bytes(), two.read_bytes()
        one.write_bytes(second)
        two.write_bytes(first)
    for load in (
        lambda: stash.load("a"),
        lambda: stash.get("b", "default"),
        lambda: storage.read_task("w", "t1"),
        lambda: _Owner(tmp_path / "pa.dat", "recomputed").value,
    ):
        with pytest.raises(UntrustedEntryError, match="renamed or copied from another file"):
            load()
    for one, two in pairs:  # put back, every value is its own again
        first, second = one.read_bytes(), two.read_bytes()
        one.write_bytes(second)
        two.write_bytes(first)
    assert (stash.load("a"), stash.load("b")) == ([1, 2], {"x": 3})
    assert storage.read_task("w", "t1") == "one"
    assert _Owner(tmp_path / "pa.dat", "recomputed").value == "A"


def test_files_signed_before_names_were_bound_still_load(tmp_path: Path) -> None:
    stash = DirectoryStash(tmp_path / "d")
    stash.dump("a", 0)
    stash.key_to_path("a").write_bytes(encode_entry("", [1, 2]).record())
    assert stash.load("a") == [1, 2]


class _Owner:
    def __init__(self, path: Path, value: str) -> None:
        self._value = PersistedWork(path, self)
        self.made = value

    @property
    @persisted("_value")
    def value(self) -> str:
        return self.made

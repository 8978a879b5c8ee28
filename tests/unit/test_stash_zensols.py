"""zensols.persist names that users import: persist_ext.stash is a drop-in for them."""

from __future__ import annotations

import logging
import zipfile
from collections import OrderedDict
from pathlib import Path

import pytest

import persist_ext.stash as stash_api
from persist_ext import PersistableError
from persist_ext.stash import (
    DelegateDefaults,
    DelegateStash,
    DictionaryStash,
    FileTextUtil,
    LRUCacheStash,
    ProtectiveStash,
    ShelveStash,
    chunks,
    shelve,
)


class _Picky(DictionaryStash):
    def dump(self, name: str, inst: object) -> None:
        if inst == "bad":
            raise ValueError(f"refused {name}")
        super().dump(name, inst)


def test_every_name_of_the_module_is_importable() -> None:
    for name in stash_api.__all__:
        assert getattr(stash_api, name) is not None, name


def test_protective_stash_stores_the_error_instead_of_raising(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stash = ProtectiveStash(_Picky(), log_errors=True)
    stash.dump("a", 1)
    with caplog.at_level(logging.WARNING, logger="persist_ext"):
        stash.dump("b", "bad")
    assert stash["a"] == 1
    assert isinstance(stash["b"], ValueError)
    assert str(stash["b"]) == "refused b"
    assert "could not dump 'b'" in caplog.text


def test_protective_stash_can_stay_quiet(caplog: pytest.LogCaptureFixture) -> None:
    stash = ProtectiveStash(_Picky(), log_errors=False)
    with caplog.at_level(logging.WARNING, logger="persist_ext"):
        stash.dump("b", "bad")
    assert caplog.text == ""
    assert isinstance(stash.load("b"), ValueError)


def test_lru_stash_drops_the_least_recently_used() -> None:
    stash = LRUCacheStash(2)
    assert type(stash.data) is OrderedDict
    stash.dump("a", 1)
    stash.dump("b", 2)
    assert stash.load("a") == 1  # "a" is now the most recent
    stash.dump("c", 3)
    assert sorted(stash.keys()) == ["a", "c"]
    assert stash.get("b") is None
    with pytest.raises(KeyError, match=r"^'b'"):
        stash["b"]
    assert list(stash.values()) == [1, 3]  # listing is not a use and never fails
    stash.clear()
    assert len(stash) == 0


@pytest.mark.parametrize("size", [0, -1, 1.5, True, None])
def test_lru_stash_refuses_a_bad_size(size: object) -> None:
    with pytest.raises(PersistableError, match="maxsize of at least 1"):
        LRUCacheStash(size)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Test of File! Text@ Util", "test-of-file-text-util"),
        ("^first Test.", "first-test"),
        ("!--Test middle!@#$%^&*(){} Last!%", "test-middle-last"),
    ],
)
def test_normalize_text(text: str, expected: str) -> None:
    assert FileTextUtil.normalize_text(text) == expected


def test_normalize_path_keeps_root_and_home() -> None:
    assert FileTextUtil.normalize_path(Path("/usr/local.bin/a.txt")).parts == (
        "/",
        "usr",
        "local-bin",
        "a-txt",
    )
    assert str(FileTextUtil.normalize_path(Path("~/src/file.c"))) == "~/src/file-c"


def test_chunks() -> None:
    assert tuple(chunks(range(7), 3)) == ([0, 1, 2], [3, 4, 5], [6])
    assert tuple(chunks(range(0), 3)) == ()


def test_shelve_extension_names_the_real_file(tmp_path: Path) -> None:
    ext = ShelveStash.get_extension()
    path = tmp_path / "db"
    file_path = tmp_path / ("db" if ext is None else f"db.{ext}")
    with shelve(path) as stash:
        stash.dump("k", [1, 2])
    assert file_path.exists()
    with shelve(path) as stash:
        assert stash.load("k") == [1, 2]
        stash.clear()
    assert not file_path.exists()
    assert not list(tmp_path.iterdir())


def test_delegate_defaults() -> None:
    with pytest.raises(PersistableError, match="needs a delegate"):
        DelegateStash(None)  # type: ignore[arg-type]
    with pytest.raises(PersistableError, match="needs a delegate"):
        DelegateStash(object())  # type: ignore[arg-type]
    saved = DelegateDefaults.CLASS_CHECK, DelegateDefaults.DELEGATE_ATTR
    try:
        DelegateDefaults.CLASS_CHECK = False
        DelegateDefaults.DELEGATE_ATTR = True
        loose = DelegateStash(DictionaryStash({"a": 1}))
        assert loose.delegate_attr is True
        assert loose.data == {"a": 1}  # attribute of the delegate
        with pytest.raises(PersistableError):
            DelegateStash(None)  # type: ignore[arg-type]  # None always raises
    finally:
        DelegateDefaults.CLASS_CHECK, DelegateDefaults.DELEGATE_ATTR = saved


class _Planted:
    """Unpickling this writes a marker file: proof that a pickle was decoded."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path(self.marker).write_text, ("ran",))


def test_a_folder_the_original_wrote_opens_only_after_explicit_adoption(tmp_path: Path) -> None:
    import pickle

    import persist_ext
    from persist_ext import InvalidPickle, StoreError
    from persist_ext.stash import DirectoryStash

    folder, marker = tmp_path / "stash", tmp_path / "marker"
    folder.mkdir()
    (folder / "a.dat").write_bytes(pickle.dumps([1, 2, 3], protocol=4))  # as zensols writes
    (folder / "b.dat").write_bytes(pickle.dumps(_Planted(str(marker)), protocol=4))
    stash = DirectoryStash(folder)
    assert sorted(stash.keys()) == ["a", "b"]
    for name in ("a", "b"):
        with pytest.raises(InvalidPickle, match=r"trust\(.*pickles=True\)"):
            stash.load(name)
    with pytest.raises(StoreError, match="Nothing persist_ext wrote"):
        persist_ext.trust(folder)  # bare pickles are never adopted implicitly
    assert not marker.exists()
    report = persist_ext.trust(folder, pickles=True)
    assert report.signed == 2
    assert not marker.exists()  # adopting signs the bytes, it never decodes them
    assert stash.load("a") == [1, 2, 3]


def _archive(tmp_path: Path) -> Path:
    path = tmp_path / "conf.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("conf/happy/a.conf", "[default]\nparam1 = 3.14\n")
        archive.writestr("conf/happy/b.conf", "b")
        archive.writestr("conf/happyish/c.conf", "not under conf/happy")
        archive.writestr("conf/sad/", "")
        archive.writestr("conf/sad/b.conf", "sad")
    return path


def test_zip_stash_reads_entries_by_name(tmp_path: Path) -> None:
    from persist_ext.stash import ZipStash

    archive = _archive(tmp_path)
    stash = ZipStash(archive)
    assert sorted(stash.keys()) == [
        "conf/happy/a.conf",
        "conf/happy/b.conf",
        "conf/happyish/c.conf",
        "conf/sad/b.conf",
    ]
    assert stash.load("conf/sad/b.conf") == b"sad"
    assert stash.exists("conf/happy/a.conf")
    assert not stash.exists("a.conf")
    assert stash.load("a.conf") is None
    rooted = ZipStash(archive, root="conf/happy", encoding="utf-8")
    assert sorted(rooted.keys()) == ["a.conf", "b.conf"]
    assert rooted["a.conf"] == rooted.get("a.conf") == "[default]\nparam1 = 3.14\n"
    rooted.dump("x", 1)  # read-only: writes do nothing
    assert "x" not in rooted
    with pytest.raises(PersistableError, match=r"^Roots can not start"):
        ZipStash(archive, root="conf/happy/")

"""MultiProcessStash with real worker processes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from persist_ext._errors import PersistableError
from persist_ext.features._stash import (
    DelegateStash,
    DictionaryStash,
    DirectoryStash,
    MultiProcessStash,
)


class SquareStash(MultiProcessStash):
    """Values are (square, worker pid); the items are 0..n-1."""

    def __init__(self, delegate, n=8, **kwargs):
        super().__init__(delegate, **kwargs)
        self.n = n
        self.created = 0

    def _create_data(self):
        self.created += 1
        return range(self.n)

    def _process(self, chunk):
        for i in chunk:
            yield str(i), (i * i, os.getpid())


class FailingStash(SquareStash):
    def _process(self, chunk):
        for i in chunk:
            if i == 5:
                raise ValueError("item 5 is bad")
            yield str(i), i


def test_workers_fill_a_shared_delegate_directly(tmp_path):
    stash = SquareStash(DirectoryStash(tmp_path), workers=2, chunk_size=3)
    assert stash["7"][0] == 49
    values = dict(stash.items())
    assert sorted(values, key=int) == [str(i) for i in range(8)]
    pids = {pid for _, pid in values.values()}
    assert os.getpid() not in pids  # computed in worker processes
    assert stash.created == 1
    # a new stash over the same directory finds the data and starts no work
    again = SquareStash(DirectoryStash(tmp_path), workers=2)
    assert again["3"][0] == 9
    assert again.created == 0


def test_results_come_back_for_an_in_memory_delegate():
    stash = SquareStash(DictionaryStash(), n=5, workers=2)  # chunk_size=0: one per worker
    assert len(stash) == 5
    assert {k: v[0] for k, v in stash.items()} == {str(i): i * i for i in range(5)}
    assert os.getpid() not in {pid for _, pid in stash.values()}


def test_spawn_context(tmp_path):
    stash = SquareStash(DirectoryStash(tmp_path), n=3, workers=1, mp_context="spawn")
    assert stash["2"][0] == 4


def test_a_failing_worker_leaves_no_partial_data(tmp_path):
    stash = FailingStash(DirectoryStash(tmp_path), workers=2, chunk_size=2)
    with pytest.raises(PersistableError, match="item 5 is bad"):
        stash["0"]
    assert list(tmp_path.iterdir()) == []


def test_workers_setting():
    assert SquareStash(DictionaryStash(), workers=-1).workers == max(1, os.cpu_count() - 1)
    assert SquareStash(DictionaryStash(), workers=0).workers == os.cpu_count()
    with pytest.raises(ValueError, match="chunk_size"):
        SquareStash(DictionaryStash(), chunk_size=-1)


@dataclass
class _Ranges(MultiProcessStash):
    """Written as zensols writes stashes: a dataclass adding its own field."""

    n: int = field()

    def _create_data(self) -> range:
        return range(self.n)

    def _process(self, chunk: list[int]) -> Iterator[tuple[str, dict]]:
        yield str(min(chunk)), {"pid": os.getpid(), "iset": chunk}


@dataclass
class _Tagged(DelegateStash):
    tag: str = "t"


def test_dataclass_subclasses_take_the_inherited_arguments_by_keyword(tmp_path) -> None:
    # zensols' stashes are dataclasses, so a subclass's __init__ takes the parents' fields
    # too, and its config factory passes them (and config=, name=) by keyword
    stash = _Ranges(
        delegate=DirectoryStash(tmp_path / "d"), config=None, name="r", chunk_size=3, workers=2, n=9
    )
    assert (stash.n, stash.chunk_size, stash.workers) == (9, 3, 2)
    assert len(stash) == 3
    assert set(stash.keys()) == {"0", "3", "6"}
    assert sorted(i for value in stash.values() for i in value["iset"]) == list(range(9))
    tagged = _Tagged(delegate=DictionaryStash(), tag="x")
    tagged.dump("k", 1)
    assert (tagged.tag, tagged.load("k"), tagged.delegate.load("k")) == ("x", 1, 1)
    with pytest.raises(TypeError, match="bogus"):
        _Tagged(delegate=DictionaryStash(), bogus=1)

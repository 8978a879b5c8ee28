"""Notebook checkpoints: save a namespace, restore it in a fresh one."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from persist_ext.features._checkpoint import (
    list_checkpoints,
    restore_checkpoint,
    save_checkpoint,
)
from persist_ext.storage._memory import MemoryStore
from persist_ext.storage._store import Store


@pytest.fixture(params=["memory", "diskcache"])
def store(request, tmp_path):
    if request.param == "memory":
        yield MemoryStore()
    else:
        with Store(tmp_path / "store") as disk:
            yield disk


class Point:
    def __init__(self, x: int) -> None:
        self.x = x


Point.__module__ = "__main__"  # as if defined in a notebook cell


def helper(n: int) -> int:
    return n * 2


helper.__module__ = "__main__"


def test_round_trip_of_values_modules_and_notebook_code(store) -> None:
    ns = {
        "x": 41,
        "arr": np.arange(10.0),
        "m": math,
        "p": Point(3),
        "helper": helper,
        "_hidden": 1,
        "In": [],
    }
    report = save_checkpoint(ns, store, "work")
    assert sorted(report.variables) == ["arr", "helper", "p", "x"]
    assert report.modules == {"m": "math"}
    fresh: dict = {}
    restored = restore_checkpoint(fresh, store, "work")
    assert sorted(restored.variables) == ["arr", "helper", "p", "x"]
    assert fresh["x"] == 41
    np.testing.assert_array_equal(fresh["arr"], np.arange(10.0))
    assert fresh["m"] is math
    assert fresh["p"].x == 3
    assert fresh["helper"](4) == 8
    assert "_hidden" not in fresh
    assert "In" not in fresh


def test_unstorable_variables_are_reported_not_fatal(store, tmp_path) -> None:
    with open(tmp_path / "f.txt", "w") as fh:
        ns = {"ok": [1, 2], "lock": threading.Lock(), "fh": fh, "gen": (i for i in [])}
        report = save_checkpoint(ns, store)
    assert report.variables == ["ok"]
    assert set(report.skipped) == {"lock", "fh", "gen"}
    assert "skipped lock: " in str(report)
    fresh: dict = {}
    restore_checkpoint(fresh, store)
    assert fresh["ok"] == [1, 2]


def test_new_save_replaces_old_generation(store) -> None:
    save_checkpoint({"a": 1, "b": 2}, store)
    save_checkpoint({"a": 3}, store)
    fresh: dict = {}
    restore_checkpoint(fresh, store)
    assert fresh == {"a": 3}
    # only one generation of variables remains
    assert len([k for k in store.keys("checkpoint/default/") if "/var/" in k]) == 1


def test_interrupted_save_keeps_previous_checkpoint(store, monkeypatch) -> None:
    save_checkpoint({"a": 1}, store)
    real_set = store.set

    def failing_set(key, value, **kwargs):
        if key.endswith("/manifest"):
            raise KeyboardInterrupt  # the user interrupts after the variables were written
        return real_set(key, value, **kwargs)

    monkeypatch.setattr(store, "set", failing_set)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({"a": 2}, store)
    monkeypatch.undo()
    fresh: dict = {}
    restore_checkpoint(fresh, store)
    assert fresh == {"a": 1}


def test_include_exclude_and_listing(store) -> None:
    ns = {"a": 1, "b": 2, "c": 3}
    save_checkpoint(ns, store, "one", include=["a", "b"], exclude=["b"])
    save_checkpoint(ns, store, "two")
    assert list_checkpoints(store) == ["one", "two"]
    fresh: dict = {}
    restore_checkpoint(fresh, store, "one")
    assert fresh == {"a": 1}


def test_bad_names_and_missing_checkpoint(store) -> None:
    with pytest.raises(KeyError, match="not defined"):
        save_checkpoint({}, store, include=["nope"])
    with pytest.raises(ValueError, match="contain no '/'"):
        save_checkpoint({}, store, "a/b")
    with pytest.raises(KeyError, match="No checkpoint named 'ghost'"):
        restore_checkpoint({}, store, "ghost")

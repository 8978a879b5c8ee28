"""The namespace copy a cold run compares with: what it tells, and what it does not hold."""

from __future__ import annotations

import gc
import weakref

import numpy as np

from persist_ext.features._cellcache._namespace import (
    GONE,
    freed_with_finalizer,
    held_strongly,
    rebound,
    removed,
    snapshot,
    value_before,
)


class Plain:
    pass


class Noisy:
    freed: list[int] = []

    def __init__(self, n: int) -> None:
        self.n = n

    def __del__(self) -> None:
        Noisy.freed.append(self.n)


def test_rebinding_frees_the_old_object_at_once_and_is_seen() -> None:
    kept, dropped = Plain(), Noisy(1)
    ns = {"kept": kept, "dropped": dropped, "arr": np.ones(3), "items": [1], "n": 5}
    probe = weakref.ref(ns["arr"])
    del dropped
    before = snapshot(ns)
    ns["dropped"] = Noisy(2)
    assert Noisy.freed == [1]  # in the cell, as a plain run frees it
    ns["arr"] = np.zeros(3)
    assert probe() is None  # its memory too
    ns["n"] = 6
    ns["new"] = None
    assert rebound(ns, before) == ["dropped", "arr", "n", "new"]
    assert value_before(before, "kept") is kept
    assert value_before(before, "arr") is GONE
    assert value_before(before, "items") == [1]
    assert value_before(before, "absent", "default") == "default"
    assert freed_with_finalizer(before) == ["dropped"]
    assert held_strongly(before, "items")
    assert not held_strongly(before, "kept")
    del ns["kept"]
    assert removed(before, ns) == ["kept"]


def test_a_freed_object_replaced_by_none_or_a_new_object_at_its_address_is_rebound() -> None:
    for _ in range(20):
        ns = {"a": Plain()}
        before = snapshot(ns)
        ns["a"] = None  # the old object freed; None is never held weakly
        assert rebound(ns, before) == ["a"]
        ns["a"] = Plain()  # may take the freed object's address
        assert rebound(ns, before) == ["a"]
        gc.collect()


def test_a_weak_reference_of_the_notebook_and_code_are_held_as_they_are() -> None:
    target = Plain()
    ref = weakref.ref(target)
    ns = {"ref": ref, "f": len, "cls": Plain, "np": np}
    before = snapshot(ns)
    assert all(before[k] is ns[k] for k in ns)
    assert value_before(before, "ref") is ref  # not dereferenced
    assert rebound(ns, before) == []

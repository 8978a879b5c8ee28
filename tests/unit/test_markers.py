"""Markers (the 000 seed): tree shape, the persistence functions, exactly-once completion."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path
from typing import Any

import pytest

from persist_ext._errors import TaskError
from persist_ext.features._tasks import (
    Marker,
    all_done,
    filter_known_done,
    load_context,
    mark_reached,
    marker_get,
    marker_get_children,
    marker_get_multi,
    marker_persist,
    reached_by_another_request,
    store_context,
)
from persist_ext.features._tasks._markers import (
    build_tree,
    complete_leaf,
    leaf_paths,
    level_completion,
    paths_to_root,
    settle_leaves,
    sweep,
)
from persist_ext.storage._memory import MemoryStore
from persist_ext.storage._store import Store


def _depth(node: Marker) -> int:
    return 0 if node.is_leaf else 1 + max(_depth(c) for c in node.children)


@pytest.mark.parametrize(
    ("n", "batch", "group", "depth", "top"),
    [(0, 10, 10, 1, 0), (7, 10, 10, 1, 7), (10, 10, 10, 1, 10), (11, 10, 10, 2, 2),
     (100, 10, 10, 2, 10), (101, 10, 10, 3, 2), (1000, 10, 10, 3, 10), (9, 2, 3, 3, 2)],
)  # fmt: skip
def test_tree_shape(n: int, batch: int, group: int, depth: int, top: int) -> None:
    root = build_tree("g/1", [str(i) for i in range(n)], batch_size=batch, group_size=group)
    assert root.id == "g/1/root"
    assert root.group_id is None
    assert len(root.children) == top
    if n:
        assert _depth(root) == depth
        leaves = paths_to_root(root)
        assert len(leaves) == n
        for path in leaves.values():
            assert path[-1][0] == root.id  # every path ends at the root
            assert all(count <= max(batch, group) for _, count in path)


def test_bad_tree_parameters() -> None:
    with pytest.raises(TaskError, match="batch_size must be >= 1"):
        build_tree("g/1", ["a"], batch_size=0)


def test_persist_get_multi_children_and_results() -> None:
    store = MemoryStore()
    root = build_tree("g/1", ["a", "b", "c"], batch_size=2, group_size=2)
    root.children[0].done = True
    root.children[0].result = {"sum": 3}
    marker_persist(root, save_leaves=False, store=store)
    assert marker_get("g/1/t/0", store=store) is None  # leaves not saved
    node = marker_get("g/1/n1.0", store=store)
    assert node is not None
    assert node.done
    assert node.result is None
    assert marker_get("g/1/n1.0", load_results=True, store=store).result == {"sum": 3}
    assert [m.id for m in marker_get_multi(["g/1/n1.1", "g/1/zzz", "g/1/root"], store=store)] == [
        "g/1/n1.1",
        "g/1/root",
    ]
    stored_root = marker_get("g/1/root", store=store)
    assert [m.id for m in marker_get_children(stored_root, store=store)] == [
        "g/1/n1.0",
        "g/1/n1.1",
    ]
    marker_persist(root, store=store)
    assert marker_get("g/1/t/2", store=store).callbacks == {"task": "c"}
    assert marker_get("g/1/t/2", store=store).group_id == "g/1/n1.1"
    assert marker_get("no-slash", store=store) is None  # a furious-style id, never stored
    for bad in ("/x", "g/", "a@b"):
        with pytest.raises(TaskError, match="Marker id"):
            marker_get(bad, store=store)


def test_context_round_trip() -> None:
    store = MemoryStore()
    assert load_context("g/1/root", store=store) == {}
    store_context("g/1/root", {"group": "g", "n": 3}, store=store)
    assert load_context("g/1/root", store=store) == {"group": "g", "n": 3}
    with pytest.raises(TaskError, match="needs a dict"):
        store_context("g/1/root", [1], store=store)  # type: ignore[arg-type]


def test_filter_known_done_and_all_done() -> None:
    store = MemoryStore()
    marker_persist(build_tree("g/1", ["a", "b"]), store=store)
    ids = ["g/1/t/0", "g/1/t/1"]
    assert filter_known_done(ids, store=store) == ids
    complete_leaf(store, "g/1/t/0", [("g/1/root", 2)])
    assert filter_known_done(ids, store=store) == ["g/1/t/1"]
    assert not all_done(ids, store=store)
    complete_leaf(store, "g/1/t/1", [("g/1/root", 2)])
    assert all_done(ids, store=store)


def test_mark_reached_is_first_wins() -> None:
    store = MemoryStore()
    assert not reached_by_another_request("g/1/root", "cb", store=store)
    assert mark_reached("g/1/root", "cb", store=store)
    assert not mark_reached("g/1/root", "cb", store=store)
    assert reached_by_another_request("g/1/root", "cb", store=store)


def test_completion_bubbles_once_and_rerun_is_noop() -> None:
    store = MemoryStore()
    keys = [str(i) for i in range(25)]
    root = build_tree("g/1", keys, batch_size=3, group_size=2)
    marker_persist(root, save_leaves=False, store=store)
    paths = paths_to_root(root)
    completions = [complete_leaf(store, leaf, path) for leaf, path in paths.items()]
    assert completions.count(True) == 1
    assert completions[-1] is True
    assert marker_get("g/1/root", store=store).done
    assert not any(complete_leaf(store, leaf, path) for leaf, path in paths.items())
    levels = level_completion(store, "g/1/root", len(keys))
    assert levels[0] == (25, 25)
    assert levels[-1] == (1, 1)
    assert all(done == total for done, total in levels)


def test_threads_racing_complete_root_exactly_once() -> None:
    store = MemoryStore()
    root = build_tree("g/1", [str(i) for i in range(64)], batch_size=4, group_size=4)
    marker_persist(root, save_leaves=False, store=store)
    paths = list(paths_to_root(root).items())
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def worker(chunk: list[tuple[str, list[tuple[str, int]]]]) -> None:
        barrier.wait()
        for leaf, path in chunk:
            with store.transact():
                wins.append(complete_leaf(store, leaf, path))

    threads = [threading.Thread(target=worker, args=(paths[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1


class _AddOnly:
    """A store of one's own with ``add`` and no ``add_many`` (the protocol asks no more)."""

    def __init__(self, inner: MemoryStore) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> object:
        if name == "add_many":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __contains__(self, key: object) -> bool:
        return key in self.inner


@pytest.mark.parametrize("kind", ["Store", "MemoryStore", "add only"])
def test_settle_leaves_racing_threads_mark_every_node_once(kind: str, tmp_path: Path) -> None:
    """Eight threads settle overlapping batches: every node's done flag is won by exactly one
    batch, the root is completed by one call, and the flags are those of the full tree."""
    inner = MemoryStore()
    store: Any = Store(tmp_path) if kind == "Store" else inner
    if kind == "add only":
        store = _AddOnly(inner)
    n, batch_size, group_size = 200, 4, 3
    root = build_tree("g/1", [str(i) for i in range(n)], batch_size=batch_size, group_size=3)
    marker_persist(root, save_leaves=False, store=store)
    paths = leaf_paths("g/1", n, batch_size=batch_size, group_size=group_size)
    leaves = [(f"g/1/t/{i}", p) for i, p in enumerate(paths)]
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def worker(w: int) -> None:
        barrier.wait()
        # Each leaf is settled by two threads, in batches of different sizes.
        mine = leaves[w * 25 : w * 25 + 25] + leaves[((w + 3) % 8) * 25 :][:25]
        for start in range(0, len(mine), 7 + w):
            with store.transact():
                wins.append(
                    settle_leaves(store, mine[start : start + 7 + w], batch_size=batch_size)
                )

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1
    internal = [k for k in store.keys("tasks/g/markers/1/n") if k.endswith("@done")]
    assert len(internal) == sum(1 for k in store.keys("tasks/g/markers/1/n") if "@" not in k)
    assert marker_get("g/1/root", store=store).done
    assert sweep(store, "g/1/root") is False
    if kind == "Store":
        store.close()


def test_sweep_repairs_a_lost_count() -> None:
    store = MemoryStore()
    root = build_tree("g/1", ["a", "b", "c", "d"], batch_size=2, group_size=2)
    marker_persist(root, save_leaves=False, store=store)
    paths = paths_to_root(root)
    for leaf in list(paths)[:3]:
        complete_leaf(store, leaf, paths[leaf])
    # A crash after marking the last leaf but before counting it:
    store.add(f"tasks/g/markers/{list(paths)[3][len('g/') :]}@done", 0.0)
    assert not marker_get("g/1/root", store=store).done
    assert sweep(store, "g/1/root") is True
    assert marker_get("g/1/root", store=store).done
    assert sweep(store, "g/1/root") is False  # idempotent
    with pytest.raises(TaskError, match="No marker tree"):
        sweep(store, "g/9/root")


def test_combiners_as_in_the_seed() -> None:
    store = MemoryStore()
    root = build_tree("g/1", [str(i) for i in range(6)], batch_size=2, group_size=3)
    marker_persist(root, save_leaves=False, store=store)
    paths = paths_to_root(root)
    combiners = (sum, lambda parts: sorted(parts))
    for i, (leaf, path) in enumerate(paths.items()):
        complete_leaf(store, leaf, path, result=i, combiners=combiners)
    assert marker_get("g/1/root", load_results=True, store=store).result == [1, 5, 9]


def _race_add(directory: str, start: multiprocessing.synchronize.Barrier, out: object) -> None:
    store = Store(directory)
    start.wait()
    out.put(mark_reached("g/1/root", "callback", store=store))  # type: ignore[attr-defined]


@pytest.mark.slow
def test_mark_reached_across_processes(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    for round_ in range(5):
        directory = str(tmp_path / f"s{round_}")
        Store(directory).close()
        start, out = ctx.Barrier(8), ctx.Queue()
        procs = [ctx.Process(target=_race_add, args=(directory, start, out)) for _ in range(8)]
        for p in procs:
            p.start()
        results = [out.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(60)
        assert results.count(True) == 1

"""The hit path of persist_ext.cache: results kept in memory stay honest, uses are recorded.

A small result is kept pickled in the process and served from there while the store's
change token says nothing changed; these tests change the store behind its back in every
way another process or thread can, and check the next call sees it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from _noted import Noted
from IPython.utils.capture import capture_output

from persist_ext import MemoryStore, Store, cache
from persist_ext.features._usage import flush_uses, note_use, read_use

HERE = Path(__file__).parent


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "store") as st:
        yield st


def _results(store: Store) -> list[str]:
    return [k for k in store.keys("memo/") if k.endswith("/result")]


def _cached(store: Store, note: Noted):
    # Runs are noted in a file (``_noted``): what a cached function reaches is part of its key.
    @cache(store=store)
    def square(x):
        note(x)
        return [x * x]

    return square


def test_change_token_moves_with_every_change_by_anyone(store: Store, tmp_path: Path) -> None:
    store.set("a", 1)
    first = store.change_token()
    assert first is not None
    assert store.change_token() == first  # nothing changed
    _ = store.get("a"), store.info("a"), "a" in store, list(store.keys())
    assert store.change_token() == first  # reads change nothing
    store.set("b", 2)  # this thread's own connection
    second = store.change_token()
    assert second != first
    thread = threading.Thread(target=store.delete, args=("b",))
    thread.start()
    thread.join()  # another connection of this process
    third = store.change_token()
    assert third != second
    code = (
        "import sys; from persist_ext import Store; s = Store(sys.argv[1]); s.set('c', 3); "
        "s.close()"
    )
    subprocess.run([sys.executable, "-c", code, str(store.directory)], check=True)
    assert store.change_token() != third  # another process
    seen: list = []
    thread = threading.Thread(target=lambda: seen.append(store.change_token()))
    thread.start()
    thread.join()
    assert seen[0] != store.change_token()  # two connections never share a token


def test_a_result_removed_by_another_process_is_a_miss(store: Store) -> None:
    note = Noted()
    square = _cached(store, note)
    assert square(3) == [9]
    for _ in range(3):
        assert square(3) == [9]  # served from memory
    assert note.calls == [3]
    code = (
        "import sys; from persist_ext import Store; s = Store(sys.argv[1]); "
        "[s.delete(k) for k in list(s.keys('memo/')) if k.endswith('/result')]; s.close()"
    )
    subprocess.run([sys.executable, "-c", code, str(store.directory)], check=True)
    assert square(3) == [9]
    assert note.calls == [3, 3]


def test_a_result_replaced_by_another_thread_is_read_again(store: Store) -> None:
    note = Noted()
    square = _cached(store, note)
    square(4)
    square(4)
    (key,) = _results(store)
    info = store.info(key)
    thread = threading.Thread(target=lambda: store.set(key, ["replaced"], meta=info.meta))
    thread.start()
    thread.join()
    assert square(4) == ["replaced"]  # the stored value, not the copy kept in memory
    assert note.calls == [4]


def test_a_result_removed_by_this_thread_is_a_miss(store: Store) -> None:
    note = Noted()
    square = _cached(store, note)
    square(5)
    square(5)
    for key in _results(store):
        store.delete(key)
    square(5)
    assert note.calls == [5, 5]


def test_hits_are_recorded_once_each_and_kept_on_a_normal_exit(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PERSIST_EXT_DIR": str(tmp_path / "store"),
        "MEMO_TEST_COUNTS": str(tmp_path),
        "PYTHONPATH": f"{HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    # Four calls: one miss, three hits, then the interpreter exits at once (no flush call).
    script = "import _memo_funcs as m\nfor _ in range(4): m.slow_square(2, delay=0)\n"
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=120)
    with Store(tmp_path / "store") as st:
        used = [k for k in st.keys("memo/") if k.endswith("/used")]
        assert len(used) == 1
        last, hits = read_use(st, used[0])
        assert hits == 3
        assert last is not None


def test_uses_of_a_unit_removed_meanwhile_are_not_written(store: Store) -> None:
    store.set("memo/f/k/result", 1)
    note_use(store, "memo/f/k/used", "memo/f/k/result")
    store.delete("memo/f/k/result")  # evicted before the batch was written
    flush_uses(store)
    assert "memo/f/k/used" not in store


class _HeldStore(MemoryStore):
    """A store whose first transaction waits for ``release``: a write under way."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = threading.Event()
        self.release = threading.Event()

    @contextlib.contextmanager
    def transact(self):
        if not self.inside.is_set():
            self.inside.set()
            assert self.release.wait(60)
        with super().transact() as txn:
            yield txn


def test_a_flush_waits_for_the_uses_another_flush_is_writing() -> None:
    # Seen in CI: the background thread took the noted hits; the flush before a listing
    # found nothing left to write and returned, and the listing read no hits.
    store = _HeldStore()
    store.set("memo/f/k/result", 1)
    note_use(store, "memo/f/k/used", "memo/f/k/result", counter="memo/f/k/hits")
    writer = threading.Thread(target=flush_uses)  # as the background thread does
    writer.start()
    assert store.inside.wait(60)  # it took the uses and is writing them
    read: list[object] = []
    reader = threading.Thread(
        target=lambda: (flush_uses(store), read.append(store.get("memo/f/k/hits", None)))
    )
    reader.start()
    reader.join(1)  # had it not waited, it has read by now
    store.release.set()
    writer.join(60)
    reader.join(60)
    assert read == [1]


def test_cell_hits_go_through_the_same_use_records(ip) -> None:
    from persist_ext.features._cellcache._units import USED

    with capture_output() as out:
        ip.run_cell("%%persist twice\nx = 2 * 21")
        ip.run_cell("%%persist twice\nx = 2 * 21")
        ip.run_cell("%%persist twice\nx = 2 * 21")
        # Why the cell ran rather than being stored, if it did (seen in CI: an earlier test's
        # Dask nannies freed during the cell, now collected first by the `ip` fixture);
        # `%persist why` returns its explanation, it prints nothing.
        why = ip.run_line_magic("persist", "why twice")
    store = (
        ip.magics_manager.registry["PersistMagics"]
        .cache_for(str(ip.magics_manager.registry["PersistMagics"].store_directory.absolute()))
        .store
    )
    flush_uses()
    manifests = [k for k in store.keys("cell/") if k.endswith("/manifest")]
    assert len(manifests) == 1, (manifests, repr(why), out.stdout, threading.enumerate())
    prefix = manifests[0][: -len("manifest")]
    # The counter listings show (and why the cell ran, if it was not restored).
    # Seen in CI (2026-12-06): "it changes the logging configuration (logger
    # distributed.nanny)" while no test code touched it: the threads and that logger's
    # state are printed to find what did.
    nanny = logging.getLogger("distributed.nanny")
    assert store.get(f"{prefix}hits", None) == 2, (
        repr(why),
        out.stdout,
        threading.enumerate(),
        (nanny.level, nanny.propagate, nanny.disabled, nanny.handlers),
    )
    assert read_use(store, f"{prefix}{USED}")[1] == 2  # the record budgets read


def test_no_budget_means_the_per_cell_hook_reads_nothing(ip, monkeypatch) -> None:
    from persist_ext.features import _budget

    looked: list[str] = []

    def fail(*args, **kwargs):
        looked.append("budget")
        raise AssertionError("the budget hook looked at a store with no budget set")

    for name in ("PERSIST_EXT_MAX_SIZE", "PERSIST_EXT_MAX_COUNT", "PERSIST_EXT_MAX_AGE"):
        monkeypatch.delenv(name, raising=False)
    with capture_output() as out:
        ip.run_cell("%%persist one\ny = 1")
        # The hook looks at the stores this shell opened: make sure this one is (a store
        # is opened lazily, and a cell the runs index knows runs without it).
        ip.run_line_magic("persist", "list")
    monkeypatch.setattr(_budget, "enforce_budget", fail)
    monkeypatch.setattr(_budget, "budget_of", fail)
    with capture_output() as out:
        ip.run_cell("%%persist one\ny = 1")
        ip.run_cell("z = 2")
    assert "budget" not in out.stdout
    assert not looked
    monkeypatch.setenv("PERSIST_EXT_MAX_COUNT", "100")  # a budget: the hook looks again
    with capture_output() as out:
        ip.run_cell("w = 3")
    assert looked, out.stdout  # the hook asked for the budget of the open store
    assert "applying the store budget failed" in out.stdout


def test_no_budget_found_is_not_looked_for_again_until_config_or_environment_change(
    ip, monkeypatch
) -> None:
    """With no budget anywhere, later cells do not ask again (environment variables,
    traitlets) while neither the environment nor the configuration changed; either change
    makes the next cell look, and a budget found is applied."""
    from persist_ext.features import _budget

    for name in ("PERSIST_EXT_MAX_SIZE", "PERSIST_EXT_MAX_COUNT", "PERSIST_EXT_MAX_AGE"):
        monkeypatch.delenv(name, raising=False)
    asked: list[bool] = []
    real = _budget.any_budget

    def any_budget(*args, **kwargs):
        asked.append(True)
        return real(*args, **kwargs)

    monkeypatch.setattr(_budget, "any_budget", any_budget)
    with capture_output():
        ip.run_cell("%%persist one\ny = 1")
        ip.run_cell("z = 2")
        ip.run_cell("z = 3")
    assert len(asked) == 1  # the first cell looked; nothing changed since
    monkeypatch.setenv("PERSIST_EXT_UNRELATED", "1")  # the environment changed: look again
    with capture_output():
        ip.run_cell("z = 4")
    assert len(asked) == 2
    ip.run_line_magic("config", "PersistMagics.max_count = 1000")  # configured: a budget
    try:
        with capture_output():
            ip.run_cell("z = 5")
            ip.run_cell("z = 6")
        assert len(asked) == 4  # a budget in force: every cell applies it
    finally:
        ip.run_line_magic("config", "PersistMagics.max_count = 0")


def test_a_call_that_raises_releases_its_claim_sync_and_async(store: Store) -> None:
    import asyncio

    runs: list[int] = []

    def note(x):
        note.runs.append(x)  # type: ignore[attr-defined]

    note.runs = runs  # type: ignore[attr-defined]

    @cache(store=store)
    def fails(x):
        note(x)
        raise ValueError(f"bad {x}")

    @cache(store=store)
    async def afails(x):
        note(-x)
        await asyncio.sleep(0)
        raise ValueError(f"bad {x}")

    for _ in range(2):
        with pytest.raises(ValueError, match="bad 1"):
            fails(1)

    async def main() -> list:
        return await asyncio.gather(afails(2), afails(2), return_exceptions=True)

    for _ in range(2):
        outcomes = asyncio.run(main())
        assert all(isinstance(o, ValueError) for o in outcomes)
    assert runs.count(1) == 2  # every call ran: nothing was stored
    assert 2 <= runs.count(-2) <= 4  # waiters re-run after the leader raised
    assert not [k for k in store.keys("memo/") if k.endswith(("/lock", "/result"))]

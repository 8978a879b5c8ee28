"""Store budgets: units, least-recently-used eviction of whole units, protection, notices."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from persist_ext import Budget, MemoryStore, Store, cache, enforce_budget, save_checkpoint
from persist_ext._limits import parse_size
from persist_ext.features._budget import list_units, plan_eviction, store_usage
from persist_ext.features._cellcache._entry import Manifest, new_run_id, write_entry


def _cell(store, name: str, key: str, payload: bytes = b"x" * 1000) -> str:
    manifest = Manifest(name=name, key=key, run=new_run_id(), code="x = 1", components={})
    stored, failures = write_entry(store, manifest, {"x": payload, "y": [1, 2]}, [])
    assert stored
    assert not failures
    return manifest.entry_prefix


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "store") as st:
        yield st


# ------------------------------------------------------------------------------ budgets
def test_budget_reads_sizes_counts_and_ages() -> None:
    assert Budget(max_size="10G", max_count="5", max_age="30d") == Budget(
        10_000_000_000, 5, 30 * 86400.0
    )
    assert parse_size("1.5k") == 1500
    assert parse_size("1KiB") == 1024
    assert Budget().is_empty
    assert not Budget(max_count=1).is_empty
    assert Budget(max_count=3).over(Budget(max_size=5, max_count=9)) == Budget(5, 3)
    for bad in ({"max_size": "big"}, {"max_count": "-1"}, {"max_age": "soon"}, {"max_count": 0}):
        with pytest.raises(ValueError):
            Budget(**bad)
    with pytest.raises(ValueError, match="Unknown budget field"):
        Budget.coerce({"size": 1})


def test_budget_from_environment(monkeypatch) -> None:
    monkeypatch.setenv("PERSIST_EXT_MAX_COUNT", "7")
    monkeypatch.setenv("PERSIST_EXT_MAX_AGE", "2h")
    assert Budget.from_env() == Budget(max_count=7, max_age=7200)
    monkeypatch.setenv("PERSIST_EXT_MAX_SIZE", "lots")
    with pytest.raises(ValueError, match="PERSIST_EXT_MAX_SIZE"):
        Budget.from_env()


def test_store_argument_sets_the_budget(tmp_path: Path) -> None:
    with Store(tmp_path / "s", budget={"max_count": 2}) as st:
        assert st.budget == Budget(max_count=2)
    assert MemoryStore(budget=Budget(max_size="1M")).budget.max_size == 1_000_000
    with Store(tmp_path / "k", max_size="10G", max_age="30d", budget={"max_count": 9}) as st:
        assert st.budget == Budget(max_size="10G", max_count=9, max_age="30d")
    assert MemoryStore(max_count=3).budget == Budget(max_count=3)
    assert MemoryStore().budget is None
    with pytest.raises(ValueError, match="as a size"):
        MemoryStore(max_size="a lot")
    with pytest.raises(TypeError):
        MemoryStore(budget=42)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ units
def test_cells_are_units_and_a_hit_counts_as_use(store, monkeypatch) -> None:
    from persist_ext.features._cellcache._units import record_use

    old = _cell(store, "old", "a" * 32)
    time.sleep(0.05)
    new = _cell(store, "new", "b" * 32)
    units = {u.name: u for u in list_units(store) if u.kind == "cell"}
    assert set(units) == {"old", "new"}
    assert units["old"].size > 1000
    record_use(store, old)  # "old" was just restored: "new" is now least recently used
    assert store.info(f"{old}used").serializer == "json"
    report = enforce_budget(store, Budget(max_count=1))
    assert [u.name for u, _ in report.evicted] == ["new"]
    assert not list(store.keys(new)), "the whole run is gone: manifest, variables, outputs"
    assert f"{old}manifest" in store
    assert "evicted 1 least recently used unit(s)" in report.notice()
    assert "cell new" in report.notice()
    assert "max-count 1" in report.notice()


def test_calls_are_units_evicted_least_recently_used_first(store) -> None:
    @cache(store=store)
    def f(x):
        return bytes(2000) + bytes([x])

    for x in range(4):
        f(x)
        time.sleep(0.02)
    f(0)  # a hit: 0 is now the most recently used
    report = enforce_budget(store, Budget(max_count=2))
    assert sorted(u.name for u, _ in report.evicted) == ["f(1)", "f(2)"]
    remaining = sorted(c.call for c in f.calls())
    assert remaining == ["f(0)", "f(3)"]


def test_size_and_age_budgets(store) -> None:
    first = _cell(store, "first", "c" * 32, b"a" * 5000)
    _cell(store, "second", "d" * 32, b"b" * 5000)
    report = enforce_budget(store, Budget(max_size=8000))
    assert [u.name for u, _ in report.evicted] == ["first"]
    assert "max-size 8.0 kB" in report.notice()
    assert not list(store.keys(first))
    later = time.time() + 3600
    report = enforce_budget(store, Budget(max_age="30m"), now=later)
    assert [u.name for u, _ in report.evicted] == ["second"]
    assert "unused for" in report.notice()


def test_no_budget_evicts_nothing(store) -> None:
    _cell(store, "keep", "e" * 32)
    assert enforce_budget(store, Budget()).evicted == []
    assert enforce_budget(store).evicted == []  # no store budget, no environment budget
    assert len(list_units(store)) == 1


def test_enforce_budget_refuses_what_is_not_a_store_or_a_budget(store) -> None:
    from persist_ext import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match=r"enforce_budget\(\) needs a store.*not str"):
        enforce_budget(".persist", Budget(max_count=1))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"budget must be a persist_ext\.Budget"):
        enforce_budget(store, "10G")  # type: ignore[arg-type]
    assert enforce_budget(store, {"max_count": 5}).evicted == []  # a dict of its fields


def test_checkpoints_and_running_task_groups_are_protected(store) -> None:
    import threading

    from persist_ext import TaskGroup, restore_checkpoint

    save_checkpoint({"big": b"z" * 20_000}, store)
    release = threading.Event()
    running = TaskGroup("running", store)
    running.map(lambda x: release.wait(60) and x, [1, 2])
    running.run()
    done = TaskGroup("finished", store)
    done.map(abs, [-1, -2])
    done.run().wait(timeout=60)
    done.close()
    _cell(store, "cell", "f" * 32)
    try:
        units = {u.kind + ":" + u.name.split(" ")[0]: u for u in list_units(store)}
        assert units["tasks:running"].protected
        assert not units["tasks:finished"].protected
        assert units["checkpoint:history"].protected
        report = enforce_budget(store, Budget(max_size=1))
        evicted = sorted(f"{u.kind}:{u.name}" for u, _ in report.evicted)
        assert evicted == ["cell:cell", "tasks:finished"]
        assert "is protected" in report.notice()
    finally:
        release.set()
        running.wait(timeout=60)
        running.close()
    ns: dict = {}
    restore_checkpoint(ns, store)
    assert ns["big"] == b"z" * 20_000
    assert "running" in [u.name for u in list_units(store)]


def test_plan_never_includes_protected_units() -> None:
    from persist_ext.features._budget import Unit

    units = [
        Unit("checkpoint", "h", "checkpoint/", "checkpoint/ref/", 100, 0.0, protected="kept"),
        Unit("call", "f(1)", "memo/f/1/", "memo/f/1/result", 10, 5.0),
    ]
    plan = plan_eviction(units, Budget(max_size=1, max_age=1), now=100.0)
    assert [u.name for u, _ in plan] == ["f(1)"]


def test_usage_lines(store) -> None:
    _cell(store, "one", "1" * 32)
    text = repr(store_usage(store, Budget(max_count=10)))
    assert "budget: max-count 10" in text
    assert "1 cached unit(s)" in text


# ------------------------------------------------------------------------------ magics


def _run(ip, source: str) -> str:
    with capture_output() as out:
        ip.run_cell(source)
    return out.stdout


def test_gc_info_and_the_notice_after_a_cell(ip) -> None:
    for name in ("a", "b", "c"):
        _run(ip, f"%%persist {name}\n{name} = list(range(1000))")
        time.sleep(0.02)
    _run(ip, "%persist clear zzz")
    info = repr(ip.run_line_magic("persist", "info"))
    assert "budget: no budget" in info
    assert "3 cached unit(s)" in info
    dry = repr(ip.run_line_magic("persist", "gc --max-count 2 --dry-run"))
    assert "would evict 1 unit(s)" in dry
    assert "cell a" in dry
    report = ip.run_line_magic("persist", "gc --max-count 2")
    assert [u.name for u, _ in report.evicted] == ["a"]
    with pytest.raises(UsageError, match="Cannot read 'huge' as a size"):
        ip.run_line_magic("persist", "gc --max-size huge")
    with pytest.raises(UsageError, match="only apply to gc"):
        ip.run_line_magic("persist", "list --max-size 1G")
    ip.run_line_magic("config", "PersistMagics.max_count = 1")
    out = _run(ip, "%%persist d\nd = 4")
    assert "persist: evicted 2 least recently used unit(s)" in out
    assert "max-count 1" in out
    info = repr(ip.run_line_magic("persist", "info"))
    assert "budget: max-count 1" in info
    ip.run_line_magic("config", "PersistMagics.max_count = 0")


def test_list_shows_cached_functions_by_name(ip) -> None:
    _run(ip, "from persist_ext import cache\n@cache\ndef twice(x):\n    return 2 * x\n")
    _run(ip, "twice(1); twice(1); twice(2)")
    listing = ip.run_line_magic("persist", "list")
    text = repr(listing)
    assert "cached functions:" in text
    row = next(line for line in text.splitlines() if line.startswith("twice"))
    assert row.split()[:3] == ["twice", "2", "1"]


def test_a_cached_function_keeps_its_store_within_the_store_budget(tmp_path, monkeypatch) -> None:
    import IPython

    from persist_ext import EvictionWarning

    monkeypatch.setattr(IPython, "get_ipython", lambda: None)  # as in a script
    with Store(tmp_path / "s", budget={"max_count": 2}) as st:

        @cache(store=st)
        def f(x):
            return x

        f(1)
        time.sleep(2.1)  # eviction runs at most every 2 s per function
        f(2)
        time.sleep(2.1)
        with pytest.warns(EvictionWarning, match="evicted 1 least recently used unit"):
            f(3)
        assert sorted(c.call for c in f.calls()) == ["f(2)", "f(3)"]


def test_info_and_gc_in_python(store) -> None:
    from persist_ext.features._budget import collect

    _cell(store, "x", "9" * 32)
    assert "nothing would be evicted" in repr(collect(store, Budget(max_count=5), dry_run=True))
    assert collect(store, Budget(max_count=5)).evicted == []


def test_gc_removes_debris_older_than_the_grace_period(store, monkeypatch) -> None:
    from persist_ext.features import _budget
    from persist_ext.features._budget import collect

    whole = _cell(store, "whole", "7" * 32)
    store.set("cell/gone/" + "8" * 32 + "/hits", 3)  # a counter written after an eviction
    store.set("memo/f/" + "9" * 32 + "/used", {"hits": 1}, serializer="json")
    report = collect(store, Budget())
    assert report.debris == 0, "young debris may be a unit being stored: kept"
    monkeypatch.setattr(_budget, "DEBRIS_AGE", -1.0)
    report = collect(store, Budget())
    assert report.debris == 2
    assert "removed 2 orphan entries" in report.notice()
    assert not list(store.keys("cell/gone/"))
    assert not list(store.keys("memo/"))
    assert f"{whole}manifest" in store

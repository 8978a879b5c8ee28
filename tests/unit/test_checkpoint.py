"""Notebook checkpoints: incremental saves, sharing, partial saves, history, undo, checkout."""

from __future__ import annotations

import math
import threading
import uuid
import warnings

import numpy as np
import pandas as pd
import pytest

from persist_ext import CheckpointError, PersistError, UnknownCheckpointError
from persist_ext.features._checkpoint import (
    Budget,
    CheckpointSession,
    list_checkpoints,
    protected_keys,
    restore_checkpoint,
    save_checkpoint,
)
from persist_ext.features._checkpoint._layout import OBJ, STATE
from persist_ext.storage._memory import MemoryStore
from persist_ext.storage._store import Store


@pytest.fixture(params=["memory", "diskcache", "redis"])
def store(request, tmp_path):
    if request.param == "memory":
        yield MemoryStore()
    elif request.param == "redis":
        from persist_ext.storage._redis import RedisStore

        url = request.getfixturevalue("redis_server")
        shared = RedisStore(url, namespace=f"ck{uuid.uuid4().hex[:12]}")
        yield shared
        shared.clear()
        shared.close()
    else:
        with Store(tmp_path / "store") as disk:
            yield disk


def notebook(code: str = "") -> dict:
    """A namespace as IPython makes one: functions defined in it have it as globals."""
    ns: dict = {"__name__": "__main__"}
    exec(code, ns)
    return ns


def objects(store) -> set[str]:
    return set(store.keys(OBJ))


def test_round_trip_of_values_modules_and_notebook_code(store) -> None:
    ns = notebook(
        "import math as m\n"
        "class Point:\n"
        "    def __init__(self, x):\n"
        "        self.x = x\n"
        "def helper(n):\n"
        "    return n * scale\n"
        "scale = 2\n"
        "p = Point(3)\n"
        "square = lambda v: v * v\n"
    )
    ns.update({"x": 41, "arr": np.arange(10.0), "_hidden": 1, "In": []})
    report = save_checkpoint(ns, store, "work")
    assert sorted(report.variables) == ["Point", "arr", "helper", "p", "scale", "square", "x"]
    assert report.modules == {"m": "math"}
    fresh: dict = {}
    restored = restore_checkpoint(fresh, store, "work")
    assert sorted(restored.variables) == sorted(report.variables)
    assert fresh["x"] == 41
    assert fresh["m"] is math
    np.testing.assert_array_equal(fresh["arr"], np.arange(10.0))
    assert fresh["helper"](4) == 8
    assert fresh["square"](3) == 9
    assert isinstance(fresh["p"], fresh["Point"])
    assert fresh["p"].x == 3
    # A restored function reads the restored namespace, not a private copy of its globals.
    fresh["scale"] = 10
    assert fresh["helper"](4) == 40
    assert "_hidden" not in fresh
    assert "In" not in fresh


def test_shared_objects_are_stored_once_and_come_back_shared(store) -> None:
    ns = notebook()
    ns["a"] = ns["b"] = []
    ns["row"] = [1, 2]
    ns["table"] = {"first": ns["row"], "again": ns["row"]}
    ns["big"] = np.zeros(1000)
    ns["holder"] = {"array": ns["big"]}
    save_checkpoint(ns, store)
    fresh: dict = {}
    restore_checkpoint(fresh, store)
    assert fresh["a"] is fresh["b"]
    assert fresh["table"]["first"] is fresh["row"] is fresh["table"]["again"]
    assert fresh["holder"]["array"] is fresh["big"]
    fresh["a"].append(1)
    assert fresh["b"] == [1]


def test_sharing_created_after_a_save_is_kept(store) -> None:
    session = CheckpointSession(notebook(), store)
    ns = session.namespace
    ns["a"] = [1]
    ns["b"] = [2]
    session.checkpoint()
    ns["b"] = ns["a"]  # b now aliases the unchanged a
    session.note_cell("b = a")
    session.checkpoint()
    fresh: dict = {}
    restore_checkpoint(fresh, store)
    assert fresh["a"] is fresh["b"]


def test_only_changed_variables_are_written(store) -> None:
    ns = notebook()
    ns.update({f"big{i}": np.full(200_000, i, dtype=np.float64) for i in range(4)})
    ns["small"] = {"alpha": 0.1}
    first = save_checkpoint(ns, store)
    assert first.bytes_written > 4 * 1_600_000
    ns["small"]["alpha"] = 0.2
    second = save_checkpoint(ns, store)
    assert second.written == ["small"]
    assert second.bytes_written < 10_000
    assert sorted(second.unchanged) == [f"big{i}" for i in range(4)]
    fresh: dict = {}
    restore_checkpoint(fresh, store)
    assert fresh["small"] == {"alpha": 0.2}
    np.testing.assert_array_equal(fresh["big3"], np.full(200_000, 3.0))


def test_tracked_cells_only_rehash_the_names_they_mention(store, monkeypatch) -> None:
    from persist_ext.features._checkpoint import _groups

    session = CheckpointSession(notebook(), store)
    ns = session.namespace
    ns.update({"big": np.ones(100_000), "small": [1]})
    session.checkpoint()
    packed: list[tuple[str, ...]] = []
    real = _groups.pack_group

    def spy(values, namespace, **kw):
        packed.append(tuple(values))
        return real(values, namespace, **kw)

    monkeypatch.setattr(_groups, "pack_group", spy)
    ns["small"].append(2)
    session.note_cell("small.append(2)")
    report = session.checkpoint()
    assert packed == [("small",)]
    assert report.written == ["small"]


def test_unchanged_namespace_writes_no_new_state(store) -> None:
    ns = notebook()
    ns["x"] = [1, 2]
    first = save_checkpoint(ns, store)
    again = save_checkpoint(ns, store)
    assert again.action == "unchanged"
    assert again.state == first.state
    assert len(list(store.keys(STATE))) == 1


def test_identical_content_is_not_stored_twice(store) -> None:
    ns = notebook()
    ns["frame"] = pd.DataFrame({"a": range(1000), "b": [str(i) for i in range(1000)]})
    save_checkpoint(ns, store, "one")
    before = objects(store)
    other = notebook()
    other["frame"] = ns["frame"].copy()
    save_checkpoint(other, store, "two")
    assert objects(store) == before


def test_unstorable_variables_are_named_with_the_reason(store, tmp_path) -> None:
    with open(tmp_path / "f.txt", "w") as fh:
        ns = notebook()
        ns.update({"ok": [1, 2], "lock": threading.Lock(), "fh": fh, "gen": (i for i in [])})
        report = save_checkpoint(ns, store)
    assert report.variables == ["ok"]
    assert set(report.skipped) == {"lock", "fh", "gen"}
    assert "lock" in str(report)
    assert "skipped lock: " in str(report)
    fresh: dict = {}
    restored = restore_checkpoint(fresh, store)
    assert fresh["ok"] == [1, 2]
    assert set(restored.skipped) == {"lock", "fh", "gen"}


def test_unstorable_value_is_rebuilt_by_its_cell_when_that_is_safe(store) -> None:
    session = CheckpointSession(notebook(), store)
    ns = session.namespace
    for code in ("data = [1, 2, 3]", "pairs = (x * 2 for x in data)", "out = open('x', 'w')"):
        exec(code, ns) if "open" not in code else ns.update(out=threading.Lock())
        session.note_cell(code)
    report = session.checkpoint()
    assert set(report.skipped) == {"pairs", "out"}
    assert "not rebuilt on restore" in report.skipped["out"]
    fresh: dict = {}
    restored = restore_checkpoint(fresh, store)
    assert restored.rerun == ["pairs"]
    assert list(fresh["pairs"]) == [2, 4, 6]
    assert "out" not in fresh
    assert "out" in restored.skipped


def test_partial_checkpoint_merges_and_never_destroys(store) -> None:
    ns = notebook()
    ns.update({"big": np.arange(1000), "small": 1, "other": "x"})
    save_checkpoint(ns, store, "work")
    ns["small"] = 2
    ns["other"] = "changed"
    report = save_checkpoint(ns, store, "work", include=["small"])
    assert report.written == ["small"]
    fresh: dict = {}
    restore_checkpoint(fresh, store, "work")
    assert fresh["small"] == 2
    assert fresh["other"] == "x"
    np.testing.assert_array_equal(fresh["big"], np.arange(1000))
    # exclude= keeps the excluded variable's saved value too
    ns["big"] = np.zeros(3)
    save_checkpoint(ns, store, "work", exclude=["big"])
    fresh = {}
    restore_checkpoint(fresh, store, "work")
    assert fresh["other"] == "changed"
    np.testing.assert_array_equal(fresh["big"], np.arange(1000))


def test_partial_checkpoint_under_a_new_name_holds_only_its_variables(store) -> None:
    ns = notebook()
    ns.update({"a": 1, "b": 2, "c": 3})
    save_checkpoint(ns, store, "one", include=["a", "b"], exclude=["b"])
    save_checkpoint(ns, store, "two")
    assert list_checkpoints(store) == ["one", "two"]
    fresh: dict = {}
    restore_checkpoint(fresh, store, "one")
    assert fresh == {"a": 1}


def test_restore_reports_what_it_overwrites(store) -> None:
    ns = notebook()
    ns.update({"a": [1], "b": [2]})
    save_checkpoint(ns, store)
    target = notebook()
    target.update({"a": [1], "b": [99], "c": 5})
    report = restore_checkpoint(target, store)
    assert report.overwritten == ["b"]
    assert "overwrote b" in str(report)
    assert target["b"] == [2]
    assert target["c"] == 5
    assert "a" in report.unchanged  # equal content is not even read


def test_unknown_checkpoint_lists_what_exists(store) -> None:
    save_checkpoint(notebook("x = 1"), store, "exists")
    with pytest.raises(UnknownCheckpointError, match="exists") as info:
        restore_checkpoint({}, store, "ghost")
    assert isinstance(info.value, PersistError)
    assert isinstance(info.value, KeyError)
    assert info.value.names == ["exists"]
    with pytest.raises(UnknownCheckpointError):
        restore_checkpoint({}, store, 999)


def test_bad_input_raises_before_anything_is_stored(store) -> None:
    with pytest.raises(CheckpointError, match=r"not defined\. Defined variables: x"):
        save_checkpoint(notebook("x = 1"), store, include=["nope"])
    with pytest.raises(CheckpointError, match="not valid"):
        save_checkpoint(notebook("x = 1"), store, "a/b")
    with pytest.raises(CheckpointError, match="lists of names"):
        save_checkpoint(notebook("x = 1"), store, include="x")
    assert list(store.keys()) == []


@pytest.mark.filterwarnings("ignore:The inplace keyword")
def test_undo_and_checkout_back_and_forth(store) -> None:
    session = CheckpointSession(notebook(), store)
    ns = session.namespace
    ns["df"] = pd.DataFrame({"a": [1, 2], "b": [3, 4], "c": [5, 6]})
    first = session.after_cell("df = ...")
    ns["df"].drop(columns=["b"], inplace=True)
    second = session.after_cell("df.drop(columns=['b'], inplace=True)")
    assert second.written == ["df"]
    ns["extra"] = 1
    session.after_cell("extra = 1")
    session.undo()
    assert "extra" not in ns
    session.undo()
    assert list(ns["df"].columns) == ["a", "b", "c"]
    assert session.live.head == first.state
    report = session.checkout(second.state)
    assert list(ns["df"].columns) == ["a", "c"]
    assert report.loaded == ["df"]
    session.checkout(first.state)
    assert list(ns["df"].columns) == ["a", "b", "c"]


def test_checkout_loads_only_what_differs(store) -> None:
    session = CheckpointSession(notebook(), store)
    ns = session.namespace
    ns.update({"big": np.arange(100_000), "n": [0]})
    first = session.after_cell("big = ...; n = [0]")
    big = ns["big"]
    ns["n"].append(1)
    session.after_cell("n.append(1)")
    report = session.checkout(first.state)
    assert report.loaded == ["n"]
    assert "big" in report.unchanged
    assert ns["big"] is big
    assert ns["n"] == [0]


def test_checkout_saves_unsaved_changes_first(store) -> None:
    session = CheckpointSession(notebook(), store)
    ns = session.namespace
    ns["x"] = [1]
    first = session.checkpoint()
    ns["x"].append(2)
    session.note_cell("x.append(2)")
    report = session.checkout(first.state)
    assert ns["x"] == [1]
    saved = int(report.notes[0].rsplit("#", 1)[1])
    session.checkout(saved)
    assert ns["x"] == [1, 2]


def test_undo_without_history_is_an_error(store) -> None:
    session = CheckpointSession(notebook("x = 1"), store)
    with pytest.raises(CheckpointError, match="Nothing to undo"):
        session.undo()


def test_history_is_pruned_by_budget_and_says_so(store) -> None:
    session = CheckpointSession(notebook(), store, Budget(count=3))
    ns = session.namespace
    ns["keep"] = "named"
    named = session.checkpoint("named")
    reports = []
    for i in range(6):
        ns["v"] = [i]
        reports.append(session.after_cell(f"v = [{i}]"))
    pruned = [i for r in reports for i in r.pruned]
    assert pruned
    assert all("more than 3 checkpoints" in r.prune_reason for r in reports if r.pruned)
    ids = [row.id for row in session.history().rows]
    assert len(ids) == 3
    assert named.state in ids
    assert reports[-1].state in ids
    assert "pruned" in str(next(r for r in reports if r.pruned))
    # objects only the pruned states used are gone; the rest restore
    fresh: dict = {}
    restore_checkpoint(fresh, store, "named")
    assert fresh["keep"] == "named"


def test_protected_keys_cover_every_state_and_object(store) -> None:
    session = CheckpointSession(notebook(), store)
    session.namespace.update({"a": np.arange(10), "b": [1]})
    session.checkpoint()
    keys = protected_keys(store)
    assert objects(store) <= keys
    assert set(store.keys(STATE)) <= keys
    assert all(k.startswith("checkpoint/") for k in keys)


def test_interrupted_save_keeps_previous_checkpoint(store, monkeypatch) -> None:
    ns = notebook()
    ns["a"] = [1]
    save_checkpoint(ns, store)
    real_set = store.set

    def failing_set(key, value, **kwargs):
        if key.startswith("checkpoint/state/"):
            raise KeyboardInterrupt  # the user interrupts after the objects were written
        return real_set(key, value, **kwargs)

    monkeypatch.setattr(store, "set", failing_set)
    ns["a"] = [2]
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(ns, store)
    monkeypatch.undo()
    fresh: dict = {}
    restore_checkpoint(fresh, store)
    assert fresh["a"] == [1]


def test_budget_and_size_validation() -> None:
    from persist_ext.features._checkpoint import parse_size

    assert parse_size("2GB") == 2 * 10**9
    with pytest.raises(ValueError, match="as a size"):
        parse_size("two")
    with pytest.raises(CheckpointError, match="must be >= 0"):
        Budget(bytes=-1)


def test_reading_a_value_does_not_mark_it_changed() -> None:
    from persist_ext.features._checkpoint._tracking import names_in_cell

    ns = notebook("import numpy as np\nbig = np.zeros(3)\nlst = [[1]]\nd = {'k': []}")
    read_only = [
        "print(big.shape, len(lst), big[0] + 1)",
        "big.sum()",
        "big",
        "x = big.mean() * 2",
        "f'{big[0]}'",
        "d['k'] == []",
    ]
    for code in read_only:
        assert names_in_cell(code, ns) == set(), code
    changing = {
        "big[0] = 1": {"big"},
        "big += 1": {"big"},
        "big.sort()": {"big"},
        "lst[0].append(2)": {"lst"},
        "d.get('k').append(1)": {"d"},
        "np.add(big, 1, out=big)": {"np", "big"},
        "alias = big": {"big"},
        "%time big.sort()": {"big"},
        "get_ipython().run_line_magic('time', 'lst.clear()')": {"lst"},
    }
    for code, names in changing.items():
        assert names <= names_in_cell(code, ns), code


def test_numpy_views_come_back_as_views_of_their_base(store) -> None:
    ns = notebook()
    ns["base"] = np.arange(10.0)
    ns["window"] = ns["base"][2:5]
    ns["evens"] = ns["base"][::2]
    ns["holder"] = {"tail": ns["base"][-3:]}
    save_checkpoint(ns, store)
    fresh: dict = {}
    restore_checkpoint(fresh, store)
    np.testing.assert_array_equal(fresh["window"], [2.0, 3.0, 4.0])
    fresh["window"][0] = 99.0
    fresh["evens"][-1] = -1.0
    fresh["holder"]["tail"][-1] = -2.0
    assert fresh["base"][2] == 99.0
    assert fresh["base"][8] == -1.0
    assert fresh["base"][9] == -2.0
    # a view whose base is no variable is stored as its own (small) array
    ns2 = notebook()
    ns2["first"] = np.arange(1_000_000)[:3]
    report = save_checkpoint(ns2, store, "small")
    assert report.bytes_written < 10_000


def test_broadcast_views_are_saved_without_a_warning_and_come_back_as_they_were(store) -> None:
    # Reading `flags.writeable` of an np.broadcast_arrays result prints numpy's FutureWarning
    # into the user's cell; the checkpoint reads the flag bits instead, as the cell cache does.
    ns = notebook()
    ns["x"] = np.arange(3.0)
    ns["bx"], _ = np.broadcast_arrays(ns["x"], np.arange(4.0)[:, None])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        save_checkpoint(ns, store)
    fresh: dict = {}
    restore_checkpoint(fresh, store)
    np.testing.assert_array_equal(fresh["bx"], ns["bx"])
    assert "WARN_ON_WRITE=True" in str(fresh["bx"].flags)  # as np.broadcast_arrays left it
    assert np.shares_memory(fresh["bx"], fresh["x"])


def test_bytes_budget_frees_the_objects_of_pruned_states(store) -> None:
    session = CheckpointSession(notebook(), store, Budget(count=0, bytes=3_000_000))
    ns = session.namespace
    reports = []
    for i in range(6):
        ns["data"] = np.full(100_000, float(i))  # 800 kB each
        reports.append(session.after_cell(f"data = np.full(100_000, {i}.0)"))
    sizes = [store.info(k).size for k in store.keys(OBJ)]
    assert sum(sizes) <= 3_000_000
    assert any(r.pruned for r in reports)
    assert all("more than 3.0 MB" in r.prune_reason for r in reports if r.pruned)
    session.undo()  # the newest states are the ones kept
    assert ns["data"][0] == 4.0


def test_bytes_budget_says_when_named_checkpoints_exceed_it(store) -> None:
    session = CheckpointSession(notebook(), store, Budget(count=0, bytes=1_000_000))
    ns = session.namespace
    ns["data"] = np.zeros(200_000)  # 1.6 MB, more than the budget
    session.checkpoint("keep")
    ns["other"] = [1]
    report = session.after_cell("other = [1]")
    ns["other"].append(2)
    report = session.after_cell("other.append(2)")
    assert "named and current checkpoints are never pruned" in report.prune_reason
    fresh: dict = {}
    restore_checkpoint(fresh, store, "keep")
    assert fresh["data"].shape == (200_000,)


def test_cells_running_unseen_code_count_every_variable() -> None:
    from persist_ext.features._checkpoint._tracking import names_in_cell

    ns = notebook("a = [1]\nb = {}\nc = 3")
    for code in (
        "get_ipython().run_line_magic('run', 'script.py')",
        "exec('a.append(2)')",
        "get_ipython().run_cell_magic('bash', '', 'echo')",
    ):
        assert {"a", "b", "c"} <= names_in_cell(code, ns), code
    assert names_in_cell("get_ipython().run_line_magic('time', 'print(1)')", ns) == set()


def test_explicitly_included_private_variable_is_saved(store) -> None:
    ns = notebook()
    ns.update({"_scratch": [1], "x": 2, "_": "ipython's", "_i3": "cell"})
    report = save_checkpoint(ns, store, "private", include=["_scratch", "x", "_", "_i3"])
    assert report.variables == ["_scratch", "x"]
    fresh: dict = {}
    restore_checkpoint(fresh, store, "private")
    assert fresh["_scratch"] == [1]


def test_unstorable_value_is_not_pickled_again_until_touched(store, monkeypatch) -> None:
    from persist_ext.features._checkpoint import _groups

    session = CheckpointSession(notebook(), store)
    ns = session.namespace
    ns["lock"] = threading.Lock()
    ns["x"] = [1]
    first = session.after_cell("lock = threading.Lock(); x = [1]")
    assert "lock" in first.skipped
    packed: list[tuple[str, ...]] = []
    real = _groups.pack_group

    def spy(values, namespace, **kw):
        packed.append(tuple(values))
        return real(values, namespace, **kw)

    monkeypatch.setattr(_groups, "pack_group", spy)
    ns["x"].append(2)
    report = session.after_cell("x.append(2)")
    assert packed == [("x",)]
    assert "lock" in report.skipped
    assert report.new_skips == []
    session.after_cell("print(lock)")  # only read: not tried again
    assert ("lock",) not in packed
    session.after_cell("lock.acquire()")  # maybe changed: tried again
    assert ("lock",) in packed


def test_objects_removed_behind_the_sessions_back_are_written_again(store) -> None:
    session = CheckpointSession(notebook(), store)
    ns = session.namespace
    ns.update({"a": [1], "b": [2]})
    session.checkpoint()
    for key in list(store.keys(OBJ)):
        store.delete(key)  # e.g. another kernel's pruning, or a clear
    ns["b"].append(3)
    session.note_cell("b.append(3)")
    report = session.checkpoint()
    assert sorted(report.written) == ["a", "b"]
    fresh: dict = {}
    restore_checkpoint(fresh, store)
    assert fresh == {"a": [1], "b": [2, 3]}


def test_restore_without_a_name_takes_the_newest_of_default_and_auto(store) -> None:
    session = CheckpointSession(notebook(), store)
    ns = session.namespace
    ns["x"] = 1
    session.checkpoint()  # default: x = 1
    ns["x"] = 2
    session.after_cell("x = 2")  # auto, newer: x = 2
    fresh: dict = {}
    report = restore_checkpoint(fresh, store)
    assert fresh["x"] == 2
    assert report.name == "auto"
    ns["x"] = 3
    session.checkpoint()  # default is the newest again
    fresh = {}
    restore_checkpoint(fresh, store)
    assert fresh["x"] == 3


def test_one_unloadable_group_does_not_block_the_others(store) -> None:
    ns = notebook()
    ns.update({"good": [1], "bad": [2]})
    report = save_checkpoint(ns, store)
    state = store.get(f"{STATE}{report.state:08d}")
    bad_key = f"{OBJ}{state['variables']['bad']}"
    store.set(bad_key, (b"not a pickle",))
    fresh: dict = {}
    restored = restore_checkpoint(fresh, store)
    assert fresh == {"good": [1]}
    assert "bad" in restored.skipped


def test_history_is_described_from_json_without_unpickling(store) -> None:
    ns = notebook()
    ns["x"] = [1]
    report = save_checkpoint(ns, store)
    info = store.info(f"{STATE}{report.state:08d}")
    assert info.serializer == "json"
    assert info.meta["kind"] == "checkpoint"
    rows = CheckpointSession(notebook(), store).history().rows
    assert [r.id for r in rows] == [report.state]


def test_python_api_sessions_do_not_pile_up(store) -> None:
    from persist_ext.features._checkpoint import _session

    kept = notebook("x = [1]")
    save_checkpoint(kept, store, "kept")
    for i in range(3 * _session._MAX_SESSIONS):
        save_checkpoint(notebook(f"y = {i}"), store, "temp")
    assert len(_session._SESSIONS) <= _session._MAX_SESSIONS
    # an evicted namespace starts a new baseline: still correct, just rehashed
    kept["x"].append(2)
    report = save_checkpoint(kept, store, "kept")
    assert report.written == ["x"]


@pytest.mark.filterwarnings("ignore")
def test_an_array_derived_from_a_frame_stays_a_view_of_it_and_is_stored_once(store) -> None:
    df = pd.DataFrame(np.random.default_rng(0).random((50_000, 4)), columns=list("abcd"))
    df["city"] = "x"
    ns = {"df": df, "X": df[list("abcd")].to_numpy()}  # a read-only view of df's block
    report = save_checkpoint(ns, store)
    # The block's memory is written once, not once for df and once more for X.
    assert report.bytes_written < 1.5 * 50_000 * 4 * 8
    fresh: dict = {}
    restore_checkpoint(fresh, store)
    assert np.array_equal(fresh["X"], ns["X"])
    fresh["df"].loc[0, "a"] = 99.0  # as in the live namespace, X sees the frame's change
    assert fresh["X"][0, 0] == 99.0


def test_a_change_made_through_a_function_redefined_since_is_saved(store) -> None:
    """Cells are analysed at the next save, as the namespace was when they ran: ``grow()``
    changed ``data`` through the function's old version, so ``data`` is rehashed."""
    session = CheckpointSession(notebook("data = [1]\ndef grow():\n    data.append(2)"), store)
    ns = session.namespace
    session.checkpoint()
    for code in ("grow()", "def grow():\n    return None"):
        exec(code, ns)
        session.note_cell(code)
    report = session.checkpoint()
    assert "data" in report.written
    fresh: dict = {}
    restore_checkpoint(fresh, store)
    assert fresh["data"] == [1, 2]


def test_cells_waiting_for_analysis_are_bounded(monkeypatch) -> None:
    """Past ``_MAX_PENDING`` cells noted unanalysed, a session with a baseline analyses them
    (what they touched is still rehashed); one without gives up its offers (a link only
    saves bytes) instead of keeping every cell."""
    from persist_ext.features._checkpoint import _session

    monkeypatch.setattr(_session, "_MAX_PENDING", 2)
    session = CheckpointSession(notebook("data = [1]"), MemoryStore())
    ns = session.namespace
    session.offer({"data": "cell/x/k/data"})
    assert list(session.live.offers) == [("data",)]
    for code in ("a = 1", "b = 2", "c = 3"):
        exec(code, ns)
        session.note_cell(code)
    assert session.live.offers == {}
    session.checkpoint()
    ns["data"].append(2)
    for code in ("data.append(2)", "d = 4", "e = 5"):
        session.note_cell(code)
    assert "data" in session.live.touched  # analysed when the third cell was noted
    assert session.checkpoint().written == ["data"]


def test_a_value_that_hides_its_class_details_makes_every_variable_count() -> None:
    """What a cell mentioned is taken from odd objects too: a class whose ``__module__``
    raises may reach anything, so a cell using it counts every variable as touched."""
    from persist_ext.features._checkpoint._tracking import names_in_cell

    ns = notebook(
        "class Meta(type):\n"
        "    @property\n"
        "    def __module__(cls):\n"
        "        raise RuntimeError('hidden')\n"
        "class Odd(metaclass=Meta):\n"
        "    pass\n"
        "data = [1]\n"
    )
    assert {"Odd", "data"} <= names_in_cell("Odd()", ns)

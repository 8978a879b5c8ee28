"""CellCache on a real IPython shell and a real Store: hits, misses, mutation, outputs, errors."""

from __future__ import annotations

import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from IPython.utils.capture import capture_output

from persist_ext._errors import CellCacheWarning, CellRaisedError, UnstorableVariableWarning
from persist_ext.features._cellcache import CellCache, CellOptions
from persist_ext.storage._store import Store


def run(cache: CellCache, shell, cell: str, **options):
    options.setdefault("min_time", 0.0)  # trivial test cells would otherwise just run
    with capture_output() as captured:
        result = cache.run(shell, cell, CellOptions(**options))
    return result, captured


def test_second_run_restores_variables_and_outputs_without_executing(shell, cache) -> None:
    shell.user_ns.update(runs=[], x=21)
    first, out1 = run(cache, shell, "runs.append(1)\ny = x * 2\nprint('y =', y)", name="c")
    assert not first.hit
    assert first.stored
    assert out1.stdout == "y = 42\n"
    shell.user_ns.pop("y")
    shell.user_ns["runs"] = []
    # `runs` is an input: reset it to its value before the first run so the key matches.
    second, out2 = run(cache, shell, "runs.append(1)\ny = x * 2\nprint('y =', y)", name="c")
    assert second.hit
    assert shell.user_ns["y"] == 42
    assert out2.stdout == "y = 42\n"
    assert shell.user_ns["runs"] == [1]  # the mutated input is restored too


def test_side_effect_proves_the_body_is_skipped(shell, cache, tmp_path: Path) -> None:
    counter = tmp_path / "counter.txt"
    shell.user_ns["path"] = str(counter)
    cell = "with open(path, 'a') as fh:\n    fh.write('x')\nvalue = 7"
    run(cache, shell, cell, name="side")
    run(cache, shell, cell, name="side")
    assert counter.read_text() == "x"
    assert shell.user_ns["value"] == 7


def test_changed_input_reruns_and_why_names_it(shell, cache) -> None:
    shell.user_ns["n"] = 3
    run(cache, shell, "total = sum(range(n))", name="t")
    shell.user_ns["n"] = 4
    result, _ = run(cache, shell, "total = sum(range(n))", name="t")
    assert not result.hit
    assert shell.user_ns["total"] == 6
    assert [d.message for d in result.reason] == ["input n changed"]
    assert "input n changed" in str(cache.why(shell, "t"))
    # Back to the first value: still stored (several inputs of one code are kept).
    shell.user_ns["n"] = 3
    assert run(cache, shell, "total = sum(range(n))", name="t")[0].hit


def test_comment_edit_hits_code_edit_misses(shell, cache) -> None:
    run(cache, shell, "a = 1 + 1", name="k")
    assert run(cache, shell, "# explain\na = 1+1  # two", name="k")[0].hit
    result, _ = run(cache, shell, "a = 1 + 2", name="k")
    assert not result.hit
    assert result.reason[0].kind == "code"


def test_in_place_mutations_are_stored_and_restored(shell, cache) -> None:
    cell = "df['c'] = df.a * 2\nitems.append(4)\nobj.attr = 5\narr += 1"
    shell.run_cell("class Box:\n    pass")

    def fresh() -> None:
        box = shell.user_ns["Box"]()
        box.attr = 0
        shell.user_ns.update(
            df=pd.DataFrame({"a": [1, 2]}), items=[1, 2, 3], obj=box, arr=np.zeros(3)
        )

    fresh()
    first, _ = run(cache, shell, cell, name="mut")
    assert sorted(first.manifest.mutated) == ["arr", "df", "items", "obj"]
    fresh()
    assert run(cache, shell, cell, name="mut")[0].hit
    ns = shell.user_ns
    assert list(ns["df"]["c"]) == [2, 4]
    assert ns["items"] == [1, 2, 3, 4]
    assert ns["obj"].attr == 5
    assert ns["arr"].tolist() == [1.0, 1.0, 1.0]


def test_outputs_replay_in_order_with_rich_display(shell, cache) -> None:
    cell = (
        "import sys\nfrom IPython.display import display, HTML\n"
        "print('one')\ndisplay(HTML('<b>two</b>'))\nprint('three', file=sys.stderr)\n"
        "frame = pd.DataFrame({'a': [1]})\nframe"
    )
    shell.user_ns["pd"] = pd
    # IPython leaves `_` alone once something else bound it (an earlier test's cell did):
    # start from a namespace where the display hook owns it, as in a fresh kernel.
    for unders in ("_", "__", "___"):
        shell.user_ns.pop(unders, None)
    _, first = run(cache, shell, cell, name="rich")
    result, second = run(cache, shell, cell, name="rich")
    assert result.hit
    kinds = [e["kind"] for e in cache.store.get(result.manifest.outputs_key)]
    # pandas changes the warning filters as it makes the frame: recorded first, replayed
    assert kinds == ["warnings reset", "stream", "display", "stream", "result"]
    # The last expression goes through the display hook as in a plain run (Out[] and all).
    assert second.stdout == first.stdout
    assert first.stdout.startswith("one\n")  # the terminal shell prints Out[] to stdout
    assert second.stderr == first.stderr == "three\n"
    assert "<b>two</b>" in second.outputs[0].data["text/html"]
    assert len(second.outputs) == len(first.outputs)  # the result went to the display hook
    assert shell.user_ns["_"] is shell.user_ns["frame"]  # the result is the restored frame
    assert shell.user_ns["HTML"].__name__ == "HTML"  # the import was re-run on the hit


def test_the_outputs_counted_are_those_shown(shell, cache) -> None:
    # A warning's record and a registry reset are kept with the outputs, but are not outputs
    # (`%persist info` and the panel count what the cell showed).
    cell = "import warnings\nwith warnings.catch_warnings():\n    pass\nprint('x')"
    result, _ = run(cache, shell, cell, name="counted")
    kinds = [e["kind"] for e in cache.store.get(result.manifest.outputs_key)]
    assert kinds == ["warnings reset", "stream"]
    assert result.manifest.n_outputs == 1


def test_matplotlib_figure_is_replayed(shell, cache) -> None:
    import matplotlib  # noqa: F401 - required, never skipped
    import matplotlib_inline  # noqa: F401 - required, never skipped

    # The inline backend shows figures from a post_execute hook, as in a notebook.
    shell.run_cell("%matplotlib inline\nimport matplotlib.pyplot as plt")
    cell = "fig, ax = plt.subplots()\nax.plot([1, 3, 2])\npoints = 3"
    _, first = run(cache, shell, cell, name="plot", variables=("points",))
    result, second = run(cache, shell, cell, name="plot", variables=("points",))
    assert result.hit
    assert "image/png" in second.outputs[0].data
    assert second.outputs[0].data["image/png"] == first.outputs[0].data["image/png"]


def test_functions_and_classes_defined_in_the_cell_exist_after_a_hit(shell, cache) -> None:
    cell = (
        "class P:\n    def __init__(self, v):\n        self.v = v\n"
        "def make(v):\n    return P(v)\np = make(3)"
    )
    run(cache, shell, cell, name="defs")
    for name in ("P", "make", "p"):
        shell.user_ns.pop(name)
    assert run(cache, shell, cell, name="defs")[0].hit
    assert shell.user_ns["p"].v == 3
    assert shell.user_ns["make"](5).v == 5


def test_unstorable_variable_warns_runs_and_is_not_cached(shell, cache, tmp_path: Path) -> None:
    counter = tmp_path / "n.txt"
    shell.user_ns["path"] = str(counter)
    cell = "open(path, 'a').write('x')\ngen = (i for i in range(3))\nok = 1"
    for _ in range(2):
        with pytest.warns(UnstorableVariableWarning, match=r"'gen'.*generator"):
            result, _ = run(cache, shell, cell, name="gen")
        assert not result.hit
        assert not result.stored
    assert counter.read_text() == "xx"  # ran both times: nothing partial was restored
    assert list(cache.store.keys("cell/gen/")) == []


def test_a_value_holding_a_lambda_makes_its_cell_run_quietly(shell, cache) -> None:
    """``defaultdict(lambda: 0)`` or a closure made by a notebook function is code pickle
    cannot store: the cell is recorded as one that runs, says why, and warns on no run."""
    cell = (
        "import collections\n"
        "def adder(n):\n    def add(x):\n        return x + n\n    return add\n"
        "counts = collections.defaultdict(lambda: 0)\ncounts['a'] += 1\nops = [adder(2)]"
    )
    for _ in range(2):
        with warnings.catch_warnings():
            warnings.simplefilter("error", UnstorableVariableWarning)
            result, _ = run(cache, shell, cell, name="code")
        assert not result.hit
        assert shell.user_ns["counts"]["a"] == 1
        assert shell.user_ns["ops"][0](1) == 3
    said = str(cache.why(shell, "code"))
    assert "holds a lambda, which is code" in said or "holds add(), a function" in said


def test_a_value_holding_a_function_made_by_exec_makes_its_cell_run_quietly(shell, cache) -> None:
    """A function ``exec`` made with globals of its own (no module; ``sympy.lambdify``'s
    are such) is code pickle could only name as ``__main__``'s: the cell runs, says why,
    and warns on no run."""
    cell = "made = {}\nexec('def twice(x):\\n    return 2 * x', {}, made)\nfour = made['twice'](2)"
    for _ in range(2):
        with warnings.catch_warnings():
            warnings.simplefilter("error", UnstorableVariableWarning)
            result, _ = run(cache, shell, cell, name="made")
        assert not result.hit
        assert shell.user_ns["four"] == 4
    assert "'made' holds twice(), a function made by exec" in str(cache.why(shell, "made"))


def test_unfingerprintable_input_is_a_miss_unless_ignored(shell, cache) -> None:
    shell.user_ns["lock"] = threading.Lock()
    cell = "with lock:\n    got = 5"
    with pytest.warns(CellCacheWarning, match=r"input 'lock'.*--ignore lock"):
        assert not run(cache, shell, cell, name="lk")[0].stored
    run(cache, shell, cell, name="lk", ignore=("lock",))
    assert run(cache, shell, cell, name="lk", ignore=("lock",))[0].hit


def test_failing_cell_is_not_cached_and_raises_after_showing(shell, cache) -> None:
    with pytest.raises(CellRaisedError, match="ZeroDivisionError"), capture_output():
        cache.run(shell, "boom = 1\n1 / 0", CellOptions(name="bad"))
    assert list(cache.store.keys("cell/bad/")) == []


def test_corrupt_entry_is_reported_and_recomputed(shell, cache) -> None:
    shell.user_ns["x"] = 2
    cell = "y = list(range(x * 5000))"  # too big to be kept inside the manifest
    first, _ = run(cache, shell, cell, name="cor")
    var_key = first.manifest.variables["y"]
    assert var_key not in first.manifest.inline
    cache.store.delete(var_key)  # a lost value file: the entry can no longer be restored
    with pytest.warns(CellCacheWarning, match="cannot be read"):
        result, _ = run(cache, shell, cell, name="cor")
    assert not result.hit
    assert result.stored
    assert run(cache, shell, cell, name="cor")[0].hit


def test_small_values_and_outputs_come_back_from_the_manifest_alone(shell, tmp_path) -> None:
    # A hit on a cell with small values reads one record, the (signed) manifest: its
    # values and outputs are kept inside it, and restored as fresh objects every time.
    cell = "a = b = [1, 2]\nc = {'k': a}\nprint('shown')\nlen(a)"
    with Store(tmp_path / "store") as store:
        first, _ = run(CellCache(store), shell, cell, name="small")
        manifest = first.manifest
        assert set(manifest.inline) == set(manifest.variables.values())
        assert manifest.inline_outputs is not None
        for key in [*manifest.variables.values(), manifest.outputs_key]:
            store.delete(key)
    for name in ("a", "b", "c"):
        del shell.user_ns[name]
    with Store(tmp_path / "store") as store:
        fresh = CellCache(store)  # a new session: nothing remembered in memory
        hit, out = run(fresh, shell, cell, name="small")
        assert hit.hit
        assert "shown" in out.stdout
        ns = shell.user_ns
        assert ns["a"] == [1, 2]
        assert ns["a"] is ns["b"]
        assert ns["c"]["k"] is ns["a"]
        ns["a"].append(3)  # mutating what a hit restored must not change the next hit
        again, _ = run(fresh, shell, cell, name="small")
        assert again.hit
        assert ns["a"] == [1, 2]
        assert ns["a"] is ns["b"]


def test_mmap_restores_read_their_entries(shell, tmp_path) -> None:
    # --mmap maps arrays from their entries: the copies inside the manifest are not used.
    shell.user_ns["np"] = np
    cell = "arr = np.arange(4.0)"
    with Store(tmp_path / "store") as store:
        cache = CellCache(store)
        first, _ = run(cache, shell, cell, name="mm", mmap=True)
        key = first.manifest.variables["arr"]
        store.delete(key)
        with pytest.warns(CellCacheWarning, match="cannot be read"):
            assert not run(cache, shell, cell, name="mm", mmap=True)[0].hit


def test_refresh_recomputes_and_replaces(shell, cache) -> None:
    shell.user_ns["calls"] = 0
    cell = "import random\nrandom.seed(7)\nr = random.random()"
    _first, _ = run(cache, shell, cell, name="r")
    refreshed, _ = run(cache, shell, cell, name="r", refresh=True)
    assert not refreshed.hit
    assert refreshed.stored
    assert run(cache, shell, cell, name="r")[0].hit
    assert shell.user_ns["r"] == cache.store.get(refreshed.manifest.variables["r"])["r"]
    assert len(cache.entries()) == 1


def test_vars_limits_what_is_stored(shell, cache) -> None:
    result, _ = run(cache, shell, "a = 1\nb = 2", name="v", variables=("b",))
    assert sorted(result.manifest.variables) == ["b"]


def test_expire_makes_the_entry_a_miss(shell, cache) -> None:
    run(cache, shell, "e = 1", name="exp", expire=0.05)
    import time

    time.sleep(0.1)
    assert not run(cache, shell, "e = 1", name="exp")[0].hit


def test_large_array_round_trips_and_mmap(shell, cache) -> None:
    shell.user_ns["np"] = np
    cell = "big = np.arange(2_000_000, dtype=np.float64)"
    run(cache, shell, cell, name="big")
    shell.user_ns.pop("big")
    assert run(cache, shell, cell, name="big", mmap=True)[0].hit
    big = shell.user_ns["big"]
    assert big.dtype == np.float64
    assert big[-1] == 1_999_999.0


def test_dataframe_round_trips_with_dtypes_and_index(shell, cache) -> None:
    shell.user_ns["pd"] = pd
    cell = (
        "frame = pd.DataFrame({'i': [1, 2], 'f': [0.5, 1.5], 's': ['a', 'b'],"
        " 'c': pd.Categorical(['x', 'y'])}, index=pd.Index([10, 20], name='k'))"
    )
    run(cache, shell, cell, name="df")
    original = shell.user_ns.pop("frame")
    assert run(cache, shell, cell, name="df")[0].hit
    pd.testing.assert_frame_equal(shell.user_ns["frame"], original)


def test_list_show_clear_info(shell, cache, tmp_path: Path) -> None:
    run(cache, shell, "a = [1] * 1000", name="one")
    run(cache, shell, "b = 2", name="two")
    run(cache, shell, "b = 2", name="two")
    table = cache.list()
    names = [e.name for e in table.entries]
    assert sorted(names) == ["one", "two"]
    assert {e.name: e.hits for e in table.entries} == {"one": 0, "two": 1}
    text = repr(table)
    for header in ("name", "size", "age", "run time", "hits"):
        assert header in text
    assert "<table>" in table._repr_html_()
    assert "a: list" in repr(cache.show("one"))
    info = cache.info(str(tmp_path / "store"), True)
    assert info.entries == 2
    assert "cached cells: 2" in repr(info)
    assert cache.clear("one") == 1
    assert [e.name for e in cache.list().entries] == ["two"]
    assert cache.clear() == 1
    assert cache.list().entries == []


def test_why_for_a_cell_not_run_in_this_session(shell, cache, tmp_path: Path) -> None:
    shell.user_ns["x"] = 1
    run(cache, shell, "y = x + 1", name="w")
    fresh = CellCache(cache.store)  # a new kernel on the same store
    assert "would be restored" in str(fresh.why(shell, "w"))
    shell.user_ns["x"] = 5
    assert "input x changed" in str(fresh.why(shell, "w", verbose=True))
    with pytest.raises(LookupError, match="Nothing is stored"):
        fresh.why(shell, "unknown")


RACER = """
import sys
from IPython.core.interactiveshell import InteractiveShell
from persist_ext.features._cellcache import CellCache, CellOptions
from persist_ext.storage._store import Store

shell = InteractiveShell.instance()
with Store(sys.argv[1]) as store:
    result = CellCache(store).run(
        shell, "import time\\ntime.sleep(0.3)\\nv = list(range(1000))", CellOptions(name="race")
    )
print("stored" if result.stored else "lost")
"""


@pytest.mark.slow
def test_two_kernels_storing_the_same_cell_do_not_corrupt_the_store(shell, tmp_path: Path) -> None:
    import subprocess

    directory = tmp_path / "shared"
    Store(directory).close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(directory)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outcomes = sorted(p.communicate(timeout=120)[0].strip() for p in procs)
    assert all(p.returncode == 0 for p in procs)
    assert "stored" in outcomes  # at least one stored; a loser removed its own values
    with Store(directory) as store:
        cache = CellCache(store)
        keys = list(store.keys("cell/race/"))
        assert sum(k.endswith("/manifest") for k in keys) == 1
        runs = {k.split("/")[3] for k in keys if k.split("/")[-1].startswith("g")}
        assert len(runs) == 1  # no values of a losing run left behind
        result, _ = run(
            cache, shell, "import time\ntime.sleep(0.3)\nv = list(range(1000))", name="race"
        )
        assert result.hit
        assert shell.user_ns["v"] == list(range(1000))


def test_a_remembered_entry_cleared_or_expired_is_not_restored(shell, tmp_path: Path) -> None:
    # Repeated hits serve the manifest read earlier while the store's change token stays;
    # a removal by this process or another one moves the token, an expiry is remembered.
    import time

    directory = tmp_path / "store"
    with Store(directory) as store:
        cache = CellCache(store)
        manifests = {}
        for name in ("mine", "theirs"):
            manifests[name] = run(cache, shell, f"v_{name} = 1", name=name)[0].manifest
            assert run(cache, shell, f"v_{name} = 1", name=name)[0].hit
            assert run(cache, shell, f"v_{name} = 1", name=name)[0].hit
        store.delete(f"{manifests['mine'].entry_prefix}manifest")
        assert not run(cache, shell, "v_mine = 1", name="mine")[0].hit
        with Store(directory) as other:  # another process's connection
            other.delete(f"{manifests['theirs'].entry_prefix}manifest")
        assert not run(cache, shell, "v_theirs = 1", name="theirs")[0].hit

        # The entry is written somewhere between these two times (a busy machine can take
        # a while): it must hit until the first plus 1.5 s, and miss from the second plus 1.5 s.
        storing = time.time()
        run(cache, shell, "v_exp = 1", name="exp", expire=1.5)
        stored = time.time()
        for _ in range(2):
            hit = run(cache, shell, "v_exp = 1", name="exp")[0].hit
            assert hit or time.time() - storing >= 1.5
        time.sleep(max(0.0, stored + 1.6 - time.time()))
        assert not run(cache, shell, "v_exp = 1", name="exp")[0].hit


def test_a_remembered_entry_removed_from_a_memory_store_is_not_restored(shell) -> None:
    # The same re-check on any store with a change token (here the in-memory one).
    from persist_ext.storage._memory import MemoryStore

    cache = CellCache(MemoryStore())
    stored = run(cache, shell, "m = [1]", name="mem")[0].manifest
    assert run(cache, shell, "m = [1]", name="mem")[0].hit
    assert run(cache, shell, "m = [1]", name="mem")[0].hit
    cache.store.delete(f"{stored.entry_prefix}manifest")
    again = run(cache, shell, "m = [1]", name="mem")[0]
    assert not again.hit
    assert again.stored
    assert run(cache, shell, "m = [1]", name="mem")[0].hit


def transforms_made(shell, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The cells IPython's input transformer manager transforms from now on (a list that grows)."""
    manager = shell.input_transformer_manager
    calls: list[str] = []
    original = manager.transform_cell

    def counting(cell: str) -> str:
        calls.append(cell)
        return original(cell)  # type: ignore[no-any-return]

    monkeypatch.setattr(manager, "transform_cell", counting)
    return calls


def test_a_cell_is_tokenized_once_not_again_by_its_nested_run(
    shell, cache: CellCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The body's transform (tokenizing: 0.2-1 ms) is made once per text and reused by the
    nested run; the cell still runs exactly as transformed (an IPython line magic inside)."""
    calls = transforms_made(shell, monkeypatch)
    cell = "a_tok = 20\nb_tok = a_tok + 1\nc_tok = %precision\n"
    run(cache, shell, cell)
    assert calls == [cell]  # once, the body as IPython gives it (with its final newline)
    assert shell.user_ns["b_tok"] == 21
    assert shell.user_ns["c_tok"] is not None


def test_a_cell_keeps_only_entries_of_its_newest_code(shell, cache: CellCache) -> None:
    """Storing a new version of a named cell drops the older code's entry (also right after
    the cell's first store in the session, whose write skips the look for older entries)."""
    from persist_ext.features._cellcache._entry import iter_manifests

    def codes() -> list[str]:
        return [info.meta.get("code") for _, info in iter_manifests(cache.store, "pruned")]

    run(cache, shell, "p_val = 1", name="pruned")
    assert len(codes()) == 1
    run(cache, shell, "p_val = 2", name="pruned")
    run(cache, shell, "p_val = 3", name="pruned")
    assert len(codes()) == 1
    fresh = CellCache(cache.store)  # a new session finds the stored one and prunes it
    run(fresh, shell, "p_val = 4", name="pruned")
    assert len(codes()) == 1
    assert shell.user_ns["p_val"] == 4


def test_a_user_input_transformer_is_called_as_often_as_in_a_plain_cell(
    shell, cache: CellCache
) -> None:
    """With a user's ``input_transformers_post`` the nested run transforms the cell again."""
    seen: list[int] = []

    def counting(lines: list[str]) -> list[str]:
        seen.append(len(lines))
        return lines

    shell.input_transformers_post.append(counting)
    try:
        run(cache, shell, "t_one = 1\nt_two = t_one + 1\n")
    finally:
        shell.input_transformers_post.remove(counting)
    assert len(seen) == 2  # the analysis, then the run (as a plain cell's run_cell)
    assert shell.user_ns["t_two"] == 2


def test_a_cell_run_again_is_transformed_again_by_its_nested_run(
    shell, cache: CellCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a transform made for this very run is reused: run again later (an autocall name
    or a transformer may have changed since), the nested run transforms the cell itself,
    once, as a plain cell does."""
    calls = transforms_made(shell, monkeypatch)
    cell = "again_v = 1 % 5\n"  # IPython's transforms are asked (plain Python is not tokenized)
    run(cache, shell, cell)
    first = len(calls)
    run(cache, shell, cell, refresh=True)  # runs again (and is stored again)
    assert first == 1
    assert len(calls) == 2  # the second run: remembered for the analysis, transformed to run


def test_a_cell_that_ran_never_fails_because_recording_it_did(
    shell, cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A step after the body (here recording its effects) meets an object it cannot read:
    # the cell's own run stands, its variables are bound, and a warning says it is not cached.
    import persist_ext.features._cellcache._cache as cache_module

    def unreadable(*args, **kwargs):
        raise ValueError("an object in a state no step expected")

    monkeypatch.setattr(cache_module, "record_effects", unreadable)
    shell.user_ns["n"] = 20
    with pytest.warns(CellCacheWarning, match="could not record this run.*ValueError"):
        result, out = run(cache, shell, "total = n + 1\nprint(total)", name="r")
    assert shell.user_ns["total"] == 21
    assert out.stdout == "21\n"
    assert not result.hit
    assert not result.stored
    # A failure of the cell itself is still the cell's.
    with pytest.raises(CellRaisedError):
        run(cache, shell, "1 / 0", name="z")

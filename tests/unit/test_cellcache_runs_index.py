"""Cells known to run (issue #13.6): a warm run skips their lookup, and the store.

A cell decided to run (cheaper to run than to restore, or one that cannot be stored) is
remembered in ``runs.json`` beside the store's index (``_costs.RunsIndex``): in a later
kernel it runs at once, without analysis, key, manifest lookup or opening the store. Running
a cell is what a plain cell does, so the index is never signed: whatever it says, it can
only make a cell run. The records of such cells in the store itself (what ``%persist list``
shows) are written in batches (``CellCache(deferred_runs=True)``, the magic's).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from IPython.utils.capture import capture_output

from persist_ext.features._cellcache import CellCache, CellOptions
from persist_ext.features._cellcache._cache import _decided_by
from persist_ext.features._cellcache._costs import RUNS_FILE, RunsIndex, much_slower
from persist_ext.features._cellcache._entry import iter_manifests
from persist_ext.storage._store import Store

CHEAP = "runs_x = 41 + 1\nprint('ran', runs_x)"


def _magics(shell: Any) -> Any:
    return shell.magics_manager.registry["PersistMagics"]


def _fresh_kernel(shell: Any) -> Any:
    """What a new kernel starts with: the extension loaded anew (stores closed, the runs
    index and deferred records written, nothing remembered in memory)."""
    shell.run_line_magic("reload_ext", "persist_ext")
    return _magics(shell)


def _cell(shell: Any, body: str, line: str = "") -> str:
    with capture_output() as captured:
        shell.run_cell_magic("persist", line, body)
    return captured.stdout


def test_a_warm_run_of_cells_that_run_does_not_open_the_store(ip: Any) -> None:
    # Every run under 1 s runs (a fixed threshold: the automatic policy's choice depends
    # on the machine's load; the index keeps either kind of decision).
    ip.run_line_magic("config", "PersistMagics.min_time = 1.0")
    assert "ran 42" in _cell(ip, CHEAP)
    listed = str(ip.run_line_magic("persist", "list"))
    assert "runs: it runs in" in listed  # the record the cold run keeps in the store
    magics = _fresh_kernel(ip)
    ip.run_line_magic("config", "PersistMagics.min_time = 1.0")
    ip.user_ns["runs_x"] = 0
    out = _cell(ip, CHEAP)
    assert "ran 42" in out
    assert "restored" not in out
    assert ip.user_ns["runs_x"] == 42
    cache = next(iter(magics._caches.values()))
    assert not cache.opened
    assert not magics._stores
    why = str(ip.run_line_magic("persist", "why"))
    assert "ran because it runs in" in why
    assert "known from an earlier run" in why
    assert "runs: it runs in" in str(ip.run_line_magic("persist", "list"))


def test_cells_that_cannot_be_stored_are_known_too(ip: Any) -> None:
    # Code, not data: the cell runs every time; the next kernel knows without a lookup.
    body = "runs_f = lambda v: v + 1\nprint('made')"
    assert "made" in _cell(ip, body)
    magics = _fresh_kernel(ip)
    assert "made" in _cell(ip, body)
    assert callable(ip.user_ns["runs_f"])
    assert not magics._stores
    assert "code, not data" in str(ip.run_line_magic("persist", "why"))


def test_a_stored_cell_still_restores_in_the_next_kernel(ip: Any) -> None:
    # min_time = 0 (the fixture): every cell is stored; the index stays out of the way.
    _cell(ip, CHEAP)
    _fresh_kernel(ip)
    assert "persist: restored" in _cell(ip, CHEAP)
    assert not (Path(".persist") / RUNS_FILE).exists()


def test_deferred_records_are_written_before_listing_and_at_close(tmp_path: Path, shell) -> None:
    store = Store(tmp_path / "store")
    cache = CellCache(store, runs=RunsIndex(tmp_path / "store"), deferred_runs=True)
    options = CellOptions(name="cheap", min_time=1.0)  # every run under 1 s runs
    token = RunsIndex.token("runs_y = 1", _decided_by(options))
    with capture_output():
        first = cache.run(shell, "runs_y = 1", options)
    assert first.manifest is not None
    assert first.manifest.mode == "run"
    assert not list(iter_manifests(store, "cheap"))  # not written yet: one cell, no batch
    assert cache.runs.get(token) is not None  # known in this session
    assert [e.name for e in cache.entries()] == ["cheap"]  # a listing writes them first
    cache.runs.flush()
    assert RunsIndex(tmp_path / "store").get(token) is not None  # and the next kernel
    store.close()


def test_a_cell_whose_record_waits_is_compared_with_that_record(
    tmp_path: Path, shell, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cell's waiting "runs" record is written before the cell is compared with what is
    stored (``why`` names what differs); other cells' records wait on. The index key is
    made once per run."""
    made = []
    token = RunsIndex.token
    monkeypatch.setattr(RunsIndex, "token", staticmethod(lambda *a: made.append(a) or token(*a)))
    store = Store(tmp_path / "store")
    cache = CellCache(store, runs=RunsIndex(tmp_path / "store"), deferred_runs=True)
    with capture_output():
        cache.run(shell, "wait_o = 1", CellOptions(name="other", min_time=1.0))
        cache.run(shell, "wait_p = 1", CellOptions(name="p", min_time=1.0))
        assert len(made) == 2
        cache.run(shell, "wait_o2 = 2", CellOptions(name="fresh", min_time=1.0))
        assert cache.pending  # a cell with no waiting record of its own writes none
        edited = cache.run(shell, "wait_p = 2", CellOptions(name="p", min_time=0.0))
    assert len(made) == 4
    assert not cache.pending  # the batch went out before "p" was compared
    assert [m.name for m in _manifests(store, "other")] == ["other"]
    assert edited.stored
    assert "differs from the stored entry" in str(cache.why(shell, "p"))
    store.close()


def test_the_magic_writes_deferred_records_when_it_closes(ip: Any) -> None:
    ip.run_line_magic("config", "PersistMagics.min_time = 1.0")
    _cell(ip, "runs_z = 3", "zed")
    # Nothing needed the store yet (it did not exist, so nothing could be looked up there).
    assert str(Path(".persist").absolute()) not in _magics(ip)._stores
    assert not Path(".persist/cache.db").exists()
    _fresh_kernel(ip)  # unloading closes the stores, writing what waited
    with Store(".persist") as reopened:
        assert [m.name for m in _manifests(reopened, "zed")] == ["zed"]


def test_records_wait_for_the_store_to_open_and_never_open_it_between_cells(ip: Any) -> None:
    import time

    from persist_ext.features._cellcache._costs import RUNS_WRITE_EVERY

    ip.run_line_magic("config", "PersistMagics.min_time = 1.0")
    _cell(ip, "wait_a = 1", "wait_a")
    time.sleep(RUNS_WRITE_EVERY + 0.1)  # the batch is due now
    _cell(ip, "wait_b = 2", "wait_b")
    assert not Path(".persist/cache.db").exists()  # due, but the store is not open
    _fresh_kernel(ip)  # closing writes them, opening the store for them
    with Store(".persist") as reopened:
        assert [m.name for m in _manifests(reopened, "wait_a")] == ["wait_a"]
        assert [m.name for m in _manifests(reopened, "wait_b")] == ["wait_b"]


def _manifests(store: Store, name: str) -> list[Any]:
    from persist_ext.features._cellcache._inspect import latest_manifest

    found = latest_manifest(store, name)
    return [] if found is None else [found]


@pytest.mark.parametrize(
    "content",
    [
        b"\x80\x04\x95 not json",  # a pickle's first bytes: never decoded as one
        b"[1, 2, 3]",
        b'{"version": 1, "cells": {"nothex": {"name": "a", "duration": 0, "reason": ""}}}',
        b'{"version": 1, "cells": {"' + b"0" * 32 + b'": {"name": 5, "duration": "x"}}}',
        b'{"version": 99, "cells": {}}',
    ],
)
def test_a_damaged_index_is_ignored(tmp_path: Path, shell, content: bytes) -> None:
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / RUNS_FILE).write_bytes(content)
    index = RunsIndex(tmp_path / "store")
    assert index.get("0" * 32) is None
    store = Store(tmp_path / "store")
    cache = CellCache(store, runs=index)
    options = CellOptions(name="kept", min_time=0.0)
    with capture_output():
        assert not cache.run(shell, "runs_w = 2", options).hit
    with capture_output():
        assert cache.run(shell, "runs_w = 2", options).hit  # the full lookup, unchanged
    store.close()


def test_a_tampered_index_makes_a_stored_cell_run_never_restore(tmp_path: Path, shell) -> None:
    store = Store(tmp_path / "store")
    options = CellOptions(name="stored", min_time=0.0)
    body = "runs_v = [1, 2]\nprint('executed')"
    with capture_output():
        assert CellCache(store).run(shell, body, options).stored
    # Someone writes the index by hand: the stored cell is "known to run".
    token = RunsIndex.token(body, _decided_by(options))
    record = {"name": "stored", "duration": 0.0, "reason": "planted"}
    (tmp_path / "store" / RUNS_FILE).write_text(
        json.dumps({"version": 1, "cells": {token: record}})
    )
    shell.user_ns["runs_v"] = "before"
    cache = CellCache(store, runs=RunsIndex(tmp_path / "store"))
    with capture_output() as captured:
        result = cache.run(shell, body, options)
    assert not result.hit
    assert "executed" in captured.stdout
    assert shell.user_ns["runs_v"] == [1, 2]
    # Another cell's name in the record changes nothing but what `why` names.
    assert "planted" in str(cache.why(shell, "stored"))
    store.close()


def test_a_run_much_slower_than_recorded_is_decided_again(tmp_path: Path, shell) -> None:
    store = Store(tmp_path / "store")
    index = RunsIndex(tmp_path / "store")
    options = CellOptions(name="grew", min_time=None)
    body = "import time\ntime.sleep(0.02)\nruns_u = 1"
    token = index.token(body, _decided_by(options))
    index.note(token, "grew", 0.0001, "it runs in 0.1 ms, faster than a restore")
    cache = CellCache(store, runs=index)
    with capture_output():
        first = cache.run(shell, body, options)
    assert first.notes == ["ran: it runs in 0.1 ms, faster than a restore"]
    assert index.get(token) is None  # 20 ms against 0.1 ms recorded: dropped
    with capture_output():
        second = cache.run(shell, body, options)
    assert second.stored  # looked up, missed, decided: 20 ms is worth storing
    store.close()


def test_refresh_and_other_options_do_not_use_the_record(tmp_path: Path, shell) -> None:
    store = Store(tmp_path / "store")
    index = RunsIndex(tmp_path / "store")
    body = "runs_t = 7"
    token = index.token(body, _decided_by(CellOptions(name="t", min_time=None)))
    index.note(token, "t", 0.0001, "cheap")
    cache = CellCache(store, runs=index)
    with capture_output():
        stored = cache.run(shell, body, CellOptions(name="t", min_time=0.0))
        refreshed = cache.run(shell, body, CellOptions(name="t", min_time=None, refresh=True))
    assert stored.stored  # another min_time is another decision: looked up and stored
    assert refreshed.manifest is not None  # --refresh takes the full path
    store.close()


def test_clear_forgets_the_cells_it_removes(tmp_path: Path, shell) -> None:
    store = Store(tmp_path / "store")
    cache = CellCache(store, runs=RunsIndex(tmp_path / "store"), deferred_runs=True)
    options = CellOptions(name="gone", min_time=1.0)
    with capture_output():
        cache.run(shell, "runs_s = 1", options)
    token = RunsIndex.token("runs_s = 1", _decided_by(options))
    assert cache.runs.get(token) is not None
    assert cache.clear("gone") == 1
    assert cache.runs.get(token) is None
    assert RunsIndex(tmp_path / "store").get(token) is None
    store.close()


def test_a_failing_known_cell_raises_its_own_error(tmp_path: Path, shell) -> None:
    from persist_ext._errors import CellRaisedError

    index = RunsIndex(tmp_path / "store")
    options = CellOptions(name="boom", min_time=None)
    body = "1 / 0"
    index.note(index.token(body, _decided_by(options)), "boom", 0.0001, "cheap")
    cache = CellCache(opener=lambda: pytest.fail("the store was opened"), runs=index)
    with capture_output(), pytest.raises(CellRaisedError) as raised:
        cache.run(shell, body, options)
    assert isinstance(raised.value.original, ZeroDivisionError)


def test_the_index_merges_writes_of_two_kernels(tmp_path: Path) -> None:
    first, second = RunsIndex(tmp_path), RunsIndex(tmp_path)
    first.get("0" * 32), second.get("0" * 32)  # both read the (empty) file
    first.note("a" * 32, "a", 0.001, "cheap")
    second.note("b" * 32, "b", 0.001, "cheap")
    first.flush()
    second.flush()
    merged = RunsIndex(tmp_path)
    assert merged.get("a" * 32) is not None
    assert merged.get("b" * 32) is not None


def test_much_slower_is_twice_and_two_milliseconds_more() -> None:
    assert not much_slower(0.010, 0.019)
    assert not much_slower(0.0005, 0.0015)  # 3x, but within 2 ms: noise
    assert much_slower(0.001, 0.0031)


def test_deferred_records_that_cannot_be_written_are_dropped_quietly(tmp_path: Path, shell) -> None:
    store = Store(tmp_path / "store")
    cache = CellCache(store, deferred_runs=True)
    options = CellOptions(name="lost", min_time=1.0)
    with capture_output():
        cache.run(shell, "runs_r = 1", options)
    store.close()  # the write fails (a closed store): the cell keeps running, nothing raises
    cache.flush_runs()
    with Store(tmp_path / "store") as reopened:
        assert not list(iter_manifests(reopened, "lost"))
        later = CellCache(reopened)
        with capture_output():
            assert not later.run(shell, "runs_r = 1", options).hit  # runs and decides again


# ---------------------------------------------------------------- cells of only definitions
def test_only_definitions_is_every_statement_an_import_def_or_class() -> None:
    from persist_ext.features._cellcache._analysis import analyze_cell

    assert analyze_cell(
        "import os\nfrom math import pi\ndef f():\n    pass\nclass C: ..."
    ).only_definitions
    assert not analyze_cell("import os\nx = os.sep").only_definitions
    assert not analyze_cell("").only_definitions


@pytest.fixture
def slow_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module whose import takes 30 ms: a cell importing it is worth storing by cost."""
    name = f"runs_slow_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text("import time\ntime.sleep(0.03)\nVALUE = 5\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    import sys

    sys.modules.pop(name, None)


def test_a_cell_that_only_imports_and_defines_runs(tmp_path: Path, shell, slow_module) -> None:
    from persist_ext.features._cellcache._cache import ONLY_DEFINITIONS

    store = Store(tmp_path / "store")
    cache = CellCache(store)
    body = f"import {slow_module}\nfrom {slow_module} import VALUE\ndef twice(v):\n    return 2 * v"
    with capture_output():
        first = cache.run(shell, body, CellOptions(name="imports", min_time=None))
    assert first.manifest is not None
    assert first.manifest.mode == "run"  # 30 ms, but a restore would import it again
    assert first.manifest.run_reason == ONLY_DEFINITIONS
    assert "runs: it only imports and defines" in str(cache.list())
    # With anything else in the cell, its cost decides as before.
    with capture_output():
        other = cache.run(shell, "import time\ntime.sleep(0.5)\nresult = 1", CellOptions(name="o"))
    assert other.stored
    assert other.manifest is not None
    assert other.manifest.mode == "restore", other.manifest.run_reason
    store.close()


def test_a_stored_cell_of_only_definitions_runs_from_now_on(
    tmp_path: Path, shell, slow_module
) -> None:
    store = Store(tmp_path / "store")
    body = f"import {slow_module}"
    with capture_output():
        stored = CellCache(store).run(shell, body, CellOptions(name="old", min_time=0.0))
    assert stored.manifest is not None
    assert stored.manifest.mode == "restore"  # an entry made by an earlier version
    # A later kernel, where the module is not imported yet: the key is the one stored (an
    # imported local module's variables are part of a key; here it was not imported).
    sys.modules.pop(slow_module, None)
    later = CellCache(store)
    with capture_output():
        again = later.run(shell, body, CellOptions(name="old", min_time=None))
    assert not again.hit
    assert "runs: it only imports and defines" in str(later.list())
    store.close()


def test_a_cell_of_definitions_that_draws_unseeded_numbers_is_stored(
    tmp_path: Path, shell, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its import draws from the global generator: run again, later cells would read other
    # numbers, so it is stored (and its generator state re-applied on a hit) as before. The
    # import sleeps past CHEAP_SECONDS: a tiny module imported in under 0.5 ms is a cell
    # cheaper to run than to restore whatever it does (the test failed 6 times in 10 under
    # load that way).
    name = f"runs_draw_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(
        "import random\nimport time\n\ntime.sleep(0.005)\nDRAWN = random.random()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    store = Store(tmp_path / "store")
    try:
        with capture_output():
            first = CellCache(store).run(shell, f"import {name}", CellOptions(name="draw"))
        assert first.manifest is not None
        assert first.manifest.mode == "restore", first.manifest.run_reason
    finally:
        import sys

        sys.modules.pop(name, None)
        store.close()


# ------------------------------------------------- known cells run as plain cells
KNOWN = "%%persist\nknown_x = 41 + 1\nprint('ran', known_x)\n"


def _known_in_a_fresh_kernel(ip: Any, cell: str) -> None:
    """Run ``cell`` once (decided: it runs, as every run under 1 s), then start afresh."""
    ip.run_line_magic("config", "PersistMagics.min_time = 1.0")
    assert ip.run_cell(cell).success
    _fresh_kernel(ip)
    ip.run_line_magic("config", "PersistMagics.min_time = 1.0")


def test_a_known_cell_runs_as_its_plain_body(ip: Any) -> None:
    """No magic call, no nested run: the input transformer hands IPython the body."""
    _known_in_a_fresh_kernel(ip, KNOWN)
    body = KNOWN.split("\n", 1)[1]
    assert ip.transform_cell(KNOWN) == body
    with capture_output() as captured:
        assert ip.run_cell(KNOWN, store_history=True).success
    assert "ran 42" in captured.stdout
    assert ip.history_manager.input_hist_parsed[-1].strip() == body.strip()
    assert "known from an earlier run: nothing was looked up" in str(
        ip.run_line_magic("persist", "why")
    )
    # A verbose cell (or session) goes through the magic, which prints what it decided.
    assert "run_cell_magic" in ip.transform_cell(KNOWN.replace("%%persist", "%%persist -v"))
    ip.run_line_magic("config", "PersistMagics.verbose = True")
    try:
        assert "run_cell_magic" in ip.transform_cell(KNOWN)
    finally:
        ip.run_line_magic("config", "PersistMagics.verbose = False")


def test_a_known_cell_with_a_line_of_spaces_is_the_one_why_explains(ip: Any) -> None:
    # IPython empties a line of only spaces (a docstring's) before the input transformer
    # sees the cell: the hooks took it for another cell, so `why` explained the cell run
    # before it, and the runs index was not told of the run.
    cell = '%%persist twice\ndef twice(n):\n    """Twice n.\n    \n    More."""\n    return 2 * n\n'
    ip.run_line_magic("config", "PersistMagics.min_time = 1.0")
    with capture_output():
        assert ip.run_cell(KNOWN).success
        assert ip.run_cell(cell).success
    _fresh_kernel(ip)
    ip.run_line_magic("config", "PersistMagics.min_time = 1.0")
    with capture_output():
        assert ip.run_cell(KNOWN).success
        assert ip.transform_cell(cell).startswith("def twice")  # known: run as its body
        assert ip.run_cell(cell).success
    assert ip.user_ns["twice"](2) == 4
    why = str(ip.run_line_magic("persist", "why"))
    assert why.startswith("twice ran because"), why
    assert "known from an earlier run" in why


def test_why_says_a_known_cell_raised(ip: Any) -> None:
    # Run as its plain body, with no magic around it: the post-run hook tells `why`.
    cell = "%%persist divides\nquotient = 1 / divisor\n"
    ip.user_ns["divisor"] = 2
    _known_in_a_fresh_kernel(ip, cell)
    ip.user_ns["divisor"] = 0
    assert ip.transform_cell(cell).startswith("quotient")  # known: run as its body
    with capture_output():
        assert not ip.run_cell(cell).success
    why = str(ip.run_line_magic("persist", "why"))
    assert why.startswith("divides ran because"), why
    assert "it raised ZeroDivisionError, so nothing was stored" in why


def test_only_a_cell_with_a_nested_run_measures_its_stack_depth(
    ip: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The depth a nested run is given room from is measured for a ``%%persist`` cell that
    goes through the magic, not for one the runs index hands to IPython as its body."""
    import persist_ext.interfaces.magics as magics_module

    measured = []
    real = magics_module.note_top_level_cell
    monkeypatch.setattr(magics_module, "note_top_level_cell", lambda: measured.append(real()))
    _known_in_a_fresh_kernel(ip, KNOWN)
    assert len(measured) == 1  # the first run went through the magic
    with capture_output():
        assert ip.run_cell(KNOWN).success  # known: its plain body
    assert len(measured) == 1
    with capture_output():
        assert ip.run_cell(KNOWN.replace("%%persist", "%%persist other")).success
    assert len(measured) == 2


def test_a_known_cell_much_slower_than_recorded_is_decided_again(ip: Any) -> None:
    ip.user_ns["pause"] = 0.0
    cell = "%%persist\nimport time\ntime.sleep(pause)\nslept = pause\n"
    _known_in_a_fresh_kernel(ip, cell)
    assert "run_cell_magic" not in ip.transform_cell(cell)  # known
    ip.user_ns["pause"] = 0.3  # its input grew: far more than twice the recorded run
    assert ip.run_cell(cell).success
    assert ip.user_ns["slept"] == 0.3
    assert "run_cell_magic" in ip.transform_cell(cell)  # looked up and decided again


def test_a_known_cell_that_raises_shows_its_own_error(ip: Any) -> None:
    ip.user_ns["divisor"] = 1
    cell = "%%persist\nshare = 10 / divisor\n"
    _known_in_a_fresh_kernel(ip, cell)
    ip.user_ns["divisor"] = 0
    with capture_output():
        result = ip.run_cell(cell)
    assert isinstance(result.error_in_exec, ZeroDivisionError)


SMALL = {
    "L": [1, 2, 3],
    "s": "hello",
    "x": 5,
    "c": 3 + 4j,
    "words": ["a", "b"],
    "d": {"k": 1},
    "t": (1, 2),
    "a": np.arange(10),
}
LIBRARIES = {
    "np": np,
    "pd": __import__("pandas"),
    "math": __import__("math"),
    "random": __import__("random"),
    "os": __import__("os"),
    "x": np.arange(10),
    "big": np.zeros(100_000),
    "frame": __import__("pandas").DataFrame({"a": [1]}),
}
LARGE = {
    "big": list(range(100_000)),
    "huge": 10**50,
    "n": 10**9,
    "A": np.zeros((100, 100)),
    "df": object(),
    "other": object(),
    "len": lambda v: 0,  # a shadowed builtin
    "L": [1],
}


@pytest.mark.parametrize(
    ("source", "namespace", "kind"),
    [
        ("x = 5", {}, "values"),
        ("a, *rest = 1, 2, 3\nd = {'k': a, 2: [rest, None]}", {}, "values"),
        ("print(f'{x:>4} {y!r}', end='')\ntype(x), isinstance(x, int), id(x)", {}, "values"),
        ("y: int = -2 ** 8 // 3\ndel x\npass", {}, "small"),
        ("square = lambda v, k=2: v ** k * load(v)", {}, "values"),
        ("import numpy as np\nfrom os import path as p, sep", {}, "definitions"),
        (
            "def f(a: np.ndarray, b: list[int] | None = None) -> 'T':\n    return g(a, b)",
            {},
            "definitions",
        ),
        (
            'class C(Base, mixins.M):\n    """doc"""\n    n = 3\n'
            "    def f(self):\n        return h()",
            {},
            "definitions",
        ),
        # Computing on small values, with builtins and their own methods.
        ("L.append(100)\nprint(L)", SMALL, "small"),
        ("x.bit_length(), c.real, s.upper(), sorted(L), sum(L), d['k'], d.keys()", SMALL, "small"),
        ("t[1] = 4", SMALL, "small"),
        ("a[::2] + 2, a.sum(), a.shape, a @ a", SMALL, "small"),
        ("'-' * x, s.center(x)\nlist(range(x))\n'%d items' % x", SMALL, "small"),
        ("total = 0\nfor n in range(100):\n    total += n * 2\ntotal", SMALL, "small"),
        ("for w in words:\n    print(w.upper())", SMALL, "small"),
        ("[n ** 2 for n in range(12)]", SMALL, "small"),
        ("huge ** 3", LARGE, "small"),  # a literal exponent: three times its size
        # The sizes docs/cell-cache.md gives, at the bound and past it.
        ("s.upper()", {"s": "a" * 1000}, "small"),
        ("s.upper()", {"s": "a" * 1001}, None),
        ("sorted(v)", {"v": [[0] * 499, [1] * 499]}, "small"),  # 1,000 items in all
        ("sorted(v)", {"v": [[0] * 499, [1] * 500]}, None),
        ("v.sum()", {"v": np.ones(1000)}, "small"),
        ("v.sum()", {"v": np.ones(1001)}, None),
        ("list(range(n))", {"n": 10_000}, "small"),
        ("list(range(n))", {"n": 10_001}, None),
        # Library functions on small values, reached from a module the notebook imported.
        ("np.arange(10)\ny = np.zeros((3, 5), dtype=np.float64)", LIBRARIES, "small"),
        ("np.random.seed(0)\ny = np.random.rand(3)\nnp.sin(x)", LIBRARIES, "small"),
        ("pd.Series([1, 2, 3], index=['a', 'b', 'c'])", LIBRARIES, "small"),
        ("math.sqrt(2), random.random()", LIBRARIES, "small"),
        ("np.arange(10) + 1", LIBRARIES, None),  # what it makes is of unknown size
        ("np.load('f.npy')", LIBRARIES, None),  # files: read or written
        ("pd.read_csv('f.csv')", LIBRARIES, None),
        ("np.mean(big)", LIBRARIES, None),  # not small
        ("pd.concat([frame, frame])", LIBRARIES, None),  # frames of any size
        ("os.listdir('.')", LIBRARIES, None),  # not a library of numbers
        ("pd.DataFrame.from_dict({})", LIBRARIES, None),
        ("np.vectorize(abs)", LIBRARIES, None),
        ("np.empty((2, 3, 2))", LIBRARIES, None),  # what it shows is what memory held
        ("np.empty_like(x)", LIBRARIES, None),
        ("import numpy as np\nnp.arange(3)", {}, None),  # imported by the cell itself
        # Anything that may compute at length: calls, attribute and item reads, operators
        # on what is not small, growth in loops.
        ("y = f(x)", SMALL, None),
        ("y = x.shape", {}, None),
        ("y = xs[0]", {}, None),
        ("y = x + 1", {}, None),
        ("x += 1", {}, None),
        ("obj.size = 3", SMALL, None),
        ("d['k'] = 3", {}, None),
        ("y = [*xs]", {}, None),
        ("y = {**d}", SMALL, None),
        ("print(*L)", SMALL, None),
        ("y = 10 ** 10 ** 8", {}, None),  # a huge power: the right side is not small
        ("y = 'a' * 10 ** 9", {}, None),
        ("big[0]", LARGE, None),
        ("big", LARGE, None),  # shown: its repr walks every item
        ("print(big)", LARGE, None),
        ("A.sum()", LARGE, None),
        ("2 ** huge", LARGE, None),
        ("huge ** x", {**LARGE, "x": 100}, None),
        ("s.center(n)", {**LARGE, "s": "a"}, None),
        ("[0] * n", LARGE, None),
        ("f'{1:>{n}}'", LARGE, None),
        ("df == other", LARGE, None),  # `==` may walk anything
        ("len(L)", LARGE, None),  # not the builtin
        ("len = sum\nlen(xs)", {}, None),
        ("for i in range(100):\n    x = x * x", SMALL, None),  # grows without bound
        ("for i in range(3):\n    for j in range(3):\n        print(i, j)", SMALL, None),
        ("[n for n in range(10 ** 6)]", {}, None),
        ("[[i, j] for i in range(3) for j in range(3)]", {}, None),
        ("while True:\n    pass", {}, None),
        ("@cache\ndef f():\n    return 1", {}, None),
        ("def f(n=compute()):\n    return n", {}, None),
        ("class C(Base, metaclass=Meta):\n    pass", {}, None),
        ("class C:\n    table = load()", {}, None),
        ("x = 5\n%time y = 2", {}, None),  # IPython syntax: the magic decides
        ("np.arange(10)", SMALL, None),
        ("", {}, None),
    ],
)
def test_runs_as_written_takes_only_what_is_seen_cheap(
    source: str, namespace: dict[str, Any], kind: str | None
) -> None:
    from persist_ext.features._cellcache._analysis import analyze_cell
    from persist_ext.features._cellcache._cheap import runs_as_written

    found = runs_as_written(source, namespace)
    assert (found[0] if found else None) == kind
    if found:  # named as the magic names it: `why` and the index find one cell
        assert found[1] == analyze_cell(source).digest


def test_a_cell_of_literals_runs_as_written_through_the_magic(ip: Any) -> None:
    magics = _fresh_kernel(ip)
    fixed = magics.min_time  # the tests' shell stores every cell; here the automatic policy
    magics.min_time = None
    with capture_output() as captured:
        ip.run_cell("%%persist shown\nwritten = [1, 2]\nprint('seen', written)\nwritten")
    assert "seen [1, 2]" in captured.stdout
    assert ip.user_ns["written"] == [1, 2]
    assert ip.user_ns["_"] == [1, 2]
    assert not magics._stores  # nothing looked up: no store opened
    why = str(ip.run_line_magic("persist", "why shown"))
    assert "seen from its code: nothing was looked up or stored" in why
    assert "runs: it only imports, defines and binds values" in str(
        ip.run_line_magic("persist", "list")
    )
    # With an option deciding what to keep, or a fixed threshold, the magic decides.
    with capture_output():
        ip.run_cell("%%persist kept --vars written\nwritten = [1, 2]")
    assert "seen from its code" not in str(ip.run_line_magic("persist", "why kept"))
    magics.min_time = 0.0
    with capture_output():
        ip.run_cell("%%persist fixed\nwritten = [1, 2]")
    assert "seen from its code" not in str(ip.run_line_magic("persist", "why fixed"))
    magics.min_time = fixed

"""Unstorable values are rebuilt by re-running the cells that made them, when that is safe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from persist_ext.features._checkpoint._rebuild import CellLog, plan_rebuilds, run_rebuilds


def _run(ip, cells: list[str]) -> None:
    for code in cells:
        assert ip.run_cell(code).success, code


def test_generator_lock_and_databases_come_back_as_they_were(ip, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("one\ntwo\n")
    _run(
        ip,
        [
            "import sqlite3, threading",
            "rows = [(1, 'a'), (2, 'b')]",
            "mem = sqlite3.connect(':memory:')",
            "mem.execute('create table t (k, v)')",
            # Passing rows to a method counts as maybe changing it: gen is made after this.
            "mem.executemany('insert into t values (?, ?)', rows)",
            "gen = (r[0] * 10 for r in rows)",
            "first = next(gen)",
            "lock = threading.Lock()",
            "lock.acquire()",
            "notes = open('notes.txt')",
            "top = notes.readline()",
            "disk = sqlite3.connect('app.db')",
            "disk.execute('create table t (k)'); disk.execute('insert into t values (1)')\n"
            "disk.commit()",
        ],
    )
    saved = ip.run_line_magic("persist", "checkpoint")
    assert set(saved.skipped) == {"gen", "lock", "mem", "disk", "notes"}
    assert all("rebuilt on restore" in why for why in saved.skipped.values()), saved.skipped
    for name in ("gen", "lock", "mem", "disk", "first", "notes"):
        del ip.user_ns[name]
    back = ip.run_line_magic("persist", "restore")
    assert sorted(back.rerun) == ["disk", "gen", "lock", "mem", "notes"], back.skipped
    ns = ip.user_ns
    assert ns["first"] == 10  # restored, not recomputed by the replay
    assert list(ns["gen"]) == [20]  # the replayed next(gen) consumed the first item
    assert ns["lock"].locked()
    # A real file again (not a copy of its content), at the position the cells left it.
    assert ns["notes"].name == "notes.txt"
    assert ns["notes"].readline() == "two\n"
    assert ns["mem"].execute("select count(*) from t").fetchall() == [(2,)]
    # The file database kept the later cells' rows: reconnecting adds none.
    assert ns["disk"].execute("select count(*) from t").fetchall() == [(1,)]


def test_unsafe_rebuilds_are_named_with_the_reason(ip, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("x\n")
    _run(
        ip,
        [
            "import sqlite3, subprocess",
            "data = [1, 2]",
            "pairs = (d * 2 for d in data)",
            "data.append(3)",  # changed after pairs was made from it
            "log = open('log.txt', 'w')",
            # Writes a file in a way no static check sees: the audit events do.
            "import pathlib\nout = open('in.txt').read()\n"
            "pathlib.Path('copy.txt').write_text(out)\nlines = (line for line in out)",
            "done = subprocess.run(['true'])\nrunner = (i for i in range(3))",
            "gone = sqlite3.connect('gone.db')",
            "keep = [0]\nmoved = (keep.append(1) for _ in range(1))\nkeep.append(2)",
        ],
    )
    (tmp_path / "gone.db").unlink()
    report = ip.run_line_magic("persist", "checkpoint")
    why = report.skipped
    assert "its cell read data, which a later cell changed" in why["pairs"]
    assert "open() in a way that may write" in why["log"]
    assert f"its cell wrote {tmp_path.resolve() / 'copy.txt'}" in why["lines"]
    assert "its cell ran a program (subprocess.Popen)" in why["runner"]
    assert "gone.db, which no longer exists" in why["gone"]
    assert "may change keep in place" in why["moved"]
    for name in why:
        del ip.user_ns[name]
    back = ip.run_line_magic("persist", "restore")
    assert back.rerun == []
    assert set(back.skipped) == set(why)
    assert "log.txt" not in {p.name for p in tmp_path.iterdir()} or (
        (tmp_path / "log.txt").read_text() == ""
    )


def test_plans_chain_unstorable_values_and_forget_long_histories() -> None:
    log = CellLog()
    ns = {"path": "x"}
    log.note("import sqlite3", ns)
    log.note("conn = sqlite3.connect(':memory:')", ns)
    ns["conn"] = object()
    log.note("cur = conn.cursor()", ns)
    ns["cur"] = object()
    recipes, refusals = plan_rebuilds(log, ["cur", "conn"], ["path"], ["sqlite3"])
    assert refusals == {}
    assert [seq for seq, _ in recipes["cur"]] == [3]
    ns["n"] = 0
    log.note("n = 0", ns)
    for _ in range(25):
        log.note("n += 1", ns)
    _, refusals = plan_rebuilds(log, ["n"], [], [])
    assert refusals["n"] == "more than 20 cells changed it"
    _, refusals = plan_rebuilds(log, ["never"], [], [])
    assert refusals["never"] == "no cell of this session made it"


def test_a_cell_using_the_store_is_not_a_cell_with_effects(ip) -> None:
    _run(
        ip,
        [
            "import threading, numpy as np",
            "%%persist made\nbig = np.zeros(300_000)",  # a blob file in the store
            "from persist_ext import Store\ns = Store('.persist')\ns.set('k', big + 1)\n"
            "guard = threading.Lock()",
        ],
    )
    report = ip.run_line_magic("persist", "checkpoint")
    assert "rebuilt on restore" in report.skipped["guard"], report.skipped


def test_cells_are_analysed_only_when_a_checkpoint_needs_them(ip, monkeypatch) -> None:
    """Noting a cell parses nothing (the shell's log and the checkpoint session keep its
    text and what it mentioned): the analysis runs when a checkpoint asks. Counted, not
    timed."""
    from persist_ext.features._checkpoint import _rebuild, _tracking

    parsed: list[str] = []
    real = _tracking.parse_cell

    def counting(text: str) -> Any:
        parsed.append(text)
        return real(text)

    monkeypatch.setattr(_tracking, "parse_cell", counting)
    monkeypatch.setattr(_rebuild, "parse_cell", counting)
    _run(
        ip,
        [
            "import threading",
            "%%persist made\nrows = [1, 2]",  # stored: offered to a checkpoint session
            "total = sum(rows)",
            "%%persist made\nrows = [1, 2]",  # a hit: offered again
            "guard = threading.Lock()",
            "guard.acquire()",
            *(f"n{i} = {i}" for i in range(20)),
        ],
    )
    assert parsed == []
    report = ip.run_line_magic("persist", "checkpoint")
    assert "rebuilt on restore by re-running 2 cell(s)" in report.skipped["guard"]
    assert parsed  # the rebuild needed the cells that made guard


def test_a_cell_is_analysed_as_the_namespace_was_when_it_ran() -> None:
    """The analysis runs later, on what the cell mentioned when it ran: a cell that advanced
    a generator through a function redefined since still counts as changing it (replayed
    after the old definition, so the rebuilt generator is where the notebook left it)."""
    log = CellLog()
    ns: dict[str, Any] = {"__name__": "__main__"}
    for code in (
        "gen = (x for x in range(5))",
        "def step():\n    return next(gen)",
        "first = step()",
        "def step():\n    return None",
    ):
        exec(code, ns)
        log.note(code, ns)
    recipes, refusals = plan_rebuilds(log, ["gen"], ["step", "first"], [])
    assert refusals == {}
    assert [seq for seq, _ in recipes["gen"]] == [1, 2, 3]
    rebuilt = {"step": ns["step"], "first": 0}
    assert run_rebuilds(rebuilt, recipes, ["gen"]) == (["gen"], {})
    assert next(rebuilt["gen"]) == 1
    assert rebuilt["step"] is ns["step"]  # the restored values are kept
    assert rebuilt["first"] == 0


def test_a_value_made_before_the_cells_kept_unanalysed_is_named(monkeypatch) -> None:
    from persist_ext.features._checkpoint import _rebuild

    monkeypatch.setattr(_rebuild, "_MAX_PENDING", 3)
    log = CellLog()
    ns: dict[str, Any] = {}
    for code in ("gen = (x for x in range(3))", "a = 1", "b = 2", "c = 3"):
        exec(code, ns)
        log.note(code, ns)
    _, refusals = plan_rebuilds(log, ["gen"], ["a", "b", "c"], [])
    assert refusals == {"gen": "no cell of the last 3 made it"}


def test_a_cell_running_hidden_code_counts_as_changing_every_variable_made_before() -> None:
    log = CellLog()
    ns: dict[str, Any] = {}
    for code in ("gen = (x for x in range(3))", "exec('first = next(gen)')", "other = 1"):
        exec(code, ns)
        log.note(code, ns)
    _, refusals = plan_rebuilds(log, ["gen"], ["first", "other"], [])
    assert refusals == {"gen": "its cell calls exec()"}


def test_the_cell_log_sees_programs_signals_databases_and_files_through_one_hook(
    tmp_path: Path,
) -> None:
    """The file watch's audit hook serves the cell log too, event names matched exactly."""
    import os
    import socket
    import sqlite3
    import subprocess

    log = CellLog()
    log.start()
    subprocess.run(["true"], check=True)
    os.kill(os.getpid(), 0)  # signal 0: a check, but still an os.kill event
    sqlite3.connect(str(tmp_path / "app.db")).close()
    (tmp_path / "out.txt").write_text("x")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
    id(log)  # raises builtins.id, which nobody watches
    effects = log.stop()
    assert effects is not None
    assert effects.programs == ["subprocess.Popen", "os.kill"]
    assert effects.network == ["socket.bind"]
    assert effects.databases == [os.path.realpath(tmp_path / "app.db")]
    assert effects.written == [os.path.realpath(tmp_path / "out.txt")]
    assert effects.outside() == f"its cell wrote {os.path.realpath(tmp_path / 'out.txt')}"

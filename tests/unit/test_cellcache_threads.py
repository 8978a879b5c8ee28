"""Threads and a stored cell: those the cell starts that keep running notebook code make it
run every time (a hit would not start them); threads already running are not the cell's."""

from __future__ import annotations

import threading

from IPython.utils.capture import capture_output

from persist_ext.features._cellcache._fidelity import watch_thread_starts


def _runs(ip, cell: str, name: str) -> str:
    with capture_output() as out:
        for _ in range(2):
            ip.run_cell(cell)
    assert "Error" not in out.stdout, out.stdout
    return str(ip.run_line_magic("persist", f"why {name}"))


def test_a_thread_the_cell_starts_and_leaves_running_makes_it_run(ip) -> None:
    ip.user_ns["stop"] = stop = threading.Event()
    try:
        why = _runs(
            ip,
            "%%persist own --ignore stop\nimport threading\ndef wait():\n    stop.wait(60)\n"
            "threading.Thread(target=wait, daemon=True).start()\nx = 1",
            "own",
        )
    finally:
        stop.set()
    assert "it starts threads that run notebook code after it ends" in why, why


def test_a_thread_started_by_a_thread_the_cell_started_is_the_cells(ip) -> None:
    # The cell's thread ends at once; the one it started keeps running notebook code.
    ip.user_ns["stop"] = stop = threading.Event()
    try:
        why = _runs(
            ip,
            "%%persist nested --ignore stop\nimport threading\ndef wait():\n    stop.wait(60)\n"
            "def spawn():\n    threading.Thread(target=wait, daemon=True).start()\n"
            "t = threading.Thread(target=spawn)\nt.start()\nt.join()\nx = 1",
            "nested",
        )
    finally:
        stop.set()
    assert "it starts threads that run notebook code after it ends" in why, why


def _wait(event: threading.Event) -> None:
    event.wait(60)


def test_threads_an_older_thread_starts_while_the_cell_runs_are_not_the_cells(ip) -> None:
    stop, go, done = threading.Event(), threading.Event(), threading.Event()

    def starter() -> None:  # notebook code (a test module counts as such) started earlier
        while go.wait() and not stop.is_set():
            go.clear()
            threading.Thread(target=_wait, args=(stop,), daemon=True).start()
            done.set()

    threading.Thread(target=starter, daemon=True).start()

    def act() -> int:
        done.clear()
        go.set()
        assert done.wait(30)
        return 42

    ip.user_ns["act"] = act
    try:
        why = _runs(ip, "%%persist older --ignore act\ny = act()", "older")
    finally:
        stop.set()
        go.set()
    assert "restored" in why, why


def test_the_watch_leaves_thread_start_as_it_found_it() -> None:
    original = threading.Thread.start
    with watch_thread_starts() as started:
        assert threading.Thread.start is not original
    assert threading.Thread.start is original
    assert started == []

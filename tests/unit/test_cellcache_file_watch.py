"""The file watch behind a cell's file inputs and outputs (``_cellcache/_effects.py``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from IPython.utils.capture import capture_output

from persist_ext.features._cellcache import _effects
from persist_ext.features._cellcache._effects import watch_files


def test_reads_and_writes_of_the_cell_are_recorded_resolved(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    link = tmp_path / "link.csv"
    link.symlink_to(data)
    with watch_files() as watch:
        link.read_text()
        (tmp_path / "out.txt").write_text("x")
    assert watch.read == {os.path.realpath(data)}
    assert watch.written == {os.path.realpath(tmp_path / "out.txt")}


def test_files_of_the_installation_are_left_out_without_resolving_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Importing pandas opens ~1,400 files of the installation; resolving each path (a system
    # call per component) cost ~0.1 ms, so they are recognised as opened, first.
    resolved: list[str] = []
    realpath = os.path.realpath

    def counting(path: str, *args: object, **kwargs: object) -> str:
        resolved.append(path)
        return realpath(path, *args, **kwargs)  # type: ignore[arg-type]

    with watch_files() as watch:
        monkeypatch.setattr(_effects.os.path, "realpath", counting)
        with open(os.__file__, encoding="utf-8") as source:  # the standard library
            source.read(10)
        monkeypatch.undo()
    assert watch.read == set()
    assert resolved == []


def test_a_folder_listed_by_the_cell_is_seen_but_not_one_the_import_system_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Python's finders list each sys.path folder on a first import; a file added there
    # later was not read by the cell (a fitted model's first import listed the notebook's
    # folder, and the store created there made the cell miss).
    source = tmp_path / "lib"
    source.mkdir()
    (source / "listed_by_finder_mod.py").write_text("VALUE = 1\n")
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.syspath_prepend(str(source))
    with watch_files() as watch:
        import listed_by_finder_mod  # noqa: F401

        os.listdir(data)
    monkeypatch.delitem(__import__("sys").modules, "listed_by_finder_mod")
    assert os.path.realpath(data) in watch.listed
    assert os.path.realpath(source) not in watch.listed


def test_a_file_read_for_the_cell_by_an_older_pool_thread_is_its_input(ip, tmp_path: Path) -> None:
    # dask's threaded scheduler reuses one pool across computes: a later cell's reads run
    # in threads older than the cell, and are still what the cell read.
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "part.txt").write_text("1")
    ip.run_cell("from concurrent.futures import ThreadPoolExecutor\npool = ThreadPoolExecutor(1)")
    ip.run_cell("pool.submit(len, ()).result()")  # its thread exists before the cell
    cell = (
        "%%persist pooled --ignore pool\n"
        "folder = 'da' + 'ta'\n"  # no literal path: only the read itself shows the file
        "total = int(pool.submit(lambda: open(folder + '/part.txt').read()).result())"
    )
    with capture_output():
        ip.run_cell(cell)
        (tmp_path / "data" / "part.txt").write_text("2")
        ip.run_cell(cell)
    why = str(ip.run_line_magic("persist", "why pooled"))
    assert ip.user_ns["total"] == 2, why
    assert "part.txt" in why, why
    ip.run_cell("pool.shutdown()")


def test_what_a_cell_makes_and_removes_again_is_its_own(tmp_path: Path) -> None:
    import shutil
    import tempfile

    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "old.csv").write_text("1")
    (tmp_path / "before.txt").write_text("1")
    with watch_files() as watch:
        # tempfile's folders and files, removed by name relative to the folder's
        # descriptor (shutil.rmtree), and a folder made, filled, listed and removed.
        with tempfile.TemporaryDirectory(dir=tmp_path) as scratch:
            Path(scratch, "part.tex").write_text("x")
            os.listdir(scratch)
        with tempfile.NamedTemporaryFile(dir=tmp_path):
            pass
        made = tmp_path / "made"
        made.mkdir()
        (made / "a.txt").write_text("a")
        os.listdir(made)
        shutil.rmtree(made)
        # A folder asked for again (it exists): what the cell removes or lists there is not
        # its own, nor a file that was there before.
        os.makedirs(existing, exist_ok=True)
        os.remove(existing / "old.csv")
        os.listdir(existing)
        os.remove(tmp_path / "before.txt")
    real = os.path.realpath
    assert watch.removed_existing == sorted(
        [real(existing / "old.csv"), real(tmp_path / "before.txt")]
    )
    assert list(watch.listed_inputs) == [real(existing)]


def _file_chores(folder: Path, rounds: int) -> None:
    """What persist_ext's upkeep does to files: SQLite connections, writes, renames, removals."""
    import sqlite3

    for k in range(rounds):
        connection = sqlite3.connect(folder / "cache.db")
        connection.execute("CREATE TABLE IF NOT EXISTS t (a)")
        connection.execute("INSERT INTO t VALUES (?)", (k,))
        connection.commit()
        connection.close()
        (folder / "blob.tmp").write_text(str(k))
        os.replace(folder / "blob.tmp", folder / "blob")
        os.remove(folder / "blob")


def test_the_file_chores_of_persist_ext_threads_are_no_cells_doing(tmp_path: Path) -> None:
    # The uses of hits are noted, replaced blobs removed and PODs synced on threads of their
    # own, whenever due: during a later cell's run too. Seen as the cell's, the store's
    # database became a file the cell "wrote" (it changes at every write, so the cell missed
    # ever after) and a removed blob made it a cell that runs for good.
    from persist_ext._threads import HousekeepingThread

    upkeep, user = tmp_path / "upkeep", tmp_path / "user"
    upkeep.mkdir()
    user.mkdir()
    with watch_files() as watch:
        chores = HousekeepingThread(target=_file_chores, args=(upkeep, 5))
        chores.start()
        chores.join()
        (tmp_path / "out.txt").write_text("x")  # the cell's own
    assert watch.written == {os.path.realpath(tmp_path / "out.txt")}
    assert watch.databases == watch.removed == watch.read == set()
    # A thread of the notebook's doing the same is watched, as before.
    with watch_files() as watch:
        import threading

        thread = threading.Thread(target=_file_chores, args=(user, 1))
        thread.start()
        thread.join()
    assert watch.databases == {os.path.realpath(user / "cache.db")}
    assert os.path.realpath(user / "blob") in watch.removed


def test_a_cell_run_while_a_pod_syncs_in_the_background_is_restored(ip, tmp_path: Path) -> None:
    # A Tracker or POD with sync_after, changed by a thread of the notebook while cells run:
    # its sync thread writes and renames the POD's files during the cell's run.
    import threading

    from persist_ext import POD

    pod = POD(tmp_path / "progress.pod", sync_after=0.002)
    stop = threading.Event()

    def change() -> None:
        k = 0
        while not stop.is_set():
            pod["k"] = k = k + 1
            stop.wait(0.001)

    changer = threading.Thread(target=change, daemon=True)
    changer.start()
    cell = "%%persist steady\nimport time\ntime.sleep(0.05)\nsteady = [n * n for n in range(5)]"
    try:
        with capture_output():
            ip.run_cell(cell)
            del ip.user_ns["steady"]
            ip.run_cell(cell)
    finally:
        stop.set()
        changer.join()
        pod.close()
    why = str(ip.run_line_magic("persist", "why steady"))
    assert ip.user_ns["steady"] == [0, 1, 4, 9, 16]
    assert "restored" in why, why


def test_an_event_is_recorded_while_another_thread_is_inside_the_hook(tmp_path: Path) -> None:
    # The hook does not recurse into events its own work raises; that guard is per thread,
    # so a thread held up inside the hook (a subscriber's callback) hides no event of the
    # cell's thread.
    import threading

    inside, release = threading.Event(), threading.Event()

    def slow(name: str, args: tuple[object, ...]) -> None:
        if threading.current_thread().name == "held":
            inside.set()
            release.wait(10)

    _effects.subscribe(frozenset({"os.chmod"}), slow)
    target = tmp_path / "target"
    target.write_text("x")
    held = threading.Thread(target=os.chmod, args=(target, 0o644), name="held")
    held.start()
    try:
        assert inside.wait(10)
        with watch_files() as watch:
            (tmp_path / "out.txt").write_text("x")
    finally:
        release.set()
        held.join()
    assert watch.written == {os.path.realpath(tmp_path / "out.txt")}

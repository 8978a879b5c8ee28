"""progress(): a tqdm-style loop wrapper, nested bars, pandas, and resuming a named loop."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from persist_ext import LoopProgress, ProgressError, Store, progress
from persist_ext.storage._memory import MemoryStore


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_loop_yields_everything_and_ends_final() -> None:
    out = io.StringIO()
    bar = progress(range(1000), desc="squares", file=out)
    assert [x * x for x in bar][-1] == 999 * 999
    snap = bar.progress()
    assert (snap.done, snap.total, snap.finished) == (1000, 1000, True)
    assert snap.rate is not None
    line = out.getvalue().splitlines()[-1]
    assert line.startswith("squares 100% [")
    assert "1,000/1,000 it" in line
    assert "finished" in line
    assert "ETA" not in line


def test_a_finished_loop_keeps_its_own_rate_when_read_later() -> None:
    # The end-of-cell re-publish reads the bar after the loop ended: the elapsed time behind
    # the rate must stop at the loop's end, or the saved bar shows a rate it never had.
    bar = progress(range(50), desc="done", file=io.StringIO())
    for _ in bar:
        pass
    first = bar.progress()
    time.sleep(0.05)
    later = bar.progress()
    assert later.rate == first.rate
    assert later.updated == first.updated


def test_a_loop_whose_body_raised_takes_its_rate_before_the_raise() -> None:
    # Its generator stays suspended until the cell ends (the traceback holds it), so the
    # bar is closed late; the rate must not count the time after the raise.
    bar = progress(range(10), desc="raises", file=io.StringIO())
    items = iter(bar)  # held, as a notebook's traceback holds it
    try:
        for i in items:
            if i == 4:
                raise ValueError("bad item")
    except ValueError:
        raised_at = time.time()
    time.sleep(0.05)
    bar.cell_ended()
    snap = bar.progress()
    assert bar.closed
    assert snap.stopped
    assert snap.updated <= raised_at
    assert snap.done == 4  # the items whose body finished, counted when it was closed
    assert snap.rate is not None


def test_a_stopped_loop_has_no_eta() -> None:
    from persist_ext.features._progress import eta_text

    bar = progress(range(10), desc="early", file=io.StringIO())
    for i in bar:
        if i == 3:
            break
    snap = bar.progress()
    assert snap.stopped
    assert not snap.finished
    assert snap.eta is None
    assert eta_text(snap) == "stopped"


def test_unknown_total_is_counted_and_fixed_at_the_end() -> None:
    out = io.StringIO()
    bar = progress((i for i in range(7)), file=out)
    assert bar.total is None
    assert sum(bar) == 21
    assert bar.total == 7
    assert bar.progress().finished


def test_break_leaves_a_bar_that_says_it_stopped() -> None:
    out = io.StringIO()
    bar = progress(range(10), desc="early", file=out)
    for x in bar:
        if x == 3:
            break
    del x
    assert bar.closed
    assert bar.stopped_reason == "did not finish"
    assert not bar.progress().finished
    assert "did not finish" in out.getvalue()


def test_terminal_output_rewrites_one_line() -> None:
    out = Tty()
    for _ in progress(range(3), desc="tty", file=out, mininterval=1e-6):
        time.sleep(0.001)
    text = out.getvalue()
    assert text.count("\r") >= 2
    assert text.endswith("\n")
    assert "3/3 it" in text.rsplit("\r", 1)[-1]


def test_nested_bars_name_their_parent() -> None:
    out = Tty()
    for _ in progress(range(2), desc="epochs", file=out):
        for _ in progress(range(3), desc="batches", file=out):
            pass
    text = out.getvalue()
    assert "epochs 0/2 > batches" in text
    assert "epochs 1/2 > batches" in text
    assert text.rstrip().rsplit("\r", 1)[-1].startswith("epochs 100%")


def test_update_by_hand() -> None:
    out = io.StringIO()
    with progress(total=5, desc="manual", file=out) as bar:
        for _ in range(5):
            bar.update()
    assert bar.progress().finished
    assert "5/5 it" in out.getvalue()
    with pytest.raises(ProgressError, match="update"):
        bar.update("1")  # type: ignore[arg-type]


def test_disable_is_a_plain_loop(tmp_path: Path) -> None:
    out = io.StringIO()
    assert list(progress(range(3), file=out, disable=True)) == [0, 1, 2]
    assert out.getvalue() == ""


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"total": -1}, "total"),
        ({"total": True}, "total"),
        ({"name": ""}, "name"),
        ({"store": "/tmp"}, "name="),
        ({"name": "x", "key": 3}, "key"),
        ({"mininterval": 0}, "mininterval"),
        ({"name": "x", "store": MemoryStore()}, "directory"),
    ],
)
def test_bad_options_raise_before_anything_is_recorded(
    kwargs: dict, match: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProgressError, match=match):
        progress(range(3), **kwargs)
    assert not (tmp_path / ".persist").exists()


def test_not_iterable_is_rejected() -> None:
    with pytest.raises(ProgressError, match="iterable"):
        progress(42)  # type: ignore[arg-type]


def test_named_loop_resumes_after_an_exception(tmp_path: Path) -> None:
    out = io.StringIO()
    items = [f"item-{i}" for i in range(10)]
    ran: list[str] = []

    def work() -> None:
        for item in progress(items, name="fit", store=tmp_path, file=out):
            if item == "item-6":
                raise RuntimeError("boom")
            ran.append(item)

    with pytest.raises(RuntimeError):
        work()
    # The generator is closed when its frame goes; either way the records are on disk.
    rerun = progress(items, name="fit", store=tmp_path, file=out)
    assert rerun.done_before == 6
    again = list(rerun)
    assert again == items[6:]  # item-6 raised: not done, runs again
    assert rerun.skipped == 6
    assert rerun.progress().finished
    assert "resuming, 6 item(s) done in an earlier run will be skipped" in out.getvalue()
    assert "6 skipped: done earlier" in out.getvalue().splitlines()[-1]
    # A third run has nothing left to do.
    assert list(progress(items, name="fit", store=tmp_path, file=out)) == []


def test_resume_follows_the_items_not_their_order(tmp_path: Path) -> None:
    out = io.StringIO()
    for x in progress([3, 1, 2], name="ids", store=tmp_path, file=out):
        if x == 2:
            break
    assert list(progress([2, 1, 3, 4], name="ids", store=tmp_path, file=out)) == [2, 4]


def test_custom_keys_and_position_keys(tmp_path: Path) -> None:
    out = io.StringIO()
    rows = [{"id": "a"}, {"id": "b"}]
    assert len(list(progress(rows, name="rows", store=tmp_path, key=lambda r: r["id"]))) == 2
    assert list(progress(rows, name="rows", store=tmp_path, key=lambda r: r["id"])) == []
    # Items without a name of their own are known by their position.
    pairs = [(1, 2), (3, 4)]
    for _ in progress(pairs, name="pairs", store=tmp_path, file=out):
        break
    assert list(progress(pairs, name="pairs", store=tmp_path, file=out)) == pairs
    with pytest.raises(ProgressError, match="str or int keys"):
        list(progress(rows, name="bad", store=tmp_path, key=lambda r: r))


def test_store_object_keeps_records_in_its_directory(tmp_path: Path) -> None:
    with Store(tmp_path / "s") as store:
        bar = progress(["a"], name="in store", store=store, file=io.StringIO())
        list(bar)
        assert bar.tracker.path.parent == store.directory / "progress"


def test_a_killed_loop_resumes_where_its_records_end(tmp_path: Path) -> None:
    """SIGKILL mid-loop: the rerun skips only items that ran, and runs every other one."""
    log = tmp_path / "ran.txt"
    script = textwrap.dedent(
        f"""
        import io, sys, time
        from persist_ext import progress
        with open({str(log)!r}, "a") as log:
            for i in progress(range(100_000), name="long", store={str(tmp_path)!r},
                              sync_every=0.01, file=io.StringIO()):
                log.write(f"{{i}}\\n"); log.flush()
                time.sleep(0.001)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if log.exists() and len(log.read_text().splitlines()) >= 200:
                break
            time.sleep(0.05)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    ran_before = {int(x) for x in log.read_text().split()}
    assert len(ran_before) >= 200
    bar = progress(range(100_000), name="long", store=tmp_path, file=io.StringIO())
    first = next(iter(bar))
    assert bar.skipped > 0
    skipped = set(range(bar.skipped))
    assert skipped <= ran_before  # only what really ran is skipped
    assert first not in skipped
    bar.close()


def test_progress_apply_for_pandas() -> None:
    import pandas as pd

    LoopProgress.pandas(file=io.StringIO())
    frame = pd.DataFrame({"a": range(5), "b": range(5)})
    assert frame["a"].progress_apply(lambda v: v * 2).tolist() == [0, 2, 4, 6, 8]
    assert frame["a"].progress_map(str).tolist() == ["0", "1", "2", "3", "4"]
    assert frame.progress_apply(lambda row: row.sum(), axis=1).tolist() == [0, 2, 4, 6, 8]
    assert frame.groupby(frame.a % 2)["b"].progress_apply(sum).tolist() == [6, 4]
    assert progress.pandas == LoopProgress.pandas  # type: ignore[attr-defined]

"""POD benchmark: bulk insert + sync, reopen, a one-key sync in a large POD, Tracker marks.

"Tracker marks" measures what the default ``sync_after=1.0`` (marks reach disk within about a
second, even through a ``SIGKILL``) costs a tight try_it/mark_done loop, as a ratio to the same
loop with background syncs off, and how long a single mark takes to reach disk.

Run: ``.venv/bin/python -m benchmarks.bench_pod [--large N]``. ``run()`` returns the rows
(one dict per measurement: name, value, unit) for the benchmarks runner.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from persist_ext.features._pod import POD, JSONSerializer, Tracker, ls

__all__ = ["main", "run"]


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file())


def _fill(path: Path, n: int) -> float:
    start = time.perf_counter()
    pod = POD(path, sync_at=10**9)
    for i in range(n):
        pod[f"task-{i:07d}"] = {"_tries": 1, "_done": True, "_aborted": False}
    pod.close()
    return time.perf_counter() - start


QUICK = {"small": 10_000, "large": 100_000, "marks": 20_000}


def _mark_loop(path: Path, n: int, sync_after: float | None) -> float:
    tracker = Tracker(path, sync_after=sync_after)
    start = time.perf_counter()
    for i in range(n):
        if tracker.try_it(i):
            tracker.mark_done(i)
    elapsed = time.perf_counter() - start
    tracker.close()
    return elapsed


def _on_disk(path: Path) -> dict[Any, Any]:
    entries: dict[Any, Any] = {}
    for name in ls(path):
        with open(name) as handle:
            entries.update(JSONSerializer.read_items(handle))
    return entries


def _mark_to_disk(path: Path) -> float:
    tracker = Tracker(path)  # the default sync_after
    tracker.try_it("x")
    start = time.perf_counter()
    tracker.mark_done("x")
    while not _on_disk(path).get("x", {}).get("_done"):
        time.sleep(0.005)
    elapsed = time.perf_counter() - start
    tracker.close()
    return elapsed


def run(small: int = 100_000, large: int = 1_000_000, marks: int = 100_000) -> list[dict[str, Any]]:
    """Measure, returning rows of ``{"name", "value", "unit"}``."""
    rows: list[dict[str, Any]] = []

    def row(name: str, value: float, unit: str) -> None:
        rows.append({"name": name, "value": round(value, 4), "unit": unit})

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "small"
        row(f"insert+sync {small} keys", _fill(path, small), "s")
        row(f"on disk ({small} keys)", _size(path) / 1e6, "MB")
        start = time.perf_counter()
        pod = POD(path)
        row(f"reopen {small} keys (manifest only)", time.perf_counter() - start, "s")
        start = time.perf_counter()
        _ = "task-0000042" in pod
        row(
            f"first key lookup {small} keys (index from chunk headers)",
            time.perf_counter() - start,
            "s",
        )
        start = time.perf_counter()
        n = sum(1 for _ in pod.items())
        row(f"read all {n} values", time.perf_counter() - start, "s")
        pod.close()

        path = Path(tmp) / "large"
        row(f"insert+sync {large} keys", _fill(path, large), "s")
        total = _size(path)
        row(f"on disk ({large} keys)", total / 1e6, "MB")
        start = time.perf_counter()
        pod = POD(path)
        row(f"reopen {large} keys (manifest only)", time.perf_counter() - start, "s")
        start = time.perf_counter()
        pod[f"task-{large // 2:07d}"]["result"] = 42  # index + one chunk read, key dirty
        row("first access in large POD", time.perf_counter() - start, "s")
        start = time.perf_counter()
        stats = pod.sync()
        row("one-key sync in large POD", time.perf_counter() - start, "s")
        row("one-key sync: bytes written", stats.bytes, "B")
        row("one-key sync: share of POD rewritten", 100 * stats.bytes / total, "%")
        start = time.perf_counter()
        pod["task-0000001"]["result"] = 1
        pod.sync()
        row("second one-key sync in large POD", time.perf_counter() - start, "s")
        pod.close()

        off = _mark_loop(Path(tmp) / "marks-off", marks, None)
        on = _mark_loop(Path(tmp) / "marks-on", marks, 1.0)
        row(f"Tracker marks: {marks} try_it+mark_done, sync_after=None", off, "s")
        row(f"Tracker marks: {marks} try_it+mark_done, sync_after=1.0 (default)", on, "s")
        row("Tracker marks: cost of sync_after=1.0 (time ratio)", on / off, "x")
        row(
            "Tracker marks: one mark_done until on disk (default)",
            _mark_to_disk(Path(tmp) / "one"),
            "s",
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--marks", type=int, default=100_000)
    args = parser.parse_args(argv)
    for r in run(args.small, args.large, args.marks):
        print(f"{r['name']:<60} {r['value']:>12} {r['unit']}")


if __name__ == "__main__":
    main()

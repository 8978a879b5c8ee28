"""Task-group benchmark: bookkeeping per task vs the bare executor, 10,000 tasks end to end,
and the completion callback's latency after the last task.

Run: ``.venv/bin/python -m benchmarks.bench_tasks [--tasks N]``. ``run()`` returns rows of
``{"name", "value", "unit"}`` for the benchmarks runner. Overhead is measured on no-op tasks
with the same ``ThreadPoolExecutor`` as the baseline, in the same run, for both the in-memory
store and the diskcache ``Store``. Bookkeeping per task = (group end to end - bare) / tasks,
with ``run()``'s preparation included; before/after numbers are in docs/tasks.md.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from persist_ext.features._tasks import GroupResult, TaskGroup
from persist_ext.storage._memory import MemoryStore
from persist_ext.storage._store import Store

from ._timing import print_rows

__all__ = ["QUICK", "main", "run"]

QUICK = {"tasks": 1_000, "repeats": 1}


def noop(x: int) -> int:
    return x


def _bare(executor: ThreadPoolExecutor, n: int) -> float:
    start = time.perf_counter()
    for future in [executor.submit(noop, i) for i in range(n)]:
        future.result()
    return time.perf_counter() - start


def _group(store: Any, executor: ThreadPoolExecutor, n: int, name: str) -> dict[str, float]:
    called: list[float] = []

    def on_complete(result: GroupResult) -> None:
        called.append(time.time())

    group = TaskGroup(name, store, executor=executor, on_complete=on_complete)
    group.map(noop, range(n), key=str)
    start = time.perf_counter()
    group.run()
    prepared = time.perf_counter()
    group.wait()  # results are read lazily: this is the run itself plus a journal refresh
    end = time.perf_counter()
    latency = called[0] - group.last_task_ended if called and group.last_task_ended else -1.0
    return {"total": end - start, "prepare": prepared - start, "latency": latency}


def run(tasks: int = 10_000, repeats: int = 3, workers: int = 4) -> list[dict[str, Any]]:
    """Measure, returning rows of ``{"name", "value", "unit"}``."""
    rows: list[dict[str, Any]] = []

    def row(name: str, value: float, unit: str) -> None:
        rows.append({"name": name, "value": round(value, 6), "unit": unit})

    with ThreadPoolExecutor(workers) as executor, tempfile.TemporaryDirectory() as tmp:
        bare = min(_bare(executor, tasks) for _ in range(repeats))
        row(f"bare ThreadPoolExecutor, {tasks} no-op tasks", bare, "s")
        for label, make in (("MemoryStore", MemoryStore), ("Store", lambda: Store(tmp))):
            runs = [_group(make(), executor, tasks, f"b{label}{i}") for i in range(repeats)]
            best = min(runs, key=lambda r: r["total"])
            per_task = (best["total"] - bare) / tasks * 1e6
            row(f"TaskGroup on {label}, {tasks} no-op tasks end to end", best["total"], "s")
            row("  of which run() preparing (records, marker tree)", best["prepare"], "s")
            row(
                f"bookkeeping per task on {label} (target <= 100 us in-process)",
                per_task,
                "us",
            )
            row(
                f"callback latency after the last task on {label} (median)",
                statistics.median(r["latency"] for r in runs) * 1e3,
                "ms",
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print_rows(run(args.tasks, args.repeats))


if __name__ == "__main__":
    main()

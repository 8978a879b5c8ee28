"""Task-group benchmark: bookkeeping per task and end-to-end ratio vs a bare executor, the
completion callback's latency, 1,000 tasks on a Dask LocalCluster vs bare ``client.map``,
and the calls a task's journey takes through ``features/_tasks``.

Run: ``.venv/bin/python -m benchmarks.bench_tasks [--tasks N] [--dask N]``. ``run()``
returns rows of ``{"name", "value", "unit"}`` for the benchmarks runner. Overhead is
measured on no-op tasks with the same ``ThreadPoolExecutor`` as the baseline, in the same
run, for the in-memory store and the diskcache ``Store``: each round runs the bare executor
and then a group on each store back to back (Dask: bare ``client.map`` then a group), so a
load that comes and goes weighs on all alike; the load average is printed at the start and
the end. Bookkeeping per task = (group end to end - bare) / tasks, ``run()``'s preparation
included; the CPU rows do the same with the process's CPU time, which a machine loaded by
other work distorts far less than wall time. Goals (issue 14): bookkeeping <= 50 us per
task on ``Store``; 10,000 tasks end to end within 3x the bare executor. The ratios are
printed, never asserted (a loaded machine changes them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from persist_ext.features._tasks import GroupResult, TaskGroup
from persist_ext.storage._memory import MemoryStore
from persist_ext.storage._store import Store

from ._timing import print_rows

__all__ = ["QUICK", "journey", "main", "run"]

QUICK = {"tasks": 1_000, "repeats": 1, "dask_tasks": 200}


def noop(x: int) -> int:
    return x


def _bare(executor: ThreadPoolExecutor, n: int) -> tuple[float, float]:
    """Wall and CPU (process) seconds of ``n`` no-op tasks on the bare executor."""
    cpu, start = time.process_time(), time.perf_counter()
    for future in [executor.submit(noop, i) for i in range(n)]:
        future.result()
    return time.perf_counter() - start, time.process_time() - cpu


def _group(store: Any, executor: Any, n: int, name: str) -> dict[str, float]:
    called: list[float] = []

    def on_complete(result: GroupResult) -> None:
        called.append(time.time())

    group = TaskGroup(name, store, executor=executor, on_complete=on_complete)
    group.map(noop, range(n), key=str)
    cpu, start = time.process_time(), time.perf_counter()
    group.run()
    prepared = time.perf_counter()
    group.wait()  # results are read lazily: this is the run itself plus a journal refresh
    end = time.perf_counter()
    cpu = time.process_time() - cpu
    latency = called[0] - group.last_task_ended if called and group.last_task_ended else -1.0
    group.close()
    return {"total": end - start, "prepare": prepared - start, "latency": latency, "cpu": cpu}


def _dask(n: int, rounds: int = 1) -> list[dict[str, Any]]:
    """Bare ``client.map`` + ``gather`` and a TaskGroup on the same cluster, alternating
    for ``rounds`` rounds (best of each, and the median of the rounds' own ratios)."""
    if n <= 0:
        return []
    try:
        import distributed
    except ImportError:  # the bench extra does not pull Dask in
        return []
    rows = []
    bares: list[float] = []
    groups: list[float] = []
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
        tempfile.TemporaryDirectory() as tmp,
    ):
        client.gather(client.map(noop, range(50), pure=False))  # warm up
        for i in range(max(1, rounds)):
            start = time.perf_counter()
            client.gather(client.map(noop, range(n), pure=False))
            bares.append(time.perf_counter() - start)
            groups.append(_group(Store(tmp), client, n, f"dask{i}")["total"])
    bare, best = min(bares), min(groups)
    ratios = [g / b for g, b in zip(groups, bares, strict=True)]
    rows.append({"name": f"bare client.map + gather, {n} no-op tasks", "value": bare, "unit": "s"})
    rows.append({"name": f"TaskGroup on Dask LocalCluster, {n} tasks", "value": best, "unit": "s"})
    rows.append(
        {
            "name": "  Dask: overhead per task vs bare client.map",
            "value": round((best - bare) / n * 1e6, 1),
            "unit": "us",
        }
    )
    rows.append(
        {
            "name": "  Dask: ratio TaskGroup / client.map",
            "value": round(best / bare, 2),
            "unit": "x",
        }
    )
    rows.append(
        {
            "name": f"  same, median of the {len(ratios)} rounds' own ratios",
            "value": round(statistics.median(ratios), 2),
            "unit": "x",
        }
    )
    return rows


def journey(tasks: int = 11) -> dict[str, float]:
    """Calls and cross-module hops inside ``features/_tasks`` per extra task (threads).

    Measured by profiling a run of 1 task and one of ``tasks`` tasks (every thread) and
    dividing the difference, so preparation and completion costs paid once drop out.
    """
    package = "persist_ext/features/_tasks/"
    calls: list[tuple[str, str]] = []

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event != "call" or package not in frame.f_code.co_filename:
            return
        caller = frame.f_back.f_code.co_filename if frame.f_back else ""
        calls.append((caller if package in caller else "", frame.f_code.co_filename))

    def measure(n: int) -> tuple[int, int, set[str]]:
        group = TaskGroup(f"journey{n}", MemoryStore(), on_complete=lambda r: None)
        group.map(noop, range(n), key=str)
        calls.clear()
        threading.setprofile(profile)
        sys.setprofile(profile)
        try:
            group.run().wait()
        finally:
            sys.setprofile(None)
            threading.setprofile(None)
        group.close()
        hops = sum(1 for caller, callee in calls if caller != callee)
        return len(calls), hops, {callee for _, callee in calls}

    one, many = measure(1), measure(tasks)
    per = tasks - 1
    return {
        "calls": (many[0] - one[0]) / per,
        "hops": (many[1] - one[1]) / per,
        "modules": float(len(many[2])),
    }


def run(
    tasks: int = 10_000, repeats: int = 3, workers: int = 4, dask_tasks: int = 1_000
) -> list[dict[str, Any]]:
    """Measure, returning rows of ``{"name", "value", "unit"}``.

    Each of ``repeats`` rounds runs the bare executor, then a group on each store, back to
    back, so a load that comes and goes weighs on all of them alike; the rows give the best
    of the rounds and the median of the per-round ratios.
    """
    rows: list[dict[str, Any]] = []

    def row(name: str, value: float, unit: str) -> None:
        rows.append({"name": name, "value": round(value, 6), "unit": unit})

    row(f"load average (1 min) at the start: {os.getloadavg()[0]:.1f}", 0, "")
    labels = ("MemoryStore", "Store")
    bares: list[tuple[float, float]] = []
    runs: dict[str, list[dict[str, float]]] = {label: [] for label in labels}
    with ThreadPoolExecutor(workers) as executor, tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            bares.append(_bare(executor, tasks))
            for label in labels:
                store = MemoryStore() if label == "MemoryStore" else Store(tmp)
                runs[label].append(_group(store, executor, tasks, f"b{label}{i}"))
    bare, bare_cpu = min(w for w, _ in bares), min(c for _, c in bares)
    row(f"bare ThreadPoolExecutor, {tasks} no-op tasks", bare, "s")
    row("  its CPU time (all threads of the process)", bare_cpu, "s")
    for label in labels:
        best = min(runs[label], key=lambda r: r["total"])
        per_task = (best["total"] - bare) / tasks * 1e6
        row(f"TaskGroup on {label}, {tasks} no-op tasks end to end", best["total"], "s")
        row("  of which run() preparing (records, marker tree)", best["prepare"], "s")
        row(f"  ratio to the bare executor on {label} (goal <= 3x)", best["total"] / bare, "x")
        ratios = [r["total"] / b for r, (b, _) in zip(runs[label], bares, strict=True)]
        row(f"  same, median of the {repeats} rounds' own ratios", statistics.median(ratios), "x")
        row(f"  bookkeeping per task on {label} (goal <= 50 us)", per_task, "us")
        # CPU time is what a loaded machine distorts least (wall time waits for cores).
        cpu = min(r["cpu"] for r in runs[label])
        row(f"  CPU per task on {label}, group - bare", (cpu - bare_cpu) / tasks * 1e6, "us")
        row(
            f"  callback latency after the last task on {label} (median)",
            statistics.median(r["latency"] for r in runs[label]) * 1e3,
            "ms",
        )
    rows.extend(_dask(dask_tasks, repeats))
    path = journey()
    row("journey of one task: calls inside features/_tasks", path["calls"], "calls")
    row("journey of one task: calls crossing a module boundary", path["hops"], "hops")
    row(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f}", 0, "")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dask", type=int, default=1_000, help="tasks on the Dask cluster")
    args = parser.parse_args()
    print_rows(run(args.tasks, args.repeats, dask_tasks=args.dask))


if __name__ == "__main__":
    main()

"""``python -m benchmarks.kernel_costs``: what ``%%persist`` costs a whole notebook, in fresh kernels.

For each corpus notebook named (``benchmarks/corpus.py``: the same notebooks, the same cells,
the same ``%load_ext`` cell), runs three fresh kernels in a scratch folder — plain, then
``%%persist`` on every cell with an empty store (cold), then again with that store (warm) —
and prints the run times (sum of the cells' times, the ``%load_ext`` cell apart), the first
cell's time in each (the store is opened there), and the ratios issue #13.6 is about: warm
speedup (plain ÷ warm) and cold overhead (cold ÷ plain).

The kernel's CPU time over the notebook's cells is measured too (a ``%%time`` cell before
the first and after the last prints ``time.process_time()``; cells starting with ``%%`` are
never wrapped in ``%%persist``; the two cells' own times are left out of the run times):
on a shared machine the CPU ratios move far less than the wall-clock ones. Each round also
runs the plain notebook a second time, so the spread of two plain runs (the noise floor) is
printed beside the ratios, with the ratios of the least CPU time of the rounds.

``--before DIR`` also runs every round with the persist_ext of another checkout (a
``git worktree`` of an older commit) put first on the kernels' ``PYTHONPATH``; the two take
turns going first (a kernel starts in its scratch folder, so the checkout on
``PYTHONPATH`` is the persist_ext it imports). Medians are printed per notebook and variant,
with the load average: on a shared machine only pairs taken in the same minutes compare.

    python -m benchmarks.kernel_costs --mirror /work/.mirror --rounds 3 02.09 02.02 03.08
    python -m benchmarks.kernel_costs --mirror /work/.mirror --before /tmp/old 02.09
    python -m benchmarks.kernel_costs --trivial 200 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from .corpus import Run, compile_bytecode, copy_data, execute, load_corpus

_CPU_MARK = "__KERNEL_CPU__"
_CPU_CELL = f"%%time\nprint('{_CPU_MARK}', __import__('time').process_time())"


def _timed(sources: list[str], cached: bool, cwd: Path) -> tuple[Run, float, float]:
    """Run the notebook between two CPU marks: (run, seconds of its cells, CPU seconds)."""
    run = execute([_CPU_CELL, *sources, _CPU_CELL], cached, cwd, 300)
    marks = []
    for parts in (run.cells[:1] + run.cells[-1:]) if run.cells else []:
        for part in parts:
            if _CPU_MARK in part:
                marks.append(float(part.split(_CPU_MARK, 1)[1].split()[0]))
    cpu = marks[1] - marks[0] if len(marks) == 2 else float("nan")
    inner = run.durations[1:-1]
    run.durations = inner
    run.restored_cells = run.restored_cells[1:-1]
    return run, sum(inner), cpu


def _one(sources: list[str], copies: list[tuple[str, str]], checkout: str | None) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="kernel-costs-"))
    saved = {k: os.environ.get(k) for k in ("PERSIST_EXT_DIR", "PYTHONPATH")}
    try:
        for variant in ("plain", "cached"):
            copy_data(copies, work / variant)  # where the notebook finds its data
        os.environ["PERSIST_EXT_DIR"] = str(work / "store")  # kernels inherit it
        if checkout:
            os.environ["PYTHONPATH"] = checkout
        else:
            os.environ.pop("PYTHONPATH", None)
        plain, plain_s, plain_cpu = _timed(sources, False, work / "plain")
        cold, cold_s, cold_cpu = _timed(sources, True, work / "cached")
        warm, warm_s, warm_cpu = _timed(sources, True, work / "cached")
        # The same plain notebook again: how far two plain runs differ (the noise floor).
        _, _, again_cpu = _timed(sources, False, work / "plain")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(work, ignore_errors=True)
    return {
        "plain": plain_s,
        "cold": cold_s,
        "warm": warm_s,
        "cpu_plain": plain_cpu,
        "cpu_cold": cold_cpu,
        "cpu_warm": warm_cpu,
        "cpu_plain_again": again_cpu,
        "load_ext": cold.setup,
        "first_plain": plain.durations[0] if plain.durations else 0.0,
        "first_cold": cold.durations[0] if cold.durations else 0.0,
        "first_warm": warm.durations[0] if warm.durations else 0.0,
        "restored": sum(warm.restored_cells),
        "cells": len(sources),
        "failures": [r.failure for r in (plain, cold, warm) if r.failure],
        "load": round(os.getloadavg()[0], 1),
    }


def summary(rows: list[dict[str, Any]]) -> str:
    """Medians per notebook and variant (ratios are medians of each round's ratio)."""
    lines = []
    for notebook in dict.fromkeys(r["notebook"] for r in rows):
        for variant in dict.fromkeys(r["variant"] for r in rows):
            mine = [r for r in rows if r["notebook"] == notebook and r["variant"] == variant]
            if not mine:
                continue

            def med(key: str, rs: list[dict[str, Any]] = mine) -> float:
                return statistics.median(r[key] for r in rs)

            lines.append(
                f"{notebook[:40]:40s} {variant:6s} n={len(mine)} plain {med('plain'):.3f}s "
                f"cold {med('cold'):.3f}s warm {med('warm'):.3f}s | warm speedup "
                f"{statistics.median(r['plain'] / r['warm'] for r in mine):.2f}x, cold overhead "
                f"{statistics.median(r['cold'] / r['plain'] for r in mine):.2f}x | CPU "
                f"plain {med('cpu_plain'):.3f}s cold {med('cpu_cold'):.3f}s warm "
                f"{med('cpu_warm'):.3f}s: warm speedup "
                f"{statistics.median(r['cpu_plain'] / r['cpu_warm'] for r in mine):.2f}x, cold "
                f"{statistics.median(r['cpu_cold'] / r['cpu_plain'] for r in mine):.2f}x | first cell "
                f"cold-plain {statistics.median(r['first_cold'] - r['first_plain'] for r in mine) * 1e3:+.0f} ms, "
                f"warm-plain {statistics.median(r['first_warm'] - r['first_plain'] for r in mine) * 1e3:+.0f} ms"
                f" | load {min(r['load'] for r in mine)}-{max(r['load'] for r in mine)}"
            )
            # Noise only adds CPU (other processes evict caches, steal cycles): the least of
            # the rounds is the steadiest estimate of each variant's own cost.
            least = {k: min(r[f"cpu_{k}"] for r in mine) for k in ("plain", "cold", "warm")}
            again = [r["cpu_plain_again"] / r["cpu_plain"] for r in mine if "cpu_plain_again" in r]
            cells = mine[0].get("cells") or 1
            lines.append(
                f"{'':40s} {variant:6s} least CPU of the rounds: warm speedup "
                f"{least['plain'] / least['warm']:.2f}x, cold {least['cold'] / least['plain']:.2f}x"
                f" | per cell: plain {least['plain'] / cells * 1e3:.2f} ms, cold "
                f"{(least['cold'] - least['plain']) / cells * 1e3:+.2f} ms, warm "
                f"{(least['warm'] - least['plain']) / cells * 1e3:+.2f} ms"
                + (
                    f" | plain again / plain: {min(again):.2f}-{max(again):.2f}x (noise)"
                    if again
                    else ""
                )
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kernel_costs", description=__doc__)
    parser.add_argument("--mirror", action="append", type=Path, default=[])
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/corpus"))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--before", help="a checkout of persist_ext to compare with")
    parser.add_argument("--json", type=Path, help="write every round's numbers here")
    parser.add_argument(
        "--trivial",
        type=int,
        default=0,
        metavar="N",
        help="also notebooks of N one-line cells (literals; a notebook function's call each): "
        "the cost per cell, apart from any work",
    )
    parser.add_argument("only", nargs="*", help="notebooks whose name contains one of these")
    args = parser.parse_args(argv)
    args.scratch.mkdir(parents=True, exist_ok=True)
    corpus = load_corpus(args.mirror, args.scratch, args.only) if args.only else []
    if args.trivial:
        # Literal cells run as written (seen cheap before they run: ``_cellcache._cheap``);
        # calling a notebook function, each takes the magic's whole path (analysis, key,
        # the recorded run, the decision).
        trivial = [f"x{i} = {i}" for i in range(args.trivial)]
        corpus.append((f"trivial-{args.trivial}", [], trivial))
        calls = ["def f(v):\n    return v", *(f"x{i} = f({i})" for i in range(args.trivial))]
        corpus.append((f"trivial-calls-{args.trivial}", [], calls))
    # The kernels import the persist_ext of this checkout (the venv may hold another).
    variants: list[tuple[str, str | None]] = [("after", str(Path(__file__).resolve().parents[1]))]
    if args.before:
        variants.insert(0, ("before", str(Path(args.before).absolute())))
    compile_bytecode(*(checkout for _, checkout in variants))
    rows: list[dict[str, Any]] = []
    for round_ in range(args.rounds):
        for label, copies, sources in corpus:
            order = variants if round_ % 2 == 0 else variants[::-1]
            for variant, checkout in order:
                row = {"notebook": label, "variant": variant, "round": round_}
                row.update(_one(sources, copies, checkout))
                rows.append(row)
                print(json.dumps(row), flush=True)
                if args.json:
                    args.json.write_text(json.dumps(rows, indent=1))
    print(summary(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

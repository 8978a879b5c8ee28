"""progress() overhead per iteration, against tqdm and a bare loop, measured in the same run.

Run: ``.venv/bin/python -m benchmarks.bench_loop [--n N]`` (tqdm comes with the ``bench``
extra). Each variant iterates ``range(n)`` with an empty body, writing its text bar to
``os.devnull`` (so terminal speed is not measured); the overhead is the variant's time per
item minus the bare loop's. Goal (issue #14): the plain mode within 2x of tqdm. The
resumable mode (``name=``) records each item in a Tracker on disk; its cost is reported,
and so is a rerun that skips every item as done.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from tqdm import tqdm

from benchmarks._timing import median_seconds, print_rows, row
from persist_ext import progress

__all__ = ["main", "run"]

QUICK = {"n": 200_000, "persistent": 2_000, "repeat": 3}


def run(n: int = 2_000_000, persistent: int = 20_000, repeat: int = 5) -> list[dict[str, Any]]:
    """Measure, returning rows of ``{"name", "value", "unit"}``."""
    null = open(os.devnull, "w")  # noqa: SIM115 - closed below
    try:

        def bare() -> None:
            for _ in range(n):
                pass

        def with_tqdm() -> None:
            for _ in tqdm(range(n), file=null):
                pass

        def with_progress() -> None:
            for _ in progress(range(n), file=null):
                pass

        base = median_seconds(bare, repeat)
        t_tqdm = median_seconds(with_tqdm, repeat)
        t_prog = median_seconds(with_progress, repeat)
        over_tqdm = max(t_tqdm - base, 1e-12) / n
        over_prog = max(t_prog - base, 0.0) / n
        rows = [
            row("bare loop", 1e9 * base / n, "ns/item"),
            row("tqdm overhead", 1e9 * over_tqdm, "ns/item"),
            row("progress() overhead (plain)", 1e9 * over_prog, "ns/item"),
            row("progress() / tqdm overhead (goal <= 2)", over_prog / over_tqdm, "ratio"),
        ]

        where = Path(tempfile.mkdtemp(prefix="bench-loop-"))
        try:
            items = range(persistent)

            def resumable() -> None:
                shutil.rmtree(where / "progress", ignore_errors=True)
                for _ in progress(items, name="bench", store=where, file=null):
                    pass

            def all_skipped() -> None:
                for _ in progress(items, name="bench", store=where, file=null):
                    pass

            t_res = median_seconds(resumable, repeat)
            t_skip = median_seconds(all_skipped, repeat)
            rows += [
                row(
                    "progress(name=...) per item (recorded on disk)", 1e6 * t_res / persistent, "us"
                ),
                row("progress(name=...) rerun, per item skipped", 1e6 * t_skip / persistent, "us"),
            ]
        finally:
            shutil.rmtree(where, ignore_errors=True)
        return rows
    finally:
        null.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2_000_000)
    args = parser.parse_args(argv)
    print_rows(run(n=args.n))


if __name__ == "__main__":
    main()

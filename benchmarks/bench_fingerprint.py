"""Fingerprint benchmark: ``fingerprint`` of a large float64 array vs raw xxh3_128 and joblib.

Run: ``.venv/bin/python -m benchmarks.bench_fingerprint [--mib 1024] [--repeat 3]``.
``run()`` returns the rows (one dict per measurement: name, value, unit) for the benchmarks
runner. Every ratio compares timings taken in the same run on the same bytes; each timing is
the median of ``repeat`` runs (joblib's, the slowest, runs once).

Targets (issue 3): fingerprint >= 50% of raw xxh3_128 throughput, and >= 10x joblib.hash.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import xxhash

from persist_ext.storage._fingerprint import fingerprint

from ._timing import median_seconds

__all__ = ["main", "run"]


QUICK = {"mib": 64, "repeat": 2}


def run(mib: int = 1024, repeat: int = 3) -> list[dict[str, Any]]:
    """Measure, returning rows of ``{"name", "value", "unit"}``."""
    rows: list[dict[str, Any]] = []

    def row(name: str, value: float, unit: str) -> None:
        rows.append({"name": name, "value": round(value, 4), "unit": unit})

    n = mib * 2**20 // 8
    array = np.random.default_rng(0).random(n)  # real bytes, not a zero page
    gb = array.nbytes / 1e9

    raw = median_seconds(lambda: xxhash.xxh3_128(memoryview(array).cast("B")).digest(), repeat)
    ours = median_seconds(lambda: fingerprint(array), repeat)
    row(f"raw xxh3_128, {mib} MiB", gb / raw, "GB/s")
    row(f"fingerprint(ndarray), {mib} MiB", gb / ours, "GB/s")
    row("fingerprint / raw xxh3 throughput (target >= 0.5)", raw / ours, "ratio")
    try:
        import joblib
    except ImportError:
        row("joblib.hash (joblib not installed)", float("nan"), "GB/s")
    else:
        jl = median_seconds(lambda: joblib.hash(array), 1)
        row(f"joblib.hash, {mib} MiB", gb / jl, "GB/s")
        row("fingerprint speed-up over joblib.hash (target >= 10)", jl / ours, "ratio")

    strided = array[::2]
    row(
        f"fingerprint(strided view), {mib // 2} MiB logical (one copy)",
        strided.nbytes / 1e9 / median_seconds(lambda: fingerprint(strided), repeat),
        "GB/s",
    )
    small = {"a": 1, "b": [1.0, 2.0, "x"], "c": (None, True)}
    per_call = median_seconds(lambda: [fingerprint(small) for _ in range(10_000)], repeat)
    row("fingerprint(small dict), per call", per_call / 10_000 * 1e6, "us")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024, help="array size in MiB (default 1024)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement")
    args = parser.parse_args(argv)
    for r in run(args.mib, args.repeat):
        print(f"{r['name']:<62} {r['value']:>10} {r['unit']}")


if __name__ == "__main__":
    main()

"""Function cache benchmark: ``persist_ext.cache`` vs ``joblib.Memory`` and ``cachier``.

Run: ``.venv/bin/python -m benchmarks.bench_memo [--mib 1024] [--calls 2000]``.
Every ratio compares timings taken in the same run, on the same machine and disk:

* hit overhead of a small call (``f(x) = x + 1``, already cached): microseconds per call
  for persist_ext (a diskcache ``Store``), ``joblib.Memory`` and ``cachier`` (pickle core);
* the key of a call with a 1 GiB array argument: persist_ext's argument fingerprint vs
  ``joblib.hash`` (what ``joblib.Memory`` hashes arguments with);
* restoring a 1 GiB array result on a hit vs ``np.load`` of the same array from an ``.npy``
  file in the same directory (both from the page cache), and the memory-mapped hit.

Targets (issue 17): hit overhead <= 50 us and ahead of both; argument hashing >= 10x
joblib.hash; restore within 1.1x np.load.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from persist_ext import Store, cache

from ._timing import median_seconds, print_rows, row

__all__ = ["main", "run"]

QUICK = {"mib": 64, "calls": 300, "repeat": 3}


def _per_call(fn: Any, calls: int, repeat: int) -> float:
    def many() -> None:
        for i in range(calls):
            fn(i % 10)

    return median_seconds(many, repeat) / calls


def _key_rows(store: Store, n: int, mib: int, repeat: int, joblib: Any) -> list[dict[str, Any]]:
    rows = []
    array = np.random.default_rng(0).random(n)  # real bytes, not a zero page
    gb = array.nbytes / 1e9

    def first(a: np.ndarray) -> float:
        return float(a[0])

    keyed = cache(store=store)(first).__persist_cache__
    t_key = median_seconds(lambda: keyed.key((array,), {}), repeat)
    rows.append(row(f"persist_ext call key, {mib} MiB array argument", gb / t_key, "GB/s"))
    if joblib is not None:
        t_jh = median_seconds(lambda: joblib.hash(array), 1)
        rows.append(row(f"joblib.hash, {mib} MiB array argument", gb / t_jh, "GB/s"))
        rows.append(
            row("argument hashing speed-up over joblib.hash (target >= 10)", t_jh / t_key, "ratio")
        )
    return rows


def run(mib: int = 1024, calls: int = 2000, repeat: int = 5) -> list[dict[str, Any]]:
    """Measure, returning rows of ``{"name", "value", "unit"}``."""
    rows: list[dict[str, Any]] = []
    root = Path(tempfile.mkdtemp(prefix="bench-memo-"))
    try:
        store = Store(root / "persist")

        def plus_one(x: int) -> int:
            return x + 1

        ours = cache(store=store)(plus_one)
        bare = _per_call(plus_one, calls, repeat)
        for i in range(10):
            ours(i)
        t_ours = _per_call(ours, calls, repeat) - bare
        rows.append(
            row("persist_ext.cache hit overhead, small call (target <= 50)", t_ours * 1e6, "us")
        )
        try:
            import joblib
        except ImportError:
            joblib = None
        if joblib is not None:
            memory = joblib.Memory(root / "joblib", verbose=0)
            jl = memory.cache(plus_one)
            for i in range(10):
                jl(i)
            t_jl = _per_call(jl, calls, repeat) - bare
            rows.append(row("joblib.Memory hit overhead, small call", t_jl * 1e6, "us"))
            rows.append(
                row("joblib.Memory / persist_ext hit overhead (target > 1)", t_jl / t_ours, "ratio")
            )
        try:
            import cachier
        except ImportError:
            cachier = None
        if cachier is not None:
            cc = cachier.cachier(cache_dir=str(root / "cachier"), backend="pickle")(plus_one)
            for i in range(10):
                cc(i)
            t_cc = _per_call(cc, calls, repeat) - bare
            rows.append(row("cachier (pickle core) hit overhead, small call", t_cc * 1e6, "us"))
            rows.append(
                row("cachier / persist_ext hit overhead (target > 1)", t_cc / t_ours, "ratio")
            )

        n = mib * 2**20 // 8
        gb = n * 8 / 1e9
        rows += _key_rows(store, n, mib, repeat, joblib)

        def make(seed: int) -> np.ndarray:
            return np.random.default_rng(seed).random(n)

        big = cache(store=store)(make)
        big_mmap = cache(store=store, mmap=True)(make)
        npy = root / "array.npy"
        np.save(npy, big(0))
        t_hit = median_seconds(lambda: big(0), repeat)
        t_load = median_seconds(lambda: np.load(npy), repeat)
        t_mmap = median_seconds(lambda: big_mmap(0), repeat)
        rows.append(row(f"persist_ext.cache hit, {mib} MiB array result", gb / t_hit, "GB/s"))
        rows.append(row(f"np.load, {mib} MiB .npy", gb / t_load, "GB/s"))
        rows.append(row("restore time / np.load time (target <= 1.1)", t_hit / t_load, "ratio"))
        rows.append(row(f"persist_ext.cache hit with mmap=True, {mib} MiB", t_mmap * 1e3, "ms"))
        store.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024, help="array size in MiB (default 1024)")
    parser.add_argument("--calls", type=int, default=2000, help="hits per timed run")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per measurement")
    args = parser.parse_args(argv)
    print_rows(run(args.mib, args.calls, args.repeat))


if __name__ == "__main__":
    main()

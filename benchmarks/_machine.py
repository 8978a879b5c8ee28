"""This machine's limits, measured in the same run as the benchmarks that are compared to them.

* disk write: one ``write`` of a fresh buffer to a new plain file (page cache included, as
  ``np.save`` would see it), with and without ``fsync``;
* disk read: one ``readinto`` of that file into preallocated memory;
* memory: ``np.copyto`` between two preallocated arrays (read + write bandwidth).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ._timing import median_seconds

__all__ = ["QUICK", "run"]

QUICK = {"mib": 64}


def run(mib: int = 1024, repeat: int = 3, directory: str | None = None) -> list[dict[str, Any]]:
    """Measure disk and memory bandwidth; rows of ``{"name", "value", "unit"}``."""
    data = np.random.default_rng(1).random(mib * 2**20 // 8)
    gb = data.nbytes / 1e9
    view = memoryview(data).cast("B")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(dir=directory, prefix="bench-machine-") as tmp:
        path = Path(tmp) / "plain.bin"

        def write(fsync: bool = False) -> None:
            path.unlink(missing_ok=True)
            with open(path, "wb") as handle:
                handle.write(view)
                if fsync:
                    handle.flush()
                    os.fsync(handle.fileno())

        out = np.empty_like(data)

        def read() -> None:
            target = memoryview(out).cast("B")
            with open(path, "rb", buffering=0) as handle:
                done = 0
                while done < len(target):
                    done += handle.readinto(target[done:])

        rows.append(row(f"plain file write, {mib} MiB", gb / median_seconds(write, repeat), "GB/s"))
        rows.append(
            row(
                f"plain file write + fsync, {mib} MiB",
                gb / median_seconds(lambda: write(True), 1),
                "GB/s",
            )
        )
        rows.append(row(f"plain file read, {mib} MiB", gb / median_seconds(read, repeat), "GB/s"))
    dst = np.empty_like(data)
    rows.append(
        row(
            f"memory copy (np.copyto), {mib} MiB",
            gb / median_seconds(lambda: np.copyto(dst, data), repeat),
            "GB/s",
        )
    )
    return rows


def row(name: str, value: float, unit: str) -> dict[str, Any]:
    """One table row."""
    return {"name": name, "value": round(value, 4), "unit": unit}

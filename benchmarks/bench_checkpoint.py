"""Checkpoint benchmark: save and restore a notebook-like namespace vs a dill session.

A "session" here is what a data scientist has after a while: a few large arrays, a frame,
some containers and a notebook-defined function. ``dill.dump_session`` / ``load_session``
is what users would otherwise pick to survive a kernel restart.

Run: ``.venv/bin/python -m benchmarks.bench_checkpoint [--mib 512]``.
"""

from __future__ import annotations

import argparse
import tempfile
import types
from pathlib import Path
from typing import Any

import numpy as np

from persist_ext.features._checkpoint import restore_checkpoint, save_checkpoint
from persist_ext.storage._store import Store

from ._timing import median_seconds, print_rows

__all__ = ["QUICK", "main", "run"]

QUICK = {"mib": 64, "repeat": 2}


def _session(mib: int) -> types.ModuleType:
    """A module standing in for a notebook's ``__main__``."""
    import pandas as pd

    module = types.ModuleType("__main__")
    rng = np.random.default_rng(0)
    n = mib * 2**20 // 8 // 4
    module.features = rng.random(n)
    module.labels = rng.integers(0, 10, n)
    module.frame = pd.DataFrame({"a": rng.random(n), "b": rng.random(n)})
    module.params = {"alpha": 0.1, "layers": [64, 32], "names": [f"f{i}" for i in range(1000)]}
    exec("def score(x):\n    return float((x * 2).sum())\n", module.__dict__)
    module.np = np
    return module


def run(mib: int = 512, repeat: int = 3) -> list[dict[str, Any]]:
    """Measure, returning rows of ``{"name", "value", "unit"}``."""
    import dill

    rows: list[dict[str, Any]] = []

    def row(name: str, value: float, unit: str) -> None:
        rows.append({"name": name, "value": round(value, 4), "unit": unit})

    session = _session(mib)
    namespace = {k: v for k, v in vars(session).items() if not k.startswith("__")}
    with tempfile.TemporaryDirectory() as tmp:
        dill_file = Path(tmp) / "session.pkl"
        with Store(Path(tmp) / "store") as store:
            ours_save = median_seconds(lambda: save_checkpoint(namespace, store), repeat)
            ours_load = median_seconds(lambda: restore_checkpoint({}, store), repeat)
        dill_save = median_seconds(lambda: dill.dump_session(dill_file, main=session), repeat)
        dill_load = median_seconds(lambda: dill.load_module(dill_file, module=session), repeat)
    row(f"%persist checkpoint, ~{mib} MiB session", ours_save, "s")
    row(f"dill.dump_session, ~{mib} MiB session", dill_save, "s")
    row("checkpoint save / dill.dump_session time", ours_save / dill_save, "ratio")
    row(f"%persist restore, ~{mib} MiB session", ours_load, "s")
    row(f"dill.load_session, ~{mib} MiB session", dill_load, "s")
    row("checkpoint restore / dill.load_session time", ours_load / dill_load, "ratio")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print_rows(run(args.mib, args.repeat))


if __name__ == "__main__":
    main()

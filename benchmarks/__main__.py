"""``python -m benchmarks [--quick] [bench_name ...]``: run benchmark modules, print a table.

See the package docstring for the module convention.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import benchmarks


def discover() -> list[str]:
    """Names of the ``bench_*`` modules next to this file, sorted."""
    here = [str(Path(benchmarks.__file__).parent)]
    return sorted(m.name for m in pkgutil.iter_modules(here) if m.name.startswith("bench_"))


def run_module(name: str, quick: bool) -> list[dict[str, Any]]:
    """Import ``benchmarks.<name>`` and call its ``run`` (with ``QUICK`` under ``--quick``)."""
    module = importlib.import_module(f"benchmarks.{name}")
    kwargs = getattr(module, "QUICK", {}) if quick else {}
    return list(module.run(**kwargs))


def format_table(sections: list[tuple[str, list[dict[str, Any]]]]) -> str:
    """A Markdown table: section, measurement, value, unit."""
    lines = ["| benchmark | measurement | value | unit |", "|---|---|---:|---|"]
    for section, rows in sections:
        for r in rows:
            value = r["value"]
            shown = f"{value:.3g}" if isinstance(value, float) else str(value)
            lines.append(f"| {section} | {r['name']} | {shown} | {r['unit']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("names", nargs="*", help="bench_* modules to run (default: all)")
    args = parser.parse_args(argv)
    names = args.names or discover()
    unknown = sorted(set(names) - set(discover()))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; known: {discover()}")

    from benchmarks import _machine

    print(f"# persist_ext benchmarks ({platform.platform()}, Python {platform.python_version()})")
    sections = [("machine", run_module_obj(_machine, args.quick))]
    failed = 0
    for name in names:
        start = time.perf_counter()
        try:
            rows = run_module(name, args.quick)
        except Exception:
            failed += 1
            traceback.print_exc()
            rows = [{"name": "FAILED (see traceback above)", "value": float("nan"), "unit": ""}]
        print(f"  {name}: {time.perf_counter() - start:.1f} s", file=sys.stderr)
        sections.append((name.removeprefix("bench_"), rows))
    print(format_table(sections))
    return 1 if failed else 0


def run_module_obj(module: Any, quick: bool) -> list[dict[str, Any]]:
    """Run an already imported module (the machine probe)."""
    return list(module.run(**(getattr(module, "QUICK", {}) if quick else {})))


if __name__ == "__main__":
    sys.exit(main())

"""examples/01-cell-cache.ipynb's promises in one kernel, as a newcomer follows them.

The examples' headless test (test_examples.py) runs each notebook in fresh kernels; a newcomer
re-runs the cached cell in the kernel that just ran it, and walks section 4 (change
``window``, re-run, put it back). That cell writes the names it defines inside string
literals (``{"raw": raw}``, ``label="raw"``); a name in a string is an input when the
namespace holds it, which it does after the first run, so the second run missed ("name used
in a string raw is new to the key"). A name the cell bound for sure before the statement
that mentions it is its own, not an input (``_analysis._mentioned``).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.kernel

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "01-cell-cache.ipynb"
RESTORED = "persist: restored analysis"


def test_a_cell_naming_its_own_variable_in_a_string_is_restored_on_its_second_run(
    run_cells, text_of
) -> None:
    cell = '%%persist own\nprint("ran")\nraw = [1, 2]\ntable = {"raw": raw}'
    setup = ["%load_ext persist_ext", "%config PersistMagics.min_time = 0"]  # store it, fast
    done = run_cells([*setup, cell, cell, "%persist why own"])
    assert "ran" in text_of(done.cells[2])
    assert "persist: restored own" in text_of(done.cells[3]), text_of(done.cells[4])


def test_cell_cache_example_rerun_and_section_4_in_one_kernel(run_cells, text_of) -> None:
    example = nbformat.read(EXAMPLE, as_version=4)
    code = [c.source for c in example.cells if c.cell_type == "code"]
    load, helper, inputs, cached = code[:4]
    assert cached.startswith("%%persist analysis")
    done = run_cells(
        [
            load,
            helper,
            inputs,
            cached,
            cached,  # "run it again and it comes back instantly with a one-line notice"
            "window = 20",
            cached,  # "it executes again"
            "%persist why analysis",  # "names the input that changed"
            "window = 50",
            cached,  # "Put it back to 50 and the cell is restored again"
        ]
    )
    shown = [text_of(c) for c in done.cells]
    assert "analysed 2,000 points" in shown[3]
    assert RESTORED not in shown[3]
    assert RESTORED in shown[4], f"second run: {shown[4]!r}"
    assert RESTORED not in shown[6]
    assert "input window changed" in shown[7]
    assert RESTORED in shown[9], f"window back to 50: {shown[9]!r}"

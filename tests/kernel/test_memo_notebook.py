"""persist_ext.cache and store budgets in real notebooks (nbclient on an ipykernel)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.kernel

DEFINE = """
from persist_ext import cache

SCALE = 3

def helper(x):
    return x * SCALE

@cache
def slow(x):
    print("computing", x)
    return helper(x) + 1
"""


def test_notebook_function_hits_after_restart_and_misses_after_a_helper_edit(
    run_cells, text_of
) -> None:
    first = run_cells(["%load_ext persist_ext", DEFINE, "print(slow(2), slow(2))"])
    assert text_of(first.cells[2]) == "computing 2\n7 7\n"
    # A new kernel (a restart): same code, same argument -> restored, nothing computed.
    again = run_cells(["%load_ext persist_ext", DEFINE, "print(slow(2))", "print(slow.why(2))"])
    assert text_of(again.cells[2]) == "7\n"
    assert "would be restored" in text_of(again.cells[3])
    edited = DEFINE.replace("return x * SCALE", "return x * SCALE * 10")
    third = run_cells(["%load_ext persist_ext", edited, "print(slow.why(2))", "print(slow(2))"])
    assert "helper" in text_of(third.cells[2])
    assert text_of(third.cells[3]) == "computing 2\n61\n"
    listing = run_cells(["%load_ext persist_ext", "%persist list"])
    row = next(line for line in text_of(listing.cells[1]).splitlines() if line.startswith("slow"))
    assert row.split()[:3] == ["slow", "2", "2"]  # two stored calls, hit once per kernel


def test_async_calls_are_deduplicated_in_a_kernel(run_cells, text_of) -> None:
    nb = run_cells(
        [
            "import asyncio\nfrom persist_ext import cache\n"
            "@cache\nasync def fetch(x):\n    print('fetching', x)\n"
            "    await asyncio.sleep(0.3)\n    return x * 2",
            "print(await asyncio.gather(fetch(4), fetch(4), fetch(4)))",
        ]
    )
    assert text_of(nb.cells[1]) == "fetching 4\n[8, 8, 8]\n"


def test_a_store_over_its_budget_evicts_the_least_recently_used_cell_with_a_notice(
    run_cells, text_of
) -> None:
    nb = run_cells(
        [
            "%load_ext persist_ext",
            # Every cell stored: under load, storing can be timed slower than a 50 ms run,
            # and the run-or-store policy (not under test here) would then run "third".
            "%config PersistMagics.min_time = 0",
            "%%persist first\nimport time\ntime.sleep(0.05)\na = list(range(10_000))",
            "%%persist second\nimport time\ntime.sleep(0.05)\nb = list(range(10_000))",
            # a hit: 'first' is used again, so 'second' is now the least recently used
            "%%persist first\nimport time\ntime.sleep(0.05)\na = list(range(10_000))",
            "%config PersistMagics.max_count = 2",
            "%%persist third\nimport time\ntime.sleep(0.05)\nc = list(range(10_000))",
            "%persist info",
            "%persist list",
        ]
    )
    notice = text_of(nb.cells[6])
    assert "persist: evicted 1 least recently used unit(s)" in notice
    assert "cell second" in notice
    assert "max-count 2" in notice
    info = text_of(nb.cells[7])
    assert "budget: max-count 2" in info
    assert "2 cached unit(s)" in info
    listed = text_of(nb.cells[8])
    assert "first" in listed
    assert "third" in listed
    assert "second" not in listed


def test_two_kernels_calling_the_same_slow_function_at_once_compute_it_once(
    tmp_path, text_of
) -> None:
    import threading

    import nbformat

    from .conftest import execute

    def notebook(me: str) -> nbformat.NotebookNode:
        nb = nbformat.v4.new_notebook()
        cells = [
            "import os, time\nfrom persist_ext import cache\n"
            "@cache\ndef slow(x):\n"
            "    with open('runs.txt', 'a') as fh:\n        fh.write('x')\n"
            "    time.sleep(3)\n    return x * 7",
            # a barrier: both kernels are up before either calls
            f"open('ready-{me}', 'w').close()\n"
            "deadline = time.time() + 120\n"
            "while not (os.path.exists('ready-a') and os.path.exists('ready-b')):\n"
            "    assert time.time() < deadline\n    time.sleep(0.05)",
            "print(slow(6))",
        ]
        nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
        return nb

    results: dict[str, nbformat.NotebookNode] = {}
    errors: list[BaseException] = []

    def run(me: str) -> None:
        try:
            results[me] = execute(notebook(me), tmp_path)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(me,)) for me in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert [text_of(results[me].cells[2]) for me in "ab"] == ["42\n", "42\n"]
    assert (tmp_path / "runs.txt").read_text() == "x"

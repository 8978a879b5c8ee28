"""The panel follows the store while on screen, without Refresh: Cells, Functions, stores.

A newcomer keeps the Persist panel open on a store beside the notebook and runs a new
``%%persist`` cell, then a new call of a cached function: each shows up in the open tab by
itself (before, the tabs kept the list they loaded until the Refresh button was pressed).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from ._notebooks import open_notebook, run_cell, write_notebook
from ._panel import open_panel, open_store, open_tab

pytestmark = pytest.mark.browser

CELLS = [
    "%load_ext persist_ext\nimport time\nimport persist_ext",
    # Slow enough to be stored (cells cheaper than a restore are simply run).
    "%%persist first\ntime.sleep(0.3)\na = list(range(10))\nprint('first', sum(a))",
    "%%persist second\ntime.sleep(0.3)\nb = [i * 2 for i in range(10)]\nprint('second', sum(b))",
    "@persist_ext.cache\ndef double(x):\n    time.sleep(0.2)\n    return 2 * x\n\n"
    "print('double', double(1))",
    "print('double', double(2))",
]

#: Longer than the tabs' re-listing interval, well under a test's patience.
LIVE_TIMEOUT = 20_000


def test_cells_and_functions_tabs_show_new_entries_by_themselves(
    page, lab, artifacts: Path, page_errors: list[str]
) -> None:
    # A folder of its own per attempt: a retried test must not find an earlier attempt's cells.
    folder = f"live-{uuid.uuid4().hex[:8]}"
    (lab.root / folder).mkdir()
    path = f"{folder}/{write_notebook(lab.root / folder, 'live-tabs.ipynb', CELLS)}"
    store = f"{folder}/.persist"
    open_notebook(page, path)
    run_cell(page, 0)
    assert "first 45" in run_cell(page, 1)

    panel = open_store(page, store)
    open_tab(panel, "cells")
    panel.locator('li.jp-persist-cell[data-cell="first"]').wait_for(timeout=30_000)

    # A new cell run in the notebook: it appears in the open Cells tab, nobody clicks Refresh.
    assert "second 90" in run_cell(page, 2)
    panel.locator('li.jp-persist-cell[data-cell="second"]').wait_for(timeout=LIVE_TIMEOUT)
    page.screenshot(path=str(artifacts / "panel-live-cells.png"))

    assert "double 2" in run_cell(page, 3)
    open_tab(panel, "functions")
    row = panel.locator('li.jp-persist-function[data-function="double"]')
    row.wait_for(timeout=30_000)
    assert "1 call ·" in row.inner_text()

    # A new call of the cached function: the open Functions tab counts it by itself.
    assert "double 4" in run_cell(page, 4)
    page.wait_for_function(
        "() => { const r = document.querySelector("
        "'#persist-ext-sidebar li.jp-persist-function[data-function=\"double\"]');"
        " return r && r.innerText.includes('2 calls'); }",
        timeout=LIVE_TIMEOUT,
    )
    page.screenshot(path=str(artifacts / "panel-live-functions.png"))
    assert page_errors == []


def test_the_list_of_stores_shows_a_new_store_by_itself(page, lab, artifacts: Path) -> None:
    # examples/03-widgets.ipynb makes a store of its own while the panel lists the others:
    # it must show up without Refresh (the list followed the root only while it was empty).
    folder = f"new-store-{uuid.uuid4().hex[:8]}"
    (lab.root / folder).mkdir()
    cells = ["import persist_ext", "with persist_ext.Store('.persist') as s:\n    s.set('x', 1)"]
    path = f"{folder}/{write_notebook(lab.root / folder, 'new-store.ipynb', cells)}"
    open_notebook(page, path)
    run_cell(page, 0)
    panel = open_panel(page)
    back = panel.locator("button.jp-persist-back")
    if back.count():
        back.click()
    panel.locator("li.jp-persist-store").first.wait_for(timeout=30_000)  # others are listed
    assert panel.locator(f'li.jp-persist-store[data-path="{folder}/.persist"]').count() == 0
    run_cell(page, 1)
    panel.locator(f'li.jp-persist-store[data-path="{folder}/.persist"]').wait_for(
        timeout=LIVE_TIMEOUT
    )
    page.screenshot(path=str(artifacts / "panel-live-stores.png"))

"""A cached cell cleared from the Persist panel, then re-run in the notebook: a miss, then a hit."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from ._notebooks import open_notebook, prompt, run_all, run_cell, wait_done, write_notebook
from ._panel import confirm_dialog, open_store, open_tab

pytestmark = pytest.mark.browser

CELLS = [
    "%load_ext persist_ext",
    # Slow enough to be worth restoring (cells cheaper than a restore are simply run).
    "%%persist squares\nimport time\ntime.sleep(0.3)\n"
    "squares = [i * i for i in range(10)]\nprint('computed', sum(squares))",
]


def _wait_selected(page: Any, path: str, index: int) -> None:
    """Wait until notebook ``path`` is in front with cell ``index`` selected."""
    page.wait_for_function(
        "([path, index]) => { const w = window.jupyterapp.shell.currentWidget;"
        " return !!(w && w.context && w.context.path === path"
        " && w.content.activeCellIndex === index); }",
        arg=[path, index],
        timeout=30_000,
    )


def test_clear_a_cell_from_the_panel_then_rerun(page, lab, artifacts: Path) -> None:
    # A folder of its own per attempt: browser tests are retried, and a retry must not find
    # the cell an earlier attempt stored (its first run would be a hit).
    folder = f"cells-{uuid.uuid4().hex[:8]}"
    (lab.root / folder).mkdir()
    path = f"{folder}/{write_notebook(lab.root / folder, 'panel-cells.ipynb', CELLS)}"
    store = f"{folder}/.persist"
    open_notebook(page, path)
    before = prompt(page, 1)
    run_all(page)
    first = wait_done(page, 1, before)
    assert "computed 285" in first
    assert "restored" not in first  # a miss: the body ran
    # Run again: a hit.
    assert "persist: restored squares" in run_cell(page, 1)

    panel = open_store(page, store)
    open_tab(panel, "cells")
    cell = panel.locator('li.jp-persist-cell[data-cell="squares"]')
    cell.wait_for(timeout=30_000)
    facts = cell.inner_text()
    assert "panel-cells.ipynb · cell panel-ce" in facts  # the notebook and cell it came from
    assert "hit" in facts  # (hit counts are written in batches by the kernel)
    cell.click()
    details = cell.locator(".jp-persist-details")
    assert "squares" in details.inner_text()
    assert "list" in details.inner_text()  # the variable's type
    page.screenshot(path=str(artifacts / "panel-cells.png"))

    # "Open in notebook" brings the notebook forward with the stored cell selected.
    page.evaluate("() => { window.jupyterapp.shell.currentWidget.content.activeCellIndex = 0; }")
    # (the command resolves to the launcher widget: Playwright can fail to serialize it)
    page.evaluate("() => window.jupyterapp.commands.execute('launcher:create').then(() => true)")
    page.wait_for_function(
        "() => !window.jupyterapp.shell.currentWidget.context", timeout=30_000
    )  # the launcher, not the notebook, is in front
    cell.locator("button.jp-persist-open").click()
    _wait_selected(page, path, 1)
    # The same from the row's context menu, as in the file browser.
    page.evaluate("() => { window.jupyterapp.shell.currentWidget.content.activeCellIndex = 0; }")
    # (the command resolves to the launcher widget: Playwright can fail to serialize it)
    page.evaluate("() => window.jupyterapp.commands.execute('launcher:create').then(() => true)")
    cell.locator(".jp-persist-name").click(button="right")
    page.locator(".lm-Menu .lm-Menu-itemLabel", has_text="Open in notebook").click()
    _wait_selected(page, path, 1)

    cell.locator("button.jp-persist-clear").click()
    confirm_dialog(page, "Clear")
    cell.wait_for(state="detached", timeout=30_000)
    cells = lab.api(f"persist-ext/api/stores/cells?path={store}")["cells"]
    assert all(c["name"] != "squares" for c in cells)

    # Back in the notebook: the cleared cell runs again (a miss), then is a hit.
    miss = run_cell(page, 1)
    assert "computed 285" in miss
    assert "restored" not in miss
    assert "persist: restored squares" in run_cell(page, 1)
    panel.locator("button.jp-persist-refresh").click()
    panel.locator('li.jp-persist-cell[data-cell="squares"]').wait_for(timeout=30_000)
    page.screenshot(path=str(artifacts / "panel-cells-after-rerun.png"))

"""The Persist panel in Notebook 7 (the same server): View > Left Sidebar > Show Persist."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser


def test_the_panel_in_notebook_7(browser, lab, artifacts: Path, page_errors: list[str]) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.on("pageerror", lambda error: page_errors.append(str(error) + (error.stack or "")))
    try:
        page.goto(f"{lab.url}/tree?token={lab.token}")
        page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
        page.evaluate("() => window.jupyterapp.restored.then(() => true)")
        assert page.evaluate("() => window.jupyterapp.name").startswith("Jupyter Notebook")
        # The menu path a Notebook 7 user takes.
        page.locator(".lm-MenuBar-itemLabel", has_text="View").click()
        page.locator(".lm-Menu-itemLabel", has_text="Left Sidebar").click()
        page.locator(".lm-Menu-itemLabel", has_text="Show Persist").click()
        panel = page.locator("#persist-ext-sidebar")
        panel.wait_for(state="visible", timeout=30_000)
        row = panel.locator('li.jp-persist-store[data-path="project/.persist"]')
        row.wait_for(timeout=30_000)
        row.click()
        panel.locator('button.jp-persist-tab[data-tab="entries"]').click()
        panel.locator('li.jp-persist-entry[data-key="answer"]').wait_for(timeout=30_000)
        page.screenshot(path=str(artifacts / "panel-notebook7.png"))
        panel.locator("button.jp-persist-back").click()
        # Notebook 7.6 itself logs a settings error in this setup (notebook_core, not ours).
        assert not [error for error in page_errors if "persist" in error.lower()]
    finally:
        context.close()


def _seed_nb7(directory: Path) -> None:
    """A cached cell whose arrays share memory (one packed entry) and a group with failures,
    written through persist_ext's own APIs in this process (no kernel)."""
    import numpy as np

    from persist_ext import Store, TaskGroup
    from persist_ext.features._cellcache._entry import Manifest, new_run_id, write_entry
    from persist_ext.features._covars import group_variables

    grid = np.arange(12.0).reshape(3, 4)
    values = {"grid": grid, "top": grid[:1]}
    manifest = Manifest(
        name="arrays", key="ab" * 16, run=new_run_id(), code="grid = ...", components={}
    )
    with Store(directory) as store:
        stored, _ = write_entry(store, manifest, values, [], groups=group_variables(values))
        assert stored
        group = TaskGroup(
            "nb7", store, batch_size=2, group_size=2, max_tries=1, on_complete=lambda r: None
        )
        group.map(_maybe_fail, range(5), key=lambda x: f"k{x}")
        group.run().wait()
        group.close()


def _maybe_fail(x: int) -> int:
    if x == 4:
        raise ValueError("bad 4")
    return x


def _open_cell(browser: Any, lab: Any, store: str, name: str) -> tuple[Any, Any, Any, Any]:
    """In a new browser context: Notebook 7's file tree, the Persist panel (command), and
    cell ``name`` of ``store`` opened; returns the context, page, panel and cell row."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(f"{lab.url}/tree?token={lab.token}")
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
    page.evaluate("() => window.jupyterapp.restored.then(() => true)")
    page.evaluate("() => window.jupyterapp.commands.execute('persist-ext:open')")
    panel = page.locator("#persist-ext-sidebar")
    panel.wait_for(state="visible", timeout=30_000)
    back = panel.locator("button.jp-persist-back")
    if back.count():
        back.click()
    panel.locator(f'li.jp-persist-store[data-path="{store}"]').click(timeout=30_000)
    panel.locator('button.jp-persist-tab[data-tab="cells"]').click()
    cell = panel.locator(f'li.jp-persist-cell[data-cell="{name}"]')
    cell.click(timeout=30_000)
    return context, page, panel, cell


def test_variable_facts_and_marker_tree_in_notebook_7(
    browser, lab, artifacts: Path, page_errors: list[str]
) -> None:
    _seed_nb7(lab.root / "nb7" / ".persist")
    context, page, panel, cell = _open_cell(browser, lab, "nb7/.persist", "arrays")
    try:
        grid = cell.locator('tr[data-variable="grid"]').inner_text(timeout=30_000)
        assert "shape (3, 4) · dtype float64 · min 0 · max 11" in grid
        assert "shape (1, 4)" in cell.locator('tr[data-variable="top"]').inner_text()
        panel.locator('button.jp-persist-tab[data-tab="groups"]').click()
        panel.locator('li.jp-persist-group[data-group="nb7"]').click(timeout=30_000)
        level = panel.locator('li.jp-persist-tree-level[data-level="1"]')
        assert "3 of 3 nodes settled · 1 with failures" in level.inner_text(timeout=30_000)
        level.click()
        last = level.locator('.jp-persist-tree-node[data-node="n1.2"]')
        assert last.inner_text().startswith("#2 1/1 · 1 failed")
        assert "(pid " in panel.locator(".jp-persist-callback").inner_text()
        page.screenshot(path=str(artifacts / "panel-notebook7-tree.png"))
    finally:
        context.close()


def test_open_in_notebook_selects_the_cell_in_notebook_7(browser, lab) -> None:
    """From Notebook 7's file tree, "Open in notebook" opens the notebook's own page (a new
    tab) with the stored cell selected (it opened the notebook at its first cell)."""
    from unit.server._seed import store_cell

    from ._notebooks import write_notebook

    (lab.root / "nb7open").mkdir(exist_ok=True)
    write_notebook(lab.root / "nb7open", "nb.ipynb", ["x = 1", "y = 2", "z = 3"])
    store_cell(
        lab.root / "nb7open" / ".persist", "third", notebook="nb7open/nb.ipynb", cell_id="nb-2"
    )
    context, _, _, cell = _open_cell(browser, lab, "nb7open/.persist", "third")
    try:
        with context.expect_page(timeout=30_000) as opened:
            cell.locator("button.jp-persist-open").click()
        notebook = opened.value
        notebook.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
        assert "/notebooks/nb7open/nb.ipynb" in notebook.url
        notebook.wait_for_function(
            "() => { const w = window.jupyterapp.shell.currentWidget;"
            " return !!(w && w.content && w.content.activeCellIndex === 2); }",
            timeout=30_000,
        )
    finally:
        context.close()

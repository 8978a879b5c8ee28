"""The Persist panel in Notebook 7 (the same server): View > Left Sidebar > Show Persist."""

from __future__ import annotations

from pathlib import Path

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

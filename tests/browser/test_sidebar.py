"""The Persist panel in a real JupyterLab: stores, navigation, theme, reload, menus."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ._panel import PANEL, open_store, open_tab

pytestmark = pytest.mark.browser

SIDEBAR_TAB = '.jp-SideBar.jp-mod-left li[data-id="persist-ext-sidebar"]'


def test_extensions_are_installed_and_enabled(page, lab) -> None:
    # The prebuilt front end is loaded and its plugin activated ...
    assert page.evaluate("() => window.jupyterapp.isPluginActivated('persist-ext:plugin')")
    assert page.locator(SIDEBAR_TAB).count() == 1
    # ... and the server extension answers behind the token.
    assert lab.api("persist-ext/api/stores")["root"] == str(lab.root.resolve())


def test_stores_then_a_stores_entries(page, lab, artifacts: Path, page_errors: list[str]) -> None:
    reply = lab.api("persist-ext/api/stores")
    deadline = time.monotonic() + 60
    while reply["pending"] and time.monotonic() < deadline:  # counts still being read
        time.sleep(0.5)
        reply = lab.api("persist-ext/api/stores")
    assert reply["pending"] == 0
    assert "project/.persist" in [store["path"] for store in reply["stores"]]
    page.click(SIDEBAR_TAB)
    panel = page.locator(PANEL)
    stores = panel.locator("li.jp-persist-store")
    stores.first.wait_for(timeout=30_000)
    # The panel lists again by itself until no store says "counting…".
    page.wait_for_function(
        "() => !document.querySelector('#persist-ext-sidebar').innerText.includes('counting')",
        timeout=60_000,
    )
    assert panel.locator(".jp-persist-title").inner_text().lower() == "persist"
    shown = {node.get_attribute("data-path"): node for node in stores.all()}
    for store in reply["stores"]:
        if store["path"] in shown:  # other tests add stores while this one runs
            facts = shown[store["path"]].locator(".jp-persist-facts").inner_text()
            count = store["entries"]  # grouped as the pager groups: "100,000 entries", "1 entry"
            assert f"{count:,} {'entry' if count == 1 else 'entries'}" in facts
    page.screenshot(path=str(artifacts / "panel-stores.png"))

    panel = open_store(page, "project/.persist")
    open_tab(panel, "entries")
    listed = panel.locator("li.jp-persist-entry")
    listed.first.wait_for(timeout=30_000)
    keys = {node.get_attribute("data-key") for node in listed.all()}
    assert keys == {"cell/load-data", "answer"}
    array = panel.locator('li.jp-persist-entry[data-key="cell/load-data"]')
    assert array.locator(".jp-persist-facts").inner_text().startswith("numpy.ndarray")
    array.click()  # the preview comes from the stored summary
    assert "shape (64, 3)" in array.locator(".jp-persist-preview").inner_text()
    page.screenshot(path=str(artifacts / "panel-entries.png"))
    panel.locator("button.jp-persist-back").click()
    stores.first.wait_for(timeout=30_000)
    assert not page_errors


def test_keyboard_navigation_and_context_menu(page, lab) -> None:
    from persist_ext.storage._store import Store

    for name in ("kbd-a", "kbd-b"):
        with Store(lab.root / name) as store:
            store.set("x", 1)
    panel = open_store(page, "project/.persist")  # whatever the restored state was
    panel.locator("button.jp-persist-back").click()
    panel.locator("button.jp-persist-refresh").click()
    panel.locator('li.jp-persist-store[data-path="kbd-b"]').wait_for(timeout=30_000)
    first = panel.locator("li.jp-persist-store").first
    first.wait_for(timeout=30_000)
    first.focus()
    page.keyboard.press("ArrowDown")
    focused = page.evaluate("() => document.activeElement.dataset.path")
    second = panel.locator("li.jp-persist-store").nth(1).get_attribute("data-path")
    assert focused == second
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    panel.locator(".jp-persist-store-path").wait_for(timeout=30_000)
    panel.locator("button.jp-persist-back").click()
    row = panel.locator('li.jp-persist-store[data-path="project/.persist"]')
    row.click(button="right")
    menu = page.locator(".lm-Menu")
    menu.wait_for(timeout=30_000)
    assert "Open store" in menu.inner_text()
    page.keyboard.press("Escape")


def test_palette_entry(page, lab) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    search = page.locator(".lm-CommandPalette-input")
    item = page.locator(".lm-CommandPalette-item", has_text="Show Persist panel")
    # JupyterLab's modal palette closes when it loses focus, which a page still settling on a
    # loaded machine can cause; open it again then (the entry must be there every time).
    for attempt in range(5):
        page.evaluate(
            "() => window.jupyterapp.commands.execute('apputils:activate-command-palette')"
        )
        try:
            search.wait_for(state="visible", timeout=15_000)
            search.fill("Show Persist", timeout=15_000)
            item.wait_for(state="visible", timeout=15_000)
            item.click(timeout=15_000)
            break
        except PlaywrightTimeout:
            if attempt == 4:
                raise
    page.locator(PANEL).wait_for(state="visible", timeout=30_000)


def test_state_survives_a_reload(page, lab, artifacts: Path) -> None:
    panel = open_store(page, "project/.persist")
    open_tab(panel, "entries")
    panel.locator(".jp-persist-filter").fill("ans")
    panel.locator('li.jp-persist-entry[data-key="answer"]').wait_for(timeout=30_000)
    page.wait_for_function(
        "() => document.querySelectorAll('#persist-ext-sidebar li.jp-persist-entry').length === 1"
    )
    _wait_saved(lab, '"filter": "ans"')
    page.reload()
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
    page.evaluate("() => window.jupyterapp.restored.then(() => true)")
    panel = page.locator(PANEL)
    panel.locator(".jp-persist-store-path").wait_for(timeout=30_000)
    assert panel.locator(".jp-persist-store-path").inner_text() == "project/.persist"
    assert panel.locator('button.jp-persist-tab[aria-selected="true"]').inner_text() == "Entries"
    assert panel.locator(".jp-persist-filter").input_value() == "ans"
    panel.locator('li.jp-persist-entry[data-key="answer"]').wait_for(timeout=30_000)
    panel.locator("button.jp-persist-back").click()


def _wait_saved(lab, text: str) -> None:
    """Wait until JupyterLab has saved the workspace (where IStateDB keeps the panel's state)."""
    import json
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        workspaces = lab.api("lab/api/workspaces")
        if text.replace(" ", "") in json.dumps(workspaces).replace(" ", ""):
            return
        time.sleep(0.25)
    raise AssertionError("the panel state was not saved in the workspace")


def test_dark_theme(page, lab, artifacts: Path) -> None:
    panel = open_store(page, "project/.persist")  # whatever the restored state was
    panel.locator("button.jp-persist-back").click()
    panel.locator("li.jp-persist-store").first.wait_for(timeout=30_000)
    light = page.evaluate(
        "() => getComputedStyle(document.querySelector('.jp-persist-panel')).backgroundColor"
    )
    page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme', "
        "{theme: 'JupyterLab Dark'})"
    )
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
    page.wait_for_timeout(500)  # the theme's CSS variables apply
    dark = page.evaluate(
        "() => getComputedStyle(document.querySelector('.jp-persist-panel')).backgroundColor"
    )
    page.screenshot(path=str(artifacts / "panel-dark.png"))
    page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme', "
        "{theme: 'JupyterLab Light'})"
    )
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'", timeout=30_000)
    assert light != dark

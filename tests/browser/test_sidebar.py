"""The "Persist" sidebar in a real JupyterLab: it shows what the server extension returns."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

SIDEBAR_TAB = '.jp-SideBar.jp-mod-left li[data-id="persist-ext-sidebar"]'


def test_extensions_are_installed_and_enabled(page, lab) -> None:
    # The prebuilt front end is loaded and its plugin activated ...
    assert page.evaluate("() => window.jupyterapp.isPluginActivated('persist-ext:plugin')")
    assert page.locator(SIDEBAR_TAB).count() == 1
    # ... and the server extension answers behind the token.
    assert lab.api("persist-ext/api/stores")["root"] == str(lab.root.resolve())


def test_sidebar_lists_stores_then_entries(
    page, lab, artifacts: Path, page_errors: list[str]
) -> None:
    reply = lab.api("persist-ext/api/stores")
    # Other browser tests add stores to the shared root; the seeded one is always there.
    assert "project/.persist" in [store["path"] for store in reply["stores"]]

    page.click(SIDEBAR_TAB)
    panel = page.locator("#persist-ext-sidebar")
    stores = panel.locator("li.jp-persist-store")
    stores.first.wait_for(timeout=30_000)
    assert panel.locator(".jp-persist-title").inner_text().lower() == "persist"
    assert stores.count() == len(reply["stores"])
    for node, store in zip(stores.all(), reply["stores"]):
        assert node.get_attribute("data-path") == store["path"]
        assert node.locator(".jp-persist-name").inner_text() == store["path"]
        assert f"{store['entries']} entries" in node.locator(".jp-persist-facts").inner_text()
    page.screenshot(path=str(artifacts / "sidebar-stores.png"))

    entries = lab.api("persist-ext/api/stores/entries?path=project/.persist")["entries"]
    panel.locator('li.jp-persist-store[data-path="project/.persist"]').click()
    listed = panel.locator("li.jp-persist-entry")
    listed.first.wait_for(timeout=30_000)
    shown = {node.locator(".jp-persist-name").inner_text(): node for node in listed.all()}
    assert set(shown) == {entry["key"] for entry in entries} == {"cell/load-data", "answer"}
    # Types come from the summaries stored with the values, e.g. the array's.
    assert (
        shown["cell/load-data"]
        .locator(".jp-persist-facts")
        .inner_text()
        .startswith("numpy.ndarray")
    )
    assert "array(" in shown["cell/load-data"].get_attribute("title")
    page.screenshot(path=str(artifacts / "sidebar-entries.png"))

    panel.locator("button.jp-persist-back").click()
    stores.first.wait_for(timeout=30_000)
    assert not page_errors

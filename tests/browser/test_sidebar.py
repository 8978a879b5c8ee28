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
    rows = panel.locator("tr.jp-persist-store")
    rows.first.wait_for(timeout=30_000)
    assert panel.locator(".jp-persist-title").inner_text().lower() == "persist"
    assert rows.count() == len(reply["stores"])
    for row, store in zip(rows.all(), reply["stores"]):
        cells = row.locator("td").all_inner_texts()
        assert cells[0] == store["path"]
        assert cells[1] == str(store["entries"])
    page.screenshot(path=str(artifacts / "sidebar-stores.png"))

    entries = lab.api("persist-ext/api/stores/entries?path=project/.persist")["entries"]
    rows.and_(panel.locator('[data-path="project/.persist"]')).click()
    table = panel.locator("table.jp-persist-entries")
    table.wait_for(timeout=30_000)
    shown = {row.locator("td").first.inner_text() for row in table.locator("tbody tr").all()}
    assert shown == {entry["key"] for entry in entries} == {"cell/load-data", "answer"}
    assert "2.0 KiB" in table.inner_text()
    page.screenshot(path=str(artifacts / "sidebar-entries.png"))

    panel.locator("button.jp-persist-back").click()
    rows.first.wait_for(timeout=30_000)
    assert not page_errors

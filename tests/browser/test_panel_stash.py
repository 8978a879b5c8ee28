"""A 100,000-entry store in the Persist panel: paged and filtered by the server; a delete."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._panel import confirm_dialog, open_store, open_tab

pytestmark = pytest.mark.browser

N = 100_000


@pytest.fixture(scope="module")
def big_store(lab) -> str:
    from persist_ext.storage._store import Store

    path = "big-stash"
    with Store(lab.root / path) as store:
        for start in range(0, N, 10_000):
            with store.transact():
                for i in range(start, start + 10_000):
                    store.set(f"runs/{i:06d}", i)
        store.set("images/thumb-001", b"\x89PNG")
    return path


def _wait_range(page, text: str, *, prefix: bool = False) -> None:
    """Wait until the pager reads ``text`` ("1-100 of 100,001"; the page shows an en dash)."""
    import json

    wanted = json.dumps(text.replace("-", "\u2013", 1))
    test = f"startsWith({wanted})" if prefix else f"trim() === {wanted}"
    page.wait_for_function(
        "() => { const r = document.querySelector('#persist-ext-sidebar .jp-persist-range');"
        f" return r !== null && r.innerText.{test}; }}",
        timeout=60_000,
    )


def test_a_huge_store_is_paged_and_filtered(page, lab, big_store: str, artifacts: Path) -> None:
    panel = open_store(page, big_store)
    open_tab(panel, "entries")
    panel.locator(".jp-persist-filter").fill("")
    rows = panel.locator("li.jp-persist-entry")
    _wait_range(page, "1-100 of 100,001")
    assert rows.first.get_attribute("data-key") == "images/thumb-001"
    assert rows.nth(1).get_attribute("data-key") == "runs/000000"
    page.screenshot(path=str(artifacts / "panel-stash-page1.png"))

    # Every later page comes from the server too (by key cursor).
    for first in (101, 201, 301):
        panel.locator("button.jp-persist-next").click()
        _wait_range(page, f"{first}-{first + 99}", prefix=True)
    _wait_range(page, "301-400", prefix=True)
    assert rows.first.get_attribute("data-key") == "runs/000299"
    panel.locator("button.jp-persist-prev").click()
    _wait_range(page, "201-300", prefix=True)

    # A prefix, then a glob: filtered in SQL over all 100,000 entries.
    panel.locator(".jp-persist-filter").fill("runs/0999")
    _wait_range(page, "1-100 of 100")
    panel.locator(".jp-persist-filter").fill("runs/*77")
    _wait_range(page, "1-100 of 1,000")
    assert all(key.endswith("77") for key in (r.get_attribute("data-key") for r in rows.all()))
    page.screenshot(path=str(artifacts / "panel-stash-glob.png"))

    # Delete one entry, with confirmation; the count drops.
    target = rows.first.get_attribute("data-key")
    rows.first.locator("button.jp-persist-delete").click()
    confirm_dialog(page, "Delete")
    _wait_range(page, "1-100 of 999")
    entries = lab.api(f"persist-ext/api/stores/entries?path={big_store}&prefix={target}")
    assert entries["total"] == 0
    panel.locator(".jp-persist-filter").fill("")
    panel.locator("button.jp-persist-back").click()

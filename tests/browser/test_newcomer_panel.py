"""The Persist panel as a newcomer first sees it: default sidebar width, a nested store."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._panel import open_store

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def nested_store(lab) -> str:
    """A store nested in a store, named as in examples/03-widgets.ipynb."""
    from persist_ext.storage._store import Store

    path = "newcomer/.persist/widgets-demo"
    with Store(lab.root / path) as store:
        store.set("frame/sales", [120, 75])
    return path


def test_back_button_fits_beside_a_long_store_path(
    page, nested_store: str, artifacts: Path
) -> None:
    # A newcomer opening .persist/widgets-demo saw "← All" in the button and "stores" below it,
    # drawn over the Cells tab: the path took the row's width and the label wrapped.
    panel = open_store(page, nested_store)
    page.screenshot(path=str(artifacts / "newcomer-panel-crumbs.png"))
    back = panel.locator("button.jp-persist-back")
    box = back.evaluate(
        """b => ({lines: b.getClientRects().length, height: b.clientHeight,
                  content: b.scrollHeight, bottom: b.getBoundingClientRect().bottom,
                  tabs: document.querySelector('#persist-ext-sidebar .jp-persist-tabs')
                      .getBoundingClientRect().top})"""
    )
    assert box["content"] <= box["height"], f"the label overflows its button: {box}"
    assert box["bottom"] <= box["tabs"], f"the button overlaps the tabs: {box}"
    assert back.inner_text().strip() == "← All stores"

"""Driving the Persist panel in the browser tests (JupyterLab and Notebook 7)."""

from __future__ import annotations

from typing import Any

__all__ = ["PANEL", "confirm_dialog", "open_panel", "open_store", "open_tab"]

PANEL = "#persist-ext-sidebar"


def open_panel(page: Any) -> Any:
    """Show the panel through its command (what the palette entry runs); return its locator."""
    page.evaluate("() => window.jupyterapp.commands.execute('persist-ext:open')")
    panel = page.locator(PANEL)
    panel.wait_for(state="visible", timeout=30_000)
    return panel


def open_store(page: Any, path: str) -> Any:
    """Open store ``path`` from the list of stores (going back to the list first)."""
    panel = open_panel(page)
    back = panel.locator("button.jp-persist-back")
    if back.count():
        back.click()
    row = panel.locator(f'li.jp-persist-store[data-path="{path}"]')
    row.wait_for(timeout=30_000)
    row.click()
    panel.locator(".jp-persist-store-path").wait_for(timeout=30_000)
    return panel


def open_tab(panel: Any, tab: str) -> None:
    """Select the store view's tab ``cells``, ``groups`` or ``entries``."""
    panel.locator(f'button.jp-persist-tab[data-tab="{tab}"]').click()


def confirm_dialog(page: Any, button: str) -> None:
    """Accept JupyterLab's confirmation dialog with the button labelled ``button``."""
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=30_000)
    dialog.locator("button", has_text=button).click()
    dialog.wait_for(state="detached", timeout=30_000)

"""What the panel shows without unpickling anything (#15): each variable of a ``%%persist``
cell with its own shape, dtype and range (also when stored packed with others) and a
frame's head; a task group's marker tree with per-node task counts and where its
completion callback ran."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest
from unit.server._seed import run_tree_group

from ._notebooks import open_notebook, run_all, write_notebook
from ._panel import open_store, open_tab

pytestmark = pytest.mark.browser

CELLS = [
    "%load_ext persist_ext",
    # grid and its view share memory: one packed entry; slow enough to be stored.
    "%%persist arrays\nimport time\nimport numpy as np\nimport pandas as pd\ntime.sleep(0.3)\n"
    "grid = np.arange(12.0).reshape(3, 4)\ntop = grid[:1]\n"
    "frame = pd.DataFrame({'x': [3, 1, 2], 'y': ['a', 'b', 'c']})\nprint('stored')",
]


def _wait_output(page: Any, index: int, text: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        out = page.evaluate(
            f"""() => {{
                const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[{index}];
                return cell ? cell.querySelector('.jp-OutputArea').innerText : '';
            }}"""
        )
        if text in out:
            return
        assert "Error" not in out, out
        time.sleep(0.3)
    raise AssertionError(f"cell {index} never printed {text!r}")


def test_variable_summaries_and_the_marker_tree(page, lab, artifacts: Path) -> None:
    path = write_notebook(lab.root, "panel-summaries.ipynb", CELLS)
    open_notebook(page, path)
    run_all(page)
    _wait_output(page, 1, "stored")
    run_tree_group(lab.root / ".persist", "summaries")  # as the server tests seed it

    panel = open_store(page, ".persist")
    open_tab(panel, "cells")
    cell = panel.locator('li.jp-persist-cell[data-cell="arrays"]')
    cell.wait_for(timeout=30_000)
    cell.click()
    grid = cell.locator('tr[data-variable="grid"]')
    grid.wait_for(timeout=30_000)
    assert "shape (3, 4) · dtype float64 · min 0 · max 11" in grid.inner_text()
    top = cell.locator('tr[data-variable="top"]').inner_text()
    assert "shape (1, 4)" in top
    assert "max 3" in top
    frame = cell.locator('tr[data-variable="frame"]')
    assert "shape (3, 2)" in frame.inner_text()
    frame.click()
    head = cell.locator(".jp-persist-variable-preview table")
    head.wait_for(timeout=30_000)
    assert [td.inner_text() for td in head.locator("td").all()] == ["3", "a", "1", "b", "2", "c"]
    page.screenshot(path=str(artifacts / "panel-cell-variables.png"))

    open_tab(panel, "groups")
    card = panel.locator('li.jp-persist-group[data-group="summaries"]')
    card.wait_for(timeout=30_000)
    card.click()
    level = panel.locator('li.jp-persist-tree-level[data-level="1"]')
    level.wait_for(timeout=30_000)
    assert "level 1: 3 of 3 nodes settled · 2 with failures" in level.inner_text()
    level.click()
    nodes = [n.inner_text() for n in level.locator(".jp-persist-tree-node").all()]
    assert [n.split(" · ")[:2] for n in nodes] == [
        ["#0 3/3", "settled " + nodes[0].split("settled ")[-1]],
        ["#1 3/3", "1 failed"],
        ["#2 1/1", "1 failed"],
    ]
    assert all("settled" in n and "not settled" not in n for n in nodes)
    callback = panel.locator(".jp-persist-callback").inner_text()
    assert f"on {socket.gethostname()} (pid " in callback
    assert "returned" in callback
    page.screenshot(path=str(artifacts / "panel-marker-tree.png"))

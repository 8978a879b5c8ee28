"""The panel's Functions tab and its previews, in real JupyterLab (issues #17 and #15.3).

A notebook caches a plotting cell (``%%persist``: its figure is recorded as a PNG output),
calls a ``persist_ext.cache`` function and stores the plotted array. The panel then shows,
from the store alone: the outputs' thumbnail, the array's range, the function by name with
its calls; one call and then the whole function are cleared with confirmation.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._notebooks import open_notebook, run_all, write_notebook
from ._panel import confirm_dialog, open_store, open_tab

pytestmark = pytest.mark.browser

CELLS = [
    "%load_ext persist_ext",
    # pyplot's first import installs display formatters: a cell doing that is run, not stored.
    "%matplotlib inline\nimport time\nimport numpy as np\nimport matplotlib.pyplot as plt\n"
    "plt.close(plt.figure())",
    "%%persist plot\ntime.sleep(0.3)\ndata = np.linspace(-3.0, 5.0, 1000)\n"
    "fig, ax = plt.subplots(figsize=(4, 3))\nax.plot(data, data ** 2, color='tab:red')\n"
    "plt.show()",
    "import persist_ext\n\n@persist_ext.cache\ndef slow_square(x):\n"
    "    time.sleep(0.2)\n    return x * x\n\n"
    "print('results', [slow_square(i) for i in range(3)], slow_square(1))\n"
    "with persist_ext.Store('.persist') as stash:\n    stash.set('arrays/data', data)",
]


def _output(page, index: int) -> str:
    return page.evaluate(
        f"""() => {{
            const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[{index}];
            return cell ? cell.querySelector('.jp-OutputArea').innerText : '';
        }}"""
    )


def _filter_to_one(page, panel, glob: str, suffix: str):
    """Filter the Entries tab by ``glob``; wait until one entry, ending in ``suffix``, is left."""
    panel.locator(".jp-persist-filter").fill(glob)
    page.wait_for_function(
        "suffix => { const rows = document.querySelectorAll("
        "'#persist-ext-sidebar li.jp-persist-entry');"
        " return rows.length === 1 && rows[0].getAttribute('data-key').endsWith(suffix); }",
        arg=suffix,
        timeout=60_000,
    )
    return panel.locator("li.jp-persist-entry").first


def _functions(lab) -> dict:
    reply = lab.api("persist-ext/api/stores/functions?path=.persist")
    return {f["name"]: f for f in reply["functions"]}


def test_functions_tab_and_previews(page, lab, artifacts: Path, page_errors: list[str]) -> None:
    path = write_notebook(lab.root, "panel-functions.ipynb", CELLS)
    open_notebook(page, path)
    run_all(page)
    page.wait_for_function(
        "() => { const c = document.querySelectorAll('.jp-Notebook .jp-Cell')[3];"
        " return c && c.querySelector('.jp-OutputArea').innerText.includes('results'); }",
        timeout=180_000,
    )
    assert "results [0, 1, 4] 1" in _output(page, 3)

    # Entries: the recorded figure's thumbnail, then the array's range, from summaries only.
    panel = open_store(page, ".persist")
    open_tab(panel, "entries")
    _filter_to_one(page, panel, "cell/plot/*/outputs", "/outputs").click()
    thumbnail = panel.locator("img.jp-persist-thumbnail")
    thumbnail.wait_for(timeout=30_000)
    width = thumbnail.evaluate("img => img.naturalWidth")
    assert 0 < width <= 128
    page.screenshot(path=str(artifacts / "panel-preview-thumbnail.png"))

    _filter_to_one(page, panel, "arrays/*", "/data").click()
    facts = panel.locator(".jp-persist-preview .jp-persist-facts")
    facts.wait_for(timeout=30_000)
    assert "shape (1000) · dtype float64 · min -3 · max 5" in facts.inner_text()
    page.screenshot(path=str(artifacts / "panel-preview-array.png"))
    panel.locator(".jp-persist-filter").fill("")

    # Functions: by name, with calls; clear one call, then the whole function.
    open_tab(panel, "functions")
    row = panel.locator('li.jp-persist-function[data-function="slow_square"]')
    row.wait_for(timeout=30_000)
    assert "3 calls" in row.inner_text()
    row.click()
    calls = row.locator(".jp-persist-call")
    calls.first.wait_for(timeout=30_000)
    assert sorted(c.inner_text().split("\n")[0] for c in calls.all()) == [
        "slow_square(0)",
        "slow_square(1)",
        "slow_square(2)",
    ]
    page.screenshot(path=str(artifacts / "panel-functions.png"))

    target = row.locator(".jp-persist-call", has_text="slow_square(2)")
    target.locator("button.jp-persist-clear-call").click()
    confirm_dialog(page, "Clear")
    page.wait_for_function(
        "() => { const r = document.querySelector("
        "'#persist-ext-sidebar li.jp-persist-function[data-function=\"slow_square\"]');"
        " return r && r.innerText.includes('2 calls'); }",
        timeout=30_000,
    )
    assert sorted(c["call"] for c in _functions(lab)["slow_square"]["calls"]) == [
        "slow_square(0)",
        "slow_square(1)",
    ]

    row.locator("button.jp-persist-clear").first.click()
    confirm_dialog(page, "Clear")
    row.wait_for(state="detached", timeout=30_000)
    assert "slow_square" not in _functions(lab)
    page.screenshot(path=str(artifacts / "panel-functions-cleared.png"))
    assert page_errors == []

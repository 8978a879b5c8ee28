"""The widgets in a real JupyterLab: live task progress, and the stash browser on 100,000 keys."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from ._notebooks import open_notebook, run_all, write_notebook

pytestmark = pytest.mark.browser

TASKS_MODULE = """
import time

def slow_square(x):
    time.sleep(0.15)
    print(f"squared {x}")
    return x * x
"""


def _bar_width(page: Any) -> float:
    return page.evaluate(
        """() => {
            const sel = '.persist-ext-taskgroup .widget-hprogress .progress-bar';
            const bar = document.querySelector(sel);
            return bar ? parseFloat(bar.style.width || '0') : -1;
        }"""
    )


def test_progress_advances_live_while_a_process_pool_works(
    page: Any, lab: Any, artifacts: Path, page_errors: list[str]
) -> None:
    (lab.root / "nbtasks_live.py").write_text(TASKS_MODULE)
    store = lab.root / "live-store"
    path = write_notebook(
        lab.root,
        "widgets-live.ipynb",
        [
            "from persist_ext.storage._store import Store\n"
            "from persist_ext.features._tasks._group import TaskGroup\n"
            "from persist_ext.interfaces.widgets._tasks import display_tasks\n"
            "import nbtasks_live\n"
            f"group = TaskGroup('live', Store({str(store)!r}),\n"
            "                  executor='processes', max_workers=2)\n"
            "keys = group.map(nbtasks_live.slow_square, range(60), key=str)\n"
            "view = display_tasks(group, interval=0.1)",
            # Returns at once: the display must keep moving after the cell has finished.
            "group.run()",
        ],
    )
    open_notebook(page, path)
    run_all(page)
    page.locator(".persist-ext-taskgroup .widget-hprogress").first.wait_for(timeout=90_000)
    deadline = time.time() + 60
    first = _bar_width(page)
    while not 0 < first < 60 and time.time() < deadline:
        time.sleep(0.1)
        first = _bar_width(page)
    assert 0 < first < 60, f"the bar never started moving (width {first}%)"
    page.screenshot(path=str(artifacts / "widgets-progress-running.png"))
    # The bar must move on its own; how fast depends on the machine, so wait for it to move.
    deadline = time.time() + 120
    second = _bar_width(page)
    while second <= first and time.time() < deadline:
        time.sleep(0.2)
        second = _bar_width(page)
    assert second > first, f"no live progress: {first}% then {second}%"
    # At the end the live bar reaches 100%, then (the work being over) the output is replaced
    # by its static snapshot, which is what the saved notebook keeps.
    # `group.run()` shows the group too; a group already on screen is not shown twice.
    page.wait_for_function(
        r"""() => {
            const shown = [...document.querySelectorAll('.persist-ext-taskgroup')];
            // "60/60 ... 60 done ... finished at": not "38/60 done" of a running state.
            return shown.length >= 1 && shown.every(e => e.innerText.includes('60/60')
                && /(^|\s)60 done/.test(e.innerText) && e.innerText.includes('finished at'));
        }""",
        timeout=60_000,
    )
    assert page.get_by_text("live: live progress is shown above.").count() == 1
    widths = page.evaluate(
        """() => [...document.querySelectorAll(
                '.persist-ext-taskgroup .widget-hprogress .progress-bar')]
                .map(bar => parseFloat(bar.style.width || '0'))"""
    )

    assert all(w == 100 for w in widths), widths  # live bars at 100%, or static (none left)
    page.screenshot(path=str(artifacts / "widgets-progress-finished.png"))
    assert not page_errors


def test_browser_pages_100k_keys_and_previews_a_dataframe(
    page: Any, lab: Any, artifacts: Path, page_errors: list[str]
) -> None:
    path = write_notebook(
        lab.root,
        "widgets-browse.ipynb",
        [
            "import pandas as pd\n"
            "from persist_ext.features._stash import DictionaryStash\n"
            "from persist_ext.interfaces.widgets._browser import browse\n"
            "stash = DictionaryStash({f'item/{i:06d}': i for i in range(100_000)})\n"
            "stash.dump('frame/sales', pd.DataFrame({'region': ['north', 'south', 'east'],\n"
            "                                        'units': [120, 75, 301]}))\n"
            "browse(stash)",
        ],
    )
    open_notebook(page, path)
    run_all(page)
    rows = page.locator(".persist-ext-table tbody tr[data-key]")
    rows.first.wait_for(timeout=90_000)
    assert rows.count() == 50
    assert rows.first.get_attribute("data-key") == "item/000000"
    assert "of 100,001" in page.locator(".persist-ext-browser").first.inner_text()

    page.get_by_role("button", name="Next >").click()
    page.wait_for_function(
        "() => document.querySelector('.persist-ext-table tbody tr[data-key]')"
        ".dataset.key === 'item/000050'",
        timeout=30_000,
    )
    page.screenshot(path=str(artifacts / "widgets-browser-page2.png"))

    box = page.get_by_placeholder("filter keys: text, or a glob like cell/*/df")
    box.fill("frame")
    box.press("Enter")
    page.wait_for_function(
        "() => document.querySelectorAll('.persist-ext-table tbody tr[data-key]').length === 1",
        timeout=30_000,
    )
    rows.first.click()
    preview = page.locator(".persist-ext-preview").first
    preview.wait_for(timeout=30_000)
    assert "DataFrame" in preview.inner_text()
    page.get_by_role("button", name="Load value").click()
    page.get_by_text("south").first.wait_for(timeout=30_000)
    text = page.locator(".persist-ext-browser").first.inner_text()
    assert "north" in text
    assert "301" in text
    page.screenshot(path=str(artifacts / "widgets-browser-preview.png"))
    assert not page_errors

"""A saved notebook reopened in JupyterLab after its kernel is gone, as docs/widgets.md says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ._notebooks import open_notebook, run_all, write_notebook

pytestmark = pytest.mark.browser

DOC = Path(__file__).resolve().parents[2] / "docs" / "widgets.md"

# The text each code cell's outputs show on the page.
_SHOWN = """() => window.jupyterapp.shell.currentWidget.content.widgets
    .filter(c => c.model.type === 'code')
    .map(c => c.node.querySelector('.jp-OutputArea'))
    .map(o => (o ? o.textContent : ''))"""


@pytest.mark.parametrize("front_end", ["lab", "notebook"])
def test_reopened_without_its_kernel_every_display_shows_its_snapshot(
    page: Any, lab: Any, artifacts: Path, front_end: str
) -> None:
    store = lab.root / f"reopen-store-{front_end}"
    path = write_notebook(
        lab.root,
        f"newcomer-reopen-{front_end}.ipynb",
        [
            "from persist_ext import Store, browse, progress\n"
            f"store = Store({str(store)!r})\n"
            "store.set('frame/sales', [120, 75])",
            "for _ in progress(range(5), desc='loop'):\n    pass",
            "browse(store)",
        ],
    )
    open_notebook(page, path)
    run_all(page)
    page.wait_for_function(
        f"() => {{ const s = ({_SHOWN})(); return /finished/.test(s[1]) && /1 key/.test(s[2]); }}",
        timeout=90_000,
    )
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function(
        "() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=30_000
    )
    saved = json.loads((lab.root / path).read_text())
    bundles = [c["outputs"][-1]["data"] for c in saved["cells"][1:]]
    # In the file: the finished loop as its snapshot alone, the browser as widget + snapshot.
    assert "application/vnd.jupyter.widget-view+json" not in bundles[0]
    assert "finished" in "".join(bundles[0]["text/plain"])
    assert "application/vnd.jupyter.widget-view+json" in bundles[1]
    assert "frame/sales" in "".join(bundles[1]["text/plain"])

    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
    # Reopened with a new kernel: the widget models of the saved outputs are gone.
    if front_end == "lab":
        page.reload()
        page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
        page.evaluate("() => window.jupyterapp.restored.then(() => true)")
        open_notebook(page, path)
    else:
        page.goto(f"{lab.url}/notebooks/{path}?token={lab.token}")
        page.wait_for_function(
            f"""() => {{
                const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                return w && w.context && w.context.path === '{path}' && w.content;
            }}""",
            timeout=90_000,
        )
    # ipywidgets says "Error displaying widget: model not found" for the browser, whose
    # model died with the kernel; persist_ext's front end shows the saved snapshot there.
    page.wait_for_function(f"() => /frame\\/sales/.test(({_SHOWN})()[2])", timeout=60_000)
    shown = page.evaluate(_SHOWN)
    page.screenshot(path=str(artifacts / f"newcomer-reopen-{front_end}.png"), full_page=True)
    assert "finished" in shown[1], shown
    assert "Error" not in shown[1], shown
    assert "Error" not in shown[2], shown
    doc = " ".join(DOC.read_text().split())
    assert "reopened in JupyterLab or Notebook 7 after its kernel is gone" in doc

"""Writing, opening and running notebooks in the browser tests' JupyterLab."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

__all__ = [
    "open_notebook",
    "output",
    "prompt",
    "run_all",
    "run_cell",
    "wait_done",
    "wait_kernel_idle",
    "write_notebook",
]


def write_notebook(root: Path, name: str, sources: list[str]) -> str:
    """Write a notebook of code cells (ids ``<stem>-<i>``) under ``root``; return its path."""
    cells = [
        {
            "cell_type": "code",
            "id": f"{Path(name).stem}-{i}",
            "metadata": {},
            "source": source,
            "outputs": [],
            "execution_count": None,
        }
        for i, source in enumerate(sources)
    ]
    notebook = {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (root / name).write_text(json.dumps(notebook))
    return name


def open_notebook(page: Any, path: str) -> None:
    """Open ``path`` and wait until it is the visible document with an idle kernel."""
    page.evaluate(
        f"() => window.jupyterapp.commands.execute('docmanager:open', {{path: '{path}'}})"
    )
    # The session's Lab may restore earlier notebooks (hidden tabs): wait for this one.
    page.wait_for_function(
        f"""() => {{
            const w = window.jupyterapp.shell.currentWidget;
            return w && w.context && w.context.path === '{path}' && w.content.isVisible;
        }}""",
        timeout=60_000,
    )
    wait_kernel_idle(page)


def wait_kernel_idle(page: Any) -> None:
    """Wait for the current notebook's kernel to be idle (a run-all sent earlier is lost)."""
    page.wait_for_function(
        """() => {
            const w = window.jupyterapp.shell.currentWidget;
            const k = w && w.sessionContext && w.sessionContext.session
                && w.sessionContext.session.kernel;
            return k && k.status === 'idle';
        }""",
        timeout=90_000,
    )


def run_all(page: Any) -> None:
    """Run every cell of the current notebook (returns at once)."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")


def output(page: Any, index: int) -> str:
    """The text of cell ``index``'s outputs."""
    return page.evaluate(
        f"""() => {{
            const cells = document.querySelectorAll('.jp-Notebook .jp-Cell');
            const cell = cells[{index}];
            return cell ? cell.querySelector('.jp-OutputArea').innerText : '';
        }}"""
    )


def prompt(page: Any, index: int) -> str:
    """Cell ``index``'s prompt, e.g. ``[3]:`` or ``[*]:`` while it runs."""
    return page.evaluate(
        f"""() => {{
            const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[{index}];
            return cell ? cell.querySelector('.jp-InputPrompt').innerText : '';
        }}"""
    )


def wait_done(page: Any, index: int, before: str) -> str:
    """Wait until cell ``index`` finished a run started after its prompt read ``before``."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        now = prompt(page, index)
        if now != before and "*" not in now and now.strip("[]: "):
            return output(page, index)
        time.sleep(0.2)
    raise AssertionError(f"cell {index} did not finish: {output(page, index)!r}")


def run_cell(page: Any, index: int) -> str:
    """Run cell ``index`` alone and return its output when it is done."""
    before = prompt(page, index)
    page.evaluate(
        f"""() => {{
            const nb = window.jupyterapp.shell.currentWidget.content;
            nb.activeCellIndex = {index};
            return window.jupyterapp.commands.execute('notebook:run-cell');
        }}"""
    )
    return wait_done(page, index, before)

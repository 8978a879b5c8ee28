"""Fixtures for the kernel tier: real notebooks executed by nbclient on an ipykernel."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat import NotebookNode

KERNEL_TIMEOUT = 120  # seconds per cell; a cold kernel start on a busy 2-core machine is slow


def outputs_text(cell: NotebookNode) -> str:
    """All text a cell printed or displayed (stream, text/plain results, error lines)."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.get("data", {}).get("text/plain", ""))
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}")
    return "".join(parts)


def execute(notebook: NotebookNode, cwd: Path, *, allow_errors: bool = False) -> NotebookNode:
    """Run ``notebook`` in a fresh kernel whose working directory is ``cwd``."""
    client = NotebookClient(
        notebook,
        timeout=KERNEL_TIMEOUT,
        kernel_name="python3",
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()
    return notebook


@pytest.fixture
def text_of() -> Callable[[NotebookNode], str]:
    """:func:`outputs_text`, as a fixture so test modules need no imports from here."""
    return outputs_text


@pytest.fixture
def run_notebook(tmp_path: Path) -> Callable[..., NotebookNode]:
    """Run the notebook at a path in ``tmp_path`` and return it executed."""

    def run(path: Path, *, allow_errors: bool = False) -> NotebookNode:
        notebook = nbformat.read(path, as_version=4)
        return execute(notebook, tmp_path, allow_errors=allow_errors)

    return run


@pytest.fixture
def run_cells(tmp_path: Path) -> Callable[..., NotebookNode]:
    """Build a notebook from code strings, run it in ``tmp_path`` and return it executed."""

    def run(sources: Iterable[str], *, allow_errors: bool = False) -> NotebookNode:
        notebook = nbformat.v4.new_notebook()
        notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
        return execute(notebook, tmp_path, allow_errors=allow_errors)

    return run

"""Fixtures for the kernel tier: real notebooks executed by nbclient on an ipykernel."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat import NotebookNode
from traitlets.config import Config

KERNEL_TIMEOUT = 120  # seconds per cell; a cold kernel start on a busy 2-core machine is slow

# Kernels talk over Unix sockets in a folder of the test run, not TCP: jupyter_client picks
# free TCP ports and the kernel binds them a second later, and another process taking one
# meanwhile kills the kernel at start ("ZMQError: Address already in use", seen with several
# test runs at once). Each kernel has a prefix of its own (<folder>/<id>-<n>, removed when it
# shuts down): jupyter_client numbers a prefix's sockets from 1 while no such file exists, so
# two kernels started together under one prefix would take the same sockets.
_IPC_FOLDER = tempfile.mkdtemp(prefix="persist-kernels-")


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_IPC_FOLDER, ignore_errors=True)


def _ipc_config() -> Config:
    prefix = os.path.join(_IPC_FOLDER, uuid.uuid4().hex[:12])
    return Config({"KernelManager": {"transport": "ipc", "ip": prefix}})


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
        config=_ipc_config(),
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

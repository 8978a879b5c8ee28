"""A failing ``%%persist`` cell shows the traceback the same plain cell shows (issue #13).

The notebook below is run plain, then with ``%%persist`` on every cell cold and warm (a fresh
kernel, same store): each failing cell must show the same error output, traceback included
(``Cell In[n]`` numbered as the plain cell, the cell's frames and nothing of the magic), and
a function defined by a restored cell must cite the cell that defined it.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from .conftest import execute

pytestmark = pytest.mark.kernel

CELLS = [
    "import pandas as pd",
    "def f(x):\n    return 1 / x",
    "f(0)",  # raises in a function of an earlier cell
    "def g(x):\n    return 1 / x\ng(0)",  # raises in a function of its own cell
    "pd.DataFrame({'a': [1]}).append({'a': 2}, ignore_index=True)",  # in a library's frames
    "total = missing_name + 1",
    "raise ValueError('bad') from KeyError('k')",
    "try:\n    1 / 0\nexcept ZeroDivisionError:\n    raise RuntimeError('while handling')",
    "x = (1,",  # a syntax error
    "print('before')\n[][3]",
    "assert 1 == 2, 'nope'",
    "import no_such_module_here",  # an import that fails (imports are timed by the cache)
    "from os import no_such_name",
    "try:\n    import no_such_module_here\nexcept ImportError:\n    raise ValueError('retried')",
]
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def build(cached: bool) -> nbformat.NotebookNode:
    # min_time = 0: every cell that succeeds is stored, so the warm run restores them.
    first = "%load_ext persist_ext\n%config PersistMagics.min_time = 0" if cached else "pass"
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(first)] + [
        nbformat.v4.new_code_cell(f"%%persist\n{cell}" if cached else cell) for cell in CELLS
    ]
    return notebook


def shown(notebook: nbformat.NotebookNode) -> list[list[str]]:
    """Each cell's outputs, errors with their whole traceback; the cache's notices left out."""
    cells = []
    for cell in notebook.cells[1:]:
        parts = []
        for output in cell.outputs:
            if output.output_type == "error":
                lines = "\n".join(_ANSI.sub("", line) for line in output.traceback)
                parts.append(f"error {output.ename}: {output.evalue}\n{lines}")
            elif output.output_type == "stream":
                text = "".join(
                    line
                    for line in output.text.splitlines(keepends=True)
                    if not line.startswith("persist: ")
                )
                if text:
                    parts.append(f"{output.name}: {text}")
            else:
                parts.append(f"{output.output_type}: {output.get('data', {}).get('text/plain')}")
        cells.append(parts)
    return cells


def test_a_failing_cell_shows_the_traceback_of_the_plain_cell(tmp_path: Path) -> None:
    plain_dir, cached_dir = tmp_path / "plain", tmp_path / "cached"
    plain_dir.mkdir()
    cached_dir.mkdir()
    plain = shown(execute(build(cached=False), plain_dir, allow_errors=True))
    cold_nb = execute(build(cached=True), cached_dir, allow_errors=True)
    warm_nb = execute(build(cached=True), cached_dir, allow_errors=True)
    # The plain run failed where the notebook means to, with tracebacks worth comparing.
    errors = [i for i, parts in enumerate(plain) if any(p.startswith("error ") for p in parts)]
    assert len(errors) == len(CELLS) - 2  # all but the import and the definition of f
    assert "Cell In[4], line 1" in plain[2][0]
    assert "Cell In[3], line 2, in f(x)" in plain[2][0]
    for label, notebook in (("cold", cold_nb), ("warm", warm_nb)):
        got = shown(notebook)
        for index, (want, have) in enumerate(zip(plain, got, strict=True)):
            assert have == want, f"{label} run, cell {index + 2} ({CELLS[index]!r})"
        assert not any("persist_ext" in p or "run_cell_magic" in p for c in got for p in c)
    # The definition of f was restored on the warm run, and its frame still cites In[3].
    restored = "".join(o.get("text", "") for o in warm_nb.cells[2].outputs)
    assert "persist: restored" in restored

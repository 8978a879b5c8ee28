"""The comparison every adversarial notebook goes through (issue #13's protocol).

A notebook runs plain; then under ``%%persist``: cold, warm in a fresh kernel, after an
upstream edit, and with the edit undone (the first entry is looked up again). Every run
under ``%%persist`` must show what the plain run of the same notebook shows.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from .conftest import outputs_text
from .test_cellcache_fidelity_notebooks import build, execute, restored, seen


def assert_runs_match_plain(
    cells: list[str], checks: list[str], edit: tuple[str, str], tmp_path: Path
) -> None:
    """Run ``cells`` (``CACHED``-marked ones under ``%%persist``) the five ways and compare."""
    edited = [c.replace(*edit) for c in cells]
    plain_dir, cached_dir = tmp_path / "plain", tmp_path / "cached"
    plain_dir.mkdir()
    cached_dir.mkdir()
    plain = seen(execute(build(cells, checks, cached=False), plain_dir))
    plain_edit = seen(execute(build(edited, checks, cached=False), plain_dir))
    assert plain_edit != plain  # the edit changes what the notebook shows
    assert seen(execute(build(cells, checks, cached=True), cached_dir)) == plain
    warm = execute(build(cells, checks, cached=True), cached_dir)
    assert seen(warm) == plain
    assert restored(warm) >= 1  # the warm run really restored cells
    assert seen(execute(build(edited, checks, cached=True), cached_dir)) == plain_edit
    assert seen(execute(build(cells, checks, cached=True), cached_dir)) == plain


def why_of(cells: list[str], names: list[str], cwd: Path) -> list[str]:
    """What ``%persist why NAME`` prints for each of ``names`` after ``cells`` ran cached."""
    notebook = build(cells, [], cached=True)
    notebook.cells += [nbformat.v4.new_code_cell(f"%persist why {n}") for n in names]
    ran = execute(notebook, cwd)
    return [outputs_text(cell) for cell in ran.cells[-len(names) :]]

"""Fixtures for the doctests of ``persist_ext`` (``pytest --doctest-modules persist_ext``).

The examples make their folders as a reader would, with ``tempfile.mkdtemp()``: each one
runs with the temporary folder pointed into a ``tmp_path`` of its own, which pytest removes
after a few runs, so the examples leave nothing behind in the system's temporary folder.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pytest
from _pytest.doctest import DoctestItem


@pytest.fixture(autouse=True)
def _examples_make_folders_in_tmp_path(request: pytest.FixtureRequest) -> Iterator[None]:
    if not isinstance(request.node, DoctestItem):
        yield
        return
    before = tempfile.tempdir
    tempfile.tempdir = str(request.getfixturevalue("tmp_path"))
    try:
        yield
    finally:
        tempfile.tempdir = before

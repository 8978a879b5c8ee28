"""Fixtures shared by the unit tests of the cell cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from persist_ext.features._cellcache import CellCache
from persist_ext.storage._store import Store


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[CellCache]:
    """A cell cache on a fresh Store in ``tmp_path/store`` (replaces pytest's own ``cache``
    fixture in tests/unit, which no unit test uses)."""
    store = Store(tmp_path / "store")
    try:
        yield CellCache(store)
    finally:
        store.close()

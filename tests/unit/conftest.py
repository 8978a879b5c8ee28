"""Fixtures shared by the unit tests of the cell cache."""

from __future__ import annotations

import builtins
import sys
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


@pytest.fixture(autouse=True)
def _no_builtin_underscore(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a kernel, no ``builtins._``: a doctest run earlier in the process leaves one
    (Python's own display hook sets it), and IPython's display hook then never binds ``_``
    in the namespace (it defers to a builtin ``_``, gettext's)."""
    monkeypatch.delattr(builtins, "_", raising=False)


@pytest.fixture
def shell(monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """The test IPython shell, as a notebook kernel's; names a test defines are removed after it."""
    from IPython.testing.globalipapp import get_ipython

    ip = get_ipython()
    # In a kernel the user namespace *is* sys.modules["__main__"] (classes defined in cells
    # pickle by reference to it); the test shell leaves pytest's __main__ there.
    monkeypatch.setitem(sys.modules, "__main__", ip.user_module)
    # The terminal shell computes only text/plain; a notebook frontend asks for every type.
    formatter = ip.display_formatter
    monkeypatch.setattr(formatter, "active_types", list(formatter.formatters))
    before = set(ip.user_ns)
    try:
        yield ip
    finally:
        for name in set(ip.user_ns) - before:
            del ip.user_ns[name]

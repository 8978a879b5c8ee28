"""pytest-jupyter's server fixtures, for the tests in this folder only.

They are imported here rather than registered with ``pytest_plugins`` because that would make
pytest-jupyter's autouse fixtures (a fresh asyncio loop around *every* test, server cleanup)
global: they capture the event loop Playwright runs in the browser tier and close it.
"""

from __future__ import annotations

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403 - fixtures and async-test hooks


@pytest.fixture
def jp_server_config() -> dict:
    """A server with persist_ext's extension enabled, requiring a token (the default)."""
    return {"ServerApp": {"jpserver_extensions": {"persist_ext": True}}}

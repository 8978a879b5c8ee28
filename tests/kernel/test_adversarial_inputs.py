"""Inputs hidden behind decorators: a notebook function under ``functools.lru_cache``."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

# functools decorators written in C give objects that are not functions: the globals the
# wrapped function reads (OFFSET) are inputs of the cells that call it, directly or through
# another helper.
DECORATED = [
    "import functools",
    "OFFSET = 100",
    "@functools.lru_cache\ndef shifted(x):\n    return x + OFFSET\n"
    "def doubled(x):\n    return shifted(x) * 2",
    CACHED + "direct = shifted(1)",
    CACHED + "through = doubled(1)",
]
DECORATED_CHECKS = ["direct", "through"]


def test_globals_read_by_a_cached_function_are_inputs(tmp_path: Path) -> None:
    assert_runs_match_plain(DECORATED, DECORATED_CHECKS, ("OFFSET = 100", "OFFSET = 200"), tmp_path)

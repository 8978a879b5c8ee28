"""Module-level cached functions: worker processes import them by name.

The store is the default one (``$PERSIST_EXT_DIR``, set by the tests); every execution
appends one byte to a file in ``$MEMO_TEST_COUNTS`` so a test can count real runs across
processes (the file survives a killed process).
"""

from __future__ import annotations

import os
import time

from persist_ext import cache


def _count(name: str) -> None:
    with open(os.path.join(os.environ["MEMO_TEST_COUNTS"], name), "a") as fh:
        fh.write("x")


@cache
def slow_square(x: int, delay: float = 0.3) -> int:
    _count(f"slow_square-{x}")
    time.sleep(delay)
    return x * x


def runs(name: str) -> int:
    """How many times ``name`` really ran (0 when never)."""
    try:
        with open(os.path.join(os.environ["MEMO_TEST_COUNTS"], name)) as fh:
            return len(fh.read())
    except FileNotFoundError:
        return 0


@cache
def slow_env(x: int) -> int:
    """Like ``slow_square``, sleeping ``$MEMO_TEST_DELAY`` seconds (not part of the key)."""
    _count(f"slow_env-{x}")
    time.sleep(float(os.environ.get("MEMO_TEST_DELAY", "0.3")))
    return x * x

"""Module-level task functions: process pools and spawned workers import them by name."""

from __future__ import annotations

import os
import time


def square(x: int) -> int:
    return x * x


def shout(x: int) -> int:
    print(f"out {x}")
    print(f"err {x}", file=__import__("sys").stderr)
    return x


def fail(x: int) -> int:
    raise ValueError(f"bad input {x}")


def slow_counted(x: int, directory: str) -> int:
    """Sleep a little and count executions in a file per key (survives SIGKILL)."""
    with open(os.path.join(directory, f"ran-{x}"), "a") as fh:
        fh.write("x")
    time.sleep(0.01)
    return x

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


def crash(x: int, how: str = "exit") -> int:
    """Kill the worker process running this task: ``exit``, ``segfault`` or ``kill``."""
    if how == "exit":
        os._exit(3)
    if how == "segfault":
        import ctypes

        ctypes.string_at(0)  # reads address 0: SIGSEGV
    if how == "kill":
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
    return x


def hang(x: int, seconds: float = 3600.0) -> int:
    """A task that does not come back (for timeouts)."""
    time.sleep(seconds)
    return x


def crash_once(x: int, directory: str) -> int:
    """Kill the worker the first time for this ``x``; succeed on the next try."""
    flag = os.path.join(directory, f"crashed-{x}")
    if not os.path.exists(flag):
        with open(flag, "w"):
            pass
        os._exit(7)
    return x * 10


def hang_noting_pid(directory: str) -> int:
    """Write this process's pid to ``directory/pid``, then never come back."""
    with open(os.path.join(directory, "pid"), "w") as fh:
        fh.write(str(os.getpid()))
    time.sleep(3600)
    return 0


def slow_square(x: int, seconds: float = 0.3) -> int:
    time.sleep(seconds)
    return x * x

"""Calls a test notes without being part of any key.

A cached function's key holds everything it reaches: the data in its closure and globals, the
attributes of the functions it calls (``note.calls.append(x)`` would change the key on every
call). A :class:`Noted` holds only the path of a file it appends to, so its fingerprint stays
the same whatever it noted.
"""

from __future__ import annotations

import ast
import atexit
import os
import tempfile
from typing import Any


class Noted:
    """``note(x)`` appends ``repr(x)`` to a file of its own; ``note.calls`` reads them back."""

    def __init__(self) -> None:
        handle, self.path = tempfile.mkstemp(prefix="persist-test-noted-")
        os.close(handle)
        # Removed when the test run ends (by the process that made it: a forked worker
        # inherits the handler), not before: a worker may still append meanwhile.
        atexit.register(_remove_if_made_by, os.getpid(), self.path)

    def __call__(self, value: Any) -> None:
        with open(self.path, "a") as fh:
            fh.write(f"{value!r}\n")

    @property
    def calls(self) -> list[Any]:
        with open(self.path) as fh:
            return [ast.literal_eval(line) for line in fh]


def _remove_if_made_by(pid: int, path: str) -> None:
    if os.getpid() == pid and os.path.exists(path):
        os.remove(path)

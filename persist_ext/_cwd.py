"""The working directory as the operating system reports it, and paths made absolute in it.

A notebook may replace ``os.getcwd`` (Think Python's chapter 13 fakes a home directory with
``os.getcwd = getcwd``); ``os.path.abspath``, ``os.path.realpath`` and ``Path.resolve`` call
it through the ``os`` module, so the files a cell opens by a relative path would be resolved
in the fake directory, where they are not. ``open('book.txt')`` opens the file of the real
working directory: so do these.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

__all__ = ["absolute", "getcwd", "realpath"]

# ``posix`` or ``nt``: the built-in module that ``os`` takes ``getcwd`` from.
_SYSTEM: Any = importlib.import_module(os.name)


def getcwd() -> str:
    """The process's working directory, whatever ``os.getcwd`` was replaced with."""
    return str(_SYSTEM.getcwd())


def absolute(path: str | os.PathLike[str]) -> str:
    """``os.path.abspath(path)`` in the real working directory (:func:`getcwd`).

    >>> absolute("/a/b/../c")
    '/a/c'
    """
    text = os.fspath(path)
    if not os.path.isabs(text):
        text = os.path.join(getcwd(), text)
    return os.path.normpath(text)


def realpath(path: str | os.PathLike[str]) -> str:
    """``os.path.realpath(path)`` in the real working directory (:func:`getcwd`)."""
    return os.path.realpath(absolute(path))

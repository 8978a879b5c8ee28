"""Names that become file names, and paths that must stay inside a root.

Task names such as ``"my_fn.<locals>.inner"`` and user-chosen keys become file names; a name
from the web UI becomes a path. Both go through here so nothing can escape a store's root.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .._errors import UnsafeNameError

__all__ = ["not_a_folder", "resolve_inside", "safe_name"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._+=@-]")


MAX_NAME_BYTES = 240  # file names of 255 bytes, with room for a suffix


def safe_name(name: str) -> str:
    """Return a portable file name for ``name``; distinct names stay distinct.

    Characters outside ``[A-Za-z0-9._+=@-]`` (slashes, ``<``, ``>``, spaces, ...) are written as
    ``%XX`` escapes, and a leading dot is escaped so nothing becomes hidden or ``..``.

    >>> safe_name("fit.<locals>.inner")
    'fit.%3Clocals%3E.inner'
    >>> safe_name("../etc/passwd")
    '%2E.%2Fetc%2Fpasswd'
    """
    if not isinstance(name, str) or not name:
        raise UnsafeNameError(f"A name must be a non-empty string, got {name!r}.")
    escaped = _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), name)
    if escaped.startswith("."):
        escaped = "%2E" + escaped[1:]
    if len(escaped.encode()) > MAX_NAME_BYTES:
        # File systems refuse names over 255 bytes (ENAMETOOLONG): say so before writing.
        raise UnsafeNameError(
            f"The name {name[:40]!r}... is too long for a file name: {len(name)} characters "
            f"({len(escaped.encode())} bytes once made file-safe), where names are limited to "
            f"{MAX_NAME_BYTES} bytes. Use a shorter name, e.g. a digest: "
            "persist_ext.fingerprint(name)[:16]"
        )
    return escaped


def resolve_inside(root: str | os.PathLike[str], relative: str | os.PathLike[str]) -> Path:
    """Resolve ``relative`` under ``root`` and refuse anything that would leave ``root``.

    Absolute paths, ``..`` segments and symlinks pointing outside are all refused with
    :class:`~persist_ext.UnsafeNameError`.

    >>> resolve_inside("/srv/data", "a/b.txt")
    PosixPath('/srv/data/a/b.txt')
    >>> resolve_inside("/srv/data", "../x")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    persist_ext._errors.UnsafeNameError: Path '../x' leaves the root /srv/data; ...
    """
    base = Path(root).resolve()
    rel = Path(relative)
    if rel.is_absolute():
        raise UnsafeNameError(
            f"Path {str(relative)!r} is absolute; give a path relative to {base}."
        )
    target = (base / rel).resolve()
    if target != base and base not in target.parents:
        raise UnsafeNameError(
            f"Path {str(relative)!r} leaves the root {base}; use a path inside it."
        )
    return target


def not_a_folder(path: str | os.PathLike[str]) -> Path | None:
    """The file that keeps ``path`` from being (or becoming) a folder, or ``None``.

    ``path`` itself when it is an existing file, else the nearest existing ancestor when that
    is not a directory (``data.csv/cache`` can never be created). Checked when a folder-backed
    object is made, so the mistake is named before anything is written.
    """
    current = Path(path)
    while True:
        if current.exists():
            return None if current.is_dir() else current
        if current.parent == current:
            return None
        current = current.parent

"""zensols.persist's ``ZipStash``: the entries of a zip file as a read-only stash."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..._errors import InvalidArgumentError, PersistableError
from ._base import ReadOnlyStash

__all__ = ["ZipStash"]


class ZipStash(ReadOnlyStash):
    """The entries of a zip file, by entry name (directories left out), read-only.

    Values are the entries' bytes, or text decoded with ``encoding`` (e.g. ``'utf-8'``). With
    ``root='data/raw'`` the stash shows only what is under that folder of the archive, by
    names relative to it (a root must not start or end with ``/``). Nothing is extracted and
    nothing is unpickled: an entry is read only when its key is loaded. The key list is read
    once and kept until :attr:`path` is set again.

    >>> import io, tempfile, zipfile
    >>> archive = tempfile.mktemp(suffix=".zip")
    >>> with zipfile.ZipFile(archive, "w") as z:
    ...     z.writestr("conf/a.txt", "alpha")
    >>> ZipStash(archive, root="conf", encoding="utf-8").load("a.txt")
    'alpha'
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        root: str | None = None,
        encoding: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(path, (str, os.PathLike)):
            raise InvalidArgumentError(
                f"path must be the zip file's path (str or pathlib.Path), got "
                f"{type(path).__name__}."
            )
        if root is not None and (not isinstance(root, str) or root[:1] == "/" or root[-1:] == "/"):
            raise PersistableError(
                f"Roots can not start or end with '/': {root!r}; e.g. root='data/raw'."
            )
        self._path = Path(path)
        self._root = root
        self._encoding = encoding
        self._names: dict[str, str] | None = None  # key -> entry name

    @property
    def path(self) -> Path:
        """The zip file; setting it forgets the key list read from the previous one."""
        return self._path

    @path.setter
    def path(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        self._names = None

    def _entries(self) -> dict[str, str]:
        if self._names is None:
            prefix = "" if self._root is None else self._root + "/"
            with zipfile.ZipFile(self._path) as archive:
                self._names = {
                    name[len(prefix) :]: name
                    for name in archive.namelist()
                    if not name.endswith("/") and name.startswith(prefix)
                }
        return self._names

    def load(self, name: str) -> bytes | str | None:
        """The entry's bytes (or text, with ``encoding``); ``None`` when there is none."""
        entry = self._entries().get(name)
        if entry is None:
            return None
        with zipfile.ZipFile(self._path) as archive:
            data = archive.read(entry)
        return data.decode(self._encoding) if self._encoding is not None else data

    def exists(self, name: str) -> bool:
        """Whether the archive has an entry ``name`` (under the root)."""
        return name in self._entries()

    def keys(self) -> Iterable[str]:
        """The entry names (relative to the root), directories left out."""
        return iter(list(self._entries()))

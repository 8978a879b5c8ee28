"""Stashes on the file system: one pickle file per key, or a ``shelve`` database.

:class:`DirectoryStash` writes each value to ``<path>/<pattern with the key>`` atomically
(temporary file + rename), so a crash mid-write leaves the old value or the new one.
:class:`IncrementKeyDirectoryStash` numbers values ``1, 2, 3, ...``.
:class:`ShelveStash` keeps every value in one :mod:`shelve` (dbm) database.

Security: every file (and every shelf value) is a signed record (``storage/_entry.py``):
nothing is decoded unless its MAC verifies with this machine's secret, so a file planted in
the folder, or copied from another user's stash, never runs (see docs/security.md). A value
file that is a symbolic link (or not a regular file) is refused unread: a link planted in the
folder never makes the stash read outside it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shelve
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ..._errors import CorruptEntryError, InvalidArgumentError, UnsafeNameError
from ...storage._atomic import create_locked, fsync_directory, remove_dead_temps
from ...storage._entry import Where, decode_record, encode_entry, signed_for
from ...storage._names import not_a_folder, safe_name
from ...storage._protocol import MISSING
from ._base import CloseableStash
from ._files import loads_framed, write_pickle_file

__all__ = ["DirectoryStash", "IncrementKeyDirectoryStash", "ShelveStash", "open_shelve"]


class DirectoryStash(CloseableStash):
    """One pickle file per key in directory ``path``, named by ``pattern``.

    ``pattern`` must contain ``{name}`` once; the key, made file-name safe with
    :func:`~persist_ext.storage._names.safe_name` (``/``, ``..``, ``<`` and the like are
    escaped, so no key can leave ``path``), replaces it. :meth:`keys` reads the keys back
    from the file names; files that do not match the pattern are ignored.

    Writes are atomic (``durable=True`` also fsyncs, surviving power loss at the cost of a
    disk flush per write). Files carry a header and checksum: a file persist_ext did not
    write is refused, a damaged one raises :class:`~persist_ext.InvalidPickle`. Loading a
    missing key returns ``None``. Several processes may share the directory.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> stash = DirectoryStash(pathlib.Path(tempfile.mkdtemp()))
    >>> stash["model/v1"] = {"acc": 0.9}
    >>> sorted(p.name for p in stash.path.iterdir()), list(stash.keys())
    (['model%2Fv1.dat'], ['model/v1'])
    >>> stash.load("nope") is None
    True
    """

    # Each write is a separate atomic file, so worker processes may dump here directly.
    _PROCESS_SAFE = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        pattern: str = "{name}.dat",
        *,
        durable: bool = False,
    ) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise InvalidArgumentError(
                f"path must be a path (str or pathlib.Path), got {type(path).__name__}."
            )
        self.path = Path(path)
        _check_folder(self.path, type(self).__name__, f"{type(self).__name__}('work/cache')")
        self._set_pattern(pattern)
        self.durable = durable
        self._swept = False

    def _set_pattern(self, pattern: str) -> None:
        prefix, sep, suffix = pattern.partition("{name}")
        if not sep or "{name}" in suffix or "{" in prefix + suffix or "}" in prefix + suffix:
            raise InvalidArgumentError(
                f"pattern must contain '{{name}}' exactly once and no other braces, got "
                f"{pattern!r}; e.g. '{{name}}.dat'."
            )
        if "/" in pattern or os.sep in pattern or prefix.startswith("."):
            raise InvalidArgumentError(
                f"pattern {pattern!r} must be a plain file name (no '/', not hidden); "
                "e.g. 'item-{name}.pkl'."
            )
        self.pattern = pattern
        self._prefix, self._suffix = prefix, suffix
        self._regex = re.compile(re.escape(prefix) + "(.+)" + re.escape(suffix) + r"\Z")

    def key_to_path(self, name: str) -> Path:
        """The file that holds ``name`` (inside :attr:`path`, whatever the key)."""
        if isinstance(name, int) and not isinstance(name, bool):
            name = str(name)
        return self.path / f"{self._prefix}{safe_name(name)}{self._suffix}"

    def _path_to_key(self, file_name: str) -> str | None:
        match = self._regex.match(file_name)
        if match is None:
            return None
        escaped = match.group(1)
        key = unquote(escaped)
        # Only names safe_name() produces are keys: skips temporary and foreign files.
        try:
            return key if safe_name(key) == escaped else None
        except UnsafeNameError:
            return None

    def load(self, name: str) -> Any:
        """The value of ``name``, or ``None`` when there is no file."""
        return DirectoryStash.get(self, name)  # this class's read, whatever a subclass's get

    def get(self, name: str, default: Any = None) -> Any:
        """The value of ``name``, or ``default`` when there is no file.

        A file that is a symbolic link (or not a regular file) raises
        :class:`~persist_ext.CorruptEntryError` without being read.
        """
        path = self.key_to_path(name)
        try:
            data = _read_regular(path, name)
        except FileNotFoundError:
            return default
        return loads_framed(data, where=str(path))

    def exists(self, name: str) -> bool:
        """Whether the file for ``name`` exists."""
        return self.key_to_path(name).is_file()

    def dump(self, name: str, inst: Any) -> None:
        """Atomically write ``inst`` to the file for ``name`` (creating :attr:`path`)."""
        path = self.key_to_path(name)
        self.path.mkdir(parents=True, exist_ok=True)
        if not self._swept:
            # Temp files of writers killed mid-write go on this instance's first write.
            remove_dead_temps(self.path)
            self._swept = True
        try:
            write_pickle_file(path, inst, durable=self.durable)
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                raise UnsafeNameError(
                    f"Key {name[:60]!r}... is too long for a file name; use a shorter key "
                    "(for example a digest of it)."
                ) from exc
            raise

    def delete(self, name: str | None = None) -> None:
        """Remove the file for ``name`` if present; with no name, remove every key's file."""
        if name is None:
            self.clear()
            return
        self.key_to_path(name).unlink(missing_ok=True)

    def keys(self) -> list[str]:
        """The keys of the files in :attr:`path` (sorted; ``[]`` when it does not exist)."""
        try:
            names = os.listdir(self.path)
        except FileNotFoundError:
            return []
        return sorted(key for key in map(self._path_to_key, names) if key is not None)

    def __len__(self) -> int:
        return len(self.keys())

    def close(self) -> None:
        """Nothing to release (files are closed after each operation)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, pattern={self.pattern!r})"


def _read_regular(path: Path, name: str) -> bytes:
    """The bytes of ``path``, never through a symbolic link (a planted one could lead outside)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)  # O_NONBLOCK: a planted FIFO does not hang the open
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        what = "is a symbolic link"
    else:
        with os.fdopen(fd, "rb") as handle:
            if stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return handle.read()
        what = "is not a regular file"
    raise CorruptEntryError(
        f"The stash file {path} for key {name!r} {what}; DirectoryStash never reads through "
        "it (it could lead outside the stash folder). Delete it (stash.delete(key)) or put "
        "the real file in its place",
        key=str(name),
    )


class IncrementKeyDirectoryStash(DirectoryStash):
    """A :class:`DirectoryStash` with integer keys ``"1", "2", ...`` in files ``<name>-<n>.dat``.

    ``dump(value)`` with one argument stores under the next free key and returns it; this is
    safe when several processes append at once (each file is created exclusively).
    ``load()`` with no key loads the highest key.

    Examples
    --------
    >>> import tempfile
    >>> runs = IncrementKeyDirectoryStash(tempfile.mkdtemp(), name="run")
    >>> runs.dump({"loss": 0.5}), runs.dump({"loss": 0.3})
    ('1', '2')
    >>> runs.load(), runs.get_last_key(), list(runs.keys())
    ({'loss': 0.3}, '2', ['1', '2'])
    """

    def __init__(
        self, path: str | os.PathLike[str], name: str = "data", *, durable: bool = False
    ) -> None:
        super().__init__(path, safe_name(name) + "-{name}.dat", durable=durable)
        self.name = name

    def keys(self) -> list[str]:
        """The integer keys present, as strings, in numeric order."""
        names = super().keys()
        return sorted((k for k in names if k.isdigit() and str(int(k)) == k), key=int)

    def get_last_key(self, inc: bool = False) -> str:
        """The highest key (``"0"`` when empty); with ``inc=True``, that plus one."""
        keys = self.keys()
        last = int(keys[-1]) if keys else 0
        return str(last + 1 if inc else last)

    def dump(self, name_or_inst: Any, inst: Any = MISSING) -> str:  # type: ignore[override]
        """``dump(key, value)`` stores under ``key``; ``dump(value)`` takes the next key.

        Returns the key used.
        """
        if inst is not MISSING:
            super().dump(name_or_inst, inst)
            return str(name_or_inst)
        return self._dump_next(name_or_inst)

    def _dump_next(self, inst: Any) -> str:
        entry = encode_entry("", inst)  # serialized once, signed for each name it tries
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / f".next.{secrets.token_hex(8)}.tmp"
        # Held (flock) until it is linked and unlinked: cleanup only removes dead writers' temps.
        handle = create_locked(tmp)  # umask permissions, like every persist_ext file
        try:
            while True:
                key = self.get_last_key(inc=True)
                target = self.key_to_path(key)
                # A file is signed for its name; no other name links to the temp file yet.
                handle.seek(0)
                handle.write(signed_for(entry, target.name).record())
                handle.flush()
                if self.durable:
                    os.fsync(handle.fileno())
                try:
                    # link() fails if the target exists: two appenders never share a key,
                    # and readers see the complete file or none.
                    os.link(tmp, target)
                    break
                except FileExistsError:
                    continue
                except OSError:  # file systems without hard links
                    try:
                        reserved = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
                    except FileExistsError:
                        continue
                    os.close(reserved)
                    os.replace(tmp, target)
                    break
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            handle.close()
        if self.durable:
            fsync_directory(self.path)
        return key

    def load(self, name: str | None = None) -> Any:
        """The value of ``name``; with no name, the value of the highest key (or ``None``)."""
        if name is None:
            keys = self.keys()
            if not keys:
                return None
            name = keys[-1]
        return super().load(name)


def _check_folder(path: Path, owner: str, example: str) -> None:
    """Refuse a folder that cannot exist (a file is in the way) before anything is written."""
    blocker = not_a_folder(path)
    if blocker is not None:
        what = f"{path} is a file" if blocker == path else f"{blocker} is a file"
        raise InvalidArgumentError(
            f"{owner} keeps its files in the folder {path}, but {what}; pass a folder path "
            f"(it is created if missing), e.g. {example}."
        )


_UNKNOWN: Any = object()
# The files the dbm modules make for a shelve at ``path``: gnu/ndbm the path itself or
# ``.db``; ndbm on some systems ``.pag``/``.dir``; dumb ``.dat``/``.dir``/``.bak``.
_DBM_SUFFIXES = ("", ".db", ".pag", ".dat", ".dir", ".bak")


class ShelveStash(CloseableStash):
    """All values in one :mod:`shelve` database at ``path`` (dbm files beside it).

    With ``auto_close=True`` (default) the database is closed after every operation, so the
    file is always consistent and other instances see the changes; with ``False`` it stays
    open (faster) until :meth:`close`. ``writeback`` is passed to :func:`shelve.open`.
    A dbm database is for one process at a time; use :class:`DirectoryStash` or
    :class:`~persist_ext.DiskCacheStash` for several.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with ShelveStash(pathlib.Path(tempfile.mkdtemp()) / "db") as stash:
    ...     stash["a"] = [1, 2]
    ...     stash["a"], list(stash.keys())
    ([1, 2], ['a'])
    """

    _extension: str | None = _UNKNOWN

    def __init__(
        self, path: str | os.PathLike[str], writeback: bool = True, auto_close: bool = True
    ) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise InvalidArgumentError(
                f"path must be a path (str or pathlib.Path), got {type(path).__name__}; "
                "e.g. ShelveStash('work/cache')."
            )
        self.path = Path(path)
        _check_folder(self.path.parent, "ShelveStash", "ShelveStash('work/cache')")
        self.writeback = writeback
        self.auto_close = auto_close
        self._shelf: shelve.Shelf[Any] | None = None

    @classmethod
    def get_extension(cls) -> str | None:
        """The suffix (without the dot) dbm adds to a shelve's path here, or ``None``.

        Which dbm module :mod:`shelve` uses depends on the Python build, and some add a suffix
        (``db``, ``dat``) to the path they are given; found once by creating a throwaway shelf.
        """
        if cls._extension is _UNKNOWN:
            with tempfile.TemporaryDirectory() as folder:
                base = Path(folder) / "probe"
                shelve.open(str(base), flag="c").close()
                names = sorted(path.name for path in Path(folder).iterdir())
                suffixes = [name[len("probe.") :] for name in names if name.startswith("probe.")]
                cls._extension = None if "probe" in names or not suffixes else suffixes[0]
        return cls._extension  # type: ignore[return-value]

    @property
    def is_open(self) -> bool:
        """Whether the database is currently open."""
        return self._shelf is not None

    @contextlib.contextmanager
    def _open(self) -> Iterator[shelve.Shelf[Any]]:
        if self._shelf is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Kept open across calls when auto_close is False; close() releases it.
            self._shelf = _SignedShelf(str(self.path), self.writeback)
        try:
            yield self._shelf
        finally:
            if self.auto_close:
                self.close()

    @staticmethod
    def _check_key(name: object) -> str:
        if not isinstance(name, str):
            raise InvalidArgumentError(
                f"ShelveStash keys are str, got {type(name).__name__} {name!r}; convert it, "
                "e.g. str(key)."
            )
        return name

    def load(self, name: str) -> Any:
        """The value of ``name``, or ``None``."""
        with self._open() as shelf:
            return shelf.get(self._check_key(name))

    def get(self, name: str, default: Any = None) -> Any:
        """The value of ``name``, or ``default``."""
        with self._open() as shelf:
            return shelf.get(self._check_key(name), default)

    def exists(self, name: str) -> bool:
        """Whether ``name`` is stored."""
        with self._open() as shelf:
            return self._check_key(name) in shelf

    def dump(self, name: str, inst: Any) -> None:
        """Store ``inst`` under ``name``; an unpicklable value leaves the old one."""
        key = self._check_key(name)
        with self._open() as shelf:
            shelf[key] = inst  # serialized before anything is cached or written

    def delete(self, name: str | None = None) -> None:
        """Remove ``name`` if present; with no name, remove everything."""
        if name is None:
            self.clear()
            return
        key = self._check_key(name)
        with self._open() as shelf:
            if key in shelf:
                del shelf[key]

    def keys(self) -> list[str]:
        """Every key (a list: the database may be closed once this returns)."""
        with self._open() as shelf:
            return list(shelf.keys())

    def __len__(self) -> int:
        with self._open() as shelf:
            return len(shelf)

    def clear(self) -> None:
        """Remove every value and the database's files (the next use creates them again)."""
        self.close()
        for suffix in _DBM_SUFFIXES:
            with contextlib.suppress(FileNotFoundError):
                self.path.with_name(self.path.name + suffix).unlink()

    def close(self) -> None:
        """Write back cached values and close the database."""
        shelf, self._shelf = self._shelf, None
        if shelf is not None:
            shelf.close()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_shelf"] = None
        return state

    def __repr__(self) -> str:
        return f"ShelveStash({str(self.path)!r})"


@contextlib.contextmanager
def open_shelve(path: str | os.PathLike[str], **kwargs: Any) -> Iterator[ShelveStash]:
    """A :class:`ShelveStash` at ``path`` for a ``with`` block, closed at its end.

    The seed calls this ``shelve``; :mod:`persist_ext.stash` exports it under that name.

    >>> import tempfile, pathlib
    >>> with open_shelve(pathlib.Path(tempfile.mkdtemp()) / "db") as stash:
    ...     stash.dump("a", 1)
    ...     stash.load("a")
    1
    """
    stash = ShelveStash(path, **kwargs)
    try:
        yield stash
    finally:
        stash.close()


class _SignedShelf(shelve.Shelf):
    """A :class:`shelve.Shelf` whose values are signed records, not bare pickles.

    ``shelve`` unpickles whatever the database holds; here every value is one record of
    ``storage/_entry.py`` keyed by its shelf key, verified (checksum, then MAC) before it is
    decoded, so a value planted in the dbm file never runs.
    """

    # Set by Shelf.__init__; typeshed does not declare them.
    cache: dict[str, Any]
    dict: Any
    keyencoding: str
    writeback: bool

    def __init__(self, filename: str, writeback: bool) -> None:
        import dbm

        # The Shelf owns the database handle and closes it in close().
        super().__init__(dbm.open(filename, "c"), protocol=5, writeback=writeback)  # type: ignore[arg-type]  # noqa: SIM115
        self._filename = filename

    def __getitem__(self, key: str) -> Any:
        try:
            return self.cache[key]
        except KeyError:
            pass
        where = Where(f"Value {key!r} of the shelf {self._filename}", self._filename)
        value = decode_record(key, self.dict[key.encode(self.keyencoding)], where)
        if self.writeback:
            self.cache[key] = value
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        record = encode_entry(key, value).record()  # SerializationError: nothing changed
        if self.writeback:
            self.cache[key] = value
        self.dict[key.encode(self.keyencoding)] = record

"""Files and folders a cell reads, writes, creates or removes, seen through audit events.

Python raises an audit event for every ``open`` (including ``pd.read_csv``, ``np.load`` and
the source of an imported module), ``os.mkdir``, ``os.remove``, ``os.rename``, ``shutil``
operations and so on (PEP 578). One hook is installed for the life of the process (audit
hooks cannot be removed) and serves every watcher: the file watch here and the events the
checkpoint cell log subscribes to (:func:`subscribe`). It is called for every audit event of
the process (importing pandas raises ~12,000, mostly ``builtins.id``), so the first thing it
does is one set lookup that drops every event nobody watches.

Files of the Python installation, installed packages and per-user caches (fonts, IPython
history) are not a cell's inputs and are left out. Reads done by C libraries that bypass
Python's ``open`` (a few readers of binary formats) are not seen: name them with ``--deps``.
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from threading import get_ident
from types import FrameType
from typing import Any

import xxhash

from ..._cwd import realpath
from ..._threads import is_housekeeping

__all__ = ["FileWatch", "listing_digest", "subscribe", "watch_files"]

_WRITE_MODE = frozenset("wax+")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _ignored_roots() -> tuple[str, ...]:
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, "/proc", "/sys", "/dev", "/etc"}
    paths = sysconfig.get_paths()  # computed afresh on each call (~0.5 ms)
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        if key in paths:
            roots.add(paths[key])
    try:
        roots.update(site.getsitepackages())
        roots.add(site.getusersitepackages())
    except Exception:
        pass
    home = Path.home()
    for sub in (".cache", ".config", ".ipython", ".matplotlib", ".local/share/jupyter"):
        roots.add(str(home / sub))
    for var in ("MPLCONFIGDIR", "IPYTHONDIR", "JUPYTER_RUNTIME_DIR", "XDG_CACHE_HOME"):
        if os.environ.get(var):
            roots.add(os.environ[var])
    # Both spellings: a path as opened (an import's path comes from sys.path, unresolved) is
    # checked before it is resolved, which costs a system call per component.
    spelled = {os.path.abspath(r) for r in roots if r} | {os.path.realpath(r) for r in roots if r}
    return tuple(sorted(r.rstrip(os.sep) + os.sep for r in spelled))


@dataclass
class FileWatch:
    """What one cell run did to the file system (absolute, resolved paths)."""

    read: set[str] = field(default_factory=set)
    written: set[str] = field(default_factory=set)
    created_dirs: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    #: Files the cell created exclusively (mode ``x``, ``O_EXCL``: ``tempfile`` makes its
    #: files so) and folders it made that did not exist (``os.makedirs(p, exist_ok=True)``
    #: asks for an existing one too): what is in them is the cell's own.
    created_files: set[str] = field(default_factory=set)
    new_dirs: set[str] = field(default_factory=set)
    other: set[str] = field(default_factory=set)
    #: Programs the cell started (``subprocess``, ``os.system``; ``!cmd`` is seen in the
    #: code): what they read and write is not seen, so such a cell cannot be restored.
    commands: set[str] = field(default_factory=set)
    #: ``os.putenv``/``os.unsetenv`` calls, name -> value (``None``: unset), last one wins;
    #: ``os.environ`` makes them too, and only those it does not show are lost by a restore.
    putenv: dict[str, str | None] = field(default_factory=dict)
    #: SQLite databases opened (``sqlite3.connect``): read or written, unseen.
    databases: set[str] = field(default_factory=set)
    #: Folders the cell listed (``glob.glob``, ``os.listdir``, ``Path.iterdir``) -> digest of
    #: their entries as the cell saw them (taken as the listing starts, before the cell's own
    #: writes): which files a cell finds is an input like their contents.
    listed: dict[str, str] = field(default_factory=dict)
    relative: bool = False  # some path was relative to the working directory
    ignore: tuple[str, ...] = ()

    def _path(self, raw: Any) -> str | None:
        if isinstance(raw, int) or raw is None:
            return None
        try:
            text = os.fsdecode(raw)
        except TypeError:
            return None
        if not os.path.isabs(text):
            self.relative = True
        elif text.startswith(self.ignore) or "__pycache__" in text:
            # Opened under the installation or a cache, whatever a link there points to:
            # importing pandas opens ~1,400 such files, and resolving each took ~0.1 ms.
            return None
        path = realpath(text)  # not os.getcwd(): a notebook may replace it
        if path.startswith(self.ignore) or "__pycache__" in path:
            return None
        return path

    def event(self, name: str, args: tuple[Any, ...]) -> None:
        if name == "open":
            path = self._path(args[0])
            if path is None:
                return
            mode, flags = args[1], args[2] if len(args) > 2 else 0
            writing = (isinstance(mode, str) and bool(_WRITE_MODE & set(mode))) or (
                mode is None and bool((flags or 0) & _WRITE_FLAGS)
            )
            (self.written if writing else self.read).add(path)
            if (isinstance(mode, str) and "x" in mode) or (
                mode is None and (flags or 0) & os.O_EXCL and (flags or 0) & os.O_CREAT
            ):
                self.created_files.add(path)
        elif name in ("os.listdir", "os.scandir"):
            if _by_import_system():
                return
            path = self._path("." if args[0] is None else args[0])
            if path is not None and path not in self.listed:
                self.listed[path] = listing_digest(path)
        elif name == "os.mkdir":
            path = self._path(args[0])
            if path is not None:
                self.created_dirs.add(path)
                if not os.path.lexists(path):  # the event comes before the folder is made
                    self.new_dirs.add(path)
        elif name in ("os.remove", "os.rmdir", "shutil.rmtree", "os.truncate"):
            path = self._path(_beside_fd(args))
            if path is not None:
                self.removed.add(path)
        elif name in ("os.rename", "shutil.move", "shutil.copyfile", "shutil.copytree"):
            src, dst = self._path(args[0]), self._path(args[1])
            if name in ("os.rename", "shutil.move") and src is not None:
                self.removed.add(src)
            if dst is not None:
                self.written.add(dst)
        elif name in _COMMAND_EVENTS:
            program = _program(name, args)
            if program not in READ_ONLY_PROGRAMS:
                self.commands.add(program)
        elif name == "sqlite3.connect":
            # SQLite reads and writes its database from C: no ``open`` event. An in-memory
            # database is no file.
            path = None if args[0] in (":memory:", b":memory:", "") else self._path(args[0])
            if path is not None:
                self.databases.add(path)
        elif name == "os.putenv":
            self.putenv[os.fsdecode(args[0])] = os.fsdecode(args[1])
        elif name == "os.unsetenv":
            self.putenv[os.fsdecode(args[0])] = None
        elif name in ("os.symlink", "os.link", "os.chmod", "os.chown", "os.utime"):
            path = self._path(args[-2] if name in ("os.symlink", "os.link") else args[0])
            if path is not None:
                self.other.add(f"{name} {path}")

    @property
    def inputs(self) -> list[str]:
        """Files read and not written by the cell: part of its key."""
        return sorted(p for p in self.read - self.written if os.path.isfile(p))

    @property
    def removed_existing(self) -> list[str]:
        """Paths the cell removed or renamed that may have existed before it ran: not those
        it made itself (inside a folder it created, or a file it created exclusively), as
        ``tempfile``'s files and folders are, whose removal leaves the disk as it was.

        >>> watch = FileWatch(new_dirs={"/t/tmp"}, removed={"/t/tmp/a.tex", "/t/tmp", "/d/x"})
        >>> watch.removed_existing
        ['/d/x']
        """
        return sorted(p for p in self.removed if p not in self.created_files and not self._made(p))

    @property
    def listed_inputs(self) -> dict[str, str]:
        """:attr:`listed` without the folders the cell created (inside or equal to one): what
        it finds in its own folder is its own doing, not an input."""
        return {p: d for p, d in self.listed.items() if not self._made(p)}

    def _made(self, path: str) -> bool:
        """Whether ``path`` is a folder the cell created or lies inside one."""
        return path in self.new_dirs or any(
            path.startswith(d.rstrip(os.sep) + os.sep) for d in self.new_dirs
        )

    @property
    def outputs(self) -> list[str]:
        """Files the cell wrote that still exist."""
        return sorted(p for p in self.written if os.path.isfile(p))


def _beside_fd(args: tuple[Any, ...]) -> Any:
    """The path of an ``os.remove``/``os.rmdir`` event: with a ``dir_fd`` (``shutil.rmtree``
    removes a tree's entries by name relative to their folder's descriptor), joined to that
    folder's path where the system tells it (``/proc/self/fd``)."""
    raw = args[0]
    fd = args[1] if len(args) > 1 else -1
    if not isinstance(fd, int) or fd < 0 or isinstance(raw, int) or os.path.isabs(raw):
        return raw
    try:
        return os.path.join(os.readlink(f"/proc/self/fd/{fd}"), os.fsdecode(raw))
    except (OSError, TypeError, ValueError):
        return raw


def _by_import_system() -> bool:
    """Whether the folder listing being audited is the import system's: its finders list
    each ``sys.path`` folder (the notebook's own among them) to know what it holds, on any
    first import of a module. No input of the cell's: a later file in the folder is not
    something it read."""
    frame: FrameType | None = sys._getframe(2)  # past event() and the audit hook calling it
    for _ in range(8):
        if frame is None:
            return False
        if "importlib" in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


def listing_digest(path: str) -> str:
    """A digest of the names in folder ``path`` (``"missing"`` when it is not a folder)."""
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return "missing"
    return xxhash.xxh3_64_hexdigest("\0".join(names).encode())


_COMMAND_EVENTS = frozenset(
    {"subprocess.Popen", "os.system", "os.posix_spawn", "os.exec", "os.spawn"}
)


def _program(name: str, args: tuple[Any, ...]) -> str:
    """The program an audited start of a command runs (a shell line: ``sh``, never probed)."""
    if name == "os.system":
        return "sh"
    raw = args[1] if name == "os.spawn" else args[0]
    if raw is None and name == "subprocess.Popen":
        argv = args[1]
        raw = argv if isinstance(argv, (str, bytes)) else next(iter(argv or ()), None)
    if raw is None:
        return name
    return os.path.basename(os.fsdecode(raw)) or name


#: Programs libraries start to probe the machine (joblib/loky run ``lscpu`` on a
#: scikit-learn fit, ``platform`` runs ``uname``): they change nothing and read no file of
#: the notebook's, so a cell that starts only these can still be restored.
READ_ONLY_PROGRAMS = frozenset(
    {"lscpu", "uname", "nproc", "getconf", "sysctl", "fc-list", "fc-match", "nvidia-smi"}
)

#: The events :meth:`FileWatch.event` records.
FILE_EVENTS = frozenset(
    {
        *_COMMAND_EVENTS,
        "os.putenv",
        "os.unsetenv",
        "sqlite3.connect",
        "open",
        "os.listdir",
        "os.scandir",
        "os.mkdir",
        "os.remove",
        "os.rmdir",
        "shutil.rmtree",
        "os.truncate",
        "os.rename",
        "shutil.move",
        "shutil.copyfile",
        "shutil.copytree",
        "os.symlink",
        "os.link",
        "os.chmod",
        "os.chown",
        "os.utime",
    }
)

_ACTIVE: list[FileWatch] = []
_INSTALLED = False
_BUSY: set[int] = set()  # threads inside the hook
_IGNORE: tuple[str, ...] = ()
_WANTED: frozenset[str] = FILE_EVENTS  # every event some watcher records
_SUBSCRIBERS: list[tuple[frozenset[str], Callable[[str, tuple[Any, ...]], None]]] = []


def _hook(name: str, args: tuple[Any, ...]) -> None:
    if name not in _WANTED:
        return
    thread = get_ident()
    # Per thread: realpath() may raise events of its own (never recurse), while an event of
    # another thread arriving meanwhile is still recorded.
    if thread in _BUSY or is_housekeeping():  # persist_ext's own upkeep is no cell's doing
        return
    _BUSY.add(thread)
    try:
        if _ACTIVE and name in FILE_EVENTS:
            _ACTIVE[-1].event(name, args)
        for names, callback in _SUBSCRIBERS:
            if name in names:
                callback(name, args)
    except Exception:  # an odd argument must never disturb the user's cell
        pass
    finally:
        _BUSY.discard(thread)


def _install() -> None:
    global _INSTALLED, _IGNORE
    if not _INSTALLED:
        _IGNORE = _ignored_roots()
        sys.addaudithook(_hook)
        _INSTALLED = True


def subscribe(names: frozenset[str], callback: Callable[[str, tuple[Any, ...]], None]) -> None:
    """Call ``callback(name, args)`` for the audit events ``names`` from now on.

    For watchers of the whole process (the checkpoint cell log): the callback decides
    whether anything is being watched, and must be cheap and never raise.
    """
    global _WANTED
    _install()
    _SUBSCRIBERS.append((names, callback))
    _WANTED = _WANTED | names


class watch_files:
    """Record the file operations of the block (nested watches: the innermost records).

    A class rather than a ``@contextmanager`` generator (half the cost): every cell is
    watched by the checkpoint cell log, and a cached cell's run once more.
    """

    __slots__ = ("_watch",)

    def __enter__(self) -> FileWatch:
        _install()
        self._watch = watch = FileWatch(ignore=_IGNORE)
        _ACTIVE.append(watch)
        return watch

    def __exit__(self, *exc: object) -> None:
        # By identity: watches are dataclasses, and an outer watch equal to this one (both
        # empty) must not be the one removed.
        watch = self._watch
        _ACTIVE[:] = [w for w in _ACTIVE if w is not watch]

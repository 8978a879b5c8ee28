"""The ``%persist`` line magic and ``%%persist`` cell magic.

Load with ``%load_ext persist_ext``. Configure in ``ipython_config.py`` or a kernel's config::

    c.PersistMagics.directory = "/data/cache"   # default: $PERSIST_EXT_DIR or ./.persist
    c.PersistMagics.quiet = False               # no "restored ..." notice when True
    c.PersistMagics.verbose = False             # say why a cell ran and what was stored
    c.PersistMagics.expire = ""                 # default --expire, e.g. "7d"; "" = never
    c.PersistMagics.env = False                 # always key on package versions (--env)
    c.PersistMagics.mmap = False                # memory-map restored numpy arrays
    c.PersistMagics.keep = 3                    # entries kept per cell for its current code

or at run time with ``%config PersistMagics.directory = "/data/cache"``.

The magic bodies are thin dispatchers: they parse arguments and call the cell cache in
:mod:`persist_ext.features._cellcache`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, Int, TraitError, Unicode, validate

from .._config import ENV_VAR, default_directory
from .._errors import CellRaisedError
from ..features._cellcache import CellCache, CellOptions

__all__ = ["PersistMagics", "load_ipython_extension", "parse_duration", "unload_ipython_extension"]

_SUBCOMMANDS = ("list", "show", "clear", "info", "why", "browse", "checkpoint", "restore")
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(s|min|m|h|d|w)?", re.IGNORECASE)
_CELL_ONLY = ("refresh", "expire", "vars", "deps", "env", "ignore", "mmap")


def parse_duration(text: str) -> float:
    """Seconds in a duration: ``"90"``, ``"90s"``, ``"10m"``, ``"1h30m"``, ``"7d"``, ``"2w"``.

    Raises
    ------
    ValueError
        The text is not a positive duration; the message shows the accepted forms.

    Examples
    --------
    >>> parse_duration("1h30m"), parse_duration("45")
    (5400.0, 45.0)
    >>> parse_duration("soon")
    Traceback (most recent call last):
    ValueError: Cannot read 'soon' as a duration; use e.g. 90s, 10m, 2h, 7d, 1w or 1h30m.
    """
    cleaned = text.strip().lower().replace(" ", "")
    pos, total = 0, 0.0
    while pos < len(cleaned):
        match = _PART.match(cleaned, pos)
        if match is None or match.end() == pos:
            break
        total += float(match.group(1)) * _UNITS[(match.group(2) or "s").lower()]
        pos = match.end()
    if not cleaned or pos != len(cleaned) or total <= 0:
        raise ValueError(
            f"Cannot read {text!r} as a duration; use e.g. 90s, 10m, 2h, 7d, 1w or 1h30m."
        )
    return total


@magics_class
class PersistMagics(Magics):
    """Cache notebook cells and browse what is cached."""

    directory = Unicode(
        "",
        help=f"Store directory. Empty: ${ENV_VAR} if set, else ./.persist beside the notebook.",
    ).tag(config=True)
    quiet = Bool(False, help="Do not print the 'restored ...' notice after a hit.").tag(config=True)
    verbose = Bool(False, help="Print why a cell ran and what was stored.").tag(config=True)
    expire = Unicode(
        "", help="Default lifetime of cached cells, e.g. '7d' or '12h'; empty: never expire."
    ).tag(config=True)
    env = Bool(
        False, help="Key every cell on the Python and package versions it uses (like --env)."
    ).tag(config=True)
    mmap = Bool(False, help="Restore large numpy arrays memory-mapped (read-only).").tag(
        config=True
    )
    keep = Int(
        3, help="Entries kept per cell for its current code (different inputs); at least 1."
    ).tag(config=True)

    @validate("expire")
    def _check_expire(self, proposal: Any) -> str:
        value = str(proposal["value"])
        if value:
            try:
                parse_duration(value)
            except ValueError as exc:
                raise TraitError(str(exc)) from exc
        return value

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._stores: dict[str, Any] = {}
        self._caches: dict[str, CellCache] = {}
        self._cell: tuple[str | None, str] = (None, "")
        self._busy = False

    # ----------------------------------------------------------------- stores
    @property
    def store_directory(self) -> Path:
        """The directory this shell's store lives in (after config and environment)."""
        return default_directory(self.directory or None)

    def _location(self, args: Any) -> str:
        chosen = args.dir or args.store
        if chosen and "://" in chosen:
            return str(chosen)
        return str(default_directory(chosen or self.directory or None).absolute())

    def cache_for(self, location: str) -> CellCache:
        """The cell cache on the store at ``location`` (a directory or a ``redis://`` URL)."""
        if location not in self._caches:
            if location.startswith(("redis://", "rediss://", "unix://")):
                from ..storage._redis import RedisStore

                store: Any = RedisStore(location)
            elif "://" in location:
                raise UsageError(f"Unknown store URL {location!r}; give a directory or redis://.")
            else:
                from ..storage._store import Store

                store = Store(location)
            self._stores[location] = store
            self._caches[location] = CellCache(store)
        return self._caches[location]

    def close(self) -> None:
        """Close every store this shell opened."""
        for store in self._stores.values():
            try:
                store.close()
            except Exception:
                pass
        self._stores.clear()
        self._caches.clear()

    def _on_pre_run_cell(self, info: Any) -> None:
        # The notebook cell id names an unnamed cached cell across kernel restarts. Cells
        # run by the cache itself (nested run_cell) must not overwrite it.
        if not self._busy:
            self._cell = (getattr(info, "cell_id", None), getattr(info, "raw_cell", "") or "")

    # ----------------------------------------------------------------- the magic
    @magic_arguments()
    @argument(
        "words",
        nargs="*",
        help="Line magic: list | show NAME | clear [NAME] | info | why [NAME] | browse | "
        "checkpoint [NAME] | restore [NAME]. "
        "Cell magic: an optional cell name (default: the notebook cell's id).",
    )
    @argument("--refresh", action="store_true", help="Run the cell and replace its entry.")
    @argument("--expire", metavar="DURATION", help="Forget the entry after e.g. 90s, 2h, 7d.")
    @argument("--vars", metavar="A,B", help="Store only these variables (comma-separated).")
    @argument("--dir", metavar="PATH", help="Store directory for this cell or command.")
    @argument("--store", metavar="PATH", help="Same as --dir; also accepts redis://HOST/DB.")
    @argument(
        "--deps",
        metavar="PATH",
        nargs="+",
        action="extend",
        default=[],
        help="Files (globs, directories) the cell reads; their content is part of the key.",
    )
    @argument(
        "--env", action="store_true", help="Also key on the Python and package versions used."
    )
    @argument(
        "--ignore",
        metavar="NAME",
        nargs="+",
        action="extend",
        default=[],
        help="Inputs to leave out of the key (e.g. a database connection).",
    )
    @argument("--mmap", action="store_true", help="Restore numpy arrays memory-mapped.")
    @argument("--all", action="store_true", help="With `clear`: remove every cached cell.")
    @argument("--quiet", action="store_true", help="Say nothing when a cell is restored.")
    @argument("--verbose", action="store_true", help="Say more (with `why`: every component).")
    @line_cell_magic
    def persist(self, line: str, cell: str | None = None) -> Any:
        """Run a cell once; afterwards restore its variables and outputs instead of running it.

        ``%%persist [NAME] [options]`` on the first line of a cell caches it. The cell is
        keyed on its code (comments and formatting ignored), the values of the names it
        reads, the code of the functions and classes it uses (transitively), ``--deps``
        files and, with ``--env``, package versions. When nothing changed, the cell is not
        executed: every variable it defined, rebound or mutated is put back and its output
        (text, tables, figures) is shown again.

        ``%persist list`` (name, size, age, run time, hits), ``%persist show NAME``,
        ``%persist clear NAME`` / ``%persist clear --all``, ``%persist info``,
        ``%persist why [NAME] [--verbose]`` (what differs from the stored entry) and
        ``%persist browse`` inspect the cache.

        ``%persist checkpoint [NAME]`` saves every variable of the notebook (and the modules
        it imported); after a kernel restart ``%persist restore [NAME]`` puts them back.

        Defaults come from ``c.PersistMagics.directory / quiet / verbose / expire / env /
        mmap / keep`` (``%config PersistMagics``).
        """
        try:
            args = parse_argstring(self.persist, line)
        except UsageError:
            raise
        except Exception as exc:  # argparse reports through SystemExit / ArgumentError
            raise UsageError(f"%persist: {exc}") from exc
        if cell is None:
            return self._line(args)
        return self._cell_magic(args, cell)

    def _cell_magic(self, args: Any, cell: str) -> None:
        if len(args.words) > 1:
            raise UsageError(
                f"%%persist takes one cell name, got {' '.join(args.words)!r}; "
                "put options after the name, e.g. %%persist load --deps data.csv."
            )
        if args.all:
            raise UsageError("--all only applies to `%persist clear`.")
        options = self._options(args, cell)
        cache = self._cache(args)
        self._busy = True
        try:
            result = cache.run(self.shell, cell, options)
        except CellRaisedError:
            raise
        finally:
            self._busy = False
        quiet = args.quiet or (self.quiet and not args.verbose)
        if result.hit and not quiet:
            print(result.notice())
        elif not result.hit and (args.verbose or self.verbose):
            print(result.notice())
            for difference in result.reason:
                print(f"  - {difference.message}")

    def _options(self, args: Any, cell: str) -> CellOptions:
        expire_text = args.expire if args.expire is not None else self.expire
        try:
            expire = parse_duration(expire_text) if expire_text else None
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        variables = None
        if args.vars is not None:
            variables = tuple(v.strip() for v in args.vars.split(",") if v.strip())
            bad = [v for v in variables if not v.isidentifier()]
            if bad or not variables:
                raise UsageError(f"--vars takes comma-separated variable names, got {args.vars!r}.")
        cell_id, raw = self._cell
        # Use the notebook cell id only when it belongs to the cell being run now.
        use_id = cell_id if cell_id and cell.strip() and cell.strip() in raw else None
        return CellOptions(
            name=args.words[0] if args.words else None,
            refresh=args.refresh,
            expire=expire,
            variables=variables,
            deps=tuple(args.deps),
            env=args.env or self.env,
            ignore=tuple(args.ignore),
            mmap=args.mmap or self.mmap,
            keep=max(int(self.keep), 1),
            cell_id=use_id,
        )

    def _cache(self, args: Any) -> CellCache:
        location = self._location(args)
        try:
            return self.cache_for(location)
        except UsageError:
            raise
        except Exception as exc:
            raise UsageError(f"Cannot open the store at {location}: {exc}") from exc

    def _line(self, args: Any) -> Any:
        if not args.words:
            raise UsageError(f"%persist needs a subcommand: one of {', '.join(_SUBCOMMANDS)}.")
        sub, rest = args.words[0], args.words[1:]
        if sub not in _SUBCOMMANDS:
            raise UsageError(
                f"Unknown %persist subcommand {sub!r}; use one of {', '.join(_SUBCOMMANDS)}."
            )
        given = [f"--{o}" for o in _CELL_ONLY if getattr(args, o) not in (None, False, [])]
        if given:
            raise UsageError(f"{', '.join(given)} only apply to the %%persist cell magic.")
        if len(rest) > 1 or (rest and sub in ("list", "info", "browse")):
            raise UsageError(f"%persist {sub} got unexpected arguments: {' '.join(rest)!r}.")
        if sub == "show" and not rest:
            raise UsageError("%persist show needs a cell name; see %persist list.")
        if sub == "clear" and not rest and not args.all:
            raise UsageError("%persist clear needs a cell name, or --all to clear everything.")
        location = self._location(args)
        if sub in ("checkpoint", "restore"):
            return self._checkpoint(sub, rest[0] if rest else "default", args, location)
        if sub == "info":
            exists = "://" in location or Path(location).exists()
            if not exists:
                return self._summary(location)
            return self._cache(args).info(location, True)
        if "://" not in location and not Path(location).exists():
            # Looking must not create a store.
            if sub in ("show", "why"):
                raise UsageError(f"Nothing is cached yet: the store {location} does not exist.")
            if sub in ("list", "browse"):
                from ..features._cellcache._views import EntryTable

                return EntryTable([], directory=location)
            if sub == "clear":
                return _Cleared(0, "every cell" if args.all else rest[0])
        cache = self._cache(args)
        if sub == "list":
            return cache.list(location)
        if sub == "show":
            try:
                return cache.show(rest[0])
            except KeyError:
                raise UsageError(f"No cached cell named {rest[0]!r}; see %persist list.") from None
        if sub == "clear":
            removed = cache.clear(None if args.all else rest[0])
            return _Cleared(removed, "every cell" if args.all else rest[0])
        if sub == "why":
            try:
                return cache.why(self.shell, rest[0] if rest else None, verbose=args.verbose)
            except LookupError as exc:
                raise UsageError(str(exc)) from exc
        # browse: the widget browser when ipywidgets is available, else the plain table.
        try:
            from .widgets._browser import browse
        except ImportError:
            return cache.list(location)
        return browse(cache.store, prefix="cell/")

    def _checkpoint(self, sub: str, name: str, args: Any, location: str) -> Any:
        from ..features._checkpoint import restore_checkpoint, save_checkpoint

        if sub == "restore" and "://" not in location and not Path(location).exists():
            raise UsageError(f"No checkpoint to restore: the store {location} does not exist.")
        store = self._cache(args).store
        try:
            if sub == "checkpoint":
                return save_checkpoint(self.shell.user_ns, store, name)
            return restore_checkpoint(self.shell.user_ns, store, name)
        except (KeyError, ValueError) as exc:
            raise UsageError(str(exc).strip("'\"")) from exc

    def _summary(self, location: str) -> Any:
        from ..features._cellcache._views import StoreSummary

        return StoreSummary(directory=location, exists=False)


class _Cleared:
    """Result of ``%persist clear`` (shown by IPython)."""

    def __init__(self, removed: int, what: str) -> None:
        self.removed = removed
        self.what = what

    def __repr__(self) -> str:
        return f"Removed {self.removed} cached run(s) of {self.what}."


def load_ipython_extension(ipython: Any) -> None:
    """Register :class:`PersistMagics` on ``ipython`` and the hook that reads cell ids."""
    magics = PersistMagics(shell=ipython)
    ipython.register_magics(magics)
    ipython.events.register("pre_run_cell", magics._on_pre_run_cell)


def unload_ipython_extension(ipython: Any) -> None:
    """Unregister the cell-id hook and close the stores the magics opened."""
    magics = ipython.magics_manager.registry.get("PersistMagics")
    if magics is None:
        return
    try:
        ipython.events.unregister("pre_run_cell", magics._on_pre_run_cell)
    except ValueError:
        pass
    magics.close()

"""The ``%persist`` line magic and ``%%persist`` cell magic.

Load with ``%load_ext persist_ext``. Configure in ``ipython_config.py`` or a kernel's config::

    c.PersistMagics.directory = "/data/cache"   # default: $PERSIST_EXT_DIR or ./.persist
    c.PersistMagics.quiet = False               # no "restored ..." notice when True
    c.PersistMagics.verbose = False             # say why a cell ran and what was stored
    c.PersistMagics.expire = ""                 # default --expire, e.g. "7d"; "" = never
    c.PersistMagics.env = False                 # always key on package versions (--env)
    c.PersistMagics.mmap = False                # memory-map restored numpy arrays
    c.PersistMagics.keep = 3                    # entries kept per cell for its current code
    c.PersistMagics.autocheckpoint = False      # checkpoint after every cell
    c.PersistMagics.history_count = 200         # checkpoints kept in history (0: no limit)
    c.PersistMagics.history_bytes = ""          # e.g. "20GB": bytes kept in history ("": no limit)
    c.PersistMagics.history_age = ""            # e.g. "30d": drop older checkpoints ("": keep)
    c.PersistMagics.min_time = None             # cells faster than this (s) run, not restored
                                                # (None: those cheaper to run than to restore)
    c.PersistMagics.max_store_size = "4GiB"     # a bigger run is not stored ("": no limit)
    c.PersistMagics.store_timeout = 120.0       # seconds storing one run may take (0: none)
    c.PersistMagics.max_size = ""               # store budget, e.g. "10G" ("": no limit)
    c.PersistMagics.max_count = 0               # cached cells + calls kept (0: no limit)
    c.PersistMagics.max_age = ""                # evict units unused this long, e.g. "30d"

or at run time with ``%config PersistMagics.directory = "/data/cache"``.

The magic bodies are thin dispatchers: they parse arguments and call the cell cache in
:mod:`persist_ext.features._cellcache`.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from IPython.core.error import UsageError
from IPython.core.inputtransformer2 import TransformerManager
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import All, Bool, Float, Int, TraitError, Unicode, observe, validate

from .._config import ENV_VAR, default_directory
from .._cwd import absolute, getcwd
from .._errors import CellRaisedError, PersistError
from .._limits import parse_duration, parse_size
from ..features._cellcache import CellCache, CellOptions
from ..features._cellcache._capture import (
    NEUTRAL_TRANSFORMERS,
    note_await_check,
    note_top_level_cell,
    top_level_cell_ends,
    top_level_cell_starts,
)
from ..features._cellcache._costs import CollectorClock, KnownRun
from ..features._cellcache._state import dict_version

__all__ = ["PersistMagics", "load_ipython_extension", "parse_duration", "unload_ipython_extension"]

_CHECKPOINT_SUBCOMMANDS = (
    "checkpoint",
    "restore",
    "autocheckpoint",
    "history",
    "undo",
    "checkout",
)
_SUBCOMMANDS = (
    "list",
    "show",
    "clear",
    "info",
    "why",
    "browse",
    "gc",
    "trust",
    *_CHECKPOINT_SUBCOMMANDS,
)
_GC_ONLY = ("max_size", "max_count", "max_age", "dry_run")
_CELL_ONLY = ("refresh", "expire", "vars", "deps", "env", "ignore", "mmap")


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
    autocheckpoint = Bool(
        False, help="Checkpoint the namespace after every cell (undo, checkout, history)."
    ).tag(config=True)
    history_count = Int(200, help="Checkpoints kept in history; 0: no limit.").tag(config=True)
    history_bytes = Unicode(
        "", help="Bytes of checkpoint objects kept in history, e.g. '20GB'; empty: no limit."
    ).tag(config=True)
    history_age = Unicode(
        "", help="Checkpoints older than this are pruned, e.g. '30d'; empty: keep them."
    ).tag(config=True)

    @validate("history_bytes")
    def _check_history_bytes(self, proposal: Any) -> str:
        from ..features._checkpoint import parse_size

        value = str(proposal["value"])
        try:
            parse_size(value)
        except ValueError as exc:
            raise TraitError(str(exc)) from exc
        return value

    secret_file = Unicode(
        "",
        help="File holding the secret that signs and verifies stored entries (shared by a "
        "team or a cluster). Empty: $PERSIST_EXT_SECRET, $PERSIST_EXT_SECRET_FILE, else "
        "<jupyter data dir>/persist_ext/secret (created with mode 0600).",
    ).tag(config=True)

    @observe("secret_file")
    def _use_secret_file(self, change: Any) -> None:
        from ..storage._trust import use_secret_file

        use_secret_file(change["new"] or None)

    min_time = Float(
        None,
        allow_none=True,
        help="Seconds: a cell that ran faster than this is run again rather than restored; "
        "%persist list shows it as 'runs'. None (default): cells under 0.5 ms, and those "
        "that run faster than restoring them or well under what storing them costs (timed "
        "in the session); 0: store every cell.",
    ).tag(config=True)

    max_store_size = Unicode(
        "4GiB",
        help="Largest run a %%persist cell stores, e.g. '4GiB'; past it (or past "
        "store_timeout) storing gives up with a warning and the cell simply ran. Empty: no "
        "limit.",
    ).tag(config=True)
    store_timeout = Float(
        120.0,
        help="Seconds pickling one %%persist run may take before storing gives up with a "
        "warning (the cell ran; it is not cached); 0: no limit.",
    ).tag(config=True)

    @validate("max_store_size")
    def _check_max_store_size(self, proposal: Any) -> str:
        from .._limits import parse_size

        value = str(proposal["value"])
        if value:
            try:
                parse_size(value)
            except ValueError as exc:
                raise TraitError(str(exc)) from exc
        return value

    max_size = Unicode(
        "",
        help="Store budget in bytes, e.g. '10G': least recently used cached cells and calls "
        "beyond it are evicted after each cell. Empty: $PERSIST_EXT_MAX_SIZE, else no limit.",
    ).tag(config=True)
    max_count = Int(
        0, help="Cached cells and calls kept; 0: $PERSIST_EXT_MAX_COUNT, else no limit."
    ).tag(config=True)
    max_age = Unicode(
        "", help="Evict cached units unused this long, e.g. '30d'. Empty: $PERSIST_EXT_MAX_AGE."
    ).tag(config=True)

    @validate("max_size", "max_age", "max_count")
    def _check_budget(self, proposal: Any) -> Any:
        from .._limits import Budget

        value = proposal["value"]
        try:
            Budget(**{proposal["trait"].name: value or None})
        except ValueError as exc:
            raise TraitError(str(exc)) from exc
        return value

    @validate("expire", "history_age")
    def _check_duration(self, proposal: Any) -> str:
        value = str(proposal["value"])
        if value:
            try:
                parse_duration(value)
            except ValueError as exc:
                raise TraitError(str(exc)) from exc
        return value

    # (os.environ's data, its version tag) when the budget hook last found no budget.
    _no_budget: tuple[Any, int | None] | None

    # Not named _config_changed: that is Configurable's own observer of `config`, which loads
    # the `c.PersistMagics...` settings; shadowing it made config files (and a reload)
    # silently fall back to the defaults.
    @observe(All)
    def _forget_cell_options(self, change: Any) -> None:
        options = getattr(self, "_cell_options", None)
        if options is not None:
            options.clear()
        self._no_budget = None  # a budget may be set now

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._stores: dict[str, Any] = {}
        self._caches: dict[str, CellCache] = {}
        self._cell: tuple[str | None, str] = (None, "")
        self._parsed: dict[str, Any] = {}
        self._locations: dict[tuple[Any, ...], str] = {}
        # CellOptions per (line, notebook cell id): a hit must not rebuild them from the
        # traitlets every time; any configuration change forgets them (_forget_cell_options).
        self._cell_options: dict[tuple[str, str | None], CellOptions] = {}
        self._busy = False
        # A cell the runs index knows, as decided by :meth:`_plain_if_known` (its raw text,
        # cache, index key and record), then with the moment it started.
        self._known_cell: tuple[str, CellCache, str | None, KnownRun] | None = None
        self._known_started: (
            tuple[tuple[str, CellCache, str | None, KnownRun], float, CollectorClock] | None
        ) = None
        self._last_plain: tuple[tuple[str, str], Any] | None = None  # (request, text), decision
        # What _known_run worked out for a cell it left to the magic, which takes it over
        # instead of parsing, locating and looking the cell up in the runs index again.
        self._prepared: _Prepared | None = None
        self._checkpoints: dict[str, Any] = {}
        from ..features._checkpoint import CellLog

        self._cell_log = CellLog()
        self._budget_seen: dict[str, tuple[Any, float]] = {}
        self._no_budget = None

    # ----------------------------------------------------------------- stores
    @property
    def store_directory(self) -> Path:
        """The directory this shell's store lives in (after config and environment)."""
        return default_directory(self.directory or None)

    def _location(self, args: Any) -> str:
        if args.dir and args.store and args.dir != args.store:
            raise UsageError(
                f"Give --dir or --store, not both (got --dir {args.dir} --store {args.store}); "
                "they name the same thing: the store for this cell or command."
            )
        chosen = args.dir or args.store
        if chosen and "://" in chosen:
            return str(chosen)
        memo = (chosen, self.directory, os.environ.get(ENV_VAR), getcwd())
        if memo not in self._locations:
            self._locations[memo] = absolute(default_directory(chosen or self.directory or None))
        return self._locations[memo]

    def cache_for(self, location: str) -> CellCache:
        """The cell cache on the store at ``location`` (a directory or a ``redis://`` URL).

        A directory store is opened when a cell or command first needs it: cells its
        runs index knows (``_cellcache._costs.RunsIndex``) run without it, and while it
        does not exist yet (and could be created) a lookup misses without creating it.
        """
        if location not in self._caches:
            if location.startswith(("redis://", "rediss://", "unix://")):
                from ..storage._redis import RedisStore

                try:
                    store: Any = RedisStore(location)
                except PersistError as exc:  # unreachable, refused: one line, cell not run
                    raise UsageError(f"Cannot open the store at {location}: {exc}") from exc
                self._stores[location] = store
                self._caches[location] = CellCache(store)
            elif "://" in location:
                raise UsageError(f"Unknown store URL {location!r}; give a directory or redis://.")
            else:
                from ..features._cellcache._costs import RunsIndex
                from ..storage._layout import StoreAbsence

                self._cell_log.ignore(location)  # the store's files are not a cell's effects
                self._caches[location] = CellCache(
                    opener=lambda: self._open_store(location),
                    absent=StoreAbsence(location),
                    runs=RunsIndex(location),
                    deferred_runs=True,
                )
        return self._caches[location]

    def _open_store(self, location: str) -> Any:
        from ..storage._store import Store

        try:
            store = Store(location)
        except Exception as exc:
            raise UsageError(f"Cannot open the store at {location}: {exc}") from exc
        self._stores[location] = store
        return store

    def close(self) -> None:
        """Close every store this shell opened."""
        self._flush_runs(due=False)
        for store in self._stores.values():
            try:
                store.close()
            except Exception:
                pass
        self._stores.clear()
        self._caches.clear()
        self._checkpoints.clear()
        self._cell_log.stop()

    def _on_pre_run_cell(self, info: Any) -> None:
        # The notebook cell id names an unnamed cached cell across kernel restarts. Cells
        # run by a cell itself (``run_cell`` from a cell, ``%run``) must not overwrite it.
        if not self._busy:
            top_level_cell_starts()  # the await checks its front end asked (_capture)
            self._cell = (getattr(info, "cell_id", None), getattr(info, "raw_cell", "") or "")
            known, self._known_cell = self._known_cell, None
            if known is not None and not _same_cell(known[0], self._cell[1]):
                known = None
            if known is None and _PERSIST_HEADER.match(self._cell[1].partition("\n")[0]):
                # Its body gets a plain cell's stack room (a cell the runs index knows
                # runs as the plain cell it is: no magic around it).
                note_top_level_cell()
            self._cell_log.start()  # what the cell does outside the kernel (checkpoint rebuilds)
            self._last_plain = None  # a cell run from this one decides afresh
            if self._known_started is not None:  # its post-run hook never came
                self._known_started[2].stop()
                self._known_started = None
            if known is not None:
                # Timed as a cell the cache runs (without full garbage collections).
                self._known_started = (known, time.perf_counter(), CollectorClock())

    # ------------------------------------------------------- cells known to run
    def _plain_if_known(self, lines: list[str]) -> list[str]:
        """Input transformer (before magics): a ``%%persist`` cell its store's runs index
        knows (``_cellcache._costs.RunsIndex``) becomes its body, run as the plain cell it
        is: no magic call and no nested run, which cost such a cell more than its body.

        Only the decision is taken here (the index is read, nothing is run or written);
        ``%persist why`` and the index are told in the pre/post-run hooks. Anything odd (a
        verbose cell, options the magic must check, no index) leaves the cell to the magic.
        """
        if not lines or self._busy or not _PERSIST_HEADER.match(lines[0]):
            return lines
        text = "".join(lines)
        # ipykernel transforms each cell twice (to ask whether it runs async, then to run
        # it): the second time, within the same request, takes the first one's decision.
        request = _request_of(self.shell)
        last = self._last_plain
        if request is not None and last is not None and last[0] == (request, text):
            self._known_cell = last[1]
            return lines if last[1] is None else _as_plain_cell(lines[1:])
        known = self._known_run(lines)
        self._last_plain = None if request is None else ((request, text), known)
        self._known_cell = known
        return lines if known is None else _as_plain_cell(lines[1:])

    def _known_run(self, lines: list[str]) -> tuple[str, CellCache, str | None, KnownRun] | None:
        # What _plain_if_known decides: the cell and its index record (or, for a cell the
        # magic cannot run, a record without index key), or None for the magic.
        try:
            line = lines[0][len("%%persist") :].strip()
            args = self._parse(line)
            if args.all or len(args.words) > 1:
                return None
            body = "".join(lines[1:])
            options = self._options_for(
                args, line, _cell_id_of_request(self.shell) if body else None
            )
            location = self._location(args)
            cache = self.cache_for(location)
            awaiting = cache.awaiting_run(self.shell, body, options)
            if awaiting is not None:
                return ("".join(lines), cache, None, awaiting)
            if args.verbose or self.verbose:
                return None
            token, known = cache.known_run(body, options)
            namespace = getattr(self.shell, "user_ns", None)
            cheap = None if known else cache.cheap_as_written(body, options, namespace)
        except Exception:  # the magic reports it, as usual
            return None
        if cheap is not None:
            return ("".join(lines), cache, None, cheap)
        if known is None:
            self._prepared = _Prepared(line, body, options, getcwd(), location, cache, token)
            return None
        assert token is not None  # a record is found under a key
        return ("".join(lines), cache, token, known)

    def _on_post_run_cell_known(self, result: Any) -> None:
        started, self._known_started = self._known_started, None
        if started is None:
            return
        (_, cache, token, known), at, clock = started
        elapsed = time.perf_counter() - at
        elapsed -= min(clock.stop(), elapsed)
        if self._busy:
            return
        failed = getattr(result, "error_in_exec", None) or getattr(
            result, "error_before_exec", None
        )
        if token is None:  # a cell the magic could not run, or need not (ran_plain)
            cache.ran_plain(known, None if failed else elapsed)
        else:
            cache.ran_known(token, known, None if failed else elapsed)
        if failed:
            cache.raised(known.name, type(failed))

    def _flush_runs(self, *, due: bool = True) -> None:
        # Records of cells decided to run (store and runs index), written between cells
        # (never while a cell's file operations are recorded: the write would look like the
        # cell's), at most once a second; all of them when the stores close.
        for cache in self._caches.values():
            if due:
                cache.flush_due()
            elif cache.opened or cache.pending:  # at exit: opened for them if need be
                cache.flush_runs()
            if not due and cache.runs is not None:
                cache.runs.flush()

    def _on_post_run_cell(self, result: Any) -> None:
        # Tell every checkpoint session what the cell may have changed (cheap: the names
        # in its text); with autocheckpoint on, save a state of the default store.
        if self._busy:
            return
        top_level_cell_ends()
        self._prepared = None  # a cell the magic did not take over: not carried to the next
        self._flush_runs()
        info = getattr(result, "info", None)
        # The transformed cell is Python (magics become calls), which the tracker can parse.
        code = getattr(info, "transformed_cell", None) or getattr(info, "raw_cell", "") or ""
        # Which cells made each variable, before any checkpoint (unstorable ones are rebuilt).
        self._cell_log.note(code, getattr(self.shell, "user_ns", None))
        auto = self.autocheckpoint
        if not auto and not self._checkpoints:
            return  # no checkpoint session: nothing else wants to hear about the cell
        default = absolute(default_directory(self.directory or None)) if auto else None
        if default is not None and default not in self._checkpoints:
            try:
                self._checkpoint_session(default)
            except UsageError as exc:
                print(f"persist: autocheckpoint is off for this cell: {exc}")
                return
        for location, session in list(self._checkpoints.items()):
            try:
                if location == default:
                    raw = getattr(info, "raw_cell", None) or code
                    report = session.after_cell(code, result, raw)
                    if report is not None and (report.new_skips or report.pruned or self.verbose):
                        print(report)
                else:
                    session.note_cell(code, result)
            except Exception as exc:  # a failed checkpoint must never break the notebook
                print(f"persist: automatic checkpoint failed: {type(exc).__name__}: {exc}")

    # ----------------------------------------------------------------- the magic
    @magic_arguments()
    @argument(
        "words",
        nargs="*",
        help="Line magic: list | show NAME | clear [NAME] | info | why [NAME] | browse | gc | "
        "checkpoint [NAME] | restore [NAME|ID] | autocheckpoint on|off | history | undo | "
        "checkout NAME|ID | trust [DIR]. "
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
    @argument("--include", metavar="A,B", help="With `checkpoint`: save only these variables.")
    @argument("--exclude", metavar="A,B", help="With `checkpoint`: leave these variables out.")
    @argument("--full", action="store_true", help="With `checkpoint`: rehash every variable first.")
    @argument("--max-size", metavar="SIZE", help="With `gc`: keep the store under e.g. 10G.")
    @argument("--max-count", metavar="N", help="With `gc`: keep at most N cached cells + calls.")
    @argument("--max-age", metavar="AGE", help="With `gc`: evict units unused for e.g. 30d.")
    @argument("--dry-run", action="store_true", help="With `gc`: say what would be evicted.")
    @argument("--quiet", action="store_true", help="Say nothing when a cell is restored.")
    @argument("--verbose", action="store_true", help="Say more (with `why`: every component).")
    @line_cell_magic
    def persist(self, line: str, cell: str | None = None) -> Any:
        """Run a cell once; afterwards restore its variables and outputs instead of running it.

        As a cell magic, on the first line of a cell:

          %%persist [NAME] [options]

        caches the cell. It is keyed on its code (comments and formatting ignored), the
        values of the names it reads, the code of the functions and classes it uses
        (transitively), the --deps files and, with --env, package versions. When nothing
        changed, the cell is not executed: every variable it defined, rebound or mutated is
        put back and its output (text, tables, figures) is shown again.

        As a line magic, to look at and manage what is stored:

          %persist list                  cached cells (name, size, age, run time, hits),
                                         then functions cached with @persist_ext.cache
          %persist show NAME             one cell's variables, inputs and outputs
          %persist why [NAME]            what differs from the stored run (--verbose: all)
          %persist clear NAME            forget a cell (--all: every cell)
          %persist info                  where the store is and how big
          %persist browse                browse cached cells and functions
          %persist gc                    evict least recently used cached cells and calls
                                         beyond the budget (--max-size 10G --max-count N
                                         --max-age 30d --dry-run; default: max_size,
                                         max_count, max_age config, then $PERSIST_EXT_MAX_*)
          %persist checkpoint [NAME]     save the notebook's variables (--include/--exclude)
          %persist restore [NAME|ID]     put them back, e.g. after a kernel restart
          %persist autocheckpoint on|off checkpoint after every cell
          %persist history               the checkpoints
          %persist undo                  go back to before the last cell
          %persist checkout ID           go to any checkpoint
          %persist trust [DIR]           re-sign a store you vouch for (e.g. a colleague's)

        Defaults come from the PersistMagics configuration (directory, quiet, verbose,
        expire, env, mmap, keep, min_time, max_store_size, store_timeout, max_size,
        max_count, max_age, autocheckpoint, history_count, history_bytes, history_age,
        secret_file; see %config PersistMagics).
        With a budget set, it is also applied after every cell, with a one-line notice.
        """
        args = self._parse(line)
        if cell is None:
            return self._line(args)
        return self._cell_magic(args, cell, line)

    def _cell_magic(self, args: Any, cell: str, line: str) -> None:
        if len(args.words) > 1:
            raise UsageError(
                f"%%persist takes one cell name, got {' '.join(args.words)!r}; "
                "put options after the name, e.g. %%persist load --deps data.csv."
            )
        if args.all:
            raise UsageError("--all only applies to `%persist clear`.")
        options = self._options(args, cell, line)
        prepared, self._prepared = self._prepared, None
        if prepared is not None and prepared.takes(line.strip(), cell, options):
            location, cache, looked_up = prepared.location, prepared.cache, prepared.token
        else:
            location = self._location(args)
            # Not opened here: a cell the store's runs index knows runs without it.
            cache, looked_up = self.cache_for(location), None
        self._busy = True
        try:
            result = cache.run(self.shell, cell, options, looked_up=looked_up)
        except CellRaisedError as exc:
            if exc.original is None:
                raise
            # The cell's own exception, shown once as in a plain cell (same type, message
            # and cell frames); the cache's frames are hidden from the traceback.
            __tracebackhide__ = True
            raise exc.original from None
        finally:
            self._busy = False
        if result.manifest is not None and (result.hit or result.stored):
            self._offer_to_checkpoints(location, result.manifest.variables)
        quiet = args.quiet or (self.quiet and not args.verbose)
        # One write per notice: print() writes the newline apart, and a stream flushed in
        # between would split the line across two outputs.
        if result.hit and not quiet:
            # After ``print(x, end=' ')`` the notice would end the cell's own line.
            sys.stdout.write(("\n" if result.open_line else "") + result.notice() + "\n")
        elif not result.hit and (args.verbose or self.verbose):
            lines = [result.notice(), *(f"  - {d.message}" for d in result.reason)]
            sys.stdout.write("\n".join(lines) + "\n")

    def _offer_to_checkpoints(self, location: str, variables: dict[str, str]) -> None:
        # Checkpoints link to the values this cell just stored or restored instead of
        # writing them again (features._checkpoint._links); never fails the cell.
        if not variables:
            return
        try:
            session = self._checkpoints.get(location)
            shell: Any = self.shell
            if session is None or session.namespace is not shell.user_ns:
                # Made once; every hit after reuses it (building it costs more than a hit).
                session = self._checkpoint_session(location)
            session.offer(variables)
        except Exception:
            pass

    def _parse(self, line: str) -> Any:
        # Parsed lines are remembered: argparse costs more than a cached cell's hit.
        args = self._parsed.get(line)
        if args is None:
            try:
                # Split as a shell would (IPython's own split keeps the quotes, so
                # --deps "my file.csv" named a file '"my file.csv"' that never exists);
                # Windows keeps its backslashes, and its quotes as before.
                argv = shlex.split(_without_comment(line), posix=os.name == "posix")
                parser = self.persist.parser
                if parser.usage is None:
                    # parse_intermixed_args formats the usage line on every call to keep it
                    # (two thirds of a parse); formatted once, it is kept as it is.
                    parser.usage = parser.format_usage().removeprefix("usage: ")
                # Intermixed: names may follow options (`%persist why --verbose load`).
                args = parser.parse_intermixed_args(_glue_dashed_values(parser, argv))
            except UsageError:
                raise
            except Exception as exc:  # argparse reports through SystemExit / ArgumentError
                raise UsageError(f"%persist: {exc}") from exc
            if len(self._parsed) >= 256:  # a long notebook's lines: the newest are kept
                self._parsed.clear()
            self._parsed[line] = args
        return args

    def _options(self, args: Any, cell: str, line: str) -> CellOptions:
        cell_id, raw = self._cell
        # Use the notebook cell id only when it belongs to the cell being run now.
        use_id = cell_id if cell_id and cell.strip() and cell.strip() in raw else None
        return self._options_for(args, line, use_id)

    def _options_for(self, args: Any, line: str, use_id: str | None) -> CellOptions:
        # One CellOptions per (line, cell id), for the magic and the input transformer alike.
        known = self._cell_options.get((line, use_id))
        if known is None:
            known = self._new_options(args, use_id)
            if len(self._cell_options) > 256:
                self._cell_options.clear()
            self._cell_options[(line, use_id)] = known
        return known

    def _new_options(self, args: Any, use_id: str | None) -> CellOptions:
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
            min_time=None if self.min_time is None else max(float(self.min_time), 0.0),
            cell_id=use_id,
            show_errors=False,
            max_store_bytes=parse_size(self.max_store_size) if self.max_store_size else None,
            store_seconds=float(self.store_timeout) if self.store_timeout > 0 else None,
        )

    def _cache(self, args: Any, location: str | None = None) -> CellCache:
        location = location or self._location(args)
        try:
            cache = self.cache_for(location)
            cache.store  # noqa: B018 - commands need it open (a failure is named here)
            return cache
        except UsageError:
            raise
        except Exception as exc:
            raise UsageError(f"Cannot open the store at {location}: {exc}") from exc

    def _line(self, args: Any) -> Any:
        if not args.words:
            raise UsageError(f"%persist needs a subcommand: one of {', '.join(_SUBCOMMANDS)}.")
        sub, rest = args.words[0], args.words[1:]
        command = _LINE_COMMANDS.get(sub)
        if command is None:
            raise UsageError(
                f"Unknown %persist subcommand {sub!r}; use one of {', '.join(_SUBCOMMANDS)}."
            )
        given = [f"--{o}" for o in _CELL_ONLY if getattr(args, o) not in (None, False, [])]
        if given:
            raise UsageError(f"{', '.join(given)} only apply to the %%persist cell magic.")
        if sub != "gc" and any(getattr(args, o) not in (None, False) for o in _GC_ONLY):
            raise UsageError("--max-size, --max-count, --max-age, --dry-run only apply to gc.")
        if len(rest) > command.most:
            raise UsageError(f"%persist {sub} got unexpected arguments: {' '.join(rest)!r}.")
        if len(rest) < command.least and not (sub == "clear" and args.all):
            raise UsageError(f"%persist {sub} needs {command.needs}.")
        location = self._location(args)
        cache = self._caches.get(location)
        if cache is not None and cache.pending:
            cache.flush_runs()  # cells this session decided to run: in the store from now on
        exists = "://" in location or Path(location).exists()
        return command.handler(self, args, rest, location, exists)

    # One small handler per line subcommand; `_LINE_COMMANDS` below is the dispatch table.
    # ``exists``: whether the store is there (looking must never create one).
    def _checkpoint_command(self, args: Any, rest: list[str], location: str, exists: bool) -> Any:
        return self._checkpoint(args.words[0], rest, args, location)

    def _list(self, args: Any, rest: list[str], location: str, exists: bool) -> Any:
        if not exists:  # no store: only the cells of this session that ran as written
            from ..features._cellcache._views import EntryTable

            ran = self.cache_for(location).ran_as_written() if location in self._caches else []
            return EntryTable(ran, directory=location)
        from ..features._memo._views import Listing, call_table

        cache = self._cache(args)
        return Listing(cache.list(location), call_table(cache.store))

    def _show(self, args: Any, rest: list[str], location: str, exists: bool) -> Any:
        if not exists:
            raise UsageError(f"Nothing is cached yet: the store {location} does not exist.")
        try:
            return self._cache(args).show(rest[0])
        except KeyError:
            raise UsageError(f"No cached cell named {rest[0]!r}; see %persist list.") from None

    def _clear(self, args: Any, rest: list[str], location: str, exists: bool) -> Any:
        if rest and args.all:
            raise UsageError("%persist clear takes a cell name or --all, not both.")
        what = "every cell" if args.all else rest[0]
        if not exists:
            if args.all:
                return _Cleared(0, what)
            raise UsageError(f"No cached cell named {rest[0]!r}: the store {location} is empty.")
        removed = self._cache(args).clear(None if args.all else rest[0])
        if not removed and not args.all:
            raise UsageError(f"No cached cell named {rest[0]!r}; see %persist list.")
        return _Cleared(removed, what)

    def _info(self, args: Any, rest: list[str], location: str, exists: bool) -> Any:
        if not exists:
            from ..features._cellcache._views import StoreSummary

            return StoreSummary(directory=location, exists=False)
        from ..features._budget import InfoWithUsage, store_usage

        cache = self._cache(args)
        cache.flush_hits()
        usage = store_usage(cache.store, self.budget(cache.store))
        return InfoWithUsage(cache.info(location, True), usage)

    def _gc(self, args: Any, rest: list[str], location: str, exists: bool) -> Any:
        from .._limits import Budget
        from ..features._budget import collect

        try:
            given = Budget(args.max_size, args.max_count, args.max_age)
        except ValueError as exc:
            raise UsageError(f"%persist gc: {exc}") from exc
        if not exists:
            raise UsageError(f"Nothing to collect: the store {location} does not exist.")
        cache = self._cache(args)
        cache.flush_hits()  # hits kept in memory are uses that decide what goes
        store = cache.store
        return collect(store, given.over(self.budget(store)), dry_run=args.dry_run)

    def _why(self, args: Any, rest: list[str], location: str, exists: bool) -> Any:
        if not exists:
            # Cells of this session that all ran (nothing stored yet) are explained from
            # memory, without creating the store.
            cache = self._caches.get(location)
            name = rest[0] if rest else None
            known = cache.explain_last(name, verbose=args.verbose) if cache else None
            if known is None:
                raise UsageError(
                    self._cell_name_hint(
                        f"Nothing is cached yet: the store {location} does not exist.", name
                    )
                )
            return known
        name = rest[0] if rest else None
        try:
            return self._cache(args).why(self.shell, name, verbose=args.verbose)
        except LookupError as exc:
            raise UsageError(self._cell_name_hint(str(exc), name)) from exc

    def _cell_name_hint(self, message: str, name: str | None) -> str:
        # ``%persist why df``: a variable's name where a cell's is expected.
        if name is None or name not in getattr(self.shell, "user_ns", {}):
            return message
        return (
            f"{message} {name!r} is a variable: `%persist why` takes the name of a %%persist "
            "cell (its cell id, or the name given on its %%persist line; see %persist list)."
        )

    def _browse(self, args: Any, rest: list[str], location: str, exists: bool) -> Any:
        if not exists:
            return self._list(args, rest, location, exists)
        cache = self._cache(args)
        try:  # the widget browser when ipywidgets is available, else the plain table
            from .widgets._browser import browse
        except ImportError:
            return cache.list(location)
        from ..features._cellcache._entry import PREFIX as CELLS
        from ..features._memo._layout import PREFIX as FUNCTIONS

        return browse(cache.store, prefix=(CELLS, FUNCTIONS))  # cached cells, cached calls

    # ----------------------------------------------------------------- budgets
    def budget(self, store: Any = None) -> Any:
        """The budget in force: the store's own, over these traitlets, over the environment."""
        from .._limits import Budget
        from ..features._budget import budget_of

        try:
            mine = Budget(self.max_size or None, self.max_count or None, self.max_age or None)
            return budget_of(store, mine) if store is not None else mine.over(Budget.from_env())
        except ValueError as exc:
            raise UsageError(str(exc)) from exc

    def _on_post_run_cell_budget(self, result: Any) -> None:
        # After each cell: keep the stores this shell opened within their budget, with the
        # one-line notice in the cell's output. No budget anywhere: nothing is evicted.
        if self._busy:
            return
        # No budget found, and neither the environment (its version tag) nor this
        # configuration (_forget_cell_options) changed since: none now either.
        env = getattr(os.environ, "_data", None)
        version = dict_version(env) if isinstance(env, dict) else None
        none = self._no_budget
        if (
            none is not None
            and version is not None
            and none[0] is env
            and none[1] == version
            and not any(getattr(s, "budget", None) is not None for s in self._stores.values())
        ):
            return
        from ..features._budget import any_budget, enforce_budget

        configured = bool(self.max_size or self.max_count or self.max_age)
        if not any_budget(self._stores.values(), configured=configured):
            self._no_budget = (env, version)
            return  # no budget anywhere (the default): nothing to look at after a cell
        self._no_budget = None

        for location, store in list(self._stores.items()):
            try:
                budget = self.budget(store)
                if budget.is_empty:
                    continue
                # Listing units walks the store: skip it when nothing was written since the
                # last check (ages still advance: look again at least once a minute).
                seen = (len(store), getattr(store, "volume", lambda: 0)(), budget)
                last = self._budget_seen.get(location)
                if last is not None and last[0] == seen and time.monotonic() - last[1] < 60:
                    continue
                if location in self._caches:
                    self._caches[location].flush_hits()  # last uses decide what is evicted
                report = enforce_budget(store, budget)
                self._budget_seen[location] = (
                    (len(store), getattr(store, "volume", lambda: 0)(), budget),
                    time.monotonic(),
                )
            except Exception as exc:  # housekeeping must never break the notebook
                print(f"persist: applying the store budget failed: {type(exc).__name__}: {exc}")
                continue
            if report:
                print(report.notice())

    def _trust(self, args: Any, rest: list[str], location: str, exists: bool) -> Any:
        """Re-sign a store (or stash folder) the user vouches for, like ``jupyter trust``."""
        from ..storage._resign import trust

        try:
            return trust(rest[0] if rest else location)
        except Exception as exc:
            raise UsageError(f"%persist trust: {exc}") from exc

    def _checkpoint_session(self, location: str) -> Any:
        from ..features._checkpoint import Budget, parse_size, session_for

        try:
            budget = Budget(
                count=max(int(self.history_count), 0),
                bytes=parse_size(self.history_bytes),
                age=parse_duration(self.history_age) if self.history_age else None,
            )
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        cache = self.cache_for(location)
        shell: Any = self.shell
        session = session_for(shell.user_ns, cache.store, budget)
        session.adopt(self._cell_log)
        self._checkpoints[location] = session
        return session

    def _checkpoint(self, sub: str, rest: list[str], args: Any, location: str) -> Any:
        from .._errors import CheckpointError
        from ..features._checkpoint import _commands

        if sub not in ("checkpoint",) and (args.include or args.exclude or args.full):
            raise UsageError("--include, --exclude and --full only apply to %persist checkpoint.")
        if sub in ("restore", "checkout", "undo", "history") and (
            "://" not in location and not Path(location).exists()
        ):
            # Looking must not create a store.
            raise UsageError(f"No checkpoint yet: the store {location} does not exist.")
        try:
            session = self._checkpoint_session(location)
            shell: Any = self.shell
            if sub in ("checkpoint", "checkout", "undo") and self._cell[1] and not self._busy:
                # Lines before this one in the same cell may have changed values in place.
                session.note_running(shell.transform_cell(self._cell[1]))
            handler = _commands.HANDLERS[sub]
            result = handler(session, rest, _names(args.include), _names(args.exclude), args.full)
        except CheckpointError as exc:
            raise UsageError(str(exc)) from exc
        if sub == "autocheckpoint":
            self.autocheckpoint = bool(result.on)
        return result


def _glue_dashed_values(parser: Any, argv: list[str]) -> list[str]:
    """``--expire -1d`` as ``--expire=-1d``: argparse takes a value starting with ``-`` for an
    option and says "expected one argument"; glued, the value reaches its own check, which
    says what is wrong with it."""
    known = parser._option_string_actions
    single = {s for s, action in known.items() if action.nargs is None}
    glued: list[str] = []
    for token in argv:
        if glued and glued[-1] in single and token.startswith("-") and token not in known:
            glued[-1] = f"{glued[-1]}={token}"
        else:
            glued.append(token)
    return glued


def _without_comment(line: str) -> str:
    """``line`` without a trailing ``# comment`` (a ``#`` at its start or after a space,
    outside quotes), as ``%config`` and Python code allow: the docs' examples annotate
    ``%persist undo   # back to before the last cell``. A ``#`` inside a word
    (``data#1.csv``) or a quoted argument is kept."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line


def _plain_help(doc: str) -> str:
    """``%persist?`` as plain text: argparse's usage line without reST markup.

    magic_arguments renders the usage as a reST literal block (``::`` then the line) and
    names only the line form; the help shows both forms instead.
    """
    usage, _, rest = doc.partition("\n\n")[2].partition("\n\n")
    options = " ".join(usage.split()).removeprefix("%persist ").removesuffix(" [words ...]")
    return (
        "Usage:\n"
        "  %%persist [NAME] [options]             (cell magic)\n"
        "  %persist SUBCOMMAND [ARG] [options]    (line magic)\n"
        + textwrap.fill(options, width=88, initial_indent="Options: ", subsequent_indent="  ")
        + "\n\n"
        + rest
    )


PersistMagics.persist.__doc__ = _plain_help(PersistMagics.persist.__doc__ or "")


@dataclass(frozen=True)
class _LineCommand:
    """How one ``%persist`` subcommand is called: its handler and how many words it takes."""

    handler: Callable[..., Any]
    least: int = 0
    most: int = 0
    needs: str = ""


_LINE_COMMANDS: dict[str, _LineCommand] = {
    "list": _LineCommand(PersistMagics._list),
    "show": _LineCommand(PersistMagics._show, 1, 1, "a cell name; see %persist list"),
    "clear": _LineCommand(PersistMagics._clear, 1, 1, "a cell name, or --all to clear everything"),
    "info": _LineCommand(PersistMagics._info),
    "why": _LineCommand(PersistMagics._why, 0, 1),
    "browse": _LineCommand(PersistMagics._browse),
    "gc": _LineCommand(PersistMagics._gc),
    "trust": _LineCommand(PersistMagics._trust, 0, 1),
    **{
        sub: _LineCommand(PersistMagics._checkpoint_command, 0, 1)
        for sub in _CHECKPOINT_SUBCOMMANDS
    },
}


def _names(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if not n.isidentifier()]
    if bad or not names:
        raise UsageError(f"Expected comma-separated variable names, got {text!r}.")
    return names


class _Cleared:
    """Result of ``%persist clear`` (shown by IPython)."""

    def __init__(self, removed: int, what: str) -> None:
        self.removed = removed
        self.what = what

    def __repr__(self) -> str:
        return f"Removed {self.removed} cached run(s) of {self.what}."


_PERSIST_HEADER = re.compile(r"%%persist(?:[ \t]|$)")
_BLANK_LINE = re.compile(r"^[ \t]+$", re.MULTILINE)


def _same_cell(transformed: str, raw: str) -> bool:
    """Whether an input transformer's ``transformed`` text is the cell ``raw``.

    IPython adds a final newline and dedents a cell (``textwrap.dedent``, which also empties
    lines of only blanks, as a docstring's) before the transformers after its own see it.
    """
    transformed, raw = transformed.rstrip("\n"), raw.rstrip("\n")
    return transformed == raw or transformed == _BLANK_LINE.sub("", raw)


class _Prepared(NamedTuple):
    """A ``%%persist`` cell as the input transformer left it to the magic: its options, the
    working directory then, its store's location and cache, and its runs-index key (looked
    up: not there)."""

    line: str
    body: str
    options: CellOptions
    cwd: str
    location: str
    cache: CellCache
    token: str | None

    def takes(self, line: str, body: str, options: CellOptions) -> bool:
        """Whether the magic now runs this very cell, with the same options, in the same
        working directory (the cache a relative store location names depends on it)."""
        return (
            line == self.line
            and body == self.body
            and options is self.options
            and getcwd() == self.cwd
        )


def _request_of(shell: Any) -> str | None:
    """The message id of the execute request being handled, if the shell is a kernel's."""
    parent = getattr(shell, "parent_header", None)
    header = parent.get("header") if isinstance(parent, dict) else None
    msg_id = header.get("msg_id") if isinstance(header, dict) else None
    return msg_id if isinstance(msg_id, str) and msg_id else None


def _cell_id_of_request(shell: Any) -> str | None:
    """The notebook cell id of the execute request being handled (ipykernel puts it in the
    request's metadata; the pre-run hook gets it only after input transformers ran)."""
    parent = getattr(shell, "parent_header", None)
    metadata = parent.get("metadata") if isinstance(parent, dict) else None
    cell_id = metadata.get("cellId") if isinstance(metadata, dict) else None
    return cell_id if isinstance(cell_id, str) and cell_id else None


# IPython's own cleanup of a cell (leading blank lines and indentation, ``>>>`` prompts):
# it ran before :meth:`PersistMagics._plain_if_known`, on the cell with its ``%%persist`` line.
_CLEANUP = TransformerManager().cleanup_transforms


def _as_plain_cell(body: list[str]) -> list[str]:
    """``body`` cleaned up as IPython cleans up a cell, as if it had been typed alone: a
    body that starts indented (Think Python's ``    def translated(self, ...)`` cells) is
    dedented, as the plain cell is, instead of failing with ``IndentationError``."""
    for transform in _CLEANUP:
        body = transform(body)
    return body


def load_ipython_extension(ipython: Any) -> None:
    """Register :class:`PersistMagics` on ``ipython`` and the hook that reads cell ids."""
    magics = PersistMagics(shell=ipython)
    ipython.register_magics(magics)
    ipython.events.register("pre_run_cell", magics._on_pre_run_cell)
    ipython.events.register("post_run_cell", magics._on_post_run_cell)
    ipython.events.register("post_run_cell", magics._on_post_run_cell_budget)
    ipython.events.register("post_run_cell", magics._on_post_run_cell_known)
    ipython.input_transformers_cleanup.append(magics._plain_if_known)
    NEUTRAL_TRANSFORMERS.append(magics._plain_if_known)  # it acts on `%%persist` lines only
    compiler = getattr(ipython, "compile", None)
    if compiler is not None and hasattr(compiler, "get_code_name"):
        compiler.get_code_name = _PlainCodeName(magics, compiler.get_code_name)
    checking = getattr(ipython, "should_run_async", None)
    if callable(checking) and not isinstance(checking, _CountedAwaitCheck):
        own = "should_run_async" in vars(ipython)  # put back as it was at unload
        ipython.should_run_async = _CountedAwaitCheck(checking, own)


class _CountedAwaitCheck:
    """``shell.should_run_async`` that counts its calls (``_capture.note_await_check``): a
    ``%%persist`` body gets as many ``await`` checks as the plain cell, whose compiles show
    the cell's compiler warnings (``"is" with a literal``) once each."""

    def __init__(self, original: Any, own: bool) -> None:
        self.original, self.own = original, own

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        note_await_check()
        return self.original(*args, **kwargs)


class _PlainCodeName:
    """``shell.compile.get_code_name`` that names a cell run as its body (a cell the runs
    index knows, see ``PersistMagics._plain_if_known``) as the plain cell is named.

    ipykernel names a cell's file by a digest of its raw text, which still holds the
    ``%%persist`` line: the cell's warnings, and the code of functions it defines
    (``f.__code__.co_filename``), named another file than a plain run of it does.
    """

    def __init__(self, magics: PersistMagics, original: Any) -> None:
        self.magics, self.original = magics, original

    def __call__(self, raw_code: Any, code: Any, number: Any) -> Any:
        started = self.magics._known_started
        known = started[0][0] if started is not None else None
        if (
            isinstance(raw_code, str)
            and known is not None
            and raw_code.rstrip("\n") == known.rstrip("\n")
        ):
            raw_code = raw_code.partition("\n")[2]
        return self.original(raw_code, code, number)


def unload_ipython_extension(ipython: Any) -> None:
    """Unregister the cell-id hook and close the stores the magics opened."""
    magics = ipython.magics_manager.registry.get("PersistMagics")
    if magics is None:
        return
    for event, hook in (
        ("pre_run_cell", magics._on_pre_run_cell),
        ("post_run_cell", magics._on_post_run_cell),
        ("post_run_cell", magics._on_post_run_cell_budget),
        ("post_run_cell", magics._on_post_run_cell_known),
    ):
        try:
            ipython.events.unregister(event, hook)
        except ValueError:
            pass
    if magics._plain_if_known in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.remove(magics._plain_if_known)
    if magics._plain_if_known in NEUTRAL_TRANSFORMERS:
        NEUTRAL_TRANSFORMERS.remove(magics._plain_if_known)
    compiler: Any = getattr(ipython, "compile", None)
    naming = getattr(compiler, "get_code_name", None)
    if isinstance(naming, _PlainCodeName) and naming.magics is magics:
        compiler.get_code_name = naming.original
    checking = vars(ipython).get("should_run_async")
    if isinstance(checking, _CountedAwaitCheck):
        if checking.own:
            ipython.should_run_async = checking.original
        else:
            del ipython.should_run_async  # the class's method again
    magics.close()

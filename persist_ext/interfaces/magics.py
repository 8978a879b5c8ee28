"""The ``%persist`` line magic and ``%%persist`` cell magic.

Load with ``%load_ext persist_ext``. Configure in ``ipython_config.py`` or a kernel's config::

    c.PersistMagics.directory = "/data/cache"   # default: $PERSIST_EXT_DIR or ./.persist

or at run time with ``%config PersistMagics.directory = "/data/cache"``.

The magic bodies are thin dispatchers: they parse arguments and call the feature layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Unicode

from .._config import ENV_VAR, default_directory

__all__ = ["PersistMagics", "load_ipython_extension", "unload_ipython_extension"]

_SUBCOMMANDS = ("list", "show", "clear", "info", "why", "browse")


@magics_class
class PersistMagics(Magics):
    """Cache notebook cells and browse what is cached."""

    directory = Unicode(
        "",
        help=f"Store directory. Empty: ${ENV_VAR} if set, else ./.persist beside the notebook.",
    ).tag(config=True)

    @property
    def store_directory(self) -> Path:
        """The directory this shell's store lives in (after config and environment)."""
        return default_directory(self.directory or None)

    @magic_arguments()
    @argument(
        "words",
        nargs="*",
        help="Line magic: a subcommand (list, show NAME, clear [NAME], info, why [NAME], browse). "
        "Cell magic: an optional cell name.",
    )
    @argument("--all", action="store_true", help="With `clear`: remove every entry.")
    @argument("--quiet", action="store_true", help="Say nothing when a cell is restored.")
    @argument("--verbose", action="store_true", help="Say more (with `why`: every component).")
    @line_cell_magic
    def persist(self, line: str, cell: str | None = None) -> Any:
        """Run a cell once and restore its variables and outputs afterwards.

        ``%%persist [NAME]`` caches the cell; ``%persist SUBCOMMAND`` inspects the cache.
        """
        args = parse_argstring(self.persist, line)
        if cell is None:
            return self._line(args)
        # Until cell caching lands the cell simply runs, so a notebook using it is correct.
        self.shell.run_cell(cell, store_history=False)
        return None

    def _line(self, args: Any) -> Any:
        if not args.words:
            raise UsageError(f"%persist needs a subcommand: one of {', '.join(_SUBCOMMANDS)}.")
        sub = args.words[0]
        if sub not in _SUBCOMMANDS:
            raise UsageError(
                f"Unknown %persist subcommand {sub!r}; use one of {', '.join(_SUBCOMMANDS)}."
            )
        if sub == "info":
            path = self.store_directory
            print(f"persist_ext store: {path} ({'exists' if path.exists() else 'not created yet'})")
            return None
        print(f"%persist {sub}: the cell cache is empty in this version.")
        return None


def load_ipython_extension(ipython: Any) -> None:
    """Register :class:`PersistMagics` on ``ipython``."""
    ipython.register_magics(PersistMagics)


def unload_ipython_extension(ipython: Any) -> None:
    """Nothing to undo beyond what IPython does itself."""

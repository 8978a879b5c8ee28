"""Where stores live by default.

Resolution order for the default store directory:

1. an explicit ``directory`` argument (or ``c.PersistMagics.directory`` in traitlets config);
2. the ``PERSIST_EXT_DIR`` environment variable;
3. ``.persist/`` in the current working directory (a notebook's kernel runs in the
   notebook's folder, so this is "next to the notebook").
"""

from __future__ import annotations

import os
from pathlib import Path

from ._cwd import getcwd

__all__ = ["DEFAULT_DIRNAME", "ENV_VAR", "default_directory"]

DEFAULT_DIRNAME = ".persist"
ENV_VAR = "PERSIST_EXT_DIR"


def default_directory(directory: str | os.PathLike[str] | None = None) -> Path:
    """Return the store directory to use, following the documented resolution order.

    >>> default_directory("/tmp/x")
    PosixPath('/tmp/x')
    """
    if directory is not None and (
        isinstance(directory, bytes) or not isinstance(directory, (str, os.PathLike))
    ):
        from ._errors import StoreConfigError

        raise StoreConfigError(
            f"a store directory is a str or os.PathLike, not {type(directory).__name__} "
            f"{directory!r}; e.g. Store('.persist')"
        )
    if directory:
        return Path(directory).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path(getcwd()) / DEFAULT_DIRNAME  # the real one: a notebook may replace os.getcwd

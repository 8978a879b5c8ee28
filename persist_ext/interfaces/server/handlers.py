"""Tornado handlers of the persist_ext REST API (all read-only, all authenticated).

``GET /persist-ext/api/stores``
    ``{"root": str, "stores": [StoreSummary...], "truncated": bool}``
``GET /persist-ext/api/stores/entries?path=REL``
    ``{"path": REL, "entries": [EntryInfo JSON + "type"...], "truncated": bool}``

Paths are relative to the server's root directory and resolved with
:func:`~persist_ext.storage._names.resolve_inside`, so no request reaches outside it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import tornado.web
from jupyter_server.base.handlers import APIHandler

from ..._errors import StoreError, UnsafeNameError
from ._stores import MAX_ENTRIES, find_stores, is_store, read_entries

__all__ = ["EntriesHandler", "StoresHandler"]


class _BaseHandler(APIHandler):
    @property
    def root(self) -> Path:
        """The directory the server serves (``ServerApp.root_dir``)."""
        return Path(self.settings["server_root_dir"]).expanduser().resolve()


class StoresHandler(_BaseHandler):
    """List the stores found under the server's root directory."""

    @tornado.web.authenticated
    async def get(self) -> None:
        root = self.root
        # Scanning touches the disk; keep the server's event loop free meanwhile.
        stores, truncated = await asyncio.to_thread(find_stores, root)
        self.finish(
            {
                "root": str(root),
                "stores": [store.to_json() for store in stores],
                "truncated": truncated,
            }
        )


class EntriesHandler(_BaseHandler):
    """Describe the entries of one store from their stored summaries (never unpickled)."""

    @tornado.web.authenticated
    async def get(self) -> None:
        from ...storage._names import resolve_inside

        relative = self.get_query_argument("path", default="")
        if not relative:
            raise tornado.web.HTTPError(400, "Give the store as ?path=RELATIVE/PATH.")
        try:
            directory = resolve_inside(self.root, relative)
        except UnsafeNameError as exc:
            raise tornado.web.HTTPError(400, str(exc)) from exc
        if not directory.is_dir() or not is_store(directory):
            raise tornado.web.HTTPError(404, f"No persist_ext store at {relative!r}.")
        try:
            entries = await asyncio.to_thread(read_entries, directory, MAX_ENTRIES + 1)
        except StoreError as exc:
            raise tornado.web.HTTPError(409, str(exc)) from exc
        self.finish(
            {
                "path": relative,
                "entries": entries[:MAX_ENTRIES],
                "truncated": len(entries) > MAX_ENTRIES,
            }
        )

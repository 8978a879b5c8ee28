"""Jupyter server extension: the REST API of the Persist panel under ``/persist-ext/api/``.

Wiring only; the handlers live in :mod:`.handlers` and the store scanning in :mod:`._stores`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_jupyter_server_extension", "setup_route_handlers"]


def setup_route_handlers(web_app: Any) -> None:
    """Register the persist_ext handlers on a Tornado ``web_app`` (under its base URL)."""
    from jupyter_server.utils import url_path_join

    from . import handlers

    base = url_path_join(web_app.settings["base_url"], "persist-ext", "api")
    routes = {
        "stores": handlers.StoresHandler,
        "stores/entries": handlers.EntriesHandler,
        "stores/cells": handlers.CellsHandler,
        "stores/functions": handlers.FunctionsHandler,
        "stores/groups": handlers.GroupsHandler,
        "stores/group": handlers.GroupHandler,
        "stores/group/replay": handlers.ReplayHandler,
    }
    web_app.add_handlers(
        ".*$", [(url_path_join(base, path) + "/?", handler) for path, handler in routes.items()]
    )


def load_jupyter_server_extension(server_app: Any) -> None:
    """Entry point called by Jupyter Server (through ``persist_ext``)."""
    setup_route_handlers(server_app.web_app)
    server_app.log.info("persist_ext: REST API registered under /persist-ext/api/")

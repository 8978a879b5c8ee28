"""Tornado handlers of the persist_ext REST API (described in ``openapi.yaml`` beside this file).

Reads (``GET``) describe stores from their index and JSON headers, never decoding a value.
Changes (``DELETE``, ``POST``) need Jupyter's authentication *and* its XSRF protection
(a browser sends the ``_xsrf`` cookie back as ``X-XSRFToken``; token-authenticated API
clients are exempt, as everywhere in Jupyter), take the writer's lease without waiting,
and refuse with 409 while a kernel or a task process holds it.

Every path is relative to the server's root directory and checked by :func:`_store_dir`
before anything touches the disk; every failure is a 4xx JSON ``{"message": ...}``
naming the problem. SQLite work runs in a thread with a deadline (``_index.DEADLINE``),
so a hostile index never blocks the event loop or other Jupyter endpoints.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import tornado.web
from jupyter_server.base.handlers import APIHandler

from ..._errors import PersistError, StoreError, UnsafeNameError
from ._cells import list_cells
from ._functions import list_functions
from ._groups import list_groups, read_group
from ._index import index_signature
from ._mutations import (
    LeaseHeldError,
    clear_calls,
    delete_cell,
    delete_entry_key,
    replay_failed,
)
from ._stores import MAX_PAGE, find_stores, is_store, read_entries

__all__ = [
    "CellsHandler",
    "EntriesHandler",
    "FunctionsHandler",
    "GroupHandler",
    "GroupsHandler",
    "ReplayHandler",
    "StoresHandler",
]

T = TypeVar("T")

#: Longest text accepted in a query argument (paths, keys, filters).
MAX_ARGUMENT = 4096
#: Longest path component (as most file systems).
MAX_COMPONENT = 255
#: Longest a live request waits for a change before answering "unchanged".
MAX_WAIT = 25.0
#: How often a waiting request looks at the index files (a few lstat calls, no SQLite).
WATCH_INTERVAL = 0.2
#: Seconds a store listing waits for entry counts before answering with those it has; the
#: rest are counted in the background and come with a later listing (issue #15: 1,000
#: stores listed in <= 1 s, the first listing after a server start included).
LISTING_BUDGET = 0.6


class _BaseHandler(APIHandler):
    @property
    def root(self) -> Path:
        """The directory the server serves (``ServerApp.root_dir``)."""
        return Path(self.settings["server_root_dir"]).expanduser().resolve()

    def text_argument(self, name: str, *, required: bool = False, default: str = "") -> str:
        """A query argument as text, refused (400) when missing, too long or holding NUL."""
        value = self.get_query_argument(name, default=None)
        if value is None or value == "":
            if required:
                raise tornado.web.HTTPError(400, f"Give the {name!r} query argument.")
            return default
        if len(value) > MAX_ARGUMENT:
            raise tornado.web.HTTPError(
                400, f"The {name!r} argument is longer than {MAX_ARGUMENT} characters."
            )
        if "\x00" in value:
            raise tornado.web.HTTPError(400, f"The {name!r} argument holds a NUL character.")
        return value

    def int_argument(self, name: str, default: int, low: int, high: int) -> int:
        """An integer query argument within ``[low, high]`` (400 otherwise)."""
        text = self.get_query_argument(name, default=None)
        if text is None or text == "":
            return default
        try:
            if len(text) > 20:
                raise ValueError
            value = int(text)
        except ValueError:
            raise tornado.web.HTTPError(400, f"{name!r} must be an integer.") from None
        if not low <= value <= high:
            raise tornado.web.HTTPError(400, f"{name!r} must be between {low} and {high}.")
        return value

    def store_dir(self, relative: str) -> Path:
        """The store at ``relative`` (under the root), or a 400/404 saying why not."""
        parts = relative.split("/")
        if any(len(part.encode("utf-8", "surrogatepass")) > MAX_COMPONENT for part in parts):
            raise tornado.web.HTTPError(
                400, f"A path component is longer than {MAX_COMPONENT} bytes."
            )
        try:
            directory = resolve_store(self.root, relative)
        except UnsafeNameError as exc:
            raise tornado.web.HTTPError(400, str(exc)) from None
        except (OSError, ValueError) as exc:
            raise tornado.web.HTTPError(400, f"Invalid path {relative!r}: {exc}.") from None
        try:
            found = directory.is_dir() and not directory.is_symlink() and is_store(directory)
        except OSError:
            found = False
        if not found:
            raise tornado.web.HTTPError(404, f"No persist_ext store at {relative!r}.")
        return directory

    async def in_thread(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run store work in a thread; map persist_ext errors to 4xx answers."""
        try:
            return await asyncio.to_thread(function, *args, **kwargs)
        except LeaseHeldError as exc:
            raise tornado.web.HTTPError(409, str(exc)) from None
        except StoreError as exc:
            # The index cannot be read (missing, a link, crafted, or too slow to read).
            raise tornado.web.HTTPError(422, str(exc)) from None
        except PersistError as exc:
            raise tornado.web.HTTPError(400, str(exc)) from None
        except OSError as exc:
            raise tornado.web.HTTPError(422, f"Cannot read the store: {exc.strerror}.") from None

    def reply(self, data: dict[str, Any]) -> None:
        """Finish with ``data`` as JSON."""
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, allow_nan=False, default=str))


def resolve_store(root: Path, relative: str) -> Path:
    """``root / relative``, refusing absolute paths, ``..`` and links that leave ``root``."""
    from ...storage._names import resolve_inside

    if os.path.isabs(relative) or relative.startswith("~"):
        raise UnsafeNameError(f"Path {relative!r} is absolute; give a path relative to the root.")
    return resolve_inside(root, relative)


class StoresHandler(_BaseHandler):
    """``GET stores``: every store under the server's root directory, nested ones included."""

    @tornado.web.authenticated
    async def get(self) -> None:
        root = self.root
        stores, truncated = await self.in_thread(find_stores, root, budget=LISTING_BUDGET)
        self.reply(
            {
                "root": str(root),
                "stores": [store.to_json() for store in stores],
                "truncated": truncated,
                # Stores whose entries are still being counted ("entries": null): ask again.
                "pending": sum(store.entries is None for store in stores),
            }
        )


class EntriesHandler(_BaseHandler):
    """``GET stores/entries``: a page of entries; ``DELETE``: one entry (not a cell's)."""

    @tornado.web.authenticated
    async def get(self) -> None:
        relative = self.text_argument("path", required=True)
        prefix = self.text_argument("prefix")
        glob = self.text_argument("glob")
        after = self.get_query_argument("after", default=None)
        if after is not None:
            after = self.text_argument("after") if after else ""
        limit = self.int_argument("limit", 100, 1, MAX_PAGE)
        offset = self.int_argument("offset", 0, 0, 10**9)
        directory = self.store_dir(relative)
        page = await self.in_thread(
            read_entries,
            directory,
            prefix=prefix,
            glob=glob,
            after=after or None,
            offset=offset,
            limit=limit,
        )
        self.reply(page.to_json(relative))

    @tornado.web.authenticated
    async def delete(self) -> None:
        relative = self.text_argument("path", required=True)
        key = self.text_argument("key", required=True)
        directory = self.store_dir(relative)
        deleted = await self.in_thread(delete_entry_key, directory, key)
        if not deleted:
            raise tornado.web.HTTPError(404, f"No entry {key!r} in {relative!r}.")
        self.reply({"path": relative, "key": key, "deleted": True})


class CellsHandler(_BaseHandler):
    """``GET stores/cells``: cached cells and their variants; ``DELETE``: a cell or a variant."""

    @tornado.web.authenticated
    async def get(self) -> None:
        relative = self.text_argument("path", required=True)
        directory = self.store_dir(relative)
        cells = await self.in_thread(list_cells, directory, self.root)
        self.reply({"path": relative, "cells": cells})

    @tornado.web.authenticated
    async def delete(self) -> None:
        relative = self.text_argument("path", required=True)
        name = self.text_argument("name", required=True)
        variant = self.text_argument("variant") or None
        directory = self.store_dir(relative)
        removed = await self.in_thread(delete_cell, directory, name, variant)
        if not removed:
            raise tornado.web.HTTPError(404, f"No stored cell {name!r} in {relative!r}.")
        self.reply({"path": relative, "name": name, "variant": variant, "deleted": removed})


class FunctionsHandler(_BaseHandler):
    """``GET stores/functions``: cached functions and their calls; ``DELETE``: clear them."""

    @tornado.web.authenticated
    async def get(self) -> None:
        relative = self.text_argument("path", required=True)
        directory = self.store_dir(relative)
        functions = await self.in_thread(list_functions, directory)
        self.reply({"path": relative, "functions": functions})

    @tornado.web.authenticated
    async def delete(self) -> None:
        relative = self.text_argument("path", required=True)
        name = self.text_argument("name", required=True)
        call = self.text_argument("call") or None
        directory = self.store_dir(relative)
        removed = await self.in_thread(clear_calls, directory, name, call)
        if not removed:
            what = f"call {call!r} of {name!r}" if call else f"function {name!r}"
            raise tornado.web.HTTPError(404, f"No cached {what} in {relative!r}.")
        self.reply({"path": relative, "name": name, "call": call, "deleted": removed})


class _WaitingHandler(_BaseHandler):
    _gone = False

    def on_connection_close(self) -> None:
        """The browser went away (panel closed, page reloaded): stop waiting for it."""
        self._gone = True
        super().on_connection_close()

    async def wait_for_news(
        self, directory: Path, since: str, wait: int, read: Callable[[], Any]
    ) -> Any:
        """``read()`` now and, while its ``version`` equals ``since``, again on each change.

        Between reads only the index files' sizes and times are compared (a few ``lstat``
        calls every :data:`WATCH_INTERVAL`); SQLite is read again when they change, or while
        a process runs a group (its death changes nothing on disk, only its lease).
        Returns the last read after at most ``wait`` seconds.
        """
        state = await self.in_thread(read)
        deadline = time.monotonic() + wait
        signature = index_signature(directory)
        while since and _version(state) == since and time.monotonic() < deadline:
            await asyncio.sleep(WATCH_INTERVAL)
            if self._gone:
                return None
            now = index_signature(directory)
            if now == signature and not _running(state):
                continue
            signature = now
            state = await self.in_thread(read)
        return state


def _version(state: Any) -> str:
    return state.version if hasattr(state, "version") else state["version"]


def _running(state: Any) -> bool:
    if hasattr(state, "running_process"):
        return bool(state.running_process)
    return any(group["running"] for group in state["groups"])


class GroupsHandler(_WaitingHandler):
    """``GET stores/groups``: every task group of a store, with counts and state.

    With ``since`` and ``wait`` it waits for any group to change, as ``GET stores/group``.
    """

    @tornado.web.authenticated
    async def get(self) -> None:
        relative = self.text_argument("path", required=True)
        since = self.text_argument("since")
        wait = self.int_argument("wait", 0, 0, int(MAX_WAIT))
        directory = self.store_dir(relative)

        def read() -> dict[str, Any]:
            groups = list_groups(directory)
            version = "/".join(f"{g['name']}:{g['version']}" for g in groups)
            digest = hashlib.sha256(version.encode("utf-8", "surrogatepass")).hexdigest()[:24]
            return {"groups": groups, "version": digest}

        reply = await self.wait_for_news(directory, since, wait, read)
        if reply is not None:
            self.reply({"path": relative, **reply})


class GroupHandler(_WaitingHandler):
    """``GET stores/group``: one group's progress and task rows, optionally waiting for news.

    With ``since=<version>`` (from a previous reply) and ``wait=<seconds>``, the request
    answers as soon as the group changes, or after ``wait`` seconds with the same version.
    The browser keeps one such request open and sends nothing while nothing happens.
    """

    @tornado.web.authenticated
    async def get(self) -> None:
        relative = self.text_argument("path", required=True)
        name = self.text_argument("name", required=True)
        status = self.text_argument("status")
        since = self.text_argument("since")
        wait = self.int_argument("wait", 0, 0, int(MAX_WAIT))
        limit = self.int_argument("limit", 100, 1, MAX_PAGE)
        offset = self.int_argument("offset", 0, 0, 10**9)
        directory = self.store_dir(relative)
        state = await self.wait_for_news(
            directory, since, wait, lambda: read_group(directory, name, status=status)
        )
        if state is None:
            return
        if not state.total and not state.running_process:
            raise tornado.web.HTTPError(404, f"No task group {name!r} in {relative!r}.")
        self.reply({"path": relative, **state.to_json(offset=offset, limit=limit)})


class ReplayHandler(_BaseHandler):
    """``POST stores/group/replay``: mark failed tasks for replay (refused while running)."""

    @tornado.web.authenticated
    async def post(self) -> None:
        relative = self.text_argument("path", required=True)
        name = self.text_argument("name", required=True)
        tasks: list[str] | None = None
        if self.request.body:
            try:
                body = json.loads(self.request.body)
            except ValueError:
                raise tornado.web.HTTPError(400, "The body must be JSON.") from None
            chosen = body.get("tasks") if isinstance(body, dict) else None
            if chosen is not None:
                if not isinstance(chosen, list) or not all(isinstance(t, str) for t in chosen):
                    raise tornado.web.HTTPError(400, '"tasks" must be a list of task keys.')
                tasks = chosen
        directory = self.store_dir(relative)
        replayed = await self.in_thread(replay_failed, directory, name, tasks)
        if replayed is None:
            raise tornado.web.HTTPError(
                404, f"No task group {name!r} in {relative!r}; list its groups first."
            )
        self.reply({"path": relative, "name": name, "replayed": replayed})

"""The stash browser: page through any stash or store, filter keys, preview and delete entries.

Opening a browser lists key *names* only and describes the ~50 keys of the visible page from
their stored metadata (type, size, age, JSON summary), so a 100,000-key store opens at once
and no value is decoded. A value is loaded only when the user presses *Load value* for one
entry. :class:`BrowserModel` holds the state and draws nothing; :class:`StashBrowser` is the
ipywidgets view (the entry table is a small anywidget, ``js/widgets/table.js``).
"""

from __future__ import annotations

import fnmatch
import html
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets as widgets
import traitlets

from ..._errors import InvalidArgumentError
from ..._format import format_ago, format_size
from ._browser_sources import Entry, EntrySource, source_for
from ._live import LiveDisplay
from ._preview import summary_html, value_html

__all__ = ["BrowserModel", "EntryTable", "StashBrowser", "browse"]

# Copied from js/widgets/ by the front-end build (`jlpm build:widgets`).
_ESM_DIR = Path(__file__).with_name("static")
_COLUMNS = ["key", "type", "size", "age"]


class BrowserModel:
    """Browsing state over an :class:`EntrySource`: key list, filter, page, descriptions.

    Parameters
    ----------
    source
        What to browse (see :func:`~._browser_sources.source_for`).
    page_size
        Keys per page (1 to 1000).

    Examples
    --------
    >>> from persist_ext.features._stash import DictionaryStash
    >>> model = BrowserModel(source_for(DictionaryStash({f"k{i}": i for i in range(120)})))
    >>> model.n_matches, model.n_pages, model.page_keys()[:2]
    (120, 3, ['k0', 'k1'])
    >>> model.set_filter("k11*"); model.page_keys()
    ['k11', 'k110', 'k111', 'k112', 'k113', 'k114', 'k115', 'k116', 'k117', 'k118', 'k119']
    """

    def __init__(self, source: EntrySource, page_size: int = 50) -> None:
        self.source = source
        self.page_size = _page_size(page_size)
        self.query = ""
        self.page = 0
        self._keys: list[str] = []
        self._matches: list[str] = []
        self._described: dict[str, Entry | None] = {}
        self.refresh()

    def refresh(self) -> None:
        """Re-list the keys (names only) and forget cached descriptions."""
        self._keys = self.source.list_keys()
        self._described.clear()
        self._apply_filter()

    def _apply_filter(self) -> None:
        q = self.query.strip()
        if not q:
            self._matches = self._keys
        elif any(ch in q for ch in "*?["):
            self._matches = fnmatch.filter(self._keys, q)
        else:
            folded = q.casefold()
            self._matches = [k for k in self._keys if folded in k.casefold()]
        self.page = min(self.page, self.n_pages - 1)

    def set_filter(self, query: str) -> None:
        """Show keys containing ``query`` (case-insensitive), or matching it as a glob.

        A query with ``*``, ``?`` or ``[`` is a glob over the whole key (``cell/*/df``);
        otherwise it is a substring. The view goes back to the first page.
        """
        self.query = query
        self.page = 0
        self._apply_filter()

    @property
    def n_keys(self) -> int:
        """Keys in the source at the last refresh."""
        return len(self._keys)

    @property
    def n_matches(self) -> int:
        """Keys passing the filter."""
        return len(self._matches)

    @property
    def n_pages(self) -> int:
        """Pages of matching keys (at least 1)."""
        return max(1, -(-self.n_matches // self.page_size))

    def goto(self, page: int) -> None:
        """Show page ``page`` (0-based, clamped to the valid range)."""
        self.page = max(0, min(int(page), self.n_pages - 1))

    def page_keys(self) -> list[str]:
        """The keys on the current page."""
        start = self.page * self.page_size
        return self._matches[start : start + self.page_size]

    def describe(self, key: str) -> Entry | None:
        """Metadata of ``key`` (cached until :meth:`refresh`); never decodes the value."""
        if key not in self._described:
            self._described[key] = self.source.describe(key)
        return self._described[key]

    def page_entries(self) -> list[Entry]:
        """Descriptions of the current page's keys (keys deleted meanwhile are skipped)."""
        return [e for e in (self.describe(k) for k in self.page_keys()) if e is not None]

    def page_range(self) -> tuple[int, int]:
        """1-based first and last position shown (``(0, 0)`` when nothing matches)."""
        if not self._matches:
            return (0, 0)
        start = self.page * self.page_size
        return (start + 1, min(start + self.page_size, self.n_matches))

    def delete(self, key: str) -> None:
        """Delete ``key`` from the source and from the listing."""
        self.source.delete(key)
        self._described.pop(key, None)
        if key in self._keys:
            self._keys = [k for k in self._keys if k != key]
        self._apply_filter()


def _row(entry: Entry) -> dict[str, str]:
    return {
        "key": entry.key,
        "type": entry.type,
        "size": format_size(entry.size),
        "age": format_ago(entry.created),
    }


class EntryTable(anywidget.AnyWidget):
    """A clickable table of entries (front end: ``js/widgets/table.js``).

    ``rows`` are dicts with one string per column; clicking a row sets ``selected`` to its key.
    """

    _esm = _ESM_DIR / "table.js"
    _css = _ESM_DIR / "table.css"
    columns = traitlets.List(traitlets.Unicode(), default_value=_COLUMNS).tag(sync=True)
    rows = traitlets.List(traitlets.Dict(), help="one dict per row, keyed by column").tag(sync=True)
    selected = traitlets.Unicode("", help="key of the selected row, '' for none").tag(sync=True)


class StashBrowser(LiveDisplay, widgets.VBox):
    """Browse a stash, a store or the cell cache: paged keys, filter, preview, delete.

    Build it with :func:`browse`. ``model`` is the :class:`BrowserModel`; the child widgets
    (``filter``, ``table``, ``preview``, ...) are attributes so tests and code can drive them.
    """

    def __init__(self, source: EntrySource, *, page_size: int = 50, query: str = "") -> None:
        self.model = BrowserModel(source, page_size)
        self.header = widgets.HTML()
        self.filter = widgets.Text(
            value=query,
            placeholder="filter keys: text, or a glob like cell/*/df",
            continuous_update=False,
            layout=widgets.Layout(width="360px"),
        )
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.table = EntryTable()
        self.first_button = widgets.Button(description="«", layout=widgets.Layout(width="40px"))
        self.prev_button = widgets.Button(description="< Prev", layout=widgets.Layout(width="80px"))
        self.next_button = widgets.Button(description="Next >", layout=widgets.Layout(width="80px"))
        self.last_button = widgets.Button(description="»", layout=widgets.Layout(width="40px"))
        self.page_label = widgets.HTML()
        self.preview = widgets.HTML(layout=widgets.Layout(max_height="480px", overflow="auto"))
        self.load_button = widgets.Button(description="Load value", icon="eye", disabled=True)
        self.delete_button = widgets.Button(
            description="Delete…", icon="trash", button_style="danger", disabled=True
        )
        self.confirm_label = widgets.HTML()
        self.confirm_button = widgets.Button(description="Delete", button_style="danger")
        self.cancel_button = widgets.Button(description="Cancel")
        self.confirm_box = widgets.HBox(
            [self.confirm_label, self.confirm_button, self.cancel_button],
            layout=widgets.Layout(display="none"),
        )
        self.status = widgets.HTML()
        pager = widgets.HBox(
            [
                self.first_button,
                self.prev_button,
                self.page_label,
                self.next_button,
                self.last_button,
            ]
        )
        super().__init__(
            children=[
                self.header,
                widgets.HBox([self.filter, self.refresh_button]),
                self.table,
                pager,
                widgets.HBox([self.load_button, self.delete_button]),
                self.confirm_box,
                self.status,
                self.preview,
            ]
        )
        self.add_class("persist-ext-browser")
        self.loaded_key: str | None = None
        self.filter.observe(lambda change: self.set_filter(change["new"]), names="value")
        self.table.observe(lambda change: self.select(change["new"]), names="selected")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.first_button.on_click(lambda _b: self.goto(0))
        self.prev_button.on_click(lambda _b: self.goto(self.model.page - 1))
        self.next_button.on_click(lambda _b: self.goto(self.model.page + 1))
        self.last_button.on_click(lambda _b: self.goto(self.model.n_pages - 1))
        self.load_button.on_click(lambda _b: self.load_selected())
        self.delete_button.on_click(lambda _b: self.ask_delete())
        self.confirm_button.on_click(lambda _b: self.confirm_delete())
        self.cancel_button.on_click(lambda _b: self.cancel_delete())
        if query:
            self.model.set_filter(query)
        self._draw_page()

    # --- actions (buttons call these; so can code and tests) -----------------------------

    def refresh(self) -> None:
        """Re-list keys from the source and redraw the page (the selection is kept if present)."""
        self.model.refresh()
        self._draw_page()
        if self.table.selected and self.model.describe(self.table.selected) is None:
            self.select("")

    def set_filter(self, query: str) -> None:
        """Filter keys (substring or glob) and show the first page."""
        self.model.set_filter(query)
        if self.filter.value != query:
            self.filter.value = query
        self._draw_page()

    def goto(self, page: int) -> None:
        """Show page ``page`` (0-based, clamped)."""
        self.model.goto(page)
        self._draw_page()

    def select(self, key: str) -> None:
        """Select ``key`` and preview it from its stored summary (the value is not loaded)."""
        if self.table.selected != key:
            self.table.selected = key  # the observer calls back into select()
            return
        self.loaded_key = None
        self.cancel_delete()
        entry = self.model.describe(key) if key else None
        self.load_button.disabled = entry is None
        self.delete_button.disabled = entry is None or not self.model.source.writable
        if entry is None:
            self.preview.value = "" if not key else f"<i>{html.escape(key)} no longer exists</i>"
            return
        self.preview.value = summary_html(entry)

    def load_selected(self) -> None:
        """Load the selected entry's value and preview it (a frame's head, an array, ...)."""
        key = self.table.selected
        if not key:
            return
        try:
            value = self.model.source.load(key)
        except Exception as exc:  # show why (corrupt entry, missing module) instead of dying
            self.status.value = _error_html(f"cannot load {key!r}", exc)
            return
        self.status.value = ""
        self.loaded_key = key
        entry = self.model.describe(key)
        head = summary_html(entry) if entry is not None else ""
        self.preview.value = head + "<hr/>" + value_html(value)

    def ask_delete(self) -> None:
        """Ask for confirmation before deleting the selected entry."""
        key = self.table.selected
        if not key:
            return
        self.confirm_label.value = f"Delete <code>{html.escape(key)}</code>? This cannot be undone."
        self.confirm_box.layout.display = "flex"

    def cancel_delete(self) -> None:
        """Hide the confirmation without deleting."""
        self.confirm_box.layout.display = "none"

    def confirm_delete(self) -> None:
        """Delete the selected entry (after :meth:`ask_delete`) and redraw."""
        key = self.table.selected
        if not key or self.confirm_box.layout.display == "none":
            return
        self.cancel_delete()
        try:
            self.model.delete(key)
        except Exception as exc:
            self.status.value = _error_html(f"cannot delete {key!r}", exc)
            return
        self.status.value = f"deleted <code>{html.escape(key)}</code>"
        self.select("")
        self._draw_page()

    # --- drawing -------------------------------------------------------------------------

    def _draw_page(self) -> None:
        m = self.model
        first, last = m.page_range()
        self.table.rows = [_row(e) for e in m.page_entries()]
        filt = f" matching <code>{html.escape(m.query)}</code>" if m.query.strip() else ""
        self.header.value = f"<b>{html.escape(m.source.label)}</b> — {_keys(m.n_keys)}" + (
            f", {m.n_matches:,}{filt}" if filt else ""
        )
        self.page_label.value = (
            f"&nbsp;{first:,}-{last:,} of {m.n_matches:,} (page {m.page + 1:,}/{m.n_pages:,})&nbsp;"
        )
        self.first_button.disabled = self.prev_button.disabled = m.page == 0
        self.next_button.disabled = self.last_button.disabled = m.page >= m.n_pages - 1

    def snapshot_text(self) -> str:
        m = self.model
        first, last = m.page_range()
        lines = [
            f"{m.source.label}: {_keys(m.n_keys)}; showing {first:,}-{last:,} of {m.n_matches:,}"
        ]
        lines += [
            f"  {r['key']}  {r['type']}  {r['size']}  {r['age']}" for r in self.table.rows[:20]
        ]
        return "\n".join(lines)

    def snapshot_html(self) -> str:
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(r[c])}</td>" for c in _COLUMNS) + "</tr>"
            for r in self.table.rows[:20]
        )
        head = "".join(f"<th>{c}</th>" for c in _COLUMNS)
        more = len(self.table.rows) < self.model.n_matches
        return (
            f'<div class="persist-ext-browser"><div>{self.header.value}; '
            f"{self.page_label.value}</div><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{rows}</tbody></table>{'<div>…</div>' if more else ''}</div>"
        )


def _keys(n: int) -> str:
    """``1 key``, ``100,000 keys``."""
    return f"{n:,} key" if n == 1 else f"{n:,} keys"


def _error_html(what: str, exc: BaseException) -> str:
    return (
        f'<span style="color:#e53935">{html.escape(what)}: '
        f"{html.escape(type(exc).__name__)}: {html.escape(str(exc))}</span>"
    )


def browse(
    obj: Any = None,
    *,
    prefix: str | tuple[str, ...] = "",
    page_size: int = 50,
    query: str = "",
) -> StashBrowser:
    """Open a browser over a stash, a store, the cell cache or a mapping.

    Lists key names and describes only the visible page from stored metadata, so huge stores
    open at once and no value is decoded until you press *Load value*.

    Parameters
    ----------
    obj
        A ``Stash``, a ``Store`` / any ``KeyValueStore``, the cell cache, a mapping, or
        ``None`` for the default store.
    prefix
        Only keys starting with this (stores only), e.g. ``"tasks/fit/"``; a tuple of
        prefixes lists each in turn (``("cell/", "memo/")``: cells and cached functions).
    page_size
        Keys per page (1 to 1000).
    query
        Initial filter (substring, or a glob with ``*``/``?``/``[``).

    Returns
    -------
    StashBrowser
        The widget; it shows when it is the cell's last expression or passed to ``display``.

    Raises
    ------
    TypeError
        When ``obj`` is none of the accepted kinds.

    Examples
    --------
    >>> from persist_ext.features._stash import DictionaryStash
    >>> b = browse(DictionaryStash({"a": 1, "b": [1, 2]}))
    >>> [r["key"] for r in b.table.rows]
    ['a', 'b']
    >>> browse(42)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    persist_ext._errors.InvalidArgumentError: cannot browse a int: pass a Stash, ...
    """
    # Checked before anything is opened (browse() with no store opens the default one).
    _page_size(page_size)
    prefixes = prefix if isinstance(prefix, tuple) else (prefix,)
    if not all(isinstance(p, str) for p in prefixes):
        raise InvalidArgumentError(
            f"prefix= is a key prefix (str) or a tuple of them, e.g. prefix='cell/', not {prefix!r}"
        )
    if not isinstance(query, str):
        raise InvalidArgumentError(f"query= is filter text (str), e.g. '*.png', not {query!r}")
    return StashBrowser(source_for(obj, prefix=prefix), page_size=page_size, query=query)


def _page_size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
        raise InvalidArgumentError(f"page_size= is an int from 1 to 1000, not {value!r}")
    return value

"""HTML previews of stored entries: from the JSON summary (no decoding) or from a loaded value.

Summaries are what the store recorded when the value was written (``EntryInfo.summary``):
``type``, and where they apply ``shape``/``dtype``, ``columns``/``dtypes``, ``head`` (a frame's
first rows), ``repr``, ``len``, ``png`` (a base64 thumbnail). Unknown fields are listed as
they are. Every string is escaped.
"""

from __future__ import annotations

import base64
import html
import io
import time
from typing import Any

from ..._format import format_ago, format_size
from ...storage._usercode import type_module
from ._browser_sources import Entry

__all__ = ["summary_html", "value_html"]

_TD = "padding:1px 8px;text-align:left;vertical-align:top;border-bottom:1px solid #ddd"
_HANDLED = {"type", "shape", "dtype", "columns", "dtypes", "head", "repr", "png", "image"}


def _table(rows: list[list[Any]], header: list[Any] | None = None) -> str:
    head = ""
    if header:
        head = (
            "<thead><tr>"
            + "".join(f'<th style="{_TD}">{html.escape(str(h))}</th>' for h in header)
            + "</tr></thead>"
        )
    body = "".join(
        "<tr>" + "".join(f'<td style="{_TD}">{html.escape(str(c))}</td>' for c in row) + "</tr>"
        for row in rows
    )
    return (
        '<table style="border-collapse:collapse;font-family:monospace;font-size:12px">'
        f"{head}<tbody>{body}</tbody></table>"
    )


def _head_table(head: Any, columns: list[Any] | None) -> str:
    """A frame's first rows as stored: records, ``{"columns", "data"}`` or pre-rendered text."""
    if isinstance(head, dict) and "data" in head:
        cols = list(head.get("columns") or columns or [])
        index = head.get("index")
        rows = [list(r) for r in head["data"]]
        if index is not None:
            return _table([[i, *r] for i, r in zip(index, rows)], ["", *cols])
        return _table(rows, cols or None)
    if isinstance(head, list) and head and isinstance(head[0], dict):
        cols = list(columns or head[0].keys())
        return _table([[rec.get(c, "") for c in cols] for rec in head], cols)
    return f"<pre>{html.escape(str(head))}</pre>"


def _img(data: str | bytes, mime: str = "image/png") -> str:
    b64 = data if isinstance(data, str) else base64.b64encode(data).decode("ascii")
    return f'<img src="data:{mime};base64,{b64}" style="max-width:400px;max-height:300px"/>'


def summary_html(entry: Entry) -> str:
    """Describe ``entry`` from what was stored with it; the value is not decoded."""
    s = entry.summary
    facts = [
        ["key", entry.key],
        ["type", entry.type],
        ["size", format_size(entry.size)],
        [
            "stored",
            "?"
            if entry.created is None
            else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.created))
            + f" ({format_ago(entry.created)})",
        ],
    ]
    if entry.serializer:
        facts.append(["serializer", entry.serializer])
    if "shape" in s:
        facts.append(["shape", " x ".join(str(n) for n in s["shape"]) or "()"])
    if "dtype" in s:
        facts.append(["dtype", s["dtype"]])
    if entry.expires is not None:
        facts.append(["expires", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.expires))])
    facts += [[name, value] for name, value in s.items() if name not in _HANDLED]
    facts += [[f"meta.{name}", value] for name, value in entry.meta.items()]
    parts = [_table(facts)]
    if "dtypes" in s and isinstance(s["dtypes"], dict):
        parts.append("<div><b>columns</b></div>" + _table([list(kv) for kv in s["dtypes"].items()]))
    elif "columns" in s:
        parts.append(f"<div><b>columns</b>: {html.escape(', '.join(map(str, s['columns'])))}</div>")
    if "head" in s:
        parts.append("<div><b>head</b></div>" + _head_table(s["head"], s.get("columns")))
    image = s.get("png") or s.get("image")
    if isinstance(image, str):
        parts.append(_img(image))
    if "repr" in s:
        parts.append(f'<pre style="white-space:pre-wrap">{html.escape(str(s["repr"]))}</pre>')
    return '<div class="persist-ext-preview">' + "".join(parts) + "</div>"


def _array_html(arr: Any) -> str:
    import numpy as np

    facts: list[list[Any]] = [
        ["shape", " x ".join(map(str, arr.shape)) or "()"],
        ["dtype", str(arr.dtype)],
    ]
    if (
        arr.size
        and np.issubdtype(arr.dtype, np.number)
        and not np.issubdtype(arr.dtype, np.complexfloating)
    ):
        facts += [
            ["min", np.nanmin(arr)],
            ["max", np.nanmax(arr)],
            ["mean", np.nanmean(arr)],
            ["NaN", int(np.isnan(arr).sum()) if np.issubdtype(arr.dtype, np.floating) else 0],
        ]
    text = np.array2string(arr, threshold=50, edgeitems=3)
    return _table(facts) + f"<pre>{html.escape(text)}</pre>"


def value_html(value: Any, max_rows: int = 20) -> str:
    """Preview a loaded value: a frame's head, an array's summary, an image, or its repr."""
    module = type_module(value).split(".")[0]
    if module == "pandas" and hasattr(value, "head") and hasattr(value, "to_html"):
        shape = " x ".join(map(str, value.shape))
        frame = value.head(max_rows)
        if hasattr(frame, "to_frame") and not hasattr(frame, "columns"):
            frame = frame.to_frame()
        return f"<div>{html.escape(type(value).__name__)} {shape}</div>" + frame.to_html(
            max_cols=30, border=0
        )
    if module == "numpy" and hasattr(value, "shape") and hasattr(value, "dtype"):
        return _array_html(value)
    if isinstance(value, (bytes, bytearray)):
        if value[:8] == b"\x89PNG\r\n\x1a\n":
            return _img(bytes(value))
        if value[:3] == b"\xff\xd8\xff":
            return _img(bytes(value), "image/jpeg")
    if module == "PIL" and hasattr(value, "save"):
        buf = io.BytesIO()
        thumb = value.copy()
        thumb.thumbnail((400, 300))
        thumb.save(buf, format="PNG")
        return _img(buf.getvalue())
    repr_png = getattr(value, "_repr_png_", None)
    if callable(repr_png):
        data = repr_png()
        if data:
            return _img(data)
    text = repr(value)
    if len(text) > 5000:
        text = text[:4999] + "…"
    return f'<pre style="white-space:pre-wrap">{html.escape(text)}</pre>'

"""Cached function calls (``persist_ext.cache``, issue #17) as the server sees them.

One row per function, its calls inside, read from the JSON headers of the memo layout
(``features/_memo/_layout.py``: ``memo/<function>/<key>/result`` whose meta describes the
call, ``.../used`` whose meta holds hits and last use, ``.../lock`` while a process computes
it). No result is ever decoded. Clearing goes through :func:`clear_calls`: results first (a
concurrent reader sees a miss, never half a call), then the rest of each call, in one store
transaction, refused while a process computes one of the calls (``_mutations.clear_calls``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...features._memo._layout import LOCK, PREFIX, RESULT, USED
from ._stores import read_headers

__all__ = ["MAX_CALLS", "list_functions"]

#: Calls listed per function (the most recently used first); ``calls_total`` counts all.
MAX_CALLS = 200


def _split(key: str) -> tuple[str, str, str] | None:
    """``memo/<function>/<key>/<leaf>`` -> (function, key, leaf)."""
    parts = key[len(PREFIX) :].split("/")
    if len(parts) != 3 or parts[2] not in (RESULT, USED, LOCK):
        return None
    return parts[0], parts[1], parts[2]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and value == value else None


def list_functions(store: Path) -> list[dict[str, Any]]:
    """Every cached function of ``store``: name, calls, hits, bytes, last use, its calls."""
    calls: dict[tuple[str, str], dict[str, Any]] = {}
    uses: dict[tuple[str, str], tuple[float | None, int]] = {}
    computing: set[tuple[str, str]] = set()
    for entry in read_headers(store, prefix=PREFIX):
        parsed = _split(entry["key"])
        if parsed is None:
            continue
        function, key, leaf = parsed
        meta = entry.get("meta") or {}
        if leaf == LOCK:
            computing.add((function, key))  # live: expired claims are not listed
        elif leaf == USED:
            hits = meta.get("hits")
            uses[(function, key)] = (
                _number(meta.get("last_used")),
                int(hits) if isinstance(hits, int) else 0,
            )
        elif meta.get("kind") == "call":
            created = _number(meta.get("created")) or float(entry["created"])
            calls[(function, key)] = {
                "key": key,
                "name": str(meta.get("name") or meta.get("function") or function),
                "call": str(meta.get("call") or "")[:500],
                "size": int(entry.get("size") or 0),
                "created": created,
                "duration": _number(meta.get("duration")),
                "expires": entry.get("expires"),
                "type": str(entry.get("type") or ""),
            }
    functions: dict[str, dict[str, Any]] = {}
    for (function, key), call in calls.items():
        last, hits = uses.get((function, key), (None, 0))
        call["hits"] = hits
        call["last_used"] = max(call["created"], last or 0.0)
        call["computing"] = (function, key) in computing
        row = functions.setdefault(function, {"key": function, "name": call["name"], "calls": []})
        row["calls"].append(call)
    for function, _ in computing - set(calls):
        # Being computed for the first time: shown so the user sees why a clear is refused.
        functions.setdefault(function, {"key": function, "name": function, "calls": []})
    result = []
    for row in functions.values():
        every = sorted(row["calls"], key=lambda c: -c["last_used"])
        row.update(
            calls=every[:MAX_CALLS],
            calls_total=len(every),
            hits=sum(c["hits"] for c in every),
            size=sum(c["size"] for c in every),
            last_used=max((c["last_used"] for c in every), default=None),
            slowest=max((c["duration"] or 0.0 for c in every), default=None),
            computing=sum(1 for f, _ in computing if f == row["key"]),
        )
        result.append(row)
    result.sort(key=lambda r: r["name"].lower())
    return result

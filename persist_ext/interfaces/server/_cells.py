"""Cached cells as the server sees them: one row per cell name, its stored variants inside.

Read from the JSON kept beside each manifest (``Manifest.meta()``: name, notebook, cell
id, code, variables with types and sizes, outputs, run time, inputs, its run), from the
headers of that run's variable groups (each variable's summary) and from the hit counters'
headers; no manifest, variable or output is decoded. The key layout is the cell
cache's (``features/_cellcache/_entry.py``); parsed here in :func:`_split_key` only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ...features._cellcache._entry import PREFIX
from ._stores import read_headers

__all__ = ["list_cells"]


def _split_key(key: str) -> tuple[str, str, str] | None:
    """``cell/<name>/<key>/<leaf>`` -> (name, key, leaf) for manifests and hit counters."""
    parts = key[len(PREFIX) :].split("/")
    if len(parts) != 3 or parts[2] not in ("manifest", "hits"):
        return None
    return parts[0], parts[1], parts[2]


def _group_entry(key: str) -> tuple[str, str, str] | None:
    """``cell/<name>/<key>/<run>/g<i>`` -> (name, key, run) for a run's variable groups."""
    parts = key[len(PREFIX) :].split("/")
    if len(parts) != 4 or not parts[3].startswith("g") or not parts[3][1:].isdigit():
        return None
    return parts[0], parts[1], parts[2]


def _summaries(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Variable -> summary of one group entry: its members' (a packed group, written by
    ``features/_covars.save_groups``) or, for a value stored alone, the entry's own."""
    meta = entry.get("meta") or {}
    names = meta.get("variables")
    if not isinstance(names, list):
        return {}
    members = meta.get("members")
    if meta.get("group"):
        if not isinstance(members, dict):
            return {}
        return {str(n): s for n, s in members.items() if isinstance(s, dict) and n in names}
    summary = entry.get("summary")
    if len(names) == 1 and isinstance(summary, dict):
        return {str(names[0]): summary}
    return {}


def _hits(entry: dict[str, Any]) -> int:
    # A counter's summary holds its repr (written with the value): read that, not the value.
    text = str(entry.get("summary", {}).get("repr", "0"))
    return int(text) if text.isdigit() else 0


def _relative_notebook(path: str, root: Path | None) -> str:
    """A recorded notebook path as a path under the server root ("" when outside it).

    Kernels record ``JPY_SESSION_NAME``, which Jupyter Server sets to the notebook's
    absolute path; the panel opens notebooks by their root-relative path.
    """
    if not path or root is None or not os.path.isabs(path):
        return path
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except (OSError, ValueError):
        return ""


def list_cells(store: Path, root: Path | None = None) -> list[dict[str, Any]]:
    """Every cached cell of ``store``: name, notebook, cell id and its variants (newest first).

    Notebook paths are made relative to ``root`` (the server's root directory).
    """
    variants: dict[tuple[str, str], dict[str, Any]] = {}
    hits: dict[tuple[str, str], int] = {}
    runs: dict[tuple[str, str], str] = {}
    described: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
    for entry in read_headers(store, prefix=PREFIX):
        parsed = _split_key(entry["key"])
        if parsed is None:
            group = _group_entry(entry["key"])
            if group is not None:
                described.setdefault(group, {}).update(_summaries(entry))
            continue
        safe, digest, leaf = parsed
        if leaf == "hits":
            hits[(safe, digest)] = _hits(entry)
            continue
        meta = entry.get("meta") or {}
        if meta.get("kind") != "cell":
            continue
        types: dict[str, Any] = meta["types"] if isinstance(meta.get("types"), dict) else {}
        sizes: dict[str, Any] = meta["sizes"] if isinstance(meta.get("sizes"), dict) else {}
        shared: dict[str, Any] = (
            meta["stored_with"] if isinstance(meta.get("stored_with"), dict) else {}
        )
        names: list[Any] = meta["variables"] if isinstance(meta.get("variables"), list) else []
        runs[(safe, digest)] = str(meta.get("run") or "")
        variants[(safe, digest)] = {
            "name": str(meta.get("name", safe)),
            "variant": digest,
            "notebook": _relative_notebook(str(meta.get("notebook") or ""), root),
            "cell_id": str(meta.get("cell_id") or ""),
            "created": meta.get("created", entry["created"]),
            "duration": meta.get("duration"),
            "size": meta.get("size", 0),
            "variables": [
                {
                    "name": str(n),
                    "type": str(types.get(n, "")),
                    "size": sizes.get(n),
                    "stored_with": _names(shared.get(n)),
                }
                for n in names
            ],
            "outputs": meta.get("n_outputs"),
            "inputs": meta.get("inputs") if isinstance(meta.get("inputs"), list) else [],
            "code": str(meta.get("source") or "")[:2000],
            "expires": entry.get("expires"),
            # "run": the cell cache decided to run this cell rather than restore it.
            "mode": str(meta.get("mode") or "restore"),
            "run_reason": str(meta.get("run_reason") or ""),
        }
    cells: dict[str, dict[str, Any]] = {}
    for (safe, digest), variant in variants.items():
        variant["hits"] = hits.get((safe, digest), 0)
        # Each variable's summary (shape, dtype, range, a frame's head...) from the headers
        # of the run the manifest names; null for variables stored before summaries were.
        run = runs[(safe, digest)]
        if not run:  # a manifest from before runs were named: its run, if only one is there
            seen = [r for (n, d, r) in described if (n, d) == (safe, digest)]
            run = seen[0] if len(seen) == 1 else ""
        summaries = described.get((safe, digest, run), {})
        for variable in variant["variables"]:
            variable["summary"] = summaries.get(variable["name"])
        cell = cells.setdefault(
            safe, {"name": variant["name"], "key": safe, "variants": [], "hits": 0}
        )
        cell["variants"].append(variant)
        cell["hits"] += variant["hits"]
    result = []
    for cell in cells.values():
        cell["variants"].sort(key=lambda v: -(v["created"] or 0))
        newest = cell["variants"][0]
        cell.update(
            notebook=newest["notebook"],
            cell_id=newest["cell_id"],
            created=newest["created"],
            duration=newest["duration"],
            size=sum(v["size"] or 0 for v in cell["variants"]),
        )
        result.append(cell)
    result.sort(key=lambda c: c["name"])
    return result


def _names(value: Any) -> list[str]:
    """A list of variable names from header meta (anything else: none)."""
    if not isinstance(value, list):
        return []
    return [str(v) for v in value[:64] if isinstance(v, str)]

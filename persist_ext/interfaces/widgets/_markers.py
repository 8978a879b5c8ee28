"""Marker completion: the marker tree's progress level by level and the completion moment.

Reads a group's marker tree from its store (workers in any process write the done flags;
this kernel only reads them) in a :class:`~._live.Poller` thread: per level how many markers
are done, which internal groups are complete, and when the root completed, i.e. the moment
the completion callback fired (exactly once, across processes).
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets

from ..._errors import InvalidArgumentError
from ...features._tasks._keys import callback_claim_key, marker_flag
from ...features._tasks._markers import (
    filter_known_done,
    level_completion,
    marker_get,
    marker_get_multi,
)
from ...storage._protocol import KeyValueStore
from ._live import LiveDisplay

__all__ = [
    "MarkerProgress",
    "MarkerState",
    "display_markers",
    "markers_html",
    "markers_text",
    "read_markers",
]


@dataclass(frozen=True)
class MarkerState:
    """The marker tree at one instant.

    ``levels`` is ``(done, total)`` per level, leaves first and the root last; ``groups``
    lists, per internal level (level 1 first, root excluded), the done flag of each group;
    ``completed_at`` is when the root completed, or None; ``callback_at`` when a process
    claimed the completion callback (``mark_reached(root, "callback")``), or None.
    """

    root_id: str
    levels: tuple[tuple[int, int], ...]
    groups: tuple[tuple[tuple[str, bool], ...], ...]
    completed_at: float | None
    read_at: float
    callback_at: float | None = None

    @property
    def complete(self) -> bool:
        """Whether the root is done."""
        return self.completed_at is not None


class _TreeShape:
    """The ids of a tree's internal nodes by level, read once (the shape never changes)."""

    def __init__(self, store: KeyValueStore, root_id: str) -> None:
        self.root_id = root_id
        self.levels: list[list[str]] = []
        self.n_leaves = 0
        root = marker_get(root_id, store=store)
        if root is None:
            return
        frontier = [root]
        while frontier and frontier[0].level > 1:
            ids = [cid for node in frontier for cid in node.children_ids()]
            frontier = [m for m in marker_get_multi(ids, store=store) if m.children]
            self.levels.insert(0, [m.id for m in frontier])
        # Leaves may not be stored as records (only their done flags), so count them from
        # their parents: the tree's shape, not a key scan, says how many there are.
        self.n_leaves = sum(len(node.children) for node in frontier)


def _stamp(store: KeyValueStore, key: str) -> float | None:
    # The done flag and reached points store epoch times; reading one decodes a float.
    value = store.get(key, None)
    return float(value) if isinstance(value, (int, float)) else None


def read_markers(
    store: KeyValueStore, root_id: str, _shape: _TreeShape | None = None
) -> MarkerState:
    """Read the marker tree rooted at ``root_id`` (done flags only; results are not loaded)."""
    shape = _shape or _TreeShape(store, root_id)
    groups = []
    for ids in shape.levels:
        pending = set(filter_known_done(ids, store=store))
        groups.append(tuple((idx, idx not in pending) for idx in ids))
    levels = level_completion(store, root_id)
    if levels and levels[0][1] < shape.n_leaves:
        levels = ((levels[0][0], shape.n_leaves), *levels[1:])
    return MarkerState(
        root_id=root_id,
        levels=levels,
        groups=tuple(groups),
        completed_at=_stamp(store, marker_flag(root_id, "done")),
        read_at=time.time(),
        callback_at=_stamp(store, callback_claim_key(root_id)),
    )


def _level_name(index: int, n_levels: int) -> str:
    if index == 0:
        return "tasks"
    if index == n_levels - 1:
        return "root"
    return f"level {index}"


def _groups_line(groups: tuple[tuple[str, bool], ...], limit: int = 200) -> str:
    cells = "".join(
        f'<span title="{html.escape(idx)}" style="display:inline-block;width:9px;height:9px;'
        f'margin:1px;background:{"#43a047" if done else "#e0e0e0"}"></span>'
        for idx, done in groups[:limit]
    )
    more = f" +{len(groups) - limit}" if len(groups) > limit else ""
    return cells + more


def _when(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def _completion_line(state: MarkerState) -> str:
    if not state.complete:
        return f"waiting for completion (as of {_when(state.read_at)})"
    line = f"all markers done at {_when(state.completed_at or 0)}"
    if state.callback_at is not None:
        line += f" - completion callback fired at {_when(state.callback_at)}"
    return line


def _groups_cell(state: MarkerState, i: int) -> str:
    n = len(state.levels)
    return _groups_line(state.groups[i - 1]) if 0 < i < n - 1 and i - 1 < len(state.groups) else ""


def markers_html(state: MarkerState, status: str = "") -> str:
    """Static HTML: one bar per level, complete groups as green squares, the completion line.

    ``status`` replaces the "waiting for completion" line of an incomplete tree (the live
    display's sentence, e.g. ``"running at 14:02:05 — 38/80 tasks done"``).
    """
    rows = []
    n = len(state.levels)
    for i, (done, total) in enumerate(state.levels):
        pct = 100.0 * done / total if total else 100.0
        rows.append(
            f'<tr><td style="padding:1px 8px">{_level_name(i, n)}</td>'
            f'<td><div style="width:200px;height:10px;background:#e0e0e0">'
            f'<div style="width:{pct:.1f}%;height:10px;background:#43a047"></div></div></td>'
            f'<td style="padding:1px 8px">{done}/{total}</td><td>{_groups_cell(state, i)}</td></tr>'
        )
    color = "#2e7d32;font-weight:bold" if state.complete else "#757575"
    mark = "&#10003; " if state.complete else ""
    line = _completion_line(state) if state.complete or not status else status
    return (
        '<div class="persist-ext-markers" style="font-family:sans-serif;font-size:13px">'
        f"<b>markers {html.escape(state.root_id)}</b><table>{''.join(rows)}</table>"
        f'<div style="color:{color}">{mark}{html.escape(line)}</div></div>'
    )


def markers_text(state: MarkerState, status: str = "") -> str:
    """Plain text: ``markers g/1/root: tasks 37/100, level 1 3/10, root 0/1 | running ...``."""
    n = len(state.levels)
    parts = ", ".join(f"{_level_name(i, n)} {d}/{t}" for i, (d, t) in enumerate(state.levels))
    line = _completion_line(state) if state.complete or not status else status
    return f"markers {state.root_id}: {parts or 'no tree yet'} | {line}"


def _group_root(group: Any) -> str | None:
    return getattr(group, "root_id", None)


class MarkerProgress(LiveDisplay, widgets.VBox):
    """Live marker-tree completion: a bar per level, complete groups, the callback moment.

    Parameters
    ----------
    source
        A ``TaskGroup`` (its tree appears when it runs), or a store holding a marker tree.
    root_id
        With a store: the tree's root marker id, e.g. ``"fit/1/root"``.
    interval
        Seconds between reads (>= 0.1).
    grace
        Seconds to keep polling after the root is done, waiting for the completion callback
        to be claimed (it is claimed right after, by whichever process saw the root done).

    Examples
    --------
    >>> from persist_ext.storage._memory import MemoryStore
    >>> from persist_ext.features._tasks._markers import build_tree, marker_persist
    >>> store = MemoryStore()
    >>> marker_persist(build_tree("g/1", ["a", "b", "c"], batch_size=2), store=store)
    >>> MarkerProgress(store, "g/1/root").state.levels
    ((0, 3), (0, 2), (0, 1))
    """

    def __init__(
        self,
        source: Any,
        root_id: str | None = None,
        *,
        interval: float = 0.5,
        grace: float = 10.0,
    ) -> None:
        if isinstance(source, KeyValueStore):
            if not root_id:
                raise InvalidArgumentError(
                    "MarkerProgress(store, root_id) needs the tree's root marker id"
                )
            self.store, self._root = source, (lambda: root_id)
            self.expects_callback = True
        elif isinstance(getattr(source, "store", None), KeyValueStore):
            self.store = source.store
            self._root = lambda: root_id or _group_root(source) or ""
            self.expects_callback = getattr(source, "on_complete", True) is not None
        else:
            raise InvalidArgumentError(
                f"MarkerProgress needs a TaskGroup or (store, root_id), got {type(source).__name__}"
            )
        self.grace = grace
        self._shape: _TreeShape | None = None
        self.title = widgets.HTML()
        self.level_box = widgets.VBox()
        self.banner = widgets.HTML()
        super().__init__(children=[self.title, self.level_box, self.banner])
        self.add_class("persist-ext-markers")
        self.bars: list[widgets.IntProgress] = []
        self.labels: list[widgets.HTML] = []
        self._init_live(source, interval=interval, poll=True)

    # -- the LiveDisplay contract ----------------------------------------------------------

    def read(self) -> MarkerState:
        """Read the tree's state from the store (an empty state until the tree exists)."""
        root = self._root()
        if not root:  # the group has not run yet: no tree
            return MarkerState("(no run yet)", (), (), None, time.time())
        if self._shape is None or self._shape.root_id != root or not self._shape.levels:
            self._shape = _TreeShape(self.store, root)
        return read_markers(self.store, root, self._shape)

    def is_final(self, state: MarkerState) -> bool:
        if not state.complete:
            return False
        if state.callback_at is not None or not self.expects_callback:
            return True
        # The group ran and ended without claiming the callback here: another process did,
        # or it will never be claimed (the callback was removed); do not wait forever.
        if getattr(self._source, "running", True) is False:
            return True
        return time.time() - (state.completed_at or 0) > self.grace

    def has_started(self, state: MarkerState) -> bool:
        return bool(state.levels)

    def progress_words(self, state: MarkerState) -> str:
        if not state.levels:
            return "no marker tree yet"
        done, total = state.levels[0]
        return f"{done}/{total} tasks done"

    def _ensure_rows(self, n: int) -> None:
        if len(self.bars) == n:
            return
        self.bars = [widgets.IntProgress(min=0, max=1, value=0) for _ in range(n)]
        self.labels = [widgets.HTML() for _ in range(n)]
        self.level_box.children = [widgets.HBox([b, lab]) for b, lab in zip(self.bars, self.labels)]

    def draw(self, state: MarkerState) -> None:
        """Draw ``state`` (the poller, a run's end and the cell end call this)."""
        n = len(state.levels)
        self._ensure_rows(n)
        self.title.value = f"<b>markers</b> <code>{html.escape(state.root_id)}</code>"
        for i, (done, total) in enumerate(state.levels):
            bar = self.bars[i]
            bar.max = max(total, 1)
            bar.value = min(done, bar.max)
            bar.description = _level_name(i, n)
            bar.bar_style = "success" if total and done == total else "info"
            self.labels[i].value = f"&nbsp;{done}/{total} {_groups_cell(state, i)}"
        if state.complete:
            self.banner.value = (
                '<div style="color:#2e7d32;font-weight:bold;padding:4px;background:#e8f5e9">'
                f"&#10003; {_completion_line(state)}</div>"
            )
        else:
            line = html.escape(self.status_words() or _completion_line(state))
            self.banner.value = f'<span style="color:#757575">{line}</span>'

    def update(self, state: MarkerState) -> None:
        """Draw a given state (it becomes the state shown)."""
        self._apply_in_order((self._next_seq(), state))

    def state_text(self, state: MarkerState, status: str) -> str:
        return markers_text(state, status)

    def state_html(self, state: MarkerState, status: str) -> str:
        return markers_html(state, status)


def display_markers(source: Any, root_id: str | None = None, *, interval: float = 0.5) -> Any:
    """Display a live :class:`MarkerProgress` for a TaskGroup (or store and root id)."""
    from IPython.display import display

    view = MarkerProgress(source, root_id, interval=interval)
    display(view)
    return view

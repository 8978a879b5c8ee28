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

from ...features._tasks._markers import (
    filter_known_done,
    level_completion,
    marker_get,
    marker_get_multi,
)
from ...storage._protocol import KeyValueStore
from ._live import LiveDisplay, Poller

__all__ = ["MarkerProgress", "MarkerState", "display_markers", "markers_html", "read_markers"]


@dataclass(frozen=True)
class MarkerState:
    """The marker tree at one instant.

    ``levels`` is ``(done, total)`` per level, leaves first and the root last; ``groups``
    lists, per internal level (level 1 first, root excluded), the done flag of each group;
    ``completed_at`` is when the root completed (the callback fired), or None.
    """

    root_id: str
    levels: tuple[tuple[int, int], ...]
    groups: tuple[tuple[tuple[str, bool], ...], ...]
    completed_at: float | None
    read_at: float

    @property
    def complete(self) -> bool:
        """Whether the root is done."""
        return self.completed_at is not None


class _TreeShape:
    """The ids of a tree's internal nodes by level, read once (the shape never changes)."""

    def __init__(self, store: KeyValueStore, root_id: str) -> None:
        self.levels: list[list[str]] = []
        root = marker_get(root_id, store=store)
        if root is None:
            return
        frontier = [root]
        while frontier and frontier[0].level > 1:
            ids = [cid for node in frontier for cid in node.children_ids()]
            frontier = [m for m in marker_get_multi(ids, store=store) if m.children]
            self.levels.insert(0, [m.id for m in frontier])


def _root_done_time(store: KeyValueStore, root_id: str) -> float | None:
    group, _, rest = root_id.partition("/")
    value = store.get(f"tasks/{group}/markers/{rest}@done", None)
    return float(value) if isinstance(value, (int, float)) else None


def read_markers(store: KeyValueStore, root_id: str, _shape: _TreeShape | None = None) -> MarkerState:
    """Read the marker tree rooted at ``root_id`` (done flags only; results are not loaded)."""
    shape = _shape or _TreeShape(store, root_id)
    groups = []
    for ids in shape.levels:
        pending = set(filter_known_done(ids, store=store))
        groups.append(tuple((idx, idx not in pending) for idx in ids))
    return MarkerState(
        root_id=root_id,
        levels=level_completion(store, root_id),
        groups=tuple(groups),
        completed_at=_root_done_time(store, root_id),
        read_at=time.time(),
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


def markers_html(state: MarkerState) -> str:
    """Static HTML: one bar per level, complete groups as green squares, the completion line."""
    rows = []
    n = len(state.levels)
    for i, (done, total) in enumerate(state.levels):
        pct = 100.0 * done / total if total else 100.0
        squares = _groups_line(state.groups[i - 1]) if 0 < i < n - 1 and i - 1 < len(state.groups) else ""
        rows.append(
            f"<tr><td style=\"padding:1px 8px\">{_level_name(i, n)}</td>"
            f'<td><div style="width:200px;height:10px;background:#e0e0e0">'
            f'<div style="width:{pct:.1f}%;height:10px;background:#43a047"></div></div></td>'
            f'<td style="padding:1px 8px">{done}/{total}</td><td>{squares}</td></tr>'
        )
    if state.complete:
        banner = (
            '<div style="color:#2e7d32;font-weight:bold">✓ all markers done — completion '
            f"callback fired at {_when(state.completed_at or 0)}</div>"
        )
    else:
        banner = f'<div style="color:#757575">waiting for completion (as of {_when(state.read_at)})</div>'
    return (
        '<div class="persist-ext-markers" style="font-family:sans-serif;font-size:13px">'
        f"<b>markers {html.escape(state.root_id)}</b><table>{''.join(rows)}</table>{banner}</div>"
    )


def markers_text(state: MarkerState) -> str:
    """Plain text: ``markers g/1/root: tasks 37/100, level 1 3/10, root 0/1 | waiting``."""
    n = len(state.levels)
    parts = ", ".join(f"{_level_name(i, n)} {d}/{t}" for i, (d, t) in enumerate(state.levels))
    end = (
        f"completion callback fired at {_when(state.completed_at or 0)}"
        if state.complete
        else "waiting for completion"
    )
    return f"markers {state.root_id}: {parts} | {end}"


class MarkerProgress(LiveDisplay, widgets.VBox):
    """Live marker-tree completion: a bar per level, complete groups, the callback moment.

    Parameters
    ----------
    store
        The store the group's markers live in (the kernel's handle; workers may use their own).
    root_id
        The tree's root marker id, e.g. ``"fit/1/root"``.
    interval
        Seconds between reads (>= 0.1).

    Examples
    --------
    >>> from persist_ext.storage._memory import MemoryStore
    >>> from persist_ext.features._tasks._markers import build_tree, marker_persist
    >>> store = MemoryStore()
    >>> marker_persist(build_tree("g/1", ["a", "b", "c"], batch_size=2), store=store)
    >>> MarkerProgress(store, "g/1/root").state.levels
    ((0, 3), (0, 2), (0, 1))
    """

    def __init__(self, store: KeyValueStore, root_id: str, *, interval: float = 0.5) -> None:
        self.store, self.root_id = store, root_id
        self._shape = _TreeShape(store, root_id)
        self.title = widgets.HTML(f"<b>markers</b> <code>{html.escape(root_id)}</code>")
        self.level_box = widgets.VBox()
        self.banner = widgets.HTML()
        super().__init__(children=[self.title, self.level_box, self.banner])
        self.add_class("persist-ext-markers")
        self.bars: list[widgets.IntProgress] = []
        self.labels: list[widgets.HTML] = []
        self.state = read_markers(store, root_id, self._shape)
        self.poller = Poller(
            lambda: read_markers(self.store, self.root_id, self._shape),
            self.update,
            lambda state: state.complete,
            interval=interval,
            on_final=self.publish_snapshot,
        )
        self.update(self.state)

    def _ensure_rows(self, n: int) -> None:
        if len(self.bars) == n:
            return
        self.bars = [widgets.IntProgress(min=0, max=1, value=0) for _ in range(n)]
        self.labels = [widgets.HTML() for _ in range(n)]
        self.level_box.children = [widgets.HBox([b, lab]) for b, lab in zip(self.bars, self.labels)]

    def update(self, state: MarkerState) -> None:
        """Draw ``state`` (the poller calls this)."""
        self.state = state
        n = len(state.levels)
        self._ensure_rows(n)
        for i, (done, total) in enumerate(state.levels):
            bar = self.bars[i]
            bar.max = max(total, 1)
            bar.value = min(done, bar.max)
            bar.description = _level_name(i, n)
            bar.bar_style = "success" if total and done == total else "info"
            squares = _groups_line(state.groups[i - 1]) if 0 < i < n - 1 and i - 1 < len(state.groups) else ""
            self.labels[i].value = f"&nbsp;{done}/{total} {squares}"
        if state.complete:
            self.banner.value = (
                '<div style="color:#2e7d32;font-weight:bold;padding:4px;background:#e8f5e9">'
                f"✓ all markers done — completion callback fired at "
                f"{_when(state.completed_at or 0)}</div>"
            )
        else:
            self.banner.value = '<span style="color:#757575">waiting for completion…</span>'

    def refresh(self) -> MarkerState:
        """Read the tree once and draw it."""
        state = read_markers(self.store, self.root_id, self._shape)
        self.update(state)
        return state

    def snapshot_text(self) -> str:  # noqa: D102 - documented on LiveDisplay
        return markers_text(self.state)

    def snapshot_html(self) -> str:  # noqa: D102 - documented on LiveDisplay
        return markers_html(self.state)

    def _on_displayed(self) -> None:
        if not self.state.complete:
            self.poller.start()

    def close(self) -> None:
        """Stop polling and close the widgets."""
        self.poller.stop()
        for w in (*self.bars, *self.labels, self.title, self.level_box, self.banner):
            w.close()
        super().close()


def display_markers(store: KeyValueStore, root_id: str, *, interval: float = 0.5) -> Any:
    """Display a live :class:`MarkerProgress` for the tree at ``root_id`` and return it."""
    from IPython.display import display

    view = MarkerProgress(store, root_id, interval=interval)
    display(view)
    return view

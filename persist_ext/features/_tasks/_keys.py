"""Every store key a task group (and a marker tree) writes: the one place the layout lives.

Everything else — the group, the journal, the marker functions, the widgets, the server
extension, the sidebar — asks this module for keys and never builds one by hand. The layout
is the persisted format: changing a string here is changing the on-disk format (a store
written by an older persist_ext must still resume, see ``tests/unit/test_tasks_compat.py``).

A task group ``<g>`` owns every key under ``tasks/<g>/``:

==================================  ===========================================================
``tasks/<g>/cfg``                   task configurations (JSON text: key -> record)
``tasks/<g>/meta``                  session metadata (a dict; datetimes round-trip)
``tasks/<g>/tree``                  which marker tree is current (generation, key list, shape)
``tasks/<g>/logseq``                the journal's page counter (atomic ``incr``)
``tasks/<g>/log/<seq:012d>``        a journal page: instance records and small results
``tasks/<g>/result/<instance>``     a result too large to ride in a page
``tasks/<g>/runner``                the processes running the group (one runner per task)
``tasks/<g>`` (lease name)          a directory store's OS lease while a process runs it
``tasks/<g>/markers/<path>``        a marker record (``<path>`` e.g. ``3/root``, ``3/n1.4``)
``tasks/<g>/markers/<path>@<flag>`` a marker's ``done`` time, ``count``, ``result``, ``ctx``,
                                    ``reached/<point>`` (e.g. ``reached/callback``)
``tasks/<g>/markers/<gen>/t@done``  the bitmap of done leaves of tree generation ``<gen>``
==================================  ===========================================================

Marker ids: ``"<g>/<path>"`` (task groups, and any id containing ``/``) live in their
group's ``markers/`` folder above. The furious seed's own ids (``"ctx1"``, ``"ctx1,a0"``: a
root id, then ``,``-separated child indices) live under ``markers/<root>/<id>`` with the same
``@<flag>`` suffixes.

Examples
--------
>>> keys = group_keys("fit")
>>> keys.configs, keys.page(7), keys.result("a#0")
('tasks/fit/cfg', 'tasks/fit/log/000000000007', 'tasks/fit/result/a#0')
>>> marker_key("fit/3/root"), marker_flag("fit/3/root", "done")
('tasks/fit/markers/3/root', 'tasks/fit/markers/3/root@done')
>>> marker_key("ctx1,a0"), reached_key("ctx1", "callback")
('markers/ctx1/ctx1,a0', 'markers/ctx1/ctx1@reached/callback')
>>> group_of_key("tasks/fit/log/000000000007")
'fit'
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..._errors import TaskError

__all__ = [
    "CALLBACK_POINT",
    "FLAGS",
    "GROUPS_PREFIX",
    "ROOT_NODE",
    "GroupKeys",
    "callback_claim_key",
    "callback_done_key",
    "callback_owner_key",
    "configs_glob",
    "group_keys",
    "group_names",
    "group_of_configs_key",
    "group_of_key",
    "internal_level",
    "is_reached_flag",
    "leaf_bitmap_key",
    "marker_flag",
    "marker_key",
    "reached_key",
    "split_group_marker",
    "split_marker_key",
    "tree_scan_prefix",
]

#: The suffixes a marker key may carry after ``@`` (``reached/<point>`` is a family).
FLAGS = ("done", "count", "result", "ctx", "reached/")

_ROOT = "tasks/"
#: Every task group's keys start with this (``tasks/``).
GROUPS_PREFIX = _ROOT
#: The name of a tree's root node inside its generation (``tasks/<g>/markers/<gen>/root``).
ROOT_NODE = "root"
_REACHED = "reached/"


@dataclass(frozen=True)
class GroupKeys:
    """The keys of one task group (see the module docstring for the table)."""

    group: str

    @property
    def prefix(self) -> str:
        """Every key of the group starts with this (``tasks/<g>/``)."""
        return f"{_ROOT}{self.group}/"

    @property
    def configs(self) -> str:
        """Task configurations: JSON text of ``{key: TaskConfig record}``."""
        return f"{self.prefix}cfg"

    @property
    def metadata(self) -> str:
        """Session metadata (a dict)."""
        return f"{self.prefix}meta"

    @property
    def tree(self) -> str:
        """The current marker tree: ``{"gen", "digest", "keys", "batch_size", ...}``."""
        return f"{self.prefix}tree"

    @property
    def log_seq(self) -> str:
        """The journal's page counter."""
        return f"{self.prefix}logseq"

    @property
    def log_prefix(self) -> str:
        """Prefix of every journal page."""
        return f"{self.prefix}log/"

    def page(self, seq: int) -> str:
        """The key of journal page ``seq`` (zero-padded so key order is page order)."""
        return f"{self.log_prefix}{seq:012d}"

    def page_seq(self, key: str) -> int:
        """Inverse of :meth:`page`."""
        return int(key[len(self.log_prefix) :])

    def result(self, instance: str) -> str:
        """Where instance ``instance``'s result lives when it is not inline in a page."""
        return f"{self.prefix}result/{instance}"

    @property
    def runner(self) -> str:
        """The lease of the process currently running the group."""
        return f"{self.prefix}runner"

    @property
    def lease(self) -> str:
        """The name of the OS-level lease (``storage/_leases``) held while the group runs."""
        return f"{_ROOT}{self.group}"

    @property
    def markers_prefix(self) -> str:
        """Prefix of every marker key of the group."""
        return f"{self.prefix}markers/"

    def tree_prefix(self, generation: int) -> str:
        """The marker-id prefix of tree generation ``generation`` (``"<g>/<gen>"``)."""
        return f"{self.group}/{generation}"

    def keys_in(self, store: Any) -> Iterator[str]:
        """Every key of this group present in ``store``."""
        return iter(store.keys(self.prefix))


@functools.lru_cache(maxsize=256)
def group_keys(group: str) -> GroupKeys:
    """The :class:`GroupKeys` of group ``group`` (a name without ``/``)."""
    if not isinstance(group, str) or not group or "/" in group:
        raise TaskError(f"Invalid group name {group!r}: a non-empty str without '/'.", task=group)
    return GroupKeys(group)


def group_names(store: Any) -> list[str]:
    """Names of the task groups recorded in ``store`` (those with task configurations)."""
    names = []
    for key in store.keys(_ROOT):
        group, _, rest = key[len(_ROOT) :].partition("/")
        if rest == "cfg":
            names.append(group)
    return sorted(names)


def group_of_key(key: str) -> str | None:
    """The group a store key belongs to, or None when it is not a task-group key."""
    if not key.startswith(_ROOT):
        return None
    group, sep, _ = key[len(_ROOT) :].partition("/")
    return group if sep and group else None


@functools.lru_cache(maxsize=65536)
def marker_key(marker_id: str) -> str:
    """The store key of a marker's record (see the module docstring)."""
    if not isinstance(marker_id, str):
        raise TaskError(
            f"Marker ids are str ('<group>/<path>', or furious-style 'ctx1' / 'ctx1,a0'), not "
            f"{type(marker_id).__name__} {marker_id!r}; pass str(...) of it.",
            task=str(marker_id),
        )
    idx = marker_id
    group, sep, rest = idx.partition("/")
    if sep:
        if not group or not rest:
            raise TaskError(
                f"Marker id {idx!r} must look like '<group>/<path>' or, as in furious, "
                "'ctx1' / 'ctx1,a0'.",
                task=idx,
            )
        return f"{_ROOT}{group}/markers/{rest}"
    root = idx.split(",", 1)[0]
    if not root or "@" in idx:
        raise TaskError(
            f"Marker id {idx!r} is not valid: use '<group>/<path>' or furious-style ids "
            "('ctx1', 'ctx1,a0'), without '@'.",
            task=idx,
        )
    return f"markers/{root}/{idx}"


def marker_flag(marker_id: str, flag: str) -> str:
    """The key of one of a marker's flags: ``done``, ``count``, ``result``, ``ctx``, ..."""
    return f"{marker_key(marker_id)}@{flag}"


def reached_key(marker_id: str, point: str) -> str:
    """The key :func:`~._markers.mark_reached` claims for ``(marker_id, point)``."""
    return f"{marker_key(marker_id)}@reached/{point}"


def tree_scan_prefix(root_id: str) -> str:
    """The prefix every marker key of the tree rooted at ``root_id`` starts with."""
    return marker_key(root_id).rsplit("/", 1)[0] + "/"


def split_marker_key(key: str, scan_prefix: str) -> tuple[str, str]:
    """``(node name, flag)`` of a key found under :func:`tree_scan_prefix` (flag ``""``
    for the record itself), e.g. ``("n1.4", "done")``."""
    name, _, flag = key[len(scan_prefix) :].partition("@")
    return name, flag


def leaf_bitmap_key(tree_prefix: str) -> str:
    """The key of the done-leaf bitmap of the tree whose ids start with ``tree_prefix``."""
    return f"{marker_key(tree_prefix + '/t')}@done"


def configs_glob() -> str:
    """A glob matching the configuration key of every group (``tasks/*/cfg``): one per
    group, so listing it lists the groups."""
    return group_keys("*").configs


def group_of_configs_key(key: str) -> str | None:
    """The group whose configuration key ``key`` is (None for any other key)."""
    group = group_of_key(key)
    if group is None or group_keys(group).configs != key:
        return None
    return group


def split_group_marker(rest: str) -> tuple[int, str, str] | None:
    """``(generation, node, flag)`` of a group marker key with the group's
    ``markers_prefix`` removed, e.g. ``"3/n1.4@done"`` -> ``(3, "n1.4", "done")``,
    ``"3/root@reached/callback"`` -> ``(3, "root", "reached/callback")``; the flag is
    ``""`` for a node's record. None when ``rest`` is not laid out like that.

    >>> split_group_marker("3/t@done"), split_group_marker("x/root")
    ((3, 't', 'done'), None)
    """
    gen, sep, tail = rest.partition("/")
    if not sep or not gen.isdigit():
        return None
    node, _, flag = tail.partition("@")
    return int(gen), node, flag


def internal_level(node: str) -> int | None:
    """The level of internal node ``node`` (``"n2.7"`` -> 2); None for the root, the
    leaves (``t/<i>``), the leaf bitmap (``t``) and anything else.

    >>> internal_level("n2.7"), internal_level(ROOT_NODE), internal_level("t")
    (2, None, None)
    """
    if not node.startswith("n"):
        return None
    level, sep, index = node[1:].partition(".")
    if not sep or not level.isdigit() or not index.isdigit():
        return None
    return int(level)


def is_reached_flag(flag: str) -> bool:
    """True for a ``reached/<point>`` flag (:func:`reached_key`)."""
    return flag.startswith(_REACHED)


#: The completion protocol's point names under ``@reached/`` (``_completion.py``).
CALLBACK_POINT = "callback"


def callback_claim_key(root_id: str, attempt: int = 0) -> str:
    """The key whose atomic ``add`` claims the completion callback of tree ``root_id``
    (``@reached/callback``; attempt ``n`` > 0 after a dead owner: ``callback-<n>``)."""
    point = CALLBACK_POINT if attempt == 0 else f"{CALLBACK_POINT}-{attempt}"
    return reached_key(root_id, point)


def callback_owner_key(root_id: str, attempt: int) -> str:
    """Who claimed attempt ``attempt`` of the callback (pid, host, start time)."""
    return reached_key(root_id, f"{CALLBACK_POINT}-owner-{attempt}")


def callback_done_key(root_id: str) -> str:
    """Set once the callback returned (or raised): it is never called again."""
    return reached_key(root_id, f"{CALLBACK_POINT}-done")

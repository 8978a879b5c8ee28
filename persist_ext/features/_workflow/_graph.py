"""functionfuse's graph API: ``@workflow`` turns a function into a node factory.

Calling a decorated function does not run it: it returns a :class:`Node` that remembers the
arguments, some of which may be other nodes (or items of them, ``node[0]``). A workflow
backend such as :class:`~persist_ext.workflow.LocalWorkflow` runs the graph later, each node
once its parents have results.

Examples
--------
>>> @workflow
... def add(a, b):
...     return a + b
>>> total = add(add(1, 2), 10).set_name("total")
>>> total.name, [parent.name for parent in total.parents]
('total', ['add_0000'])
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from ..._errors import WorkflowError

__all__ = ["Node", "NodeItem", "find_roots", "traverse", "workflow"]

# One counter per function: default node names are "<qualname>_0000", "<qualname>_0001", ...
_COUNTERS: defaultdict[Callable[..., Any], itertools.count[int]] = defaultdict(itertools.count)


class Node:
    """One call of a ``@workflow`` function in a graph: the function and its arguments.

    ``name`` (settable with :meth:`set_name`) is the task name a storage saves the result
    under; ``parents`` are the nodes whose results it takes; ``children`` the nodes taking
    its result. ``backend_info`` is free-form data for backends (the seed's name).
    """

    def __init__(self, name: str, func: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        self.name = name
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.parents: list[Node] = []
        self.children: list[Node] = []
        self.backend_info: dict[str, Any] = {}
        for value in (*args, *kwargs.values()):
            parent = _node_of(value)
            if parent is not None and parent not in self.parents:
                self.parents.append(parent)
                parent.children.append(self)

    def set_name(self, name: str) -> Node:
        """Name this node (the task name its result is stored under); returns the node."""
        if not isinstance(name, str) or not name:
            raise WorkflowError(f"A node name must be a non-empty str, got {name!r}.")
        self.name = name
        return self

    def get_name(self) -> str:
        """The node's name (the seed's accessor)."""
        return self.name

    def set_backend_info(self, key: str, value: Any) -> None:
        """Record backend-specific data on this node."""
        self.backend_info[key] = value

    def __getitem__(self, index: Any) -> NodeItem:
        return NodeItem(self, index)

    def resolved_args(self, results: dict[Node, Any]) -> tuple[tuple, dict]:
        """The call's arguments with every node (or node item) replaced by its result."""
        args = tuple(_resolve(value, results) for value in self.args)
        kwargs = {key: _resolve(value, results) for key, value in self.kwargs.items()}
        return args, kwargs

    def __repr__(self) -> str:
        return f"Node({self.name!r})"


class NodeItem:
    """``node[index]``: one item of a node's result, usable as another node's argument."""

    def __init__(self, node: Node, index: Any) -> None:
        self.node = node
        self.index = index

    def __repr__(self) -> str:
        return f"{self.node!r}[{self.index!r}]"


def workflow(func: Callable[..., Any]) -> Callable[..., Node]:
    """Decorate ``func`` so that calling it builds a graph :class:`Node` instead of running.

    Classes are not supported (the seed's class nodes): decorate a function that builds and
    uses the object instead.
    """
    if isinstance(func, type) or not callable(func):
        raise WorkflowError(
            f"@workflow decorates functions, got {func!r}; wrap a class in a function."
        )

    def make_node(*args: Any, **kwargs: Any) -> Node:
        qualname = getattr(func, "__qualname__", getattr(func, "__name__", "node"))
        return Node(f"{qualname}_{next(_COUNTERS[func]):04d}", func, args, kwargs)

    make_node.__name__ = getattr(func, "__name__", "node")
    make_node.__doc__ = func.__doc__
    make_node.__wrapped__ = func  # type: ignore[attr-defined]
    return make_node


def find_roots(nodes: list[Node]) -> list[Node]:
    """The nodes without parents among ``nodes`` and their ancestors, in discovery order."""
    roots: list[Node] = []
    seen: set[int] = set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.parents:
            stack.extend(node.parents)
        elif node not in roots:
            roots.append(node)
    return roots


def traverse(roots: list[Node]) -> Iterator[list[Node]]:
    """Levels of the graph below ``roots``: each node comes after all of its parents."""
    waiting: dict[int, int] = {}
    level = list(roots)
    while level:
        yield level
        following: list[Node] = []
        for node in level:
            for child in node.children:
                waiting[id(child)] = waiting.get(id(child), len(child.parents)) - 1
                if waiting[id(child)] == 0:
                    following.append(child)
        level = following


def matching(levels: list[list[Node]], pattern: str | None) -> list[Node]:
    """The nodes whose name matches the regular expression ``pattern`` (all with None)."""
    nodes = [node for level in levels for node in level]
    if pattern is None:
        return nodes
    compiled = re.compile(pattern)
    return [node for node in nodes if compiled.fullmatch(node.name)]


def _node_of(value: Any) -> Node | None:
    if isinstance(value, Node):
        return value
    if isinstance(value, NodeItem):
        return value.node
    return None


def _resolve(value: Any, results: dict[Node, Any]) -> Any:
    if isinstance(value, Node):
        return results[value]
    if isinstance(value, NodeItem):
        return results[value.node][value.index]
    return value

"""functionfuse's ``LocalWorkflow``: run a graph of ``@workflow`` nodes in this process.

Each level of the graph (the nodes whose parents all have results) runs as one batch of a
:class:`~persist_ext.TaskGroup` on threads, so independent nodes run side by side and every
node is tracked like any task (status, tries, captured output). With a storage attached
(:meth:`LocalWorkflow.set_storage`), a node whose result is already stored under
``(workflow_name, node name)`` is read instead of run, and each computed result is saved: a
re-run after a crash or a restart only computes what is missing.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..._errors import TaskError, WorkflowError
from ...storage._memory import MemoryStore
from .._tasks import TaskGroup
from .._tasks._model import validate_key
from ._graph import Node, NodeItem, find_roots, matching, traverse

__all__ = ["LocalWorkflow"]


class LocalWorkflow:
    """Run the graph that leads to ``nodes`` (and everything below its roots).

    Parameters
    ----------
    *nodes : Node or NodeItem
        The outputs wanted; :meth:`run` returns their results (one result for one node).
    workflow_name : str
        The name results are stored under.
    max_workers : int, optional
        Threads running one level of the graph (default: the thread pool's default).

    Examples
    --------
    >>> from persist_ext.workflow import workflow, storage_factory
    >>> @workflow
    ... def add(a, b):
    ...     return a + b
    >>> s1 = add(1, 1)
    >>> total = add(s1, s1).set_name("total")
    >>> flow = LocalWorkflow(total, workflow_name="sums")
    >>> flow.set_storage(storage_factory({"kind": "memory"}))
    >>> flow.run()
    4
    >>> flow.storage.list_tasks("sums")
    ['add_0000', 'total']
    """

    def __init__(self, *nodes: Node | NodeItem, workflow_name: str, max_workers: int | None = None):
        if not nodes:
            raise WorkflowError("LocalWorkflow needs at least one node to compute.")
        bad = [n for n in nodes if not isinstance(n, (Node, NodeItem))]
        if bad:
            raise WorkflowError(
                f"LocalWorkflow takes nodes made by @workflow functions, got {bad[0]!r}."
            )
        if not isinstance(workflow_name, str) or not workflow_name:
            raise WorkflowError(f"workflow_name must be a non-empty str, got {workflow_name!r}.")
        self.workflow_name = workflow_name
        self.leaves = nodes
        self.max_workers = max_workers
        self.storage: Any = None
        self.roots = find_roots([n.node if isinstance(n, NodeItem) else n for n in nodes])

    def set_storage(self, object_storage: Any) -> None:
        """Store node results in ``object_storage`` (e.g. from ``storage_factory``)."""
        self.storage = object_storage

    def find_nodes(self, pattern: str | None = None) -> list[Node]:
        """Every node of the graph, or those whose name fully matches regex ``pattern``."""
        return matching(list(traverse(self.roots)), pattern)

    def run(self) -> Any:
        """Compute the graph; return the wanted results (a list, or one for one node)."""
        results: dict[Node, Any] = {}
        if self.storage is not None:
            self.storage.new_workflow(self.workflow_name)
        group = TaskGroup(
            _group_name(self.workflow_name),
            MemoryStore(),
            executor="threads",
            max_workers=self.max_workers,
            capture=False,
        )
        try:
            for level in traverse(self.roots):
                self._names_are_unique(level, results)
                todo = [node for node in level if not self._restored(node, results)]
                keys = {node: _task_key(node.name) for node in todo}
                for node in todo:
                    args, kwargs = node.resolved_args(results)
                    group.submit(node.func, *args, key=keys[node], **kwargs)
                if todo:
                    outcome = group.run([keys[n] for n in todo]).wait()
                    for node in todo:
                        if keys[node] in outcome.failures:
                            failure = outcome.failures[keys[node]]
                            raise WorkflowError(
                                f"Node {node.name!r} of workflow {self.workflow_name!r} "
                                f"failed:\n{failure}",
                                node=node.name,
                            )
                        results[node] = outcome.results[keys[node]]
                        self._save(node, results[node])
        finally:
            group.close()
        values = [
            results[n.node][n.index] if isinstance(n, NodeItem) else results[n] for n in self.leaves
        ]
        return values[0] if len(values) == 1 else values

    def _names_are_unique(self, level: list[Node], results: dict[Node, Any]) -> None:
        taken = {node.name for node in results}
        for node in level:
            if node.name in taken:
                raise WorkflowError(
                    f"Two nodes of workflow {self.workflow_name!r} are named {node.name!r}; "
                    "give one another name with .set_name(...).",
                    node=node.name,
                )
            taken.add(node.name)

    def _restored(self, node: Node, results: dict[Node, Any]) -> bool:
        if self.storage is None:
            return False
        try:
            results[node] = self.storage.read_task(self.workflow_name, node.name)
        except FileNotFoundError:
            return False
        return True

    def _save(self, node: Node, value: Any) -> None:
        if self.storage is None:
            return
        self.storage.save(self.workflow_name, node.name, value)
        if getattr(self.storage, "always_read", False):
            # The seed's option: continue with the stored copy, as a remote backend would.
            self.storage.read_task(self.workflow_name, node.name)


def _group_name(workflow_name: str) -> str:
    """The label of a run's private task group: ``workflow-<name>`` when a group name may
    carry it, else a digest of the name (any name the storage takes runs: ``exp/run#1``)."""
    label = f"workflow-{workflow_name}"
    return label if "/" not in label and _valid(label) else f"workflow-{_digest(workflow_name)}"


def _task_key(node_name: str) -> str:
    """A node's key in the run's task group: its name, or a digest when a key may not carry
    it (``#``, control characters, over 200 characters); results go back by node."""
    return node_name if _valid(node_name) else f"node-{_digest(node_name)}"


def _valid(key: str) -> bool:
    try:
        return validate_key(key) == key
    except TaskError:
        return False


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]

"""A cell keeping ``id()`` values: the addresses of the objects of the kernel that ran it.

``by_id = {id(n): n.v for n in nodes}`` with ``nodes`` made in the same cell: a hit put back
new ``nodes`` objects beside the ids of the old ones, so a later ``by_id.get(id(nodes[0]))``
found nothing (``missing``) where the plain run finds ``1``. A restore cannot give objects
the addresses they had; a cell calling ``id()`` runs, and ``%persist why`` says so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain, why_of
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

IDS = [
    "class Node:\n    def __init__(self, v):\n        self.v = v\nV = 1",
    CACHED + "nodes = [Node(V), Node(V + 1)]\nby_id = {id(n): n.v for n in nodes}",
    "print(by_id.get(id(nodes[0]), 'missing'))",
    CACHED + "total = sum(n.v for n in nodes)",
]


def test_a_cell_keeping_object_ids_runs(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    assert_runs_match_plain(IDS, ["total"], ("V = 1", "V = 2"), tmp_path / "runs")
    why = why_of(IDS, ["c1"], tmp_path)
    assert "it calls id()" in why[0]


# The same through a notebook function: ``key(n)`` returns ``id(n)``. The cell's own code
# names no ``id``; the function's does. Neither an attribute named ``id`` (``o.id``) nor a
# library's code a notebook class holds (a dataclass's ``__repr__`` keys on ``id(self)``
# against recursion) counts.
IDS_THROUGH_A_HELPER = [
    "from dataclasses import dataclass\n\n@dataclass\nclass Node:\n    v: int\n"
    "    id: int = 0\n\ndef key(o):\n    return id(o)\n\ndef label(o):\n    return o.id\n\nV = 1",
    CACHED + "nodes = [Node(V, V), Node(V + 1, V + 1)]\nby_id = {key(n): n.v for n in nodes}",
    "print(by_id.get(key(nodes[0]), 'missing'))",
    CACHED + "labels = [label(n) for n in nodes if isinstance(n, Node)]",
]


def test_a_cell_keeping_object_ids_through_a_function_runs(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    checks = ["labels"]
    assert_runs_match_plain(IDS_THROUGH_A_HELPER, checks, ("V = 1", "V = 2"), tmp_path / "runs")
    keeping, labelling = why_of(IDS_THROUGH_A_HELPER, ["c1", "c3"], tmp_path)
    assert "it calls id() through key()" in keeping, keeping
    assert "id()" not in labelling, labelling  # ``o.id`` is an attribute, not a call of id()

"""A task group's store-key layout is spelled in one module: ``features/_tasks/_keys.py``.

The widget layer, the server extension and the rest of the task engine ask it for keys
(``group_keys``, ``marker_flag``, ``callback_claim_key``, ``split_group_marker``, ...).
This test parses every module of the package and fails on a string literal (docstrings
excepted) that spells a piece of that layout by hand.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from persist_ext.features._tasks._keys import (
    GROUPS_PREFIX,
    callback_claim_key,
    callback_done_key,
    callback_owner_key,
    configs_glob,
    group_keys,
    group_of_configs_key,
    internal_level,
    is_reached_flag,
    marker_key,
    split_group_marker,
)
from persist_ext.storage._memory import MemoryStore

PACKAGE = Path(__file__).resolve().parents[2] / "persist_ext"
OWNER = PACKAGE / "features" / "_tasks" / "_keys.py"

# Pieces of the layout: the root of every group key, marker flags and folders, the
# journal, the configuration key, the runner lease, the callback's reached points.
LAYOUT = re.compile(
    r"^tasks/|^markers/|/markers/|@(done|reached|count|result|ctx)\b|^(done|count|result|ctx)$"
    r"|/logseq|/log/|/cfg\b|/runner\b|/tree\b|^callback-|^reached/"
)


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _hand_built(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    docs = _docstrings(tree)
    return [
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docs
        and LAYOUT.search(node.value)
    ]


def test_no_module_but_keys_py_spells_a_group_key() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path != OWNER:
            found += _hand_built(path)
    # Marker flag names are also the words of the marker API (``marker_flag(idx, "done")``
    # asks _keys.py for the key): allowed as arguments, not as key text.
    found = [f for f in found if not re.search(r": '(done|count|result|ctx)'$", f)]
    assert not found, "store keys of task groups built outside _keys.py:\n" + "\n".join(found)


def test_the_scan_catches_a_hand_built_key(tmp_path: Path) -> None:
    # The guard itself: the spellings that used to be copied elsewhere are caught.
    bad = tmp_path / "bad.py"
    bad.write_text(
        'a = f"tasks/{g}/log/"\nb = "tasks/*/cfg"\nc = "@reached/"\nd = "callback-done"\n'
        'def f():\n    """tasks/doc/strings are fine"""\n'
    )
    tree = ast.parse(bad.read_text())
    docs = _docstrings(tree)
    hits = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docs
        and LAYOUT.search(node.value)
    ]
    assert sorted(hits) == sorted(["tasks/", "/log/", "tasks/*/cfg", "@reached/", "callback-done"])


def test_key_helpers_match_the_layout_table() -> None:
    keys = group_keys("fit")
    assert keys.configs == "tasks/fit/cfg"
    assert keys.prefix.startswith(GROUPS_PREFIX)
    assert configs_glob() == "tasks/*/cfg"
    assert group_of_configs_key("tasks/fit/cfg") == "fit"
    assert group_of_configs_key("tasks/fit/meta") is None
    assert group_of_configs_key("cell/x/cfg") is None
    assert split_group_marker("3/n1.4@done") == (3, "n1.4", "done")
    assert split_group_marker("3/root@reached/callback") == (3, "root", "reached/callback")
    assert split_group_marker("3/root") == (3, "root", "")
    assert split_group_marker("x/root@done") is None
    assert [internal_level(n) for n in ("n1.4", "n12.0", "root", "t", "t/3", "nx.1")] == [
        1,
        12,
        None,
        None,
        None,
        None,
    ]
    assert is_reached_flag("reached/callback")
    assert not is_reached_flag("done")
    root = "fit/3/root"
    assert callback_claim_key(root) == marker_key(root) + "@reached/callback"
    assert callback_claim_key(root, 2) == marker_key(root) + "@reached/callback-2"
    assert callback_owner_key(root, 0) == marker_key(root) + "@reached/callback-owner-0"
    assert callback_done_key(root) == marker_key(root) + "@reached/callback-done"


@pytest.mark.parametrize("executor", ["threads"])
def test_every_key_a_group_writes_is_under_its_prefix(executor: str) -> None:
    # What the layout table promises: a group writes nothing outside tasks/<g>/.
    from persist_ext.features._tasks import TaskGroup

    store = MemoryStore()
    with TaskGroup("k", store, executor=executor, on_complete=lambda r: None) as group:
        group.map(abs, range(25), key=str)
        group.run().wait()
    written = list(store.keys())
    assert written
    assert all(k.startswith(group_keys("k").prefix) for k in written)
    assert callback_done_key(group.root_id) in store

"""Which cells walk a set in its order, and when that makes the hash seed part of the key."""

from __future__ import annotations

import pytest

from persist_ext.features._cellcache._analysis import analyze_cell
from persist_ext.features._cellcache._key import build_key
from persist_ext.features._cellcache._setorder import MADE_IN_CELL


@pytest.mark.parametrize(
    "source",
    [
        "labels = list(set(words))",
        "idx = {w: i for i, w in enumerate({'a', 'b'})}",
        "s = set(words)\nfor w in s:\n    print(w)",
        "text = ' '.join(set(words) | {'x'})",
        "first, *rest = frozenset(words)",
        "row = [*set(words).union(other)]",
    ],
)
def test_a_set_the_cell_makes_and_walks_keys_it_on_the_hash_seed(source: str) -> None:
    code = analyze_cell(source)
    assert MADE_IN_CELL in code.iterated_sets
    assert "hashseed" in build_key(code, {"words": ["a"], "other": set()}).components


@pytest.mark.parametrize(
    "source",
    [
        "ordered = sorted(set(words))",
        "n = len(set(words))",
        "found = 'a' in set(words)",
        "common = set(words) & set(other)",
        "items = list(words)",
    ],
)
def test_sets_not_walked_in_order_leave_the_key_alone(source: str) -> None:
    code = analyze_cell(source)
    assert "hashseed" not in build_key(code, {"words": ["a"], "other": ["b"]}).components


def test_a_set_input_counts_when_its_items_hash_with_the_seed() -> None:
    code = analyze_cell("idx = {w: i for i, w in enumerate(vocab)}")
    assert "hashseed" in build_key(code, {"vocab": {"a", "b"}}).components
    assert "hashseed" in build_key(code, {"vocab": frozenset({(1, "a")})}).components
    assert "hashseed" not in build_key(code, {"vocab": {3, 1.5, None, (1, 2)}}).components
    assert "hashseed" not in build_key(code, {"vocab": ["a", "b"]}).components

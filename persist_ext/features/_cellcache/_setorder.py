"""Cells whose results depend on the order a set iterates in: the kernel's string hash seed.

A set of strings (bytes, dates, most objects) iterates in an order that comes from their
hashes, which Python salts anew in every process unless ``PYTHONHASHSEED`` fixes them. A cell
that walks such a set (``list(set(words))``, ``enumerate(vocab)``, ``for w in vocab``) makes
values whose order is the kernel's: restored in a fresh kernel, ``idx = {w: i for i, w in
enumerate(vocab)}`` numbers the words in the stored kernel's order while a later cell walking
``vocab`` sees another, which no re-run would give. Such a cell is keyed on the hash seed (the
``hashseed`` component): restored in the kernel that stored it, run in a fresh one, like a
cell drawing unseeded random numbers. Sets of numbers iterate alike in every process, and
``sorted(...)`` (without a ``key``, whose ties go to the item met first), ``len(...)``
and ``x in s`` do not walk the set in its order.

What counts is found from the cell's code (a set it makes in a place that iterates) and, for
a name it iterates, from the value that name holds when the key is built.
"""

from __future__ import annotations

import ast
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MADE_IN_CELL", "hash_seed_component", "iterated_sets", "order_components"]

#: Stands for "a set the cell makes" among the names :func:`iterated_sets` returns.
MADE_IN_CELL = "<set>"

# Calls whose arguments are walked in order into their result.
_ITERATING_CALLS = frozenset(
    {"list", "tuple", "enumerate", "zip", "iter", "dict", "next", "map", "filter"}
)
_ITERATING_METHODS = frozenset(
    {"join", "fromkeys", "extend", "array", "asarray", "fromiter", "Series", "Index", "DataFrame"}
)
_SET_METHODS = frozenset({"union", "intersection", "difference", "symmetric_difference"})
# Calls that keep the first of items their ``key`` ties (``sorted`` is stable): with a key,
# the order they meet the items in decides the result (``max(s, key=len)``).
_KEYED_CALLS = frozenset({"sorted", "max", "min"})
_SET_OPS = (ast.BitOr, ast.BitAnd, ast.Sub, ast.BitXor)


def _makes_set(node: ast.AST, set_names: set[str]) -> bool:
    """Whether ``node`` evaluates to a set the cell makes (or a name it bound to one)."""
    if isinstance(node, (ast.Set, ast.SetComp)):
        return True
    if isinstance(node, ast.Name):
        return node.id in set_names
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name):
            return func.id in ("set", "frozenset")
        return isinstance(func, ast.Attribute) and func.attr in _SET_METHODS
    if isinstance(node, ast.BinOp) and isinstance(node.op, _SET_OPS):
        return _makes_set(node.left, set_names) or _makes_set(node.right, set_names)
    return False


_WALKING_KINDS = frozenset(
    {ast.For, ast.AsyncFor, ast.comprehension, ast.Starred, ast.Assign, ast.Call}
)


def _walked(nodes: Iterable[ast.AST]) -> list[ast.AST]:
    """The expressions the cell walks in order (loops, comprehensions, list(...), a, b = s;
    ``sorted``/``max``/``min`` with a ``key``, ``s.pop()``)."""
    walked: list[ast.AST] = []
    for node in nodes:
        if type(node) not in _WALKING_KINDS:
            continue  # one set lookup, not the chain of tests below, for most nodes
        if isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            walked.append(node.iter)
        elif isinstance(node, ast.Starred) or (
            isinstance(node, ast.Assign) and isinstance(node.targets[0], (ast.Tuple, ast.List))
        ):
            walked.append(node.value)  # ``[*s]``, ``f(*s)``; ``a, b = s``
        elif isinstance(node, ast.Call):
            func = node.func
            if (isinstance(func, ast.Name) and func.id in _ITERATING_CALLS) or (
                isinstance(func, ast.Attribute) and func.attr in _ITERATING_METHODS
            ):
                walked += node.args
            elif (
                isinstance(func, ast.Name)
                and func.id in _KEYED_CALLS
                and any(k.arg == "key" for k in node.keywords)
            ):
                walked += node.args[:1]
            elif isinstance(func, ast.Attribute) and func.attr == "pop" and not node.args:
                walked.append(func.value)  # ``s.pop()``: a set gives its first item
    return walked


def iterated_sets(nodes: list[ast.AST]) -> tuple[str, ...]:
    """What the cell walks that may be a set: names (checked against their values when the
    key is built) and :data:`MADE_IN_CELL` for a set the cell makes and walks."""
    set_names = {
        target.id
        for node in nodes
        if type(node) is ast.Assign
        for target in node.targets
        if isinstance(target, ast.Name) and _makes_set(node.value, set())
    }
    found: dict[str, None] = {}
    for expr in _walked(nodes):
        if _makes_set(expr, set_names):
            found.setdefault(MADE_IN_CELL, None)
        elif isinstance(expr, ast.Name):
            found.setdefault(expr.id, None)
    return tuple(found)


def _seed_free(item: Any) -> bool:
    """Whether ``item`` hashes alike in every process (numbers, None, tuples of them)."""
    if item is None or isinstance(item, numbers.Number):
        return True
    return isinstance(item, tuple) and all(_seed_free(part) for part in item)


def _depends_on_seed(value: Any) -> bool:
    return isinstance(value, (set, frozenset)) and not all(_seed_free(item) for item in value)


def hash_seed_component(iterated: tuple[str, ...], namespace: Mapping[str, Any]) -> str | None:
    """The ``hashseed`` key component for a cell walking a set of seed-salted items, else
    ``None``: a digest of this process's string hashes, equal in every kernel only when
    ``PYTHONHASHSEED`` fixes them."""
    if not any(name == MADE_IN_CELL or _depends_on_seed(namespace.get(name)) for name in iterated):
        return None
    return format(hash("persist_ext: the order sets of strings iterate in") & (2**64 - 1), "x")


def order_components(iterated: tuple[str, ...], namespace: Mapping[str, Any]) -> dict[str, str]:
    """``setorder:NAME`` key components: for each set the cell walks by name, a digest of the
    order it iterates in. A set's fingerprint (its ``input:`` component) does not depend on
    its order, which comes from its history as well as its items: upstream
    ``s = set(range(100))`` left holding 7 and 8 walks ``7, 8``, ``s = {7, 8}`` walks
    ``8, 7``, and ``first = list(s)[0]`` differs.

    >>> left = set(range(100))
    >>> for i in range(100):
    ...     if i not in (7, 8):
    ...         left.discard(i)
    >>> a = order_components(("s",), {"s": left})
    >>> list(left), list({7, 8}), list(a), a == order_components(("s",), {"s": {7, 8}})
    ([7, 8], [8, 7], ['setorder:s'], False)
    """
    found: dict[str, str] = {}
    for name in iterated:
        value = namespace.get(name)
        if isinstance(value, (set, frozenset)) and len(value) > 1:
            # The tuple's hash combines its items' hashes in order (C speed; alike in every
            # process for numbers, and the ``hashseed`` component covers the others).
            found[f"setorder:{name}"] = format(hash(tuple(value)) & (2**64 - 1), "x")
    return found

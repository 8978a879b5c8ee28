"""What each executed cell could have changed, and which cells are safe to run again.

The automatic checkpoints must not rehash a whole namespace after every cell. A value can
change in three ways, and each is caught cheaply:

* rebound (``x = ...``, also inside a function with ``global x``): its ``id()`` differs from
  the one recorded at the last checkpoint — a scan of ids, no hashing;
* changed in place by code that names it (``df.drop(columns=..., inplace=True)``,
  ``items.append(1)``): :func:`names_in_cell` returns every identifier the cell's text
  mentions (also inside magics and strings), plus the globals read by the notebook
  functions and classes it mentions, transitively — only those are rehashed;
* changed through an object it shares with a named variable (``a = b = []; a.append(1)``):
  variables that share objects form one group, and a named member rehashes its group.

What these miss (a thread or a library callback mutating a value no cell names) is caught by
a full checkpoint (``%persist checkpoint --full``, or any save from Python).
"""

from __future__ import annotations

import ast
import re
import types
from collections.abc import Mapping
from typing import Any

__all__ = ["READING_METHODS", "bound_names", "names_in_cell", "only_read"]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _code_globals(code: types.CodeType, seen: set[int]) -> set[str]:
    if id(code) in seen:
        return set()
    seen.add(id(code))
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_globals(const, seen)
    return names


def _reached(value: Any, namespace: Mapping[str, Any], seen: set[int]) -> set[str]:
    """Globals of ``namespace`` that a notebook function or class reads."""
    codes: list[types.CodeType] = []
    if isinstance(value, types.FunctionType) and value.__globals__ is namespace:
        codes.append(value.__code__)
    elif isinstance(value, type) and value.__module__ == "__main__":
        for attr in vars(value).values():
            fn = getattr(attr, "__func__", attr)
            if isinstance(fn, types.FunctionType) and fn.__globals__ is namespace:
                codes.append(fn.__code__)
    names: set[str] = set()
    for code in codes:
        names |= _code_globals(code, seen)
    return {n for n in names if n in namespace}


# Calls that only read their arguments (and build new values from them).
_READING_CALLS = frozenset(
    {
        "print", "display", "len", "repr", "str", "float", "int", "bool", "complex", "type",
        "isinstance", "issubclass", "id", "hash", "abs", "round", "format", "sorted", "sum",
        "min", "max", "any", "all", "list", "tuple", "set", "frozenset", "dict", "bytes",
    }
)  # fmt: skip
# Methods that return a new value and leave the object alone (numpy, pandas, builtins).
_READING_METHODS = frozenset(
    {
        "sum", "mean", "median", "std", "var", "min", "max", "argmin", "argmax", "any", "all",
        "prod", "cumsum", "copy", "tolist", "describe", "info", "count", "nunique", "unique",
        "value_counts", "isna", "isnull", "notna", "corr", "cov", "head", "tail", "round",
        "astype", "to_string", "to_dict", "to_list", "to_json", "to_csv", "plot", "hist",
        "keys", "items", "index", "startswith", "endswith", "format", "upper", "lower",
        "split", "strip", "score", "predict", "predict_proba", "transform", "dot", "nbytes",
        "groupby", "agg", "aggregate", "memory_usage", "equals", "isin", "query",
    }
)  # fmt: skip
READING_METHODS = _READING_METHODS

# Nodes whose value is new (an operator result), so the operands are only read.
_NEW_VALUE = (ast.BinOp, ast.UnaryOp, ast.Compare, ast.FormattedValue, ast.JoinedStr)


def only_read(node: ast.Name, parents: dict[int, ast.AST], namespace: Mapping[str, Any]) -> bool:
    """Whether this use of a variable certainly leaves its value unchanged."""
    if not isinstance(node.ctx, ast.Load):
        return False
    cur: ast.AST = node
    while True:
        parent = parents.get(id(cur))
        if parent is None:
            return False
        if isinstance(parent, ast.Expr):
            return True  # a bare expression: displayed, not changed
        if isinstance(parent, _NEW_VALUE):
            return True
        if isinstance(parent, ast.Subscript):
            if parent.slice is cur:
                return True  # used as an index
            if isinstance(parent.ctx, ast.Load):
                cur = parent  # an element: read on only if it is only read
                continue
            return False
        if isinstance(parent, ast.Attribute) and isinstance(parent.ctx, ast.Load):
            call = parents.get(id(parent))
            if isinstance(call, ast.Call) and call.func is parent:
                return parent.attr in _READING_METHODS
            cur = parent
            continue
        if isinstance(parent, ast.Call) and cur in parent.args:
            func = parent.func
            return (
                isinstance(func, ast.Name)
                and func.id in _READING_CALLS
                and func.id not in namespace
            )
        return False


# Magics that never change the notebook's values behind the names their text shows (the
# names in their arguments still count, as text outside the code). Any other magic, and
# exec()/eval(), may run code no one can see here: every variable counts then.
_QUIET_MAGICS = frozenset(
    {
        "persist", "time", "timeit", "config", "matplotlib", "load_ext", "reload_ext",
        "unload_ext", "who", "whos", "who_ls", "pwd", "cd", "ls", "env", "pip", "conda",
        "history", "lsmagic", "magic", "pinfo", "pinfo2", "precision", "pprint", "xmode",
        "writefile", "html", "HTML", "markdown", "latex", "svg", "javascript", "js", "capture",
    }
)  # fmt: skip


def _runs_hidden_code(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in ("exec", "eval", "execfile"):
            return True
        if (
            isinstance(func, ast.Attribute)
            and func.attr in ("run_line_magic", "run_cell_magic", "magic")
            and not (
                node.args
                and isinstance(node.args[0], ast.Constant)
                and node.args[0].value in _QUIET_MAGICS
            )
        ):
            return True
    return False


def names_in_cell(text: str, namespace: Mapping[str, Any]) -> set[str]:
    """Variables of ``namespace`` a cell may have rebound or changed in place.

    Every variable the cell uses in a way that could change it: assigned, deleted, passed
    to a function or a method that is not known to only read, or an element of it changed
    (``df.loc[0, "a"] = 1``). Uses that certainly only read (``print(x)``, ``x.shape``,
    ``x[0] + 1``, ``df.describe()``) do not count. Identifiers that appear in the text
    outside the Python code (magics, strings, comments), or any identifier of a cell that
    does not parse, count; a cell that runs code this cannot see (``%run``, any magic not
    known to leave values alone, ``exec``) counts every variable. Notebook functions and
    classes that count bring the variables they read, transitively. Over-approximating
    only costs a rehash.

    Examples
    --------
    >>> ns = {"df": 1, "other": 2, "scale": 3, "big": 4}
    >>> exec("def f():\\n    return scale * 2", ns)
    >>> sorted(names_in_cell("df.drop(columns=['a'], inplace=True); f(); print(big.shape)", ns))
    ['df', 'f', 'scale']
    >>> sorted(names_in_cell("%time big.sort()", ns))
    ['big']
    """
    mentioned = {name for name in _IDENT.findall(text) if name in namespace}
    found = set(mentioned)
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        tree = None
    if tree is not None and _runs_hidden_code(tree):
        found = set(namespace)  # %run, exec(...): anything may have changed
    elif tree is not None and mentioned:
        parents = {
            id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)
        }
        uses = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in mentioned]
        # Outside the code (magics, strings, comments): cannot tell, so it counts.
        found = mentioned - {n.id for n in uses}
        found |= {n.id for n in uses if not only_read(n, parents, namespace)}
    pending, seen_code = list(found), set()  # type: ignore[var-annotated]
    while pending:
        name = pending.pop()
        for extra in _reached(namespace.get(name), namespace, seen_code):
            if extra not in found:
                found.add(extra)
                pending.append(extra)
    return found


def bound_names(code: str) -> set[str]:
    """Names a (transformed) cell binds at top level; empty when it does not parse."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
    return names

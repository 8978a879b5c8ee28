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
import types
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass
from typing import Any

from ...storage._usercode import IDENTIFIER

__all__ = [
    "READING_METHODS",
    "Mentions",
    "bound_names",
    "mentions",
    "names_in_cell",
    "only_read",
    "parse_cell",
    "touched_names",
]


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


def only_read(node: ast.Name, parents: dict[int, ast.AST], variables: Container[str]) -> bool:
    """Whether this use of a variable certainly leaves its value unchanged (``variables``:
    the names that were variables, so a builtin such as ``print`` may be shadowed)."""
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
                and func.id not in variables
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


_PLAIN_CONTAINERS = (list, tuple, dict, set, frozenset, str, bytes, range)


def _iterates_harmlessly(value: Any) -> bool:
    """Whether looping over ``value`` leaves it as it was (a list, a dict, an array; not an
    iterator or a generator)."""
    if isinstance(value, _PLAIN_CONTAINERS):
        return True
    module = getattr(type(value), "__module__", None)
    return isinstance(module, str) and module.split(".")[0] in ("numpy", "pandas")


@dataclass(frozen=True)
class Mentions:
    """What the analysis of a cell needs from the namespace, taken when the cell ran.

    Taking it costs a scan of the cell's identifiers (no parse), so a cell can be noted
    cheaply and analysed later (:func:`touched_names`), when a checkpoint needs it, with
    the same result as at the time: a function redefined since still counts with the
    globals its old version read.

    ``names``: identifiers of the text that were variables; ``containers``: those holding a
    value whose iteration changes nothing; ``reach``: for each notebook function or class
    among them (and, transitively, among the variables those read), the variables its code
    reads or binds.
    """

    names: frozenset[str]
    containers: frozenset[str]
    reach: Mapping[str, frozenset[str]]


def _safely(test: Callable[[Any], bool], value: Any) -> bool:
    try:
        return test(value)
    except Exception:  # a value whose type cannot be asked: it does not count as harmless
        return False


def mentions(text: str, namespace: Mapping[str, Any]) -> Mentions:
    """The :class:`Mentions` of ``text`` in ``namespace`` now."""
    names = frozenset(n for n in set(IDENTIFIER.findall(text)) if n in namespace)
    containers = frozenset(n for n in names if _safely(_iterates_harmlessly, namespace.get(n)))
    reach: dict[str, frozenset[str]] = {}
    pending, visited = list(names), set(names)
    while pending:
        name = pending.pop()
        try:
            found = _reached(namespace.get(name), namespace, set())
        except Exception:  # an object that hides what it is: it may reach anything
            found = set(namespace)
        if found:
            reach[name] = frozenset(found)
            for extra in found - visited:
                visited.add(extra)
                pending.append(extra)
    return Mentions(names, containers, reach)


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
    return touched_names(text, mentions(text, namespace), lambda: set(namespace))


def parse_cell(text: str) -> ast.Module | None:
    """The cell's syntax tree (``None`` when it does not parse)."""
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError):
        return None


def touched_names(
    text: str,
    seen: Mentions,
    everything: Callable[[], set[str]],
    tree: ast.AST | bool | None = False,
) -> set[str]:
    """:func:`names_in_cell` from the cell's :class:`Mentions` (taken when it ran).

    ``everything`` gives every variable, for a cell that runs code this cannot see;
    ``tree`` is the cell's parsed text when the caller has it (``None``: it does not parse).
    """
    found = set(seen.names)
    if tree is False:
        tree = parse_cell(text)
    if isinstance(tree, ast.AST) and _runs_hidden_code(tree):
        return everything()  # %run, exec(...): anything may have changed
    if isinstance(tree, ast.AST) and found:
        parents = {
            id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)
        }
        uses = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in seen.names]
        # Outside the code (magics, strings, comments): cannot tell, so it counts.
        found = set(seen.names) - {n.id for n in uses}
        found |= {n.id for n in uses if not only_read(n, parents, seen.names)}
    pending = list(found)
    while pending:
        for extra in seen.reach.get(pending.pop(), ()):
            if extra not in found:
                found.add(extra)
                pending.append(extra)
    return found


def bound_names(code: str, tree: ast.AST | bool | None = False) -> set[str]:
    """Names a (transformed) cell binds at top level; empty when it does not parse.

    ``tree``: the parsed ``code`` when the caller has it (``None``: it does not parse).
    """
    if tree is False:
        tree = parse_cell(code)
    if not isinstance(tree, ast.AST):
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

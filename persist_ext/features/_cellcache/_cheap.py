"""Cells cheaper to run than to look up, told from their code and the sizes of what they read.

A cold ``%%persist`` cell pays for its analysis, its key, a snapshot of global state before
and after, a recorded run and the decision, about 2-3 ms, before a cheap cell is found
cheaper to run than to restore. Many cells can be seen to be cheap before they run: they
import and define, bind values written in them, or compute on small plain values (numbers,
short strings, small lists, dicts and numpy arrays) with builtins and those values' own
methods. Such a cell is run as written (``CellCache.cheap_as_written``): what a plain cell
does, so a wrong guess costs time, never a wrong value; the rule errs toward the magic.

The rule is an abstract run of the cell over *kinds* of values, each bounding the cost of
what may be done with it:

``"int"``
    an integer of at most :data:`SMALL_INT` in size: may size things (``range(n)``,
    ``s * n``, ``x ** n``).
``"num"``
    any number (and bool): arithmetic that cannot size anything (``+``, ``-``, ``/``, ...).
``"str"``, ``"seq"``, ``"arr"``
    a short string, a small builtin container (every item counted, nested ones too), a
    small numpy array of numbers: their methods, items and operators.
``"opaque"``
    anything else, or a result of unknown size: it may be bound, shown or passed to
    ``print``, nothing more (a property or ``__getitem__`` could compute anything).

Calls are of allowed builtins (not shadowed), of allowed methods of ``str``, builtin
containers, numbers and arrays, and of functions of numpy, pandas, ``math``, ``random``
and ``statistics`` that touch no file, on small values; loops go over small things, one
level deep, with nothing in them that grows by multiplying. Anything else (a notebook
function, another library's call, a ``while``, a ``try``, an attribute of anything but a
number or an array) leaves the cell to the magic.
"""

from __future__ import annotations

import ast
import builtins
import functools
import re
import types
import warnings
from collections.abc import Mapping
from typing import Any

from ...storage._usercode import in_modules
from ._analysis import DEFINITIONS, code_digest, definition_parts

__all__ = ["SMALL_INT", "SMALL_ITEMS", "kind_of", "runs_as_written"]

#: Integers up to this may size what a cell makes (``range(n)``, ``'-' * n``).
SMALL_INT = 10_000
#: Items (nested ones counted) a "small" container, string or array may hold: what a cell
#: makes from two of them (an outer product, a repeat) stays under a few MB.
SMALL_ITEMS = 1_000
_SOURCE_LIMIT = 4_000  # characters: beyond, the magic decides
#: ``name(`` (not after ``def``/``class``/``.``): cells calling other names are not parsed.
_CALLED = re.compile(r"(?<![\w.])(?<!def )(?<!class )([A-Za-z_]\w*)\s*\(")

#: Builtins a cheap cell may call, and the kind of their result.
_BUILTINS: dict[str, str] = {
    "print": "opaque", "len": "int", "type": "opaque", "isinstance": "num", "id": "num",
    "abs": "num", "round": "num", "min": "opaque", "max": "opaque", "sum": "opaque",
    "divmod": "opaque", "bool": "num", "int": "num", "float": "num", "complex": "num",
    "str": "str", "repr": "str", "bin": "str", "hex": "str", "oct": "str", "chr": "str",
    "ord": "num", "hash": "num", "format": "str", "any": "num", "all": "num",
    "sorted": "seq", "list": "seq", "tuple": "seq", "set": "seq", "frozenset": "seq",
    "dict": "seq", "reversed": "seq", "enumerate": "seq", "zip": "seq", "range": "seq",
}  # fmt: skip
#: Builtins whose result grows with an integer argument: only a small one.
_SIZED_BY_INT = frozenset({"range", "chr", "bin", "hex", "oct", "format", "str", "repr"})


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Methods a cheap cell may call, by the kind of the value they are called on.
_METHODS: dict[str, frozenset[str]] = {
    "str": _words(
        "upper lower title capitalize swapcase casefold strip lstrip rstrip split rsplit "
        "splitlines join find rfind index rindex count startswith endswith isdigit isalpha "
        "isalnum isspace isupper islower istitle isnumeric isdecimal isidentifier format "
        "partition rpartition encode decode zfill center ljust rjust replace removeprefix "
        "removesuffix hex"
    ),
    "seq": _words(
        "append extend insert pop remove index count sort reverse copy clear keys values "
        "items get update setdefault popitem add discard union intersection difference "
        "symmetric_difference issubset issuperset isdisjoint"
    ),
    "num": frozenset({"bit_length", "conjugate", "is_integer", "as_integer_ratio"}),
    "arr": _words(
        "sum mean std var min max argmin argmax cumsum cumprod prod reshape ravel flatten "
        "copy astype tolist transpose round sort argsort any all nonzero squeeze clip "
        "diagonal trace dot item"
    ),
}
_METHODS["int"] = _METHODS["num"]
#: Methods whose result grows with a number argument (a width): only a small one.
_PADDING = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
#: Libraries whose functions a cheap cell may call on small values (reached from a module
#: the notebook imported: ``np.arange(10)``, ``np.random.rand(3)``, ``pd.Series([1, 2])``).
_LIBRARIES = ("numpy", "pandas", "math", "random", "statistics")
#: Their functions that read or write files, by the start of the name, and others that do
#: more than compute on what they are given.
_FILE_PREFIXES = ("read_", "to_", "save", "load", "from", "gen")
_NOT_CHEAP_FUNCTIONS = frozenset(
    {"memmap", "DataSource", "info", "lookfor", "source", "show_config", "show_runtime",
     "show_versions", "test", "ExcelWriter", "HDFStore", "eval", "vectorize", "frompyfunc",
     "apply_along_axis", "apply_over_axes", "piecewise", "einsum_path",
     # Uninitialized memory: what a plain run shows (a fresh page's zeros) depends on the
     # allocations before it, which the magic's path makes alike on every run.
     "empty", "empty_like", "ndarray"}
)  # fmt: skip
#: Methods giving a view of a small container (as small, and iterable by a loop).
_VIEWS = frozenset({"keys", "values", "items"})
#: Data attributes that compute nothing, by kind.
_ATTRIBUTES = {
    "num": frozenset({"real", "imag", "numerator", "denominator"}),
    "arr": frozenset({"shape", "ndim", "size", "dtype", "T", "real", "imag", "itemsize", "nbytes"}),
}
_ATTRIBUTES["int"] = _ATTRIBUTES["num"]
_NUMBERS = ("int", "num")
_SIZED = ("str", "seq", "arr")
#: Operators through which a value can grow without bound when repeated.
_GROWING = (ast.Mult, ast.Pow, ast.LShift, ast.MatMult)
#: Builtins that may take anything: they show or name it, computing nothing on it.
_TAKE_ANYTHING = frozenset({"print", "type", "id", "isinstance"})
#: Methods that may take any object (they store or compare it, once).
_METHODS_TAKE_ANYTHING = frozenset(
    {"append", "insert", "add", "index", "count", "remove", "get", "setdefault", "pop", "discard"}
)


class _NotCheap(Exception):
    """The cell is not shown cheap: the magic decides (analysis, key, a measured run)."""


def runs_as_written(
    source: str, namespace: Mapping[str, Any] | None = None
) -> tuple[str, str] | None:
    """Whether ``source`` is cheaper to run than to look up, seen before it runs, and its
    code digest (the one ``_analysis.analyze_cell`` gives: the cell's default name):
    ``"definitions"`` (it only imports and defines), ``"values"`` (it also binds and shows
    values written in it or read whole), ``"small"`` (it computes on small values read
    from ``namespace`` or written in it). ``None``: the magic decides.

    >>> runs_as_written("import numpy as np\\ndef f(x, n=3):\\n    return load(x)")[0]
    'definitions'
    >>> runs_as_written("x = 5\\ny = [x, 1024, 'a']\\nprint(f'{x}', y)\\ny")[0]
    'values'
    >>> runs_as_written("L.append(len(s))\\nx * 3 + len(L)", {"L": [1], "s": "ab", "x": 2})[0]
    'small'
    >>> [runs_as_written(s, {"x": 2}) for s in ("y = x.shape", "y = f(x)", "%time x")]
    [None, None, None]
    >>> runs_as_written("total = x + 1", {"x": list(range(5000))}) is None  # not small
    True
    """
    if len(source) > _SOURCE_LIMIT:
        return None
    names = set(_CALLED.findall(source))
    if "def " not in source and "lambda" not in source and not names <= _BUILTINS.keys():
        return None  # most cells call a function: rejected without a parse
    tree = _parsed(source)
    if tree is None or not tree.body:
        return None  # IPython syntax (magics, ``!``) or no Python at all: the magic
    walk = _Walk(namespace or {})
    try:
        for stmt in tree.body:
            walk.statement(stmt)
    except _NotCheap:
        return None
    if all(isinstance(s, DEFINITIONS) for s in tree.body):
        kind = "definitions"
    else:
        kind = "small" if walk.computes else "values"
    return kind, _digest(source)


@functools.lru_cache(maxsize=256)
def _parsed(source: str) -> ast.Module | None:
    """The tree of a cell (asked again at each run of it: a hit, a cell known to run)."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


@functools.lru_cache(maxsize=256)
def _digest(source: str) -> str:
    tree = _parsed(source)
    assert tree is not None  # only asked of a cell that parsed
    return code_digest(tree)


def _require(condition: bool) -> None:
    if not condition:
        raise _NotCheap


def kind_of(value: Any) -> str:
    """The kind of a value read from the namespace (see the module doc).

    >>> [kind_of(v) for v in (3, 10**6, 2.5, "ab", [1, [2, 3]], {"a": 1}, None, print)]
    ['int', 'num', 'num', 'str', 'seq', 'seq', 'opaque', 'opaque']
    """
    kind = type(value)
    if kind is bool or (kind is int and -SMALL_INT <= value <= SMALL_INT):
        return "int"
    if kind in (int, float, complex):
        return "num"
    if kind in (str, bytes):
        return "str" if len(value) <= SMALL_ITEMS else "opaque"
    if kind in (list, tuple, set, frozenset, dict, range):
        return "seq" if _small_container(value) else "opaque"
    if kind.__name__ == "ndarray" and kind.__module__ == "numpy":
        return "arr" if value.size <= SMALL_ITEMS and value.dtype.kind in "biufc" else "opaque"
    return "opaque"


def _small_container(value: Any) -> bool:
    """Whether a builtin container holds at most :data:`SMALL_ITEMS` items in all, each a
    number, short string, ``None`` or a small builtin container itself."""
    if type(value) is range:
        return len(value) <= SMALL_ITEMS
    budget = SMALL_ITEMS
    pending = [value]
    while pending:
        current = pending.pop()
        budget -= len(current) * (2 if type(current) is dict else 1)
        if budget < 0:
            return False
        items = [*current.keys(), *current.values()] if type(current) is dict else current
        for item in items:
            kind = type(item)
            if kind in (list, tuple, set, frozenset, dict):
                pending.append(item)
            elif not (item is None or kind in (bool, int, float, complex)) and not (
                kind in (str, bytes) and len(item) <= SMALL_ITEMS
            ):
                return False
    return True


class _Walk:
    """The abstract run: statements in order, each name's kind as the cell binds it."""

    def __init__(self, namespace: Mapping[str, Any]) -> None:
        self.namespace = namespace
        self.bound: dict[str, str] = {}
        self.loop_depth = 0
        self.loop_names: set[str] = set()  # names the loop binds afresh each iteration
        self.comprehending = False
        self.computes = False  # an operator, a call (not print) or an item or attribute read

    # ---------------------------------------------------------------- statements
    def statement(self, stmt: ast.stmt) -> None:
        handler = getattr(self, f"_{type(stmt).__name__}", None)
        if handler is None:
            raise _NotCheap  # a ``while``, a ``try``, a ``with``, a ``return``...
        handler(stmt)

    def _Import(self, stmt: ast.Import | ast.ImportFrom) -> None:
        _require(self.loop_depth == 0)
        for alias in stmt.names:
            if alias.name != "*":
                self.bound[alias.asname or alias.name.partition(".")[0]] = "opaque"

    _ImportFrom = _Import

    def _FunctionDef(self, stmt: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        _require(not stmt.decorator_list and self.loop_depth == 0)
        for part in definition_parts(stmt):  # defaults and annotations: run by the ``def``
            if not _type_like(part):
                self.value(part)
        self.bound[stmt.name] = "opaque"

    _AsyncFunctionDef = _FunctionDef

    def _ClassDef(self, stmt: ast.ClassDef) -> None:
        _require(not stmt.decorator_list and not stmt.keywords and self.loop_depth == 0)
        _require(all(map(_type_like, stmt.bases)))
        outer, self.bound = self.bound, dict(self.bound)
        try:
            for inner in stmt.body:
                self.statement(inner)
        finally:
            self.bound = outer
        self.bound[stmt.name] = "opaque"

    def _Assign(self, stmt: ast.Assign) -> None:
        kind = self.value(stmt.value)
        for target in stmt.targets:
            self.target(target, kind)

    def _AnnAssign(self, stmt: ast.AnnAssign) -> None:
        _require(_type_like(stmt.annotation))
        if stmt.value is not None:
            self.target(stmt.target, self.value(stmt.value))

    def _AugAssign(self, stmt: ast.AugAssign) -> None:
        self.computes = True
        kind = self.binary(stmt.op, self.value(stmt.target), self.value(stmt.value), stmt)
        self.target(stmt.target, kind)

    def _Expr(self, stmt: ast.Expr) -> None:
        self.shown(stmt.value)

    def _Delete(self, stmt: ast.Delete) -> None:
        for target in stmt.targets:
            if isinstance(target, ast.Name):
                self.bound[target.id] = "opaque"
            else:
                self.target(target, "opaque")

    def _Pass(self, stmt: ast.stmt) -> None:
        return None

    def _Break(self, stmt: ast.stmt) -> None:
        _require(self.loop_depth > 0)

    _Continue = _Break

    def _If(self, stmt: ast.If) -> None:
        self.value(stmt.test)
        before = dict(self.bound)
        for inner in stmt.body:
            self.statement(inner)
        taken, self.bound = self.bound, dict(before)
        for inner in stmt.orelse:
            self.statement(inner)
        # A name either branch bound keeps a kind only where both agree.
        for name in taken.keys() | self.bound.keys():
            if taken.get(name) != self.bound.get(name):
                self.bound[name] = "opaque"

    def _For(self, stmt: ast.For) -> None:
        _require(self.loop_depth == 0 and not stmt.orelse)
        self.target(stmt.target, self.iterated(stmt.iter))
        self.loop_names = {n.id for n in ast.walk(stmt.target) if isinstance(n, ast.Name)}
        self.computes = True
        self.loop_depth += 1
        try:
            # Twice: what the first pass bound is what the second iteration reads.
            for _ in range(2):
                for inner in stmt.body:
                    self.statement(inner)
        finally:
            self.loop_depth -= 1

    # ---------------------------------------------------------------- targets
    def target(self, node: ast.expr, kind: str) -> None:
        if isinstance(node, ast.Name):
            self.bound[node.id] = kind
        elif isinstance(node, ast.Starred):
            self.target(node.value, "seq" if kind in _SIZED else "opaque")
        elif isinstance(node, (ast.Tuple, ast.List)):
            for element in node.elts:
                self.target(element, "opaque")
        elif isinstance(node, ast.Subscript):
            # Setting an item of a small container or array (``L[0] = 5``).
            _require(self.value(node.value) in ("seq", "arr"))
            self.index(node.slice)
            self.computes = True
        else:
            raise _NotCheap  # an attribute: a setter may compute anything

    # ---------------------------------------------------------------- values
    def shown(self, node: ast.expr) -> None:
        """A value displayed or printed: one too big to show is not cheap to show."""
        self.value(node)
        if isinstance(node, ast.Name) and node.id not in self.bound:
            value = self.namespace.get(node.id)
            _require(not _large_builtin(value))

    def value(self, node: ast.expr) -> str:
        if isinstance(node, ast.Constant):
            return kind_of(node.value) if not isinstance(node.value, (str, bytes)) else "str"
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)):
            # Small only when what it holds is: ``[df, df]`` holds two frames of any size.
            parts: list[ast.expr | None] = (
                [*node.keys, *node.values] if isinstance(node, ast.Dict) else [*node.elts]
            )
            held = set()
            for part in parts:
                _require(part is not None)  # ``{**d}``: a copy of anything
                assert part is not None
                if isinstance(part, ast.Starred):
                    _require(self.value(part.value) in _SIZED)
                else:
                    held.add(self.value(part))
            return "opaque" if "opaque" in held else "seq"
        if isinstance(node, ast.JoinedStr):
            for part in node.values:
                self.value(part)
            return "str"
        if isinstance(node, ast.FormattedValue):
            self.value(node.value)
            spec = node.format_spec
            for part in spec.values if isinstance(spec, ast.JoinedStr) else ():
                if isinstance(part, ast.FormattedValue):  # a width: a small one only
                    _require(self.value(part.value) != "num")
            return "str"
        if isinstance(node, ast.Lambda):
            args = node.args
            for default in [*args.defaults, *(d for d in args.kw_defaults if d is not None)]:
                self.value(default)
            return "opaque"  # calling it (a name that is not a builtin) is not cheap
        if isinstance(node, ast.Call):
            return self.call(node)
        self.computes = True
        if isinstance(node, ast.UnaryOp):
            kind = self.value(node.operand)
            _require(kind != "opaque")
            return "num" if kind in _NUMBERS else kind
        if isinstance(node, ast.BinOp):
            return self.binary(node.op, self.value(node.left), self.value(node.right), node)
        if isinstance(node, ast.BoolOp):
            for part in node.values:
                self.value(part)
            return "opaque"
        if isinstance(node, ast.Compare):
            kinds = [self.value(part) for part in [node.left, *node.comparators]]
            # ``is`` compares identities; ``==`` and ``in`` may walk anything (two frames).
            identity = all(isinstance(op, (ast.Is, ast.IsNot)) for op in node.ops)
            _require(identity or "opaque" not in kinds)
            return "num"
        if isinstance(node, ast.IfExp):
            self.value(node.test)
            body, orelse = self.value(node.body), self.value(node.orelse)
            return body if body == orelse else "opaque"
        if isinstance(node, ast.Subscript):
            kind = self.value(node.value)
            _require(kind in _SIZED)
            self.index(node.slice)
            return "arr" if kind == "arr" else "opaque"
        if isinstance(node, ast.Attribute):
            kind = self.value(node.value)
            _require(node.attr in _ATTRIBUTES.get(kind, ()))
            return "num" if kind in _NUMBERS else "opaque"
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            return self.comprehension(node)
        raise _NotCheap

    def name(self, name: str) -> str:
        if name in self.bound:
            return self.bound[name]
        if name in self.namespace:
            return kind_of(self.namespace[name])
        return "opaque"  # a builtin (called only through `call`), or a NameError: cheap

    def index(self, node: ast.expr) -> None:
        if isinstance(node, ast.Slice):
            for part in (node.lower, node.upper, node.step):
                if part is not None:
                    self.value(part)
        elif isinstance(node, ast.Tuple):
            for element in node.elts:
                self.index(element)
        else:
            self.value(node)

    def binary(
        self, op: ast.operator, left: str, right: str, node: ast.BinOp | ast.AugAssign
    ) -> str:
        _require("opaque" not in (left, right) or (isinstance(op, ast.Mod) and left == "str"))
        if isinstance(op, _GROWING) and self.loop_depth:
            # Repeated by a loop, a product of what the loop rebinds grows without bound
            # (``x = x * x``); one of the loop's own variable or a literal does not.
            operands = (
                [node.target, node.value]
                if isinstance(node, ast.AugAssign)
                else [
                    node.left,
                    node.right,
                ]
            )
            _require(all(self.fresh(operand) for operand in operands))
        if left in _NUMBERS and right in _NUMBERS:
            if isinstance(op, (ast.Pow, ast.LShift)):
                # A small exponent; of a big number, a literal one (``huge ** 2``).
                exponent = node.value if isinstance(node, ast.AugAssign) else node.right
                _require(right == "int")
                _require(left == "int" or _literal_at_most(exponent, 64))
            return "num"
        if "arr" in (left, right):  # element by element (``a * 2``, ``a + b``), or ``a @ b``
            _require({left, right} <= {"arr", "int", "num"})
            return "opaque" if isinstance(op, ast.MatMult) else "arr"
        if isinstance(op, ast.Mult):  # a repeat: ``'-' * 20``, ``[0] * n``
            _require({left, right} <= {"int", "str", "seq"} and "int" in (left, right))
            return "opaque"
        if isinstance(op, ast.Mod) and left == "str":  # ``'%d items' % n``
            return "str"
        _require(isinstance(op, ast.Add) and left == right and left in ("str", "seq"))
        return "opaque" if self.loop_depth else left

    def fresh(self, node: ast.expr) -> bool:
        """A literal, or a name the loop binds afresh each iteration (not accumulated)."""
        return isinstance(node, ast.Constant) or (
            isinstance(node, ast.Name) and node.id in self.loop_names
        )

    def call(self, node: ast.Call) -> str:
        _require(all(k.arg is not None for k in node.keywords))
        func = node.func
        library = isinstance(func, ast.Attribute) and self.library_function(func)
        kinds = []
        for argument in [*node.args, *(k.value for k in node.keywords)]:
            _require(not isinstance(argument, (ast.Starred, ast.Lambda)))
            if library and argument not in node.args and _type_like(argument):
                continue  # ``dtype=np.float32``, ``axis=0``: a library's option, read
            kinds.append(self.value(argument))
        if library:
            # A library function on small values: what it makes grows with them at most
            # polynomially (an outer product of two small arrays is a million numbers).
            self.computes = True
            _require("opaque" not in kinds)
            return "opaque"
        if isinstance(func, ast.Name):
            _require(func.id in _BUILTINS and func.id not in self.bound)
            _require(self.namespace.get(func.id, _UNSET) in (_UNSET, getattr(builtins, func.id)))
            if func.id in _SIZED_BY_INT:
                _require(all(kind != "num" for kind in kinds))
            if func.id == "print":
                for argument in node.args:
                    self.shown(argument)
            elif func.id in _TAKE_ANYTHING:  # naming what it is: computing nothing on it
                pass
            else:
                self.computes = True
                _require("opaque" not in kinds)
            return _BUILTINS[func.id]
        self.computes = True
        _require(isinstance(func, ast.Attribute))
        assert isinstance(func, ast.Attribute)
        owner = self.value(func.value)
        _require(func.attr in _METHODS.get(owner, ()))
        _require(func.attr not in _PADDING or "num" not in kinds)  # a small width only
        _require("opaque" not in kinds or func.attr in _METHODS_TAKE_ANYTHING)
        return "seq" if func.attr in _VIEWS else "opaque"

    def library_function(self, func: ast.Attribute) -> bool:
        """Whether ``func`` is a function of one of :data:`_LIBRARIES` reached from a module
        the namespace holds (``np.arange``, ``np.random.rand``, ``pd.Series``), one that
        reads or writes no file (``np.load``, ``pd.read_csv``, ``to_*`` are not)."""
        path = []
        node: ast.expr = func
        while isinstance(node, ast.Attribute):
            path.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id in self.bound:
            return False  # imported by the cell itself: not known before it runs
        found = self.namespace.get(node.id)
        for attr in reversed(path):
            if not isinstance(found, types.ModuleType):
                return False  # ``pd.DataFrame.from_dict``: a class's attribute
            if not in_modules(found.__name__, _LIBRARIES):
                return False
            try:
                with warnings.catch_warnings():  # a deprecated name warns when looked up
                    warnings.simplefilter("ignore")
                    found = getattr(found, attr)
            except Exception:
                return False
        name = path[0]
        return (
            callable(found)
            and not isinstance(found, types.ModuleType)
            and not name.startswith(_FILE_PREFIXES)
            and name not in _NOT_CHEAP_FUNCTIONS
        )

    def iterated(self, node: ast.expr) -> str:
        """What a loop goes over: something small, read or made in the cell."""
        kind = self.value(node)
        _require(kind in _SIZED)
        if _is_range(node):
            return "int"
        if isinstance(node, ast.Name) and node.id not in self.bound:
            return _items_kind(self.namespace.get(node.id))
        return "opaque"

    def comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp
    ) -> str:
        # One generator, not in a loop or another comprehension: at most SMALL_ITEMS items.
        _require(not self.loop_depth and not self.comprehending and len(node.generators) == 1)
        (generator,) = node.generators
        _require(not generator.is_async)
        outer = dict(self.bound)
        self.target(generator.target, self.iterated(generator.iter))
        self.comprehending = True
        try:
            for condition in generator.ifs:
                self.value(condition)
            if isinstance(node, ast.DictComp):
                self.value(node.key)
                self.value(node.value)
            else:
                self.value(node.elt)
        finally:
            self.comprehending = False
            self.bound = outer
        return "opaque" if isinstance(node, ast.GeneratorExp) else "seq"


_UNSET = object()


def _literal_at_most(node: ast.expr, bound: int) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int and abs(node.value) <= bound


def _is_range(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range"
    )


def _large_builtin(value: Any) -> bool:
    """A builtin container or string too big to show cheaply (its repr walks every item)."""
    if type(value) in (str, bytes):
        return len(value) > 100 * SMALL_ITEMS
    if type(value) in (list, tuple, set, frozenset, dict):
        return len(value) > 10 * SMALL_ITEMS
    return False


def _items_kind(value: Any) -> str:
    """The kind of every item of a small container read by a loop, or ``"opaque"``."""
    kinds = {kind_of(item) for item in value}  # a dict's keys, as a loop goes over it
    if kinds <= {"int"}:
        return "int"
    if kinds <= {"int", "num"}:
        return "num"
    return kinds.pop() if len(kinds) == 1 else "opaque"


def _type_like(node: ast.expr) -> bool:
    """An annotation or base: ``int``, ``np.ndarray``, ``list[int]``, ``int | None``, ``'C'``."""
    if isinstance(node, (ast.Name, ast.Constant)):
        return True
    if isinstance(node, ast.Attribute):
        return _type_like(node.value)
    if isinstance(node, ast.Subscript):
        return _type_like(node.value) and _type_like(node.slice)
    if isinstance(node, ast.Tuple):
        return all(map(_type_like, node.elts))
    return (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.BitOr)
        and _type_like(node.left)
        and _type_like(node.right)
    )

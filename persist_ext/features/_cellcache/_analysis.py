"""Static analysis of a cell: normalized code digest, the names it reads, what it defines.

The cell cache keys a cell on the names it *reads before it assigns them* (its inputs). A
name the cell assigns first and reads afterwards (``df = load(); df.describe()``) is not an
input: its value before the cell runs cannot change the result. Names read inside function
bodies the cell defines are read when the function is called, so they count as inputs only
when the cell never assigns them at its top level.

The analysis is sequential over the cell's statements. An assignment inside a compound
statement (``if``/``for``/``while``/``try``/``with``/``match``) may not run: a name it binds
and a later statement reads is a *maybe read* (``if flag: x = 1`` then ``y = x * 2``). Its
value before the run is read only when the run leaves it as it was, which the cache decides
after the run (``kept:`` checks of the entry, see ``_cache``).
"""

from __future__ import annotations

import ast
import dis
import functools
import keyword
import re
import types
from collections.abc import Iterable
from dataclasses import dataclass, field

import xxhash

from ...storage._usercode import IDENTIFIER
from ._setorder import iterated_sets

__all__ = ["DEFINITIONS", "CellCode", "analyze_cell", "code_digest", "normalize_code", "take_tree"]

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
#: Statements a hit runs again rather than restores (what "only imports and defines" means).
DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass(frozen=True)
class CellCode:
    """What the cache needs to know about a cell's source, computed once per distinct text.

    Attributes
    ----------
    source
        The cell after ``shell.transform_cell`` (plain Python).
    digest
        xxh3_128 of the normalized AST: comments, blank lines and formatting do not change it.
    reads
        Names read before the cell assigns them, in first-read order (candidate inputs).
    assigns
        Every name the cell binds at its top level.
    definitions
        Names bound by top-level ``import``, ``def`` and ``class`` statements; a hit re-runs
        those statements instead of storing modules and functions.
    definition_module
        Those statements alone, as an ``ast.Module`` to compile (``None`` when there are none).
    imported_modules
        Top-level package names the cell imports (for ``--env``).
    mentioned
        Identifiers written inside string literals (``df.query("x > @thr")``,
        ``pd.eval("a + b")``, ``display("df1")``): the namespace names among them are inputs.
    uncertain
        Why the analysis cannot know what the cell reads or does (``eval`` of a computed
        string, ``globals()``, shell commands, magics with effects); such a cell always runs.
    literals
        Short one-line string literals: those naming existing files are key components
        (files read by C code, such as Parquet readers, are not seen as they are read).
    only_definitions
        Every top-level statement is an ``import``, ``def`` or ``class``: a hit would run
        the very statements a run runs.
    unseen_reads
        Why files the cell reads may not be seen: a reader that opens its file from C
        (``pd.read_parquet``) given a path made in the cell. Such a cell always runs unless
        ``--deps`` names its files.
    targets
        What the cell sets or deletes an attribute or item of, as ``(dotted path, kind)``
        with kind ``"attr"`` or ``"item"``: ``("mod", "attr")`` for ``mod.X = 1``,
        ``("mod.D", "item")`` for ``mod.D["k"] = 1``, ``("f", "attr")`` for
        ``f.calls += 1``; ``("mod.CONFIG", "item")`` for ``mod.CONFIG["a"]["b"] = 1`` and
        for ``mod.CONFIG.update(a=1)`` (a method that changes a container in place).
        Only paths of plain names and attributes are kept.
    registrations
        Calls that fill a library's registry (``matplotlib.colormaps.register(cm)``,
        ``register_dataframe_accessor("geo")(Geo)``, ``fontManager.addfont(path)``), as the
        dotted path of the callee; decorators of the cell's own ``def``/``class`` statements
        are left out (a hit runs those statements again).
    maybe_reads
        Names read after a binding of the cell that may not have run (in a branch, a loop,
        a ``try`` or ``with`` body): inputs exactly when the run leaves them unbound.
    iterated_sets
        What the cell walks in order that may be a set (names, and ``"<set>"`` for a set it
        makes): a set of strings iterates in the kernel's hash-seed order (``_setorder``).
    seedings
        Calls that may set a random generator's state outright (``np.random.seed(0)``,
        ``random.setstate(s)``), as the dotted path of the callee, made by the cell's own
        statements (not in the bodies of functions and classes it defines, which a run
        may never call).
    seeds_first
        The seedings among them made before anything else the cell runs could draw: those
        of its leading statements, up to the first that calls anything but a seeding call,
        a settings call (``plt.style.use``, ``sns.set()``) or a setup magic. A generator
        they set does not depend on the state the cell started from; one seeded later
        (``x = np.random.rand(); np.random.seed(0)``) does.
    settings
        Facets of the kernel's state (``_state.FACETS``) the cell may set, by the names its
        code uses (:func:`facets_set_by`): ``pd.set_option``, ``plt.rcParams``,
        ``os.chdir``, ``%precision``. A run that sets one to the value it already had shows
        no change, so such a facet is keyed on its state before the run (``_fidelity``).
    compile_warns
        Compiling the cell may show a warning (``"is" with a literal``, a call of a literal,
        an ``assert`` of a tuple, an invalid escape sequence): each compile of a plain cell
        shows it again (IPython's ``await`` check compiles the cell too).
    """

    source: str
    digest: str
    reads: tuple[str, ...]
    assigns: frozenset[str]
    definitions: frozenset[str]
    definition_module: ast.Module | None
    imported_modules: tuple[str, ...] = field(default=())
    mentioned: tuple[str, ...] = field(default=())
    uncertain: tuple[str, ...] = field(default=())
    literals: tuple[str, ...] = field(default=())
    only_definitions: bool = False
    targets: tuple[tuple[str, str], ...] = field(default=())
    unseen_reads: tuple[str, ...] = field(default=())
    maybe_reads: tuple[str, ...] = field(default=())
    registrations: tuple[str, ...] = field(default=())
    iterated_sets: tuple[str, ...] = field(default=())
    seedings: tuple[str, ...] = field(default=())
    seeds_first: tuple[str, ...] = field(default=())
    settings: tuple[str, ...] = field(default=())
    compile_warns: bool = False


def normalize_code(source: str) -> str:
    """Return a digest of ``source`` that ignores comments and formatting.

    ``source`` must be plain Python (apply ``shell.transform_cell`` first to IPython syntax).

    Examples
    --------
    >>> normalize_code("x = 1  # one") == normalize_code("x=1\\n\\n")
    True
    >>> normalize_code("x = 1") == normalize_code("x = 2")
    False
    """
    tree = ast.parse(source)
    return _digest(tree)


def _digest(tree: ast.Module) -> str:
    return _walk_digest(tree)[2]


def _walk(node: ast.AST) -> list[ast.AST]:
    """``list(ast.walk(node))``, in the same order, at half its cost (no generators)."""
    nodes = [node]
    index = 0
    while index < len(nodes):
        for name in nodes[index]._fields:
            value = getattr(nodes[index], name, None)
            if isinstance(value, ast.AST):
                nodes.append(value)
            elif type(value) is list:
                nodes += [item for item in value if isinstance(item, ast.AST)]
        index += 1
    return nodes


def code_digest(tree: ast.Module) -> str:
    """The digest :func:`analyze_cell` gives the cell ``tree`` (its name's default part).

    >>> code_digest(ast.parse("x = 1  # one")) == analyze_cell("x = 1").digest
    True
    """
    return _walk_digest(tree)[2]


def _walk_digest(tree: ast.Module) -> tuple[list[ast.AST], list[int], str]:
    """Every node of the cell ``tree``, a top-level statement's after another's, each in
    :func:`ast.walk`'s order; where each statement's nodes start (and, last, where they
    end); and a digest of the tree.

    The digest covers each node's type and fields, never its positions: comments, blank
    lines and formatting do not change it. Walked breadth first, each node lists its type,
    its fields' values (``repr``) and its children's count, so that two trees with the same
    parts give the same text only when they are the same tree. One walk serves both: an
    ``ast.dump`` for the digest cost another walk and as much again in string formatting.
    """
    nodes: list[ast.AST] = [tree]
    starts: list[int] = []
    parts = [f"Module[{len(tree.body)}"]
    emit = parts.append
    for statement in tree.body:
        starts.append(len(nodes))
        nodes.append(statement)
        index = starts[-1]
        while index < len(nodes):
            current = nodes[index]
            index += 1
            emit(type(current).__name__)
            for name in current._fields:
                value = getattr(current, name, None)
                if isinstance(value, ast.AST):
                    nodes.append(value)
                    emit("^")
                elif type(value) is list:
                    emit(f"[{len(value)}")
                    for item in value:
                        if isinstance(item, ast.AST):
                            nodes.append(item)
                            emit("^")
                        else:
                            emit(repr(item))  # ``global a, b``: names
                else:
                    emit(repr(value))
    starts.append(len(nodes))
    return nodes, starts, xxhash.xxh3_128_hexdigest("\0".join(parts).encode())


def _only(nodes: list[ast.AST], kinds: frozenset[type]) -> list[ast.AST]:
    """The nodes of exactly these types, in order: each scan below looks at a few kinds of
    node, and one set lookup per node costs less than its chain of ``isinstance`` tests."""
    return [node for node in nodes if type(node) in kinds]


_CONSTANTS = frozenset({ast.Constant})
_CALLS = frozenset({ast.Call})


# What :meth:`_Scan.visit` treats otherwise than by visiting the children in order.
_SCAN_SPECIAL = frozenset(
    {*_SCOPES, ast.BoolOp, ast.IfExp, ast.ClassDef, *_COMPREHENSIONS, ast.AugAssign}
    | {ast.Import, ast.ImportFrom, ast.ExceptHandler}
)


class _Scan:
    """Collect loads and stores of one statement, without entering deferred scopes."""

    def __init__(self) -> None:
        self.loads: list[str] = []
        self.stores: list[str] = []
        self.maybe_stores: list[str] = []  # ``a and (b := f())``: bound only if evaluated
        self.deferred: set[str] = set()
        self._branch = 0

    def visit(self, node: ast.AST) -> None:
        kind = type(node)
        if kind is ast.Name:  # the most common node: first
            if type(node.ctx) is ast.Load:  # type: ignore[attr-defined]
                self.loads.append(node.id)  # type: ignore[attr-defined]
            else:
                (self.maybe_stores if self._branch else self.stores).append(node.id)  # type: ignore[attr-defined]
            return
        if kind not in _SCAN_SPECIAL:
            # Its children in order (``ast.iter_child_nodes`` without its generators).
            for name in node._fields:
                value = getattr(node, name, None)
                if isinstance(value, ast.AST):
                    self.visit(value)
                elif type(value) is list:
                    for item in value:
                        if isinstance(item, ast.AST):
                            self.visit(item)
            return
        if isinstance(node, _SCOPES):
            self._scope(node)
            return
        if isinstance(node, (ast.BoolOp, ast.IfExp)):
            # Operands after the first of ``and``/``or``, and both arms of ``x if c else
            # y``, may not be evaluated: what a ``:=`` in them binds may not be bound.
            first, rest = (
                (node.values[0], node.values[1:])
                if isinstance(node, ast.BoolOp)
                else (node.test, [node.body, node.orelse])
            )
            self.visit(first)
            self._branch += 1
            for part in rest:
                self.visit(part)
            self._branch -= 1
            return
        if isinstance(node, ast.ClassDef):
            for part in (*node.decorator_list, *node.bases, *(k.value for k in node.keywords)):
                self.visit(part)
            inner = _Scan()
            for stmt in node.body:
                inner.visit(stmt)
            self.loads += [n for n in inner.loads if n not in set(inner.stores)]
            self.deferred |= inner.deferred
            self.stores.append(node.name)
            return
        if isinstance(node, _COMPREHENSIONS):
            inner = _Scan()
            for child in ast.iter_child_nodes(node):
                inner.visit(child)
            own = set(inner.stores)
            self.loads += [n for n in inner.loads if n not in own]
            self.deferred |= inner.deferred
            return
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            self.loads.append(node.target.id)  # ``x += 1`` reads x first
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    self.stores.append(alias.asname or alias.name.partition(".")[0])
            return
        if isinstance(node, ast.ExceptHandler) and node.name:
            self.stores.append(node.name)
        for child in ast.iter_child_nodes(node):
            self.visit(child)

    def _scope(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        for part in definition_parts(node):  # read when the ``def`` runs
            self.visit(part)
        params = {a.arg for a in _parameters(node.args)}
        body = node.body if isinstance(node.body, list) else [node.body]
        local_loads: set[str] = set()
        local_stores: set[str] = set(params)
        # ``global counter`` then ``counter += 10``: the namespace's value is read and set,
        # not a local's (``nonlocal`` names stay in the enclosing function).
        declared: set[str] = set()
        for sub in (n for stmt in body for n in _walk(stmt)):
            if isinstance(sub, ast.Name):
                (local_loads if isinstance(sub.ctx, ast.Load) else local_stores).add(sub.id)
            elif isinstance(sub, ast.Global):
                declared.update(sub.names)
            elif isinstance(sub, ast.AugAssign) and isinstance(sub.target, ast.Name):
                local_loads.add(sub.target.id)  # ``x += 1`` reads x first
            elif isinstance(sub, _SCOPES):
                local_stores |= {a.arg for a in _parameters(sub.args)}
                if not isinstance(sub, ast.Lambda):
                    local_stores.add(sub.name)
            elif isinstance(sub, (ast.Import, ast.ImportFrom)):
                local_stores |= {a.asname or a.name.partition(".")[0] for a in sub.names}
        self.deferred |= local_loads - (local_stores - declared)
        if not isinstance(node, ast.Lambda):
            self.stores.append(node.name)


class _Walk:
    """What the walk over a cell's statements found (see :func:`_walk_statements`)."""

    def __init__(self) -> None:
        self.assigned: set[str] = set()  # every name the cell binds somewhere
        self.reads: dict[str, None] = {}  # read before any binding of the cell
        self.maybe: dict[str, None] = {}  # read after a binding that may not have run
        self.deferred: set[str] = set()  # read by function bodies the cell defines
        self.before: list[frozenset[str]] = []  # bound for sure before each top statement

    def bind(self, names: list[str]) -> None:
        for name in names:
            if name in self.maybe:
                # Bound again after a maybe read (``for ...: x = i`` / ``y = x`` / ``x = 0``):
                # what the run leaves no longer tells whether that read saw the old value.
                del self.maybe[name]
                self.reads.setdefault(name, None)
        self.assigned.update(names)

    def load(self, name: str, definite: set[str]) -> None:
        if name in definite:
            return
        if name in self.assigned:
            self.maybe.setdefault(name, None)
        else:
            self.reads.setdefault(name, None)


def _walk_statements(
    body: list[ast.stmt], walk: _Walk, definite: set[str], *, top: bool = False
) -> None:
    """Visit statements in order. ``definite``: names bound for sure at this point (grows
    as the statements bind names); a compound statement's bodies get copies of it, as they
    may not run (``for`` bodies start with the loop target bound)."""
    for stmt in body:
        if top:
            walk.before.append(frozenset(definite))
        nested = _nested_bodies(stmt)
        scan = _Scan()
        if nested is None:
            scan.visit(stmt)
        else:
            for part in nested[0]:
                scan.visit(part)
        for name in scan.loads:
            walk.load(name, definite)
        walk.bind(scan.stores + scan.maybe_stores)
        walk.deferred |= scan.deferred
        if nested is None:
            definite.update(scan.stores)
            continue
        if isinstance(stmt, _HEADER_RUNS):
            # The test, the ``as`` targets, the subject: always evaluated, so what a ``:=``
            # in them binds (``if (n := len(a)) > 3:``) is bound.
            definite.update(scan.stores)
        branches = []
        for sub, entered in nested[1]:
            branch = definite | entered
            _walk_statements(sub, walk, branch)
            branches.append(branch)
        if isinstance(stmt, ast.If) and stmt.orelse:
            # Bound on both branches: bound after the ``if``.
            definite.update(set.intersection(*branches))
        if isinstance(stmt, ast.Try) and stmt.finalbody:
            definite.update(branches[-1])  # ``finally`` always runs


_Bodies = list[tuple[list[ast.stmt], frozenset[str]]]
_HEADER_RUNS = (ast.If, ast.While, ast.With, ast.AsyncWith, ast.Match)


def _nested_bodies(stmt: ast.stmt) -> tuple[list[ast.AST], _Bodies] | None:
    """Split a compound statement into (header expressions/targets, bodies in order), each
    body with the names bound whenever it runs (a ``for`` loop's target in its body, an
    ``except ... as e`` name in its handler)."""
    none: frozenset[str] = frozenset()
    if isinstance(stmt, (ast.If, ast.While)):
        return [stmt.test], [(stmt.body, none), (stmt.orelse, none)]
    if isinstance(stmt, (ast.For, ast.AsyncFor)):
        target = _Scan()
        target.visit(stmt.target)
        return [stmt.iter, stmt.target], [
            (stmt.body, frozenset(target.stores)),
            (stmt.orelse, none),
        ]
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        return list(stmt.items), [(stmt.body, none)]
    if isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
        handlers: _Bodies = []
        header: list[ast.AST] = []
        for handler in stmt.handlers:  # type: ignore[attr-defined]
            if handler.type is not None:
                header.append(handler.type)
            if handler.name:
                header.append(ast.Name(handler.name, ast.Store()))
            handlers.append((handler.body, frozenset([handler.name] if handler.name else [])))
        tail = [(stmt.orelse, none), (stmt.finalbody, none)]  # type: ignore[attr-defined]
        return header, [(stmt.body, none), *handlers, *tail]  # type: ignore[attr-defined]
    if isinstance(stmt, ast.Match):
        cases = stmt.cases
        header = [stmt.subject]
        header += [c.guard for c in cases if c.guard is not None]
        return header, [(c.body, none) for c in cases]
    return None


# Line magics whose effects the cache sees (state facets) or that only read.
_SAFE_MAGICS = frozenset({"time", "timeit", "precision", "pwd", "cd", "env", "pprint"})
# Line magics that list the namespace's variables: the whole namespace is their input.
_NAMESPACE_MAGICS = frozenset({"who", "whos", "who_ls"})
_NAMESPACE_CALLS = frozenset({"globals", "locals", "vars", "dir"})


def _string_names(nodes: list[ast.AST]) -> dict[int, list[str]]:
    """The identifiers written in each non-empty string literal among ``nodes``, by the
    literal's ``id``."""
    named: dict[int, list[str]] = {}
    for node in _only(nodes, _CONSTANTS):
        value = node.value  # type: ignore[attr-defined]
        if isinstance(value, str) and value:
            names = [n for n in IDENTIFIER.findall(value) if not keyword.iskeyword(n)]
            if names:
                named[id(node)] = names
    return named


def _mentioned(
    nodes: list[ast.AST],
    starts: list[int],
    before: list[frozenset[str]],
    reads: dict[str, None],
    assigned: set[str],
) -> list[str]:
    """Identifiers in the cell's string literals, but those already read and those the cell
    bound for sure before the top-level statement holding the string (``raw = [1, 2]``
    then ``{"raw": raw}``: its own). ``nodes`` and ``starts``: :func:`_walk_digest`'s.

    >>> code = 'raw = [1, 2]\\nd = {"raw": raw, "other": 1}\\ndf.query("x > @raw")'
    >>> walk = _Walk()
    >>> tree = ast.parse(code)
    >>> _walk_statements(tree.body, walk, set(), top=True)
    >>> nodes, starts, _ = _walk_digest(tree)
    >>> _mentioned(nodes, starts, walk.before, walk.reads, walk.assigned)
    ['other', 'x']
    """
    named = _string_names(nodes)
    found = dict.fromkeys(n for names in named.values() for n in names if n not in reads)
    if not assigned.intersection(found):
        return list(found)  # no name the cell binds: nothing to tell apart (most cells)
    kept: set[str] = set()
    for start, end, bound in zip(starts, starts[1:], before):
        for node in nodes[start:end]:
            names = named.get(id(node))
            if names:
                kept.update(n for n in names if n not in bound and n not in reads)
    return [n for n in found if n in kept]


def _path_like(nodes: list[ast.AST]) -> list[str]:
    found: dict[str, None] = {}
    for node in _only(nodes, _CONSTANTS):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if 0 < len(text) <= 1024 and "\n" not in text and "\0" not in text:
                found.setdefault(text, None)
    return list(found)


#: Methods that change a list, dict, set or deque in place (``mod.REGISTRY.append(x)``).
_MUTATING_METHODS = frozenset(
    {
        "append",
        "appendleft",
        "extend",
        "extendleft",
        "insert",
        "update",
        "setdefault",
        "pop",
        "popitem",
        "popleft",
        "clear",
        "remove",
        "add",
        "discard",
        "sort",
        "reverse",
        "rotate",
        "difference_update",
        "intersection_update",
        "symmetric_difference_update",
        "__setitem__",
        "__delitem__",
    }
)


def _target_path(node: ast.AST) -> tuple[str, bool] | None:
    """The dotted path of names and attributes ``node`` starts from, and whether an item
    lies past it: ``mod.CONFIG["a"]["b"]`` -> ``("mod.CONFIG", True)``."""
    chain: list[ast.AST] = []
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        chain.append(node)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts = [node.id]
    chain.reverse()
    for link in chain:
        if isinstance(link, ast.Subscript):
            return ".".join(parts), True
        parts.append(link.attr)  # type: ignore[attr-defined]
    return ".".join(parts), False


_TARGET_KINDS = frozenset({ast.Attribute, ast.Subscript, ast.Call})


def _targets(nodes: list[ast.AST]) -> list[tuple[str, str]]:
    found: dict[tuple[str, str], None] = {}
    for node in _only(nodes, _TARGET_KINDS):
        if isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(
            node.ctx, (ast.Store, ast.Del)
        ):
            owner = _target_path(node.value)
            if owner is not None:
                path, item = owner
                kind = "item" if item or isinstance(node, ast.Subscript) else "attr"
                found.setdefault((path, kind))
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in _MUTATING_METHODS:
                # ``mod.CONFIG.update(a=1)``: the container is changed, not rebound.
                owner = _target_path(func.value)
                if owner is not None:
                    found.setdefault((owner[0], "item"))
            elif (
                isinstance(func, ast.Name)
                and func.id in ("setattr", "delattr")
                and node.args
                and (owner := _target_path(node.args[0])) is not None
            ):
                path, item = owner
                found.setdefault((path, "item" if item else "attr"))
    return list(found)


#: Names of calls that fill a library's registry or set process-wide library state that no
#: facet of ``_state`` records: a hit calls nothing, so what they registered would be missing.
#: (``setlocale`` and ``tzset`` are recorded by the Python settings facet now, for calls by
#: other names; a cell naming them still runs.)
REGISTERING = re.compile(
    r"_?(un)?register.*|add_?font|_load_fontmanager|setlocale|tzset|add_type|"
    r"setdefaulttimeout|umask|manual_seed|set_seed|seed_everything|set_default_dtype|"
    r"set_default_device|set_floatx|set_num_threads|set_start_method|"
    r"use_deterministic_algorithms|setswitchinterval|captureWarnings|disable|enable|install|"
    # The process's signal handlers and timers, tracers, resource limits: a hit sets none,
    # and a later signal would take the default action (SIGUSR1 ends the kernel).
    r"signal|alarm|setitimer|set_wakeup_fd|pthread_sigmask|siginterrupt|settrace|setprofile|"
    r"setrlimit|set_threshold"
)


def _registrations(tree: ast.Module, nodes: list[ast.AST]) -> list[str]:
    """Dotted callees of registering calls, outside the decorators of top-level definitions."""
    rerun: set[int] = set()
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for decorator in stmt.decorator_list:
                rerun.update(id(n) for n in _walk(decorator))
    found: dict[str, None] = {}
    for node in _only(nodes, _CALLS):
        if not isinstance(node, ast.Call) or id(node) in rerun:
            continue
        name = _call_name(node)
        if not name or not REGISTERING.fullmatch(name):
            continue
        owner = _target_path(node.func)
        found.setdefault(owner[0] if owner is not None and not owner[1] else name, None)
    return list(found)


# What a call that sets a generator's state outright is named (``seed``, numpy's
# ``set_state``, ``random``'s ``setstate``); which generator it sets is resolved at run time.
SEEDING = frozenset({"seed", "set_state", "setstate"})


def _seedings(nodes: list[ast.AST]) -> list[str]:
    """Dotted callees of the calls named in :data:`SEEDING` among ``nodes`` (the cell's),
    outside the bodies of functions, classes and lambdas it defines (they run only if
    called)."""
    calls = [
        n for n in _only(nodes, _CALLS) if isinstance(n, ast.Call) and _call_name(n) in SEEDING
    ]
    if not calls:
        return []  # most cells: no second walk
    defined = {
        id(inner)
        for n in nodes
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))
        for inner in _walk(n)
        if inner is not n
    }
    found: dict[str, None] = {}
    for call in calls:
        path = _target_path(call.func) if id(call) not in defined else None
        if path is not None and not path[1]:
            found.setdefault(path[0], None)
    return list(found)


#: The names whose use means code may set a facet of the kernel's state (``_state.FACETS``,
#: by name): a call (``pd.set_option``), an object set through (``plt.rcParams[...] =``),
#: a magic (``%precision``: a string in the transformed cell, named here with its ``%``).
#: Taken loosely: a name used for something else costs a check of that facet on a hit,
#: never a wrong hit.
SETTERS: dict[str, frozenset[str]] = {
    "pandas.options": frozenset({"options", "set_option", "reset_option"}),
    "numpy.printoptions": frozenset({"set_printoptions", "set_string_function"}),
    "numpy.errstate": frozenset({"seterr", "seterrcall"}),
    "rcParams": frozenset(
        {"rcParams", "rc", "rcdefaults", "rc_file", "rc_file_defaults", "style", "use"}
        | {"set", "set_theme", "set_style", "set_context", "set_palette", "%matplotlib"}
        | {"ion", "ioff", "xkcd"}
    ),
    "matplotlib.colorcodes": frozenset({"set", "set_theme", "set_color_codes"}),
    "matplotlib.backend": frozenset({"use", "switch_backend", "%matplotlib"}),
    "ipython.display": frozenset({"%precision", "%pprint"}),
    "ipython.interactivity": frozenset({"ast_node_interactivity", "%config"}),
    # Facets a hit cannot re-apply: read all the same, so that a hit is from the state the
    # stored run started from (``%config InlineBackend.figure_format = 'svg'`` twice).
    "ipython.printers": frozenset(
        {"%config", "%matplotlib", "set_matplotlib_formats", "for_type", "for_type_by_name"}
    ),
    "logging": frozenset(
        {"basicConfig", "dictConfig", "fileConfig", "setLevel", "addHandler", "removeHandler"}
    ),
    "cwd": frozenset({"chdir", "fchdir", "%cd", "%pushd", "%popd"}),
    "sys.path": frozenset({"addsitedir"}),  # and ``sys`` with ``path``: below
    "python": frozenset(
        {"setrecursionlimit", "set_int_max_str_digits", "getcontext", "setcontext", "argv"}
        | {"prec", "dps", "mp"}
    ),
    "sklearn.config": frozenset({"set_config"}),
}
SETTING_NAMES = frozenset().union(*SETTERS.values())
# ``set``: a setter as an attribute (``sns.set()``), not the builtin ``set(...)``.
_ATTRIBUTE_ONLY = frozenset({"set"})


def facets_set_by(names: Iterable[str]) -> list[str]:
    """The facets (``_state.FACETS`` names) that code using ``names`` may set, sorted.

    >>> facets_set_by(["pd", "options", "display"])
    ['pandas.options']
    >>> facets_set_by(["sys", "path", "insert"]), facets_set_by(["os", "path", "join"])
    (['sys.path'], [])
    """
    used = set(names)
    found = {facet for facet, setters in SETTERS.items() if not setters.isdisjoint(used)}
    if "sys" in used and "path" in used:
        found.add("sys.path")
    return sorted(found)


def _setting_names(nodes: list[ast.AST]) -> list[str]:
    """The names among ``nodes`` that :func:`facets_set_by` looks at: identifiers,
    attributes, modules imported from, and magics run (``run_line_magic('precision', ...)``)."""
    found: set[str] = set()
    for node in _only(nodes, _NAMING_KINDS):
        if isinstance(node, ast.Name):
            if (node.id in SETTING_NAMES and node.id not in _ATTRIBUTE_ONLY) or node.id == "sys":
                found.add(node.id)
        elif isinstance(node, ast.Attribute):
            if node.attr in SETTING_NAMES or node.attr == "path":
                found.add(node.attr)
        elif isinstance(node, ast.alias):
            found.update(n for n in node.name.split(".") if n in SETTING_NAMES or n == "path")
            if node.asname in SETTING_NAMES:
                found.add(node.asname)
        elif isinstance(node, ast.ImportFrom):
            found.update(p for p in (node.module or "").split(".") if p in ("sys", "os"))
        elif isinstance(node, ast.Call) and _call_name(node) in _MAGIC_RUNNERS:
            first = node.args[0] if node.args else None
            magic = first.value if isinstance(first, ast.Constant) else None
            if isinstance(magic, str) and f"%{magic}" in SETTING_NAMES:
                found.add(f"%{magic}")
    return sorted(found)


_NAMING_KINDS = frozenset({ast.Name, ast.Attribute, ast.alias, ast.ImportFrom, ast.Call})
_MAGIC_RUNNERS = frozenset({"run_line_magic", "run_cell_magic"})


# Calls that set up a session rather than compute (they draw no random numbers): settings
# of matplotlib, seaborn, pandas, numpy and warnings, and IPython's setup magics.
_SETTINGS_CALLS = frozenset(
    {
        "use", "set", "set_theme", "set_style", "set_context", "set_palette", "rc",
        "set_option", "set_printoptions", "seterr", "filterwarnings", "simplefilter",
    }
)  # fmt: skip
_SETUP_MAGICS = frozenset(
    {"matplotlib", "config", "load_ext", "reload_ext", "precision", "autoreload", "aimport"}
)


def _seeds_first(body: list[ast.stmt]) -> list[str]:
    """:attr:`CellCode.seeds_first` of a cell whose top-level statements are ``body``.

    >>> _seeds_first(ast.parse("import numpy as np\\nnp.random.seed(0)\\nx = f()").body)
    ['np.random.seed']
    >>> _seeds_first(ast.parse("x = np.random.rand()\\nnp.random.seed(0)").body)
    []
    """
    found: list[str] = []
    for stmt in body:
        calls = _calls_run_by(stmt)
        if not calls:
            continue
        call = stmt.value if isinstance(stmt, ast.Expr) else None
        if isinstance(call, ast.Call) and _call_name(call) in SEEDING:
            path = _target_path(call.func)
            if path is not None and not path[1]:
                found.append(path[0])
            continue
        if not all(_sets_up(call) for call in calls):
            break
    return found


def _runs_no_code(body: list[ast.stmt]) -> bool:
    """Whether a cell of statements ``body`` only imports and defines, calling nothing while
    it does (no call outside function bodies, no decorator anywhere).

    >>> _runs_no_code(ast.parse("import os\\ndef f():\\n    return g(k)").body)
    True
    >>> _runs_no_code(ast.parse("@cache\\ndef f():\\n    return k").body)
    False
    """
    if not all(isinstance(stmt, DEFINITIONS) for stmt in body):
        return False
    if any(_calls_run_by(stmt) for stmt in body):
        return False
    return not any(
        getattr(node, "decorator_list", None)
        for node in _walk(ast.Module(body=body, type_ignores=[]))
    )


def definition_parts(
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda,
) -> list[ast.expr]:
    """The parts of a ``def`` or ``lambda`` evaluated when it runs, not when it is called:
    default values, decorators and annotations (the one list every scan here uses).

    >>> node = ast.parse("@d\\ndef f(x: A, n=N, *, k=K) -> R: return M").body[0]
    >>> [ast.unparse(part) for part in definition_parts(node)]
    ['N', 'K', 'd', 'R', 'A']
    """
    args = node.args
    parts: list[ast.expr] = [*args.defaults, *(d for d in args.kw_defaults if d is not None)]
    if isinstance(node, ast.Lambda):
        return parts
    parts += node.decorator_list
    if node.returns is not None:
        parts.append(node.returns)
    parts += [arg.annotation for arg in _parameters(args) if arg.annotation is not None]
    return parts


def _parameters(args: ast.arguments) -> list[ast.arg]:
    """Every parameter of a signature, ``*args`` and ``**kwargs`` included."""
    every = (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg)
    return [arg for arg in every if arg is not None]


def _read_at_definition(definitions: list[ast.stmt]) -> set[str]:
    """The names that ``def`` and ``class`` statements read when they run: decorators,
    defaults, annotations, bases, and a class body (not a function's body, which runs when
    called).

    A name a class body binds itself counts too: without the statements' order, reading
    its own and reading the cell's cannot be told apart, and taking it as read errs toward
    running the cell.

    >>> tree = ast.parse("def f(x, n=N) -> T: return M\\nclass C(B):\\n  k = K\\n  j = k")
    >>> sorted(_read_at_definition(tree.body))
    ['B', 'K', 'N', 'T', 'k']
    """
    read: set[str] = set()
    pending: list[ast.AST] = list(definitions)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            pending += definition_parts(node)
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            read.add(node.id)
        pending.extend(ast.iter_child_nodes(node))
    return read


def _calls_run_by(stmt: ast.stmt) -> list[ast.Call]:
    """The calls a statement makes when it runs (not those in the bodies of functions and
    lambdas it defines; a class body runs, so its calls count)."""
    calls: list[ast.Call] = []
    pending: list[ast.AST] = [stmt]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Call):
            calls.append(node)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            pending.extend(definition_parts(node))  # the body runs when called, not now
            continue
        pending.extend(ast.iter_child_nodes(node))
    return calls


def _sets_up(call: ast.Call) -> bool:
    """Whether ``call`` is a settings call or a setup magic (:data:`_SETTINGS_CALLS`,
    :data:`_SETUP_MAGICS`), or the ``get_ipython()`` that a magic's call is made on."""
    name = _call_name(call)
    if name == "get_ipython" and not call.args:
        return True
    if name == "run_line_magic":
        first = call.args[0] if call.args else None
        return isinstance(first, ast.Constant) and first.value in _SETUP_MAGICS
    return name in _SETTINGS_CALLS


def seeding_paths(code: types.CodeType) -> list[str]:
    """The dotted callees named in :data:`SEEDING` that the bytecode ``code`` loads
    (``np.random.seed`` from ``LOAD_GLOBAL np``, ``LOAD_ATTR random``, ``LOAD_METHOD
    seed``): :attr:`CellCode.seedings` for a function's code (its nested code not
    included).

    >>> def setup():
    ...     np.random.seed(0)
    >>> seeding_paths(setup.__code__)
    ['np.random.seed']
    """
    found: dict[str, None] = {}
    chain: list[str] = []
    for instruction in (*dis.get_instructions(code), None):
        name = instruction.opname if instruction is not None else ""
        if name in ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF", "LOAD_FAST"):
            chain = [str(instruction.argval)]  # type: ignore[union-attr]
            continue
        if name in ("LOAD_ATTR", "LOAD_METHOD") and chain:
            chain.append(str(instruction.argval))  # type: ignore[union-attr]
            continue
        if len(chain) > 0 and chain[-1] in SEEDING:
            found.setdefault(".".join(chain), None)
        chain = []
    return list(found)


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


_HISTORIES = frozenset({"Out", "_oh", "In", "_ih", "_dh"})


def _imports_main(node: ast.AST) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.module == "__main__"
    return isinstance(node, ast.Import) and any(a.name == "__main__" for a in node.names)


def _reaches_main_module(node: ast.AST) -> bool:
    """Whether ``node`` looks a module up by a name that is, or may be, ``__main__``:
    ``sys.modules[k]`` / ``sys.modules.get(k)``, ``importlib.import_module(k)``,
    ``__import__(k)``, with ``k`` anything but a literal naming another module.

    >>> _reaches_main_module(ast.parse("sys.modules[__name__]").body[0].value)
    True
    >>> _reaches_main_module(ast.parse("sys.modules['numpy']").body[0].value)
    False
    """
    key: ast.AST | None = None
    if isinstance(node, ast.Subscript) and _is_sys_modules(node.value):
        key = node.slice
    elif isinstance(node, ast.Call) and node.args:
        func = node.func
        getter = (
            isinstance(func, ast.Attribute) and func.attr == "get" and _is_sys_modules(func.value)
        )
        if getter or _call_name(node) in _IMPORTERS:
            key = node.args[0]
    if key is None:
        return False
    return not (isinstance(key, ast.Constant) and key.value != "__main__")


_IMPORTERS = frozenset({"import_module", "__import__"})


def _is_sys_modules(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "modules"
        and isinstance(node.value, ast.Name)
        and node.value.id == "sys"
    )


_UNCERTAIN_KINDS = frozenset(
    {ast.Name, ast.Import, ast.ImportFrom, ast.Subscript, ast.Call, ast.Attribute}
)
# The shell's own dicts of the namespace (``get_ipython().user_ns[name]``).
_SHELL_NAMESPACES = frozenset({"user_ns", "user_global_ns"})


def _uncertainties(nodes: list[ast.AST]) -> list[str]:
    """Reasons the cell's reads or effects cannot be known from its code."""
    reasons: dict[str, None] = {}
    for node in _only(nodes, _UNCERTAIN_KINDS):
        if isinstance(node, ast.Attribute):
            if node.attr in _SHELL_NAMESPACES:
                reasons.setdefault(f"it reads or sets the namespace through {node.attr}", None)
            continue
        if isinstance(node, ast.Name) and node.id == "__main__":
            # ``import __main__`` then ``__main__.X``: the namespace itself, as globals().
            reasons.setdefault("it reads or sets the namespace through the __main__ module", None)
            continue
        if _imports_main(node):
            # ``import __main__ as m`` or ``from __main__ import x``: the same namespace.
            reasons.setdefault("it reads or sets the namespace through the __main__ module", None)
            continue
        if _reaches_main_module(node):
            # ``sys.modules['__main__'].X``, ``sys.modules[__name__]``,
            # ``importlib.import_module('__main__')``: the same namespace, by another path.
            reasons.setdefault("it reads or sets the namespace through the __main__ module", None)
            continue
        if isinstance(node, ast.Name) and node.id in _HISTORIES and isinstance(node.ctx, ast.Load):
            # ``Out[7]``, ``In[3]``: every value or input of the session so far, which other
            # cells' runs change (a single ``_7`` or ``_`` is keyed on its value instead).
            reasons.setdefault(f"it reads IPython's history ({node.id})", None)
            continue
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        literal = bool(node.args) and isinstance(node.args[0], ast.Constant)
        if name in ("eval", "exec") and isinstance(node.func, ast.Name) and not literal:
            reasons.setdefault(f"it calls {name}() on a computed string", None)
        elif name in _NAMESPACE_CALLS and isinstance(node.func, ast.Name) and not node.args:
            reasons.setdefault(f"it reads the whole namespace through {name}()", None)
        elif name == "id" and isinstance(node.func, ast.Name) and node.args:
            # ``by_id = {id(n): n for n in nodes}``: the addresses of this kernel's objects,
            # which a restore cannot give the objects it makes (a later ``by_id[id(n)]``
            # would find nothing).
            reasons.setdefault(
                "it calls id(), whose values are the addresses of the kernel's objects, "
                "which a restore cannot give the objects it makes",
                None,
            )
        elif isinstance(node.func, ast.Attribute) and _is_shell_call(node.func):
            if name in ("system", "getoutput"):
                reasons.setdefault("it runs shell commands (!cmd)", None)
            elif name == "run_line_magic":
                magic = node.args[0].value if literal else "?"  # type: ignore[attr-defined]
                if magic in _NAMESPACE_MAGICS:
                    reasons.setdefault(f"it reads the whole namespace through %{magic}", None)
                elif magic not in _SAFE_MAGICS:
                    reasons.setdefault(f"it runs the magic %{magic}", None)
            elif name == "run_cell_magic":
                magic = node.args[0].value if literal else "?"  # type: ignore[attr-defined]
                reasons.setdefault(f"it runs the cell magic %%{magic}", None)
    return list(reasons)


#: Readers that open their file from C (pyarrow, HDF5, netCDF, image codecs): no audit event
#: shows the read, so only a path the key can see (a literal, or an input holding it) is
#: known to be read.
_C_READERS = frozenset(
    {
        "read_parquet",
        "read_orc",
        "read_hdf",
        "read_spss",
        "read_table",
        "ParquetFile",
        "ParquetDataset",
        "open_dataset",
        "open_mfdataset",
        "imread",
    }
)
_PATH_KEYWORDS = frozenset({"path", "source", "filepath_or_buffer", "filename", "io", "uri"})


def _unseen_reads(nodes: list[ast.AST], assigned: set[str]) -> list[str]:
    """Reasons: a C reader is given a path computed in the cell (the key cannot digest it)."""
    reasons: dict[str, None] = {}
    for node in _only(nodes, _CALLS):
        if not isinstance(node, ast.Call) or _call_name(node) not in _C_READERS:
            continue
        paths = node.args[:1] or [k.value for k in node.keywords if k.arg in _PATH_KEYWORDS]
        for path in paths:
            if isinstance(path, ast.Constant) or (
                isinstance(path, ast.Name) and path.id not in assigned
            ):
                continue  # a literal, or an input: its file is digested with the key
            reasons.setdefault(
                f"it reads a file from C through {_call_name(node)}() with a path made in the "
                "cell (name the files with --deps to cache it)",
                None,
            )
    return list(reasons)


def _is_shell_call(func: ast.Attribute) -> bool:
    target = func.value
    return (
        isinstance(target, ast.Call)
        and isinstance(target.func, ast.Name)
        and target.func.id == "get_ipython"
    )


# What CPython's compiler warns about (compile.c: check_compare, check_caller,
# check_subscripter, the assert of a tuple), as a superset: any operand of ``is`` that is not
# a plain name or lookup, any call or subscript of a display or literal. And the tokenizer's
# invalid escape sequences (a SyntaxWarning since 3.12), by text: a backslash before a
# character no escape starts with.
_LITERALS = (
    ast.Constant,
    ast.Tuple,
    ast.List,
    ast.Set,
    ast.Dict,
    ast.JoinedStr,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
    ast.UnaryOp,
    ast.BinOp,
)
_INVALID_ESCAPE = re.compile(r"\\[^\n\\'\"abfnrtv0-7xNuU]")


_WARNING_KINDS = frozenset({ast.Compare, ast.Call, ast.Subscript, ast.Assert})


def _compile_may_warn(source: str, nodes: list[ast.AST]) -> bool:
    """Whether compiling ``source`` may show a warning (:attr:`CellCode.compile_warns`).

    >>> _compile_may_warn("x is 1", list(ast.walk(ast.parse("x is 1"))))
    True
    >>> code = "x is None or f(y)[0]"
    >>> _compile_may_warn(code, list(ast.walk(ast.parse(code))))
    False
    """
    if "\\" in source and _INVALID_ESCAPE.search(source):
        return True
    for node in _only(nodes, _WARNING_KINDS):
        if isinstance(node, ast.Compare):
            if any(isinstance(op, (ast.Is, ast.IsNot)) for op in node.ops) and any(
                isinstance(side, _LITERALS) and not _singleton(side)
                for side in (node.left, *node.comparators)
            ):
                return True
        elif isinstance(node, ast.Call):
            if isinstance(node.func, _LITERALS):
                return True
        elif isinstance(node, ast.Subscript):
            if isinstance(node.value, _LITERALS):
                return True
        elif isinstance(node, ast.Assert) and isinstance(node.test, ast.Tuple) and node.test.elts:
            return True
    return False


def _singleton(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and (
        node.value is None or node.value is True or node.value is False or node.value is ...
    )


# The tree :func:`analyze_cell` parsed last, with its text: the run of that cell compiles it
# instead of parsing the text again (a tenth of what a cold 12-line cell adds). Handed out
# once (:func:`take_tree`): what the run does to it is not seen by a later run.
_PARSED: list[tuple[str, ast.Module] | None] = [None]


def take_tree(source: str) -> ast.Module | None:
    """The tree :func:`analyze_cell` has just parsed from ``source``, once; else ``None``.

    Only a parse that cannot have warned is handed out (the run's own parse shows what a
    plain cell's shows, :attr:`CellCode.compile_warns`).

    >>> code = analyze_cell("x = 41 + 1  # take_tree")
    >>> isinstance(take_tree("x = 41 + 1  # take_tree"), ast.Module)
    True
    >>> take_tree("x = 41 + 1  # take_tree") is None  # handed out already
    True
    """
    parsed, _PARSED[0] = _PARSED[0], None
    return parsed[1] if parsed is not None and parsed[0] == source else None


@functools.lru_cache(maxsize=512)
def analyze_cell(source: str) -> CellCode:
    """Analyse transformed cell source (cached by text: re-running a cell costs a dict lookup).

    Raises
    ------
    SyntaxError
        ``source`` is not valid Python; the caller runs the cell so the user sees the error.

    Examples
    --------
    >>> code = analyze_cell("y = x + 1\\nz = y * 2\\ndef f():\\n    return w")
    >>> code.reads, sorted(code.assigns), sorted(code.definitions)
    (('x', 'w'), ['f', 'y', 'z'], ['f'])
    """
    tree = ast.parse(source)
    walk = _Walk()
    definite: set[str] = set()
    _walk_statements(tree.body, walk, definite, top=True)
    # Function bodies read when called: after the cell's top-level bindings, which may not
    # all have run (a ``def`` reading a name bound in an ``if``). A cell that only defines
    # and calls nothing (no call, no decorator) runs none of them: what they read is not
    # its input (a cell calling them later has it in its key), and fingerprinting it cost
    # ~1 s for a ``def`` reading five matplotlib artists (each pickles its figure).
    if not (walk.deferred and _runs_no_code(tree.body)):
        for name in sorted(walk.deferred):
            walk.load(name, definite)
    assigned, reads = walk.assigned, walk.reads
    definitions: set[str] = set()
    definition_nodes: list[ast.stmt] = []
    modules: dict[str, None] = {}
    for stmt in tree.body:
        if not isinstance(stmt, DEFINITIONS):
            continue
        definition_nodes.append(stmt)
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                if alias.name != "*":
                    definitions.add(alias.asname or alias.name.partition(".")[0])
            roots = (
                [a.name for a in stmt.names]
                if isinstance(stmt, ast.Import)
                else ([stmt.module] if stmt.module and not stmt.level else [])
            )
            for root in roots:
                modules.setdefault(root.partition(".")[0], None)
        else:
            definitions.add(stmt.name)
    # Keep the nodes (and so their line numbers): functions re-created on a hit report the
    # cell's own lines in tracebacks and ``inspect.getsource``.
    definition_module = (
        ast.Module(body=definition_nodes, type_ignores=[]) if definition_nodes else None
    )
    nodes, starts, digest = _walk_digest(tree)  # walked once: the digest, the scans below
    seedings = _seedings(nodes)
    compile_warns = _compile_may_warn(source, nodes)
    _PARSED[0] = None if compile_warns else (source, tree)
    targets = _targets(nodes)
    uncertain = _uncertainties(nodes)
    if definition_nodes:
        # A hit re-makes the definitions before it puts the cell's values back: one reading
        # a value the cell sets (``N = 10`` then ``def f(n=N)``, ``class C: size = SCALE``)
        # would read the one an earlier cell left.
        sets = (assigned - definitions) | {path.partition(".")[0] for path, _ in targets}
        early = sorted(_read_at_definition(definition_nodes) & sets)
        if early:
            uncertain.append(
                f"its definitions read {', '.join(early)}, which it sets: re-made by a hit "
                "before its values are put back, they would read the earlier ones"
            )
    return CellCode(
        source=source,
        digest=digest,
        reads=tuple(reads),
        assigns=frozenset(assigned),
        definitions=frozenset(definitions),
        definition_module=definition_module,
        imported_modules=tuple(modules),
        mentioned=tuple(_mentioned(nodes, starts, walk.before, reads, assigned)),
        uncertain=tuple(uncertain),
        unseen_reads=tuple(_unseen_reads(nodes, assigned)),
        maybe_reads=tuple(walk.maybe),
        literals=tuple(_path_like(nodes)),
        only_definitions=bool(tree.body) and len(definition_nodes) == len(tree.body),
        targets=tuple(targets),
        registrations=tuple(_registrations(tree, nodes)),
        iterated_sets=iterated_sets(nodes),
        seedings=tuple(seedings),
        # Those made first are among them: most cells seed nothing, and are not walked again.
        seeds_first=tuple(_seeds_first(tree.body)) if seedings else (),
        settings=tuple(facets_set_by(_setting_names(nodes))),
        compile_warns=compile_warns,
    )

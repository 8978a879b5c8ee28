"""The cell key: code + input fingerprints + user code reached + ``--deps`` files + packages.

The key is the digest of a flat mapping of *components*, each ``"kind:name" -> digest``:

==================  ===========================================================================
``code``            digest of the normalized cell (comments and formatting ignored)
``input:NAME``      fingerprint of the value of a name the cell reads before assigning it
``string:NAME``     the same for a name written inside a string literal (``query``, ``eval``)
``function:NAME``   code digest of a user function or class the cell names, or reaches through
                    one (transitively: edit a helper three cells up and the cell re-runs)
``global:NAME``     a data global read by a user function the cell reaches
``module:NAME``     a module the cell names: the library's name, or a user module's source
``file:PATH``       content digest of a ``--deps`` file (a size+mtime check skips re-hashing)
``package:NAME``    with ``--env``: the installed version of an imported package
``python``          with ``--env``: the Python version
``hashseed``        for a cell walking a set of strings: this kernel's string hash seed
                    (the set's order), see ``_setorder``
``setorder:NAME``   for a set the cell walks by name: the order it iterates in (its
                    ``input:`` fingerprint does not depend on it), see ``_setorder``
==================  ===========================================================================

The components are stored in the entry's manifest so that ``%persist why`` can say exactly
which one differs.
"""

from __future__ import annotations

import ast
import builtins
import functools
import glob
import importlib.util
import json
import logging
import os
import platform
import re
import sys
import time
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISREG
from typing import Any

import xxhash

from ..._cwd import absolute, realpath
from ..._errors import CellCacheError
from ...storage._arrays import array_root
from ...storage._fingerprint import (
    IMMUTABLE_ATOMS,
    builtin_iter,
    dead_proxy,
    fingerprint,
    fingerprint_code,
    is_user_code,
    same_objects,
)
from ...storage._usercode import (
    code_names,
    global_names,
    installed_version,
    is_user_file,
    module_version,
    referenced_user_code,
    string_names,
    type_module,
    wrapped_function,
)
from .._bounded import interrupt_at
from .._covars import bound_data
from ._analysis import CellCode
from ._setorder import hash_seed_component, order_components
from ._state import dict_version_once

__all__ = [
    "CellKey",
    "FileDigests",
    "build_key",
    "file_components",
    "fingerprint_after",
    "imported_user_files",
]

_CHUNK = 1 << 20

# The shell's history of values and inputs: ``_`` (``__``, ``___``) is the last value shown,
# ``_7`` the value ``Out[7]`` showed, ``_i``/``_i7`` an input's text. IPython lists them as
# its own names (``user_ns_hidden``), but a cell reading one reads data an upstream cell
# made: ``u = _ + 1`` after an edited ``V * 3`` was restored with the old sum.
_HISTORY_VALUE = re.compile(r"_{1,3}|_\d+|_i{1,3}|_i\d+")


def _shell_owned(name: str, value: Any, hidden: Mapping[str, Any]) -> bool:
    """Whether ``name`` is one of the shell's own names (``In``, ``get_ipython``...), still
    bound to what the shell put there: not an input. History values are inputs."""
    return name in hidden and hidden[name] is value and not _HISTORY_VALUE.fullmatch(name)


@dataclass
class CellKey:
    """The key of one run of a cell, and the inputs that could not be part of it.

    Attributes
    ----------
    digest
        The key (32 hex characters); equal digests mean "same code, same inputs".
    components
        ``"kind:name" -> digest`` (see the module docstring).
    reaches
        For each ``function:NAME`` component, the other user functions it reaches, so an
        explanation can point at the helper that really changed.
    fingerprints
        Input name -> fingerprint before the run (compared after the run to find mutations).
    unhashable
        Input name -> reason, for inputs that could not be fingerprinted. A key with
        unhashable inputs is incomplete: the cell must run and must not be stored.
    named_files
        Existing files the cell names (literals, ``str``/``Path`` inputs) -> content digest
        before it ran; those it does not write become ``read:`` checks of its entry.
    """

    digest: str
    components: dict[str, str]
    reaches: dict[str, list[str]] = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)
    unhashable: dict[str, str] = field(default_factory=dict)
    named_files: dict[str, str] = field(default_factory=dict)
    #: Why the globals the user code the cell reaches reads cannot be known (a notebook
    #: function reading ``globals()[name]``): the cell must run, and says so.
    uncertain: list[str] = field(default_factory=list)
    #: Paths the cell names (literals, ``str`` inputs) that did not exist: a cell that looks
    #: for one (``os.path.exists``: no ``open``) would find it once it is made upstream.
    named_absent: list[str] = field(default_factory=list)
    #: The cell's maybe reads (``CellCode.maybe_reads``) -> :func:`held_digest` of their
    #: values before the run. Not in the digest: they are inputs only when the run leaves
    #: them unbound, which is known after it (the entry's ``kept:`` checks).
    conditional: dict[str, str] = field(default_factory=dict)


def _describe(value: Any) -> str:
    cls = type(value)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


def _function_parts(fn: Any) -> list[Any]:
    """Functions whose code a user function or class runs (methods for a class)."""
    if isinstance(fn, types.MethodType):
        fn = fn.__func__
    if isinstance(fn, types.FunctionType):
        return [fn]
    if isinstance(fn, type):
        parts = []
        for attr in vars(fn).values():
            target = attr.__func__ if isinstance(attr, (staticmethod, classmethod)) else attr
            if isinstance(target, property):
                parts += [p for p in (target.fget, target.fset, target.fdel) if p is not None]
            elif isinstance(target, functools.cached_property):
                parts.append(target.func)
            elif isinstance(target, types.FunctionType):
                parts.append(target)
        return parts
    return []


class FileDigests:
    """Content digests of ``--deps`` files, re-hashed only when size or mtime changed.

    ``cache`` maps an absolute path to ``[size, mtime_ns, digest]``; the cell cache keeps one
    in the store so the shortcut also holds after a kernel restart.
    """

    def __init__(self, cache: dict[str, list[Any]] | None = None) -> None:
        self.cache: dict[str, list[Any]] = dict(cache or {})
        self.changed = False

    def digest(self, path: Path) -> str:
        """Digest of one file (``"missing"`` when it does not exist)."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            return "missing"
        if not S_ISREG(stat.st_mode):
            # A device, FIFO or socket never ends (--deps /dev/zero hung forever): refuse it.
            raise CellCacheError(
                f"--deps {path} is not a regular file (a device, pipe or socket cannot be "
                "fingerprinted); list the data files the cell reads instead"
            )
        key = str(path)
        known = self.cache.get(key)
        if known and known[0] == stat.st_size and known[1] == stat.st_mtime_ns:
            return str(known[2])
        h = xxhash.xxh3_128()
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                h.update(chunk)
        digest = h.hexdigest()
        self.cache[key] = [stat.st_size, stat.st_mtime_ns, digest]
        self.changed = True
        return digest


def file_components(patterns: Iterable[str], digests: FileDigests) -> dict[str, str]:
    """``file:PATH`` components for ``--deps`` patterns (globs and directories expanded).

    A pattern matching nothing is recorded as ``missing``, so creating the file later
    invalidates the cell.
    """
    found: dict[str, str] = {}
    for pattern in patterns:
        path = Path(pattern).expanduser()
        matches = sorted(glob.glob(str(path), recursive=True)) if glob.has_magic(pattern) else []
        targets = [Path(m) for m in matches] if matches else [path]
        for target in targets:
            if target.is_dir():
                files = sorted(p for p in target.rglob("*") if p.is_file())
                for file in files:
                    found[f"file:{realpath(file)}"] = digests.digest(Path(realpath(file)))
                if not files:
                    found[f"file:{realpath(target)}/"] = "empty directory"
            else:
                found[f"file:{realpath(target)}"] = digests.digest(Path(realpath(target)))
    return found


def _package_components(modules: Iterable[str]) -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in sorted(set(modules)):
        module = sys.modules.get(name)
        if name in sys.stdlib_module_names:
            continue
        if module is None:
            # The cell is the first to import it: its installed version, read without
            # importing it (a local module is no installed distribution, and is skipped).
            version = installed_version(name)
            if version is not None:
                found[f"package:{name}"] = version
            continue
        if not is_user_code(module):
            found[f"package:{name}"] = module_version(module)
    return found


# Builtins through which code reads globals by a name it computes: ``globals()[name]``, and
# ``eval``/``exec`` of a string (they run in the caller's globals).
_NAMESPACE_BUILTINS = {name: getattr(builtins, name) for name in ("globals", "eval", "exec")}


class _NamespaceRead(Exception):
    """Notebook code reads globals by names it computes: which ones cannot be known."""


def _user_functions(value: Any, reached: Mapping[str, Any]) -> list[types.FunctionType]:
    return [*_function_parts(value), *(p for t in reached.values() for p in _function_parts(t))]


def _globals_read(value: Any, reached: Mapping[str, Any]) -> dict[str, Any]:
    """The globals that ``value`` (a user function or class) and the user code it
    ``reached`` read, by name: what they hold now.

    Raises :class:`_NamespaceRead` when a notebook function among them reads the notebook's
    globals by computed names (``globals()[name]``, ``eval(text)``, the ``__main__``
    module): the globals it reads are then not in the key, and a hit would restore what a
    changed variable would have changed. The cell analysis says the same of the cell's own
    code (``_analysis._uncertainties``). A local module's functions may: every variable of
    such a module is an input already."""
    found: dict[str, Any] = {}
    for fn in _user_functions(value, reached):
        in_notebook = fn.__globals__.get("__name__") == "__main__"
        if in_notebook:
            used = code_names(fn.__code__)
            how = next((f"the {s}" for s in ("__main__", "user_ns") if s in used), None)
            if how is not None:  # ``import __main__`` in its body; ``get_ipython().user_ns``
                raise _NamespaceRead(
                    f"{fn.__qualname__} reads notebook variables by names it computes, "
                    f"through {how}"
                )
            # ``d.query("a > @thresh")`` in its body reads ``thresh``, as in a cell
            # (``string:`` components there): a global of that name holding data.
            for name in string_names(fn.__code__, fn.__doc__):
                target = fn.__globals__.get(name, _ABSENT)
                if target is not _ABSENT and not _is_code(target):
                    found.setdefault(name, target)
        for name in global_names(fn.__code__):
            target = fn.__globals__.get(name, _ABSENT)
            if target is not _ABSENT:
                found.setdefault(name, target)
            if not in_notebook:
                continue
            if target is _ABSENT:
                target = getattr(builtins, name, None)
            if name in _NAMESPACE_BUILTINS and target is _NAMESPACE_BUILTINS[name]:
                how = f"{name}()"
            elif isinstance(target, types.ModuleType) and vars(target) is fn.__globals__:
                how = f"the module {target.__name__}"
            elif target is sys and "modules" in fn.__code__.co_names:
                how = "sys.modules"  # ``sys.modules['__main__'].x``, ``sys.modules[__name__]``
            else:
                continue
            raise _NamespaceRead(
                f"{fn.__qualname__} reads notebook variables by names it computes, through {how}"
            )
    return found


def _add_all(data_globals: dict[str, Any], read: Mapping[str, Any]) -> None:
    """Add the globals ``read`` to ``data_globals``; the first binding of a name stays."""
    for name, target in read.items():
        data_globals.setdefault(name, target)


def _add_held_code(
    name: str,
    held: Mapping[int, Any],
    data_globals: dict[str, Any],
    user_modules: dict[str, types.ModuleType],
    uncertain: dict[str, None],
    unhashable: dict[str, str],
) -> None:
    """The globals read by user functions and classes held in the value of ``name`` (a
    function in a dict, a ``functools.partial``, a callback attribute, the class of an
    instance in a list): ``ops['f'](10)`` reads ``K`` through ``scale`` as ``scale(10)``
    does, and an upstream edit of ``K`` must make the cell run."""
    for value in held.values():
        try:
            reached = referenced_user_code(value)
            read = _globals_read(value, reached)
        except _NamespaceRead as exc:
            uncertain.setdefault(f"{exc} (held in {name})", None)
            return
        except Exception as exc:  # a broken __reduce__ or descriptor in user code
            unhashable[name] = f"{_describe(value)} held in {name}: {exc}"
            return
        for target in reached.values():
            if isinstance(target, types.ModuleType):
                user_modules[target.__name__] = target
        _add_all(data_globals, read)


def _add_user_code(
    name: str,
    value: Any,
    components: dict[str, str],
    reaches: dict[str, list[str]],
    data_globals: dict[str, Any],
    user_modules: dict[str, types.ModuleType],
    unhashable: dict[str, str] | None = None,
    uncertain: dict[str, None] | None = None,
) -> None:
    """The code digests of ``value`` (a notebook function or class) and of the user code it
    reaches, and the data globals they read.

    A code digest covers default values and closure cells: a default that is a generator
    (pytudes' ``def simulate(N, events=ONBG)``) cannot be fingerprinted. With ``unhashable``
    that is noted there, and the cell runs, saying why, instead of failing; with
    ``uncertain``, so is user code reading globals by computed names (:class:`_NamespaceRead`).
    """
    try:
        label = f"function:{name}"
        components[label] = fingerprint_code(value)
        reached = referenced_user_code(value)
        read = _globals_read(value, reached)
        reaches[label] = []
        for ref, target in reached.items():
            ref_name = ref.rpartition(":")[2] or ref
            if isinstance(target, types.ModuleType):
                components.setdefault(f"module:{ref_name}", fingerprint_code(target))
                user_modules[target.__name__] = target
                continue
            reaches[label].append(ref_name)
            if f"function:{ref_name}" not in components:
                components[f"function:{ref_name}"] = fingerprint_code(target)
        # Data globals read by the user code (``THRESHOLD`` in a helper) are inputs as well.
        _add_all(data_globals, read)
    except RecursionError:
        if unhashable is None:
            raise
        unhashable[name] = f"{_describe(value)}: it is nested too deeply to fingerprint"
    except _NamespaceRead as exc:
        if uncertain is None:
            raise
        uncertain.setdefault(str(exc), None)
    except Exception as exc:  # FingerprintError, or a broken __reduce__ in user code
        if unhashable is None:
            raise
        unhashable[name] = f"{_describe(value)} {name}: {exc}"


def build_key(
    code: CellCode,
    namespace: Mapping[str, Any],
    *,
    hidden: Mapping[str, Any] | None = None,
    ignore: Iterable[str] = (),
    files: Mapping[str, str] | None = None,
    env: bool = False,
    digests: FileDigests | None = None,
) -> CellKey:
    """Build the key of ``code`` run against ``namespace``.

    Parameters
    ----------
    code
        The analysed cell (:func:`~persist_ext.features._cellcache._analysis.analyze_cell`).
    namespace
        The user namespace the cell will run in.
    hidden
        Names the shell itself puts in the namespace (``In``, ``get_ipython``...), skipped
        when they still hold the shell's object.
    ignore
        Names to leave out of the key (``--ignore``).
    files
        ``file:PATH`` components already computed (``--deps``).
    env
        Add the Python version and the versions of the packages involved (``--env``).
    digests
        With it, string literals of the cell and ``str`` / ``Path`` inputs that name
        existing files are digested (``CellKey.named_files``).

    Examples
    --------
    >>> from persist_ext.features._cellcache._analysis import analyze_cell
    >>> code = analyze_cell("y = x * 2")
    >>> build_key(code, {"x": 1}).digest == build_key(code, {"x": 1}).digest
    True
    >>> build_key(code, {"x": 1}).digest == build_key(code, {"x": 2}).digest
    False
    """
    hidden = hidden or {}
    ignored = set(ignore)
    components: dict[str, str] = {"code": code.digest}
    reaches: dict[str, list[str]] = {}
    fingerprints: dict[str, str] = {}
    unhashable: dict[str, str] = {}
    uncertain: dict[str, None] = {}
    data_globals: dict[str, Any] = {}
    named_files: dict[str, str] = {}
    named_absent: list[str] = []
    modules: dict[str, None] = dict.fromkeys(code.imported_modules)
    user_modules: dict[str, types.ModuleType] = {}
    mentioned = set(code.mentioned)
    walked: dict[str, set[int]] = {}  # input -> ids of the containers its fingerprint met

    def add_code(name: str, value: Any) -> None:
        _add_user_code(
            name, value, components, reaches, data_globals, user_modules, unhashable, uncertain
        )

    # ``logging.info(...)`` logs through the root logger (also imported by the cell): what it
    # shows, or not, is the configuration an upstream ``basicConfig(level=...)`` set.
    logs = "logging" in code.imported_modules
    for name in (*code.reads, *code.mentioned):
        if name in ignored:
            continue
        if name not in namespace:
            added = _added_builtin(name)
            if added is not _ABSENT:
                # ``builtins.SCALE = 3`` in an earlier cell, ``SCALE`` read here.
                label = f"builtins.{name}"
                _add_input(label, added, components, {}, unhashable, modules, label="global")
            continue
        value = namespace[name]
        if _shell_owned(name, value, hidden):
            continue
        if name in mentioned and isinstance(value, types.ModuleType):
            continue  # a module's name in a string ("np.float64") is not a use of it
        if _logs_by_module(value):
            logs = True
        if isinstance(value, types.ModuleType):
            modules.setdefault(value.__name__.partition(".")[0], None)
            if is_user_code(value):
                components[f"module:{name}"] = fingerprint_code(value)
                user_modules[value.__name__] = value
            else:
                components[f"module:{name}"] = value.__name__
            continue
        # A notebook function or class (a function under a C decorator such as
        # functools.cache counts as the function): its code and the globals it reads.
        code_value: Any = wrapped_function(value)
        if code_value is None and isinstance(value, (types.FunctionType, type, types.MethodType)):
            code_value = getattr(value, "__func__", value)
        if code_value is not None and is_user_code(code_value):
            add_code(name, code_value)
            if bound_data(value) is None:
                continue
            # ``total = acc.total``: the method's code above, and the data it is bound to
            # below (an input like any other, whose change in place the run notes).
        if isinstance(value, _SUSPENDED):
            # ``next(g)``: a generator cannot be pickled or fingerprinted, and what the cell
            # takes from it moves it on, which no restore can do (``--ignore g`` would
            # restore a value taken from it while leaving it where it was).
            uncertain.setdefault(
                f"it reads {name}, a {type(value).__name__}, whose position a restore "
                "cannot move on",
                None,
            )
            continue
        _add_input(
            name,
            value,
            components,
            fingerprints,
            unhashable,
            modules,
            label="string" if name in mentioned else "input",
            reads=(data_globals, user_modules, uncertain),
            walked=walked,
        )
        cls = type(value)
        if is_user_code(cls) and f"function:{cls.__name__}" not in components:
            # Methods of a notebook class read globals too (``p.area()`` reading SCALE).
            add_code(cls.__name__, cls)
    seen_globals: set[str] = set()
    while pending := sorted(set(data_globals) - seen_globals):
        # A global holding functions (a dict of callbacks) adds the globals those read.
        for name in pending:
            seen_globals.add(name)
            value = data_globals[name]
            if name in ignored or _shell_owned(name, value, hidden):
                continue
            if f"input:{name}" in components:
                continue
            logs = logs or _logs_by_module(value)  # ``logging.warning(...)`` in a function
            if isinstance(value, (types.ModuleType, types.FunctionType, type)):
                continue  # code is covered by the code digests above
            if namespace.get(name, _ABSENT) is not value:
                continue  # a global of another module: part of that module's code
            _add_input(
                name,
                value,
                components,
                fingerprints,
                unhashable,
                modules,
                label="global",
                reads=(data_globals, user_modules, uncertain),
                walked=walked,
            )
    if logs:
        components["logging:configuration"] = fingerprint(logging_stand_in())
    if code.definition_module is not None:
        # ``import helpers`` of a module already imported gives it as earlier cells left it.
        for imported in _import_names(code.definition_module):
            loaded = sys.modules.get(imported)
            if loaded is not None and imported not in _LIBRARY_MODULES and is_user_code(loaded):
                user_modules[imported] = loaded
    for module_name, module in sorted(user_modules.items()):
        # Its source is in the key; what cells or its own functions changed in its variables
        # since (``helpers.REGISTRY.append(x)``) is not, and a hit imports it fresh.
        for attr, value in list(vars(module).items()):
            if attr.startswith("__") or _is_code(value) or f"{module_name}.{attr}" in ignored:
                continue
            _add_input(
                f"{module_name}.{attr}",
                value,
                components,
                {},
                unhashable,
                modules,
                label="global",
            )
    if digests is not None and code.definition_module is not None:
        # ``from helpers import f`` / ``import helpers`` in the cell: the local module's
        # source is an input of what the cell computes with it (a hit imports it again, but
        # its values were computed with the module as it was).
        for source in imported_user_files(code.definition_module):
            components.setdefault(f"file:{source}", digests.digest(Path(source)))
    if digests is not None:
        candidates = list(code.literals)
        for name in code.reads:
            value = namespace.get(name)
            if isinstance(value, (str, Path)) and name not in ignored:
                candidates.append(str(value))
        found, named_absent = _named_paths(candidates)
        for path in found:
            named_files[str(path)] = digests.digest(path)
    if files:
        components.update(files)
    if env:
        components.update(_package_components(modules))
    if code.iterated_sets:
        seed = hash_seed_component(code.iterated_sets, namespace)
        if seed is not None:
            components["hashseed"] = seed
        components.update(order_components(code.iterated_sets, namespace))
    aliases = input_sharing({n: namespace[n] for n in fingerprints if n in namespace}, walked)
    if aliases:  # only then: every other cell's key stays as it was
        components["aliases"] = aliases
    conditional = {
        name: held_digest(namespace, name)
        for name in code.maybe_reads
        if name not in ignored and not _shell_owned(name, namespace.get(name, _ABSENT), hidden)
    }
    blob = _SORTED_JSON.encode(components).encode()
    return CellKey(
        digest=xxhash.xxh3_128_hexdigest(blob),
        components=components,
        reaches=reaches,
        fingerprints=fingerprints,
        unhashable=unhashable,
        uncertain=list(uncertain),
        named_files=named_files,
        named_absent=named_absent,
        conditional=conditional,
    )


def input_sharing(inputs: Mapping[str, Any], walked: Mapping[str, set[int]]) -> str:
    """What the inputs share, which their fingerprints (each of its own value) do not show:
    which are one object (``a=b``), which is held inside another (``row<grid``, from the
    containers ``walked`` met), which arrays may share memory (``a~b``). Empty: nothing.

    ``a = b = []`` and ``a, b = [], []``, ``row = grid[0]`` and ``row = list(grid[0])``,
    ``b = a[::2]`` and ``b = a[::2].copy()`` key alike value by value, yet a cell changing
    one of each pair in place shows the change in the other in the first case only.

    >>> grid = [[0], [0]]
    >>> input_sharing({"grid": grid, "row": grid[0], "n": 1}, {"grid": {id(grid), id(grid[0])}})
    'row<grid'
    >>> input_sharing({"a": grid, "b": grid}, {})
    'a=b'
    >>> import numpy as np
    >>> a = np.arange(6)
    >>> d = {"v": a[::2]}
    >>> walked = {"d": set()}
    >>> _ = fingerprint(d, entered=walked["d"])
    >>> input_sharing({"a": a, "d": d}, walked)
    'a<d'
    """
    parts = [same_objects(inputs)] if len(inputs) > 1 else []
    np = sys.modules.get("numpy")
    for inner, value in sorted(inputs.items()):
        if isinstance(value, (*IMMUTABLE_ATOMS, tuple, frozenset)):
            continue  # its identity shows in nothing a change can reach
        # An array is met inside another input by its memory (``d = {'v': a[::2]}``).
        key = id(array_root(value) if np is not None and type(value) is np.ndarray else value)
        parts += [
            f"{inner}<{outer}"
            for outer, held in sorted(walked.items())
            if outer != inner and inputs.get(outer) is not value and key in held
        ]
    if np is not None:
        arrays = sorted(n for n, v in inputs.items() if type(v) is np.ndarray)
        parts += [
            f"{a}~{b}"
            for i, a in enumerate(arrays)
            for b in arrays[i + 1 :]
            if inputs[a] is not inputs[b] and np.may_share_memory(inputs[a], inputs[b])
        ]
    return ";".join(part for part in parts if part)


HELD_ABSENT = "absent"
HELD_UNKNOWN = "unknown"


def held_digest(namespace: Mapping[str, Any], name: str) -> str:
    """What ``name`` holds, for a ``kept:`` check: :data:`HELD_ABSENT` when unbound, a
    module by its name (``import x`` in a branch binds the very module again), anything
    else by its fingerprint; :data:`HELD_UNKNOWN` (which no check matches) when it cannot
    be fingerprinted."""
    value = namespace.get(name, _ABSENT)
    if value is _ABSENT:
        return HELD_ABSENT
    if isinstance(value, types.ModuleType):
        return f"module {value.__name__}"
    return fingerprint_after(value) or HELD_UNKNOWN


_ABSENT = object()
# json.dumps(..., sort_keys=True) without building an encoder per key (the same text).
_SORTED_JSON = json.JSONEncoder(sort_keys=True)


_LIBRARY_MODULES: set[str] = set()  # names found outside user code: never looked up again


def imported_user_files(module: Any) -> list[str]:
    """Source files of the local (user) modules a cell's import statements name.

    Looked up as an import would find them now: before a cell that puts their folder on
    ``sys.path`` itself has run, they are not found (the cell cache asks again after it ran).
    """
    found = []
    for name in _import_names(module):
        if name in _LIBRARY_MODULES:
            continue
        loaded = sys.modules.get(name)
        file = getattr(loaded, "__file__", None) if loaded is not None else None
        if loaded is None and "." not in name:  # not imported yet: found as an import would
            try:
                spec = importlib.util.find_spec(name)
            except (ImportError, ValueError):
                spec = None
            file = getattr(spec, "origin", None)
        if not isinstance(file, str) or not file.endswith(".py") or not is_user_file(file):
            if loaded is not None or file is not None:
                _LIBRARY_MODULES.add(name)
            continue
        found.append(realpath(file))
    return found


def _import_names(module: Any) -> list[str]:
    """The module names the import statements of ``module`` (an ``ast.Module``) name."""
    names = []
    for stmt in module.body:
        if isinstance(stmt, ast.Import):
            names += [alias.name for alias in stmt.names]
        elif isinstance(stmt, ast.ImportFrom) and stmt.module and not stmt.level:
            names.append(stmt.module)
    return names


def _is_code(value: Any) -> bool:
    """Modules, functions and classes: covered by code digests, never fingerprinted as data."""
    return isinstance(
        value, (types.ModuleType, types.FunctionType, type, types.BuiltinFunctionType)
    ) or (wrapped_function(value) is not None)


def _named_paths(texts: Iterable[str]) -> tuple[list[Path], list[str]]:
    """The texts that name existing regular files (resolved), each once; and those that
    look like paths (a ``/`` or a file extension) and name nothing (absolute)."""
    found: dict[Path, None] = {}
    absent: dict[str, None] = {}
    for text in texts:
        if not text or len(text) > 1024 or "\n" in text or "\0" in text:
            continue
        try:
            path = Path(text).expanduser()
            if path.is_file():
                found.setdefault(Path(realpath(path)), None)
            elif _PATH_LIKE.fullmatch(text) and "://" not in text and not os.path.lexists(path):
                absent.setdefault(absolute(path), None)
        except (OSError, ValueError):
            continue
    return list(found), list(absent)


# ``'marker.txt'``, ``'out/model.pkl'``, ``'../data'``: a string a cell may look for on disk.
_PATH_LIKE = re.compile(r"\S(?:.*\S)?/.*|[^\s/]*\.[A-Za-z][A-Za-z0-9]{0,7}|.*/")


def _added_builtin(name: str) -> Any:
    """The value of ``builtins.<name>`` when code of the session put it there, else absent.

    Python's and IPython's own builtins (``print``, ``display``, ``get_ipython``: some made
    anew for every cell) are not inputs; a name a cell added (``builtins.SCALE = 3``) is.
    """
    if name in _OWN_BUILTINS:
        return _ABSENT
    return vars(builtins).get(name, _ABSENT)


_OWN_BUILTINS = frozenset(vars(builtins)) | {"exit", "quit", "get_ipython", "display"}

FINGERPRINT_BUDGET = 1_000_000
"""Python objects an input may hold before fingerprinting it is given up (with a note)."""

_SCALARS = (type(None), bool, int, float, complex, str, bytes)


def _too_large(value: Any, budget: int | None = None, *, exact: bool = False) -> str | None:
    """Why fingerprinting ``value`` would take unbounded time, or ``None``.

    Counts the Python objects a fingerprint would visit one by one (buffers of arrays and
    frames are hashed at memory speed and count once); cycles are visited once. A frame
    whose every element fits in what is left of the budget counts as that many without its
    dtypes being asked (``DataFrame.dtypes`` builds a Series, 30-70 µs, in every key of a
    cell reading a frame); a count over the budget is made again ``exact`` before refusing.
    """
    budget = FINGERPRINT_BUDGET if budget is None else budget
    np = sys.modules.get("numpy")
    pd = sys.modules.get("pandas")
    sessions = _session_classes()
    seen: set[int] = set()
    stack = [value]
    count = 0
    while stack:
        obj = stack.pop()
        if dead_proxy(obj) or isinstance(obj, _SCALARS):
            count += 1
        elif id(obj) in seen:
            continue
        elif sessions and isinstance(obj, sessions):
            # A widget reaches the kernel through its comm, and the kernel every variable of
            # the notebook: walking that took 50-140 ms a cell, and what a value holding the
            # session is could never be a fixed input anyway (the namespace changes each cell).
            return "it holds the IPython shell or kernel (the whole notebook session)"
        else:
            seen.add(id(obj))
            count += 1
            # Through the built-in iterators: a subclass's own ``__iter__`` may never end
            # (or run user code); what the object holds is its built-in storage.
            # A container whose items alone would pass the budget is over it without
            # walking them (a list of a million floats took ~0.4 s to be refused, in every
            # cell reading it): each item counts at least once, unless it is an object
            # already met, so one holding a million references to a few objects is refused
            # too, as its fingerprint would visit every reference.
            if isinstance(obj, (list, tuple, set, frozenset)):
                if count + len(obj) > budget:
                    count += len(obj)
                else:
                    stack.extend(builtin_iter(obj))
            elif isinstance(obj, dict):
                if count + 2 * len(obj) > budget:
                    count += 2 * len(obj)
                else:
                    stack.extend(dict.keys(obj))
                    stack.extend(dict.values(obj))
            elif np is not None and isinstance(obj, np.ndarray):
                if obj.dtype.hasobject:
                    count += obj.size
            elif pd is not None and isinstance(obj, pd.DataFrame):
                if not exact and count + obj.size <= budget:
                    count += obj.size  # at most that many object elements
                else:
                    count += len(obj) * sum(1 for d in obj.dtypes if getattr(d, "kind", "") == "O")
            elif pd is not None and isinstance(obj, (pd.Series, pd.Index)):
                count += len(obj) if getattr(obj.dtype, "kind", "") == "O" else 0
            elif isinstance(getattr(obj, "__dict__", None), dict):
                stack.extend(vars(obj).values())
        if count > budget:
            if not exact:
                return _too_large(value, budget, exact=True)
            return (
                f"it holds more than {budget:,} Python objects; fingerprinting it could take "
                "minutes"
            )
    return None


def _session_classes() -> tuple[type, ...]:
    """The classes of IPython's shell and ipykernel's kernel, where they are loaded."""
    found = []
    for module, name in (
        ("IPython.core.interactiveshell", "InteractiveShell"),
        ("ipykernel.kernelbase", "Kernel"),
    ):
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type):
            found.append(cls)
    return tuple(found)


def _add_input(
    name: str,
    value: Any,
    components: dict[str, str],
    fingerprints: dict[str, str],
    unhashable: dict[str, str],
    modules: dict[str, None],
    *,
    label: str = "input",
    reads: tuple[dict[str, Any], dict[str, types.ModuleType], dict[str, None]] | None = None,
    walked: dict[str, set[int]] | None = None,
) -> None:
    """Fingerprint ``value`` into ``components`` (or note in ``unhashable`` why not). With
    ``reads`` (data globals, user modules, uncertainties), what the user functions and
    classes met inside ``value`` read is added there (:func:`_add_held_code`); with
    ``walked``, the ids of the containers met inside it, under ``name``."""
    held: dict[int, Any] | None = {} if reads is not None else None
    try:
        value = _keyed_as(value)
    except CellCacheError as exc:
        unhashable[name] = str(exc)
        return
    # A large dict of atoms unchanged since its last fingerprint skips the size walk too.
    digest = _remembered_digest(value)
    if digest is None:
        refused = _refused(value)
        if refused is not None:
            unhashable[name] = f"{_describe(value)}: {refused}"
            return
        entered: set[int] | None = None if walked is None else walked.setdefault(name, set())
        try:
            digest = bounded_fingerprint(value, held, entered)
        except _TooSlow as exc:
            # Remembered for the session: the same object would take as long every run.
            # (Another object reusing its id is then not fingerprinted: the cell only runs.)
            _SLOW[id(value)] = (type(value), str(exc))
            unhashable[name] = f"{_describe(value)}: {exc}"
            return
        except RecursionError:
            unhashable[name] = f"{_describe(value)}: it is nested too deeply to fingerprint"
            return
        except Exception as exc:  # FingerprintError, or a broken __reduce__ in user code
            unhashable[name] = f"{_describe(value)}: {exc}"
            return
    components[f"{label}:{name}"] = digest
    fingerprints[name] = digest
    if reads is not None and held:
        _add_held_code(name, held, *reads, unhashable)
    # ``or ""``: a class made at run time may have no module (sympy's ``Function("f")``)
    module = type_module(value).partition(".")[0]
    if module and module != "builtins" and module != "__main__":
        modules.setdefault(module, None)


_SUSPENDED = (types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType)


def _refused(value: Any) -> str | None:
    """Why ``value`` is not fingerprinted at all (too large, or too slow before), or ``None``."""
    too_large = _too_large(value)
    if too_large:
        return too_large
    slow = _SLOW.get(id(value))
    if slow is not None and slow[0] is type(value):
        return slow[1]
    return None


def fingerprint_after(value: Any) -> str | None:
    """Fingerprint used to detect in-place mutation; ``None`` when it cannot be computed."""
    try:
        return bounded_fingerprint(value)
    except (Exception, _TooSlow):
        return None


def _keyed_as(value: Any) -> Any:
    """What stands for ``value`` in a key and in the mutation check: ``value`` itself, or a
    logger's :func:`logger_stand_in`; raises :class:`CellCacheError` for a logger that has
    none."""
    if not isinstance(value, logging.Logger):
        return value
    stand_in = logger_stand_in(value)
    if stand_in is None:
        raise CellCacheError(
            f"{_describe(value)}: its records may go somewhere a restore would not write them "
            "again (a socket, a queue, a handler, filter or logger class of its own)"
        )
    return stand_in


def logger_stand_in(value: Any) -> tuple[Any, ...] | None:
    """What a ``logging.Logger`` input stands for in a key, or ``None`` (not a logger, or
    one whose records may go where no run is watched).

    A logger pickles as its name and holds its handlers' streams (in a kernel, the kernel
    itself), so it could not be fingerprinted, and a cell logging through one ran every
    time. What it shows depends on its configuration: its level and that of the loggers
    its records propagate to, their handlers' levels, formats and streams or files. A
    handler writing where no run is watched (a socket, a queue, a class of the notebook)
    or any filter leaves the logger without a stand-in, and the cell runs.

    >>> import logging
    >>> log = logging.getLogger("doc.example")
    >>> log.propagate = False  # its records go to its own handler only
    >>> log.addHandler(logging.NullHandler())
    >>> log.setLevel(logging.INFO)
    >>> info = logger_stand_in(log)
    >>> log.setLevel(logging.WARNING)
    >>> info != logger_stand_in(log), logger_stand_in(42)
    (True, None)
    """
    if type(value) not in (logging.Logger, logging.RootLogger):
        return None  # a subclass may log its own way
    chain = []
    node = value
    while node is not None:
        if node.filters:
            return None
        handlers = []
        for handler in node.handlers:
            shown = _handler_stand_in(handler)
            if shown is None:
                return None
            handlers.append(shown)
        chain.append((node.name, node.level, node.disabled, node.propagate, tuple(handlers)))
        node = node.parent if node.propagate else None
    # With no handler on the way, Python's last resort prints warnings to sys.stderr.
    last_resort: tuple[Any, ...] | None = ()
    if logging.lastResort is not None and not any(link[4] for link in chain):
        last_resort = _handler_stand_in(logging.lastResort)
    if last_resort is None:
        return None
    return ("logging.Logger", tuple(chain), value.manager.disable, last_resort)


def _logs_by_module(value: Any) -> bool:
    """Whether ``value`` is ``logging`` or one of its functions (``from logging import info``)."""
    if value is logging:
        return True
    return isinstance(value, types.FunctionType) and value.__module__ == "logging"


def logging_stand_in() -> tuple[Any, ...]:
    """What ``logging``'s own functions log by: each logger set away from how it was made
    (its level, handlers as :func:`logger_stand_in` shows them, filters, ``propagate``,
    ``disabled``), the root first, and ``logging.disable``'s level.

    ``logging.info(...)`` logs through the root logger, ``logging.getLogger("nb").info(...)``
    through ``nb`` and its parents. Loggers a library made and left alone, or gave only a
    ``NullHandler`` on import, are not shown (an upstream import does not change the key),
    nor are handlers writing where the cell's output is not (a test runner's capture, a
    queue): a process that has them logs into the cell as one that does not.

    >>> import logging
    >>> before = logging_stand_in()
    >>> log = logging.getLogger("doc.module")
    >>> log.setLevel(logging.ERROR)
    >>> changed = logging_stand_in()
    >>> log.setLevel(logging.NOTSET)
    >>> changed != before, logging_stand_in() == before
    (True, True)
    """
    root = logging.getLogger()
    made = [
        item for item in list(root.manager.loggerDict.values()) if isinstance(item, logging.Logger)
    ]
    shown = []
    for log in [root, *sorted(made, key=lambda item: item.name)]:
        if log is not root and not (
            log.level or log.handlers or log.filters or log.disabled or not log.propagate
        ):
            continue
        if log is not root and _library_null_handlers(log):
            continue
        stand_ins = [_handler_stand_in(h) for h in log.handlers]
        handlers = tuple(shown for shown in stand_ins if shown is not None)
        shown.append((log.name, log.level, log.disabled, log.propagate, handlers, len(log.filters)))
    # Python's last resort writes whatever ``sys.stderr`` is then (the cell's output, or a
    # test runner's capture): its level only.
    last_resort = logging.lastResort
    resort = last_resort.level if last_resort is not None else None
    return ("logging", tuple(shown), root.manager.disable, resort)


def _library_null_handlers(log: logging.Logger) -> bool:
    """Whether ``log`` is an imported library's, as its import left it: ``NullHandler``s
    only (``charset_normalizer``, ``urllib3``), at the defaults otherwise."""
    top = log.name.partition(".")[0]
    if top == "__main__" or top not in sys.modules:
        return False
    if log.level or log.filters or log.disabled or not log.propagate:
        return False
    return all(type(h) is logging.NullHandler for h in log.handlers)


def _handler_stand_in(handler: logging.Handler) -> tuple[Any, ...] | None:
    """A handler whose writes are seen: a plain ``StreamHandler`` on stdout or stderr (the
    cell's output), one of logging's file handlers, a ``NullHandler``; as its class, level,
    stream or file and how it formats a fixed record. ``None`` for any other."""
    cls = type(handler)
    if cls is logging.NullHandler:
        return ("NullHandler", handler.level)
    if handler.filters:
        return None
    path = getattr(handler, "baseFilename", None)
    if isinstance(path, str) and cls.__module__ in ("logging", "logging.handlers"):
        # logging's file handlers: a cell that logs into the file is seen by the state
        # snapshots (``_state.written_log_files``) and runs; one that logs nothing there
        # can be restored.
        where = path
    elif cls is logging.StreamHandler or handler is logging.lastResort:
        stream = getattr(getattr(handler, "stream", None), "name", None)
        if stream not in ("<stdout>", "<stderr>", "stdout", "stderr"):
            return None
        where = str(stream).strip("<>")
    else:
        return None
    try:
        shown = handler.format(_PROBE_RECORD)
    except Exception:  # a formatter that cannot format the probe: no stand-in
        return None
    return (cls.__name__, handler.level, where, shown)


# A fixed record every handler formats in the same way in any kernel (its time is 0).
_PROBE_RECORD = logging.makeLogRecord(
    {
        "name": "probe", "msg": "message %s", "args": ("arg",), "levelno": 20,
        "levelname": "INFO", "pathname": "probe.py", "filename": "probe.py",
        "module": "probe", "lineno": 1, "funcName": "probe", "created": 0.0, "msecs": 0.0,
        "relativeCreated": 0.0, "thread": 0, "threadName": "MainThread", "process": 0,
        "processName": "MainProcess", "taskName": None,
    }
)  # fmt: skip


FINGERPRINT_SECONDS = 10.0
"""Seconds one input's fingerprint may take before it is given up (with a note)."""


class _TooSlow(BaseException):
    """Not an ``Exception``: a ``__reduce__`` that catches those must not swallow it."""


_SLOW: dict[int, tuple[type, str]] = {}  # id -> (type, why): inputs that took too long


def bounded_fingerprint(
    value: Any, held: dict[int, Any] | None = None, entered: set[int] | None = None
) -> str:
    """:func:`fingerprint`, interrupted after :data:`FINGERPRINT_SECONDS` (a ``__reduce__``
    that sleeps, a structure that takes minutes): raises ``_TooSlow``. User functions and
    classes met inside ``value`` go to ``held``, the containers met to ``entered`` (none
    for a value known unchanged, a dict of atoms: it holds no container)."""
    if type(value) in _SCALARS:
        return fingerprint(value)  # no user code, memory speed: arming a timer costs more
    remembered = _remembered_digest(value)
    if remembered is not None:
        return remembered
    value = _keyed_as(value)
    np = sys.modules.get("numpy")
    if np is not None and type(value) is np.ndarray and not value.dtype.hasobject:
        return fingerprint(value)
    seconds = FINGERPRINT_SECONDS

    def too_slow() -> _TooSlow:
        return _TooSlow(f"fingerprinting it took longer than {seconds:g} s")

    memo = _memo_version(value)
    with interrupt_at(time.monotonic() + seconds, too_slow):
        digest = fingerprint(value, held, entered)
    if memo is not None:
        _remember_digest(value, memo, digest)
    return digest


# A large dict of atoms (a word index, a lookup table) is read by cell after cell, and was
# walked for its size and fingerprinted again before and after each (~250 ms a cell for
# 200,000 words), and so was a method of it bound to a name (``unscramble = terms.get``).
# Their digest is kept with the dict's version tag (``_state.dict_version_once``): any
# change of the dict moves the tag, and its keys and values, atoms, cannot change inside
# it. Neither the dict nor its items are held (tags are never given twice).
DIGEST_MEMO_ITEMS = 4096
"""Dicts of at least this many items, all keys and values atoms, keep their digest (and
their methods bound to a name do)."""
_DIGEST_MEMO: dict[int, tuple[int, str | None, str]] = {}  # id -> (tag, method, digest)
_DIGEST_MEMO_SIZE = 64
_ATOMS = frozenset(_SCALARS)


def _memo_subject(value: Any) -> tuple[dict[Any, Any], str | None] | None:
    """The large dict whose version ``value``'s digest can be kept under, and the name of
    the method ``value`` is (``None``: the dict itself); ``None`` when there is none."""
    kind = type(value)
    if kind is dict:
        subject, method = value, None
    elif kind is types.BuiltinMethodType and type(value.__self__) is dict:
        subject, method = value.__self__, value.__name__
    else:
        return None
    return (subject, method) if len(subject) >= DIGEST_MEMO_ITEMS else None


def _memo_version(value: Any) -> int | None:
    """The version tag under which ``value``'s digest would be kept, or ``None``."""
    found = _memo_subject(value)
    return None if found is None else dict_version_once(found[0])


def _remembered_digest(value: Any) -> str | None:
    """The digest kept for ``value`` (a large dict of atoms, or a method of one, unchanged
    since), or ``None``."""
    found = _memo_subject(value)
    kept = _DIGEST_MEMO.get(id(value)) if found is not None else None
    if kept is None or found is None or kept[1] != found[1]:
        return None
    return kept[2] if kept[0] == dict_version_once(found[0]) else None


def _remember_digest(value: Any, version: int, digest: str) -> None:
    """Keep ``digest``, computed from ``value`` as it was at ``version``, if it still is
    and its dict holds only atoms."""
    found = _memo_subject(value)
    if found is None:
        return
    subject, method = found
    atoms = _ATOMS
    if not all(type(k) in atoms for k in subject) or not all(
        type(v) in atoms for v in subject.values()
    ):
        return
    if version != dict_version_once(subject):
        return  # changed meanwhile (another thread): the digest may be of neither state
    if len(_DIGEST_MEMO) >= _DIGEST_MEMO_SIZE:
        _DIGEST_MEMO.clear()
    _DIGEST_MEMO[id(value)] = (version, method, digest)

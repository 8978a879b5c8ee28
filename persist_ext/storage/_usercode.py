"""What counts as user code, and which user code a function reaches.

"User code" is a function, class or module whose module is ``__main__`` (a notebook or
script), was created by ``exec`` (its module is not in ``sys.modules``), or lives in a file that
is neither in the standard library nor in an installed-packages directory (``site-packages``
or ``dist-packages``). persist_ext itself is never user code.
"""

from __future__ import annotations

import dis
import functools
import importlib.metadata
import re
import site
import sys
import sysconfig
import types
from pathlib import Path
from typing import Any

__all__ = [
    "IDENTIFIER",
    "code_names",
    "global_names",
    "in_modules",
    "installed_version",
    "is_user_code",
    "is_user_file",
    "module_version",
    "referenced_names",
    "referenced_user_code",
    "string_names",
    "type_module",
    "wrapped_function",
]


# --------------------------------------------------------------------------------------------
# What counts as user code
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _library_roots() -> tuple[Path, ...]:
    paths = sysconfig.get_paths()
    roots = {paths.get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots.update(site.getsitepackages())
    roots.add(site.getusersitepackages())
    return tuple(Path(r).resolve() for r in roots if r)


@functools.lru_cache(maxsize=4096)
def _module_is_user(module_name: str | None) -> bool:
    if module_name is None or module_name == "__main__":
        return True
    if module_name == "persist_ext" or module_name.startswith("persist_ext."):
        return False
    module = sys.modules.get(module_name)
    if module is None:
        # Made by exec() with a made-up module name: only user code does that.
        return True
    file = getattr(module, "__file__", None)
    if not file:
        # Built-in, frozen or a namespace package (an import system's spec or loader), or
        # made at run time (``types.ModuleType('cfg')`` put in ``sys.modules``): what the
        # notebook set on that one (``cfg.K = V``) is its data, read like a local module's.
        # Subclasses are libraries' lazy proxies (TensorFlow's ``LazyLoader``), not that.
        imported = getattr(module, "__spec__", None) or getattr(module, "__loader__", None)
        made = imported is None and type(module) is types.ModuleType
        return made and module_name not in sys.builtin_module_names
    return is_user_file(file)


def is_user_file(path: str) -> bool:
    """Whether a module file is user code: outside the standard library and packages."""
    resolved = Path(path).resolve()
    if {"site-packages", "dist-packages"} & set(resolved.parts):
        return False
    return not any(root == resolved or root in resolved.parents for root in _library_roots())


def is_user_code(obj: Any) -> bool:
    """Whether ``obj`` is a user-defined function, class or module (see the module docstring).

    Examples
    --------
    >>> import json
    >>> is_user_code(json.dumps), is_user_code(json)
    (False, False)
    """
    if isinstance(obj, types.ModuleType):
        return _module_is_user(obj.__name__)
    if isinstance(obj, (types.FunctionType, type)):
        return _module_is_user(getattr(obj, "__module__", None))
    return False


def type_module(value: Any) -> str:
    """The name of the module that defines ``type(value)``; ``""`` when it has none.

    A class made at run time may have ``__module__`` ``None`` (sympy's ``Function("g")``),
    so ``type(v).__module__.startswith(...)`` is not safe on arbitrary values.

    >>> type_module(1.5), type_module(Path("."))[:7]
    ('builtins', 'pathlib')
    """
    return type(value).__module__ or ""


def in_modules(name: str, modules: tuple[str, ...]) -> bool:
    """Whether the module ``name`` is one of ``modules`` or a submodule of one.

    Not a prefix of its name: ``numpyro`` and ``pandas_datareader`` are not numpy or pandas.

    >>> in_modules("numpy", ("numpy",)), in_modules("pandas.core.frame", ("numpy", "pandas"))
    (True, True)
    >>> in_modules("numpyro.distributions", ("numpy",)), in_modules("", ("numpy",))
    (False, False)
    """
    return any(name == module or name.startswith(f"{module}.") for module in modules)


def wrapped_function(obj: Any) -> types.FunctionType | None:
    """The user function a decorator object wraps (``functools.cache``), or ``None``.

    Decorators written in C (``lru_cache``, ``cache``) give objects that are not functions;
    the function they call is their ``__wrapped__``, and its code and the globals it reads
    are what a caller depends on.

    Examples
    --------
    >>> wrapped_function(functools.cache(len)) is None  # a library function, not user code
    True
    """
    if not callable(obj) or isinstance(obj, (types.FunctionType, type)):
        return None  # data (called for every input of every cell: one C check)
    for _ in range(8):  # a chain of decorators; never a loop
        attrs = getattr(obj, "__dict__", None)
        inner = attrs.get("__wrapped__") if isinstance(attrs, dict) else None
        if isinstance(inner, types.FunctionType):
            return inner if is_user_code(inner) else None
        if inner is None:
            return None
        obj = inner
    return None


@functools.lru_cache(maxsize=1)
def _packages_distributions() -> dict[str, list[str]]:
    return dict(importlib.metadata.packages_distributions())


def module_version(module: types.ModuleType) -> str:
    version = getattr(module, "__version__", None)
    if isinstance(version, str):
        return version
    top = module.__name__.partition(".")[0]
    if top in sys.stdlib_module_names or top in sys.builtin_module_names:
        return f"python-{sys.version_info.major}.{sys.version_info.minor}"
    return installed_version(top) or "unknown"


def installed_version(top: str) -> str | None:
    """The version of the installed distribution providing package ``top``, read from its
    metadata without importing it; ``None`` when no installed distribution provides it."""
    for dist in _packages_distributions().get(top, ()):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def code_names(code: types.CodeType) -> set[str]:
    """Global names a code object (and the code nested in it) refers to, attribute and
    method names included (``co_names``)."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= code_names(const)
    return names


_GLOBAL_OPS = frozenset(
    {"LOAD_GLOBAL", "STORE_GLOBAL", "DELETE_GLOBAL", "LOAD_NAME", "STORE_NAME", "DELETE_NAME"}
    | {"LOAD_FROM_DICT_OR_GLOBALS"}
)


@functools.lru_cache(maxsize=4096)
def global_names(code: types.CodeType) -> frozenset[str]:
    """Names a code object (and the code nested in it) looks up as globals.

    Unlike :func:`code_names`, not the attribute and method names (``self.frame``): a helper
    storing ``self.frame`` does not read a notebook variable ``frame``, and taking it for one
    keyed the cell on a variable the cell itself defines, so it missed on its second run and
    in every new kernel.
    """
    names = {str(ins.argval) for ins in dis.get_instructions(code) if ins.opname in _GLOBAL_OPS}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= global_names(const)
    return frozenset(names)


IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""A Python identifier, as written in a string (``"a > @thresh"``: ``a``, ``thresh``)."""


@functools.lru_cache(maxsize=4096)
def string_names(code: types.CodeType, skip: str | None = None) -> frozenset[str]:
    """Identifiers written in the string constants of a code object (and the code nested in
    it) that are not its own local names: what ``df.query("a > @thresh")``, ``eval`` or a
    formula inside a function reads by name. ``skip``: a constant left out (the docstring).

    >>> def f(d):
    ...     "Rows of d over the threshold."
    ...     return d.query("a > @thresh and a < @d")
    >>> sorted(string_names(f.__code__, f.__doc__))
    ['a', 'and', 'thresh']
    """
    names: set[str] = set()
    local = {*code.co_varnames, *code.co_cellvars, *code.co_freevars}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= string_names(const)
        elif isinstance(const, str) and const is not skip:
            names.update(n for n in IDENTIFIER.findall(const) if n not in local)
    return frozenset(names)


def referenced_names(fn: types.FunctionType) -> list[tuple[str, Any]]:
    """The user functions, classes and modules ``fn``'s code names, sorted by name.

    Global names are looked up in ``fn.__globals__``; for a user module found there, the
    attribute names the code uses are looked up on the module too (``helpers.compute``).
    """
    names = code_names(fn.__code__)
    found: dict[str, Any] = {}
    for name in sorted(names):
        target = fn.__globals__.get(name)
        target = wrapped_function(target) or target
        if target is None or not is_user_code(target):
            continue
        found[name] = target
        if isinstance(target, types.ModuleType):
            for attr in sorted(names):
                value = getattr(target, attr, None)
                if not isinstance(value, types.ModuleType) and is_user_code(value):
                    found[f"{name}.{attr}"] = value
    return list(found.items())


def referenced_user_code(obj: Any) -> dict[str, Any]:
    """Return the user functions, classes and modules ``obj`` reaches, transitively.

    Keys are ``"module:qualname"`` (``"module"`` for a module); ``obj`` itself is not
    included. For a class, the methods' references are followed. This is the set whose code
    :func:`fingerprint_code` folds into the digest; the cell cache uses it to explain which
    function changed.

    Examples
    --------
    >>> def helper(x):
    ...     return x + 1
    >>> def main(x):
    ...     return helper(x) * 2
    >>> sorted(referenced_user_code(main))  # doctest: +SKIP
    ['__main__:helper']
    """
    if isinstance(obj, types.MethodType):
        obj = obj.__func__
    seen: dict[str, Any] = {}
    visited: set[int] = {id(obj)}
    stack = [obj]
    while stack:
        current = stack.pop()
        for target in _reaches(current):
            if id(target) in visited:
                continue
            visited.add(id(target))
            if isinstance(target, types.ModuleType):
                seen[target.__name__] = target
                continue
            seen[f"{target.__module__}:{target.__qualname__}"] = target
            stack.append(target)
    return dict(sorted(seen.items()))


def _reaches(obj: Any, *, closures: bool = True) -> list[Any]:
    if isinstance(obj, type):
        if not is_user_code(obj):
            return []
        found = [b for b in obj.__bases__ if is_user_code(b)]
        for attr in obj.__dict__.values():
            fn = attr.__func__ if isinstance(attr, (staticmethod, classmethod)) else attr
            if isinstance(fn, property):
                for part in (fn.fget, fn.fset, fn.fdel):
                    found += _reaches(part)
            elif isinstance(fn, types.FunctionType):
                # Closures of methods are skipped: for dataclasses they hold generated
                # helpers (e.g. reprlib's wrapper of __repr__), not code the user wrote.
                found += _reaches(fn, closures=False)
        return found
    if not isinstance(obj, types.FunctionType) or not is_user_code(obj):
        return []
    found = [target for _, target in referenced_names(obj)]
    for cell in obj.__closure__ if closures and obj.__closure__ else ():
        try:
            contents = cell.cell_contents
        except ValueError:
            continue
        if is_user_code(contents):
            found.append(contents)
    return found

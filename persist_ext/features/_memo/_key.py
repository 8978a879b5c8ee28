"""The key of a cached call: the function's code, the user code and globals it reaches, and
its arguments.

The code part is computed by the cell cache's key builder (the function is keyed like a cell
that reads it: ``function:NAME`` for it and every user function or class it reaches
transitively, ``global:NAME`` for the data globals they read, ``module:NAME`` for modules),
so a cached call and a ``%%persist`` cell agree on what "the code changed" means. Arguments
are bound to the signature (``f(1)`` and ``f(x=1)`` are one call; defaults filled in) and
each one is fingerprinted (``input:NAME``, arrays and frames at memory speed).

Recomputing the code part on every call would cost more than the call is worth on a hit,
so :class:`CodeState` keeps it with a *snapshot* of everything it depends on: the object
each global name resolves to, each function's ``__code__``, defaults and closure cells (and
the digest of its own attributes, for the few functions that have any).
Checking the snapshot is a few identity tests; only data that can change in place (a global
list, an array) is fingerprinted again on each call.
"""

from __future__ import annotations

import inspect
import json
import threading
import types
from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import xxhash

from ...storage._fingerprint import fingerprint, function_attributes, is_user_code
from ...storage._usercode import code_names, referenced_user_code
from .._cellcache._analysis import CellCode
from .._cellcache._key import build_key

__all__ = ["Binder", "CallKey", "CodeState", "argument_components", "call_digest"]

_ABSENT = object()
_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None), range, types.ModuleType)


@dataclass
class CallKey:
    """A call's key (``digest``) and what it is made of (for ``why`` and the stored meta).

    ``arguments`` (``input:NAME``) and ``code`` (``function:``, ``global:``, ``module:``
    components) are kept apart: a hit needs only the digest, and merging them into
    :attr:`components` is left to the few callers that show or store them.
    """

    digest: str
    arguments: dict[str, str]
    code: dict[str, str] = field(default_factory=dict)
    reaches: dict[str, list[str]] = field(default_factory=dict)
    unhashable: dict[str, str] = field(default_factory=dict)
    uncertain: list[str] = field(default_factory=list)
    """Why the globals the code reads cannot be known (``globals()[name]``): no caching."""

    @property
    def components(self) -> dict[str, str]:
        """Every named component: the code's, then the arguments'."""
        return {**self.code, **self.arguments}


def _immutable(value: Any, depth: int = 0) -> bool:
    if isinstance(value, _IMMUTABLE):
        return True
    if isinstance(value, (tuple, frozenset)) and depth < 3:
        return all(_immutable(v, depth + 1) for v in value)
    return isinstance(value, (types.FunctionType, type))  # code: covered by identity checks


def _parts(obj: Any) -> list[Any]:
    if isinstance(obj, types.MethodType):
        obj = obj.__func__
    if isinstance(obj, types.FunctionType):
        return [obj]
    if isinstance(obj, type):
        found = []
        for attr in vars(obj).values():
            target = attr.__func__ if isinstance(attr, (staticmethod, classmethod)) else attr
            if isinstance(target, property):
                found += [p for p in (target.fget, target.fset, target.fdel) if p is not None]
            elif isinstance(target, types.FunctionType):
                found.append(target)
        return found
    return []


class CodeState:
    """The code components of one function, revalidated cheaply before each call.

    Parameters
    ----------
    fn
        The user's function (not the caching wrapper).
    ignore
        Global names to leave out of the key (like ``ignore=`` for arguments).
    """

    def __init__(self, fn: types.FunctionType, ignore: frozenset[str] = frozenset()) -> None:
        self.fn = fn
        self.ignore = ignore
        self._lock = threading.Lock()
        self._valid = False
        self._identity: list[tuple[Mapping[str, Any], str, Any]] = []
        self._functions: list[
            tuple[types.FunctionType, Any, Any, Any, tuple[Any, ...], bytes | None]
        ] = []
        self._data: list[tuple[str, Any, str]] = []
        self._closure_data: list[tuple[Any, str]] = []
        self.components: dict[str, str] = {}
        self.reaches: dict[str, list[str]] = {}
        self.unhashable: dict[str, str] = {}
        self.uncertain: list[str] = []
        self.digest = ""

    # -- the slow path: build the components and the snapshot ------------------------------
    def _build(self) -> None:
        fn = self.fn
        name = fn.__name__
        namespace: Mapping[str, Any] = ChainMap({name: fn}, fn.__globals__)
        code = CellCode(
            source="",
            digest="",
            reads=(name,),
            assigns=frozenset(),
            definitions=frozenset(),
            definition_module=None,
        )
        key = build_key(code, namespace, ignore=self.ignore)
        components = {k: v for k, v in key.components.items() if k != "code"}
        reached = [fn, *referenced_user_code(fn).values()]
        identity: list[tuple[Mapping[str, Any], str, Any]] = []
        functions = []
        closure_data: list[tuple[Any, str]] = []
        for target in reached:
            for part in _parts(target):
                cells = tuple(_cell(c) for c in part.__closure__ or ())
                for cell in part.__closure__ or ():
                    contents = _contents(cell)
                    if contents is not _ABSENT and not _immutable(contents):
                        try:
                            closure_data.append((cell, fingerprint(contents)))
                        except Exception:
                            pass  # already reported by the key builder as unhashable
                functions.append(
                    (
                        part,
                        part.__code__,
                        part.__defaults__,
                        part.__kwdefaults__,
                        cells,
                        function_attributes(part),
                    )
                )
                names = code_names(part.__code__)
                for global_name in names:
                    value = part.__globals__.get(global_name, _ABSENT)
                    identity.append((part.__globals__, global_name, value))
                    if isinstance(value, types.ModuleType) and is_user_code(value):
                        for attr in names:
                            identity.append((vars(value), attr, vars(value).get(attr, _ABSENT)))
        data = []
        for component, digest in components.items():
            kind, _, global_name = component.partition(":")
            if kind != "global":
                continue
            value = namespace.get(global_name, _ABSENT)
            if not _immutable(value):
                data.append((global_name, value, digest))
        self._identity, self._functions, self._data = identity, functions, data
        self._closure_data = closure_data
        self.components = components
        self.reaches = dict(key.reaches)
        self.unhashable = dict(key.unhashable)
        self.uncertain = list(key.uncertain)
        blob = json.dumps(components, sort_keys=True).encode()
        self.digest = xxhash.xxh3_128_hexdigest(blob)
        self._valid = True

    # -- the fast path ----------------------------------------------------------------------
    def _still_valid(self) -> bool:
        for mapping, name, value in self._identity:
            if mapping.get(name, _ABSENT) is not value:
                return False
        for part, code, defaults, kwdefaults, cells, attrs in self._functions:
            if (
                part.__code__ is not code
                or part.__defaults__ is not defaults
                or part.__kwdefaults__ is not kwdefaults
            ):
                return False
            if cells and tuple(_cell(c) for c in part.__closure__ or ()) != cells:
                return False
            if (attrs is not None or part.__dict__) and function_attributes(part) != attrs:
                return False  # its own attributes (``scale.factor = 3``)
        try:
            for _, value, digest in self._data:
                if fingerprint(value) != digest:
                    return False
            for cell, digest in self._closure_data:
                if fingerprint(_contents(cell)) != digest:
                    return False
        except Exception:
            return False
        return True

    def current(self) -> CodeState:
        """Revalidate (rebuilding when anything the code depends on changed); return self."""
        with self._lock:
            if not (self._valid and self._still_valid()):
                self._build()
        return self


def _contents(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # a cell not yet assigned
        return _ABSENT


def _cell(cell: Any) -> Any:
    # Closure cells are compared by identity (rebinding a nonlocal); data held in them is
    # also fingerprinted again on each call (``_closure_data``), to catch in-place changes.
    return _IdentityToken(_contents(cell))


class _IdentityToken:
    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _IdentityToken) and other.obj is self.obj

    __hash__ = None  # type: ignore[assignment]


# --------------------------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------------------------


class Binder:
    """Bind call arguments to parameter names, defaults filled in (``f(1)`` == ``f(x=1)``).

    Plain signatures (positional-or-keyword parameters only, the common case) are bound by
    a few dict operations; anything else goes through ``inspect.Signature.bind``. Either
    way a call that does not match raises the ``TypeError`` calling the function would.
    """

    def __init__(self, signature: inspect.Signature) -> None:
        self.signature = signature
        params = list(signature.parameters.values())
        self.simple = all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params)
        self.names = tuple(p.name for p in params)
        self.defaults = {p.name: p.default for p in params if p.default is not p.empty}

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if self.simple and not kwargs and len(args) == len(self.names):
            return dict(zip(self.names, args))  # every argument given by position
        if self.simple and len(args) <= len(self.names):
            bound = dict(zip(self.names, args))
            used = 0
            for name in self.names[len(args) :]:
                if name in kwargs:
                    bound[name] = kwargs[name]
                    used += 1
                elif name in self.defaults:
                    bound[name] = self.defaults[name]
                else:
                    break  # a missing argument: the full binder raises the TypeError
            else:
                if used == len(kwargs):  # no unknown or duplicated keyword
                    return bound
        full = self.signature.bind(*args, **kwargs)
        full.apply_defaults()
        return dict(full.arguments)


def argument_components(
    arguments: Mapping[str, Any], ignore: frozenset[str], describe: Callable[[Any], str]
) -> tuple[dict[str, str], dict[str, str]]:
    """``input:NAME -> fingerprint`` per argument, and the ones that cannot be fingerprinted."""
    found: dict[str, str] = {}
    unhashable: dict[str, str] = {}
    for name, value in arguments.items():
        if name in ignore:
            continue
        try:
            found[f"input:{name}"] = fingerprint(value)
        except Exception as exc:  # FingerprintError, or a broken __reduce__ in user code
            unhashable[name] = f"{describe(value)}: {exc}"
    return found, unhashable


def call_digest(code_digest: str, arguments: Mapping[str, str]) -> str:
    """The call key: the code digest and the argument fingerprints, in signature order.

    The digest of ``code | component 0 digest 0 | ...``, hashed in one call.
    """
    parts = [code_digest]
    for component, digest in arguments.items():
        parts += (component, "\x00", digest, "\x00")
    return xxhash.xxh3_128_hexdigest("".join(parts).encode())

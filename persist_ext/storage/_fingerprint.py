"""Stable content digests of Python values: ``fingerprint(value) -> str`` (xxh3_128, 32 hex).

Equal values give equal digests in any process, after a restart and under any
``PYTHONHASHSEED``: nothing here uses ``id()`` or ``hash()`` in a digest. Every value is
written into the hash behind a type tag and a length, so ``[1, 2]``, ``(1, 2)`` and ``"12"``
never collide by construction.

What is hashed, per kind of value:

* numpy arrays, pandas objects, ``bytes`` / ``bytearray`` / ``memoryview``: their buffers, fed
  straight to xxh3 without a copy (a non-contiguous or byte-swapped array is copied once),
  plus dtype, shape, index and column metadata;
* ``dict`` and its subclasses (``Counter``, ``defaultdict``) in insertion order, ``list`` /
  ``tuple`` (ordered), ``set`` / ``frozenset`` (order-insensitive): recursively, with cycle
  protection. Two dicts equal in content but not in order are not the same input: a later
  cell sees the order (``list(d)``, a DataFrame's columns, ``json.dumps``, a legend);
* ``None``, ``bool``, ``int``, ``float``, ``complex``, ``str``: canonically (NaNs alike but for
  their sign, which ``math.copysign`` shows);
* functions and classes: by code (see :func:`fingerprint_code`);
* modules: by name and version (a user module: by name and the digest of its source file);
* instances of user classes: the class's code plus their ``__reduce_ex__`` parts (the
  state dict of attributes order-insensitive), recursively; with a reduction of the class's
  own (``__getstate__``...), also everything they hold (``__dict__``, ``__slots__``);
* anything else: its pickle (protocol 5), with out-of-band buffers hashed in place.

"User code" is a function, class or module whose module is ``__main__`` (a notebook or
script), was created by ``exec`` (its module is not in ``sys.modules``), or lives in a file that
is neither in the standard library nor in an installed-packages directory (``site-packages``
or ``dist-packages``); persist_ext itself is never user code (see ``_usercode``). Non-user
functions and classes are hashed by ``module.qualname`` only.
"""

from __future__ import annotations

import collections
import enum
import functools
import io
import itertools
import math
import pickle
import struct
import sys
import types
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import xxhash

from .._errors import FingerprintError
from ._arrays import array_root
from ._reduction import pickle_reduction, reduce_untouched
from ._usercode import is_user_code, module_version, referenced_names, referenced_user_code

__all__ = [
    "IMMUTABLE_ATOMS",
    "builtin_iter",
    "custom_reduction",
    "fingerprint",
    "fingerprint_code",
    "function_attributes",
    "is_user_code",
    "referenced_user_code",
    "same_objects",
    "slot_names",
]

_LEN = struct.Struct("<Q")
REDUCE_ITEMS = 1_000_000
"""Items drawn from an instance's ``__reduce_ex__`` iterators before giving up."""
_F64 = struct.Struct("<d")
_NAN = _F64.pack(math.nan)
_NEGATIVE_NAN = _F64.pack(-math.nan)
_FLOAT_FRAME = b"float" + _LEN.pack(_F64.size)  # a float's tag and length (feed_float)


def _nan_bytes(value: float) -> bytes:
    """What a NaN float is hashed as: its sign, not its payload.

    The sign is seen (``math.copysign(1, x)``, ``np.signbit``; ``inf * 0`` is a negative
    NaN on x86), the payload bits by nothing but ``struct``.

    >>> _nan_bytes(-math.nan) == _nan_bytes(math.nan), _nan_bytes(math.nan) == _NAN
    (False, True)
    """
    return _NEGATIVE_NAN if math.copysign(1.0, value) < 0 else _NAN


# Keys of a class ``__dict__`` that Python or dataclasses generate and that carry no code of
# their own (their effect is already covered by the methods and fields that are hashed).
# ``__slotnames__`` is copyreg's cache, added to the class the first time an instance is
# pickled: hashing it changed a class's digest once its instance was stored, so a cell
# making one missed on its second run.
_CLASS_SKIP = frozenset(
    {
        "__dict__",
        "__weakref__",
        "__module__",
        "__qualname__",
        "__doc__",
        "__firstlineno__",
        "__static_attributes__",
        "__slotnames__",
        "__dataclass_fields__",
        "__dataclass_params__",
        "_abc_impl",
    }
)


def builtin_iter(container: Any) -> Iterator[Any]:
    """The items a list, tuple, set or frozenset (or a subclass) holds; a dict's keys.

    Through the built-in iterator, never the subclass's own ``__iter__``: that one runs user
    code and may never end (a list subclass that streams), while what the container holds
    is finite and is what a walk of its contents needs.
    """
    for base in _BUILTIN_CONTAINERS:
        if isinstance(container, base):
            iterate: Callable[[Any], Iterator[Any]] = base.__iter__
            return iterate(container)
    return iter(container)


_BUILTIN_CONTAINERS: tuple[Any, ...] = (list, tuple, dict, set, frozenset, collections.deque)

_WEAK_PROXIES = (weakref.ProxyType, weakref.CallableProxyType)


def dead_proxy(obj: Any) -> bool:
    """Whether ``obj`` is a ``weakref.proxy`` whose referent is gone.

    Any use of such a proxy raises ``ReferenceError``, ``isinstance`` included; numba's
    dispatchers hold some. A walk over what a value holds passes over it: it holds nothing.

    >>> class Target:
    ...     pass
    >>> dead_proxy(weakref.proxy(Target())), dead_proxy([])
    (True, False)
    """
    if type(obj) not in _WEAK_PROXIES:
        return False
    try:
        obj.__class__  # noqa: B018 (the access is the test)
    except ReferenceError:
        return True
    return False


def _type_name(t: type) -> str:
    return f"{t.__module__}.{t.__qualname__}"


def _unhashable(value: Any, exc: Exception) -> FingerprintError:
    name = _type_name(type(value))
    return FingerprintError(
        f"Cannot fingerprint a value of type {name}: it is not a buffer, container, "
        f"function or class, and pickling it failed ({type(exc).__name__}: {exc}). "
        "Make it picklable (e.g. define __reduce__ or __getstate__) or leave it out "
        "of the cache key.",
        type_name=name,
    )


_DEFAULT_REDUCTION = (object.__reduce_ex__, object.__reduce__, object.__getstate__)


def custom_reduction(cls: type) -> bool:
    """Whether instances of ``cls`` are pickled by code of its own: a ``__reduce_ex__``,
    ``__reduce__``, ``__getstate__`` or ``__setstate__`` that is not ``object``'s. Such code
    may leave state out (a cache it drops, an attribute it resets), so what an instance holds
    is not known from its reduction alone.

    >>> class Plain: pass
    >>> class Dropping:
    ...     def __getstate__(self): return {}
    >>> custom_reduction(Plain), custom_reduction(Dropping)
    (False, True)
    """
    reduce_ex, reduce, getstate = _DEFAULT_REDUCTION
    return (
        getattr(cls, "__reduce_ex__", reduce_ex) is not reduce_ex
        or getattr(cls, "__reduce__", reduce) is not reduce
        or getattr(cls, "__getstate__", getstate) is not getstate
        or hasattr(cls, "__setstate__")
    )


def slot_names(cls: type) -> list[str]:
    """The ``__slots__`` names of ``cls`` and its bases (``__dict__``/``__weakref__`` aside)."""
    names: list[str] = []
    for klass in cls.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name in ("__dict__", "__weakref__") or name in names:
                continue
            if name.startswith("__") and not name.endswith("__"):
                name = f"_{klass.__name__.lstrip('_')}{name}"  # private names are mangled
            names.append(name)
    return names


# --------------------------------------------------------------------------------------------
# The hasher
# --------------------------------------------------------------------------------------------


# Values whose identity nothing can observe through a change (immutable, holding nothing).
IMMUTABLE_ATOMS = (type(None), bool, int, float, complex, str, bytes, range, type(Ellipsis))


def same_objects(values: Mapping[str, Any]) -> str:
    """Which names of ``values`` hold one object, as ``"a=b;c=d"`` (empty: none do).

    Fingerprints are of values: ``a = b = []`` and ``a, b = [], []`` hash alike name by
    name, yet ``a.append(1)`` shows in ``b`` in the first only. Immutable atoms are left
    out (``x = y = 0``: nothing tells them apart).

    >>> shared = []
    >>> same_objects({"a": shared, "b": shared, "c": [], "n": 1, "m": 1})
    'a=b'
    >>> same_objects({"a": [], "c": []})
    ''
    """
    by_id: dict[int, list[str]] = {}
    for name, value in values.items():
        if not isinstance(value, IMMUTABLE_ATOMS):
            by_id.setdefault(id(value), []).append(str(name))
    return ";".join(sorted("=".join(sorted(group)) for group in by_id.values() if len(group) > 1))


class _Hasher:
    """One top-level fingerprint call: memo of code digests and the stacks guarding cycles."""

    def __init__(
        self, reached: dict[int, Any] | None = None, noted: list[int] | None = None
    ) -> None:
        self.reached = reached
        # With a list, the ids of the objects written into pickles (library objects and what
        # they hold, atoms aside: ``model`` inside ``make_pipeline(scaler, model)``) and of a
        # pandas object's indexes (``idx = df.index``, renamed by ``df.index.name = 'k'``).
        # Never part of a digest (only fingerprint(entered=) reports them: a restored
        # frame's index is not always one object with another's), so no object is kept
        # alive for them: a temporary a reduction made cannot be a live input.
        self.noted = noted
        self.code_memo: dict[int, bytes] = {}
        self.code_active: dict[int, str] = {}
        self.containers: list[int] = []
        # Mutable containers entered so far, by id -> their number: one met again is fed as
        # a reference to that number (``[[0]] * 3`` is not ``[[0], [0], [0]]``: appending to
        # its first row shows in all three). A value sharing nothing hashes as before.
        self.entered: dict[int, int] = {}
        # Every container entered in the call, in order, also those an unordered container's
        # item entered and ``entered`` then forgot (an instance's attributes, a set's
        # items), and the memory of every array met (its ``array_root``): what
        # ``fingerprint(entered=)`` reports, so ``row = t.rows[0]`` is seen held in ``t`` and
        # ``a`` viewed by ``d = {'v': a[::2]}``; and what two items of one unordered
        # container both hold (feed_unordered).
        self.trail: list[int] = []
        self.keep: list[Any] = []  # objects whose id() is in a memo stay alive meanwhile
        # The pickler (with its sink and out-of-band buffers) that the values of this call
        # share (see feed_pickle), made on first need; dropped after an error. Each item of
        # an unordered container has one of its own.
        self._shared: tuple[_ContentPickler, io.BytesIO, list[pickle.PickleBuffer]] | None = None
        self._writing = 0  # > 0: a pickle is being written (by the shared pickler or not)

    # -- framing ---------------------------------------------------------------------------
    @staticmethod
    def put(h: Any, tag: bytes, payload: bytes | bytearray | memoryview = b"") -> None:
        h.update(tag)
        h.update(_LEN.pack(payload.nbytes if isinstance(payload, memoryview) else len(payload)))
        h.update(payload)

    def feed_code_value(self, h: Any, value: Any) -> None:
        """A function, class or module held as data: by its code, noting user functions and
        classes in ``reached`` (the globals they read are not in their code digest)."""
        if (
            self.reached is not None
            and isinstance(value, (type, types.FunctionType))
            and is_user_code(value)
        ):
            self.reached.setdefault(id(value), value)
        h.update(self.code_digest(value))

    def sub(self, value: Any) -> bytes:
        h = xxhash.xxh3_128()
        self.feed(h, value)
        return h.digest()

    # -- dispatch --------------------------------------------------------------------------
    def feed(self, h: Any, value: Any) -> None:
        t = type(value)
        exact = _EXACT.get(t)
        if exact is not None:
            exact(self, h, value)
            return
        if dead_proxy(value):  # holds nothing (``isinstance`` on it would raise)
            self.put(h, b"deadproxy")
            return
        np = sys.modules.get("numpy")
        if np is not None and isinstance(value, (np.ndarray, np.generic)):
            if isinstance(value, np.generic):
                self.put(h, b"npscalar", value.dtype.str.encode())
                self.feed_array(h, np.asarray(value))
            elif t is np.ndarray or isinstance(value, np.memmap):
                self.feed_array(h, value)
                if not value.dtype.hasobject:  # one of objects is entered as a container
                    self.feed_memory(h, value)
            else:
                self.feed_pickle(h, value)  # masked arrays, matrices: their pickle
                if is_user_code(t):
                    # A notebook subclass's attributes (``q.unit``): numpy's pickle of a
                    # subclass leaves its ``__dict__`` out.
                    self.feed_attributes(h, value)
            return
        pd = sys.modules.get("pandas")
        if pd is not None and isinstance(value, (pd.DataFrame, pd.Series, pd.Index)):
            from ._fingerprint_pandas import feed_pandas

            if isinstance(value, pd.Index):
                feed_pandas(self, h, value)
            elif self._enter(h, value):
                # A frame or Series met again is one object, as a list is: ``[df, df]``,
                # where a column added to the first shows in the second, and ``Model(df)``
                # holding an input ``df`` (fingerprint(entered=)).
                try:
                    feed_pandas(self, h, value)
                finally:
                    self.containers.pop()
            return
        if isinstance(value, (bytes, bytearray, memoryview)):
            self.feed_buffer(h, value)
        elif isinstance(value, (type, types.FunctionType, types.CodeType, types.ModuleType)):
            self.feed_code_value(h, value)
        elif isinstance(value, types.MethodType):
            self.put(h, b"method")
            self.feed(h, value.__self__)
            self.feed(h, value.__func__)
        elif isinstance(value, types.MappingProxyType):
            # A class ``__dict__``, ``singledispatch``'s registry: the mapping it shows.
            self.put(h, b"mappingproxy")
            self.feed_mapping(h, value, value.items())
        elif isinstance(value, functools.partial):
            self.put(h, b"partial")
            self.feed(h, value.func)
            self.feed(h, value.args)
            self.feed(h, value.keywords)
        elif isinstance(value, types.BuiltinFunctionType) and (
            value.__self__ is None or isinstance(value.__self__, types.ModuleType)
        ):
            self.put(h, b"builtin", f"{value.__module__}.{value.__qualname__}".encode())
        elif isinstance(value, enum.Enum):
            self.put(h, b"enum", value.name.encode())
            h.update(self.code_digest(t))
        # Subclasses of the built-in containers through the built-in iterators: what they
        # hold, whatever their own ``__iter__``/``items`` do (one may never end).
        elif isinstance(value, OrderedDict):
            self.put(h, b"odict", _type_name(t).encode())
            self.feed_sequence(h, value, list(OrderedDict.items(value)))
            self.feed_attributes(h, value)
        elif isinstance(value, dict):
            self.put(h, b"dictsub", _type_name(t).encode())
            self.feed_mapping(h, value, dict.items(value))
            if getattr(value, "default_factory", None) is not None:
                self.feed(h, value.default_factory)  # type: ignore[attr-defined]
            self.feed_attributes(h, value)
        elif isinstance(value, (list, tuple)):
            self.put(h, b"seqsub", _type_name(t).encode())
            self.feed_sequence(h, value, builtin_iter(value))
            self.feed_attributes(h, value)
        elif isinstance(value, (set, frozenset)):
            self.put(h, b"setsub", _type_name(t).encode())
            self.feed_unordered(h, value, ((v,) for v in builtin_iter(value)))
            self.feed_attributes(h, value)
        else:
            self.feed_object(h, value)

    def feed_attributes(self, h: Any, value: Any) -> None:
        """The attributes of an instance of a container's subclass (``h.best`` of a list
        subclass): its items alone leave them out. By name, in any order; an ``AttrDict``
        whose ``__dict__`` is itself is a cycle back to it."""
        attrs = getattr(value, "__dict__", None)
        if attrs:
            self.feed_tagged_unordered(h, b"attrs", attrs, dict.items(attrs))

    # -- scalars ---------------------------------------------------------------------------
    def feed_int(self, h: Any, value: int) -> None:
        n = (value.bit_length() + 8) // 8
        self.put(h, b"int", value.to_bytes(n, "little", signed=True))

    def feed_float(self, h: Any, value: float) -> None:
        self.put(h, b"float", _nan_bytes(value) if value != value else _F64.pack(value))

    def feed_complex(self, h: Any, value: complex) -> None:
        self.put(h, b"complex")
        self.feed_float(h, value.real)
        self.feed_float(h, value.imag)

    def feed_str(self, h: Any, value: str) -> None:
        self.put(h, b"str", value.encode("utf-8", "surrogatepass"))

    # -- buffers ---------------------------------------------------------------------------
    def feed_buffer(self, h: Any, value: bytes | bytearray | memoryview) -> None:
        if isinstance(value, memoryview):
            meta = f"{value.format}|{value.shape}|{value.readonly}".encode()
            self.put(h, b"memoryview", meta)
            data = value if value.c_contiguous else memoryview(value.tobytes())
            self.put(h, b"data", data.cast("B") if data.ndim != 1 or data.format != "B" else data)
        else:
            self.put(h, b"bytes" if isinstance(value, bytes) else b"bytearray", value)

    def feed_array(self, h: Any, arr: Any) -> None:
        import numpy as np

        root = array_root(arr)
        self.trail.append(id(root))
        self.keep.append(root)  # a temporary's id stays its own until the call ends
        if not arr.flags.writeable:
            # ``setflags(write=False)``: assigning into it raises where a writeable one
            # changes; a cell that set it changed the array, for every later cell.
            self.put(h, b"readonly")
        if arr.dtype.hasobject:
            self.put(h, b"objarray", repr(arr.shape).encode())
            self.feed_sequence(h, arr, arr.ravel(order="C").tolist())
            return
        # The dtype as the array has it: a byte-swapped one shows ``>i4`` (``a.dtype``,
        # ``tobytes()``), so equal values in the other byte order are another input.
        described = f"{arr.dtype.str}|{arr.dtype.descr}|{arr.shape}".encode()
        if arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "<" and sys.byteorder == "big"):
            arr = arr.astype(arr.dtype.newbyteorder("="))  # native bytes for the data below
        if not arr.flags.c_contiguous:
            arr = np.ascontiguousarray(arr)  # the one copy a strided view costs
        self.put(h, b"ndarray", described)
        if arr.dtype.metadata is not None:  # np.dtype('f8', metadata={'unit': 'm'})
            self.put(h, b"dtype-metadata")
            self.feed(h, dict(arr.dtype.metadata))
        # A zero-copy byte view of the array's memory: xxh3 reads it in place.
        self.put(h, b"data", memoryview(arr.reshape(-1).view(np.uint8)))

    def feed_memory(self, h: Any, arr: Any) -> None:
        """After an array's content, which array met before in the call owns the same
        memory, if one does: ``[a, a]`` and ``[a, a[::2]]`` are not ``[a, a.copy()]``
        (writing through one shows in the other). Numbered with the containers entered, and
        forgotten with them (feed_unordered). A pandas object's columns are not asked: how
        pandas groups them in blocks is no part of its value."""
        key = id(array_root(arr))  # kept alive by feed_array
        number = self.entered.get(key)
        if number is None:
            self.entered[key] = len(self.entered)
        else:
            self.put(h, b"memory", _LEN.pack(number))

    # -- containers ------------------------------------------------------------------------
    def _enter(self, h: Any, container: Any) -> bool:
        key = id(container)
        if key in self.containers:
            self.put(h, b"cycle", _LEN.pack(len(self.containers) - self.containers.index(key)))
            return False
        if type(container) is not tuple:  # a tuple's identity shows in nothing but ``is``
            number = self.entered.get(key)
            if number is not None:
                self.put(h, b"shared", _LEN.pack(number))
                return False
            self.entered[key] = len(self.entered)
            self.trail.append(key)
            self.keep.append(container)  # its id stays its own until the call ends
        self.containers.append(key)
        return True

    def feed_sequence(self, h: Any, container: Any, items: Iterable[Any]) -> None:
        if not self._enter(h, container):
            return
        try:
            self.put(h, b"seq", _LEN.pack(len(container)))
            # Ints, floats and strs framed here, as their feed_* methods frame them, and
            # hashed in one update per run of them: a list of numbers costs a method call
            # per item less (xxh3 streams, so the digest is the same).
            parts: list[bytes] = []
            add = parts.append
            for item in items:
                kind = type(item)
                if kind is int:
                    n = (item.bit_length() + 8) // 8
                    add(b"int" + _LEN.pack(n) + item.to_bytes(n, "little", signed=True))
                elif kind is float:
                    add(_FLOAT_FRAME + (_nan_bytes(item) if item != item else _F64.pack(item)))
                elif kind is str:
                    data = item.encode("utf-8", "surrogatepass")
                    add(b"str" + _LEN.pack(len(data)) + data)
                else:
                    if parts:
                        h.update(b"".join(parts))
                        parts.clear()
                    self.feed(h, item)
            if parts:
                h.update(b"".join(parts))
        finally:
            self.containers.pop()

    def feed_mapping(self, h: Any, container: Any, items: Iterable[tuple[Any, Any]]) -> None:
        # Key, value, key, value... in the dict's order: its insertion order is observable.
        if not self._enter(h, container):
            return
        try:
            self.put(h, b"map", _LEN.pack(len(container)))
            for key, item in items:
                self.feed(h, key)
                self.feed(h, item)
        finally:
            self.containers.pop()

    def feed_unordered(self, h: Any, container: Any, items: Iterable[tuple[Any, ...]]) -> None:
        # Each element hashed on its own, the digests sorted: equal sets/dicts hash alike
        # whatever their insertion order or PYTHONHASHSEED.
        if not self._enter(h, container):
            return
        # A pickler for each item, none shared between them: which of two items sharing an
        # object would write it and which would refer to it depends on their order.
        outer = self._shared, self._writing
        # Nor what an item entered: which of two items sharing a list would hash it and
        # which would refer to it depends on their order too (sets of instances walk in
        # the order of their ids). Shared with what came before the container, it is seen.
        entered = len(self.entered)
        try:
            digests = []
            holders: dict[int, list[bytes]] = {}  # object -> digests of the items holding it
            for item in items:
                self._shared, self._writing = None, 0
                start = len(self.trail)
                sub = xxhash.xxh3_128()
                for part in item:
                    self.feed(sub, part)
                digest = sub.digest()
                digests.append(digest)
                if len(self.trail) > start:
                    for key in set(self.trail[start:]):
                        holders.setdefault(key, []).append(digest)
                while len(self.entered) > entered:
                    self.entered.popitem()
            digests.sort()
            self.put(h, b"unordered", b"".join(digests))
            # Which items hold one object (two nodes of a set holding one list, two
            # attributes one row): each item's digest, made on its own, does not show it.
            # By the digests of the items holding it, sorted: alike in any order.
            shared = sorted(b"".join(sorted(held)) for held in holders.values() if len(held) > 1)
            if shared:
                self.put(h, b"itemsshared", b"".join(shared))
        finally:
            self._shared, self._writing = outer
            self.containers.pop()

    # -- everything else -------------------------------------------------------------------
    def feed_object(self, h: Any, value: Any) -> None:
        """Instances: user-class instances via their reduce tuple, others via pickle.

        An instance of a user class is hashed as its class's code plus the parts of
        ``__reduce_ex__(5)`` (constructor arguments, state dict, items), each recursively: it
        need not be importable by name (classes defined in a function or an exec'd
        module) and its attribute order does not matter.
        """
        if not is_user_code(type(value)):
            self.feed_pickle(h, value)
            return
        if self.reached is not None:
            self.reached.setdefault(id(type(value)), type(value))  # its methods read globals
        try:
            reduced = reduce_untouched(value)
        except Exception as exc:
            raise _unhashable(value, exc) from exc
        if isinstance(reduced, str):  # a singleton known by name
            self.put(h, b"global", reduced.encode())
            h.update(self.code_digest(type(value)))
            return
        if not self._enter(h, value):
            return
        try:
            self.put(h, b"reduce")
            h.update(self.code_digest(type(value)))
            for index, part in enumerate(tuple(reduced) + (None,) * (6 - len(reduced))):
                if index == 2 and type(part) is dict:
                    # The state: attributes by name, whatever order they were set in; and
                    # which of them are one object (``self.a = self.b = []``), which their
                    # digests, each made on its own, do not show.
                    self.feed_tagged_unordered(h, b"state", part, part.items())
                    shared = same_objects(part)
                    if shared:
                        self.put(h, b"stateshared", shared.encode())
                    continue
                if isinstance(part, Iterator):
                    # listitems / dictitems come as iterators, from the class's own
                    # ``__iter__``, which may never end: drawn up to a bound.
                    part = list(itertools.islice(part, REDUCE_ITEMS + 1))
                    if len(part) > REDUCE_ITEMS:
                        raise FingerprintError(
                            f"Cannot fingerprint a value of type {_type_name(type(value))}: "
                            f"iterating it gives more than {REDUCE_ITEMS:,} items (it may "
                            "never end). Leave it out of the cache key.",
                            type_name=_type_name(type(value)),
                        )
                self.feed(h, part)
            if custom_reduction(type(value)):
                self.feed_held_state(h, value)
        finally:
            self.containers.pop()

    def feed_held_state(self, h: Any, value: Any) -> None:
        """What an instance holds, beside its reduction: a ``__getstate__`` or ``__reduce__``
        of the class's own may leave attributes out (a cache it drops), which later cells
        still see and a cell may change. ``__dict__`` by name, then each ``__slots__``
        value (an unset slot as absent)."""
        attrs = getattr(value, "__dict__", None)
        if type(attrs) is dict:
            self.feed_tagged_unordered(h, b"held", attrs, attrs.items())
        for name in slot_names(type(value)):
            try:
                held = object.__getattribute__(value, name)
            except AttributeError:
                self.put(h, b"unset", name.encode())
                continue
            self.put(h, b"slot", name.encode())
            self.feed(h, held)

    def feed_pickle(self, h: Any, value: Any) -> None:
        """``value`` by its pickle (a library object).

        The values one fingerprint pickles in order (the items of a list or an object array,
        a dict's values) share one pickler, so its memo: an object they share is written by
        the first and referred to by the others, as one pickle of them all would do. Without
        it, each of the 16 axes of ``plt.subplots(4, 4)`` (an object array) wrote the whole
        figure again (seconds for one cell reading ``ax``). A value that shares nothing with the
        earlier ones pickles exactly as alone (protocol 5 memoizes without numbering).
        """
        # Asked while a pickle is written (a notebook function's default value, met by
        # persistent_id): a pickler of its own.
        shared = self._writing == 0
        if shared:
            if self._shared is None:
                self._shared = self._pickler()
            pickler, sink, buffers = self._shared
        else:
            pickler, sink, buffers = self._pickler()
        self._writing += 1
        try:
            pickler.dump(value)
        except Exception as exc:
            if shared:  # its memo may now name objects whose pickle was never hashed
                self._shared = None
            raise _unhashable(value, exc) from exc
        finally:
            self._writing -= 1
        with sink.getbuffer() as written:
            self.put(h, b"pickle", written)
        for buf in buffers:
            raw = buf.raw()
            self.put(h, b"oob", raw if raw.c_contiguous else memoryview(raw.tobytes()))
        if shared:
            sink.seek(0)
            sink.truncate()
            buffers.clear()

    def _pickler(self) -> tuple[_ContentPickler, io.BytesIO, list[pickle.PickleBuffer]]:
        sink = io.BytesIO()
        buffers: list[pickle.PickleBuffer] = []
        pickler = _ContentPickler(sink, self, protocol=5, buffer_callback=buffers.append)
        pickler.noted = self.noted
        return pickler, sink, buffers

    # -- code ------------------------------------------------------------------------------
    def code_digest(self, obj: Any) -> bytes:
        """Digest of a function, class, module or code object (memoized, cycle-safe)."""
        key = id(obj)
        if key in self.code_memo:
            return self.code_memo[key]
        if key in self.code_active:
            # A recursive reference (f calls g calls f): name it instead of recursing.
            h = xxhash.xxh3_128()
            self.put(h, b"coderef", self.code_active[key].encode())
            return h.digest()
        self.code_active[key] = getattr(obj, "__qualname__", getattr(obj, "__name__", "?"))
        self.keep.append(obj)
        try:
            h = xxhash.xxh3_128()
            if isinstance(obj, types.CodeType):
                self.feed_code(h, obj)
            elif isinstance(obj, types.ModuleType):
                self.feed_module(h, obj)
            elif not is_user_code(obj):
                kind = b"class" if isinstance(obj, type) else b"function"
                self.put(h, kind, f"{obj.__module__}.{obj.__qualname__}".encode())
            elif isinstance(obj, type):
                self.feed_class(h, obj)
            else:
                self.feed_function(h, obj)
            digest = h.digest()
        finally:
            del self.code_active[key]
        self.code_memo[key] = digest
        return digest

    def feed_code(self, h: Any, code: types.CodeType) -> None:
        # File name and line numbers are left out: moving a function does not change it.
        self.put(h, b"code", code.co_code)
        self.put(h, b"name", code.co_name.encode())
        head = (code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount, code.co_flags)
        self.put(h, b"argspec", repr(head).encode())
        for label, names in (
            (b"names", code.co_names),
            (b"varnames", code.co_varnames),
            (b"freevars", code.co_freevars),
            (b"cellvars", code.co_cellvars),
        ):
            self.put(h, label, "\x00".join(names).encode())
        self.put(h, b"consts", _LEN.pack(len(code.co_consts)))
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                h.update(self.code_digest(const))
            else:
                self.feed(h, const)

    def feed_function(self, h: Any, fn: types.FunctionType) -> None:
        self.put(h, b"userfunction", fn.__qualname__.encode())
        h.update(self.code_digest(fn.__code__))
        self.feed(h, fn.__defaults__)
        self.feed(h, fn.__kwdefaults__)
        for cell in fn.__closure__ or ():
            try:
                contents = cell.cell_contents
            except ValueError:  # a cell not yet assigned
                self.put(h, b"emptycell")
            else:
                self.feed(h, contents)
        for name, target in referenced_names(fn):
            self.put(h, b"ref", name.encode())
            h.update(self.code_digest(target))
        if fn.__dict__:
            self.feed_function_attributes(h, fn.__dict__)

    def feed_function_attributes(self, h: Any, attrs: dict[str, Any]) -> None:
        """Attributes a function reads or sets on itself (``f.calls += 1``, ``scale.factor``),
        by name in any order. One that cannot be fingerprinted counts by its type: what
        decorators attach (``singledispatch``'s ``_clear_cache``, a bound method of a weak
        dictionary; a widget) must not make every cell calling the function unkeyable."""
        digests = []
        for name, value in attrs.items():
            sub = xxhash.xxh3_128()
            try:
                self.feed_str(sub, str(name))
                self.feed(sub, value)
            except FingerprintError:
                sub = xxhash.xxh3_128()
                self.feed_str(sub, str(name))
                self.put(sub, b"unhashable", _type_name(type(value)).encode())
            digests.append(sub.digest())
        digests.sort()
        self.put(h, b"fattrs", b"".join(digests))

    def feed_class(self, h: Any, cls: type) -> None:
        self.put(h, b"userclass", cls.__qualname__.encode())
        for base in cls.__bases__:
            h.update(self.code_digest(base))
        for name in sorted(cls.__dict__):
            if name in _CLASS_SKIP:
                continue
            attr = cls.__dict__[name]
            if isinstance(attr, (types.MemberDescriptorType, types.GetSetDescriptorType)):
                continue  # __slots__ members; the names are in __slots__ itself
            self.put(h, b"attr", name.encode())
            if isinstance(attr, (staticmethod, classmethod)):
                self.feed(h, attr.__func__)
            elif isinstance(attr, property):
                for part in (attr.fget, attr.fset, attr.fdel):
                    self.feed(h, part)
            elif isinstance(attr, functools.cached_property):
                # Its function is the code; it holds a lock (Python < 3.12) besides.
                self.feed(h, attr.func)
            else:
                self.feed(h, attr)

    def feed_tagged_sequence(self, h: Any, tag: bytes, value: Any) -> None:
        self.put(h, tag)
        self.feed_sequence(h, value, value)

    def feed_tagged_mapping(self, h: Any, tag: bytes, value: dict) -> None:
        self.put(h, tag)
        self.feed_mapping(h, value, value.items())

    def feed_tagged_unordered(self, h: Any, tag: bytes, value: Any, items: Any) -> None:
        self.put(h, tag)
        self.feed_unordered(h, value, items)

    def feed_module(self, h: Any, module: types.ModuleType) -> None:
        self.put(h, b"module", module.__name__.encode())
        if is_user_code(module):
            file = getattr(module, "__file__", None)
            if file and Path(file).is_file():
                self.put(h, b"source", xxhash.xxh3_128_digest(Path(file).read_bytes()))
        else:
            self.put(h, b"version", module_version(module).encode())


_EXACT: dict[type, Callable[[_Hasher, Any, Any], None]] = {
    type(None): lambda s, h, v: s.put(h, b"none"),
    type(...): lambda s, h, v: s.put(h, b"ellipsis"),
    type(NotImplemented): lambda s, h, v: s.put(h, b"notimpl"),
    bool: lambda s, h, v: s.put(h, b"bool", b"\x01" if v else b"\x00"),
    int: _Hasher.feed_int,
    float: _Hasher.feed_float,
    complex: _Hasher.feed_complex,
    str: _Hasher.feed_str,
    bytes: _Hasher.feed_buffer,
    bytearray: _Hasher.feed_buffer,
    memoryview: _Hasher.feed_buffer,
    list: lambda s, h, v: s.feed_tagged_sequence(h, b"list", v),
    tuple: lambda s, h, v: s.feed_tagged_sequence(h, b"tuple", v),
    dict: lambda s, h, v: s.feed_tagged_mapping(h, b"dict", v),
    set: lambda s, h, v: s.feed_tagged_unordered(h, b"set", v, ((x,) for x in v)),
    frozenset: lambda s, h, v: s.feed_tagged_unordered(h, b"fset", v, ((x,) for x in v)),
    types.FunctionType: _Hasher.feed_code_value,
    type: _Hasher.feed_code_value,
}


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _matplotlib_content(obj: Any) -> Any:
    """What a matplotlib object holds, for a fingerprint, where its own pickling would make
    the same figure another digest every time (``NotImplemented``: its own pickling).

    * A transform pickles its parents (the transforms derived from it, held weakly so they
      can be invalidated) in a dict keyed by ``id()``: another digest in every process, so
      a cell reading an axes or a line never hit in a new kernel. Left out: what a
      transform computes is in its children and values.
    * A callback registry's ``__getstate__`` takes the next callback id from its counter:
      each pickle of a figure changed the next one, and moved the ids later
      ``mpl_connect`` calls return. Its state is read here without it (nothing advances).
    """
    cbook = sys.modules.get("matplotlib.cbook")
    registry = getattr(cbook, "CallbackRegistry", None)
    if registry is not None and type(obj) is registry:
        kept: Any = getattr(obj, "_pickled_cids", ())
        held = {k: v for k, v in vars(obj).items() if k not in _CALLBACK_COUNTERS}
        held["callbacks"] = {
            signal: {cid: proxy() for cid, proxy in by_cid.items() if cid in kept}
            for signal, by_cid in getattr(obj, "callbacks", {}).items()
        }
        return type(obj), (), held
    transforms = sys.modules.get("matplotlib.transforms")
    if transforms is not None and isinstance(obj, transforms.TransformNode):
        reduced = reduce_untouched(obj)
        state = reduced[2] if len(reduced) > 2 else None
        if type(state) is dict and "_parents" in state:
            state = {k: v for k, v in state.items() if k != "_parents"}
            return (*reduced[:2], state, *reduced[3:])
    return NotImplemented


# A callback registry's callbacks (taken as its own pickling keeps them), its id counter and
# the map rebuilt from them on load.
_CALLBACK_COUNTERS = frozenset({"callbacks", "_cid_gen", "_func_cid_map"})


# Objects that are pickled as themselves (no dtype, no notebook code): ``persistent_id``
# answers for them at once; the atoms among them without noting them (_Hasher.noted).
_ATOMS_NO_ID = frozenset({int, float, bool, type(None), tuple, bytes, frozenset})
_NO_ID = _ATOMS_NO_ID | {list, dict, set}


class _ContentPickler(pickle.Pickler):
    """A pickler for hashing, where every string is written in full wherever it occurs.

    Which equal strings are one object is no part of a value, but a pickle shows it (the
    second occurrence is a reference to the first). A fitted scikit-learn forest shares its
    interned parameter names; unpickled, it holds copies: the same model, another pickle.
    Here a string is its own text every time (``persistent_id`` is asked about every object
    before it is written; the text goes out as bytes, which are not asked about again).

    >>> import types
    >>> made = "".join(["crit", "erion"])  # equal to the literal, another object
    >>> shared = types.SimpleNamespace(params=("criterion", "criterion"))
    >>> copied = types.SimpleNamespace(params=("criterion", made))
    >>> fingerprint(shared) == fingerprint(copied)
    True
    """

    def __init__(self, sink: Any, hasher: _Hasher, **kwargs: Any) -> None:
        super().__init__(sink, **kwargs)
        self.hasher = hasher
        self.noted: list[int] | None = None  # where to note the objects written, if asked
        self._dtype = getattr(sys.modules.get("numpy"), "dtype", None)

    def reducer_override(self, obj: Any) -> Any:
        # ``_usercode.type_module`` inlined: asked of every object pickled.
        if (type(obj).__module__ or "").startswith("matplotlib."):
            reduced = _matplotlib_content(obj)
            if reduced is not NotImplemented:
                return reduced
        return pickle_reduction(obj)

    def persistent_id(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is str:
            return obj.encode("utf-8", "surrogatepass")
        if kind in _ATOMS_NO_ID:  # asked about every object: most of a figure's are these
            return None
        # Data a later cell can change through the object, noted (a dtype, a function or
        # a class is not: which one it is, not which object, is its part of the value).
        noted = self.noted
        if kind in _NO_ID:
            if noted is not None:
                noted.append(id(obj))
            return None
        if self._dtype is not None and isinstance(obj, self._dtype):
            # By what it is, not whether two arrays share one dtype object: an array loaded
            # from a pickle has a dtype of its own, and a line of it with another array of the
            # same dtype pickled otherwise than the line the cell first made.
            return ("dtype", str(obj), obj.char, obj.byteorder)
        if kind is types.FunctionType or isinstance(obj, type):
            if is_user_code(obj):
                # A notebook function or class inside a library object (a
                # FunctionTransformer's func, the class of an instance in an object column):
                # pickle names it only; here it counts by its code, and what it reads is
                # noted as for one held in data.
                h = xxhash.xxh3_128()
                self.hasher.feed_code_value(h, obj)
                return ("code", h.digest())  # a tuple: never the bytes a string gives
            return None
        if noted is not None:
            noted.append(id(obj))
        return None


def fingerprint(
    value: Any, reached: dict[int, Any] | None = None, entered: set[int] | None = None
) -> str:
    """Return a stable content digest of ``value``: 32 hex characters (xxh3_128).

    Equal values give equal digests across processes, restarts and hash seeds. Large
    buffers (numpy arrays, pandas columns, bytes) are hashed in place at memory speed.

    Parameters
    ----------
    value
        Any Python value; see the module docstring for how each kind is hashed.
    reached
        With it, every user function and class met in ``value`` (held in a container, an
        attribute, a ``functools.partial``, or the class of an instance) is added to it by
        ``id``: their code is in the digest, the global data they read is not.
    entered
        With it, the ids of the lists, dicts, sets, instances and pandas objects met
        anywhere in ``value`` (also inside the pickle of a library object), and of the
        arrays owning the memory of the arrays met (``array_root``), are added to it: what
        another value shares with this one (``row = grid[0]``, a view of ``a`` in
        ``{'v': a[::2]}``, ``model`` in ``make_pipeline(scaler, model)``, ``df.index``).

    Returns
    -------
    str
        The hex digest.

    Raises
    ------
    FingerprintError
        ``value`` (or something inside it) is of a type that cannot be hashed: not a
        buffer, container, function or class, and not picklable. The message and
        ``type_name`` name that type.

    Examples
    --------
    >>> fingerprint({"a": 1, "b": [1.0, 2.0]}) == fingerprint(dict(a=1, b=[1.0, 2.0]))
    True
    >>> fingerprint({"a": 1, "b": 2}) == fingerprint({"b": 2, "a": 1})  # list(d) differs
    False
    >>> fingerprint([1, 2]) == fingerprint((1, 2))
    False
    >>> import threading
    >>> fingerprint(threading.Lock())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    persist_ext._errors.FingerprintError: Cannot fingerprint a value of type _thread.lock: ...
    """
    parts: list[bytes] = []
    if _simple(value, parts, 0):
        return xxhash.xxh3_128_hexdigest(b"".join(parts))
    h = xxhash.xxh3_128()
    hasher = _Hasher(reached, None if entered is None else [])
    hasher.feed(h, value)
    if entered is not None:
        entered.update(hasher.trail)
        entered.update(hasher.noted or ())
    return h.hexdigest()


_ZERO = _LEN.pack(0)
_ONE = _LEN.pack(1)
_EIGHT = _LEN.pack(8)
_SIMPLE_ITEMS = 64


def _simple(value: Any, out: list[bytes], depth: int) -> bool:
    """Append the bytes :class:`_Hasher` would feed for ``value`` when it is a small scalar
    or a short tuple of them (the arguments of most cached calls); ``False`` otherwise.

    The same byte stream as the general path (tag, length, payload; a tuple's framing),
    only without a hasher object and a dispatch per element, so the digest is identical
    (``tests/unit/test_fingerprint.py`` compares the two on many values).
    """
    t = type(value)
    if t is int:
        n = (value.bit_length() + 8) // 8
        out += (b"int", _LEN.pack(n), value.to_bytes(n, "little", signed=True))
    elif t is str:
        if len(value) > 4096:
            return False
        data = value.encode("utf-8", "surrogatepass")
        out += (b"str", _LEN.pack(len(data)), data)
    elif t is float:
        out += (b"float", _EIGHT, _nan_bytes(value) if value != value else _F64.pack(value))
    elif value is None:
        out += (b"none", _ZERO)
    elif t is bool:
        out += (b"bool", _ONE, b"\x01" if value else b"\x00")
    elif t is tuple and depth < 3 and len(value) <= _SIMPLE_ITEMS:
        out += (b"tuple", _ZERO, b"seq", _EIGHT, _LEN.pack(len(value)))
        for item in value:
            if not _simple(item, out, depth + 1):
                return False
    else:
        return False
    return True


def function_attributes(fn: types.FunctionType) -> bytes | None:
    """The digest of ``fn``'s own attributes as :func:`fingerprint_code` counts them
    (``None`` when it has none): what a cached code digest revalidated by identity must
    still check (``scale.factor = 3`` changes no identity)."""
    if not fn.__dict__:
        return None
    h = xxhash.xxh3_128()
    _Hasher().feed_function_attributes(h, fn.__dict__)
    return h.digest()


def fingerprint_code(obj: Any) -> str:
    """Return the digest of a function's or class's code, and of the user code it reaches.

    For a user function: its bytecode, constants (nested code objects recursively), names,
    argument spec, defaults, closure cell values, and the digests of the user functions,
    classes and modules its code refers to through global names (transitively; recursion
    between functions is cut by naming the function already being hashed). For a user class:
    its bases and every attribute of its ``__dict__`` (methods by code). File names and line
    numbers are not part of the digest, so moving code around keeps its digest. Non-user code
    is hashed by ``module.qualname``; a module by name and version.

    Bytecode differs between Python minor versions, so code digests are stable across
    processes and restarts on one Python version, not across versions.

    Examples
    --------
    >>> def area(r):
    ...     return 3.14159 * r * r
    >>> def area2(r):
    ...     return 3.14159 * r * r
    >>> fingerprint_code(area) == fingerprint_code(area2)  # same code, different name
    False
    >>> fingerprint_code(area) == fingerprint_code(area)
    True
    >>> fingerprint_code(42)
    Traceback (most recent call last):
    TypeError: fingerprint_code() takes a function, class, method, module or code object, not int.
    """
    if isinstance(obj, types.MethodType):
        obj = obj.__func__
    if not isinstance(obj, (types.FunctionType, type, types.ModuleType, types.CodeType)):
        raise TypeError(
            "fingerprint_code() takes a function, class, method, module or code object, "
            f"not {type(obj).__name__}."
        )
    return _Hasher().code_digest(obj).hex()

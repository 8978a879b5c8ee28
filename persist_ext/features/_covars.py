"""Co-variables: namespace variables that share objects are stored and loaded together.

Two names bound to one list (``a = b = []``), a numpy view and its base, ``fig`` and an
``ax`` whose ``.figure`` is ``fig``: storing each variable on its own would restore two
lists, an unlinked copy, a second figure. Kishu calls such variables *co-variables*; here
they are found by walking each value's object graph (:func:`group_variables`) and each
group is stored as **one** pickle (:func:`save_groups`), whose memo keeps every shared
object shared. Inside a group:

* a numpy view whose base array is stored with it comes back as a view of that base
  (same memory, same strides), so writing through the view still changes the base;
* modules are stored by name and imported again (``m = np`` is a reference, not data);
* instances of classes defined in the notebook are pickled by reference to the class
  (``__main__.Point``), so a restored instance is an instance of the *live* class;
* variables of the group the caller marks *live* (:attr:`Group.live`: inputs the cell read
  and left unchanged) are not stored: the others refer to the objects those names hold when
  the group is loaded, so ``alias = a`` comes back as ``a`` itself and ``upper =
  grid[:2]`` as a view of the live ``grid`` (a cell restored later cannot unlink what an
  earlier cell bound). A stored variable holding an object *inside* a live input (``x =
  data['k']``) cannot be linked that way: the group is refused with
  :class:`~persist_ext._errors.SharedInputError`, and the caller runs the cell instead.

A group of one exact ``numpy.ndarray`` that owns its memory keeps the store's raw array
format (memory-mappable), and a lone numeric DataFrame or Series with a plain index the
store's Arrow format; everything else is a pickle: exact, never an approximation (an Arrow
round-trip loses list-valued object columns, periods and index frequencies).

The API is small and independent of the cell cache::

    groups = group_variables({"a": a, "b": b, "x": x})        # [Group(('a', 'b')), Group(('x',))]
    saved = save_groups(store, "prefix/", values, groups)     # one entry per group
    values = load_groups(store, saved.keys)                    # {"a": ..., "b": ..., "x": ...}

Walks are bounded: past ``budget`` objects the walk gives up, and the variables it could not
finish are put in one group with every other variable of the mapping (one pickle preserves
any sharing among them); :attr:`Group.complete` says so, so callers can note it.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import copyreg
import dataclasses
import enum
import functools
import gc
import importlib
import io
import itertools
import numbers
import os
import pickle
import re
import struct
import sys
import types
import weakref
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._errors import ByNameError, LiveLayoutError, SerializationError, SharedInputError
from ..storage._arrays import array_root
from ..storage._fingerprint import (
    IMMUTABLE_ATOMS,
    builtin_iter,
    custom_reduction,
    dead_proxy,
    fingerprint,
    is_user_code,
)
from ..storage._protocol import KeyValueStore
from ..storage._reduction import notebook_attributes, pickle_reduction, reduce_untouched
from ..storage._serializers import exact_dtype_code, summarize_members
from ._bounded import BoundedSink

__all__ = [
    "DEFAULT_BUDGET",
    "Group",
    "HeldCodeError",
    "LossyStateError",
    "SavedGroups",
    "bound_data",
    "closed_handle",
    "discarding_output",
    "dumps_shared",
    "frame_memory",
    "global_rng_ids",
    "global_rng_reduction",
    "group_variables",
    "held_by_function",
    "held_weakly",
    "import_quietly",
    "load_groups",
    "loads_shared",
    "memory_shared_with",
    "reachable_ids",
    "rebuild_view",
    "save_groups",
    "writeable_flag",
]

DEFAULT_BUDGET = 200_000
"""Objects visited by one :func:`group_variables` call before it gives up."""

# Values that cannot be shared in any way that matters (immutable scalars and text).
_ATOMIC = IMMUTABLE_ATOMS  # never shared data (one rule with the fingerprint's)
_BUILTIN_ITERATORS = frozenset({"enumerate", "zip", "map", "filter", "reversed"})
_BUILTIN_METHOD = types.BuiltinMethodType
# ``ks = d.keys()`` sees ``d`` change: walked to its dict, pickled as a view of it.
_DICT_VIEWS = {type({}.keys()): "keys", type({}.values()): "values", type({}.items()): "items"}
_C_HOLDERS = (types.MappingProxyType, memoryview)


def _is_flatiter(kind: type) -> bool:
    return kind.__name__ == "flatiter" and kind.__module__ == "numpy"


def _holds_in_c(obj: Any) -> bool:
    """Whether ``obj`` is one of the C objects :func:`held_in_c` looks into."""
    return isinstance(obj, _C_HOLDERS) or _is_flatiter(type(obj))


def held_in_c(obj: Any) -> list[Any]:
    """What a C object that sees another one holds of it, in a field no ``__dict__`` shows:
    a ``types.MappingProxyType``'s mapping, a ``memoryview``'s exporter, a numpy
    ``flatiter``'s array (``flat = a.flat``). Empty for anything else. Such a holder cannot
    be stored (:class:`_SharingPickler` refuses it): a restore would load it apart from the
    object it sees, which a re-run changes.

    >>> d, buf = {"a": 1}, bytearray(b"ab")
    >>> held_in_c(types.MappingProxyType(d))[0] is d, held_in_c(memoryview(buf))[0] is buf
    (True, True)
    >>> held_in_c([d])
    []
    """
    if isinstance(obj, types.MappingProxyType):
        return gc.get_referents(obj)
    if isinstance(obj, memoryview):
        try:
            return [obj.obj]
        except ValueError:  # released
            return []
    if _is_flatiter(type(obj)):
        return [obj.base]
    return []


def held_weakly(value: Any) -> tuple[Any, ...]:
    """The live objects a weak reference or weak container of the namespace refers to
    (``r = weakref.ref(box)``, a ``WeakValueDictionary``'s values): like a function's
    closure, it keeps seeing the object a restore would replace.

    >>> class Box:
    ...     pass
    >>> box = Box()
    >>> held_weakly(weakref.ref(box))[0] is box, held_weakly(weakref.WeakSet([box]))[0] is box
    (True, True)
    >>> held_weakly([box])
    ()
    """
    held: tuple[Any, ...]
    if isinstance(value, weakref.ref):
        target = value()
        held = () if target is None else (target,)
    elif isinstance(value, weakref.WeakValueDictionary):
        held = tuple(value.values())
    elif isinstance(value, weakref.WeakKeyDictionary):
        held = tuple(value.keys())
    elif isinstance(value, weakref.WeakSet):
        held = tuple(value)
    else:
        return ()
    return tuple(v for v in held if not isinstance(v, (_ATOMIC, _BY_REFERENCE)))


def bound_data(method: Any) -> Any:
    """The object a method is bound to when that object is data (``lst`` for
    ``lst.append``, ``model`` for ``model.fit``); ``None`` for anything else, and for a
    method of a module or a class (``math.sqrt``, ``pd.DataFrame.from_dict``).

    >>> lst = []
    >>> bound_data(lst.append) is lst, bound_data(len), bound_data(dict.fromkeys)
    (True, None, None)
    >>> bound_data(lst.__setitem__) is lst  # a slot's method-wrapper
    True
    """
    if type(method) not in (types.BuiltinMethodType, types.MethodType, types.MethodWrapperType):
        return None
    bound = method.__self__
    return None if bound is None or isinstance(bound, (types.ModuleType, type)) else bound


def held_by_function(fn: Any) -> tuple[Any, ...]:
    """The data a notebook function holds besides its code: what its closure cells and
    default values hold, other than immutable scalars and code.

    >>> totals = []
    >>> def add(x, into=totals):
    ...     into.append(x)
    >>> held_by_function(add)[0] is totals, held_by_function(len)
    (True, ())
    """
    if not isinstance(fn, types.FunctionType):
        return ()
    held = []
    for cell in fn.__closure__ or ():
        try:
            held.append(cell.cell_contents)
        except ValueError:  # a name the enclosing function had not bound yet
            pass
    held += fn.__defaults__ or ()
    held += (fn.__kwdefaults__ or {}).values()
    return tuple(v for v in held if not isinstance(v, (_ATOMIC, _BY_REFERENCE)))


def _is_c_iterator(cls: type) -> bool:
    """Whether ``cls`` is a C iterator whose referents are what it walks (``list_iterator``,
    ``enumerate``, ``itertools.islice``...); not a generator, whose frame holds a namespace."""
    if cls.__module__ == "itertools":
        return True
    return cls.__module__ == "builtins" and (
        cls.__name__ in _BUILTIN_ITERATORS or cls.__name__.endswith("iterator")
    )


# Code and modules are kept by reference, never part of a variable's data.
_BY_REFERENCE = (
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.CodeType,
    type,
)


@dataclass(frozen=True)
class Group:
    """Variables that share at least one object (directly or through others).

    Attributes
    ----------
    names
        The variables, sorted.
    complete
        ``False`` when the walk ran out of budget for at least one of them, so they were
        grouped conservatively rather than by what they really share.
    views
        Some numpy array reached is a view of another array; :func:`save_groups` then
        stores views linked to their base (which costs a copy of each array on load).
    """

    names: tuple[str, ...]
    complete: bool = True
    views: bool = False  # some numpy array in it is a view (stored linked to its base)
    live: tuple[str, ...] = ()  # referenced at load time, never stored (see the module doc)
    nans: bool = False  # it holds float NaN objects, whose identity the pickle keeps
    #: It holds a set that pickle would load iterating in another order (:func:`reorders`),
    #: which the pickle rebuilds in its order (:meth:`_NanSharingPickler.set_id`).
    sets: bool = False
    #: Functions (not stored: code) whose closure or default values hold an object of the
    #: group; :func:`save_groups` refuses such a group (a restore would leave them holding
    #: the old object while the variables get new ones).
    held_by: tuple[str, ...] = ()


def memory_shared_with(
    values: Mapping[str, Any], names: Iterable[str], changed: Iterable[str]
) -> set[str]:
    """The names among ``names`` whose array views memory that an array of ``changed``
    views or owns (``values``: name -> object). A view's fingerprint covers its own
    elements only: after ``x, y = b[:, 1], b[:, 3]`` and ``x.sort()``, ``y`` is unchanged
    but the memory it shares with ``x`` is not, so it cannot stand for that memory.

    >>> import numpy as np
    >>> b = np.zeros((2, 3))
    >>> sorted(memory_shared_with({"x": b[:, 0], "y": b[:, 1], "z": np.ones(2)}, ["y", "z"], ["x"]))
    ['y']
    """
    np = sys.modules.get("numpy")
    if np is None:
        return set()
    roots = {id(array_root(values[n])) for n in changed if isinstance(values.get(n), np.ndarray)}
    if not roots:
        return set()
    return {
        n
        for n in names
        if isinstance(values.get(n), np.ndarray) and id(array_root(values[n])) in roots
    }


_NONE_OWNED: Mapping[int, Any] = {}


def _seed_free(item: Any) -> bool:
    """Whether ``item`` hashes alike in every process: numbers, None, tuples of them (named
    tuples too), and frozen dataclasses of them (hashed as the tuple of their fields).

    >>> _seed_free((1, 2.5, None)), _seed_free((1, "a"))
    (True, False)
    """
    if item is None or isinstance(item, numbers.Number):
        return True
    if isinstance(item, tuple):
        return all(_seed_free(part) for part in item)
    params = getattr(type(item), "__dataclass_params__", None)
    if params is not None and params.frozen and params.eq:
        return all(_seed_free(getattr(item, f.name, None)) for f in dataclasses.fields(item))
    return False


def reorders(value: Any) -> bool:
    """Whether pickle would load the set ``value`` iterating in another order, its items
    hashing alike in every process (a plain re-run makes the same set in every kernel).

    Pickle stores a set's items and loads them into a new set, whose hash table is sized for
    them: a set left with few items in a large table (a sieve discarding the composites of
    ``set(range(2, 50))``) iterates ``2, 3, 5, 7, 11...`` and loaded ``2, 3, 5, 37, 7...``.

    >>> left = set(range(100))
    >>> for i in range(100):
    ...     if i not in (7, 8):
    ...         left.discard(i)
    >>> list(left), list(set(list(left))), reorders(left)
    ([7, 8], [8, 7], True)
    >>> reorders({7, 8}), reorders(left - {7})
    (False, False)
    """
    if type(value) not in (set, frozenset) or len(value) < 2:
        return False
    items = list(value)
    if list(type(value)(items)) == items:
        return False
    return all(_seed_free(item) for item in items)


_EMPTY_SET_BYTES = sys.getsizeof(set())
_SET_SLOT_BYTES = 16  # a hash and a pointer
_SET_REBUILDS = ("plain", "presized", "padded")
_PADDED_MAX_SLOTS = 1 << 24


def _table_slots(value: set[Any] | frozenset[Any]) -> int:
    """The slots of the hash table of ``value`` (8 for a set small enough for its own)."""
    extra = sys.getsizeof(value) - _EMPTY_SET_BYTES
    return extra // _SET_SLOT_BYTES if extra > 0 else 8


def set_in_order(frozen: bool, items: list[Any], slots: int, how: str) -> Any:
    """A set of ``items`` made the way ``how`` names (:data:`_SET_REBUILDS`), which may give
    it the iteration order ``items`` are in: ``plain`` inserts them into a new set, as pickle
    does; ``presized`` into one sized for twice their number first; ``padded`` (a set, not a
    frozenset) into a table of ``slots`` slots, which the original had, the padding first
    put in (and taken out of) slots away from where the items go. Whether it did is for the
    caller to check (:func:`set_rebuild`): it depends on the items' history.

    >>> set_in_order(False, [7, 8], 512, "padded"), set_in_order(False, [7, 8], 512, "plain")
    ({7, 8}, {8, 7})
    """
    kind: Any = frozenset if frozen else set
    if how == "plain":
        return kind(items)
    if how == "presized":
        return kind(dict.fromkeys(items))
    if how != "padded" or frozen or not 8 <= slots <= _PADDED_MAX_SLOTS:
        raise ValueError(f"no {how!r} rebuild of a set of {slots} slots")
    mask = slots - 1
    near: set[int] = set()
    for item in items:
        home = hash(item) & mask
        near.update(range(home, home + 10))  # where an item probes first (9 linear probes)
    # Ints stand for the slots they hash to: a dict of a quarter of the slots makes the
    # table that size; removed again, they leave dummies only where no item goes.
    pads = [slot for slot in range(slots) if slot not in near][: slots // 4]
    made = set(dict.fromkeys(pads))
    for pad in pads:
        made.discard(pad)
    made.update(items)
    return made


def set_rebuild(value: set[Any] | frozenset[Any]) -> str | None:
    """The first of :data:`_SET_REBUILDS` that makes a set iterating as ``value`` does, or
    ``None`` when none does (items placed by their history: collisions, removals)."""
    items = list(value)
    frozen = type(value) is frozenset
    slots = _table_slots(value)
    for how in _SET_REBUILDS:
        if how == "padded" and (frozen or not 8 <= slots <= _PADDED_MAX_SLOTS):
            continue
        if list(set_in_order(frozen, items, slots, how)) == items:
            return how
    return None


class _Walker:
    """Collect the ids of the shareable objects reachable from one value."""

    def __init__(
        self, budget: int, with_frame_memory: bool = False, check_sets: bool = False
    ) -> None:
        self.budget = budget
        self.with_frame_memory = with_frame_memory
        self.check_sets = check_sets  # note a set pickle would reorder (costs a copy of each)
        self.exhausted = False
        self.saw_view = False
        self.saw_nan = False
        self.saw_reordered_set = False  # a set pickle would load in another order
        np = sys.modules.get("numpy")
        pd = sys.modules.get("pandas")
        self.ndarray = np.ndarray if np is not None else ()
        self.opaque: tuple[type, ...] = ()
        self.frames: tuple[type, ...] = ()
        # ``loc = df.loc`` (and ``iloc``, ``at``, ``iat``) holds ``df`` in a C attribute,
        # which neither ``__dict__`` nor ``__slots__`` shows.
        indexing = sys.modules.get("pandas._libs.indexing")
        self.indexers: tuple[type, ...] = (
            (indexing.NDFrameIndexerBase,) if indexing is not None else ()
        )
        # A numpy Generator (or RandomState) holds its bit generator in a C field too:
        # ``bg = rng.bit_generator`` shares it, and a draw from ``rng`` moves ``bg``.
        random = sys.modules.get("numpy.random")
        self.generators: tuple[type, ...] = (
            (random.Generator, random.RandomState) if random is not None else ()
        )
        if pd is not None:
            # pandas copies on write (pandas >= 3): objects sharing memory behave as copies,
            # so a frame's own identity is all that can be shared, and its index objects:
            # ``pd.DataFrame({'total': pop})`` keeps ``pop.index`` itself, and setting
            # ``pop.index.names`` renames the frame's index too.
            self.opaque = (pd.DataFrame, pd.Series, pd.Index)
            self.frames = (pd.DataFrame, pd.Series)

    def reach(self, value: Any, owned: Mapping[int, Any] = _NONE_OWNED) -> set[int]:
        """The ids reachable from ``value``; one in ``owned`` (reached from an earlier
        variable) is added but not entered: what it holds was walked then, and meeting it
        already puts the two variables in one group. Without that, each of ``fig``, ``ax``
        and ``axi`` walked a figure of 16 axes anew (~350,000 objects each)."""
        found: set[int] = set()
        stack = [value]
        while stack:
            obj = stack.pop()
            if dead_proxy(obj):
                continue
            if isinstance(obj, (_ATOMIC, _BY_REFERENCE)):
                if type(obj) is float and obj != obj:
                    # NaN is not equal to itself: ``x in lst``, ``lst.index(x)``, dict keys
                    # and sets find it by identity, so which NaN object is held is data.
                    self.saw_nan = True
                    found.add(id(obj))
                elif type(obj) is _BUILTIN_METHOD:  # checked here: walks meet atoms by millions
                    bound = bound_data(obj)
                    if bound is not None:
                        stack.append(bound)  # ``app = lst.append`` holds ``lst`` itself
                elif type(obj) is types.FunctionType and is_user_code(obj):
                    # ``h.get = make(acc)``: a notebook closure (or default value) held in
                    # data sees ``acc``; a function of the namespace is a holder instead.
                    stack.extend(held_by_function(obj))
                continue
            self.budget -= 1
            if self.budget < 0:
                self.exhausted = True
                return found
            if self.ndarray and isinstance(obj, self.ndarray):
                root = array_root(obj)
                if root is not obj:
                    self.saw_view = True
                key = _memory_key(root)
                if key in found:
                    continue
                found.add(key)
                found.add(id(obj))
                if key in owned:
                    continue
                if obj.dtype.hasobject:
                    if obj.size > self.budget:
                        self.exhausted = True
                        return found
                    stack.extend(obj.ravel(order="K").tolist())
                continue
            key = id(obj)
            if key in found:
                continue
            found.add(key)
            if key in owned:
                continue
            if self.opaque and isinstance(obj, self.opaque):
                parts = [obj]
                if isinstance(obj, self.frames):
                    axes = _axes(obj)
                    found.update(map(id, axes))
                    parts += axes
                    if self.with_frame_memory:
                        found.update(_memory_key(root) for root in frame_memory(obj))
                # Copy on write copies a column's array, never the Python objects in it:
                # ``s = pd.Series([lst])`` holds ``lst`` itself, and ``s[0].append(1)``
                # changes ``lst``; so does an Index of objects.
                for held in (h for part in parts for h in _held_objects(part)):
                    if held.size > self.budget:
                        self.exhausted = True
                        return found
                    stack.extend(held.tolist())
                stack.extend(notebook_attributes(obj).values())  # ``df.meta = lst``
                continue
            # Built-in iterators: a subclass's own ``__iter__`` may never end.
            if isinstance(obj, (list, tuple, set, frozenset)):
                if self.check_sets and not self.saw_reordered_set and reorders(obj):
                    self.saw_reordered_set = True
                stack.extend(builtin_iter(obj))
            elif isinstance(obj, dict):
                stack.extend(dict.values(obj))
                # Keys are atomic mostly; a NaN key is looked up by identity (see above).
                stack.extend(k for k in builtin_iter(obj) if not isinstance(k, _ATOMIC) or k != k)
            elif isinstance(obj, types.MethodType):
                stack.append(obj.__self__)
            elif type(obj) is types.MethodWrapperType:  # ``put = acc.__setitem__``
                bound = bound_data(obj)
                if bound is not None:
                    stack.append(bound)
            elif type(obj) in _DICT_VIEWS:
                stack.extend(gc.get_referents(obj))  # the dict it views
            elif _holds_in_c(obj):
                stack.extend(held_in_c(obj))
            elif self.indexers and isinstance(obj, self.indexers):
                stack.append(getattr(obj, "obj", None))
            elif self.generators and isinstance(obj, self.generators):
                stack.append(getattr(obj, "_bit_generator", None))
            else:
                state = getattr(obj, "__dict__", None)
                if isinstance(state, dict):
                    stack.extend(state.values())
                for slot in _slots(type(obj)):
                    try:
                        stack.append(getattr(obj, slot))
                    except AttributeError:
                        pass
                if isinstance(obj, deque):
                    stack.extend(builtin_iter(obj))
                elif isinstance(obj, functools.partial):
                    stack.extend((obj.func, *obj.args, *obj.keywords.values()))
                elif state is None and _is_c_iterator(type(obj)):
                    # ``it = iter(lst)``, ``enumerate(rows)``: C objects with no __dict__ that
                    # hold the sequence they walk (pickled with it: restored apart, the
                    # iterator would no longer see the list grow).
                    stack.extend(gc.get_referents(obj))
        return found


def _memory_key(root: Any) -> int:
    """The id :class:`_Walker` knows an array's memory by (``root``: its :func:`array_root`)."""
    return id(root if root.base is None else root.base)


def frame_memory(frame: Any) -> list[Any]:
    """The numpy arrays (as :func:`array_root` finds them) holding a pandas Series' or
    DataFrame's columns of numpy dtypes: what ``df.values``, ``df['a'].to_numpy()`` and
    ``np.asarray(s)`` view without a copy. Copy on write never copies for those views, so
    setting ``df.loc[0, 'a']`` in place changes them.

    pandas has no public way to its blocks; where its internals are not as read here, no
    array is found (the views are then stored apart from the frame, as copies).

    >>> import numpy as np, pandas as pd
    >>> df = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    >>> [np.shares_memory(df.values, m) for m in frame_memory(df)]
    [True]
    """
    blocks = getattr(getattr(frame, "_mgr", None), "blocks", ())
    np = sys.modules.get("numpy")
    if np is None or not isinstance(blocks, tuple):
        return []
    arrays = (getattr(block, "values", None) for block in blocks)
    return [array_root(a) for a in arrays if type(a) is np.ndarray]


def _axes(frame: Any) -> list[Any]:
    """The index objects of a pandas Series or DataFrame (the ones it may share).

    Its ``axes``, not ``getattr(frame, "columns")``: on a Series that finds an attribute the
    notebook set (the handbook's ``data.columns = [...]`` on a Series) or a label.

    >>> import pandas as pd
    >>> s = pd.Series([1, 2], index=["columns", "b"])
    >>> [type(axis).__name__ for axis in _axes(s)]
    ['Index']
    """
    return list(frame.axes)


# What ``pandas.api.types.infer_dtype`` calls an object array of immutable values only.
_IMMUTABLE_INFERRED = frozenset(
    {
        *("string", "bytes", "floating", "integer", "mixed-integer-float", "decimal"),
        *("complex", "boolean", "datetime64", "datetime", "date", "timedelta64"),
        *("timedelta", "time", "period", "interval", "empty"),
    }
)


def _held_objects(frame: Any) -> Iterator[Any]:
    """The object-dtype columns of a pandas Series or DataFrame (or an Index) that may hold
    mutable objects (lists, dicts, instances), as numpy object arrays; columns of strings,
    numbers or timestamps only are left out (told apart in C by ``infer_dtype``), and so
    is a MultiIndex (tuples of its levels' labels).

    >>> import pandas as pd
    >>> lst = [1]
    >>> frame = pd.DataFrame({"held": [lst, [2]], "text": ["a", "b"], "n": [1, 2]})
    >>> [column[0] is lst for column in _held_objects(frame)]
    [True]
    """
    import numpy as np
    from pandas.api.types import infer_dtype

    def held(dtype: Any) -> bool:
        # numpy's object dtype only: pandas' ``str`` and ``category`` say kind "O" too,
        # and converting them to an object array would copy every string.
        return isinstance(dtype, np.dtype) and dtype.hasobject

    if frame.ndim == 1:
        multi = getattr(frame, "nlevels", 1) > 1
        columns = [frame] if held(frame.dtype) and not multi else []
    else:
        columns = [frame.iloc[:, i] for i, dtype in enumerate(frame.dtypes) if held(dtype)]
    for column in columns:
        values = column.to_numpy()
        if infer_dtype(values, skipna=True) not in _IMMUTABLE_INFERRED:
            yield values


def _slots(cls: type) -> list[str]:
    names: list[str] = []
    for klass in cls.__mro__:
        slots = vars(klass).get("__slots__", ())
        if isinstance(slots, str):
            slots = (slots,)
        names += [s for s in slots if s not in ("__dict__", "__weakref__")]
    return names


def reachable_ids(value: Any, budget: int = DEFAULT_BUDGET) -> set[int]:
    """The ids of the shareable objects reachable from ``value`` (as :func:`group_variables`
    walks it; past ``budget`` objects, those found so far). Meaningful while they live.

    >>> inner = [1]
    >>> outer = {"k": inner}
    >>> id(inner) in reachable_ids(outer), id([2]) in reachable_ids(outer)
    (True, False)
    """
    return _Walker(budget).reach(value)


def group_variables(
    values: Mapping[str, Any],
    *,
    budget: int = DEFAULT_BUDGET,
    live: Iterable[str] = (),
    holders: Mapping[str, Any] | None = None,
) -> list[Group]:
    """Split ``values`` (name -> value) into groups of variables that share objects.

    Two variables are in one group when some mutable object (a list, dict, instance,
    numpy memory, figure...) is reachable from both, directly or through a chain of other
    variables. Modules, functions and classes are references, never shared data; immutable
    scalars and strings are never shared.

    Parameters
    ----------
    values
        Name -> value, e.g. the variables a cell changed plus the ones it read.
    budget
        Objects visited in all before giving up; the variables left unfinished form one
        group with every other variable (``complete=False``), its ``live`` names still
        listed (:func:`dumps_shared` walks them apart before linking to them).
    holders
        Name of a function of the namespace (code, not stored) -> what it holds
        (:func:`held_by_function`): a group holding one of those objects lists the name in
        :attr:`Group.held_by`.
    live
        Names whose objects the caller guarantees unchanged and present when the group is
        loaded again (inputs a cell read and did not change): each group lists its own in
        :attr:`Group.live`, and :func:`save_groups` stores references to them.

    Returns
    -------
    list[Group]
        Every name in exactly one group, groups in the order of their first name.

    Examples
    --------
    >>> shared = []
    >>> [g.names for g in group_variables({"a": shared, "b": shared, "c": [1]})]
    [('a', 'b'), ('c',)]
    >>> inner = {"k": 1}
    >>> [g.names for g in group_variables({"x": [inner], "y": {"z": inner}})]
    [('x', 'y')]
    """
    names = list(values)
    parent = {n: n for n in names}

    def find(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    owner: dict[int, str] = {}
    # A frame and the arrays viewing its memory (``y = df['price'].values``) are one group,
    # pickled together so that the views are made on the frame's columns again.
    walker = _Walker(budget, with_frame_memory=True, check_sets=True)
    unfinished: list[str] = []
    with_views: set[str] = set()
    with_nans: set[str] = set()
    with_sets: set[str] = set()
    keep_alive = []  # ids are only meaningful while their objects live
    for name in names:
        if walker.exhausted:
            unfinished.append(name)
            continue
        value = values[name]
        keep_alive.append(value)
        walker.saw_view = walker.saw_nan = walker.saw_reordered_set = False
        reached = walker.reach(value, owner)
        if walker.saw_reordered_set:
            with_sets.add(name)
        if walker.saw_view:
            with_views.add(name)
        if walker.saw_nan:
            with_nans.add(name)
        if walker.exhausted:
            unfinished.append(name)
        for key in reached:
            other = owner.setdefault(key, name)
            if other != name:
                parent[find(name)] = find(other)
    if unfinished:
        for name in names:
            parent[find(name)] = find(names[0])
    live_names = set(live)
    held_by: dict[str, set[str]] = {}
    for holder, held in (holders or {}).items():
        holds = _Walker(budget)
        for key in holds.reach(held, owner):
            reached_from = owner.get(key)
            if reached_from is not None and reached_from not in live_names:
                held_by.setdefault(find(reached_from), set()).add(holder)
        if holds.exhausted:  # what it holds is unknown: every group may be held
            for name in names:
                held_by.setdefault(find(name), set()).add(holder)
    members: dict[str, list[str]] = {}
    for name in names:
        members.setdefault(find(name), []).append(name)
    complete = not unfinished
    groups = [
        Group(
            tuple(sorted(group)),
            complete,
            views=bool(with_views & set(group)) or not complete,
            # Also when the walk gave up: the input stays the live object (pickling checks
            # on its own walk what a stored variable holds of it, and refuses otherwise).
            live=tuple(sorted(live_names & set(group))),
            nans=bool(with_nans & set(group)),
            sets=bool(with_sets & set(group)),
            held_by=tuple(sorted(held_by.get(root, ()))),
        )
        for root, group in members.items()
    ]
    groups.sort(key=lambda g: names.index(g.names[0]) if g.names else 0)
    return groups


# ----------------------------------------------------------------------------- pickling


# numpy's flag bits (``ndarray.flags.num``): reading ``flags.writeable`` of an array from
# ``np.broadcast_arrays`` warns (FutureWarning, shown in the user's cell), reading the bits not.
_WRITEABLE = 0x0400
_WARN_ON_WRITE = 0x80000000
WARN_ON_WRITE = "warn"  # writeable, and warns when written (what np.broadcast_arrays returns)


def writeable_flag(arr: Any) -> bool | str:
    """``arr``'s writeable flag as stored: True, False or :data:`WARN_ON_WRITE`."""
    bits = int(arr.flags.num)
    if not bits & _WRITEABLE:
        return False
    return WARN_ON_WRITE if bits & _WARN_ON_WRITE else True


def _same_geometry(arr: Any, base: Any, kinds: tuple[Any, ...]) -> bool:
    """Whether ``arr`` views all of ``base`` (an array of one of ``kinds``) as it is: the same
    memory, shape, strides and dtype."""
    return (
        type(base) in kinds
        and arr.shape == base.shape
        and arr.strides == base.strides
        and arr.dtype == base.dtype
        and arr.__array_interface__["data"][0] == base.__array_interface__["data"][0]
    )


def _masked_view(base: Any, cls: Any, write: bool | str) -> Any:
    """A ``cls`` (masked array) view of all of ``base``, as ``np.ma`` makes one."""
    np = sys.modules.get("numpy") or importlib.import_module("numpy")
    view = np.ndarray.view(base, cls)
    if not write:
        view.flags.writeable = False
    return view


def _set_attrs(obj: Any, state: dict[str, Any]) -> None:
    """Give a re-made masked array view the attributes it held (mask, fill value, flags)."""
    obj.__dict__.update(state)


def _set_hard_masked(obj: Any, state: Any) -> None:
    """Unpickle a masked array's state, then harden its mask (pickle does not keep it)."""
    obj.__setstate__(state)
    obj.harden_mask()


def _view_on_root(obj: Any, root: Any, ndarray: Any) -> tuple[Any, ...] | None:
    """``(root, offset, shape, strides, dtype, writeable)``: what re-makes the view ``obj``
    on the memory of ``root``, the array owning it; None where it cannot be re-made so
    (no root of its own, object items, a root not in one contiguous block, or memory
    outside the root's).
    """
    if root is obj or root.base is not None or type(root) is not ndarray:
        return None
    if obj.dtype.hasobject or not (root.flags.c_contiguous or root.flags.f_contiguous):
        return None
    offset = obj.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    if offset < 0 or offset > root.nbytes:
        return None
    return (root, offset, obj.shape, obj.strides, obj.dtype, writeable_flag(obj))


def _rebuild_view(
    root: Any,
    offset: int,
    shape: Any,
    strides: Any,
    dtype: Any,
    write: bool | str,
    cls: Any = None,
    strided: bool = False,
) -> Any:
    np = sys.modules.get("numpy") or importlib.import_module("numpy")
    if strided:  # ``as_strided``'s view of the root (offset 0, the root's dtype)
        return np.lib.stride_tricks.as_strided(root, shape, strides, writeable=bool(write))
    # A record-array or matrix view is made as one directly, so its base is the root too.
    view = np.ndarray.__new__(
        cls or np.ndarray, shape=shape, dtype=dtype, buffer=root, offset=offset, strides=strides
    )
    if not write:
        view.flags.writeable = False
    elif write == WARN_ON_WRITE:
        # A write into it warns, as into the np.broadcast_arrays result it was (numpy's only
        # way to set that flag is this private one; without it the view is plainly writeable).
        with contextlib.suppress(AttributeError, ValueError):
            view.flags._warn_on_write = True
    return view


#: The public name of :func:`_rebuild_view`, for the checkpoint packer. Stored pickles name
#: the function by its defining name, so that name stays.
rebuild_view = _rebuild_view


def _owned_array(buffer: Any, dtype: Any, shape: Any, fortran: bool, write: bool) -> Any:
    np = sys.modules.get("numpy") or importlib.import_module("numpy")
    out = np.empty(shape, dtype=dtype, order="F" if fortran else "C")
    if out.nbytes:
        # Byte for byte, not element by element: numpy copies a structured array field by
        # field, leaving the padding between aligned fields as the fresh memory held it
        # (``tobytes()`` would show another process's leftovers, not the stored bytes).
        memory = out.T if fortran else out  # C-contiguous either way
        # A buffer passed out of band as it was (not through a store) is the array itself,
        # in Fortran order too: its raw bytes, in memory order.
        raw = buffer.raw() if isinstance(buffer, pickle.PickleBuffer) else buffer
        memory.reshape(-1).view(np.uint8)[...] = np.frombuffer(raw, dtype=np.uint8)
    if not write:
        out.flags.writeable = False
    return out


def _import_module(name: str) -> types.ModuleType:
    # Referenced by name from stored pickles: keep the name.
    return import_quietly(name)


def _compiled_pattern(pattern: str | bytes, flags: int) -> re.Pattern:
    # Referenced by name from stored pickles: keep the name.
    return re.compile(pattern, flags)


def _pattern_reduction(pattern: re.Pattern) -> tuple[Any, tuple[Any, ...]]:
    """``re.compile`` with the flags the notebook gave it, so that the restored pattern is
    the one ``re``'s cache gives a later cell's ``re.compile`` of the same arguments, as
    after a re-run. ``re`` pickles ``pattern.flags``, which adds the flags a pattern gets
    anyway (``re.UNICODE`` for text, its inline ``(?i)``): compiled with those, it is kept
    under another key, and a later ``re.compile(p)`` makes a second pattern.

    >>> _pattern_reduction(re.compile("(?x)[a-z]+", re.I))[1]
    ('(?x)[a-z]+', 2)
    """
    implied = re.compile(pattern.pattern).flags  # ``re`` caches it: compiled once a pattern
    given = pattern.flags & ~implied
    if re.compile(pattern.pattern, given).flags != pattern.flags:
        given = pattern.flags  # ``re.ASCII`` given: the flags as they are
    return _compiled_pattern, (pattern.pattern, given)


def import_quietly(name: str) -> types.ModuleType:
    """Import module ``name`` for a restore, discarding what the import prints."""
    if name in sys.modules:
        return sys.modules[name]
    with discarding_output():
        return importlib.import_module(name)


class _MutedStream:
    """A stream that discards what is written while :attr:`muted`, then writes to ``stream``
    (for a stream whose ``write`` cannot be muted in place: a C file object)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.muted = True

    def write(self, text: str) -> int:
        return len(text) if self.muted else self._stream.write(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if not self.muted:
            self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _discard(text: str) -> int:
    return len(text)


_NOTHING = object()  # no ``write`` of the instance's own to put back


@contextlib.contextmanager
def _muted(name: str) -> Iterator[None]:
    """``sys.<name>`` discarding what is written, as itself where it can be.

    Code run meanwhile may keep the stream it finds (a module's ``OUT = sys.stdout``, a
    ``logging.StreamHandler(sys.stdout)``, a default ``out=sys.stdout``, a class attribute):
    it must keep the kernel's own stream, as in a plain run, not a sink that stays silent.
    So the stream's ``write`` is shadowed on the instance (ipykernel's streams are Python
    objects); a stream that cannot take that is replaced by a :class:`_MutedStream` of it.
    """
    stream = getattr(sys, name)
    own = getattr(stream, "__dict__", None)
    if isinstance(own, dict):
        kept = own.get("write", _NOTHING)  # ipykernel's streams set their own ``write``
        try:
            stream.write = _discard
        except (AttributeError, TypeError):
            pass
        else:
            try:
                yield
            finally:
                if kept is _NOTHING:
                    own.pop("write", None)
                else:
                    own["write"] = kept
            return
    muted = _MutedStream(stream)
    setattr(sys, name, muted)
    try:
        yield
    finally:
        muted.muted = False
        if getattr(sys, name) is muted:
            setattr(sys, name, stream)


@contextlib.contextmanager
def discarding_output() -> Iterator[None]:
    """Discard what is printed to ``sys.stdout``/``sys.stderr`` while re-creating values.

    A restore re-runs imports and definitions, and a module imported for the first time
    runs its top level, which may print (``import this``). The run that stored the cell
    printed that already and its recorded output is shown again on a hit, so printing it
    now would show it twice. Other threads' prints through ``sys.stdout`` are discarded
    too while this lasts; it is short, and a restore happens between cells. What keeps the
    stream it found has the real one afterwards (:func:`_muted`).
    """
    with _muted("stdout"), _muted("stderr"):
        yield


# Iterators that pickle as a list iterator over a copy of what they have left to walk
# (``copyreg`` reduces dict, set and OrderedDict iterators to ``iter(list(...))``): a restore
# would bind another type, which no longer follows its container (after ``d[3] = 'c'``,
# ``next(k)`` raises in a re-run and goes on after a restore). Their values are not stored.
_EMPTY: dict[Any, Any] = {}
_RETYPED_ITERATORS: frozenset[type] = frozenset(
    type(iterator)
    for iterator in (
        iter(_EMPTY),
        iter(_EMPTY.values()),
        iter(_EMPTY.items()),
        reversed(_EMPTY),
        reversed(_EMPTY.values()),
        reversed(_EMPTY.items()),
        iter(set(_EMPTY)),
        iter(collections.OrderedDict(_EMPTY)),
    )
)


# A group of ``itertools.groupby``: one its groupby has moved past pickles as an empty tuple
# iterator (``for k, names in groupby(...)`` leaves the last, consumed, bound to ``names``).
_GROUPER = type(next(itertools.groupby("a"))[1])


def _moved_past(group: Any) -> bool:
    try:
        return group.__reduce__()[0] is not _GROUPER
    except Exception:  # a Python whose itertools no longer pickles: pickling fails anyway
        return False


# Closed file objects of ``open()``: what ``with open(p) as fh:`` leaves bound to ``fh``.
_HANDLE_TYPES = {
    io.TextIOWrapper: "r",
    io.BufferedReader: "rb",
    io.BufferedWriter: "wb",
    io.BufferedRandom: "rb+",
    io.FileIO: "rb",
}


def closed_handle(value: Any) -> bool:
    """``value`` is a closed file object of a kind :func:`dumps_shared` re-creates (closed).

    Examples
    --------
    >>> import os
    >>> with open(os.devnull) as fh:
    ...     pass
    >>> closed_handle(fh), closed_handle([fh])
    (True, False)
    """
    return type(value) in _HANDLE_TYPES and bool(value.closed)


def _dict_view(mapping: dict[Any, Any], kind: str) -> Any:
    """``mapping.keys()`` (``values``, ``items``: ``kind``), as a stored view is loaded: a view
    of the loaded dict, which pickle cannot make (it refuses to pickle a view).

    >>> d = {"a": 1}
    >>> view = _dict_view(d, "items")
    >>> d["b"] = 2
    >>> list(view)
    [('a', 1), ('b', 2)]
    """
    if kind not in ("keys", "values", "items"):
        raise pickle.UnpicklingError(f"unknown dict view {kind!r}")
    return getattr(dict, kind)(mapping)


def _closed_handle(kind: str, mode: str | None = None) -> Any:
    """A closed file object of the kind and mode stored (on the null device: no name kept)."""
    types_by_name = {t.__name__: t for t in _HANDLE_TYPES}
    cls = types_by_name[kind]
    mode = (mode or _HANDLE_TYPES[cls]).replace("x", "w")  # "x" cannot open the null device
    with open(os.devnull, mode, buffering=0 if cls is io.FileIO else -1) as handle:
        pass
    return handle


# The namespace that persistent references of a group being loaded resolve in.
_LIVE: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "persist_ext_live", default=None
)


def _references(live: Mapping[str, Any]) -> dict[int, tuple[Any, ...]]:
    """Persistent ids of the live objects: each value, and the memory owner of an array."""
    refs: dict[int, tuple[Any, ...]] = {}
    np = sys.modules.get("numpy")
    for name, value in live.items():
        if type(value) is float and value != value:
            refs.setdefault(id(value), ("name", name))  # the live NaN itself (see _Walker)
            continue
        if isinstance(value, (_ATOMIC, _BY_REFERENCE)):
            continue
        refs.setdefault(id(value), ("name", name))
        pd = sys.modules.get("pandas")
        if pd is not None and isinstance(value, (pd.Series, pd.DataFrame)):
            refs.setdefault(id(value.index), ("index", name))
            if isinstance(value, pd.DataFrame):
                refs.setdefault(id(value.columns), ("columns", name))
            # The memory of its columns, which ``df['a'].values`` views (made on it again).
            for i, root in enumerate(frame_memory(value)):
                if root.base is None:
                    layout = (root.dtype.str, root.shape, root.strides)
                    refs.setdefault(id(root), ("frame-root", name, i, *layout))
        if np is not None and isinstance(value, np.ndarray) and value.base is not None:
            root = array_root(value)
            if type(root) is np.ndarray and root.base is None:
                layout = (root.dtype.str, root.shape, root.strides)
                refs.setdefault(id(root), ("root", name, *layout))
    return refs


def _resolve(pid: Any) -> Any:
    """The live object a persistent id names; refuse when it is gone or laid out otherwise."""
    ns = _LIVE.get()
    kind, name = pid[0], pid[1]
    if ns is None or name not in ns:
        raise pickle.UnpicklingError(f"the entry refers to variable {name!r}, which is not defined")
    value = ns[name]
    if kind == "name":
        return value
    pd = sys.modules.get("pandas")
    if kind in ("index", "columns") and pd is not None:
        axis = getattr(value, kind, None)
        if isinstance(axis, pd.Index):
            return axis
    np = sys.modules.get("numpy")
    if kind == "root" and np is not None and isinstance(value, np.ndarray):
        root = array_root(value)
        if type(root) is np.ndarray and (root.dtype.str, root.shape, root.strides) == tuple(
            pid[2:5]
        ):
            return root
    if kind == "frame-root" and pd is not None and isinstance(value, (pd.Series, pd.DataFrame)):
        roots = frame_memory(value)
        index = pid[2]
        if isinstance(index, int) and 0 <= index < len(roots):
            root = roots[index]
            if (root.dtype.str, root.shape, root.strides) == tuple(pid[3:6]):
                return root
    if kind in ("root", "frame-root"):
        # Not corrupt: the input holds equal data in memory laid out otherwise (pandas
        # regrouped a frame's columns, an array was made in the other order).
        raise LiveLayoutError(
            f"variable {name!r} no longer holds its data in the memory layout the entry's "
            "views were made on"
        )
    raise pickle.UnpicklingError(f"variable {name!r} no longer holds the {kind} the entry shares")


# An array that owned its memory is loaded owning it again (``base is None``, so views made
# later have it as base), at the cost of one copy on load; past this size, in a group without
# views, numpy's zero-copy reduction is kept (memory over that identity).
_OWN_COPY_LIMIT = 256 * 2**20


def global_rng_ids() -> dict[int, str]:
    """The process's global generators: numpy's ``RandomState`` and ``random``'s ``Random``.

    An object holding one (a scipy frozen distribution, ``random.random`` bound to it) draws
    from the generator ``np.random.seed``/``random.seed`` set; stored by value it would
    come back with a copy that neither follows a seed nor advances the global state.
    """
    import random

    found = {}
    for which, generator in (
        ("random", getattr(random, "_inst", None)),
        ("numpy", getattr(sys.modules.get("numpy.random.mtrand"), "_rand", None)),
    ):
        if generator is not None:
            found[id(generator)] = which
    return found


def _global_rng(which: str) -> Any:
    """The global generator :func:`global_rng_ids` named (what a stored reference loads)."""
    if which == "numpy":
        return importlib.import_module("numpy.random.mtrand")._rand
    return importlib.import_module("random")._inst  # type: ignore[attr-defined]


def global_rng_reduction(ids: dict[int, str], obj: Any) -> tuple[Any, tuple[str]] | None:
    """A pickler's reduction of ``obj`` when it is one of the global generators ``ids``
    (from :func:`global_rng_ids`): a reference that loads the global generator of the
    process it is loaded in. Checkpoints pickle with it too."""
    which = ids.get(id(obj))
    return None if which is None else (_global_rng, (which,))


# Per module: (its dict's id and length when read, id of each singleton -> its name).
_SINGLETONS: dict[str, tuple[int, int, dict[int, str]]] = {}
_NOT_LIBRARY = frozenset({"builtins", "__main__"})


def _module_singletons(module_name: str) -> dict[int, str]:
    """The module's instances of classes it defines, by id: ``scipy.stats._continuous_distns.t``,
    ``matplotlib.rcParams``. Read again when the module's dict changed size."""
    module = sys.modules.get(module_name)
    namespace = getattr(module, "__dict__", None)
    if not isinstance(namespace, dict):
        return {}
    known = _SINGLETONS.get(module_name)
    if known is not None and known[0] == id(namespace) and known[1] == len(namespace):
        return known[2]
    found: dict[int, str] = {}
    for name, value in list(namespace.items()):
        cls = type(value)
        if getattr(cls, "__module__", None) == module_name and not isinstance(value, type):
            found.setdefault(id(value), name)
    _SINGLETONS[module_name] = (id(namespace), len(namespace), found)
    return found


def library_singleton_reduction(obj: Any) -> tuple[Any, tuple[str, str]] | None:
    """A reference to ``obj`` when it is a library's module-level instance of a class of that
    module (``scipy.stats.t``, ``matplotlib.rcParams``, a local module's ``CONFIG``): loaded as
    that object of the process it is loaded in, as a re-run would hold it, not a copy (an
    assignment through a copied ``rcParams`` would not reach matplotlib's settings)."""
    module_name = getattr(type(obj), "__module__", None)
    if not isinstance(module_name, str) or module_name in _NOT_LIBRARY:
        return None
    name = _module_singletons(module_name).get(id(obj))
    if name is None or getattr(sys.modules.get(module_name), name, None) is not obj:
        return None
    return _module_attribute, (module_name, name)


def _module_attribute(module_name: str, name: str) -> Any:
    # Referenced by name from stored pickles: keep the name.
    return getattr(import_quietly(module_name), name)


class _SharingPickler(pickle.Pickler):
    """Pickle protocol 5 that keeps numpy views linked to their base and modules by name."""

    def __init__(self, file: Any, buffer_callback: Any, link_views: bool = True) -> None:
        super().__init__(file, protocol=5, buffer_callback=buffer_callback)
        np: Any = sys.modules.get("numpy")
        numpy_array = getattr(np, "ndarray", None)
        self._ndarray = numpy_array if link_views else None
        self._owner = numpy_array  # arrays that own their memory load owning it again
        self._masked = getattr(getattr(np, "ma", None), "MaskedArray", None)
        # Views re-made on their base: plain arrays, and subclasses that are nothing but a
        # different view of the same memory (no state of their own, unlike masked arrays).
        self._views: tuple[Any, ...] = (
            (numpy_array, np.recarray, np.matrix) if self._ndarray is not None else ()
        )
        self._global_rngs = global_rng_ids()
        self._dtype = getattr(np, "dtype", None)
        polybase = sys.modules.get("numpy.polynomial._polybase")
        self._polybase: Any = getattr(polybase, "ABCPolyBase", None)
        self._custom: dict[type, bool] = {}
        # id -> name of the notebook's classes and functions bound to their own name by
        # the values being stored (:func:`bound_by_own_name`): not to be stored by name.
        self.own: dict[int, str] = {}

    @staticmethod
    def _masked_reduction(obj: Any) -> Any:
        """numpy's own reduction of a masked array (a copy of its data), with its hard mask:
        numpy leaves that out, so it would load with a soft one, and assigning to a masked
        element would unmask it."""
        if not obj.hardmask:
            return NotImplemented
        func, args, state = obj.__reduce__()
        return func, args, state, None, None, _set_hard_masked

    def reducer_override(self, obj: Any) -> Any:
        own = self.own.get(id(obj)) if self.own else None
        if own is not None:
            raise ByNameError(
                f"{own} is a class or function made by a call: pickled by name, a restore "
                "would find whatever the notebook's name held before it",
                type_name=type(obj).__name__,
            )
        if type(obj) is types.FunctionType:  # (asked of every object: kept to one test)
            nameless = _nameless_function(obj)
            if nameless is not None:
                raise HeldCodeError(nameless, type_name="function")
        reduced = global_rng_reduction(self._global_rngs, obj)
        if reduced is not None:
            return reduced
        if self._dtype is not None and isinstance(obj, self._dtype):
            code = exact_dtype_code(obj)  # np.longlong's, which numpy pickles as int64's
            if code is not None:
                return self._dtype, (code,)
        if type(obj) is _GROUPER and _moved_past(obj):
            raise LossyStateError(
                "an itertools.groupby group it holds would load as an empty tuple_iterator "
                "(its groupby has moved past it)",
                type_name=type(obj).__name__,
            )
        if type(obj) in _RETYPED_ITERATORS:
            raise LossyStateError(
                f"a {type(obj).__name__} it holds would load as a list_iterator over a copy "
                "of its container",
                type_name=type(obj).__name__,
            )
        view_of = _DICT_VIEWS.get(type(obj))
        if view_of is not None:
            return _dict_view, (gc.get_referents(obj)[0], view_of)
        if _holds_in_c(obj):
            raise LossyStateError(
                f"a {type(obj).__name__} it holds sees another object, which a restore would "
                "load apart from it (a re-run changes the object it sees)",
                type_name=type(obj).__name__,
            )
        if type(obj) in _HANDLE_TYPES and obj.closed:
            mode = getattr(obj, "mode", None)
            return _closed_handle, (type(obj).__name__, mode if isinstance(mode, str) else None)
        if type(obj) is re.Pattern:
            return _pattern_reduction(obj)
        polybase = self._polybase
        if (
            polybase is not None
            and isinstance(obj, polybase)
            and type(obj).__getstate__ is polybase.__getstate__
            and type(obj).__reduce_ex__ is object.__reduce_ex__
        ):
            # numpy's state of a polynomial adds ``symbol``, ``domain`` and ``window`` to
            # what the instance holds (the last two are otherwise its class's): the
            # attributes as they are, which numpy's ``__setstate__`` puts back as its
            # ``__dict__``.
            return _PLAIN_CONSTRUCTORS[0], (type(obj),), dict(vars(obj))  # copyreg.__newobj__
        if isinstance(obj, types.ModuleType):
            if sys.modules.get(obj.__name__) is obj:
                return _import_module, (obj.__name__,)
            return NotImplemented
        ndarray = self._ndarray
        owner = self._owner
        if (
            owner is not None
            and type(obj) is owner
            and obj.base is None
            and (ndarray is not None or obj.nbytes <= _OWN_COPY_LIMIT)
        ):
            # Numpy's own reduction loads as a view of the pickle's buffer; an array that
            # owned its memory must own it again, or its views would not have it as base.
            if obj.dtype.hasobject or not (obj.flags.c_contiguous or obj.flags.f_contiguous):
                return NotImplemented
            fortran = bool(obj.flags.f_contiguous and not obj.flags.c_contiguous)
            # Datetimes and timedeltas export no buffer ("cannot include dtype 'M' in a
            # buffer"): their memory as the 8-byte integers it holds (a view, no copy).
            memory = obj.view(f"i{obj.itemsize}") if obj.dtype.kind in "Mm" else obj
            return _owned_array, (
                pickle.PickleBuffer(memory),
                obj.dtype,
                obj.shape,
                fortran,
                writeable_flag(obj) is not False,
            )
        masked = type(obj) is self._masked
        if masked and ndarray is not None and _same_geometry(obj, obj.base, (ndarray, masked)):
            # A masked array is a view of its data (``np.ma.masked_array(x, mask=m)`` views
            # ``x``, ``m[1:4]`` a slice of ``m``'s data): made as a view of the same base
            # again, then given the mask, fill value and flags it held (its ``__dict__``;
            # the mask array keeps its own links, ``m[1:4]``'s mask viewing ``m``'s).
            made = (obj.base, type(obj), writeable_flag(obj))
            return _masked_view, made, dict(vars(obj)), None, None, _set_attrs
        if ndarray is not None and (masked or type(obj) in self._views) and obj.base is not None:
            root = array_root(obj)
            view = _view_on_root(obj, root, ndarray)
            if view is None:
                return self._masked_reduction(obj) if masked else NotImplemented
            if masked:  # a view of the root's memory in another shape: made on the root
                return _rebuild_view, (*view, type(obj)), dict(vars(obj)), None, None, _set_attrs
            if type(obj) is not ndarray:
                return _rebuild_view, (*view, type(obj))
            base = obj.base
            if (
                type(base).__name__ == "DummyArray"
                and getattr(base, "base", None) is root
                and view[1] == 0
                and view[4] == base.base.dtype
                and view[5] is not WARN_ON_WRITE
            ):
                # Made by ``as_strided`` on the root (``sliding_window_view``): made by it
                # again, so its base is numpy's DummyArray holding the root, not the root.
                return _rebuild_view, (*view, None, True)
            return _rebuild_view, view
        if masked and owner is not None:
            return self._masked_reduction(obj)
        kind = type(obj)
        custom = self._custom.get(kind)
        if custom is None:
            custom = self._custom[kind] = (
                is_user_code(kind) and custom_reduction(kind) and not _plain_enum(kind)
            )
        if custom:
            return checked_reduction(obj)
        return library_singleton_reduction(obj) or pickle_reduction(obj, keep_order=True)


def _plain_enum(kind: type) -> bool:
    """A notebook ``Enum`` pickled by ``enum``'s own reduction, ``(Color, (1,))``: it loads as
    the member of the live class with that value (the one a re-run's ``Color.RED`` is), and
    runs no notebook code unless the value is missing."""
    return issubclass(kind, enum.Enum) and getattr(kind, "__reduce_ex__", None) is (
        enum.Enum.__reduce_ex__
    )


class LossyStateError(SerializationError):
    """An instance of a notebook class would not load as it is: its own ``__getstate__``,
    ``__setstate__`` or ``__reduce__`` leaves out or resets something it holds."""


class HeldCodeError(SerializationError):
    """A value holds a function pickle cannot store by name (``defaultdict(lambda: 0)``, a
    function defined inside another or made by ``exec``): code, not data, so its cell runs
    each time.

    Pickle fails on it too; this names it, so the cell cache records the cell as one that
    runs (``%persist why`` says which variable holds what) instead of warning on every run.
    """


def _nameless_function(obj: Any) -> str | None:
    """How to name a function that pickle could not find by its name, or ``None``.

    A function made by ``exec`` with globals of its own (``sympy.lambdify``'s) has no
    module: pickle would look for it in ``__main__``, where it is missing, or where the
    notebook's name of it is what a restore finds, before the cell that made it binds it.

    >>> _nameless_function(lambda: 0)
    'a lambda'
    >>> _nameless_function(_nameless_function) is None
    True
    >>> made = {}
    >>> exec("def twice(x): return 2 * x", {}, made)
    >>> _nameless_function(made["twice"])
    'twice(), a function made by exec'
    """
    qualname = obj.__qualname__
    if "<lambda>" in qualname:
        return "a lambda"
    if "<locals>" in qualname:
        return f"{qualname.split('.')[-1]}(), a function defined inside another"
    if obj.__module__ is None and pickle.whichmodule(obj, qualname) == "__main__":  # type: ignore[attr-defined]
        # (whichmodule returns "__main__" when no imported module holds it by that name)
        return f"{qualname.split('.')[-1]}(), a function made by exec"
    return None


def checked_reduction(obj: Any) -> Any:
    """``obj.__reduce_ex__(5)``, once a copy rebuilt from it holds what ``obj`` holds.

    For instances of notebook classes with a reduction of their own (a ``__getstate__``
    dropping a cache, a ``__reduce__`` passing only some attributes to the constructor), a
    restore would bind an object that differs from the one a re-run makes. The copy is made
    as pickle would load it, sharing ``obj``'s parts (nothing is copied), and compared by
    fingerprint, which counts everything the instance holds.

    The copy is made only when making it runs no notebook code: a constructor, ``__new__``,
    ``__setstate__`` or item setter of the notebook's own may do more than build the copy
    (``Node.count += 1`` in ``__init__``, a registry it appends to), and storing a run must
    not change what the run left. Such an instance is not stored (its cell runs again).

    Raises
    ------
    LossyStateError
        The copy differs, cannot be made, cannot be compared, or would run notebook code.
    """
    reduced = reduce_untouched(obj)
    if isinstance(reduced, str):
        return reduced  # a module-level singleton, pickled by name
    parts = list(reduced) + [None] * (6 - len(reduced))
    for index in (3, 4):  # list and dict items come as iterators: pickle walks them again
        if parts[index] is not None:
            parts[index] = list(parts[index])
    name = type(obj).__qualname__
    code = _notebook_code_on_load(type(obj), *parts)
    if code is not None:
        raise LossyStateError(
            f"a {name} it holds is loaded by the notebook's own code ({code}), which is not "
            "run to check that it loads as it is",
            type_name=name,
        )
    try:
        with discarding_output():
            same = fingerprint(_rebuilt(*parts)) == fingerprint(obj)
    except SerializationError:
        raise  # the store limits in force stopped it (a stall, the time limit)
    except Exception as exc:
        raise LossyStateError(
            f"a {name} it holds cannot be checked to load as it is ({type(exc).__name__}: {exc})",
            type_name=name,
        ) from exc
    if not same:
        raise LossyStateError(
            f"a {name} it holds would not load as it is: its class's own pickling "
            "(__getstate__, __setstate__ or __reduce__) leaves out or resets part of it",
            type_name=name,
        )
    for index in (3, 4):
        if parts[index] is not None:
            parts[index] = iter(parts[index])
    return tuple(parts)


# What pickle calls to make an instance of a class pickled by Python's default machinery
# (``object.__reduce_ex__``): ``cls.__new__``, then the state goes into ``__dict__``/slots.
_PLAIN_CONSTRUCTORS = tuple(
    getattr(copyreg, name) for name in ("__newobj__", "__newobj_ex__", "_reconstructor")
)


def _notebook_code_on_load(
    kind: type, func: Any, args: Any, state: Any, items: Any, pairs: Any, setter: Any
) -> str | None:
    """The notebook code (user code) loading this reduction of a ``kind`` would run, by name,
    or ``None`` when a load runs library code only (see :func:`checked_reduction`)."""
    if func in _PLAIN_CONSTRUCTORS:
        if _notebook_method(kind, "__new__"):
            return f"{kind.__qualname__}.__new__"
    else:
        target = getattr(func, "__func__", func)  # a bound or class method: its function
        if (
            isinstance(target, functools.partial)
            or is_user_code(target)
            or is_user_code(type(target))
        ):
            return getattr(target, "__qualname__", None) or f"{kind.__qualname__}'s reduction"
    methods: list[str] = []
    if state is not None:
        if setter is not None:
            if is_user_code(getattr(setter, "__func__", setter)):
                return getattr(setter, "__qualname__", "its state setter")
        elif hasattr(kind, "__setstate__"):
            methods.append("__setstate__")
        else:
            methods.append("__setattr__")  # what slots are set with
    if items:
        methods += ["append", "extend"]
    if pairs:
        methods.append("__setitem__")
    for method in methods:
        if _notebook_method(kind, method):
            return f"{kind.__qualname__}.{method}"
    return None


def _notebook_method(kind: type, name: str) -> bool:
    # Whether ``kind`` gets attribute ``name`` from notebook code (the first class of its MRO
    # that defines it); a staticmethod or classmethod (``__new__``) counts by its function.
    for klass in kind.__mro__:
        found = klass.__dict__.get(name)
        if found is not None:
            return is_user_code(getattr(found, "__func__", found))
    return False


def _rebuilt(func: Any, args: Any, state: Any, items: Any, pairs: Any, setter: Any) -> Any:
    # What pickle's loader does with a reduction (REDUCE/NEWOBJ, BUILD, APPENDS, SETITEMS).
    made = func(*args)
    if state is not None:
        if setter is not None:
            setter(made, state)
        elif getattr(made, "__setstate__", None) is not None:
            made.__setstate__(state)
        else:
            slots = None
            if isinstance(state, tuple) and len(state) == 2:
                state, slots = state
            if state:
                made.__dict__.update(state)
            for key, value in (slots or {}).items():
                setattr(made, key, value)
    if items:
        extend = getattr(made, "extend", None)
        if extend is not None:
            extend(items)
        else:
            for item in items:
                made.append(item)
    for key, value in pairs or ():
        made[key] = value
    return made


# NaN constants of modules, stored by reference: ``[1, np.nan]`` holds ``np.nan`` itself.
_NAN_CONSTANTS = (("numpy", "nan"), ("math", "nan"))


# A NaN's 8 bytes, kept with its number when they are not those of ``float("nan")``: its
# sign (``math.copysign(1, x)``, ``np.signbit``) shows, and ``inf * 0`` is a negative NaN on
# x86; loaded as ``float("nan")``, a restored one was positive where a re-run's was not.
_F64 = struct.Struct("<d")
_PLAIN_NAN = _F64.pack(float("nan"))


def _loaded_nan(pid: tuple[Any, ...]) -> float:
    """The NaN a ``("nan", number[, bits])`` persistent id stands for, with its bits."""
    if len(pid) == 2:
        return float("nan")
    bits = pid[2]
    if type(bits) is not bytes or len(bits) != _F64.size:
        raise pickle.UnpicklingError(f"unknown NaN {bits!r}")
    (value,) = _F64.unpack(bits)
    if value == value:
        raise pickle.UnpicklingError(f"not a NaN: {value!r}")
    return float(value)


def _nan_constants() -> dict[int, tuple[str, str, str]]:
    found = {}
    for module, name in _NAN_CONSTANTS:
        value = getattr(sys.modules.get(module), name, None)
        if type(value) is float:
            found[id(value)] = ("const", module, name)
    return found


class _NanSharingPickler(_SharingPickler):
    """:class:`_SharingPickler` that keeps the identity of float NaN objects.

    Pickle does not memoize floats: a list holding one NaN twice, or ``np.nan``, would load
    holding new NaN objects, for which ``nan in lst`` is False and a dict keyed by it has
    no entry for it. Each NaN is a persistent id instead: a module's constant by name, any
    other one numbered, made once per load. Only for groups holding NaN objects
    (:attr:`Group.nans`): asking about every object costs a Python call each.
    """

    def __init__(self, file: Any, buffer_callback: Any, link_views: bool = True) -> None:
        super().__init__(file, buffer_callback, link_views)
        self._constants = _nan_constants()
        self._nans: dict[int, int] = {}
        self._sets: dict[int, int] = {}

    def nan_id(self, obj: Any) -> Any:
        if type(obj) is not float or obj == obj:
            return None
        constant = self._constants.get(id(obj))
        if constant is not None:
            return constant
        number = self._nans.setdefault(id(obj), len(self._nans))
        bits = _F64.pack(obj)
        return ("nan", number) if bits == _PLAIN_NAN else ("nan", number, bits)

    def set_id(self, obj: Any) -> Any:
        """A set that pickle would load iterating in another order (:func:`reorders`) as
        its items in order, its table's size and how to make it so (:func:`set_rebuild`);
        numbered, so that one set held twice loads as one. A set no rebuild makes iterate
        as it does cannot be stored (a later cell walking it would see another order)."""
        if type(obj) not in (set, frozenset):
            return None
        number = self._sets.get(id(obj))
        if number is not None:
            return ("set", number)
        if not reorders(obj):
            return None
        how = set_rebuild(obj)
        if how is None:
            raise LossyStateError(
                f"a {type(obj).__name__} of {len(obj)} items it holds would iterate in another "
                "order once loaded (where its items sit in its hash table comes from the "
                "order they were added and removed in)",
                type_name=type(obj).__name__,
            )
        number = self._sets[id(obj)] = len(self._sets)
        return ("set", number, type(obj) is frozenset, how, _table_slots(obj), list(obj))

    def persistent_id(self, obj: Any) -> Any:
        return self.nan_id(obj) or self.set_id(obj)


class _LinkingPickler(_NanSharingPickler):
    """:class:`_SharingPickler` that stores references to live objects instead of copies.

    ``inner`` holds the ids of everything reachable inside the live objects: pickling one
    of those by value would copy what the live variable holds, so it is noted in
    ``copied`` (the caller refuses the group).
    """

    def __init__(
        self,
        file: Any,
        buffer_callback: Any,
        link_views: bool,
        refs: dict[int, tuple[Any, ...]],
        inner: set[int],
    ) -> None:
        super().__init__(file, buffer_callback, link_views)
        self._refs = refs
        self._inner = inner
        self.copied = False

    def persistent_id(self, obj: Any) -> Any:
        ref = self._refs.get(id(obj))
        if ref is None:
            ref = self.nan_id(obj)  # a NaN of the value itself, or a module's constant
            if ref is not None and ref[0] == "nan" and id(obj) in self._inner:
                self.copied = True  # a NaN held inside a live input: a copy would not be it
            elif id(obj) in self._inner and not isinstance(obj, _ATOMIC):
                self.copied = True
            if ref is None:
                ref = self.set_id(obj)
        return ref

    def reducer_override(self, obj: Any) -> Any:
        reduced = super().reducer_override(obj)
        ndarray = self._ndarray
        if (
            reduced is NotImplemented
            and ndarray is not None
            and isinstance(obj, ndarray)
            and obj.base is not None
        ):
            root = id(array_root(obj))
            if root in self._refs or root in self._inner:
                self.copied = True  # a view of a live array that cannot be re-made on it
        return reduced


class _LinkingUnpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> Any:
        kind = pid[0]
        if kind == "nan":  # one new NaN object per number, shared wherever it was
            nans = self.__dict__.setdefault("_nans", {})
            made = nans.get(pid[1])
            if made is None:
                made = nans[pid[1]] = _loaded_nan(pid)
            return made
        if kind == "set":  # one set per number, made iterating in its stored order
            sets = self.__dict__.setdefault("_sets", {})
            if len(pid) == 2:
                return sets[pid[1]]
            _, number, frozen, how, slots, items = pid
            if how not in _SET_REBUILDS or type(slots) is not int or type(items) is not list:
                raise pickle.UnpicklingError(f"unknown set rebuild {how!r}")
            made = sets[number] = set_in_order(bool(frozen), items, slots, how)
            return made
        if kind == "const":
            if tuple(pid[1:]) not in _NAN_CONSTANTS:
                raise pickle.UnpicklingError(f"unknown constant {pid[1:]!r}")
            return getattr(import_quietly(pid[1]), pid[2])
        return _resolve(pid)


#: The interpreter's own mutable containers a variable may hold (``paths = sys.path``):
#: stored by name and loaded as the container of the process loading them, as a re-run
#: binds it; a copy would keep ``paths.append('lib')`` from reaching the imports. (Pickle
#: does not ask ``reducer_override`` about lists and dicts: they are named before pickling.)
_INTERPRETER_CONTAINERS = (
    ("sys", "path"),
    ("sys", "modules"),
    ("sys", "meta_path"),
    ("sys", "path_hooks"),
    ("sys", "path_importer_cache"),
    ("sys", "argv"),
    ("sys", "warnoptions"),
    ("warnings", "filters"),
)


class _ByName:
    """Stands for a module attribute in a pickle: it loads as that attribute."""

    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return _module_attribute, (self.module, self.name)


def _named_containers(values: Any) -> Any:
    """``values`` (a dict of variables) with the interpreter's containers it binds replaced
    by :class:`_ByName` stand-ins (one per container, so names sharing one still share it).

    >>> import sys
    >>> _named_containers({"paths": sys.path, "n": 1})["paths"].name
    'path'
    """
    if type(values) is not dict:
        return values
    named = {}
    for module, name in _INTERPRETER_CONTAINERS:
        held = getattr(sys.modules.get(module), name, None)
        if held is not None:
            named[id(held)] = _ByName(module, name)
    if not any(id(v) in named for v in values.values()):
        return values
    return {k: named.get(id(v), v) for k, v in values.items()}


def dumps_shared(
    value: Any,
    *,
    link_views: bool = True,
    live: Mapping[str, Any] | None = None,
    nans: bool = False,
    own: Mapping[int, str] | None = None,
) -> tuple[bytes, list[pickle.PickleBuffer]]:
    """Pickle ``value`` keeping views linked and modules by name; large buffers out of band.

    With ``link_views=False`` arrays use numpy's own reduction (no copy on load; a view is
    then stored as a copy of its data). ``live`` (name -> object) are stored as references
    to those names, resolved by :func:`loads_shared` in the namespace it is given.
    ``nans``: ``value`` holds float NaN objects, stored keeping which is which, or sets
    pickle would load in another order, stored in theirs (:class:`_NanSharingPickler`).
    ``own`` (from :func:`bound_by_own_name`): objects that cannot be stored by name, which
    raise :class:`ByNameError` wherever they are met.

    Raises
    ------
    SharedInputError
        ``value`` holds an object found inside a ``live`` object, not the object itself.
    SerializationError
        Something inside ``value`` cannot be pickled (a lambda, a lock, an open file).
    """
    buffers: list[pickle.PickleBuffer] = []
    out = BoundedSink()  # gives up past the store limits in force (``_bounded``)
    collect = out.buffers(buffers.append)
    value = _named_containers(value)
    with out.interruptible():  # a single blocking __reduce__ too
        return _dump_into(out, collect, value, link_views, live, nans, own), buffers


def _dump_into(
    out: BoundedSink,
    collect: Any,
    value: Any,
    link_views: bool,
    live: Mapping[str, Any] | None,
    nans: bool = False,
    own: Mapping[int, str] | None = None,
) -> bytes:
    try:
        if live:
            refs = _references(live)
            walker = _Walker(DEFAULT_BUDGET)
            inner: set[int] = set()
            for item in live.values():
                inner |= walker.reach(item)
            if walker.exhausted:
                raise SharedInputError(
                    f"its inputs {', '.join(sorted(live))} are too large to tell what it shares "
                    "with them"
                )
            inner -= set(refs)
            pickler = _LinkingPickler(out, collect, link_views, refs, inner)
            pickler.own = dict(own or {})
            pickler.dump(value)
            if pickler.copied:
                raise SharedInputError(
                    f"it keeps objects held inside {', '.join(sorted(live))}, which a restore "
                    "would copy"
                )
        else:
            plain = (_NanSharingPickler if nans else _SharingPickler)(out, collect, link_views)
            plain.own = dict(own or {})
            plain.dump(value)
    except (SharedInputError, SerializationError):
        raise
    except Exception as exc:
        raise SerializationError(
            f"it cannot be pickled ({type(exc).__name__}: {exc})", type_name=type(value).__name__
        ) from exc
    return out.getvalue()


def loads_shared(
    data: bytes | memoryview, buffers: Iterable[Any] = (), live: Mapping[str, Any] | None = None
) -> Any:
    """Inverse of :func:`dumps_shared` (the data must come from an authenticated entry).

    ``live`` is the namespace that references to live variables resolve in (default: the
    one :func:`load_groups` is loading into).
    """
    if _names_no_class(data):
        # Builtin values only: no reference to resolve, no code to run (a hit's small values).
        return pickle.loads(data, buffers=buffers)
    token = _LIVE.set(live) if live is not None else None
    try:
        unpickler = _LinkingUnpickler(io.BytesIO(data), buffers=list(buffers))
        # ``live`` if given, else the namespace of the load_groups call this runs under
        # (None outside one): references resolve there, and the notebook frames use it.
        ns = _LIVE.get()
        if not isinstance(ns, dict) or "__builtins__" not in ns:
            return unpickler.load()
        # Unpickled from frames whose globals are the notebook's, as a cell calling
        # ``pickle.load`` (or a function of it that does) would be: code that reads the
        # frames above it while it is unpickled finds the notebook there. statsmodels
        # re-evaluates a formula model's formula in the namespace two frames above the one
        # calling ``load`` (``PandasData.__setstate__``) and patsy keeps it for ``predict``:
        # from here it was this module's, so a name of the notebook was undefined, or
        # patsy's own ``center`` was taken for the notebook's. Two evaluation frames (no
        # function frame between them: ``eval`` and ``partial`` are C); their locals are
        # emptied after, so nothing of the load stays reachable from what captured them.
        inner = {"load": unpickler.load}
        outer = {"load": functools.partial(eval, _LOAD_IN_NAMESPACE, ns, inner)}
        try:
            return eval(_LOAD_IN_NAMESPACE, ns, outer)
        finally:
            inner.clear()
            outer.clear()
    finally:
        if token is not None:
            _LIVE.reset(token)


_LOAD_IN_NAMESPACE = compile("load()", "<persist_ext restore>", "eval")

# Opcodes that fetch a class or function by name (STACK_GLOBAL, the extension registry's
# EXT1/2/4) or hand an id to ``persistent_load`` (BINPERSID: modules, live variables): the
# only ways a protocol 5 pickle (``dumps_shared``'s) reaches code of anyone's.
_NAMING_OPCODES = (b"\x93", b"\x82", b"\x83", b"\x84", b"Q")


def _names_no_class(data: bytes | memoryview) -> bool:
    """Whether a small pickle of ``dumps_shared`` certainly runs no one's code when loaded
    (builtin values only): it needs no notebook frames around it. A byte of its data that
    looks like such an opcode only costs the frames."""
    if len(data) > SMALL_PICKLE:
        return False
    raw = bytes(data)
    return not any(op in raw for op in _NAMING_OPCODES)


# Groups whose pickle is at most this big are handed back in SavedGroups.small.
SMALL_PICKLE = 4096


class _Packed:
    """A group as stored: its own pickle (views, modules handled) plus out-of-band buffers.

    The store pickles this object in turn; ``__reduce__`` hands it the buffers as
    ``PickleBuffer`` so large arrays are written without a copy.
    """

    def __init__(
        self,
        values: dict[str, Any],
        link_views: bool = True,
        live: Mapping[str, Any] | None = None,
        nans: bool = False,
        own: Mapping[int, str] | None = None,
    ) -> None:
        self.data, self.buffers = dumps_shared(
            values, link_views=link_views, live=live, nans=nans, own=own
        )

    def __reduce__(self) -> Any:
        return _unpack, (self.data, *self.buffers)


def _unpack(data: bytes, *buffers: Any) -> dict[str, Any]:
    return loads_shared(data, buffers)  # type: ignore[no-any-return]


# ----------------------------------------------------------------------------- store


@dataclass
class SavedGroups:
    """Where :func:`save_groups` put each variable, and what could not be stored.

    Attributes
    ----------
    keys
        Variable -> store key of its group's entry (variables of one group share a key).
    sizes
        Store key -> payload bytes.
    types
        Variable -> short type description.
    failures
        Variable -> the error that kept its group from being stored.
    written
        Store keys written (to delete again when the caller gives up).
    small
        Store key -> the group's own pickle, for groups of at most ``SMALL_PICKLE`` bytes
        without out-of-band buffers: a caller may keep it inside a record of its own that
        is authenticated too (a cell manifest), and pass it back to :func:`load_groups`.
    """

    keys: dict[str, str] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    failures: dict[str, Exception] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)
    small: dict[str, bytes] = field(default_factory=dict)

    def partners(self, name: str) -> list[str]:
        """The other variables stored in one entry with ``name``."""
        key = self.keys.get(name)
        return sorted(v for v, k in self.keys.items() if k == key and v != name)


def _raw_array(value: Any) -> bool:
    np = sys.modules.get("numpy")
    return (
        np is not None
        and type(value) is np.ndarray
        and value.base is None
        and not value.dtype.hasobject
        and value.dtype.fields is None  # structured arrays are pickled (owning on load)
        and value.flags.writeable
    )


# The dtype pandas gives an Index of strings (``str`` or ``object``), by pandas module.
_LABEL_DTYPE: list[Any] = [None, None]


def _default_label_dtype(pd: Any) -> Any:
    if _LABEL_DTYPE[0] is not pd:
        _LABEL_DTYPE[:] = [pd, pd.Index(["a"]).dtype]
    return _LABEL_DTYPE[1]


def _arrow_exact(value: Any) -> bool:
    """A DataFrame / Series the store's Arrow format gives back exactly (else: pickle).

    Numeric, boolean and naive datetime numpy columns under a RangeIndex or a plain numeric
    or datetime index without a frequency: Arrow keeps those as they were. Object columns
    (lists and dicts come back as arrays), extension dtypes, periods, frequencies, ``attrs``
    and frames not consolidated into one block per dtype are left to pickle.
    """
    np = sys.modules.get("numpy")
    pd = sys.modules.get("pandas")
    if np is None or pd is None or getattr(value, "attrs", None) or notebook_attributes(value):
        return False
    if type(value) is pd.DataFrame:
        columns = value.columns
        if type(columns) is not pd.Index or not all(isinstance(c, str) for c in columns):
            return False
        if not columns.is_unique:
            return False
        if len(columns) and columns.dtype != _default_label_dtype(pd):
            # Labels of object dtype where pandas infers ``str`` (pandas >= 3: set by
            # ``pd.Index(..., dtype=object)``) would come back as ``str``.
            return False
        # Arrow gives back one block per dtype; a frame built column by column holds one
        # per column, and pandas warns when such a frame gets another column: pickle keeps
        # the blocks as they were.
        consolidated = getattr(getattr(value, "_mgr", None), "is_consolidated", None)
        if consolidated is not None and not consolidated():
            return False
        dtypes = list(value.dtypes)
    elif type(value) is pd.Series:
        if value.name is not None and not isinstance(value.name, str):
            return False
        dtypes = [value.dtype]
    else:
        return False
    if not value.flags.allows_duplicate_labels:  # a flag Arrow does not keep
        return False
    if not all(isinstance(d, np.dtype) and d.kind in "biufM" for d in dtypes):
        return False
    index = value.index
    if index.name is not None and not isinstance(index.name, str):
        return False
    if type(index) is pd.RangeIndex:
        return True
    if type(index) is pd.DatetimeIndex:
        return index.freq is None and index.tz is None and isinstance(index.dtype, np.dtype)
    # An index over a read-only array (a view of another Index's values): Arrow would give
    # it back writeable (``np.asarray(s.index)[0] = 0`` would then change the Index); pickle
    # keeps it read-only.
    return (
        type(index) is pd.Index
        and isinstance(index.dtype, np.dtype)
        and index.dtype.kind in "biuf"
        and bool(np.asarray(index).flags.writeable)
    )


def _type_of(value: Any) -> str:
    cls = type(value)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


def bound_by_own_name(values: Mapping[str, Any]) -> dict[int, str]:
    """The notebook's classes and functions among ``values`` bound to their own name, by id.

    ``Point = namedtuple('Point', ['x', 'y'])``, ``Shape = type('Shape', (), {})``: a class
    made by a call has ``__main__`` for module and its name for qualified name, so pickle
    stores it as the reference ``__main__.Point``, which a restore resolves in the namespace
    before it binds the cell's variables: to an older ``Point`` (a ``class Point`` cell
    above), not to the class the cell made. (A ``class`` or ``def`` statement is not a value:
    a restore runs it again.) Such a value, or a value holding it, is not stored.
    """
    found = {}
    for name, value in values.items():
        if not callable(value):
            continue
        try:
            if value.__module__ == "__main__" and value.__qualname__ == name:
                found[id(value)] = name
        except Exception:  # no such attributes, or ones that fail: not stored by name
            continue
    return found


def save_groups(
    store: KeyValueStore,
    prefix: str,
    values: Mapping[str, Any],
    groups: Iterable[Group],
    *,
    expire: float | None = None,
) -> SavedGroups:
    """Store each group of ``values`` as one entry under ``prefix`` (``<prefix>g<i>``).

    A failing group does not stop the others; its variables are listed in ``failures``.

    Examples
    --------
    >>> from persist_ext.storage._memory import MemoryStore
    >>> store, shared = MemoryStore(), [1]
    >>> values = {"a": shared, "b": shared}
    >>> saved = save_groups(store, "demo/", values, group_variables(values))
    >>> back = load_groups(store, saved.keys)
    >>> back["a"] is back["b"]
    True
    """
    saved = SavedGroups()
    own = bound_by_own_name(values)
    for index, group in enumerate(groups):
        key = f"{prefix}g{index}"
        names = [n for n in group.names if n in values and n not in group.live]
        live = {n: values[n] for n in group.live if n in values}
        if not names:
            continue
        try:
            if group.held_by:
                held_by = ", ".join(group.held_by)
                raise SharedInputError(
                    f"{held_by} holds objects it changed (in a closure, a default value or a "
                    "weak reference), "
                    f"which a restore would replace while {held_by} kept the old ones"
                )
            if (
                len(names) == 1
                and not live
                and (_raw_array(values[names[0]]) or _arrow_exact(values[names[0]]))
            ):
                info = store.set(key, values[names[0]], expire=expire, meta={"variables": names})
            else:
                packed = _Packed(
                    {n: values[n] for n in names},
                    link_views=group.views or bool(live),
                    live=live,
                    nans=group.nans or group.sets,
                    own=own,
                )
                # Each member's summary rides in the header: browsers show a packed
                # variable's shape, range or head without unpickling the group.
                members = summarize_members({n: values[n] for n in names})
                meta = {"variables": names, "group": True, "members": members}
                info = store.set(key, packed, expire=expire, meta=meta)
                if not packed.buffers and len(packed.data) <= SMALL_PICKLE:
                    saved.small[key] = packed.data
        except Exception as exc:
            for name in names:
                saved.failures[name] = exc
            continue
        saved.written.append(key)
        saved.sizes[key] = int(info.size)
        for name in names:
            saved.keys[name] = key
            saved.types[name] = _type_of(values[name])
    return saved


def load_groups(
    store: KeyValueStore,
    keys: Mapping[str, str],
    *,
    mmap: bool = False,
    live: Mapping[str, Any] | None = None,
    small: Mapping[str, bytes] | None = None,
) -> dict[str, Any]:
    """Load the variables saved by :func:`save_groups` (``keys``: variable -> store key).

    Each entry is read once; variables of one group come back sharing their objects.
    ``live`` is the namespace the group's references to live variables resolve in (a group
    saved with :attr:`Group.live` names fails to load without it). ``small`` holds
    :attr:`SavedGroups.small` pickles, which must come from an authenticated record: those
    groups are unpickled from it instead of read from the store.

    Raises
    ------
    KeyError
        An entry is missing (expired, or deleted by another process).
    """
    by_key: dict[str, list[str]] = {}
    for name, key in keys.items():
        by_key.setdefault(key, []).append(name)
    out: dict[str, Any] = {}
    token = _LIVE.set(live)
    try:
        for key, names in by_key.items():
            data = small.get(key) if small else None
            _load_one(store, key, names, mmap, out, data)
    finally:
        _LIVE.reset(token)
    return out


def _load_one(
    store: KeyValueStore,
    key: str,
    names: list[str],
    mmap: bool,
    out: dict[str, Any],
    data: bytes | None = None,
) -> None:
    value = store.get(key, mmap=mmap) if data is None else loads_shared(data)
    if isinstance(value, dict) and (len(names) > 1 or names[0] in value):
        for name in names:
            out[name] = value[name]
    elif len(names) == 1:
        out[names[0]] = value
    else:
        raise KeyError(f"{key} does not hold the variables {', '.join(names)}")

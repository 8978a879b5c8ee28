"""How a group of variables becomes one content-addressed object, and back.

A *group* is a set of variables pickled together (one pickle, so objects shared between
them are stored once and come back shared: ``a is b`` survives). A packed group is:

* ``data`` — the pickle (protocol 5, via ``cloudpickle`` so notebook functions, classes and
  lambdas are stored by value) of the dict ``{name: value}``;
* ``buffers`` — the large buffers (numpy arrays, Arrow columns) kept out of band, so they
  are hashed and written straight from the array's own memory, never copied;
* ``digest`` — xxh3-128 over the pickle and the buffers: the object's address in the store,
  so an unchanged group is recognised by its digest and never written twice;
* ``sharing`` — the ids of the mutable objects the pickle reached (from the pickler's memo),
  which is how the grouping finds variables that share objects.

A numpy view of an array stored in the same group comes back as a view of it (same memory,
same strides), so writing through the view still changes the base.

Functions defined in the notebook keep the notebook as their globals: the pickler writes a
placeholder for the namespace instead of copying the globals a function uses (cloudpickle's
default), and the loader puts the target namespace there. A restored ``def score(): return
data.sum()`` therefore reads the restored ``data``, not a private copy of it.
"""

from __future__ import annotations

import builtins
import io
import pickle
import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import xxhash

from ...storage._arrays import array_root
from ...storage._reduction import pickle_reduction
from .._bounded import BoundedSink, stall_limits
from .._covars import (
    global_rng_ids,
    global_rng_reduction,
    rebuild_view,
    writeable_flag,
)

__all__ = ["PackedGroup", "pack_group", "sharing_of", "unpack_group"]

_NAMESPACE = "persist_ext.namespace"
# Objects whose identity carries no meaning (or which every value shares, like a dtype):
# they never make two variables one group.
_ATOMIC = (
    str,
    bytes,
    int,
    float,
    complex,
    bool,
    type(None),
    tuple,
    frozenset,
    range,
    type,
    types.ModuleType,
    types.BuiltinFunctionType,
    types.CodeType,
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
)


@dataclass
class PackedGroup:
    """One group of variables, pickled and addressed by content."""

    names: tuple[str, ...]
    data: bytes
    buffers: list[pickle.PickleBuffer]
    digest: str
    sharing: frozenset[int] = field(default_factory=frozenset)

    @property
    def size(self) -> int:
        """Payload bytes (pickle + out-of-band buffers)."""
        return len(self.data) + sum(b.raw().nbytes for b in self.buffers)

    def value(self) -> tuple[Any, ...]:
        """What the store keeps: the pickle, then each buffer (written out of band)."""
        return (self.data, *self.buffers)


# Files open on the file system (in-memory StringIO / BytesIO are data and are stored).
_OPEN_FILES = (io.FileIO, io.BufferedReader, io.BufferedWriter, io.BufferedRandom, io.TextIOWrapper)


def _pickler_class() -> type:
    import cloudpickle

    class _Pickler(cloudpickle.Pickler):  # type: ignore[misc,name-defined]
        def __init__(
            self, file: Any, namespace: Mapping[str, Any], roots: set[int], **kw: Any
        ) -> None:
            super().__init__(file, protocol=5, **kw)
            self._namespace = namespace
            self._roots = roots
            self._global_rngs = global_rng_ids()

        def persistent_id(self, obj: Any) -> Any:
            # The notebook namespace itself is never pickled: functions refer to it by name.
            return _NAMESPACE if obj is self._namespace else None

        def reducer_override(self, obj: Any) -> Any:
            # numpy's global RandomState (held by scipy's frozen distributions) and random's
            # Random (``random.random``): loaded as the global ones, not copies that neither
            # follow ``np.random.seed`` nor advance the global state.
            reduced = global_rng_reduction(self._global_rngs, obj)
            if reduced is not None:
                return reduced
            if isinstance(obj, _OPEN_FILES):
                # cloudpickle would store a read-mode file as a StringIO of its content: not
                # the file. Unstorable instead, so its cells reopen it (``_rebuild``).
                raise TypeError(
                    f"cannot store an open file ({getattr(obj, 'name', '?')!r}, mode "
                    f"{getattr(obj, 'mode', '?')!r}): a copy of its content is not the file"
                )
            if self._roots and type(obj).__name__ == "ndarray" and obj.base is not None:
                view = _view_reduction(obj, self._roots)
                if view is not None:
                    return view
            if type(obj) is types.FunctionType and obj.__globals__ is self._namespace:
                return _make_function, (
                    obj.__code__,
                    obj.__globals__,
                    obj.__name__,
                    obj.__defaults__,
                    obj.__closure__,
                    obj.__kwdefaults__,
                    obj.__qualname__,
                    obj.__doc__,
                    obj.__annotations__ or None,
                    obj.__dict__ or None,
                    obj.__module__,
                )
            reduced = super().reducer_override(obj)
            if reduced is NotImplemented:
                return pickle_reduction(obj, keep_order=True)
            return reduced

    return _Pickler


_PICKLER: type | None = None


def _make_function(
    code: types.CodeType,
    globals_: dict[str, Any],
    name: str,
    defaults: tuple[Any, ...] | None,
    closure: tuple[Any, ...] | None,
    kwdefaults: dict[str, Any] | None,
    qualname: str,
    doc: str | None,
    annotations: dict[str, Any] | None,
    attributes: dict[str, Any] | None,
    module: str,
) -> types.FunctionType:
    """Rebuild a notebook function whose globals are the (target) namespace."""
    # A plain dict namespace gets builtins the way exec() gives them (IPython's has them).
    globals_.setdefault("__builtins__", builtins)
    fn = types.FunctionType(code, globals_, name, defaults, closure)
    fn.__kwdefaults__ = kwdefaults
    fn.__qualname__ = qualname
    fn.__doc__ = doc
    fn.__module__ = module
    if annotations:
        fn.__annotations__ = annotations
    if attributes:
        fn.__dict__.update(attributes)
    return fn


def _view_reduction(obj: Any, roots: set[int]) -> Any:
    """A numpy view of an array stored in the same group: rebuilt as a view of it."""
    np = sys.modules.get("numpy")
    if np is None or type(obj) is not np.ndarray or obj.dtype.hasobject:
        return None
    root = array_root(obj)
    if root is obj or id(root) not in roots:
        return None
    if type(root) is not np.ndarray or not (root.flags.c_contiguous or root.flags.f_contiguous):
        return None
    offset = obj.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    # The flag as numpy's bits say it: reading `flags.writeable` of an np.broadcast_arrays
    # result prints a FutureWarning into the user's cell.
    return _rebuild_view, (root, offset, obj.shape, obj.strides, obj.dtype, writeable_flag(obj))


def _rebuild_view(
    root: Any, offset: int, shape: Any, strides: Any, dtype: Any, writeable: bool | str
) -> Any:
    # Checkpoints name this function in their pickles; the view is made as the cell
    # cache makes one (a view that warned on write warns again).
    return rebuild_view(root, offset, shape, strides, dtype, writeable)


def _shareable(obj: Any) -> bool:
    if isinstance(obj, _ATOMIC):
        return False
    np = sys.modules.get("numpy")
    if np is not None and isinstance(obj, np.dtype | np.generic):
        return False
    return not (isinstance(obj, types.FunctionType) and obj.__module__ != "__main__")


def _bases(value: Any) -> list[int]:
    """Ids of the arrays a numpy view looks into (pickle copies views, sharing is lost)."""
    np = sys.modules.get("numpy")
    ids = []
    while np is not None and isinstance(value, np.ndarray) and value.base is not None:
        ids.append(id(value.base))
        value = value.base
    return ids


def pack_group(
    values: Mapping[str, Any],
    namespace: Mapping[str, Any],
    *,
    digest: bool = True,
    shared: frozenset[int] | set[int] = frozenset(),
) -> PackedGroup:
    """Pickle ``values`` (name → value) as one object and address it by its content.

    Raises whatever pickling raises (the caller names the variable and the reason).
    ``digest=False`` skips hashing (when only the sharing is wanted). ``shared``: ids of
    objects several of the variables reach; a numpy array among them that owns the memory
    of views (``X = df[cols].to_numpy()`` looks into the frame's block) is stored once and
    every view of it in the group comes back as a view of it, as in the live namespace.
    """
    global _PICKLER
    if _PICKLER is None:
        _PICKLER = _pickler_class()
    buffers: list[pickle.PickleBuffer] = []
    # A __reduce__ that waits (on a server that never answers) would hold the kernel: one
    # that writes nothing for a while is given up on, and the variable reported skipped.
    out = BoundedSink(stall_limits())
    payload = dict(values)
    np = sys.modules.get("numpy")
    # Arrays of the group that own their memory: views into them stay views.
    roots = (
        {id(v) for v in values.values() if type(v) is np.ndarray and v.base is None}
        if np is not None
        else set()
    )
    roots |= set(shared)
    pickler = _PICKLER(out, namespace, roots, buffer_callback=out.buffers(buffers.append))
    with out.interruptible():
        pickler.dump(payload)
    memo = pickler.memo.copy()
    sharing = {k for k, (_, obj) in memo.items() if k != id(payload) and _shareable(obj)}
    for value in [*values.values(), *(obj for _, obj in memo.values())]:
        sharing.update(_bases(value))
    data = out.getvalue()
    hexdigest = ""
    if digest:
        h = xxhash.xxh3_128()
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
        for buffer in buffers:
            raw = buffer.raw()
            h.update(raw.nbytes.to_bytes(8, "little"))
            h.update(raw)
        hexdigest = h.hexdigest()
    return PackedGroup(tuple(values), data, buffers, hexdigest, frozenset(sharing))


def sharing_of(value: Any, namespace: Mapping[str, Any]) -> frozenset[int]:
    """Ids of the shareable objects ``value`` reaches (a pickling pass without hashing)."""
    return pack_group({"_": value}, namespace, digest=False).sharing


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: Any, namespace: dict[str, Any], buffers: Any) -> None:
        super().__init__(file, buffers=buffers)
        self._namespace = namespace

    def persistent_load(self, pid: Any) -> Any:
        if pid == _NAMESPACE:
            return self._namespace
        raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")


def unpack_group(stored: Any, namespace: dict[str, Any]) -> dict[str, Any]:
    """Rebuild the ``{name: value}`` dict of a group read back from the store."""
    if not isinstance(stored, tuple) or not stored or not isinstance(stored[0], bytes | memoryview):
        raise ValueError("not a checkpoint object (expected the pickle and its buffers)")
    data, *buffers = stored
    import cloudpickle  # noqa: F401  (registers what cloudpickle's pickles need)

    values = _Unpickler(io.BytesIO(data), namespace, buffers).load()
    if not isinstance(values, dict):
        raise ValueError("not a checkpoint object (its pickle is not a dict of variables)")
    return values

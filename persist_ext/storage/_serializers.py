"""How values become bytes: a registry of serializers keyed by type, and JSON summaries.

A store asks :func:`serializer_for` which serializer handles a value. The registry maps a
type (or its dotted name, so that pandas need not be imported to register it) to a
:class:`Serializer`; the most specific type in the value's MRO wins, and anything unmatched
goes to pickle protocol 5. Defaults:

========================  ============  ===================================================
type                      name          format
========================  ============  ===================================================
``numpy.ndarray``         ``"numpy"``   small JSON header + the raw buffer (memory-mappable)
``pandas.DataFrame``      ``"arrow"``   Arrow IPC (feather) when pyarrow is installed
``pandas.Series``         ``"arrow"``   same, as a one-column table
anything else             ``"pickle"``  pickle protocol 5, large buffers out of band
on request only           ``"json"``    ``json.dumps`` (``store.set(k, v, serializer="json")``)
========================  ============  ===================================================

A serializer's ``dump`` returns a *list of buffers* whose concatenation is the payload, so a
large array is written to its file straight from its own memory (no intermediate copy).
Serializer names are stored with each entry: never rename one that has data in the wild.
"""

from __future__ import annotations

import json
import logging
import mmap as _mmap
import pickle
import reprlib
import struct
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._errors import InvalidArgumentError, SerializationError
from ._previews import array_range, thumbnail
from ._usercode import is_user_code, type_module

__all__ = [
    "Serializer",
    "dump_value",
    "exact_dtype_code",
    "peek",
    "read_file_into",
    "register_serializer",
    "serializer_for",
    "serializer_named",
    "summarize",
    "summarize_members",
    "type_name",
    "unregister_type",
]

logger = logging.getLogger("persist_ext")
Buffer = bytes | bytearray | memoryview
ALIGN = 64  # raw buffers start on 64-byte boundaries so memory-mapped arrays are aligned
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


def type_name(value_or_type: Any) -> str:
    """Dotted name of a value's type (or of a type), e.g. ``"numpy.ndarray"``."""
    cls = value_or_type if isinstance(value_or_type, type) else type(value_or_type)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _padding(offset: int) -> bytes:
    return b"\0" * (-offset % ALIGN)


def peek(buffers: Sequence[Buffer], start: int, count: int) -> bytes:
    """Bytes ``[start, start + count)`` of the concatenation of ``buffers`` (no join)."""
    out, offset, stop = [], 0, start + count
    for buf in buffers:
        view = memoryview(buf).cast("B")
        n = view.nbytes
        lo, hi = max(start - offset, 0), min(stop - offset, n)
        if lo < hi:
            out.append(bytes(view[lo:hi]))
        offset += n
        if offset >= stop:
            break
    return b"".join(out)


def read_file_into(path: Path, size: int) -> bytearray:
    """Read exactly ``size`` bytes of ``path`` into a new writable buffer, in one pass."""
    data = bytearray(size)
    view = memoryview(data)
    with open(path, "rb", buffering=0) as handle:
        done = 0
        while done < size:
            n = handle.readinto(view[done:])
            if not n:
                raise ValueError(f"{path} is truncated: {done} of {size} bytes")
            done += n
    return data


class Serializer:
    """Turns values of some types into a payload and back.

    Subclass it, set ``name`` (stored with every entry, so keep it stable), implement
    :meth:`dump` and :meth:`load`, and register an instance with :func:`register_serializer`.
    Override :meth:`load_file` to read large entries cleverly (e.g. memory-mapped) and
    :meth:`accepts` to decline some values of a registered type (they then go to pickle).

    Examples
    --------
    >>> class Text(Serializer):
    ...     name = "example-text"
    ...     def dump(self, value):
    ...         return [value.encode()]
    ...     def load(self, data):
    ...         return bytes(data).decode()
    >>> register_serializer(Text(), str, replace=True) is not None
    True
    >>> serializer_for("hi").name
    'example-text'
    >>> _ = unregister_type(str)
    """

    name: str = ""
    #: Whether ``Store.get(..., mmap=True)`` may map this serializer's payloads. Only for
    #: pure-data formats: a mapped payload's data bytes are not checksummed before use.
    mappable: bool = False

    def accepts(self, value: Any) -> bool:
        """Whether this serializer takes ``value`` (else the pickle serializer does)."""
        return True

    def dump(self, value: Any) -> Sequence[Buffer]:
        """Return buffers whose concatenation is the payload."""
        raise NotImplementedError

    def load(self, data: memoryview) -> Any:
        """Rebuild the value from the payload bytes."""
        raise NotImplementedError

    def signed_span(self, buffers: Sequence[Buffer], size: int) -> tuple[int, int]:
        """How many leading and trailing payload bytes can decide what :meth:`load` *does*.

        The entry's MAC covers them; the bytes in between must be plain data (decoding them
        can only give other numbers, never run code) and are covered by the entry's checksum,
        which the MAC covers in turn. The default, ``(size, 0)``, signs everything: right for
        any format that may run code (pickle) or that persist_ext cannot vouch for.
        """
        return size, 0

    def load_file(self, path: Path, size: int, *, mmap: bool = False) -> Any:
        """Rebuild the value from a payload file of ``size`` bytes.

        The default reads the file into memory in one pass, or maps it read-only when
        ``mmap`` is true (buffers in the value then point into the mapping).
        """
        if mmap and size:
            with open(path, "rb") as handle:
                mapped = _mmap.mmap(handle.fileno(), 0, access=_mmap.ACCESS_READ)
            return self.load(memoryview(mapped))
        return self.load(memoryview(read_file_into(path, size)))

    def summarize(self, value: Any) -> dict[str, Any]:
        """A small JSON-ready description of ``value`` (see :func:`summarize`)."""
        return summarize(value)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


# --------------------------------------------------------------------------- pickle, json


class PickleSerializer(Serializer):
    """Pickle protocol 5; buffers that support it (numpy, arrow, bytearray) go out of band.

    Payload: ``u32 nbuf``, ``u64 pickle_len``, ``nbuf * u64 buf_len``, the pickle, then each
    buffer aligned to 64 bytes.
    """

    name = "pickle"

    def dump(self, value: Any) -> Sequence[Buffer]:
        buffers: list[pickle.PickleBuffer] = []
        try:
            data = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
        except Exception as exc:
            name = type_name(value)
            raise SerializationError(
                f"Cannot pickle a value of type {name}: {exc}. Convert it to plain data first "
                "(a list instead of a generator, no lambdas, locks or open files inside), "
                "or register a serializer for its type with "
                "persist_ext.register_serializer(...).",
                type_name=name,
            ) from exc
        raws = [b.raw() for b in buffers]
        head = _U32.pack(len(raws)) + _U64.pack(len(data))
        head += b"".join(_U64.pack(r.nbytes) for r in raws)
        out: list[Buffer] = [head, data]
        offset = len(head) + len(data)
        for raw in raws:
            pad = _padding(offset)
            out += [pad, raw]
            offset += len(pad) + raw.nbytes
        return out

    def signed_span(self, buffers: Sequence[Buffer], size: int) -> tuple[int, int]:
        # The head and the pickle stream are code. Out-of-band buffers are left to the
        # checksum only when they are numpy or Arrow memory: plain numbers the signed stream
        # hands to array constructors. Any other exporter (a user class handing out
        # PickleBuffers) might be decoded as code by its owner: then everything is signed.
        nbuf, plen = struct.unpack("<IQ", peek(buffers, 0, 12))
        raws = [b for b in buffers[2:] if isinstance(b, memoryview)]
        if len(raws) != nbuf or not all(_is_array_memory(raw.obj) for raw in raws):
            return size, 0
        return min(12 + 8 * nbuf + plen, size), 0

    def load(self, data: memoryview) -> Any:
        (nbuf,) = _U32.unpack_from(data, 0)
        if not nbuf:  # fast path: everything in band
            return pickle.loads(data[12:])
        (plen,) = _U64.unpack_from(data, 4)
        offset = 12
        sizes = [_U64.unpack_from(data, offset + 8 * i)[0] for i in range(nbuf)]
        offset += 8 * nbuf
        body = data[offset : offset + plen]
        offset += plen
        if nbuf and data.readonly and not isinstance(data.obj, _mmap.mmap):
            # Buffers from an immutable ``bytes`` would make arrays read-only: copy once.
            data = memoryview(bytearray(data))
        views = []
        for size in sizes:
            offset += -offset % ALIGN
            views.append(data[offset : offset + size])
            offset += size
        if offset > len(data):
            raise ValueError(f"pickle payload truncated: {len(data)} of {offset} bytes")
        return pickle.loads(body, buffers=views)


def _is_array_memory(exporter: Any) -> bool:
    """Whether an out-of-band buffer is array memory (numpy, Arrow): data, never code."""
    return type(exporter).__module__ in ("numpy", "pyarrow.lib")


class JsonSerializer(Serializer):
    """``json.dumps``; only used when asked (``serializer="json"``); loads lists, not tuples."""

    name = "json"

    def dump(self, value: Any) -> Sequence[Buffer]:
        try:
            text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            name = type_name(value)
            raise SerializationError(
                f"A value of type {name} is not JSON-serializable: {exc}. Use plain "
                "dict/list/str/int/float/bool/None, or drop serializer='json'.",
                type_name=name,
            ) from exc
        return [text.encode()]

    def load(self, data: memoryview) -> Any:
        return json.loads(bytes(data))


# --------------------------------------------------------------------------- numpy


def exact_dtype_code(dtype: Any) -> str | None:
    """The text ``numpy.dtype()`` needs to make ``dtype`` again where ``dtype.str`` is not
    enough, or ``None``. numpy's ``long long`` (``np.longlong``, type codes ``q``/``Q``) is
    ``'<i8'`` like ``long``, and ``dtype('<i8')`` is ``long`` ('l') on Linux: an array of it
    came back with another ``dtype.char`` and ``num``, its items ``numpy.int64``. The one place
    that decides it, for the raw array format and the cache's pickler.

    >>> import numpy as np
    >>> exact_dtype_code(np.dtype(np.longlong)), exact_dtype_code(np.dtype(np.int32))
    ('<q', None)
    """
    if dtype.char not in "qQ" or dtype.fields is not None or dtype.subdtype is not None:
        return None
    return None if dtype.metadata is not None else dtype.str[0] + dtype.char


class NumpySerializer(Serializer):
    """numpy arrays as raw bytes after a JSON header; ``load_file(mmap=True)`` maps them.

    Arrays holding Python objects, structured dtypes, dtypes carrying ``metadata`` and
    ndarray subclasses other than ``np.memmap`` are declined (pickle keeps their exact type).
    """

    name = "numpy"
    mappable = True

    def accepts(self, value: Any) -> bool:
        import numpy as np

        dtype = value.dtype
        return (
            type(value) in (np.ndarray, np.memmap)
            and not dtype.hasobject
            and dtype.fields is None
            and dtype.subdtype is None
            and dtype.metadata is None  # the header's dtype string leaves it out
        )

    def dump(self, value: Any) -> Sequence[Buffer]:
        import numpy as np

        fortran = not value.flags.c_contiguous and value.flags.f_contiguous
        if fortran:
            body = value.T  # a C-contiguous view of the same memory
        elif value.flags.c_contiguous:
            body = value
        else:
            body = np.ascontiguousarray(value)
        dtype = exact_dtype_code(value.dtype) or value.dtype.str
        meta = {"dtype": dtype, "shape": list(value.shape), "fortran": bool(fortran)}
        header = json.dumps(meta).encode()
        head = _U32.pack(len(header)) + header
        head += _padding(len(head))
        raw = memoryview(body.reshape(-1)).cast("B") if body.size else b""
        return [head, raw]

    def signed_span(self, buffers: Sequence[Buffer], size: int) -> tuple[int, int]:
        # The JSON header (dtype, shape) is signed; the raw array bytes are data.
        (hlen,) = _U32.unpack(peek(buffers, 0, 4))
        return min(4 + hlen + (-(4 + hlen) % ALIGN), size), 0

    @staticmethod
    def _header(data: memoryview | bytes) -> tuple[dict[str, Any], int]:
        (hlen,) = _U32.unpack_from(data, 0)
        meta = json.loads(bytes(data[4 : 4 + hlen]))
        return meta, 4 + hlen + (-(4 + hlen) % ALIGN)

    def load(self, data: memoryview) -> Any:
        import numpy as np

        meta, start = self._header(data)
        dtype, shape = np.dtype(meta["dtype"]), tuple(meta["shape"])
        count = int(np.prod(shape, dtype=np.int64))
        if len(data) - start != count * dtype.itemsize:
            raise ValueError(f"array payload has {len(data) - start} bytes, expected more")
        flat = np.frombuffer(data, dtype=dtype, count=count, offset=start)
        mapped = isinstance(data.obj, _mmap.mmap)
        if not mapped and (data.readonly or flat.nbytes <= _OWN_COPY_LIMIT):
            # Callers expect a writable array; the copy owns its memory (``base is None``)
            # as the array that was stored did, so views made of it have it as their base
            # (past the limit a writable buffer is used as it is: memory over identity).
            out = np.empty(shape, dtype=dtype, order="F" if meta["fortran"] else "C")
            (out.T if meta["fortran"] else out).reshape(-1)[...] = flat
            return out
        return _shape(flat, shape, meta["fortran"])

    def load_file(self, path: Path, size: int, *, mmap: bool = False) -> Any:
        import numpy as np

        with open(path, "rb", buffering=0) as handle:
            first = handle.read(min(size, 64 * 1024))
            meta, start = self._header(first)
            dtype, shape = np.dtype(meta["dtype"]), tuple(meta["shape"])
            nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            if size - start != nbytes:
                raise ValueError(f"{path}: {size - start} data bytes, expected {nbytes}")
            order = "F" if meta["fortran"] else "C"
            if mmap and nbytes:
                return np.memmap(  # type: ignore[call-overload]  # numpy's stubs lag its API
                    path, dtype=dtype, mode="r", offset=start, shape=shape, order=order
                )
            # One read straight into the array's memory, like np.fromfile; the array owns
            # that memory (``base is None``), in its own order, as the stored one did.
            out = np.empty(shape, dtype=dtype, order="F" if meta["fortran"] else "C")
            flat: Any = (out.T if meta["fortran"] else out).reshape(-1)  # a view, not a copy
            view = memoryview(flat).cast("B") if nbytes else memoryview(b"")
            handle.seek(start)
            done = 0
            while done < nbytes:
                n = handle.readinto(view[done:])
                if not n:
                    raise ValueError(f"{path} is truncated: {done} of {nbytes} data bytes")
                done += n
            return out


_OWN_COPY_LIMIT = 256 * 2**20  # bytes: arrays up to this size are loaded owning their memory


def _shape(flat: Any, shape: tuple[int, ...], fortran: bool) -> Any:
    return flat.reshape(shape[::-1]).T if fortran else flat.reshape(shape)


# --------------------------------------------------------------------------- registry

_BY_TYPE: dict[str, Serializer] = {}
_BY_NAME: dict[str, Serializer] = {}
PICKLE = PickleSerializer()


def _type_key(tp: type | str) -> str:
    return tp if isinstance(tp, str) else type_name(tp)


def register_serializer(
    serializer: Serializer, *types: type | str, replace: bool = False
) -> Serializer:
    """Register ``serializer`` under its ``name`` and for each of ``types``.

    Parameters
    ----------
    serializer
        An instance of a :class:`Serializer` subclass with a non-empty ``name``.
    *types
        Types (or dotted names such as ``"pandas.DataFrame"``'s defining
        ``"pandas.core.frame.DataFrame"``) whose values it stores. Subclasses match too;
        the most specific registered type in the value's MRO wins. No types: the serializer
        is only used when asked by name (``store.set(k, v, serializer=name)``).
    replace
        Allow replacing a different serializer already registered under the same name or
        type. Without it, a clash raises ``ValueError`` (entries record serializer names,
        so silently swapping one could make stored data unreadable).

    Returns
    -------
    Serializer
        ``serializer``, so the call can be used as an expression.

    Examples
    --------
    >>> class Upper(Serializer):
    ...     name = "example-upper"
    ...     def dump(self, value):
    ...         return [value.encode()]
    ...     def load(self, data):
    ...         return bytes(data).decode().upper()
    >>> register_serializer(Upper(), replace=True).name
    'example-upper'
    >>> register_serializer(Upper())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    persist_ext._errors.InvalidArgumentError: A serializer named 'example-upper' is already ...
    """
    if not isinstance(serializer, Serializer) or not serializer.name:
        raise InvalidArgumentError(
            f"register_serializer needs a Serializer instance with a name, got {serializer!r}."
        )
    old = _BY_NAME.get(serializer.name)
    if old is not None and old is not serializer and not replace:
        raise InvalidArgumentError(
            f"A serializer named {serializer.name!r} is already registered ({old!r}); "
            "pick another name or pass replace=True."
        )
    keys = [_type_key(tp) for tp in types]
    for key in keys:
        taken = _BY_TYPE.get(key)
        if taken is not None and taken is not serializer and not replace:
            raise InvalidArgumentError(
                f"Type {key} already uses serializer {taken.name!r}; pass replace=True."
            )
    _BY_NAME[serializer.name] = serializer
    for key in keys:
        _BY_TYPE[key] = serializer
    return serializer


def unregister_type(tp: type | str) -> Serializer | None:
    """Forget the serializer registered for ``tp`` (its values go to pickle again)."""
    return _BY_TYPE.pop(_type_key(tp), None)


def serializer_named(name: str) -> Serializer:
    """The serializer registered under ``name``; ``KeyError`` naming the known ones if none."""
    try:
        return _BY_NAME[name]
    except KeyError:
        known = ", ".join(sorted(_BY_NAME))
        raise KeyError(
            f"No serializer named {name!r} is registered (known: {known}); import the module "
            "that registers it first."
        ) from None


def serializer_for(value: Any) -> Serializer:
    """The serializer that stores ``value``: the most specific registered type wins.

    >>> serializer_for({"a": 1}).name
    'pickle'
    >>> import numpy as np
    >>> serializer_for(np.zeros(3)).name, serializer_for(np.array([None])).name
    ('numpy', 'pickle')
    """
    if _BY_TYPE:
        for cls in type(value).__mro__:
            found = _BY_TYPE.get(_type_key(cls))
            if found is not None:
                return found if found.accepts(value) else PICKLE
    return PICKLE


def dump_value(value: Any, serializer: str | None = None) -> tuple[Serializer, Sequence[Buffer]]:
    """Serialize ``value`` with the named serializer, or the one :func:`serializer_for` picks.

    A type-specific serializer that fails on a particular value (e.g. Arrow on a mixed-type
    object column) hands it to pickle; pickle's own failure raises
    :class:`~persist_ext.SerializationError` naming the type.
    """
    if serializer is not None:
        try:
            chosen = serializer_named(serializer)
        except KeyError as exc:
            raise SerializationError(exc.args[0], type_name=type_name(value)) from None
        try:
            return chosen, chosen.dump(value)
        except SerializationError:
            raise
        except Exception as exc:
            name = type_name(value)
            raise SerializationError(
                f"Serializer {serializer!r} cannot store a value of type {name}: {exc}. "
                "Leave serializer= unset to let persist_ext choose.",
                type_name=name,
            ) from exc
    chosen = serializer_for(value)
    if chosen is not PICKLE:
        try:
            return chosen, chosen.dump(value)
        except Exception as exc:
            logger.debug("serializer %r declined %s (%s); pickling", chosen.name, type(value), exc)
    return PICKLE, PICKLE.dump(value)


# --------------------------------------------------------------------------- summaries


class _ShortRepr(reprlib.Repr):
    """``reprlib``, and numpy arrays and pandas series or indexes by their first items:
    their own ``repr`` formats every element shown (up to a thousand for an array, sixty
    rows for a series), which cost a stored cell more than its run when it held a small
    array, and whose text was cut to 120 characters anyway."""

    def repr1(self, x: Any, level: int) -> str:
        if is_user_code(type(x)):
            return _untold(x)  # an item of a container too (see summarize)
        if not type_module(x).startswith(("numpy", "pandas")):
            return super().repr1(x, level)  # most items of a container: no module lookups
        numpy = sys.modules.get("numpy")
        if numpy is not None and isinstance(x, numpy.ndarray) and x.size > self.maxlist:
            items = numpy.array2string(
                x, separator=", ", threshold=self.maxlist, edgeitems=self.maxlist // 2
            )
            name = "array" if type(x) is numpy.ndarray else type(x).__name__
            return f"{name}({' '.join(items.split())}, dtype={x.dtype})"
        pandas = sys.modules.get("pandas")
        if (
            pandas is not None
            and isinstance(x, (pandas.Series, pandas.Index))
            and len(x) > self.maxlist
        ):
            head = x.iloc[: self.maxlist] if isinstance(x, pandas.Series) else x[: self.maxlist]
            items = self.repr1(head.tolist(), level - 1)
            return f"{type(x).__name__} of {len(x)} {x.dtype}: {items[:-1]}, ...]"
        return super().repr1(x, level)


def _untold(value: Any) -> str:
    """What a summary shows of an instance of a user class: ``<Vector object>``."""
    return f"<{type(value).__name__} object>"


_REPR = _ShortRepr()
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 6
REPR_LIMIT = 120


def _frame_head(frame: Any, rows: int = 5) -> dict[str, Any] | None:
    """The first rows of a frame as JSON ("split" layout), so browsers can show a table
    without loading the value; None when the frame cannot be rendered as JSON."""
    try:
        return json.loads(
            frame.head(rows).to_json(orient="split", date_format="iso", default_handler=str)
        )
    except Exception:  # exotic column types: the summary simply has no head
        return None


def summarize(value: Any) -> dict[str, Any]:
    """A small JSON-ready description of ``value`` that needs no unpickling to show.

    Keys: ``type`` always; ``shape`` and ``dtype`` for arrays and frames (frames also get
    ``columns`` and ``head``, their first rows in pandas' "split" JSON); ``len`` for
    sized containers; ``min``, ``max`` and ``stats`` for numeric arrays and ``thumbnail``
    (a small PNG data URI) for images and recorded outputs showing one (see
    :mod:`._previews`); ``repr``, at most 120 characters (never fails: a broken
    ``__repr__`` gives ``"<unrepresentable ...>"``). An instance of a user class (one of the
    notebook's, see :mod:`._usercode`), alone or in a container, is shown by its type only:
    describing a value never runs the user's code.

    >>> summarize([1, 2, 3])
    {'type': 'list', 'len': 3, 'repr': '[1, 2, 3]'}
    """
    out: dict[str, Any] = {"type": type_name(value)}
    if is_user_code(type(value)):
        # An instance of the notebook's own class is described by its type alone: its code
        # (a ``__repr__`` that prints or counts its calls, a ``shape`` property) is not run,
        # so storing a value never adds to what the cell showed or did.
        out["repr"] = _untold(value)
        return out
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and all(isinstance(n, int) for n in shape):
        out["shape"] = list(shape)
        dtype = getattr(value, "dtype", None)
        if dtype is not None and not callable(dtype):
            out["dtype"] = str(dtype)
        elif hasattr(value, "dtypes"):
            out["columns"] = [str(c) for c in list(getattr(value, "columns", []))[:20]]
    elif isinstance(value, (str, bytes, bytearray, list, tuple, dict, set, frozenset)):
        out["len"] = len(value)
    # Preview facts (array range, image thumbnail): bounded cost, see _previews.
    out.update(array_range(value))
    image = thumbnail(value)
    if image is not None:
        out["thumbnail"] = image
    if "columns" in out:
        out["head"] = _frame_head(value)
    try:
        if "columns" in out:  # a frame: its repr is slow and tall, describe it instead
            rows, cols = shape if shape is not None else ("?", "?")
            text = f"{out['type'].rsplit('.', 1)[-1]} {rows}x{cols}: {out['columns']}"
        else:
            text = _REPR.repr(value)
    except Exception as exc:  # a user __repr__ may raise anything; a summary must not
        text = f"<unrepresentable {out['type']}: {type(exc).__name__}>"
    out["repr"] = text if len(text) <= REPR_LIMIT else text[: REPR_LIMIT - 3] + "..."
    return out


#: JSON bytes allowed for the member summaries of one stored group (a header is read whole
#: by browsers, which read at most 256 KiB of it).
MEMBERS_LIMIT = 64 * 1024
# Facts dropped first, then second, when a group's member summaries exceed the limit.
_BULKY = ("thumbnail", "head")
_KEPT = ("type", "shape", "dtype", "len", "min", "max", "stats", "nan")


def summarize_members(values: dict[str, Any], limit: int = MEMBERS_LIMIT) -> dict[str, Any]:
    """:func:`summarize` of each value stored together in one entry, within ``limit`` bytes.

    A group of variables is stored as one pickle whose own summary describes the pack; this
    keeps each member's description (shape, dtype, range, a frame's head...) for browsers.
    Past ``limit`` bytes of JSON, thumbnails and frame heads are left out, then everything
    but the type, shape, dtype, length and range; never raises.

    >>> summarize_members({"a": [1, 2], "b": "xy"})["a"]
    {'type': 'list', 'len': 2, 'repr': '[1, 2]'}
    """
    out: dict[str, Any] = {}
    for name, value in values.items():
        try:
            out[name] = summarize(value)
        except Exception:  # a summary is best-effort; storing must go on
            out[name] = {"type": type_name(value)}

    def size() -> int:
        return len(json.dumps(out, default=str))

    if size() > limit:
        out = {n: {k: v for k, v in s.items() if k not in _BULKY} for n, s in out.items()}
    if size() > limit:
        out = {n: {k: v for k, v in s.items() if k in _KEPT} for n, s in out.items()}
    if size() > limit:
        out = {}
    return out


register_serializer(PICKLE)
register_serializer(JsonSerializer())
register_serializer(NumpySerializer(), "numpy.ndarray", "numpy.memmap")

# pandas via pyarrow lives in its own module; registering it is cheap (no pandas import).
from ._frames import ArrowFrameSerializer  # noqa: E402

# pandas 3 reports its public classes as "pandas.DataFrame"; older versions by defining module.
register_serializer(
    ArrowFrameSerializer(),
    "pandas.DataFrame",
    "pandas.core.frame.DataFrame",
    "pandas.Series",
    "pandas.core.series.Series",
)

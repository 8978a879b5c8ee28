"""Fingerprints of pandas objects: their column buffers and index, without a copy.

Imported by :mod:`._fingerprint` only when a pandas object is hashed, so pandas stays an
optional dependency.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._reduction import notebook_attributes

__all__ = ["feed_pandas"]

_UNSET = object()


def _feed_values(hasher: Any, h: Any, values: Any) -> None:
    """Hash a column's values: numpy buffers directly, extension arrays by their parts."""
    if isinstance(values, np.ndarray):
        hasher.feed_array(h, values)
        return
    hasher.put(h, b"ext", str(values.dtype).encode())
    if isinstance(values, pd.Categorical):
        hasher.feed_array(h, values.codes)
        hasher.feed(h, values.categories)
        hasher.feed(h, values.ordered)
    elif hasattr(values, "_data") and hasattr(values, "_mask"):  # nullable Int64/boolean/...
        hasher.feed_array(h, np.asarray(values._data))
        hasher.feed_array(h, np.asarray(values._mask))
    elif isinstance(values, (pd.arrays.DatetimeArray, pd.arrays.TimedeltaArray)):
        hasher.feed_array(h, values._ndarray)
    elif isinstance(values.dtype, pd.StringDtype):
        arrow = _arrow_strings(values)
        if arrow is not None:
            _feed_arrow_strings(hasher, h, arrow)
        else:  # element by element
            hasher.feed_array(h, np.asarray(values, dtype=object))
    else:
        # Strings, intervals, periods, arrow-backed arrays...: their pickle, whose
        # out-of-band buffers are hashed in place.
        hasher.feed_pickle(h, values)


def _arrow_strings(values: Any) -> Any:
    """The arrow array of string ``values`` held as arrow strings, else None."""
    if values.dtype.storage != "pyarrow":
        return None
    import pyarrow as pa

    arrow = values.__arrow_array__()
    return arrow if pa.types.is_string(arrow.type) or pa.types.is_large_string(arrow.type) else None


def _feed_arrow_strings(hasher: Any, h: Any, arrow: Any) -> None:
    """Arrow strings by their buffers, alike however arrow chunked them.

    Which entries are missing, every string's length and all their bytes in order (what a
    missing entry's slot spans is left out): the same strings give the same three parts
    and any other strings do not. String by string through Python objects cost ~70 ms for
    200,000 rows, paid on every read of the frame; this costs a copy of the bytes.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if arrow.null_count:
        hasher.put(h, b"missing", np.packbits(arrow.is_null().to_numpy()).tobytes())
        arrow = pc.fill_null(arrow, "")
    width = np.dtype(np.int64 if pa.types.is_large_string(arrow.type) else np.int32)
    lengths, parts = [], []
    for chunk in arrow.chunks:
        if not len(chunk):
            continue
        _, offsets, data = chunk.buffers()
        ends = np.frombuffer(offsets, width, len(chunk) + 1, chunk.offset * width.itemsize)
        lengths.append(np.diff(ends).astype(np.int64))
        if data is not None:
            parts.append(memoryview(data)[ends[0] : ends[-1]])
    hasher.put(h, b"lengths", np.concatenate(lengths).tobytes() if lengths else b"")
    hasher.put(h, b"bytes", b"".join(parts))


def _feed_index(hasher: Any, h: Any, index: pd.Index) -> None:
    if hasher.noted is not None:  # ``idx = df.index``: one object, renamed in place together
        hasher.noted.append(id(index))
    hasher.put(h, b"index", type(index).__name__.encode())
    hasher.feed(h, list(index.names))
    if isinstance(index, pd.RangeIndex):
        hasher.feed(h, (index.start, index.stop, index.step))
    elif isinstance(index, pd.MultiIndex):
        for level, codes in zip(index.levels, index.codes):
            _feed_index(hasher, h, level)
            hasher.feed_array(h, np.asarray(codes))
    else:
        _feed_values(hasher, h, index._values)
        if isinstance(index, (pd.DatetimeIndex, pd.TimedeltaIndex)):
            hasher.feed(h, index.freqstr)  # its frequency: repr, shift, asfreq use it


def feed_pandas(hasher: Any, h: Any, value: pd.DataFrame | pd.Series | pd.Index) -> None:
    """Feed a DataFrame, Series or Index into ``h`` (an xxh3 hasher) via ``hasher``."""
    if isinstance(value, pd.Index):
        _feed_index(hasher, h, value)
        return
    # What pandas keeps beside the data, which a cell may set on an input in place and a
    # later cell sees: ``attrs`` and whether duplicate labels are refused.
    hasher.feed(h, dict(value.attrs))
    hasher.feed(h, value.flags.allows_duplicate_labels)
    # And what the notebook set on it as attributes (``df.name = 'train'``).
    for name, held in sorted(notebook_attributes(value).items()):
        hasher.put(h, b"attribute", name.encode())
        hasher.feed(h, held)
    kind = type(value)
    if kind is not pd.DataFrame and kind is not pd.Series:
        # A subclass (``class Tagged(pd.DataFrame)``): its methods, and the attributes it
        # declares in ``_metadata``, which pandas carries along and a later cell reads.
        hasher.feed_code_value(h, kind)
        for name in getattr(kind, "_metadata", ()):
            held = getattr(value, name, _UNSET)
            if held is _UNSET:
                hasher.put(h, b"unset", str(name).encode())
            else:
                hasher.put(h, b"meta", str(name).encode())
                hasher.feed(h, held)
    if isinstance(value, pd.Series):
        hasher.put(h, b"series")
        hasher.feed(h, value.name)
        _feed_index(hasher, h, value.index)
        _feed_values(hasher, h, value._values)
    else:
        hasher.put(h, b"dataframe")
        _feed_index(hasher, h, value.columns)
        _feed_index(hasher, h, value.index)
        # Column by column: each column of a numpy block is one contiguous row of it, so
        # nothing is copied. ``items`` rather than ``iloc[:, i]``: the same columns, by
        # position (duplicate labels too), without ``iloc``'s indexing machinery (~40 µs a
        # column with pandas 3, paid in every key of a cell reading a frame).
        for _label, column in value.items():
            _feed_values(hasher, h, column._values)

"""Fingerprints of pandas objects: their column buffers and index, without a copy.

Imported by :mod:`._fingerprint` only when a pandas object is hashed, so pandas stays an
optional dependency.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

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
        # Element by element: equal strings hash alike however arrow chunked them.
        hasher.feed_array(h, np.asarray(values, dtype=object))
    else:
        # Strings, intervals, periods, arrow-backed arrays...: their pickle, whose
        # out-of-band buffers are hashed in place.
        hasher.feed_pickle(h, values)


def _feed_index(hasher: Any, h: Any, index: pd.Index) -> None:
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

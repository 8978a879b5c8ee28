"""Which numpy array owns the memory a view looks into.

One rule for every part that asks whether two arrays may share memory: the fingerprint (an
input held as a view inside another input), co-variable grouping and checkpoint packing.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["array_root"]


def array_root(arr: Any) -> Any:
    """The array that owns ``arr``'s memory (``arr`` itself when it owns it).

    ``np.lib.stride_tricks.as_strided`` (``sliding_window_view``, ``broadcast_to``) keeps
    the array it views behind a ``DummyArray`` base, which is followed too.

    >>> import numpy as np
    >>> x = np.arange(5)
    >>> array_root(np.lib.stride_tricks.sliding_window_view(x, 2)) is x
    True
    >>> array_root(x[::2]) is x, array_root(x[::2].copy()) is x
    (True, False)
    """
    np = sys.modules["numpy"]
    root = arr
    while True:
        base = root.base
        if isinstance(base, np.ndarray):
            root = base
        elif type(base).__name__ == "DummyArray" and isinstance(
            getattr(base, "base", None), np.ndarray
        ):
            root = base.base
        else:
            return root

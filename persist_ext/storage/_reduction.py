"""Reducing an object for pickling without changing it.

Pickling an instance asks it for its reduction (``__reduce_ex__``, which calls its class's
``__getstate__``). Some libraries' own ``__getstate__`` change the object they are asked
about instead of a copy: statsmodels' discrete-model results (``Logit(...).fit()``) set
``mle_settings["callback"] = None``, dropping a method it would rather not pickle. Storing
or fingerprinting a value must not change the variable the cell left, so the reductions
made here put back whatever the call changed in the instance's attributes, or in a dict one
of them holds, in place and in order, before pickle writes what the reduction returned.

>>> class Results:
...     def __init__(self):
...         self.settings = {"callback": print, "tol": 1e-8}
...     def __getstate__(self):
...         self.settings["callback"] = None  # as statsmodels does
...         return self.__dict__
>>> results = Results()
>>> reduced = reduce_untouched(results)
>>> results.settings["callback"] is print
True
>>> reduced[2]["settings"]["callback"] is print  # the state pickle writes is the object's
True
"""

from __future__ import annotations

import copyreg
import operator
import types
from itertools import repeat
from typing import Any

__all__ = ["pickle_reduction", "reduce_untouched"]

_ABSENT = object()
_REDUCERS = ("__reduce_ex__", "__reduce__", "__getstate__")
_IN_PYTHON: dict[type, bool] = {}


def reduce_untouched(obj: Any, protocol: int = 5) -> Any:
    """``obj.__reduce_ex__(protocol)``, with what the call changed in ``obj`` put back.

    What is watched: the instance's ``__dict__`` (names bound, deleted or rebound) and each
    dict it holds directly (items set or removed). Deeper changes are not seen.
    """
    own = getattr(obj, "__dict__", None)
    if type(own) is not dict:
        return obj.__reduce_ex__(protocol)
    before = own.copy()
    held = [(inner, inner.copy()) for inner in before.values() if type(inner) is dict]
    reduced = obj.__reduce_ex__(protocol)
    _put_back(own, before)
    for inner, was in held:
        _put_back(inner, was)
    return reduced


def pickle_reduction(obj: Any) -> Any:
    """For a pickler's ``reducer_override``: :func:`reduce_untouched` of an instance whose
    class reduces it in Python code of its own, ``NotImplemented`` otherwise (pickle's own
    reduction runs no code that could change it, or ``copyreg`` has a reducer for it)."""
    kind = type(obj)
    in_python = _IN_PYTHON.get(kind)
    if in_python is None:
        in_python = _IN_PYTHON[kind] = _reduces_in_python(kind)
    return reduce_untouched(obj) if in_python else NotImplemented


def _reduces_in_python(kind: type) -> bool:
    if issubclass(kind, type) or kind in copyreg.dispatch_table:
        return False
    return any(isinstance(getattr(kind, name, None), types.FunctionType) for name in _REDUCERS)


def _put_back(now: dict[Any, Any], was: dict[Any, Any]) -> None:
    if len(now) == len(was) and all(
        map(operator.is_, map(now.get, was, repeat(_ABSENT)), was.values())
    ):
        return
    now.clear()
    now.update(was)

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

A class's own ``__setstate__`` may also put attributes back in another order than the
object had (scipy's distributions attach their argument parsers last): what ``vars()``
lists, and so anything that walks it, would differ from a re-run's object. Stores ask
:func:`pickle_reduction` to keep the order (``keep_order=True``): the state goes with the
names in their order, and :func:`restore_in_order` sets it and puts them back in it.
"""

from __future__ import annotations

import copyreg
import operator
import sys
import types
from itertools import repeat
from typing import Any

__all__ = ["notebook_attributes", "pickle_reduction", "reduce_untouched", "restore_in_order"]

_ABSENT = object()
#: Items of a dict an instance holds that are copied to put back what its reduction changed.
WATCHED_ITEMS = 256
_REDUCERS = ("__reduce_ex__", "__reduce__", "__getstate__")
_IN_PYTHON: dict[type, tuple[bool, bool]] = {}


def reduce_untouched(obj: Any, protocol: int = 5) -> Any:
    """``obj.__reduce_ex__(protocol)``, with what the call changed in ``obj`` put back.

    What is watched: the instance's ``__dict__`` (names bound, deleted or rebound) and each
    dict of up to :data:`WATCHED_ITEMS` items it holds directly (items set or removed; a
    settings dict, not a fitted vocabulary, whose copy would cost more than the rest of the
    pickling). Deeper changes are not seen.
    """
    own = getattr(obj, "__dict__", None)
    if type(own) is not dict:
        return obj.__reduce_ex__(protocol)
    before = own.copy()
    held = [
        (inner, inner.copy())
        for inner in before.values()
        if type(inner) is dict and len(inner) <= WATCHED_ITEMS
    ]
    reduced = obj.__reduce_ex__(protocol)
    _put_back(own, before)
    for inner, was in held:
        _put_back(inner, was)
    return reduced


def pickle_reduction(obj: Any, *, keep_order: bool = False) -> Any:
    """For a pickler's ``reducer_override``: :func:`reduce_untouched` of an instance whose
    class reduces it in Python code of its own, ``NotImplemented`` otherwise (pickle's own
    reduction runs no code that could change it, or ``copyreg`` has a reducer for it).

    ``keep_order``: when the class sets the state in Python code of its own
    (``__setstate__``), it is set by :func:`restore_in_order` instead, with the names of
    the object's attributes in their order.
    """
    in_python, sets_state = _in_python(type(obj))
    if keep_order and sets_state:
        # Also when pickle's own reduction makes the state: the class's __setstate__ may
        # leave some of it out (scikit-learn's Bunch sets none), see restore_in_order.
        return _in_order(obj, reduce_untouched(obj) if in_python else obj.__reduce_ex__(5))
    if not in_python:
        return NotImplemented
    return reduce_untouched(obj)


# Referenced by name from stored pickles: keep the name.
def restore_in_order(obj: Any, state: tuple[Any, tuple[Any, ...]]) -> None:
    """Pickle's state setter for :func:`pickle_reduction` with ``keep_order``: the class's
    own ``__setstate__``, then the attributes in the order the stored object had them
    (those it did not have after the others, as set). An attribute the stored object had
    and the state holds, but the class's ``__setstate__`` did not set (scikit-learn's
    ``Bunch`` ignores its state, so ``load_digits()`` came back without the attributes it
    keeps in ``__dict__``), is set from the state: the object is the one the cell made.

    >>> class Parsers:
    ...     def __setstate__(self, state):
    ...         self.__dict__.update(state)
    ...         self.parse = len  # attached last, as scipy's distributions do
    >>> loaded = Parsers.__new__(Parsers)
    >>> restore_in_order(loaded, ({"a": 1, "z": 2}, ("a", "parse", "z")))
    >>> list(vars(loaded))
    ['a', 'parse', 'z']
    >>> class Ignoring(dict):
    ...     def __setstate__(self, state):
    ...         pass  # as scikit-learn's Bunch
    >>> loaded = Ignoring.__new__(Ignoring)
    >>> restore_in_order(loaded, ({"warnings": {}}, ("warnings",)))
    >>> vars(loaded)
    {'warnings': {}}
    """
    inner, order = state
    obj.__setstate__(inner)
    held = getattr(obj, "__dict__", None)
    if type(held) is not dict:
        return
    if type(inner) is dict and len(held) < len(order):
        for name in order:
            if name not in held and name in inner:
                held[name] = inner[name]
    if tuple(held) == order:
        return
    rank = {name: index for index, name in enumerate(order)}
    last = len(order)
    items = sorted(held.items(), key=lambda item: rank.get(item[0], last))  # stable
    held.clear()
    held.update(items)


def notebook_attributes(obj: Any) -> dict[str, Any]:
    """The attributes a notebook set on a pandas DataFrame or Series (``df.name =
    'train'``, which pandas allows with a warning): the public names of its ``__dict__``
    (pandas' own are private) that hold plain Python data (builtin types: a label, a dict
    of notes). pandas' pickle leaves them out, so a store adds them (:func:`pickle_reduction`)
    and a fingerprint covers them. What libraries attach (patsy's ``design_info`` on the
    frames of a statsmodels formula model, which refuses to be pickled) stays theirs: left
    out, as pandas leaves it.

    >>> import warnings
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"a": [1]})
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     frame.name = "train"
    >>> notebook_attributes(frame), notebook_attributes(pd.Series([1], name="s"))
    ({'name': 'train'}, {})
    """
    pd = sys.modules.get("pandas")
    if pd is None or not isinstance(obj, (pd.DataFrame, pd.Series)):
        return {}
    own = getattr(obj, "__dict__", None)
    if type(own) is not dict:
        return {}
    return {
        name: value
        for name, value in own.items()
        if not name.startswith("_") and type(value).__module__ == "builtins"
    }


def _in_order(obj: Any, reduced: Any) -> Any:
    if not isinstance(reduced, tuple) or len(reduced) < 3:
        return reduced
    parts = reduced + (None,) * (6 - len(reduced))
    held = getattr(obj, "__dict__", None)
    if parts[5] is not None or type(parts[2]) is not dict or type(held) is not dict:
        return reduced
    state = parts[2]
    extra = notebook_attributes(obj)
    if extra:  # pandas' __setstate__ sets every name of its state
        state = {**state, **extra}
    return (*parts[:2], (state, tuple(held)), parts[3], parts[4], restore_in_order)


def _in_python(kind: type) -> tuple[bool, bool]:
    """Whether ``kind`` reduces its instances in Python code of its own, and whether it
    sets their state so (``__setstate__``); worked out once per class."""
    found = _IN_PYTHON.get(kind)
    if found is None:
        if issubclass(kind, type) or kind in copyreg.dispatch_table:
            found = (False, False)
        else:
            reduces = any(
                isinstance(getattr(kind, name, None), types.FunctionType) for name in _REDUCERS
            )
            found = (reduces, isinstance(getattr(kind, "__setstate__", None), types.FunctionType))
        _IN_PYTHON[kind] = found
    return found


def _put_back(now: dict[Any, Any], was: dict[Any, Any]) -> None:
    if len(now) == len(was) and all(
        map(operator.is_, map(now.get, was, repeat(_ABSENT)), was.values())
    ):
        return
    now.clear()
    now.update(was)

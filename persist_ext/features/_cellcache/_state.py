"""Global state outside the namespace that a cell reads or changes, captured around a run.

A cell that calls ``np.random.seed(0)``, ``plt.style.use(...)``, ``pd.set_option(...)``,
``%precision 3``, ``os.chdir(...)``, ``sys.path.append(...)`` or sets an environment variable
changes what *later* cells compute. A restored cell must leave that state as a re-run
would, so each kind of state here is a :class:`Facet`:

* ``capture()`` takes a cheap snapshot (compared with ``==``; read-only: while its dict
  has not changed, rcParams and ``sys.modules`` give the same snapshot again, see
  :func:`dict_version`), ``digest()`` a stable text of it (the same in any kernel),
  ``apply()`` puts a snapshot back;
* facets whose snapshot cannot be put back (``ipython.printers``: formatter functions
  registered with ``for_type``) make the cell run instead of being restored.

What a cell *reads* is part of its key: the RNG state when the cell consumed random
numbers, rcParams for a cell that drew a figure, pandas and IPython display settings for
a cell that showed something, the working directory for a cell that touched files,
``sys.path`` for a cell that imported modules. Those digests are recorded in the manifest
as ``state:NAME`` and compared before a hit (:func:`state_digests`).
"""

from __future__ import annotations
import __future__

import copyreg
import functools
import gc
import json
import locale
import logging
import operator
import os
import random
import re
import struct
import sys
import sysconfig
import time
import warnings
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import FunctionType, MappingProxyType, ModuleType
from typing import Any

import xxhash

from ..._cwd import getcwd
from ...storage._fingerprint import fingerprint, fingerprint_code
from ...storage._usercode import code_names, is_user_code
from ._namespace import names_of_kind

__all__ = [
    "CHECKED_FACETS",
    "FACETS",
    "Facet",
    "StateChange",
    "capture_all",
    "changes_between",
    "configured_loggers",
    "dict_version",
    "dict_version_once",
    "env_value_digest",
    "future_flags",
    "generators_moved",
    "patched_attributes",
    "seeded_generators",
    "state_digests",
    "watch_env_reads",
    "watch_env_writes",
    "watch_filter_calls",
    "written_log_files",
]


@dataclass(frozen=True)
class Facet:
    """One kind of global state.

    ``capture`` returns ``None`` when the state does not exist here (the library is not
    imported); ``apply`` is ``None`` when a changed snapshot cannot be put back.
    """

    name: str
    label: str
    capture: Callable[[Any], Any]
    digest: Callable[[Any], str]
    apply: Callable[[Any, Any], None] | None


def _hash_text(text: str) -> str:
    return xxhash.xxh3_64_hexdigest(text.encode())


def _json_digest(value: Any) -> str:
    return _hash_text(json.dumps(value, sort_keys=True, default=_text_of))


def _text_of(value: Any) -> str:
    """What :func:`_json_digest` digests of a value JSON has no form for: a function by its
    code and the values of the globals it names, so that the same
    ``pd.set_option('display.float_format', lambda x: f"{x:.{digits}f}")`` made again in a
    fresh kernel digests alike (by ``repr``, its address made every later cell that shows
    something miss there), and one whose ``digits`` an upstream edit changed does not;
    anything else by ``repr``."""
    if isinstance(value, FunctionType):
        try:
            namespace = value.__globals__
            names = sorted(n for n in code_names(value.__code__) if n in namespace)
            values = [f"{n}={fingerprint(namespace[n])}" for n in names]
            return f"<function {value.__qualname__} {fingerprint_code(value)} {values}>"
        except Exception:  # code or a value the fingerprint cannot read: its repr, as before
            pass
    return repr(value)


# --------------------------------------------------------------------------- dict versions
# CPython gives every dict a version tag (PEP 509: ``ma_version_tag``, after the object
# header and the item count) that moves on every change of the dict, from a counter shared
# by all dicts. A facet whose state is one big dict (rcParams, ``sys.modules``) reuses its
# last snapshot while the tag has not moved: comparing or copying ~300-1,300 entries costs
# 3-10 µs in a tight loop, and several times that in a kernel between cells (every entry
# is touched while the CPU caches are cold). Read through a ctypes view made once per dict
# (the dict is held, so its address stays its own); checked once per process on private
# dicts, and when the tag does not behave as a version the facets copy as before.
_VERSION_CHECK: list[bool | None] = [None]
_VERSION_VIEWS: dict[int, tuple[dict[Any, Any], Any]] = {}


def dict_version(mapping: dict[Any, Any]) -> int | None:
    """``mapping``'s version tag (any change of the dict moves it), or ``None`` when this
    Python has none. Only for long-lived dicts: each one asked about is held."""
    if not _versions_trusted() or not isinstance(mapping, dict):
        return None
    found = _VERSION_VIEWS.get(id(mapping))
    if found is None or found[0] is not mapping:
        if len(_VERSION_VIEWS) > 256:
            _VERSION_VIEWS.clear()
        found = (mapping, _version_view(mapping))
        _VERSION_VIEWS[id(mapping)] = found
    return int(found[1].value)


def dict_version_once(mapping: dict[Any, Any]) -> int | None:
    """:func:`dict_version` for a dict that is not held (a user's value): read once, ~1 µs.

    A tag is never given twice in a process (every new dict and every change takes the next
    value of one counter), so a tag remembered for a dict since freed never matches the
    dict that reuses its address."""
    if not _versions_trusted() or not isinstance(mapping, dict):
        return None
    return int(_version_view(mapping).value)


def _versions_trusted() -> bool:
    """Whether version tags are read at all: checked once a process (:func:`_versions_behave`)."""
    if _VERSION_CHECK[0] is None:
        _VERSION_CHECK[0] = _versions_behave()
    return bool(_VERSION_CHECK[0])


def _version_view(mapping: dict[Any, Any]) -> Any:
    import ctypes

    # PyDictObject: PyObject_HEAD, Py_ssize_t ma_used, uint64_t ma_version_tag, ...
    offset = object.__basicsize__ + ctypes.sizeof(ctypes.c_ssize_t)
    return ctypes.c_uint64.from_address(id(mapping) + offset)


def _versions_behave() -> bool:
    """Whether the tag read by :func:`dict_version` is a version here: it stays put while a
    dict is unchanged, and moves past every earlier value with each change of the dict (a
    new key, a replaced value, ``dict.__setitem__`` on a subclass, ``pop``, ``clear``,
    ``update``) and with each new dict."""
    try:
        if sys.implementation.name != "cpython" or sys.version_info >= (3, 14):
            return False  # deprecated since 3.12 (PEP 509): not trusted from 3.14 on
        plain: dict[str, int] = {}
        sub: dict[str, int] = type("_Sub", (dict,), {})()
        views = {"plain": _version_view(plain), "sub": _version_view(sub)}
        highest = max(v.value for v in views.values())
        for which, change in (
            ("plain", lambda: plain.__setitem__("k", 1)),
            ("sub", lambda: dict.__setitem__(sub, "k", 1)),
            ("plain", lambda: plain.__setitem__("k", 2)),
            ("plain", lambda: plain.pop("k")),
            ("sub", sub.clear),
            ("plain", lambda: plain.update(j=3)),
        ):
            still = {name: view.value for name, view in views.items() if name != which}
            change()
            moved = views[which].value
            if moved <= highest or any(views[n].value != v for n, v in still.items()):
                return False
            highest = moved
        fresh: dict[str, int] = {}  # a new dict too: dict_version_once relies on it
        return bool(_version_view(fresh).value > highest)
    except Exception:  # an unexpected layout: copy as before
        return False


# --------------------------------------------------------------------------- random
# Python's generator as last read: the instance ``random.getstate`` belongs to, a ctypes view
# of its C state (``int index; uint32_t state[624]`` after the object header, checked once
# against ``getstate``), those bytes then, and what ``getstate`` gave. ``getstate`` builds a
# tuple of 625 new ints (8-35 µs, before every stored cell); comparing 2.5 KB is ~0.3 µs.
_RANDOM_SEEN: list[Any] = [None, None, None, None]
_RANDOM_BYTES = 4 + 624 * 4


def _random_capture(shell: Any) -> Any:
    inst = getattr(random.getstate, "__self__", None)
    seen = _RANDOM_SEEN
    if seen[0] is not inst or seen[1] is None:
        view = _random_view(inst)
        if view is None:
            return random.getstate()
        seen[:] = [inst, view, None, None]
    raw = seen[1].raw
    if raw == seen[2] and seen[3][2] == getattr(inst, "gauss_next", _ABSENT):
        return seen[3]  # unchanged (a tuple: shared safely)
    state = random.getstate()
    seen[2], seen[3] = raw, state
    return state


def _random_view(inst: Any) -> Any:
    """A view of ``inst``'s C state, or ``None`` when its layout is not the one expected."""
    try:
        import _random
        import ctypes

        if (
            not isinstance(inst, _random.Random)
            or type(inst).getstate is not random.Random.getstate
        ):
            return None
        view = (ctypes.c_char * _RANDOM_BYTES).from_address(id(inst) + object.__basicsize__)
        raw = view.raw
        words: Any = inst.getstate()[1]  # the 624 words, then the index
        if int.from_bytes(raw[:4], sys.byteorder, signed=True) != words[-1]:
            return None
        if struct.unpack(f"={len(words) - 1}I", raw[4:]) != words[:-1]:
            return None
        return view
    except Exception:  # another layout or implementation: getstate it is
        return None


def _random_apply(shell: Any, snapshot: Any) -> None:
    random.setstate(snapshot)


def seeded_generators(namespace: Mapping[str, Any], callees: Iterable[str]) -> set[str]:
    """The generator facets (``"random"``, ``"numpy.random"``) whose state the calls
    ``callees`` set outright (dotted paths in ``namespace``, as :attr:`CellCode.seedings`:
    ``np.random.seed``, ``random.setstate``, a ``seed`` imported from either).

    Only names and attributes of modules are followed, read from the modules' own dicts
    (an attribute of another object, or a module's ``__getattr__``, could run code); a
    generator of the cell's own (``rng.seed(0)``) is not global.

    >>> import random
    >>> sorted(seeded_generators({"random": random}, ["random.seed", "other.seed"]))
    ['random']
    """
    setters: dict[str, tuple[Any, ...]] = {}
    module = sys.modules.get("random")
    if module is not None:
        setters["random"] = (getattr(module, "seed", None), getattr(module, "setstate", None))
    module = sys.modules.get("numpy.random")
    if module is not None:
        setters["numpy.random"] = (
            getattr(module, "seed", None),
            getattr(module, "set_state", None),
        )
    found: set[str] = set()
    for path in callees:
        root, *attributes = path.split(".")
        value = namespace.get(root, _ABSENT)
        for attribute in attributes:
            if not isinstance(value, ModuleType):
                value = _ABSENT
                break
            # The module's own dict: a module ``__getattr__`` (numpy's lazy ``random``)
            # would run code, and import what the cell never did.
            value = vars(value).get(attribute, _ABSENT)
        if value is _ABSENT:
            continue
        for facet, functions in setters.items():
            # Bound methods of one generator compare equal (``random.seed`` is its _inst's).
            if any(f is not None and _same_callable(value, f) for f in functions):
                found.add(facet)
    return found


def _same_callable(value: Any, function: Any) -> bool:
    try:
        return bool(value is function or value == function)
    except Exception:  # an object whose comparison fails is not a generator's method
        return False


# --------------------------------------------------------------------------- numpy
def _numpy_capture(shell: Any) -> Any:
    # numpy loads numpy.random on first use: until then its generator does not exist, and
    # asking for its state would import it (milliseconds, and a module the plain cell
    # never loads). A cell that first draws gets it as a new facet (see changes_between).
    np = sys.modules.get("numpy")
    if np is None or "numpy.random" not in sys.modules:
        return None
    fast = _numpy_read(np)
    if fast is not None:
        return fast
    name, keys, pos, has_gauss, gauss = np.random.get_state(legacy=True)
    return (str(name), keys.tobytes(), int(pos), int(has_gauss), float(gauss))


# Where a RandomState keeps its cached Gaussian: the offset of ``has_gauss`` (the double
# follows 8 bytes on), measured once per process (``_aug_offset``; ``None``: not found, and
# ``get_state`` is used), and whether a read was compared with ``get_state`` yet.
_AUG: dict[str, Any] = {"measured": False, "at": None, "checked": False}
_MT_BYTES = 624 * 4  # mt19937_state: uint32_t key[624]; int pos


def _numpy_read(np: Any) -> Any:
    """The global generator's :func:`_numpy_capture` snapshot read from its memory, or ``None``.

    ``get_state`` copies the 624-word key one element at a time (30-80 µs, before every
    cached cell): the key and position are read from the bit generator's state struct and
    the cached Gaussian from the RandomState at an offset measured once on a private one
    (:func:`_aug_offset`), ~2 µs in all. Only for the exact types it was measured on; the
    first read is compared with ``get_state``, and a difference turns it off for the process.
    """
    legacy: Any = getattr(getattr(np.random, "mtrand", None), "_rand", None)
    bitgen: Any = getattr(legacy, "_bit_generator", None)
    if type(legacy) is not getattr(np.random, "RandomState", None):
        return None
    if type(bitgen).__name__ != "MT19937":
        return None
    at = _aug_offset(type(legacy))
    if at is None:
        return None
    state, cached = _numpy_views(legacy, bitgen, at)
    raw = state.raw
    has_gauss, gauss = _AUG_LAYOUT.unpack(cached.raw)
    snapshot = (
        "MT19937",
        raw[:_MT_BYTES],
        int.from_bytes(raw[_MT_BYTES:], sys.byteorder, signed=True),
        has_gauss,
        gauss,
    )
    if not _AUG["checked"]:
        _AUG["checked"] = True
        name, keys, pos, has_gauss, gauss = legacy.get_state(legacy=True)
        if snapshot != (str(name), keys.tobytes(), int(pos), int(has_gauss), float(gauss)):
            _AUG["at"] = None
            return None
    return snapshot


# ``has_gauss`` (an int) then, 8 bytes on, ``gauss`` (a double), as _aug_offset found them.
_AUG_LAYOUT = struct.Struct("=i4xd")
# The global RandomState and bit generator last read, and ctypes views of their memory (the
# bit generator's state struct; has_gauss and gauss): made once, read per snapshot. Both
# objects are held, so the addresses stay theirs; another generator gets new views.
_NP_VIEWS: list[Any] = [None, None, None, None]


def _numpy_views(legacy: Any, bitgen: Any, at: int) -> tuple[Any, Any]:
    """Views of the key and position, and of the cached Gaussian, of ``legacy``."""
    if _NP_VIEWS[0] is not legacy or _NP_VIEWS[1] is not bitgen:
        import ctypes

        _NP_VIEWS[:] = [
            legacy,
            bitgen,
            (ctypes.c_char * (_MT_BYTES + 4)).from_address(bitgen.ctypes.state_address),
            (ctypes.c_char * _AUG_LAYOUT.size).from_address(id(legacy) + at),
        ]
    return _NP_VIEWS[2], _NP_VIEWS[3]


def _aug_offset(kind: type) -> int | None:
    """Offset of ``has_gauss`` in a ``kind`` (RandomState) object, or ``None``: a private
    instance is given cached Gaussians that no other double in it equals, and the offset
    must hold for each of them."""
    if _AUG["measured"]:
        return _AUG["at"]  # type: ignore[no-any-return]
    _AUG["measured"] = True
    try:
        import ctypes
        import struct

        probe = kind(0)
        name, keys, pos, _, _ = probe.get_state(legacy=True)
        found: int | None = None
        for has, value in ((1, 0.7853981633974483), (0, -1234.5678901), (1, 3.0e-300)):
            probe.set_state((name, keys, pos, has, value))
            raw = ctypes.string_at(id(probe), kind.__basicsize__)
            packed = struct.pack("d", value)
            where = raw.find(packed) - 8
            if where < 0 or raw.count(packed) != 1 or found not in (None, where):
                return None
            if struct.unpack_from("i", raw, where)[0] != has:
                return None
            found = where
        _AUG["at"] = found
    except Exception:  # an unexpected layout: get_state it is
        _AUG["at"] = None
    return _AUG["at"]  # type: ignore[no-any-return]


def _numpy_moved(snapshot: Any) -> bool:
    """Whether numpy's global generator moved since ``snapshot`` (a :func:`_numpy_capture`).

    ``get_state`` copies the 624-word key one element at a time in Python (30-80 µs here);
    the key and position are read instead from the generator's state struct (``ctypes``,
    ~1 µs). The legacy cached Gaussian is not in that struct: when the snapshot had one
    (``has_gauss``), drawing it moves nothing else, so the whole state is compared.
    """
    np = sys.modules.get("numpy")
    name, keys, pos, has_gauss, _gauss = snapshot
    legacy = getattr(getattr(getattr(np, "random", None), "mtrand", None), "_rand", None)
    bitgen: Any = getattr(legacy, "_bit_generator", None)
    if has_gauss or name != "MT19937" or type(bitgen).__name__ != "MT19937":
        return bool(_numpy_capture(None) != snapshot)
    if _NP_VIEWS[1] is bitgen and len(keys) == _MT_BYTES:
        raw = _NP_VIEWS[2].raw  # the view the snapshot was read through
    else:
        import ctypes

        size = len(keys) + 4  # mt19937_state: uint32_t key[624]; int pos
        raw = ctypes.string_at(bitgen.ctypes.state_address, size)
    return raw[:-4] != keys or int.from_bytes(raw[-4:], sys.byteorder, signed=True) != pos


def generators_moved(shell: Any, before: dict[str, Any], names: Iterable[str]) -> bool:
    """Whether any of the random generators ``names`` moved since ``before`` (snapshots from
    :func:`capture_all`): the cell drew numbers from them (or re-seeded them).

    For the run-or-store policy only: a ``set_state`` back to a state with the same numpy
    key and position and only another cached Gaussian is not seen here (re-running such a
    cell is always right; a stored one compares whole snapshots).
    """
    for name in names:
        if name not in before:
            continue
        if name == "numpy.random":
            try:
                if _numpy_moved(before[name]):
                    return True
                continue
            except Exception:  # an odd numpy: compare whole snapshots
                pass
        if capture_all(shell, [name]).get(name) != before[name]:
            return True
    return False


def _numpy_digest(snapshot: Any) -> str:
    name, keys, pos, has_gauss, gauss = snapshot
    h = xxhash.xxh3_64(keys)
    h.update(repr((name, pos, has_gauss, gauss)).encode())
    return h.hexdigest()


def _numpy_apply(shell: Any, snapshot: Any) -> None:
    import numpy as np

    name, keys, pos, has_gauss, gauss = snapshot
    np.random.set_state((name, np.frombuffer(keys, dtype=np.uint32).copy(), pos, has_gauss, gauss))


# --------------------------------------------------------------------------- matplotlib
# The backend is a facet of its own (``matplotlib.use``), and its "auto" value is a
# sentinel object: it is neither compared nor put back with the other parameters.
_RC_SKIP = frozenset({"backend", "backend_fallback"})


# The rcParams last copied, their version tag then (dict_version) and the copy.
_RC_SEEN: list[Any] = [None, None, None]


def _rc_capture(shell: Any) -> Any:
    mpl = sys.modules.get("matplotlib")
    params = getattr(mpl, "rcParams", None)
    if params is None:
        return None
    version = dict_version(params)
    if version is not None and _RC_SEEN[0] is params and _RC_SEEN[1] == version:
        return _RC_SEEN[2]  # unchanged since the last copy (snapshots are never changed)
    # dict.items reads the stored values directly: RcParams.__getitem__ would validate,
    # warn about deprecated keys and resolve the backend, 300 times per snapshot. Copied
    # whole, then the two skipped keys dropped (a third cheaper than filtering each key).
    snapshot = dict(dict.items(params) if isinstance(params, dict) else params.items())
    for key in _RC_SKIP:
        snapshot.pop(key, None)
    _RC_SEEN[:] = [params, version, snapshot]
    return snapshot


def _rc_digest(snapshot: Any) -> str:
    text = repr(sorted((k, repr(v)) for k, v in snapshot.items()))
    return _hash_text(_ADDRESS.sub("", text))


def _rc_apply(shell: Any, snapshot: Any) -> None:
    import matplotlib

    current = _rc_capture(shell) or {}
    changed = {
        k: v for k, v in snapshot.items() if k not in _RC_SKIP and current.get(k, _ABSENT) != v
    }
    if changed:
        matplotlib.rcParams.update(changed)


def _backend_capture(shell: Any) -> Any:
    # ``matplotlib.use('svg')`` in a cell: later cells draw with that backend (an inline
    # cell shows no figure). Stored as set; the "auto" sentinel (not resolved yet) is unknown.
    mpl = sys.modules.get("matplotlib")
    params = getattr(mpl, "rcParams", None)
    if not isinstance(params, dict):
        return None
    backend = dict.get(params, "backend")
    return backend if isinstance(backend, str) else None


def _backend_apply(shell: Any, snapshot: Any) -> None:
    import matplotlib

    if _backend_capture(shell) != snapshot:
        matplotlib.use(snapshot)  # switches pyplot's backend too when pyplot is imported


# --------------------------------------------------------------------------- pandas
def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _nested_copy(tree: dict[str, Any]) -> dict[str, Any]:
    return {k: _nested_copy(v) if isinstance(v, dict) else v for k, v in tree.items()}


# The options tree last flattened (a copy of its dicts, leaves held) and its flat form.
# Flattening names ~150 options (~25 µs); comparing the tree with the copy is one nested
# dict comparison in C (~3 µs). Equal trees flatten alike, so the flat form is reused.
_PANDAS_SEEN: list[Any] = [None, None]


def _pandas_capture(shell: Any) -> Any:
    pd = sys.modules.get("pandas")
    if pd is None:
        return None
    config = getattr(getattr(getattr(pd, "_config", None), "config", None), "_global_config", None)
    if not isinstance(config, dict):
        return None
    try:
        same = _PANDAS_SEEN[0] is not None and bool(config == _PANDAS_SEEN[0])
    except Exception:  # an option value with an odd __eq__: flatten afresh
        same = False
    if same:
        return dict(_PANDAS_SEEN[1])  # a copy: snapshots are never shared between captures
    flat = _flatten(config)
    _PANDAS_SEEN[:] = [_nested_copy(config), flat]
    return dict(flat)


def _pandas_apply(shell: Any, snapshot: Any) -> None:
    import pandas as pd

    current = _pandas_capture(shell) or {}
    for key, value in snapshot.items():
        if current.get(key, _ABSENT) != value:
            pd.set_option(key, value)


# --------------------------------------------------------------------------- numpy errors
def _np_err_capture(shell: Any) -> Any:
    # np.seterr(all='ignore'): which floating-point errors warn, raise or pass silently.
    np = sys.modules.get("numpy")
    return dict(np.geterr()) if np is not None else None


def _np_err_apply(shell: Any, snapshot: Any) -> None:
    import numpy as np

    np.seterr(**snapshot)


# --------------------------------------------------------------------------- numpy printing
#: Print options that are functions (code): a change of them cannot be re-applied.
NUMPY_PRINT_CODE = ("formatter", "override_repr")


def _np_print_capture(shell: Any) -> Any:
    np = sys.modules.get("numpy")
    if np is None:
        return None
    options = dict(np.get_printoptions())
    for name in NUMPY_PRINT_CODE:
        if options.get(name) is not None:
            # Code set by the notebook: told apart by identity (another kernel's never
            # matches, so a cell that read it runs), never re-applied.
            options[name] = f"<code {id(options[name])}>"
    return options


def _np_print_apply(shell: Any, snapshot: Any) -> None:
    import numpy as np

    np.set_printoptions(**{k: v for k, v in snapshot.items() if k not in NUMPY_PRINT_CODE})


# --------------------------------------------------------------------------- IPython display
def _formatters(shell: Any) -> dict[str, Any]:
    formatter = getattr(shell, "display_formatter", None)
    return dict(getattr(formatter, "formatters", {}) or {})


def _formatter_tags(shell: Any) -> tuple[Any, tuple[int, ...]] | None:
    """The display formatter and the version tags (:func:`dict_version`) of every dict the
    display facets read: its trait values and formatters table, and each formatter's trait
    values (``enabled``, ``float_precision``, ``pprint``, the printer tables as set) and
    printer tables (changed in place by ``for_type``). ``None``: not all of them are there.
    While these tags stay put, so do the display settings and the printers.

    The views of those dicts are kept (:data:`_TAG_VIEWS`): while the tags of the first
    ones (where the others are found) are unchanged, the others are the same dicts.
    """
    formatter = getattr(shell, "display_formatter", None)
    kept = _TAG_VIEWS
    if kept[0] is formatter and kept[2]:
        tags = tuple([view.value for view in kept[2]])
        if tags == kept[3]:
            return formatter, tags
    dicts = _formatter_dicts(formatter)
    if dicts is None or dict_version({}) is None:
        kept[:] = [None, None, None, None]
        return None
    views = [_version_view(d) for d in dicts]
    tags = tuple([view.value for view in views])
    kept[:] = [formatter, dicts, views, tags]  # the dicts held: their views stay theirs
    return formatter, tags


# The display formatter, the dicts _formatter_tags reads, views of their version tags and
# the tags then.
_TAG_VIEWS: list[Any] = [None, None, None, None]


def _formatter_dicts(formatter: Any) -> list[Any] | None:
    values = getattr(formatter, "_trait_values", None)
    formatters = values.get("formatters") if isinstance(values, dict) else None
    if not isinstance(formatters, dict):
        return None
    dicts: list[Any] = [values, formatters]
    for each in formatters.values():
        own = getattr(each, "_trait_values", None)
        if not isinstance(own, dict):
            return None
        dicts.append(own)
        dicts.extend(t for t in (own.get(a) for a in _PRINTER_TABLES) if isinstance(t, dict))
    return dicts


# The display formatter, its tags (_formatter_tags) and the settings they gave.
_DISPLAY_SEEN: list[Any] = [None, None, None]


def _by_formatter_tags(seen: list[Any], shell: Any, read: Callable[[Any], Any]) -> Any:
    """``read(shell)``, or what it gave last while the :func:`_formatter_tags` have not
    moved since (``seen``: the display formatter, its tags then, what was read)."""
    tags = _formatter_tags(shell)
    if tags is not None and seen[0] is tags[0] and seen[1] == tags[1]:
        return seen[2]
    value = read(shell)
    # Tagged after reading: reading a trait the first time stores its default.
    tags = _formatter_tags(shell)
    seen[:] = [None, None, None] if tags is None else [*tags, value]
    return value


def _display_capture(shell: Any) -> Any:
    return dict(_by_formatter_tags(_DISPLAY_SEEN, shell, _display_settings))


def _display_settings(shell: Any) -> dict[str, Any]:
    formatters = _formatters(shell)
    plain = formatters.get("text/plain")
    settings: dict[str, Any] = {
        mime: bool(getattr(f, "enabled", True)) for mime, f in formatters.items()
    }
    if plain is not None:
        settings["float_precision"] = str(getattr(plain, "float_precision", ""))
        settings["pprint"] = bool(getattr(plain, "pprint", True))
    return settings


def _display_apply(shell: Any, snapshot: Any) -> None:
    formatters = _formatters(shell)
    for mime, formatter in formatters.items():
        if mime in snapshot and bool(formatter.enabled) != snapshot[mime]:
            formatter.enabled = snapshot[mime]
    plain = formatters.get("text/plain")
    if plain is not None:
        # Only what differs: setting float_precision has effects of its own (IPython then
        # registers a numpy.float64 printer).
        if "float_precision" in snapshot and plain.float_precision != snapshot["float_precision"]:
            plain.float_precision = snapshot["float_precision"]
        if "pprint" in snapshot and plain.pprint != snapshot["pprint"]:
            plain.pprint = snapshot["pprint"]


def _interactivity_capture(shell: Any) -> Any:
    # ``get_ipython().ast_node_interactivity = 'all'``: which expressions of a cell show.
    value = getattr(shell, "ast_node_interactivity", None)
    return value if isinstance(value, str) else None


def _interactivity_apply(shell: Any, snapshot: Any) -> None:
    if getattr(shell, "ast_node_interactivity", None) != snapshot:
        shell.ast_node_interactivity = snapshot


# ``from __future__ import annotations`` in a cell: the shell's compiler keeps the flag and
# compiles every later cell with it (annotations stay strings). Only the __future__ flags.
FUTURE_FLAGS = functools.reduce(
    operator.or_,
    (getattr(__future__, name).compiler_flag for name in __future__.all_feature_names),
    0,
)


def future_flags(shell: Any) -> int:
    """The ``__future__`` flags the shell compiles cells with now (0: none)."""
    flags = getattr(getattr(shell, "compile", None), "flags", 0)
    return flags & FUTURE_FLAGS if isinstance(flags, int) else 0


def _compiler_capture(shell: Any) -> Any:
    compiler = getattr(shell, "compile", None)
    return future_flags(shell) if isinstance(getattr(compiler, "flags", None), int) else None


def _compiler_apply(shell: Any, snapshot: Any) -> None:
    compiler = getattr(shell, "compile", None)
    if compiler is not None and isinstance(snapshot, int):
        compiler.flags = (compiler.flags & ~FUTURE_FLAGS) | (snapshot & FUTURE_FLAGS)


def _copyreg_capture(shell: Any) -> Any:
    # ``copyreg.pickle(Point, reduce_point)`` in a cell: how every later pickle of a Point is
    # made. Registrations whose reducer is notebook code only (libraries register their own
    # as they are imported, which a restore repeats by importing them); by identity.
    return tuple(
        sorted(
            (id(cls), id(reducer))
            for cls, reducer in list(copyreg.dispatch_table.items())
            if is_user_code(reducer)
        )
    )


# What the shell runs on every later cell: its input and AST transformers and the handler
# for exceptions (``set_custom_exc``). A hit sets none of them, so later cells would be
# transformed, or fail, differently: a cell changing them runs.
_SHELL_HOOKS = ("input_transformers_cleanup", "input_transformers_post", "ast_transformers")


def _hooks_capture(shell: Any) -> Any:
    if shell is None:
        return None
    hooks: list[Any] = [tuple(map(id, getattr(shell, n, ()) or ())) for n in _SHELL_HOOKS]
    # set_custom_exc binds CustomTB on the instance (the class's is a new method each time).
    custom = (tuple(getattr(shell, "custom_exceptions", ()) or ()), id(vars(shell).get("CustomTB")))
    hooks.append(custom)
    return hooks


def _hooks_digest(snapshot: Any) -> str:
    # The counts only: the same in any kernel (objects' ids are not), and this facet is
    # only compared before and after a run, in one kernel.
    return _hash_text(repr([len(part) for part in snapshot]))


# The last printer tables seen (copies, holding their keys and printers: no id can be
# reused meanwhile) and what they gave. Naming every printer costs ~0.5 ms; a snapshot is
# taken before and after each stored cell, and the tables almost never change. The live
# tables are compared with the copies as dicts (in C), not rebuilt as tuples of items.
_PRINTERS_SEEN: list[Any] = [None, None]
_PRINTER_TABLES = ("type_printers", "deferred_printers", "singleton_printers")


def _printer_tables(shell: Any) -> dict[tuple[str, str], Any]:
    return {
        (mime, attr): getattr(formatter, attr, None) or {}
        for mime, formatter in _formatters(shell).items()
        for attr in _PRINTER_TABLES
    }


# The display formatter, its tags (_formatter_tags) and the printers they gave.
_PRINTERS_TAGGED: list[Any] = [None, None, None]


def _printers_capture(shell: Any) -> Any:
    return list(_by_formatter_tags(_PRINTERS_TAGGED, shell, _printers_named))


def _printers_named(shell: Any) -> list[str]:
    tables = _printer_tables(shell)
    # Keys are types, (module, name) tuples or ids, printers are functions: equal tables
    # name alike (functions and types compare by identity; the names are sorted, so the
    # order of a table does not matter).
    try:
        same = bool(_PRINTERS_SEEN[0] == tables)
    except Exception:  # a printer object with an odd __eq__: name them all
        same = False
    if same:
        return _PRINTERS_SEEN[1]  # type: ignore[no-any-return]
    found = _name_printers(tables)
    _PRINTERS_SEEN[:] = [{where: dict(table) for where, table in tables.items()}, found]
    return found


#: What IPython's matplotlib integration registers for figures, one printer per figure
#: format (``InlineBackend.figure_formats``, ``set_matplotlib_formats``): kept in the
#: snapshot with its arguments, unlike IPython's other printers, so a change of formats is
#: seen. ``matplotlib_inline``'s import registers them, on the kernel's first figure.
_FIGURE_PRINTER = ":matplotlib.figure.Figure=IPython.core.pylabtools."
_INLINE_BACKEND = "matplotlib_inline.backend_inline"


def _name_printers(tables: dict[tuple[str, str], Any]) -> list[str]:
    def name(obj: Any) -> str:
        if isinstance(obj, tuple):
            return ".".join(map(str, obj))
        if isinstance(obj, (int, str)):
            return str(obj)
        if isinstance(obj, functools.partial):  # print_figure with a format: both named
            # Without addresses, as for functions: the name must be the same in every kernel.
            arguments = [_ADDRESS.sub("", _repr(a))[:80] for a in obj.args]
            arguments += [
                f"{k}={_ADDRESS.sub('', _repr(v))}"[:80] for k, v in sorted(obj.keywords.items())
            ]
            return f"{name(obj.func)}({', '.join(arguments)})"
        target = getattr(obj, "__func__", obj)  # a bound method: its function
        text = f"{getattr(target, '__module__', '')}.{getattr(target, '__qualname__', '')}"
        if text == ".":
            text = type(obj).__qualname__
        return _ADDRESS.sub("", text)

    found = []
    for (mime, attr), table in tables.items():
        for key, value in dict(table).items():
            # singleton_printers are keyed by id(): unstable across kernels. A deferred
            # printer moves to type_printers the first time its type is shown: the
            # same registration, so both tables are labelled alike.
            label = "singleton" if attr == "singleton_printers" else name(key)
            printer = name(value)
            entry = f"{mime}:{label}={printer}"
            if printer.startswith("IPython.") and _FIGURE_PRINTER not in entry:
                continue  # IPython's own printers, some added lazily (numpy.float64)
            found.append(entry)
    return sorted(set(found))


def _repr(obj: Any) -> str:
    """``repr(obj)``, or its type's name when its ``__repr__`` raises (a user's object)."""
    try:
        return repr(obj)
    except Exception:
        return f"<{type(obj).__qualname__}>"


def figure_printers_imported(old: list[str], new: list[str], added_modules: list[str]) -> bool:
    """Whether a run's change of the display formatters is only the figure printers that
    importing ``matplotlib_inline``'s backend registers (a cell drawing the kernel's first
    figure): a hit imports the module again (``reimport``), which registers them as the run
    did, and :func:`figure_printers_differ` then makes sure it did.

    >>> png = "image/png:matplotlib.figure.Figure=IPython.core.pylabtools.print_figure(fmt='png')"
    >>> figure_printers_imported([], [png], ["matplotlib_inline.backend_inline"])
    True
    >>> figure_printers_imported([], [png], [])  # registered some other way
    False
    >>> figure_printers_imported([], [png, "text/latex:sympy.Basic=sympy.latex"],
    ...                          ["matplotlib_inline.backend_inline"])
    False
    """
    if _INLINE_BACKEND not in added_modules or _figure_entries(old):
        return False
    added, removed = set(new) - set(old), set(old) - set(new)
    return bool(added) and not removed and _figure_entries(added) == added


def figure_printers_differ(shell: Any, state: Mapping[str, Any]) -> str | None:
    """Why the figure printers now registered are not those a stored run left (recorded in
    ``state`` when :func:`figure_printers_imported`), or ``None``. Asked on a hit once the
    cell's imports ran again: a kernel whose ``InlineBackend`` is configured otherwise
    (``figure_formats``) gets other printers, and the cell then runs."""
    recorded = state.get("ipython.printers")
    if recorded is None:
        return None
    if _figure_entries(_printers_capture(shell) or []) == _figure_entries(recorded):
        return None
    return "the figure formats its imports register here differ from those of its run"


def _figure_entries(entries: Iterable[str]) -> set[str]:
    """The figure printers among named printers (:func:`_name_printers`)."""
    return {entry for entry in entries if _FIGURE_PRINTER in entry}


# --------------------------------------------------------------------------- process
def _cwd_capture(shell: Any) -> Any:
    try:
        return getcwd()  # the real one: a notebook may replace os.getcwd
    except OSError:  # the directory was removed under us
        return None


def _cwd_apply(shell: Any, snapshot: Any) -> None:
    os.chdir(snapshot)


def _path_capture(shell: Any) -> Any:
    return tuple(sys.path)


def _path_apply(shell: Any, snapshot: Any) -> None:
    sys.path[:] = list(snapshot)


def _env_capture(shell: Any) -> Any:
    # os.environ's encoded mapping, copied as is (~1 µs): dict(os.environ) decodes every
    # entry (~0.2 ms, twice per stored cell). Decoded only when it changed (env_text).
    data = getattr(os.environ, "_data", None)
    return dict(data) if isinstance(data, dict) else dict(os.environ)


FilterCall = tuple[tuple[Any, ...], bool]
"""A warning filter code asked for: the filter as ``warnings.filters`` holds it, and whether
it was to be appended (``append=True``) rather than put first."""


@contextmanager
def watch_filter_calls() -> Iterator[list[FilterCall]]:
    """The warning filters asked for inside the block (``warnings.filterwarnings``,
    ``simplefilter``, by any code), in order: a filter already in force when asked for
    again changes nothing a comparison of before and after could see, but a re-run asks for
    it whatever filters are in force then. Those asked for inside a ``catch_warnings``
    block are left out: it puts the filters back as they were when it ends.
    """
    namespace = getattr(warnings.simplefilter, "__globals__", None)
    add = namespace.get("_add_filter") if isinstance(namespace, dict) else None
    calls: list[FilterCall] = []
    if namespace is None or not callable(add):
        yield calls
        return
    base = namespace.get("filters")

    def add_filter(*item: Any, append: bool) -> None:
        if namespace.get("filters") is base:  # ``catch_warnings`` swaps in a copy
            calls.append((item, bool(append)))
        add(*item, append=append)

    namespace["_add_filter"] = add_filter
    try:
        yield calls
    finally:
        if namespace.get("_add_filter") is add_filter:
            namespace["_add_filter"] = add


@contextmanager
def watch_env_writes() -> Iterator[set[str]]:
    """The environment variables set or deleted inside the block, by any code
    (``os.environ[k] = v``, ``del``, ``.update``, ``.pop``, ``%env``: all go through
    ``os.environ.__setitem__`` or ``__delitem__``). A run that sets one to the value it
    already had changes nothing a comparison of before and after could see.
    """
    cls = type(os.environ)
    set_item, del_item = cls.__dict__.get("__setitem__"), cls.__dict__.get("__delitem__")
    written: set[str] = set()
    if set_item is None or del_item is None:
        yield written
        return

    def setitem(self: Any, key: Any, value: Any) -> None:
        if self is os.environ and isinstance(key, str):
            written.add(key)
        set_item(self, key, value)

    def delitem(self: Any, key: Any) -> None:
        if self is os.environ and isinstance(key, str):
            written.add(key)
        del_item(self, key)

    with _methods_replaced(cls, __setitem__=setitem, __delitem__=delitem):
        yield written


@contextmanager
def _methods_replaced(cls: type, **methods: Any) -> Iterator[None]:
    """``cls``'s methods ``methods`` (name -> function) in place of its own inside the block;
    each put back after it, unless something replaced it again meanwhile (left to undo its
    own)."""
    originals = {name: cls.__dict__[name] for name in methods}
    for name, method in methods.items():
        setattr(cls, name, method)
    try:
        yield
    finally:
        for name, method in methods.items():
            if cls.__dict__.get(name) is method:
                setattr(cls, name, originals[name])


@contextmanager
def watch_env_reads(limit: int = 256) -> Iterator[set[str]]:
    """The environment variables notebook code reads inside the block (``os.environ[k]``,
    ``.get``, ``in``, ``os.getenv``: all go through ``os.environ.__getitem__``).

    Reads by libraries for their own settings (``MPLBACKEND`` at import) are left out: the
    code that asked must be a cell or a local module. Past ``limit`` names, no more are kept.
    """
    cls = type(os.environ)
    original = cls.__dict__.get("__getitem__")
    seen: set[str] = set()
    if original is None:
        yield seen
        return

    def getitem(self: Any, key: Any) -> Any:
        if self is os.environ and isinstance(key, str) and len(seen) < limit:
            try:
                if _asked_by_notebook(sys._getframe(1)):
                    seen.add(key)
            except Exception:  # never change what the read does
                pass
        return original(self, key)

    with _methods_replaced(cls, __getitem__=getitem):
        yield seen


# Modules between the reader and ``__getitem__`` (``os.getenv``, ``Mapping.get``), by name:
# their code may be frozen (``<frozen os>``).
_ENV_PLUMBING = frozenset({"os", "_collections_abc", "collections.abc"})


def _asked_by_notebook(frame: Any) -> bool:
    # The first frame outside the plumbing decides: a cell, or a local module's code.
    for _ in range(6):
        if frame is None:
            return False
        module = frame.f_globals.get("__name__")
        if module not in _ENV_PLUMBING:
            return module == "__main__" or is_user_code(sys.modules.get(str(module)))
        frame = frame.f_back
    return False


def env_value_digest(value: str | None) -> str:
    """What an ``env:NAME`` check of the cell cache holds: the variable's value, digested."""
    return "unset" if value is None else _hash_text(value)


def env_text(snapshot: dict[Any, Any]) -> dict[str, str]:
    """An ``env`` snapshot as ``str`` names and values (as ``os.environ`` shows them)."""
    key = getattr(os.environ, "decodekey", None)
    value = getattr(os.environ, "decodevalue", None)
    if key is None or value is None:
        return dict(snapshot)
    return {
        k if isinstance(k, str) else key(k): v if isinstance(v, str) else value(v)
        for k, v in snapshot.items()
    }


def _env_apply(shell: Any, snapshot: Any) -> None:
    # A recorded change, not a whole environment: {"set": {...}, "unset": [...]}.
    for key, value in snapshot.get("set", {}).items():
        os.environ[key] = value
    for key in snapshot.get("unset", []):
        os.environ.pop(key, None)


# sys.modules when last copied, its version tag then (dict_version) and the copy.
_MODULES_SEEN: list[Any] = [None, None, None]


def _modules_capture(shell: Any) -> Any:
    # A copy of the dict (its hash table copied as is, ~6 µs for 1,000 modules): a frozenset
    # of the names hashes each one into a new table (~25 µs). Only the names are compared.
    # The last copy while no module came or went since (most cells import nothing).
    modules = sys.modules
    version = dict_version(modules)
    if version is not None and _MODULES_SEEN[0] is modules and _MODULES_SEEN[1] == version:
        return _MODULES_SEEN[2]
    snapshot = dict.copy(modules)
    _MODULES_SEEN[:] = [modules, version, snapshot]
    return snapshot


def _python_capture(shell: Any) -> Any:
    # sys.setrecursionlimit(...) and decimal.getcontext().prec = ...: how later cells recurse
    # and round. The decimal context only once decimal is imported (importing it costs).
    settings: dict[str, Any] = {"recursionlimit": sys.getrecursionlimit()}
    digits = getattr(sys, "get_int_max_str_digits", None)
    if digits is not None:  # sys.set_int_max_str_digits(0): how long an int str() may be
        settings["int_max_str_digits"] = digits()
    decimal = sys.modules.get("decimal")
    if decimal is not None:
        ctx = decimal.getcontext()
        settings["decimal"] = [ctx.prec, ctx.rounding, ctx.Emin, ctx.Emax, ctx.capitals, ctx.clamp]
        # The flags a computation raised (``Decimal(1) / 3``: Inexact, Rounded), which
        # ``print(getcontext())`` shows, and the traps (``traps[DivisionByZero] = False``:
        # ``Decimal(1) / 0`` gives Infinity). Only when away from a new context's, so entries
        # stored at the defaults keep their digest.
        flags = _decimal_signals(ctx.flags)
        if flags:
            settings["decimal.flags"] = flags
        traps = _decimal_signals(ctx.traps)
        if traps != list(_DEFAULT_DECIMAL_TRAPS):
            settings["decimal.traps"] = traps
    else:
        # Not imported yet: the context a first import gives. Whether something imported it
        # (a library, the store) is no part of the state a cell reads.
        settings["decimal"] = list(_DEFAULT_DECIMAL)
    # mpmath's working precision (``mpmath.mp.dps = 50``): what every later mpmath
    # computation rounds to. Only when set away from the default, so entries stored at the
    # default precision (or before mpmath was imported) keep their digest.
    mpmath = sys.modules.get("mpmath")
    prec = getattr(getattr(mpmath, "mp", None), "prec", _MPMATH_PREC)
    if isinstance(prec, int) and prec != _MPMATH_PREC:
        settings["mpmath.prec"] = prec
    # ``sys.argv = ['train.py', '--lr', '0.1']`` upstream of ``parser.parse_args()``. Only
    # when set away from the kernel's own (whose connection file differs in every kernel).
    if sys.argv != _KERNEL_ARGV:
        settings["argv"] = list(sys.argv) if isinstance(sys.argv, list) else repr(sys.argv)
    # The time zone (``os.environ["TZ"] = "Asia/Tokyo"; time.tzset()`` upstream): what
    # ``datetime.fromtimestamp``, ``time.localtime`` and ``strftime("%Z")`` give, read from
    # C, so no read of the variable is seen. Only away from UTC, so that entries stored
    # there keep their digest.
    zone = _time_zone()
    if zone != _UTC:
        settings["tz"] = zone
    # The locale (``locale.setlocale(locale.LC_ALL, "de_DE.UTF-8")`` upstream): how
    # ``locale.atof``, ``strftime("%B")`` and ``open()``'s default encoding read and write.
    # Only when set away from the kernel's own, so entries stored there keep their digest.
    current = locale.setlocale(locale.LC_ALL)  # a query: no argument sets nothing
    if current != _KERNEL_LOCALE:
        settings["locale"] = current
    return settings


def _time_zone() -> list[Any]:
    """The ``TZ`` variable and the zone ``time.tzset()`` last read (names and offsets).

    >>> _time_zone() == _UTC or _time_zone()[1] != ["UTC", "UTC"]
    True
    """
    return [os.environ.get("TZ"), list(time.tzname), time.timezone, time.altzone, time.daylight]


_UTC = [None, ["UTC", "UTC"], 0, 0, 0]  # TZ unset on a machine whose local zone is UTC


_KERNEL_ARGV = list(sys.argv)  # as the kernel started (imported when the extension loads)
_KERNEL_LOCALE = locale.setlocale(locale.LC_ALL)


_MPMATH_PREC = 53  # bits: mpmath's default, 15 decimal digits


# A new context's settings and traps, written out so that taking a snapshot never imports
# ``decimal`` (``_decimal_signals``' doctest checks them against ``decimal.Context()``).
_DEFAULT_DECIMAL = (28, "ROUND_HALF_EVEN", -999999, 999999, 1, 0)
_DEFAULT_DECIMAL_TRAPS = ("DivisionByZero", "InvalidOperation", "Overflow")


def _decimal_signals(signals: Any) -> list[str]:
    """The names of the signals set in a decimal context's ``flags`` or ``traps``, sorted.

    >>> import decimal
    >>> _decimal_signals(decimal.Context().traps)
    ['DivisionByZero', 'InvalidOperation', 'Overflow']
    >>> _decimal_signals(decimal.Context().traps) == list(_DEFAULT_DECIMAL_TRAPS)
    True
    >>> c = decimal.Context()
    >>> (c.prec, c.rounding, c.Emin, c.Emax, c.capitals, c.clamp) == _DEFAULT_DECIMAL
    True
    """
    return sorted(signal.__name__ for signal, on in signals.items() if on)


def _set_decimal_signals(signals: Any, names: Collection[str]) -> None:
    for signal in list(signals):
        on = signal.__name__ in names
        if bool(signals[signal]) != on:
            signals[signal] = on


def _python_apply(shell: Any, snapshot: Any) -> None:
    if sys.getrecursionlimit() != snapshot["recursionlimit"]:
        sys.setrecursionlimit(snapshot["recursionlimit"])
    if "int_max_str_digits" in snapshot and hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(snapshot["int_max_str_digits"])
    if "decimal" in snapshot and (
        "decimal" in sys.modules
        or tuple(snapshot["decimal"]) != _DEFAULT_DECIMAL
        or "decimal.flags" in snapshot
        or "decimal.traps" in snapshot
    ):
        import decimal

        ctx = decimal.getcontext()
        ctx.prec, ctx.rounding, ctx.Emin, ctx.Emax, ctx.capitals, ctx.clamp = snapshot["decimal"]
        _set_decimal_signals(ctx.flags, snapshot.get("decimal.flags", []))
        _set_decimal_signals(ctx.traps, snapshot.get("decimal.traps", _DEFAULT_DECIMAL_TRAPS))
    mp = getattr(sys.modules.get("mpmath"), "mp", None)
    prec = snapshot.get("mpmath.prec", _MPMATH_PREC)
    if mp is not None and getattr(mp, "prec", prec) != prec:
        mp.prec = prec
    argv = snapshot.get("argv", _KERNEL_ARGV)
    if isinstance(argv, list) and sys.argv != argv:
        sys.argv = list(argv)
    want = snapshot.get("locale", _KERNEL_LOCALE)
    if locale.setlocale(locale.LC_ALL) != want:
        locale.setlocale(locale.LC_ALL, want)  # set by a call not named setlocale
    if _time_zone() != snapshot.get("tz", _UTC):
        # The zone a run left (set by a call a cell's code does not name ``tzset``): read
        # again from ``TZ``, which the environment facet has put back before.
        time.tzset()


# --------------------------------------------------------------------------- notebook classes
def _classes_capture(shell: Any) -> Any:
    # ``Config.scale = 5`` in a cell: a class of the notebook is an input fingerprinted by its
    # code, so an attribute set on it would not be put back by a restore. Each class's own
    # attributes by identity; compared only for classes that exist before and after the run
    # (a cell defining a class makes a new one, which its re-run ``class`` statement re-makes).
    ns = getattr(shell, "user_ns", None) or {}
    classes = [ns.get(name) for name in names_of_kind(ns, _is_class_type)]
    return {
        id(value): tuple((attr, id(item), _contents(item)) for attr, item in vars(value).items())
        for value in classes
        if isinstance(value, type) and value.__module__ == "__main__"
    }


def _is_class_type(kind: type) -> bool:
    return issubclass(kind, type)  # a metaclass: its instances are classes


# Library classes that libraries (and notebooks) patch by a call: ``tqdm.pandas()`` adds
# ``progress_apply`` to pandas' frames, series and group-bys, ``pandarallel.initialize()``
# ``parallel_apply``. A hit calls nothing, so a later ``df.progress_apply(f)`` would fail.
_LIBRARY_CLASSES = (
    ("pandas", ("DataFrame", "Series", "Index")),
    ("pandas.core.groupby.generic", ("DataFrameGroupBy", "SeriesGroupBy")),
    ("matplotlib.axes", ("Axes",)),
    ("matplotlib.figure", ("Figure",)),
)


# Per library class: the class, its namespace's version tag (dict_version) and the copy of
# its attributes made then. ~850 attributes of these classes were copied before every
# cached cell (half of the state snapshot); a set, replaced or removed attribute moves the
# tag, and then the class is copied again.
_LIBRARY_SEEN: dict[str, tuple[type, int, dict[str, Any]]] = {}


def _library_classes_capture(shell: Any) -> Any:
    # Each class's own attributes (the objects, compared by identity by
    # :func:`patched_attributes`: a copy of the dict keeps them alive meanwhile).
    out = {}
    for module_name, names in _LIBRARY_CLASSES:
        module = sys.modules.get(module_name)
        for name in names if module is not None else ():
            cls = getattr(module, name, None)
            if not isinstance(cls, type):
                continue
            label = f"{module_name}.{name}"
            version = dict_version(_type_namespace(cls))
            seen = _LIBRARY_SEEN.get(label)
            if version is not None and seen is not None and seen[0] is cls and seen[1] == version:
                out[label] = seen[2]  # unchanged since that copy (snapshots are never changed)
                continue
            out[label] = dict(vars(cls))
            if version is not None:
                _LIBRARY_SEEN[label] = (cls, version, out[label])
    return out or None


def _type_namespace(cls: type) -> Any:
    """The dict behind ``vars(cls)`` (its version tag moves with every attribute set,
    replaced or removed on the class), or ``None`` when it cannot be reached."""
    held = gc.get_referents(vars(cls))
    return held[0] if len(held) == 1 and isinstance(held[0], dict) else None


def patched_attributes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Attributes of library classes set, replaced or removed between two snapshots of
    the ``library.classes`` facet (classes in both only: a first import is not a patch)."""
    found = []
    for cls, before in old.items():
        after = new.get(cls)
        if after is None or after is before:  # the same copy: the class was not changed
            continue
        if before.keys() == after.keys() and all(v is after[k] for k, v in before.items()):
            continue
        for attr in sorted(before.keys() | after.keys()):
            if before.get(attr, _ABSENT) is not after.get(attr, _ABSENT):
                found.append(f"{cls.rpartition('.')[2]}.{attr}")
    return found


def _contents(item: Any) -> Any:
    # A registry a method fills (``Reg.items.append(self)`` in ``__init__``): the container
    # is the same object, its elements are not. Elements by identity, within the session.
    kind = type(item)
    if kind not in (list, dict, set) or len(item) > 1024:
        return len(item) if kind in (list, dict, set) else None
    if kind is dict:
        return tuple((id(k), id(v)) for k, v in item.items())
    return tuple(map(id, item)) if kind is list else frozenset(map(id, item))


# --------------------------------------------------------------------------- local modules
def _local_modules_capture(shell: Any) -> Any:
    # ``helpers.register(x)`` appending to ``helpers.REGISTRY``, or setting a ``global`` of
    # helpers.py: a hit imports the module fresh and calls nothing, so what any code changed
    # in a local (user) module would be missing. Its variables by identity, containers by
    # their elements (as for notebook classes); compared for modules imported before the run.
    modules = sys.modules
    if len(modules) != _SCANNED[0]:
        for name, module in list(modules.items()):
            if name not in _SEEN_MODULES:
                _SEEN_MODULES.add(name)
                if _is_local_module(module):
                    _LOCAL_MODULES.append(name)
        _SCANNED[0] = len(modules)
    found = {}
    for name in _LOCAL_MODULES:
        loaded = modules.get(name)
        if loaded is not None:
            found[name] = _module_variables(name, vars(loaded))
    return found


def _module_variables(name: str, namespace: dict[str, Any]) -> tuple[Any, ...]:
    # A package of local modules (mglearn: ~40 modules, hundreds of names) was walked whole
    # before and after every stored cell. While a module's dict keeps its version tag
    # (dict_version: no name bound, rebound or removed) its names and their objects are
    # the ones seen last; only what its containers hold can have changed, so only they are
    # looked at again.
    version = dict_version(namespace)
    seen = _MODULE_VARIABLES.get(name)
    if version is not None and seen is not None and seen[0] is namespace and seen[1] == version:
        entries, containers = seen[2], seen[3]
        if not containers:
            return entries
        fresh = list(entries)
        for index, item in containers:
            attr, ident, _, _ = fresh[index]
            fresh[index] = (attr, ident, _contents(item), _own_state(item, name))
        return tuple(fresh)
    entries = tuple(
        (attr, id(item), _contents(item), _own_state(item, name))
        for attr, item in list(namespace.items())
        if not attr.startswith("__")
    )
    if version is not None:
        # Containers, and the module's classes and instances (their attributes can change
        # while the module's dict does not).
        held = [
            (i, namespace[e[0]])
            for i, e in enumerate(entries)
            if e[2] is not None or e[3] is not None
        ]
        _MODULE_VARIABLES[name] = (namespace, version, entries, held)
    return entries


def _own_state(item: Any, module: str) -> Any:
    # thinkplot's ``_Brewer.color_iter``, set by ``PrePlot(2)``, read by the next plotting
    # call: a class of the module (or a module-level instance of one) holds state that its
    # functions change. Its own attributes by identity, containers by their elements.
    kind = type(item)
    if isinstance(item, type):
        return _class_state(item) if item.__module__ == module else None
    if kind.__module__ != module:
        return None
    state = getattr(item, "__dict__", None)  # an instance of one of the module's classes
    if not isinstance(state, dict):
        return None
    return tuple(
        (attr, id(value), _contents(value))
        for attr, value in list(state.items())
        if not attr.startswith("__")
    )


# Per class of a local module: the class, its namespace's version tag (dict_version), its
# attributes by identity then, and which of them are containers (their elements can change
# while the namespace does not). A class's methods are read once, not before every cell.
_CLASS_SEEN: dict[int, tuple[type, int | None, tuple[Any, ...], tuple[str, ...]]] = {}


def _class_state(cls: type) -> Any:
    namespace = vars(cls)
    found = _CLASS_SEEN.get(id(cls))
    version = None
    if isinstance(namespace, MappingProxyType):
        version = dict_version(_type_namespace(cls))
    if found is None or found[0] is not cls or version is None or found[1] != version:
        items = [(a, v) for a, v in list(namespace.items()) if not a.startswith("__")]
        identities = tuple((attr, id(value)) for attr, value in items)
        containers = tuple(attr for attr, value in items if type(value) in (list, dict, set))
        if len(_CLASS_SEEN) > 1024:
            _CLASS_SEEN.clear()
        found = (cls, version, identities, containers)
        _CLASS_SEEN[id(cls)] = found
    return found[2], tuple(_contents(namespace.get(attr)) for attr in found[3])


_SEEN_MODULES: set[str] = set()  # names in sys.modules already classified (once each)
# Per local module: its dict, that dict's version tag, its variables as last captured, and
# (index, object) of those that are containers (see _module_variables).
_MODULE_VARIABLES: dict[str, tuple[dict[str, Any], int, tuple[Any, ...], list[Any]]] = {}
_LOCAL_MODULES: list[str] = []  # those that are local modules
_SCANNED = [0]  # len(sys.modules) when it was last scanned


def _is_local_module(module: Any) -> bool:
    file = getattr(module, "__file__", None)
    if not isinstance(file, str) or "-packages" in file or file.startswith(_STDLIB):
        return False  # installed or standard (most of sys.modules): no path resolved
    return is_user_code(module)


_STDLIB = sysconfig.get_paths()["stdlib"]


# --------------------------------------------------------------------------- libraries
def _logging_capture(shell: Any) -> Any:
    # logging.basicConfig(level=INFO), or log = getLogger("nb"); log.setLevel(INFO);
    # log.addHandler(...): each logger's level and handlers decide what later cells log.
    # Handlers are objects holding streams and locks: compared within the session (by
    # identity), never stored, so a cell that changes them runs (apply is None). The root
    # logger is "".
    found = {"": _logger_state(logging.getLogger())}
    for name, item in list(logging.Logger.manager.loggerDict.items()):
        if isinstance(item, logging.Logger):  # not a PlaceHolder
            found[name] = _logger_state(item)
    return found


def _logger_state(log: logging.Logger) -> tuple[Any, ...]:
    # Most of the ~40-100 loggers of a session have no handler: no generator made for them.
    handlers = log.handlers
    shown = tuple([_handler_state(h) for h in handlers]) if handlers else ()
    return (log.level, log.propagate, log.disabled, shown)


def _handler_state(handler: logging.Handler) -> tuple[Any, ...]:
    # A handler writing a file (FileHandler and its subclasses): the file's size and time,
    # so a cell that logged into it is seen (a hit would not write the lines; the writes go
    # through a file opened before the cell, which the file watch does not see).
    path = getattr(handler, "baseFilename", None)
    written = None
    if isinstance(path, str):
        try:
            stat = os.stat(path)
            written = (stat.st_size, stat.st_mtime_ns)
        except OSError:
            pass
    return (type(handler).__qualname__, handler.level, id(handler), path, written)


def written_log_files(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The files of logging's handlers that changed between two snapshots of the logging
    facet (a cell logged into them)."""
    files = {h[3]: h[4] for _, _, _, handlers in old.values() for h in handlers if h[3]}
    return sorted(
        h[3]
        for _, _, _, handlers in new.values()
        for h in handlers
        if h[3] and h[3] in files and files[h[3]] != h[4]
    )


def configured_loggers(old: dict[str, Any], new: dict[str, Any], imported: list[str]) -> list[str]:
    """The loggers a run configured (``"root"`` for the root logger): one that existed
    before, or a new one set up by the cell (level, a handler, ``propagate``) rather than by
    a library it imported (``urllib3`` adds a ``NullHandler`` to its logger on import), or by
    an imported library making a logger of its own later (``NullHandler`` only).

    A ``NullHandler`` the cell adds to a logger of its own counts: with it, a warning
    logged there while no other handler is set shows nothing; without it, Python's last
    resort handler prints it."""
    found = [name for name, config in old.items() if new.get(name, config) != config]
    packages = {module.partition(".")[0] for module in imported}
    for name, (level, propagate, disabled, handlers) in new.items():
        top = name.partition(".")[0]
        if name in old or top in packages:
            continue
        library = top in sys.modules and top != "__main__"
        if (
            level
            or not propagate
            or disabled
            or any(h[0] != "NullHandler" or not library for h in handlers)
        ):
            found.append(name)
    return [name or "root" for name in found]


def _figures_capture(shell: Any) -> Any:
    # The figures pyplot holds open, the current one last. The inline backend closes a
    # cell's figures when it ends; others (%matplotlib notebook, widget, agg) keep them, and
    # a later plt.plot draws into the current one. Figures are live objects: compared
    # within the session (by identity), never stored, so a cell that opens or closes one
    # runs (apply is None).
    helpers = sys.modules.get("matplotlib._pylab_helpers")
    if helpers is None:
        return ()  # pyplot not imported: no figure is open (a cell importing it opens none)
    return tuple((num, id(manager)) for num, manager in helpers.Gcf.figs.items())


def _figures_digest(snapshot: Any) -> str:
    # As a check (the figures open when a cell starts, which its ``plt.show()`` or
    # ``plt.close('all')`` closes and its ``plt.plot`` draws into): their numbers, current
    # last, the same in every session that opened them alike (not the managers' ids).
    return _json_digest([num for num, _manager in snapshot])


def _registries_capture(shell: Any) -> Any:
    # What cells registered with libraries and later cells read by name only: colormaps
    # beyond matplotlib's own (``plt.get_cmap("mine")``) and pandas accessors
    # (``frame.geo``). By identity here (compared every hit); by content in the digest.
    found: list[tuple[str, str, int]] = []
    registry = getattr(sys.modules.get("matplotlib"), "colormaps", None)
    cmaps = getattr(registry, "_cmaps", None)
    builtin = getattr(registry, "_builtin_cmaps", ())
    if isinstance(cmaps, dict) and len(cmaps) != len(builtin):  # builtins cannot be replaced
        own = _BUILTIN_NAMES.get(id(builtin))
        if own is None:
            own = _BUILTIN_NAMES[id(builtin)] = frozenset(builtin)
        found.extend(("cmap", n, id(c)) for n, c in cmaps.items() if n not in own)
    pd = sys.modules.get("pandas")
    if pd is not None:
        for kind in ("DataFrame", "Series", "Index"):
            cls = getattr(pd, kind, None)
            for name in sorted(getattr(cls, "_accessors", None) or ()):
                found.append((kind, name, id(_accessor_class(cls, name))))
    return tuple(found) if found else None


_BUILTIN_NAMES: dict[int, frozenset[str]] = {}


def _user_code_digest(obj: Any) -> str:
    """A registered class by its code, the user code it reaches and the data globals its
    methods read (``V`` in ``return total * V``), as a cell's key has them."""
    from ...storage._fingerprint import fingerprint
    from ._key import _add_user_code

    if not (isinstance(obj, type) and is_user_code(obj)):
        return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', repr(obj))}"
    components: dict[str, str] = {}
    data: dict[str, Any] = {}
    _add_user_code("accessor", obj, components, {}, data, {})
    for name, value in sorted(data.items()):
        if not callable(value) and not isinstance(value, type(sys)):
            components[f"global:{name}"] = fingerprint(value)
    return _hash_text(repr(sorted(components.items())))


def _accessor_class(cls: Any, name: str) -> Any:
    holder = vars(cls).get(name)
    return getattr(holder, "_accessor", holder)


def _registries_digest(snapshot: Any) -> str:
    from ...storage._fingerprint import fingerprint

    registry = getattr(sys.modules.get("matplotlib"), "colormaps", None)
    pd = sys.modules.get("pandas")
    parts = []
    for kind, name, ident in snapshot:
        try:
            if kind == "cmap":
                parts.append(f"cmap {name} {fingerprint(registry._cmaps[name])}")  # type: ignore[union-attr]
            else:
                accessor = _accessor_class(getattr(pd, kind), name)
                parts.append(f"{kind}.{name} {_user_code_digest(accessor)}")
        except Exception:  # not digestible by content: known only within the session
            parts.append(f"{kind} {name} {ident} {os.getpid()}")
    return _hash_text("\n".join(parts))


def _warnings_capture(shell: Any) -> Any:
    # (action, message regex, category, module regex, lineno) tuples: compared with ==.
    return list(warnings.filters)


def _warnings_digest(snapshot: Any) -> str:
    def text(entry: tuple[Any, ...]) -> str:
        action, message, category, module, lineno = entry
        pattern = getattr(message, "pattern", message)
        where = getattr(module, "pattern", module)
        return repr((action, pattern, getattr(category, "__qualname__", ""), where, lineno))

    return _hash_text("\n".join(map(text, snapshot)))


def _warning_filters_change(old: list[Any], new: list[Any]) -> dict[str, list[Any]]:
    """The filters a run added (in the order they stand, newest first) and removed: what a
    hit re-applies, as a re-run would set them, whatever filters upstream cells left.

    >>> a, b = ("ignore", None, Warning, None, 0), ("error", None, Warning, None, 0)
    >>> _warning_filters_change([a], [b, a])
    {'added': [('error', None, <class 'Warning'>, None, 0)], 'removed': []}
    """
    return {"added": [f for f in new if f not in old], "removed": [f for f in old if f not in new]}


def _warnings_apply(shell: Any, snapshot: Any) -> None:
    # ``warnings.simplefilter('ignore')`` in a restored cell: later cells must not show the
    # warnings a re-run would have silenced (nor silence what it would show). A change
    # (:func:`_warning_filters_change`) is applied to the filters in force: importing a
    # library that adds its own must not take away what an upstream cell set. A list (an
    # undo, or an entry stored before changes were recorded) is the filters whole.
    if isinstance(snapshot, dict):
        kept = [f for f in warnings.filters if f not in snapshot["removed"]]
        wanted = [f for f in snapshot["added"] if f not in kept] + kept
        # The filters the run asked for (:func:`watch_filter_calls`), asked for again, as
        # ``warnings`` does: one already in force is put first (or kept, if appended).
        for item, append in snapshot.get("calls", ()):
            if not append and item in wanted:
                wanted.remove(item)
            if not append or item not in wanted:
                wanted.insert(0 if not append else len(wanted), item)
    else:
        wanted = list(snapshot)
    if list(warnings.filters) != wanted:
        warnings.filters[:] = wanted  # type: ignore[index]
        mutated = getattr(warnings, "_filters_mutated", None)
        if callable(mutated):
            mutated()  # forget which warnings were already shown under the old filters


# matplotlib's one-letter colors ("b", "k"...): ``sns.set()``/``set_theme()`` and
# ``sns.set_color_codes()`` point them at a seaborn palette, in a dict matplotlib.colors holds,
# not in rcParams. A hit of such a cell left them matplotlib's, so a later cell drawing
# ``ax.plot(x, 'b')`` drew pure blue where the plain run draws seaborn's.
_COLOR_CODES = "bgrcmykw"


def _color_codes_capture(shell: Any) -> Any:
    colors = sys.modules.get("matplotlib.colors")  # only once something imported it
    named = getattr(colors, "get_named_colors_mapping", None)
    mapping = named() if callable(named) else None
    if not isinstance(mapping, dict):
        return None
    return {code: mapping.get(code) for code in _COLOR_CODES}


def _color_codes_apply(shell: Any, snapshot: Any) -> None:
    import matplotlib.colors

    mapping = matplotlib.colors.get_named_colors_mapping()
    for code, color in snapshot.items():
        if color is not None and mapping.get(code) != color:
            mapping[code] = color  # _ColorMapping's __setitem__ clears its cache


def _sklearn_capture(shell: Any) -> Any:
    config = sys.modules.get("sklearn._config")
    get_config = getattr(config, "get_config", None)
    return dict(get_config()) if callable(get_config) else None


def _sklearn_apply(shell: Any, snapshot: Any) -> None:
    # ``set_config(display='text')``, ``set_output(transform='pandas')``-wide settings:
    # how later cells show estimators and what their transformers return.
    import sklearn

    current = _sklearn_capture(shell) or {}
    for key, value in snapshot.items():
        if current.get(key, _ABSENT) != value:
            sklearn.set_config(**{key: value})


_ABSENT = object()
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")

FACETS: dict[str, Facet] = {
    facet.name: facet
    for facet in (
        Facet("random", "random state", _random_capture, _json_digest, _random_apply),
        Facet("numpy.random", "numpy RNG state", _numpy_capture, _numpy_digest, _numpy_apply),
        Facet("rcParams", "matplotlib rcParams/style", _rc_capture, _rc_digest, _rc_apply),
        Facet(
            "matplotlib.colorcodes",
            "matplotlib color codes",
            _color_codes_capture,
            _json_digest,
            _color_codes_apply,
        ),
        Facet(
            "matplotlib.backend",
            "matplotlib backend",
            _backend_capture,
            _hash_text,
            _backend_apply,
        ),
        Facet("pandas.options", "pandas options", _pandas_capture, _json_digest, _pandas_apply),
        Facet(
            "numpy.printoptions",
            "numpy print options",
            _np_print_capture,
            _json_digest,
            _np_print_apply,
        ),
        Facet(
            "numpy.errstate", "numpy error handling", _np_err_capture, _json_digest, _np_err_apply
        ),
        Facet(
            "ipython.display", "display settings", _display_capture, _json_digest, _display_apply
        ),
        Facet("ipython.printers", "display formatters", _printers_capture, _json_digest, None),
        Facet(
            "ipython.interactivity",
            "which expressions show (ast_node_interactivity)",
            _interactivity_capture,
            _hash_text,
            _interactivity_apply,
        ),
        Facet(
            "ipython.compiler",
            "the __future__ imports later cells are compiled with",
            _compiler_capture,
            lambda snapshot: _hash_text(str(snapshot)),
            _compiler_apply,
        ),
        Facet(
            "copyreg",
            "how objects are pickled (copyreg registrations)",
            _copyreg_capture,
            lambda snapshot: _hash_text(str(len(snapshot))),
            None,
        ),
        Facet(
            "ipython.hooks",
            "the shell's input/AST transformers or exception handler",
            _hooks_capture,
            _hooks_digest,
            None,
        ),
        Facet("cwd", "working directory", _cwd_capture, _hash_text, _cwd_apply),
        Facet("sys.path", "sys.path", _path_capture, _json_digest, _path_apply),
        Facet("env", "environment variables", _env_capture, _json_digest, _env_apply),
        Facet(
            "python",
            "Python settings (recursion limit, int digits, decimal context, mpmath precision,"
            " sys.argv, time zone, locale)",
            _python_capture,
            _json_digest,
            _python_apply,
        ),
        Facet("sys.modules", "imported modules", _modules_capture, _json_digest, None),
        Facet("classes", "attributes of the notebook's classes", _classes_capture, repr, None),
        Facet(
            "library.classes",
            "attributes of library classes",
            _library_classes_capture,
            lambda snapshot: _hash_text(repr(sorted(snapshot))),
            None,
        ),
        Facet(
            "modules.local",
            "variables of local modules",
            _local_modules_capture,
            repr,
            None,
        ),
        Facet("logging", "the logging configuration", _logging_capture, _json_digest, None),
        Facet(
            "pyplot.figures",
            "the open matplotlib figures",
            _figures_capture,
            _figures_digest,
            None,
        ),
        Facet("warnings", "warning filters", _warnings_capture, _warnings_digest, _warnings_apply),
        Facet(
            "registries",
            "what cells registered with libraries (colormaps, pandas accessors)",
            _registries_capture,
            _registries_digest,
            None,
        ),
        Facet(
            "sklearn.config",
            "scikit-learn configuration",
            _sklearn_capture,
            _json_digest,
            _sklearn_apply,
        ),
    )
}


CHECKED_FACETS = frozenset(
    {
        "random",
        "numpy.random",
        "rcParams",
        "matplotlib.colorcodes",
        "pandas.options",
        "numpy.printoptions",
        "numpy.errstate",
        "ipython.display",
        "ipython.printers",
        "ipython.interactivity",
        "python",
        "cwd",
        "registries",
        "pyplot.figures",
    }
)
"""Facets a cell can *read* (their digests may be checks); the others are only changed."""


def capture_all(shell: Any, names: Iterable[str] | None = None) -> dict[str, Any]:
    """Snapshots of every facet (or of ``names``) that exists in this process."""
    out: dict[str, Any] = {}
    for name in names if names is not None else FACETS:
        try:
            snapshot = FACETS[name].capture(shell)
        except Exception:  # a library in an odd state: that facet is simply unknown
            snapshot = None
        if snapshot is not None:
            out[name] = snapshot
    return out


_DIGESTS: dict[str, tuple[Any, str]] = {}


def state_digests(
    shell: Any, names: Iterable[str], snapshots: dict[str, Any] | None = None
) -> dict[str, str]:
    """Stable digests of the current state of ``names`` (missing facets are ``"absent"``).

    The last snapshot and digest of each facet are remembered, so an unchanged rcParams
    costs one dict comparison instead of a re-hash. ``snapshots`` (from :func:`capture_all`)
    saves capturing again.
    """
    out: dict[str, str] = {}
    names = list(names)
    if snapshots is None:  # one pass over the facets asked for
        snapshots = capture_all(shell, [n for n in names if n in FACETS])
    for name in names:
        facet = FACETS.get(name)
        if facet is None:
            out[name] = "unknown"
            continue
        snapshot = snapshots.get(name)
        if snapshot is None:
            out[name] = "absent"
            continue
        known = _DIGESTS.get(name)
        if known is not None and known[0] == snapshot:
            out[name] = known[1]
            continue
        digest = facet.digest(snapshot)
        _DIGESTS[name] = (snapshot, digest)
        out[name] = digest
    return out


@dataclass
class StateChange:
    """What a run changed: facet -> snapshot to re-apply, and facets that cannot be."""

    apply: dict[str, Any]
    unappliable: list[str]
    added_modules: list[str]

    @property
    def labels(self) -> list[str]:
        return [FACETS[n].label for n in self.apply]


def changes_between(before: dict[str, Any], after: dict[str, Any]) -> StateChange:
    """The facets that differ between two :func:`capture_all` results."""
    apply: dict[str, Any] = {}
    unappliable: list[str] = []
    added: list[str] = []
    modules_before, modules_after = before.get("sys.modules"), after.get("sys.modules")
    if modules_before is not None and modules_after is not None:
        added = sorted(modules_after.keys() - modules_before.keys())
    for name, facet in FACETS.items():
        old, new = before.get(name), after.get(name)
        if name == "logging":
            if old is not None and new is not None and configured_loggers(old, new, added):
                unappliable.append(name)
            continue
        if name == "library.classes":
            if old is not None and new is not None and patched_attributes(old, new):
                unappliable.append(name)
            continue
        if name in ("classes", "modules.local"):
            if (
                old is not None
                and new is not None
                and any(new.get(cls, attrs) != attrs for cls, attrs in old.items())
            ):
                unappliable.append(name)
            continue
        if name in ("sys.modules", "registries"):
            # Registries: only read (a check); a cell that registers is found by its code
            # (``_analysis.REGISTERING``), and one that imports seaborn (which registers its
            # colormaps) is restored by importing it again.
            continue
        if old == new or new is None:
            continue
        if name == "ipython.printers" and figure_printers_imported(old or [], new, added):
            apply[name] = new  # put back by importing the backend again: checked on a hit
            continue
        if name == "warnings":
            apply[name] = _warning_filters_change(old or [], new)
            continue
        if name == "env":
            old, new = env_text(old or {}), env_text(new)
            apply[name] = {
                "set": {k: v for k, v in new.items() if old.get(k) != v},
                "unset": sorted(set(old) - set(new)),
            }
        elif facet.apply is None:
            unappliable.append(name)
        else:
            apply[name] = new
    return StateChange(apply, unappliable, added)

"""What makes a restored cell leave the kernel as a re-run would, beyond its variables.

After a run (:func:`record_effects`): which global state and files the cell read (recorded
as *checks*, compared before every hit by :func:`stale_checks`) and what it changed
(re-applied on a hit by :func:`reapply`), or why it cannot be restored at all.

=====================  =========================================  ===========================
what                   checked before a hit (the cell read it)    on a hit
=====================  =========================================  ===========================
RNG (numpy, random)    state before, when the cell drew numbers   state after is set (also
                       without seeding the generator itself       when the cell seeds it and
                                                                  left it where it was)
rcParams / style       when the cell drew a figure                changed params are set
matplotlib backend     -                                          ``matplotlib.use``
pandas options         when the cell showed something or used     changed options are set
                       numpy, pandas or their objects
numpy print options    as pandas options                          changed options are set;
                                                                  a formatter function: runs
%precision, formats    when the cell showed something             settings are set; new
                                                                  formatter functions: runs
                                                                  (the figure printers the
                                                                  inline backend's import
                                                                  registers: imported again)
numpy errors (seterr)  as pandas options                          ``np.seterr``
logging (any logger)   -                                          the cell runs
notebook class attrs   -                                          the cell runs
attributes of pandas'   -                                          the cell runs
and matplotlib's main
classes (tqdm.pandas())
closure/default values -                                          the cell runs
of notebook functions
lru_cache of notebook  -                                          the cell runs
functions (called)
library registries     always: colormaps, pandas accessors        the cell runs
filled by a call
(colormaps.register,
register_*_accessor,
addfont), directly or
by a notebook function
attributes/items set   -                                          the cell runs
on a module, function
or class (mod.X = 1,
mod.L.append(x))
variables of local     -                                          the cell runs
modules (helpers.py),
changed by any code
warning filters        what they do with each warning the cell    filters are set
                       issued (``_warned``)
scikit-learn config    -                                          changed settings are set
recursion limit,       always (cheap, rarely changed)             set
decimal context,
mpmath precision,
sys.argv, time zone,
locale
cwd                    when the cell touched files or chdir'ed    ``os.chdir``
sys.path               -                                          restored
environment            -                                          changed variables are set
modules imported       -                                          imported again
files read             content digest                             -
paths named, absent    that they still do not exist               -
environment variables  their values before the run                -
read by notebook code
folders listed (glob)  their file names as the cell saw them      -
files written          content digest (must be unchanged)         -
folders created        -                                          created again
files removed/renamed  -                                          the cell runs
threads still running  -                                          the cell runs
notebook code
programs started       -                                          the cell runs (machine
                                                                  probes such as lscpu: -)
os.putenv (not in      -                                          the cell runs
os.environ)
=====================  =========================================  ===========================
"""

from __future__ import annotations

import ast
import builtins
import collections
import dis
import functools
import itertools
import os
import pickle
import re
import sys
import threading
import types
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from ...storage._fingerprint import fingerprint_code, is_user_code
from ...storage._usercode import in_modules, is_user_file, type_module, wrapped_function
from .._covars import import_quietly, reachable_ids
from ._analysis import REGISTERING, SEEDING, SETTING_NAMES, facets_set_by, seeding_paths
from ._effects import FileWatch, listing_digest
from ._explain import Difference
from ._key import HELD_UNKNOWN, FileDigests, fingerprint_after, held_digest
from ._namespace import names_of_kind
from ._state import (
    FACETS,
    NUMPY_PRINT_CODE,
    FilterCall,
    StateChange,
    capture_all,
    changes_between,
    configured_loggers,
    env_text,
    env_value_digest,
    patched_attributes,
    seeded_generators,
    state_digests,
    written_log_files,
)
from ._warned import PREFIX as WARNED
from ._warned import WarningWatch, stale_warnings, warning_checks

__all__ = [
    "Effects",
    "cache_states",
    "changed_own_defaults",
    "filled_caches",
    "reapply",
    "reapply_for_imports",
    "record_effects",
    "stale_checks",
]

_IMAGE = ("image/png", "image/jpeg", "image/svg+xml", "application/pdf")
_PLOT_MODULES = ("matplotlib", "seaborn", "pandas.plotting", "mpl_toolkits")
_NUMERIC_MODULES = ("numpy", "pandas")


@dataclass
class Effects:
    """The checks and re-applicable changes of one run, or why it cannot be restored."""

    checks: dict[str, str] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    dirs: list[str] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)
    unrestorable: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _draws(outputs: list[dict[str, Any]], values: dict[str, Any], reads_plotting: bool) -> bool:
    if reads_plotting:
        return True
    for event in outputs:
        if any(mime in event.get("data", {}) for mime in _IMAGE):
            return True
    return any(in_modules(type_module(v), _PLOT_MODULES) for v in values.values())


_NUMERIC_LOOKED_AT = 16
"""Items of a container, or attributes of an instance, :func:`_holds_numeric` looks at."""


def _holds_numeric(value: Any, depth: int = 2) -> bool:
    """Whether ``value`` is a numpy or pandas object, or a list, tuple, set or dict, or an
    instance's attributes, holding one among its first items: ``scores = [np.float64(0.5),
    ...]`` shows as ``[0.5, ...]`` under ``np.set_printoptions(legacy="1.25")``, and
    ``str(r.arr)`` of a notebook object's array follows the print options too.

    >>> import numpy as np, types
    >>> _holds_numeric({"best": [np.float64(0.5)]}), _holds_numeric([1, "a", [2]])
    (True, False)
    >>> _holds_numeric(types.SimpleNamespace(n=1, arr=np.zeros(2)))
    True
    >>> import weakref
    >>> _holds_numeric([weakref.proxy(set())])  # a dead proxy: nothing held, nothing raised
    False
    """
    if in_modules(type_module(value), _NUMERIC_MODULES):
        return True
    if not depth:
        return False
    if type(value) in (list, tuple, set, frozenset, dict):
        items = value.values() if type(value) is dict else value
    else:
        attributes = _instance_attributes(value)
        if attributes is None:
            return False
        items = attributes.values()
    looked_at = itertools.islice(items, _NUMERIC_LOOKED_AT)
    return any(_holds_numeric(item, depth - 1) for item in looked_at)


def _instance_attributes(value: Any) -> dict[str, Any] | None:
    """An instance's own attributes (a notebook object's, a ``SimpleNamespace``'s, a fitted
    estimator's), read without running its code; ``None`` for a module, class or function
    (what it holds is not its value) or an object without them."""
    # By ``type``: ``isinstance`` asks a weak proxy's referent, which may be gone.
    if issubclass(type(value), (type, types.ModuleType, types.FunctionType, types.MethodType)):
        return None
    try:
        attributes = object.__getattribute__(value, "__dict__")
    except Exception:  # none (AttributeError), or a dead weak proxy's ReferenceError
        return None
    return attributes if type(attributes) is dict else None


def record_effects(
    shell: Any,
    before: dict[str, Any],
    after: dict[str, Any],
    watch: FileWatch,
    outputs: list[dict[str, Any]],
    values: dict[str, Any],
    *,
    reads_plotting: bool,
    reads_numpy: bool = False,
    seeds_first: Iterable[str] = (),
    targets: tuple[tuple[str, str], ...] = (),
    mutated: Iterable[str] = (),
    seedings: Iterable[str] = (),
    functions: dict[str, tuple[Any, str]] | None = None,
    inputs: dict[str, Any] | None = None,
    source: str = "",
    definitions: Iterable[ast.stmt] = (),
    registrations: tuple[str, ...] = (),
    threads: tuple[threading.Thread, ...] | None = None,
    env_reads: set[str] | frozenset[str] = frozenset(),
    env_writes: set[str] | frozenset[str] = frozenset(),
    filter_calls: list[FilterCall] | None = None,
    settings: Iterable[str] = (),
    digests: FileDigests,
    before_digests: dict[str, str],
    warned: WarningWatch | None = None,
    caches: dict[str, tuple[Any, Any]] | None = None,
) -> Effects:
    """Turn state snapshots and file events around a run into checks and re-applications.

    ``before_digests`` are the digests of the facets before the run (taken then, since the
    run may have changed them). ``targets`` are what the cell sets attributes or items of
    (:attr:`CellCode.targets`); ``mutated`` the inputs its run changed in place;
    ``seedings`` its calls that may seed a generator (:attr:`CellCode.seedings`), and
    ``seeds_first`` those made before anything that could draw (:attr:`CellCode.seeds_first`);
    ``functions`` the notebook functions it read, name -> (function, code digest before the
    run); ``inputs`` the other values it read (before the run) and ``source`` its code, for
    the notebook code it may run through them (:func:`_code_behind`: ``helper.prep()``,
    ``cfg.apply()``); ``definitions`` its top-level ``def``, ``class`` and import
    statements (:attr:`CellCode.definition_module`), whose literal defaults and class
    attributes it may have changed; ``registrations`` the registering calls in its code
    (:attr:`CellCode.registrations`); ``threads`` the threads alive before the run
    (:func:`threading.enumerate`); ``env_reads`` the environment variables it read
    (:func:`~._state.watch_env_reads`), checked as they were before it; ``env_writes``
    those it set or deleted (:func:`~._state.watch_env_writes`), re-applied as it left them;
    ``filter_calls`` the warning filters it asked for (:func:`~._state.watch_filter_calls`),
    asked for again by a hit;
    ``settings`` the facets its code may set (:attr:`CellCode.settings`), whose state
    before it is checked; ``warned`` the
    warnings it issued
    (:func:`~._warned.watch_warnings`), checked against the filters in force before it;
    ``caches`` the notebook's ``lru_cache`` functions before it (:func:`cache_states`).
    """
    change: StateChange = changes_between(before, after)
    effects = Effects(state=dict(change.apply), modules=_importable(change.added_modules))
    ns = getattr(shell, "user_ns", None) or {}
    for name in seeded_generators(ns, seedings) - set(effects.state):
        # Seeded by the cell, and left where it was before the run (``seed(0)`` and as
        # many draws as upstream had made): no change was seen, but a re-run sets the
        # generator whatever its state, so a hit sets it too (after an upstream edit the
        # generator is elsewhere; Numerical Python ch17).
        if name in after:
            effects.state[name] = after[name]
    for name, snapshot in list(effects.state.items()):
        # ``pd.options.display.float_format = lambda x: ...``: a function of the notebook
        # cannot be stored with the entry, so it could not be re-applied by a hit.
        try:
            pickle.dumps(snapshot, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            del effects.state[name]
            effects.unrestorable.append(
                f"it sets {FACETS[name].label} to a value that cannot be stored "
                f"({type(exc).__name__}: {str(exc)[:80]})"
            )
    read: set[str] = set()
    # A cell that draws random numbers depends on the state it started from; one that seeds
    # the generator before anything else it runs does not (and a fresh kernel's state is
    # random). One that seeds it after a draw (``x = np.random.rand(); np.random.seed(0)``)
    # does: ``x`` came from the state before.
    read |= ({"random", "numpy.random"} & set(change.apply)) - seeded_generators(ns, seeds_first)
    # A generator a notebook function the cell reads may seed, which the run left where it
    # was: whether the function ran is not known, so the hit is kept to where it started.
    try:
        behind = _code_behind(inputs or {}, source)
        held = facets_set_by(_held_setter_names(inputs or {}))
    except Exception as exc:  # a class or module of the notebook in a state no walk reads
        behind, held = {}, []
        effects.unrestorable.append(
            f"what its inputs may run could not be told ({type(exc).__name__}: {exc})"
        )
    facts = _function_code_facts({**behind, **(functions or {})})
    read |= facts.seeded - set(effects.state)
    if _draws(outputs, values, reads_plotting):
        read |= {"rcParams", "matplotlib.colorcodes"}
    if outputs:
        read |= {"pandas.options", "numpy.printoptions", "ipython.display", "ipython.printers"}
    # Which expressions show (``ast_node_interactivity = 'all'`` upstream): any cell with
    # an expression statement would show more or less; cheap, and rarely changed.
    read.add("ipython.interactivity")
    # The decimal context (``getcontext().prec = 5`` upstream: how every Decimal operation
    # rounds), the recursion limit and int digits: cheap, and rarely changed.
    read.add("python")
    # What upstream cells registered with libraries, which the cell may read by name
    # (``plt.get_cmap("mine")``, ``frame.geo``).
    read.add("registries")
    # The figures open when it starts (a backend that keeps them: ``%matplotlib notebook``,
    # ``matplotlib.use('nbagg')``): ``plt.show()`` or ``plt.close('all')`` closes them and
    # ``plt.plot`` draws into the current one; a restore would leave them as they are. (The
    # inline backend closes every figure when a cell ends: none are open then.)
    read.add("pyplot.figures")
    # A cell computing on upstream arrays or frames reads numpy and pandas as one naming
    # them does: ``r = (a / a).tolist()`` under ``np.seterr(all='raise')`` raises, and
    # ``text = str(arr)`` or ``repr(df)`` formats by the print and display options, though
    # the cell shows nothing (a hit had kept the old digits and errors). So does one calling
    # a notebook function that reads them.
    numeric = (
        reads_numpy
        or facts.numeric
        or any(_holds_numeric(value) for value in (inputs or {}).values())
    )
    if outputs or numeric:
        # numpy.errstate: whether a floating-point error prints a RuntimeWarning (or raises),
        # also for a cell whose stored run printed nothing because errors were ignored.
        read.add("numpy.errstate")
    if numeric:
        read |= {"numpy.printoptions", "pandas.options"}
    touched_files = bool(
        watch.read or watch.written or watch.created_dirs or watch.removed or watch.listed
    )
    if "cwd" in change.apply or (touched_files and watch.relative):
        read.add("cwd")
    # A hit re-applies the whole state a facet the cell changed was left in (every pandas
    # option, all of rcParams, the path list): what a re-run leaves only when the facet was
    # as before the stored run. After an upstream cell was edited to set another option, a
    # restored cell setting one of its own put the old one back (Pandas-Cookbook ch02: its
    # max_rows cell undid the edited max_columns). So what a cell changes, it reads.
    # (Generators are read as above: not when seeded first; environment variables and
    # warning filters are re-applied as changes, not whole: the variables it set, the
    # filters it added or removed.)
    changed = set(change.apply) - {"random", "numpy.random", "env", "warnings"}
    read |= changed
    # And what its code may set, changed or not: a run that sets a facet to the value it
    # already had shows no change, and a hit would then apply nothing, where a re-run from
    # another state sets it (Pandas-Cookbook ch04: two ``max_rows = 6`` cells, the second's
    # entry restored for the first in a fresh kernel left pandas' 60 rows). Environment
    # variables and warning filters are re-applied as the run asked for them instead
    # (``env_writes``, ``filter_calls``, below): their whole state differs between kernels.
    read |= set(settings).union(facts.settings, held) - {"random", "numpy.random"}
    missing = [name for name in sorted(read) if name not in before_digests and name in before]
    if missing:
        before_digests = {**before_digests, **state_digests(shell, missing, before)}
    for name in sorted(read):
        if name in before_digests and name in before:
            effects.checks[f"state:{name}"] = before_digests[name]
    if env_writes and after.get("env") is not None:
        # ``os.environ["MODE"] = "fast"`` when it already was: no change, but a re-run sets
        # it whatever it is then, so a hit does too (and deletes what the run deleted).
        now = env_text(after["env"])
        delta = effects.state.get("env") or {"set": {}, "unset": []}
        for key in sorted(env_writes):
            if key in now:
                delta["set"].setdefault(key, now[key])
            elif key not in delta["unset"]:
                delta["unset"].append(key)
        effects.state["env"] = delta
    if filter_calls and after.get("warnings") is not None:
        # ``warnings.simplefilter('ignore')`` when that filter was in force already.
        delta = effects.state.get("warnings") or {"added": [], "removed": []}
        effects.state["warnings"] = {**delta, "calls": list(filter_calls)}
    if env_reads and before.get("env") is not None:
        # ``os.environ.get("MODE")``: the value before the run (the cell may set it itself).
        environment = env_text(before["env"])
        for name in sorted(env_reads):
            effects.checks[f"env:{name}"] = env_value_digest(environment.get(name))
    filters = before.get("warnings")
    if warned is not None and filters is not None:
        # What the filters upstream cells set did with the cell's warnings (hidden, shown,
        # raised): only for a cell that warned, and only for its warnings.
        if warned.overflow:
            effects.checks["state:warnings"] = FACETS["warnings"].digest(filters)
        else:
            effects.checks.update(warning_checks(warned, filters))
    for name in change.unappliable:
        label = FACETS[name].label
        logged = written_log_files(before[name], after[name]) if name == "logging" else []
        if logged:
            effects.unrestorable.append(
                f"it logs into {', '.join(logged[:3])}, which a restore would not write"
            )
            continue
        if name == "logging":
            loggers = configured_loggers(before[name], after[name], change.added_modules)
            label += f" (logger {', '.join(loggers[:3])})"
        elif name == "modules.local":
            old, new = before[name], after[name]
            label += f" ({', '.join(sorted(m for m in old if new.get(m, old[m]) != old[m]))})"
        elif name == "library.classes":
            label += f" ({', '.join(patched_attributes(before[name], after[name])[:3])})"
        effects.unrestorable.append(f"it changes {label}, which cannot be re-applied")
    printing = change.apply.get("numpy.printoptions")
    if printing is not None:
        old = before.get("numpy.printoptions") or {}
        if any(printing.get(n) != old.get(n) for n in NUMPY_PRINT_CODE):
            effects.unrestorable.append(
                "it sets a numpy print function, which cannot be re-applied"
            )
    removed = watch.removed_existing
    if removed:
        effects.unrestorable.append(f"it removes or renames files ({', '.join(removed[:3])})")
    if watch.other:
        effects.unrestorable.append(f"it changes files ({', '.join(sorted(watch.other)[:3])})")
    changed_code = _changed_in_place(ns, targets)
    mapped = _written_memmaps(ns, targets, mutated)
    if mapped:
        effects.unrestorable.append(
            f"it writes into {', '.join(mapped[:3])}, a np.memmap whose file a restore "
            "would not write"
        )
    if changed_code:
        effects.unrestorable.append(
            f"it sets attributes or items of {', '.join(changed_code[:3])}, which a restore "
            "cannot put back"
        )
    if facts.keeping_ids:
        # As a cell calling ``id()`` itself (an uncertainty of ``_analysis``): the ids it
        # keeps are addresses of this kernel's objects, not of those a restore makes.
        effects.unrestorable.append(
            f"it calls id() through {', '.join(facts.keeping_ids[:3])}, whose values are the "
            "addresses of the kernel's objects, which a restore cannot give the objects it makes"
        )
    registering = _registering(ns, registrations) + facts.registering
    if registering:
        effects.unrestorable.append(
            f"it calls {', '.join(registering[:3])}, which fills a library's registry or "
            "settings that a restore cannot fill again"
        )
    kept = _changed_functions(ns, functions or {})
    if kept:
        effects.unrestorable.append(
            f"it changes state kept by {', '.join(kept[:3])} between calls (closure or "
            "default values), which a restore cannot put back"
        )
    defaults = changed_own_defaults(ns, definitions)
    if defaults:
        effects.unrestorable.append(
            f"it changes the default values, attributes or class attributes of "
            f"{', '.join(defaults[:3])}, which it defines: a hit defines it again, as written"
        )
    filled = filled_caches(ns, caches) if caches is not None else []
    if filled:
        effects.unrestorable.append(
            f"it calls {', '.join(filled[:3])}, whose lru_cache (its contents and "
            "cache_info()) a restore cannot fill again"
        )
    running = _running_threads(threads) if threads is not None else []
    if running:
        effects.unrestorable.append(
            f"it starts threads that run notebook code after it ends ({', '.join(running[:3])})"
        )
    if watch.commands:
        effects.unrestorable.append(
            f"it starts programs ({', '.join(sorted(watch.commands)[:3])}), whose reads and "
            "writes cannot be seen"
        )
    hidden_env = sorted(k for k, v in watch.putenv.items() if os.environ.get(k) != v)
    if hidden_env:
        effects.unrestorable.append(
            f"it sets environment variables outside os.environ ({', '.join(hidden_env[:3])})"
        )
    for path in watch.inputs:
        effects.checks[f"read:{path}"] = digests.digest(Path(path))
    for path, digest in sorted(watch.listed_inputs.items()):
        effects.checks[f"listed:{path}"] = digest
    for path in watch.outputs:
        effects.checks[f"wrote:{path}"] = digests.digest(Path(path))
    for path in sorted(watch.databases):
        if os.path.isfile(path):  # as it was left: changed or removed since, the cell runs
            effects.checks.setdefault(f"wrote:{path}", digests.digest(Path(path)))
    effects.dirs = sorted(p for p in watch.created_dirs if os.path.isdir(p))
    if effects.state:
        effects.notes.append("re-applied: " + ", ".join(FACETS[n].label for n in effects.state))
    return effects


def _changed_in_place(ns: dict[str, Any], targets: tuple[tuple[str, str], ...]) -> list[str]:
    """What among ``targets`` is code or lives in a module, so a restore would not redo it.

    Data the cell changes in place is stored as changed; modules, functions and classes are
    not stored (a hit imports or defines them again), so ``mod.X = 1``, ``f.calls += 1``,
    ``Cls.items[0] = 1`` or ``mod.CONFIG["k"] = 1`` would be missing after a restore.
    Objects other facets restore (``plt.rcParams``, ``pd.options``, ``os.environ``) are not
    plain dicts or lists, and are left to them.
    """
    found = []
    for path, kind in targets:
        names = path.split(".")
        parent: Any = None
        owner = ns.get(names[0], _MISSING)
        for attr in names[1:]:
            # Only through modules and classes: an attribute of anything else may be a
            # property, whose code must not run here.
            if not isinstance(owner, (types.ModuleType, type)):
                owner = _MISSING
                break
            parent, owner = owner, getattr(owner, attr, _MISSING)
        if owner is _MISSING:
            continue
        if isinstance(owner, types.ModuleType):
            found.append(f"module {owner.__name__}")
        elif isinstance(owner, (types.FunctionType, types.BuiltinFunctionType, type)) or (
            kind == "item"
            and isinstance(owner, _CONTAINERS)  # subclasses too: matplotlib.units.registry
            and isinstance(parent, (types.ModuleType, type))
            and not any(owner is kept for kept in _facet_containers())
        ):
            found.append(path)
        elif (
            kind == "attr"
            and isinstance(parent, (types.ModuleType, type))
            and not any(owner is kept for kept in _facet_containers())
        ):
            # An attribute of an object a module or class holds: ``mpmath.mp.dps = 50``
            # sets the library's precision, which a restore would leave as it was.
            found.append(path)
    return found


def _written_memmaps(
    ns: dict[str, Any], targets: tuple[tuple[str, str], ...], mutated: Iterable[str] = ()
) -> list[str]:
    """The variables the cell wrote into that map a file opened for writing (an
    ``np.memmap`` in mode ``r+`` or ``w+``, or an array viewing one): assigned into in its
    code (``f[:, i] = ...``), or changed in place by its run however it did it
    (``f.fill(3)``, ``f += 1``, ``np.copyto(f, x)``, a function of the notebook). The writes
    go to the file through the mapping, which the file watch does not see, and a restore
    would bring back the array, not the file."""
    np = sys.modules.get("numpy")
    if np is None:
        return []
    names = [path for path, kind in targets if kind == "item"]
    names += [name for name in mutated if name not in names]
    return [name for name in names if _maps_a_writable_file(ns.get(name, _MISSING), np)]


def _maps_a_writable_file(value: Any, np: Any) -> bool:
    """Whether ``value`` is, or views, an ``np.memmap`` whose file it may write."""
    seen = 0
    while isinstance(value, np.ndarray) and seen < 64:  # a base chain is short; never loop
        if isinstance(value, np.memmap) and getattr(value, "mode", None) in ("r+", "w+"):
            return True
        value, seen = value.base, seen + 1
    return False


def _registering(ns: dict[str, Any], registrations: tuple[str, ...]) -> list[str]:
    """The registering calls in the cell's code on an object that is not the notebook's
    (``matplotlib.colormaps.register``); those made through a notebook function are found
    by :func:`_function_code_facts`."""
    found = []
    for path in registrations:
        root = ns.get(path.partition(".")[0], _MISSING)
        if isinstance(root, (types.FunctionType, type)) and is_user_code(root):
            continue  # a notebook function of that name: its code is scanned instead
        found.append(f"{path}()")
    return found


class _CodeFacts(NamedTuple):
    """What :func:`_function_code_facts` found in the code of notebook functions."""

    registering: list[str]  # ``add_map()``: makes a registering call
    seeded: set[str]  # the generators it may set outright
    settings: list[str]  # the facets it may set
    keeping_ids: list[str]  # ``key()``: calls the builtin ``id()``
    numeric: bool  # reads a global that is numpy, pandas or one of their objects


def _function_code_facts(functions: dict[str, tuple[Any, str]]) -> _CodeFacts:
    """What the notebook functions in ``functions`` (name -> (function, digest)), or the
    notebook functions they call, may do, in one walk of their code: the names of those
    that make a registering call (``add_map()``), the generators (``random``,
    ``numpy.random``) they may set outright (``np.random.seed(0)``, resolved in their
    globals), the facets their code may set (:func:`~._analysis.facets_set_by` of the
    names it uses: ``def setup(): pd.set_option(...)``), the names of those calling
    the builtin ``id()`` (``def key(o): return id(o)``), and whether any reads numpy or
    pandas (``def f(): return np.zeros(2) / 0``, under ``np.seterr`` as set upstream)."""
    registering: list[str] = []
    keeping_ids: list[str] = []
    seeded: set[str] = set()
    seen: set[int] = set()
    used: set[str] = set()
    numeric = False
    for name, (function, _digest) in functions.items():
        registers = ids = False
        for owner, code in _notebook_code(function, seen):
            ids = ids or ("id" in code.co_names and _calls_builtin_id(owner.__globals__, code))
            used.update(code.co_names)
            numeric = numeric or any(
                _numeric_global(owner.__globals__.get(n, _MISSING)) for n in code.co_names
            )
            # ``get_ipython().run_line_magic('precision', '3')``: a magic by its name.
            used.update(
                f"%{c}" for c in code.co_consts if type(c) is str and f"%{c}" in SETTING_NAMES
            )
            # A notebook function of a registering name is followed, not taken for one.
            registers = registers or any(
                REGISTERING.fullmatch(called)
                and not _is_notebook_function(owner.__globals__.get(called, _MISSING))
                for called in code.co_names
            )
            if not SEEDING.isdisjoint(code.co_names):
                seeded |= seeded_generators(owner.__globals__, seeding_paths(code))
        if registers:
            registering.append(f"{name}()")
        if ids:
            keeping_ids.append(f"{name}()")
    settings = facets_set_by(used) if used else []
    return _CodeFacts(registering, seeded, settings, keeping_ids, numeric)


def _numeric_global(value: Any) -> bool:
    """Whether a function's global ``value`` is numpy, pandas (or a module of theirs) or
    one of their objects.

    >>> import numpy as np, types
    >>> _numeric_global(np), _numeric_global(np.linalg), _numeric_global(len)
    (True, True, False)
    >>> _numeric_global(types.SimpleNamespace(arr=np.zeros(2)))  # ``def f(): str(r.arr)``
    True
    """
    if isinstance(value, types.ModuleType):
        return in_modules(value.__name__, _NUMERIC_MODULES)
    return _holds_numeric(value, 1)


def _calls_builtin_id(namespace: dict[str, Any], code: types.CodeType) -> bool:
    """Whether ``code``, the notebook's own, reads the global ``id`` (not an attribute of
    that name: ``row.id``) and that is the builtin in ``namespace``, the function's globals.

    A library's wrapper a notebook class holds is not counted: a dataclass's ``__repr__``
    keys on ``id(self)`` only to stop a recursion, and keeps nothing.
    """
    if namespace.get("id", builtins.id) is not builtins.id or not is_user_file(code.co_filename):
        return False
    return any(
        op.opname in ("LOAD_GLOBAL", "LOAD_NAME") and op.argval == "id"
        for op in dis.get_instructions(code)
    )


def _code_behind(inputs: dict[str, Any], source: str) -> dict[str, tuple[Any, str]]:
    """The notebook functions a cell may run through ``inputs`` that are not functions,
    as :func:`_function_code_facts` takes them (name -> (function, "")): every method of a
    notebook class read, or of the class of an instance read but its constructors
    (``cfg.apply()``; a method calls the others through ``self``); the function of a bound
    method; the functions and the classes' methods of a local module read that ``source``
    names through it
    (``helper.prep()``, ``utils.plots.show()``; the others are not run by the cell).

    A cell calling ``helper.prep()``, which sets numpy's print options, sets them as surely
    as one calling ``np.set_printoptions`` itself: its entry is kept to the state it started
    from, as theirs are (an entry stored by a run that found them set already applied
    nothing, where a re-run from elsewhere sets them).

    >>> class Cfg:
    ...     def apply(self):
    ...         return 1
    >>> Cfg.__module__ = Cfg.apply.__module__ = "__main__"  # as the notebook's are
    >>> sorted(_code_behind({"cfg": Cfg(), "n": 3}, "cfg.apply()"))
    ['cfg.apply']
    >>> Cfg.__init__ = lambda self: None  # as if ``def __init__`` (notebook code, too)
    >>> Cfg.__init__.__module__ = "__main__"
    >>> sorted(_code_behind({"cfg": Cfg()}, "")), sorted(_code_behind({"Cfg": Cfg}, ""))
    (['cfg.apply'], ['Cfg.__init__', 'Cfg.apply'])
    """
    found: dict[str, tuple[Any, str]] = {}

    def add(name: str, value: Any, made: bool = True) -> None:
        if isinstance(value, types.MethodType):
            value = value.__func__
        if _is_notebook_function(value):
            found.setdefault(name, (value, ""))
        elif isinstance(value, type) and is_user_code(value):
            for klass in value.__mro__:
                if klass is not object and is_user_code(klass):
                    for attr, member in list(vars(klass).items())[:_MEMBERS]:
                        if not made and attr in _CONSTRUCTORS:
                            continue  # an instance read is not made again by the cell
                        for function in _functions_of(member):
                            found.setdefault(f"{name}.{attr}", (function, ""))

    for name, value in inputs.items():
        if isinstance(value, types.ModuleType):
            if is_user_code(value) and source:
                for path in _dotted_after(name, source):
                    owner: Any = value
                    for attr in path:
                        # Through modules only, by their dict: no module ``__getattr__`` runs.
                        owner = vars(owner).get(attr, _MISSING)
                        if not isinstance(owner, types.ModuleType):
                            break
                    add(f"{name}.{'.'.join(path)}", owner)
        elif isinstance(value, (types.MethodType, type)):
            add(name, value)
        elif not isinstance(value, types.FunctionType) and is_user_code(type(value)):
            add(name, type(value), made=False)
        if len(found) > _MEMBERS:
            break
    return found


_CONSTRUCTORS = frozenset({"__new__", "__init__", "__init_subclass__"})

# How many members of a class or module :func:`_code_behind` looks at: their code is walked
# only for a cell that is stored, but a generated class may have thousands.
_MEMBERS = 2000


_FUNCTION_TYPES = (types.BuiltinFunctionType, types.FunctionType, types.MethodType)


def _held_setter_names(inputs: dict[str, Any]) -> list[str]:
    """The names of library setters the cell's inputs hold, which a call of the input runs:
    ``setp = functools.partial(np.set_printoptions, precision=2)`` or ``so = pd.set_option``
    in one cell, ``setp()`` in another.

    >>> import functools, os
    >>> _held_setter_names({"f": functools.partial(os.chdir, "."), "g": os.getcwd, "n": 1})
    ['chdir']
    """
    found = []
    for value in inputs.values():
        for _ in range(4):  # a partial of a partial
            if isinstance(value, functools.partial):
                value = value.func
        # Functions only: an attribute of any other object may run its code.
        name = value.__name__ if isinstance(value, _FUNCTION_TYPES) else None
        if isinstance(name, str) and name in SETTING_NAMES and not is_user_code(value):
            found.append(name)
    return found


def _functions_of(member: Any) -> list[Any]:
    """The functions a class attribute runs: itself, a static or class method's, a
    property's getter, setter and deleter."""
    if isinstance(member, (staticmethod, classmethod)):
        member = member.__func__
    if isinstance(member, property):
        return [f for f in (member.fget, member.fset, member.fdel) if _is_notebook_function(f)]
    return [member] if _is_notebook_function(member) else []


def _dotted_after(name: str, source: str) -> list[list[str]]:
    """The attribute paths ``source`` reads off ``name``, each as its parts.

    >>> _dotted_after("helper", "helper.prep()\\nx = helper . plots.show(helper)")
    [['prep'], ['plots', 'show']]
    """
    pattern = re.compile(rf"(?<![\w.]){re.escape(name)}((?:\s*\.\s*[^\W\d]\w*)+)")
    paths = [re.findall(r"\w+", match) for match in pattern.findall(source)]
    return [p for i, p in enumerate(paths) if p not in paths[:i]]


def _is_notebook_function(value: Any) -> bool:
    return isinstance(value, types.FunctionType) and is_user_code(value)


def _notebook_code(
    function: Any, seen: set[int]
) -> Iterator[tuple[types.FunctionType, types.CodeType]]:
    """Each code object of a notebook ``function`` (nested ones included) with the function
    it belongs to, then those of the notebook functions it names through its globals, a
    few levels deep; functions in ``seen`` (updated) are skipped."""
    pending = [(function, 0)]
    while pending:
        function, depth = pending.pop()
        if not isinstance(function, types.FunctionType) or id(function) in seen or depth > 8:
            continue
        seen.add(id(function))
        codes = [function.__code__]
        while codes:
            code = codes.pop()
            codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
            yield function, code
            for name in code.co_names:
                target = function.__globals__.get(name, _MISSING)
                if _is_notebook_function(target):
                    pending.append((target, depth + 1))


def _running_threads(before: tuple[threading.Thread, ...]) -> list[str]:
    """Threads started since ``before`` that still run notebook code (their target or their
    class is the notebook's): what they do after the cell ended, a hit would not do.

    Threads of libraries (tqdm's monitor, a pool's workers) are the library's own state,
    started again when it is used.
    """
    known = {id(t) for t in before}
    found = []
    for thread in threading.enumerate():
        if id(thread) in known or not thread.is_alive():
            continue
        target = getattr(thread, "_target", None) or getattr(thread, "function", None)
        target = getattr(target, "__func__", None) or getattr(target, "func", None) or target
        if is_user_code(type(thread)) or is_user_code(target):
            found.append(thread.name)
    return found


def _changed_functions(ns: dict[str, Any], functions: dict[str, tuple[Any, str]]) -> list[str]:
    """The functions among ``functions`` whose state changed while the cell ran.

    A counter made by a closure (``n[0] += 1``) or a mutable default (``acc=[]``) is changed
    by calling the function; a hit defines no function and calls nothing, so the next call
    would see the old state. The code digest covers closure cells and defaults.
    """
    changed = []
    for name, (function, digest) in functions.items():
        if not isinstance(function, types.FunctionType) or ns.get(name) is not function:
            continue  # rebound by the cell: a hit defines it again
        try:
            if fingerprint_code(function) != digest:
                changed.append(name)
        except Exception:
            changed.append(name)
    return changed


def _written_container(expr: ast.expr) -> Any:
    """The value a default or class attribute written as a literal (``[]``, ``{'a': 1}``,
    ``0``, ``'x'``) or an empty container call (``set()``) has when its statement runs, else
    :data:`_MISSING`."""
    if isinstance(expr, (ast.List, ast.Dict, ast.Set, ast.Tuple, ast.Constant, ast.UnaryOp)):
        try:
            return ast.literal_eval(expr)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return _MISSING
    if (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Name)
        and expr.func.id in _EMPTY_CONTAINERS
        and not expr.args
        and not expr.keywords
    ):
        return _EMPTY_CONTAINERS[expr.func.id]()
    return _MISSING


_EMPTY_CONTAINERS: dict[str, Any] = {"list": list, "dict": dict, "set": set}


def changed_own_defaults(ns: dict[str, Any], definitions: Iterable[ast.stmt]) -> list[str]:
    r"""What the cell defines (``definitions``: its top-level statements, of which the
    ``def`` and ``class`` ones count; :attr:`CellCode.definition_module` has them, parsed
    once by the analysis) that holds a container
    written in its code (a default ``acc=[]``, of a function or of a method of a class; a
    class attribute ``items = []``) which holds something else after the run: the cell
    called them and they changed it. A hit runs the ``def`` or ``class`` again, which makes
    the container as written, so a later call would not see what the run added.

    >>> ns = {}
    >>> source = "def add(x, acc=[]):\n    acc.append(x)\n    return acc\n"
    >>> source += "class Reg:\n    items = []\n    def __init__(self, v):\n"
    >>> source += "        self.items.append(v)\n"
    >>> exec(source, ns)
    >>> changed_own_defaults(ns, ast.parse(source).body)
    []
    >>> _ = ns["add"](1), ns["Reg"](2)
    >>> changed_own_defaults(ns, ast.parse(source).body)
    ['add()', 'Reg.items']
    """
    found = []
    for node in definitions:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if _default_changed(node, ns.get(node.name)):
                found.append(f"{node.name}()")
        elif isinstance(node, ast.ClassDef):
            kind = ns.get(node.name)
            if not isinstance(kind, type):
                continue
            own = kind.__dict__
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    method = own.get(item.name)
                    if _default_changed(item, getattr(method, "__func__", method)):
                        found.append(f"{node.name}.{item.name}()")
                    continue
                if isinstance(item, ast.Assign) and len(item.targets) == 1:
                    target, value = item.targets[0], item.value
                elif isinstance(item, ast.AnnAssign) and item.value is not None:
                    target, value = item.target, item.value
                else:
                    continue
                if not isinstance(target, ast.Name) or target.id not in own:
                    continue
                if _differs(value, own[target.id]):
                    found.append(f"{node.name}.{target.id}")
    return found


def _differs(expr: ast.expr, value: Any) -> bool:
    # Of the same type only: what a class makes of its literals is its own (an Enum's
    # members, a NamedTuple's field descriptors), not a change the run made.
    written = _written_container(expr)
    return written is not _MISSING and type(value) is type(written) and value != written


def _default_changed(node: ast.FunctionDef | ast.AsyncFunctionDef, function: Any) -> bool:
    """Whether a default of ``function`` (made by ``node``) written as a literal holds
    something else now, or the function holds attributes (a ``def`` makes it with none)."""
    if not isinstance(function, types.FunctionType) or function.__code__.co_name != node.name:
        return False  # not made by this def (a decorator's wrapper: its defaults are not these)
    if vars(function):
        return True  # attributes it set on itself (``f.calls = f.calls + 1``), made anew empty
    args = node.args
    pairs: list[tuple[ast.expr, Any]] = list(zip(args.defaults, function.__defaults__ or ()))
    kwdefaults = function.__kwdefaults__ or {}
    pairs += [
        (expr, kwdefaults.get(arg.arg, _MISSING))
        for arg, expr in zip(args.kwonlyargs, args.kw_defaults)
        if expr is not None
    ]
    return any(_differs(expr, value) for expr, value in pairs)


def _is_lru_wrapper(kind: type) -> bool:
    return kind is _LRU_WRAPPER


def cache_states(ns: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The notebook functions in ``ns`` wrapped by ``functools.lru_cache`` (or ``cache``):
    name -> (wrapper, its ``cache_info()``)."""
    found = ((name, ns.get(name)) for name in names_of_kind(ns, _is_lru_wrapper))
    return {
        name: (value, value.cache_info())
        for name, value in found
        if type(value) is _LRU_WRAPPER and wrapped_function(value) is not None
    }


def filled_caches(ns: dict[str, Any], before: dict[str, tuple[Any, Any]]) -> list[str]:
    """The ``lru_cache`` functions of the notebook a run called (their ``cache_info()``
    changed since ``before``; one the cell defined counts once it was called).

    A hit calls nothing, and one defined by the cell is defined again with an empty cache:
    afterwards its contents and counters would differ from a re-run's.
    """
    found = []
    for name, (value, info) in cache_states(ns).items():
        old = before.get(name)
        if old is not None and old[0] is value:
            if info != old[1]:
                found.append(f"{name}()")
        elif info.hits or info.misses:
            found.append(f"{name}()")
    return found


_LRU_WRAPPER = type(functools.lru_cache(maxsize=None)(len))
_MISSING = object()
_CONTAINERS = (
    dict,
    list,
    set,
    collections.deque,
    collections.OrderedDict,
    collections.defaultdict,
    collections.Counter,
)


def _facet_containers() -> tuple[Any, ...]:
    # Changes to these are re-applied by their facets (``sys.path.insert(0, "lib")``,
    # ``plt.rcParams["lines.linewidth"] = 4``: a dict subclass) or made again by the imports
    # a hit runs (``sys.modules``).
    matplotlib = sys.modules.get("matplotlib")
    rc = getattr(matplotlib, "rcParams", None)
    return (sys.path, sys.modules, warnings.filters) + ((rc,) if rc is not None else ())


def _importable(names: list[str]) -> list[str]:
    """Added ``sys.modules`` entries that an ``import`` statement would re-create."""
    found = []
    for name in names:
        module = sys.modules.get(name)
        spec = getattr(module, "__spec__", None)
        if spec is not None and getattr(module, "__name__", None) == name and spec.name == name:
            found.append(name)
    return found


def covariable_checks(
    ns: dict[str, Any],
    groups: list[Any],
    values: dict[str, Any],
    inputs: dict[str, str],
    mutated: Iterable[str] = (),
) -> dict[str, str]:
    """Checks of the variables a hit binds that the cell neither changed nor read.

    A cell that mutates an input is stored with every variable sharing objects with what it
    changed (an older alias must see the mutation), variables it never names included. A hit
    binds them too, which is right only while they are what they were when the cell ran: an
    upstream edit may have rebound one (``panel = {'label': V, 'meta': meta}``) and left the
    cell's inputs as they were. Each is checked before a hit: one that was an input's very
    object (``b = a``, ``a`` mutated) must still be it (``is:a``); one held inside an input
    of its group (``model`` in ``pipe``, ``items`` behind ``append = items.append``) must
    still be held there (``in:pipe``): the input's fingerprint, part of the key, then
    vouches for its content, also when the cell changed it through the input (``pipe.fit``
    fits ``model``); any other must still fingerprint as it did after the run.

    And the converse, for each input ``mutated`` in place: the variables that are it or
    are held inside it must be those that were (``sharers:a``, :func:`_sharers`). A hit
    replaces the input with the stored object; a variable sharing it that the entry does
    not know of (``b = a`` upstream, where the stored run had ``b = list(a)``) would keep
    the old one, where a re-run changes it too.
    """
    checks: dict[str, str] = {}
    for name in mutated:
        if name in inputs and name in ns:
            checks[f"sharers:{name}"] = _sharers(ns, name, values)
    reached: dict[str, set[int]] = {}
    for group in groups:
        for name in group.names:
            if name in values or name in group.live or name not in ns:
                continue
            value = ns[name]
            same = next((i for i in inputs if i in ns and ns[i] is value), None)
            holder = None
            if same is None:
                held_in = (i for i in group.names if i in inputs and i in ns)
                holder = next((i for i in held_in if _holds(ns, i, value, reached)), None)
            if same is not None:
                checks[f"covar:{name}"] = f"is:{same}"
            elif holder is not None:
                checks[f"covar:{name}"] = f"in:{holder}"
            else:
                checks[f"covar:{name}"] = f"fp:{fingerprint_after(value) or ''}"
    return checks


def _sharers(ns: dict[str, Any], name: str, restored: Iterable[str]) -> str:
    """A ``sharers:`` check: the variables that are ``ns[name]`` or are held inside it
    (``b = a``, ``row = grid[0]``, ``idx = df.index``), as ``"b;row|x;y"``, after ``|``
    the names a hit binds (``restored``), which are not asked about. IPython's history
    (``_``, ``_3``, ``Out``) is left out: a hit gives it the restored objects itself. (A
    variable holding the input, ``holder = [a]``, is not looked for: that is a walk of the
    whole namespace.)"""
    skipped = sorted(restored)
    inside = reachable_ids(ns[name])
    inside.add(id(ns[name]))
    found = sorted(
        other
        for other, value in ns.items()
        if id(value) in inside
        and other != name
        and other not in skipped
        and not other.startswith("_")
        and other not in ("In", "Out")
    )
    return f"{';'.join(found)}|{';'.join(skipped)}"


def _sharers_now(ns: dict[str, Any], name: str, recorded: str) -> str | None:
    """What a ``sharers:`` check (:func:`_sharers`) finds now: ``None`` while it holds."""
    if name not in ns:
        return "|"
    _, _, restored = recorded.partition("|")
    try:
        now = _sharers(ns, name, restored.split(";") if restored else ())
    except Exception:  # an object in a state the walk cannot read: the cell runs
        return "|"
    return None if now == recorded else now


def _holds(ns: dict[str, Any], holder: str, value: Any, reached: dict[str, set[int]]) -> bool:
    """Whether ``value`` is reachable from ``ns[holder]``; ``reached`` keeps each holder's
    walk for the other co-variables of the entry."""
    if holder not in reached:
        reached[holder] = reachable_ids(ns[holder])
    return id(value) in reached[holder]


def _stale_covariable(
    ns: dict[str, Any], name: str, recorded: str, reached: dict[str, set[int]]
) -> bool:
    """Whether a ``covar:`` check (:func:`covariable_checks`) no longer holds."""
    if name not in ns:
        return True
    kind, _, what = recorded.partition(":")
    if kind == "is":
        return what not in ns or ns[what] is not ns[name]
    if kind == "in":
        try:
            return what not in ns or not _holds(ns, what, ns[name], reached)
        except Exception:  # an object in a state the walk cannot read: the cell runs
            return True
    return not what or fingerprint_after(ns[name]) != what


def stale_checks(shell: Any, checks: dict[str, str], digests: FileDigests) -> list[Difference]:
    """The recorded checks that no longer hold (empty: the entry may be restored)."""
    facets = [c[6:] for c in checks if c.startswith("state:")]
    now = state_digests(shell, facets) if facets else {}
    found: list[Difference] = []
    if any(c.startswith(WARNED) for c in checks):
        found += [
            Difference(
                "state",
                "warnings",
                "changed",
                None,
                None,
                f"the warning filters treat its {category} {text[:60]!r} otherwise than when it"
                " ran",
            )
            for _component, category, text in stale_warnings(checks)
        ]
    reached: dict[str, set[int]] = {}
    for component, old in checks.items():
        kind, _, name = component.partition(":")
        if kind == "state":
            new = now.get(name)
            if new != old:
                label = FACETS[name].label if name in FACETS else name
                found.append(
                    Difference(
                        "state", name, "changed", old, new, f"{label} differs from when it ran"
                    )
                )
        elif kind in ("read", "wrote"):
            new = digests.digest(Path(name))
            if new != old:
                if kind == "read":
                    message = f"file {name}, which the cell reads, changed"
                else:
                    message = f"file {name}, which the cell writes, changed or was removed"
                if new == "missing" and kind == "read":
                    message = f"file {name}, which the cell reads, no longer exists"
                found.append(Difference("file", name, "changed", old, new, message))
        elif kind == "env":
            if env_value_digest(os.environ.get(name)) != old:
                message = f"environment variable {name}, which the cell reads, changed"
                found.append(Difference("state", name, "changed", old, None, message))
        elif kind == "absent":
            if os.path.lexists(name):
                message = f"{name}, which the cell names and which did not exist, now exists"
                found.append(Difference("file", name, "changed", old, "present", message))
        elif kind == "listed":
            new = listing_digest(name)
            if new != old:
                message = f"folder {name}, which the cell lists, has other files"
                found.append(Difference("file", name, "changed", old, new, message))
        elif kind == "kept" and (old == HELD_UNKNOWN or held_digest(shell.user_ns, name) != old):
            message = (
                f"variable {name}, which the cell reads where its own assignment of it did"
                " not run, is not what it was when the cell ran"
            )
            found.append(Difference("input", name, "changed", old, None, message))
        elif kind == "sharers" and (now_sharing := _sharers_now(shell.user_ns, name, old)):
            then, later = (p.partition("|")[0].replace(";", ", ") for p in (old, now_sharing))
            message = (
                f"the variables sharing objects with {name}, which the cell changes in place,"
                f" are not those of its run (then: {then or 'none'}; now: {later or 'none'}): a"
                " restore would leave them holding the object a re-run changes"
            )
            found.append(Difference("input", name, "changed", old, now_sharing, message))
        elif kind == "covar" and _stale_covariable(shell.user_ns, name, old, reached):
            message = (
                f"variable {name}, stored with what the cell changed (they share objects),"
                " is not what it was when the cell ran"
            )
            found.append(Difference("input", name, "changed", old, None, message))
    return found


def reimport(modules: list[str]) -> str | None:
    """Import again the modules the cell imported; the reason when one cannot be."""
    for name in modules:
        if name in sys.modules:
            continue
        try:
            import_quietly(name)  # a hit shows the recorded output, the import's included
        except Exception as exc:
            return f"module {name} it imported cannot be imported again ({type(exc).__name__})"
    return None


# Facets an ``import`` in the cell may need before its values load (a local module found
# through a ``sys.path`` entry or the working directory the same cell set).
_BEFORE_DEFINITIONS = ("cwd", "sys.path")


def reapply_for_imports(shell: Any, state: dict[str, Any], dirs: list[str]) -> dict[str, Any]:
    """Re-apply the recorded cwd and ``sys.path`` (folders first); snapshots that undo it.

    A hit re-runs the cell's imports before anything else, and they must find what a run
    finds; a restore that fails after this applies the returned snapshots (the cell then
    runs and changes them itself). What cannot be applied here is left to :func:`reapply`.
    """
    names = [n for n in _BEFORE_DEFINITIONS if n in state]
    if not names:
        return {}
    undo = capture_all(shell, names)
    try:
        reapply(shell, {n: state[n] for n in names}, dirs)
    except Exception:
        reapply(shell, undo, [])
        return {}
    return undo


def reapply(shell: Any, state: dict[str, Any], dirs: list[str]) -> None:
    """Put back the global state a run left (RNG, rcParams, options, cwd, ...), and folders."""
    for path in dirs:
        os.makedirs(path, exist_ok=True)
    for name, snapshot in state.items():
        facet = FACETS.get(name)
        if facet is not None and facet.apply is not None:
            facet.apply(shell, snapshot)

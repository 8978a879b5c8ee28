"""Notebook checkpoints: save a kernel's variables, get a restarted kernel back to them.

A checkpoint is a set of entries in a :class:`~persist_ext.storage._protocol.KeyValueStore`::

    checkpoint/<name>/<generation>/var/<variable>   one entry per variable
    checkpoint/<name>/manifest                      written last, names the generation

Because the manifest is written only after every variable, and names the generation it
belongs to, a crash in the middle of :func:`save_checkpoint` leaves the previous checkpoint
intact and loadable. Old generations are deleted after the new manifest is in place.

Functions, classes and instances defined in the notebook itself (module ``__main__``) cannot
be pickled by reference (a new kernel does not have them), so they are pickled by value with
``cloudpickle``; imported modules are recorded by name and imported again on restore.

Checkpoints are pickles: restore only checkpoints you wrote yourself.
"""

from __future__ import annotations

import importlib
import time
import types
import uuid
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from ..storage._protocol import KeyValueStore

__all__ = ["CheckpointReport", "list_checkpoints", "restore_checkpoint", "save_checkpoint"]

# Names IPython puts in every user namespace; they are recreated by the shell itself.
_SHELL_NAMES = frozenset({"In", "Out", "exit", "quit", "get_ipython", "open"})
_BY_VALUE = "cloudpickle"
_DIRECT = "store"


@dataclass
class CheckpointReport:
    """What a save or restore did: variables handled, skipped (with reasons), modules."""

    name: str
    action: str
    variables: list[str] = field(default_factory=list)
    modules: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    created: float | None = None

    def __str__(self) -> str:
        verb = "saved" if self.action == "save" else "restored"
        parts = [f"checkpoint {self.name!r}: {verb} {len(self.variables)} variable(s)"]
        if self.modules:
            parts.append(f"{len(self.modules)} module(s)")
        line = ", ".join(parts) + f" in {self.seconds:.2f}s"
        for var, reason in sorted(self.skipped.items()):
            line += f"\n  skipped {var}: {reason}"
        return line

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def _prefix(name: str) -> str:
    if not name or "/" in name:
        raise ValueError(f"Checkpoint name {name!r} must be non-empty and contain no '/'.")
    return f"checkpoint/{name}/"


def _defined_in_main(value: Any) -> bool:
    """True when pickling ``value`` by reference would fail in a fresh kernel."""
    target = value if isinstance(value, type | types.FunctionType) else type(value)
    return getattr(target, "__module__", None) == "__main__"


def _candidates(
    namespace: Mapping[str, Any], include: Iterable[str] | None, exclude: Iterable[str]
) -> Iterable[tuple[str, Any]]:
    excluded = set(exclude)
    names = list(include) if include is not None else list(namespace)
    for var in names:
        if var.startswith("_") or var in _SHELL_NAMES or var in excluded:
            continue
        if var not in namespace:
            raise KeyError(f"{var!r} is not defined; name variables that exist.")
        yield var, namespace[var]


def save_checkpoint(
    namespace: Mapping[str, Any],
    store: KeyValueStore,
    name: str = "default",
    *,
    include: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
) -> CheckpointReport:
    """Save the variables of ``namespace`` (a kernel's ``user_ns``) as checkpoint ``name``.

    Variables that cannot be stored (open files, locks, generators, ...) are skipped and
    listed with their reason in the report; they never make the save fail.

    Examples
    --------
    >>> from persist_ext.storage._memory import MemoryStore
    >>> store = MemoryStore()
    >>> ns = {"x": 41, "np": __import__("math")}
    >>> print(save_checkpoint(ns, store))  # doctest: +ELLIPSIS
    checkpoint 'default': saved 1 variable(s), 1 module(s) in ...s
    >>> fresh = {}
    >>> _ = restore_checkpoint(fresh, store)
    >>> fresh["x"], fresh["np"].__name__
    (41, 'math')
    """
    start = time.perf_counter()
    prefix = _prefix(name)
    generation = uuid.uuid4().hex[:12]
    report = CheckpointReport(name=name, action="save")
    encodings: dict[str, str] = {}
    for var, value in _candidates(namespace, include, exclude):
        if isinstance(value, types.ModuleType):
            report.modules[var] = value.__name__
            continue
        key = f"{prefix}{generation}/var/{var}"
        try:
            if _defined_in_main(value) or isinstance(value, types.FunctionType):
                import cloudpickle  # only needed for notebook-defined code

                store.set(key, cloudpickle.dumps(value, protocol=5))
                encodings[var] = _BY_VALUE
            else:
                store.set(key, value)
                encodings[var] = _DIRECT
        except Exception as exc:  # any unstorable value is reported, never fatal
            report.skipped[var] = f"{type(exc).__name__}: {exc}"
            continue
        report.variables.append(var)
    report.created = time.time()
    previous = store.get(f"{prefix}manifest", None)
    store.set(
        f"{prefix}manifest",
        {
            "generation": generation,
            "created": report.created,
            "variables": encodings,
            "modules": report.modules,
            "skipped": report.skipped,
        },
    )
    if previous:
        for key in list(store.keys(f"{prefix}{previous['generation']}/")):
            store.delete(key)
    report.seconds = time.perf_counter() - start
    return report


def restore_checkpoint(
    namespace: MutableMapping[str, Any], store: KeyValueStore, name: str = "default"
) -> CheckpointReport:
    """Put checkpoint ``name`` back into ``namespace``.

    Raises ``KeyError`` when there is no such checkpoint. A variable that fails to load
    (a class that no longer exists, a module that is gone) is skipped with its reason.
    """
    start = time.perf_counter()
    prefix = _prefix(name)
    manifest = store.get(f"{prefix}manifest", None)
    if manifest is None:
        known = ", ".join(list_checkpoints(store)) or "none"
        raise KeyError(f"No checkpoint named {name!r} (known: {known}); save one first.")
    report = CheckpointReport(name=name, action="restore", created=manifest["created"])
    for alias, module_name in manifest["modules"].items():
        try:
            namespace[alias] = importlib.import_module(module_name)
            report.modules[alias] = module_name
        except ImportError as exc:
            report.skipped[alias] = f"module {module_name} cannot be imported: {exc}"
    for var, encoding in manifest["variables"].items():
        key = f"{prefix}{manifest['generation']}/var/{var}"
        try:
            value = store.get(key)
            if encoding == _BY_VALUE:
                import cloudpickle

                value = cloudpickle.loads(value)
            namespace[var] = value
        except Exception as exc:  # one broken variable must not block the others
            report.skipped[var] = f"{type(exc).__name__}: {exc}"
            continue
        report.variables.append(var)
    report.seconds = time.perf_counter() - start
    return report


def list_checkpoints(store: KeyValueStore) -> list[str]:
    """Names of the checkpoints in ``store``, sorted."""
    names = {key.split("/")[1] for key in store.keys("checkpoint/") if key.endswith("/manifest")}
    return sorted(names)

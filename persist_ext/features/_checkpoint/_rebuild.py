"""What a checkpoint cannot store is rebuilt by re-running the cells that made it, when safe.

Open files, locks, generators and database connections cannot be pickled. For each such
variable the :class:`CellLog` knows the cells that *made* it: the last cell that bound it
afresh, then every later cell that used it in a way that may change it (``next(gen)``,
``conn.execute(...)``, ``lock.acquire()``), with what each of those cells did outside the
kernel while it ran (files written, removed or created, programs started, network
connections, databases opened: Python's audit events, through the cell cache's
:func:`~persist_ext.features._cellcache._effects.watch_files` plus the few events it does
not watch).

Re-running those cells on restore is **safe** when every one of them

* parses, runs no magic or shell command, no ``exec``/``eval``, deletes nothing and
  declares no ``global``;
* changed nothing outside the kernel when it ran (no file written, removed or created, no
  program, no network connection) and opens no file for writing;
* changes no *restored* variable in place (no ``data.append(...)``, ``df["c"] = ...``); it
  may change the unstorable values it rebuilds (``conn.execute(...)``, ``fh.readline()``);
* reads only what the checkpoint restores, modules, builtins, or what the earlier cells
  of the rebuild make (other unstorable values included, so ``cur = conn.cursor()`` is
  rebuilt after ``conn``).

A connection to a database *file* is rebuilt by reconnecting only: the later cells'
changes are in the file already (replaying them would apply them twice), and a file that
no longer exists is a reason not to reconnect (``connect`` would create an empty one). An
in-memory database is rebuilt by replaying every cell that filled it.

The rebuild runs in the live namespace (so functions it makes read the notebook's globals),
and the other variables those cells bind get their restored values back afterwards. When
any rule fails, the variable is named in the report with the reason.
"""

from __future__ import annotations

import ast
import builtins
import os
import re
from collections.abc import Iterable, Mapping, MutableMapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from ...storage._usercode import IDENTIFIER
from ._tracking import (
    READING_METHODS,
    Mentions,
    bound_names,
    mentions,
    only_read,
    parse_cell,
    touched_names,
)

__all__ = ["CellEffects", "CellLog", "CellRecord", "plan_rebuilds", "run_rebuilds"]

_WRITE_MODES = re.compile(r"[wax+]")
_MAX_CELLS = 20  # cells per variable remembered; a longer history is not replayed
_MAX_PENDING = 10_000  # cells noted and not yet analysed (their text, as IPython's In keeps)
# Audit event names (exact: the hook looks them up in a set).
_PROGRAMS = frozenset(
    {
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
    }
)
_NETWORK = frozenset({"socket.connect", "socket.sendto", "socket.sendmsg", "socket.bind"})
_SIGNALS = frozenset({"os.kill", "os.killpg"})
_DATABASES = frozenset({"sqlite3.connect"})
_MEMORY_DB = ("", ":memory:")


@dataclass
class CellEffects:
    """What one cell did outside the kernel while it ran (seen through audit events)."""

    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    programs: list[str] = field(default_factory=list)
    network: list[str] = field(default_factory=list)
    databases: list[str] = field(default_factory=list)

    def outside(self) -> str | None:
        """Why re-running the cell would change something outside the kernel again."""
        if self.written:
            return f"its cell wrote {self.written[0]}"
        if self.removed:
            return f"its cell removed {self.removed[0]}"
        if self.created:
            return f"its cell created {self.created[0]}"
        if self.programs:
            return f"its cell ran a program ({self.programs[0]})"
        if self.network:
            return f"its cell used the network ({self.network[0]})"
        return None

    def file_databases(self) -> list[str]:
        return [d for d in self.databases if not _in_memory(d)]


def _in_memory(database: str) -> bool:
    return (
        database in _MEMORY_DB or database.startswith("file::memory:") or "mode=memory" in database
    )


class _Events:
    """The audit events :class:`CellEffects` needs beyond files (one hook per process)."""

    def __init__(self) -> None:
        self.active: list[CellEffects] = []
        self.installed = False

    def hook(self, name: str, args: tuple[Any, ...]) -> None:
        if not self.active:
            return
        effects = self.active[-1]
        try:
            if name == "sqlite3.connect":
                database = os.fsdecode(args[0]) if args and args[0] is not None else ""
                if not _in_memory(database):
                    database = os.path.realpath(database)
                effects.databases.append(database)
            elif name in _PROGRAMS or name in _SIGNALS:
                effects.programs.append(name)
            elif name in _NETWORK:
                effects.network.append(name)
        except Exception:  # an odd argument must never disturb the user's cell
            pass


_EVENTS = _Events()


class _Watch:
    """Watching one cell: the cell cache's file watch plus the events above."""

    def __init__(self) -> None:
        from .._cellcache._effects import subscribe, watch_files

        self.effects = CellEffects()
        self._files_cm: AbstractContextManager[Any] = watch_files()
        self._files = self._files_cm.__enter__()
        if not _EVENTS.installed:  # the file watch's one audit hook calls it
            subscribe(_DATABASES | _PROGRAMS | _SIGNALS | _NETWORK, _EVENTS.hook)
            _EVENTS.installed = True
        _EVENTS.active.append(self.effects)

    def stop(self, ignore: tuple[str, ...] = ()) -> CellEffects:
        _EVENTS.active[:] = [e for e in _EVENTS.active if e is not self.effects]
        self._files_cm.__exit__(None, None, None)

        files = self._files
        if not (files.written or files.removed or files.created_dirs):
            return self.effects  # most cells touch no file
        # A temporary file or folder made and removed within the cell leaves nothing behind.
        temporary = (files.written | files.created_dirs) & files.removed

        def outside(paths: set[str]) -> list[str]:
            return sorted(p for p in paths - temporary if not p.startswith(ignore))

        self.effects.written = outside(self._files.written)
        self.effects.removed = outside(self._files.removed)
        self.effects.created = outside(self._files.created_dirs)
        return self.effects


@dataclass
class CellRecord:
    """One executed cell: its code, a sequence number, (when watched) its effects and (when
    its namespace was known) what it mentioned of it then."""

    seq: int
    code: str
    effects: CellEffects | None = None
    mentions: Mentions | None = None
    _tree: Any = None

    def tree(self) -> ast.Module | None:
        if self._tree is None:
            self._tree = parse_cell(self.code) or False
        return self._tree or None


class CellLog:
    """Which cells made each variable, and what each of them did outside the kernel.

    Kept by the shell from the first cell on (``%load_ext persist_ext``) and shared with the
    checkpoint sessions, so a value made before the first checkpoint can still be rebuilt.

    Noting a cell costs a scan of its identifiers (:func:`mentions`); it is parsed and
    analysed only when a checkpoint asks who made an unstorable value (:meth:`cells_of`),
    so a notebook that never checkpoints one never pays for it. The log then holds the
    cells noted since, at most ``_MAX_PENDING``.

    >>> log = CellLog()
    >>> log.note("gen = (x for x in data)", {"data": [1]})
    >>> log.note("next(gen)", {"data": [1], "gen": None})
    >>> [r.code for r in log.cells_of("gen")]
    ['gen = (x for x in data)', 'next(gen)']
    """

    def __init__(self) -> None:
        self.records: dict[int, CellRecord] = {}
        self._makers: dict[str, list[int]] = {}
        self.lost: dict[str, str] = {}
        self._pending: list[CellRecord] = []
        self._dropped = 0  # cells forgotten unanalysed (more than _MAX_PENDING waited)
        self._seq = 0
        self._watch: _Watch | None = None
        self._ignore: tuple[str, ...] = ()
        self.analysed = 0  # cells parsed and analysed so far (tests count them)

    def ignore(self, directory: str | os.PathLike[str]) -> None:
        """Files under ``directory`` (a store) are persist_ext's own, not a cell's effects."""
        path = os.path.realpath(directory) + os.sep
        if path not in self._ignore:
            self._ignore = (*self._ignore, path)

    def start(self) -> None:
        """A cell is about to run: watch what it does outside the kernel."""
        self.stop()
        try:
            self._watch = _Watch()
        except Exception:  # watching is best effort: an unwatched cell is never replayed
            self._watch = None

    def stop(self) -> CellEffects | None:
        """Stop watching (the cell ended, or the extension is unloaded)."""
        watch, self._watch = self._watch, None
        return watch.stop(self._ignore) if watch is not None else None

    def note(self, code: str, namespace: Mapping[str, Any] | None = None) -> None:
        """Record an executed cell (after it ran), with what the watch since :meth:`start` saw."""
        effects = self.stop()
        if not code.strip():
            return
        self._seq += 1
        try:
            seen = mentions(code, namespace) if namespace is not None else None
        except Exception:  # an odd namespace: every identifier of the text counts instead
            seen = None
        self._pending.append(CellRecord(self._seq, code, effects, seen))
        if len(self._pending) > _MAX_PENDING:
            del self._pending[0]
            self._dropped += 1

    def last_mentions(self, code: str) -> Mentions | None:
        """The :class:`Mentions` of the cell just noted, if its code is ``code``."""
        last = self._pending[-1] if self._pending else None
        return last.mentions if last is not None and last.code == code else None

    @property
    def makers(self) -> dict[str, list[int]]:
        """Variable -> the cells that made it (sequence numbers, oldest first)."""
        self._analyse()
        return self._makers

    def cells_of(self, name: str) -> list[CellRecord]:
        """The cells that made ``name``, oldest first (empty when unknown)."""
        return [self.records[s] for s in self.makers.get(name, ()) if s in self.records]

    def why_unknown(self, name: str) -> str:
        self._analyse()
        if name in self.lost:
            return self.lost[name]
        if self._dropped:
            return f"no cell of the last {_MAX_PENDING} made it"
        return "no cell of this session made it"

    def _analyse(self) -> None:
        pending, self._pending = self._pending, []
        for record in pending:
            self._analyse_one(record)

    def _analyse_one(self, record: CellRecord) -> None:
        self.analysed += 1
        code, tree = record.code, record.tree()
        bound = bound_names(code, tree)
        seen = record.mentions
        if seen is not None:
            # Code this cannot see may have changed any variable: every one with makers
            # (the others are not followed anyway).
            touched = touched_names(code, seen, lambda: set(self._makers), tree)
            if tree is not None:
                touched -= _only_iterated(tree, touched - bound, seen)
        else:
            touched = set(IDENTIFIER.findall(code))
        loads = _loads(tree) if tree is not None else set(touched)
        used = False
        for name in bound | touched:
            if name in bound and _made_afresh(tree, name, loads):
                self._makers[name] = [record.seq]  # made afresh by this cell
                self.lost.pop(name, None)
            elif name in self._makers:
                self._makers[name].append(record.seq)
                if len(self._makers[name]) > _MAX_CELLS:
                    del self._makers[name]
                    self.lost[name] = f"more than {_MAX_CELLS} cells changed it"
                    continue
            else:
                continue
            used = True
        if used:
            self.records[record.seq] = record
        if len(self.records) > 4 * _MAX_CELLS + 2 * len(self._makers):
            keep = {s for seqs in self._makers.values() for s in seqs}
            self.records = {s: r for s, r in self.records.items() if s in keep}


def _only_iterated(tree: ast.AST, names: set[str], seen: Mentions) -> set[str]:
    """Names among ``names`` the cell only reads or loops over, holding a container whose
    iteration changes nothing (a list, a dict, an array; not an iterator or a generator)."""
    candidates = names & seen.containers
    if not candidates:
        return set()
    parents = {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = set()
    for name in candidates:
        uses = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == name]
        if uses and all(_iterated(n, parents) or only_read(n, parents, seen.names) for n in uses):
            found.add(name)
    return found


def _iterated(node: ast.Name, parents: dict[int, ast.AST]) -> bool:
    parent = parents.get(id(node))
    return isinstance(parent, ast.comprehension | ast.For) and parent.iter is node


def _made_afresh(tree: ast.AST | None, name: str, loads: set[str]) -> bool:
    """Whether the cell binds ``name`` before reading it (so its old value does not matter)."""
    if name not in loads:
        return True
    if not isinstance(tree, ast.Module):
        return False
    for statement in tree.body:
        if name in _loads(statement):
            return False
        if name in bound_names("", statement):
            return True
    return False


def _loads(tree: ast.AST) -> set[str]:
    """Names a cell reads (``x += 1`` reads ``x`` too)."""
    names = {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def _read_only_open(call: ast.Call) -> bool:
    mode: ast.expr | None = call.args[1] if len(call.args) > 1 else None
    for keyword in call.keywords:
        if keyword.arg == "mode":
            mode = keyword.value
    if mode is None:
        return True
    return (
        isinstance(mode, ast.Constant)
        and isinstance(mode.value, str)
        and not _WRITE_MODES.search(mode.value)
    )


def _base_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


_SCOPES = (ast.comprehension, ast.Lambda, ast.FunctionDef, ast.AsyncFunctionDef)


def _locals(tree: ast.AST) -> set[str]:
    local: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(
            node, ast.comprehension | ast.Lambda | ast.FunctionDef | ast.AsyncFunctionDef
        ):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    local.add(sub.id)
                elif isinstance(sub, ast.arg):
                    local.add(sub.arg)
    return local


def cell_refusal(
    record: CellRecord,
    targets: Iterable[str],
    available: Iterable[str],
    modules: Iterable[str] = (),
) -> str | None:
    """Why re-running this cell to rebuild ``targets`` is not safe (``None``: it is safe).

    ``available``: what the rebuild can read; ``modules``: module aliases among them (their
    functions are called, never changed).
    """
    tree = record.tree()
    if tree is None:
        return "its cell does not parse as Python"
    wanted = set(targets)
    have = set(available) | set(dir(builtins))
    local = _locals(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Delete | ast.Global | ast.Nonlocal):
            return "its cell deletes variables or declares globals"
        if isinstance(node, ast.Name) and node.id == "get_ipython":
            return "its cell runs a magic or shell command"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in ("exec", "eval", "execfile"):
                return f"its cell calls {node.func.id}()"
            if node.func.id == "open" and not _read_only_open(node):
                return "its cell calls open() in a way that may write"
        target: str | None = None
        if isinstance(node, ast.Attribute | ast.Subscript) and isinstance(node.ctx, ast.Store):
            target = _base_name(node)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr not in READING_METHODS
        ):
            target = _base_name(node.func.value)
            if target is not None and target not in have:
                target = None  # a module or builtin name read below, not restored data
        if target is not None and target not in wanted and target not in local:
            data = have - set(dir(builtins)) - set(modules)
            if target in data and not _is_module_name(target, tree):
                return f"its cell may change {target} in place"
    if record.effects is not None:
        outside = record.effects.outside()
        if outside:
            return outside
        for database in record.effects.file_databases():
            if not os.path.exists(database):
                return f"its cell connected to {database}, which no longer exists"
    missing = _loads(tree) - have - bound_names(record.code, tree) - local
    if missing:
        return f"its cell reads {', '.join(sorted(missing))}, which the checkpoint lacks"
    return None


def _is_module_name(name: str, tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.alias) and (node.asname or node.name).split(".")[0] == name:
            return True
    return False


def plan_rebuilds(
    log: CellLog, unstorable: Iterable[str], available: Iterable[str], modules: Iterable[str]
) -> tuple[dict[str, list[list[Any]]], dict[str, str]]:
    """For each unstorable variable: the cells that rebuild it, or why they may not run.

    Returns ``(recipes, refusals)``: ``recipes[name]`` is ``[[seq, code], ...]`` (oldest
    first), ``refusals[name]`` the reason. ``available`` are the variables the checkpoint
    restores, ``modules`` the module aliases it imports again.
    """
    pending = sorted(set(unstorable))
    ready: dict[str, list[CellRecord]] = {}
    refusals: dict[str, str] = {}
    base = set(available) | set(modules)
    progress = True
    while progress and pending:
        progress = False
        for name in list(pending):
            cells = log.cells_of(name)
            if not cells:
                refusals[name] = log.why_unknown(name)
                pending.remove(name)
                continue
            why = _plan_refusal(
                log, cells, name, set(pending) | set(ready), base | set(ready), set(modules)
            )
            if why is None:
                ready[name] = _replayed(cells)
                refusals.pop(name, None)
                pending.remove(name)
                progress = True
            else:
                refusals[name] = why
    recipes = {n: [[c.seq, c.code] for c in cells] for n, cells in ready.items()}
    return recipes, refusals


def _replayed(cells: list[CellRecord]) -> list[CellRecord]:
    # A database file keeps what later cells did to it: reconnecting is the whole rebuild.
    first = cells[0]
    if first.effects is not None and first.effects.file_databases():
        return [first]
    return cells


def _plan_refusal(
    log: CellLog,
    cells: list[CellRecord],
    name: str,
    unstorable: set[str],
    available: set[str],
    modules: set[str],
) -> str | None:
    have = set(available)
    made: set[str] = set()
    for record in _replayed(cells):
        why = cell_refusal(record, unstorable | {name}, have, modules)
        if why is not None:
            return why
        # Re-run now, the cell reads the restored (latest) values: an input changed after
        # it ran would make something else than the cell made then.
        tree = record.tree()
        reads = _loads(tree) if tree is not None else set()
        for read in sorted(reads - made - modules - unstorable - {name}):
            if any(seq > record.seq for seq in log.makers.get(read, ())):
                return f"its cell read {read}, which a later cell changed"
        made |= bound_names(record.code, tree)
        have |= made
    return None


def run_rebuilds(
    namespace: MutableMapping[str, Any], recipes: Mapping[str, Any], wanted: Iterable[str]
) -> tuple[list[str], dict[str, str]]:
    """Re-run the cells that rebuild ``wanted`` (in their original order) in ``namespace``.

    Other variables those cells bind get their values from before the rebuild back.
    Returns the rebuilt names and, for the others, why the rebuild failed.
    """
    wanted = [n for n in wanted if n in recipes]
    cells: dict[int, str] = {}
    for name in wanted:
        for seq, code in _as_cells(recipes[name]):
            cells[seq] = code
    if not cells:
        return [], {}
    bound: set[str] = set()
    for code in cells.values():
        bound |= bound_names(code)
    keep = set(wanted)
    before = {n: namespace[n] for n in bound - keep if n in namespace}
    try:
        for seq in sorted(cells):
            compiled = compile(cells[seq], f"<rebuild cell {seq}>", "exec")
            exec(compiled, namespace)  # type: ignore[arg-type]  # the notebook's own globals
        failure = None
    except Exception as exc:
        failure = f"re-running its cells failed: {type(exc).__name__}: {exc}"
    for name in bound - keep:
        if name in before:
            namespace[name] = before[name]
        else:
            namespace.pop(name, None)
    if failure is not None:
        return [], dict.fromkeys(wanted, failure)
    rebuilt = [n for n in wanted if n in namespace]
    return rebuilt, {n: "its cells did not make it again" for n in wanted if n not in namespace}


def _as_cells(recipe: Any) -> list[tuple[int, str]]:
    """A recipe as ``[(seq, code)]`` (states of an earlier format hold one code string)."""
    if isinstance(recipe, str):
        return [(0, recipe)]
    return [(int(seq), str(code)) for seq, code in recipe]

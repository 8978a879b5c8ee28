"""``persist_ext.trust(path)``: vouch for a store or folder, re-signing it with this secret.

Entries are verified with the secret of the machine (``_trust.py``); a store written by a
colleague, on another machine, before a secret rotation or by a persist_ext older than
signing is refused until the user vouches for it — like ``jupyter trust`` for notebooks.
Trusting re-signs, it never decodes: checksums are checked (a damaged entry is reported,
not signed), rows that point outside the store are reported and left alone, and files that
persist_ext did not write are not touched.
"""

from __future__ import annotations

import contextlib
import dbm
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import CorruptEntryError, InvalidArgumentError, InvalidPickle, StoreError
from ._atomic import atomic_write
from ._entry import MAGIC, is_record, resign, resign_pickle
from ._layout import INDEX_FILE, INDEX_FILES

__all__ = ["TrustReport", "trust"]

_STORE_FILES = INDEX_FILES


@dataclass(repr=False)
class TrustReport:
    """What :func:`trust` did: counts of entries signed now and already trusted, and the
    entries it refused to sign (damaged, or pointing outside the store)."""

    path: str
    signed: int = 0
    already: int = 0
    corrupt: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"<TrustReport {self}>"

    def __str__(self) -> str:
        text = f"{self.path}: {self.signed} entries signed, {self.already} already trusted"
        if self.corrupt:
            text += f"; {len(self.corrupt)} damaged, not signed: {', '.join(self.corrupt[:5])}"
        if self.refused:
            text += f"; {len(self.refused)} refused: {', '.join(self.refused[:5])}"
        return text


def trust(path: str | os.PathLike[str] | Any, *, pickles: bool = False) -> TrustReport:
    """Vouch for the store, stash or workflow folder at ``path``: re-sign what it holds.

    ``path`` is a store directory (``cache.db``), any folder holding persist_ext files
    (stashes, PersistedWork files, workflow storages; searched recursively, links never
    followed), one such file, a ``ShelveStash`` database path, or a ``RedisStore``.
    Only do this for data whose origin you trust: signing a planted pickle lets it run.

    With ``pickles=True`` bare pickle files are adopted too (wrapped as signed entries,
    still without being decoded): how a ``DirectoryStash`` or ``PersistedWork`` folder written
    by the original zensols.persist becomes readable. Without it they are left alone.

    Returns
    -------
    TrustReport
        Counts, plus the entries left unsigned (damaged, or rows naming files outside).

    Raises
    ------
    StoreError
        Nothing persist_ext wrote is at ``path``.

    Examples
    --------
    >>> import tempfile, persist_ext
    >>> folder = tempfile.mkdtemp()
    >>> with persist_ext.Store(folder) as store:
    ...     _ = store.set("x", 1)
    >>> print(persist_ext.trust(folder))  # doctest: +ELLIPSIS
    /...: 0 entries signed, 1 already trusted
    """
    if hasattr(path, "resign") and not isinstance(path, (str, os.PathLike)):
        report = TrustReport(repr(path))
        _absorb(report, path.resign())
        return report
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidArgumentError(
            f"trust() takes the path of a store, stash or workflow folder, a file persist_ext "
            f"wrote, or a RedisStore; not {type(path).__name__} {path!r}"
        )
    target = Path(path).expanduser().absolute()
    report = TrustReport(str(target))
    if target.is_dir():
        found = _trust_tree(target, report, pickles=pickles)
    elif target.is_file() and not target.is_symlink():
        found = _trust_file(target, report, explicit=True, pickles=pickles)
    else:
        found = _trust_shelf(target, report, explicit=True)
    if not found:
        raise StoreError(
            f"Nothing persist_ext wrote is at {target}: give a store directory, a stash or "
            "workflow folder, a file persist_ext wrote, or a ShelveStash path."
        )
    return report


def _absorb(report: TrustReport, result: tuple[int, int, list[str], list[str]]) -> None:
    signed, already, corrupt, refused = result
    report.signed += signed
    report.already += already
    report.corrupt += corrupt
    report.refused += refused


def _trust_tree(root: Path, report: TrustReport, *, pickles: bool) -> bool:
    found = False
    for folder, dirs, files in os.walk(root, followlinks=False):
        here = Path(folder)
        if INDEX_FILE in files and not (here / INDEX_FILE).is_symlink():
            from ._store import Store

            with Store(here) as store:
                _absorb(report, store.resign())
            found = True
            dirs[:] = [d for d in dirs if d != "blobs"]
            files = [f for f in files if f not in _STORE_FILES]
        for name in files:
            path = here / name
            if path.is_symlink():
                continue
            if _trust_file(path, report, explicit=False, pickles=pickles):
                found = True
    return found


def _trust_file(path: Path, report: TrustReport, *, explicit: bool, pickles: bool) -> bool:
    try:
        with open(path, "rb") as handle:
            start = handle.read(32)
            if pickles and _is_bare_pickle(start):
                atomic_write(path, resign_pickle(path.name, start + handle.read()))
                report.signed += 1
                return True
            if not is_record(start):
                return _trust_shelf(path, report, explicit=explicit)
            data = start + handle.read()
    except OSError:
        return False
    try:
        new = resign(path.name, data)  # a file is signed for its name
    except InvalidPickle:
        report.corrupt.append(str(path))
        return True
    except CorruptEntryError:
        report.refused.append(str(path))
        return True
    if new is None:
        report.already += 1
    else:
        atomic_write(path, new)
        report.signed += 1
    return True


def _is_bare_pickle(start: bytes) -> bool:
    """A pickle of protocol 2 or later starts with PROTO (0x80) and its protocol number."""
    return len(start) >= 2 and start[0] == 0x80 and 2 <= start[1] <= 5


def _trust_shelf(path: Path, report: TrustReport, *, explicit: bool) -> bool:
    """Re-sign a shelve database's values (bare pickles of older versions only when the
    user named the shelf itself: a folder walk never rewrites another program's database)."""
    name = str(path)
    for suffix in (".db", ".dat", ".dir", ".bak", ".pag"):
        if name.endswith(suffix) and dbm.whichdb(name[: -len(suffix)]):
            name = name[: -len(suffix)]
            break
    kind = dbm.whichdb(name)
    if not kind or (Path(name).name in _STORE_FILES):
        return False
    try:
        db = dbm.open(name, "w")  # noqa: SIM115 - closed by contextlib.closing below
    except Exception:  # not a database after all (whichdb only looked at its first bytes)
        return False
    found = False
    with contextlib.closing(db):
        for raw_key in list(db.keys()):
            key = (
                raw_key if isinstance(raw_key, str) else raw_key.decode("utf-8", "surrogateescape")
            )
            value = db[raw_key]
            try:
                if value.startswith(MAGIC) or is_record(value):
                    new = resign(key, value)
                elif explicit:
                    new = resign_pickle(key, value)
                else:
                    continue
            except InvalidPickle:
                report.corrupt.append(f"{name}:{key}")
                found = True
                continue
            except CorruptEntryError:
                report.refused.append(f"{name}:{key}")
                continue
            found = True
            if new is None:
                report.already += 1
            else:
                db[raw_key] = new
                report.signed += 1
    return found or explicit

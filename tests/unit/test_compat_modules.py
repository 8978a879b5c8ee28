"""Each original system's API has one public module: its ``__all__`` is exactly its names.

A user of an original changes an import line (``zensols.persist`` -> ``persist_ext.stash``,
``tastypy`` -> ``persist_ext.pod``, furious -> ``persist_ext.markers``, triggers ->
``persist_ext.sessions``, functionfuse -> ``persist_ext.workflow`` / ``persist_ext.serializers``).
"""

from __future__ import annotations

import importlib
import types

import pytest

MODULES = ["stash", "pod", "markers", "sessions", "workflow", "serializers"]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_exactly_the_public_names(name: str) -> None:
    module = importlib.import_module(f"persist_ext.{name}")
    public = {
        key
        for key, value in vars(module).items()
        if not key.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(module.__all__) == public
    for key in module.__all__:
        assert getattr(module, key).__doc__, f"persist_ext.{name}.{key} has no docstring"


def test_seed_names_are_where_their_users_look() -> None:
    from persist_ext.markers import marker_get, marker_persist, reached_by_another_request
    from persist_ext.pod import POD, DuplicateKeyError, Tracker
    from persist_ext.serializers import DaskArraySerializer
    from persist_ext.sessions import SessionBackend, TaskConfig, TaskInstance
    from persist_ext.stash import DirectoryStash, LRUCacheStash, PersistedWork, persisted
    from persist_ext.workflow import LocalWorkflow, storage_factory, workflow

    found = [marker_get, marker_persist, reached_by_another_request, POD, DuplicateKeyError]
    found += [Tracker, DaskArraySerializer, SessionBackend, TaskConfig, TaskInstance]
    found += [DirectoryStash, LRUCacheStash, PersistedWork, persisted]
    found += [LocalWorkflow, storage_factory, workflow]
    assert all(callable(thing) for thing in found)


def test_zensols_persist_error_is_imported_from_the_stash_module() -> None:
    # zensols.persist exports PersistableError beside its stashes (its own tests import
    # ``from zensols.persist import PersistableError, ...``): the changed import must work
    from persist_ext import PersistableError as top
    from persist_ext.stash import PersistableError

    assert PersistableError is top
    assert "PersistableError" in importlib.import_module("persist_ext.stash").__all__

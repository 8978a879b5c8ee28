"""Session storage (the 002 seed): tasks, instances, metadata, custom backends."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pytest

from persist_ext._errors import TaskError
from persist_ext.features._tasks import (
    SessionBackend,
    StoreSessionBackend,
    TaskConfig,
    TaskInstance,
    TaskStatus,
    open_session,
    session_backend,
)
from persist_ext.storage._memory import MemoryStore
from persist_ext.storage._store import Store


@pytest.fixture
def session() -> StoreSessionBackend:
    return StoreSessionBackend("s", MemoryStore())


def test_create_instance_names_and_forces_unstarted(session: StoreSessionBackend) -> None:
    config = session.add_task("t_import")
    first = session.create_instance(config, kwargs={"path": "a"})
    second = session.create_instance("t_import")
    assert (first.name, second.name) == ("t_import#0", "t_import#1")
    assert first.status is TaskStatus.UNSTARTED
    assert session["t_import#0"] is first
    assert {i.name for i in session} == {"t_import#0", "t_import#1"}
    with pytest.raises(TaskError, match="unknown or fixed fields"):
        session.create_instance(config, status="finished")
    with pytest.raises(TaskError, match="No task 'missing'"):
        session.create_instance("missing")
    with pytest.raises(KeyError, match="instance names look like"):
        session["t_import#9"]


def test_clone_copies_kwargs_and_records_parent(session: StoreSessionBackend) -> None:
    session.add_task("t")
    original = session.create_instance("t", kwargs={"items": [1, 2]}, metadata={"depth": 0})
    clone = session.clone_instance(original)
    assert clone.name == "t#1"
    assert clone.metadata == {"parent": "t#0", "depth": 1}
    clone.kwargs["items"].append(3)  # the seed's original shared the dict: must not here
    assert original.kwargs == {"items": [1, 2]}
    grandchild = session.clone_instance("t#1")
    assert grandchild.metadata == {"parent": "t#1", "depth": 2}
    assert [i.name for i in session.instances_of_task("t")] == ["t#0", "t#1", "t#2"]


def test_instances_answer_the_triggers_properties(session: StoreSessionBackend) -> None:
    # triggers' TaskInstance: depth (its runners pass it on as the retry count),
    # is_resolved and logs_resolved
    session.add_task("t")
    first = session.create_instance("t")  # no depth recorded: 0, as in triggers
    assert first.depth == 0
    assert session.clone_instance(session.clone_instance(first)).depth == 2
    assert not first.is_resolved
    assert first.logs_resolved
    first.status = TaskStatus.FAILED
    first.logs.append({"level": "error", "message": "boom", "resolved": False})
    assert not first.logs_resolved
    first.resolve_logs()
    first.status = TaskStatus.REPLAYED
    assert first.is_resolved
    assert first.logs_resolved


def test_unresolved_queries(session: StoreSessionBackend) -> None:
    for name in ("a", "b", "c", "never"):
        session.add_task(name)
    a, b, c = (session.create_instance(n) for n in "abc")
    a.status = TaskStatus.FINISHED
    b.status = TaskStatus.FAILED
    b.logs.append({"level": "error", "message": "boom", "resolved": False})
    c.status = TaskStatus.SKIPPED
    assert {i.name for i in session.get_unresolved_instances()} == {"b#0"}
    assert {t.name for t in session.get_unresolved_tasks()} == {"b", "never"}
    assert [i.name for i in session.get_instances_with_unresolved_logs()] == ["b#0"]
    b.resolve_logs()
    assert session.get_instances_with_unresolved_logs() == []


def test_store_backend_round_trips_datetimes(tmp_path: Path) -> None:
    store = Store(tmp_path)
    session = StoreSessionBackend("dates", store)
    when = dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.timezone.utc)
    session.add_task("t", description="fit()")
    session.create_instance("t", kwargs={"at": when}, metadata={"day": when.date()})
    session.metadata["started"] = when
    session.save()
    store.close()

    again = StoreSessionBackend("dates", Store(tmp_path))
    assert again.metadata["started"] == when
    assert again["t#0"].kwargs["at"] == when
    assert again["t#0"].metadata["day"] == when.date()
    assert again.tasks["t"].description == "fit()"
    assert again.tasks["t"].instances == 1


def test_uid_and_backend_names_are_checked() -> None:
    with pytest.raises(TaskError, match="without '/'"):
        StoreSessionBackend("a/b", MemoryStore())
    with pytest.raises(TaskError, match=r"Unknown session backend .nope.*store"):
        open_session("x", "nope")
    assert session_backend("store") is StoreSessionBackend


class JsonFileBackend(SessionBackend):
    """A custom backend as the seed describes: whole-session load and save, JSON on disk."""

    def __init__(self, uid: str, directory: str) -> None:
        super().__init__(uid)
        self.path = Path(directory) / f"{uid}.json"

    def _load_from_backend(self):  # type: ignore[no-untyped-def]
        if not self.path.exists():
            return {}, {}, {}
        data = self._deserialize(json.loads(self.path.read_text()))
        return data["configs"], data["instances"], data["metadata"]

    def _save(self) -> None:
        data = {
            "configs": dict(self._configs),
            "instances": dict(self._instances),
            "metadata": self._metas,
        }
        serial = {
            "configs": {k: self._serialize(v) for k, v in data["configs"].items()},
            "instances": {k: self._serialize(v) for k, v in data["instances"].items()},
            "metadata": self._serialize(data["metadata"]),
        }
        self.path.write_text(json.dumps(serial))


@pytest.fixture
def registered_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Register JsonFileBackend through real entry-point metadata on sys.path."""
    site = tmp_path / "site"
    dist = site / "persist_ext_test_backend-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: persist-ext-test-backend\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text(
        f"[persist_ext.session_backends]\njsonfile = {__name__}:JsonFileBackend\n"
    )
    monkeypatch.syspath_prepend(str(site))
    assert __name__ in sys.modules
    return "jsonfile"


def test_custom_backend_selected_by_entry_point_name(
    registered_backend: str, tmp_path: Path
) -> None:
    when = dt.datetime(2023, 1, 2, 3, 4, 5)
    session = open_session("run1", registered_backend, directory=str(tmp_path))
    assert isinstance(session, JsonFileBackend)
    session.add_task(TaskConfig("t_a"))
    first = session.create_instance("t_a", kwargs={"n": 1})
    first.status = TaskStatus.FAILED
    session.clone_instance(first)
    session.metadata["when"] = when
    session.save()

    again = open_session("run1", registered_backend, directory=str(tmp_path))
    assert again.metadata["when"] == when
    assert isinstance(again["t_a#0"], TaskInstance)
    assert again["t_a#0"].status is TaskStatus.FAILED
    assert again["t_a#1"].metadata == {"parent": "t_a#0", "depth": 1}
    assert [t.name for t in again.get_unresolved_tasks()] == ["t_a"]


def test_backend_without_methods_says_what_to_implement() -> None:
    class Bare(SessionBackend):
        pass

    with pytest.raises(TaskError, match="must implement _load_from_backend"):
        Bare("x").tasks


class SeedRecipeBackend(SessionBackend):
    """The triggers seed's recipe, verbatim in spirit: ``self._serialize(self._configs)``."""

    directory = ""

    def __init__(self, uid: str) -> None:  # the seed constructs backends with the uid only
        super().__init__(uid)
        self.path = Path(self.directory) / f"{uid}.json"

    def _load_from_backend(self):  # type: ignore[no-untyped-def]
        if not self.path.exists():
            return {}, {}, {}
        data = json.loads(self.path.read_text())
        return (
            self._deserialize(data["configs"]),
            self._deserialize(data["instances"]),
            self._deserialize(data["metas"]),
        )

    def _save(self) -> None:
        self.path.write_text(
            json.dumps(
                {
                    "configs": self._serialize(self._configs),
                    "instances": self._serialize(self._instances),
                    "metas": self._serialize(self._metas),
                }
            )
        )


@pytest.fixture
def seed_group_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> type[SeedRecipeBackend]:
    """Register SeedRecipeBackend under the seed's own entry-point group."""
    site = tmp_path / "site"
    dist = site / "persist_ext_seed_backend-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: persist-ext-seed-backend\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text(
        f"[triggers.storage_backends]\ncustom_storage = {__name__}:SeedRecipeBackend\n"
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(SeedRecipeBackend, "directory", str(tmp_path))
    return SeedRecipeBackend


def test_seed_recipe_serializes_whole_dicts(seed_group_backend: type[SeedRecipeBackend]) -> None:
    when = dt.datetime(2023, 1, 2, 3, 4, 5)
    session = seed_group_backend("s1")
    session.add_task(TaskConfig("t_importSubject"))
    session.create_instance("t_importSubject", kwargs={"n": (1, 2)})
    session.metadata["when"] = when
    session.save()
    again = seed_group_backend("s1")
    assert again["t_importSubject#0"].kwargs == {"n": (1, 2)}
    assert again.tasks["t_importSubject"].instances == 1
    assert again.metadata["when"] == when
    assert session_backend("custom_storage") is seed_group_backend  # the seed's group


def test_task_group_writes_through_a_custom_backend(
    seed_group_backend: type[SeedRecipeBackend], tmp_path: Path
) -> None:
    from _task_funcs import fail, square

    from persist_ext.features._tasks import TaskGroup

    group = TaskGroup("g", Store(tmp_path / "a"), session="custom_storage")
    group.map(square, range(4), key=str)
    group.submit(fail, 1, key="bad")
    group.run().wait()
    group.close()
    saved = seed_group_backend("g")  # what the backend holds, read back on its own
    assert saved["2#0"].status is TaskStatus.FINISHED
    assert saved["bad#0"].status is TaskStatus.FAILED
    assert "bad input 1" in saved["bad#0"].error
    assert [t.name for t in saved.get_unresolved_tasks()] == ["bad"]

    # A fresh store resumes from the backend: finished tasks do not run again (their
    # results stay in the store that computed them: a session holds records only).
    ran: list[int] = []

    def tracked(x: int) -> int:
        ran.append(x)
        return x * x

    resumed = TaskGroup("g", Store(tmp_path / "b"), session=seed_group_backend("g"))
    resumed.map(tracked, range(4), key=str)
    resumed.submit(fail, 1, key="bad")
    result = resumed.run().wait()
    resumed.close()
    assert ran == []
    assert set(result.results) == {"0", "1", "2", "3"}
    assert result.failures["bad"].tries == 1


def test_bad_session_argument() -> None:
    from persist_ext.features._tasks import TaskGroup

    with pytest.raises(TaskError, match="session must be a SessionBackend"):
        TaskGroup("g", MemoryStore(), session=42)  # type: ignore[arg-type]

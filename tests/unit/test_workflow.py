"""storage_factory and the workflow storage API, on every built-in kind."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import numpy as np
import pytest

from persist_ext._errors import InvalidPickle, SerializationError
from persist_ext.features._workflow import (
    DiskCacheStorage,
    FileStorage,
    MemoryStorage,
    RedisStorage,
    storage_factory,
)

KINDS = ["memory", "file", "diskcache", "redis"]


@pytest.fixture(params=KINDS)
def storage(request: pytest.FixtureRequest, tmp_path: Path):
    kind = request.param
    if kind == "redis":
        url = request.getfixturevalue("redis_server")
        options = {"url": url, "namespace": f"wf{uuid.uuid4().hex[:10]}"}
    elif kind == "memory":
        options = {}
    else:
        options = {"path": str(tmp_path / "storage")}
    made = storage_factory({"kind": kind, "options": options})
    yield made
    if hasattr(made, "close"):
        for name in made.list_workflows():
            made.remove_workflow(name)
        made.close()


class ArraySideSerializer:
    """A persistent serializer keeping numpy arrays as raw side files."""

    serializer_class = np.ndarray
    name = "test-array"
    removed: list[str] = []

    @classmethod
    def pickle(cls, obj, protocols):
        files = protocols["FILE_PROTOCOL"]
        pid = files.new_name("array")
        with files.open(pid, "wb") as handle:
            np.save(handle, obj, allow_pickle=False)
        return cls.name, pid

    @classmethod
    def unpickle(cls, pid, protocols):
        with protocols["FILE_PROTOCOL"].open(pid, "rb") as handle:
            return np.load(handle, allow_pickle=False)

    @classmethod
    def remove(cls, pid, protocols):
        cls.removed.append(pid)
        protocols["FILE_PROTOCOL"].remove(pid)


def test_factory_kinds_and_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert isinstance(storage_factory({"kind": "memory"}), MemoryStorage)
    assert isinstance(storage_factory({"kind": "file", "options": {"path": "s"}}), FileStorage)
    default = storage_factory({})
    assert isinstance(default, DiskCacheStorage)
    default.close()
    again = storage_factory()
    assert isinstance(again, DiskCacheStorage)
    again.close()


def test_factory_unknown_kind_lists_known() -> None:
    with pytest.raises(ValueError, match="known kinds: S3, diskcache, file, memory, redis, s3"):
        storage_factory({"kind": "S4"})


def test_factory_bad_options_and_keys() -> None:
    with pytest.raises(TypeError, match="'memory' rejected its options"):
        storage_factory({"kind": "memory", "options": {"path": "x"}})
    with pytest.raises(ValueError, match="not understood"):
        storage_factory({"kind": "memory", "option": {}})
    with pytest.raises(TypeError, match="must be a dict"):
        storage_factory({"kind": "memory", "options": ["x"]})


def test_factory_entry_point_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    from persist_ext.features._workflow import _storages as _workflow

    ep = importlib.metadata.EntryPoint(
        name="custom", value="persist_ext.features._workflow:MemoryStorage", group="x"
    )
    monkeypatch.setattr(_workflow, "_entry_points", lambda: {"custom": ep})
    assert isinstance(storage_factory({"kind": "custom"}), MemoryStorage)
    with pytest.raises(ValueError, match="custom, diskcache"):
        storage_factory({"kind": "nope"})


def test_save_read_list_remove(storage) -> None:
    assert storage.list_tasks("operations") == []
    storage.new_workflow("operations")
    assert "operations" in storage.list_workflows()
    storage.save("operations", "node2", {"answer": 42})
    storage.save("operations", "node1", [1, 2, 3])
    storage.save("operations", "other", None)
    assert storage.read_task("operations", "node2") == {"answer": 42}
    assert storage.read_task("operations", "other") is None
    assert storage.list_tasks("operations") == ["node1", "node2", "other"]
    assert storage.list_tasks("operations", pattern="node*") == ["node1", "node2"]
    storage.save("operations", "node1", "replaced")
    assert storage.read_task("operations", "node1") == "replaced"
    assert storage.remove_task("operations", pattern="node*") == ["node1", "node2"]
    assert storage.list_tasks("operations") == ["other"]
    assert storage.remove_task("operations", task_name="other") == ["other"]
    with pytest.raises(FileNotFoundError, match="node2"):
        storage.read_task("operations", "node2")
    with pytest.raises(FileNotFoundError):
        storage.remove_task("operations", task_name="node2")
    with pytest.raises(ValueError, match="exactly one"):
        storage.remove_task("operations")
    storage.save("operations", "x", 1)
    storage.remove_workflow("operations")
    assert storage.list_tasks("operations") == []
    storage.remove_workflow("never-existed")


def test_unsafe_names_are_escaped_and_kept(storage) -> None:
    names = ["fit.<locals>.inner", "../../etc/passwd", "a/b", ".hidden", "100%", "ünï"]
    for name in names:
        storage.save("../wf/x", name, name)
    assert storage.list_tasks("../wf/x") == sorted(names)
    for name in names:
        assert storage.read_task("../wf/x", name) == name
    with pytest.raises(ValueError, match="non-empty"):
        storage.save("wf", "", 1)


def test_file_layout_stays_inside_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    storage = FileStorage(root)
    storage.save("../escape", "../../x", 1)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files
    assert all(root in p.parents for p in files)
    storage.save("wf", "task", 1)
    assert (root / "wf" / "task").is_file()  # the seed's <path>/<workflow>/<task>


def test_unpicklable_result_keeps_old_one(storage) -> None:
    storage.save("wf", "t", "old")
    with pytest.raises(SerializationError, match="lock"):
        storage.save("wf", "t", {"bad": threading.Lock()})
    assert storage.read_task("wf", "t") == "old"


def test_corrupted_file_raises_invalid_pickle(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path)
    storage.save("wf", "t", list(range(100)))
    path = tmp_path / "wf" / "t"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(InvalidPickle, match="checksum") as info:
        storage.read_task("wf", "t")
    assert isinstance(info.value, ValueError)
    path.write_bytes(b"garbage")
    with pytest.raises(InvalidPickle):
        storage.read_task("wf", "t")
    assert storage.remove_task("wf", task_name="t") == ["t"]  # a damaged result can go


def test_corrupted_entry_in_memory_and_kv(storage) -> None:
    storage.save("wf", "t", 1)
    blob = bytearray(storage._read("wf", "t"))
    blob[-1] ^= 0x01
    storage._write("wf", "t", bytes(blob))
    with pytest.raises(InvalidPickle):
        storage.read_task("wf", "t")


def test_persistent_serializer_side_files(storage) -> None:
    storage.register_persistent_serializers(ArraySideSerializer)
    big = np.arange(100_000, dtype=np.float64)
    storage.save("wf", "t", {"big": big, "small": 1})
    got = storage.read_task("wf", "t")
    np.testing.assert_array_equal(got["big"], big)
    assert got["small"] == 1
    # replacing the result removes the stale side file, removing the task removes the new one
    ArraySideSerializer.removed.clear()
    storage.save("wf", "t", {"big": big[:10]})
    assert len(ArraySideSerializer.removed) == 1
    storage.remove_task("wf", task_name="t")
    assert len(ArraySideSerializer.removed) == 2
    # without the serializer registered, the reader is told what to do
    storage.save("wf", "u", [big])
    storage._serializers.clear()
    with pytest.raises(SerializationError, match="register_persistent_serializers"):
        storage.read_task("wf", "u")


def test_side_files_live_in_the_task_folder(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path)
    storage.register_persistent_serializers(ArraySideSerializer)
    storage.save("wf", "t", np.zeros(10))
    side = list((tmp_path / "wf" / ".side" / "t").iterdir())
    assert len(side) == 1
    assert storage.list_tasks("wf") == ["t"]
    storage.remove_task("wf", task_name="t")
    assert not (tmp_path / "wf" / ".side" / "t").exists()


def test_bad_serializer_is_refused() -> None:
    class Incomplete:
        name = "x"

    with pytest.raises(TypeError, match="serializer_class"):
        MemoryStorage().register_persistent_serializers(Incomplete)


def test_protocols_dict() -> None:
    storage = MemoryStorage()
    assert set(storage.protocols) == {"FILE_PROTOCOL", "S3_PROTOCOL"}
    storage.protocols["MY_KEY"] = "value"
    seen = {}

    class Spy(ArraySideSerializer):
        name = "spy"

        @classmethod
        def pickle(cls, obj, protocols):
            seen.update(protocols)
            return super().pickle(obj, protocols)

    storage.register_persistent_serializers(Spy)
    storage.save("wf", "t", np.zeros(2))
    assert seen["MY_KEY"] == "value"
    assert seen["S3_PROTOCOL"] is None


def test_redis_storage_shared_between_instances(redis_server: str) -> None:
    namespace = f"wf{uuid.uuid4().hex[:10]}"
    writer = RedisStorage(redis_server, namespace=namespace)
    reader = storage_factory(
        {"kind": "redis", "options": {"url": redis_server, "namespace": namespace}}
    )
    writer.save("wf", "t", {"x": 1})
    assert reader.read_task("wf", "t") == {"x": 1}
    writer.remove_workflow("wf")
    writer.close()
    reader.close()


def test_key_value_storage_on_any_store() -> None:
    from persist_ext.features._workflow import KeyValueStorage
    from persist_ext.storage._memory import MemoryStore

    storage = KeyValueStorage(MemoryStore())
    storage.register_persistent_serializers(ArraySideSerializer)
    storage.save("wf", "t", {"a": np.ones(3)})
    np.testing.assert_array_equal(storage.read_task("wf", "t")["a"], np.ones(3))
    assert storage.list_workflows() == ["wf"]
    storage.remove_workflow("wf")
    assert list(storage.store.keys()) == []
    with pytest.raises(TypeError, match="KeyValueStore"):
        KeyValueStorage({})  # type: ignore[arg-type]

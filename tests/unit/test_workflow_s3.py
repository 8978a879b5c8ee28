"""The S3 storage kind against a real S3-compatible server (moto, started on loopback)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import dask.array as da
import numpy as np
import pytest
from moto.server import ThreadedMotoServer

from persist_ext._errors import InvalidPickle, WorkflowError
from persist_ext.serializers import DaskArraySerializer
from persist_ext.workflow import LocalWorkflow, storage_factory, workflow


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _options(endpoint: str, bucket: str) -> dict:
    return {
        "path": f"{bucket}/results",
        "s3fs": {
            "key": "testing",
            "secret": "testing",
            "client_kwargs": {"endpoint_url": endpoint, "region_name": "eu-west-1"},
        },
    }


@pytest.fixture
def storage(s3_endpoint: str):
    return storage_factory({"kind": "S3", "options": _options(s3_endpoint, uuid.uuid4().hex)})


def test_save_read_list_remove(storage) -> None:
    storage.new_workflow("wf")
    storage.save("wf", "fit.<locals>.step", {"w": [1.0, 2.0]})
    storage.save("wf", "score", 0.93)
    assert storage.list_tasks("wf") == ["fit.<locals>.step", "score"]
    assert storage.list_tasks("wf", pattern="s*") == ["score"]
    assert storage.read_task("wf", "fit.<locals>.step") == {"w": [1.0, 2.0]}
    with pytest.raises(FileNotFoundError):
        storage.read_task("wf", "missing")
    storage.remove_task("wf", "score")
    assert storage.list_tasks("wf") == ["fit.<locals>.step"]
    storage.remove_workflow("wf")
    assert storage.list_tasks("wf") == []


def test_both_spellings_of_the_kind(s3_endpoint: str) -> None:
    bucket = uuid.uuid4().hex
    upper = storage_factory({"kind": "S3", "options": _options(s3_endpoint, bucket)})
    lower = storage_factory({"kind": "s3", "options": _options(s3_endpoint, bucket)})
    upper.new_workflow("wf")
    upper.save("wf", "t", 1)
    assert lower.read_task("wf", "t") == 1


def test_a_corrupted_object_is_detected(storage) -> None:
    storage.new_workflow("wf")
    storage.save("wf", "t", list(range(100)))
    key = f"{storage.path}/wf/t"
    blob = bytearray(storage.fs.cat_file(key))
    blob[-5] ^= 0xFF
    storage.fs.pipe_file(key, bytes(blob))
    with pytest.raises(InvalidPickle):
        storage.read_task("wf", "t")


def test_names_never_leave_the_prefix(storage) -> None:
    storage.new_workflow("wf")
    storage.save("wf", "../../escape", 1)
    keys = storage.fs.find(storage.path.split("/")[0])
    assert keys
    assert all(k.startswith(storage.path + "/wf/") for k in keys), keys


def test_local_workflow_on_s3_with_dask_arrays(storage) -> None:
    storage.register_persistent_serializers(DaskArraySerializer)
    calls = []

    @workflow
    def make(n):
        calls.append(n)
        return da.arange(n, chunks=250)

    @workflow
    def total(x):
        return float(x.sum().compute())

    flow = LocalWorkflow(total(make(1000).set_name("data")).set_name("sum"), workflow_name="w")
    flow.set_storage(storage)
    assert flow.run() == 499500.0
    stored = storage.read_task("w", "data")
    assert isinstance(stored, da.Array)
    np.testing.assert_array_equal(stored.compute(), np.arange(1000))
    assert any(
        k.endswith(".zarr/zarr.json") or ".zarr/" in k for k in storage.fs.find(storage.path)
    )
    storage.remove_task("w", "data")
    assert not [k for k in storage.fs.find(storage.path) if ".zarr" in k]


def test_bad_options_are_refused(s3_endpoint: str) -> None:
    with pytest.raises(WorkflowError, match="bucket"):
        storage_factory({"kind": "S3", "options": {"path": ""}})
    with pytest.raises(WorkflowError, match="s3fs options must be a dict"):
        storage_factory({"kind": "S3", "options": {"path": "b", "s3fs": "nope"}})

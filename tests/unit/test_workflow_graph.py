"""functionfuse's template: @workflow nodes run by LocalWorkflow with a storage attached."""

from __future__ import annotations

import threading
from pathlib import Path

import dask.array as da
import numpy as np
import pytest

from persist_ext import SerializationError
from persist_ext._errors import WorkflowError
from persist_ext.serializers import DaskArraySerializer
from persist_ext.workflow import LocalWorkflow, storage_factory, task, workflow


def _graph(calls: list[str]):
    @workflow
    def add(a, b):
        calls.append("add")
        return a + b

    @workflow
    def minus(a, b):
        calls.append("minus")
        return a - b

    s1 = add(1, 1).set_name("s1")
    s2 = add(s1, 1).set_name("s2")
    return minus(s1, s2).set_name("m")


def test_the_seed_template_runs_and_stores_every_node(tmp_path: Path) -> None:
    calls: list[str] = []
    storage = storage_factory({"kind": "file", "options": {"path": str(tmp_path)}})
    flow = LocalWorkflow(_graph(calls), workflow_name="operations")
    flow.set_storage(storage)
    assert flow.run() == -1
    assert calls == ["add", "add", "minus"]
    assert storage.list_tasks(workflow_name="operations", pattern="*") == ["m", "s1", "s2"]
    assert storage.read_task(workflow_name="operations", task_name="s2") == 3


def test_a_second_run_reads_stored_results_instead_of_computing(tmp_path: Path) -> None:
    storage = storage_factory({"kind": "file", "options": {"path": str(tmp_path)}})
    first: list[str] = []
    flow = LocalWorkflow(_graph(first), workflow_name="ops")
    flow.set_storage(storage)
    flow.run()
    storage.remove_task("ops", "m")  # as if the run had died before the last node
    again: list[str] = []
    flow = LocalWorkflow(_graph(again), workflow_name="ops")
    flow.set_storage(storage)
    assert flow.run() == -1
    assert again == ["minus"]


@pytest.mark.parametrize("name", ["exp/run#1", "w" * 230, "../.."])
def test_any_workflow_name_the_storage_takes_runs(tmp_path: Path, name: str) -> None:
    # the storage makes any name safe; running must not refuse one it stores under
    storage = storage_factory({"kind": "file", "options": {"path": str(tmp_path / "s")}})
    flow = LocalWorkflow(_graph([]), workflow_name=name)
    flow.set_storage(storage)
    assert flow.run() == -1
    assert storage.list_tasks(name) == ["m", "s1", "s2"]
    assert [p.name for p in tmp_path.iterdir()] == ["s"]  # nothing outside the storage


@pytest.mark.parametrize("name", ["a#1", "x" * 230, "tab\there"])
def test_any_node_name_runs(name: str) -> None:
    @workflow
    def add(a, b):
        return a + b

    first = add(1, 2).set_name(name)
    flow = LocalWorkflow(add(first, 3), workflow_name="w")
    flow.set_storage(storage_factory({"kind": "memory"}))
    assert flow.run() == 6
    assert name in flow.storage.list_tasks("w")
    assert flow.storage.read_task("w", name) == 3


def test_items_of_results_and_several_outputs() -> None:
    @task
    def pair(a, b):
        return (a + b, b)

    @workflow
    def minus(a, b):
        return a - b

    s1 = pair(1, 1)
    s2 = pair(s1[0], 1)
    flow = LocalWorkflow(minus(s1[0], s2[0]), s2[1], workflow_name="items")
    assert flow.run() == [-1, 1]
    assert [n.name for n in flow.find_nodes(".*pair_.*")] == [s1.name, s2.name]


def test_independent_nodes_of_a_level_run_side_by_side() -> None:
    both = threading.Barrier(2, timeout=30)

    @workflow
    def meet(x):
        both.wait()  # only returns when the other node runs at the same time
        return x

    @workflow
    def total(a, b):
        return a + b

    flow = LocalWorkflow(total(meet(1), meet(2)), workflow_name="parallel", max_workers=2)
    assert flow.run() == 3


def test_a_failing_node_names_itself() -> None:
    @workflow
    def boom(x):
        raise ValueError(f"bad {x}")

    with pytest.raises(WorkflowError, match=r"Node '.*boom_0\d+' of workflow 'f' failed") as info:
        LocalWorkflow(boom(1), workflow_name="f").run()
    assert "bad 1" in str(info.value)


def test_bad_input_is_refused_with_the_fix() -> None:
    @workflow
    def one():
        return 1

    with pytest.raises(WorkflowError, match="at least one node"):
        LocalWorkflow(workflow_name="x")
    with pytest.raises(WorkflowError, match="nodes made by @workflow"):
        LocalWorkflow(3, workflow_name="x")  # type: ignore[arg-type]
    with pytest.raises(WorkflowError, match="workflow_name"):
        LocalWorkflow(one(), workflow_name="")
    with pytest.raises(WorkflowError, match="decorates functions"):
        workflow(int)
    a, b = one().set_name("same"), one().set_name("same")
    with pytest.raises(WorkflowError, match=r"Two nodes .* are named 'same'"):
        LocalWorkflow(a, b, workflow_name="x").run()


def test_dask_arrays_go_to_zarr_side_files_and_come_back_lazy(tmp_path: Path) -> None:
    storage = storage_factory({"kind": "file", "options": {"path": str(tmp_path)}})
    storage.register_persistent_serializers(DaskArraySerializer)
    array = da.arange(10_000, chunks=1_000).reshape(100, 100)
    storage.save("wf", "big", {"x": array, "label": "ok"})
    assert list((tmp_path / "wf" / ".side").rglob("*.zarr"))
    back = storage.read_task("wf", "big")
    assert back["label"] == "ok"
    assert isinstance(back["x"], da.Array)
    np.testing.assert_array_equal(back["x"].compute(), array.compute())
    storage.remove_task("wf", "big")
    assert not list(tmp_path.rglob("*.zarr"))


def test_dask_serializer_refuses_object_arrays(tmp_path: Path) -> None:
    storage = storage_factory({"kind": "file", "options": {"path": str(tmp_path)}})
    storage.register_persistent_serializers(DaskArraySerializer)
    objects = da.from_array(np.array([{"a": 1}, None], dtype=object), chunks=1)
    with pytest.raises(SerializationError, match="numeric arrays only"):
        storage.save("wf", "objs", objects)


def test_dask_serializer_on_a_storage_without_files() -> None:
    storage = storage_factory({"kind": "memory"})
    storage.register_persistent_serializers(DaskArraySerializer)
    storage.save("wf", "small", da.ones((4, 4), chunks=2))
    assert float(storage.read_task("wf", "small").sum().compute()) == 16.0

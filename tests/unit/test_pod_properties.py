"""A POD behaves like a dict across syncs, reverts, reopens and simulated crashes."""

from __future__ import annotations

import copy
import tempfile
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from persist_ext.features._pod import POD
from persist_ext.features._pod import _exit as _pod_exit

KEYS = st.sampled_from(["a", "b", "c", "d", "e", 0, 1, 2, "0"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("set"), KEYS, JSON),
        st.tuples(st.just("del"), KEYS),
        st.tuples(st.just("append"), KEYS, JSON),
        st.tuples(st.sampled_from(["sync", "revert", "reopen", "crash"])),
    ),
    max_size=40,
)


def _crash(pod: POD) -> None:
    """Drop the in-memory state without syncing, as a SIGKILL would."""
    state = pod._state
    state.closed = True
    state.release()
    _pod_exit.unregister(str(state.root))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS, file_size=st.integers(1, 4))
def test_pod_matches_dict_model(ops: list[tuple[Any, ...]], file_size: int) -> None:
    with tempfile.TemporaryDirectory() as folder:  # one per example, removed after it
        path = folder + "/pod"
        pod = POD(path, file_size=file_size, sync_at=10**9)
        model: dict[Any, Any] = {}
        synced: dict[Any, Any] = {}
        try:
            for op in ops:
                name = op[0]
                if name == "set":
                    pod[op[1]] = op[2]
                    model[op[1]] = copy.deepcopy(op[2])
                elif name == "del" and op[1] in model:
                    del pod[op[1]]
                    del model[op[1]]
                elif name == "append" and isinstance(model.get(op[1]), list):
                    pod[op[1]].append(op[2])
                    model[op[1]].append(copy.deepcopy(op[2]))
                elif name == "sync":
                    pod.sync()
                    synced = copy.deepcopy(model)
                elif name == "revert":
                    pod.revert()
                    model = copy.deepcopy(synced)
                elif name == "reopen":
                    pod.close()
                    pod = POD(path)
                    synced = copy.deepcopy(model)
                elif name == "crash":
                    _crash(pod)
                    pod = POD(path)
                    model = copy.deepcopy(synced)
                assert list(pod.items()) == list(model.items())
                assert len(pod) == len(model)
        finally:
            pod.close()
        reopened = POD(path)
        assert list(reopened.items()) == list(model.items())
        reopened.close()

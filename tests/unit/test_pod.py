"""POD: the seed's examples, JSON rules, sync, deletion, locking, exit and signal handling."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from persist_ext._errors import ConcurrentAccessError, PODError, StoreClosedError
from persist_ext.features._pod import POD, PersistentOrderedDict

REPO = Path(__file__).resolve().parents[2]


def run_child(code: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def test_seed_data_survives_program_exit(tmp_path: Path) -> None:
    path = tmp_path / "my.pod"
    child = run_child(
        f"""
        from persist_ext.features._pod import POD
        my_pod = POD({str(path)!r})
        my_pod['foo'] = 'bar'
        my_pod['integer-key'] = {{1: 'bar'}}
        my_pod['tuple'] = ('baz', 42)
        exit()
        """
    )
    _, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    my_pod = POD(path)
    assert my_pod["foo"] == "bar"
    assert my_pod["integer-key"] == {"1": "bar"}  # dict keys become strings
    assert my_pod["tuple"] == ["baz", 42]  # tuples become lists
    my_pod.close()


def test_conversions_are_visible_at_once(tmp_path: Path) -> None:
    with POD(tmp_path / "p") as pod:
        pod["k"] = {1: ("a", 2)}
        assert pod["k"] == {"1": ["a", 2]}  # same as after a reopen


def test_seed_nested_mutation_is_synced(tmp_path: Path) -> None:
    my_pod = POD(tmp_path / "p")
    my_pod["key"] = {}
    my_pod["key"]["subkey1"] = 1
    my_pod["key"]["subkey2"] = []
    my_pod["key"]["subkey2"].append(1)
    my_pod.close()
    with POD(tmp_path / "p") as again:
        assert again["key"] == {"subkey1": 1, "subkey2": [1]}


def test_update_key_marks_outside_mutation(tmp_path: Path) -> None:
    pod = POD(tmp_path / "p")
    pod["mutable"] = [1, 2, 3]
    pod.sync()
    value = pod.peek("mutable")
    value.append(4)  # not seen...
    assert pod.dirty() == set()
    pod.update("mutable")  # ...until the key is named
    assert pod.dirty() == {"mutable"}
    pod.revert()
    assert pod["mutable"] == [1, 2, 3]
    pod.close()


def test_update_as_dict_update(tmp_path: Path) -> None:
    with POD(tmp_path / "p", {"a": 1}) as pod:
        pod.update({"b": 2}, c=3)
        pod.update([("d", 4)])
        assert dict(pod.items()) == {"a": 1, "b": 2, "c": 3, "d": 4}


def test_auto_sync_every_sync_at_and_hold(tmp_path: Path) -> None:
    pod = POD(tmp_path / "p", sync_at=3)
    pod["a"] = 1
    pod["b"] = 2
    assert pod.dirty() == {"a", "b"}
    pod["c"] = 3  # third dirty key: synced
    assert pod.dirty() == set()
    pod.hold()
    for i in range(10):
        pod[i] = i
    assert len(pod.dirty()) == 10
    pod.unhold()  # due, so it syncs now
    assert pod.dirty() == set()
    pod.close()
    assert len(POD(tmp_path / "p")) == 13


def test_access_keeps_key_dirty_across_auto_sync(tmp_path: Path) -> None:
    pod = POD(tmp_path / "p", sync_at=1)
    pod["a"] = {"n": 0}
    pod["a"]["n"] = 1  # the access syncs what is due first, then stays dirty
    assert "a" in pod.dirty()
    pod.close()
    assert POD(tmp_path / "p")["a"] == {"n": 1}


def test_non_json_value_refused_at_assignment(tmp_path: Path) -> None:
    pod = POD(tmp_path / "p")
    pod["ok"] = 1
    with pytest.raises(PODError, match=r"'bad'.*set"):
        pod["bad"] = {"x": {1, 2}}
    with pytest.raises(PODError, match="object"):
        pod["bad"] = object()
    assert "bad" not in pod
    assert len(pod) == 1
    pod.close()


def test_nested_non_json_refused_at_sync_without_writing(tmp_path: Path) -> None:
    pod = POD(tmp_path / "p")
    pod["a"] = {"x": 1}
    pod.sync()
    before = {p.name: p.read_bytes() for p in (tmp_path / "p").iterdir()}
    pod["a"]["x"] = {1, 2}  # slips past assignment checks
    with pytest.raises(PODError, match=r"pod\['a'\]\['x'\] is a set"):
        pod.sync()
    after = {p.name: p.read_bytes() for p in (tmp_path / "p").iterdir()}
    assert before == after
    pod["a"]["x"] = 2  # fixed: syncs again
    pod.sync()
    pod.close()
    assert POD(tmp_path / "p")["a"] == {"x": 2}


@pytest.mark.parametrize("key", [("a", 1), 1.5, None, True, b"x", frozenset()])
def test_keys_that_do_not_round_trip_are_refused(tmp_path: Path, key: object) -> None:
    with POD(tmp_path / "p") as pod:
        with pytest.raises(PODError, match="keys must be str or int"):
            pod[key] = 1
        with pytest.raises(PODError, match="keys must be str or int"):
            pod[key]
        assert key not in pod


def test_int_and_str_keys_stay_distinct(tmp_path: Path) -> None:
    with POD(tmp_path / "p") as pod:
        pod[1] = "int"
        pod["1"] = "str"
    with POD(tmp_path / "p") as pod:
        assert pod[1] == "int"
        assert pod["1"] == "str"
        assert list(pod) == [1, "1"]


def test_delete_and_order(tmp_path: Path) -> None:
    pod = POD(tmp_path / "p", file_size=2)
    for key in "abcde":
        pod[key] = key
    del pod["b"]
    del pod["d"]
    del pod["e"]
    pod["b"] = "again"  # re-inserted keys go to the end, like a dict
    with pytest.raises(KeyError):
        del pod["zz"]
    pod.close()
    with POD(tmp_path / "p") as pod:
        assert list(pod.items()) == [("a", "a"), ("c", "c"), ("b", "again")]
        pod.clear()
    with POD(tmp_path / "p") as pod:
        assert len(pod) == 0
        assert [p.name for p in (tmp_path / "p").glob("*.jsonl")] == []


def test_files_are_readable_json_lines(tmp_path: Path) -> None:
    with POD(tmp_path / "p", file_size=2) as pod:
        pod["é"] = {"n": [1]}
        pod[7] = None
        pod["z"] = "last"
    chunks = sorted((tmp_path / "p").glob("*.jsonl"))
    assert len(chunks) == 2
    lines = chunks[0].read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["keys"] == ["é", 7]
    assert [json.loads(line) for line in lines[1:]] == [["é", {"n": [1]}], [7, None]]


def test_sync_rewrites_only_dirty_chunks(tmp_path: Path) -> None:
    pod = POD(tmp_path / "p", file_size=10)
    for i in range(100):
        pod[i] = {"v": i}
    stats = pod.sync()
    assert stats.chunks == 10
    pod[55]["v"] = -1
    stats = pod.sync()
    assert stats.chunks == 1
    # One chunk (~150 bytes) plus the manifest (one entry and one checksum per chunk, ~75
    # bytes each): far below the ~10 chunks a full rewrite would write again.
    chunk_bytes = sum(p.stat().st_size for p in (tmp_path / "p").glob("*.jsonl"))
    assert stats.bytes < 1500 < chunk_bytes + 750
    pod.close()


def test_lazy_open_reads_only_what_is_needed(tmp_path: Path) -> None:
    with POD(tmp_path / "p", file_size=10) as pod:
        for i in range(100):
            pod[i] = i
    pod = POD(tmp_path / "p")
    assert len(pod) == 100  # from the manifest alone
    assert pod._state.where is None
    pod[42] = "x"
    loaded = [c.cid for c in pod._state.chunks if c.lines is not None]
    # Only the chunk the sync will rewrite is read (at assignment, so damage shows there).
    assert loaded == [4]
    assert pod._state.values.keys() == {42}  # no other value was parsed
    pod.close()
    assert POD(tmp_path / "p")[42] == "x"


def test_instances_on_one_path_share_state(tmp_path: Path) -> None:
    a = POD(tmp_path / "p")
    b = POD(str(tmp_path / "p"))
    a["k"] = [1]
    b["k"].append(2)
    assert a["k"] == [1, 2]
    a.close()
    with pytest.raises(StoreClosedError, match="open it again"):
        b["k"]
    assert POD(tmp_path / "p")["k"] == [1, 2]


def test_path_that_is_a_file_or_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(PODError, match="is a file"):
        POD(tmp_path / "f")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "notes.txt").write_text("x")
    with pytest.raises(PODError, match="not a POD directory"):
        POD(tmp_path / "d")


def test_second_process_is_refused_with_holder_pid(tmp_path: Path) -> None:
    path = tmp_path / "p"
    child = run_child(
        f"""
        import sys, time
        from persist_ext.features._pod import POD
        pod = POD({str(path)!r})
        print("ready", flush=True)
        sys.stdin.read()
        """,
        stdin=subprocess.PIPE,
    )
    try:
        assert child.stdout.readline().strip() == "ready"
        with pytest.raises(ConcurrentAccessError, match=f"pid {child.pid}.*pod.close"):
            POD(path)
    finally:
        child.communicate("", timeout=60)
    with POD(path) as pod:  # the lock went away with the process
        pod["x"] = 1


def _wait_ready(child: subprocess.Popen) -> None:
    line = child.stdout.readline()
    assert line.strip() == "ready", child.stderr.read()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_syncs_then_behaves_as_before(tmp_path: Path, signum: int) -> None:
    path = tmp_path / "p"
    child = run_child(
        f"""
        import time
        from persist_ext.features._pod import POD
        pod = POD({str(path)!r}, sync_at=10**9)
        for i in range(100):
            pod[i] = {{"i": i}}
        print("ready", flush=True)
        time.sleep(60)
        """
    )
    _wait_ready(child)
    child.send_signal(signum)
    _, err = child.communicate(timeout=60)
    # Both end as they would without a POD: killed by the signal (an uncaught
    # KeyboardInterrupt makes Python exit "by SIGINT" too).
    assert child.returncode == -signum, err
    if signum == signal.SIGINT:
        assert "KeyboardInterrupt" in err
    with POD(path) as pod:
        assert len(pod) == 100
        assert pod[99] == {"i": 99}


def test_previous_sigterm_handler_is_chained(tmp_path: Path) -> None:
    path = tmp_path / "p"
    child = run_child(
        f"""
        import signal, sys, time
        signal.signal(signal.SIGTERM, lambda *a: (print("mine", flush=True), sys.exit(3)))
        from persist_ext.features._pod import POD
        pod = POD({str(path)!r})
        pod["k"] = "v"
        print("ready", flush=True)
        time.sleep(60)
        """
    )
    _wait_ready(child)
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 3, err
    assert "mine" in out
    with POD(path) as pod:
        assert pod["k"] == "v"


def test_orphans_of_a_killed_sync_are_removed(tmp_path: Path) -> None:
    with POD(tmp_path / "p") as pod:
        pod["a"] = 1
    (tmp_path / "p" / "000000.99.jsonl").write_text("garbage")
    (tmp_path / "p" / ".pod.json.abc.tmp").write_text("garbage")
    with POD(tmp_path / "p") as pod:
        assert pod["a"] == 1
    names = sorted(p.name for p in (tmp_path / "p").iterdir())
    assert names == [".lock", "000000.1.jsonl", "pod.json"]


def test_forked_child_cannot_write(tmp_path: Path) -> None:
    pod = POD(tmp_path / "p")
    pod["a"] = 1
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            pod.sync()
        except ConcurrentAccessError:
            code = 0
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    pod.close()
    assert POD(tmp_path / "p")["a"] == 1


def test_repr_and_alias(tmp_path: Path) -> None:
    assert POD is PersistentOrderedDict
    pod = POD(tmp_path / "p")
    pod["a"] = 1
    assert "1 keys, 1 unsynced" in repr(pod)
    pod.close()
    assert "closed" in repr(pod)
    time.sleep(0)

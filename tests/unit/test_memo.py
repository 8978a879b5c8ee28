"""persist_ext.cache: keys, hits, misses and why, dedup across threads, coroutines, processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from _noted import Noted

from persist_ext import CacheError, CacheWarning, MemoryStore, Store, cache

HERE = Path(__file__).parent


@pytest.fixture
def note() -> Noted:
    """Records calls without being part of any key (see :mod:`._noted`)."""
    return Noted()


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "store") as st:
        yield st


def test_hit_is_keyed_on_bound_arguments(store, note) -> None:
    @cache(store=store)
    def area(r, scale=1.0):
        note(r)
        return 3.0 * r * r * scale

    assert area(2) == area(2) == area(r=2) == area(2, 1.0) == 12.0
    assert note.calls == [2]
    assert area(2, scale=2.0) == 24.0
    assert area(3) == 27.0
    assert note.calls == [2, 2, 3]


def test_why_names_the_argument_helper_or_global_that_changed(store, note) -> None:
    namespace: dict = {"cache": cache, "store": store}
    exec(
        "LIMIT = 10\n"
        "def helper(x):\n    return min(x, LIMIT)\n"
        "@cache(store=store)\ndef f(x):\n    return helper(x) * 2\n",
        namespace,
    )
    f = namespace["f"]
    assert f(3) == 6
    assert "would be restored" in str(f.why(3))
    assert "argument x changed" in str(f.why(4))
    exec("def helper(x):\n    return max(x, LIMIT)\n", namespace)
    why = str(f.why(3))
    assert "helper" in why
    assert "would run" in why
    assert f(3) == 20  # really re-run with the new helper
    namespace["LIMIT"] = 1
    assert "global (read by a function) LIMIT changed" in str(f.why(3))
    assert f(3) == 6


def test_global_data_mutated_in_place_is_a_miss(store, note) -> None:
    namespace: dict = {"cache": cache, "store": store}
    exec(
        "WEIGHTS = [1, 2]\n@cache(store=store)\ndef total(k):\n    return k * sum(WEIGHTS)\n",
        namespace,
    )
    total = namespace["total"]
    assert total(2) == 6
    namespace["WEIGHTS"].append(3)
    assert total(2) == 12


def test_ignore_leaves_an_argument_out_of_the_key(store, note) -> None:
    @cache(store=store, ignore=["verbose"])
    def f(x, verbose=False):
        note(x)
        return x

    f(1, verbose=True)
    f(1, verbose=False)
    assert note.calls == [1]


def test_bad_options_raise_cache_error_before_anything_is_stored() -> None:
    store = MemoryStore()
    with pytest.raises(CacheError, match="ignore= names nope"):
        cache(store=store, ignore=["nope"])(lambda x: x)
    with pytest.raises(CacheError, match="expire="):
        cache(store=store, expire="soon")(lambda x: x)
    with pytest.raises(CacheError, match="below @classmethod"):
        cache(classmethod(lambda cls: 1))
    with pytest.raises(CacheError, match="needs a function"):
        cache(len)
    # A store that is not one: refused at decoration (each call used to warn and run).
    with pytest.raises(CacheError, match=r"store= takes a directory.*not int 42"):
        cache(store=42)(lambda x: x)  # type: ignore[arg-type]
    with pytest.raises(CacheError, match="mmap= is True or False, not str 'yes'"):
        cache(store=store, mmap="yes")(lambda x: x)  # type: ignore[arg-type]
    assert len(store) == 0


def test_a_notebook_function_reading_globals_by_computed_names_runs_every_time(store) -> None:
    # ``globals()[name]`` in a notebook function: which globals it reads cannot be known, so
    # none of them is in the key. Caching would return 6 after ``scale`` became 4.
    namespace: dict = {"__name__": "__main__", "cache": cache, "store": store, "scale": 3}
    exec(
        "@cache(store=store)\ndef f(x):\n    return x * globals()['scale']\n",
        namespace,
    )
    f = namespace["f"]
    with pytest.warns(CacheWarning, match=r"f: .*reads notebook variables by names it computes"):
        assert f(2) == 6
    namespace["scale"] = 4
    assert f(2) == 8
    assert not list(store.keys("memo/"))
    assert "would run without the cache: f reads notebook variables" in str(f.why(2))


def test_unfingerprintable_argument_warns_and_runs_every_time(store, note) -> None:
    @cache(store=store)
    def f(lock, x):
        note(x)
        return x

    with pytest.warns(CacheWarning, match="'lock' cannot be fingerprinted.*ignore=\\['lock'\\]"):
        f(threading.Lock(), 1)
    f(threading.Lock(), 1)
    assert note.calls == [1, 1]
    assert not list(store.keys("memo/"))

    g = cache(store=store, ignore=["lock"])(f.__wrapped__)
    g(threading.Lock(), 2)
    g(threading.Lock(), 2)
    assert note.calls == [1, 1, 2]


def test_unstorable_result_warns_and_is_not_cached(store, note) -> None:
    @cache(store=store)
    def make(x):
        note(x)
        return threading.Lock()

    with pytest.warns(CacheWarning, match="could not be stored"):
        assert make(1) is not None
    make(1)
    assert note.calls == [1, 1]


def test_methods_key_on_the_instance(store, note) -> None:
    class Model:
        def __init__(self, k):
            self.k = k
            self.ran = 0

        @cache(store=store, ignore=["self"])
        def ignored(self, x):
            return x

        @cache(store=store)
        def fit(self, x):
            return self.k * x

    assert Model(2).fit(3) == 6
    assert Model(2).fit(3) == 6
    assert Model(5).fit(3) == 15


def test_large_result_restores_memory_mapped(store, note) -> None:
    @cache(store=store, mmap=True)
    def big(n):
        return np.arange(n, dtype=np.float64)

    first = big(1 << 18)
    again = big(1 << 18)
    assert isinstance(again, np.memmap)
    np.testing.assert_array_equal(first, again)


def test_expire_forgets_a_call(store, note) -> None:
    @cache(store=store, expire=0.3)
    def f(x):
        note(x)
        return x

    f(1)
    f(1)
    time.sleep(0.5)
    f(1)
    assert note.calls == [1, 1]


def test_clear_and_calls_describe_without_decoding(store, note) -> None:
    @cache(store=store)
    def f(x):
        return [x] * 100

    f(1)
    f(1)
    f(2)
    calls = f.calls()
    assert sorted(c.call for c in calls) == ["f(1)", "f(2)"]
    assert {c.call: c.hits for c in calls} == {"f(1)": 1, "f(2)": 0}
    used = [k for k in store.keys("memo/") if k.endswith("/used")]
    assert used
    assert all(store.info(k).serializer == "json" for k in used)
    assert f.clear() == 2
    assert not list(store.keys("memo/"))


def test_concurrent_identical_calls_in_threads_run_once(store, note) -> None:
    @cache(store=store)
    def slow(x):
        note(x)
        time.sleep(0.3)
        return [x]

    results = []
    threads = [threading.Thread(target=lambda: results.append(slow(7))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert note.calls == [7]
    assert results == [[7]] * 6


def test_async_functions_hit_and_dedupe(store, note) -> None:
    @cache(store=store)
    async def fetch(x):
        note(x)
        await asyncio.sleep(0.2)
        return x * 10

    async def main():
        first = await asyncio.gather(*(fetch(1) for _ in range(5)))
        again = await fetch(1)
        return first, again

    first, again = asyncio.run(main())
    assert first == [10] * 5
    assert again == 10
    assert note.calls == [1]


def test_two_processes_calling_the_same_slow_function_compute_once(tmp_path: Path) -> None:
    counts = tmp_path / "counts"
    counts.mkdir()
    env = {
        **os.environ,
        "PERSIST_EXT_DIR": str(tmp_path / "store"),
        "MEMO_TEST_COUNTS": str(counts),
        "PYTHONPATH": f"{HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    script = "import _memo_funcs as m; print(m.slow_square(9, delay=1.5))"
    procs = [
        subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs == ["81", "81", "81"]
    assert (counts / "slow_square-9").read_text() == "x"


def test_results_are_shared_with_task_group_process_workers(tmp_path, monkeypatch) -> None:
    from persist_ext import TaskGroup

    counts = tmp_path / "counts"
    counts.mkdir()
    monkeypatch.setenv("PERSIST_EXT_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("MEMO_TEST_COUNTS", str(counts))
    monkeypatch.syspath_prepend(str(HERE))
    import _memo_funcs as m

    with Store(tmp_path / "groups") as groups:
        group = TaskGroup("squares", groups, executor="processes", max_workers=2)
        group.map(m.slow_square, [1, 2, 3])
        result = group.run().wait(timeout=120)
        assert result.ok, result.failures
        assert sorted(result.results.values()) == [1, 4, 9]
        group.close()
    assert [m.slow_square(x, delay=0.3) for x in (1, 2, 3)] == [1, 4, 9]
    assert [m.runs(f"slow_square-{x}") for x in (1, 2, 3)] == [1, 1, 1]


def test_redis_store_is_shared(redis_server: str, note) -> None:
    from persist_ext import RedisStore

    def double(x):
        note(x)
        return 2 * x

    with RedisStore(redis_server, namespace="memo-test") as a:
        assert cache(store=a)(double)(4) == 8
    with RedisStore(redis_server, namespace="memo-test") as b:
        assert cache(store=b)(double)(4) == 8
    assert note.calls == [4]


def test_dask_workers_share_results_through_the_store(tmp_path: Path) -> None:
    import distributed

    counts = tmp_path / "counts"
    counts.mkdir()
    store = Store(tmp_path / "store")

    @cache(store=store)
    def work(x, folder):
        with open(os.path.join(folder, f"ran-{x}"), "a") as fh:
            fh.write("x")
        time.sleep(0.2)
        return x * 100

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        futures = client.map(work, [1, 2, 3, 1, 2, 3], [str(counts)] * 6, pure=False)
        assert client.gather(futures) == [100, 200, 300, 100, 200, 300]
        workers = {w for f in futures for w in client.who_has(f)[f.key]}
    assert len(workers) == 2, "both worker processes took part"
    assert work(2, str(counts)) == 200  # computed on a worker, a hit here
    assert sorted(p.name for p in counts.iterdir()) == ["ran-1", "ran-2", "ran-3"]
    assert all(p.read_text() == "x" for p in counts.iterdir())
    store.close()


def test_an_attribute_a_helper_reads_is_part_of_the_key(store) -> None:
    def scale(x):
        return x * scale.factor

    scale.factor = 2

    @cache(store=store)
    def scaled(x):
        return scale(x)

    assert scaled(1) == 2
    scale.factor = 3  # no identity changed: the code snapshot checks the attributes too
    assert scaled(1) == 3
    scale.factor = 2
    assert scaled(1) == 2


def test_hits_return_fresh_copies_and_see_removals_by_other_processes(store, note) -> None:
    @cache(store=store)
    def listing(n):
        note(n)
        return list(range(n))

    first = listing(3)
    first.append("mutated")
    assert listing(3) == [0, 1, 2]  # a hit is a fresh copy, like a load from the store
    listing(3).append("again")
    assert listing(3) == [0, 1, 2]
    # Another process clears the entry (here: the store directly): the next call recomputes.
    for key in [k for k in store.keys("memo/") if k.endswith("/result")]:
        store.delete(key)
    assert listing(3) == [0, 1, 2]
    assert note.calls == [3, 3]


def test_a_cached_function_calling_another_is_keyed_on_its_code(store) -> None:
    namespace: dict = {"cache": cache, "store": store}
    exec(
        "@cache(store=store)\ndef inner(x):\n    return x + 1\n"
        "@cache(store=store)\ndef outer(x):\n    return inner(x) * 10\n",
        namespace,
    )
    assert namespace["outer"](1) == 20
    exec("@cache(store=store)\ndef inner(x):\n    return x + 2\n", namespace)
    assert "inner" in str(namespace["outer"].why(1))
    assert namespace["outer"](1) == 30


def test_a_process_killed_mid_call_releases_its_claim(tmp_path: Path) -> None:
    import signal

    counts = tmp_path / "counts"
    counts.mkdir()
    env = {
        **os.environ,
        "PERSIST_EXT_DIR": str(tmp_path / "store"),
        "MEMO_TEST_COUNTS": str(counts),
        "PYTHONPATH": f"{HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    lease = "from persist_ext.features._memo._runtime import LEASES; LEASES.lease = 1.0; "
    doomed = subprocess.Popen(
        [sys.executable, "-c", lease + "import _memo_funcs as m; m.slow_env(5)"],
        env={**env, "MEMO_TEST_DELAY": "60"},
    )
    try:
        deadline = time.monotonic() + 60
        while not (counts / "slow_env-5").exists():  # it claimed the call and runs it
            assert time.monotonic() < deadline, "the first process never started the call"
            time.sleep(0.05)
    finally:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(30)
    survivor = subprocess.run(
        [sys.executable, "-c", lease + "import _memo_funcs as m; print(m.slow_env(5))"],
        env={**env, "MEMO_TEST_DELAY": "0"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert survivor.returncode == 0, survivor.stderr
    assert survivor.stdout.strip() == "25"
    assert (counts / "slow_env-5").read_text() == "xx"  # the survivor ran it after the kill

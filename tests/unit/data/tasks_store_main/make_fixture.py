"""Write cache.db with persist_ext as of main 66b8612, for tests/unit/test_tasks_compat.py.

Run (once, against that commit checked out in /tmp/mainsnap)::

    git -C /work/main archive 66b8612 | tar -x -C /tmp/mainsnap
    PYTHONPATH=/tmp/mainsnap:/tmp/mainsnap/tests/unit python make_fixture.py /tmp/legacy_store
"""

import shutil
import sys

from _task_funcs import fail, square

from persist_ext.features._tasks import TaskGroup, marker_persist, store_context
from persist_ext.features._tasks._markers import build_tree
from persist_ext.storage._store import Store


def main(out: str) -> None:
    shutil.rmtree(out, ignore_errors=True)
    store = Store(out)
    group = TaskGroup("legacy", store, max_tries=2)
    for i in range(4):
        group.submit(square, i, key=f"sq{i}")
    group.submit(list, range(3000), key="big")
    group.submit(fail, 1, key="bad")
    group.submit(square, 9, key="later")
    group.run(["sq0", "sq1", "sq2", "sq3", "big", "bad"]).wait()
    group.replay("bad", run=False)  # failed twice (max_tries=2): replayed, bad#1 unstarted
    group.close()
    marker_persist(build_tree("old/1", ["x", "y"], batch_size=2), store=store)
    store_context("old/1/root", {"who": "fixture"}, store=store)
    store.close()


if __name__ == "__main__":
    main(sys.argv[1])

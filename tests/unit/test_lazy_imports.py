"""``%load_ext persist_ext`` imports only what ``%%persist`` needs; the rest loads on use.

Each check runs in a fresh interpreter: what a test process already imported says nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# Modules a notebook that only uses %%persist must not pay for.
HEAVY = (
    "persist_ext.features._tasks",
    "persist_ext.features._memo",
    "persist_ext.features._pod",
    "persist_ext.features._stash",
    "persist_ext.features._workflow",
    "dask",
    "distributed",
    "pandas",
    "numpy",
    "ipywidgets",
)


def _fresh(code: str, cwd: Path) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_load_ext_and_a_persist_cell_do_not_import_tasks_memo_dask_or_pandas(
    tmp_path: Path,
) -> None:
    found = _fresh(
        f"""
        import json, sys
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "persist_ext")
        shell.run_line_magic("config", "PersistMagics.directory = {str(tmp_path / "store")!r}")
        shell.run_line_magic("config", "PersistMagics.min_time = 0")
        for _ in range(2):  # a miss, then a hit
            shell.run_cell("%%persist lazy --quiet\\nx = 6 * 7")
        heavy = {list(HEAVY)!r}
        loaded = [m for m in heavy if any(k == m or k.startswith(m + ".") for k in sys.modules)]
        print(json.dumps({{"loaded": loaded, "x": shell.user_ns.get("x")}}))
        """,
        tmp_path,
    )
    assert found == {"loaded": [], "x": 42}


def test_every_public_name_still_resolves_on_first_use(tmp_path: Path) -> None:
    found = _fresh(
        """
        import json, sys
        import persist_ext
        before = "persist_ext.features._tasks" in sys.modules
        group = persist_ext.TaskGroup
        after = "persist_ext.features._tasks" in sys.modules
        missing = [n for n in persist_ext.__all__ if not hasattr(persist_ext, n)]
        namespace = {}
        exec("from persist_ext import *", namespace)
        starred = sorted(set(persist_ext.__all__) - set(namespace))
        listed = sorted(set(persist_ext.__all__) - set(dir(persist_ext)))
        print(json.dumps({
            "before": before, "after": after, "name": group.__name__,
            "missing": missing, "starred": starred, "listed": listed,
            "same": persist_ext.Store is __import__(
                "persist_ext.storage._store", fromlist=["Store"]).Store,
        }))
        """,
        tmp_path,
    )
    assert found == {
        "before": False,
        "after": True,
        "name": "TaskGroup",
        "missing": [],
        "starred": [],
        "listed": [],
        "same": True,
    }


def test_an_unknown_name_is_an_attribute_error() -> None:
    import persist_ext

    with pytest.raises(AttributeError, match="no_such_name"):
        _ = persist_ext.no_such_name

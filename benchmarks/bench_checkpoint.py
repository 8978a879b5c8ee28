"""Checkpoint benchmark: persist_ext vs Kishu vs dill sessions, on the same notebook sessions.

Each system runs the same cells in its own real ipykernel (nbclient), checkpointing after
every cell the way a user would run it:

* **persist_ext** — ``%persist autocheckpoint on``;
* **Kishu** (``pip install kishu``, VLDB 2025) — ``init_kishu(path)``, which commits after
  every cell (run in Kishu's test mode, which only skips its browser-front-end calls);
* **dill** — ``dill.dump_session`` after every cell (one file per cell, the everyday way),
  ``dill.load_session`` to go back.

What is measured, identically for all three: the time of the system's cell hooks
(``pre_run_cell`` + ``post_run_cell``, wrapped in a timer) for each cell, the bytes those hooks
passed to ``write()`` (``wchar`` of ``/proc/self/io``), the size of what is on disk at the end,
and the time to check out an earlier state and come back (checked: the values are right).

Sessions:

* ``1 GiB`` — eight 128 MiB float arrays, then small changes (``small += 1``, a dict entry, a
  new list), one in-place change of one array, one cell that changes nothing;
* ``pandas/sklearn`` — a frame, a derived column (in place), features, a train/test split, a
  fitted ``LogisticRegression``, its score, then a destructive ``df.drop(..., inplace=True)``.

Run: ``.venv/bin/python -m benchmarks.bench_checkpoint [--mib 1024]`` (``--quick``: 64 MiB).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

from ._timing import print_rows, row

__all__ = ["QUICK", "main", "run"]

QUICK = {"mib": 64}
SYSTEMS = ("persist_ext", "kishu", "dill")

# Installed first in every kernel: a cell counter and the timer that wraps the system's hooks.
# The measurements live in a module of their own: restoring a session must not rewind them.
_PROBE = """
import json, sys, time, types
sys.modules["_bench"] = types.ModuleType("_bench")
sys.modules["_bench"].b = {"cell": 0, "hook": {}, "wchar": {}}
def _wchar():
    with open("/proc/self/io") as f:
        for line in f:
            if line.startswith("wchar:"):
                return int(line.split()[1])
def _count(*_):
    sys.modules["_bench"].b["cell"] += 1
def _timed(cb):
    def run(*args, **kw):
        b = sys.modules["_bench"].b
        n, t, w = b["cell"], time.perf_counter(), _wchar()
        try:
            return cb(*args, **kw)
        finally:
            b["hook"][n] = b["hook"].get(n, 0.0) + time.perf_counter() - t
            b["wchar"][n] = b["wchar"].get(n, 0) + _wchar() - w
    return run
def _wrap(match):
    ev = get_ipython().events.callbacks
    for name in ("pre_run_cell", "post_run_cell"):
        ev[name][:] = [_timed(cb) if match(cb) else cb for cb in ev[name]]
    ev["pre_run_cell"].insert(0, _count)
"""

_SETUP = {
    "persist_ext": """
%load_ext persist_ext
%persist autocheckpoint on
_wrap(lambda cb: type(getattr(cb, "__self__", None)).__name__ == "PersistMagics")
""",
    "kishu": """
from kishu import init_kishu
init_kishu({path!r})
_wrap(lambda cb: type(getattr(cb, "__self__", None)).__name__ == "KishuForJupyter")
""",
    "dill": """
import dill
_files = []
def _dill_after_cell(result):
    _files.append(f"session{{len(_files)}}.pkl")
    dill.dump_session(_files[-1])
get_ipython().events.register("post_run_cell", _dill_after_cell)
_wrap(lambda cb: cb is _dill_after_cell)
""",
}

# The id of the state after each cell, read back after the session (not timed).
_IDS = {
    "persist_ext": """
_rows = get_ipython().run_line_magic("persist", "history").rows
_ids = {{int(m): r.id for r in _rows for m in __import__("re").findall(r"# step (\\d+)", r.cell)}}
""",
    "kishu": """
from kishu.commands import KishuCommand
from pathlib import Path
_log = KishuCommand.log_all(Path({path!r})).commit_graph
_ids = {{}}
for _c in _log:
    _m = __import__("re").findall(r"# step (\\d+)", _c.raw_cell or "")
    if _m:
        _ids[int(_m[0])] = _c.commit_id
""",
    "dill": """
# In[1] is the probe cell and In[2] the setup cell, whose dump is _files[0].
_ids = {{int(__import__("re").findall(r"# step (\\d+)", c)[0]): _files[k - 2]
         for k, c in enumerate(In) if c.startswith("# step")}}
""",
}

# A system that writes no state for a cell that changed nothing is at its previous state.
_AT = "_at = lambda k: _ids[max(s for s in _ids if s <= k)]\n"
_CHECKOUT = {
    "persist_ext": 'get_ipython().run_line_magic("persist", f"checkout {{_at({step})}}")',
    "kishu": "_kishu.checkout(_at({step}), skip_notebook=True)",
    "dill": "dill.load_session(_at({step}))",
}


def _big_session(mib: int) -> tuple[list[str], dict[str, Any]]:
    n = mib * 2**20 // 8 // 8
    cells = [
        "import numpy as np\nrng = np.random.default_rng(0)\n"
        + "\n".join(f"a{i} = rng.random({n})" for i in range(8))
        + "\nsmall = 0\nparams = {'lr': 0.1}",
        "small += 1",
        "params['lr'] = 0.05",
        "log = [small, params['lr']]",
        "a3[:1000] *= 2",
        "print(small, float(a0[0]))",
        "small += 1",
    ]
    plan = {
        "first": 1,
        "small": [2, 3, 4, 7],
        "big_inplace": 5,
        "nothing": 6,
        "checkout": (4, "(small, round(float(a3[0]), 6))", 7),
    }
    return cells, plan


def _pandas_session(rows: int) -> tuple[list[str], dict[str, Any]]:
    cells = [
        "import numpy as np, pandas as pd, warnings\nwarnings.simplefilter('ignore')\n"
        "rng = np.random.default_rng(0)\n"
        f"df = pd.DataFrame(rng.random(({rows}, 8)), columns=[f'c{{i}}' for i in range(8)])\n"
        f"df['city'] = rng.choice(['paris', 'lima', 'oslo'], {rows})",
        "df['total'] = df[[f'c{i}' for i in range(8)]].sum(axis=1)",
        "X = df[[f'c{i}' for i in range(8)]].to_numpy()\n"
        "y = (df['total'] > 4).astype(int).to_numpy()",
        "from sklearn.model_selection import train_test_split\n"
        "X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)",
        "from sklearn.linear_model import LogisticRegression\n"
        "model = LogisticRegression(max_iter=300).fit(X_train, y_train)",
        "score = model.score(X_test, y_test)",
        "df.drop(columns=['total', 'city'], inplace=True)",
        "print(score)",
    ]
    plan = {
        "first": 1,
        "small": [6],
        "big_inplace": 7,
        "nothing": 8,
        "checkout": (6, "(list(df.columns)[-2:], round(score, 6))", 8),
    }
    return cells, plan


def _run_kernel(system: str, cells: list[str], plan: dict[str, Any], work: Path) -> dict:
    import nbformat
    from nbclient import NotebookClient

    work.mkdir(parents=True, exist_ok=True)
    path = str(work / "session.ipynb")
    target, probe, back = plan["checkout"]
    report = (
        _AT
        + f"""
_probe = lambda: {probe}
_t = time.perf_counter(); {_CHECKOUT[system].format(step=target)}; _t_to = time.perf_counter() - _t
_at_target = _probe()
_t = time.perf_counter(); {_CHECKOUT[system].format(step=back)}; _t_back = time.perf_counter() - _t
_at_back = _probe()
_b = sys.modules["_bench"].b
print("RESULT" + json.dumps({{"hook": _b["hook"], "wchar": _b["wchar"], "to": _t_to,
    "back": _t_back, "at_target": repr(_at_target), "at_back": repr(_at_back)}}))
"""
    )
    # Every session cell starts with "# step N" so each system's log can be matched to it.
    tagged = [f"# step {i}\n{code}" for i, code in enumerate(cells, 1)]
    sources = [_PROBE, _SETUP[system].format(path=path), *tagged, _IDS[system].format(path=path)]
    sources.append(report)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    env = dict(os.environ, TEST_NOTEBOOK_PATH=path, ENV_KISHU_TEST_MODE="1")
    env["KISHU_PATH_ROOT"] = str(work)
    client = NotebookClient(
        nb,
        timeout=1800,
        kernel_name="python3",
        resources={"metadata": {"path": str(work)}},
        allow_errors=False,
    )
    old = dict(os.environ)
    os.environ.update(env)  # the kernel inherits the environment of this process
    try:
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    result = json.loads(text.split("RESULT", 1)[1])
    # The counter starts at the first session cell: step k is counted as cell k.
    result["cells"] = {int(k): (v, result["wchar"].get(k, 0)) for k, v in result["hook"].items()}
    result["disk"] = (
        sum(f.stat().st_size for f in work.rglob("*") if f.is_file()) - Path(path).stat().st_size
    )
    return result


def _expected(system_results: dict[str, dict]) -> tuple[str, str]:
    """The values every system must show after checkout (dill's full snapshots are the
    reference: each is the whole session as it was)."""
    reference = system_results.get("dill", {})
    return reference.get("at_target", ""), reference.get("at_back", "")


def _session_rows(label: str, cells: list[str], plan: dict[str, Any], tmp: Path) -> list[dict]:
    results: dict[str, dict] = {}
    rows: list[dict] = []
    for system in SYSTEMS:
        try:
            results[system] = _run_kernel(system, cells, plan, tmp / f"{label}-{system}")
        except Exception as exc:  # a system that cannot run here is reported, not hidden
            message = str(exc).strip().splitlines()
            rows.append(row(f"{label}: {system} FAILED: {message[-1][:120]}", float("nan"), ""))
    target, back = _expected(results)
    for system, res in results.items():
        if (res["at_target"], res["at_back"]) != (target, back):
            rows.append(row(f"{label}: {system} checkout gave WRONG values", float("nan"), ""))
    metrics: dict[str, list[tuple[str, str, float]]] = {}
    for system, res in results.items():
        c = res["cells"]
        small_t = [c[s][0] for s in plan["small"]]
        small_w = [c[s][1] for s in plan["small"]]
        first, big, nothing = c[plan["first"]], c[plan["big_inplace"]], c[plan["nothing"]]
        metrics[system] = [
            ("first checkpoint (whole namespace): time", "s", first[0]),
            ("first checkpoint: bytes written", "MB", first[1] / 1e6),
            ("small change: checkpoint time (median)", "ms", 1e3 * statistics.median(small_t)),
            ("small change: bytes written (median)", "MB", statistics.median(small_w) / 1e6),
            ("large value changed in place: checkpoint time", "s", big[0]),
            ("large value changed in place: bytes written", "MB", big[1] / 1e6),
            ("cell that changed nothing: hook time", "ms", 1e3 * nothing[0]),
            ("checkout of an earlier state", "s", res["to"]),
            ("checkout back to the latest state", "s", res["back"]),
            ("on disk at the end", "MB", res["disk"] / 1e6),
        ]
    for system, values in metrics.items():
        rows += [row(f"{label}: {system}: {name}", value, unit) for name, unit, value in values]
    ours = metrics.get("persist_ext")
    for other in ("kishu", "dill"):
        if ours is None or other not in metrics:
            continue
        for (name, _, value), (_, _, theirs) in zip(ours, metrics[other], strict=True):
            if theirs > 0:
                rows.append(row(f"{label}: persist_ext / {other}: {name}", value / theirs, "ratio"))
    return rows


def run(mib: int = 1024) -> list[dict[str, Any]]:
    """Run both sessions in every system; rows of ``{"name", "value", "unit"}``."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-ckpt-") as tmp:
        cells, plan = _big_session(mib)
        rows += _session_rows(f"{mib} MiB", cells, plan, Path(tmp))
        cells, plan = _pandas_session(max(mib * 1000, 50_000))
        rows += _session_rows("pandas/sklearn", cells, plan, Path(tmp))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--quick", action="store_true", help="64 MiB instead")
    args = parser.parse_args()
    print_rows(run(**(QUICK if args.quick else {"mib": args.mib})))


if __name__ == "__main__":
    main()

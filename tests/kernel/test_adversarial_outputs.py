"""Outputs written to both streams: a restore shows them in the order a re-run shows them.

ipykernel sends each stream in batches (on a timer, and stdout then stderr before a display
or at the end of the cell), so the front end shows a fast cell's stdout before its stderr
whatever order they were written in; text written a while apart arrives in that order.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .conftest import outputs_text
from .test_cellcache_fidelity_notebooks import CACHED, build, execute, restored, seen

pytestmark = pytest.mark.kernel

STREAMS = [
    "import sys, time\nfrom IPython.display import display, Markdown",
    "N = 3",
    CACHED + "print('err', N, file=sys.stderr)\nprint('out', N)\ndisplay(Markdown('**shown**'))\n"
    "print('late err', file=sys.stderr)\nvalues = list(range(N))\nvalues",
    CACHED + "print('first err', file=sys.stderr)\nprint('first out')\ntime.sleep(0.6)\n"
    "print('second err', N, file=sys.stderr)\nprint('second out')\nslept = N",
]


def test_stdout_and_stderr_come_back_in_the_order_a_rerun_shows(tmp_path: Path) -> None:
    assert_runs_match_plain(STREAMS, ["values", "slept"], ("N = 3", "N = 4"), tmp_path)


# Warning filters an upstream cell sets: the stored run of a cell that warns showed nothing
# (filtered out); edited upstream to turn warnings into errors (or to show them), a restore
# would still show nothing. Warnings from Python code, from a notebook helper and from C
# code (numpy's floating-point warnings).
FILTERED = [
    "import warnings\nimport numpy as np\nN = 1",
    "warnings.simplefilter('ignore' if N == 1 else 'error', UserWarning)\n"
    "warnings.simplefilter('ignore' if N == 1 else 'error', RuntimeWarning)",
    "def helper():\n    warnings.warn('from the helper', UserWarning)\n    return 1",
    CACHED + "try:\n    warnings.warn('careful', UserWarning)\n    outcome = 'quiet'\n"
    "except UserWarning:\n    outcome = 'raised'",
    CACHED + "try:\n    helped = helper()\nexcept UserWarning:\n    helped = 'raised'",
    CACHED + "try:\n    ratio = np.float64(1.0) / np.float64(0.0)\nexcept RuntimeWarning:\n"
    "    ratio = 'raised'",
    CACHED + "doubled = [N] * 2",
]


def test_warning_filters_set_upstream_are_read_by_a_cell_that_warns(tmp_path: Path) -> None:
    checks = ["outcome", "helped", "ratio", "doubled"]
    assert_runs_match_plain(FILTERED, checks, ("N = 1", "N = 2"), tmp_path)


# scikit-learn's Parallel copies warnings.filters around every job (cross_val_score,
# GridSearchCV) and puts them back with filterwarnings: the watch's own entry went with them,
# and every such cell raised AttributeError under %%persist only.
PARALLEL = [
    "from sklearn.datasets import load_iris\nfrom sklearn.linear_model import LogisticRegression\n"
    "from sklearn.model_selection import cross_val_score\nK = 3",
    CACHED + "X, y = load_iris(return_X_y=True)\n"
    "scores = cross_val_score(LogisticRegression(max_iter=500), X, y, cv=K)\nprint(len(scores))",
]


def test_a_cell_running_scikit_learn_jobs_runs_as_a_plain_one(tmp_path: Path) -> None:
    assert_runs_match_plain(PARALLEL, ["scores"], ("K = 3", "K = 4"), tmp_path)


# The other side: filters that do not apply to a cell's warnings (another category), and a
# cell that warns nothing, are no reason to run it. Edited upstream, both are restored.
UNRELATED = [
    "import warnings\nF = 1",
    "warnings.simplefilter('ignore' if F == 1 else 'error', DeprecationWarning)",
    CACHED + "warnings.warn('careful', UserWarning)\nwarned = True",
    CACHED + "total = sum(range(10))",
]


def test_filters_that_do_not_apply_to_a_cells_warnings_keep_it_restored(tmp_path: Path) -> None:
    edited = [c.replace("F = 1", "F = 2") for c in UNRELATED]
    plain_dir, cached_dir = tmp_path / "plain", tmp_path / "cached"
    plain_dir.mkdir()
    cached_dir.mkdir()
    plain = seen(execute(build(edited, ["warned", "total"], cached=False), plain_dir))
    assert "stderr:" in "".join(plain[3])  # the warning is shown
    execute(build(UNRELATED, [], cached=True), cached_dir)
    after_edit = execute(build(edited, ["warned", "total"], cached=True), cached_dir)
    assert seen(after_edit) == plain
    assert restored(after_edit) == 2, [outputs_text(c) for c in after_edit.cells]


# ``get_ipython().ast_node_interactivity = 'all'`` (a common first cell): every expression of
# a later cell shows. A hit must set it again, and a cell stored under one setting shows other
# outputs under the other.
INTERACTIVITY = [
    "V = 1",
    CACHED + "get_ipython().ast_node_interactivity = 'all' if V == 1 else 'last_expr'\nset_it = V",
    CACHED + "shown = 10\nshown\nshown + 1",
    "1 + 1\n2 + 2",
]


def test_which_expressions_show_is_set_again_and_read(tmp_path: Path) -> None:
    assert_runs_match_plain(INTERACTIVITY, ["set_it", "shown"], ("V = 1", "V = 2"), tmp_path)


# A cell that runs another cell itself (``get_ipython().run_cell``): that run ends by dropping
# the display hook's reference to the running cell's result, so the cell's own last value
# was stored as None and a hit showed no Out at all.
RUNS_A_CELL = [
    "V = 2",
    CACHED + "get_ipython().run_cell('inner = V + 5')\nouter = inner * 2\nouter",
    CACHED + "import time\ntime.sleep(0.3)\nslow = V + 1",
]


def test_a_cell_that_runs_a_cell_itself_shows_its_result_on_a_hit(tmp_path: Path) -> None:
    assert_runs_match_plain(
        RUNS_A_CELL, ["inner", "outer", "_", "slow"], ("V = 2", "V = 3"), tmp_path
    )


# Log lines through a handler an earlier cell made (``logging.basicConfig``): the handler holds
# the kernel's stderr stream itself, not ``sys.stderr`` as the cell sees it, so what it wrote
# was not recorded and a hit showed nothing where a re-run shows ``WARNING computing 1``.
LOGGED = [
    "N = 1\nimport logging\nlogging.basicConfig(format='%(levelname)s %(message)s', force=True)",
    CACHED + "logging.warning('computing %d', N)\n"
    "logging.getLogger('mine').error('careful')\ny = N",
]


def test_log_lines_of_a_handler_made_earlier_are_replayed(tmp_path: Path) -> None:
    assert_runs_match_plain(LOGGED, ["y"], ("N = 1", "N = 2"), tmp_path)

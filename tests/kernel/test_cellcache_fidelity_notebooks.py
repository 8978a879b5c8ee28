"""Each class of silent difference, as a small notebook run plain and under ``%%persist``.

For every notebook: a plain run, a cold run under ``%%persist``, a warm run in a fresh kernel
(cells restored), then an upstream literal edited and both run again. Every run under
``%%persist`` must show what the plain run of the same notebook shows (outputs, with the
``persist:`` notices left out) and end in the same state (a last plain cell prints checks on
the namespace and global state).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from .conftest import execute as run_notebook

pytestmark = pytest.mark.kernel

CACHED = "#cached\n"
# Under a bare ``%%persist``, named by its code: two cells of the same code share entries.
UNNAMED = "#cached-unnamed\n"

SHARING = [
    "import numpy as np\nimport matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt",
    "class Point:\n    def __init__(self, x):\n        self.x = x",
    "SIZE = 10",
    CACHED + "a = b = []\nbase = np.arange(float(SIZE))\nview = base[2:6]\nm = np",
    CACHED + "fig, ax = plt.subplots()\nlines = ax.plot(base)\np = Point(SIZE)\nalias = a",
    CACHED + "a.append(SIZE)\nview[:] = -1",
]
SHARING_CHECKS = [
    "a is b is alias",
    "a",
    "view.base is base",
    "base.tolist()",
    "ax.figure is fig",
    "lines[0].axes is ax",
    "isinstance(p, Point)",
    "m is np",
]

# Sharing across cells (PythonDataScienceHandbook 02.02): variables of later cells bind objects
# of earlier ones; each restore must link to the live objects, not bring copies of them.
ACROSS = [
    "import numpy as np",
    "N = 16",
    CACHED + "grid = np.arange(N).reshape((4, -1))\ngrid",
    CACHED + "upper, lower = np.vsplit(grid, [2])",
    CACHED + "left, right = np.hsplit(grid, [2])\nleft",
    CACHED + "a = [N]",
    CACHED + "b = a",
    CACHED + "c = a\nc.append(len(b))",
    CACHED + "d = {'k': [N]}",
    CACHED + "inner = d['k']",
    "import pandas as pd",
    CACHED
    + "pop = pd.Series(range(N), index=pd.MultiIndex.from_product([range(N // 4), range(4)]))",
    CACHED + "pop_df = pd.DataFrame({'total': pop})",
    CACHED + "pop.index.names = ['state', 'year']",
]
ACROSS_CHECKS = [
    "np.shares_memory(upper, left)",
    "np.shares_memory(grid, right)",
    "a is b is c",
    "b",
    "inner is d['k']",
    "grid.sum()",
    "list(pop_df.index.names)",
    "pop_df.index is pop.index",
]

OUTPUTS = [
    "import pandas as pd",
    "ROWS = 3",
    CACHED + "frame = pd.DataFrame({'v': range(ROWS)})\nprint('made', len(frame))\nframe",
    CACHED + "total = frame.v.sum()\ntotal;",
    CACHED + "from IPython.display import display, HTML\ndisplay(HTML('<b>x</b>'))\nframe.v.max()",
    "print(_, Out.get(3) is frame)",
    # An import that prints on first import (handson-ml2 tools_matplotlib): a restore imports
    # it again in a fresh kernel and must not print it a second time.
    CACHED + "import this\nzen_rows = this.s.splitlines()[:ROWS]",
]
OUTPUTS_CHECKS = ["_ == frame.v.max()", "total", "len(zen_rows)"]

STATE = [
    "import numpy as np, random, os, sys\nimport pandas as pd\n"
    "import matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt",
    "SEED = 0",
    CACHED + "np.random.seed(SEED)\nrandom.seed(SEED)\nseeded = True",
    CACHED + "plt.rcParams['lines.linewidth'] = 4\npd.set_option('display.max_rows', 5)\n"
    "os.environ['FIDELITY_VAR'] = 'x'\nos.makedirs('out', exist_ok=True)\nconfigured = True",
    CACHED + "%precision 2\nsample = np.random.rand(3)",
    "draw = np.random.rand(2)\nwith open('out/draw.txt', 'w') as fh:\n    fh.write(str(draw))",
    "import math\nmath.pi",
]
STATE_CHECKS = [
    "sample.tolist()",
    "draw.tolist()",
    "random.random()",
    "plt.rcParams['lines.linewidth']",
    "pd.get_option('display.max_rows')",
    "os.environ.get('FIDELITY_VAR')",
    "os.path.isdir('out')",
    "get_ipython().display_formatter.formatters['text/plain'].float_precision",
]

# Settings and files later cells depend on (style, rcParams read by a plotting cell, a folder,
# a local module on sys.path, the working directory).
SETUP = [
    "import os, sys\nimport matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt",
    "WIDTH = 2",
    CACHED + "plt.style.use('ggplot')\nplt.rcParams['lines.linewidth'] = WIDTH",
    CACHED + "fig, ax = plt.subplots()\nline, = ax.plot([1, 2])\nlw = line.get_linewidth()",
    CACHED + "from pathlib import Path\nPath('work/lib').mkdir(parents=True, exist_ok=True)\n"
    "Path('work/lib/helper_mod.py').write_text(f'VALUE = {WIDTH}\\n')",
    CACHED
    + "sys.path.insert(0, os.path.abspath('work/lib'))\nimport helper_mod\nhv = helper_mod.VALUE",
    CACHED + "os.chdir('work')\nhere = os.path.basename(os.getcwd())",
    "with open('out.txt', 'w') as fh:\n    fh.write('x')",
]
SETUP_CHECKS = [
    "lw",
    "plt.rcParams['lines.linewidth']",
    "plt.rcParams['axes.facecolor']",
    "hv",
    "here",
    "os.path.basename(os.getcwd())",
    "os.path.exists('out.txt')",
    "'helper_mod' in sys.modules",
    "sys.path[0].endswith('lib')",
]

INPUTS = [
    "import pandas as pd\nimport json",
    "thr = 2\nLOG = []\nLIMIT = 5",
    "def note(v):\n    LOG.append(v)\ndef cap(v, limit=LIMIT):\n    return min(v, limit)",
    "df = pd.DataFrame({'x': [1, 2, 3, 4]})",
    CACHED + "picked = df.query('x > @thr')\nevaluated = pd.eval('df.x * thr')\nnote(len(picked))",
    CACHED + "capped = cap(10)",
    CACHED + "with open('params.json', 'w') as fh:\n    json.dump({'k': thr}, fh)",
    CACHED + "with open('params.json') as fh:\n    params = json.load(fh)",
]
INPUTS_CHECKS = ["picked.x.tolist()", "evaluated.tolist()", "LOG", "capped", "params"]

ROUNDTRIP = [
    "import pandas as pd\nimport numpy as np",
    "N = 3",
    CACHED + "periods = pd.DataFrame({'v': range(N)}, "
    "index=pd.period_range('2020-01', periods=N, freq='M'))\n"
    "objects = pd.DataFrame({'l': [[i] for i in range(N)], 'd': [{'k': i} for i in range(N)]})\n"
    "daily = pd.Series(range(N), index=pd.date_range('2021-01-01', periods=N, freq='D'))\n"
    "masked = np.ma.masked_array(np.array([1, 'a', None], dtype=object), mask=[0, 1, 0])",
]
ROUNDTRIP_CHECKS = [
    "[len(periods), len(objects), len(daily)]",
    "type(periods.index).__name__",
    "periods.index.freqstr",
    "type(objects.l[0]).__name__",
    "objects.d[1]",
    "daily.index.freqstr",
    "type(masked).__name__",
    "masked.mask.tolist()",
]

ERRORS = [
    "%matplotlib inline\nimport matplotlib.pyplot as plt",
    "LIMIT = 2",
    # The handbook's display helper (03.06): showing its result raises, the cell does not.
    "class show:\n    def __init__(self, *names):\n        self.names = names\n"
    "    def __repr__(self):\n        return '\\n'.join(repr(eval(n)) for n in self.names)",
    CACHED + "show('LIMIT', 'LIMIT.append(1)')",
    CACHED + "plt.plot([1, LIMIT])\nraise ValueError(f'over {LIMIT}')",
    CACHED + "fine = LIMIT * 2\nfine",
    CACHED + "1 +",
]
ERRORS_CHECKS = ["fine", "'fine' in dir()"]

# Numbered HTML (handbook 05.xx, handson-ml2: a fitted estimator shown as the cell's result):
# scikit-learn numbers each diagram from session counters (``sk-container-id-2``), which its
# CSS and toggles use. A replayed diagram must take the ids a re-run would, so later diagrams
# are numbered as in a plain run and no two diagrams share an id.
NUMBERED = [
    "from sklearn.linear_model import LinearRegression\n"
    "from sklearn.pipeline import make_pipeline\n"
    "from sklearn.preprocessing import StandardScaler\nfrom IPython.display import display",
    "INTERCEPT = 1",
    CACHED + "first = make_pipeline(StandardScaler(), "
    "LinearRegression(fit_intercept=bool(INTERCEPT)))\ndisplay(first)",
    CACHED + "second = LinearRegression()\nsecond",
    "third = LinearRegression(positive=True)\nthird",
]
NUMBERED_CHECKS = ["first.steps[1][1].fit_intercept", "second.positive", "third.positive"]

NOTEBOOKS = {
    "numbered": (NUMBERED, NUMBERED_CHECKS, ("INTERCEPT = 1", "INTERCEPT = 0")),
    "errors": (ERRORS, ERRORS_CHECKS, ("LIMIT = 2", "LIMIT = 3")),
    "sharing": (SHARING, SHARING_CHECKS, ("SIZE = 10", "SIZE = 12")),
    "across": (ACROSS, ACROSS_CHECKS, ("N = 16", "N = 20")),
    "setup": (SETUP, SETUP_CHECKS, ("WIDTH = 2", "WIDTH = 3")),
    "outputs": (OUTPUTS, OUTPUTS_CHECKS, ("ROWS = 3", "ROWS = 4")),
    "state": (STATE, STATE_CHECKS, ("SEED = 0", "SEED = 1")),
    "inputs": (INPUTS, INPUTS_CHECKS, ("thr = 2", "thr = 3")),
    "roundtrip": (ROUNDTRIP, ROUNDTRIP_CHECKS, ("N = 3", "N = 4")),
}

_ADDRESS = re.compile(r"0x[0-9a-f]+")
# A warning names the file of the cell that issued it: in a folder named by the kernel's pid,
# different in every kernel (two plain runs differ in it too).
_KERNEL_FOLDER = re.compile(r"ipykernel_[0-9]+")


def execute(notebook: nbformat.NotebookNode, cwd: Path) -> nbformat.NotebookNode:
    # Errors are outputs to compare like any other (a failing cell must fail the same way).
    return run_notebook(notebook, cwd, allow_errors=True)


def build(cells: list[str], checks: list[str], cached: bool) -> nbformat.NotebookNode:
    sources = ["%load_ext persist_ext\n%config PersistMagics.min_time = 0"]
    for index, cell in enumerate(cells):
        if cell.startswith(CACHED):
            body = cell[len(CACHED) :]
            sources.append(f"%%persist c{index}\n{body}" if cached else body)
        elif cell.startswith(UNNAMED):
            body = cell[len(UNNAMED) :]
            sources.append(f"%%persist\n{body}" if cached else body)
        else:
            sources.append(cell)
    sources.append("\n".join(f"print({check!r}, '=>', repr({check}))" for check in checks))
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    return notebook


def seen(notebook: nbformat.NotebookNode) -> list[list[str]]:
    """What each cell showed: output kinds and their text, without the cache's notices."""
    shown = []
    for cell in notebook.cells:
        parts = []
        for output in cell.outputs:
            if output.output_type == "stream":
                text = "".join(
                    line
                    for line in output.text.splitlines(keepends=True)
                    if not line.startswith("persist: ")
                )
                if not text:
                    continue
                # One print may arrive as several stream messages (flush timing under load):
                # consecutive chunks of one stream are one output, as the notebook shows them.
                if parts and parts[-1].startswith(f"{output.name}:"):
                    parts[-1] += text
                else:
                    parts.append(f"{output.name}:{text}")
            elif output.output_type == "error":
                parts.append(f"error:{output.ename}:{output.evalue}")
            else:
                data = output.get("data", {})
                kinds = ",".join(sorted(k for k in data if k != "text/plain"))
                html = data.get("text/html", "")  # as shown, ids included
                parts.append(f"{output.output_type}[{kinds}]:{data.get('text/plain', '')}{html}")
        shown.append([_KERNEL_FOLDER.sub("ipykernel", _ADDRESS.sub("0x", p)) for p in parts])
    return shown


def restored(notebook: nbformat.NotebookNode) -> int:
    return sum("persist: restored" in o.get("text", "") for c in notebook.cells for o in c.outputs)


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_persist_runs_show_and_leave_what_plain_runs_do(name: str, tmp_path: Path) -> None:
    cells, checks, (old, new) = NOTEBOOKS[name]
    edited = [c.replace(old, new) for c in cells]
    plain_dir, cached_dir = tmp_path / "plain", tmp_path / "cached"
    plain_dir.mkdir()
    cached_dir.mkdir()

    plain = seen(execute(build(cells, checks, cached=False), plain_dir))
    cold = execute(build(cells, checks, cached=True), cached_dir)
    warm = execute(build(cells, checks, cached=True), cached_dir)
    assert seen(cold) == plain
    assert seen(warm) == plain
    assert restored(warm) >= 1  # the warm run really restored cells

    plain_edit = seen(execute(build(edited, checks, cached=False), plain_dir))
    cached_edit = execute(build(edited, checks, cached=True), cached_dir)
    assert seen(cached_edit) == plain_edit
    assert plain_edit != plain  # the edit changes what the notebook shows

"""Files a cell reads where no audit event shows it: C readers and local modules it imports.

``pd.read_parquet`` opens its file from C (pyarrow), so a path made in the cell is not seen
being read: the cell runs and ``%persist why`` says why. A local module imported by the cell
(``from helpers import f``) is re-imported by a hit, but the values the cell computed with
it were computed with the module's old source: its file is part of the key.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from ._adversarial import assert_runs_match_plain, why_of
from .conftest import outputs_text
from .test_cellcache_fidelity_notebooks import CACHED, build, execute

pytestmark = pytest.mark.kernel

HIDDEN = [
    "import importlib, os, sys\nimport pandas as pd\nos.makedirs('lib', exist_ok=True)\n"
    "sys.path.insert(0, os.path.abspath('lib'))",
    "K = 1\nstem = 'table'\npd.DataFrame({'a': [K]}).to_parquet(f'{stem}.parquet')\n"
    "with open('lib/edited_helpers.py', 'w') as fh:\n"
    "    fh.write(f'def f():\\n    return {K} * 10\\nSCALE = {K}\\n')\n"
    "import edited_helpers\n_ = importlib.reload(edited_helpers)",
    CACHED + "table = pd.read_parquet(stem + '.parquet')\nfirst = int(table.a[0])",
    CACHED + "from edited_helpers import f, SCALE\nscaled = f() + SCALE",
]


def test_files_read_from_c_and_local_modules_are_inputs(tmp_path: Path) -> None:
    assert_runs_match_plain(HIDDEN, ["first", "scaled"], ("K = 1", "K = 2"), tmp_path)
    notebook = build(HIDDEN, [], cached=True)
    notebook.cells.append(nbformat.v4.new_code_cell("%persist why c2"))
    why = outputs_text(execute(notebook, tmp_path / "cached").cells[-1])
    assert "read_parquet() with a path made in the cell" in why


# ``sys.path.insert`` and the import in one cell: before the run, the module cannot be found
# (its folder is not on the path yet), so its source is looked up once the cell has run. Its
# bytecode is already cached (an earlier session imported it): the import reads no source.
SAME_CELL = [
    "import os\nos.makedirs('lib', exist_ok=True)\nK = 1\n"
    "with open('lib/path_helpers.py', 'w') as fh:\n"
    "    fh.write(f'def f():\\n    return {K} * 10\\n')\n"
    "import py_compile\n_ = py_compile.compile('lib/path_helpers.py')  # an earlier import's",
    CACHED + "import sys\nsys.path.insert(0, 'lib')\nimport path_helpers\nvalue = path_helpers.f()",
    CACHED + "doubled = value * 2",
]


def test_a_module_imported_after_its_folder_is_put_on_the_path_is_keyed_by_source(
    tmp_path: Path,
) -> None:
    assert_runs_match_plain(SAME_CELL, ["value", "doubled"], ("K = 1", "K = 2"), tmp_path)


# Which files a cell finds is an input like what they hold: ``glob`` over a folder an earlier
# cell fills, then an edit makes that cell write one file more.
LISTED = [
    "import glob, os, shutil\nfrom pathlib import Path",
    "N = 2\nshutil.rmtree('data', ignore_errors=True)\nos.makedirs('data')\n"
    "for i in range(N):\n    Path(f'data/{i}.csv').write_text(str(i))",
    CACHED + "files = sorted(glob.glob('data/*.csv'))",
    CACHED + "names = sorted(os.listdir('data'))",
    CACHED + "parts = sorted(p.name for p in Path('data').iterdir())",
]


def test_a_folder_listed_by_a_cell_is_an_input(tmp_path: Path) -> None:
    assert_runs_match_plain(LISTED, ["files", "names", "parts"], ("N = 2", "N = 3"), tmp_path)
    edited = [LISTED[0], LISTED[1].replace("N = 2", "N = 4")]
    (globbed,) = why_of(edited, ["c2"], tmp_path / "cached")
    assert "which the cell lists, has other files" in globbed

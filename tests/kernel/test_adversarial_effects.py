"""Side effects a restore cannot see: programs a cell starts, and ``os.putenv``.

Each notebook runs plain, then under ``%%persist`` cold, warm in a fresh kernel, after an
upstream edit and after the edit is undone (the first entry is looked up again): every run
must show what a plain run of the same notebook shows.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from ._adversarial import assert_runs_match_plain, why_of
from .conftest import outputs_text
from .test_cellcache_fidelity_notebooks import CACHED, build, execute, seen

pytestmark = pytest.mark.kernel

# A program writes a file a later cell reads; os.putenv sets a variable that os.environ does
# not show and a child process sees. A restore that skips either leaves another file or
# environment than a re-run does. SQLite writes its database from C (no ``open`` event): removed
# between runs, the cell that filled it must run again.
PROGRAMS = [
    "import os, sqlite3, subprocess",
    "TAG = 'a'",
    CACHED + "subprocess.run(['sh', '-c', f'echo {TAG} > tag.txt'], check=True)\nwrote = True",
    CACHED + "os.putenv('ADVERSARIAL_PUT', TAG)\nput = True",
    CACHED + "db = sqlite3.connect('notes.sqlite')\n"
    "db.execute('create table if not exists t (v)')\ndb.execute('delete from t')\n"
    "db.execute('insert into t values (?)', (TAG,))\n"
    "db.commit()\ndb.close()\ndel db",
    "print(sqlite3.connect('notes.sqlite').execute('select v from t').fetchall())",
    "print(open('tag.txt').read().strip())\n"
    "print(subprocess.run(['sh', '-c', 'echo [$ADVERSARIAL_PUT]'], capture_output=True, "
    "text=True).stdout.strip())",
]


def test_programs_putenv_and_sqlite_files_are_never_skipped_silently(tmp_path: Path) -> None:
    edited = [c.replace("TAG = 'a'", "TAG = 'b'") for c in PROGRAMS]
    plain_dir, cached_dir = tmp_path / "plain", tmp_path / "cached"
    plain_dir.mkdir()
    cached_dir.mkdir()
    plain = seen(execute(build(PROGRAMS, [], cached=False), plain_dir))
    plain_edit = seen(execute(build(edited, [], cached=False), plain_dir))
    assert plain[-2] == ["stdout:a\n[a]\n"]
    assert plain_edit[-2] == ["stdout:b\n[b]\n"]
    # cold, warm in a fresh kernel, edited, and back to the first version
    for cells, expected in ((PROGRAMS, plain), (PROGRAMS, plain), (edited, plain_edit)):
        assert seen(execute(build(cells, [], cached=True), cached_dir)) == expected
    notebook = build(PROGRAMS, [], cached=True)
    notebook.cells += [
        nbformat.v4.new_code_cell("%persist why c2"),
        nbformat.v4.new_code_cell("%persist why c3"),
    ]
    (cached_dir / "notes.sqlite").unlink()
    back = execute(notebook, cached_dir)
    assert seen(back)[: len(plain)] == plain
    assert "it starts programs (sh)" in outputs_text(back.cells[-2])
    assert "environment variables outside os.environ (ADVERSARIAL_PUT)" in outputs_text(
        back.cells[-1]
    )


# A named logger set up in a cell (level, handler, propagate): a hit binds the same logger
# by name but sets nothing up, so a later cell logs nothing where a plain run printed.
LOGGER = [
    "import logging, sys\nLEVEL = logging.INFO",
    CACHED + "log = logging.getLogger('notebook.adversarial')\nlog.setLevel(LEVEL)\n"
    "log.addHandler(logging.StreamHandler(sys.stdout))\nlog.propagate = False",
    CACHED + "import json\nlevels = json.dumps({'level': LEVEL})",
    "log.info('info')\nlog.debug('debug')",
]


def test_a_named_logger_set_up_by_a_cell_is_never_skipped(tmp_path: Path) -> None:
    edit = ("LEVEL = logging.INFO", "LEVEL = logging.DEBUG")
    assert_runs_match_plain(LOGGER, ["levels"], edit, tmp_path)
    (why,) = why_of(LOGGER, ["c1"], tmp_path / "cached")
    assert "it changes the logging configuration (logger notebook.adversarial)" in why


# A pandas option set to a notebook function (a lambda): it cannot be stored with the entry,
# so the cell runs (with a note) instead of failing to store with a warning in its output.
FORMAT = [
    "import pandas as pd\nD = 1",
    CACHED + "pd.options.display.float_format = lambda x: f'<{x:.{D}f}>'\nformatted = True",
    CACHED + "frame = pd.DataFrame({'a': [1.23456 * D]})",
    "print(frame)",
]


def test_an_option_set_to_a_notebook_function_makes_the_cell_run(tmp_path: Path) -> None:
    assert_runs_match_plain(FORMAT, ["formatted"], ("D = 1", "D = 2"), tmp_path)
    (why,) = why_of(FORMAT, ["c1"], tmp_path / "cached")
    assert "it sets pandas options to a value that cannot be stored" in why

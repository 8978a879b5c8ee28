"""The locale: ``locale.setlocale(locale.LC_ALL, ...)``.

How ``locale.atof``, ``time.strftime("%B")``, ``locale.getencoding()`` and ``open()``'s
default encoding behave is process state read from C. A cell reading the locale an
upstream cell set was restored after an upstream edit from ``C`` to ``C.UTF-8`` with the
stored ``ANSI_X3.4-1968`` where a re-run gave ``UTF-8``; and a cell setting it through a
``setlocale`` of another name was restored with the locale left as the kernel started.
The locale is now part of the Python settings facet (away from the kernel's own): checked
before every hit, and set again by a hit of a cell that changed it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

READ = [
    "import locale\nlocale.setlocale(locale.LC_ALL, 'C')",
    CACHED + "encoding = locale.getencoding()\nname = locale.getlocale()",
    "print(encoding, name)",
]

SET = [
    "import locale\nNAME = 'C'\nfrom locale import setlocale as use_locale",
    CACHED + "use_locale(locale.LC_ALL, NAME)\nset_to = NAME",
    "print(locale.getlocale(), locale.getencoding())",
]


def test_a_hit_reads_the_locale_set_upstream(tmp_path: Path) -> None:
    assert_runs_match_plain(READ, [], ("'C')", "'C.UTF-8')"), tmp_path)


def test_a_hit_leaves_the_locale_the_cell_set(tmp_path: Path) -> None:
    assert_runs_match_plain(SET, [], ("NAME = 'C'", "NAME = 'C.UTF-8'"), tmp_path)

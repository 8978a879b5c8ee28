"""The ``decimal`` context beyond its precision: the flags a computation raises, the traps.

A cached cell dividing ``Decimal(1) / 3`` leaves ``Inexact`` and ``Rounded`` set in the
context's flags, which a later ``print(decimal.getcontext())`` shows; a cell turning a trap
off (``traps[DivisionByZero] = False``) makes a later ``Decimal(1) / 0`` give ``Infinity``
instead of raising. A hit re-applied the precision, rounding, exponent limits, ``capitals``
and ``clamp`` only: the later cells showed ``flags=[]`` and raised ``DivisionByZero``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

CONTEXT = [
    "import decimal\nV = 3",
    CACHED + "third = decimal.Decimal(1) / V",
    "print(decimal.getcontext().flags[decimal.Inexact], decimal.getcontext())",
    CACHED + "ctx = decimal.getcontext()\nctx.traps[decimal.DivisionByZero] = False\nhalf = V / 2",
    "print(decimal.Decimal(1) / 0)",
]


def test_a_hit_leaves_the_decimal_flags_and_traps_a_run_leaves(tmp_path: Path) -> None:
    assert_runs_match_plain(
        CONTEXT, ["str(decimal.getcontext())", "third"], ("V = 3", "V = 4"), tmp_path
    )

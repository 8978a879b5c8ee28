"""The time zone: ``os.environ["TZ"] = ...`` then ``time.tzset()``.

What ``datetime.fromtimestamp``, ``time.localtime`` and ``time.tzname`` give is read from C,
so a cell reading the zone an upstream cell set reads no environment variable the cache
sees: after an upstream edit from UTC to Asia/Tokyo a hit kept ``1970-01-01T00:00:00``
where a re-run gave ``1970-01-01T09:00:00``. And a cell setting the zone through a
``tzset`` of another name was restored with ``TZ`` set but the zone left as the kernel
started (UTC where a re-run left JST). The zone is now part of the Python settings facet:
checked before every hit, and read again from ``TZ`` by a hit of a cell that changed it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

READ = [
    "import os, time\nos.environ['TZ'] = 'UTC'\ntime.tzset()",
    CACHED + "import datetime\nstamp = datetime.datetime.fromtimestamp(0).isoformat()",
    "print(stamp)",
]

SET = [
    "import os, time, datetime\nZONE = 'Asia/Tokyo'\nfrom time import tzset as read_zone",
    CACHED + "os.environ['TZ'] = ZONE\nread_zone()\nset_to = ZONE",
    "print(datetime.datetime.fromtimestamp(0).isoformat(), time.tzname)",
]


def test_a_hit_reads_the_time_zone_set_upstream(tmp_path: Path) -> None:
    assert_runs_match_plain(READ, [], ("'UTC'", "'Asia/Tokyo'"), tmp_path)


def test_a_hit_leaves_the_time_zone_the_cell_set(tmp_path: Path) -> None:
    assert_runs_match_plain(SET, [], ("'Asia/Tokyo'", "'Europe/Paris'"), tmp_path)

"""Checkpoints share the values of %%persist entries instead of writing them again."""

from __future__ import annotations

from typing import Any

import numpy as np

from persist_ext.features._budget import Budget, enforce_budget
from persist_ext.features._checkpoint import protected_keys
from persist_ext.features._checkpoint._links import PIN, is_pinned, pinned_keys


def _store(ip: Any) -> Any:
    """The store of this test's notebook (other tests' stores may still be open)."""
    magics = ip.magics_manager.registry["PersistMagics"]
    return magics.cache_for(str(magics.store_directory.absolute())).store


def _payload(store: Any, prefix: str) -> int:
    return sum(store.info(k).size for k in store.keys(prefix))


def test_autocheckpoint_links_to_the_value_a_persist_cell_stored(ip) -> None:
    ip.run_line_magic("persist", "autocheckpoint on")
    ip.run_cell("import numpy as np")
    ip.run_cell("%%persist big\nbig = np.arange(300_000, dtype='float64')")
    store = _store(ip)
    cell_bytes = _payload(store, "cell/")
    assert cell_bytes >= 2_400_000
    # The checkpoint holds a link, not a second copy of the 2.4 MB array.
    assert _payload(store, "checkpoint/") < 20_000
    (pinned,) = pinned_keys(store)
    assert pinned in protected_keys(store)
    state = ip.run_line_magic("persist", "history").rows[-1].id

    # Clearing the cell (and a budget that would evict every cell) keeps the linked value.
    ip.run_line_magic("persist", "clear big")
    enforce_budget(store, Budget(max_size=1))
    assert pinned in store
    assert is_pinned(store, pinned)
    ip.run_cell("big[:] = -1")
    report = ip.run_line_magic("persist", f"checkout {state}")
    assert "big" in report.loaded
    assert np.array_equal(ip.user_ns["big"], np.arange(300_000, dtype="float64"))


def test_a_persist_hit_is_linked_and_a_changed_value_is_not(ip) -> None:
    ip.run_cell("import numpy as np")
    ip.run_cell("%%persist made\nmade = np.ones(200_000)")
    ip.run_cell("del made")
    ip.run_cell("%%persist made\nmade = np.ones(200_000)")  # a hit: restored from the entry
    first = ip.run_line_magic("persist", "checkpoint")
    assert first.shared == ["made"]
    assert first.written == []
    # Changed in place after the cell: the entry no longer holds it, the bytes are written.
    ip.run_cell("made[0] = 5")
    second = ip.run_line_magic("persist", "checkpoint")
    assert second.written == ["made"]
    assert second.shared == []
    ip.run_cell("del made")
    ip.run_line_magic("persist", f"restore {first.state}")
    assert float(ip.user_ns["made"][0]) == 1.0


def test_expiring_entries_are_not_linked_and_pruning_releases_the_value(ip) -> None:
    ip.run_cell("import numpy as np")
    ip.run_cell("%%persist short --expire 1h\nshort = np.ones(100_000)")
    report = ip.run_line_magic("persist", "checkpoint")
    assert report.written == ["short"]
    assert report.shared == []
    ip.run_cell("%%persist kept\nkept = np.zeros(100_000)")
    linked = ip.run_line_magic("persist", "checkpoint other")
    assert linked.shared == ["kept"]
    store = _store(ip)
    (pinned,) = pinned_keys(store)
    ip.run_line_magic("persist", "clear kept")
    assert pinned in store
    # The history's own budget prunes the last state using the link: the value goes too.
    from persist_ext.features._checkpoint._history import Budget as History
    from persist_ext.features._checkpoint._history import prune
    from persist_ext.features._checkpoint._layout import REF

    store.delete(f"{REF}other")
    ip.run_cell("del kept")
    ip.run_line_magic("persist", "checkpoint")  # the namespace moves on to a new state
    pruned, _ = prune(store, History(count=1), protect=())
    assert pruned
    assert pinned not in store
    assert not list(store.keys(PIN))


def test_refresh_and_clear_all_keep_linked_values_and_gc_keeps_them(ip) -> None:
    from persist_ext.features._budget import collect

    ip.run_cell("import numpy as np")
    ip.run_cell("%%persist vals\nvals = np.arange(150_000) * 1.0")
    first = ip.run_line_magic("persist", "checkpoint keep")
    assert first.shared == ["vals"]
    store = _store(ip)
    (pinned,) = pinned_keys(store)
    # A --refresh run replaces the entry (its old run is deleted), then everything is cleared
    # and garbage-collected: the value the checkpoint links to stays.
    ip.run_cell("%%persist vals --refresh\nvals = np.arange(150_000) * 1.0")
    ip.run_line_magic("persist", "clear --all")
    collect(store, Budget(max_size=1))
    assert pinned in store
    ip.run_cell("del vals")
    back = ip.run_line_magic("persist", "restore keep")
    assert back.loaded == ["vals"]
    assert float(ip.user_ns["vals"][-1]) == 149_999.0


def test_a_linked_value_removed_behind_the_pin_is_reported_not_fatal(ip) -> None:
    ip.run_cell("import numpy as np")
    ip.run_cell("%%persist lost\nlost = np.ones(120_000)\nother = [1, 2]")
    saved = ip.run_line_magic("persist", "checkpoint")
    assert "lost" in saved.shared
    store = _store(ip)
    (pinned,) = [k for k in pinned_keys(store) if store.info(k).size > 500_000]
    store.delete(pinned)  # as a tool that knows nothing of pins would
    ip.run_cell("del lost, other")
    back = ip.run_line_magic("persist", "restore")
    assert "was removed from the store" in back.skipped["lost"]
    assert ip.user_ns["other"] == [1, 2]
    assert "lost" not in ip.user_ns


def test_a_value_changed_through_a_function_redefined_since_is_not_linked(ip) -> None:
    # Cells are analysed when the checkpoint needs them, as the namespace was when they ran:
    # bump() changed `made` in place through its old definition, so the entry no longer
    # holds the value and the checkpoint writes its bytes instead of linking to the entry.
    ip.run_cell("import numpy as np")
    ip.run_cell("def bump():\n    made[0] = 5")
    ip.run_cell("%%persist made\nmade = np.ones(200_000)")
    ip.run_cell("bump()")
    ip.run_cell("def bump():\n    return None")
    report = ip.run_line_magic("persist", "checkpoint")
    assert report.shared == []
    assert "made" in report.written
    ip.run_cell("made[0] = 0")
    ip.run_line_magic("persist", "restore")
    assert ip.user_ns["made"][0] == 5

"""The checkpoint subcommands of %persist through a real IPython shell."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from traitlets import TraitError


def test_include_exclude_and_full_through_the_magic(ip) -> None:
    ip.run_cell("a = [1]\nb = [2]\nc = [3]")
    first = ip.run_line_magic("persist", "checkpoint work --include a,b")
    assert first.variables == ["a", "b"]
    ip.user_ns["c"].append(4)  # changed by no cell (as a thread would)
    ip.run_cell("print('unrelated')")
    plain = ip.run_line_magic("persist", "checkpoint all")
    assert "c" in plain.written  # first save of this name's variables: c is new to it
    ip.user_ns["c"].append(5)
    ip.run_cell("print('unrelated')")
    missed = ip.run_line_magic("persist", "checkpoint all")
    assert "c" not in missed.written  # no cell named c: not rehashed
    full = ip.run_line_magic("persist", "checkpoint all --full")
    assert full.written == ["c"]
    ip.run_line_magic("persist", "checkpoint work --exclude b")
    for name in ("a", "b", "c"):
        del ip.user_ns[name]
    ip.run_line_magic("persist", "restore work")
    assert ip.user_ns["a"] == [1]
    assert ip.user_ns["b"] == [2]
    assert ip.user_ns["c"] == [3, 4, 5]


def test_bad_checkpoint_commands_are_usage_errors(ip) -> None:
    with pytest.raises(UsageError, match="No checkpoint yet"):
        ip.run_line_magic("persist", "history")
    ip.run_cell("x = 1")
    ip.run_line_magic("persist", "checkpoint")
    with pytest.raises(UsageError, match=r"No checkpoint named 'ghost'.*Names: default"):
        ip.run_line_magic("persist", "restore ghost")
    with pytest.raises(UsageError, match="comma-separated variable names"):
        ip.run_line_magic("persist", "checkpoint --include 1x")
    with pytest.raises(UsageError, match="not defined"):
        ip.run_line_magic("persist", "checkpoint --include nope")
    with pytest.raises(UsageError, match="only apply to %persist checkpoint"):
        ip.run_line_magic("persist", "restore --full")
    with pytest.raises(UsageError, match="autocheckpoint on"):
        ip.run_line_magic("persist", "autocheckpoint maybe")
    with pytest.raises(UsageError, match="needs one checkpoint id"):
        ip.run_line_magic("persist", "checkout")
    with pytest.raises(UsageError, match="not valid"):
        ip.run_line_magic("persist", "checkpoint 9lives")
    magics = ip.magics_manager.registry["PersistMagics"]
    with pytest.raises(TraitError, match="as a size"):
        magics.history_bytes = "lots"
    with pytest.raises(TraitError, match="duration"):
        magics.history_age = "soon"


def test_autocheckpoint_history_undo_through_the_magic(ip) -> None:
    ip.run_line_magic("persist", "autocheckpoint on")
    ip.run_cell("rows = [1, 2, 3]")
    ip.run_cell("rows.clear()")
    table = ip.run_line_magic("persist", "history")
    assert "rows.clear()" in str(table)
    assert table.rows[-1].current
    ip.run_line_magic("persist", "undo")
    assert ip.user_ns["rows"] == [1, 2, 3]
    ip.run_line_magic("persist", f"checkout {table.rows[-1].id}")
    assert ip.user_ns["rows"] == []


def test_a_change_earlier_in_the_cell_of_the_checkpoint_is_saved(ip) -> None:
    ip.run_cell("import numpy as np\nx = np.zeros(5)")
    ip.run_cell("%persist checkpoint")
    ip.run_cell("print('a noted cell: values no cell names are trusted unchanged now')")
    ip.run_cell("x[:] = 7\n%persist checkpoint")
    ip.run_cell("x[:] = 1")
    ip.run_line_magic("persist", "restore")
    assert ip.user_ns["x"][0] == 7


def test_restore_and_checkout_report_the_name_asked_for(ip) -> None:
    # With autocheckpoint on, a named checkpoint of an unchanged namespace is the state
    # 'auto' already points at: the report names what the user typed.
    ip.run_line_magic("persist", "autocheckpoint on")
    ip.run_cell("tuned = 1")
    ip.run_line_magic("persist", "checkpoint before-tuning")
    ip.run_cell("tuned = 2")
    restored = ip.run_line_magic("persist", "restore before-tuning")
    assert str(restored).startswith("checkpoint 'before-tuning' #"), str(restored)
    assert ip.user_ns["tuned"] == 1
    checked_out = ip.run_line_magic("persist", "checkout before-tuning")
    assert str(checked_out).startswith("checkpoint 'before-tuning' #"), str(checked_out)
    by_id = ip.run_line_magic("persist", f"checkout {restored.state}")
    assert by_id.state == restored.state


def test_checkpoints_leave_no_slotnames_on_notebook_classes(ip) -> None:
    # Pickling an instance makes copyreg cache ``__slotnames__`` on its class; a notebook that
    # prints ``Point.__dict__`` would show it after every automatic checkpoint.
    ip.run_line_magic("persist", "autocheckpoint on")
    ip.run_cell("class Point:\n    def __init__(self, x):\n        self.x = x")
    ip.run_cell("p = Point(1)\nps = [Point(i) for i in range(3)]")
    ip.run_line_magic("persist", "checkpoint named")
    ip.run_cell("p.x = 5")
    ip.run_line_magic("persist", "restore named")
    assert ip.user_ns["p"].x == 1
    assert "__slotnames__" not in vars(ip.user_ns["Point"])
    ip.run_cell("import pickle\nblob = pickle.dumps(Point(2))")  # the notebook's own: as plain
    assert "__slotnames__" in vars(ip.user_ns["Point"])

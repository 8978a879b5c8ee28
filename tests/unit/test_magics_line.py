"""The %persist line subcommands as a newcomer meets them: help, errors, what they report."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output


def _cached(ip, name: str = "sq") -> None:
    with capture_output():
        ip.run_cell_magic("persist", name, "squares = [i * i for i in range(5)]")


def test_help_is_plain_text_with_both_forms(ip) -> None:
    doc = ip.find_line_magic("persist").__doc__
    assert "::" not in doc
    assert "``" not in doc
    assert "%%persist [NAME] [options]" in doc.splitlines()[1]
    assert "%persist SUBCOMMAND" in doc.splitlines()[2]
    for sub in ("list", "show NAME", "why [NAME]", "clear NAME", "checkout ID"):
        assert f"%persist {sub}" in doc


def test_clear_of_an_unknown_cell_is_an_error_like_show(ip) -> None:
    _cached(ip)
    with pytest.raises(UsageError, match="No cached cell named 'nosuch'"):
        ip.run_line_magic("persist", "clear nosuch")
    with pytest.raises(UsageError, match="No cached cell named 'nosuch'"):
        ip.run_line_magic("persist", "show nosuch")
    assert "sq" in repr(ip.run_line_magic("persist", "list"))  # nothing else was touched


def test_why_after_clear_says_nothing_is_stored(ip) -> None:
    _cached(ip)
    cleared = ip.run_line_magic("persist", "clear sq")
    assert "Removed 1" in repr(cleared)
    with pytest.raises(UsageError, match="Nothing is stored for a cell named 'sq'"):
        ip.run_line_magic("persist", "why sq")
    with pytest.raises(UsageError, match="No cached cell named 'sq'"):
        ip.run_line_magic("persist", "clear sq")


def test_a_name_may_follow_the_options(ip, tmp_path: Path) -> None:
    """`%persist why --verbose sq` reads like `%persist why sq --verbose` (docs/cell-cache.md
    writes `%persist why [NAME] [--verbose]`; argparse refused the other order with
    'unrecognized arguments: sq')."""
    _cached(ip)
    after = repr(ip.run_line_magic("persist", "why sq --verbose"))
    assert repr(ip.run_line_magic("persist", "why --verbose sq")) == after
    ip.user_ns["kept"] = 1
    ip.run_line_magic("persist", f"checkpoint --dir {tmp_path / 's'} mine")
    ip.user_ns["kept"] = 2
    report = ip.run_line_magic("persist", f"restore --dir {tmp_path / 's'} mine")
    assert "mine" in repr(report)
    assert ip.user_ns["kept"] == 1


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "needs a subcommand"),
        ("nosuch", "Unknown %persist subcommand 'nosuch'"),
        ("clear", "needs a cell name, or --all"),
        ("clear sq --all", "a cell name or --all, not both"),
        ("show", "needs a cell name"),
        ("list extra", "unexpected arguments: 'extra'"),
        ("list --deps x.csv", "only apply to the %%persist cell magic"),
    ],
)
def test_bad_line_input_is_a_usage_error_that_says_what_to_do(ip, line: str, message: str) -> None:
    _cached(ip)
    with pytest.raises(UsageError, match=re.escape(message)):
        ip.run_line_magic("persist", line)


def test_looking_never_creates_a_store(ip, tmp_path: Path) -> None:
    for line in ("list", "info", "browse", "clear --all"):
        ip.run_line_magic("persist", line)
    for line in ("show x", "why x", "clear x"):
        with pytest.raises(UsageError):
            ip.run_line_magic("persist", line)
    assert not (tmp_path / ".persist").exists()


def _two_runs(ip) -> None:
    body = "import time\ntime.sleep(0.05)\nx = [i * i for i in range(n)]"
    for n in (3, 4):
        ip.user_ns["n"] = n
        with capture_output():
            ip.run_cell_magic("persist", "frame", body)
    with capture_output():
        ip.run_cell_magic("persist", "other", "import time\ntime.sleep(0.05)\ny = 2")


def test_list_says_what_tells_two_runs_of_a_cell_apart(ip) -> None:
    _two_runs(ip)
    table = ip.run_line_magic("persist", "list")
    lines = repr(table).splitlines()
    assert lines[0].split()[-1] == "inputs"
    frames = [line for line in lines if line.startswith("frame")]
    assert len(frames) == 2
    digests = {line.split()[-1] for line in frames}
    assert all("input:n" in line for line in frames)
    assert len(digests) == 2  # the two runs show different digests of n
    (other,) = [line for line in lines if line.startswith("other")]
    assert other.split()[-1] == "-"


def test_info_counts_cells_not_runs(ip) -> None:
    _two_runs(ip)
    info = repr(ip.run_line_magic("persist", "info"))
    assert "cached cells: 2 (3 stored runs)" in info

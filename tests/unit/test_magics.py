"""%persist / %%persist through a real IPython shell: arguments, config, dispatch, errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from traitlets import TraitError

from persist_ext.interfaces.magics import PersistMagics, parse_duration


def magics(ip) -> PersistMagics:
    return ip.magics_manager.registry["PersistMagics"]


def cell(ip, line: str, body: str) -> str:
    with capture_output() as out:
        ip.run_cell_magic("persist", line, body)
    return out.stdout


def test_second_run_is_restored_with_a_notice(ip, tmp_path: Path) -> None:
    ip.user_ns["calls"] = 0
    first = cell(ip, "sq", "squares = [i * i for i in range(5)]\nprint(sum(squares))")
    assert first == "30\n"
    ip.user_ns.pop("squares")
    second = cell(ip, "sq", "squares = [i * i for i in range(5)]\nprint(sum(squares))")
    assert second.startswith("30\n")
    assert "persist: restored sq from" in second
    assert "original run took" in second
    assert ip.user_ns["squares"][-1] == 16
    assert (tmp_path / ".persist").is_dir()  # default store beside the notebook


def test_the_notice_starts_its_own_line_after_an_unfinished_printed_line(ip) -> None:
    body = "row = [1, 2, 3]\nfor v in row:\n    print(v, end=' ')"
    assert cell(ip, "row", body) == "1 2 3 "
    second = cell(ip, "row", body)
    assert second.startswith("1 2 3 \npersist: restored row from"), second


def test_unnamed_cell_is_named_after_the_notebook_cell_id(ip) -> None:
    # JupyterLab sends the cell id with each execution; IPython passes it to pre_run_cell.
    with capture_output():
        ip.run_cell("%%persist\nanswer = 42", cell_id="abc-123")
        ip.run_cell("%%persist\nanswer = 42", cell_id="abc-123")
    listing = ip.run_line_magic("persist", "list")
    assert [(e.name, e.hits) for e in listing.entries] == [("cell-abc-123", 1)]


def test_quiet_flag_and_config(ip) -> None:
    cell(ip, "q", "v = 1")
    assert cell(ip, "q --quiet", "v = 1") == ""
    magics(ip).quiet = True
    assert cell(ip, "q", "v = 1") == ""


def test_verbose_says_why_it_ran(ip) -> None:
    ip.user_ns["n"] = 1
    cell(ip, "vb", "m = n + 1")
    ip.user_ns["n"] = 2
    out = cell(ip, "vb --verbose", "m = n + 1")
    assert "persist: stored vb (m)" in out
    assert "input n changed" in out


def test_dir_and_store_options_pick_the_store(ip, tmp_path: Path) -> None:
    cell(ip, f"a --dir {tmp_path / 'one'}", "a = 1")
    cell(ip, f"b --store {tmp_path / 'two'}", "b = 1")
    assert (tmp_path / "one").is_dir()
    assert (tmp_path / "two").is_dir()
    listing = ip.run_line_magic("persist", f"list --dir {tmp_path / 'one'}")
    assert [e.name for e in listing.entries] == ["a"]


def test_config_directory_is_used(ip, tmp_path: Path) -> None:
    ip.run_line_magic("config", f"PersistMagics.directory = {str(tmp_path / 'cfg')!r}")
    try:
        cell(ip, "c", "c = 1")
        assert (tmp_path / "cfg").is_dir()
        assert str(tmp_path / "cfg") in repr(ip.run_line_magic("persist", "info"))
    finally:
        ip.run_line_magic("config", "PersistMagics.directory = ''")


def test_line_subcommands(ip) -> None:
    cell(ip, "one", "x = list(range(100))")
    cell(ip, "one", "x = list(range(100))")
    listing = ip.run_line_magic("persist", "list")
    assert [(e.name, e.hits) for e in listing.entries] == [("one", 1)]
    assert "x: list" in repr(ip.run_line_magic("persist", "show one"))
    assert "cached cells: 1" in repr(ip.run_line_magic("persist", "info"))
    assert "restored" in str(ip.run_line_magic("persist", "why"))
    assert "would be restored" not in str(ip.run_line_magic("persist", "why one --verbose"))
    with pytest.raises(UsageError, match=r"Nothing is stored for a cell named 'x'.*'x' is a var"):
        ip.run_line_magic("persist", "why x")
    assert "Removed 1" in repr(ip.run_line_magic("persist", "clear one"))
    assert ip.run_line_magic("persist", "list").entries == []
    cell(ip, "two", "y = 2")
    assert "Removed 1" in repr(ip.run_line_magic("persist", "clear --all"))


def test_browse_returns_a_browser_or_table(ip) -> None:
    cell(ip, "br", "z = 3")
    shown = ip.run_line_magic("persist", "browse")
    assert shown is not None


def test_browse_shows_cached_cells_and_cached_function_calls(ip) -> None:
    cell(ip, "br", "z = 3")
    ip.run_cell(
        "import persist_ext\n@persist_ext.cache\ndef twice(x):\n    return 2 * x\ntwice(21)"
    )
    shown = ip.run_line_magic("persist", "browse")
    keys = shown.model.source.list_keys()
    assert any(k.startswith("cell/br/") for k in keys)
    calls = [k for k in keys if k.startswith("memo/") and k.endswith("/result")]
    assert len(calls) == 1
    assert "twice" in calls[0]  # listed by function name
    assert not any(k.startswith(("tasks/", "checkpoint/")) for k in keys)


def test_why_explains_cells_that_ran_before_any_store_exists(ip, tmp_path: Path) -> None:
    # Every cell so far ran (its inputs cannot be known), so nothing was stored and the store
    # was never made: `why` still says why, from this session, and does not create the store.
    ip.run_cell("x = 2\ndef pick(name):\n    return globals()[name]")
    cell(ip, "picked", "y = pick('x') * 10")
    assert ip.user_ns["y"] == 20
    why = str(ip.run_line_magic("persist", "why picked"))
    assert "picked ran because its inputs or effects cannot be known" in why
    assert "pick reads notebook variables by names it computes, through globals()" in why
    assert "ran because" in str(ip.run_line_magic("persist", "why"))  # the last cell
    verbose = str(ip.run_line_magic("persist", "why picked --verbose"))
    assert verbose.startswith("picked ran because its inputs or effects cannot be known")
    assert verbose.endswith("components: none (no key was made for this run)")
    assert not (tmp_path / ".persist").exists()
    with pytest.raises(UsageError, match="Nothing is cached yet"):
        ip.run_line_magic("persist", "why never-ran")
    with pytest.raises(UsageError, match="'y' is a variable: `%persist why` takes the name of"):
        ip.run_line_magic("persist", "why y")


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("", "needs a subcommand"),
        ("frobnicate", "Unknown %persist subcommand 'frobnicate'"),
        ("show", "needs a cell name"),
        ("show nothing-here", "No cached cell named 'nothing-here'|Nothing is cached yet"),
        ("clear", "needs a cell name, or --all"),
        ("list extra", "unexpected arguments"),
        ("list --refresh", "only apply to the %%persist cell magic"),
        ("why never-ran", "Nothing is stored|Nothing is cached yet"),
        ("info --bogus", "unrecognized arguments"),
    ],
)
def test_bad_line_input_is_a_usage_error(ip, line: str, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        ip.run_line_magic("persist", line)


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("a b", "takes one cell name"),
        ("--expire soon", "Cannot read 'soon' as a duration"),
        ("--vars 1x,y", "--vars takes comma-separated variable names"),
        ("--all", "--all only applies"),
        ("--store ftp://x", "Unknown store URL"),
        ("n --dir here --store there", "Give --dir or --store, not both"),
        # argparse said "argument --expire: expected one argument" for a value with a dash.
        ("n --expire -1d", "Cannot read '-1d' as a duration"),
        # Nothing listens on port 1: one line naming the store, not a redis traceback.
        ("n --store redis://127.0.0.1:1/0", "Cannot open the store at redis://127.0.0.1:1/0"),
    ],
)
def test_bad_cell_input_is_a_usage_error(ip, line: str, match: str) -> None:
    ip.user_ns.pop("x", None)
    with pytest.raises(UsageError, match=match):
        ip.run_cell_magic("persist", line, "x = 1")
    assert "x" not in ip.user_ns  # refused before the cell ran


def test_a_store_folder_in_the_way_of_a_file_is_a_usage_error(ip, tmp_path: Path) -> None:
    """docs/cell-cache.md, --dir: a store that cannot be created is named; the cell does not run."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    ip.user_ns.pop("x", None)
    with pytest.raises(UsageError, match=r"Cannot open the store at .*a-file/store: .*Not a dir"):
        ip.run_cell_magic("persist", f"n --dir {blocker / 'store'}", "x = 42")
    assert "x" not in ip.user_ns
    assert blocker.read_text() == "not a folder"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_a_store_that_fails_when_the_run_is_stored_leaves_the_cell_run(ip) -> None:
    """docs/cell-cache.md, --dir: creating the store fails only when the run is stored (no
    folder can be made under /proc): the cell has run, and a CellCacheWarning says so."""
    from persist_ext import CellCacheWarning

    ip.user_ns.pop("x", None)
    with pytest.warns(CellCacheWarning, match="the cell ran but is not cached"):
        ip.run_cell_magic("persist", "n --dir /proc/persist-ext-nope", "x = 42")
    assert ip.user_ns["x"] == 42


def test_cell_options_are_passed_through(ip, tmp_path: Path) -> None:
    dep = tmp_path / "data.txt"
    dep.write_text("1")
    body = "w = open('data.txt').read()"
    cell(ip, f"d --deps {dep} --vars w --expire 1h --env", body)
    assert "restored" in cell(ip, f"d --deps {dep} --vars w --expire 1h --env", body)
    dep.write_text("22")
    out = cell(ip, f"d --deps {dep} --vars w --verbose", body)
    assert f"file {dep} changed" in out
    assert ip.user_ns["w"] == "22"
    details = repr(ip.run_line_magic("persist", "show d"))
    assert "expires:" not in details  # the last run had no --expire
    assert "refresh" not in out
    assert "restored" not in cell(ip, f"d --deps {dep} --vars w --refresh", body)


def test_a_deps_path_naming_no_file_is_reported(ip, tmp_path: Path) -> None:
    """docs/cell-cache.md, --deps: a path that names no file (a typo) is said, and the cell
    is keyed on its absence: it runs again once the file exists."""
    from persist_ext import CellCacheWarning

    with pytest.warns(CellCacheWarning, match=r"--deps names no existing file \(.*nofile\.csv\)"):
        ip.run_cell_magic("persist", "m --deps nofile.csv --quiet", "y = 1")
    with pytest.warns(CellCacheWarning, match="no existing file"):
        assert "restored" in cell(ip, "m --deps nofile.csv", "y = 1")
    (tmp_path / "nofile.csv").write_text("a\n")
    assert "restored" not in cell(ip, "m --deps nofile.csv", "y = 1")


def test_config_changed_between_runs_applies_to_the_next_run(ip) -> None:
    # The options of a cell line are remembered between runs; a %config forgets them.
    cell(ip, "cfg", "c = 1")
    ip.run_line_magic("config", "PersistMagics.expire = '1h'")
    cell(ip, "cfg --refresh", "c = 1")
    assert "expires:" in repr(ip.run_line_magic("persist", "show cfg"))
    ip.run_line_magic("config", "PersistMagics.expire = ''")
    cell(ip, "cfg --refresh", "c = 1")
    assert "expires:" not in repr(ip.run_line_magic("persist", "show cfg"))
    ip.run_line_magic("config", "PersistMagics.min_time = 3600.0")
    cell(ip, "cfg --refresh", "c = 1")  # stored as "runs": cheaper to run than to restore
    assert "restored" not in cell(ip, "cfg", "c = 1")


def test_config_file_settings_apply_and_survive_a_reload(ip) -> None:
    # `c.PersistMagics.quiet = True` in ipython_config.py reaches a new instance through the
    # shell's config, and %config settings are still there after %reload_ext.
    from traitlets.config import Config

    config = Config()
    config.PersistMagics.quiet = True
    config.PersistMagics.min_time = 0.5
    magics = PersistMagics(shell=ip, config=config)
    assert magics.quiet is True
    assert magics.min_time == 0.5
    ip.run_line_magic("config", "PersistMagics.keep = 5")
    ip.run_line_magic("reload_ext", "persist_ext")
    reloaded = ip.magics_manager.registry["PersistMagics"]
    assert reloaded is not magics
    assert reloaded.keep == 5
    assert reloaded.min_time == 0  # the `ip` fixture's %config, from before the reload


def test_a_failing_cell_marks_the_cell_failed(ip) -> None:
    # The cell's own exception, as in a plain cell (shown once, by the outer cell).
    with pytest.raises(ZeroDivisionError), capture_output():
        ip.run_cell_magic("persist", "bad", "1 / 0")
    with capture_output() as shown:
        result = ip.run_cell("%%persist bad2\n1 / 0")
    assert not result.success
    assert isinstance(result.error_in_exec, ZeroDivisionError)
    assert shown.stdout.count("ZeroDivisionError: division by zero") == 1


def test_why_explains_a_cell_that_raised_or_does_not_parse(ip) -> None:
    # `%persist why` after such a cell explained it as a cell that ran fine, or explained
    # the cell before it (a syntax error left the last cell's name as it was).
    with capture_output():
        ip.run_cell("%%persist fine\nok = 1")
        ip.run_cell("%%persist boom\n1 / 0")
    why = str(ip.run_line_magic("persist", "why"))
    assert why.startswith("boom ran because"), why
    assert "it raised ZeroDivisionError, so nothing was stored" in why
    with capture_output():
        ip.run_cell("%%persist unclosed\nx = (")
    why = str(ip.run_line_magic("persist", "why"))
    assert why.startswith("unclosed ran because its code has a syntax error"), why
    assert "nothing was stored" in why


def test_help_documents_the_arguments(ip) -> None:
    doc = ip.find_line_magic("persist").__doc__
    for flag in ("--refresh", "--expire", "--vars", "--deps", "--env", "--ignore", "--quiet"):
        assert flag in doc
    assert "c.PersistMagics" in sys.modules["persist_ext.interfaces.magics"].__doc__


def test_expire_trait_is_validated(ip) -> None:
    with pytest.raises(TraitError, match="duration"):
        magics(ip).expire = "tomorrow"


def test_parse_duration() -> None:
    assert parse_duration("90") == 90
    assert parse_duration("10m") == 600
    assert parse_duration("1h30m") == 5400
    assert parse_duration("2w") == 14 * 86400
    with pytest.raises(ValueError, match="duration"):
        parse_duration("0s")


def test_checkpoint_and_restore_bring_variables_back(ip) -> None:
    ip.run_cell("import math\ntotal = 41 + 1\ndef twice(n):\n    return 2 * n\n")
    report = ip.run_line_magic("persist", "checkpoint work")
    assert {"total", "twice"} <= set(report.variables)
    assert report.modules["math"] == "math"
    for name in ("math", "total", "twice"):
        ip.user_ns.pop(name)
    restored = ip.run_line_magic("persist", "restore work")
    assert ip.user_ns["total"] == 42
    assert ip.user_ns["twice"](4) == 8
    assert ip.user_ns["math"].pi > 3
    assert "restored" in str(restored)


def test_restore_without_checkpoint_is_a_usage_error(ip) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        ip.run_line_magic("persist", "restore")
    ip.run_line_magic("persist", "checkpoint")
    with pytest.raises(UsageError, match="No checkpoint named 'ghost'"):
        ip.run_line_magic("persist", "restore ghost")

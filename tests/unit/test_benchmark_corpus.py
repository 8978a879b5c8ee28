"""The corpus runner's edit and its report of a difference (``benchmarks/corpus.py``)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.corpus import _first_difference, _normalize, find_edit, locate, prepare


def test_the_edit_lands_on_the_literal_after_characters_of_several_bytes() -> None:
    # pytudes' Babylonian digits: AST offsets count UTF-8 bytes, and the edit was made at
    # character offsets, into the middle of a string (a syntax error in every edited run).
    source = "value = {'𒐕': 1, '𒌋': 10, '!': 1}\nx = 1"
    assert find_edit([source]) == (0, source, source.replace("10", "11"))


def test_a_difference_is_shown_where_it_starts() -> None:
    want = "x" * 500 + "ab" + "y" * 10
    got = "x" * 500 + "ba" + "y" * 10
    shown = _first_difference(want, got)
    assert "ab" in shown
    assert "ba" in shown


def _probed(shell: object, name: str) -> str:
    import contextlib
    import io
    import json

    from benchmarks.corpus import PROBE

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        shell.run_cell(PROBE)  # type: ignore[attr-defined]
    line = next(x for x in out.getvalue().splitlines() if x.startswith("__CORPUS_PROBE__"))
    return str(json.loads(line[len("__CORPUS_PROBE__") :])["values"][name])


def test_the_probe_shows_configured_loggers_not_those_a_library_made_for_itself() -> None:
    # ModSimPy chap14: matplotlib makes its ``matplotlib.legend`` logger the first time a
    # legend is drawn; in a warm run the drawing cell was restored, the logger not made, and
    # the probe's ``logger`` (logging's registry, reached through its ``manager``) differed.
    import logging

    from IPython.testing.globalipapp import get_ipython

    shell = get_ipython()  # the test shell every test of the process shares
    names = set(shell.user_ns)
    shell.user_ns["logger"] = logging.getLogger("corpus_probe_notebook")
    lazy = logging.getLogger("corpus_probe_library.lazy")
    try:
        before = _probed(shell, "logger")
        assert _probed(shell, "logger") == before
        lazy.setLevel(logging.INFO)  # a logger someone configured is still compared
        assert _probed(shell, "logger") != before
    finally:
        lazy.setLevel(logging.NOTSET)
        # The shell is the one later tests use (their checkpoints save every variable).
        for name in set(shell.user_ns) - names:
            del shell.user_ns[name]


def test_the_probe_reads_builtins_a_notebook_has_shadowed() -> None:
    # ethen8181's python3_cookbook/2_strings_and_text: a cell assigns ``str = '...'``; the
    # probe, defined in the notebook's namespace, called ``isinstance(k, str)`` with that
    # string and raised in every run (reported as a hang six times: "probe missing").
    from IPython.testing.globalipapp import get_ipython

    shell = get_ipython()  # the test shell every test of the process shares
    names = set(shell.user_ns)
    shell.user_ns.update(str="a notebook's text", list=[1, 2], type="kind", table={"k": [3]})
    try:
        assert _probed(shell, "table") == "builtins.dict{'k':builtins.list[3]1}"
        assert _probed(shell, "str") == repr("a notebook's text")
    finally:
        for name in set(shell.user_ns) - names:
            del shell.user_ns[name]


def test_a_mirror_kept_as_a_clone_without_its_work_tree_is_found(tmp_path: Path) -> None:
    # jdwittenauer/ipython-notebooks was fetched as ``owner+name/repo/.git``: not found, the
    # runner cloned from GitHub (no network: the run stopped).
    git_dir = tmp_path / "mirror" / "owner+name" / "repo" / ".git"
    (git_dir / "objects").mkdir(parents=True)
    (git_dir / "HEAD").write_text("ref: refs/heads/main\n")
    assert locate("owner/name", [tmp_path / "mirror"], tmp_path / "scratch") == git_dir


def test_a_windows_path_under_the_working_folder_is_spelled_with_slashes() -> None:
    # jdwittenauer's ML exercises: ``os.getcwd() + '\\data\\ex1data1.txt'`` read, on Linux, a
    # file of the folder above named "<folder>\\data\\ex1data1.txt": every later cell failed.
    source = "import os\npath = os.getcwd() + '\\data\\ex1data1.txt'\nother = 'a\\b'"
    assert prepare([source]) == [
        "import os\npath = os.getcwd() + '/data/ex1data1.txt'\nother = 'a\\b'"
    ]


def test_a_syntax_error_names_no_cell_file() -> None:
    # The cell's file has another name under %%persist (Unpingco's Python 2 prints in
    # Conditional_expectation_MSE_Ex: 27 reports, all this).
    plain = (
        "Missing parentheses in call to 'print'. Did you mean print(...)? (1409450514.py, line 4)"
    )
    cached = plain.replace("1409450514", "2316366509")
    assert _normalize(plain) == _normalize(cached)
    assert _normalize(plain).endswith("(<cell>, line 4)")
    assert _normalize("/tmp/ipykernel_12/345.py:3: UserWarning") == "<cell>:3: UserWarning"


def test_data_missing_from_the_repository_leaves_the_notebook_to_run(tmp_path: Path) -> None:
    # pycon-2018-tutorial's police.csv is not in the repository: its cells fail alike in
    # every run, instead of the runner stopping before the first one.
    from benchmarks.corpus import copy_data

    (tmp_path / "helper.py").write_text("x = 1\n")
    copy_data(
        [(str(tmp_path / "helper.py"), "helper.py"), (str(tmp_path / "police.csv"), "police.csv")],
        tmp_path / "run",
    )
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["helper.py"]

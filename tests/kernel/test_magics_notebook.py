"""``%load_ext persist_ext`` and the magics in a real kernel, driven through nbclient."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from persist_ext.interfaces.server._stores import find_stores

pytestmark = pytest.mark.kernel

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_magics_load_report_and_run_cells(run_cells, text_of, tmp_path: Path) -> None:
    nb = run_cells(
        [
            "%load_ext persist_ext",
            "%persist info",
            "%%persist squares\nsquares = [i * i for i in range(10)]\nprint('sum', sum(squares))",
            "squares[3]",
            "print(get_ipython().find_line_magic('persist').__doc__)",
        ]
    )
    info, cached, after, doc = (text_of(cell) for cell in nb.cells[1:])
    # The default store is .persist/ in the notebook's working directory.
    assert str(tmp_path / ".persist") in info
    assert "sum 285" in cached
    assert after.strip() == "9"
    assert "%%persist" in doc


def test_bad_subcommand_is_a_one_line_usage_error(run_cells) -> None:
    nb = run_cells(["%load_ext persist_ext", "%persist frobnicate"], allow_errors=True)
    # IPython shows a UsageError as one stderr line, without a traceback.
    (output,) = nb.cells[1].outputs
    assert output.output_type == "stream"
    assert output.name == "stderr"
    assert output.text.startswith("UsageError:")
    assert "frobnicate" in output.text
    assert output.text.count("\n") == 1


def test_configuration_overrides_the_store_directory(
    run_cells, text_of, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERSIST_EXT_DIR", str(tmp_path / "from-env"))
    configured = tmp_path / "from-config"
    nb = run_cells(
        [
            "%load_ext persist_ext",
            "%persist info",
            f"%config PersistMagics.directory = {str(configured)!r}",
            "%persist info",
        ]
    )
    assert str(tmp_path / "from-env") in text_of(nb.cells[1])
    assert str(configured) in text_of(nb.cells[3])


def test_ipython_config_file_sets_the_store_directory(
    run_cells, text_of, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # README: `c.PersistMagics.directory = ...` in ipython_config.py wins over $PERSIST_EXT_DIR.
    monkeypatch.setenv("PERSIST_EXT_DIR", str(tmp_path / "from-env"))
    configured = tmp_path / "from-config-file"
    profile = tmp_path / "ipython" / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_config.py").write_text(
        f"c.PersistMagics.directory = {str(configured)!r}\n"
        "c.PersistMagics.quiet = True\nc.PersistMagics.min_time = 0\n"
    )
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    cell = "%%persist cfg\nvalue = 41 + 1"
    nb = run_cells(
        ["%load_ext persist_ext", "%persist info", cell, cell, "value", "%persist show cfg"]
    )
    assert str(configured) in text_of(nb.cells[1])
    assert "restored 1 times" in text_of(nb.cells[5])  # min_time = 0: the repeat was a hit
    assert "restored" not in text_of(nb.cells[3])  # quiet: no notice after that hit
    assert text_of(nb.cells[4]).strip() == "42"


def test_quickstart_example_runs_then_restores(run_notebook, text_of, tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "00-quickstart.ipynb", tmp_path)
    for run in ("first", "second"):
        nb = run_notebook(tmp_path / "00-quickstart.ipynb")
        code = [cell for cell in nb.cells if cell.cell_type == "code"]
        errors = [out for cell in code for out in cell.outputs if out.output_type == "error"]
        assert not errors, run
        text = "".join(text_of(cell) for cell in code)
        assert "sum of squares: 285" in text  # the replayed output on the second run
        assert "[0, 1, 4, 9, 16]" in text
    assert "restored" in text
    # What the sidebar's server extension will list for this folder.
    stores, _ = find_stores(tmp_path)
    assert [(store.path, store.error) for store in stores] == [(".persist", None)]
    assert stores[0].entries >= 1

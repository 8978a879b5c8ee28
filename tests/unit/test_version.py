"""The Python package and its JupyterLab extension carry one version (js/package.json)."""

from __future__ import annotations

import json
from pathlib import Path

import persist_ext

ROOT = Path(__file__).resolve().parents[2]


def test_python_version_is_the_js_package_version() -> None:
    declared = json.loads((ROOT / "js" / "package.json").read_text())["version"]
    assert persist_ext.__version__ == declared


def test_shipped_labextension_has_the_same_version() -> None:
    shipped = Path(persist_ext.__file__).parent / "labextension" / "package.json"
    assert shipped.is_file(), "the front end was not built: run `make install` or `make test`"
    assert json.loads(shipped.read_text())["version"] == persist_ext.__version__

"""``persist_ext.__all__`` lists exactly the public names of the package namespace.

(Its order is kept by ruff's RUF022.)
"""

from __future__ import annotations

import types

import persist_ext


def test_all_matches_public_namespace() -> None:
    public = {
        name
        for name, value in vars(persist_ext).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    public.discard("annotations")
    public |= set(persist_ext._LAZY)  # widgets, loaded on first access
    exported = set(persist_ext.__all__) - {"__version__"}
    assert exported == public - {"load_ipython_extension", "unload_ipython_extension"}


def test_every_exported_name_is_documented() -> None:
    for name in persist_ext.__all__:
        obj = getattr(persist_ext, name)
        if callable(obj):
            assert obj.__doc__, f"{name} has no docstring"


def test_import_is_cheap() -> None:
    import subprocess
    import sys

    code = "import sys, persist_ext; print('ipywidgets' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]

"""Lower layers never import upper ones (see ARCHITECTURE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "persist_ext"
RANK = {"storage": 0, "features": 1, "interfaces": 2}


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) >= 2 and parts[0] == "persist_ext" and parts[1] in RANK:
        return RANK[parts[1]]
    return None


def _imports(path: Path) -> list[str]:
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = (
        module.rsplit(".", 1)[0] if path.name != "__init__.py" else module[: -len(".__init__")]
    )
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append(name)
            found += [f"{name}.{alias.name}" for alias in node.names]
    return found


SOURCES = sorted(
    p
    for p in PACKAGE.rglob("*.py")
    if _layer(".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts)) is not None
)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_only_its_layer_or_below(path: Path) -> None:
    own = _layer(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
    upward = [name for name in _imports(path) if (_layer(name) or -1) > own]
    assert not upward, f"{path.name} imports an upper layer: {upward}"

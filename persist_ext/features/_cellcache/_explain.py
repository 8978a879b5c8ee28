"""Explain a miss: which key components differ between a stored entry and the cell now.

``%persist why`` shows an :class:`Explanation`; its lines name the exact component: the code,
an input, a function (and, when a function changed only because a helper it calls changed,
the helper), a global a function reads, a file, a package version.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

__all__ = ["Difference", "Explanation", "diff_components"]

_KIND_LABEL = {
    "input": "input",
    "string": "name used in a string",
    "state": "global state",
    "global": "global (read by a function)",
    "function": "function",
    "module": "module",
    "file": "file",
    "package": "package",
    "setorder": "the order of set",
}


@dataclass(frozen=True)
class Difference:
    """One key component that differs.

    ``kind`` is ``code``, ``input``, ``global``, ``function``, ``module``, ``file``,
    ``package`` or ``python``; ``change`` is ``changed``, ``added`` or ``removed``.
    """

    kind: str
    name: str
    change: str
    old: str | None
    new: str | None
    message: str


def _split(component: str) -> tuple[str, str]:
    kind, sep, name = component.partition(":")
    return (kind, name) if sep else (component, "")


def _message(kind: str, name: str, change: str, old: str | None, new: str | None, via: str) -> str:
    if kind == "code":
        return "the cell's code changed (beyond comments and formatting)"
    if kind == "python":
        return f"Python version changed: {old} -> {new}"
    if kind == "hashseed":
        return (
            "the string hash seed differs from the stored run's (a new kernel): the cell "
            "iterates a set, whose order it sets (sort it, or fix PYTHONHASHSEED, to restore "
            "it in any kernel)"
        )
    if kind == "aliases":
        return (
            "what its inputs share changed (one object a=b, one inside another row<grid, "
            f"arrays sharing memory a~b): now {new or 'nothing'}, was {old or 'nothing'}"
        )
    if kind == "setorder" and change == "changed":
        return f"set {name} iterates in another order (the cell walks it)"
    if kind == "logging":
        return "the logging configuration changed (a logger's level, handlers or format)"
    if kind == "package":
        if change == "changed":
            return f"package {name} version changed: {old} -> {new}"
        return f"package {name} {'is now used' if change == 'added' else 'is no longer used'}"
    label = _KIND_LABEL.get(kind, kind)
    if kind == "file":
        if new == "missing":
            return f"file {name} no longer exists"
        if old == "missing":
            return f"file {name} was created"
    if change == "added":
        return f"{label} {name} is new to the key (it was not defined or not read before)"
    if change == "removed":
        return f"{label} {name} is no longer part of the key"
    if kind == "function" and via:
        return f"function {name} changed through the code it calls ({via})"
    if kind == "module" and old and new and "." not in old and old != new and len(old) < 32:
        return f"module {name} now refers to {new} (was {old})"
    return f"{label} {name} changed"


def diff_components(
    old: dict[str, str],
    new: dict[str, str],
    reaches: dict[str, list[str]] | None = None,
) -> list[Difference]:
    """The components that differ, code first, then in a stable order.

    ``reaches`` (from the new key) lets a function that changed only because a helper it
    calls changed point at that helper.

    Examples
    --------
    >>> [d.message for d in diff_components({"code": "a", "input:x": "1"},
    ...                                     {"code": "a", "input:x": "2"})]
    ['input x changed']
    """
    reaches = reaches or {}
    changed_functions = {
        _split(c)[1]
        for c in set(old) | set(new)
        if c.startswith("function:") and old.get(c) != new.get(c)
    }
    found: list[Difference] = []
    order = {"code": 0, "input": 1, "string": 1, "global": 2, "function": 3, "module": 4, "file": 5}
    for component in sorted(set(old) | set(new), key=lambda c: (order.get(_split(c)[0], 9), c)):
        before, after = old.get(component), new.get(component)
        if before == after:
            continue
        change = "added" if before is None else "removed" if after is None else "changed"
        kind, name = _split(component)
        via = ""
        if kind == "function" and change == "changed":
            helpers = [h for h in reaches.get(component, []) if h in changed_functions]
            via = ", ".join(sorted(helpers))
        found.append(
            Difference(
                kind, name, change, before, after, _message(kind, name, change, before, after, via)
            )
        )
    return found


@dataclass
class Explanation:
    """The answer to ``%persist why``: a headline and the differing components.

    Shown as text in a terminal and as a small HTML list in a notebook.
    """

    name: str
    headline: str
    differences: list[Difference] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        return [self.headline, *(f"  - {d.message}" for d in self.differences), *self.details]

    def __str__(self) -> str:
        return "\n".join(self.lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(d.message)}</li>" for d in self.differences)
        extra = "".join(f"<div><code>{html.escape(line)}</code></div>" for line in self.details)
        body = f"<ul>{items}</ul>" if items else ""
        return f"<div><b>{html.escape(self.headline)}</b>{body}{extra}</div>"

"""How a ``%%persist`` cell's body runs: as the cell's own code, the way a plain cell's does.

The magic runs the body itself (``_capture._run_cell``), not as a second cell: no second
``pre_run_cell``/``post_run_cell``, the stack room, numbering and errors of a plain cell.
"""

from __future__ import annotations

import warnings
from typing import Any

from IPython.utils.capture import capture_output

DEEPEST = (
    "def deepest(n=0):\n"
    "    try:\n"
    "        return deepest(n + 1)\n"
    "    except RecursionError:\n"
    "        return n\n"
)


def test_a_cached_cell_has_the_stack_room_of_a_plain_cell(ip: Any) -> None:
    """The recursion limit is raised by the levels the magic adds (a dozen), whether the
    cell is stored or looked up first. To within a few levels: a plain cell's own room moves
    as the interpreter specializes the code around it (989 then 990 in one process), and the
    levels between the measures moved by two in one CI run (946 plain, 948 cached); without
    the raise the cached room is 14 levels short."""
    ip.run_cell(DEEPEST)
    plain, cached = [], []
    with capture_output():
        for _ in range(6):
            assert ip.run_cell("plain_room = deepest()").success
            plain.append(ip.user_ns["plain_room"])
            assert ip.run_cell("%%persist room --refresh\ncached_room = deepest()\n").success
            cached.append(ip.user_ns["cached_room"])
        assert ip.run_cell("%%persist\nnew_room = deepest()\n").success
    cached.append(ip.user_ns["new_room"])
    assert min(plain) > 500
    assert max(cached) - min(plain) <= 3, (plain, cached)
    assert max(plain) - min(cached) <= 3, (plain, cached)
    assert ip.run_cell("import sys\nafter = sys.getrecursionlimit()").success
    assert ip.user_ns["after"] == 1000


def test_the_body_runs_without_a_second_cell_s_events(ip: Any) -> None:
    """User hooks see one cell (``pre_run_cell``, ``post_run_cell``, ``pre_execute``), as
    for a plain cell: ``%autoreload`` and other hooks run once. ``post_execute`` comes once
    more, while the outputs are recorded (matplotlib's inline figures are shown there)."""
    seen: list[str] = []
    events = ["pre_execute", "pre_run_cell", "post_run_cell", "post_execute"]
    hooks = {e: (lambda *a, e=e: seen.append(e)) for e in events}
    for event, hook in hooks.items():
        ip.events.register(event, hook)
    try:
        assert ip.run_cell("plain = 1").success
        plain = list(seen)
        seen.clear()
        with capture_output():
            assert ip.run_cell("%%persist\ncached = 1\n").success
    finally:
        for event, hook in hooks.items():
            ip.events.unregister(event, hook)
    assert sorted(plain) == sorted(events)
    assert sorted(seen) == sorted([*events, "post_execute"])


def test_a_failing_body_is_numbered_and_shown_as_a_plain_cell(ip: Any) -> None:
    with capture_output() as plain:
        ip.run_cell("1 / 0")
    with capture_output() as cached:
        ip.run_cell("%%persist\n1 / 0\n")
    number = ip.execution_count - 1
    assert f"In[{number - 1}]" in plain.stdout or "ZeroDivisionError" in plain.stdout
    assert "ZeroDivisionError" in cached.stdout
    assert "run_cell_magic" not in cached.stdout


def test_syntax_and_transform_errors_are_shown_as_ipython_shows_them(ip: Any) -> None:
    with capture_output() as out:
        result = ip.run_cell("%%persist\nx = (\n")
    assert not result.success
    assert "SyntaxError" in out.stdout + out.stderr


def test_top_level_await_in_a_cached_cell(ip: Any) -> None:
    with capture_output():
        cell = "%%persist\nimport asyncio\nawaited = await asyncio.sleep(0, 7)\n"
        assert ip.run_cell(cell).success
    assert ip.user_ns["awaited"] == 7


BODIES = [
    "x = 1\ny = x + 1",
    "x = 1\ny = x + 1\n",
    "x = 1\ny = 2\n\n",  # a blank last line: kept as IPython keeps it
    "x = 1\n\n\ny = 2",
    "def f(a):\n    return a * 2\n\nz = f(3)",
    "x = 1\n    \ny = 2",  # a line of blanks: dedent empties it
    "\nx = 1\ny = 2",  # a leading empty line: removed
    "  x = 1\n  y = 2",  # indented: dedented
    "\tx = 1\n\ty = 2",
    ">>> x = 1\n>>> y = 2",  # pasted prompts: stripped
    "In [1]: x = 1\n   ...: y = 2",
    "x = [1,\n     2]\n...",
    "files = !ls\nn = len(files)",
    "%time y = 1\nz = 2",
    "x = 1\nx?",
    "v = 3 % 2\nw = v",
    "a = 1\nb = a != 2",
    "a = 1\n/print a",
    "a = 1\n,print a b",
    "s = '''\n>>> not a prompt\n'''\nt = 1",
    "x = 1\r\ny = 2",
    "who",  # one line: the prefilter makes it %who
    "x = 1",
    "x = 1\n",
    "s = 'a\x0cb'",  # a form feed: a line break to str.splitlines, so no prefilter
]


def test_a_body_s_transform_is_ipython_s_with_or_without_the_fast_path(ip: Any) -> None:
    """``transformed`` skips IPython's tokenizing transforms for plain Python
    (``_untouched``; one line still goes through the prefilter, which makes ``who`` a
    magic); whatever the text, what it gives is what IPython gives, and with a transformer
    of the user's installed IPython is always asked."""
    from persist_ext.features._cellcache import _capture

    fast = [b for b in BODIES if _capture._untouched(ip, b.removesuffix("\n") + "\n") is not None]
    for body in BODIES:
        got = _capture.transformed(ip, body, new_run=True)
        # The plain cell's transform: its text is the body, or the body without the final
        # newline IPython adds (which transform_cell adds back); a blank last line stays.
        assert got == ip.transform_cell(body), body
        assert got == ip.transform_cell(body.removesuffix("\n") + "\n"), body
    # Taken where it applies, and only there.
    assert fast == [*BODIES[:5], *BODIES[-4:]]

    def shout(lines: list[str]) -> list[str]:
        return [line.replace("x = 1", "x = 2") for line in lines]

    ip.input_transformers_cleanup.append(shout)
    try:
        assert _capture._untouched(ip, "x = 1\ny = 2") is None
        assert _capture.transformed(ip, "x = 1\ny = 3") == "x = 2\ny = 3\n"
    finally:
        ip.input_transformers_cleanup.remove(shout)


def test_writes_to_the_stream_itself_are_recorded(ip: Any, monkeypatch: Any) -> None:
    """A logging handler made before the cell holds the stream object itself, not
    ``sys.stderr`` as the cell sees it (a tee): its writes are recorded too, once."""
    import io
    import sys

    from persist_ext.features._cellcache._capture import recording

    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    held = sys.stderr
    with recording(ip) as events:
        held.write("direct\n")
        print("through sys.stderr", file=sys.stderr)
    assert "".join(e["text"] for e in events) == "direct\nthrough sys.stderr\n"
    assert stream.getvalue() == "direct\nthrough sys.stderr\n"
    assert "write" not in vars(stream)  # the stream's own write again


def test_compiler_warnings_show_as_often_as_for_a_plain_cell(ip: Any) -> None:
    """IPython's ``await`` check compiles the cell before it runs; its compiler warnings
    (``"is" with a literal``) show once per compile. The body gets as many checks as the
    plain cell got from its front end (here the shell's ``run_cell``: one)."""

    def shown(cell: str) -> list[str]:
        with warnings.catch_warnings(record=True) as caught, capture_output():
            warnings.simplefilter("always", SyntaxWarning)
            assert ip.run_cell(cell).success
        return [str(w.filename) for w in caught if w.category is SyntaxWarning]

    plain = shown("same_plain = 1 is 1.0")
    cached = shown("%%persist --refresh\nsame_cached = 1 is 1.0\n")
    assert plain.count("<>") == cached.count("<>") == 1
    assert len(plain) == len(cached) == 2  # and the compile that runs it


def test_a_cold_body_is_parsed_once_into_the_tree_the_compiler_makes(ip: Any) -> None:
    """The analysis' parse is what the body's run compiles (``_analysis.take_tree``): for
    every body above the tree is the one IPython's compiler makes, line numbers included.
    A cold cell is parsed once; with a ``__future__`` flag in force, the compiler parses
    it again (the flags may change the tree); a parse that can warn is not shared."""
    import ast

    from IPython.core.compilerop import CachingCompiler

    compiler = CachingCompiler()
    for body in BODIES:
        text = ip.transform_cell(body)
        assert ast.dump(ast.parse(text), include_attributes=True) == ast.dump(
            compiler.ast_parse(text), include_attributes=True
        ), body

    parses: list[str] = []
    original = ip.compile.ast_parse

    def bodies(sources: list[str]) -> list[str]:  # not the outer cells' magic calls
        return [s for s in sources if not s.startswith("get_ipython()")]

    def counted(source: str, *args: Any, **kwargs: Any) -> Any:
        parses.append(source)
        return original(source, *args, **kwargs)

    ip.compile.ast_parse = counted
    try:
        with capture_output():
            assert ip.run_cell("%%persist\nonce = [1, 2]\ntwice = once * 2\n").success
            assert bodies(parses) == []  # the analysis' tree ran
            assert ip.user_ns["twice"] == [1, 2, 1, 2]
            parses.clear()
            assert ip.run_cell("%%persist\nwarned = '\\d'\n").success
            assert bodies(parses) == ["warned = '\\d'\n"]
            flags = ip.compile.flags
            ip.compile.flags |= ast.PyCF_TYPE_COMMENTS  # any flag beyond the plain ones
            parses.clear()
            try:
                assert ip.run_cell("%%persist\nflagged = 3\n").success
            finally:
                ip.compile.flags = flags
            assert bodies(parses) == ["flagged = 3\n"]
    finally:
        del ip.compile.ast_parse
    assert ip.compile.ast_parse == original

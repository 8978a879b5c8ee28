"""What a cell sets on the IPython shell itself, which every later cell goes through.

The notebook runs plain, then under ``%%persist`` cold, warm in a fresh kernel, after an
upstream edit and after the edit is undone: every run must show what a plain run shows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain, why_of
from .test_cellcache_fidelity_notebooks import CACHED

pytestmark = pytest.mark.kernel

# An input transformer, an AST transformer and a custom exception handler added by cells: a
# hit set none of them, so a later cell printed 7 where a plain run's transformer made it 70,
# and a ZeroDivisionError showed a traceback where the plain run's handler printed a line.
# Such cells run, and %persist why says which state they change.
HOOKS = [
    "V = 1\nimport ast\ndef shout(lines):\n    return [l.replace('quiet', 'LOUD') for l in lines]\n"
    "class Tenfold(ast.NodeTransformer):\n    def visit_Constant(self, node):\n"
    "        if node.value == 7:\n            return ast.copy_location(ast.Constant(70), node)\n"
    "        return node",
    CACHED + "get_ipython().input_transformers_post.append(shout)\nt1 = V",
    CACHED + "get_ipython().ast_transformers.append(Tenfold())\nt2 = V",
    CACHED + "get_ipython().set_custom_exc((ZeroDivisionError,), "
    "lambda self, etype, value, tb, tb_offset=None: print('custom', V))\nt3 = V",
    CACHED + "t4 = V * 2",
    "quiet = 7\nprint(quiet)",
    "1 / 0",
]


def test_what_a_cell_sets_on_the_shell_is_never_skipped(tmp_path: Path) -> None:
    assert_runs_match_plain(HOOKS, ["t1", "t2", "t3", "t4"], ("V = 1", "V = 2"), tmp_path)
    why = why_of(HOOKS, ["c1", "c2", "c3"], tmp_path / "cached")
    for text in why:
        assert "the shell's input/AST transformers or exception handler" in text


# ``_ = plt.hist(...)``: a cell binding ``_`` itself (to hide a value). The shell then stops
# updating ``_`` with the values later cells show, since the user owns it; a hit left ``_``
# out as one of the shell's history names, so the next shown value replaced it (5 where a
# plain run keeps [1, 2]).
UNDERSCORE = [
    "V = 1",
    CACHED + "_ = [V, 2]\nx = V",
    "5",
    "print(_)",
    CACHED + "y = _[0] if isinstance(_, list) else _\ny",
]


def test_a_cell_binding_underscore_keeps_it_as_a_plain_run_does(tmp_path: Path) -> None:
    assert_runs_match_plain(UNDERSCORE, ["x", "y"], ("V = 1", "V = 2"), tmp_path)


# ``out = sys.stdout`` in a recorded cell bound the recorder's tee that stood in for the
# stream during the run (``out is sys.stdout`` was False afterwards, and what was written to
# it went on being recorded into a finished run), and the kernel's stream cannot be stored:
# the cell warned on every run that it could not be cached. Now the streams are tapped in
# place, so ``out`` is the kernel's stream; its cell runs, quietly, and says why.
STREAMS = [
    "import sys\nV = 1",
    CACHED + "out = sys.stdout\nerr = sys.stderr\nt = V * 2",
    CACHED + "kinds = (type(sys.stdout).__name__, type(sys.stderr).__name__)\nu = V * 3",
    "print('to out', V, file=out)\nprint('to err', file=err)",
]
STREAMS_CHECKS = [
    "t",
    "u",
    "out is sys.stdout",
    "err is sys.stderr",
    "kinds",
]


def test_a_variable_holding_the_kernels_stream_makes_its_cell_run_quietly(tmp_path: Path) -> None:
    assert_runs_match_plain(STREAMS, STREAMS_CHECKS, ("V = 1", "V = 2"), tmp_path)
    (why,) = why_of(STREAMS, ["c1"], tmp_path / "cached")
    assert "'err' is one of the kernel's own objects" in why

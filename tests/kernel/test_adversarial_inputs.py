"""Inputs hidden behind decorators: a notebook function under ``functools.lru_cache``."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain, why_of
from .conftest import outputs_text
from .test_cellcache_fidelity_notebooks import CACHED, build, execute, seen

pytestmark = pytest.mark.kernel

# functools decorators written in C give objects that are not functions: the globals the
# wrapped function reads (OFFSET) are inputs of the cells that call it, directly or through
# another helper.
DECORATED = [
    "import functools",
    "OFFSET = 100",
    "@functools.lru_cache\ndef shifted(x):\n    return x + OFFSET\n"
    "def doubled(x):\n    return shifted(x) * 2",
    CACHED + "direct = shifted(1)",
    CACHED + "through = doubled(1)",
    CACHED + "moved = OFFSET + 1",
]
DECORATED_CHECKS = ["direct", "through", "shifted.cache_info()"]


def test_globals_read_by_a_cached_function_are_inputs(tmp_path: Path) -> None:
    # Calling it fills its cache, which a hit would leave empty: those cells run.
    assert_runs_match_plain(DECORATED, DECORATED_CHECKS, ("OFFSET = 100", "OFFSET = 200"), tmp_path)


# State a notebook function keeps between calls: a counter in a closure (called directly or
# through another function) and a mutable default. A hit calls nothing, so the next call
# after it would see the old state.
KEPT = [
    "def make(start):\n    n = [start]\n    def inc():\n        n[0] += 1\n        return n[0]\n"
    "    return inc",
    "counter = make(0)\nS = 1\ndef step():\n    return counter()\n"
    "def acc(x, seen=[]):\n    seen.append(x)\n    return len(seen)",
    CACHED + "first = step() + S",
    CACHED + "count = acc(S)",
    CACHED + "later = S * 2",
    "second = counter()\nagain = acc(S)",
]


def test_what_a_function_keeps_between_calls_is_never_skipped(tmp_path: Path) -> None:
    checks = ["first", "second", "count", "again", "later"]
    assert_runs_match_plain(KEPT, checks, ("S = 1", "S = 2"), tmp_path)
    closure, default = why_of(KEPT, ["c2", "c3"], tmp_path / "cached")
    assert "it changes state kept by step between calls" in closure
    assert "state kept by acc" in default


# Attributes of a notebook function: one it sets on itself when called (``f.calls``), and one
# an upstream cell gives it and it reads (``scale.factor``). They were no part of the code
# digest: a hit left ``f.calls`` unset (AttributeError where a re-run prints 1), and an
# upstream edit of ``scale.factor`` restored the old product.
FUNCTION_ATTRIBUTES = [
    "S = 1\ndef f():\n    f.calls = getattr(f, 'calls', 0) + 1\n    return f.calls\n"
    "def scale(x):\n    return x * scale.factor\nscale.factor = S",
    CACHED + "r = f()",
    CACHED + "product = scale(10)",
    "print(f.calls)",
]


def test_attributes_of_notebook_functions_are_part_of_their_code(tmp_path: Path) -> None:
    assert_runs_match_plain(FUNCTION_ATTRIBUTES, ["r", "product"], ("S = 1", "S = 2"), tmp_path)


# Inputs outside the namespace: a name an earlier cell put in ``builtins`` (read by the cell
# as a bare name), and numpy's error handling, which decides whether a division by zero
# raises (or warns) even when the run that was stored showed nothing.
OUTSIDE = [
    "import builtins\nimport numpy as np\nS = 1",
    "builtins.SHARED_SCALE = S * 3\nnp.seterr(all='ignore' if S == 1 else 'raise');",
    CACHED + "scaled = SHARED_SCALE * 2",
    CACHED + "try:\n    ratio = float((np.array([1.0]) / 0)[0])\n"
    "except FloatingPointError:\n    ratio = 'raised'",
    CACHED + "doubled = [S] * 2",
]


def test_builtins_set_by_a_cell_and_numpy_error_handling_are_inputs(tmp_path: Path) -> None:
    checks = ["scaled", "ratio", "doubled"]
    assert_runs_match_plain(OUTSIDE, checks, ("S = 1", "S = 2"), tmp_path)


# A function whose default value is a generator (pytudes' Dice Baseball: ``def simulate(N,
# inning=inning, events=ONBG)`` over an endless generator of events): its code digest cannot
# be made, and the cached cell calling it raised FingerprintError where a re-run works.
GENERATOR_DEFAULT = [
    "def gen():\n    while True:\n        yield 1\nG = gen()",
    "def f(n, events=G):\n    return sum(next(events) for _ in range(n))",
    "N = 3",
    CACHED + "total = f(N)",
    CACHED + "doubled = N * 2",
    "after = next(G)",
]


def test_a_function_whose_default_cannot_be_fingerprinted_makes_the_cell_run(
    tmp_path: Path,
) -> None:
    checks = ["total", "doubled", "after"]
    plain_dir, cached_dir = tmp_path / "plain", tmp_path / "cached"
    plain_dir.mkdir()
    cached_dir.mkdir()
    plain = seen(execute(build(GENERATOR_DEFAULT, checks, cached=False), plain_dir))
    for _ in ("cold", "warm"):
        ran = execute(build(GENERATOR_DEFAULT, checks, cached=True), cached_dir)
        assert not [o for c in ran.cells for o in c.outputs if o.output_type == "error"]
        # The cell that calls f runs (and says why on stderr); what the notebook computes
        # and leaves is what the plain run does.
        assert seen(ran)[-1] == plain[-1]
        assert "input 'f' cannot be fingerprinted" in outputs_text(ran.cells[4])
    [why] = why_of(GENERATOR_DEFAULT, ["c3"], cached_dir)
    assert "cannot be fingerprinted: f" in why


# The environment a cell reads (``os.environ.get``, ``os.getenv`` in a helper): set by an
# upstream cell and edited there, the cell read another value than when it was stored. A
# variable nobody reads (a kernel's own, different in every kernel) is no reason to run.
ENVIRONMENT = [
    "import os\nM = 'a'",
    "os.environ['ADVERSARIAL_MODE'] = M\nos.environ['ADVERSARIAL_OTHER'] = M",
    "def mode():\n    return os.getenv('ADVERSARIAL_MODE')",
    CACHED + "direct = os.environ.get('ADVERSARIAL_MODE', 'unset')",
    CACHED + "helped = mode()",
    CACHED + "present = 'ADVERSARIAL_MODE' in os.environ",
    CACHED + "unrelated = len('ADVERSARIAL')",
]


def test_environment_variables_a_cell_reads_are_inputs(tmp_path: Path) -> None:
    checks = ["direct", "helped", "present", "unrelated"]
    assert_runs_match_plain(ENVIRONMENT, checks, ("M = 'a'", "M = 'b'"), tmp_path)
    (why,) = why_of(
        [c.replace("M = 'a'", "M = 'c'") for c in ENVIRONMENT[:4]], ["c3"], tmp_path / "cached"
    )
    assert "ADVERSARIAL_MODE" in why


# A file the cell looks for (``os.path.exists``: no ``open``) that did not exist when it was
# stored: made by an edited upstream cell, the cell would be restored with ``False``.
LOOKED_FOR = [
    "import os\nMAKE = False",
    "if MAKE:\n    open('marker.txt', 'w').write('x')\nelif os.path.exists('marker.txt'):\n"
    "    os.remove('marker.txt')",
    CACHED + "flag = os.path.exists('marker.txt')",
    CACHED + "doubled = [MAKE] * 2",
]


def test_a_file_the_cell_looked_for_and_did_not_find_is_an_input(tmp_path: Path) -> None:
    edit = ("MAKE = False", "MAKE = True")
    assert_runs_match_plain(LOOKED_FOR, ["flag", "doubled"], edit, tmp_path)


# A widget holds its comm, the comm the kernel, the kernel every variable of the notebook:
# a cell reading one runs (as it did) and says why, without walking the whole session
# first (50-140 ms a cell in ipywidgets' "Using Interact").
WIDGET_INPUT = [
    "from ipywidgets import interactive\ndef f(a, b):\n    return a + b",
    "w = interactive(f, a=10, b=20)",
    CACHED + "chosen = dict(w.kwargs)",
]


def test_a_cell_reading_a_widget_runs_and_says_it_holds_the_session(tmp_path: Path) -> None:
    ran = execute(build(WIDGET_INPUT, ["chosen"], cached=True), tmp_path)
    note = outputs_text(ran.cells[3])  # after the %load_ext cell and the two plain ones
    assert "input 'w' cannot be fingerprinted" in note, note
    assert "holds the IPython shell or kernel" in note, note
    assert "chosen => {'a': 10, 'b': 20}" in outputs_text(ran.cells[-1])


# The shell's history of values: ``_`` (the last value shown), ``_3`` (what ``Out[3]`` shows)
# are names IPython lists as its own, so they were left out of the key and a cell reading
# one was restored with the old value after an upstream edit; ``Out[3]`` (the whole history,
# which other cells change) makes the cell run.
HISTORY = [
    "V = 2",
    "V * 3",
    CACHED + "u = _ + 1\nu",
    CACHED + "n3 = _3 + 1\nlast_input = _i3\nn3",
    CACHED + "o = Out[3] + 1\no",
    CACHED + "import time\ntime.sleep(0.3)\nslow = V + 1",
]


def test_values_of_the_shell_history_a_cell_reads_are_inputs(tmp_path: Path) -> None:
    checks = ["u", "n3", "last_input", "o", "slow"]
    assert_runs_match_plain(HISTORY, checks, ("V = 2", "V = 3"), tmp_path)
    underscore, whole = why_of(HISTORY, ["c2", "c4"], tmp_path / "cached")
    assert "history" not in underscore
    assert "IPython's history (Out)" in whole

"""State kept in modules, functions and the interpreter, changed by a cached cell.

A hit imports modules and defines functions again instead of storing them, so what a cell
set on them (``mod.X = 1``, ``mod.CONFIG["k"] = 1``, ``f.calls += 1``) must make it run;
interpreter settings (recursion limit, int digits, decimal context) are re-applied.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._adversarial import assert_runs_match_plain, why_of
from .conftest import outputs_text
from .test_cellcache_fidelity_notebooks import CACHED, build, execute

pytestmark = pytest.mark.kernel

MODULES = [
    "import os, sys, json, decimal\nos.makedirs('lib', exist_ok=True)\n"
    "with open('lib/local_settings.py', 'w') as fh:\n    fh.write('CONFIG = {}\\nX = 1\\n')\n"
    "sys.path.insert(0, os.path.abspath('lib'))\nimport local_settings",
    "V = 2",
    "def helper():\n    return V\nhelper.calls = 0",
    CACHED + "local_settings.CONFIG['v'] = V\nlocal_settings.X = V\njson.adversarial = V\n"
    "configured = True",
    CACHED + "helper.calls += V\ncounted = True",
    CACHED + "sys.setrecursionlimit(3000 + V)\ndecimal.getcontext().prec = 10 + V\nlimited = True",
]
MODULES_CHECKS = [
    "local_settings.CONFIG",
    "local_settings.X",
    "getattr(json, 'adversarial', None)",
    "helper.calls",
    "sys.getrecursionlimit()",
    "decimal.getcontext().prec",
    "str(decimal.Decimal(1) / decimal.Decimal(7))",
]


def test_what_a_cell_sets_on_modules_and_functions_is_never_skipped(tmp_path: Path) -> None:
    assert_runs_match_plain(MODULES, MODULES_CHECKS, ("V = 2", "V = 3"), tmp_path)
    settings, helper = why_of(MODULES, ["c3", "c4"], tmp_path / "cached")
    assert "module local_settings" in settings
    assert "helper" in helper


# A registry a notebook class fills from __init__: the class attribute is the same list
# object after the cell, but its contents changed, which a restore would not redo.
REGISTRY = [
    "V = 2",
    "class Registry:\n    items = []\n    def __init__(self, v):\n        self.v = v\n"
    "        Registry.items.append(v)",
    CACHED + "entry = Registry(V)",
    CACHED + "doubled = V * 2",
]


def test_a_class_registry_filled_by_a_cached_cell_is_filled_again(tmp_path: Path) -> None:
    assert_runs_match_plain(
        REGISTRY, ["Registry.items", "entry.v", "doubled"], ("V = 2", "V = 3"), tmp_path
    )


# A module's dict or list changed through a method call (``CONFIG.update``, ``REGISTRY.append``,
# ``mod.__dict__.setdefault``), directly or by a function of a local module: the object is the
# same after the cell, its contents are not, and a hit imports the module fresh. Cells that
# read those variables (directly or through the module's functions) are keyed by them.
METHODS = [
    "import os, sys, json\nos.makedirs('lib', exist_ok=True)\n"
    "with open('lib/method_settings.py', 'w') as fh:\n"
    "    fh.write('CONFIG = {}\\nREGISTRY = []\\nMODE = None\\n"
    "def register(v):\\n    REGISTRY.append(v)\\ndef set_mode(m):\\n    global MODE\\n"
    "    MODE = m\\n')\n"
    "sys.path.insert(0, os.path.abspath('lib'))\nimport method_settings",
    "V = 2",
    CACHED + "method_settings.CONFIG.update(v=V)\nconfigured = True",
    CACHED + "method_settings.REGISTRY.append(V)\nappended = True",
    CACHED + "method_settings.register(V * 10)\nmethod_settings.set_mode(V)\nregistered = True",
    CACHED + "json.__dict__.setdefault('adversarial_flag', V)\nflagged = True",
    CACHED + "total = sum(method_settings.REGISTRY) + len(method_settings.CONFIG)",
    CACHED + "mode = method_settings.MODE",
]
METHODS_CHECKS = [
    "total",
    "mode",
    "method_settings.CONFIG",
    "method_settings.REGISTRY",
    "method_settings.MODE",
    "getattr(json, 'adversarial_flag', None)",
]


def test_module_containers_changed_by_method_calls_are_never_skipped(tmp_path: Path) -> None:
    assert_runs_match_plain(METHODS, METHODS_CHECKS, ("V = 2", "V = 3"), tmp_path)
    registered, flagged = why_of(METHODS, ["c4", "c5"], tmp_path / "cached")
    assert "variables of local modules (method_settings)" in registered
    assert "json.__dict__" in flagged


# Libraries' registries filled by a call: a colormap registered with matplotlib (through the
# module or a name imported from it), a pandas accessor, a font, and a notebook helper that
# registers one. A hit calls nothing, so a later cell would not find what a plain run
# registered: such cells run, and ``%persist why`` names the call.
REGISTRIES = [
    "import matplotlib\nmatplotlib.use('agg')\nimport pandas as pd\n"
    "from matplotlib.colors import ListedColormap\nfrom matplotlib import colormaps",
    "V = 2",
    CACHED + "matplotlib.colormaps.register(ListedColormap(['red'] * V, name='adv_direct'))\n"
    "direct = V",
    CACHED + "colormaps.register(ListedColormap(['blue'] * V, name='adv_imported'))\nimported = V",
    "class Scaled:\n    def __init__(self, frame):\n        self.frame = frame\n"
    "    def total(self):\n        return float(self.frame.x.sum()) * V",
    CACHED + "pd.api.extensions.register_dataframe_accessor('adv_scaled')(Scaled)\naccessor = V",
    "def add_map(name):\n    colormaps.register(ListedColormap(['green'] * V, name=name))",
    CACHED + "add_map('adv_helper')\nhelped = V",
    CACHED + "doubled = [V] * 2",
]
REGISTRIES_CHECKS = [
    "[len(colormaps[n].colors) if n in colormaps else None "
    "for n in ('adv_direct', 'adv_imported', 'adv_helper')]",
    "pd.DataFrame({'x': [1.0, 2.0]}).adv_scaled.total() "
    "if hasattr(pd.DataFrame, 'adv_scaled') else None",
    "[direct, imported, accessor, helped, doubled]",
]


def test_library_registries_filled_by_a_cell_are_never_skipped(tmp_path: Path) -> None:
    assert_runs_match_plain(REGISTRIES, REGISTRIES_CHECKS, ("V = 2", "V = 3"), tmp_path)
    whys = why_of(REGISTRIES, ["c2", "c3", "c5", "c7"], tmp_path / "cached")
    calls = ["matplotlib.colormaps.register()", "colormaps.register()", "register_", "add_map()"]
    assert all(call in why for call, why in zip(calls, whys, strict=True)), whys


# A library's registry that is a dict subclass (matplotlib's unit converters), and the
# interpreter's limit on digits of int/str conversions: set by a cell, then relied on.
LIBRARY_STATE = [
    "import sys, datetime\nimport matplotlib.units as munits",
    "V = 2",
    "class Conv(munits.ConversionInterface):\n    scale = V",
    CACHED + "munits.registry[datetime.time] = Conv()\nconverted = V",
    CACHED + "sys.set_int_max_str_digits(1000 * V)\nlimited = V",
    CACHED + "doubled = [V] * 2",
]
LIBRARY_STATE_CHECKS = [
    "type(munits.registry.get(datetime.time)).__name__",
    "munits.registry[datetime.time].scale if datetime.time in munits.registry else None",
    "sys.get_int_max_str_digits()",
    "[converted, limited, doubled]",
]


def test_a_library_dict_and_interpreter_limits_set_by_a_cell_are_never_skipped(
    tmp_path: Path,
) -> None:
    edit = ("V = 2", "V = 3")
    assert_runs_match_plain(LIBRARY_STATE, LIBRARY_STATE_CHECKS, edit, tmp_path)


# What an upstream cell registered, read by name in a cached cell: a colormap looked up with
# ``plt.get_cmap('...')`` and a pandas accessor used as ``frame.adv_total``. Neither is a name
# the cell reads, so an upstream edit of what was registered must still make it run.
REGISTERED = [
    "import matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt\n"
    "import pandas as pd\nfrom matplotlib.colors import ListedColormap\nV = 2\nW = 1",
    "matplotlib.colormaps.register(ListedColormap([[0.1 * W, 0, 0]] * 2, name='adv_read'))",
    CACHED + "rgba = [round(float(v), 3) for v in plt.get_cmap('adv_read')(0.5)]",
    "@pd.api.extensions.register_dataframe_accessor('adv_total')\nclass Total:\n"
    "    def __init__(self, frame):\n        self.frame = frame\n"
    "    def scaled(self):\n        return float(self.frame.x.sum()) * V",
    "frame = pd.DataFrame({'x': [1.0, 2.0]})",
    CACHED + "total = frame.adv_total.scaled()",
]


def test_what_upstream_cells_registered_is_read_by_later_cells(tmp_path: Path) -> None:
    # The colormap's colors (W), then a global the accessor's method reads (V).
    for edit in (("W = 1", "W = 2"), ("V = 2", "V = 3")):
        folder = tmp_path / edit[0][0]
        folder.mkdir()
        assert_runs_match_plain(REGISTERED, ["rgba", "total"], edit, folder)


# A class of a local module holding state its functions change (ThinkStats2's thinkplot:
# ``PrePlot(2)`` sets ``_Brewer.color_iter``, which the next plotting call draws colors from),
# and a module-level instance of one of its classes. The module's own variables do not move.
MODULE_CLASSES = [
    "import pathlib, sys\npathlib.Path('brew.py').write_text('''\n"
    "class _Brewer:\n    colors = ['a', 'b', 'c', 'd', 'e']\n    color_iter = None\n"
    "    @classmethod\n    def init(cls, num):\n        cls.color_iter = iter(cls.colors[:num])\n"
    "class Options:\n    def __init__(self):\n        self.loc = 0\n"
    "OPTIONS = Options()\n"
    "def preplot(num):\n    _Brewer.init(num)\n    OPTIONS.loc = num\n"
    "def next_color():\n    if _Brewer.color_iter is None:\n        _Brewer.init(5)\n"
    "    return next(_Brewer.color_iter, None)\n''')\nsys.path.insert(0, '.')\nimport brew",
    "NUM = 2",
    CACHED + "brew.preplot(NUM)\nfirst = brew.next_color()",
    "second = brew.next_color()\nthird = brew.next_color()",
    CACHED + "doubled = NUM * 2",
]


def test_state_held_by_a_local_modules_classes_is_never_skipped(tmp_path: Path) -> None:
    checks = ["first", "second", "third", "brew.OPTIONS.loc", "doubled"]
    assert_runs_match_plain(MODULE_CLASSES, checks, ("NUM = 2", "NUM = 3"), tmp_path)
    [why] = why_of(MODULE_CLASSES, ["c2"], tmp_path / "cached")
    assert "brew" in why


# A cached cell runs ~17 levels deeper than a plain one (the magic, the cache, a nested
# run_cell): a recursion that fits in a plain cell raised RecursionError, and one failing in
# both failed elsewhere with another message (pytudes' Mean Misanthrope Density). The plain
# room here is ~972 levels (limit 1000), the nested one was ~955. A limit the cell sets stays.
RECURSION = [
    "import sys\ndef down(n):\n    return 0 if n == 0 else 1 + down(n - 1)",
    "DEPTH = 960",
    CACHED + "reached = down(DEPTH)",
    CACHED + "sys.setrecursionlimit(1200 + DEPTH)\nset_inside = sys.getrecursionlimit()",
    "after = sys.getrecursionlimit()",
]


def test_a_cached_cell_has_the_stack_room_of_a_plain_cell(tmp_path: Path) -> None:
    checks = ["reached", "set_inside", "after"]
    assert_runs_match_plain(RECURSION, checks, ("DEPTH = 960", "DEPTH = 961"), tmp_path)


def test_an_unnamed_cached_cell_has_the_stack_room_of_a_plain_cell(tmp_path: Path) -> None:
    # ``%%persist`` alone on its line (the corpus's form, no name after it).
    cells = [RECURSION[0], "%%persist\nreached = down(960)\nreached"]
    for _ in ("cold", "warm"):
        ran = execute(build(cells, ["reached"], cached=True), tmp_path)
        assert not [o for c in ran.cells for o in c.outputs if o.output_type == "error"]
        assert "reached => 960" in outputs_text(ran.cells[-1])


# A call that patches library classes: ``tqdm.pandas()`` gives pandas' frames, series and
# group-bys ``progress_apply``; a notebook function set on ``pd.Series`` by a helper. A hit
# calls nothing, so a later ``df.progress_apply`` failed after a restore in a new kernel.
PATCHED = [
    "import pandas as pd\nfrom tqdm import tqdm\nV = 2",
    CACHED + "tqdm.pandas(disable=True)\nready = V",
    "def attach(name):\n    setattr(pd.Series, name, lambda self: self * V)",
    CACHED + "attach('scaled')\nattached = V",
    CACHED + "doubled = [V] * 2",
    "frame = pd.DataFrame({'a': [1, 2]})\n"
    "print(hasattr(frame, 'progress_apply'), hasattr(pd.Series, 'scaled'))",
]


def test_library_classes_patched_by_a_call_are_never_skipped(tmp_path: Path) -> None:
    edit = ("V = 2", "V = 3")
    assert_runs_match_plain(PATCHED, ["ready", "attached", "doubled"], edit, tmp_path)
    progress, scaled = why_of(PATCHED, ["c1", "c3"], tmp_path / "cached")
    assert "attributes of library classes (DataFrame.progress_apply" in progress
    assert "Series.scaled" in scaled


# The notebook's own module (``import __main__``): its variables are the namespace, not a
# local module's data to key on (which held get_ipython, exit and quit: three warnings that
# they cannot be fingerprinted, on every run). Reading or setting names through it is like
# globals(): the cell runs, with a note.
MAIN_MODULE = [
    "import __main__\nV = 2",
    CACHED + "__main__.hidden = V * 2\nset_through = True",
    CACHED + "read_through = __main__.V * 10",
    CACHED + "doubled = [V] * 2",
]


def test_the_notebook_module_is_the_namespace(tmp_path: Path) -> None:
    checks = ["hidden", "set_through", "read_through", "doubled"]
    assert_runs_match_plain(MAIN_MODULE, checks, ("V = 2", "V = 3"), tmp_path)
    (why,) = why_of(MAIN_MODULE, ["c1"], tmp_path / "cached")
    assert "through the __main__ module" in why


# ``sys.argv`` set upstream of ``parser.parse_args()`` (a training script run as a notebook):
# the parse reads it without naming it (here a notebook helper reads it). The key left it
# out, so after the upstream edit the hit restored the old arguments (0.3 where a re-run
# gives 0.4).
ARGV = [
    "import sys\nV = 3\ndef parse():\n    return float(sys.argv[sys.argv.index('--lr') + 1])",
    "sys.argv = ['train.py', '--lr', str(V / 10)]",
    CACHED + "lr = parse()",
    CACHED + "first = sys.argv[1:]",
    CACHED + "doubled = [V] * 2",
]


def test_arguments_set_upstream_are_an_input(tmp_path: Path) -> None:
    assert_runs_match_plain(ARGV, ["lr", "first"], ("V = 3", "V = 4"), tmp_path)


# A module made at run time (``types.ModuleType`` put in ``sys.modules``, a config object
# some notebooks build) has no ``__file__``, and was taken for a built-in one: what the
# notebook set on it was no input, and after the upstream edit of ``cfg.K`` the hit restored
# the old result (6 where a re-run gives 8).
RUNTIME_MODULE = [
    "import sys, types\nV = 3\ncfg = types.ModuleType('cfg')\nsys.modules['cfg'] = cfg\ncfg.K = V",
    CACHED + "r = cfg.K * 2",
    CACHED + "doubled = [V] * 2",
]


def test_what_is_set_on_a_module_made_at_run_time_is_an_input(tmp_path: Path) -> None:
    assert_runs_match_plain(RUNTIME_MODULE, ["r"], ("V = 3", "V = 4"), tmp_path)

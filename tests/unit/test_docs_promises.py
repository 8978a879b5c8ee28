"""Promises of README.md and docs/*.md that no other test pinned, each checked as written."""

from __future__ import annotations

import inspect
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from IPython.utils.capture import capture_output
from traitlets.config import Config

import persist_ext
from persist_ext import Store, UntrustedEntryError
from persist_ext.interfaces.magics import PersistMagics
from persist_ext.storage import _trust

ROOT = Path(__file__).resolve().parents[2]
TEAM_SECRET = "a-teams-shared-secret-0123456789abcdef"


def _python_blocks(doc: str) -> list[str]:
    text = (ROOT / doc).read_text()
    return re.findall(r"```python\n(.*?)```", text, re.S)


def test_readme_persist_help_lists_every_command_readme_names(ip) -> None:
    """README: "`%persist?` shows the help"; the commands README names are all in it."""
    helptext = ip.object_inspect_text("%persist")
    readme = (ROOT / "README.md").read_text()
    named = set(re.findall(r"`%persist (\w+)", readme))
    assert {"list", "why", "clear", "info", "browse", "gc", "trust", "undo"} <= named
    for command in named:
        assert f"%persist {command}" in helptext, command


def test_readme_gc_line_runs_as_written(ip) -> None:
    """README: `%persist gc --max-size 10G --max-age 30d` keeps the store within a budget."""
    with capture_output():
        ip.run_cell("%%persist small\nsmall = list(range(100))")
    report = ip.run_line_magic("persist", "gc --max-size 10G --max-age 30d")
    assert "nothing to evict" in repr(report)
    assert "max-size 10.0 GB" in repr(report)
    assert "max-age 30d" in repr(report)


def test_readme_max_size_config_is_the_store_budget(ip) -> None:
    """README: `c.PersistMagics.max_size = "10G"` is the same budget as `gc --max-size`."""
    ip.run_line_magic("config", 'PersistMagics.max_size = "10G"')
    try:
        with capture_output():
            ip.run_cell("%%persist small\nsmall = list(range(100))")
        assert "budget: max-size 10.0 GB" in repr(ip.run_line_magic("persist", "info"))
    finally:
        ip.run_line_magic("config", 'PersistMagics.max_size = ""')


def test_readme_secret_file_config_signs_with_that_secret(
    ip, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README, security.md: `c.PersistMagics.secret_file` is the secret entries are signed with."""
    monkeypatch.delenv(_trust.ENV_SECRET, raising=False)
    previous = os.environ.get(_trust.ENV_SECRET_FILE)
    if previous is not None:  # registered now, so that teardown puts it back whatever happens
        monkeypatch.setenv(_trust.ENV_SECRET_FILE, previous)
    (tmp_path / "team").write_text(TEAM_SECRET + "\n")
    ip.run_line_magic("config", f"PersistMagics.secret_file = {str(tmp_path / 'team')!r}")
    try:
        with Store(tmp_path / "s") as store:
            store.set("x", 1)
            assert store.get("x") == 1
    finally:
        ip.run_line_magic("config", "PersistMagics.secret_file = ''")
        if previous is not None:
            monkeypatch.setenv(_trust.ENV_SECRET_FILE, previous)
    # Back on the usual secret, the entry signed with the team's is refused, never unpickled.
    with Store(tmp_path / "s") as store, pytest.raises(UntrustedEntryError):
        store.get("x")
    monkeypatch.setenv(_trust.ENV_SECRET, TEAM_SECRET)
    with Store(tmp_path / "s") as store:
        assert store.get("x") == 1


def test_readme_persist_trust_magic_resigns_a_store(
    ip, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README: `%persist trust DIR` re-signs a store you vouch for, like `persist_ext.trust`."""
    with monkeypatch.context() as other:
        other.setenv(_trust.ENV_SECRET, TEAM_SECRET)
        with Store(tmp_path / "theirs") as store:
            store.set("x", {"a": 1})
    with Store(tmp_path / "theirs") as store, pytest.raises(UntrustedEntryError):
        store.get("x")
    report = ip.run_line_magic("persist", f"trust {tmp_path / 'theirs'}")
    assert (report.signed, report.already) == (1, 0)
    assert "1 entries signed" in repr(report)
    with Store(tmp_path / "theirs") as store:
        assert store.get("x") == {"a": 1}
    assert persist_ext.trust(tmp_path / "theirs").already == 1


def test_cell_cache_doc_configuration_block_is_accepted_and_its_defaults_are_true(ip) -> None:
    """docs/cell-cache.md "Configuration": every line is a real trait taking that value, and
    the values shown are the defaults (the directory excepted: its comment gives the default).
    """
    (block,) = [b for b in _python_blocks("docs/cell-cache.md") if "c.PersistMagics." in b]
    c = Config()
    exec(block, {"c": c})  # the documentation's own example
    documented = dict(c.PersistMagics)
    traits = PersistMagics.class_traits(config=True)
    assert set(documented) <= set(traits)
    magics = PersistMagics(shell=ip, config=c)
    for name, value in documented.items():
        assert getattr(magics, name) == value, name
        if name != "directory":
            assert traits[name].default_value == value, name
    assert traits["directory"].default_value == ""  # "" = $PERSIST_EXT_DIR, else ./.persist


def test_budget_traitlet_wins_over_the_environment(ip, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/budgets.md: a limit comes from the traitlets before `PERSIST_EXT_MAX_*`."""
    monkeypatch.setenv("PERSIST_EXT_MAX_COUNT", "500")
    with capture_output():
        ip.run_cell("%%persist small\nsmall = 1")
    assert "budget: max-count 500" in repr(ip.run_line_magic("persist", "info"))
    ip.run_line_magic("config", "PersistMagics.max_count = 7")
    try:
        assert "budget: max-count 7" in repr(ip.run_line_magic("persist", "info"))
    finally:
        ip.run_line_magic("config", "PersistMagics.max_count = 0")


def test_history_count_prunes_the_oldest_checkpoint_and_says_so(ip) -> None:
    """docs/checkpoints.md: `c.PersistMagics.history_count` prunes after a save, reported in
    the save's output; the current state is kept."""
    ip.run_line_magic("config", "PersistMagics.history_count = 2")
    try:
        reports = []
        for value in range(3):
            ip.user_ns["v"] = value
            reports.append(ip.run_line_magic("persist", "checkpoint"))
        assert [r.pruned for r in reports] == [[], [], [1]]
        assert "pruned 1 old checkpoint(s) #1: more than 2 checkpoints" in str(reports[-1])
        history = ip.run_line_magic("persist", "history")
        assert [row.id for row in history.rows] == [2, 3]
        assert history.rows[-1].current
    finally:
        ip.run_line_magic("config", "PersistMagics.history_count = 200")


def test_storage_doc_store_signature_is_the_real_one() -> None:
    """docs/storage.md "`Store` options": the signature shown is `Store`'s, defaults included."""
    (shown,) = [b for b in _python_blocks("docs/storage.md") if b.startswith("Store(directory")]
    namespace: dict[str, Any] = {}
    exec(f"def Store{shown.strip()[len('Store') :]}: pass", namespace)  # the documented one
    want = inspect.signature(namespace["Store"]).parameters
    have = inspect.signature(Store).parameters
    assert list(want) == list(have)
    for name, parameter in want.items():
        assert parameter.kind == have[name].kind, name
        assert parameter.default == have[name].default, name


def test_storage_doc_first_example_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/storage.md's first example: `Store()` is `.persist/` here, a large array is its own
    file and comes back memory-mapped read-only, `info` describes without unpickling."""
    monkeypatch.delenv("PERSIST_EXT_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    (block,) = [b for b in _python_blocks("docs/storage.md") if "store.set(" in b]
    namespace = {"model": {"w": [1, 2, 3]}, "big_array": np.arange(300_000.0)}
    exec(block, namespace)  # the documentation's own example
    x = namespace["x"]
    assert isinstance(x, np.memmap)
    assert not x.flags.writeable
    np.testing.assert_array_equal(x, np.arange(300_000.0))
    assert len(list((tmp_path / ".persist" / "blobs").glob("*.bin"))) == 1
    with Store() as store:
        info = store.info("results/fit")
        assert info.meta == {"score": 0.93}
        assert info.summary["repr"] == "{'w': [1, 2, 3]}"
        assert list(store.keys("arrays/")) == ["arrays/x"]


def test_stashes_doc_factory_example_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/stashes.md: CacheStash(FactoryStash(DirectoryStash, ...)) computes once, writes
    embeddings/cat.dat, then serves from memory."""
    monkeypatch.chdir(tmp_path)
    (block,) = [b for b in _python_blocks("docs/stashes.md") if "class Embeddings" in b]
    computed: list[str] = []

    def expensive_embedding(name: str) -> list[int]:
        computed.append(name)
        return [len(name)]

    namespace = {"expensive_embedding": expensive_embedding, "vocabulary": ["cat", "dog"]}
    exec(block, namespace)  # the documentation's own example
    stash = namespace["stash"]
    assert stash["cat"] == [3]
    assert computed == ["cat"]
    assert [p.name for p in (tmp_path / "embeddings").iterdir()] == ["cat.dat"]
    assert stash.load("cat") == [3]
    assert computed == ["cat"]


DOCS = ["README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("doc", DOCS)
def test_every_persist_command_and_option_a_doc_names_exists(ip, doc: str) -> None:
    """A `%persist COMMAND` or `--option` the docs name is one the magic takes (its help
    lists it)."""
    helptext = ip.object_inspect_text("%persist")
    text = (ROOT / doc).read_text()
    commands = set(re.findall(r"(?:`|^)%persist (\w+)", text, re.M))
    for command in commands:
        assert f"%persist {command}" in helptext, (doc, command)
    options = {
        option
        for line in re.findall(r"%persist[^`\n]*", text)
        for option in re.findall(r"(?<![\w-])--[a-z][a-z-]*", line)
    }
    if doc == "docs/cell-cache.md":
        options |= set(re.findall(r"^\| `(--[a-z-]+)", text, re.M))
        assert {"--refresh", "--deps", "--mmap", "--ignore"} <= options
    for option in options:
        assert option in helptext, (doc, option)


README_TASTE_HELPERS = (ROOT / "tests/data/readme_taste_helpers.py").read_text()


def test_readme_taste_cell_runs_once_and_reruns_on_each_change_it_names(ip) -> None:
    """README "A taste": the `%%persist load_data --deps data/raw.csv` cell, as written, runs
    once, is then restored with its output, and runs again when `alpha`, `fit`'s code or
    data/raw.csv changes; `%persist why load_data` says which."""
    (cell,) = [b for b in _python_blocks("README.md") if b.startswith("%%persist load_data")]
    Path("data").mkdir()
    Path("data/raw.csv").write_text("a,b\n1,2\n")
    ip.run_cell(README_TASTE_HELPERS)

    def run() -> str:
        with capture_output() as captured:
            assert ip.run_cell(cell).success
        assert "plotted" in captured.stdout  # "Outputs come back too"
        return captured.stdout

    assert "persist: restored" not in run()
    out = run()
    assert "persist: restored load_data" in out  # an instance of a notebook class included
    for change, reason in [
        ("alpha = 0.7", "input alpha changed"),
        ("def fit(frame, alpha):\n    return Model(frame, alpha * 1)", "function fit changed"),
        ("open('data/raw.csv', 'a').write('3,4\\n')", "raw.csv changed"),
    ]:
        ip.run_cell(change)
        assert "persist: restored" not in run(), change
        assert reason in repr(ip.run_line_magic("persist", "why load_data"))
        assert "persist: restored load_data" in run(), change


def test_cell_cache_doc_why_messages_are_the_real_ones() -> None:
    """docs/cell-cache.md, `%persist why`: each message the table quotes is one that
    `%persist why` prints for that kind of change."""
    from persist_ext.features._cellcache._explain import diff_components

    text = (ROOT / "docs/cell-cache.md").read_text()
    (row,) = [line for line in text.splitlines() if line.startswith("| `%persist why")]
    quoted = re.findall(r"\*([^*]+)\*", row)
    old = {
        "code": "1",
        "input:n": "1",
        "function:helper": "1",
        "function:main": "1",
        "file:/home/me/data.csv": "1",
        "package:numpy": "1.26",
    }
    new = {**{k: "2" for k in old}, "package:numpy": "2.0", "function:main": "2"}
    reaches = {"function:main": ["helper"]}
    messages = {d.message for d in diff_components(old, new, reaches)}
    alone = diff_components({"function:helper": "1"}, {"function:helper": "2"})
    messages |= {d.message for d in alone}
    assert len(quoted) == 6
    for message in quoted:
        assert message in messages, (message, messages)


def _architecture_entries() -> dict[str, str]:
    """ARCHITECTURE.md's layer boxes: each entry's header (``features/_cellcache/``,
    ``_store.py``) -> the text of its lines."""
    entries: dict[str, str] = {}
    header = ""
    for line in (ROOT / "ARCHITECTURE.md").read_text().splitlines():
        match = re.match(r"^ │ (\S*)(.*?)│?$", line)
        if not match or "──" in line:
            continue
        if match.group(1) and match.group(2).startswith("  "):
            header = match.group(1)
        entries[header] = entries.get(header, "") + " " + line
    return entries


def test_architecture_map_names_every_module_and_only_real_ones() -> None:
    """ARCHITECTURE.md is the map of persist_ext/: every module is on it (under its package's
    entry for a subpackage), every module a package's entry names exists, and every ``.py``
    path it spells is a real file."""
    text = (ROOT / "ARCHITECTURE.md").read_text()
    entries = _architecture_entries()
    package = ROOT / "persist_ext"
    modules = [
        p.relative_to(package)
        for p in package.rglob("*.py")
        if "labextension" not in p.parts and p.name != "__init__.py"
    ]
    storage_box = " ".join(v for k, v in entries.items() if k.endswith(".py") and "/" not in k)
    missing = []
    for module in modules:
        stem = re.escape(module.stem)
        word = rf"(?<![\w.]){stem}(?![\w])"
        folder = f"{module.parent.as_posix()}/"
        if folder in entries:  # a subpackage: named in its entry
            found = re.search(word, entries[folder])
        elif module.parent.as_posix() == "storage":
            found = re.search(word, storage_box)
        else:  # a single-file module: its path, or its name for the top level
            found = module.as_posix() in text or re.search(word, text)
            found = found or f"persist_ext.{module.stem}" in text
        # or spelled with its package anywhere (``_memo/_units`` in the budget entry)
        found = found or f"{module.parent.name}/{module.stem}" in text
        if not found:
            missing.append(module.as_posix())
    assert not missing, f"modules ARCHITECTURE.md does not map: {missing}"
    for folder, entry in entries.items():
        if not folder.endswith("/") or folder == "js/":
            continue
        named = set(re.findall(r"(?<![\w/.])(_[a-z][a-z_]*)(?![\w/])", entry))
        real = {p.stem for p in (package / folder).glob("*.py")}
        assert named <= real, (folder, named - real)
    files = [
        p.relative_to(ROOT).as_posix()
        for top in ("persist_ext", "tests", "benchmarks")
        for p in (ROOT / top).rglob("*.py")
    ]
    for path in set(re.findall(r"[\w/]*\w\.py\b", text)):
        assert any(f"/{f}".endswith(f"/{path}") for f in files), f"no file {path}"


def test_readme_safety_planted_and_flipped_entries_are_refused_naming_them(
    tmp_path: Path,
) -> None:
    """README "Safety": a planted pickle is `InvalidPickle` (not written by persist_ext) and
    a flipped bit a `CorruptEntryError`, each naming the entry; nothing is unpickled."""
    import pickle
    import sqlite3

    from persist_ext import CorruptEntryError, InvalidPickle

    with Store(tmp_path / "s") as store:
        store.set("small", {"a": 1})
        store.set("big", np.arange(300_000.0))
    (blob,) = (tmp_path / "s" / "blobs").glob("*.bin")
    data = bytearray(blob.read_bytes())
    data[-10] ^= 1
    blob.write_bytes(bytes(data))
    tripwire = tmp_path / "UNPICKLED"
    planted = pickle.dumps(_Tripwire(str(tripwire)))
    with sqlite3.connect(tmp_path / "s" / "cache.db") as index:
        index.execute("UPDATE Cache SET value = ? WHERE key = 'small'", (planted,))
    with Store(tmp_path / "s") as store:
        with pytest.raises(InvalidPickle, match=r"'small'.*not written by persist_ext"):
            store.get("small")
        with pytest.raises(CorruptEntryError, match=r"'big'.*checksum"):
            store.get("big")
    assert not tripwire.exists()


class _Tripwire:
    """Unpickling it creates a file: the proof that a planted pickle ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


def test_docs_magic_lines_with_a_trailing_comment_run_as_written(ip) -> None:
    """docs/checkpoints.md annotates its `%persist` lines (`%persist undo   # back to ...`):
    each such line of the docs parses as it does without the comment, and runs."""
    magics = ip.magics_manager.registry["PersistMagics"]
    lines = [
        line
        for doc in DOCS
        for block in _python_blocks(doc)
        for line in block.splitlines()
        if re.match(r"%persist .*\s#", line)
    ]
    assert any("%persist undo" in line for line in lines)
    for line in lines:
        bare = line.split("#")[0].strip()
        assert magics._parse(line[len("%persist ") :]) == magics._parse(bare[len("%persist ") :])
    ip.user_ns["v"] = 1
    assert "saved" in str(ip.run_line_magic("persist", "checkpoint before-tuning   # named"))
    history = ip.run_line_magic("persist", "history                 # id, time, name")
    assert [row.id for row in history.rows] == [1]
    with capture_output() as captured:
        ip.run_cell("%%persist annotated  # a comment\nw = 2")
        ip.run_cell("%%persist annotated  # a comment\nw = 2")
    assert "restored annotated" in captured.stdout
    quoted = magics._parse('named --deps "a #b.csv" c#d.csv  # files')
    assert quoted.deps == ["a #b.csv", "c#d.csv"]  # a quoted path is the path, quotes off


def test_deps_path_in_quotes_is_that_file(ip, tmp_path: Path) -> None:
    """docs/cell-cache.md `--deps PATH ...`: a quoted path (one with a space) is keyed on
    that file's content; the quotes were kept, so a file '"my data.csv"' that never exists
    was keyed instead and an edit of the real one went unseen."""
    (tmp_path / "my data.csv").write_text("a\n1\n")
    cell = '%%persist quoted --deps "my data.csv"\nrows = 1'
    with capture_output() as captured:
        ip.run_cell(cell)
        ip.run_cell(cell)
        (tmp_path / "my data.csv").write_text("a\n2\n")
        ip.run_cell(cell)
    assert captured.stdout.count("restored quoted") == 1
    assert "my data.csv changed" in repr(ip.run_line_magic("persist", "why quoted"))


def readme_download(url: str) -> str:
    """README's `download`: counts its runs in a file; `u2` fails until `fixed` exists."""
    folder = Path(os.environ["README_TASKS_DIR"])
    with open(folder / f"ran-{url}", "a") as counter:
        counter.write("x")
    if url == "u2" and not (folder / "fixed").exists():
        raise ValueError("the server said no")
    return url.upper()


def test_readme_task_group_lines_run_again_skip_what_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README "A taste": the TaskGroup lines, run again (as after a restart), skip what
    finished and do not retry a task out of tries; `group.replay(key)` runs it again."""
    monkeypatch.delenv("PERSIST_EXT_DIR", raising=False)
    monkeypatch.setenv("README_TASKS_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    (block,) = [b for b in _python_blocks("README.md") if "TaskGroup(" in b]
    urls = ["u0", "u1", "u2"]

    def runs() -> dict[str, int]:
        return {url: len((tmp_path / f"ran-{url}").read_text()) for url in urls}

    def run_block() -> Any:
        namespace = {"download": readme_download, "urls": urls, "fetch": lambda url: None}
        with capture_output():
            exec(block, namespace)  # the README's own lines
        group = namespace["group"]
        group.wait()
        return group

    group = run_block()
    assert runs() == {"u0": 1, "u1": 1, "u2": 3}  # max_tries=3
    assert sorted(group.wait().results) == ["readme_download-0", "readme_download-1"]
    (tmp_path / "fixed").touch()
    group = run_block()  # the same lines again, new objects: a restarted kernel's
    assert runs() == {"u0": 1, "u1": 1, "u2": 3}  # finished skipped, out of tries not retried
    group.replay("readme_download-2")
    group.wait()
    assert runs()["u2"] == 4
    assert group.result("readme_download-2") == "U2"
    group.close()


def test_signatures_in_doc_headings_are_the_real_ones() -> None:
    """A heading that spells a call (`### \\`PersistedWork(path, owner, ...)\\``) gives the
    real parameters, in order, with their defaults."""
    headings = [
        match
        for doc in DOCS
        for match in re.findall(r"^#+ `@?(\w+)(\(.*\))`$", (ROOT / doc).read_text(), re.M)
    ]
    assert {name for name, _ in headings} >= {"PersistedWork", "persisted"}
    for name, params in headings:
        namespace: dict[str, Any] = {}
        exec(f"def documented{params}: pass", namespace)
        want = inspect.signature(namespace["documented"]).parameters
        have = inspect.signature(getattr(persist_ext, name)).parameters
        assert list(want) == list(have), name
        for param, spec in want.items():
            assert spec.default == have[param].default, (name, param)


@pytest.mark.parametrize("kind", ["Store", "MemoryStore", "RedisStore"])
def test_storage_doc_protocol_table_gives_the_real_signatures(kind: str) -> None:
    """docs/storage.md "The protocol": every method the table spells with its parameters
    has them, in order and with those defaults, on each bundled store."""
    text = (ROOT / "docs/storage.md").read_text()
    rows = re.findall(r"^\| `(\w+)(\([^`]*\))(?: -> [^`]*)?`", text, re.M)
    assert {name for name, _ in rows} >= {"set", "get", "add", "add_many", "incr", "keys"}
    cls = getattr(persist_ext, kind)
    for name, params in rows:
        namespace: dict[str, Any] = {"MISSING": persist_ext.MISSING}
        exec(f"def documented(self, {params[1:]}: pass", namespace)
        want = inspect.signature(namespace["documented"]).parameters
        have = inspect.signature(getattr(cls, name)).parameters
        assert list(want) == list(have), (kind, name)
        for param, spec in want.items():
            assert spec.default == have[param].default, (kind, name, param)


def test_persist_help_names_every_setting(ip) -> None:
    """`%persist?` lists the PersistMagics settings its defaults come from: all of them."""
    helptext = ip.object_inspect_text("%persist")
    for trait in PersistMagics.class_traits(config=True):
        assert re.search(rf"\b{trait}\b", helptext), trait


def test_sidebar_doc_names_every_tab_of_a_store_and_counts_them() -> None:
    """docs/sidebar-and-server.md opens a store "on N tabs" and describes each under its bold
    label: N and the labels are the panel's own (js/src/components/Panel.tsx)."""
    source = (ROOT / "js" / "src" / "components" / "Panel.tsx").read_text()
    tabs = re.search(r"const TABS[^=]*= \[(.*?)\];", source, re.S)
    assert tabs
    labels = re.findall(r"\['\w+', '([^']+)'\]", tabs.group(1))
    assert labels
    doc = (ROOT / "docs" / "sidebar-and-server.md").read_text()
    said = re.search(r"open it on (\w+) tabs", doc)
    assert said, "the doc no longer says how many tabs a store opens on"
    words = ["one", "two", "three", "four", "five", "six"]
    assert words.index(said.group(1)) + 1 == len(labels), (said.group(0), labels)
    for label in labels:
        assert f"\n**{label}** —" in doc, f"no paragraph for the {label} tab"

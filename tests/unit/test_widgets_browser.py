"""The stash browser's model and widget, driven through trait values (no front end)."""

from __future__ import annotations

import time
from typing import Any

import anywidget  # noqa: F401 - required, never skipped
import ipywidgets  # noqa: F401 - required, never skipped
import pytest

from persist_ext import InvalidArgumentError, MemoryStore, TaskGroup, display_tasks, trust
from persist_ext.features._stash import DictionaryStash, DirectoryStash, ReadOnlyStash
from persist_ext.interfaces.widgets._browser import BrowserModel, StashBrowser, browse
from persist_ext.interfaces.widgets._browser_sources import source_for


class CountingStash(DictionaryStash):
    """A DictionaryStash that counts every value access through the Stash API."""

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(data)
        self.loads = 0

    def load(self, name: str) -> Any:
        self.loads += 1
        return super().load(name)

    def get(self, name: str, default: Any = None) -> Any:
        self.loads += 1
        return super().get(name, default)


class Squares(ReadOnlyStash):
    def load(self, name: str) -> Any:
        return int(name) ** 2

    def keys(self) -> list[str]:
        return [str(i) for i in range(5)]

    def exists(self, name: str) -> bool:
        return name in self.keys()


@pytest.fixture(scope="module")
def big_stash() -> CountingStash:
    return CountingStash({f"item/{i:06d}": i for i in range(100_000)})


def test_100k_keys_open_fast_without_loading_values(big_stash: CountingStash) -> None:
    started = time.perf_counter()
    browser = browse(big_stash)
    elapsed = time.perf_counter() - started
    assert big_stash.loads == 0
    assert browser.model.n_keys == 100_000
    assert len(browser.table.rows) == 50
    assert browser.table.rows[0] == {
        "key": "item/000000",
        "type": "int",
        "size": "28 B",
        "age": "?",
    }
    assert "1-50 of 100,000" in browser.page_label.value
    print(f"opened a 100,000-key stash in {elapsed * 1000:.0f} ms")  # reported, not asserted
    browser.close()


def test_paging(big_stash: CountingStash) -> None:
    browser = browse(big_stash, page_size=50)
    assert browser.prev_button.disabled
    browser.next_button.click()
    assert browser.table.rows[0]["key"] == "item/000050"
    assert "51-100 of 100,000" in browser.page_label.value
    browser.last_button.click()
    assert browser.table.rows[-1]["key"] == "item/099999"
    assert browser.next_button.disabled
    browser.goto(10**9)  # clamped
    assert browser.model.page == browser.model.n_pages - 1 == 1999
    browser.first_button.click()
    assert browser.table.rows[0]["key"] == "item/000000"
    assert big_stash.loads == 0
    browser.close()


def test_filter_substring_and_glob(big_stash: CountingStash) -> None:
    browser = browse(big_stash)
    browser.filter.value = "/09999"  # the Text widget drives the model
    assert [r["key"] for r in browser.table.rows] == [f"item/09999{i}" for i in range(10)]
    assert "10 matching" in browser.header.value.replace(",", "")
    browser.set_filter("item/00001?")
    assert len(browser.table.rows) == 10
    browser.set_filter("no-such-key")
    assert browser.table.rows == []
    assert "0-0 of 0" in browser.page_label.value
    browser.set_filter("")
    assert browser.model.n_matches == 100_000
    assert big_stash.loads == 0
    browser.close()


def test_select_previews_from_summary_then_loads_on_request() -> None:
    import pandas as pd

    frame = pd.DataFrame({"x": range(100), "name": [f"row{i}" for i in range(100)]})
    stash = CountingStash({"frame": frame, "n": 3})
    browser = browse(stash)
    browser.table.selected = "frame"  # what a click in the table does
    assert stash.loads == 0
    assert "pandas" in browser.preview.value
    assert "DataFrame" in browser.preview.value
    assert "100 x 2" in browser.preview.value  # shape from the summary
    assert not browser.load_button.disabled
    browser.load_button.click()
    assert stash.loads == 1
    assert browser.loaded_key == "frame"
    assert "<table" in browser.preview.value
    assert "row19" in browser.preview.value
    assert "row20" not in browser.preview.value  # only the head
    browser.close()


def test_array_preview() -> None:
    import numpy as np

    stash = DictionaryStash({"a": np.arange(12, dtype="float64").reshape(3, 4)})
    browser = browse(stash)
    browser.select("a")
    assert "3 x 4" in browser.preview.value
    assert "float64" in browser.preview.value
    browser.load_selected()
    assert "mean" in browser.preview.value
    assert "5.5" in browser.preview.value
    browser.close()


def test_delete_needs_confirmation() -> None:
    stash = DictionaryStash({"a": 1, "b": 2, "c": 3})
    browser = browse(stash)
    browser.select("b")
    browser.delete_button.click()
    assert browser.confirm_box.layout.display == "flex"
    assert "b" in stash.data  # nothing deleted yet
    browser.cancel_button.click()
    assert browser.confirm_box.layout.display == "none"
    browser.confirm_delete()  # without asking first: refused
    assert "b" in stash.data
    browser.delete_button.click()
    browser.confirm_button.click()
    assert "b" not in stash.data
    assert [r["key"] for r in browser.table.rows] == ["a", "c"]
    assert browser.table.selected == ""
    assert "deleted" in browser.status.value
    browser.close()


def test_refresh_sees_new_and_removed_keys() -> None:
    stash = DictionaryStash({"a": 1})
    browser = browse(stash)
    browser.select("a")
    stash.dump("b", 2)
    stash.delete("a")
    browser.refresh_button.click()
    assert [r["key"] for r in browser.table.rows] == ["b"]
    assert browser.table.selected == ""
    browser.close()


def test_read_only_stash_cannot_delete() -> None:
    browser = browse(Squares())
    browser.select("3")
    assert browser.delete_button.disabled
    browser.load_selected()
    assert "9" in browser.preview.value
    browser.close()


def test_directory_stash_described_from_files(tmp_path: Any) -> None:
    stash = DirectoryStash(tmp_path)
    stash.dump("x", list(range(1000)))
    browser = browse(stash)
    row = browser.table.rows[0]
    assert row["key"] == "x"
    assert row["size"].endswith("kB")
    assert row["age"] == "just now" or row["age"].endswith(" ago")
    browser.close()


def test_store_entries_described_from_info(tmp_path: Any) -> None:
    import numpy as np

    import persist_ext.storage._store as store_mod

    store = store_mod.Store(tmp_path / "s")
    try:
        for i in range(200):
            store.set(f"k/{i:03d}", np.arange(10) * i)
        loads = []
        original = store.get
        store.get = lambda *a, **k: loads.append(a) or original(*a, **k)  # count decodes
        browser = browse(store, prefix="k/")
        assert browser.model.n_keys == 200
        assert len(browser.table.rows) == 50
        assert "ndarray" in browser.table.rows[0]["type"]
        browser.select("k/001")
        assert "int64" in browser.preview.value
        assert loads == []
        browser.load_selected()
        assert len(loads) == 1
        assert "mean" in browser.preview.value
        browser.close()
    finally:
        store.close()


def test_bad_input_is_named(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TypeError, match="cannot browse a int"):
        browse(42)
    with pytest.raises(ValueError, match="page_size"):
        BrowserModel(source_for({"a": 1}), page_size=0)
    # Mistyped options are PersistErrors naming the option, raised before the default store
    # is opened (it would be made in the working directory).
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PERSIST_EXT_DIR", raising=False)
    for options, match in [
        ({"prefix": 3}, r"prefix= is a key prefix \(str\) or a tuple of them.*not 3"),
        ({"prefix": ("cell/", None)}, "prefix= is a key prefix"),
        ({"page_size": "50"}, "page_size= is an int from 1 to 1000, not '50'"),
        ({"page_size": 0}, "page_size= is an int from 1 to 1000, not 0"),
        ({"query": 5}, r"query= is filter text \(str\)"),
    ]:
        with pytest.raises(InvalidArgumentError, match=match):
            browse(**options)
    assert list(tmp_path.iterdir()) == []
    group = TaskGroup("shown", MemoryStore())
    with pytest.raises(InvalidArgumentError, match="max_rows= is how many task rows"):
        display_tasks(group, max_rows=-1)
    with pytest.raises(InvalidArgumentError, match="trust\\(\\) takes the path of a store"):
        trust(42)


def test_snapshot_in_mimebundle() -> None:
    browser = browse({"alpha": 1, "beta": "two"})
    bundle = browser._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "2 keys" in bundle["text/plain"]
    assert "alpha" in bundle["text/plain"]
    assert "<table>" in bundle["text/html"]
    assert "beta" in bundle["text/html"]
    assert isinstance(browser, StashBrowser)
    browser.close()


def test_one_key_is_one_key_not_one_keys() -> None:
    # A newcomer's browse() of a one-entry store read "Store — 1 keys" on screen and in the
    # saved snapshot.
    browser = browse(DictionaryStash({"frame/sales": [120, 75]}))
    bundle = browser._repr_mimebundle_()
    assert ": 1 key; showing 1-1 of 1" in bundle["text/plain"]
    assert "</b> — 1 key; " in bundle["text/html"]
    assert "1 keys" not in bundle["text/html"]
    browser.close()

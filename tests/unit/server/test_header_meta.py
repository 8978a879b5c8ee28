"""What the features write into JSON headers for the panel (#15): read back without decoding.

A ``%%persist`` cell's packed group carries each member's summary; a task group's tree
record carries its shape and key order; the completion callback's owner and end records
carry the process that fired it. Everything here is read with ``Store.info`` (the header),
never ``get``.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import numpy as np
import pandas as pd

from persist_ext.features._covars import group_variables, save_groups
from persist_ext.features._tasks._keys import (
    callback_done_key,
    callback_owner_key,
    group_keys,
)
from persist_ext.storage._serializers import summarize_members
from persist_ext.storage._store import Store

from ._seed import run_group, store_cell


def test_a_packed_group_describes_each_member(tmp_path: Path) -> None:
    grid = np.arange(12.0).reshape(3, 4)
    values = {"grid": grid, "top": grid[:1], "frame": pd.DataFrame({"x": [3, 1, 2]})}
    values["frame_again"] = values["frame"]
    with Store(tmp_path / "s") as store:
        saved = save_groups(store, "demo/", values, group_variables(values))
        packed = {saved.keys["grid"], saved.keys["frame"]}
        members: dict = {}
        for key in packed:
            info = store.info(key)
            assert info is not None
            assert info.meta["group"] is True
            members.update(info.meta["members"])
    assert members["grid"]["shape"] == [3, 4]
    assert members["grid"]["dtype"] == "float64"
    assert (members["grid"]["min"], members["grid"]["max"]) == (0.0, 11.0)
    assert members["top"]["shape"] == [1, 4]
    assert members["top"]["max"] == 3.0
    assert members["frame"]["head"]["data"] == [[3], [1], [2]]
    assert members["frame_again"]["shape"] == [3, 1]


def test_member_summaries_stay_within_their_limit() -> None:
    frames = {f"f{i}": pd.DataFrame({c: range(5) for c in "abcdefghij"}) for i in range(40)}
    whole = summarize_members(frames, limit=10**9)
    assert "head" in whole["f0"]
    assert len(json.dumps(whole)) > 10_000
    bounded = summarize_members(frames, limit=10_000)
    assert set(bounded) == set(frames)
    assert "head" not in bounded["f0"]
    assert bounded["f0"]["shape"] == [5, 10]
    assert summarize_members(frames, limit=10) == {}


def _run(directory: Path, *, on_complete=None) -> None:
    keys = [f"k{x}" for x in range(7)]
    run_group(directory, "fit", keys, batch_size=3, group_size=2, on_complete=on_complete)


def test_the_tree_record_header_holds_shape_and_order(tmp_path: Path) -> None:
    _run(tmp_path / "s")
    with Store(tmp_path / "s") as store:
        info = store.info(group_keys("fit").tree)
    assert info is not None
    meta = info.meta
    assert (meta["gen"], meta["leaves"], meta["batch_size"], meta["group_size"]) == (1, 7, 3, 2)
    assert meta["keys"] == [f"k{x}" for x in range(7)]


def test_the_callback_records_say_which_process_fired_it(tmp_path: Path) -> None:
    _run(tmp_path / "s", on_complete=lambda result: None)
    with Store(tmp_path / "s") as store:
        tree = group_keys("fit").tree
        gen = store.info(tree).meta["gen"]
        root = f"fit/{gen}/root"
        owner = store.info(callback_owner_key(root, 0))
        done = store.info(callback_done_key(root))
    assert owner is not None
    assert done is not None
    assert owner.meta["pid"] == os.getpid() == done.meta["pid"]
    assert owner.meta["host"] == socket.gethostname() == done.meta["host"]
    assert owner.meta["at"] <= done.created


def test_the_cells_listing_describes_each_variable_packed_or_alone(tmp_path: Path) -> None:
    from persist_ext.interfaces.server._cells import list_cells

    grid = np.arange(6, dtype=np.int32).reshape(2, 3)
    values = {"grid": grid, "view": grid[1], "alone": np.linspace(0, 1, 5), "n": 7}
    store_cell(tmp_path / "s", "arrays", values=values)
    (cell,) = list_cells(tmp_path / "s")
    (variant,) = cell["variants"]
    summaries = {v["name"]: v["summary"] for v in variant["variables"]}
    assert summaries["grid"]["shape"] == [2, 3]  # a raw array: the entry's own summary
    assert (summaries["grid"]["dtype"], summaries["grid"]["max"]) == ("int32", 5)
    assert summaries["view"]["shape"] == [3]  # a view is pickled in a pack: its member's
    assert summaries["view"]["min"] == 3
    assert summaries["alone"]["shape"] == [5]
    assert summaries["alone"]["max"] == 1.0
    assert summaries["n"]["repr"] == "7"


def test_a_manifest_without_its_run_named_still_finds_its_only_run(tmp_path: Path) -> None:
    """Cells stored before manifests named their run: the run folder beside it is used."""
    from persist_ext.features._cellcache._entry import Manifest
    from persist_ext.interfaces.server._cells import list_cells

    manifest = store_cell(tmp_path / "s", "older", values={"v": np.arange(4)})
    with Store(tmp_path / "s") as store:
        key = f"{manifest.entry_prefix}manifest"
        meta = dict(store.info(key).meta)
        del meta["run"]
        store.set(key, Manifest.from_dict(store.get(key)).to_dict(), meta=meta)
    (cell,) = list_cells(tmp_path / "s")
    (variable,) = cell["variants"][0]["variables"]
    assert variable["summary"]["shape"] == [4]

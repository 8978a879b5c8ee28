"""Preview facts stored in summaries (issue #15.3): array ranges and image thumbnails."""

from __future__ import annotations

import base64
import io
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from persist_ext.interfaces.server._stores import read_entries
from persist_ext.storage import _previews
from persist_ext.storage._previews import THUMBNAIL_MAX_BYTES, THUMBNAIL_PX, array_range, thumbnail
from persist_ext.storage._serializers import summarize
from persist_ext.storage._store import Store


def _png(width: int, height: int, color=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


_B64_CUT_PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"x" * 50).decode()  # magic, no image


def _decoded(uri: str) -> Image.Image:
    assert uri.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


@pytest.mark.parametrize(
    ("array", "low", "high"),
    [
        (np.array([3, -1, 7], dtype=np.int8), -1, 7),
        (np.array([[2.5, -0.5], [9.0, 1.0]]), -0.5, 9.0),
        (np.arange(10, dtype=np.uint64)[::-2], 1, 9),  # strided, small: exact
        (np.asfortranarray(np.arange(12.0).reshape(3, 4)), 0.0, 11.0),
    ],
)
def test_small_numeric_arrays_get_their_exact_range(array, low, high) -> None:
    facts = summarize(array)
    assert (facts["min"], facts["max"], facts["stats"]) == (low, high, "exact")
    assert type(facts["min"]) is type(low)  # JSON numbers, not numpy scalars


def test_nans_are_skipped_and_said_and_a_non_finite_range_is_left_out() -> None:
    facts = array_range(np.array([np.nan, 2.0, -3.0]))
    assert facts == {"nan": True, "min": -3.0, "max": 2.0, "stats": "exact"}
    assert "min" not in array_range(np.array([np.inf, 1.0]))
    assert "min" not in array_range(np.array([np.nan, np.nan]))


@pytest.mark.parametrize(
    "value",
    [
        np.array([True, False]),
        np.array([1 + 2j]),
        np.array(["a", "b"]),
        np.array([object()], dtype=object),
        np.zeros(0),
        np.array(["2024-01-01"], dtype="datetime64[D]"),
        [1, 2, 3],
        "text",
    ],
)
def test_values_without_a_numeric_range_get_none(value) -> None:
    assert "min" not in summarize(value)


def test_a_large_array_is_sampled_and_says_so(monkeypatch) -> None:
    monkeypatch.setattr(_previews, "STATS_EXACT_LIMIT", 4096)
    array = np.zeros(100_000)
    array[50_000:60_000] = 5.0  # a run longer than the gaps between sampled blocks
    facts = array_range(array)
    assert facts["stats"] == "sampled"
    assert (facts["min"], facts["max"]) == (0.0, 5.0)
    strided = np.zeros((400, 400))[:, ::2]
    assert array_range(strided) == {"stats": "skipped (large strided array)"}


def test_recorded_outputs_with_a_png_get_a_bounded_thumbnail() -> None:
    big = base64.b64encode(_png(640, 480)).decode()
    outputs = [
        {"kind": "stream", "name": "stdout", "text": "plotting\n"},
        {"kind": "display", "data": {"image/png": big, "text/plain": "<Figure>"}, "metadata": {}},
    ]
    uri = summarize(outputs)["thumbnail"]
    assert len(uri) <= THUMBNAIL_MAX_BYTES
    image = _decoded(uri)
    assert image.size == (THUMBNAIL_PX, 96)  # aspect kept
    assert image.convert("RGB").getpixel((10, 10)) == (200, 30, 30)


def test_a_small_png_is_kept_as_is_and_pil_images_get_a_thumbnail() -> None:
    small = base64.b64encode(_png(20, 10)).decode()
    outputs = [{"kind": "display", "data": {"image/png": small}, "metadata": {}}]
    assert thumbnail(outputs) == "data:image/png;base64," + small
    image = Image.new("RGBA", (300, 900), (0, 0, 255, 255))
    uri = summarize(image)["thumbnail"]
    assert _decoded(uri).size == (43, THUMBNAIL_PX)
    assert image.size == (300, 900)  # the value itself is untouched


@pytest.mark.parametrize(
    "value",
    [
        [{"kind": "display", "data": {"image/png": "not base64!"}, "metadata": {}}],
        [{"kind": "display", "data": {"image/png": base64.b64encode(b"GIF89a...").decode()}}],
        [{"kind": "display", "data": {"image/png": _B64_CUT_PNG}}],
        [{"data": {"image/png": base64.b64encode(_png(4, 4)).decode()}}],  # a user's dicts
    ],
)
def test_bad_or_foreign_pngs_get_no_thumbnail_and_still_store(tmp_path: Path, value) -> None:
    assert "thumbnail" not in summarize(value)
    with Store(tmp_path / "s") as store:
        store.set("v", value)
        assert store.get("v") == value


def test_the_server_shows_previews_without_unpickling(tmp_path: Path, monkeypatch) -> None:
    with Store(tmp_path / "s") as store:
        store.set("arr", np.arange(-5, 6, dtype=np.int32))
        store.set("img", Image.new("RGB", (256, 256), (0, 128, 0)))  # pickled
    monkeypatch.setattr(pickle, "loads", _refuse)
    monkeypatch.setattr(pickle, "load", _refuse)
    entries = {e["key"]: e for e in read_entries(tmp_path / "s").entries}
    assert (entries["arr"]["summary"]["min"], entries["arr"]["summary"]["max"]) == (-5, 5)
    assert _decoded(entries["img"]["summary"]["thumbnail"]).size == (THUMBNAIL_PX, THUMBNAIL_PX)


def _refuse(*args, **kwargs):
    raise AssertionError("describing an entry must never unpickle")


@pytest.mark.parametrize("dtype", [np.longdouble, np.float16])
def test_an_array_of_any_float_width_is_stored_with_its_range(tmp_path: Path, dtype) -> None:
    """``np.longdouble``'s ``.item()`` stays a numpy scalar, which JSON cannot hold: storing
    such an array failed (blamed on ``meta``, which nobody passed). The range is shown as
    the nearest doubles; the array itself comes back byte for byte."""
    values = np.arange(5, dtype=dtype) / 3
    assert array_range(values) == {
        "min": 0.0,
        "max": float(values[-1]),
        "stats": "exact",
    }
    with Store(tmp_path / "s") as store:
        store.set("a", values)
        back = store.get("a")
    assert back.dtype == values.dtype
    assert back.tobytes() == values.tobytes()

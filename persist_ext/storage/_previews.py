"""Preview facts added to a value's summary when it is stored: array ranges, image thumbnails.

Browsers (the Persist panel, the stash browser) show these from the signed JSON header of
an entry; nothing is ever decoded to show them. They are computed from the value in memory
at store time, with a bounded cost:

- numeric arrays get ``min`` and ``max`` (``stats``: ``"exact"``, or ``"sampled"`` past
  :data:`STATS_EXACT_LIMIT` elements, read in blocks spread over the whole array);
  NaNs are skipped (``nan: true`` says there were some); a range that is not finite (all
  NaN, infinities) is left out;
- images get ``thumbnail``: a PNG data URI at most :data:`THUMBNAIL_PX` pixels a side and
  :data:`THUMBNAIL_MAX_BYTES` long, from a PIL image or from the first PNG of a cell's
  recorded outputs (what matplotlib and ``display(Image(...))`` show). Resizing needs
  Pillow; without it only PNGs already small enough are kept.

Everything here is best-effort: a failure leaves the fact out, it never blocks storing.
"""

from __future__ import annotations

import base64
import binascii
import io
import sys
import warnings
from typing import Any

__all__ = [
    "STATS_EXACT_LIMIT",
    "THUMBNAIL_MAX_BYTES",
    "THUMBNAIL_PX",
    "array_range",
    "thumbnail",
]

#: Arrays up to this many elements get an exact range; larger ones a strided sample of it.
STATS_EXACT_LIMIT = 1 << 20
_BLOCKS = 256
#: Longest side of a thumbnail, in pixels.
THUMBNAIL_PX = 128
#: Longest thumbnail data URI kept in a summary (headers are read whole by browsers).
THUMBNAIL_MAX_BYTES = 48 * 1024
#: Largest recorded PNG (base64 text) decoded to make a thumbnail; bigger ones are skipped.
SOURCE_MAX_BYTES = 32 << 20
#: Recorded output events looked at for a PNG.
_MAX_EVENTS = 64
_PNG_PREFIX = "data:image/png;base64,"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def array_range(value: Any) -> dict[str, Any]:
    """``min``/``max`` facts of a numeric numpy array (``{}`` for anything else).

    >>> import numpy as np
    >>> array_range(np.array([3, -1, 7]))
    {'min': -1, 'max': 7, 'stats': 'exact'}
    """
    numpy = sys.modules.get("numpy")  # a value can only be an array if numpy is loaded
    if numpy is None or not isinstance(value, numpy.ndarray) or value.size == 0:
        return {}
    kind = value.dtype.kind
    if kind not in "iuf":  # bool, complex, datetimes, strings, objects: no range shown
        return {}
    try:
        sample, how = value, "exact"
        if value.size > STATS_EXACT_LIMIT:
            if not value.flags.c_contiguous and not value.flags.f_contiguous:
                return {"stats": "skipped (large strided array)"}
            order = "C" if value.flags.c_contiguous else "F"
            flat = value.reshape(-1, order=order)  # a view: the array is contiguous
            # Whole blocks spread over the array: reads ~STATS_EXACT_LIMIT elements from
            # _BLOCKS places, touching far fewer memory pages than an element stride.
            block = STATS_EXACT_LIMIT // _BLOCKS
            starts = numpy.linspace(0, flat.size - block, _BLOCKS).astype(numpy.int64)
            sample = numpy.concatenate([flat[i : i + block] for i in starts])
            how = "sampled"
        low, high = sample.min(), sample.max()
        facts: dict[str, Any] = {}
        if kind == "f" and (numpy.isnan(low) or numpy.isnan(high)):
            facts["nan"] = True
            with warnings.catch_warnings():  # all-NaN: nanmin warns, then we leave it out
                warnings.simplefilter("ignore", RuntimeWarning)
                low, high = numpy.nanmin(sample), numpy.nanmax(sample)
        if kind == "f" and not (numpy.isfinite(low) and numpy.isfinite(high)):
            return {**facts, "stats": how}  # JSON holds no NaN nor infinity
        low, high = low.item(), high.item()
        if not isinstance(low, (int, float)):  # np.longdouble: .item() keeps numpy's type
            low, high = float(low), float(high)  # (a preview: the nearest double is enough)
        return {**facts, "min": low, "max": high, "stats": how}
    except Exception:  # exotic subclasses (masked arrays, ...): no range rather than no store
        return {}


def thumbnail(value: Any) -> str | None:
    """A small PNG data URI for an image value or recorded outputs, or ``None``."""
    try:
        image_type = _pil_image_type()
        if image_type is not None and isinstance(value, image_type):
            return _encode(value)
        png = _first_png(value)
        if png is None:
            return None
        return _shrink_png(png)
    except Exception:  # a corrupt PNG, an exotic image mode: no thumbnail rather than no store
        return None


def _pil_image_type() -> Any:
    # Only when PIL is already imported: a value cannot be a PIL image otherwise.
    module = sys.modules.get("PIL.Image")
    return getattr(module, "Image", None) if module is not None else None


def _first_png(value: Any) -> str | None:
    """The base64 text of the first PNG among recorded cell outputs (a list of events)."""
    if not isinstance(value, list) or not value or not isinstance(value[0], dict):
        return None
    for event in value[:_MAX_EVENTS]:
        if not isinstance(event, dict) or "kind" not in event:
            return None  # not recorded outputs: a list of the user's dicts
        data = event.get("data")
        png = data.get("image/png") if isinstance(data, dict) else None
        if isinstance(png, str) and len(png) <= SOURCE_MAX_BYTES:
            return png
    return None


def _shrink_png(text: str) -> str | None:
    compact = "".join(text.split())  # notebook PNGs may be wrapped over lines
    try:
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(_PNG_MAGIC):
        return None
    small = _png_size(raw)
    if (
        small is not None
        and max(small) <= THUMBNAIL_PX
        and len(_PNG_PREFIX) + len(compact) <= THUMBNAIL_MAX_BYTES
    ):
        return _PNG_PREFIX + compact  # already a thumbnail
    try:
        from PIL import Image
    except ImportError:
        return None
    with Image.open(io.BytesIO(raw)) as image:
        image.draft("RGB", (THUMBNAIL_PX, THUMBNAIL_PX))
        return _encode(image)


def _png_size(raw: bytes) -> tuple[int, int] | None:
    # The IHDR chunk comes first: width and height are bytes 16-24.
    if len(raw) < 24 or raw[12:16] != b"IHDR":
        return None
    return int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")


def _encode(image: Any) -> str | None:
    width, height = image.size
    scale = min(1.0, THUMBNAIL_PX / max(width, height, 1))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # resize() makes a new image: the caller's value is never changed.
    small = image.resize(size, reducing_gap=2.0) if scale < 1.0 else image.copy()
    if small.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        small = small.convert("RGBA")
    buffer = io.BytesIO()
    small.save(buffer, format="PNG")
    uri = _PNG_PREFIX + base64.b64encode(buffer.getvalue()).decode("ascii")
    return uri if len(uri) <= THUMBNAIL_MAX_BYTES else None

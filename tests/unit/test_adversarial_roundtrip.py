"""Properties that serializers must keep or leave to pickle: frame flags, hard masks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from persist_ext.features._covars import LossyStateError, dumps_shared, loads_shared
from persist_ext.storage._serializers import dump_value


def test_a_frame_refusing_duplicate_labels_keeps_the_flag() -> None:
    strict = pd.DataFrame({"v": [1, 2]}).set_flags(allows_duplicate_labels=False)
    serializer, buffers = dump_value(strict)
    assert serializer.name == "pickle"  # not Arrow, which drops the flag
    back = serializer.load(memoryview(b"".join(bytes(b) for b in buffers)))
    assert back.flags.allows_duplicate_labels is False


def test_a_hard_mask_stays_hard() -> None:
    hard = np.ma.masked_array([1.0, 2.0], mask=[0, 1], hard_mask=True, fill_value=-9)
    soft = np.ma.masked_array([1.0, 2.0], mask=[0, 1])
    data, buffers = dumps_shared({"hard": hard, "soft": soft})
    back = loads_shared(data, buffers)
    assert back["hard"].hardmask
    assert not back["soft"].hardmask
    back["hard"][1] = 5.0
    assert back["hard"].mask.tolist() == [False, True]
    assert back["hard"].fill_value == -9


def test_an_aligned_structured_array_comes_back_byte_for_byte() -> None:
    """The padding numpy puts between aligned fields comes back as it was stored: numpy's
    copy of a structured array goes field by field and left it as fresh memory held it
    (``tobytes()`` and any digest of it differed from the stored array's)."""
    aligned = np.dtype([("a", "u1"), ("b", "f8")], align=True)
    assert aligned.itemsize == 16  # seven bytes of padding after "a"
    values = {
        "c": np.zeros(64, dtype=aligned),
        "f": np.zeros((8, 4), dtype=aligned, order="F"),
        "swapped": np.zeros(5, dtype=np.dtype([("a", "u1"), ("b", ">f8")], align=True)),
    }
    values["c"]["a"] = np.arange(64)
    data, buffers = dumps_shared(values)
    back = loads_shared(data, buffers)
    for name, value in values.items():
        assert back[name].tobytes(order="A") == value.tobytes(order="A"), name
        assert back[name].base is None
        assert back[name].flags.f_contiguous == value.flags.f_contiguous


def test_a_dtype_keeps_its_metadata_and_the_fingerprint_sees_it(tmp_path) -> None:
    """``np.dtype('f8', metadata={'unit': 'm'})``: the raw array format wrote the dtype's
    string, which leaves the metadata out (a restore had ``dtype.metadata is None``); such
    arrays are pickled, and a change of the metadata alone changes the fingerprint."""
    from persist_ext.storage._fingerprint import fingerprint
    from persist_ext.storage._store import Store

    metres = np.zeros(3, dtype=np.dtype("f8", metadata={"unit": "m"}))
    feet = np.zeros(3, dtype=np.dtype("f8", metadata={"unit": "ft"}))
    serializer, _ = dump_value(metres)
    assert serializer.name == "pickle"
    with Store(tmp_path / "s") as store:
        store.set("a", metres)
        assert store.get("a").dtype.metadata == {"unit": "m"}
    data, buffers = dumps_shared({"a": metres})
    assert loads_shared(data, buffers)["a"].dtype.metadata == {"unit": "m"}
    assert fingerprint(metres) != fingerprint(feet)
    assert fingerprint(metres) != fingerprint(np.zeros(3))
    assert fingerprint(metres) == fingerprint(metres.copy())


class Tagged(np.polynomial.Polynomial):
    def __getstate__(self) -> dict:
        return {**super().__getstate__(), "tag": "kept"}


def test_a_numpy_polynomial_comes_back_with_the_attributes_it_had() -> None:
    """numpy's ``__getstate__`` of a polynomial adds ``symbol``, ``domain`` and ``window``
    to what the instance holds (the last two otherwise the class's): a restore by it had
    three attributes the re-run's polynomial lacks. Its own attributes are stored as they
    are; a subclass with a ``__getstate__`` of its own keeps it."""
    from numpy.polynomial import Chebyshev, Polynomial

    values = {
        "p": Polynomial([1, 2, 3]),
        "fit": Chebyshev.fit([0, 1, 2, 3], [1, 2, 5, 10], 2),
        "named": Polynomial([0, 1], symbol="t"),
    }
    data, buffers = dumps_shared(values)
    back = loads_shared(data, buffers)
    for name, value in values.items():
        assert type(back[name]) is type(value), name
        assert sorted(vars(back[name])) == sorted(vars(value)), name
        assert back[name] == value, name
        assert back[name].symbol == value.symbol
    assert "domain" not in vars(back["p"])
    assert back["p"].domain is Polynomial.domain
    assert (back["fit"].domain == values["fit"].domain).all()
    # A subclass pickling otherwise is left to its own pickling (and here, as it adds what
    # the instance does not hold, refused, as for any class of the notebook doing so).
    with pytest.raises(LossyStateError, match="Tagged"):
        dumps_shared({"tagged": Tagged([1, 2])})


def test_a_masked_array_stays_a_view_of_its_data() -> None:
    """``np.ma.masked_array(x, mask=...)`` views ``x``: numpy's reduction stored a copy, so a
    restored ``m`` no longer changed with ``x`` and ``m[1:4]``'s mask no longer viewed
    ``m``'s. Both are re-made on the same bases, with the mask, fill value and flags."""
    x = np.arange(6.0)
    m = np.ma.masked_array(x, mask=x < 2, fill_value=7.0)
    part = m[1:4]
    hard = np.ma.masked_array(x[::2], mask=[0, 1, 0], hard_mask=True)
    made = np.ma.masked_array([1, 2, 3])  # views an array nothing else holds
    data, buffers = dumps_shared({"x": x, "m": m, "part": part, "hard": hard, "made": made})
    back = loads_shared(data, buffers)
    assert back["m"].base is back["x"]
    # ``m[1:4]`` views a slice of ``m``'s data, as numpy made it, which views ``x``
    assert type(back["part"].base) is np.ndarray
    assert back["part"].base.base is back["x"]
    assert part.base.base is x
    assert back["part"]._mask.base is back["m"]._mask
    assert sorted(vars(back["m"])) == sorted(vars(m))
    assert back["m"].fill_value == 7.0
    assert back["made"].base is not None
    assert back["made"]._mask is np.ma.nomask
    back["x"][3] = 100.0
    assert back["m"][3] == 100.0
    assert back["part"][2] == 100.0
    assert back["hard"].hardmask
    back["hard"][1] = 5.0
    assert back["hard"].mask.tolist() == [False, True, False]

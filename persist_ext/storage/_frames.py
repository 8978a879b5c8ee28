"""pandas DataFrames and Series as Arrow IPC (feather) files, when pyarrow is installed.

Arrow stores columns as typed buffers, so a numeric frame is written and read at disk speed
and without pickle. Frames Arrow cannot represent faithfully (non-string or duplicate column
names, MultiIndex columns, mixed-type object columns, ``attrs``) are declined and pickled.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from typing import Any

from ._serializers import Serializer

__all__ = ["ArrowFrameSerializer"]

_U32 = struct.Struct("<I")
_SERIES_COLUMN = "__persist_ext_series__"


def _have_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


class ArrowFrameSerializer(Serializer):
    """``pandas.DataFrame`` / ``pandas.Series`` through ``pyarrow.ipc``.

    Payload: ``u32 n`` + JSON ``{"kind": "frame"|"series", "name": ...}`` + an Arrow IPC file.
    """

    name = "arrow"

    def accepts(self, value: Any) -> bool:
        import pandas as pd

        if not _have_pyarrow() or getattr(value, "attrs", None):
            return False
        if isinstance(value, pd.Series):
            return type(value) is pd.Series and (value.name is None or isinstance(value.name, str))
        if type(value) is not pd.DataFrame or isinstance(value.columns, pd.MultiIndex):
            return False
        columns = list(value.columns)
        return all(isinstance(c, str) for c in columns) and len(set(columns)) == len(columns)

    def dump(self, value: Any) -> Sequence[bytes | memoryview]:
        import pandas as pd
        import pyarrow as pa

        if isinstance(value, pd.Series):
            head = {"kind": "series", "name": value.name}
            frame = value.to_frame(name=_SERIES_COLUMN)
        else:
            head = {"kind": "frame"}
            frame = value
        table = pa.Table.from_pandas(frame, preserve_index=True)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        header = json.dumps(head).encode()
        return [_U32.pack(len(header)) + header, memoryview(sink.getvalue())]

    def load(self, data: memoryview) -> Any:
        import pyarrow as pa

        (n,) = _U32.unpack_from(data, 0)
        head = json.loads(bytes(data[4 : 4 + n]))
        table = pa.ipc.open_file(pa.py_buffer(data[4 + n :])).read_all()
        frame = table.to_pandas()
        if head["kind"] == "series":
            series = frame[_SERIES_COLUMN]
            series.name = head["name"]
            return series
        return frame

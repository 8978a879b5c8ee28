"""pandas DataFrames and Series as Arrow IPC (feather) files, when pyarrow is installed.

Arrow stores columns as typed buffers, so a numeric frame is written and read at disk speed
and without pickle. Frames Arrow cannot represent faithfully (non-string or duplicate column
names, MultiIndex columns, mixed-type object columns, ``attrs``, ``flags``) are declined and
pickled.

Speed notes (measured on a 500 MiB numeric frame, see docs/storage.md):

* writing collects the IPC writer's output as a list of buffers; the column buffers are the
  frame's own memory (``Table.from_pandas`` is zero-copy for numeric columns), so the
  payload reaches the blob file with no intermediate copy of the data;
* reading maps the blob file (``pa.memory_map``) and opens the IPC file on the mapping, so
  the bytes are not first read into a Python buffer; ``to_pandas`` then copies each column
  once, from the page cache into writable pandas blocks. With ``mmap=True`` the columns
  are zero-copy, read-only views of the mapped file (like a memory-mapped numpy array).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._serializers import ALIGN, Serializer, peek

__all__ = ["ArrowFrameSerializer"]

_U32 = struct.Struct("<I")
_SERIES_COLUMN = "__persist_ext_series__"


def _have_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


class _Collect:
    """A write-only "file" that keeps what it is given: the IPC writer passes its body
    buffers as ``pyarrow.Buffer`` objects over the table's memory, so nothing is copied."""

    closed = False

    def __init__(self) -> None:
        self.parts: list[Any] = []
        self.position = 0

    def write(self, data: Any) -> int:
        n = memoryview(data).nbytes
        if n:
            self.parts.append(data)
            self.position += n
        return n

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False


class ArrowFrameSerializer(Serializer):
    """``pandas.DataFrame`` / ``pandas.Series`` through ``pyarrow.ipc``.

    Payload: ``u32 n`` + JSON ``{"kind": "frame"|"series", "name": ...}`` (space-padded so
    the Arrow file starts 64-byte aligned) + an Arrow IPC file.
    """

    name = "arrow"
    mappable = True

    def accepts(self, value: Any) -> bool:
        import pandas as pd

        if not _have_pyarrow() or getattr(value, "attrs", None):
            return False
        if not value.flags.allows_duplicate_labels:  # a flag Arrow does not keep
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
        # preserve_index=None keeps a RangeIndex as metadata (True would write it out as an
        # int64 column: 8 more bytes per row, and a materialized index on load).
        table = pa.Table.from_pandas(frame, preserve_index=None)
        sink = _Collect()
        with (
            pa.PythonFile(sink, mode="w") as stream,
            pa.ipc.new_file(stream, table.schema) as writer,
        ):
            writer.write_table(table)
        header = json.dumps(head).encode()
        # Pad with spaces (valid JSON whitespace) so the Arrow buffers are aligned in a
        # mapped file, as Arrow expects for zero-copy reads.
        header += b" " * (-(_U32.size + len(header)) % ALIGN)
        return [_U32.pack(len(header)) + header, *sink.parts]

    def signed_span(self, buffers: Sequence[Any], size: int) -> tuple[int, int]:
        """Sign the JSON head, the Arrow schema message and the footer (the file's schema and
        block index); the record batches between them are column data.

        Arrow IPC file: ``ARROW1\0\0``, the schema message (``0xFFFFFFFF``, its int32
        length, the flatbuffer), the batches, the footer flatbuffer, its int32 length,
        ``ARROW1``. Anything unexpected signs the whole payload.
        """
        (n,) = _U32.unpack(peek(buffers, 0, 4))
        ipc = 4 + n
        magic = peek(buffers, ipc, 8)
        marker, meta_len = struct.unpack("<Ii", peek(buffers, ipc + 8, 8))
        (footer_len,) = struct.unpack("<i", peek(buffers, size - 10, 4))
        head, tail = ipc + 16 + meta_len, footer_len + 10
        if (
            magic[:6] != b"ARROW1"
            or marker != 0xFFFFFFFF
            or meta_len < 0
            or footer_len < 0
            or head + tail > size
            or peek(buffers, size - 6, 6) != b"ARROW1"
        ):
            return size, 0
        return head, tail

    @staticmethod
    def _split(data: Any) -> tuple[dict[str, Any], int]:
        (n,) = _U32.unpack_from(data, 0)
        return json.loads(bytes(data[4 : 4 + n])), 4 + n

    def load(self, data: memoryview) -> Any:
        import pyarrow as pa

        head, start = self._split(data)
        return self._to_pandas(pa.py_buffer(data[start:]), head, zero_copy=False)

    def load_file(self, path: Path, size: int, *, mmap: bool = False) -> Any:
        import pyarrow as pa

        # Open the IPC file on a mapping of the blob: no read into a Python buffer first.
        with pa.memory_map(str(path)) as mapped:
            whole = mapped.read_buffer()
        if whole.size != size:
            raise ValueError(f"{path} has {whole.size} bytes, expected {size}")
        head, start = self._split(memoryview(whole[: min(size, 64 * 1024)]))
        return self._to_pandas(whole.slice(start), head, zero_copy=mmap)

    @staticmethod
    def _to_pandas(buffer: Any, head: dict[str, Any], *, zero_copy: bool) -> Any:
        import pyarrow as pa

        table = pa.ipc.open_file(buffer).read_all()
        # Default: one copy into consolidated, writable blocks (zero-copy columns would be
        # read-only, and pandas raises on in-place assignment to them). split_blocks gives
        # zero-copy views of the mapping, wanted only when the caller asked for mmap.
        frame = table.to_pandas(split_blocks=True) if zero_copy else table.to_pandas()
        if not zero_copy:
            _own_index(frame)
        if head["kind"] == "series":
            series = frame[_SERIES_COLUMN]
            series.name = head["name"]
            return series
        return frame


def _own_index(frame: Any) -> None:
    """Give ``frame`` an index that owns writable memory, as the frame that was stored had.

    Arrow hands numeric and datetime indexes over as read-only views of its buffers, so
    ``np.asarray(df.index)[0] = ...`` (or any code relying on the flag) would behave
    differently after a restore than after a run. One copy of the index, not of the data.
    """
    import numpy as np

    if not np.asarray(frame.index).flags.writeable:
        frame.index = frame.index.copy(deep=True)

"""functionfuse's ``DaskArraySerializer``: dask arrays stored as Zarr beside a task's result.

Registered on a workflow storage (``storage.register_persistent_serializers(
DaskArraySerializer)``), it takes every :class:`dask.array.Array` out of the result's pickle
and writes it chunk by chunk to a Zarr array among the task's side files — a local folder for
the file kind, an S3 prefix for the S3 kind — without ever holding the whole array in memory.
Reading the task gives back a lazy dask array over that Zarr array. Zarr holds raw numeric
chunks, so reading one runs no code; arrays of Python objects are refused.
"""

from __future__ import annotations

import io
import shutil
from typing import Any

import dask.array as da

from ..._errors import SerializationError
from ._base import FILE_PROTOCOL, S3_PROTOCOL

__all__ = ["DaskArraySerializer"]


class DaskArraySerializer:
    """Persistent serializer for :class:`dask.array.Array` (Zarr side files).

    Examples
    --------
    >>> import tempfile, dask.array as da
    >>> from persist_ext.workflow import storage_factory
    >>> storage = storage_factory({"kind": "file", "options": {"path": tempfile.mkdtemp()}})
    >>> storage.register_persistent_serializers(DaskArraySerializer)
    >>> storage.save("wf", "big", {"x": da.ones((1000, 10), chunks=100)})
    >>> stored = storage.read_task("wf", "big")["x"]
    >>> type(stored).__name__, float(stored.sum().compute())
    ('Array', 10000.0)
    """

    serializer_class = da.Array
    name = "dask_array"

    @classmethod
    def pickle(cls, obj: da.Array, protocols: dict[str, Any]) -> tuple[str, Any]:
        """Write ``obj`` as Zarr among the task's side files; return ``(name, pid)``."""
        if obj.dtype.hasobject:
            raise SerializationError(
                f"DaskArraySerializer stores numeric arrays only, got dtype {obj.dtype}; "
                "convert it (e.g. .astype(str)) or leave the serializer out for this task.",
                type_name="dask.array.Array",
            )
        pid = protocols[FILE_PROTOCOL].new_name("dask") + ".zarr"
        target = _target(pid, protocols)
        if target is None:  # a storage without files (memory, diskcache, redis): one blob
            buffer = io.BytesIO()
            import numpy as np

            np.save(buffer, obj.compute(), allow_pickle=False)
            protocols[FILE_PROTOCOL].write(pid, buffer.getvalue())
        else:
            da.to_zarr(obj, target, overwrite=True)
        return cls.name, pid

    @classmethod
    def unpickle(cls, pid: str, protocols: dict[str, Any]) -> da.Array:
        """A lazy dask array over the stored Zarr array."""
        target = _target(pid, protocols)
        if target is None:
            import numpy as np

            data = np.load(io.BytesIO(protocols[FILE_PROTOCOL].read(pid)), allow_pickle=False)
            return da.from_array(data)
        return da.from_zarr(target)

    @classmethod
    def remove(cls, pid: str, protocols: dict[str, Any]) -> None:
        """Delete the stored Zarr array."""
        s3 = protocols.get(S3_PROTOCOL)
        if isinstance(s3, dict) and s3.get("client") is not None:
            path = f"{s3['folder']}/{pid}"
            if s3["client"].exists(path):
                s3["client"].rm(path, recursive=True)
            return
        local = protocols[FILE_PROTOCOL].path(pid)
        if local is not None:
            shutil.rmtree(local, ignore_errors=True)
        else:
            protocols[FILE_PROTOCOL].remove(pid)


def _target(pid: str, protocols: dict[str, Any]) -> Any:
    """Where the Zarr array lives: an fsspec mapper on S3, a local folder, or None."""
    s3 = protocols.get(S3_PROTOCOL)
    if isinstance(s3, dict) and s3.get("client") is not None:
        return s3["client"].get_mapper(f"{s3['folder']}/{pid}")
    local = protocols[FILE_PROTOCOL].path(pid)
    return None if local is None else str(local)

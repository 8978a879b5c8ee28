"""Persistent serializers for workflow storages (functionfuse's ``serializers`` package).

``DaskArraySerializer`` stores dask arrays as Zarr side files; register it with
``storage.register_persistent_serializers(DaskArraySerializer)``. Importing this module
imports dask.array (install ``persist_ext[dask]``).
"""

from .features._workflow._base import FILE_PROTOCOL, S3_PROTOCOL
from .features._workflow._daskarray import DaskArraySerializer

__all__ = ["FILE_PROTOCOL", "S3_PROTOCOL", "DaskArraySerializer"]

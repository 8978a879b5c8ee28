"""functionfuse's storage API: ``storage_factory`` and the workflow result storages.

Seed 004. ``_base`` owns the file framing, side files and the shared ``WorkflowStorage``
API; ``_storages`` the concrete kinds (file, memory, diskcache, redis) and the factory.
"""

from ._base import FILE_PROTOCOL, S3_PROTOCOL, SideFiles, WorkflowStorage
from ._storages import (
    ENTRY_POINT_GROUP,
    DiskCacheStorage,
    FileStorage,
    KeyValueStorage,
    MemoryStorage,
    RedisStorage,
    storage_factory,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "FILE_PROTOCOL",
    "S3_PROTOCOL",
    "DiskCacheStorage",
    "FileStorage",
    "KeyValueStorage",
    "MemoryStorage",
    "RedisStorage",
    "SideFiles",
    "WorkflowStorage",
    "storage_factory",
]

"""functionfuse's storage API: ``storage_factory`` and the workflow result storages.

Seed 004. ``_base`` owns the file framing, side files and the shared ``WorkflowStorage``
API; ``_storages`` the concrete kinds (file, memory, diskcache, redis) and the factory;
``_s3`` the S3 kind (imported on use: it needs s3fs); ``_graph`` the ``@workflow`` nodes and
``_local`` the ``LocalWorkflow`` that runs them on a task group.
"""

from ._base import FILE_PROTOCOL, S3_PROTOCOL, SideFiles, WorkflowStorage
from ._graph import Node, NodeItem, workflow
from ._local import LocalWorkflow
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
    "LocalWorkflow",
    "MemoryStorage",
    "Node",
    "NodeItem",
    "RedisStorage",
    "SideFiles",
    "WorkflowStorage",
    "storage_factory",
    "workflow",
]

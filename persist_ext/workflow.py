"""functionfuse's API under persist_ext: graphs of ``@workflow`` nodes and their storages.

For a functionfuse user the imports change and nothing else::

    from functionfuse import workflow                        # -> from persist_ext.workflow
    from functionfuse.backends.builtin.localback import LocalWorkflow   # -> persist_ext.workflow
    from functionfuse.storage import storage_factory         # -> from persist_ext.workflow
    from functionfuse.serializers.daskarray import DaskArraySerializer  # -> persist_ext.serializers

Storage kinds: ``file``, ``memory``, ``diskcache``, ``redis`` and ``S3`` (``s3``), plus any
registered under the ``persist_ext.storage`` entry-point group. See docs/storage-factory.md.

>>> from persist_ext.workflow import LocalWorkflow, workflow
>>> @workflow
... def double(x):
...     return 2 * x
>>> LocalWorkflow(double(double(3)), workflow_name="doc").run()
12
"""

from ._errors import WorkflowError
from .features._workflow import (
    FILE_PROTOCOL,
    S3_PROTOCOL,
    DiskCacheStorage,
    FileStorage,
    KeyValueStorage,
    LocalWorkflow,
    MemoryStorage,
    Node,
    NodeItem,
    RedisStorage,
    SideFiles,
    WorkflowStorage,
    storage_factory,
    workflow,
)

task = workflow  # functionfuse exports the decorator under both names

__all__ = [
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
    "WorkflowError",
    "WorkflowStorage",
    "storage_factory",
    "task",
    "workflow",
]

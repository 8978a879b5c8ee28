"""Feature layer (middle): cell cache, checkpoints, task groups, and the seeds' APIs.

Built on ``persist_ext.storage``; never imports ``persist_ext.interfaces``. One subpackage
per original system: ``_stash`` (zensols.persist: stashes, ``@persisted``), ``_pod``
(tastypy: POD, Tracker), ``_workflow`` (functionfuse: workflow storage), ``_tasks``
(furious markers and triggers sessions, under task groups).
"""

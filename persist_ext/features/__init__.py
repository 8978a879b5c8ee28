"""Feature layer (middle): cell cache, trackers, task groups, checkpoints.

Built on ``persist_ext.storage``; never imports ``persist_ext.interfaces``.
"""

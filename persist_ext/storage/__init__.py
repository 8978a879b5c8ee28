"""Storage layer (bottom): the store engine — stores, entry format, serializers, fingerprints.

Modules here import only the standard library, third-party packages and
``persist_ext._errors`` / ``persist_ext._config``; never ``features`` or ``interfaces``.
The seeds' APIs built on it (stashes, POD/Tracker, workflow storage, markers, sessions)
live in ``persist_ext.features``.
"""

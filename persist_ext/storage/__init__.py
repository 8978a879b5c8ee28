"""Storage layer (bottom): stores, serializers, fingerprints, stashes, POD.

Modules here import only the standard library, third-party packages and
``persist_ext._errors`` / ``persist_ext._config``; never ``features`` or ``interfaces``.
"""

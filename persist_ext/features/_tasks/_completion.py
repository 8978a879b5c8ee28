"""The completion callback: called exactly once per completed tree — and never lost.

Protocol, on the marker tree's root (keys from :mod:`._keys`):

1. *claim*: the first process that sees the root done and wins the store's atomic ``add`` of
   ``reached/callback`` (attempt 0) or ``reached/callback-<n>`` (a retry) owns the call; in the
   same transaction it writes ``reached/callback-owner-<n>``: its pid, host and start time;
2. *call* ``on_complete(result)``;
3. *finish*: write ``reached/callback-done`` (also when the callback raised: the error is
   kept on the group and logged, the call is not repeated).

A process that finds a claim without ``callback-done`` asks whether its owner is alive
(:class:`~._runner.Identity`); if the owner died it claims the next attempt and calls the
callback itself. So the honest guarantee is: **exactly once, unless the process calling it
dies during the callback itself — then it is called again by the next run, resume or
``wait()`` of the group (at least once)**. A claim written by persist_ext before this
protocol existed (no owner record) counts as called.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ...storage._protocol import KeyValueStore
from ._keys import CALLBACK_POINT, callback_claim_key, callback_done_key, callback_owner_key
from ._runner import Identity, this_process

__all__ = ["CLAIM", "Completion", "completion_hook"]

log = logging.getLogger("persist_ext")

CLAIM = CALLBACK_POINT
_MAX_ATTEMPTS = 64

# Test hook (``tests/stress``): called between claiming and calling, with the root id.
completion_hook: list[Callable[[str], Any]] = []


class Completion:
    """Fires one tree's callback under the protocol above."""

    def __init__(self, store: KeyValueStore) -> None:
        self.store = store

    def state(self, root_id: str) -> str:
        """``"unclaimed"``, ``"claimed"`` (a live owner is calling it), ``"orphaned"`` (its
        owner died before finishing) or ``"done"``."""
        store = self.store
        if callback_done_key(root_id) in store:
            return "done"
        attempt = self._last_attempt(root_id)
        if attempt < 0:
            return "unclaimed"
        owner = store.get(callback_owner_key(root_id, attempt), None)
        if owner is None:
            # Claimed by a persist_ext without this protocol, or the claim and its owner
            # record are being written right now (one transaction): treat as called.
            return "done" if attempt == 0 else "claimed"
        if Identity.from_record(owner).alive(owner.get("at")):
            return "claimed"
        # The owner is gone. It writes ``callback-done`` before it exits, so look again now:
        # an owner that finished and exited after the first look above is not an orphan.
        return "done" if callback_done_key(root_id) in store else "orphaned"

    def _last_attempt(self, root_id: str) -> int:
        last = -1
        for attempt in range(_MAX_ATTEMPTS):
            if callback_claim_key(root_id, attempt) not in self.store:
                break
            last = attempt
        return last

    def claim(self, root_id: str) -> bool:
        """Try to become the caller; True if this process must call the callback now."""
        if self.state(root_id) in ("done", "claimed"):  # a look without the write lock
            return False
        with self.store.transact():
            # Decide again under the store's write lock, with the attempt number read in the
            # same look: a claim committed by another (live) process since the look above
            # would otherwise be taken for an orphan's and claimed again (a second call).
            if self.state(root_id) in ("done", "claimed"):
                return False
            attempt = self._last_attempt(root_id) + 1
            if attempt >= _MAX_ATTEMPTS:
                return False
            won = self.store.add(callback_claim_key(root_id, attempt), time.time())
            if won:
                owner = {**this_process().to_record(), "at": time.time()}
                # Also as header meta: the server shows who fired the callback, and
                # where, without unpickling the record.
                self.store.set(callback_owner_key(root_id, attempt), owner, meta=owner)
        return bool(won)

    def finish(self, root_id: str) -> None:
        """Record that the callback returned (or raised): never call it again."""
        self.store.add(callback_done_key(root_id), time.time(), meta=this_process().to_record())

    def fire(self, root_id: str, callback: Callable[[], Any]) -> bool:
        """Claim, call ``callback()`` and finish; True if this process called it.

        An exception from the callback is re-raised after the call is recorded as done.
        """
        if not self.claim(root_id):
            return False
        for hook in completion_hook:
            hook(root_id)
        try:
            callback()
        finally:
            self.finish(root_id)
        return True

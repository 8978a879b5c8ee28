"""The completion callback's claim protocol when the owner finishes while another process looks.

An owner writes ``callback-done`` and then exits. A process that checks for ``done`` a moment
before that write, and for the owner's liveness a moment after the exit, must not take the
owner for an orphan and call the callback a second time (seen under load with 8 racing
processes). The window is made deterministic by having the liveness check itself complete
the owner's work: the real Store, the real protocol, only the timing forced.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from persist_ext.features._tasks import _completion
from persist_ext.features._tasks._completion import Completion
from persist_ext.features._tasks._keys import callback_done_key
from persist_ext.storage._store import Store

ROOT = "g/1/root"


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "s") as s:
        yield s


def _owner_finishes_then_dies(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the owner record a dead process whose ``done`` lands just before it is checked."""

    def alive(self, beat=None) -> bool:
        store.add(callback_done_key(ROOT), 0.0)  # the owner finished ...
        return False  # ... and exited before we asked about it

    monkeypatch.setattr(_completion.Identity, "alive", alive)


def test_an_owner_that_finished_and_exited_is_not_an_orphan(store, monkeypatch) -> None:
    owner = Completion(store)
    assert owner.claim(ROOT)
    _owner_finishes_then_dies(store, monkeypatch)
    assert Completion(store).state(ROOT) == "done"


def test_no_second_call_after_the_owner_finished(store, monkeypatch) -> None:
    assert Completion(store).claim(ROOT)
    _owner_finishes_then_dies(store, monkeypatch)
    calls: list[int] = []
    assert not Completion(store).fire(ROOT, lambda: calls.append(1))
    assert calls == []


def test_a_real_orphan_is_still_called_again(store, monkeypatch) -> None:
    assert Completion(store).claim(ROOT)  # claimed, never finished
    monkeypatch.setattr(_completion.Identity, "alive", lambda self, beat=None: False)
    calls: list[int] = []
    assert Completion(store).fire(ROOT, lambda: calls.append(1))
    assert calls == [1]
    assert Completion(store).state(ROOT) == "done"


def test_a_claim_committed_after_the_first_look_is_not_claimed_again(store) -> None:
    # Process B looks (nothing claimed yet); before B's transaction, a live process A claims
    # attempt 0 and is calling the callback. B must not count A's claim as an orphan's and
    # claim attempt 1 (seen as two callbacks with 8 racing processes). A runs here, between
    # B's look and B's transaction: the real Store and protocol, only the timing forced.
    first, second = Completion(store), Completion(store)
    claims: list[bool] = []
    look = second.state

    def look_then_first_claims(root_id: str) -> str:
        state = look(root_id)
        if not claims:
            claims.append(first.claim(root_id))
        return state

    second.state = look_then_first_claims  # type: ignore[method-assign]
    assert not second.claim(ROOT)
    assert claims == [True]
    assert Completion(store).state(ROOT) == "claimed"  # A (this live process) holds it

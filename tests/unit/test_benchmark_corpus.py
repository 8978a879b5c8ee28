"""The corpus runner's edit and its report of a difference (``benchmarks/corpus.py``)."""

from __future__ import annotations

from benchmarks.corpus import _first_difference, find_edit


def test_the_edit_lands_on_the_literal_after_characters_of_several_bytes() -> None:
    # pytudes' Babylonian digits: AST offsets count UTF-8 bytes, and the edit was made at
    # character offsets, into the middle of a string (a syntax error in every edited run).
    source = "value = {'𒐕': 1, '𒌋': 10, '!': 1}\nx = 1"
    assert find_edit([source]) == (0, source, source.replace("10", "11"))


def test_a_difference_is_shown_where_it_starts() -> None:
    want = "x" * 500 + "ab" + "y" * 10
    got = "x" * 500 + "ba" + "y" * 10
    shown = _first_difference(want, got)
    assert "ab" in shown
    assert "ba" in shown

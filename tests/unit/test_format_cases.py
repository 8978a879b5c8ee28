"""Every surface prints sizes and ages alike: the Python formatters against the table the
panel's TypeScript formatters are tested with (js/test/format_cases.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from persist_ext._format import format_ago, format_size

CASES = json.loads(
    (Path(__file__).resolve().parents[2] / "js" / "test" / "format_cases.json").read_text()
)


@pytest.mark.parametrize(("size", "text"), CASES["sizes"])
def test_sizes(size: int, text: str) -> None:
    assert format_size(size) == text


@pytest.mark.parametrize(("when", "now", "text"), CASES["ages"])
def test_ages(when: float, now: float, text: str) -> None:
    assert format_ago(when, now=now) == text

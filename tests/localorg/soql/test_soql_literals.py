"""Record ids (15/18 characters, case-safe suffix) and relative date ranges."""

from __future__ import annotations

from datetime import date

import pytest

from relay.localorg.soql import case_safe_suffix, normalize_id
from relay.localorg.soql.literals import date_range


@pytest.mark.parametrize(
    ("id15", "suffix"),
    [
        ("001A0000006Vm9r", "IAC"),  # the example most often quoted for the algorithm
        ("00300000000000a", "AAA"),
        ("ABCDEABCDEABCDE", "555"),
        ("aBcDeFgHiJkLmNo", "KVK"),
    ],
)
def test_case_safe_suffix(id15: str, suffix: str) -> None:
    """Each suffix character encodes which of five characters are upper case."""
    assert case_safe_suffix(id15) == suffix


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("001A0000006Vm9r", "001A0000006Vm9rIAC"),
        ("001A0000006Vm9rIAC", "001A0000006Vm9rIAC"),
        ("001a0000006vm9riac", "001A0000006Vm9rIAC"),
        ("001A0000006VM9RIAC", "001A0000006Vm9rIAC"),
        ("001A0000006Vm9", None),
        ("001A0000006Vm9r!", None),
        ("001A0000006Vm9rIA9", None),
        ("", None),
    ],
)
def test_normalize_id(value: str, expected: str | None) -> None:
    """15- and 18-character ids (the latter in any case) normalise to one 18-char form."""
    assert normalize_id(value) == expected


# Wednesday 13 March 2024; weeks start on Sunday (en_US).
TODAY = date(2024, 3, 13)


@pytest.mark.parametrize(
    ("name", "n", "today", "start", "end"),
    [
        ("TODAY", None, TODAY, date(2024, 3, 13), date(2024, 3, 14)),
        ("YESTERDAY", None, TODAY, date(2024, 3, 12), date(2024, 3, 13)),
        ("TOMORROW", None, TODAY, date(2024, 3, 14), date(2024, 3, 15)),
        ("LAST_N_DAYS", 1, TODAY, date(2024, 3, 12), date(2024, 3, 14)),
        ("LAST_N_DAYS", 30, TODAY, date(2024, 2, 12), date(2024, 3, 14)),
        ("NEXT_N_DAYS", 7, TODAY, date(2024, 3, 14), date(2024, 3, 21)),
        ("THIS_WEEK", None, TODAY, date(2024, 3, 10), date(2024, 3, 17)),
        ("THIS_WEEK", None, date(2024, 3, 10), date(2024, 3, 10), date(2024, 3, 17)),
        ("THIS_WEEK", None, date(2024, 3, 16), date(2024, 3, 10), date(2024, 3, 17)),
        ("LAST_WEEK", None, TODAY, date(2024, 3, 3), date(2024, 3, 10)),
        ("THIS_MONTH", None, TODAY, date(2024, 3, 1), date(2024, 4, 1)),
        ("THIS_MONTH", None, date(2024, 12, 31), date(2024, 12, 1), date(2025, 1, 1)),
        ("LAST_MONTH", None, TODAY, date(2024, 2, 1), date(2024, 3, 1)),
        ("LAST_MONTH", None, date(2024, 1, 5), date(2023, 12, 1), date(2024, 1, 1)),
    ],
)
def test_date_ranges(name: str, n: int | None, today: date, start: date, end: date) -> None:
    """Relative date literals cover the documented days, [start, end)."""
    assert date_range(name, n, today) == (start, end)

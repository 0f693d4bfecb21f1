"""The reminder address grammar (relay/reps/reminders.py): every form, the calendar
arithmetic, time zones where today is not UTC's today, and what is refused."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from relay.reps.directory import address_tag
from relay.reps.reminders import (
    BadSpec,
    RemindAddress,
    add_business_days,
    check_address,
    due_date,
    local_date,
    parse_spec,
    remind_address,
    split_tag,
)

DOMAIN = "relay.example.com"
# 2026-12-02 is a Wednesday.
WEDNESDAY = date(2026, 12, 2)


def due(spec: str, today: date) -> date:
    return parse_spec(spec).due(today)


# --- the addresses ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "token", "spec"),
    [
        (f"log+remind@{DOMAIN}", None, None),
        (f"log+remind-3d@{DOMAIN}", None, "3d"),
        (f"LOG+Remind-Tomorrow@{DOMAIN}", None, "Tomorrow"),
        (f"log+abcdefghijkl+remind@{DOMAIN}", "abcdefghijkl", None),
        (f"log+abcdefghijkl+remind-2026-12-24@{DOMAIN}", "abcdefghijkl", "2026-12-24"),
        (f"log+abcdefghijkl+remind-2bd@{DOMAIN}", "abcdefghijkl", "2bd"),
    ],
)
def test_reminder_addresses_are_read(address: str, token: str | None, spec: str | None) -> None:
    assert remind_address(address) == RemindAddress(token, spec)


@pytest.mark.parametrize(
    "address",
    [
        f"log@{DOMAIN}",
        f"log+abcdefghijkl@{DOMAIN}",
        f"log+inbound-secret@{DOMAIN}",
        f"log+reminder@{DOMAIN}",
        f"log+remindme@{DOMAIN}",
        f"log+remind3d@{DOMAIN}",
    ],
)
def test_other_addresses_are_no_reminders(address: str) -> None:
    assert remind_address(address) is None


def test_the_personal_token_is_still_the_tag() -> None:
    assert address_tag(f"log+abcdefghijkl+remind-3d@{DOMAIN}") == "abcdefghijkl"
    assert address_tag(f"log+abcdefghijkl+remind@{DOMAIN}") == "abcdefghijkl"
    assert address_tag(f"log+abcdefghijkl@{DOMAIN}") == "abcdefghijkl"
    # The shared address's reminder form is the shared address: no token.
    assert address_tag(f"log+remind-3d@{DOMAIN}") is None
    assert address_tag(f"log+remind@{DOMAIN}") is None
    assert address_tag(f"log@{DOMAIN}") is None
    assert address_tag(f"log+inbound-s3cret@{DOMAIN}") == "inbound-s3cret"


def test_split_tag_keeps_a_plain_tag_whole() -> None:
    assert split_tag("abcdefghijkl") == ("abcdefghijkl", None)
    assert split_tag("remind-1w") == (None, RemindAddress(None, "1w"))


# --- the SPECs --------------------------------------------------------------------


def test_no_spec_is_three_business_days() -> None:
    request = RemindAddress(None, None)
    # Wednesday + 3 business days: Thursday, Friday, Monday.
    assert request.spec.due(WEDNESDAY) == date(2026, 12, 7)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("1d", date(2026, 12, 3)),
        ("30d", date(2027, 1, 1)),
        ("366d", date(2027, 12, 3)),
        ("1w", date(2026, 12, 9)),
        ("52w", date(2027, 12, 1)),
        ("1bd", date(2026, 12, 3)),
        ("2bd", date(2026, 12, 4)),
        ("3bd", date(2026, 12, 7)),
        ("5bd", date(2026, 12, 9)),
        ("10bd", date(2026, 12, 16)),
        ("tomorrow", date(2026, 12, 3)),
        ("TOMORROW", date(2026, 12, 3)),
        ("thu", date(2026, 12, 3)),
        ("fri", date(2026, 12, 4)),
        ("sat", date(2026, 12, 5)),
        ("sun", date(2026, 12, 6)),
        ("mon", date(2026, 12, 7)),
        ("tue", date(2026, 12, 8)),
        ("wed", date(2026, 12, 9)),  # today is Wednesday: the next one
        ("2026-12-24", date(2026, 12, 24)),
        ("2026-12-02", date(2026, 12, 2)),  # today itself is not past
    ],
)
def test_each_spec_from_a_wednesday(spec: str, expected: date) -> None:
    assert due(spec, WEDNESDAY) == expected


def test_mon_on_a_monday_means_next_monday() -> None:
    monday = date(2026, 12, 7)
    assert monday.weekday() == 0
    assert due("mon", monday) == date(2026, 12, 14)
    assert due("sun", date(2026, 12, 6)) == date(2026, 12, 13)


@pytest.mark.parametrize(
    ("start", "count", "expected"),
    [
        (date(2026, 12, 4), 1, date(2026, 12, 7)),  # Friday + 1: Monday
        (date(2026, 12, 5), 1, date(2026, 12, 7)),  # Saturday + 1: Monday
        (date(2026, 12, 6), 1, date(2026, 12, 7)),  # Sunday + 1: Monday
        (date(2026, 12, 6), 5, date(2026, 12, 11)),  # Sunday + 5: Friday
        (date(2026, 12, 4), 5, date(2026, 12, 11)),  # Friday + 5: next Friday
        (date(2026, 12, 31), 1, date(2027, 1, 1)),  # Thursday + 1 across the year
        (date(2027, 1, 1), 1, date(2027, 1, 4)),  # Friday + 1 across a weekend
    ],
)
def test_business_days_skip_weekends(start: date, count: int, expected: date) -> None:
    assert add_business_days(start, count) == expected
    assert due(f"{count}bd", start) == expected


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 1, 31), date(2026, 2, 1)),
        (date(2026, 2, 28), date(2026, 3, 1)),
        (date(2028, 2, 28), date(2028, 2, 29)),  # leap year
        (date(2026, 4, 30), date(2026, 5, 1)),
        (date(2026, 12, 31), date(2027, 1, 1)),
    ],
)
def test_tomorrow_across_month_and_year_ends(today: date, expected: date) -> None:
    assert due("tomorrow", today) == expected


@pytest.mark.parametrize(
    "spec",
    [
        "3x",
        "",
        "0d",
        "367d",
        "53w",
        "0bd",
        "261bd",
        "-1d",
        "1.5d",
        "d",
        "monday",
        "2026-13-01",
        "2026-02-30",
        "26-12-01",
        "1 d",
        "3dd",
        "remind",
        "tomorow",
    ],
)
def test_malformed_specs_are_refused(spec: str) -> None:
    with pytest.raises(BadSpec):
        parse_spec(spec)


# --- time zones -------------------------------------------------------------------


def test_today_is_the_reps_date_not_utcs() -> None:
    # 2026-12-02 11:00 UTC is already 2026-12-03 01:00 on Kiritimati (UTC+14) and still
    # 2026-12-02 00:00 in Pago Pago (UTC-11).
    moment = datetime(2026, 12, 2, 11, 0, tzinfo=UTC)
    assert local_date(moment, "Pacific/Kiritimati") == date(2026, 12, 3)
    assert local_date(moment, "Pacific/Pago_Pago") == date(2026, 12, 2)
    late = datetime(2026, 12, 2, 10, 59, tzinfo=UTC)
    assert local_date(late, "Pacific/Pago_Pago") == date(2026, 12, 1)
    assert local_date(moment, None) == date(2026, 12, 2)
    assert local_date(moment, "Not/AZone") == date(2026, 12, 2)  # UTC


def test_due_dates_follow_the_reps_time_zone() -> None:
    received = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)  # Wednesday in UTC
    tomorrow = RemindAddress(None, "tomorrow")
    assert due_date(tomorrow, received, "UTC") == date(2026, 12, 3)
    # Kiritimati: already Thursday 00:30, so tomorrow is Friday.
    assert due_date(tomorrow, received, "Pacific/Kiritimati") == date(2026, 12, 4)
    # Pago Pago: still Tuesday 23:30, so tomorrow is Wednesday.
    assert due_date(tomorrow, received, "Pacific/Pago_Pago") == date(2026, 12, 2)
    # mon on a Thursday there, from a Wednesday here.
    monday = RemindAddress(None, "mon")
    assert due_date(monday, received, "Pacific/Kiritimati") == date(2026, 12, 7)
    # A fixed date is never shifted by the zone.
    fixed = RemindAddress(None, "2026-12-24")
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC"):
        assert due_date(fixed, received, zone) == date(2026, 12, 24)


def test_a_date_past_in_the_reps_zone_is_due_that_day() -> None:
    # Accepted at the edge (not past in UTC-12) but already past on Kiritimati.
    received = datetime(2026, 12, 2, 11, 0, tzinfo=UTC)
    request = RemindAddress(None, "2026-12-02")
    assert due_date(request, received, "Pacific/Kiritimati") == date(2026, 12, 3)


# --- the check at RCPT ------------------------------------------------------------


NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "address",
    [
        f"log@{DOMAIN}",
        f"log+remind@{DOMAIN}",
        f"log+remind-3d@{DOMAIN}",
        f"log+abcdefghijkl+remind-fri@{DOMAIN}",
        f"log+remind-2026-12-02@{DOMAIN}",
        f"log+remind-2027-06-30@{DOMAIN}",
    ],
)
def test_good_addresses_pass_the_check(address: str) -> None:
    assert check_address(address, NOW) is None


@pytest.mark.parametrize(
    ("address", "why"),
    [
        (f"log+remind-3x@{DOMAIN}", "remind-3x: not a reminder SPEC"),
        (f"log+remind-2020-01-01@{DOMAIN}", "remind-2020-01-01: that date is past"),
        (f"log+remind-2026-12-01@{DOMAIN}", "remind-2026-12-01: that date is past"),
        (f"log+abcdefghijkl+remind-0d@{DOMAIN}", "remind-0d: d count must be 1..366"),
        (f"log+remind-@{DOMAIN}", "remind-: not a reminder SPEC"),
        (f"log+remind-2026-02-30@{DOMAIN}", "remind-2026-02-30: no such date"),
    ],
)
def test_bad_addresses_say_why(address: str, why: str) -> None:
    assert check_address(address, NOW) == why


def test_yesterday_in_utc_is_not_past_everywhere() -> None:
    # 2026-12-02 05:00 UTC is still 2026-12-01 in UTC-12: the 1st is not yet past for
    # every rep, so the edge accepts it (the rep's zone decides at delivery).
    early = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)
    assert check_address(f"log+remind-2026-12-01@{DOMAIN}", early) is None
    assert check_address(f"log+remind-2026-11-30@{DOMAIN}", early) is not None

"""Reminder addresses: ``log+remind[-SPEC]@`` and ``log+TOKEN+remind[-SPEC]@``. Pure.

A rep who puts a reminder address among an email's recipients gets a reminder (a
follow-up, Relay's own task list: docs/design.md §9) due when SPEC says, counted from
when Relay received the email, in the rep's time zone. The grammar follows
FollowUpThen's addresses (``3days@``, ``tomorrow@``, ``friday@``), inside Relay's one
mailbox and its ``+tag``:

====================  =========================================================
SPEC                  due
====================  =========================================================
(none)                3 business days later (``DEFAULT_SPEC``)
``Nd``                N calendar days later (1..366)
``Nw``                N weeks later (1..52)
``Nbd``               N business days later (Monday to Friday; 1..260)
``tomorrow``          the next day
``mon`` ... ``sun``   the next such day: ``mon`` sent on a Monday is next Monday
``YYYY-MM-DD``        that date; a date already past is refused
====================  =========================================================

Letters compare case-insensitively (some clients change the case of addresses). The
personal-address token comes first (``log+TOKEN+remind-3d@``), so the address is still
the rep's credential and ``address_tag`` (relay/reps/directory.py) still finds it.

Due dates are dates, never datetimes: ``today`` is the date of the received time in the
rep's time zone (``User.TimeZoneSidKey``), and nothing converts a due date across time
zones afterwards (Salesforce's Task.ActivityDate is a date for the same reason). Business
days are Monday to Friday; holidays are not known.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

REMIND = "remind"
DEFAULT_SPEC = "3bd"
GRAMMAR = (
    "log+remind[-SPEC]@ or log+TOKEN+remind[-SPEC]@ with SPEC one of "
    "Nd, Nw, Nbd (business days), tomorrow, mon..sun, YYYY-MM-DD (not past)"
)
"""The grammar as the SMTP refusal and the CLI show it."""

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""``date.weekday()`` order."""

MAX_COUNT = {"d": 366, "w": 52, "bd": 260}
"""The largest N of each unit: about a year. A reminder further away is a typo."""

EARLIEST_ZONE = "Etc/GMT+12"
"""UTC-12 (the POSIX sign is inverted): the zone whose date is the earliest on Earth.
A date before its today is past for every rep (used where the rep is not known yet)."""

_COUNT = re.compile(r"([0-9]{1,3})(bd|d|w)")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


class BadSpec(ValueError):
    """A reminder SPEC that is malformed or in the past; the text says which."""


@dataclass(frozen=True)
class Spec:
    """One parsed SPEC: ``kind`` is ``days``, ``weeks``, ``business_days``, ``tomorrow``,
    ``weekday`` (``count`` is 0..6, Monday first) or ``date`` (``on``)."""

    kind: str
    count: int = 0
    on: date | None = None

    def due(self, today: date) -> date:
        """The due date of a reminder asked for on ``today`` (the rep's date)."""
        if self.kind == "days":
            return today + timedelta(days=self.count)
        if self.kind == "weeks":
            return today + timedelta(weeks=self.count)
        if self.kind == "business_days":
            return add_business_days(today, self.count)
        if self.kind == "tomorrow":
            return today + timedelta(days=1)
        if self.kind == "weekday":
            ahead = (self.count - today.weekday()) % 7
            return today + timedelta(days=ahead or 7)
        assert self.on is not None
        return self.on


@dataclass(frozen=True)
class RemindAddress:
    """What a reminder address says: the personal-address token before it (None: the
    shared ``log+remind@``) and the SPEC text as written (None: no SPEC, the default;
    ``log+remind-@`` has the empty SPEC, which is malformed)."""

    token: str | None
    spec_text: str | None

    @property
    def spec(self) -> Spec:
        """The parsed SPEC; BadSpec if malformed (the date is not checked against today)."""
        return parse_spec(DEFAULT_SPEC if self.spec_text is None else self.spec_text)


def add_business_days(start: date, count: int) -> date:
    """``count`` Monday-to-Friday days after ``start`` (a Saturday or Sunday start counts
    from the Friday before: Saturday + 1 business day is Monday)."""
    day = start
    left = count
    while left > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day


def parse_spec(text: str) -> Spec:
    """The Spec of SPEC text (case-insensitive), or BadSpec naming the grammar."""
    spec = text.strip().lower()
    if spec == "tomorrow":
        return Spec("tomorrow")
    if spec in WEEKDAYS:
        return Spec("weekday", WEEKDAYS.index(spec))
    counted = _COUNT.fullmatch(spec)
    if counted is not None:
        count, unit = int(counted.group(1)), counted.group(2)
        if not 1 <= count <= MAX_COUNT[unit]:
            raise BadSpec(f"remind-{text}: {unit} count must be 1..{MAX_COUNT[unit]}")
        kind = {"d": "days", "w": "weeks", "bd": "business_days"}[unit]
        return Spec(kind, count)
    dated = _DATE.fullmatch(spec)
    if dated is not None:
        try:
            on = date(int(dated.group(1)), int(dated.group(2)), int(dated.group(3)))
        except ValueError:
            raise BadSpec(f"remind-{text}: no such date") from None
        return Spec("date", on=on)
    raise BadSpec(f"remind-{text}: not a reminder SPEC")


def split_tag(tag: str) -> tuple[str | None, RemindAddress | None]:
    """A ``+tag`` (relay/reps/directory.py ``address_tag``) as its personal-address token
    and its reminder part: ``remind-3d`` -> (None, 3d), ``TOKEN+remind`` -> (TOKEN,
    default), ``TOKEN`` -> (TOKEN, None). A tag is a reminder only when its last
    ``+``-part is ``remind`` or starts with ``remind-``: no token can be mistaken for
    one (a token is 12 base32 characters, without ``-``)."""
    head, plus, last = tag.rpartition("+")
    lowered = last.lower()
    if lowered == REMIND or lowered.startswith(REMIND + "-"):
        token = head if plus and head else None
        spec = last[len(REMIND) + 1 :] if lowered != REMIND else None
        return token, RemindAddress(token, spec)
    return tag, None


def remind_address(address: str) -> RemindAddress | None:
    """The reminder an address asks for, or None if it is no reminder address. Only the
    local part is read: the caller knows the address is Relay's own."""
    local = address.rpartition("@")[0]
    _, plus, tag = local.partition("+")
    return split_tag(tag)[1] if plus and tag else None


def zone(name: str | None) -> ZoneInfo:
    """The time zone of a ``TimeZoneSidKey`` (IANA names), UTC if unknown or None."""
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_date(moment: datetime, timezone: str | None) -> date:
    """The date at ``moment`` in ``timezone`` (a naive moment is UTC)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone(timezone)).date()


def due_date(request: RemindAddress, received_at: datetime, timezone: str | None) -> date:
    """When the reminder is due: SPEC from the received time's date in the rep's time
    zone. A date that is past there (the edge checked it against the earliest zone on
    Earth only) is due today: the rep asked, so they get it. BadSpec if malformed."""
    today = local_date(received_at, timezone)
    return max(request.spec.due(today), today)


def check_address(address: str, now: datetime | None = None) -> str | None:
    """Why a reminder address cannot be accepted (None: it can, or it is no reminder
    address). The rep is not known yet when RCPT is checked, so a date counts as past
    only if it is past in every time zone (before today in UTC-12)."""
    request = remind_address(address)
    if request is None:
        return None
    try:
        spec = request.spec
    except BadSpec as error:
        return str(error)
    today = local_date(now or datetime.now(UTC), EARLIEST_ZONE)
    if spec.kind == "date" and spec.due(today) < today:
        return f"remind-{request.spec_text}: that date is past"
    return None

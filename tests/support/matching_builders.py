"""Builders for matching tests: Email values and directory records, made directly (the
point of a pure core is that no parser or org is needed to test it)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from relay.envelope import Envelope
from relay.matching.model import Directory, Opportunity, Person, User, relay_domain_predicate
from relay.parsing.model import Address, Email

REP = User(id="005000000000001AAA", email="rep@acme.test", acceptable_addresses=("r@acme.test",))
RELAY_DOMAIN = "relay.test"
RELAY = f"log@{RELAY_DOMAIN}"
OURS = relay_domain_predicate(RELAY_DOMAIN)
"""Relay's own addresses in these tests (what MatchPolicy.from_config builds)."""
T0 = datetime(2020, 1, 1, tzinfo=UTC)


def rid(prefix: str, n: int) -> str:
    """An 18-character id of the given key prefix."""
    return f"{prefix}{n:012d}AAA"


def addr(text: str) -> Address:
    return Address(text.lower())


def email(
    to: tuple[str, ...] = (),
    cc: tuple[str, ...] = (),
    bcc: tuple[str, ...] = (),
    from_: str = REP.email,
    **overrides: Any,
) -> Email:
    values: dict[str, Any] = {
        "envelope": Envelope(mail_from=from_, rcpt_tos=(RELAY,)),
        "from_": addr(from_),
        "to": tuple(addr(a) for a in to),
        "cc": tuple(addr(a) for a in cc),
        "bcc": tuple(addr(a) for a in bcc),
        "subject": "Quote for Q3",
        "date": datetime(2024, 5, 6, 12, 0, tzinfo=UTC),
        "message_id": "m1@acme.test",
        "message_key": "m1@acme.test",
        "text_body": "Hello,\nhere is the quote.",
    }
    values.update(overrides)
    return Email(**values)


def contact(
    n: int,
    address: str,
    *,
    created: datetime = T0,
    activity: date | None = None,
    account: str | None = None,
    other: tuple[tuple[str, str], ...] = (),
) -> Person:
    return Person(
        id=rid("003", n),
        type="Contact",
        email=address.lower(),
        created_date=created,
        last_activity_date=activity,
        account_id=account,
        other_emails=other,
    )


def lead(n: int, address: str, *, converted: bool = False, created: datetime = T0) -> Person:
    return Person(
        id=rid("00Q", n),
        type="Lead",
        email=address.lower(),
        created_date=created,
        is_converted=converted,
        converted_contact_id=rid("003", 900 + n) if converted else None,
    )


def opportunity(n: int, *, closed: bool = False, modified: datetime = T0) -> Opportunity:
    return Opportunity(
        id=rid("006", n),
        name=f"Deal {n}",
        is_closed=closed,
        created_date=T0,
        last_modified_date=modified,
        account_id=rid("001", 1),
    )


def directory(*people: Person, **kwargs: Any) -> Directory:
    return Directory.build(people=people, users=[REP], **kwargs)

"""What the end-to-end tests share besides the launchers (tests/support/serve.py,
tests/support/localorg.py): the pipeline's seed of the local org, the mail the reps
send, and a polling wait."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from relay.localorg.data import OrgData
from relay.localorg.seed import SampleOrg, seed_sample

REP = "alice@acme-widgets.example"
BIG_CUSTOMERS = [f"buyer{n:02d}@bigco.example" for n in range(60)]


@dataclass(frozen=True)
class Seeded:
    sample: SampleOrg
    hank_open_opportunities: tuple[str, ...]
    hank_closed_opportunity: str
    big_contacts: Mapping[str, str]


def seed_pipeline(data: OrgData) -> Seeded:
    """The sample org, plus Hank with two open opportunities and a closed one, and 60
    contacts at BigCo (the 50-address limit)."""
    sample = seed_sample(data)
    hank = sample.contacts["hank@globex.example"]
    globex = sample.accounts["Globex Corporation"]
    admin = data.admin_user_id
    second = data.create(
        "Opportunity",
        {"Name": "Globex - Support", "StageName": "Qualification", "CloseDate": "2027-06-30",
         "AccountId": globex},
        user_id=admin,
    )  # fmt: skip
    closed = data.create(
        "Opportunity",
        {"Name": "Globex - Pilot", "StageName": "Closed Won", "CloseDate": "2025-01-31",
         "AccountId": globex},
        user_id=admin,
    )  # fmt: skip
    for opp in (second, closed):
        data.create(
            "OpportunityContactRole",
            {"OpportunityId": opp, "ContactId": hank, "Role": "Influencer"},
            user_id=admin,
        )
    bigco = data.create("Account", {"Name": "BigCo"}, user_id=admin)
    big = {
        address: data.create(
            "Contact",
            {"LastName": f"Buyer {n}", "Email": address, "AccountId": bigco},
            user_id=admin,
        )
        for n, address in enumerate(BIG_CUSTOMERS)
    }
    return Seeded(sample, (sample.opportunities["Globex - Widget Rollout"], second), closed, big)


def email(
    to: list[str],
    subject: str = "Pricing",
    *,
    cc: list[str] = (),  # type: ignore[assignment]
    sender: str = REP,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    body: str = "Hello, here is the proposal.\n",
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject
    message["Date"] = "Mon, 06 Jan 2025 10:00:00 +0000"
    message["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@acme-widgets.example>"
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(body)
    return message


def wait_for(predicate: Callable[[], Any], timeout: float = 20, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.1)

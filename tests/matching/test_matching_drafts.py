"""Task drafts: E2S field values, Salesforce's relation rules, and "every matched record
shows the email exactly once, with as few Tasks as the rules allow"."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest

from relay.matching import MatchPolicy, RecordRef, TaskDraft, draft_tasks, match, relay_key
from relay.matching.drafts import DESCRIPTION_MAX, TRUNCATION_MARKER
from relay.parsing.model import Attachment
from tests.support.matching_builders import (
    OURS,
    REP,
    contact,
    directory,
    email,
    lead,
    opportunity,
    rid,
)

ALICE = "alice@customer.test"


def _drafts(mail, dir_, shared: bool = True, tz: str = "UTC") -> list[TaskDraft]:  # type: ignore[no-untyped-def]
    plan = match(mail, dir_, MatchPolicy())
    return draft_tasks(
        mail, plan, REP.id, org_timezone=tz, shared_activities=shared, is_relay_address=OURS
    )


def _appearances(drafts: list[TaskDraft]) -> Counter[str]:
    """How often each record shows the email: as WhatId, or as a Who (TaskWhoIds)."""
    seen: Counter[str] = Counter()
    for draft in drafts:
        if draft.what_id:
            seen[draft.what_id] += 1
        for who in draft.task_who_ids:
            seen[who] += 1
    return seen


def test_e2s_field_values() -> None:
    """A matched Task is Completed, Normal, subtype Email, owned by the rep, subject prefixed."""
    [draft] = _drafts(email(to=(ALICE,)), directory(contact(1, ALICE)))
    fields = draft.to_sobject()
    assert fields["Subject"] == "Email: Quote for Q3"
    assert (fields["Status"], fields["Priority"], fields["TaskSubtype"]) == (
        "Completed",
        "Normal",
        "Email",
    )
    assert fields["OwnerId"] == REP.id
    assert fields["WhoId"] == rid("003", 1)
    assert fields["WhatId"] is None
    assert fields["ActivityDate"] == "2024-05-06"
    assert fields["Relay_Key__c"] == relay_key("m1@acme.test", rid("003", 1))


def test_subject_truncated_to_255() -> None:
    """A long subject is cut so that "Email: " + subject is exactly 255 characters."""
    [draft] = _drafts(email(to=(ALICE,), subject="x" * 400), directory(contact(1, ALICE)))
    assert len(draft.subject) == 255
    assert draft.subject.startswith("Email: xxx")


def test_description_layout() -> None:
    """The Description has E2S's header lines, a blank line, then Subject, Body and text."""
    mail = email(
        to=(ALICE, "bob@customer.test"),
        cc=("carol@customer.test",),
        bcc=("dan@customer.test",),
        attachments=(Attachment("quote.pdf", "application/pdf", 10),),
    )
    [draft] = _drafts(mail, directory(contact(1, ALICE)))
    assert draft.description.split("\n") == [
        "Additional To: alice@customer.test; bob@customer.test",
        "CC: carol@customer.test",
        "BCC: dan@customer.test",
        "Attachment: quote.pdf",
        "",
        "Subject: Quote for Q3",
        "Body:",
        "Hello,",
        "here is the quote.",
    ]


@pytest.mark.parametrize("body_length", [DESCRIPTION_MAX - 200, DESCRIPTION_MAX, 100_000])
def test_description_limit_and_marker(body_length: int) -> None:
    """The Description never passes 32,000 characters; a cut one ends with the marker."""
    mail = email(to=(ALICE,), text_body="y" * body_length)
    [draft] = _drafts(mail, directory(contact(1, ALICE)))
    assert len(draft.description) <= DESCRIPTION_MAX
    full_length = len(draft.description.split("Body:\n")[0]) + len("Body:\n") + body_length
    truncated = full_length > DESCRIPTION_MAX
    assert draft.description.endswith(TRUNCATION_MARKER) == truncated
    if truncated:
        assert len(draft.description) == DESCRIPTION_MAX


@pytest.mark.parametrize(
    ("sent", "tz", "expected"),
    [
        # 23:30 in New York on May 5 is 03:30 UTC on May 6.
        (datetime(2024, 5, 5, 23, 30, tzinfo=timezone(timedelta(hours=-4))), "UTC", "2024-05-06"),
        (datetime(2024, 5, 6, 3, 30, tzinfo=UTC), "America/New_York", "2024-05-05"),
        (datetime(2024, 5, 6, 23, 30, tzinfo=UTC), "Asia/Tokyo", "2024-05-07"),
    ],
)
def test_activity_date_in_org_timezone(sent: datetime, tz: str, expected: str) -> None:
    """ActivityDate is the email's calendar day in the org's time zone, across midnight."""
    [draft] = _drafts(email(to=(ALICE,), date=sent), directory(contact(1, ALICE)), tz=tz)
    assert draft.activity_date.isoformat() == expected


def test_lead_task_has_no_what() -> None:
    """A Lead gets its own Task with an empty WhatId, even next to an opportunity."""
    dir_ = directory(
        contact(1, ALICE), lead(1, "lee@customer.test"), roles=[(rid("003", 1), opportunity(1))]
    )
    drafts = _drafts(email(to=(ALICE, "lee@customer.test")), dir_)
    lead_tasks = [d for d in drafts if d.who_id == rid("00Q", 1)]
    assert len(lead_tasks) == 1
    assert lead_tasks[0].what_id is None
    assert lead_tasks[0].task_who_ids == (rid("00Q", 1),)
    assert all(rid("00Q", 1) not in d.task_who_ids for d in drafts if d is not lead_tasks[0])


def test_shared_activities_groups_up_to_50_contacts() -> None:
    """With Shared Activities, 120 contacts take three Tasks of at most 50 Contacts;
    without, each gets its own."""
    addresses = tuple(f"p{i:03d}@customer.test" for i in range(120))
    dir_ = directory(*(contact(i, a) for i, a in enumerate(addresses)))
    policy = MatchPolicy(max_candidates=120)
    mail = email(to=addresses)
    plan = match(mail, dir_, policy)
    shared = draft_tasks(
        mail, plan, REP.id, org_timezone="UTC", shared_activities=True, is_relay_address=OURS
    )
    assert [len(d.task_who_ids) for d in shared] == [50, 50, 20]
    assert all(len(d.to_sobject()["TaskWhoIds"]) <= 50 for d in shared)
    single = draft_tasks(
        mail, plan, REP.id, org_timezone="UTC", shared_activities=False, is_relay_address=OURS
    )
    assert len(single) == 120
    assert all("TaskWhoIds" not in d.to_sobject() for d in single)


def test_contacts_ride_on_their_opportunity_task() -> None:
    """A contact shares the Task of the opportunity it brought in: one Task, not two."""
    dir_ = directory(contact(1, ALICE), roles=[(rid("003", 1), opportunity(1))])
    [draft] = _drafts(email(to=(ALICE,)), dir_)
    assert (draft.what_id, draft.task_who_ids) == (rid("006", 1), (rid("003", 1),))
    assert draft.relay_key == relay_key("m1@acme.test", rid("006", 1))


def _mixed_directory():  # type: ignore[no-untyped-def]
    people = [contact(i, f"c{i}@customer.test") for i in range(60)]
    people += [lead(i, f"l{i}@customer.test") for i in range(3)]
    roles = [(rid("003", i), opportunity(i % 4)) for i in range(0, 60, 3)]
    return directory(
        *people,
        roles=roles,
        known_threads={"old@acme.test": [RecordRef(rid("001", 7), "Account")]},
    )


@pytest.mark.parametrize("shared", [True, False])
def test_every_record_exactly_once_with_fewest_tasks(shared: bool) -> None:
    """Each matched record appears once across the Tasks, and the Task count is the minimum
    the rules allow: leads + max(whats, ceil(contacts / capacity))."""
    addresses = [f"c{i}@customer.test" for i in range(45)] + [
        f"l{i}@customer.test" for i in range(3)
    ]
    mail = email(to=tuple(addresses), in_reply_to=("old@acme.test",))
    plan = match(mail, _mixed_directory(), MatchPolicy())
    drafts = draft_tasks(
        mail, plan, REP.id, org_timezone="UTC", shared_activities=shared, is_relay_address=OURS
    )
    seen = _appearances(drafts)
    assert set(seen) == {r.id for r in plan.records}
    assert set(seen.values()) == {1}
    contacts = sum(r.type == "Contact" for r in plan.records)
    leads = sum(r.type == "Lead" for r in plan.records)
    whats = len(plan.records) - contacts - leads
    capacity = 50 if shared else 1
    assert len(drafts) == leads + max(whats, math.ceil(contacts / capacity))
    assert len({d.relay_key for d in drafts}) == len(drafts)


def test_unresolved_is_one_open_task_without_who_or_what() -> None:
    """An unmatched email (unresolved_task policy) becomes one open Task owned by the rep."""
    [draft] = _drafts(email(to=("nobody@other.test",)), directory())
    assert (draft.status, draft.who_id, draft.what_id) == ("Not Started", None, None)
    assert draft.owner_id == REP.id


@pytest.mark.parametrize("outcome_policy", ["hold", "drop"])
def test_held_or_dropped_email_has_no_tasks(outcome_policy: str) -> None:
    """Held, dropped and machine mail produce no drafts."""
    mail = email(to=("nobody@other.test",))
    plan = match(mail, directory(), MatchPolicy(unmatched=outcome_policy))  # type: ignore[arg-type]
    assert (
        draft_tasks(
            mail, plan, REP.id, org_timezone="UTC", shared_activities=True, is_relay_address=OURS
        )
        == []
    )


def test_relay_key_is_stable_per_email_and_record() -> None:
    """The same email and record always give the same key; another record another key."""
    assert relay_key("a@b", rid("003", 1)) == relay_key("a@b", rid("003", 1))
    assert relay_key("a@b", rid("003", 1)) != relay_key("a@b", rid("003", 2))
    assert len(relay_key("a@b", rid("003", 1))) == 32

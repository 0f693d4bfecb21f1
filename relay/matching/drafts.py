"""Task drafts from a MatchPlan: E2S-shaped Tasks, as few as Salesforce's rules allow.

Pure: no I/O. The logging stage upserts each draft on ``Relay_Key__c``.

The rule (every matched record shows the email exactly once in its activity history):

* A Lead is a Task's only Who: "one lead or up to 50 contacts" (Object Reference,
  TaskRelation / TaskWhoRelation), and a Task whose WhoId is a Lead cannot have a WhatId
  (Salesforce answers FIELD_INTEGRITY_EXCEPTION). So every Lead gets its own Task, with
  no What.
* Every other non-person record (Opportunity, Account, Case, ...) is a "What": a Task has
  at most one WhatId, so each What gets exactly one Task.
* Contacts:
  - with Shared Activities, one Task carries up to 50 Contacts (``TaskWhoIds``; WhoId is
    the first). Each Contact goes on the Task of a What it brought in (its Opportunity),
    else the Task of its Account, else any What Task with room, else What-less Tasks of
    up to 50 Contacts.
  - without Shared Activities, a Task has one WhoId. Contacts pair with Whats the same
    way (one Contact per Task); unpaired Contacts and Whats get a Task each.
  Filling What Tasks with unrelated Contacts is what "as few Tasks as possible" means; the
  email was with all of them, as one E2S email is related to everyone on it.

Known limit: an Account's activity history also rolls up the Tasks of its Contacts and
Opportunities (Task.AccountId is derived). When an Account is itself a matched record
(a ``ref:`` or thread record) next to its own Contacts, it can show the email more than
once; Relay counts Who and What only.

So the count is, with Shared Activities, ``leads + max(whats, ceil(contacts / 50))`` at
most; without, ``leads + max(whats, contacts)``.

Fields follow E2S: Subject "Email: <subject>" (255 max), Description in E2S's layout
(32,000 max), Status Completed, Priority Normal, TaskSubtype Email, ActivityDate = the
email's date in the org's time zone, OwnerId = the rep. An unmatched email with the
``unresolved_task`` policy gets one open Task (Status "Not Started", Salesforce's default
open status) with no Who and no What, like E2S's "My Unresolved Items".

Relay's own addresses (``log@``, a rep's secret ``log+TOKEN@``) never reach a Task:
everyone who can read the Task could read them (relay/privacy.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from relay.matching.model import MatchedRecord, MatchPlan
from relay.parsing.model import Address, Email
from relay.privacy import IsOwn, redact_own, without_own

SUBJECT_MAX = 255
"""Task.Subject is a 255-character string (Object Reference, Task)."""
DESCRIPTION_MAX = 32_000
"""Task.Description is a 32,000-character textarea (Object Reference, Task)."""
MAX_TASK_WHO_IDS = 50
"""TaskWhoRelation: "one lead or up to 50 contacts" per Task."""
TRUNCATION_MARKER = "\n\n[Truncated by Relay: the email was longer than Salesforce allows.]"

BODY_LEFT_OUT = "[Body not logged: the rep's sync setting body is none.]"

_PERSON_TYPES = frozenset({"Contact", "Lead"})


@dataclass(frozen=True)
class TaskDraft:
    """One Task to write. ``record_ids`` are every record it shows the email on."""

    relay_key: str
    subject: str
    description: str
    status: str
    priority: str
    task_subtype: str
    activity_date: date
    owner_id: str
    who_id: str | None
    what_id: str | None
    task_who_ids: tuple[str, ...]
    record_ids: tuple[str, ...]

    def to_sobject(self) -> dict[str, Any]:
        """The Task fields, as the REST API takes them (``Relay_Key__c`` included)."""
        fields: dict[str, Any] = {
            "Subject": self.subject,
            "Description": self.description,
            "Status": self.status,
            "Priority": self.priority,
            "TaskSubtype": self.task_subtype,
            "ActivityDate": self.activity_date.isoformat(),
            "OwnerId": self.owner_id,
            "WhoId": self.who_id,
            "WhatId": self.what_id,
            "Relay_Key__c": self.relay_key,
        }
        if len(self.task_who_ids) > 1:
            fields["TaskWhoIds"] = list(self.task_who_ids)
        return fields

    def to_dict(self) -> dict[str, Any]:
        return {**self.to_sobject(), "record_ids": list(self.record_ids)}


def relay_key(message_key: str, record_id: str) -> str:
    """The idempotency key of (email, record): 32 hex characters of SHA-256.

    The same email arriving twice (BCC plus journal, a client retry) yields the same key,
    so an upsert on ``Relay_Key__c`` never writes a second Task (docs/design.md §5)."""
    digest = hashlib.sha256(f"{message_key}\x00{record_id}".encode()).hexdigest()
    return digest[:32]


def draft_tasks(
    email: Email,
    plan: MatchPlan,
    rep_user_id: str,
    *,
    org_timezone: str,
    shared_activities: bool,
    is_relay_address: IsOwn,
    include_body: bool = True,
) -> list[TaskDraft]:
    """The Tasks that log ``email`` on every record of ``plan``, per the module rule.
    ``include_body`` False is the ``body=none`` sync setting: the Description keeps the
    header lines and leaves the body out. ``is_relay_address`` names Relay's own
    addresses, which no field shows (relay/privacy.py)."""
    if plan.outcome not in ("unresolved", "matched"):
        return []
    text = TaskText(
        subject=task_subject(redact_own(email.subject, is_relay_address)),
        description=task_description(
            email, include_body=include_body, is_relay_address=is_relay_address
        ),
        activity_date=activity_date(email, org_timezone),
    )
    if plan.outcome == "unresolved":
        return [_draft(email, rep_user_id, text, "unresolved:" + rep_user_id, (), None)]
    leads = [r for r in plan.records if r.type == "Lead"]
    contacts = [r for r in plan.records if r.type == "Contact"]
    whats = [r for r in plan.records if r.type not in _PERSON_TYPES]
    capacity = MAX_TASK_WHO_IDS if shared_activities else 1
    groups = _group_contacts(contacts, whats, capacity)

    drafts = [_draft(email, rep_user_id, text, lead.id, (lead.id,), None) for lead in leads]
    for what_id, who_ids in groups:
        primary = what_id or who_ids[0]
        drafts.append(_draft(email, rep_user_id, text, primary, who_ids, what_id))
    return drafts


@dataclass(frozen=True)
class TaskText:
    """What every Task of one email shares: built once per email, not once per Task."""

    subject: str
    description: str
    activity_date: date


def _group_contacts(
    contacts: list[MatchedRecord], whats: list[MatchedRecord], capacity: int
) -> list[tuple[str | None, tuple[str, ...]]]:
    """(WhatId, Contact ids) per Task: one per What, then What-less ones for the rest."""
    slots: dict[str, list[str]] = {what.id: [] for what in whats}
    homeless: list[str] = []
    for contact in contacts:
        preferred = [w.id for w in whats if contact.id in w.contact_ids]
        preferred += [w.id for w in whats if w.id == contact.account_id]
        preferred += [w.id for w in whats]
        home = next((w for w in preferred if len(slots[w]) < capacity), None)
        if home is None:
            homeless.append(contact.id)
        else:
            slots[home].append(contact.id)
    groups: list[tuple[str | None, tuple[str, ...]]] = [
        (what.id, tuple(slots[what.id])) for what in whats
    ]
    for start in range(0, len(homeless), capacity):
        groups.append((None, tuple(homeless[start : start + capacity])))
    return groups


def _draft(
    email: Email,
    rep_user_id: str,
    text: TaskText,
    primary_id: str,
    who_ids: tuple[str, ...],
    what_id: str | None,
) -> TaskDraft:
    unresolved = not who_ids and what_id is None
    record_ids = tuple(who_ids) + ((what_id,) if what_id else ())
    return TaskDraft(
        relay_key=relay_key(email.message_key, primary_id),
        subject=text.subject,
        description=text.description,
        status="Not Started" if unresolved else "Completed",
        priority="Normal",
        task_subtype="Email",
        activity_date=text.activity_date,
        owner_id=rep_user_id,
        who_id=who_ids[0] if who_ids else None,
        what_id=what_id,
        task_who_ids=who_ids,
        record_ids=record_ids,
    )


def task_subject(subject: str) -> str:
    """E2S's subject: "Email: " + the email's subject, cut to 255 characters."""
    return ("Email: " + " ".join(subject.split()))[:SUBJECT_MAX]


def activity_date(email: Email, org_timezone: str) -> date:
    """The email's date as a calendar day in the org's time zone (Task.ActivityDate is a
    date with no time zone; Salesforce shows it as the org sees it)."""
    return email.date.astimezone(ZoneInfo(org_timezone)).date()


def _addresses(addresses: tuple[Address, ...], is_relay_address: IsOwn) -> str:
    return "; ".join(a.email for a in without_own(addresses, is_relay_address, _email_of))


def _email_of(address: Address) -> str:
    return address.email


def task_description(email: Email, *, include_body: bool = True, is_relay_address: IsOwn) -> str:
    """E2S's Description layout, at most 32,000 characters, cut with a visible marker:

    ``Additional To:``, ``CC:``, ``BCC:`` and ``Attachment:`` lines, a blank line, then
    ``Subject:`` and ``Body:`` and the text. (Labels from E2S Tasks; separating addresses
    with "; " is a guess.) Relay's own addresses are left out of the address lines and
    replaced in the text (a quoted reply can carry a ``Cc: log+TOKEN@`` line)."""
    to, cc = email.to, email.cc
    if email.forwarded is not None:
        to, cc = email.forwarded.to, email.forwarded.cc
    own = is_relay_address
    names = "; ".join(a.filename for a in email.attachments)
    lines = [
        f"Additional To: {_addresses(to, own)}",
        f"CC: {_addresses(cc, own)}",
        f"BCC: {_addresses(email.bcc, own)}",
        f"Attachment: {redact_own(names, own)}",
        "",
        f"Subject: {redact_own(email.subject, own)}",
        "Body:",
        redact_own(email.text_body, own) if include_body else BODY_LEFT_OUT,
    ]
    text = "\n".join(lines)
    if len(text) <= DESCRIPTION_MAX:
        return text
    return text[: DESCRIPTION_MAX - len(TRUNCATION_MARKER)] + TRUNCATION_MARKER

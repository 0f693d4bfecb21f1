"""The reminder step: an email sent to a reminder address gives its rep a reminder.

A side effect of logging, not an outcome (docs/design.md §9): the message's state is
whatever relay/delivery/outcomes.py decided, and the reminders made here are stored by
``finish_many`` in the transaction that records those outcomes. So a reminder exists
exactly when its email's outcome does, and a retry, a crash before the finish, or a
second copy of the email meets the store's unique ``(source_key, owner_id)`` and adds
nothing.

Who gets one: only the rep the route step attributed the email to from what the SMTP
edge proved (relay/delivery/reps.py); mail Relay cannot attribute is held, never
reminded. Which emails: those logged (to records, to the rep's unresolved items, or
forwarded to Email to Salesforce) and those that matched nothing under ``unmatched=drop``
(still the rep's follow-up, with no records).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence

from relay.delivery.outcomes import TABLE, Happening
from relay.delivery.route import Routed
from relay.logs import get_logger
from relay.matching.drafts import TaskDraft
from relay.parsing import Email
from relay.reps.reminders import BadSpec, RemindAddress, due_date, remind_address
from relay.store.model import Outcome, Reminder, Rep, State
from relay.store.values import new_reminder

log = get_logger("relay.runners.deliver")

SUBJECT_PREFIX = "Follow up: "
FIRST_LINES = 5
"""Lines of the email's text in the reminder's details."""
SUBJECT_MAX = 255
"""Task.Subject's length in Salesforce, so the later sync never truncates it."""

WHO_PREFIXES = ("003", "00Q")
"""Contact and Lead key prefixes: a Task's WhoId is one of them (Object Reference, Task)."""

_DROPPED = TABLE[Happening.UNMATCHED_DROP]


def asked_for(rcpt_tos: Sequence[str]) -> RemindAddress | None:
    """The first reminder address among the envelope recipients, or None."""
    for rcpt in rcpt_tos:
        request = remind_address(rcpt)
        if request is not None:
            return request
    return None


def reminded(outcome: Outcome) -> bool:
    """Whether an email with this outcome gets its reminder."""
    if outcome.state in (State.LOGGED, State.UNRESOLVED):
        return True
    return outcome.state is _DROPPED.state and outcome.reason == _DROPPED.reason


def source_key(message_key: str) -> str:
    """The reminder's key: a hash of the email's message key (its Message-ID, or a hash
    of its headers and body), which every copy of the email shares."""
    return hashlib.sha256(message_key.encode("utf-8", "surrogatepass")).hexdigest()


def details_of(email: Email, rep: Rep, is_relay_address: Callable[[str], bool]) -> str:
    """Who the email was with, and its first lines."""
    own = {rep.email.lower()}
    people = [
        a.email
        for a in (*((email.from_,) if email.from_ else ()), *email.to, *email.cc)
        if a.email and a.email.lower() not in own and not is_relay_address(a.email.lower())
    ]
    lines = [line.strip() for line in email.text_body.splitlines() if line.strip()]
    head = "Email with: " + (", ".join(dict.fromkeys(people)) or "(no one else named)")
    return "\n".join([head, f"Subject: {email.subject}", "", *lines[:FIRST_LINES]]).strip()


def reminder_for(
    routed: Routed,
    drafts: Sequence[TaskDraft],
    records: Sequence[str],
    org_timezone: str | None,
    is_relay_address: Callable[[str], bool],
) -> Reminder | None:
    """The reminder this routed email asks for, or None (no reminder address, no rep)."""
    rep = routed.rep
    request = asked_for(routed.message.envelope.rcpt_tos)
    if rep is None or request is None:
        return None
    timezone = rep.time_zone or org_timezone
    try:
        due = due_date(request, routed.message.received_at, timezone)
    except BadSpec as error:
        # The edge refuses a bad SPEC at RCPT; this is mail accepted before it did.
        log.warning("reminder_spec_invalid", queue_id=routed.message.id, reason=str(error))
        return None
    who = next((d.who_id for d in drafts if d.who_id), None)
    what = next((d.what_id for d in drafts if d.what_id), None)
    if who is None:
        who = next((r for r in records if r[:3] in WHO_PREFIXES), None)
    if what is None:
        what = next((r for r in records if r[:3] not in WHO_PREFIXES), None)
    subject = (SUBJECT_PREFIX + (routed.email.subject or "(no subject)"))[:SUBJECT_MAX]
    return new_reminder(
        rep.user_id,
        subject,
        due,
        details=details_of(routed.email, rep, is_relay_address),
        who_id=who,
        what_id=what,
        records=tuple(records),
        source="email",
        source_key=source_key(routed.email.message_key),
        queue_id=routed.message.id,
    )


def reminders_for(
    outcomes: Sequence[Outcome],
    routed: Mapping[str, Routed],
    drafts: Mapping[str, Sequence[TaskDraft]],
    logged_to: Mapping[str, Sequence[str]],
    org_timezone: Callable[[], str | None],
    is_relay_address: Callable[[str], bool],
) -> list[Reminder]:
    """The reminders a batch's outcomes ask for (``org_timezone`` is asked only when a
    reminder's rep has no time zone of their own)."""
    found: list[Reminder] = []
    for outcome in outcomes:
        item = routed.get(outcome.queue_id)
        if item is None or not reminded(outcome) or item.rep is None:
            continue
        if asked_for(item.message.envelope.rcpt_tos) is None:
            continue
        zone = item.rep.time_zone or org_timezone()
        reminder = reminder_for(
            item,
            drafts.get(outcome.queue_id, ()),
            logged_to.get(outcome.queue_id, ()),
            zone,
            is_relay_address,
        )
        if reminder is not None:
            found.append(reminder)
    return found

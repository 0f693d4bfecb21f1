"""The plan step: match a routed email and draft its Tasks. Pure (no I/O).

``plan_message`` turns a parsed email and a directory into drafts, or into what ends it
without a write (relay/delivery/outcomes.py gives the state and reason of each):

- machine mail, and unmatched mail under the ``drop`` policy: ``machine_mail``,
  ``unmatched_drop`` (Relay decided not to log it; nobody needs to act);
- unmatched mail under the ``hold`` policy, and mail no rep sent: ``unmatched_hold``,
  ``unknown_sender``; an inbound copy (a rep among the recipients only) that no trusted
  network sent: ``untrusted_inbound_copy``, as anyone can put a rep in To (its own
  reason, so nobody adds the customer as a sender);
- an inbound copy that matched nothing: ``inbound_unmatched`` (not the rep's choice).

``lookup_keys`` says what one email needs from the directory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from relay.delivery.attachments import note_oversize
from relay.delivery.outcomes import Happening, decided
from relay.matching import Directory, MatchPlan, MatchPolicy, TaskDraft, draft_tasks, match
from relay.matching.model import User
from relay.parsing import Email
from relay.parsing.headers import normalise_message_id
from relay.reps.guidance import unknown_sender, untrusted_inbound_copy
from relay.store.model import Outcome, StoredMessage


@dataclass(frozen=True)
class Planned:
    message: StoredMessage
    email: Email
    plan: MatchPlan
    drafts: tuple[TaskDraft, ...]


@dataclass(frozen=True)
class LookupKeys:
    addresses: frozenset[str]
    senders: frozenset[str]
    record_ids: frozenset[str]
    thread_ids: frozenset[str]


def lookup_keys(email: Email, policy: MatchPolicy) -> LookupKeys:
    """Everything one email needs from the directory: candidate customers (To, Cc, From,
    a forward's original, a journal's parties), the possible reps, ``ref:`` ids and the
    message ids of its thread."""
    # The From too: it is the customer when the email is an inbound copy.
    people = [*email.to, *email.cc, *([email.from_] if email.from_ else [])]
    if email.forwarded is not None:
        original = email.forwarded
        people += [*original.to, *original.cc, *([original.from_] if original.from_ else [])]
    if email.journal is not None:
        people += [*email.journal.recipients]
        if email.journal.sender:
            people.append(email.journal.sender)
    addresses = {a.email.lower() for a in people if a.email}
    senders = set(addresses)
    for address in (email.from_, email.sender):
        if address is not None and address.email:
            senders.add(address.email.lower())
    if email.envelope.mail_from:
        senders.add(email.envelope.mail_from.lower())
    threads = {normalise_message_id(raw) for raw in (*email.in_reply_to, *email.references)}
    return LookupKeys(
        addresses=frozenset(a for a in addresses if not policy.is_relay_address(a)),
        senders=frozenset(senders),
        record_ids=frozenset(email.record_refs),
        thread_ids=frozenset(t for t in threads if t),
    )


def plan_message(
    message: StoredMessage,
    email: Email,
    directory: Directory,
    policy: MatchPolicy,
    *,
    org_timezone: str,
    shared_activities: bool,
    include_body: bool = True,
    upload_limit: int | None = None,
    vouched: bool = False,
    attribution: tuple[User, bool] | None = None,
) -> Planned | Outcome:
    """Drafts to write for ``email``, or the outcome that ends it without a write.
    ``upload_limit`` (``attachments=upload``) marks the files too big to upload.
    ``vouched``: a trusted network sent the copy, so an inbound copy (a rep among the
    recipients, none among the senders) may be logged as that rep's. ``attribution``:
    the runner's rep and whether the email is inbound (relay.matching.match)."""
    plan = match(email, directory, policy, attribution)
    if plan.outcome == "machine":
        return decided(message.id, Happening.MACHINE_MAIL, why=email.machine_reason)
    if plan.inbound and not vouched:
        guidance = untrusted_inbound_copy(_shown_sender(email))
        return decided(message.id, Happening.UNTRUSTED_INBOUND_COPY, guidance=guidance)
    if plan.inbound and not plan.records:
        # The unmatched policy is for the rep's own mail: a stranger's email to a rep
        # (spam, a cold inquiry) was never the rep's choice to log.
        return decided(message.id, Happening.INBOUND_UNMATCHED)
    if plan.outcome == "drop":
        return decided(message.id, Happening.UNMATCHED_DROP)
    if plan.outcome == "hold":
        return decided(message.id, Happening.UNMATCHED_HOLD)
    if plan.rep is None or (plan.inbound and not vouched):
        return unknown_sender_outcome(message.id, email)
    drafts = draft_tasks(
        email,
        plan,
        plan.rep.id,
        org_timezone=org_timezone,
        shared_activities=shared_activities,
        is_relay_address=policy.is_relay_address,
        include_body=include_body,
    )
    if upload_limit is not None:
        drafts = [
            replace(
                d,
                description=note_oversize(
                    d.description, email.attachments, upload_limit, policy.is_relay_address
                ),
            )
            for d in drafts
        ]
    return Planned(message, email, plan, tuple(drafts))


def unknown_sender_outcome(queue_id: str, email: Email) -> Outcome:
    """The hold of mail no rep sent (relay/reps/guidance.py's text in the
    relay/delivery/holds.py format, so the re-check releases it once the sender is a rep)."""
    return decided(
        queue_id, Happening.UNKNOWN_SENDER, guidance=unknown_sender(_shown_sender(email))
    )


def _shown_sender(email: Email) -> str:
    """The sender to name in a hold: From, then Sender, then the envelope sender."""
    tried = [a.email for a in (email.from_, email.sender) if a is not None and a.email]
    if email.envelope.mail_from:
        tried.append(email.envelope.mail_from)
    return tried[0].lower() if tried else "(no sender address)"


def record_keys(planned: Sequence[Planned]) -> set[str]:
    """Addresses and ids to forget in the directory cache before matching again."""
    keys: set[str] = set()
    for item in planned:
        keys.update(c for c in item.plan.candidates)
        keys.update(r.id for r in item.plan.records)
    return keys

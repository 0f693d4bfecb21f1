"""Per-message decisions of the delivery stage, as pure functions (no I/O).

``plan_message`` turns a parsed email and a directory into drafts or a final outcome;
``outcome_after_write`` turns the write results of its drafts into the message's outcome.
The states follow docs/design.md §3 (docs/delivery-guarantees.md says why each one):

- machine mail, and unmatched mail under the ``drop`` policy: ``rejected`` (Relay decided
  not to log it; nothing is wrong with it and nobody needs to act);
- MIME that cannot be parsed: ``quarantined`` (the raw bytes are kept);
- an unknown sender, or unmatched mail under the ``hold`` policy: ``held``; so is an
  inbound copy (a rep among the recipients only) that no trusted network sent, as
  anyone can put a rep in To (its own reason, so nobody adds the customer as a sender);
- an inbound copy that matched nothing: ``rejected`` (not the rep's choice to log).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from relay.errors import RelayError, TemporaryError
from relay.matching import Directory, MatchPlan, MatchPolicy, TaskDraft, draft_tasks, match
from relay.matching.model import User
from relay.parsing import Email
from relay.parsing.headers import normalise_message_id
from relay.reps.guidance import unknown_sender, untrusted_inbound_copy
from relay.runners.attachments import note_oversize
from relay.runners.holds import held, hold_reason
from relay.runners.policy import worst
from relay.runners.writer import KeyResult
from relay.store.model import Outcome, State, StoredMessage


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
        reason = f"machine mail ({email.machine_reason}): never logged as a rep's email"
        return Outcome(message.id, State.REJECTED, reason)
    if plan.inbound and not vouched:
        return held(message.id, untrusted_inbound_copy(_shown_sender(email)))
    if plan.inbound and not plan.records:
        # The unmatched policy is for the rep's own mail: a stranger's email to a rep
        # (spam, a cold inquiry) was never the rep's choice to log.
        reason = "a customer's email to the rep that matched no record: not logged"
        return Outcome(message.id, State.REJECTED, reason)
    if plan.outcome == "drop":
        return Outcome(message.id, State.REJECTED, "matched no record; unmatched policy is drop")
    if plan.outcome == "hold":
        reason = (
            "matched no record; unmatched policy is hold: add the customer to Salesforce "
            "and `relay queue release` it, or `relay queue delete` it"
        )
        return Outcome(message.id, State.HELD, reason)
    if plan.rep is None or (plan.inbound and not vouched):
        return Outcome(message.id, State.HELD, unknown_sender_reason(email))
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


def unknown_sender_reason(email: Email) -> str:
    """The hold reason of mail no rep sent (relay/reps/guidance.py's text in the
    relay/runners/holds.py format, so the re-check releases it once the sender is a rep)."""
    return hold_reason(unknown_sender(_shown_sender(email)))


def _shown_sender(email: Email) -> str:
    """The sender to name in a hold: From, then Sender, then the envelope sender."""
    tried = [a.email for a in (email.from_, email.sender) if a is not None and a.email]
    if email.envelope.mail_from:
        tried.append(email.envelope.mail_from)
    return tried[0].lower() if tried else "(no sender address)"


def outcome_after_write(planned: Planned, results: Mapping[str, KeyResult]) -> Outcome | RelayError:
    """The message's outcome from its drafts' results, or the error that decides it.

    ``logged`` needs a result without error for EVERY draft: a draft the write did not
    report on (which TaskWriter.write never does) defers the message rather than
    claiming a Task that may not exist (docs/delivery-guarantees.md, "Copies at the
    same moment")."""
    missing = [d.relay_key for d in planned.drafts if d.relay_key not in results]
    if missing:
        return TemporaryError(f"no write result for Task key(s) {', '.join(missing)}")
    mine = [results[d.relay_key] for d in planned.drafts]
    errors = [r.error for r in mine if r.error is not None]
    decisive = worst(errors)
    if decisive is not None:
        return decisive
    queue_id = planned.message.id
    already = sum(1 for r in mine if r.already)
    if planned.plan.outcome == "unresolved":
        task_id = mine[0].task_id if mine else None
        reason = (
            f"matched no record: open Task {task_id} on the rep's unresolved items; "
            "review with `relay unresolved list`"
        )
        return Outcome(queue_id, State.UNRESOLVED, reason)
    records = {r for d in planned.drafts for r in d.record_ids}
    reason = f"logged to {len(records)} record(s) in {len(planned.drafts)} Task(s)"
    if already == len(mine) and mine:
        reason = f"already logged: a copy of this email was logged before ({reason})"
    elif already:
        reason += f"; {already} of them were already logged by an earlier copy"
    return Outcome(queue_id, State.LOGGED, reason)


def record_keys(planned: Sequence[Planned]) -> set[str]:
    """Addresses and ids to forget in the directory cache before matching again."""
    keys: set[str] = set()
    for item in planned:
        keys.update(c for c in item.plan.candidates)
        keys.update(r.id for r in item.plan.records)
    return keys
